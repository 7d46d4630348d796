"""Faithfulness metrics: does S change the way the attributions say it should? Every metric's
perturbed rows (all samples, steps and draws) are rows of the same memory-bounded runs.

Each takes ``(de, T, X, xs, attributions, ys=None, ...)``: the context, the target and input
tensors, the samples ``(n, ...)``, their attributions (shaped like ``xs``, or without the
channel axis for images), and ``ys`` as for ``explain``; ``memory_budget`` and ``progress`` as
everywhere. Scores are per sample.
"""
import numpy as np
from scipy.stats import spearmanr

from ..errors import ExplainValueError
from ..methods.base import positive_int
from .scoring import per_pixel, prepared, scorer, streams

_EPS = 1e-8


def _causal(de, T, X, xs, attributions, ys, steps, max_percentage, baseline, mode, memory_budget, progress):
    built = scorer(de, T, X, memory_budget, progress, mode)
    xs, attributions, weights = prepared(built, xs, attributions, ys)
    steps = positive_int("steps", steps)
    if not 0 < max_percentage <= 1:
        raise ExplainValueError(f"max_percentage must be in (0, 1], got {max_percentage!r}.")
    maps, flat = per_pixel(xs, attributions)
    n, features = maps.shape
    ends = np.broadcast_to(np.asarray(baseline, xs.dtype), xs.shape).reshape(flat.shape)
    start, end = (flat, ends) if mode == "deletion" else (ends, flat)
    # position of each feature in the ranking, most important first
    position = np.argsort(np.argsort(maps, axis=1)[:, ::-1], axis=1)
    counts = np.linspace(0, int(np.floor(features * max_percentage)), steps + 1).astype(np.int32)

    def rows_of(index):
        sample, step = np.divmod(index, steps + 1)
        flipped = position[sample] < counts[step][:, None]
        return np.where(flipped[..., None], end[sample], start[sample]).reshape((len(index),) + xs.shape[1:]), sample

    curve = built.scores(n * (steps + 1), rows_of, weights).reshape(n, steps + 1)
    return (curve[:, :-1] + curve[:, 1:]).mean(axis=1) / 2, curve


def deletion(de, T, X, xs, attributions, ys=None, steps=10, max_percentage=1.0, baseline=0.0, memory_budget=None,
             progress=None):
    """Deletion (Petsiuk et al. 2018; as Xplique's Deletion): the features (pixels, channels
    together) are set to ``baseline`` in decreasing order of attribution (averaged over
    channels), ``steps`` equal steps up to ``max_percentage`` of them; S along the way is the
    curve ``(n, steps + 1)`` and its trapezoid mean the AUC ``(n,)`` (lower is better).
    Returns ``(auc, curve)``."""
    return _causal(de, T, X, xs, attributions, ys, steps, max_percentage, baseline, "deletion", memory_budget,
                   progress)


def insertion(de, T, X, xs, attributions, ys=None, steps=10, max_percentage=1.0, baseline=0.0, memory_budget=None,
              progress=None):
    """Insertion (as Xplique's Insertion): from ``baseline``, the input's features are put back
    in decreasing order of attribution; AUC of S along the way (higher is better).
    Returns ``(auc (n,), curve (n, steps + 1))``."""
    return _causal(de, T, X, xs, attributions, ys, steps, max_percentage, baseline, "insertion", memory_budget,
                   progress)


def _grid_masks(rng, samples, shape, grid_size, keep_above):
    """Xplique's MuFidelity masks: cells kept where uniform > ``keep_above``; images on a
    ``grid_size`` grid upsampled nearest (half-pixel centres), other inputs per cell."""
    if len(shape) == 3:
        cells = rng.random((samples, grid_size, grid_size)) > keep_above
        rows = np.minimum(((np.arange(shape[0]) + 0.5) * grid_size / shape[0]).astype(int), grid_size - 1)
        columns = np.minimum(((np.arange(shape[1]) + 0.5) * grid_size / shape[1]).astype(int), grid_size - 1)
        return cells[:, rows[:, None], columns[None, :]][..., None]
    return rng.random((samples,) + tuple(shape)) > keep_above


def mu_fidelity(de, T, X, xs, attributions, ys=None, grid_size=9, subset_percent=0.2, samples=200, baseline=0.0,
                seed=None, memory_budget=None, progress=None):
    """MuFidelity (Bhatt et al. 2020; as Xplique's MuFidelity): ``samples`` random subsets (about
    ``subset_percent`` of the cells of a ``grid_size`` grid for images, of the features
    otherwise) are set to ``baseline``; per sample, the Spearman correlation between the drop of
    S and the sum of the subset's attributions (0 when S does not move). Returns ``(n,)``."""
    built = scorer(de, T, X, memory_budget, progress, "mu_fidelity")
    xs, attributions, weights = prepared(built, xs, attributions, ys)
    samples = positive_int("samples", samples)
    if xs.ndim not in (2, 4):
        raise ExplainValueError(f"mu_fidelity takes tabular (n, d) or image (n, H, W, C) inputs, got {xs.shape}.")
    phi = attributions[..., None] if attributions.ndim < xs.ndim else attributions
    masks = np.stack([_grid_masks(rng, samples, xs.shape[1:], grid_size, subset_percent)
                      for rng in streams(seed, len(xs))])            # (n, samples, ...) True: kept
    base = np.asarray(baseline, xs.dtype)

    def rows_of(index):
        sample, k = np.divmod(index, samples + 1)
        keep = np.ones((len(index),) + xs.shape[1:], bool)
        drawn = k > 0
        keep[drawn] = np.broadcast_to(masks[sample[drawn], k[drawn] - 1], keep[drawn].shape)
        return np.where(keep, xs[sample], base), sample

    scores = built.scores(len(xs) * (samples + 1), rows_of, weights).reshape(len(xs), samples + 1)
    drops = scores[:, :1] - scores[:, 1:]
    removed = (phi[:, None] * ~masks).reshape(len(xs), samples, -1).sum(axis=2)
    out = np.empty(len(xs))
    for i in range(len(xs)):
        correlation = spearmanr(drops[i], removed[i])[0]
        out[i] = 0.0 if np.isnan(correlation) else correlation
    return out


def infidelity(de, T, X, xs, attributions, ys=None, stdev=0.003, samples=10, normalize=False, seed=None,
               memory_budget=None, progress=None):
    """Infidelity (Yeh et al. 2019; as Captum's ``infidelity`` with a Gaussian perturbation):
    ``E_I[(I . a - (S(x) - S(x - I)))^2]`` over ``samples`` draws ``I ~ N(0, stdev^2)`` per
    cell; with ``normalize``, the attributions are first scaled by the least-squares factor
    ``beta = E[I.a (S(x) - S(x - I))] / E[(I.a)^2]``. Returns ``(n,)`` (lower is better)."""
    built = scorer(de, T, X, memory_budget, progress, "infidelity")
    xs, attributions, weights = prepared(built, xs, attributions, ys)
    if attributions.shape != xs.shape:
        raise ExplainValueError(f"infidelity needs attributions shaped like xs {xs.shape}, got {attributions.shape}.")
    samples = positive_int("samples", samples)
    noise = np.stack([rng.normal(scale=stdev, size=(samples,) + xs.shape[1:]) for rng in streams(seed, len(xs))])

    def rows_of(index):
        sample, k = np.divmod(index, samples + 1)
        rows = xs[sample].astype(np.float64)
        drawn = k > 0
        rows[drawn] -= noise[sample[drawn], k[drawn] - 1]
        return rows.astype(xs.dtype), sample

    scores = built.scores(len(xs) * (samples + 1), rows_of, weights).reshape(len(xs), samples + 1)
    change = scores[:, :1] - scores[:, 1:]                               # S(x) - S(x - I)
    dot = (noise * attributions[:, None]).reshape(len(xs), samples, -1).sum(axis=2)
    if normalize:
        beta = (dot * change).mean(axis=1) / np.maximum((dot ** 2).mean(axis=1), _EPS)
        dot = dot * beta[:, None]
    return ((dot - change) ** 2).mean(axis=1)


def sensitivity_n(de, T, X, xs, attributions, ys=None, n_values=None, samples=100, baseline=0.0, seed=None,
                  memory_budget=None, progress=None):
    """Sensitivity-n (Ancona et al., ICLR 2018): for each n of ``n_values`` (default: powers of
    two up to half the features), ``samples`` random sets of n features (pixels for images,
    channels together, attributions summed over channels) are set to ``baseline``; per sample,
    the Pearson correlation between the drop of S and the sum of the set's attributions.
    A method satisfies sensitivity-n when it is 1. Returns ``(n_samples, len(n_values))`` and
    the ``n_values``."""
    built = scorer(de, T, X, memory_budget, progress, "sensitivity_n")
    xs, attributions, weights = prepared(built, xs, attributions, ys)
    samples = positive_int("samples", samples)
    summed = attributions.sum(axis=-1) if (xs.ndim == 4 and attributions.ndim == 4) else attributions
    maps = summed.reshape(len(xs), -1)
    flat = xs.reshape(len(xs), maps.shape[1], -1)
    features = maps.shape[1]
    if n_values is None:
        n_values = [2 ** k for k in range(int(np.log2(max(features // 2, 1))) + 1)]
    n_values = [positive_int("n_values", v) for v in n_values]
    if max(n_values) > features:
        raise ExplainValueError(f"n_values: at most {features} features, got {max(n_values)}.")
    rngs = streams(seed, len(xs))
    # removed[i, j, k]: the feature set of sample i, size n_values[j], draw k
    removed = np.zeros((len(xs), len(n_values), samples, features), bool)
    for i, rng in enumerate(rngs):
        for j, size in enumerate(n_values):
            order = np.argsort(rng.random((samples, features)), axis=1)[:, :size]
            np.put_along_axis(removed[i, j], order, True, axis=1)
    base = np.broadcast_to(np.asarray(baseline, xs.dtype), xs.shape[1:]).reshape(features, -1)
    per_sample = 1 + len(n_values) * samples

    def rows_of(index):
        sample, r = np.divmod(index, per_sample)
        drop = np.zeros((len(index), features), bool)
        drawn = r > 0
        j, k = np.divmod(r[drawn] - 1, samples)
        drop[drawn] = removed[sample[drawn], j, k]
        return np.where(drop[..., None], base, flat[sample]).reshape((len(index),) + xs.shape[1:]), sample

    scores = built.scores(len(xs) * per_sample, rows_of, weights).reshape(len(xs), per_sample)
    drops = (scores[:, :1] - scores[:, 1:]).reshape(len(xs), len(n_values), samples)
    sums = (removed * maps[:, None, None]).sum(axis=3)
    out = np.empty((len(xs), len(n_values)))
    for i in range(len(xs)):
        for j in range(len(n_values)):
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.corrcoef(drops[i, j], sums[i, j])[0, 1]
            out[i, j] = 0.0 if np.isnan(value) else value
    return out, n_values


def _masked_by_attributions(xs, attributions):
    """Xplique's Average Drop/Increase/Gain input: x times the min-max scaled |attributions|
    (averaged over channels)."""
    mask = np.abs(attributions)
    if mask.ndim == 4:
        mask = mask.mean(axis=-1)
    flat = mask.reshape(len(mask), -1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    mask = ((flat - low) / (high - low + _EPS)).reshape(mask.shape)
    if xs.ndim == mask.ndim + 1:
        mask = mask[..., None]
    return (xs * mask).astype(xs.dtype)


def _before_after(de, T, X, xs, attributions, ys, memory_budget, progress, name):
    built = scorer(de, T, X, memory_budget, progress, name)
    xs, attributions, weights = prepared(built, xs, attributions, ys)
    masked = _masked_by_attributions(xs, attributions)
    both = np.concatenate([xs, masked])

    def rows_of(index):
        return both[index], index % len(xs)

    scores = built.scores(2 * len(xs), rows_of, weights)
    return scores[:len(xs)], scores[len(xs):]


def average_drop(de, T, X, xs, attributions, ys=None, memory_budget=None, progress=None):
    """Average Drop (Chattopadhay et al. 2018; as Xplique's): with the input masked by its
    min-max scaled |attributions|, ``relu(S(x) - S(masked)) / S(x)`` per sample (lower is
    better; meant for probabilities)."""
    before, after = _before_after(de, T, X, xs, attributions, ys, memory_budget, progress, "average_drop")
    return np.maximum(before - after, 0) / (before + _EPS)


def average_increase(de, T, X, xs, attributions, ys=None, memory_budget=None, progress=None):
    """Average Increase (as Xplique's): 1 where ``S(masked) > S(x)``, else 0, per sample."""
    before, after = _before_after(de, T, X, xs, attributions, ys, memory_budget, progress, "average_increase")
    return (after > before).astype(np.float64)


def average_gain(de, T, X, xs, attributions, ys=None, memory_budget=None, progress=None):
    """Average Gain (Zhang et al. 2024; as Xplique's): ``relu(S(masked) - S(x)) / (1 - S(x))``."""
    before, after = _before_after(de, T, X, xs, attributions, ys, memory_budget, progress, "average_gain")
    return np.maximum(after - before, 0) / (1 - before + _EPS)
