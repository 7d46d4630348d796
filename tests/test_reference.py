"""The library against independent numpy re-implementations, and the invariants of DESIGN.md."""
import numpy as np
import pytest
import tensorflow as tf

import reference as ref
from deepexplain_ng import DeepExplain

tf1 = tf.compat.v1
METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift"]
TF_ACTIVATIONS = {
    "relu": tf.nn.relu, "relu6": tf.nn.relu6, "leaky_relu": lambda z: tf.nn.leaky_relu(z, alpha=0.2),
    "elu": tf.nn.elu, "selu": tf.nn.selu, "sigmoid": tf.nn.sigmoid, "tanh": tf.nn.tanh,
    "softplus": tf.nn.softplus, "softsign": tf.nn.softsign,
}
STEPS = 20


def assert_close_rel(got, expected, rtol=1e-4):
    """max |got - expected| <= rtol * max |expected| (per input for lists)."""
    if isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        scale = max(np.abs(e).max() for e in expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            assert np.abs(g - e).max() <= rtol * scale, (np.abs(g - e).max(), scale)
        return
    assert got.shape == expected.shape
    error, scale = np.abs(got - expected).max(), np.abs(expected).max()
    assert scale > 0 and error <= rtol * scale, f"max error {error:.3g} vs max |attribution| {scale:.3g}"


def f32(a):
    return np.asarray(a, np.float32)


# -- nets with the same weights in numpy (float64) and TF (float32) ----------------------------
def mlp_pair(activation, seed=0, bias=True, sizes=(5, 8, 6, 3)):
    rng = np.random.default_rng(seed)
    layers = [(f32(rng.normal(scale=1.5 / np.sqrt(i), size=(i, o))).astype(np.float64),
               f32(rng.normal(scale=0.5, size=o)).astype(np.float64) if bias else None)
              for i, o in zip(sizes[:-1], sizes[1:])]
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, sizes[0]))
        h = x
        for i, (w, b) in enumerate(layers):
            h = tf.matmul(h, f32(w)) + (0.0 if b is None else f32(b))
            if i < len(layers) - 1:
                h = TF_ACTIVATIONS[activation](h)
    return ref.MLP(layers, activation), tf1.Session(graph=graph), x, h


def cnn_pair(activation, seed=0):
    rng = np.random.default_rng(seed)
    k1 = f32(rng.normal(scale=0.5, size=(3, 3, 2, 4)))
    c1 = f32(rng.normal(scale=0.2, size=4))
    k2 = f32(rng.normal(scale=0.3, size=(3, 3, 4, 5)))
    w = f32(rng.normal(scale=0.4, size=(2 * 2 * 5, 3)))
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
        act = TF_ACTIVATIONS[activation]
        h = act(tf.nn.conv2d(x, k1, 1, "SAME") + c1)
        h = act(tf.nn.conv2d(h, k2, 1, "VALID"))
        h = tf.nn.avg_pool2d(h, 2, 2, "VALID")
        t = tf.matmul(tf.reshape(h, [-1, 20]), w)
    net = ref.CNN(*(a.astype(np.float64) for a in (k1, c1, k2, w)), activation)
    return net, tf1.Session(graph=graph), x, t


def samples(shape, seed=1, scale=1.0):
    return f32(np.random.default_rng(seed).normal(scale=scale, size=shape))


def library(session, method, t, x, xs, ys, **options):
    with DeepExplain(session=session) as de:
        return de.explain(method, t, x, xs, ys=ys, **options)


def options_for(method, baseline=None):
    options = {"steps": STEPS} if method == "intgrad" else {}
    if baseline is not None and method in ("intgrad", "deeplift"):
        options["baseline"] = baseline
    return options


# -- the reference is right: checked against finite differences --------------------------------
@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
def test_reference_gradients_match_finite_differences(activation):
    net, *_ = mlp_pair(activation)
    x, ys = samples((2, 5)).astype(np.float64), np.eye(3)[[0, 2]]
    grad = ref.explain(net, "grad*input", x, ys) / np.where(x == 0, 1, x)
    h = 1e-6
    for i in range(5):
        step = np.zeros_like(x)
        step[:, i] = h
        numeric = (ref.score(net, x + step, ys) - ref.score(net, x - step, ys)) / (2 * h)
        np.testing.assert_allclose(grad[:, i], numeric, rtol=1e-5, atol=1e-7)


def test_reference_cnn_gradient_matches_finite_differences():
    net, *_ = cnn_pair("tanh")
    x, ys = samples((1, 6, 6, 2)).astype(np.float64), np.eye(3)[[1]]
    grad = ref.explain(net, "grad*input", x, ys) / x
    h = 1e-6
    for index in [(0, 0, 0, 0), (0, 2, 3, 1), (0, 5, 5, 0), (0, 3, 0, 1)]:
        step = np.zeros_like(x)
        step[index] = h
        numeric = (ref.score(net, x + step, ys) - ref.score(net, x - step, ys)) / (2 * h)
        np.testing.assert_allclose(grad[index], numeric[0], rtol=1e-5)


# -- library == reference -----------------------------------------------------------------------
@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
@pytest.mark.parametrize("method", METHODS)
def test_mlp_matches_numpy(method, activation):
    net, session, x, t = mlp_pair(activation, seed=2)
    xs, classes = samples((4, 5), seed=3, scale=1.5), np.array([0, 1, 2, 1])
    got = library(session, method, t, x, xs, classes, **options_for(method))
    assert_close_rel(got, ref.explain(net, method, xs, np.eye(3)[classes], steps=STEPS))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("method", METHODS)
def test_cnn_matches_numpy(method, activation):
    net, session, x, t = cnn_pair(activation, seed=4)
    xs, weights = samples((3, 6, 6, 2), seed=5), np.eye(3)[[2, 0, 1]]
    got = library(session, method, t, x, xs, weights, **options_for(method))
    assert_close_rel(got, ref.explain(net, method, xs, weights, steps=STEPS))


@pytest.mark.parametrize("method", ["intgrad", "deeplift"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_non_zero_baselines_match_numpy(method, per_sample):
    net, session, x, t = mlp_pair("elu", seed=6)
    xs = samples((4, 5), seed=7)
    baseline = samples((4, 5) if per_sample else (5,), seed=8)
    got = library(session, method, t, x, xs, None, **options_for(method, baseline))
    assert_close_rel(got, ref.explain(net, method, xs, np.ones((4, 3)), baseline=baseline, steps=STEPS))


@pytest.mark.parametrize("method", METHODS)
def test_two_inputs_match_numpy(method):
    rng = np.random.default_rng(9)
    wa, wb, c, w = (f32(rng.normal(size=s)) for s in [(3, 6), (4, 6), (6,), (6, 2)])
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf1.placeholder(tf.float32, (None, 3)), tf1.placeholder(tf.float32, (None, 4))
        t = tf.matmul(tf.tanh(tf.matmul(a, wa) + tf.matmul(b, wb) + c), w)
    net = ref.TwoInputNet(*(v.astype(np.float64) for v in (wa, wb, c, w)), "tanh")
    xs = [samples((3, 3), seed=10), samples((3, 4), seed=11)]
    baseline = [samples((3,), seed=12), samples((4,), seed=13)]
    got = library(tf1.Session(graph=graph), method, t, [a, b], xs, [1, 0, 1], **options_for(method, baseline))
    expected = ref.explain(net, method, xs, np.eye(2)[[1, 0, 1]], baseline=baseline, steps=STEPS)
    assert_close_rel(got, expected)


# -- invariants -----------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus"])
def test_integrated_gradients_completeness_improves_with_steps(activation):
    net, session, x, t = mlp_pair(activation, seed=14)
    xs, classes = samples((4, 5), seed=15, scale=2.0), [0, 1, 2, 0]
    delta = ref.score(net, xs, np.eye(3)[classes]) - ref.score(net, np.zeros((1, 5)), np.eye(3)[classes])
    errors = []
    with DeepExplain(session=session) as de:
        for steps in (5, 50, 500):
            attributions = de.explain("intgrad", t, x, xs, ys=classes, steps=steps)
            errors.append(np.abs(attributions.sum(axis=1) - delta).max())
    # a right Riemann sum: the error falls like 1/steps
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < errors[0] / 30
    assert errors[2] < 1e-2 * np.abs(delta).max()


@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
def test_deeplift_sums_to_delta(activation):
    net, session, x, t = mlp_pair(activation, seed=16)
    xs, baseline, classes = samples((5, 5), seed=17, scale=2.0), samples((5,), seed=18), [0, 1, 2, 0, 1]
    attributions = library(session, "deeplift", t, x, xs, classes, baseline=baseline)
    weights = np.eye(3)[classes]
    delta = ref.score(net, xs, weights) - ref.score(net, baseline[None], weights)
    np.testing.assert_allclose(attributions.sum(axis=1), delta, rtol=1e-4, atol=1e-5 * np.abs(delta).max())


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_deeplift_sums_to_delta_on_a_cnn(activation):
    net, session, x, t = cnn_pair(activation, seed=19)
    xs, weights = samples((3, 6, 6, 2), seed=20), np.eye(3)[[0, 1, 2]]
    attributions = library(session, "deeplift", t, x, xs, weights)
    delta = ref.score(net, xs, weights) - ref.score(net, np.zeros((1, 6, 6, 2)), weights)
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), delta, rtol=1e-4, atol=1e-5)


def test_elrp_equals_grad_times_input_on_bias_free_relu_nets():
    graph = tf.Graph()
    rng = np.random.default_rng(21)
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
        h = tf.nn.relu(tf.nn.conv2d(x, f32(rng.normal(size=(3, 3, 2, 4))), 1, "SAME"))
        h = tf.nn.relu(tf.nn.conv2d(h, f32(rng.normal(size=(3, 3, 4, 4))), 1, "VALID"))
        t = tf.matmul(tf.reshape(tf.nn.avg_pool2d(h, 2, 2, "VALID"), [-1, 16]), f32(rng.normal(size=(16, 3))))
    session = tf1.Session(graph=graph)
    xs = samples((3, 6, 6, 2), seed=22)
    with DeepExplain(session=session) as de:
        elrp = de.explain("elrp", t, x, xs, ys=[0, 1, 2], epsilon=1e-9)
        gi = de.explain("grad*input", t, x, xs, ys=[0, 1, 2])
    assert_close_rel(elrp, gi, rtol=1e-5)  # epsilon bends z / (z + epsilon) only near z = 0
    net, session, x, t = mlp_pair("relu", seed=23, bias=False)
    xs = samples((4, 5), seed=24)
    with DeepExplain(session=session) as de:
        assert_close_rel(de.explain("elrp", t, x, xs, epsilon=1e-9), de.explain("grad*input", t, x, xs), rtol=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus", "elu", "selu", "softsign"])
def test_deeplift_float32_keeps_its_digits_near_the_reference(activation):
    """Inputs within 1e-4 of the baseline (some equal to it): float32 still matches float64.

    The textbook secant with a 1e-5 cut-off measured 1e-3 to 3e-3 relative error here.
    """
    net, session, x, t = mlp_pair(activation, seed=25, sizes=(10, 32, 32, 4))
    baseline = samples((10,), seed=26)
    xs = f32(baseline + 1e-4 * np.random.default_rng(27).normal(size=(6, 10)))
    xs[:, :3] = baseline[:3]
    classes = np.array([0, 1, 2, 3, 0, 1])
    got = library(session, "deeplift", t, x, xs, classes, baseline=baseline)
    assert_close_rel(got, ref.explain(net, "deeplift", xs, np.eye(4)[classes], baseline=baseline), rtol=1e-5)
