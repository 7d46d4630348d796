"""Perturbation methods on batched session feeds: the shared base, and occlusion.

Perturbed inputs are rows generated chunk by chunk (never all at once) and evaluated one
``session.run`` per chunk under the memory budget; only the scores S of the rows are kept.
"""
import numbers

import numpy as np
import tensorflow as tf
from skimage.util import view_as_windows

from .. import feeding, groups
from ..errors import ExplainTypeError, ExplainValueError
from ..graph_copies import path_copy
from ..incremental import build_incremental
from ..notices import warn
from .base import Explainer, check_seed, positive_int


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

    def several_inputs(self):
        """Whether the method perturbs several inputs jointly (feature groups across inputs)."""
        return False

    def _check_inputs(self):
        if len(self.inputs) > 1 and not self.several_inputs():
            raise ExplainValueError(
                f"{self.name} perturbs one input tensor, and X is a list of {len(self.inputs)}: how to "
                "perturb several inputs jointly is not defined here. Use a feature-group method "
                "(feature_ablation, kernel_shap, lime, feature_permutation, or occlusion with feature_mask), "
                "concatenate them into one input tensor, or use a gradient method.")
        self.sample_shapes = []
        for x in self.inputs:
            shape = x.shape.as_list()[1:]
            if None in shape:
                raise ExplainValueError(f"{self.name}: X '{x.name}' needs a known shape without batch, got {x.shape}.")
            self.sample_shapes.append(tuple(shape))
        self.sample_shape = self.sample_shapes[0]
        baselines = self.params["baseline"]
        several = len(self.inputs) > 1 and isinstance(baselines, (list, tuple))
        if several and len(baselines) != len(self.inputs):
            raise ExplainValueError(f"baseline: X is a list of {len(self.inputs)} tensors, so baseline must be one "
                                    f"value for all or a list of {len(self.inputs)}, got {len(baselines)}.")
        self.baselines = [self._check_baseline(baselines[i] if several else baselines, x, shape,
                                               f"baseline[{i}]" if several else "baseline")
                          for i, (x, shape) in enumerate(zip(self.inputs, self.sample_shapes))]
        self.baseline = self.baselines[0]

    def require_images(self):
        """Methods that mask regions of images: X must be ``(n, H, W)`` or ``(n, H, W, C)``."""
        if len(self.inputs) > 1 or len(self.sample_shape) not in (2, 3):
            raise ExplainValueError(f"{self.name} masks regions of images: X must be one tensor (n, H, W) or "
                                    f"(n, H, W, C), got {[str(x.shape) for x in self.inputs]}.")

    @staticmethod
    def _check_baseline(baseline, x, shape, label):
        dtype = x.dtype.as_numpy_dtype
        if baseline is None:
            return np.zeros(shape, dtype)
        array = feeding.as_array(label, baseline, dtype)
        if array.ndim == 0:
            return np.full(shape, array, dtype)
        if array.shape != shape:
            raise ExplainValueError(f"{label}: expected a scalar or an array of the input's shape without "
                                    f"the batch axis {shape}, got {array.shape}.")
        return array

    def masked_front(self, build_masks):
        """Rows made by TF from a soft mask each (RISE's, Sobol's, HSIC's): placeholders for the
        chunk's samples and their references ``(k,) + sample shape`` and each row's sample;
        ``build_masks()`` makes the masks ``(rows, H, W)`` from its own placeholders (created
        here, in the method's name scope). The rows ``reference + m (x - reference)``, or with
        ``amplitude`` fed ``x (m - 0.5) amplitude``, go through a copy of the path X -> T made
        now (weights as constants). Returns ``(placeholders, masks, S of each row)``."""
        tf1 = tf.compat.v1
        x, shape = self.inputs[0], self.sample_shape
        front = {"samples": tf1.placeholder(x.dtype, (None,) + shape, "samples"),
                 "references": tf1.placeholder(x.dtype, (None,) + shape, "references"),
                 "row_sample": tf1.placeholder(tf.int32, (None,), "row_sample")}
        masks = build_masks(front)
        soft = tf.reshape(masks, [-1, shape[0], shape[1]] + [1] * (len(shape) - 2))
        inputs = tf.gather(front["samples"], front["row_sample"])
        if self.params.get("perturbation") == "amplitude":
            front["amplitude"] = tf1.placeholder(x.dtype, (), "amplitude")
            made = inputs * (soft - 0.5) * front["amplitude"]
        else:
            references = tf.gather(front["references"], front["row_sample"])
            made = references + soft * (inputs - references)
        target = path_copy(self.session, self.target, {x: made}, f"{self.name}_rows")
        weighted = target * self.weights
        return front, masks, tf.reduce_sum(tf.reshape(weighted, [tf.shape(weighted)[0], -1]), axis=1)

    def coalition_front(self):
        """Placeholders for the samples, their cells' group labels, each row's sample and group
        presence, and each sample's reference (the baseline, or feature permutation's donor);
        the rows they make, fed to a copy of the path; its S."""
        x, shape = self.inputs[0], self.sample_shape
        cells = int(np.prod(shape))
        tf1 = tf.compat.v1
        front = {"samples": tf1.placeholder(x.dtype, (None, cells), "samples"),
                 "labels": tf1.placeholder(tf.int32, (None, cells), "labels"),
                 "row_sample": tf1.placeholder(tf.int32, (None,), "row_sample"),
                 "present": tf1.placeholder(tf.bool, (None, None), "present"),
                 "references": tf1.placeholder(x.dtype, (None, cells), "references")}
        on = tf.gather(front["present"], tf.gather(front["labels"], front["row_sample"]), batch_dims=1)
        rows = tf.compat.v2.where(on, tf.gather(front["samples"], front["row_sample"]),
                                  tf.gather(front["references"], front["row_sample"]))
        target = path_copy(self.session, self.target, {x: tf.reshape(rows, (-1,) + shape)}, "rows_in_graph")
        weighted = target * self.weights
        front["score"] = tf.reduce_sum(tf.reshape(weighted, [tf.shape(weighted)[0], -1]), axis=1)
        return front

    def score_present_rows(self, flat, weights, labels, n_rows, present_of, extra, references):
        """S of rows built by TF in :meth:`coalition_front`'s copy of the path: ``flat`` the
        samples' cells ``(n, cells)``, ``labels`` their cells' groups ``(n, cells)``, and
        ``present_of(index)`` -> (each row's sample (k,), its groups' presence (k, G) bool) for
        row indices ``index`` (sample-major); absent groups take ``references`` ``(n, cells)``
        (the baseline, or another sample) -> S ``(n_rows,)``."""
        front, out = self._front, np.empty(n_rows, np.float64)
        labels = labels.astype(np.int32)

        def make_feed(lo, hi):
            sample, present = present_of(np.arange(lo, hi))
            chunk, row_sample = np.unique(sample, return_inverse=True)
            return {front["samples"]: flat[chunk], front["labels"]: labels[chunk],
                    front["row_sample"]: row_sample.astype(np.int32), front["present"]: present,
                    front["references"]: references[chunk], self.weights: weights[sample]}

        def consume(lo, hi, values):
            out[lo:hi] = values[0]

        self.evaluate([front["score"]], n_rows, make_feed, consume, extra)
        return out

    @staticmethod
    def chunk_rows(lo, hi, per_sample):
        """Rows [lo, hi) of a sample-major layout of ``per_sample`` rows a sample: (the chunk's
        samples, each row's index among them (int32), each row's sample, each row's index within its
        sample)."""
        sample, k = np.divmod(np.arange(lo, hi), per_sample)
        samples, row_sample = np.unique(sample, return_inverse=True)
        return samples, row_sample.astype(np.int32), sample, k

    def score_rows(self, n_rows, rows_of, weights, extra):
        """S of the virtual rows [0, n_rows), generated chunk by chunk.

        ``rows_of(index)`` returns ``(inputs, sample)``: the rows' input values and the sample
        each belongs to (for its target weights). Returns S, shape (n_rows,).
        """
        out = np.empty(n_rows, np.float64)

        def make_feed(lo, hi):
            inputs, sample = rows_of(np.arange(lo, hi))
            feed = dict(zip(self.inputs, inputs)) if isinstance(inputs, list) else {self.inputs[0]: inputs}
            feed[self.weights] = weights[sample]
            return feed

        def consume(lo, hi, values):
            out[lo:hi] = values[0]

        self.evaluate([self.score], n_rows, make_feed, consume, extra)
        return out


class GroupPerturbation(PerturbationExplainer):
    """Feature groups and the scoring of coalitions of them (see :mod:`deepexplain_ng.groups`).

    Options shared by the group methods: ``feature_mask=None`` (every cell its own group; an
    integer array, ``"slic"`` or ``"grid"``), ``n_segments=50`` and ``compactness=10`` (SLIC),
    ``cell=4`` (grid), ``baseline=None`` (0; a scalar or an array of one sample's shape).
    The result is shaped like X, each group's value spread evenly over its cells. X may be a
    list: then ``feature_mask`` is one mask per input, equal ids across inputs are one joint
    group, ``baseline`` one value or a list, and the result one map per input.

    ``rows_in_graph=True`` (one input of a free batch size): the perturbed rows are built by TF
    from each row's group presence (a few bytes a row; absent groups from the baseline, or for
    feature permutation from the donor sample) in a copy of the path X -> T made at
    construction (weights as constants: the model's weights are held twice), instead of in numpy
    (a whole input a row); the scores are the same.
    """

    options = {"feature_mask": None, "n_segments": 50, "compactness": 10.0, "cell": 4, "baseline": None,
               "rows_in_graph": True}

    def validate(self, params):
        if not isinstance(params["rows_in_graph"], bool):
            raise ExplainTypeError(f"rows_in_graph must be True or False, got {params['rows_in_graph']!r}.")
        params["n_segments"] = positive_int("n_segments", params["n_segments"])
        if "seed" in params:
            check_seed(params["seed"])
        return params

    def scores_coalitions(self):
        """Whether the method evaluates coalitions of groups (:meth:`score_coalitions`)."""
        return True

    def _build(self):
        self._front = None
        if (self.params["rows_in_graph"] and self.scores_coalitions() and len(self.inputs) == 1
                and self.fixed_batch is None):
            self._front = self.coalition_front()
        self._tiles = None
        if self.params.get("incremental") and self.scores_coalitions():
            self._tiles = self._build_tiles()

    def _build_tiles(self):
        """``(program, window of each cell (cells,), first cell of each window (P,))`` when the
        groups tile an image as equal boxes (:func:`groups.tile_shape`): ablating a group is then
        occluding a window, evaluated incrementally (:mod:`deepexplain_ng.incremental`); or None."""
        shape = self.sample_shape
        if len(self.inputs) != 1 or self.fixed_batch is not None:
            return None
        cell = groups.tile_shape(self.params["feature_mask"], shape, self.params["cell"])
        if cell is None:
            return None
        program = build_incremental(self.graph, self.inputs[0], self.target, cell, cell, self.baseline,
                                    approximate=self.params.get("approximate"))
        if program is None:
            return None
        height, width, channels = shape
        across = width // cell[1]
        tile = (np.arange(height)[:, None] // cell[0]) * across + np.arange(width)[None] // cell[1]
        window = np.arange(program.windows)  # view_as_windows order: row-major over the tiles
        first = ((window // across) * cell[0] * width + (window % across) * cell[1]) * channels
        return program, np.repeat(tile.reshape(-1), channels), first

    def _incremental_deltas(self, program, x, weights, extra):
        """S(x) - S(x with window p occluded) ``(n, windows)`` by an incremental program, as many
        (sample, window) rows per run as the memory budget allows."""
        n = len(x)
        rows = max(1, self.memory_budget // max(1, program.row_bytes))
        samples = min(n, rows)
        deltas = np.empty((n, program.windows))
        for lo in range(0, n, samples):
            part = slice(lo, lo + samples)
            occluded = program.scores(self.session, x[part], weights[part], max(1, rows // samples), feed=extra)
            deltas[part] = program.base_scores(self.session, x[part], weights[part], feed=extra)[:, None] - occluded
        return deltas

    def several_inputs(self):
        return True

    def _flat(self, xs):
        """The inputs of each sample side by side: ``(n, cells of all inputs)``."""
        return np.concatenate([x.reshape(len(x), -1) for x in xs], axis=1)

    def _split(self, flat):
        """Rows ``(rows, cells of all inputs)`` -> one array per input, shaped like it."""
        bounds = np.cumsum([0] + [int(np.prod(s)) for s in self.sample_shapes])
        parts = [flat[:, a:b].reshape((len(flat),) + shape)
                 for a, b, shape in zip(bounds[:-1], bounds[1:], self.sample_shapes)]
        return parts if len(parts) > 1 else parts[0]

    def _groups(self, xs):
        mask, n = self.params["feature_mask"], len(xs[0])
        if mask is None:
            cells = sum(int(np.prod(s)) for s in self.sample_shapes)
            return np.tile(np.arange(cells), (n, 1)), np.full(n, cells)
        options = (self.params["n_segments"], self.params["compactness"], self.params["cell"])
        if len(self.inputs) == 1:
            return groups.resolve(mask, xs[0], self.sample_shape, *options)
        if not isinstance(mask, (list, tuple)) or len(mask) != len(self.inputs):
            raise ExplainValueError(f"feature_mask: X is a list of {len(self.inputs)} tensors, so give one mask "
                                    f"per input (a list of {len(self.inputs)}); equal ids across inputs make "
                                    "one joint feature.")
        return groups.resolve_joint(mask, xs, self.sample_shapes, *options)

    def score_coalitions(self, flat, weights, labels, present, extra, references=None):
        """S of sample i with the groups ``present[i, r]`` kept, the others taken from the
        baseline (or from ``references[i]``, ``(n, cells)``): ``flat`` the inputs side by side
        ``(n, cells)``, ``present`` ``(n, R, G)`` bool -> scores ``(n, R)``."""
        n, count = present.shape[:2]
        if references is None:
            references = np.broadcast_to(np.concatenate([b.reshape(-1) for b in self.baselines]), flat.shape)
        if self._front is not None:
            def present_of(index):
                sample, r = np.divmod(index, count)
                return sample, present[sample, r]

            return self.score_present_rows(flat, weights, labels, n * count, present_of, extra,
                                           references).reshape(n, count)

        def rows_of(index):
            sample, r = np.divmod(index, count)
            inputs = np.empty((len(index), flat.shape[1]), flat.dtype)
            # rows are sample-major: per sample, its groups' presence indexed by its cells' labels
            starts = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1], True])
            for lo, hi in zip(starts[:-1], starts[1:]):
                i = sample[lo]
                np.copyto(inputs[lo:hi], np.where(present[i, r[lo:hi]][:, labels[i]], flat[i], references[i]))
            return self._split(inputs), sample

        return self.score_rows(n * count, rows_of, weights, extra).reshape(n, count)

    def _prepare(self, xs, extra):
        # one random stream per sample: draws never depend on how the samples are chunked
        return np.random.SeedSequence(self.params.get("seed")).spawn(len(xs[0]))

    def _explain(self, xs, weights, rows, streams, extra):
        flat = self._flat(xs)
        labels, counts = self._groups(xs)
        rngs = [np.random.default_rng(s) for s in streams[rows]]
        return self._maps(self.group_values(flat, weights, labels, counts, extra, rngs), labels, counts, xs[0].dtype)

    def _maps(self, values, labels, counts, dtype):
        """Group values ``(n, G)`` spread over their cells -> one map per input."""
        maps = self._split(groups.spread(values, labels, counts).astype(dtype))
        return maps if isinstance(maps, list) else [maps]

    def group_values(self, x, weights, labels, counts, extra, rngs):
        """``(n, G)``: each sample's value of each of its groups (0 beyond its count); ``rngs``:
        each sample's random generator."""
        raise NotImplementedError

    def ablation_values(self, x, weights, labels, counts, extra, references=None):
        """``S(x) - S(x with group g at the baseline)`` (or at ``references[i]``, ``(n, cells)``)
        for every group g of every sample."""
        if self._tiles is not None and references is None:
            program, window_of_cell, first = self._tiles
            group_of_window = labels[:, first]  # (n, P)
            if np.array_equal(labels, group_of_window[:, window_of_cell]):
                deltas = self._incremental_deltas(program, x.reshape((len(x),) + self.sample_shape), weights, extra)
                values = np.zeros((len(x), program.windows))
                np.put_along_axis(values, group_of_window, deltas, axis=1)
                return values
        g = int(counts.max())
        present = np.ones((len(x), g + 1, g), bool)
        present[:, 1:][:, np.arange(g), np.arange(g)] = False
        scores = self.score_coalitions(x, weights, labels, present, extra, references)
        values = scores[:, :1] - scores[:, 1:]
        return np.where(np.arange(g) < counts[:, None], values, 0.0)


class Occlusion(GroupPerturbation):
    """Occlusion (Zeiler & Fergus 2014), DeepExplain's variant.

    Windows of ``window_shape`` slide with ``step`` over the input's index grid (as
    ``skimage.util.view_as_windows``, batch axis excluded). Each window p is replaced by the
    baseline (default 0), giving delta_p = S(x) - S(x with window p replaced). The attribution
    of feature i is (sum of delta_p over the windows containing i) / (sum of their sizes):
    with ``window_shape=1`` it is S(x) - S(x without feature i), i.e. w*x on a linear model;
    with non-overlapping windows each window's attributions sum to its delta. Features no
    window covers are NaN (with a warning).

    Options: ``window_shape`` (int or tuple, default 1), ``step`` (int or tuple, default 1),
    ``baseline`` (scalar or array of one sample's shape, default 0), ``incremental=True``: for
    images ``(n, H, W, C)`` with windows spanning all channels, each occluded row is recomputed
    only on the receptive-field cone of its window through the local layers (convolutions,
    pooling, batch norm, activations, residual adds), the rest of the network as usual
    (:mod:`deepexplain_ng.incremental`; Krypton, Nakandala et al. 2019); the same scores to
    float32 rounding, and the full evaluation when the path starts with a non-local op.
    ``approximate=tau`` (0 < tau <= 1, default None: exact): Krypton's projective-field threshold,
    changed regions wider than tau of a map are cut around their centre (an approximation:
    up to 42 % of the largest delta on the ResNet-style benchmark at tau 0.5). With ``feature_mask`` (and
    ``n_segments``, ``compactness``, ``cell``; see :class:`GroupPerturbation`) the occluded
    regions are the feature groups instead of windows: each group's change of S is spread
    evenly over its cells (then ``feature_ablation``).
    """

    name = "occlusion"
    options = dict(GroupPerturbation.options, window_shape=1, step=1, incremental=True, approximate=None)

    def validate(self, params):
        if not isinstance(params["incremental"], bool):
            raise ExplainTypeError(f"incremental must be True or False, got {params['incremental']!r}.")
        tau = params["approximate"]
        if tau is not None and (isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not 0 < tau <= 1):
            raise ExplainValueError(f"approximate: expected None (exact) or Krypton's threshold tau in (0, 1], "
                                    f"got {tau!r}.")
        return super().validate(params)

    def _build(self):
        super()._build()
        # windows over the image's height and width that cover all channels: each occluded row
        # is recomputed only where it differs from the input (deepexplain_ng.incremental)
        self._incremental = None
        shape = self.sample_shape
        if self.params["incremental"] and self.params["feature_mask"] is None and len(shape) == 3:
            window = _per_axis("window_shape", self.params["window_shape"], shape)
            step = _per_axis("step", self.params["step"], shape)
            if window[2] == shape[2]:
                program = build_incremental(self.graph, self.inputs[0], self.target, window[:2], step[:2],
                                            self.baseline, approximate=self.params["approximate"])
                if program is not None and program.windows == len(self.windows):
                    self._incremental = program

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

    def several_inputs(self):
        return self.params["feature_mask"] is not None

    def scores_coalitions(self):
        return self.params["feature_mask"] is not None

    def _prepare(self, xs, extra):
        return None

    def _explain(self, xs, weights, rows, context, extra):
        if self.params["feature_mask"] is not None:
            return super()._explain(xs, weights, rows, [None] * len(xs[0]), extra)
        x = xs[0]
        n, count = len(x), self.windows.shape[0]
        flat = x.reshape(n, -1)
        base = self.baseline.reshape(-1)
        if self._incremental is not None:
            return self._spread(x, flat, self._incremental_deltas(self._incremental, x, weights, extra))

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
        return self._spread(x, flat, scores[:n, None] - scores[n:].reshape(n, count))

    def _spread(self, x, flat, deltas):
        """Each feature: the sum of the deltas of the windows covering it over their sizes."""
        sizes = np.where(self.coverage > 0, self.coverage, np.nan)
        result = np.stack([np.bincount(self.windows.ravel(), np.repeat(d, self.windows.shape[1]),
                                       minlength=flat.shape[1]) for d in deltas]) / sizes
        return [result.reshape(x.shape).astype(x.dtype)]

    def group_values(self, x, weights, labels, counts, extra, rngs):
        return self.ablation_values(x, weights, labels, counts, extra)
