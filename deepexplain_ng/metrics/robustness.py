"""Robustness and sanity metrics that re-explain: they take a compiled ``Explainer``
(``de.get_explainer(method, T, X, ...)``) and run it on perturbed inputs or other targets, all
copies of all samples in the explainer's own batched runs."""
import numpy as np
from skimage.metrics import structural_similarity

from .. import feeding
from ..errors import ExplainValueError
from ..methods.base import positive_int
from .scoring import streams

_EPS = 1e-8


def _explain_copies(explainer, xs, ys, noise, group=None):
    """Attributions of ``xs[i] + noise[i, k]`` for every sample i and draw k: ``(n, k, ...)``,
    a few samples' copies at a time (bounded memory)."""
    n, samples = noise.shape[:2]
    weights = feeding.target_weights(ys, n, explainer.target_shape, explainer.target.dtype.as_numpy_dtype)
    group = group or max(1, explainer.rows_per_run() // samples)
    out = None
    for lo in range(0, n, group):
        hi = min(n, lo + group)
        copies = (xs[lo:hi, None] + noise[lo:hi]).reshape((-1,) + xs.shape[1:]).astype(xs.dtype)
        a = np.asarray(explainer.run(copies, ys=np.repeat(weights[lo:hi], samples, axis=0)), np.float64)
        a = a.reshape((hi - lo, samples) + a.shape[1:])
        out = np.empty((n,) + a.shape[1:]) if out is None else out
        out[lo:hi] = a
    return out


def _inputs(explainer, xs):
    if len(explainer.inputs) > 1:
        raise ExplainValueError(f"the robustness metrics take one input tensor; X is a list of {len(explainer.inputs)}.")
    return feeding.input_list(xs, explainer.inputs)[0]


def max_sensitivity(explainer, xs, ys=None, radius=0.02, samples=10, seed=None):
    """Max-sensitivity (Yeh et al. 2019; as Captum's ``sensitivity_max`` with its default
    perturbation): ``samples`` copies ``x + U(-radius, radius)`` per cell are explained; the
    score is ``max_k ||a(x + d_k) - a(x)|| / ||a(x)||`` (Frobenius norms) per sample ``(n,)``
    (lower is better)."""
    xs = _inputs(explainer, xs)
    samples = positive_int("samples", samples)
    base = np.asarray(explainer.run(xs, ys=ys), np.float64)
    noise = np.stack([rng.uniform(-radius, radius, (samples,) + xs.shape[1:]) for rng in streams(seed, len(xs))])
    moved = _explain_copies(explainer, xs, ys, noise)
    change = np.sqrt(((moved - base[:, None]) ** 2).reshape(len(xs), samples, -1).sum(axis=2))
    norm = np.sqrt((base ** 2).reshape(len(xs), -1).sum(axis=1))
    return (change / np.where(norm > 0, norm, 1.0)[:, None]).max(axis=1)


def average_stability(explainer, xs, ys=None, radius=0.1, samples=20, distance="l2", seed=None):
    """Average stability (Bhatt et al. 2020; as Xplique 2's AverageStability): ``samples``
    neighbours ``x + U(0, radius)`` per cell (Xplique draws one set of neighbours for all inputs;
    here each sample has its own stream), and the mean distance between each neighbour's
    attributions and the input's: ``"l2"`` (Euclidean norm, as Xplique) or ``"l1"``.
    Returns ``(n,)`` (lower is better)."""
    xs = _inputs(explainer, xs)
    samples = positive_int("samples", samples)
    if distance not in ("l1", "l2"):
        raise ExplainValueError(f"distance: expected 'l1' or 'l2', got {distance!r}.")
    base = np.asarray(explainer.run(xs, ys=ys), np.float64)
    noise = np.stack([rng.uniform(0, float(radius), (samples,) + xs.shape[1:]) for rng in streams(seed, len(xs))])
    difference = (_explain_copies(explainer, xs, ys, noise) - base[:, None]).reshape(len(xs), samples, -1)
    per_draw = np.sqrt((difference ** 2).sum(axis=2)) if distance == "l2" else np.abs(difference).sum(axis=2)
    return per_draw.mean(axis=1)


def _ssim(a, b):
    """SSIM of two maps as Xplique's: Gaussian window (sigma 1.5, at most 11 and the map's
    size, odd), data range of both maps together, 1 when both are constant."""
    low, high = min(a.min(), b.min()), max(a.max(), b.max())
    if high == low:
        return 1.0
    window = min(11, a.shape[0], a.shape[1])
    window -= 1 - window % 2
    if window < 3:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    return float(structural_similarity(a, b, win_size=window, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=high - low,
                                       channel_axis=-1 if a.ndim == 3 else None))


def random_logit(explainer, xs, classes, seed=None):
    """Random-logit sanity check (Adebayo et al. 2018; as Xplique's RandomLogitMetric): each
    sample is explained for its class and for a random other class; the SSIM of the two maps
    per sample ``(n,)`` (low: the map depends on the class, as it should)."""
    xs = _inputs(explainer, xs)
    classes = np.asarray(classes)
    if len(explainer.target_shape) != 1 or classes.shape != (len(xs),):
        raise ExplainValueError(f"random_logit needs T (n, classes) and one class index per sample, got T of "
                                f"shape {explainer.target.shape} and classes of shape {classes.shape}.")
    count = explainer.target_shape[0]
    drawn = np.array([rng.integers(0, count - 1) for rng in streams(seed, len(xs))])
    other = np.where(drawn >= classes, drawn + 1, drawn)
    true_maps = np.asarray(explainer.run(xs, ys=classes), np.float64)
    other_maps = np.asarray(explainer.run(xs, ys=other), np.float64)
    return np.array([_ssim(a, b) for a, b in zip(true_maps, other_maps)])
