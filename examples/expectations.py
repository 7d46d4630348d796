"""Expected gradients, gradient SHAP and DeepLIFT SHAP for digits against a background of 50
other digits, with their completeness: DeepLIFT SHAP sums exactly to S(x) - mean S(background),
expected gradients only in expectation (within a few standard errors).

    python examples/expectations.py --out out
"""
import numpy as np

from digits_model import run_family_example, target_scores


def options(model):
    background = model.test_images[100:150]  # digits that are not explained
    return {"expected_gradients": {"samples": 200, "seed": 0, "baselines": background},
            "gradient_shap": {"samples": 200, "seed": 0, "stdev": 0.05, "baselines": background},
            "deeplift_shap": {"baselines": background}}


model, xs, labels, results = run_family_example("expectations", __doc__.splitlines()[0], options)
background = model.test_images[100:150]
target = target_scores(model, xs, labels) - np.array(
    [target_scores(model, background, np.full(len(background), c)).mean() for c in labels])
for method, attributions in results.items():
    error = np.abs(attributions.sum(axis=(1, 2, 3)) - target).max()
    print(f"{method:>18}: max |sum - (S(x) - mean S(background))| = {error:.2e} (targets up to "
          f"{np.abs(target).max():.1f})")
assert np.abs(results["deeplift_shap"].sum(axis=(1, 2, 3)) - target).max() < 1e-4 * np.abs(target).max()
