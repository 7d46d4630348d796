"""Model-agnostic methods on feature groups: feature ablation, KernelSHAP, LIME and feature
permutation.

Each evaluates S on coalitions of a sample's feature groups (``deepexplain_ng.groups``): the
groups present keep the input's values, the others take the baseline's. The coalitions of all
samples are rows of memory-bounded ``session.run`` chunks, generated chunk by chunk.
"""
import math
import numbers

import numpy as np

from ..errors import ExplainTypeError, ExplainValueError
from .base import positive_int
from .perturbation import GroupPerturbation


class FeatureAblation(GroupPerturbation):
    """Feature ablation (Captum's FeatureAblation): each group replaced by the baseline alone,
    credited with the change of S: ``S(x) - S(x with group g at the baseline)``. One row per
    group and sample, plus S(x). Options: see :class:`GroupPerturbation`, and
    ``incremental=True``: when the groups are equal boxes tiling an image ``(n, H, W, C)``
    across its channels (``feature_mask="grid"`` with cells dividing H and W, or an integer mask
    partitioning the image as such a grid), each ablated row is recomputed only on its box's
    receptive-field cone, as ``occlusion`` does (:mod:`deepexplain_ng.incremental`); the same
    values to float32 rounding."""

    name = "feature_ablation"
    options = dict(GroupPerturbation.options, incremental=True)

    def validate(self, params):
        if not isinstance(params["incremental"], bool):
            raise ExplainTypeError(f"incremental must be True or False, got {params['incremental']!r}.")
        return super().validate(params)

    def group_values(self, x, weights, labels, counts, extra, rngs):
        return self.ablation_values(x, weights, labels, counts, extra)


def _shapley_kernel(size, groups_count):
    """The Shapley kernel's weight of one coalition of ``size`` of ``groups_count`` groups."""
    return (groups_count - 1) / (math.comb(groups_count, size) * size * (groups_count - size))


def _constrained_least_squares(z, y, w, total):
    """argmin sum w (y - z phi)^2 subject to sum(phi) = total (the last group eliminated)."""
    g = z.shape[1]
    if g == 1:
        return np.array([total])
    reduced = z[:, :-1] - z[:, -1:]
    target = y - z[:, -1] * total
    root = np.sqrt(w)[:, None]
    head, *_ = np.linalg.lstsq(reduced * root, target * root[:, 0], rcond=None)
    return np.r_[head, total - head.sum()]


class KernelShap(GroupPerturbation):
    """KernelSHAP (Lundberg & Lee 2017), as the shap package: the Shapley values of the groups
    as the weighted least-squares fit of ``S(coalition) - S(empty)`` on the coalitions'
    indicators, with the Shapley kernel's weights and the efficiency constraint
    ``sum(phi) = S(x) - S(baseline)`` imposed exactly.

    When all ``2^G - 2`` proper coalitions fit in ``samples``, they are enumerated (the result
    is then the exact Shapley values); otherwise ``samples`` coalitions are drawn in pairs (a
    coalition and its complement), their sizes from the kernel's distribution
    ``p(s) ~ (G - 1) / (s (G - s))``, members uniformly. Options: ``samples=2048`` coalitions per
    sample, ``seed=None``, and those of :class:`GroupPerturbation`.
    """

    name = "kernel_shap"
    options = dict(GroupPerturbation.options, samples=2048, seed=None)

    def validate(self, params):
        params["samples"] = positive_int("samples", params["samples"])
        return super().validate(params)

    def _coalitions(self, rng, g):
        """``(z (R, g) bool, w (R,))`` for one sample of g groups."""
        samples = self.params["samples"]
        if g <= 1:
            return np.zeros((0, g), bool), np.zeros(0)
        if 2 ** g - 2 <= samples:
            codes = np.arange(1, 2 ** g - 1)
            z = (codes[:, None] >> np.arange(g)) & 1 == 1
            sizes = z.sum(axis=1)
            return z, np.array([_shapley_kernel(s, g) for s in sizes])
        sizes = np.arange(1, g)
        probabilities = (g - 1) / (sizes * (g - sizes))
        pairs = -(-samples // 2)
        drawn = rng.choice(sizes, size=pairs, p=probabilities / probabilities.sum())
        keys = rng.random((pairs, g))
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        z = rank < drawn[:, None]
        z = np.stack([z, ~z], axis=1).reshape(2 * pairs, g)[:samples]
        return z, np.ones(len(z))

    def group_values(self, x, weights, labels, counts, extra, rngs):
        n, g_max = len(x), int(counts.max())
        designs = [self._coalitions(rng, int(g)) for rng, g in zip(rngs, counts)]
        rows = 2 + max(len(z) for z, _ in designs)
        present = np.ones((n, rows, g_max), bool)
        present[:, 1] = False  # row 0: S(x); row 1: S(baseline)
        for i, (z, _) in enumerate(designs):
            present[i, 2:2 + len(z), :z.shape[1]] = z
        scores = self.score_coalitions(x, weights, labels, present, extra)
        values = np.zeros((n, g_max))
        for i, (z, w) in enumerate(designs):
            g, total = int(counts[i]), scores[i, 0] - scores[i, 1]
            y = scores[i, 2:2 + len(z)] - scores[i, 1]
            values[i, :g] = _constrained_least_squares(z.astype(np.float64), y, w, total)
        return values


class Lime(GroupPerturbation):
    """LIME (Ribeiro et al. 2016), its kernel on the interpretable representation: ``samples``
    coalitions, each group present with probability 1/2; each weighted by
    ``exp(-d^2 / kernel_width^2)`` with ``d`` the cosine distance between the coalition's
    indicator vector and the all-present one (so it depends only on how many groups are
    present); the groups' values are the coefficients of the weighted least-squares linear model
    (with an intercept, no regularisation) of S on the indicators. Options: ``samples=50``,
    ``kernel_width=1.0``, ``seed=None``, and those of :class:`GroupPerturbation`.

    Not Captum's defaults, which measure the cosine distance between the input and the perturbed
    input, weigh by ``exp(-d^2 / (2 w^2))`` and fit ``Lasso(alpha=0.01)`` on 25 samples, nor
    Xplique's (a ridge fit, alpha 2, on a Euclidean image distance of width 45); with the same
    coalitions, kernel and an unregularised fit, Xplique's Lime equals this to 1e-7
    (``benchmarks/PARITY.md``).
    """

    name = "lime"
    options = dict(GroupPerturbation.options, samples=50, kernel_width=1.0, seed=None)

    def validate(self, params):
        params["samples"] = positive_int("samples", params["samples"])
        width = params["kernel_width"]
        if isinstance(width, bool) or not isinstance(width, numbers.Real) or not np.isfinite(width) or width <= 0:
            raise ExplainValueError(f"kernel_width must be a positive number, got {width!r}.")
        return super().validate(params)

    def group_values(self, x, weights, labels, counts, extra, rngs):
        n, g_max, samples = len(x), int(counts.max()), self.params["samples"]
        present = np.zeros((n, samples, g_max), bool)  # groups a sample does not have: absent
        for i, (rng, g) in enumerate(zip(rngs, counts)):
            present[i, :, :g] = rng.random((samples, int(g))) < 0.5
        scores = self.score_coalitions(x, weights, labels, present, extra)
        values = np.zeros((n, g_max))
        for i in range(n):
            g = int(counts[i])
            z = present[i, :, :g].astype(np.float64)
            on = z.sum(axis=1)
            distance = 1.0 - np.sqrt(on / g)  # 1 - cos(z, ones): z . 1 / (|z| sqrt(g)) = sqrt(|z| / g)
            w = np.exp(-distance ** 2 / self.params["kernel_width"] ** 2)
            design = np.c_[np.ones(samples), z] * np.sqrt(w)[:, None]
            coefficients, *_ = np.linalg.lstsq(design, scores[i] * np.sqrt(w), rcond=None)
            values[i, :g] = coefficients[1:]
        return values


class FeaturePermutation(GroupPerturbation):
    """Feature permutation (Captum's FeaturePermutation; permutation importance): each group's
    values are exchanged between the samples of ``xs`` by one random permutation (drawn per run
    from ``seed``, over all samples whatever ``batch_size``), and the group is credited with
    ``S(x) - S(x with the group's values from another sample)``. Needs at least two samples.
    Options: ``seed=None`` and those of :class:`GroupPerturbation` (``baseline`` is not used;
    with ``rows_in_graph`` TF takes each row's swapped group from the donor sample).
    """

    name = "feature_permutation"
    options = dict(GroupPerturbation.options, seed=None)

    def _prepare(self, xs, extra):
        n = len(xs[0])
        if n < 2:
            raise ExplainValueError(f"feature_permutation exchanges values between samples: give at least two "
                                    f"samples, got {n}.")
        rng = np.random.default_rng(self.params["seed"])
        shift = rng.permutation(n)
        while np.any(shift == np.arange(n)):  # every sample gets another sample's values
            shift = rng.permutation(n)
        return self._flat(xs), shift

    def _explain(self, xs, weights, rows, context, extra):
        everything, shift = context
        flat = self._flat(xs)
        labels, counts = self._groups(xs)
        donors = everything[shift[rows]]
        # ablation with each sample's donor as its baseline
        return self._maps(self.ablation_values(flat, weights, labels, counts, extra, references=donors),
                          labels, counts, xs[0].dtype)
