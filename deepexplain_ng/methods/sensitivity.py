"""Global sensitivity analysis of a grid of image cells, as Xplique's: Sobol total indices
(Fel et al., NeurIPS 2021) and HSIC (Novello et al., NeurIPS 2022).

Both score every sample on a design of masks that give each cell of a ``grid_size`` x
``grid_size`` grid a value m in [0, 1], upsampled nearest to the image (half-pixel centres, as
TF's resize), perturbing it as Xplique's operators do: ``"inpainting"`` ``x m + baseline
(1 - m)``, ``"blur"`` the same towards a ``sigma`` x ``sigma`` box blur of the image (OpenCV's
``blur``, borders reflected), ``"amplitude"`` ``x (m - 0.5) sigma``. The grid of indices is
resized to the image with OpenCV's bicubic interpolation (as Xplique 1.x; Xplique 2.0.2 resizes
with ``tf.image.resize`` bicubic, whose kernel and edges differ: about 6 % on the maps, the
indices on the grid being equal). The design is the same for every sample, so results do not
depend on the batching.
"""
import numbers
import warnings

import numpy as np
import tensorflow as tf
from scipy.ndimage import uniform_filter
from scipy.stats import qmc

from ..errors import ExplainTypeError, ExplainValueError
from .base import check_seed, positive_int
from .perturbation import PerturbationExplainer

PERTURBATIONS = ("inpainting", "blur", "amplitude")
SAMPLERS = ("sobol", "lhs")
ESTIMATORS = ("binary", "rbf", "sobolev")


def replicated_design(cells, samples):
    """Xplique's replicated design on a Sobol sequence (unscrambled, its first point, all zeros,
    kept: Xplique's ``ScipySobolSequenceRS``; its default ``TFSobolSequenceRS`` skips it): A and B
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


def hsic_design(sampler, cells, samples, binary, seed=None):
    """``(samples, cells)`` cell values in [0, 1]: the unscrambled Sobol sequence without its first
    point (all zeros), as ``tf.math.sobol_sample``, or a Latin hypercube drawn from ``seed``;
    rounded to {0, 1} (``np.round``, half to even) when ``binary``. Float32 values, as Xplique's."""
    if sampler == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's balance warning: samples need not be a power of 2
            points = qmc.Sobol(cells, scramble=False).random(samples + 1)[1:]
    else:  # Latin hypercube (qmc.LatinHypercube's law, own stream): one point per stratum [k/N, (k+1)/N) of each cell
        rng = np.random.default_rng(seed)
        strata = np.argsort(rng.random((cells, samples)), axis=1).T
        points = (strata + rng.random((samples, cells))) / samples
    points = points.astype(np.float32)
    return (np.round(points) if binary else points).astype(np.float64)


def input_kernel(estimator, a, b):
    """Xplique's kernels on one cell's values: binary ``1/2 - (a - b)^2``, rbf of width 1/2,
    Sobolev of degree 2 ``B2(|a - b|) / 2 + B1(a) B1(b)``."""
    if estimator == "binary":
        return 0.5 - (a - b) ** 2
    if estimator == "rbf":
        return np.exp(-(a - b) ** 2 / (2 * 0.5 ** 2))
    d = np.abs(a - b)
    return (d ** 2 - d + 1 / 6) / 2 + (np.abs(a) - 0.5) * (np.abs(b) - 0.5)


def hsic_indices(design, scores, estimator):
    """HSIC of each cell's values and the scores: ``tr(H K_i H H L H) / N`` with ``K_i = 1 +
    input_kernel(m_i, m_i')``, ``L = exp(-(y - y')^2 / (2 w^2))``, ``w = median(y)`` (linear
    interpolation; when it is 0, where Xplique's kernel is undefined, ``std(y)``, then 1) and
    ``H = I - 1/N``. Returns ``(cells,)``."""
    n = len(scores)
    width = abs(float(np.percentile(scores, 50.0)))
    if not width > 0:
        width = float(np.std(scores)) or 1.0
    gram = np.exp(-(scores[:, None] - scores[None, :]) ** 2 / (2 * width ** 2))
    centred = gram - gram.mean(axis=0) - gram.mean(axis=1)[:, None] + gram.mean()  # H L H
    # tr(H K H H L H) = sum(K * H L H): H is idempotent and both matrices are symmetric
    return np.array([((1 + input_kernel(estimator, m[:, None], m[None, :])) * centred).sum() / n
                     for m in design.T])


def cubic_matrix(size, grid):
    """``(size, grid)`` matrix of OpenCV's INTER_CUBIC resize from ``grid`` to ``size`` points:
    half-pixel centres, Keys' kernel with a = -0.75, edge samples replicated."""
    a = -0.75
    source = (np.arange(size) + 0.5) * grid / size - 0.5
    start = np.floor(source).astype(int)
    t = source - start
    coefficients = np.stack([((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                             ((a + 2) * t - (a + 3)) * t * t + 1,
                             ((a + 2) * (1 - t) - (a + 3)) * (1 - t) ** 2 + 1], axis=1)
    coefficients = np.concatenate([coefficients, 1 - coefficients.sum(axis=1, keepdims=True)], axis=1)
    matrix = np.zeros((size, grid))
    taps = np.clip(start[:, None] + np.arange(-1, 3), 0, grid - 1)
    np.add.at(matrix, (np.repeat(np.arange(size), 4), taps.ravel()), coefficients.ravel())
    return matrix


class GridSensitivity(PerturbationExplainer):
    """Shared by ``sobol`` and ``hsic``: options, the design's rows, the map's resizing.

    ``rows_in_graph=True`` (a free batch size): each row is fed as its design row (one value a
    cell) and TF spreads it over the pixels and masks the sample, in a copy of the path X -> T
    made at construction (weights as constants: the model's weights are held twice); the same
    scores."""

    options = {"grid_size": 8, "samples": 32, "perturbation": "inpainting", "sigma": None, "baseline": None,
               "rows_in_graph": True}

    def validate(self, params):
        if not isinstance(params["rows_in_graph"], bool):
            raise ExplainTypeError(f"rows_in_graph must be True or False, got {params['rows_in_graph']!r}.")
        params["grid_size"] = positive_int("grid_size", params["grid_size"])
        params["samples"] = positive_int("samples", params["samples"])
        for key, allowed in (("perturbation", PERTURBATIONS), ("sampler", SAMPLERS), ("estimator", ESTIMATORS)):
            if key in params and (not isinstance(params[key], str) or params[key] not in allowed):
                raise ExplainValueError(f"{key}: expected one of {list(allowed)}, got {params[key]!r}.")
        sigma = params["sigma"]
        if sigma is None:
            sigma = 10 if params["perturbation"] == "blur" else 1.0
        if params["perturbation"] == "blur":
            sigma = positive_int("sigma", sigma)  # the box's side, in pixels
        elif isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not sigma > 0:
            raise ExplainValueError(f"sigma must be a positive number, got {sigma!r}.")
        params["sigma"] = sigma
        check_seed(params.get("seed"))
        return params

    def make_design(self, cells):
        """``(rows per sample, cells)`` cell values in [0, 1]."""
        raise NotImplementedError

    def indices(self, scores):
        """``(cells,)`` indices from one sample's scores of the design's rows."""
        raise NotImplementedError

    def _check_inputs(self):
        super()._check_inputs()
        self.require_images()
        grid = self.params["grid_size"]
        self.design = self.make_design(grid * grid)
        height, width = self.sample_shape[:2]
        rows = np.minimum(((np.arange(height) + 0.5) * grid / height).astype(int), grid - 1)
        columns = np.minimum(((np.arange(width) + 0.5) * grid / width).astype(int), grid - 1)
        self.cell_of_pixel = rows[:, None] * grid + columns[None, :]
        self.resize_rows, self.resize_columns = cubic_matrix(height, grid), cubic_matrix(width, grid)

    def result_shape(self, shape):
        return tuple(shape[:3])

    def _build(self):
        # rows_in_graph (a free batch size): each row is fed as its design row (cells values),
        # TF spreads it over the pixels and masks the sample (see masked_front)
        self._front = None
        if self.params["rows_in_graph"] and self.fixed_batch is None:
            cells = self.params["grid_size"] ** 2

            def build_masks(front):
                front["design"] = tf.compat.v1.placeholder(self.inputs[0].dtype, (None, cells), "design")
                return tf.gather(front["design"], self.cell_of_pixel.astype(np.int32), axis=1)

            self._front, _, self._front_score = self.masked_front(build_masks)

    def _reference(self, image):
        if self.params["perturbation"] == "blur":  # cv2.blur: a box, borders reflected (101)
            size = (self.params["sigma"],) * 2 + (1,) * (image.ndim - 2)
            return uniform_filter(image.astype(np.float64), size=size, mode="mirror").astype(image.dtype)
        return self.baseline

    def _explain(self, xs, weights, rows, context, extra):
        x = xs[0]
        n, count, grid = len(x), len(self.design), self.params["grid_size"]
        references = np.stack([self._reference(image) for image in x])
        channels = (1,) * (len(self.sample_shape) - 2)
        design = self.design.astype(x.dtype)  # the rows are float32: half the traffic of float64

        def rows_of(index):
            sample, k = np.divmod(index, count)
            masks = design[k][:, self.cell_of_pixel].reshape((len(index),) + self.sample_shape[:2] + channels)
            if self.params["perturbation"] == "amplitude":
                return x[sample] * (masks - 0.5) * x.dtype.type(self.params["sigma"]), sample
            return references[sample] + masks * (x[sample] - references[sample]), sample

        if self._front is not None:
            front, flat = self._front, np.empty(n * count)

            def make_feed(lo, hi):
                samples, row_sample, sample, k = self.chunk_rows(lo, hi, count)
                feed = {front["samples"]: x[samples], front["references"]: references[samples],
                        front["row_sample"]: row_sample, front["design"]: design[k], self.weights: weights[sample]}
                if "amplitude" in front:
                    feed[front["amplitude"]] = self.params["sigma"]
                return feed

            def consume(lo, hi, values):
                flat[lo:hi] = values[0]

            self.evaluate([self._front_score], n * count, make_feed, consume, extra)
            scores = flat.reshape(n, count)
        else:
            scores = self.score_rows(n * count, rows_of, weights, extra).reshape(n, count)
        out = np.empty((n,) + self.sample_shape[:2])
        for i in range(n):
            out[i] = self.resize_rows @ self.indices(scores[i]).reshape(grid, grid) @ self.resize_columns.T
        return [out.astype(x.dtype)]


class Sobol(GridSensitivity):
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
    options = dict(GridSensitivity.options, samples=32)

    def validate(self, params):
        params = super().validate(params)
        if params["samples"] & (params["samples"] - 1):
            raise ExplainValueError(f"samples must be a power of two (a Sobol sequence's balance), got "
                                    f"{params['samples']}.")
        return params

    def make_design(self, cells):
        return replicated_design(cells, self.params["samples"])

    def indices(self, scores):
        grid = self.params["grid_size"]
        return jansen_total_indices(scores, self.params["samples"], grid * grid)


class Hsic(GridSensitivity):
    """HSIC attribution method: the image is cut in a ``grid_size`` x ``grid_size`` grid; each of
    ``samples`` masks gives every cell a value m in {0, 1} (default: the first bits of a Sobol
    sequence, Xplique's ``TFSobolSequence(binary=True)``), upsampled nearest to the image, and the
    sample is scored on its perturbation: ``"inpainting"`` ``x m + baseline (1 - m)``, ``"blur"``
    the same towards a ``sigma`` x ``sigma`` box blur of the image, ``"amplitude"``
    ``x (m - 0.5) sigma``. Each cell's value is the HSIC between its mask values and the scores y:

        HSIC_i = tr(H K_i H L) / N,  K_i[a, b] = 1 + k(m_ai, m_bi),
        L[a, b] = exp(-(y_a - y_b)^2 / (2 w^2)),  w = median(y),  H = I - 1/N,

    k the binary kernel ``1/2 - (m - m')^2`` (Xplique's BinaryEstimator). The grid of indices is
    resized to the image with OpenCV's bicubic interpolation (Xplique's ``cv2.resize``).

    Options: ``grid_size=8``, ``samples=500`` (Xplique's ``nb_design``; ``samples`` rows per
    image), ``perturbation="inpainting"``, ``sigma=None`` (10 for blur, 1 for amplitude),
    ``baseline=None`` (0), ``sampler="sobol"`` or ``"lhs"`` (Latin hypercube from ``seed``),
    ``estimator="binary"``, ``"rbf"`` (width 1/2) or ``"sobolev"`` (masks kept in [0, 1] for
    these two), ``seed=None``. X: ``(n, H, W, C)`` or ``(n, H, W)``. Result: ``(n, H, W)``. The
    design is drawn once per explainer (``self.design``, ``(samples, grid_size^2)``), the same
    for every sample, so results do not depend on the batching.
    """

    name = "hsic"
    options = dict(GridSensitivity.options, samples=500, sampler="sobol", estimator="binary", seed=None)

    def make_design(self, cells):
        p = self.params
        return hsic_design(p["sampler"], cells, p["samples"], p["estimator"] == "binary", p["seed"])

    def indices(self, scores):
        return hsic_indices(self.design, scores, self.params["estimator"])
