"""The digits examples run offline and show what they claim (each asserts its own method's
property and exits non-zero if it fails); their pictures are red/blue attribution grids.

The selected examples are started together, a few processes at a time, when the first test
needs one: about 40 s on 2 cores for all nine, instead of about 65 s one after the other.
"""
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.examples  # subprocesses: run once, in the main run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
METHOD_SCRIPTS = ["saliency.py", "grad_input.py", "intgrad.py", "elrp.py", "deeplift.py", "occlusion.py",
                  "shapley_sampling.py", "lrp.py"]
WORKERS = min(4, (os.cpu_count() or 1) + 1)


def _run(script, out):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=out,
                          env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0", MPLBACKEND="Agg",
                                   TF_CPP_MIN_LOG_LEVEL="2"))
    return done, out, time.perf_counter() - start


@pytest.fixture(scope="module")
def example(request, tmp_path_factory):
    """``example(script) -> (stdout, out directory)``, the script having exited with 0."""
    selected = {item.callspec.params["script"] for item in request.session.items
                if item.path == Path(__file__) and hasattr(item, "callspec") and "script" in item.callspec.params}
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = {script: pool.submit(_run, script, tmp_path_factory.mktemp(script.replace(".py", "")))
                for script in sorted(selected)}

        def result(script):
            done, out, seconds = runs[script].result()
            assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            print(f"{script}: {seconds:.1f} s")
            return done.stdout, out

        yield result


def _colour_counts(png):
    """(red pixels, blue pixels) of a PNG: clearly tinted, grey and white excluded."""
    import matplotlib.image

    rgb = matplotlib.image.imread(png)[..., :3]
    red = (rgb[..., 0] > 0.8) & (rgb[..., 0] - rgb[..., 2] > 0.3)
    blue = (rgb[..., 2] > 0.8) & (rgb[..., 2] - rgb[..., 0] > 0.3)
    return int(red.sum()), int(blue.sum())


@pytest.mark.parametrize("script", ["compare_methods.py"])
def test_the_demo_compares_every_registered_method(example, script):
    from deepexplain_ng import available_methods

    output, out = example(script)
    assert float(re.search(r"test accuracy ([0-9.]+)", output).group(1)) > 0.9
    timed = re.findall(r"^\s*(\S+): +[0-9.]+ s for 4 digits", output, re.M)
    assert timed[:7] == ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]
    assert sorted(timed) == sorted(m for m in available_methods() if m != "zero")  # zero: plumbing only
    png = out / "compare_methods.png"
    assert f"wrote {png}" in output
    assert png.stat().st_size > 10_000
    red, blue = _colour_counts(png)
    assert red > 500 and blue > 100, (red, blue)


@pytest.mark.parametrize("script", METHOD_SCRIPTS)
def test_method_example(example, script):
    output, out = example(script)
    pictures = list(out.glob("*.png"))
    assert len(pictures) == 1 and f"wrote {pictures[0]}" in output, output
    red, blue = _colour_counts(pictures[0])
    assert red > 50, (red, blue)
    if script == "saliency.py":   # |gradient|: never blue
        assert blue == 0 and "all attributions non-negative: True" in output
    else:
        assert blue > 0
    if script == "intgrad.py":    # completeness error shrinks with steps
        errors = [float(e) for e in re.findall(r"= ([0-9.]+)  \(S", output)]
        assert len(errors) == 3 and errors[0] > errors[1] > errors[2]
    if script == "elrp.py":       # ReLU: eLRP -> grad*input as epsilon -> 0; tanh: not
        rows = re.findall(r"^\s+(\S+e-0\d)\s+(\S+)\s+(\S+)$", output, re.M)
        relu, tanh = np.array([[float(r), float(t)] for _, r, t in rows]).T
        assert len(rows) == 3 and np.all(np.diff(relu) < 0) and relu[-1] < 1e-3 and tanh.min() > 0.1
    if script == "lrp.py":        # z+ and the composites keep most of each logit, never more
        kept = {name: np.array(values.split(), float) for name, values in
                re.findall(r"^\s*(\S+): sum of relevance / logit per digit: (.*)$", output, re.M)}
        assert len(kept) == 7 and all(0.5 < kept[name].min() and kept[name].max() <= 1 + 1e-4
                                      for name in ("zplus", "epsilon_plus", "epsilon_plus_flat"))
    if script in ("deeplift.py", "shapley_sampling.py"):
        assert re.search(r"(summation-to-delta|efficiency) holds", output)


@pytest.mark.parametrize("script", ["keras_tf_keras.py"])
def test_tf_keras_example_is_deterministic_and_in_inference_mode(example, script):
    output, out = example(script)
    assert float(re.search(r"test accuracy ([0-9.]+)", output).group(1)) > 0.9
    differences = re.findall(r"^\s*(\S+): [0-9.]+ s for two runs, max difference between them (\S+)$",
                             output, re.M)
    assert [m for m, _ in differences] == ["saliency", "grad*input", "intgrad", "elrp", "deeplift"]
    assert all(float(d) == 0 for _, d in differences)
    assert "inference mode (dropout off)" in output
    assert (out / "keras_tf_keras.png").stat().st_size > 10_000


@pytest.mark.parametrize("script", ["intgrad_convergence.py"])
def test_intgrad_tolerance_example_meets_every_tolerance(example, script):
    output, out = example(script)
    assert output.count("every digit within tolerance") == 8
    rules = re.findall(r"^\s*(\S+): worst relative residual at", output, re.M)
    assert rules == ["riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gauss_legendre"]
    assert (out / "intgrad_convergence.png").stat().st_size > 10_000


@pytest.mark.parametrize("script", ["feature_visualisation.py"])
def test_feature_visualisation_images_are_classified_as_their_class(example, script):
    output, out = example(script)
    assert "classified as their own class: 10 of 10" in output
    start, end = (np.array(re.search(rf"class logit at the {w}:\s+\[([^\]]+)\]", output).group(1).split(), float)
                  for w in ("start", "end"))
    assert np.all(end > start)
    assert (out / "feature_visualisation.png").stat().st_size > 5_000


FAMILY_CHECKS = {
    # Adebayo et al.'s sanity check: guided backprop barely changes with the class
    "guided_backprop.py": lambda out: (lambda c: c["guided_backprop"] > c["saliency"] + 0.2)(
        {m: float(v) for m, v in re.findall(r"^\s*(\S+): correlation of the maps .*: (\S+)$", out, re.M)}),
    "noise_tunnels.py": lambda out: float(re.search(r"max relative difference (\S+)", out).group(1)) < 1e-5,
    "expectations.py": lambda out: float(re.search(r"deeplift_shap: max \|sum .*= (\S+)", out).group(1)) < 1e-3,
    "cams.py": lambda out: len(re.findall(r"shape \(4, 8, 8", out)) == 4,
    "fullgrad.py": lambda out: float(re.search(r"completeness: .*= (\S+)", out).group(1)) < 1e-3,
    "conductance.py": lambda out: float(re.search(r"completeness through the layer: .*= (\S+)", out).group(1)) < 0.5,
    "superpixels.py": lambda out: len(re.findall(r"top superpixel's mean redness is ([0-9.]+)x", out)) == 3,
    "model_agnostic.py": lambda out: float(re.search(r"kernel_shap: max \|sum .*= (\S+)", out).group(1)) < 1e-3,
    "pictures.py": lambda out: "masked_image keeps 13 of 64 pixels" in out,
    # exact maps (grad*input, intgrad, deeplift) beat saliency on MuFidelity on the trained CNN
    "compare_metrics.py": lambda out: (lambda rows: len(rows) == 6 and min(rows[m] for m in ("grad*input", "intgrad",
                                       "deeplift")) > rows["saliency"] + 0.1)(
        {m: float(v) for m, v in re.findall(r"^\| (\S+)[^|]* \| \S+ \| [^|]+ \| [^|]+ \| (\S+) ±", out, re.M)}),
}


@pytest.mark.parametrize("script", sorted(FAMILY_CHECKS))
def test_family_example(example, script):
    output, out = example(script)
    pictures = list(out.glob("*.png"))
    assert len(pictures) == 1 and f"wrote {pictures[0]}" in output, output
    assert _colour_counts(pictures[0])[0] > 50
    assert FAMILY_CHECKS[script](output), output
