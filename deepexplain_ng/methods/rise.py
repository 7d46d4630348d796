"""RISE (Petsiuk et al. 2018): randomised input sampling, with Xplique's defaults."""
import numbers

import numpy as np
import tensorflow as tf
from skimage.transform import resize

from ..errors import ExplainTypeError, ExplainValueError
from .base import check_seed, positive_int
from .perturbation import PerturbationExplainer


def _interpolation(size, grid):
    """(size, grid) matrix of linear interpolation from ``grid`` points to ``size`` (half-pixel
    centres, edges held): scikit-image's order-1 resize of each unit vector."""
    return resize(np.eye(grid), (size, grid), order=1, mode="edge", anti_aliasing=False)


class Rise(PerturbationExplainer):
    """RISE: ``samples`` random masks, each a ``grid_size`` x ``grid_size`` grid of cells kept with
    probability ``preservation_probability``, upsampled bilinearly to ``(1 + 1/grid_size)`` times
    the image and cropped at a random offset (soft edges at random positions). Each sample is
    scored on ``x * m + baseline * (1 - m)`` for every mask m; the map is the score-weighted sum
    of the masks divided by the sum of the masks (as Xplique's Rise, which is the paper's
    ``sum S m / (N p)`` with the masks' actual coverage in place of N p).

    The same masks serve every sample (drawn once per ``run`` from ``seed``), so results do not
    depend on the batching. Options: ``samples=4000``, ``grid_size=7``,
    ``preservation_probability=0.5``, ``seed=None``, ``baseline=None`` (0). X: images
    ``(n, H, W, C)`` or ``(n, H, W)``. Result: ``(n, H, W)``.

    ``rows_in_graph=True`` (a free batch size): each row is fed as its cells and crop offsets
    (a few bytes) and TF forms the mask, the masked row and the score-weighted sum of the masks
    per sample, in a copy of the path X -> T made at construction (weights as constants: the
    model's weights are held twice); the same values to float32 rounding.
    """

    name = "rise"
    options = {"samples": 4000, "grid_size": 7, "preservation_probability": 0.5, "seed": None, "baseline": None,
               "rows_in_graph": True}

    def validate(self, params):
        if not isinstance(params["rows_in_graph"], bool):
            raise ExplainTypeError(f"rows_in_graph must be True or False, got {params['rows_in_graph']!r}.")
        params["samples"] = positive_int("samples", params["samples"])
        params["grid_size"] = positive_int("grid_size", params["grid_size"])
        p = params["preservation_probability"]
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p <= 1:
            raise ExplainValueError(f"preservation_probability must be in (0, 1], got {p!r}.")
        check_seed(params.get("seed"))
        return params

    def _check_inputs(self):
        super()._check_inputs()
        self.require_images()
        height, width = self.sample_shape[:2]
        grid = self.params["grid_size"]
        self.upsampled = (int(height * (1 + 1 / grid)), int(width * (1 + 1 / grid)))
        self.rows_matrix = _interpolation(self.upsampled[0], grid)
        self.columns_matrix = _interpolation(self.upsampled[1], grid)

    def result_shape(self, shape):
        return tuple(shape[:3])

    def _build(self):
        self._front = None
        if self.params["rows_in_graph"] and self.fixed_batch is None:
            self._front = self._build_front()

    def _build_front(self):
        """The masks from each row's cells and crop offsets, the masked rows (see
        :meth:`masked_front`), and per sample of the chunk the sum of its rows' S times their masks."""
        x, shape, grid = self.inputs[0], self.sample_shape, self.params["grid_size"]
        height, width = shape[:2]
        dtype = x.dtype.as_numpy_dtype

        def build_masks(front):
            tf1 = tf.compat.v1
            front["cells"] = tf1.placeholder(x.dtype, (None, grid, grid), "cells")
            front["offsets"] = tf1.placeholder(tf.int32, (None, 2), "offsets")
            rows = tf.gather(self.rows_matrix.astype(dtype), front["offsets"][:, :1] + tf.range(height)[None])
            columns = tf.gather(self.columns_matrix.astype(dtype), front["offsets"][:, 1:] + tf.range(width)[None])
            return tf.matmul(tf.matmul(rows, front["cells"]), columns, transpose_b=True)  # (rows, H, W)

        front, masks, score = self.masked_front(build_masks)
        front["numerator"] = tf.math.unsorted_segment_sum(score[:, None, None] * masks, front["row_sample"],
                                                          tf.shape(front["samples"])[0])
        return front

    def _prepare(self, xs, extra):
        rng = np.random.default_rng(self.params["seed"])
        samples, grid = self.params["samples"], self.params["grid_size"]
        cells = rng.random((samples, grid, grid)) < self.params["preservation_probability"]
        height, width = self.sample_shape[:2]
        offsets = np.stack([rng.integers(0, self.upsampled[0] - height + 1, samples),
                            rng.integers(0, self.upsampled[1] - width + 1, samples)], axis=1)
        return cells, offsets

    def masks(self, cells, offsets, dtype=np.float64):
        """Soft masks ``(k, H, W)`` from low-resolution cells ``(k, g, g)`` and crop offsets
        ``(k, 2)``: the cropped rows of the interpolation matrices times the cells (the full
        upsampled mask is never formed)."""
        height, width = self.sample_shape[:2]
        rows = self.rows_matrix.astype(dtype)[offsets[:, 0, None] + np.arange(height)]        # (k, H, g)
        columns = self.columns_matrix.astype(dtype)[offsets[:, 1, None] + np.arange(width)]   # (k, W, g)
        return rows @ cells.astype(dtype) @ np.swapaxes(columns, 1, 2)

    def coverage(self, cells, offsets):
        """The sum of the masks ``(H, W)``: per crop row offset, the cropped rows of the row
        interpolation matrix times the summed column products of its masks (about 20x fewer
        operations than summing the masks)."""
        height, width = self.sample_shape[:2]
        total = np.zeros((height, width))
        for lo in range(0, len(cells), 1024):
            part, shift = cells[lo:lo + 1024].astype(np.float64), offsets[lo:lo + 1024]
            columns = self.columns_matrix[shift[:, 1, None] + np.arange(width)]            # (k, W, g)
            right = part @ np.swapaxes(columns, 1, 2)                                        # (k, g, W)
            for top in np.unique(shift[:, 0]):
                total += self.rows_matrix[top + np.arange(height)] @ right[shift[:, 0] == top].sum(axis=0)
        return total

    def _explain(self, xs, weights, rows, context, extra):
        cells, offsets = context
        x = xs[0]
        n, samples = len(x), self.params["samples"]
        numerator = np.zeros((n,) + self.sample_shape[:2])
        chunk = {}
        if self._front is not None:
            front = self._front
            low = cells.astype(x.dtype)
            offsets32 = offsets.astype(np.int32)

            def make_feed(lo, hi):
                chunk["samples"], row_sample, sample, k = self.chunk_rows(lo, hi, samples)
                some = x[chunk["samples"]]
                return {front["samples"]: some, front["references"]: np.broadcast_to(self.baseline, some.shape),
                        front["row_sample"]: row_sample, front["cells"]: low[k], front["offsets"]: offsets32[k],
                        self.weights: weights[sample]}

            def consume(lo, hi, values):
                numerator[chunk["samples"]] += values[0]

            self.evaluate([front["numerator"]], n * samples, make_feed, consume, extra)
        else:
            def rows_of(index):
                sample, k = np.divmod(index, samples)
                m = self.masks(cells[k], offsets[k], x.dtype)  # float32 rows: half the traffic of float64
                chunk["sample"], chunk["masks"] = sample, m
                soft = m.reshape(m.shape + (1,) * (len(self.sample_shape) - 2))
                return self.baseline + soft * (x[sample] - self.baseline), sample

            def make_feed(lo, hi):
                inputs, sample = rows_of(np.arange(lo, hi))
                return {self.inputs[0]: inputs, self.weights: weights[sample]}

            def consume(lo, hi, values):
                sample, m = chunk["sample"], chunk["masks"]
                starts = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
                numerator[sample[starts]] += np.add.reduceat(values[0][:, None, None] * m, starts, axis=0)

            self.evaluate([self.score], n * samples, make_feed, consume, extra)
        return [(numerator / (self.coverage(cells, offsets) + 1e-4)).astype(x.dtype)]
