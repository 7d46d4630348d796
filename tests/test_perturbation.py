"""Occlusion and Shapley value sampling: maths, sequential equivalence, bounded batches, errors."""
import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain
from builders import cnn, mlp, mlp_weights, samples

tf1 = tf.compat.v1


def linear_graph(shape, classes=3, seed=40):
    w = samples(shape + (classes,), seed=seed)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + shape)
        t = tf.tensordot(x, w, axes=len(shape))
    return tf1.Session(graph=graph), x, t, w


def cnn_graph(seed=41):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6, 6, 2))
        t = cnn(x, seed=seed, activation=tf.nn.tanh)
    return tf1.Session(graph=graph), x, t


@pytest.mark.parametrize("shape", [(7,), (4, 4, 2)])
def test_occlusion_with_window_one_is_w_times_x_on_a_linear_model(shape):
    session, x, t, w = linear_graph(shape)
    xs, classes = samples((3,) + shape, seed=42), np.array([2, 0, 1])
    with DeepExplain(session=session) as de:
        a = de.explain("occlusion", t, x, xs, ys=classes)
    expected = xs * np.moveaxis(w, -1, 0)[classes]
    np.testing.assert_allclose(a, expected, rtol=1e-4, atol=1e-5)


def sequential_occlusion(session, x, t, xs, classes, window, step, baseline):
    """The plain algorithm: one session.run per window."""
    score = lambda v: session.run(t, {x: v})[np.arange(len(v)), classes]  # noqa: E731
    index = np.arange(np.prod(xs.shape[1:])).reshape(xs.shape[1:])
    from skimage.util import view_as_windows
    windows = view_as_windows(index, window, step).reshape(-1, int(np.prod(window)))
    total = np.zeros((len(xs), index.size))
    sizes = np.zeros(index.size)
    reference = score(xs)
    for win in windows:
        perturbed = xs.reshape(len(xs), -1).copy()
        perturbed[:, win] = baseline.reshape(-1)[win]
        delta = reference - score(perturbed.reshape(xs.shape))
        total[:, win] += delta[:, None]
        sizes[win] += len(win)
    return (total / sizes).reshape(xs.shape)


def test_occlusion_equals_the_sequential_algorithm_whatever_the_chunking():
    session, x, t = cnn_graph()
    xs, classes = samples((3, 6, 6, 2), seed=43), np.array([0, 2, 1])
    baseline = samples((6, 6, 2), seed=44)
    expected = sequential_occlusion(session, x, t, xs, classes, (2, 2, 2), (1, 2, 2), baseline)
    with DeepExplain(session=session) as de:
        for options in ({}, {"memory_budget": 3000}, {"memory_budget": 1}):
            for batch_size in (None, 2):
                a = de.explain("occlusion", t, x, xs, ys=classes, batch_size=batch_size,
                               window_shape=(2, 2, 2), step=(1, 2, 2), baseline=baseline, **options)
                np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-6)


def test_uncovered_features_are_nan_with_a_warning():
    session, x, t, _ = linear_graph((5, 5))
    with DeepExplain(session=session) as de:
        with pytest.warns(UserWarning, match="leaves 9 of 25 features uncovered"):
            a = de.explain("occlusion", t, x, samples((2, 5, 5)), window_shape=2, step=2)
    assert np.isnan(a[:, 4, :]).all() and np.isnan(a[:, :, 4]).all()
    assert np.isfinite(a[:, :4, :4]).all()


def test_occlusion_memory_stays_bounded():
    """Every session.run gets at most the rows the memory budget allows."""
    session, x, t, _ = linear_graph((16, 16, 3))
    seen = []
    run = session.run

    def spy(fetches, feed_dict=None, **kwargs):
        seen.append(max(len(v) for v in feed_dict.values() if np.ndim(v) > 0))
        return run(fetches, feed_dict, **kwargs)

    session.run = spy
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("occlusion", t, x, window_shape=(1, 1, 3), memory_budget=64 * 1024)
        explainer.run(samples((2, 16, 16, 3)))
    limit = explainer.rows_per_run()
    assert limit < 100 and max(seen) <= limit and sum(seen) >= 2 * 256


def exact_shapley(score, x, baseline):
    """Shapley values by enumerating every coalition (feature present = value of x)."""
    n = len(x)
    values = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for coalition in itertools.combinations(others, size):
                point = baseline.copy()
                point[list(coalition)] = x[list(coalition)]
                without = score(point)
                point[i] = x[i]
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                values[i] += weight * (score(point) - without)
    return values


def test_shapley_sampling_converges_to_exact_values():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6))
        t = mlp(x, mlp_weights((6, 10, 3), seed=45), tf.nn.tanh)
    session = tf1.Session(graph=graph)
    xs, baseline = samples((1, 6), seed=46) * 2, samples((6,), seed=47)
    score = lambda v: session.run(t, {x: v[None].astype(np.float32)})[0, 1]  # noqa: E731
    exact = exact_shapley(score, xs[0].astype(np.float64), baseline.astype(np.float64))
    with DeepExplain(session=session) as de:
        errors = [np.abs(de.explain("shapley_sampling", t, x, xs, ys=[1], samples=k, seed=0,
                                    baseline=baseline)[0] - exact).max() for k in (20, 3000)]
    assert errors[1] < errors[0]
    assert errors[1] < 0.03 * np.abs(exact).max(), (errors, exact)


@pytest.mark.parametrize("dims", [None, [1, 2], [3]])
def test_shapley_efficiency_every_order_sums_to_the_delta(dims):
    session, x, t = cnn_graph(seed=48)
    xs, classes, baseline = samples((2, 6, 6, 2), seed=49), np.array([1, 2]), samples((6, 6, 2), seed=50)
    score = session.run(t, {x: xs})[[0, 1], classes] - session.run(t, {x: baseline[None]})[0, classes]
    with DeepExplain(session=session) as de:
        for seed in range(3):  # one order each: the telescoping sum holds for every single order
            a = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=1, seed=seed,
                           sampling_dims=dims, baseline=baseline)
            np.testing.assert_allclose(a.sum(axis=(1, 2, 3)), score, rtol=1e-4, atol=1e-5)
    if dims == [1, 2]:  # a pixel's channels are one feature: its credit is split evenly
        np.testing.assert_allclose(a[..., 0], a[..., 1], rtol=1e-6)


def sequential_shapley(session, x, t, xs, classes, samples_, seed, dims):
    """The plain algorithm, one session.run per removal, with the same orders as the library."""
    shape = xs.shape[1:]
    feature_shape = tuple(shape[d - 1] for d in dims)
    features = int(np.prod(feature_shape))
    orders = np.argsort(np.random.default_rng(seed).random((len(xs), samples_, features)), axis=2)
    result = np.zeros(xs.shape)
    for i in range(len(xs)):
        for order in orders[i]:
            current = xs[i].copy()
            previous = session.run(t, {x: current[None]})[0, classes[i]]
            for feature in order:
                cell = np.unravel_index(feature, feature_shape)
                index = [slice(None)] * len(shape)
                for d, c in zip(dims, cell):
                    index[d - 1] = c
                current[tuple(index)] = 0
                now = session.run(t, {x: current[None]})[0, classes[i]]
                cells = current[tuple(index)].size
                result[i][tuple(index)] += (previous - now) / cells / samples_
                previous = now
    return result


def test_shapley_equals_the_sequential_algorithm_and_seed_batching_never_change_it():
    session, x, t = cnn_graph(seed=51)
    xs, classes = samples((3, 6, 6, 2), seed=52), np.array([0, 1, 2])
    expected = sequential_shapley(session, x, t, xs, classes, 2, 7, [1, 2])
    with DeepExplain(session=session) as de:
        for batch_size, budget in ((None, None), (1, 5000), (2, 1)):
            a = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=2, seed=7, sampling_dims=[1, 2],
                           batch_size=batch_size, memory_budget=budget)
            np.testing.assert_allclose(a, expected, rtol=1e-4, atol=1e-6)
        other = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=2, seed=8, sampling_dims=[1, 2])
    assert np.abs(other - expected).max() > 1e-4


def test_progress_bar_can_be_switched_on_and_off(capsys, monkeypatch):
    session, x, t, _ = linear_graph((8, 8))
    xs = samples((2, 8, 8))
    with DeepExplain(session=session) as de:
        de.explain("occlusion", t, x, xs, progress=True, memory_budget=4096)
        assert "occlusion" in capsys.readouterr().err
        de.explain("occlusion", t, x, xs, progress=False, memory_budget=4096)
        monkeypatch.setenv("DEEPEXPLAIN_NG_PROGRESS", "0")
        de.explain("shapley_sampling", t, x, xs, memory_budget=4096)
        assert capsys.readouterr().err == ""


@pytest.mark.parametrize("method, options, error, message", [
    ("occlusion", {"window_shape": 9}, ValueError, r"window_shape: \(9, 9\) is larger than .* \(5, 5\)"),
    ("occlusion", {"window_shape": (2, 2, 2)}, TypeError, r"window_shape: expected an int or a tuple of 2 ints"),
    ("occlusion", {"step": 0}, ValueError, r"step: values must be positive, got \(0, 0\)"),
    ("occlusion", {"baseline": np.zeros(3)}, ValueError, r"baseline: expected a scalar or an array .* \(5, 5\), got \(3,\)"),
    ("shapley_sampling", {"sampling_dims": [0, 1]}, ValueError, r"sampling_dims: expected distinct axes of the input in 1..2"),
    ("shapley_sampling", {"samples": 0}, ValueError, r"samples must be a positive integer, got 0"),
    ("shapley_sampling", {"seed": "x"}, TypeError, r"seed must be None or an int"),
    ("shapley_sampling", {"steps": 3}, TypeError, r"unknown keyword\(s\) \['steps'\]"),
])
def test_bad_options(method, options, error, message):
    session, x, t, _ = linear_graph((5, 5))
    with DeepExplain(session=session) as de:
        with pytest.raises(error, match=message):
            de.explain(method, t, x, samples((1, 5, 5)), **options)
        assert de.explain(method, t, x, samples((1, 5, 5))).shape == (1, 5, 5)  # still usable


def test_multiple_inputs_are_refused_with_advice():
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf1.placeholder(tf.float32, (None, 2)), tf1.placeholder(tf.float32, (None, 2))
        t = a + b
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for method in ("occlusion", "shapley_sampling"):
            with pytest.raises(ValueError, match="Concatenate them into one input tensor"):
                de.explain(method, t, [a, b], [np.ones((1, 2)), np.ones((1, 2))])
