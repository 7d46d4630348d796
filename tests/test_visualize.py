"""Feature visualisation: gradient ascent reaches the analytic maximiser of a concave objective."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError, targets, visualize

tf1 = tf.compat.v1


def test_ascent_reaches_w_over_2_l2_on_a_linear_model():
    rng = np.random.default_rng(80)
    w = rng.normal(size=(6, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6))
        t = tf.matmul(x, w)
    session = tf1.Session(graph=graph)
    with DeepExplain(session=session) as de:
        # S = x . w_c - l2 |x|^2 is maximal at x = w_c / (2 l2)
        images, history = visualize.maximize(de, t, x, ys=[0, 2], steps=600, learning_rate=0.1, l2=0.5, seed=0)
        size = len(graph.get_operations())
        again, _ = visualize.maximize(de, t, x, ys=[1], steps=5, l2=0.5, seed=0)
        assert len(graph.get_operations()) == size  # built once
    expected = w[:, [0, 2]].T / (2 * 0.5)
    np.testing.assert_allclose(images, expected, rtol=0, atol=1e-3 * np.abs(expected).max())
    best = (w[:, [0, 2]] ** 2).sum(0) / (4 * 0.5)
    np.testing.assert_allclose(history["objective"][-1], best, rtol=1e-5)
    assert history["objective"].shape == (600, 2) and again.shape == (1, 6)
    assert np.all(np.diff(history["objective"][:50], axis=0).mean(axis=0) > 0)


def test_channel_images_with_penalties_jitter_and_range():
    rng = np.random.default_rng(81)
    kernel = rng.normal(size=(3, 3, 1, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1))
        conv = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME"))
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        images, history = visualize.maximize(de, conv, x, ys=targets.channel(1), n=2, steps=100,
                                             total_variation=0.01, jitter=1, value_range=(0, 1), seed=1)
        repeat, _ = visualize.maximize(de, conv, x, ys=targets.channel(1), n=2, steps=100,
                                       total_variation=0.01, jitter=1, value_range=(0, 1), seed=1)
        with pytest.raises(ExplainError, match="total_variation needs a 4-D X"):
            flat = tf1.placeholder(tf.float32, (None, 3))
            visualize.maximize(de, flat * 2, flat, total_variation=0.1)
    assert images.shape == (2, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
    assert history["score"][-1].min() > 10 * max(history["score"][0].max(), 1e-3)
    np.testing.assert_array_equal(images, repeat)  # the seed fixes start and jitter
