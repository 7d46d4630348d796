"""Gradient * input for digits: a first-order estimate of each pixel's contribution.

Blank pixels (x = 0) get exactly 0, whatever the gradient; on a ReLU network the sum of the
attributions is the logit minus what the biases contribute.

    python examples/grad_input.py --out out
"""
import numpy as np
from digits_model import run_method_example, target_scores

model, xs, labels, attributions = run_method_example("grad*input", __doc__.splitlines()[0])
print("sum of attributions per digit:", np.round(attributions.sum(axis=(1, 2, 3)), 3))
print("explained logit per digit:    ", np.round(target_scores(model, xs, labels), 3))
background = attributions[xs == 0]
print(f"blank pixels: {background.size}, all attributed exactly 0: {bool((background == 0).all())}")
assert (background == 0).all()
