"""How concentrated a map is (as Xplique's complexity metrics, after Quantus): no model needed."""
import numpy as np

_EPS = 1e-8


def _flat_abs(attributions):
    a = np.abs(np.asarray(attributions, np.float64))
    if a.ndim == 4:  # images: channels averaged
        a = a.mean(axis=-1)
    return a.reshape(len(a), -1)


def complexity(attributions):
    """Shannon entropy of the normalised |attributions| (Bhatt et al. 2020): ``(n,)``, from 0
    (one feature carries everything) to log(features) (uniform)."""
    a = _flat_abs(attributions)
    p = a / (a.sum(axis=1, keepdims=True) + _EPS)
    return -(p * np.log(p + _EPS)).sum(axis=1)


def sparseness(attributions):
    """Gini index of |attributions| (Chalasani et al. 2020): ``(n,)``, 0 for a uniform map, near
    1 for a map concentrated on one feature."""
    a = _flat_abs(attributions)
    a = np.sort(a / (a.sum(axis=1, keepdims=True) + _EPS), axis=1)
    n = a.shape[1]
    index = np.arange(1, n + 1)
    return 2 * (a * index).sum(axis=1) / (n * a.sum(axis=1) + _EPS) - (n + 1) / n
