"""Tolerances for comparing float32 results, derived from the conditioning of what is compared.

Two float32 evaluations of the same rows (other batch sizes, other CPU kernels, oneDNN on or
off) differ by a few units in the last place of every sum they form. What reaches a result
is that rounding times how much the computation amplifies it; for a sum of terms that is
``sum |terms| / |sum|``, and for epsilon-LRP's multiplier ``f(z) / (z + eps)`` it is
``sum |terms of z| / |z + eps|`` at its worst unit. So a tolerance is
``ULPS * eps32 * amplification * scale``, never a bare float32 equality.
"""
import numpy as np

from reference import ACTIVATIONS

EPS32 = float(np.finfo(np.float32).eps)
#: Roundings one evaluation may accumulate (several sums of a few dozen terms each).
ULPS = 64


def atol(expected, amplification=1.0):
    """Absolute tolerance for float32 results of the size of ``expected``."""
    return ULPS * EPS32 * amplification * float(np.max(np.abs(expected)))


def assert_float32_close(got, expected, amplification=1.0, err_msg=""):
    """``got`` equals ``expected`` up to float32 rounding amplified by ``amplification``."""
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol(expected, amplification), err_msg=err_msg)


def elrp_amplification(layers, activation, xs, epsilon=1e-4):
    """How much epsilon-LRP on the MLP ``layers`` amplifies float32 rounding at ``xs``.

    Each hidden unit's multiplier ``f(z) / (z + eps sign z)`` changes, relative to itself, by
    ``dz / |z + eps|``, and ``dz`` is the rounding of the sum forming z: ``eps32 * sum|terms|``.
    Returns the largest ``sum|terms| / |z + eps sign z|`` over units and samples (>= 1).
    """
    f = ACTIVATIONS[activation][0]
    h, worst = np.asarray(xs, np.float64), 1.0
    for i, (w, b) in enumerate(layers[:-1]):
        bias = np.zeros(w.shape[1]) if b is None else np.asarray(b, np.float64)
        z = h @ w + bias
        terms = np.abs(h) @ np.abs(w) + np.abs(bias)
        stabilised = np.abs(z + epsilon * np.where(z >= 0, 1.0, -1.0))
        worst = max(worst, float(np.max(terms / stabilised)))
        h = f(z)
    return worst
