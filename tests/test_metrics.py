"""The metrics against numpy on models whose answers are known: linear models, where exact
attributions make the faithfulness metrics take their ideal values."""
import warnings

import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError, metrics
from builders import samples

tf1 = tf.compat.v1


def _linear_images(seed=170, shape=(6, 6, 2)):
    w = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + shape)
        t = tf.stack([tf.reduce_sum(x * w, axis=(1, 2, 3)), tf.reduce_sum(x, axis=(1, 2, 3))], axis=1)
    return tf1.Session(graph=graph), x, t, w.astype(np.float64)


class _Spy:
    def __init__(self, session):
        self.session, self.graph, self.runs = session, session.graph, 0

    def run(self, *args, **kwargs):
        self.runs += 1
        return self.session.run(*args, **kwargs)


def test_deletion_and_insertion_curves_equal_numpy_in_two_runs():
    session, x, t, w = _linear_images()
    spy = _Spy(session)
    xs = samples((16, 6, 6, 2), seed=171)
    attributions = np.random.default_rng(172).normal(size=(16, 6, 6, 2))
    with DeepExplain(session=spy) as de:
        auc, curve = metrics.deletion(de, t, x, xs, attributions, ys=np.zeros(16, int), steps=20)
        runs = spy.runs
        auc_in, curve_in = metrics.insertion(de, t, x, xs, attributions, ys=np.zeros(16, int), steps=20,
                                             baseline=0.5)
    assert runs <= 3  # the row probe, then 16 x 21 rows in one or two runs
    maps = attributions.mean(axis=-1).reshape(16, -1)
    terms = (xs.astype(np.float64) * w).reshape(16, 36, 2).sum(-1)
    counts = np.linspace(0, 36, 21).astype(int)
    for i in range(16):
        order = np.argsort(maps[i])[::-1]
        expected = [terms[i].sum() - terms[i][order[:k]].sum() for k in counts]
        np.testing.assert_allclose(curve[i], expected, rtol=0, atol=1e-4)
        inserted = [(0.5 * w.reshape(36, 2).sum(1)).sum() + (terms[i] - 0.5 * w.reshape(36, 2).sum(1))[order[:k]].sum()
                    for k in counts]
        np.testing.assert_allclose(curve_in[i], inserted, rtol=0, atol=1e-4)
        np.testing.assert_allclose(auc[i], np.mean((np.array(expected[:-1]) + expected[1:]) / 2), rtol=0, atol=1e-4)


def test_exact_attributions_are_perfectly_faithful():
    session, x, t, w = _linear_images(seed=173)
    xs = samples((4, 6, 6, 2), seed=174)
    exact = xs * w                      # grad * input of a linear model: exact, baseline 0
    noisy = exact + np.random.default_rng(175).normal(scale=2.0, size=exact.shape)
    ys = np.zeros(4, int)
    with DeepExplain(session=session) as de:
        mu = metrics.mu_fidelity(de, t, x, xs, exact, ys=ys, grid_size=3, samples=50, seed=0)
        mu_noisy = metrics.mu_fidelity(de, t, x, xs, noisy, ys=ys, grid_size=3, samples=50, seed=0)
        sens, sizes = metrics.sensitivity_n(de, t, x, xs, exact, ys=ys, samples=20, seed=0)
        infid = metrics.infidelity(de, t, x, xs, w * np.ones_like(xs), ys=ys, stdev=0.1, seed=0)
        scaled = metrics.infidelity(de, t, x, xs, 3 * w * np.ones_like(xs), ys=ys, stdev=0.1, seed=0,
                                    normalize=True)
        unscaled = metrics.infidelity(de, t, x, xs, 3 * w * np.ones_like(xs), ys=ys, stdev=0.1, seed=0)
        with pytest.raises(ExplainError, match="attributions: expected one map per sample"):
            metrics.deletion(de, t, x, xs, exact[:, :3], ys=ys)
    np.testing.assert_allclose(mu, 1.0, atol=1e-6)                # drops are the removed attributions
    assert mu_noisy.mean() < 0.9
    assert sizes == [1, 2, 4, 8, 16] and np.all(sens > 1 - 1e-5)  # powers of two up to half the 36 pixels
    # the gradient of a linear model is its perturbation response: infidelity 0 (float32 rounding)
    assert infid.max() < 1e-8 and scaled.max() < 1e-8
    # three times the gradient: E[(2 w.I)^2] = 4 stdev^2 |w|^2 (10 draws: within a factor of 3)
    expected = 4 * 0.1 ** 2 * (w ** 2).sum()
    assert np.all(unscaled > expected / 3) and np.all(unscaled < expected * 3)


def test_average_drop_increase_gain_and_complexity_against_numpy():
    session, x, t, w = _linear_images(seed=176)
    xs = np.abs(samples((5, 6, 6, 2), seed=177))
    attributions = np.random.default_rng(178).normal(size=(5, 6, 6))
    ys = np.ones(5, int)  # the sum of the input: positive
    with DeepExplain(session=session) as de:
        drop = metrics.average_drop(de, t, x, xs, attributions, ys=ys)
        increase = metrics.average_increase(de, t, x, xs, attributions, ys=ys)
        gain = metrics.average_gain(de, t, x, xs, attributions, ys=ys)
    a = np.abs(attributions).reshape(5, -1)
    mask = ((a - a.min(1, keepdims=True)) / (a.max(1, keepdims=True) - a.min(1, keepdims=True) + 1e-8)).reshape(5, 6, 6)
    before = xs.astype(np.float64).sum(axis=(1, 2, 3))
    after = (xs * mask[..., None]).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(drop, np.maximum(before - after, 0) / before, rtol=1e-5)
    np.testing.assert_array_equal(increase, (after > before).astype(float))
    np.testing.assert_allclose(gain, np.maximum(after - before, 0) / (1 - before), rtol=1e-5, atol=1e-7)
    assert drop.min() > 0 and increase.sum() == 0
    # complexity: uniform maps have entropy log(n) and Gini 0; a one-hot map entropy 0 and Gini (n-1)/n
    uniform, one_hot = np.ones((1, 4, 4)), np.eye(16)[:1].reshape(1, 4, 4)
    np.testing.assert_allclose(metrics.complexity(uniform), np.log(16), rtol=1e-6)
    np.testing.assert_allclose(metrics.complexity(one_hot), 0, atol=1e-6)
    np.testing.assert_allclose(metrics.sparseness(uniform), 0, atol=1e-6)
    np.testing.assert_allclose(metrics.sparseness(one_hot), 15 / 16, rtol=1e-6)
    # entropy is scale-free (tiny maps, e.g. gradients of probabilities, are not "concentrated")
    maps = np.random.default_rng(181).normal(size=(3, 12, 12, 3))
    np.testing.assert_allclose(metrics.complexity(maps * 1e-9), metrics.complexity(maps), rtol=1e-12)
    assert np.isnan(metrics.complexity(np.zeros((1, 4, 4))))[0]


def test_scoring_probabilities_draws_no_softmax_warning():
    session, x, t, w = _linear_images(seed=182)
    with session.graph.as_default():
        probabilities = tf.nn.softmax(t)
    xs = np.abs(samples((2, 6, 6, 2), seed=183))
    with DeepExplain(session=session) as de, warnings.catch_warnings():
        warnings.simplefilter("error")
        drop = metrics.average_drop(de, probabilities, x, xs, np.ones((2, 6, 6)), ys=np.zeros(2, int))
    assert drop.shape == (2,)


def test_metrics_do_not_depend_on_the_batching():
    session, x, t, w = _linear_images(seed=179)
    xs = samples((3, 6, 6, 2), seed=180)
    attributions = np.random.default_rng(181).normal(size=xs.shape)
    with DeepExplain(session=session) as de:
        a = metrics.mu_fidelity(de, t, x, xs, attributions, ys=[0, 0, 0], grid_size=3, samples=30, seed=1)
        b = metrics.mu_fidelity(de, t, x, xs, attributions, ys=[0, 0, 0], grid_size=3, samples=30, seed=1,
                                memory_budget=3000)
        c, _ = metrics.deletion(de, t, x, xs, attributions, ys=[0, 0, 0], memory_budget=3000)
        d, _ = metrics.deletion(de, t, x, xs, attributions, ys=[0, 0, 0])
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(c, d, rtol=1e-5)


def _two_layer(seed=190):
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=(8, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6))
        t = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
        linear = tf.matmul(x, w1[:, :3])
    return tf1.Session(graph=graph), x, t, linear


def test_robustness_is_zero_where_the_map_cannot_move_and_positive_where_it_can():
    session, x, t, linear = _two_layer()
    xs = samples((4, 6), seed=191)
    with DeepExplain(session=session) as de:
        flat = de.get_explainer("saliency", linear, x)       # the gradient of a linear model is constant
        curved = de.get_explainer("grad*input", t, x)
        zero = metrics.max_sensitivity(flat, xs, ys=[0, 1, 2, 0], radius=0.5, seed=0)
        moving = metrics.max_sensitivity(curved, xs, ys=[0, 1, 2, 0], radius=0.5, seed=0)
        stable = metrics.average_stability(flat, xs, ys=[0, 1, 2, 0], samples=20, seed=0)
        unstable = metrics.average_stability(curved, xs, ys=[0, 1, 2, 0], samples=20, radius=0.5, seed=0)
        again = metrics.max_sensitivity(curved, xs, ys=[0, 1, 2, 0], radius=0.5, seed=0)
    np.testing.assert_allclose(zero, 0, atol=1e-6)
    np.testing.assert_allclose(stable, 0, atol=1e-10)
    assert moving.min() > 0.01 and unstable.min() > 0
    np.testing.assert_array_equal(moving, again)  # the seed fixes the draws


def test_random_logit_is_the_ssim_of_two_classes_maps():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(192)
    w = rng.normal(size=(16, 16, 1, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 16, 16, 1))
        t = tf.einsum("nhwc,hwck->nk", x, w)
    xs = samples((3, 16, 16, 1), seed=193)
    classes = np.array([0, 1, 2])
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        explainer = de.get_explainer("saliency", t, x)
        scores = metrics.random_logit(explainer, xs, classes, seed=0)
    maps = np.abs(w).astype(np.float64)
    for score, c in zip(scores, classes):
        candidates = []
        for other in set(range(3)) - {c}:
            a, b = maps[..., c], maps[..., other]
            candidates.append(structural_similarity(a, b, win_size=11, gaussian_weights=True, sigma=1.5,
                                                    use_sample_covariance=False,
                                                    data_range=max(a.max(), b.max()) - min(a.min(), b.min()),
                                                    channel_axis=-1))
        assert min(abs(score - v) for v in candidates) < 1e-6  # the SSIM against one of the other classes
        assert score < 0.5  # independent random weights: dissimilar maps
