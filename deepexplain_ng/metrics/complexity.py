"""How concentrated a map is (as Xplique's complexity metrics, after Quantus): no model needed."""
import numpy as np
from scipy.special import entr

_EPS = 1e-8


def _flat_abs(attributions):
    a = np.abs(np.asarray(attributions, np.float64))
    if a.ndim == 4:  # images: channels averaged
        a = a.mean(axis=-1)
    return a.reshape(len(a), -1)


def complexity(attributions):
    """Shannon entropy of the normalised |attributions| (Bhatt et al. 2020): ``(n,)``, from 0
    (one feature carries everything) to log(features) (uniform); the same for a map and any
    multiple of it (Xplique's and Quantus' epsilons make tiny maps look concentrated), NaN for an
    all-zero map."""
    a = _flat_abs(attributions)
    total = a.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = a / total
    return np.where(total[:, 0] > 0, entr(np.nan_to_num(p)).sum(axis=1), np.nan)


def sparseness(attributions):
    """Gini index of |attributions| (Chalasani et al. 2020): ``(n,)``, 0 for a uniform map, near
    1 for a map concentrated on one feature."""
    a = _flat_abs(attributions)
    a = np.sort(a / (a.sum(axis=1, keepdims=True) + _EPS), axis=1)
    n = a.shape[1]
    index = np.arange(1, n + 1)
    return 2 * (a * index).sum(axis=1) / (n * a.sum(axis=1) + _EPS) - (n + 1) / n
