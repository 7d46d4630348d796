"""Guided backprop, deconvnet, noise tunnels, expected gradients and gradient SHAP against
independent float64 numpy computations (the same random draws, reproduced from the seed)."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError
from builders import mlp_graph, mlp_weights, samples
import reference as ref

tf1 = tf.compat.v1
CLASSES = np.array([0, 1, 2, 1])
YS = np.eye(3)[CLASSES]


def _setup(seed=400):
    graph, session, x, t = mlp_graph(tf.nn.relu, seed=seed)
    return session, x, t, ref.MLP(mlp_weights(seed=seed), "relu"), samples((4, 5), seed=seed + 1)


def _relu_backward(net, x, rule):
    """The MLP's gradient of S with ``rule(g, z)`` in place of each ReLU's derivative."""
    _, zs = net.forward(np.asarray(x, np.float64))
    g = YS.astype(np.float64)
    for i in range(len(net.layers) - 1, -1, -1):
        g = g @ net.layers[i][0].T
        if i > 0:
            g = rule(g, zs[i - 1])
    return g


@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_guided_backprop_and_deconvnet(method):
    session, x, t, net, xs = _setup()
    rules = {"guided_backprop": lambda g, z: np.maximum(g, 0) * (z > 0), "deconvnet": lambda g, z: np.maximum(g, 0)}
    expected = _relu_backward(net, xs, rules[method])
    with DeepExplain(session=session) as de:
        got = de.explain(method, t, x, xs, ys=CLASSES)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert np.abs(expected - _relu_backward(net, xs, lambda g, z: g * (z > 0))).max() > 1e-3  # not the gradient


def _noisy_copies(xs, samples_per, noise_level, seed):
    sigma = noise_level * (xs.max(axis=1) - xs.min(axis=1))
    noise = np.random.default_rng(seed).standard_normal((len(xs) * samples_per, xs.shape[1]), dtype=np.float32)
    return np.repeat(xs, samples_per, axis=0).astype(np.float64) + noise * np.repeat(sigma, samples_per)[:, None]


@pytest.mark.parametrize("method", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("base", ["saliency", "grad*input"])
def test_noise_tunnels_reproduce_their_draws(method, base):
    session, x, t, net, xs = _setup()
    copies = _noisy_copies(xs, 7, 0.2, seed=5).astype(np.float32)
    per_copy = ref.explain(net, base, copies, np.repeat(YS, 7, axis=0)).reshape(4, 7, 5)
    expected = {"smoothgrad": per_copy.mean(1), "smoothgrad_sq": np.square(per_copy).mean(1),
                "vargrad": per_copy.var(1)}[method]
    with DeepExplain(session=session) as de:
        got = de.explain(method, t, x, xs, ys=CLASSES, samples=7, noise_level=0.2, seed=5, base=base)
        again = de.explain(method, t, x, xs, ys=CLASSES, samples=7, noise_level=0.2, seed=5, base=base,
                           batch_size=1, memory_budget=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(again, got, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_smoothgrad_of_integrated_gradients_and_bad_options():
    session, x, t, net, xs = _setup()
    copies = _noisy_copies(xs, 3, 0.1, seed=1).astype(np.float32)
    expected = ref.explain(net, "intgrad", copies, np.repeat(YS, 3, axis=0), steps=8).reshape(4, 3, 5).mean(1)
    with DeepExplain(session=session) as de:
        got = de.explain("smoothgrad", t, x, xs, ys=CLASSES, samples=3, noise_level=0.1, seed=1, base="intgrad",
                         base_options={"steps": 8})
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
        for options in ({"base": "occlusion"}, {"stdev": 0.1, "noise_level": 0.1}, {"noise_level": -1},
                        {"samples": 0}):
            with pytest.raises(ExplainError):
                de.explain("smoothgrad", t, x, xs, **options)


def _expected_gradients(net, xs, background, samples_per, seed, stdev=0.0):
    draws, noise = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    chosen = draws.integers(0, len(background), (len(xs), samples_per))
    alpha = draws.random((len(xs), samples_per)).astype(np.float32)
    ends = np.repeat(xs, samples_per, axis=0).astype(np.float32)
    if stdev:
        ends = ends + (noise.standard_normal(ends.shape) * stdev).astype(np.float32)
    starts = background[chosen.reshape(-1)].astype(np.float64)
    points = starts + alpha.reshape(-1, 1) * (ends - starts)
    _, zs = net.forward(points)
    g = np.repeat(YS, samples_per, axis=0).astype(np.float64)
    for i in range(len(net.layers) - 1, -1, -1):
        g = g @ net.layers[i][0].T
        if i > 0:
            g = g * (zs[i - 1] > 0)
    return ((ends - starts) * g).reshape(len(xs), samples_per, -1).mean(axis=1)


@pytest.mark.parametrize("method", ["expected_gradients", "gradient_shap"])
def test_expected_gradients_and_gradient_shap_reproduce_their_draws(method):
    session, x, t, net, xs = _setup()
    background = samples((30, 5), seed=402)
    stdev = 0.1 if method == "gradient_shap" else 0.0
    expected = _expected_gradients(net, xs, background, 40, seed=9, stdev=stdev)
    options = {"baselines": background, "samples": 40, "seed": 9, **({"stdev": stdev} if stdev else {})}
    with DeepExplain(session=session) as de:
        got = de.explain(method, t, x, xs, ys=CLASSES, **options)
        chunked = de.explain(method, t, x, xs, ys=CLASSES, batch_size=3, memory_budget=500, **options)
        with pytest.raises(ExplainError, match="baselines"):
            de.explain(method, t, x, xs)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(chunked, got, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_expected_gradients_sum_to_the_mean_difference_from_the_background():
    """Each draw's attributions sum to S(x) - S(b_k) in expectation over alpha; over many draws
    the total approaches S(x) - mean_b S(b) (a 5-sigma statistical test)."""
    session, x, t, net, xs = _setup()
    background = samples((10, 5), seed=403)
    with DeepExplain(session=session) as de:
        a = de.explain("expected_gradients", t, x, xs, ys=CLASSES, baselines=background, samples=4000, seed=2)
    target = ref.score(net, xs, YS) - np.mean([ref.score(net, np.repeat(b[None], 4, 0), YS) for b in background], 0)
    # spread of one draw's total, estimated from 200 numpy draws
    single = [_expected_gradients(net, xs, background, 1, seed=s).sum(axis=1) for s in range(200)]
    sigma = np.std(single, axis=0) / np.sqrt(4000)
    assert np.all(np.abs(a.sum(axis=1) - target) < 5 * sigma + 1e-4)


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_deeplift_shap_is_deeplift_averaged_over_the_background_and_sums_exactly(activation):
    tf_activation = {"relu": tf.nn.relu, "tanh": tf.tanh, "elu": tf.nn.elu}[activation]
    _, session, x, t = mlp_graph(tf_activation, seed=400)
    net, xs = ref.MLP(mlp_weights(seed=400), activation), samples((4, 5), seed=401)
    background = samples((6, 5), seed=404)
    expected = np.mean([ref.explain(net, "deeplift", xs, YS, baseline=b) for b in background], axis=0)
    target = ref.score(net, xs, YS) - np.mean([ref.score(net, np.repeat(b[None], 4, 0), YS) for b in background], 0)
    with DeepExplain(session=session) as de:
        got = de.explain("deeplift_shap", t, x, xs, ys=CLASSES, baselines=background)
        chunked = de.explain("deeplift_shap", t, x, xs, ys=CLASSES, baselines=background, batch_size=1,
                             memory_budget=1)
        with pytest.raises(ExplainError, match="baselines"):
            de.explain("deeplift_shap", t, x, xs)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(got.sum(axis=1), target, rtol=0, atol=1e-5 * np.abs(target).max())
    np.testing.assert_allclose(chunked, got, rtol=0, atol=1e-5 * np.abs(expected).max())
