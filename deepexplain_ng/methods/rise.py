"""RISE (Petsiuk et al. 2018): randomised input sampling, with Xplique's defaults."""
import numbers

import numpy as np
from skimage.transform import resize

from ..errors import ExplainValueError
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
    """

    name = "rise"
    options = {"samples": 4000, "grid_size": 7, "preservation_probability": 0.5, "seed": None, "baseline": None}

    def validate(self, params):
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

    def _explain(self, xs, weights, rows, context, extra):
        cells, offsets = context
        x = xs[0]
        n, samples = len(x), self.params["samples"]
        numerator = np.zeros((n,) + self.sample_shape[:2])
        chunk = {}

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
        coverage = np.zeros(self.sample_shape[:2])
        for lo in range(0, samples, 1024):  # the same masks for every sample: their sum once
            coverage += self.masks(cells[lo:lo + 1024], offsets[lo:lo + 1024]).sum(axis=0)
        return [(numerator / (coverage + 1e-4)).astype(x.dtype)]
