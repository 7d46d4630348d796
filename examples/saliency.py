"""Saliency maps |dS/dx| for digits: where the class logit is sensitive (sign discarded).

    python examples/saliency.py --out out
"""
import numpy as np
from digits_model import run_method_example

model, xs, labels, attributions = run_method_example("saliency", __doc__.splitlines()[0])
print(f"all attributions non-negative: {bool((attributions >= 0).all())}")
print(f"share of the saliency on ink pixels: {attributions[xs > 0.2].sum() / attributions.sum():.2f}")
np.testing.assert_array_less(-1e-12, attributions)
