"""Engine properties: marking, threads, graph growth, batching, warnings, sessions."""
import threading
import warnings

import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, SoftmaxTargetWarning, UnsupportedOpWarning, available_methods
from builders import cnn, mlp, mlp_graph, mlp_weights, samples
from tolerance import assert_float32_close, elrp_amplification

tf1 = tf.compat.v1
GRADIENT_METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift"]
OPTIONS = {"intgrad": {"steps": 17}}


def test_registry_holds_the_gradient_methods():
    assert set(GRADIENT_METHODS) <= set(available_methods())


def _cnn_graph(activation, inside_context):
    graph = tf.Graph()
    sess = tf1.Session(graph=graph)
    if inside_context:
        with DeepExplain(session=sess) as de:
            x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
            t = cnn(x, activation=activation)
            assert all(op.get_attr("_gradient_op_type") for op in graph.get_operations()
                       if op.type in ("Relu", "Tanh"))
        return de, x, t
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
        t = cnn(x, activation=activation)
    return DeepExplain(session=sess), x, t


@pytest.mark.parametrize("activation", [tf.nn.relu, tf.nn.tanh])
@pytest.mark.parametrize("method", ["elrp", "deeplift"])
def test_graph_built_before_the_context_gives_the_same_numbers(method, activation):
    xs = samples((3, 6, 6, 2))
    results = []
    for inside in (True, False):
        de, x, t = _cnn_graph(activation, inside)
        with de:
            results.append(de.explain(method, t, x, xs, ys=[0, 1, 2]))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)
    # and the rule really changed something: plain grad*input differs for these nets
    with de:
        plain = de.explain("grad*input", t, x, xs, ys=[0, 1, 2])
    assert np.abs(plain - results[1]).max() > 1e-3


def test_two_graphs_in_two_threads_match_one_at_a_time():
    setups = [mlp_graph(tf.nn.tanh, seed=1), mlp_graph(tf.nn.sigmoid, seed=2)]
    xs = samples((6, 5))

    def explain_all(setup):
        graph, sess, x, t = setup
        with DeepExplain(session=sess) as de:
            return {m: de.explain(m, t, x, xs, **OPTIONS.get(m, {})) for m in ("elrp", "deeplift", "intgrad")}

    alone = [explain_all(s) for s in setups]
    start = threading.Barrier(2)
    together = [None, None]

    def worker(i):
        start.wait()
        together[i] = [explain_all(setups[i]) for _ in range(3)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in range(2):
        for result in together[i]:
            for m in alone[i]:
                np.testing.assert_array_equal(result[m], alone[i][m])
    assert np.abs(alone[0]["elrp"] - alone[1]["elrp"]).max() > 1e-3


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_run_adds_no_ops_and_explain_reuses_its_explainer(method):
    graph, sess, x, t = mlp_graph(tf.nn.relu)
    xs = samples((4, 5))
    with DeepExplain(session=sess) as de:
        explainer = de.get_explainer(method, t, x, **OPTIONS.get(method, {}))
        count = len(graph.get_operations())
        first = explainer.run(xs, ys=[0, 1, 2, 0], batch_size=3)
        for _ in range(99):
            again = explainer.run(xs, ys=[0, 1, 2, 0], batch_size=3)
        assert len(graph.get_operations()) == count
        np.testing.assert_array_equal(first, again)
        de.explain(method, t, x, xs, **OPTIONS.get(method, {}))
        count = len(graph.get_operations())
        for _ in range(5):
            de.explain(method, t, x, xs, **OPTIONS.get(method, {}))
        assert len(graph.get_operations()) == count
    # outside the with block the explainer still works
    np.testing.assert_array_equal(explainer.run(xs, ys=[0, 1, 2, 0], batch_size=3), first)


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_batch_size_and_memory_budget_never_change_the_numbers(method):
    graph, sess, x, t = mlp_graph(tf.nn.softplus, seed=3)
    xs = samples((7, 5), seed=4)
    ys = [0, 1, 2, 0, 1, 2, 0]
    # other batch sizes run other float32 kernels: equal up to rounding, amplified by elrp's
    # division by z + eps near z = 0
    amplification = elrp_amplification(mlp_weights(seed=3), "softplus", xs) if method == "elrp" else 1.0
    with DeepExplain(session=sess) as de:
        reference = de.explain(method, t, x, xs, ys=ys, **OPTIONS.get(method, {}))
        for batch_size in (1, 3, 7, 100):
            assert_float32_close(de.explain(method, t, x, xs, ys=ys, batch_size=batch_size,
                                            **OPTIONS.get(method, {})), reference, amplification)
        tiny = de.explain(method, t, x, xs, ys=ys, memory_budget=1, **OPTIONS.get(method, {}))
        assert_float32_close(tiny, reference, amplification)


def test_intgrad_rows_equal_the_step_by_step_computation():
    graph, sess, x, t = mlp_graph(tf.nn.elu, seed=5)
    xs, baseline, steps = samples((3, 5), seed=6), samples((5,), seed=7), 13
    with graph.as_default():
        plain = tf.gradients(t[:, 1], x)[0]
    expected = np.zeros_like(xs, dtype=np.float64)
    for k in range(1, steps + 1):  # one session.run per step, as the original did
        expected += sess.run(plain, {x: baseline + k / steps * (xs - baseline)})
    expected *= (xs - baseline) / steps
    with DeepExplain(session=sess) as de:
        got = de.explain("intgrad", t, x, xs, ys=[1, 1, 1], steps=steps, baseline=baseline, memory_budget=2000)
    assert_float32_close(got, expected, amplification=steps)  # a sum of `steps` gradients


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_a_graph_with_a_fixed_batch_size_is_padded_not_refused(method):
    xs = samples((5, 5), seed=8)
    per_sample = {"intgrad": {"steps": 9, "baseline": samples((5, 5), seed=9)},
                  "deeplift": {"baseline": samples((5, 5), seed=9)}}.get(method, {})
    results = []
    for batch in (None, 2):
        graph, sess, x, t = mlp_graph(tf.nn.sigmoid, seed=10, batch=batch)
        with DeepExplain(session=sess) as de:
            results.append(de.explain(method, t, x, xs, ys=[0, 1, 2, 1, 0], **per_sample))
    amplification = elrp_amplification(mlp_weights(seed=10), "sigmoid", xs) if method == "elrp" else 1.0
    assert_float32_close(results[1], results[0], amplification)


def test_deeplift_references_come_from_the_path_only():
    xs = samples((4, 5), seed=11)
    graph, sess, x, t = mlp_graph(tf.nn.tanh, seed=12)
    with DeepExplain(session=sess) as de:
        alone = de.explain("deeplift", t, x, xs)
    with graph.as_default():
        # a second model in the same graph, fed by a placeholder nobody feeds
        other = tf1.placeholder(tf.float32, (None, 5), name="other_input")
        mlp(other, mlp_weights(seed=13), tf.nn.sigmoid)
    with DeepExplain(session=sess) as de:
        np.testing.assert_allclose(de.explain("deeplift", t, x, xs), alone, rtol=1e-6)


def test_ys_indices_one_hot_and_none():
    graph, sess, x, t = mlp_graph(tf.nn.relu, seed=14)
    xs = samples((3, 5))
    with DeepExplain(session=sess) as de:
        by_index = de.explain("grad*input", t, x, xs, ys=np.array([2, 0, 1]))
        one_hot = de.explain("grad*input", t, x, xs, ys=np.eye(3)[[2, 0, 1]])
        summed = de.explain("grad*input", t, x, xs)
        per_class = [de.explain("grad*input", t, x, xs, ys=np.full(3, c)) for c in range(3)]
    np.testing.assert_array_equal(by_index, one_hot)
    np.testing.assert_allclose(summed, sum(per_class), rtol=1e-5, atol=1e-6)


def _warnings_of(method, build, **options):
    graph = tf.Graph()
    sess = tf1.Session(graph=graph)
    with DeepExplain(session=sess) as de:
        x = tf1.placeholder(tf.float32, (None, 4, 4, 1), name="x")
        t = build(x)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            de.get_explainer(method, t, x, **options)
    return [w for w in caught if issubclass(w.category, (UnsupportedOpWarning, SoftmaxTargetWarning))]


def _dense(h, units=3, seed=0):
    flat = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
    w = np.random.default_rng(seed).normal(size=(flat.shape[1], units)).astype(np.float32)
    return tf.matmul(flat, w)


@pytest.mark.parametrize("method", ["elrp", "deeplift"])
def test_gates_with_a_rule_are_not_named_and_those_without_are(method):
    def swish(x):
        return _dense(tf.multiply(x, tf.sigmoid(x), name="swish_gate"))
    assert not _warnings_of(method, swish)  # a product of two X-dependent factors: ruled
    assert not _warnings_of(method, lambda x: _dense(tf.nn.gelu(x, approximate=False)))  # Erf: ruled

    def gate(x):  # a selection whose condition is computed from X has no exact rule
        return _dense(tf.where(x > 0.5, x, 0.1 * x, name="my_gate"))
    caught = _warnings_of(method, gate)
    assert len(caught) == 1 and "my_gate" in str(caught[0].message)
    assert not _warnings_of("saliency", gate)


def test_activation_without_rule_is_named():
    caught = _warnings_of("elrp", lambda x: _dense(tf.math.lgamma(x, name="my_lgamma")))
    assert len(caught) == 1 and "my_lgamma" in str(caught[0].message) and "Lgamma" in str(caught[0].message)


def test_max_pool_has_a_rule_for_both_methods():
    def pooled(x):
        return _dense(tf.nn.max_pool2d(tf.nn.relu(x), 2, 2, "VALID", name="pool"))
    assert not _warnings_of("deeplift", pooled)
    assert not _warnings_of("elrp", pooled)


def test_softmax_target_recommends_the_logits():
    caught = _warnings_of("saliency", lambda x: tf.nn.softmax(tf.identity(_dense(x), name="logits")))
    assert len(caught) == 1 and issubclass(caught[0].category, SoftmaxTargetWarning)
    assert "logits:0" in str(caught[0].message)


def test_warnings_can_become_errors_before_any_number():
    def swish(x):
        return _dense(x * tf.math.lgamma(x))
    graph = tf.Graph()
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        x = tf1.placeholder(tf.float32, (None, 4, 4, 1))
        t = swish(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnsupportedOpWarning)
            with pytest.raises(UnsupportedOpWarning):
                de.explain("deeplift", t, x, samples((1, 4, 4, 1)))


def test_session_defaults_to_the_default_session_and_otherwise_says_what_to_pass():
    graph, sess, x, t = mlp_graph()
    with pytest.raises(ValueError, match="session="):
        DeepExplain()
    with sess.as_default():
        with DeepExplain() as de:
            assert de.session is sess
            assert de.explain("saliency", t, x, samples((2, 5))).shape == (2, 5)


def test_multiple_inputs_return_a_list_in_order():
    graph = tf.Graph()
    with graph.as_default():
        a = tf1.placeholder(tf.float32, (None, 3))
        b = tf1.placeholder(tf.float32, (None, 2, 2))
        t = tf.nn.relu(tf.matmul(a, tf.ones((3, 2))) + 2.0 * tf.reduce_sum(b, axis=2))
    sess = tf1.Session(graph=graph)
    xs = [samples((4, 3)), samples((4, 2, 2), seed=3)]
    with DeepExplain(session=sess) as de:
        for method in GRADIENT_METHODS:
            result = de.explain(method, t, [a, b], xs, **OPTIONS.get(method, {}))
            assert isinstance(result, list) and [r.shape for r in result] == [(4, 3), (4, 2, 2)]
        grads = de.explain("grad*input", t, [a, b], xs)
    # linear before one relu: grad*input on b is 2*b where the unit is active
    active = sess.run(t, {a: xs[0], b: xs[1]}) > 0
    np.testing.assert_allclose(grads[1], 2 * xs[1] * active[:, :, None], rtol=1e-6)


def test_a_users_own_gradient_override_is_kept_and_named():
    graph = tf.Graph()
    with graph.as_default():
        @tf.RegisterGradient("TestDoubleRelu")
        def _double(op, grad):
            return 2.0 * grad * tf.cast(op.outputs[0] > 0, grad.dtype)

        x = tf1.placeholder(tf.float32, (None, 3))
        with graph.gradient_override_map({"Relu": "TestDoubleRelu"}):
            t = tf.nn.relu(x, name="custom_relu")
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        with pytest.warns(UnsupportedOpWarning, match="custom_relu"):
            explainer = de.get_explainer("elrp", t, x)
        np.testing.assert_allclose(explainer.run(np.array([[1.0, -1.0, 2.0]], np.float32)), [[2.0, 0.0, 4.0]])


def test_other_placeholders_are_fed_through_feed():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 5))
        keep = tf1.placeholder(tf.float32, (), name="keep_prob")
        t = mlp(tf.nn.dropout(x, rate=1.0 - keep, seed=0), mlp_weights(seed=60), tf.nn.tanh)
        plain = mlp(x, mlp_weights(seed=60), tf.nn.tanh)
    xs = samples((3, 5), seed=61)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for method in GRADIENT_METHODS:
            fed = de.explain(method, t, x, xs, feed={keep: 1.0}, **OPTIONS.get(method, {}))
            by_name = de.explain(method, t, x, xs, feed={"keep_prob": 1.0}, **OPTIONS.get(method, {}))
            expected = de.explain(method, plain, x, xs, **OPTIONS.get(method, {}))
            amplification = elrp_amplification(mlp_weights(seed=60), "tanh", xs) if method == "elrp" else 1.0
            assert_float32_close(fed, expected, amplification, err_msg=method)
            np.testing.assert_array_equal(by_name, fed)
        with pytest.raises(ValueError, match="feed: no tensor named 'nope'"):
            de.explain("saliency", t, x, xs, feed={"nope": 1.0})


def test_a_selection_is_a_gate_only_when_its_condition_comes_from_x():
    mask = np.tile([[True, False], [False, True]], (2, 2)).reshape(1, 4, 4, 1)
    fixed = _warnings_of("deeplift", lambda x: _dense(tf.where(mask, x, tf.zeros_like(x))))
    gated = _warnings_of("deeplift", lambda x: _dense(tf.where(x > 0, x, tf.zeros_like(x), name="hand_relu")))
    assert not fixed
    assert len(gated) == 1 and "hand_relu" in str(gated[0].message)
