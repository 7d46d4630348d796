from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
requirements = [line.strip() for line in (here / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

setup(
    name="deepexplain_ng",
    version="0.1.0",
    description="Attribution methods for TensorFlow static graphs: DeepExplain's (saliency, gradient*input, "
                "integrated gradients, epsilon-LRP, DeepLIFT, occlusion, Shapley sampling) and more, "
                "with epsilon-LRP and DeepLIFT as exact modified chain rules.",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["deepexplain_ng", "deepexplain_ng.*"]),
    python_requires=">=3.11",
    install_requires=requirements,
    extras_require={
        # resumable batch jobs (zarr v3 stores) and their scale-out on Dask
        "batch": ["zarr>=3.1", "dask[distributed]>=2025.1"],
        # quantus: a test-only cross-check of the metrics (pinned: the test reaches into its internals)
        "test": ["pytest>=8", "hypothesis>=6.100", "scikit-learn>=1.4", "zarr>=3.1", "dask[distributed]>=2025.1",
                 "quantus==0.6.0"],
        "examples": ["scikit-learn>=1.4", "zarr>=3.1", "dask[distributed]>=2025.1"],
    },
    entry_points={"console_scripts": ["deepexplain-ng = deepexplain_ng.cli:main"]},
    license="MIT",
)
