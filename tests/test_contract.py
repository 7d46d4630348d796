"""DeepExplain's contract: its errors, its `zero` method, its masking idiom, its TF1 programs."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError, available_methods
from builders import mlp_graph, mlp_weights, samples

tf1 = tf.compat.v1
ALL = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": 10}, "elrp": {}, "deeplift": {},
       "occlusion": {}, "shapley_sampling": {"seed": 0, "samples": 4}}


def test_zero_is_all_zeros_and_leaves_no_rule_active():
    graph, sess, x, t = mlp_graph(tf.nn.relu, seed=90)
    xs = samples((3, 5), seed=91)
    assert "zero" in available_methods()
    with graph.as_default():
        before = tf.gradients(t, x)[0]
    with DeepExplain(session=sess) as de:
        a = de.explain("zero", t, x, xs)
        after = tf.gradients(t, x)[0]  # e.g. a training step built right after it
    assert a.shape == xs.shape and a.dtype == np.float32 and not a.any()
    np.testing.assert_array_equal(sess.run(after, {x: xs}), sess.run(before, {x: xs}))


def test_bad_arguments_are_runtime_errors_as_in_deepexplain():
    graph, sess, x, t = mlp_graph(seed=92)
    xs = samples((3, 5), seed=93)
    bad_calls = [lambda de: de.explain("nope", t, x, xs),
                 lambda de: de.explain("saliency", "T", x, xs),
                 lambda de: de.explain("saliency", t, [x, 3], [xs, xs]),
                 lambda de: de.explain("saliency", t, x, xs, ys=np.ones((2, 3))),
                 lambda de: de.explain("saliency", t, x, xs[:, :4]),
                 lambda de: de.explain("occlusion", t, [x, x], [xs, xs]),
                 lambda de: de.explain("intgrad", t, x, xs, stepz=3)]
    with DeepExplain(session=sess) as de:
        for call in bad_calls:
            with pytest.raises(RuntimeError) as caught:
                call(de)
            assert isinstance(caught.value, ExplainError)
        with pytest.raises(AssertionError):
            de.explain("elrp", t, x, xs, epsilon=0)
        np.testing.assert_allclose(de.explain("saliency", t, x, xs).shape, xs.shape)  # still usable


@pytest.mark.parametrize("method", list(ALL))
def test_masked_target_idiom_equals_ys_for_every_method_and_batching(method):
    graph, sess, x, t = mlp_graph(tf.nn.tanh, seed=94)
    xs = samples((5, 5), seed=95)
    ys = np.eye(3)[[0, 1, 2, 1, 0]]
    with DeepExplain(session=sess) as de:
        masked = de.explain(method, t * ys, x, xs, batch_size=2, **ALL[method])
        weighted = de.explain(method, t, x, xs, ys=ys, **ALL[method])
        np.testing.assert_allclose(masked, weighted, rtol=0, atol=1e-5 * np.abs(weighted).max())
        with pytest.raises(ExplainError, match="ys="):
            de.explain(method, t * ys, x, xs[:4], **ALL[method])


def test_predicted_class_is_each_samples_argmax():
    graph, sess, x, t = mlp_graph(tf.nn.relu, seed=96)
    xs = samples((6, 5), seed=97)
    top = sess.run(t, {x: xs}).argmax(axis=1)
    with DeepExplain(session=sess) as de:
        for method in ("grad*input", "deeplift"):
            np.testing.assert_array_equal(de.explain(method, t, x, xs, ys="predicted", batch_size=4),
                                          de.explain(method, t, x, xs, ys=top, batch_size=4))
        with pytest.raises(ExplainError, match="predicted"):
            de.explain("saliency", t, x, xs, ys="best")


def test_v1_shapes_with_dimension_objects():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, tf1.TensorShape([tf1.Dimension(None), tf1.Dimension(5)]))
        w, b = mlp_weights(sizes=(5, 3), seed=98)[0]
        t = tf.matmul(x, w) + b
    xs = samples((4, 5), seed=99)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        np.testing.assert_allclose(de.explain("grad*input", t, x, xs, ys=[0, 1, 2, 0]),
                                   xs * w[:, [0, 1, 2, 0]].T, rtol=1e-5)


def test_shapley_returns_deepexplains_shapes_and_expand_gives_the_input_shape():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4, 3, 2))
        t = tf.reshape(tf.tanh(x), [-1, 24]) @ samples((24, 2), seed=100)
    xs = samples((3, 4, 3, 2), seed=101)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for dims, shape in (([1, 2], (3, 4, 3)), ([1], (3, 4)), ([3], (3, 2)), (None, (3, 4, 3, 2))):
            a = de.explain("shapley_sampling", t, x, xs, ys=[0, 1, 0], sampling_dims=dims, seed=1)
            spread = de.explain("shapley_sampling", t, x, xs, ys=[0, 1, 0], sampling_dims=dims, seed=1,
                                expand=True)
            batched = de.get_explainer("shapley_sampling", t, x, sampling_dims=dims, seed=1).run(
                xs, ys=[0, 1, 0], batch_size=2)
            assert a.shape == shape and batched.shape == shape and spread.shape == xs.shape
            np.testing.assert_allclose(a.sum(axis=tuple(range(1, a.ndim))), spread.sum(axis=(1, 2, 3)),
                                       rtol=1e-5)
            np.testing.assert_allclose(batched, a, rtol=0, atol=1e-5 * np.abs(a).max())
        # every other method returns the input's shape, one array per input
        for method in ("zero", "saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion"):
            assert de.explain(method, t, x, xs).shape == xs.shape
            assert de.get_explainer(method, t, x).run(xs, batch_size=2).shape == xs.shape


def _coupled_models():
    """(name, T, X, xs): targets whose rows are not their samples' own."""
    graph = tf.Graph()
    with graph.as_default():
        x1, x2 = tf1.placeholder(tf.float32, (None, 2)), tf1.placeholder(tf.float32, (None, 2))
        w1 = tf.constant([[1.0, 2.0], [3.0, 4.0]])  # (2, 2): broadcasts against the batch axis
        broadcast = tf.nn.relu(tf.concat([x1 * w1, x2 * w1], 1))
        x = tf1.placeholder(tf.float32, (None, 3))
        centred = tf.nn.relu(x - tf.reduce_mean(x, axis=0)) @ samples((3, 2), seed=102)
        mean, variance = tf.nn.moments(x, axes=[0])  # batch norm in training mode
        normalised = tf.tanh(tf.nn.batch_normalization(x, mean, variance, None, None, 1e-3)) @ samples((3, 2), seed=103)
        per_row = tf.nn.relu(x) @ samples((3, 2), seed=104)
        fifty = per_row * tf1.placeholder_with_default(np.ones((50, 2), np.float32), (50, 2))
    ones = np.ones((2, 2), np.float32)
    xs = samples((50, 3), seed=105)
    return graph, per_row, x, xs, [("broadcast weight", broadcast, [x1, x2], [ones, ones], {}),
                                   ("mean over the batch", centred, x, xs[:4], {}),
                                   ("batch statistics", normalised, x, xs[:4], {}),
                                   ("T times 50 rows", fifty, x, xs, {"batch_size": 10})]


@pytest.mark.parametrize("method", ["saliency", "intgrad", "deeplift", "occlusion", "shapley_sampling"])
def test_a_target_coupling_rows_is_refused_before_any_number(method):
    graph, per_row, x, xs, cases = _coupled_models()
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for cause, t, X, values, options in cases:
            if method in ("occlusion", "shapley_sampling") and isinstance(X, list):
                continue
            with pytest.raises(RuntimeError, match="rows") as caught:
                de.explain(method, t, X, values, **options)
            assert isinstance(caught.value, ExplainError), cause
        # the session and graph stay usable: a per-row target gives its numbers
        a = de.explain(method, per_row, x, xs[:4], ys=[0, 1, 0, 1])
        assert a.shape == (4, 3) and np.isfinite(a).all()
