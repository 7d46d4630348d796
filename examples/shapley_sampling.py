"""Shapley value sampling for digits: each pixel's average marginal contribution over random
orders of removal; every order's credits add up to S(x) - S(blank).

    python examples/shapley_sampling.py --out out
"""
import numpy as np
from digits_model import run_method_example, target_scores

model, xs, labels, attributions = run_method_example("shapley_sampling", __doc__.splitlines()[0],
                                                     samples=50, sampling_dims=[1, 2], seed=0)
delta = target_scores(model, xs, labels) - target_scores(model, np.zeros_like(xs), labels)
print("attributions:", attributions.shape, "(one value per pixel, as DeepExplain returned)")
print("sum of attributions:", np.round(attributions.sum(axis=(1, 2)), 4))
print("S(x) - S(blank):    ", np.round(delta, 4))
np.testing.assert_allclose(attributions.sum(axis=(1, 2)), delta, rtol=1e-4, atol=1e-4)
print("efficiency holds")
