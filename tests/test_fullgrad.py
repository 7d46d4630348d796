"""FullGrad: completeness of its decomposition on ReLU nets, and its map against numpy."""
import numpy as np
import pytest
import tensorflow as tf

import reference as ref
from deepexplain_ng import DeepExplain, ExplainError
from test_reference import cnn_pair, mlp_pair, samples

tf1 = tf.compat.v1


def _relu_cnn_with_every_kind_of_bias():
    """conv + BiasAdd, batch norm (inference), stride-2 conv + constant add, max-pool, dense +
    bias, and a final subtraction of a constant: every bias FullGrad knows."""
    rng = np.random.default_rng(60)

    def normal(*shape, scale=0.4):
        return rng.normal(scale=scale, size=shape).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 2))
        h = tf.nn.bias_add(tf.nn.conv2d(x, normal(3, 3, 2, 4), 1, "SAME"), normal(4))
        h, _, _ = tf1.nn.fused_batch_norm(h, scale=1 + normal(4), offset=normal(4), mean=normal(4),
                                          variance=np.abs(1 + normal(4)), is_training=False)
        h = tf.nn.relu(h)
        h = tf.nn.relu(tf.nn.conv2d(h, normal(3, 3, 4, 6), 2, "SAME") + normal(6))
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(tf.reshape(h, [-1, 24]), normal(24, 5)), normal(5)))
        t = tf.matmul(h, normal(5, 3)) - normal(3)
    return tf1.Session(graph=graph), x, t


def test_decomposition_is_complete_on_a_relu_cnn():
    session, x, t = _relu_cnn_with_every_kind_of_bias()
    xs, classes = samples((5, 8, 8, 2), seed=61), np.arange(5) % 3
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("fullgrad", t, x)
        input_term, bias_terms = explainer.decompose(xs, ys=classes)
        saliency = explainer.run(xs, ys=classes)
    assert len(bias_terms) == 5  # BiasAdd, batch norm, Add, BiasAdd, Sub
    totals = [input_term.reshape(5, -1).astype(np.float64).sum(1)]
    totals += [term.reshape(5, -1).astype(np.float64).sum(1) for term in bias_terms.values()]
    score = session.run(t, {x: xs})[np.arange(5), classes]
    scale = sum(np.abs(v) for v in totals).max()
    np.testing.assert_allclose(sum(totals), score, rtol=0, atol=1e-5 * scale)
    assert min(np.abs(v).max() for v in totals[1:]) > 1e-3 * scale  # every bias term counts
    assert saliency.shape == (5, 8, 8) and saliency.min() >= 0
    # four spatial maps (input, conv bias, batch norm, stride-2 add), each channel in [0, 1]
    assert saliency.max() <= 2 + 4 + 4 + 6


def test_map_matches_numpy_on_a_cnn():
    net, session, x, t = cnn_pair("relu", seed=62)  # conv SAME + constant bias, conv VALID, avg-pool, dense
    xs, classes = samples((3, 6, 6, 2), seed=63), np.array([2, 0, 1])
    ys = np.eye(3)[classes]
    x64 = xs.astype(np.float64)
    z1 = ref.conv_forward(x64, net.k1, net.c1, "SAME")
    z2 = ref.conv_forward(np.maximum(z1, 0), net.k2, None, "VALID")
    g = (ys @ net.w.T).reshape(3, 2, 2, 5)
    g = ref.avg_pool_backward(g) * (z2 > 0)
    g_z1 = ref.conv_backward(g, net.k2, z1.shape, "VALID") * (z1 > 0)
    g_x = ref.conv_backward(g_z1, net.k1, xs.shape, "SAME")

    def psi(m):
        m = np.abs(m).reshape(len(m), -1)
        low, high = m.min(1, keepdims=True), m.max(1, keepdims=True)
        return ((m - low) / (high - low + 1e-6)).reshape(3, 6, 6, -1)

    expected = psi(x64 * g_x).sum(-1) + psi(g_z1 * net.c1).sum(-1)  # the bias layer is 6 x 6 already
    with DeepExplain(session=session) as de:
        got = de.explain("fullgrad", t, x, xs, ys=classes, batch_size=2)
        input_term, bias_terms = de.get_explainer("fullgrad", t, x).decompose(xs, ys=classes)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    (term,) = bias_terms.values()
    np.testing.assert_allclose(term, g_z1 * net.c1, rtol=0, atol=1e-5 * np.abs(g_z1 * net.c1).max())


def test_mlp_map_is_the_scaled_input_term_and_its_decomposition_is_complete():
    net, session, x, t = mlp_pair("relu", seed=64)
    xs, classes = samples((4, 5), seed=65, scale=2.0), np.array([0, 1, 2, 0])
    ys = np.eye(3)[classes]
    g = ref._modified_gradient(net, "gradient", xs.astype(np.float64), ys)
    term = np.abs(xs * g)
    expected = (term - term.min(1, keepdims=True)) / (term.max(1, keepdims=True) - term.min(1, keepdims=True) + 1e-6)
    with DeepExplain(session=session) as de:
        got = de.explain("fullgrad", t, x, xs, ys=classes)
        input_term, bias_terms = de.get_explainer("fullgrad", t, x).decompose(xs, ys=classes)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    total = input_term.sum(1) + sum(b.sum(1) for b in bias_terms.values())
    np.testing.assert_allclose(total, ref.score(net, xs, ys), rtol=1e-5, atol=1e-5)
    assert len(bias_terms) == 3


def test_fullgrad_refuses_several_inputs():
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf1.placeholder(tf.float32, (None, 2)), tf1.placeholder(tf.float32, (None, 2))
        t = tf.nn.relu(a + b)
    with DeepExplain(session=tf1.Session(graph=graph)) as de, pytest.raises(ExplainError, match="one input"):
        de.explain("fullgrad", t, [a, b], [np.ones((1, 2))] * 2)
