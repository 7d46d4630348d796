"""Integrated gradients for digits, with completeness checked: attributions sum to
S(x) - S(baseline), more closely as steps grows.

    python examples/intgrad.py --out out
"""
import numpy as np
from deepexplain_ng import DeepExplain
from digits_model import run_method_example, target_scores

model, xs, labels, attributions = run_method_example("intgrad", __doc__.splitlines()[0], steps=100)
delta = target_scores(model, xs, labels) - target_scores(model, np.zeros_like(xs), labels)
errors = []
with DeepExplain(session=model.sess) as de:
    for steps in (10, 100, 1000):
        sums = de.explain("intgrad", model.logits, model.X, xs, ys=labels, steps=steps).sum(axis=(1, 2, 3))
        errors.append(np.abs(sums - delta).max())
        print(f"steps={steps:5d}: max |sum - (S(x) - S(0))| = {errors[-1]:.5f}"
              f"  (S(x) - S(0) up to {np.abs(delta).max():.2f})")
assert errors[0] > errors[1] > errors[2]
