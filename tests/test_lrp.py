"""lrp: zennit's rules and composites against a term-by-term numpy implementation, the batch
norm canonizer, and conservation where the rules promise it."""
import numpy as np
import pytest
import tensorflow as tf

import lrp_reference as lref
import reference as ref
from deepexplain_ng import DeepExplain, ExplainError
from builders import samples

tf1 = tf.compat.v1


def _weights(seed=90):
    rng = np.random.default_rng(seed)

    def f32(*shape, scale=0.5):
        return rng.normal(scale=scale, size=shape).astype(np.float32)

    return dict(k1=f32(3, 3, 2, 4), c1=f32(4, scale=0.2), gamma=1 + f32(4, scale=0.2), beta=f32(4, scale=0.2),
                mean=f32(4, scale=0.2), var=np.abs(1 + f32(4, scale=0.2)), k2=f32(3, 3, 4, 5, scale=0.3),
                c2=f32(5, scale=0.2), w3=f32(20, 8), b3=f32(8, scale=0.2), w4=f32(8, 3))


def _graph(p):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
        h = tf.nn.bias_add(tf.nn.conv2d(x, p["k1"], 1, "SAME"), p["c1"])
        h, _, _ = tf1.nn.fused_batch_norm(h, p["gamma"], p["beta"], p["mean"], p["var"], epsilon=1e-3,
                                          is_training=False)
        h = tf.nn.relu(h)
        h = tf.nn.relu(tf.nn.conv2d(h, p["k2"], 1, "VALID") + p["c2"])
        h = tf.reshape(tf.nn.avg_pool2d(h, 2, 2, "VALID"), [-1, 20])
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(h, p["w3"]), p["b3"]))
        t = tf.matmul(h, p["w4"])
    return tf1.Session(graph=graph), x, t


def _numpy_lrp(p, xs, ys, rules, low=None, high=None):
    """rules: (conv1, conv2, dense3, dense4); batch norm folded into conv1 by hand."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    factor = p["gamma"] / np.sqrt(p["var"] + 1e-3)
    k1, c1 = p["k1"] * factor, (p["c1"] - p["mean"]) * factor + p["beta"]
    x = xs.astype(np.float64)
    n = len(x)
    a1 = np.maximum(ref.conv_forward(x, k1, c1, "SAME"), 0)
    a2 = np.maximum(ref.conv_forward(a1, p["k2"], p["c2"], "VALID"), 0)
    pooled = ref.avg_pool_forward(a2)
    a3 = np.maximum(pooled.reshape(n, 20) @ p["w3"] + p["b3"], 0)
    logits = a3 @ p["w4"]
    R = logits * ys
    R = lref.linear_rule(a3, p["w4"], np.zeros(3), R, rules[3])
    R = lref.linear_rule(pooled.reshape(n, 20), p["w3"], p["b3"], R, rules[2]).reshape(pooled.shape)
    R = lref.norm_rule(a2, ref.avg_pool_backward, pooled, R)
    m2 = lref.conv_matrix(p["k2"], (6, 6, 4), "VALID")
    R = lref.linear_rule(a1.reshape(n, -1), m2, np.tile(p["c2"], 16), R.reshape(n, -1), rules[1])
    m1 = lref.conv_matrix(k1, (6, 6, 2), "SAME")
    box = {} if low is None else dict(low=np.broadcast_to(low, (6, 6, 2)).reshape(-1),
                                      high=np.broadcast_to(high, (6, 6, 2)).reshape(-1))
    R = lref.linear_rule(x.reshape(n, -1), m1, np.tile(c1, 36), R, rules[0], **box)
    return R.reshape(xs.shape)


EPSILON, ZPLUS, GAMMA = ("epsilon", 1e-6), ("zplus",), ("gamma", 0.25)
CASES = {
    "epsilon": ({}, [EPSILON] * 4),
    "epsilon=0.05": ({"epsilon": 0.05}, [("epsilon", 0.05)] * 4),
    "zplus": ({"rule": "zplus"}, [ZPLUS] * 4),
    "alpha_beta": ({"rule": "alpha_beta"}, [("alpha_beta", 2.0, 1.0)] * 4),
    "alpha_beta 1 0": ({"rule": "alpha_beta", "alpha": 1, "beta": 0}, [("alpha_beta", 1.0, 0.0)] * 4),
    "gamma": ({"rule": "gamma"}, [GAMMA] * 4),
    "gamma=1": ({"rule": "gamma", "gamma": 1.0}, [("gamma", 1.0)] * 4),
    "epsilon_plus": ({"rule": "epsilon_plus"}, [ZPLUS, ZPLUS, EPSILON, EPSILON]),
    "epsilon_plus_flat": ({"rule": "epsilon_plus_flat"}, [("flat",), ZPLUS, EPSILON, EPSILON]),
    "epsilon_gamma_box": ({"rule": "epsilon_gamma_box", "low": -2.0, "high": np.array([2.0, 3.0])},
                          [("zbox",), GAMMA, EPSILON, EPSILON]),
}


@pytest.mark.parametrize("case", CASES)
def test_rules_and_composites_match_numpy_on_a_cnn_with_batch_norm(case):
    p = _weights()
    session, x, t = _graph(p)
    options, rules = CASES[case]
    xs, classes = samples((4, 6, 6, 2), seed=91), np.array([0, 1, 2, 1])
    with DeepExplain(session=session) as de:
        got = de.explain("lrp", t, x, xs, ys=classes, batch_size=3, **options)
    box = {"low": options["low"], "high": options["high"]} if "low" in options else {}
    expected = _numpy_lrp(p, xs, np.eye(3)[classes], rules, **box)
    scale = np.abs(expected).max()
    assert scale > 0 and np.abs(got - expected).max() <= 1e-4 * scale, (np.abs(got - expected).max(), scale)


def test_batch_norm_is_folded_before_the_rules():
    """The same network with the batch norm folded into the convolution by hand gives the same
    relevance for every rule (z+ after folding differs from z+ through an unfolded batch norm)."""
    p = _weights(92)
    session, x, t = _graph(p)
    factor = p["gamma"] / np.sqrt(p["var"] + 1e-3)
    folded = dict(p, k1=(p["k1"] * factor).astype(np.float32), c1=((p["c1"] - p["mean"]) * factor + p["beta"]).astype(np.float32),
                  gamma=np.ones(4, np.float32), beta=np.zeros(4, np.float32), mean=np.zeros(4, np.float32),
                  var=np.full(4, 1 - 1e-3, np.float32))
    plain_session, plain_x, plain_t = _graph(folded)
    xs = samples((3, 6, 6, 2), seed=93)
    for rule in ("zplus", "gamma", "epsilon_plus"):
        with DeepExplain(session=session) as de:
            a = de.explain("lrp", t, x, xs, ys=[0, 1, 2], rule=rule)
        with DeepExplain(session=plain_session) as de:
            b = de.explain("lrp", plain_t, plain_x, xs, ys=[0, 1, 2], rule=rule)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max())


def _bias_free_relu_mlp(seed=94):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype(np.float32) for s in ((5, 8), (8, 6), (6, 3))]
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 5))
        h = tf.nn.relu(tf.matmul(x, weights[0]))
        h = tf.nn.relu(tf.matmul(h, weights[1]))
        t = tf.matmul(h, weights[2])
    return tf1.Session(graph=graph), x, t, weights


def test_zplus_conserves_and_epsilon_is_grad_times_input_on_bias_free_relu_nets():
    session, x, t, weights = _bias_free_relu_mlp()
    xs, classes = samples((6, 5), seed=95), np.arange(6) % 3
    logits = session.run(t, {x: xs})[np.arange(6), classes]
    with DeepExplain(session=session) as de:
        zplus = de.explain("lrp", t, x, xs, ys=classes, rule="zplus")
        epsilon = de.explain("lrp", t, x, xs, ys=classes, rule="epsilon")
        gradient = de.explain("grad*input", t, x, xs, ys=classes)
    # z+: every term is non-negative, so each layer passes on all it gets (a logit whose z+ is
    # empty passes nothing)
    reached = np.abs(zplus.sum(axis=1)) > 0
    assert reached.sum() >= 3
    # ... up to the stabiliser: a unit keeps z+ / (z+ + 1e-6) of its relevance, so the loss is at
    # most 1e-6 / (smallest z+ of a unit that passes relevance on), summed over the layers
    h, loss = xs.astype(np.float64), np.zeros(6)
    for w in weights:
        z_plus = np.maximum(h[:, :, None] * w, 0).sum(axis=1)
        loss += 1e-6 / np.where(z_plus > 0, z_plus, np.inf).min(axis=1)
        h = np.maximum(h @ w, 0)
    tolerance = (loss + 1e-5)[reached] * np.abs(logits[reached])
    assert np.all(np.abs(zplus.sum(axis=1)[reached] - logits[reached]) <= tolerance)
    # epsilon -> 0 on bias-free ReLU nets: relevance at the logit's value is grad * input
    np.testing.assert_allclose(epsilon, gradient, rtol=0, atol=1e-4 * np.abs(gradient).max())


@pytest.mark.parametrize("options, match", [
    ({"rule": "lrp0"}, "rule: expected one of"),
    ({"rule": "alpha_beta", "alpha": 2, "beta": 2}, "alpha - beta must be 1"),
    ({"rule": "epsilon_gamma_box"}, "needs low="),
    ({"rule": "gamma", "gamma": -1}, "gamma must be >= 0"),
])
def test_bad_lrp_options(options, match):
    session, x, t, _ = _bias_free_relu_mlp()
    with DeepExplain(session=session) as de, pytest.raises(ExplainError, match=match):
        de.explain("lrp", t, x, samples((2, 5)), **options)
