"""Model randomisation: the copies carry exactly the replaced weights (numpy recomputes their
maps), the layers come from the top down, and the user's graph is left as it was."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import spearmanr

from deepexplain_ng import DeepExplain, ExplainError, metrics
from deepexplain_ng.metrics import randomization
from builders import mlp_graph, mlp_weights, samples

tf1 = tf.compat.v1


def _saliency(xs, layers, c):
    """|d logit_c / dx| of the ReLU MLP of ``layers`` (numpy, float64)."""
    grads = []
    for x in xs.astype(np.float64):
        h, jac = x, np.eye(len(x))
        for i, (w, b) in enumerate(layers):
            z = h @ w + b
            jac = jac @ w
            if i < len(layers) - 1:
                jac = jac * (z > 0)
                z = np.maximum(z, 0)
            h = z
        grads.append(np.abs(jac[:, c]))
    return np.array(grads)


def test_cascading_copies_explain_with_the_replaced_weights(monkeypatch):
    monkeypatch.setattr(randomization, "_randomized", lambda value, rng, mode: value[::-1].copy())
    graph, session, x, t = mlp_graph(seed=180)
    layers = [(w.astype(np.float64), b.astype(np.float64)) for w, b in mlp_weights(seed=180)]
    xs = samples((6, 5), seed=181)
    before = len(graph.get_operations())
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("saliency", t, x)
        built = len(graph.get_operations())
        correlation, names = metrics.model_randomization(explainer, xs, ys=np.full(6, 2))
    assert len(graph.get_operations()) == built > before  # only the explainer's own ops
    assert len(names) == 3
    original = _saliency(xs, layers, 2)
    for step in range(3):
        changed = list(layers)
        for k in range(step + 1):  # the top k + 1 layers, reversed along their first axis
            w, b = layers[2 - k]
            changed[2 - k] = (w[::-1], b[::-1])
        maps = _saliency(xs, changed, 2)
        expected = [spearmanr(a, m)[0] for a, m in zip(original, maps)]
        np.testing.assert_allclose(correlation[:, step], expected, atol=1e-9)


def test_a_negated_top_layer_anticorrelates_unless_absolute(monkeypatch):
    monkeypatch.setattr(randomization, "_randomized", lambda value, rng, mode: -value)
    graph, session, x, t = mlp_graph(seed=182, bias=False)
    xs = samples((4, 5), seed=183)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("grad*input", t, x)
        signed, _ = metrics.model_randomization(explainer, xs, ys=np.zeros(4, int), layers=1)
        absolute, _ = metrics.model_randomization(explainer, xs, ys=np.zeros(4, int), layers=1, absolute=True)
    np.testing.assert_allclose(signed, -1.0, atol=1e-12)
    np.testing.assert_allclose(absolute, 1.0, atol=1e-12)


def _variables_cnn():
    rng = np.random.default_rng(184)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1))
        k = tf1.Variable(rng.normal(size=(3, 3, 1, 4)).astype(np.float32), name="conv/kernel")
        b = tf1.Variable(rng.normal(scale=0.1, size=4).astype(np.float32), name="conv/bias")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, k, 1, "SAME", name="conv/Conv2D"), b, name="conv/BiasAdd"))
        w = tf1.Variable(rng.normal(scale=0.1, size=(256, 10)).astype(np.float32), name="dense/kernel")
        t = tf.matmul(tf.reshape(h, (-1, 256)), w, name="dense/MatMul") * 0.5
        session = tf1.Session(graph=graph)
        session.run(tf1.global_variables_initializer())
    return session, x, t


def test_variables_are_randomised_in_a_copy_and_the_session_keeps_its_values():
    session, x, t = _variables_cnn()
    xs = np.random.default_rng(185).uniform(size=(5, 8, 8, 1)).astype(np.float32)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("saliency", t, x)
        first = explainer.run(xs, ys=np.arange(5))
        correlation, names = metrics.model_randomization(explainer, xs, ys=np.arange(5), seed=3)
        again, _ = metrics.model_randomization(explainer, xs, ys=np.arange(5), seed=3)
        np.testing.assert_array_equal(explainer.run(xs, ys=np.arange(5)), first)
    assert names == ["dense", "conv"]
    np.testing.assert_array_equal(correlation, again)
    # trained 256x10 weights redrawn: the saliency maps lose their ranking
    assert np.abs(correlation).max() < 0.6
    with pytest.raises(ExplainError, match="mode"):
        metrics.model_randomization(explainer, xs, mode="shuffle")
    with pytest.raises(ExplainError, match="layers"):
        metrics.model_randomization(explainer, xs, layers=3)


@pytest.mark.eager
def test_a_keras_model_loses_its_layers_top_down_batch_norm_included():
    keras = pytest.importorskip("keras")
    from builders import bn_model_weights, keras_bn_model

    model = keras_bn_model(keras, bn_model_weights())  # Keras 3 builds eagerly: outside the context
    session = tf1.Session(graph=tf.Graph())
    xs = samples((4, 6), seed=186)
    with DeepExplain(session=session) as de:
        x, t = de.import_model(model)
        explainer = de.get_explainer("grad*input", t, x)
        correlation, names = metrics.model_randomization(explainer, xs, ys=np.zeros(4, int), seed=4)
    assert [layer in name for layer, name in zip(["scores", "norm", "hidden"], names)] == [True] * 3
    assert np.isfinite(correlation).all() and correlation.shape == (4, 3)
