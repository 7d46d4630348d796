"""Perturbation methods: occlusion and Shapley value sampling, on batched session feeds.

Perturbed inputs are rows generated chunk by chunk (never all at once) and evaluated one
``session.run`` per chunk under the memory budget; only the scores S of the rows are kept.
"""
import numbers

import numpy as np
from skimage.util import view_as_windows

from .. import feeding
from .. import orders as order_designs
from ..errors import ExplainTypeError, ExplainValueError
from ..notices import warn
from .base import Explainer, positive_int


def _per_axis(name, value, shape):
    """An int or a tuple of one positive int per axis of ``shape``."""
    values = (value,) * len(shape) if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (tuple, list)) or len(values) != len(shape) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise ExplainTypeError(f"{name}: expected an int or a tuple of {len(shape)} ints (one per axis of the "
                               f"input's shape {tuple(shape)} without batch), got {value!r}.")
    if any(v <= 0 for v in values):
        raise ExplainValueError(f"{name}: values must be positive, got {tuple(values)}.")
    return tuple(int(v) for v in values)


class PerturbationExplainer(Explainer):
    """Shared checks and the S(x) / S(perturbed) evaluation of perturbation methods."""

    uses_gradients = False
    options = {"baseline": None}

    def _build(self):
        pass  # S(x) is all these methods evaluate; the base class builds it

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(
                f"{self.name} perturbs one input tensor, and X is a list of {len(self.inputs)}: how to "
                "perturb several inputs jointly is not defined. Concatenate them into one input tensor, "
                "or use a gradient method (saliency, grad*input, intgrad, elrp, deeplift).")
        shape = self.inputs[0].shape.as_list()[1:]
        if None in shape:
            raise ExplainValueError(f"{self.name}: X '{self.inputs[0].name}' needs a known shape without batch, "
                                    f"got {self.inputs[0].shape}.")
        self.sample_shape = tuple(shape)
        self.baseline = self._check_baseline(self.params["baseline"])

    def _check_baseline(self, baseline):
        dtype = self.inputs[0].dtype.as_numpy_dtype
        if baseline is None:
            return np.zeros(self.sample_shape, dtype)
        array = feeding.as_array("baseline", baseline, dtype)
        if array.ndim == 0:
            return np.full(self.sample_shape, array, dtype)
        if array.shape != self.sample_shape:
            raise ExplainValueError(f"baseline: expected a scalar or an array of the input's shape without "
                                    f"the batch axis {self.sample_shape}, got {array.shape}.")
        return array

    def score_rows(self, n_rows, rows_of, weights, extra):
        """S of the virtual rows [0, n_rows), generated chunk by chunk.

        ``rows_of(index)`` returns ``(inputs, sample)``: the rows' input values and the sample
        each belongs to (for its target weights). Returns S, shape (n_rows,).
        """
        out = np.empty(n_rows, np.float64)

        def make_feed(lo, hi):
            inputs, sample = rows_of(np.arange(lo, hi))
            return {self.inputs[0]: inputs, self.weights: weights[sample]}

        def consume(lo, hi, values):
            out[lo:hi] = values[0]

        self.evaluate([self.score], n_rows, make_feed, consume, extra)
        return out


class Occlusion(PerturbationExplainer):
    """Occlusion (Zeiler & Fergus 2014), DeepExplain's variant.

    Windows of ``window_shape`` slide with ``step`` over the input's index grid (as
    ``skimage.util.view_as_windows``, batch axis excluded). Each window p is replaced by the
    baseline (default 0), giving delta_p = S(x) - S(x with window p replaced). The attribution
    of feature i is (sum of delta_p over the windows containing i) / (sum of their sizes):
    with ``window_shape=1`` it is S(x) - S(x without feature i), i.e. w*x on a linear model;
    with non-overlapping windows each window's attributions sum to its delta. Features no
    window covers are NaN (with a warning).

    Options: ``window_shape`` (int or tuple, default 1), ``step`` (int or tuple, default 1),
    ``baseline`` (scalar or array of one sample's shape, default 0).
    """

    name = "occlusion"
    options = {"window_shape": 1, "step": 1, "baseline": None}

    def _check_inputs(self):
        super()._check_inputs()
        shape = self.sample_shape
        window = _per_axis("window_shape", self.params["window_shape"], shape)
        step = _per_axis("step", self.params["step"], shape)
        if any(w > s for w, s in zip(window, shape)):
            raise ExplainValueError(f"window_shape: {window} is larger than the input's shape without batch {shape}.")
        grid = np.arange(int(np.prod(shape))).reshape(shape)
        # flat indices of the features in each window: (windows, window size)
        self.windows = view_as_windows(grid, window, step).reshape(-1, int(np.prod(window)))
        counts = np.bincount(self.windows.ravel(), minlength=grid.size)
        self.coverage = counts * self.windows.shape[1]  # sum of the sizes of the windows covering i
        uncovered = int((counts == 0).sum())
        if uncovered:
            warn(f"occlusion: window_shape {window} with step {step} leaves {uncovered} of "
                 f"{grid.size} features uncovered; their attributions are NaN.")

    def _explain(self, xs, weights, rows, context, extra):
        x = xs[0]
        n, count = len(x), self.windows.shape[0]
        flat = x.reshape(n, -1)
        base = self.baseline.reshape(-1)

        def rows_of(index):
            # rows [0, n): the inputs themselves; then, per sample, one row per window
            window_row = index >= n
            sample = np.where(window_row, (index - n) // count, index)
            inputs = flat[sample]
            perturbed = np.flatnonzero(window_row)
            window = self.windows[(index[perturbed] - n) % count]
            inputs[perturbed[:, None], window] = base[window]
            return inputs.reshape((len(index),) + self.sample_shape), sample

        scores = self.score_rows(n * (count + 1), rows_of, weights, extra)
        deltas = scores[:n, None] - scores[n:].reshape(n, count)
        sizes = np.where(self.coverage > 0, self.coverage, np.nan)
        result = np.stack([np.bincount(self.windows.ravel(), np.repeat(d, self.windows.shape[1]),
                                       minlength=flat.shape[1]) for d in deltas]) / sizes
        return [result.reshape(x.shape).astype(x.dtype)]


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

    Options: ``samples=5`` (orders per input sample), ``sampling_dims=None``, ``seed=None``
    (an int makes results reproducible, whatever ``batch_size`` or ``memory_budget``, up to
    float32 rounding), ``baseline`` (scalar or array of one sample's shape), ``expand=False``,
    ``design="balanced"``.
    """

    name = "shapley_sampling"
    options = {"samples": 5, "sampling_dims": None, "seed": None, "baseline": None, "expand": False,
               "design": "balanced"}

    def validate(self, params):
        if not isinstance(params["expand"], bool):
            raise ExplainTypeError(f"expand must be True or False, got {params['expand']!r}.")
        params["samples"] = positive_int("samples", params["samples"])
        if params["design"] not in order_designs.DESIGNS:
            raise ExplainValueError(f"design: expected one of {list(order_designs.DESIGNS)}, got {params['design']!r}.")
        seed = params["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ExplainTypeError(f"seed must be None or an int, got {seed!r}.")
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

    def _to_features(self, a):
        """(n, *sample_shape) -> (n, features, cells)."""
        return a.transpose([0] + [d + 1 for d in self.order]).reshape(len(a), self.features, -1)

    def _from_features(self, a):
        permuted = tuple(self.sample_shape[d] for d in self.order)
        return a.reshape((len(a),) + permuted).transpose([0] + [d + 1 for d in self.inverse])

    def _prepare(self, xs, extra):
        rng = np.random.default_rng(self.params["seed"])
        # orders are drawn for all samples up front, so chunking never changes them
        return order_designs.design(self.params["design"], rng, xs[0].shape[0], self.params["samples"], self.features)

    def _explain(self, xs, weights, rows, orders, extra):
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
        """DeepExplain's shape: ``(n, *sizes of the sampled axes)``; with ``expand``, the input's."""
        if self.params["expand"]:
            return shape
        return (shape[0],) + tuple(self.sample_shape[a] for a in self.sampled)
