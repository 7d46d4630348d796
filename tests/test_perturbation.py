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
        # the telescoping sum holds for every single order, so for one order, a pair, a pair
        # and a half: each sample's attributions sum to its own S(x) - S(baseline)
        for seed, k in enumerate((1, 2, 3)):
            a = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=k, seed=seed,
                           sampling_dims=dims, baseline=baseline, expand=True)
            np.testing.assert_allclose(a.sum(axis=(1, 2, 3)), score, rtol=1e-4, atol=1e-5)
    if dims == [1, 2]:  # a pixel's channels are one feature: its credit is split evenly
        np.testing.assert_allclose(a[..., 0], a[..., 1], rtol=1e-6)


def sequential_shapley(session, x, t, xs, classes, orders, dims):
    """The plain algorithm, one session.run per removal, with the given orders (n, samples, F)."""
    shape = xs.shape[1:]
    feature_shape = tuple(shape[d - 1] for d in dims)
    samples_ = orders.shape[1]
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
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("shapley_sampling", t, x, samples=3, seed=7, sampling_dims=[1, 2],
                                     expand=True)
        orders = explainer._prepare([xs], {})
        # a pair (an order and its reverse), then the first order of the next pair
        assert orders.shape == (3, 3, 36)
        np.testing.assert_array_equal(orders[:, 1], orders[:, 0, ::-1])
        assert (np.sort(orders, axis=2) == np.arange(36)).all()
        expected = sequential_shapley(session, x, t, xs, classes, orders, [1, 2])
        for batch_size, budget in ((None, None), (1, 5000), (2, 1)):
            a = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=3, seed=7, sampling_dims=[1, 2],
                           expand=True, batch_size=batch_size, memory_budget=budget)
            np.testing.assert_allclose(a, expected, rtol=1e-4, atol=1e-6)
        other = de.explain("shapley_sampling", t, x, xs, ys=classes, samples=3, seed=8, sampling_dims=[1, 2], expand=True)
    assert np.abs(other - expected).max() > 1e-4


def float32_tolerance(values, terms=1):
    """Rounding bound of float32 model outputs: ``terms`` roundings of the largest |value|."""
    return 8 * terms * np.finfo(np.float32).eps * np.abs(values).max()


def coalition_values(model, x, baseline):
    """model(point) for every coalition of features present (the rest at the baseline)."""
    present = list(itertools.product([False, True], repeat=len(x)))
    return np.array([model(np.where(p, x, baseline)) for p in present])


TWO_FEATURE_MODELS = {
    "min": (lambda x: tf.minimum(x[:, 0], x[:, 1]), lambda v: min(v[0], v[1])),
    "product": (lambda x: x[:, 0] * x[:, 1], lambda v: v[0] * v[1]),
    "relu of a sum times x1": (lambda x: tf.nn.relu(x[:, 0] + x[:, 1] - 0.3) * x[:, 0],
                               lambda v: max(v[0] + v[1] - 0.3, 0) * v[0]),
}


@pytest.mark.parametrize("name", sorted(TWO_FEATURE_MODELS))
def test_shapley_pairs_are_exact_on_two_feature_models(name):
    """An order and its reverse are both orders of two features: samples=2 is exact enumeration."""
    build, model = TWO_FEATURE_MODELS[name]
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 2))
        t = build(x)
    xs, baseline = samples((6, 2), seed=53) * 2, samples((2,), seed=54)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for k, seed in ((2, 0), (2, 1), (4, 2)):
            a = de.explain("shapley_sampling", t, x, xs, samples=k, seed=seed, baseline=baseline)
            for row, point in zip(a, xs.astype(np.float64)):
                exact = exact_shapley(model, point, baseline.astype(np.float64))
                tolerance = float32_tolerance(coalition_values(model, point, baseline))
                np.testing.assert_allclose(row, exact, rtol=0, atol=tolerance)
        # one order alone is not the Shapley value (the pair is what makes it exact)
        single = de.explain("shapley_sampling", t, x, xs, samples=1, seed=0, baseline=baseline)
    exact = np.array([exact_shapley(model, p, baseline.astype(np.float64)) for p in xs.astype(np.float64)])
    assert np.abs(single - exact).max() > 0.1


def test_shapley_pairs_are_exact_on_two_features_of_several_cells():
    """sampling_dims=[1] on (2, 3) inputs: two features (rows) of three cells each."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 2, 3))
        t = tf.minimum(tf.reduce_sum(x[:, 0], axis=1), tf.reduce_sum(x[:, 1], axis=1))
    xs, baseline = samples((8, 2, 3), seed=55), samples((2, 3), seed=56)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        a = de.explain("shapley_sampling", t, x, xs, samples=2, seed=3, sampling_dims=[1], baseline=baseline, expand=True)
    for row, point in zip(a, xs.astype(np.float64)):
        sums, base_sums = point.sum(axis=1), baseline.astype(np.float64).sum(axis=1)
        exact = exact_shapley(min, sums, base_sums)
        tolerance = float32_tolerance(np.abs(point).sum(axis=1) + np.abs(baseline).sum(axis=1), terms=3)
        np.testing.assert_allclose(row, np.repeat(exact[:, None] / 3, 3, axis=1), rtol=0, atol=tolerance)


def test_shapley_pairs_are_exact_when_interactions_involve_two_features_at_most():
    """A quadratic form x'Ax + w.x of 6 features: every pair of orders gives the Shapley values."""
    rng = np.random.default_rng(56)
    features = 6
    a_matrix, w = rng.normal(size=(features, features)), rng.normal(size=features)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, features))
        t = tf.reduce_sum(tf.matmul(x, a_matrix.astype(np.float32)) * x, axis=1) + tf.linalg.matvec(
            x, w.astype(np.float32))
    model = lambda v: v @ a_matrix.astype(np.float32) @ v + w.astype(np.float32) @ v  # noqa: E731
    xs, baseline = samples((3, features), seed=57), samples((features,), seed=58)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        results = {k: de.explain("shapley_sampling", t, x, xs, samples=k, seed=k, baseline=baseline)
                   for k in (1, 2, 6)}
    for i, point in enumerate(xs.astype(np.float64)):
        exact = exact_shapley(model, point, baseline.astype(np.float64))
        # rounding: each output is a float32 sum of features**2 + features terms; bound it by
        # the sum of their magnitudes, rounded about `features` times along the way
        sizes = coalition_values(lambda p: np.abs(p) @ np.abs(a_matrix) @ np.abs(p) + np.abs(w) @ np.abs(p),
                                 point, baseline)
        tolerance = float32_tolerance(sizes, terms=features)
        for k in (2, 6):
            np.testing.assert_allclose(results[k][i], exact, rtol=0, atol=tolerance)
        assert np.abs(results[1][i] - exact).max() > 100 * tolerance  # a single order is not exact


def test_shapley_orders_stay_uniform_so_odd_samples_are_unbiased():
    """Every order (including the unpaired last one) is a uniform random permutation."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4))
        # interactions of three and four features, which pairs of orders do not make exact
        t = x[:, 0] * x[:, 1] * x[:, 2] + 2 * x[:, 0] * x[:, 1] * x[:, 2] * x[:, 3] + tf.nn.relu(
            x[:, 1] - x[:, 3])
    model = lambda v: v[0] * v[1] * v[2] + 2 * v[0] * v[1] * v[2] * v[3] + max(v[1] - v[3], 0)  # noqa: E731
    point = np.array([1.5, -1.0, 2.0, 0.5], np.float32)
    exact = exact_shapley(model, point.astype(np.float64), np.zeros(4))
    copies = 4000  # each copy of the point gets its own orders
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        for k in (1, 3):
            a = de.explain("shapley_sampling", t, x, np.repeat(point[None], copies, 0), samples=k, seed=59)
            error = np.abs(a.mean(axis=0) - exact)
            assert a.std(axis=0).min() > 0.1  # the estimates do vary
            assert (error < 4 * a.std(axis=0) / np.sqrt(copies)).all(), (k, error, a.std(axis=0))


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
            with pytest.raises(ValueError, match="Use a feature-group method"):
                de.explain(method, t, [a, b], [np.ones((1, 2)), np.ones((1, 2))])


def test_balanced_pairs_are_exact_on_three_feature_models():
    """Three balanced pairs of three features are all six orders: exact enumeration, where
    independent orthogonal pairs repeat some orders and miss others."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 3))
        t = x[:, 0] * x[:, 1] * x[:, 2] + tf.nn.relu(x[:, 0] - x[:, 1] * x[:, 2])
    model = lambda v: v[0] * v[1] * v[2] + max(v[0] - v[1] * v[2], 0)  # noqa: E731
    xs, baseline = samples((20, 3), seed=60) * 1.5, samples((3,), seed=61)
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        balanced = de.explain("shapley_sampling", t, x, xs, samples=6, seed=0, baseline=baseline)
        orthogonal = de.explain("shapley_sampling", t, x, xs, samples=6, seed=0, baseline=baseline,
                                design="orthogonal")
    worst_orthogonal = 0.0
    for b, o, point in zip(balanced, orthogonal, xs.astype(np.float64)):
        exact = exact_shapley(model, point, baseline.astype(np.float64))
        tolerance = float32_tolerance(np.abs(coalition_values(model, point, baseline)) + 1, terms=3)
        np.testing.assert_allclose(b, exact, rtol=0, atol=tolerance)
        worst_orthogonal = max(worst_orthogonal, np.abs(o - exact).max() / tolerance)
    assert worst_orthogonal > 100


@pytest.mark.parametrize("design", ["balanced", "orthogonal", "antithetic", "independent"])
def test_every_design_gives_uniform_permutations(design):
    from deepexplain_ng import orders

    n, samples_, features = 3000, 5, 5
    drawn = orders.design(design, np.random.default_rng(62), n, samples_, features)
    assert drawn.shape == (n, samples_, features) and (np.sort(drawn, axis=2) == np.arange(features)).all()
    if design != "independent":
        np.testing.assert_array_equal(drawn[:, 1::2], drawn[:, 0:-1:2, ::-1])
    # each order on its own is uniform: every feature first 1/F of the time, 5 sigma
    for k in range(samples_):
        frequency = np.bincount(drawn[:, k, 0], minlength=features) / n
        sigma = np.sqrt((1 / features) * (1 - 1 / features) / n)
        assert np.abs(frequency - 1 / features).max() < 5 * sigma, (k, frequency)
