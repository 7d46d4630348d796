"""Integrated gradients' quadrature rules and its tolerance, against numpy on small nets."""
import warnings

import numpy as np
import pytest
from scipy.special import roots_legendre

import reference as ref
from deepexplain_ng import ConvergenceWarning, DeepExplain, ExplainError
from test_reference import assert_close_rel, cnn_pair, mlp_pair, samples


def nodes(rule, n):
    """Points and weights on [0, 1], written out independently of the library."""
    k = np.arange(1, n + 1)
    if rule == "riemann_right":
        return k / n, np.ones(n) / n
    if rule == "riemann_left":
        return (k - 1) / n, np.ones(n) / n
    if rule == "riemann_middle":
        return (k - 0.5) / n, np.ones(n) / n
    if rule == "riemann_trapezoid":
        h = 1 / (n - 1)
        return (k - 1) * h, np.array([h / 2] + [h] * (n - 2) + [h / 2])
    x, w = roots_legendre(n)
    return (x + 1) / 2, w / 2


def numpy_ig(net, xs, ys, rule, n):
    """(x - b) * sum_k w_k grad S(alpha_k x), baseline 0, float64."""
    alphas, weights = nodes(rule, n)
    xs = np.asarray(xs, np.float64)
    total = sum(w * ref._modified_gradient(net, "gradient", a * xs, ys) for a, w in zip(alphas, weights))
    return xs * total


RULES = ["riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gauss_legendre"]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("pair", ["mlp", "cnn"])
def test_each_rule_matches_numpy(rule, pair):
    if pair == "mlp":
        net, session, x, t = mlp_pair("tanh", seed=40)
        xs = samples((4, 5), seed=41, scale=2.0)
    else:
        net, session, x, t = cnn_pair("softplus", seed=42)
        xs = samples((3, 6, 6, 2), seed=43)
    classes = np.arange(len(xs)) % 3
    with DeepExplain(session=session) as de:
        got = de.explain("intgrad", t, x, xs, ys=classes, steps=7, rule=rule, batch_size=2)
    assert_close_rel(got, numpy_ig(net, xs, np.eye(3)[classes], rule, 7))


def test_gauss_legendre_beats_riemann_on_a_smooth_net():
    net, session, x, t = mlp_pair("tanh", seed=44)
    xs, classes = samples((6, 5), seed=45, scale=2.0), np.arange(6) % 3
    ys = np.eye(3)[classes]
    change = ref.score(net, xs, ys) - ref.score(net, 0 * xs, ys)
    errors = {}
    with DeepExplain(session=session) as de:
        for rule in ("riemann_right", "gauss_legendre"):
            a = de.explain("intgrad", t, x, xs, ys=classes, steps=8, rule=rule)
            errors[rule] = np.abs(a.sum(axis=1) - change).max()
    # Gauss-Legendre is exact for polynomials of degree 15: far better than a first-order rule
    assert errors["gauss_legendre"] < errors["riemann_right"] / 20


@pytest.mark.parametrize("rule", RULES)
def test_tolerance_refines_each_sample_until_the_residual_is_small(rule):
    net, session, x, t = mlp_pair("relu", seed=46)
    xs, classes = samples((8, 5), seed=47, scale=3.0), np.arange(8) % 3
    ys = np.eye(3)[classes]
    change = ref.score(net, xs, ys) - ref.score(net, 0 * xs, ys)
    start = 4
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("intgrad", t, x, rule=rule, steps=start, tolerance=0.01)
        got = explainer.run(xs, ys=classes)
        used, delta = explainer.steps_used.copy(), explainer.convergence_delta.copy()
        # every sample's result is the fixed-step rule at the count it stopped at
        for count in np.unique(used):
            rows = used == count
            fixed = de.explain("intgrad", t, x, xs[rows], ys=classes[rows], rule=rule, steps=int(count))
            assert_close_rel(got[rows], fixed.astype(np.float64), rtol=1e-5)
    residual = got.astype(np.float64).sum(axis=1) - change
    np.testing.assert_allclose(delta, residual, rtol=0, atol=1e-5 * np.abs(change).max())
    assert np.all(np.abs(residual) <= 0.01 * np.abs(change) + 1e-5 * np.abs(change).max())
    doubling = (lambda m: 2 * m - 1) if rule == "riemann_trapezoid" else (lambda m: 2 * m)
    levels = [start]
    while levels[-1] < used.max():
        levels.append(doubling(levels[-1]))
    assert set(used) <= set(levels) and used.max() > start  # refined where needed, by doubling
    assert len(set(used)) > 1  # ... and only where needed: per sample


def test_convergence_delta_without_tolerance_and_a_warning_at_max_steps():
    net, session, x, t = mlp_pair("relu", seed=48)
    xs, classes = samples((5, 5), seed=49, scale=3.0), np.arange(5) % 3
    ys = np.eye(3)[classes]
    change = ref.score(net, xs, ys) - ref.score(net, 0 * xs, ys)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("intgrad", t, x, steps=3)
        a = explainer.run(xs, ys=classes)
        np.testing.assert_allclose(explainer.convergence_delta, a.sum(axis=1) - change, rtol=0,
                                   atol=1e-5 * np.abs(change).max())
        assert np.all(explainer.steps_used == 3) and np.abs(explainer.convergence_delta).max() > 1e-3
        with pytest.warns(ConvergenceWarning, match="max_steps=8"):
            de.explain("intgrad", t, x, xs, ys=classes, steps=2, tolerance=1e-9, max_steps=8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            de.explain("intgrad", t, x, xs, ys=classes, steps=2, tolerance=0.5, max_steps=4096)


@pytest.mark.parametrize("options, match", [
    ({"rule": "simpson"}, "rule: expected one of"),
    ({"rule": "riemann_trapezoid", "steps": 1}, "at least 2"),
    ({"tolerance": -0.1}, "tolerance must be a positive"),
    ({"tolerance": "small"}, "tolerance must be None or"),
    ({"tolerance": 0.01, "steps": 64, "max_steps": 32}, "max_steps"),
])
def test_bad_rule_options(options, match):
    _, session, x, t = mlp_pair("relu", seed=50)
    with DeepExplain(session=session) as de, pytest.raises(ExplainError, match=match):
        de.explain("intgrad", t, x, samples((2, 5)), **options)
