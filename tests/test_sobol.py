"""Sobol attribution: its design and Jansen estimator against numpy, and the exact total
indices of a linear model."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import qmc

from deepexplain_ng import DeepExplain, ExplainError
from builders import samples
from test_hsic import _bicubic

tf1 = tf.compat.v1


def _linear(seed=140):
    w = np.random.default_rng(seed).normal(size=(8, 8, 1)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1))
        t = tf.reduce_sum(x * w, axis=(1, 2, 3))[:, None]
    return tf1.Session(graph=graph), x, t, w[..., 0].astype(np.float64)


def test_sobol_indices_match_numpy_on_the_same_design():
    session, x, t, w = _linear()
    xs = samples((2, 8, 8, 1), seed=141)
    grid, n_design = 4, 16
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("sobol", t, x, grid_size=grid, samples=n_design)
        got = explainer.run(xs, ys=[0, 0], batch_size=1)
        tiny_budget = de.explain("sobol", t, x, xs, ys=[0, 0], grid_size=grid, samples=n_design, memory_budget=3000)
    # the design, written out: Sobol points (A | B), then A with column i from B, for each cell i
    ab = qmc.Sobol(2 * grid * grid, scramble=False).random(n_design)
    a, b = ab[:, :16], ab[:, 16:]
    design = [a, b] + [np.where(np.arange(16) == i, b, a) for i in range(16)]
    design = np.concatenate(design)
    cell = (np.arange(8)[:, None] // 2) * 4 + np.arange(8)[None, :] // 2  # 2x2 pixels per cell
    for i, image in enumerate(xs[..., 0].astype(np.float64)):
        contributions = np.bincount(cell.ravel(), (w * image).ravel(), minlength=16)  # a_g = sum of w x
        scores = design @ contributions  # S(x * m) for the linear model, baseline 0
        f_a, f_c = scores[:n_design], scores[2 * n_design:].reshape(16, n_design)
        indices = ((f_a - f_c) ** 2).sum(1) / (2 * n_design * np.var(f_a, ddof=1))
        np.testing.assert_allclose(explainer.design, design)
        expected = _bicubic(indices.reshape(4, 4), (8, 8))  # OpenCV's bicubic, as Xplique's cv2.resize
        np.testing.assert_allclose(got[i], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tiny_budget, got, rtol=1e-5, atol=1e-7)


def test_sobol_indices_of_a_linear_model_converge_to_their_exact_values():
    """Independent uniform cell values m_g: S = sum a_g m_g, whose total index of cell g is
    a_g^2 / sum a^2 (the variance it carries)."""
    session, x, t, w = _linear(seed=142)
    xs = samples((1, 8, 8, 1), seed=143)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("sobol", t, x, grid_size=2, samples=1024)
        explainer.run(xs, ys=[0])
    contributions = np.array([(w * xs[0, ..., 0])[r:r + 4, c:c + 4].sum() for r in (0, 4) for c in (0, 4)])
    exact = contributions ** 2 / (contributions ** 2).sum()
    scores = np.asarray(explainer.design) @ contributions  # the same rows, scored exactly
    from deepexplain_ng.methods.sensitivity import jansen_total_indices
    estimated = jansen_total_indices(scores, 1024, 4)
    np.testing.assert_allclose(estimated, exact, rtol=0, atol=0.05 * exact.max())


def test_sobol_options_are_checked():
    session, x, t, _ = _linear()
    with DeepExplain(session=session) as de:
        with pytest.raises(ExplainError, match="power of two"):
            de.explain("sobol", t, x, samples((1, 8, 8, 1)), samples=24)
        with pytest.raises(ExplainError, match="perturbation: expected one of"):
            de.explain("sobol", t, x, samples((1, 8, 8, 1)), perturbation="noise")
        blurred = de.explain("sobol", t, x, samples((1, 8, 8, 1)), grid_size=2, samples=8, perturbation="blur",
                             sigma=3)
    assert blurred.shape == (1, 8, 8) and np.isfinite(blurred).all()


@pytest.mark.parametrize("perturbation", ["inpainting", "blur", "amplitude"])
def test_rows_built_in_the_graph_equal_rows_built_in_numpy(perturbation):
    session, x, t, _ = _linear()
    xs = samples((3, 8, 8, 1), seed=142)
    options = {"grid_size": 4, "samples": 8, "perturbation": perturbation, "baseline": 0.3}
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("sobol", t, x, **options)
        assert explainer._front is not None
        in_graph = explainer.run(xs, ys=[0, 0, 0], batch_size=2)
        in_numpy = de.explain("sobol", t, x, xs, ys=[0, 0, 0], rows_in_graph=False, **options)
    np.testing.assert_allclose(in_graph, in_numpy, rtol=1e-5, atol=1e-6 * np.abs(in_numpy).max())
