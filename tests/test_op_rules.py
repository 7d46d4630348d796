"""DeepLIFT's difference rules and epsilon-LRP's choices for every op class, against independent
float64 numpy computations on small instances, and summation-to-delta on composites."""
import warnings

import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from deepexplain_ng import DeepExplain, UnsupportedOpWarning
from builders import samples

tf1 = tf.compat.v1
N, K = 4, 6
RNG = np.random.default_rng(200)
W = RNG.normal(size=K)  # S = sum_k W_k * y_k


def _explain(build, xs, baseline, method="deeplift", **options):
    """(attributions, S(x) - S(baseline)) for y = build(x), S = sum W * y."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + xs.shape[1:])
        y = build(x)
        t = tf.reduce_sum(tf.reshape(y, [-1, K]) * W.astype(np.float32), axis=1, keepdims=True)
    with DeepExplain(session=tf1.Session(graph=graph)) as de, warnings.catch_warnings():
        warnings.simplefilter("error", UnsupportedOpWarning)  # every op here has a rule
        a = de.explain(method, t, x, xs, **({"baseline": baseline} if method == "deeplift" else {}), **options)
        s = de.session.run(t, {x: xs})[:, 0] - de.session.run(t, {x: np.broadcast_to(baseline, xs.shape)})[:, 0]
    return a.astype(np.float64), s


def _assert_rule(a, expected):
    scale = np.abs(expected).max()
    np.testing.assert_allclose(a, expected, rtol=0, atol=1e-4 * scale)


def _secant64(f, fprime, x, b):
    d = x - b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (f(x) - f(b)) / d
    return np.where(np.abs(d) > 1e-6 * (1 + np.abs(x)), s, fprime(0.5 * (x + b)))


UNARY = {  # tf op, numpy f, numpy f', domain shift so inputs are valid
    "exp": (tf.exp, np.exp, np.exp, 0.0),
    "log": (tf.math.log, np.log, lambda v: 1 / v, 3.0),
    "log1p": (tf.math.log1p, np.log1p, lambda v: 1 / (1 + v), 3.0),
    "sqrt": (tf.sqrt, np.sqrt, lambda v: 0.5 / np.sqrt(v), 3.0),
    "rsqrt": (tf.math.rsqrt, lambda v: v ** -0.5, lambda v: -0.5 * v ** -1.5, 3.0),
    "reciprocal": (tf.math.reciprocal, lambda v: 1 / v, lambda v: -1 / v ** 2, 3.0),
    "square": (tf.square, np.square, lambda v: 2 * v, 0.0),
    "erf": (tf.math.erf, special.erf, lambda v: 2 / np.sqrt(np.pi) * np.exp(-v ** 2), 0.0),
    "sin": (tf.sin, np.sin, np.cos, 0.0),
    "cos": (tf.cos, np.cos, lambda v: -np.sin(v), 0.0),
    "abs": (tf.abs, np.abs, np.sign, 0.0),
    "atan": (tf.atan, np.arctan, lambda v: 1 / (1 + v ** 2), 0.0),
    # binary ops with one varying input and a constant
    "maximum_constant": (lambda x: tf.maximum(x, 0.2), lambda v: np.maximum(v, 0.2),
                         lambda v: (v > 0.2).astype(float), 0.0),
    "minimum_constant": (lambda x: tf.minimum(0.2, x), lambda v: np.minimum(v, 0.2),
                         lambda v: (v < 0.2).astype(float), 0.0),
    "cube": (lambda x: tf.pow(x, 3.0), lambda v: v ** 3, lambda v: 3 * v ** 2, 0.0),
    "constant_over_x": (lambda x: 2.0 / x, lambda v: 2 / v, lambda v: -2 / v ** 2, 3.0),
    "squared_difference_constant": (lambda x: tf.math.squared_difference(x, 0.4), lambda v: (v - 0.4) ** 2,
                                    lambda v: 2 * (v - 0.4), 0.0),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_secants_match_float64_also_near_the_reference(name):
    op, f, fprime, shift = UNARY[name]
    baseline = (samples((K,), seed=201) * 0.5 + shift).astype(np.float32)
    xs = (samples((N, K), seed=202) * 0.5 + shift).astype(np.float32)
    xs[0] = baseline + 1e-5 * samples((K,), seed=203)  # within 1e-5 of the reference
    xs[1, :3] = baseline[:3]                             # equal to it
    a, s = _explain(op, xs, baseline)
    x64, b64 = xs.astype(np.float64), baseline.astype(np.float64)
    expected = W * _secant64(f, fprime, x64, b64) * (x64 - b64)
    _assert_rule(a, expected)
    np.testing.assert_allclose(a.sum(axis=1), s, rtol=0, atol=1e-5 * np.abs(s).max() + 1e-6)


def _halves(xs):
    return xs[:, :K], xs[:, K:]


@pytest.mark.parametrize("name", ["mul", "div", "squared_difference", "maximum", "minimum", "matmul"])
def test_two_varying_factors(name):
    builds = {"mul": lambda a, b: a * b, "div": lambda a, b: a / b,
              "squared_difference": tf.math.squared_difference, "maximum": tf.maximum, "minimum": tf.minimum,
              "matmul": lambda a, b: tf.reshape(tf.matmul(tf.reshape(a, [-1, 2, 3]), tf.reshape(b, [-1, 2, 3]),
                                                          transpose_b=True), [-1, 4])[:, :1] * tf.ones([1, K])}
    xs = samples((N, 2 * K), seed=204)
    baseline = samples((2 * K,), seed=205)
    if name == "div":
        xs[:, K:] = np.abs(xs[:, K:]) + 1.0
        baseline[K:] = np.abs(baseline[K:]) + 1.0
    xs[0, :2] = baseline[:2]  # some features at their reference

    def build(x):
        return builds[name](x[:, :K], x[:, K:])
    a, s = _explain(build, xs, baseline)
    np.testing.assert_allclose(a.sum(axis=1), s, rtol=0, atol=1e-5 * np.abs(s).max() + 1e-6)
    x, b = xs.astype(np.float64), baseline.astype(np.float64)
    (p, q), (pr, qr) = _halves(x), _halves(b[None])
    if name == "mul":  # Shapley split of a product
        expected = np.concatenate([W * 0.5 * (q + qr) * (p - pr), W * 0.5 * (p + pr) * (q - qr)], axis=1)
    elif name == "div":
        expected = np.concatenate([W * 0.5 * (1 / q + 1 / qr) * (p - pr),
                                   W * 0.5 * (p + pr) * (1 / q - 1 / qr)], axis=1)
    elif name == "squared_difference":
        slope = (p - q) + (pr - qr)
        expected = np.concatenate([W * slope * (p - pr), -W * slope * (q - qr)], axis=1)
    elif name in ("maximum", "minimum"):
        m = np.maximum if name == "maximum" else np.minimum
        first = 0.5 * ((m(p, qr) - m(pr, qr)) + (m(p, q) - m(pr, q)))
        second = 0.5 * ((m(pr, q) - m(pr, qr)) + (m(p, q) - m(p, qr)))
        expected = np.concatenate([W * first, W * second], axis=1)
    else:
        return  # matmul: summation-to-delta above (the Shapley split of a bilinear map)
    _assert_rule(a, expected)


def _max_pool_reference(x, b, w):
    """numpy: each 2x1 window's change routed to the input's and the reference's argmax."""
    out = np.zeros_like(x)
    for n in range(x.shape[0]):
        for j in range(0, x.shape[1], 2):
            window, ref = x[n, j:j + 2], b[j:j + 2]
            y, y_ref = window.max(), ref.max()
            cross = max(y, y_ref)
            out[n, j + window.argmax()] += w[j // 2] * (cross - y_ref)
            out[n, j + ref.argmax()] += w[j // 2] * (y - cross)
    return out


def test_max_pool_routes_each_windows_change_to_the_winners():
    xs, baseline = samples((N, 2 * K), seed=206), samples((2 * K,), seed=207)

    def build(x):
        return tf.reshape(tf.nn.max_pool1d(tf.reshape(x, [-1, 2 * K, 1]), 2, 2, "VALID"), [-1, K])
    a, s = _explain(build, xs, baseline)
    np.testing.assert_allclose(a.sum(axis=1), s, rtol=0, atol=1e-5 * np.abs(s).max())
    _assert_rule(a, _max_pool_reference(xs.astype(np.float64), baseline.astype(np.float64), W))


@pytest.mark.parametrize("reduce", [tf.reduce_max, tf.reduce_min])
def test_max_and_min_reductions_conserve(reduce):
    xs, baseline = samples((N, K, 3), seed=208), samples((K, 3), seed=209)
    a, s = _explain(lambda x: reduce(x, axis=2), xs, baseline)
    np.testing.assert_allclose(a.sum(axis=(1, 2)), s, rtol=0, atol=1e-5 * np.abs(s).max())


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_softmax_inside_the_network(kind):
    xs, baseline = 3 * samples((N, K), seed=210), samples((K,), seed=211)

    def build(x):
        return getattr(tf.nn, kind)(x) * 2.0
    a, s = _explain(build, xs, baseline)
    np.testing.assert_allclose(a.sum(axis=1), s, rtol=0, atol=1e-5 * np.abs(s).max())
    # numpy: u = exp(z - c), v = 1 / sum u; secants of exp and of 1/s (or log s)
    z, zr = xs.astype(np.float64), baseline.astype(np.float64)[None]
    c = np.maximum(z.max(1, keepdims=True), zr.max(1, keepdims=True))
    u, ur = np.exp(z - c), np.exp(zr - c)
    sec_u = _secant64(np.exp, np.exp, z - c, zr - c)
    s1, s0 = u.sum(1, keepdims=True), ur.sum(1, keepdims=True)
    g = 2.0 * W[None]
    if kind == "softmax":
        grad_z = (g * 0.5 * (1 / s1 + 1 / s0) - (g * 0.5 * (u + ur)).sum(1, keepdims=True) / (s1 * s0)) * sec_u
    else:  # y = z - c - log(sum u)
        grad_z = g - g.sum(1, keepdims=True) * (np.log(s1) - np.log(s0)) / (s1 - s0) * sec_u
    _assert_rule(a, grad_z * (z - zr))


def test_layer_norm_swish_and_a_gelu_compose_exactly():
    xs, baseline = samples((N, K), seed=212), samples((K,), seed=213)

    def build(x):
        mean, variance = tf.nn.moments(x, axes=[1], keepdims=True)
        h = (x - mean) * tf.math.rsqrt(variance + 1e-3)
        h = tf.nn.gelu(h, approximate=False) + h * tf.sigmoid(h)
        return h
    a, s = _explain(build, xs, baseline)
    np.testing.assert_allclose(a.sum(axis=1), s, rtol=0, atol=1e-4 * np.abs(s).max())


def test_epsilon_lrp_splits_products_in_halves():
    xs = samples((N, 2 * K), seed=214)
    a, s = _explain(lambda x: x[:, :K] * x[:, K:], xs, np.zeros(2 * K, np.float32), method="elrp")
    # relevance W * a * b of each product, half to each factor; it sums to S(x)
    half = 0.5 * W * xs[:, :K].astype(np.float64) * xs[:, K:]
    _assert_rule(a, np.concatenate([half, half], axis=1))
