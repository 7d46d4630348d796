"""Layer conductance against numpy, and the quantities of interest of deepexplain_ng.targets."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError, targets
from builders import samples

tf1 = tf.compat.v1


def _mlp(seed=70):
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(scale=0.8, size=(4, 6)), rng.normal(scale=0.3, size=6)
    w2, b2 = rng.normal(scale=0.6, size=(6, 5)), rng.normal(scale=0.3, size=5)
    w3 = rng.normal(scale=0.6, size=(5, 3))
    params = [p.astype(np.float32).astype(np.float64) for p in (w1, b1, w2, b2, w3)]
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4))
        h1 = tf.nn.relu(tf.matmul(x, params[0].astype(np.float32)) + params[1].astype(np.float32), name="h1")
        h2 = tf.tanh(tf.matmul(h1, params[2].astype(np.float32)) + params[3].astype(np.float32))
        t = tf.matmul(h2, params[4].astype(np.float32))
    return tf1.Session(graph=graph), x, h1, t, params


def _numpy_conductance(params, xs, ys, steps):
    w1, b1, w2, b2, w3 = params
    total = 0
    previous = None
    for k in range(steps + 1):
        h1 = np.maximum(k / steps * xs @ w1 + b1, 0)
        z2 = h1 @ w2 + b2
        g = ((ys @ w3.T) * (1 - np.tanh(z2) ** 2)) @ w2.T  # dS/dh1
        if previous is not None:
            total = total + previous[1] * (h1 - previous[0])
        previous = (h1, g)
    return total


def test_conductance_matches_numpy_and_is_complete_through_the_layer():
    session, x, h1, t, params = _mlp()
    xs, classes = samples((5, 4), seed=71) * 2, np.array([0, 1, 2, 0, 1])
    ys = np.eye(3)[classes]
    with DeepExplain(session=session) as de:
        got = de.explain("conductance", t, x, xs, ys=classes, layer=h1, steps=20)
        by_name = de.explain("conductance", t, x, xs, ys=classes, layer="h1", steps=20, memory_budget=2000)
        fine = de.explain("conductance", t, x, xs, ys=classes, layer=h1, steps=2000)
    expected = _numpy_conductance(params, xs.astype(np.float64), ys, 20)
    assert got.shape == (5, 6)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    # a small budget splits samples' steps across runs: same numbers
    np.testing.assert_allclose(by_name, got, rtol=0, atol=1e-5 * np.abs(expected).max())
    out = session.run(t, {x: np.concatenate([xs, 0 * xs])})
    change = (out[:5] - out[5:])[np.arange(5), classes]
    np.testing.assert_allclose(fine.sum(axis=1), change, rtol=0, atol=2e-3 * np.abs(change).max())


def test_conductance_needs_a_layer_on_the_path():
    session, x, h1, t, _ = _mlp()
    with DeepExplain(session=session) as de:
        with pytest.raises(ExplainError, match="needs layer="):
            de.explain("conductance", t, x, samples((2, 4)))
        with pytest.raises(ExplainError, match="not on the path"):
            de.explain("conductance", h1, x, samples((2, 4)), layer=t)


def test_contrast_is_the_difference_of_the_two_classes():
    session, x, _, t, _ = _mlp()
    xs = samples((4, 4), seed=72)
    with DeepExplain(session=session) as de:
        a = de.explain("grad*input", t, x, xs, ys=np.array([0, 1, 2, 0]))
        b = de.explain("grad*input", t, x, xs, ys=2)
        both = de.explain("grad*input", t, x, xs, ys=targets.contrast([0, 1, 2, 0], 2))
        with pytest.raises(ExplainError, match=r"contrast: b: class indices must lie in \[0, 3\)"):
            de.explain("grad*input", t, x, xs, ys=targets.contrast(0, 3))
    np.testing.assert_allclose(both, a - b, rtol=0, atol=1e-6)
    assert np.abs(both).max() > 0.1 and np.allclose(both[2], 0)  # class 2 minus itself


def test_channel_and_neuron_of_a_hidden_conv_layer():
    rng = np.random.default_rng(73)
    kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 5, 5, 2))
        conv = tf.nn.conv2d(x, kernel, 1, "SAME")  # linear: d(sum of channel k)/dx is exact to compute
    xs = samples((2, 5, 5, 2), seed=74)
    ones = np.ones((2, 5, 5, 2), np.float32)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        channel = de.explain("grad*input", conv, x, xs, ys=targets.channel(3))
        per_sample = de.explain("grad*input", conv, x, xs, ys=targets.channel([3, 1]))
        neuron = de.explain("grad*input", conv, x, xs, ys=targets.neuron(2, 2, 1))
        with pytest.raises(ExplainError, match=r"neuron\(2, 9, 1\): not an index"):
            de.explain("grad*input", conv, x, xs, ys=targets.neuron(2, 9, 1))
        with pytest.raises(ExplainError, match="channel: k"):
            de.explain("grad*input", conv, x, xs, ys=targets.channel(4))
    # the sum of a linear channel over positions: grad*input sums to the channel's total
    total = tf1.Session(graph=graph).run(conv, {x: xs})
    np.testing.assert_allclose(channel.sum(axis=(1, 2, 3)), total[..., 3].sum(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(per_sample[1].sum(), total[1, ..., 1].sum(), rtol=1e-5)
    # one output unit sees only its 3 x 3 window
    np.testing.assert_allclose(neuron.sum(axis=(1, 2, 3)), total[:, 2, 2, 1], rtol=1e-5)
    assert np.count_nonzero(np.abs(neuron[0]).sum(-1)) == 9 and ones.shape == xs.shape
