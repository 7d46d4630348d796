"""Sobol attribution (Fel et al., NeurIPS 2021), as Xplique's SobolAttributionMethod."""
import numbers

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.stats import qmc
from skimage.transform import resize

from ..errors import ExplainValueError
from .base import positive_int
from .perturbation import PerturbationExplainer

PERTURBATIONS = ("inpainting", "blur", "amplitude")


def replicated_design(cells, samples):
    """Xplique's replicated design on a Sobol sequence (unscrambled): matrices A and B
    ``(samples, cells)`` and, for every cell i, A with column i taken from B: ``(samples * (cells
    + 2), cells)`` masks in [0, 1], in the order A, B, C_1, ..., C_cells."""
    ab = qmc.Sobol(2 * cells, scramble=False).random(samples)
    a, b = ab[:, :cells], ab[:, cells:]
    c = np.repeat(a[None], cells, axis=0)
    c[np.arange(cells), :, np.arange(cells)] = b.T
    return np.concatenate([a, b, c.reshape(-1, cells)])


def jansen_total_indices(scores, samples, cells):
    """Total-order Sobol indices by Jansen's estimator from the scores of the design's rows:
    ``sum_n (f(A_n) - f(C_i,n))^2 / (2 N var(f(A)))``."""
    a = scores[:samples]
    c = scores[2 * samples:].reshape(cells, samples)
    variance = max(np.var(a, ddof=1), 1e-12)
    return ((a[None] - c) ** 2).sum(axis=1) / (2 * samples * variance)


class Sobol(PerturbationExplainer):
    """Sobol attribution method: the image is cut in a ``grid_size`` x ``grid_size`` grid; quasi
    Monte Carlo masks (a Sobol sequence, replicated design) give each cell a value in [0, 1] that
    perturbs it: ``"inpainting"`` ``x m + baseline (1 - m)``, ``"blur"`` the same towards a box
    blur of the image (``sigma=10`` pixels), ``"amplitude"`` ``x (m - 0.5) sigma`` (Xplique's
    operators); each cell's map value is its total-order Sobol index (Jansen's estimator):
    the share of the variance of S that involves the cell, interactions included. The indices
    are resized bicubically to the image.

    Options: ``grid_size=8``, ``samples=32`` (a power of two; ``samples * (grid_size^2 + 2)``
    rows per image), ``perturbation="inpainting"``, ``sigma=None`` (10 for blur, 1 for
    amplitude), ``baseline=None`` (0). X: ``(n, H, W, C)`` or ``(n, H, W)``. Result ``(n, H, W)``.
    The masks are deterministic and the same for every sample.
    """

    name = "sobol"
    options = {"grid_size": 8, "samples": 32, "perturbation": "inpainting", "sigma": None, "baseline": None}

    def validate(self, params):
        params["grid_size"] = positive_int("grid_size", params["grid_size"])
        samples = params["samples"] = positive_int("samples", params["samples"])
        if samples & (samples - 1):
            raise ExplainValueError(f"samples must be a power of two (a Sobol sequence's balance), got {samples}.")
        if params["perturbation"] not in PERTURBATIONS:
            raise ExplainValueError(f"perturbation: expected one of {list(PERTURBATIONS)}, got "
                                    f"{params['perturbation']!r}.")
        sigma = params["sigma"]
        if sigma is None:
            sigma = 10 if params["perturbation"] == "blur" else 1.0
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise ExplainValueError(f"sigma must be a positive number, got {sigma!r}.")
        params["sigma"] = sigma
        return params

    def _check_inputs(self):
        super()._check_inputs()
        if len(self.sample_shape) not in (2, 3):
            raise ExplainValueError(f"sobol perturbs images: X must be (n, H, W) or (n, H, W, C), got "
                                    f"{self.inputs[0].shape}.")
        grid = self.params["grid_size"]
        self.design = replicated_design(grid * grid, self.params["samples"])
        # nearest-neighbour upsampling of the grid (half-pixel centres, as TF's): each pixel's cell
        height, width = self.sample_shape[:2]
        rows = np.minimum(((np.arange(height) + 0.5) * grid / height).astype(int), grid - 1)
        columns = np.minimum(((np.arange(width) + 0.5) * grid / width).astype(int), grid - 1)
        self.cell_of_pixel = rows[:, None] * grid + columns[None, :]

    def result_shape(self, shape):
        return tuple(shape[:3])

    def _reference(self, image):
        if self.params["perturbation"] == "blur":
            size = (int(self.params["sigma"]),) * 2 + (1,) * (image.ndim - 2)
            return uniform_filter(image.astype(np.float64), size=size, mode="reflect").astype(image.dtype)
        return self.baseline

    def _explain(self, xs, weights, rows, context, extra):
        x = xs[0]
        n, count = len(x), len(self.design)
        grid, samples = self.params["grid_size"], self.params["samples"]
        references = np.stack([self._reference(image) for image in x])
        channels = (1,) * (len(self.sample_shape) - 2)

        def rows_of(index):
            sample, k = np.divmod(index, count)
            masks = self.design[k][:, self.cell_of_pixel].reshape((len(index),) + self.sample_shape[:2] + channels)
            if self.params["perturbation"] == "amplitude":
                inputs = x[sample] * (masks - 0.5) * self.params["sigma"]
            else:
                inputs = x[sample] * masks + references[sample] * (1 - masks)
            return inputs.astype(x.dtype), sample

        scores = self.score_rows(n * count, rows_of, weights, extra).reshape(n, count)
        out = np.empty((n,) + self.sample_shape[:2])
        for i in range(n):
            indices = jansen_total_indices(scores[i], samples, grid * grid).reshape(grid, grid)
            out[i] = resize(indices, self.sample_shape[:2], order=3, mode="edge", anti_aliasing=False)
        return [out.astype(x.dtype)]
