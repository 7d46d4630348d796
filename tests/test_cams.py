"""Grad-CAM against a numpy computation from the layer's activations and the dense weights."""
import numpy as np
import pytest
import tensorflow as tf
from skimage.transform import resize

from deepexplain_ng import DeepExplain, ExplainError
from builders import samples

tf1 = tf.compat.v1


def _cnn():
    rng = np.random.default_rng(500)
    kernel = rng.normal(scale=0.5, size=(3, 3, 2, 4)).astype(np.float32)
    dense = rng.normal(scale=0.3, size=(4 * 4 * 4, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 2))
        a = tf.nn.relu(tf.nn.conv2d(x, kernel, 2, "SAME"), name="features")   # (n, 4, 4, 4)
        t = tf.matmul(tf.reshape(a, [-1, 64]), dense)
    return tf1.Session(graph=graph), x, a, t, dense


def test_gradcam_equals_the_channel_weighted_activations():
    session, x, a, t, dense = _cnn()
    xs, classes = samples((3, 8, 8, 2), seed=501), np.array([0, 2, 1])
    activations = session.run(a, {x: xs}).astype(np.float64)
    # S = sum over (i, j, c) of A * W[:, class]: dS/dA is the dense weights, reshaped
    grads = dense.astype(np.float64).reshape(4, 4, 4, 3)[..., classes].transpose(3, 0, 1, 2)
    cam = np.maximum((activations * grads.mean(axis=(1, 2), keepdims=True)).sum(-1), 0)
    with DeepExplain(session=session) as de:
        low = de.explain("gradcam", t, x, xs, ys=classes, upsample=False)
        full = de.explain("gradcam", t, x, xs, ys=classes, layer="features", batch_size=2)
        raw = de.explain("gradcam", t, x, xs, ys=classes, relu=False, upsample=False)
        with pytest.raises(ExplainError, match="layer"):
            de.explain("gradcam", t, x, xs, layer="nowhere")
    np.testing.assert_allclose(low, cam, rtol=0, atol=1e-5 * cam.max())
    assert low.shape == (3, 4, 4) and full.shape == (3, 8, 8) and (raw < 0).any()
    expected = np.stack([resize(m, (8, 8), order=1, mode="edge", anti_aliasing=False) for m in cam])
    np.testing.assert_allclose(full, expected, rtol=0, atol=1e-5 * cam.max())


def _layer_and_gradients(session, x, a, dense, xs, classes):
    activations = session.run(a, {x: xs}).astype(np.float64)
    grads = dense.astype(np.float64).reshape(4, 4, 4, 3)[..., classes].transpose(3, 0, 1, 2)
    return activations, grads


def test_gradcam_plus_plus_weights_positive_gradients_by_alpha():
    session, x, a, t, dense = _cnn()
    xs, classes = samples((4, 8, 8, 2), seed=502), np.array([0, 2, 1, 1])
    activations, g = _layer_and_gradients(session, x, a, dense, xs, classes)
    denominator = 2 * g ** 2 + g ** 3 * activations.mean(axis=(1, 2), keepdims=True)
    alpha = g ** 2 / np.where(denominator == 0, 1e-4, denominator)
    weights = (alpha * np.maximum(g, 0)).mean(axis=(1, 2), keepdims=True)
    cam = np.maximum((activations * weights).sum(-1), 0)
    plain = np.maximum((activations * g.mean(axis=(1, 2), keepdims=True)).sum(-1), 0)
    with DeepExplain(session=session) as de:
        got = de.explain("gradcam_plus_plus", t, x, xs, ys=classes, upsample=False)
    assert cam.max() > 0 and not np.allclose(cam, plain)  # the weighting differs from Grad-CAM's here
    np.testing.assert_allclose(got, cam, rtol=0, atol=1e-5 * cam.max())


def test_guided_gradcam_is_guided_backprop_times_the_resized_cam():
    session, x, a, t, dense = _cnn()
    xs, classes = samples((3, 8, 8, 2), seed=503), np.array([1, 0, 2])
    activations, g = _layer_and_gradients(session, x, a, dense, xs, classes)
    cam = np.maximum((activations * g.mean(axis=(1, 2), keepdims=True)).sum(-1), 0)
    cam = np.stack([resize(m, (8, 8), order=1, mode="edge", anti_aliasing=False) for m in cam])
    with DeepExplain(session=session) as de:
        before = de.explain("saliency", t, x, xs, ys=classes)
        guided = de.explain("guided_backprop", t, x, xs, ys=classes).astype(np.float64)
        got = de.explain("guided_gradcam", t, x, xs, ys=classes, batch_size=2)
        after = de.explain("saliency", t, x, xs, ys=classes)
    expected = guided * cam[..., None]
    assert got.shape == xs.shape and np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert not np.allclose(np.abs(guided), before)  # the guided rule matters on this net ...
    np.testing.assert_array_equal(after, before)  # ... and is not left active


def test_fem_thresholds_each_channel_at_k_sigma_and_ignores_the_class():
    session, x, a, t, _ = _cnn()
    xs = samples((5, 8, 8, 2), seed=504)
    activations = session.run(a, {x: xs}).astype(np.float64)
    means = activations.mean(axis=(1, 2), keepdims=True)
    for k in (2.0, 0.5):
        expected = ((activations >= means + k * activations.std(axis=(1, 2), keepdims=True)) * means).sum(-1)
        with DeepExplain(session=session) as de:
            got = de.explain("fem", t, x, xs, ys=np.zeros(5, int), k=k, upsample=False)
            other = de.explain("fem", t, x, xs, ys=np.full(5, 2), k=k, upsample=False)
        assert expected.max() > 0
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * expected.max())
        np.testing.assert_array_equal(got, other)
    with DeepExplain(session=session) as de, pytest.raises(ExplainError, match="k must"):
        de.explain("fem", t, x, xs, k="two")


def test_the_default_layer_is_the_last_convolution_s_output_not_the_pooling_after_it():
    rng = np.random.default_rng(505)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1))
        h = tf.nn.relu(tf.nn.conv2d(x, rng.normal(size=(3, 3, 1, 3)).astype(np.float32), 1, "SAME"))
        conv = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, rng.normal(size=(3, 3, 3, 4)).astype(np.float32), 1, "SAME"),
                                         np.ones(4, np.float32)), name="last_conv")
        pooled = tf.nn.max_pool2d(conv, 2, 2, "VALID")
        t = tf.matmul(tf.reshape(pooled, [-1, 64]), rng.normal(size=(64, 2)).astype(np.float32))
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        assert de.get_explainer("gradcam", t, x).layer is conv
        assert de.get_explainer("gradcam_plus_plus", t, x).layer is conv
