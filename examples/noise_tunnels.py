"""SmoothGrad, SmoothGrad squared and VarGrad for digits, over saliency and over integrated
gradients, with a check: with no noise, smoothgrad is its base method.

    python examples/noise_tunnels.py --out out
"""
import numpy as np

from deepexplain_ng import DeepExplain
from digits_model import run_family_example

model, xs, labels, results = run_family_example("noise_tunnels", __doc__.splitlines()[0], {
    "smoothgrad": {"samples": 50, "noise_level": 0.15, "seed": 0},
    "smoothgrad_sq": {"samples": 50, "seed": 0},
    "vargrad": {"samples": 50, "seed": 0},
})
with DeepExplain(session=model.sess) as de:
    base = de.explain("intgrad", model.logits, model.X, xs, ys=labels, steps=20)
    tunnel = de.explain("smoothgrad", model.logits, model.X, xs, ys=labels, samples=4, stdev=0.0,
                        base="intgrad", base_options={"steps": 20})
gap = np.abs(tunnel - base).max() / np.abs(base).max()
print(f"smoothgrad over intgrad with stdev=0 against intgrad: max relative difference {gap:.1e}")
assert gap < 1e-5
