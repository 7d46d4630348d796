"""Gradient * input for digits: a first-order estimate of each pixel's contribution.

    python examples/grad_input.py --out out
"""
import numpy as np
from digits_model import run_method_example, target_scores

model, xs, labels, attributions = run_method_example("grad*input", __doc__.splitlines()[0])
# for a ReLU network without biases the sum would equal the logit; biases take the rest
print("sum of attributions per digit:", np.round(attributions.sum(axis=(1, 2, 3)), 3))
print("explained logit per digit:    ", np.round(target_scores(model, xs, labels), 3))
print(f"background pixels (x = 0) get exactly 0: {bool((attributions[xs == 0] == 0).all())}")
