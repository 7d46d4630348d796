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
