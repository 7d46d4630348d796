"""Shapley value sampling (Castro et al. 2009) on batched session feeds, over axes of the input
or over feature groups."""
import numbers

import numpy as np

from .. import groups
from .. import orders as order_designs
from ..errors import ExplainTypeError, ExplainValueError
from .base import check_seed, positive_int
from .perturbation import PerturbationExplainer


class ShapleySampling(PerturbationExplainer):
    """Shapley value sampling (Castro et al. 2009) with paired, balanced orders.

    Features are the cells of the ``sampling_dims`` axes of the input (1-based, as in
    DeepExplain: for NHWC images ``[1, 2]`` makes each pixel, all channels together, one
    feature; the default is every non-batch axis). For each of ``samples`` random orders of the
    features, they are replaced by the baseline (default 0) one at a time, and each is credited
    with the drop of S it causes; a feature's Shapley value is its mean credit. The credits of
    one order sum to S(x) - S(baseline).

    The orders are not independent draws (``design``, see :mod:`deepexplain_ng.orders`): they
    come in antithetic pairs, an order and its reverse (for an odd ``samples`` the last pair
    gives its first order only). Each order is still uniformly random, so the estimate stays
    unbiased, but a pair is exact for any model whose interactions involve at most two features
    (all two-feature models, products ``x_i * x_j``, quadratic forms): with an even ``samples``
    these get their exact Shapley values. With ``design="balanced"`` (the default) the pairs of
    an input are moreover chosen so that every feature has each other before it about equally
    often, which nearly cancels interactions of three features too; ``"orthogonal"`` draws
    them from orthogonal directions (Mitchell et al. 2022), ``"antithetic"`` independently,
    ``"independent"`` is plain permutation sampling. On random MLPs of 8-10 features the
    balanced error is 0.28-0.48x that of independent orders at 50 orders and the same number of
    model rows, 0.46-0.67x at 10 (``benchmarks/shapley_error.py``). Rows and their cost are
    unchanged: ``samples`` orders of F - 1 rows each, plus S(x) and S(baseline), per input
    sample; designing the balanced orders costs about 0.05 ms per order at 8 features and 5-10
    ms at 784 (a few percent of a small CNN's rows; on a tiny MLP, pick ``"orthogonal"``).

    Result: as DeepExplain, one value per feature, shaped ``(n, *sizes of the sampled axes)``
    (``(n, H, W)`` for NHWC images with ``sampling_dims=[1, 2]``; the input's shape by default).
    With ``expand=True``, the input's shape, each feature's value spread evenly over its cells
    (a map to plot over the image; it sums to the same totals).

    Feature groups instead of axes: ``feature_mask`` (an integer array, ``"slic"`` or ``"grid"``,
    with ``n_segments``, ``compactness``, ``cell``: see :mod:`deepexplain_ng.groups`) makes each
    group of a sample one feature; the result then has the input's shape, each group's value
    spread evenly over its cells (``sampling_dims`` and ``expand`` do not apply).

    Options: ``samples=5`` (orders per input sample), ``sampling_dims=None``, ``seed=None``
    (an int makes results reproducible, whatever ``batch_size`` or ``memory_budget``, up to
    float32 rounding), ``baseline`` (scalar or array of one sample's shape), ``expand=False``,
    ``design="balanced"``, ``rows_in_graph=True`` (with ``feature_mask`` and a free batch size:
    each row is fed as its groups' presence and TF builds it, as for ``kernel_shap``).
    """

    name = "shapley_sampling"
    options = {"samples": 5, "sampling_dims": None, "seed": None, "baseline": None, "expand": False,
               "design": "balanced", "feature_mask": None, "n_segments": 50, "compactness": 10.0, "cell": 4,
               "rows_in_graph": True}

    def validate(self, params):
        if not isinstance(params["rows_in_graph"], bool):
            raise ExplainTypeError(f"rows_in_graph must be True or False, got {params['rows_in_graph']!r}.")
        if not isinstance(params["expand"], bool):
            raise ExplainTypeError(f"expand must be True or False, got {params['expand']!r}.")
        params["samples"] = positive_int("samples", params["samples"])
        if params["design"] not in order_designs.DESIGNS:
            raise ExplainValueError(f"design: expected one of {list(order_designs.DESIGNS)}, got {params['design']!r}.")
        check_seed(params.get("seed"))
        return params

    def _check_inputs(self):
        super()._check_inputs()
        rank = len(self.sample_shape)
        dims = self.params["sampling_dims"]
        dims = list(range(1, rank + 1)) if dims is None else dims
        if (not isinstance(dims, (list, tuple)) or not dims or len(set(dims)) != len(dims)
                or not all(isinstance(d, numbers.Integral) and 1 <= d <= rank for d in dims)):
            raise ExplainValueError(f"sampling_dims: expected distinct axes of the input in 1..{rank} (axis 0 is "
                                    f"the batch), e.g. [1, 2] for the pixels of NHWC images; got {dims!r}.")
        self.sampled = sorted(int(d) - 1 for d in dims)
        rest = [a for a in range(rank) if a not in self.sampled]
        # feature-major layout: sampled axes first, flattened to (features, cells per feature)
        self.order = self.sampled + rest
        self.inverse = list(np.argsort(self.order))
        self.features = int(np.prod([self.sample_shape[a] for a in self.sampled]))

    def _build(self):
        self._front = None
        if self.params["rows_in_graph"] and self.params["feature_mask"] is not None and self.fixed_batch is None:
            self._front = self.coalition_front()

    def _to_features(self, a):
        """(n, *sample_shape) -> (n, features, cells)."""
        return a.transpose([0] + [d + 1 for d in self.order]).reshape(len(a), self.features, -1)

    def _from_features(self, a):
        permuted = tuple(self.sample_shape[d] for d in self.order)
        return a.reshape((len(a),) + permuted).transpose([0] + [d + 1 for d in self.inverse])

    def _prepare(self, xs, extra):
        if self.params["feature_mask"] is not None:
            return self._prepare_groups(xs[0])
        rng = np.random.default_rng(self.params["seed"])
        # orders are drawn for all samples up front, so chunking never changes them
        return order_designs.design(self.params["design"], rng, xs[0].shape[0], self.params["samples"], self.features)

    def _prepare_groups(self, x):
        """Each sample's groups and its orders of them (drawn for all samples up front)."""
        labels, counts = groups.resolve(self.params["feature_mask"], x, self.sample_shape, self.params["n_segments"],
                                        self.params["compactness"], self.params["cell"])
        rng = np.random.default_rng(self.params["seed"])
        orders = [order_designs.design(self.params["design"], rng, 1, self.params["samples"], int(g))[0]
                  for g in counts]
        return labels, counts, orders

    def _explain_groups(self, x, weights, rows, context, extra):
        """Chains of group removals: per sample S(x), S(baseline), then ``samples`` orders of
        G_i - 1 rows each (the sizes differ between samples: rows are found by offsets)."""
        labels, counts, orders = (part[rows] for part in context)
        samples, n = self.params["samples"], len(x)
        per_sample = 2 + samples * (counts - 1)
        offsets = np.r_[0, np.cumsum(per_sample)]
        ranks = [np.argsort(o, axis=1) for o in orders]
        flat, base = x.reshape(n, -1), self.baseline.reshape(-1)

        def rows_of(index):
            sample = np.searchsorted(offsets, index, side="right") - 1
            local = index - offsets[sample]
            inputs = flat[sample].copy()
            for row, (i, r) in enumerate(zip(sample, local)):
                if r == 1:
                    inputs[row] = base
                elif r >= 2:
                    order, j = divmod(r - 2, counts[i] - 1)
                    removed = ranks[i][order][labels[i]] <= j
                    inputs[row, removed] = base[removed]
            return inputs.reshape((len(index),) + self.sample_shape), sample

        def present_of(index):
            sample = np.searchsorted(offsets, index, side="right") - 1
            local = index - offsets[sample]
            present = np.ones((len(index), int(counts.max())), bool)
            for row, (i, r) in enumerate(zip(sample, local)):
                if r == 1:
                    present[row] = False
                elif r >= 2:
                    order, j = divmod(r - 2, counts[i] - 1)
                    present[row, :counts[i]] = ranks[i][order] > j
            return sample, present

        if self._front is not None:
            scores = self.score_present_rows(flat, weights, labels, int(offsets[-1]), present_of, extra,
                                             np.broadcast_to(base, flat.shape))
        else:
            scores = self.score_rows(int(offsets[-1]), rows_of, weights, extra)
        values = np.zeros((n, int(counts.max())))
        for i in range(n):
            g, s = int(counts[i]), scores[offsets[i]:offsets[i + 1]]
            chain = np.empty((samples, g + 1))
            chain[:, 0], chain[:, g] = s[0], s[1]
            chain[:, 1:g] = s[2:].reshape(samples, g - 1)
            np.add.at(values[i], orders[i], chain[:, :-1] - chain[:, 1:])
        return [groups.spread(values / samples, labels, counts).reshape(x.shape).astype(x.dtype)]

    def _explain(self, xs, weights, rows, orders, extra):
        if self.params["feature_mask"] is not None:
            return self._explain_groups(xs[0], weights, rows, orders, extra)
        x, orders = xs[0], orders[rows]
        n, samples, features = len(x), self.params["samples"], self.features
        x_f = self._to_features(x)
        base_f = self._to_features(self.baseline[None])[0]
        # rank[i, k, f]: when feature f is removed in order k (int32: half the memory traffic)
        rank = np.argsort(orders, axis=2).astype(np.int32)
        inner = features - 1  # removals per order whose score needs a row of its own

        def rows_of(index):
            # rows [0, n): the inputs; [n, 2n): the baseline, once per sample (its weights);
            # then per sample and order, the input with its first j = 1..F-1 features removed
            sample = np.where(index < 2 * n, index % n, 0)
            removed = np.zeros((len(index), features), bool)
            removed[(index >= n) & (index < 2 * n)] = True
            inside = np.flatnonzero(index >= 2 * n)
            sample[inside], remainder = np.divmod(index[inside] - 2 * n, samples * inner)
            order, j = np.divmod(remainder, inner)
            removed[inside] = rank[sample[inside], order] <= j[:, None]
            perturbed = x_f[sample]
            np.copyto(perturbed, base_f[None], where=removed[:, :, None])
            return self._from_features(perturbed), sample

        flat_scores = self.score_rows(n * (2 + samples * inner), rows_of, weights, extra)
        # scores[i, k, j]: S with the first j features of order k removed (j = 0 .. F)
        scores = np.empty((n, samples, features + 1), np.float64)
        scores[:, :, 0] = flat_scores[:n, None]
        scores[:, :, features] = flat_scores[n:2 * n, None]
        scores[:, :, 1:features] = flat_scores[2 * n:].reshape(n, samples, inner)
        credits = scores[:, :, :-1] - scores[:, :, 1:]  # credit of the j-th removed feature
        values = np.zeros((n, features), np.float64)
        np.add.at(values, (np.arange(n)[:, None, None], orders), credits)
        if not self.params["expand"]:
            return [(values / samples).reshape(self.result_shape(x.shape)).astype(x.dtype)]
        cells = x_f.shape[2]
        spread = np.repeat((values / (samples * cells))[:, :, None], cells, axis=2)
        return [self._from_features(spread).astype(x.dtype)]

    def result_shape(self, shape):
        """DeepExplain's shape: ``(n, *sizes of the sampled axes)``; with ``expand`` or
        ``feature_mask``, the input's."""
        if self.params["expand"] or self.params["feature_mask"] is not None:
            return shape
        return (shape[0],) + tuple(self.sample_shape[a] for a in self.sampled)
