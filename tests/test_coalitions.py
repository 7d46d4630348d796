"""Feature groups, feature ablation, KernelSHAP and LIME against exact values computed in numpy."""
import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from deepexplain_ng import DeepExplain, ExplainError, groups
from builders import samples

tf1 = tf.compat.v1


def _linear_image_model(seed=110):
    w = np.random.default_rng(seed).normal(size=(4, 4, 2)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 4, 4, 2))
        t = tf.reduce_sum(x * w, axis=(1, 2, 3))[:, None]
    return tf1.Session(graph=graph), x, t, w.astype(np.float64)


QUADRANTS = np.kron(np.arange(4).reshape(2, 2), np.ones((2, 2), int))  # (4, 4): 4 groups of 2x2 pixels


def _expected_linear(xs, w, baseline, mask):
    """Each group's value w.(x - b) over its cells, spread evenly over the cells."""
    full = np.broadcast_to(mask[..., None], xs.shape[1:])
    out = np.empty(xs.shape)
    for i, x in enumerate(xs.astype(np.float64)):
        terms = w * (x - baseline)
        for g in np.unique(full):
            cells = full == g
            out[i][cells] = terms[cells].sum() / cells.sum()
    return out


@pytest.mark.parametrize("method, options", [("feature_ablation", {}), ("lime", {"samples": 60, "seed": 1}),
                                             ("kernel_shap", {"samples": 14, "seed": 2})])
def test_group_values_on_a_linear_model_are_w_times_x_minus_b(method, options):
    session, x, t, w = _linear_image_model()
    xs, baseline = samples((3, 4, 4, 2), seed=111), 0.5
    with DeepExplain(session=session) as de:
        got = de.explain(method, t, x, xs, feature_mask=QUADRANTS, baseline=baseline, batch_size=2,
                         memory_budget=5000, **options)
    expected = _expected_linear(xs, w, baseline, QUADRANTS)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def _nonlinear(groups_count=6, seed=112):
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(size=(groups_count, 8)).astype(np.float32), rng.normal(size=(8,)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, groups_count))
        t = tf.reduce_sum(tf.tanh(tf.matmul(x, w1)) * w2, axis=1, keepdims=True)
    session = tf1.Session(graph=graph)
    return session, x, t


def _exact_shapley(session, x, t, point, baseline):
    """Exact Shapley values of the cells of ``point`` (each its own group), by enumeration."""
    return _exact_group_shapley(session, x, t, point, baseline, np.arange(len(point)))


def test_kernel_shap_enumerating_every_coalition_is_exact():
    session, x, t = _nonlinear()
    xs, baseline = samples((3, 6), seed=113) * 1.5, samples((6,), seed=114)
    with DeepExplain(session=session) as de:
        got = de.explain("kernel_shap", t, x, xs, samples=62, baseline=baseline)
    for row, point in zip(got, xs):
        exact = _exact_shapley(session, x, t, point, baseline)
        np.testing.assert_allclose(row, exact, rtol=0, atol=1e-5 * np.abs(exact).max())


def test_sampled_kernel_shap_converges_to_the_shapley_values():
    session, x, t = _nonlinear(groups_count=8, seed=115)
    point, baseline = samples((1, 8), seed=116) * 1.5, np.zeros(8, np.float32)
    exact = _exact_shapley(session, x, t, point[0], baseline)
    with DeepExplain(session=session) as de:
        runs = np.array([de.explain("kernel_shap", t, x, point, samples=60, seed=s)[0] for s in range(40)])
    assert np.abs(runs.sum(axis=1) - exact.sum()).max() < 1e-4  # efficiency, exactly
    spread = runs.std(axis=0, ddof=1)
    assert spread.min() > 0  # sampled, not enumerated (254 coalitions > 60)
    assert np.all(np.abs(runs.mean(axis=0) - exact) < 5 * spread / np.sqrt(len(runs)) + 1e-4)


def test_feature_ablation_is_one_change_per_group_and_seeds_make_lime_reproducible():
    session, x, t = _nonlinear(seed=117)
    xs = samples((4, 6), seed=118)
    mask = np.array([0, 0, 1, 1, 2, 2])
    with DeepExplain(session=session) as de:
        ablation = de.explain("feature_ablation", t, x, xs, feature_mask=mask)
        lime_a = de.explain("lime", t, x, xs, feature_mask=mask, samples=30, seed=4)
        lime_b = de.explain("lime", t, x, xs, feature_mask=mask, samples=30, seed=4, batch_size=1, memory_budget=100)
    full = session.run(t, {x: xs})[:, 0]
    for g in range(3):
        removed = xs.copy()
        removed[:, mask == g] = 0
        change = full - session.run(t, {x: removed})[:, 0]
        np.testing.assert_allclose(ablation[:, mask == g], np.repeat(change[:, None] / 2, 2, axis=1), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(lime_a, lime_b, rtol=1e-5, atol=1e-6)


def test_grid_slic_and_per_sample_masks():
    image = np.random.default_rng(119).random((2, 8, 8, 3)).astype(np.float32)
    labels, counts = groups.resolve("grid", image, (8, 8, 3), cell=4)
    assert labels.shape == (2, 192) and list(counts) == [4, 4]
    assert len(np.unique(labels[0].reshape(8, 8, 3)[:4, :4])) == 1  # a cell, all channels
    from skimage import data
    from skimage.transform import resize
    astronaut = resize(data.astronaut(), (32, 32), anti_aliasing=True)[None].astype(np.float32)
    labels, counts = groups.resolve("slic", astronaut, (32, 32, 3), n_segments=20)
    assert 5 <= counts[0] <= 40 and (labels[0].reshape(32, 32, 3) == labels[0].reshape(32, 32, 3)[..., :1]).all()
    per_sample = np.stack([np.zeros((8, 8), int), np.arange(64).reshape(8, 8) // 32])
    _, counts = groups.resolve(per_sample, image, (8, 8, 3))
    assert list(counts) == [1, 2]
    with pytest.raises(ExplainError, match="feature_mask: expected integer group ids"):
        groups.resolve(np.zeros((5, 5), int), image, (8, 8, 3))
    with pytest.raises(ExplainError, match="integer group ids, got dtype float"):
        groups.resolve(np.zeros((8, 8)), image, (8, 8, 3))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 40), min_size=1, max_size=30), st.sampled_from([1, 10 ** 9]))
def test_group_ids_are_ranked_as_numpy_unique_ranks_them(ids, scale):
    """Any integer ids, dense (the lookup table) or sparse (the sort), are renumbered 0..k-1
    in increasing order, per sample."""
    mask = np.array(ids, np.int64) * scale
    labels, counts = groups.resolve(mask, np.zeros((2, len(ids)), np.float32), (len(ids),))
    distinct, inverse = np.unique(mask, return_inverse=True)
    assert list(counts) == [len(distinct)] * 2
    np.testing.assert_array_equal(labels, [inverse, inverse])


def test_feature_permutation_swaps_each_group_with_another_samples_values():
    session, x, t, w = _linear_image_model(seed=130)
    xs = samples((5, 4, 4, 2), seed=131)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("feature_permutation", t, x, feature_mask=QUADRANTS, seed=5)
        got = explainer.run(xs, ys=np.zeros(5, int), batch_size=2)
        _, shift = explainer._prepare([xs], {})
        with pytest.raises(ExplainError, match="at least two samples"):
            explainer.run(xs[:1])
    assert np.all(shift != np.arange(5))
    # linear model: a group's credit is w . (x - x_donor) over its cells, spread over them
    expected = np.stack([_expected_linear(xs[i:i + 1], w, xs[shift[i]].astype(np.float64), QUADRANTS)[0]
                         for i in range(5)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def _exact_group_shapley(session, x, t, point, baseline, mask):
    g = int(mask.max()) + 1
    coalitions = np.array(list(itertools.product([0, 1], repeat=g)), bool)
    rows = np.where(coalitions[:, mask], point, baseline)
    values = dict(zip(map(tuple, coalitions), session.run(t, {x: rows})[:, 0].astype(np.float64)))
    phi = np.zeros(g)
    for c in coalitions:
        for i in np.flatnonzero(~c):
            s = int(c.sum())
            with_i = c.copy()
            with_i[i] = True
            phi[i] += math.factorial(s) * math.factorial(g - s - 1) / math.factorial(g) * (
                values[tuple(with_i)] - values[tuple(c)])
    return phi


def test_shapley_sampling_on_feature_groups_is_exact_for_three_groups():
    """Three balanced pairs of three groups are all six orders; per-sample masks may differ."""
    session, x, t = _nonlinear(seed=132)
    xs, baseline = samples((3, 6), seed=133) * 1.5, samples((6,), seed=134)
    masks = np.array([[0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 1]])  # the last: two groups
    with DeepExplain(session=session) as de:
        got = de.explain("shapley_sampling", t, x, xs, samples=6, seed=1, baseline=baseline, feature_mask=masks)
        chunked = de.explain("shapley_sampling", t, x, xs, samples=6, seed=1, baseline=baseline,
                             feature_mask=masks, batch_size=1, memory_budget=200)
    for row, point, mask in zip(got, xs, masks):
        phi = _exact_group_shapley(session, x, t, point, baseline, mask)
        expected = phi[mask] / np.bincount(mask)[mask]
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-5 * np.abs(phi).max())
    np.testing.assert_allclose(chunked, got, rtol=0, atol=1e-6)


def test_occlusion_of_feature_groups_is_feature_ablation():
    session, x, t, w = _linear_image_model(seed=135)
    xs = samples((2, 4, 4, 2), seed=136)
    with DeepExplain(session=session) as de:
        occlusion = de.explain("occlusion", t, x, xs, feature_mask=QUADRANTS, baseline=0.25)
        ablation = de.explain("feature_ablation", t, x, xs, feature_mask=QUADRANTS, baseline=0.25)
    np.testing.assert_array_equal(occlusion, ablation)
    np.testing.assert_allclose(occlusion, _expected_linear(xs, w, 0.25, QUADRANTS), rtol=0, atol=1e-4)


class _SpySession:
    """Records the rows of X in every run (or, rows built in the graph, of each row's sample
    index), then runs for real."""

    def __init__(self, session, x):
        self.session, self.x, self.rows = session, x, []
        self.graph = session.graph

    def run(self, fetches, feed_dict=None, **kwargs):
        for key, value in (feed_dict or {}).items():
            if key is self.x or getattr(key, "name", "").endswith("/row_sample:0"):
                self.rows.append(len(value))
        return self.session.run(fetches, feed_dict, **kwargs)


@pytest.mark.parametrize("method, options, rows_per_sample", [
    ("feature_ablation", {"feature_mask": QUADRANTS}, 5),
    ("kernel_shap", {"feature_mask": QUADRANTS, "samples": 300}, 16),   # 14 coalitions + both ends
    ("lime", {"feature_mask": QUADRANTS, "samples": 300}, 300),
    ("rise", {"samples": 300, "grid_size": 2}, 300),
    ("sobol", {"samples": 32, "grid_size": 2}, 32 * 6),
    ("shapley_sampling", {"feature_mask": QUADRANTS, "samples": 40}, 2 + 40 * 3),
    ("feature_permutation", {"feature_mask": QUADRANTS}, 5),
])
def test_rows_per_run_stay_within_the_memory_budget(method, options, rows_per_sample):
    session, x, t, _ = _linear_image_model(seed=150)
    spy = _SpySession(session, x)
    xs = samples((3, 4, 4, 2), seed=151)
    with DeepExplain(session=spy) as de:
        explainer = de.get_explainer(method, t, x, memory_budget=4000, **options)
        explainer.run(xs, ys=[0, 0, 0])
    limit = explainer.rows_per_run()
    assert limit < 40 and max(spy.rows) <= limit, (limit, max(spy.rows))
    assert sum(spy.rows) >= 3 * rows_per_sample  # every row was evaluated, chunk by chunk


def test_several_inputs_with_joint_groups():
    """Group ids shared across inputs are one feature: a[1], a[2] and b[0] move together."""
    rng = np.random.default_rng(160)
    wa, wb = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    v = rng.normal(size=(4, 1)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf1.placeholder(tf.float32, (None, 3)), tf1.placeholder(tf.float32, (None, 2))
        t = tf.matmul(tf.tanh(tf.matmul(a, wa) + tf.matmul(b, wb)), v)
    session = tf1.Session(graph=graph)
    masks = [np.array([0, 1, 1]), np.array([1, 2])]
    xa, xb = samples((3, 3), seed=161), samples((3, 2), seed=162)
    with DeepExplain(session=session) as de:
        shap_a, shap_b = de.explain("kernel_shap", t, [a, b], [xa, xb], feature_mask=masks, baseline=[0.0, 0.5])
        ablation = de.explain("feature_ablation", t, [a, b], [xa, xb], feature_mask=masks, baseline=[0.0, 0.5])
        with pytest.raises(ExplainError, match="give one mask per input"):
            de.explain("lime", t, [a, b], [xa, xb], feature_mask=masks[0])
    for i in range(3):
        coalitions = np.array(list(itertools.product([0, 1], repeat=3)), bool)
        rows_a = np.where(coalitions[:, masks[0]], xa[i], 0.0)
        rows_b = np.where(coalitions[:, masks[1]], xb[i], 0.5)
        values = dict(zip(map(tuple, coalitions), session.run(t, {a: rows_a, b: rows_b})[:, 0].astype(np.float64)))
        phi = np.zeros(3)
        for c in coalitions:
            for g in np.flatnonzero(~c):
                s = int(c.sum())
                with_g = c.copy()
                with_g[g] = True
                phi[g] += math.factorial(s) * math.factorial(2 - s) / 6 * (values[tuple(with_g)] - values[tuple(c)])
        # group 1 has three cells (two in a, one in b): a third of its value on each
        np.testing.assert_allclose(shap_a[i], [phi[0], phi[1] / 3, phi[1] / 3], rtol=0, atol=1e-5)
        np.testing.assert_allclose(shap_b[i], [phi[1] / 3, phi[2]], rtol=0, atol=1e-5)
        full = values[(True, True, True)]
        np.testing.assert_allclose(ablation[1][i, 1], full - values[(True, True, False)], rtol=0, atol=1e-5)


def test_rows_built_in_the_graph_score_as_rows_built_in_numpy():
    """A CNN with variables, a keep-probability fed through ``feed=``, a baseline and SLIC
    groups: every coalition method (and feature permutation) gives the same values whichever
    side builds the rows."""
    tf1 = tf.compat.v1
    rng = np.random.default_rng(190)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 12, 12, 3))
        keep = tf1.placeholder(tf.float32, (), name="keep")
        kernel = tf1.Variable(rng.normal(scale=0.4, size=(3, 3, 3, 5)).astype(np.float32))
        h = tf.nn.relu(tf.nn.conv2d(x, kernel, 2, "SAME")) * keep
        t = tf.matmul(tf.reshape(h, (-1, 180)), rng.normal(scale=0.2, size=(180, 4)).astype(np.float32))
        session = tf1.Session(graph=graph)
        session.run(tf1.global_variables_initializer())
    xs = np.abs(samples((3, 12, 12, 3), seed=191))
    common = {"feature_mask": "slic", "n_segments": 8, "baseline": 0.3}
    cases = {"feature_ablation": {}, "kernel_shap": {"samples": 64, "seed": 2}, "lime": {"samples": 64, "seed": 2},
             "occlusion": {}, "shapley_sampling": {"samples": 3, "seed": 2}, "feature_permutation": {"seed": 2}}
    with DeepExplain(session=session) as de:
        for method, options in cases.items():
            in_graph = de.get_explainer(method, t, x, **common, **options)
            assert in_graph._front is not None
            numpy_rows = de.get_explainer(method, t, x, rows_in_graph=False, **common, **options)
            a = in_graph.run(xs, ys=[0, 1, 3], feed={keep: 0.5})
            b = numpy_rows.run(xs, ys=[0, 1, 3], feed={keep: 0.5})
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max(), err_msg=method)
        with pytest.raises(ExplainError, match="rows_in_graph"):
            de.get_explainer("lime", t, x, rows_in_graph="yes")
