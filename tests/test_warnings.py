"""Warnings that are true: about the ops that matter, at the user's own line, and nothing mutated."""
import warnings

import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError, SoftmaxTargetWarning, UnsupportedOpWarning
from builders import mlp_graph, samples

tf1 = tf.compat.v1


def _caught(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return caught


def test_dilated_convolution_only_moves_values():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 2))
        kernel = samples((3, 3, 2, 4), seed=80)
        h = tf.nn.relu(tf.nn.atrous_conv2d(x, kernel, rate=2, padding="SAME"))
        t = tf.reduce_sum(h, axis=(1, 2))
    assert {"SpaceToBatchND", "BatchToSpaceND"} <= {op.type for op in graph.get_operations()}
    xs = samples((3, 8, 8, 2), seed=81)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        caught = _caught(lambda: de.explain("deeplift", t, x, xs))
        a = de.explain("deeplift", t, x, xs)
        delta = de.session.run(t, {x: xs}).sum(1) - de.session.run(t, {x: np.zeros_like(xs)}).sum(1)
    assert not [w for w in caught if issubclass(w.category, UnsupportedOpWarning)]
    np.testing.assert_allclose(a.sum(axis=(1, 2, 3)), delta, rtol=1e-5)


def test_softmax_warning_only_for_a_softmax_at_the_target():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4, 3))
        scores = tf.matmul(x, x, transpose_b=True)
        mixed = tf.matmul(tf.nn.softmax(scores), x)           # attention: softmax inside
        logits = tf.reshape(mixed, [-1, 12])
        probabilities = tf.nn.softmax(logits)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        inner = _caught(lambda: de.get_explainer("saliency", logits, x))
        outer = _caught(lambda: de.get_explainer("saliency", probabilities[:, :3], x))
    assert not [w for w in inner if issubclass(w.category, SoftmaxTargetWarning)]
    softmax = [str(w.message) for w in outer if issubclass(w.category, SoftmaxTargetWarning)]
    assert len(softmax) == 1 and logits.name in softmax[0]


def test_warnings_point_at_the_callers_line():
    graph, sess, x, t = mlp_graph(tf.math.lgamma)  # an activation without a rule
    with DeepExplain(session=sess) as de:
        caught = _caught(lambda: de.explain("deeplift", t, x, samples((2, 5))))
    unsupported = [w for w in caught if issubclass(w.category, UnsupportedOpWarning)]
    assert unsupported and all(w.filename == __file__ for w in unsupported)


def test_explaining_a_graph_that_already_ran_mutates_none_of_its_ops():
    graph, sess, x, t = mlp_graph(tf.nn.tanh)
    xs = samples((3, 5))
    sess.run(t, {x: xs})  # the ops have run: TF forbids changing their attributes now
    before = graph.as_graph_def()
    with DeepExplain(session=sess) as de:
        de.explain("elrp", t, x, xs)
    after = {node.name: node for node in graph.as_graph_def().node}
    for node in before.node:
        assert after[node.name] == node, node.name
    with graph.as_default():  # ordinary gradients of the same graph are TF's own
        plain = sess.run(tf.gradients(t, x)[0], {x: xs})
    with DeepExplain(session=sess) as de:
        np.testing.assert_allclose(de.explain("saliency", t, x, xs), np.abs(plain), rtol=1e-6)


def test_a_failed_build_leaves_the_graph_as_it_found_it():
    graph, sess, x, t = mlp_graph()
    with DeepExplain(session=sess) as de:
        with graph.as_default():
            disconnected = tf1.placeholder(tf.float32, (None, 5))
        count = len(graph.get_operations())
        for method, options, X in [("intgrad", {"steps": 0}, x), ("elrp", {"epsilon": -1.0}, x),
                                   ("deeplift", {"baseline": np.zeros(7)}, x), ("saliency", {}, disconnected),
                                   ("occlusion", {"window_shape": 9}, x), ("saliency", {"nope": 1}, x)]:
            with pytest.raises(ExplainError):
                de.get_explainer(method, t, X, **options)
            assert len(graph.get_operations()) == count, method
        np.testing.assert_allclose(de.explain("grad*input", t, x, samples((2, 5))).shape, (2, 5))


@pytest.mark.eager
def test_a_keras_3_tensor_is_refused_with_the_way_to_import_it():
    import keras
    i = keras.Input((3,))
    model = keras.Model(i, keras.layers.Dense(2)(i))
    graph, sess, x, t = mlp_graph()
    with DeepExplain(session=sess) as de:
        with pytest.raises(TypeError, match="import_model"):
            de.explain("saliency", model.output, model.input, samples((2, 3)))
