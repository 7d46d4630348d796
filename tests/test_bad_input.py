"""Bad input gets a clear error naming the argument, and leaves everything usable."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepexplain_ng import DeepExplain
from builders import mlp_graph, samples

tf1 = tf.compat.v1
GRAPH, SESS, X, T = mlp_graph(tf.nn.tanh, seed=21)
XS = samples((4, 5), seed=22)


@pytest.fixture
def de():
    with DeepExplain(session=SESS) as context:
        yield context
    # whatever failed inside, the graph, session and explainers still explain correctly, and a
    # new context builds correct rules (one method: each new build grows the shared graph)
    for method, explainer in BUILT.items():
        np.testing.assert_allclose(explainer.run(XS), GOOD[method], rtol=1e-6)
    with DeepExplain(session=SESS) as again:
        np.testing.assert_allclose(again.explain("deeplift", T, X, XS), GOOD["deeplift"], rtol=1e-6)


with DeepExplain(session=SESS) as _de:
    BUILT = {m: _de.get_explainer(m, T, X) for m in ("saliency", "elrp", "deeplift")}
    GOOD = {m: explainer.run(XS) for m, explainer in BUILT.items()}


def test_unknown_method(de):
    with pytest.raises(ValueError, match=r"unknown method 'lrp_flat'.*deeplift"):
        de.explain("lrp_flat", T, X, XS)
    with pytest.raises(TypeError, match="method must be a string"):
        de.explain(None, T, X, XS)


@pytest.mark.parametrize("method, keyword", [("saliency", "steps"), ("intgrad", "epsilon"),
                                             ("elrp", "baseline"), ("deeplift", "window_shape")])
def test_unknown_keyword(de, method, keyword):
    with pytest.raises(TypeError, match=rf"'{method}'.*unknown keyword.*{keyword}"):
        de.explain(method, T, X, XS, **{keyword: 1})


def test_non_tensor_target_and_input(de):
    with pytest.raises(TypeError, match=r"^T must be a tf.Tensor.*ndarray"):
        de.explain("saliency", np.zeros((4, 3)), X, XS)
    with pytest.raises(TypeError, match=r"^X must be a tf.Tensor.*str"):
        de.explain("saliency", T, "x:0", XS)
    with pytest.raises(TypeError, match=r"^X\[1\] must be a tf.Tensor"):
        de.explain("saliency", T, [X, 3.0], [XS, XS])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_xs_of_the_wrong_shape(de, shape):
    if len(shape) == 2 and shape[1] == 5:
        shape[1] = 4
    xs = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match=r"xs: expected shape \(n, 5\) to feed X 'x:0' of shape \(None, 5\), "
                                         rf"got \({shape[0]},"):
        de.explain("deeplift", T, X, xs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_ys_of_the_wrong_shape(de, shape):
    ys = np.ones(shape, np.float32)
    if ys.shape == (4, 3):
        return
    with pytest.raises(ValueError, match=r"ys: expected weights of shape \(4, 3\).*or 4 integer class "
                                         r"indices, got shape"):
        de.explain("saliency", T, X, XS, ys=ys)


def test_ys_class_index_out_of_range(de):
    with pytest.raises(ValueError, match=r"ys: class indices must lie in \[0, 3\).*from 0 to 3"):
        de.explain("saliency", T, X, XS, ys=[0, 1, 2, 3])


@pytest.mark.parametrize("method", ["intgrad", "deeplift"])
def test_baseline_of_the_wrong_shape(de, method):
    with pytest.raises(ValueError, match=r"baseline: expected the input's shape without the batch axis "
                                         r"\(5,\).*got \(4,\)"):
        de.get_explainer(method, T, X, baseline=np.zeros(4))
    explainer = de.get_explainer(method, T, X, baseline=np.zeros((3, 5)))  # one per sample...
    with pytest.raises(ValueError, match=r"baseline: expected shape \(5,\) \(the input's shape without "
                                         r"the batch axis\) or one baseline per sample \(4, 5\), got \(3, 5\)"):
        explainer.run(XS)  # ...but xs has 4 samples


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(de, bad):
    xs = XS.copy()
    xs[2, 3] = bad
    with pytest.raises(ValueError, match=r"xs contains 1 NaN/inf value\(s\), the first at index \(2, 3\)"):
        de.explain("elrp", T, X, xs)
    with pytest.raises(ValueError, match=r"baseline contains 1 NaN/inf"):
        de.explain("intgrad", T, X, XS, baseline=xs[2])


@pytest.mark.parametrize("method, keyword, value, error", [
    ("elrp", "epsilon", 0.0, ValueError), ("elrp", "epsilon", -1e-3, ValueError),
    ("elrp", "epsilon", "small", TypeError), ("intgrad", "steps", 0, ValueError),
    ("intgrad", "steps", -5, ValueError), ("intgrad", "steps", 2.5, TypeError),
])
def test_non_positive_parameters(de, method, keyword, value, error):
    with pytest.raises(error, match=rf"^{keyword} must be a positive.*{value}"):
        de.explain(method, T, X, XS, **{keyword: value})


def test_batch_size(de):
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        de.explain("saliency", T, X, XS, batch_size=0)


def test_disconnected_input_explains_the_embedding_case(de):
    with GRAPH.as_default():
        ids = tf1.placeholder(tf.int32, (None, 4), name="token_ids")
        table = tf.constant(samples((10, 5), seed=23))
        embedded = tf.reduce_mean(tf.gather(table, ids), axis=1)
        from builders import mlp, mlp_weights
        logits = mlp(embedded, mlp_weights(seed=24))
        unrelated = tf1.placeholder(tf.float32, (None, 5), name="unrelated")
    with pytest.raises(TypeError, match="token_ids:0.*explain the embedding lookup's output"):
        de.explain("saliency", logits, ids, np.zeros((2, 4), np.int32))
    with pytest.raises(ValueError, match="unrelated:0' is not connected to T.*embedding lookup"):
        de.explain("deeplift", logits, unrelated, XS)
    # the embedding output itself is explainable
    vectors = SESS.run(embedded, {ids: [[1, 2, 3, 4], [5, 6, 7, 8]]})
    assert de.explain("grad*input", logits, embedded, vectors).shape == (2, 5)


def test_xs_list_for_a_list_of_inputs(de):
    with pytest.raises(ValueError, match=r"xs: X is a list of 2 tensors, so xs must be a list of 2 arrays"):
        de.explain("saliency", T, [X, X], XS)
    with pytest.raises(TypeError, match=r"xs must hold numbers"):
        de.explain("saliency", T, X, np.array([["a"] * 5] * 4))
