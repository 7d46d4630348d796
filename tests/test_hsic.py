"""HSIC attribution: its design, estimator and resize against numpy, independence of the
batching, and the localisation of a model that reads one region."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import qmc

from deepexplain_ng import DeepExplain, ExplainError
from deepexplain_ng.methods.sensitivity import Hsic
from builders import samples

tf1 = tf.compat.v1


def _linear(shape=(8, 12, 1), seed=150):
    w = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + shape)
        t = tf.reduce_sum(x * w, axis=(1, 2, 3))[:, None]
    return tf1.Session(graph=graph), x, t, w[..., 0].astype(np.float64)


def _kernel(name, a, b):
    """The input kernels written out: Dirac-like, rbf of width 1/2, Sobolev of degree 2."""
    if name == "binary":
        return 0.5 - (a - b) ** 2
    if name == "rbf":
        return np.exp(-2.0 * (a - b) ** 2)
    return 0.5 * (np.abs(a - b) ** 2 - np.abs(a - b) + 1.0 / 6) + (a - 0.5) * (b - 0.5)


def _bicubic(grid_values, size):
    """OpenCV's INTER_CUBIC, pixel by pixel: half-pixel centres, Keys' kernel a = -0.75, clamped taps."""
    def weight(d):
        d, a = abs(d), -0.75
        if d <= 1:
            return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
        return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a if d < 2 else 0.0

    def axis(n_out, n_in):
        m = np.zeros((n_out, n_in))
        for o in range(n_out):
            src = (o + 0.5) * n_in / n_out - 0.5
            for tap in range(int(np.floor(src)) - 1, int(np.floor(src)) + 3):
                m[o, min(max(tap, 0), n_in - 1)] += weight(src - tap)
        return m

    return axis(size[0], grid_values.shape[0]) @ grid_values @ axis(size[1], grid_values.shape[1]).T


@pytest.mark.parametrize("estimator,sampler", [("binary", "sobol"), ("rbf", "lhs"), ("sobolev", "sobol")])
def test_hsic_matches_numpy_on_the_same_design(estimator, sampler):
    session, x, t, w = _linear()
    xs = samples((2, 8, 12, 1), seed=151)
    grid, n_design = 4, 63  # 63 + the skipped point: a power of two
    with DeepExplain(session=session):
        explainer = Hsic(session, t, x, grid_size=grid, samples=n_design, estimator=estimator, sampler=sampler,
                         seed=5)
        got = explainer.run(xs, ys=[0, 0], batch_size=1)
    if sampler == "sobol":  # tf.math.sobol_sample: the unscrambled sequence without its first point
        design = qmc.Sobol(grid * grid, scramble=False).random(n_design + 1)[1:].astype(np.float32)
        design = np.round(design) if estimator == "binary" else design
        np.testing.assert_array_equal(explainer.design, design)
    else:  # a Latin hypercube: one point per stratum of each cell
        design = explainer.design
        np.testing.assert_array_equal(np.sort(np.floor(design * n_design), axis=0),
                                      np.tile(np.arange(n_design)[:, None], (1, grid * grid)))
    cell = (np.arange(8)[:, None] // 2) * grid + np.arange(12)[None, :] // 3  # 2 x 3 pixels per cell
    h = np.eye(n_design) - 1.0 / n_design
    for i, image in enumerate(xs[..., 0].astype(np.float64)):
        contributions = np.bincount(cell.ravel(), (w * image).ravel(), minlength=grid * grid)
        y = design.astype(np.float64) @ contributions  # S(x * m) of the linear model, baseline 0
        width = np.median(y)
        gram_y = np.exp(-(y[:, None] - y[None, :]) ** 2 / (2 * width ** 2))
        indices = np.empty(grid * grid)
        for c in range(grid * grid):
            m = design[:, c].astype(np.float64)
            k = 1 + _kernel(estimator, m[:, None], m[None, :])
            indices[c] = np.trace(h @ k @ h @ h @ gram_y @ h) / n_design
        expected = _bicubic(indices.reshape(grid, grid), (8, 12))
        np.testing.assert_allclose(got[i], expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_hsic_does_not_depend_on_the_batching():
    session, x, t, _ = _linear(seed=152)
    xs = samples((3, 8, 12, 1), seed=153)
    options = dict(grid_size=4, samples=48)
    with DeepExplain(session=session):
        whole = Hsic(session, t, x, **options).run(xs, ys=[0, 0, 0])
        one_by_one = Hsic(session, t, x, **options).run(xs, ys=[0, 0, 0], batch_size=1)
        tiny_budget = Hsic(session, t, x, memory_budget=3000, **options).run(xs, ys=[0, 0, 0], batch_size=2)
        lhs = [Hsic(session, t, x, sampler="lhs", estimator="rbf", seed=7, **options).run(xs, batch_size=b)
               for b in (None, 1)]
    assert whole.shape == (3, 8, 12) and np.isfinite(whole).all()
    np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(tiny_budget, whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lhs[1], lhs[0], rtol=1e-5, atol=1e-7)


def test_hsic_is_largest_on_the_region_the_model_reads():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 16, 16))
        t = tf.tanh(tf.reduce_sum(x[:, 8:12, 4:8], axis=(1, 2)))[:, None]
    session = tf1.Session(graph=graph)
    xs = np.abs(samples((2, 16, 16), seed=154)) + 0.2
    with DeepExplain(session=session):
        maps = Hsic(session, t, x, grid_size=4, samples=128).run(xs, ys=[0, 0])
    inside = np.zeros((16, 16), bool)
    inside[8:12, 4:8] = True
    for m in maps:
        row, column = np.unravel_index(np.argmax(m), m.shape)
        assert inside[row, column]
        assert m[inside].mean() > 5 * np.abs(m[~inside]).mean()


def test_hsic_of_a_constant_target_is_zero_not_nan():
    session, x, t, _ = _linear(seed=155)
    with DeepExplain(session=session):
        maps = Hsic(session, t * 0.0, x, grid_size=2, samples=16).run(samples((1, 8, 12, 1)), ys=[0])
    np.testing.assert_allclose(maps, 0.0, atol=1e-12)


@pytest.mark.parametrize("options,message", [
    (dict(grid_size=0), "grid_size"), (dict(samples=2.5), "samples"), (dict(perturbation="noise"), "perturbation"),
    (dict(sampler="halton"), "sampler"), (dict(estimator="dirac"), "estimator"), (dict(seed="1"), "seed"),
    (dict(sigma=-1.0), "sigma"), (dict(perturbation="blur", sigma=2.5), "sigma"), (dict(nb_design=8), "nb_design")])
def test_hsic_options_are_checked(options, message):
    session, x, t, _ = _linear()
    with DeepExplain(session=session):
        with pytest.raises(ExplainError, match=message):
            Hsic(session, t, x, **options)


def test_hsic_needs_images_and_accepts_blur_and_amplitude():
    graph = tf.Graph()
    with graph.as_default():
        flat = tf1.placeholder(tf.float32, (None, 5))
        t = tf.reduce_sum(flat, axis=1, keepdims=True)
    session = tf1.Session(graph=graph)
    with DeepExplain(session=session):
        with pytest.raises(ExplainError, match=r"X must be one tensor \(n, H, W\)"):
            Hsic(session, t, flat)
    session, x, t, _ = _linear()
    with DeepExplain(session=session):
        for perturbation in ("blur", "amplitude"):
            maps = Hsic(session, t, x, grid_size=2, samples=16, perturbation=perturbation, sigma=3).run(
                samples((1, 8, 12, 1)), ys=[0])
            assert maps.shape == (1, 8, 12) and np.isfinite(maps).all()
