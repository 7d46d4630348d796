"""DeepLIFT (Rescale) for digits: one backward pass whose attributions sum exactly to
S(x) - S(baseline) (summation-to-delta), here with a blank baseline.

    python examples/deeplift.py --out out
"""
import numpy as np
from digits_model import run_method_example, target_scores

model, xs, labels, attributions = run_method_example("deeplift", __doc__.splitlines()[0])
delta = target_scores(model, xs, labels) - target_scores(model, np.zeros_like(xs), labels)
print("sum of attributions:", np.round(attributions.sum(axis=(1, 2, 3)), 4))
print("S(x) - S(baseline): ", np.round(delta, 4))
print(f"max |sum - (S(x) - S(baseline))| = {np.abs(attributions.sum(axis=(1, 2, 3)) - delta).max():.1e}")
np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), delta, rtol=1e-4, atol=1e-4)
print("summation-to-delta holds")
