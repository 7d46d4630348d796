"""Incremental occlusion (deepexplain_ng.incremental) equals full re-evaluation of the occluded rows."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng.errors import ExplainValueError
from deepexplain_ng.incremental import build_incremental

tf1 = tf.compat.v1
SHAPE = (16, 16, 3)


def _kernel(rng, *shape, scale=0.4):
    return rng.normal(scale=scale, size=shape).astype(np.float32)


def _dense(rng, h, classes=4):
    flat = tf.reshape(h, [-1, int(np.prod(h.shape.as_list()[1:]))])
    return tf.matmul(flat, _kernel(rng, flat.shape.as_list()[1], classes, scale=0.2))


def strided(x, rng):
    """SAME stride 1 + bias + relu, VALID stride 2, SAME max-pool, a dense head."""
    h = tf.nn.relu(tf.nn.conv2d(x, _kernel(rng, 3, 3, 3, 6), 1, "SAME") + _kernel(rng, 6))
    h = tf.nn.relu6(tf.nn.conv2d(h, _kernel(rng, 3, 3, 6, 8), 2, "VALID"))
    h = tf.nn.max_pool2d(h, 3, 2, "SAME")
    return _dense(rng, h)


def dilated(x, rng):
    """Dilated conv, SAME average pool of stride 2, leaky relu, tanh, a mean head."""
    h = tf.nn.leaky_relu(tf.nn.conv2d(x, _kernel(rng, 3, 3, 3, 5), 1, "SAME", dilations=2), 0.1)
    h = tf.nn.avg_pool2d(h, 3, 2, "SAME") * _kernel(rng, 5) - 0.5
    h = tf.tanh(tf.nn.conv2d(h, _kernel(rng, 3, 3, 5, 6), 2, "SAME"))
    return tf.matmul(tf.reduce_mean(h, axis=[1, 2]), _kernel(rng, 6, 3))


def residual(x, rng):
    """Two conv branches summed, batch norm in inference, VALID max-pool, elu, a dense head."""
    h = tf.nn.conv2d(x, _kernel(rng, 3, 3, 3, 6), 1, "SAME")
    a = tf.nn.conv2d(tf.nn.relu(h), _kernel(rng, 3, 3, 6, 6), 1, "SAME")
    b = tf.nn.conv2d(h, _kernel(rng, 1, 1, 6, 6), 1, "SAME")
    h = a + b
    h = tf1.nn.fused_batch_norm(h, rng.uniform(0.5, 1.5, 6).astype(np.float32), _kernel(rng, 6),
                                _kernel(rng, 6), rng.uniform(0.5, 2, 6).astype(np.float32), is_training=False)[0]
    h = tf.nn.elu(tf.nn.max_pool2d(h, 2, 2, "VALID"))
    down = tf.nn.conv2d(h, _kernel(rng, 3, 3, 6, 6), 2, "SAME")
    skip = tf.nn.conv2d(h, _kernel(rng, 1, 1, 6, 6), 2, "VALID")
    return _dense(rng, tf.nn.selu(down + skip))


def depthwise(x, rng):
    """Depthwise conv, pads (constant and mirror), avg-pool VALID, sigmoid, softplus."""
    h = tf.nn.depthwise_conv2d(x, _kernel(rng, 3, 3, 3, 2), [1, 1, 1, 1], "VALID")
    h = tf.pad(tf.nn.sigmoid(h), [[0, 0], [1, 2], [2, 1], [0, 0]])
    h = tf.pad(h, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    h = tf.nn.softplus(tf.nn.avg_pool2d(h, 2, 2, "VALID"))
    h = tf.nn.bias_add(tf.nn.conv2d(h, _kernel(rng, 3, 3, 6, 4), 2, "SAME"), _kernel(rng, 4))
    return _dense(rng, h)


def padded(x, rng):
    """A non-zero constant pad (PadV2), a SYMMETRIC mirror pad, a conv with EXPLICIT padding."""
    h = tf.pad(x, [[0, 0], [2, 1], [1, 3], [0, 0]], constant_values=0.7)
    h = tf.nn.relu(tf.nn.conv2d(h, _kernel(rng, 3, 3, 3, 4), 2, "VALID"))
    h = tf.pad(h, [[0, 0], [2, 1], [1, 2], [0, 0]], mode="SYMMETRIC")
    h = tf.nn.conv2d(h, _kernel(rng, 3, 3, 4, 5), 1, [[0, 0], [1, 2], [2, 0], [0, 0]])
    return _dense(rng, tf.nn.relu(h))


def fully_local(x, rng):
    """T is a feature map itself: the whole path is local."""
    return tf.nn.relu(tf.nn.conv2d(x, _kernel(rng, 3, 3, 3, 2), 2, "SAME"))


def dense_first(x, rng):
    return _dense(rng, x)


def _model(body, seed=0):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + SHAPE, name="x")
        t = body(x, np.random.default_rng(seed))
    return graph, tf1.Session(graph=graph), x, t


def _occluded_rows(xs, window, step, baseline):
    rows = []
    for x in xs:
        for y0 in range(0, SHAPE[0] - window + 1, step):
            for x0 in range(0, SHAPE[1] - window + 1, step):
                row = x.copy()
                row[y0:y0 + window, x0:x0 + window] = baseline[y0:y0 + window, x0:x0 + window]
                rows.append(row)
    return np.stack(rows)


def _reference(session, x, t, xs, weights, window, step, baseline):
    rows = _occluded_rows(xs, window, step, baseline)
    values = session.run(t, {x: rows}).reshape((len(xs), -1) + weights.shape[1:])
    return (values * weights[:, None]).reshape(len(xs), values.shape[1], -1).sum(-1), np.abs(values).max()


MODELS = [strided, dilated, residual, depthwise, padded, fully_local]


@pytest.mark.parametrize("body", MODELS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("window, step", [(3, 2), (4, 4)])
@pytest.mark.parametrize("max_area", [1.0, 0.5])
def test_exact(body, window, step, max_area):
    graph, session, x, t = _model(body)
    rng = np.random.default_rng(5)
    xs = rng.normal(size=(2,) + SHAPE).astype(np.float32)
    baseline = rng.normal(size=SHAPE).astype(np.float32)
    weights = rng.normal(size=(2,) + tuple(t.shape.as_list()[1:])).astype(np.float32)
    program = build_incremental(graph, x, t, window, step, baseline, max_area=max_area)
    assert program is not None and program.local_ops
    if body is padded and max_area == 1.0:  # every op of the prefix is modelled, none skipped
        assert sorted(graph.get_operation_by_name(name).type for name in program.local_ops) == \
            ["Conv2D", "Conv2D", "MirrorPad", "PadV2", "Relu", "Relu"]
    count = program.windows
    assert count == ((16 - window) // step + 1) ** 2
    before = len(graph.get_operations())
    scores = program.scores(session, xs, weights, windows_per_run=7)
    assert len(graph.get_operations()) == before  # no ops after construction
    expected, scale = _reference(session, x, t, xs, weights, window, step, baseline)
    error = np.abs(scores - expected).max() / (scale * np.abs(weights).sum(axis=tuple(range(1, weights.ndim))).max())
    print(f"{body.__name__} window {window} step {step} max_area {max_area}: {len(program.local_ops)} local ops, "
          f"max relative error {error:.2e}")
    assert error < 1e-5
    base = program.base_scores(session, xs, weights)
    full = session.run(t, {x: xs})
    np.testing.assert_allclose(base, (full * weights).reshape(2, -1).sum(1), rtol=1e-5, atol=1e-5 * scale)
    assert np.abs(expected - base[:, None]).min(axis=0).max() > 1e-3 * scale  # the windows do change T


def test_subset_of_windows():
    graph, session, x, t = _model(strided)
    xs = np.random.default_rng(1).normal(size=(1,) + SHAPE).astype(np.float32)
    weights = np.eye(4, dtype=np.float32)[[2]]
    program = build_incremental(graph, x, t, 4, 4)
    every = program.scores(session, xs, weights)
    some = program.scores(session, xs, weights, windows=[3, 0, 15])
    np.testing.assert_allclose(some, every[:, [3, 0, 15]], rtol=1e-6, atol=1e-6)


def test_no_local_prefix():
    graph, session, x, t = _model(dense_first)
    assert build_incremental(graph, x, t, 3, 2) is None


def test_variables_and_fixed_batch():
    """Weights in variables are read, not copied, by the rest of the network; a fixed batch: None."""
    graph = tf.Graph()
    rng = np.random.default_rng(3)
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + SHAPE)
        kernel = tf1.Variable(_kernel(rng, 3, 3, 3, 4))
        dense = tf1.Variable(_kernel(rng, 8 * 8 * 4, 3, scale=0.1))
        h = tf.nn.relu(tf.nn.conv2d(x, kernel, 2, "SAME"))
        t = tf.matmul(tf.reshape(h, [tf.shape(h)[0], -1]), dense)
        fixed = tf1.placeholder(tf.float32, (1,) + SHAPE)
        t_fixed = tf.reduce_sum(tf.nn.conv2d(fixed, kernel, 1, "SAME"), axis=[1, 2])
        session = tf1.Session(graph=graph)
        session.run(tf1.global_variables_initializer())
    xs = rng.normal(size=(2,) + SHAPE).astype(np.float32)
    weights = rng.normal(size=(2, 3)).astype(np.float32)
    program = build_incremental(graph, x, t, 4, 4)
    expected, scale = _reference(session, x, t, xs, weights, 4, 4, np.zeros(SHAPE, np.float32))
    np.testing.assert_allclose(program.scores(session, xs, weights), expected, rtol=1e-5, atol=1e-5 * scale)
    assert not [op for op in graph.get_operations() if op.type in ("VariableV2", "VarHandleOp")
                and op.name.startswith("deepexplain_ng")]
    assert build_incremental(graph, fixed, t_fixed, 4, 4) is None


def test_bad_arguments():
    graph, session, x, t = _model(strided)
    with pytest.raises(ExplainValueError, match="baseline"):
        build_incremental(graph, x, t, 3, 2, baseline=np.zeros((4, 4, 3)))
    with pytest.raises(ExplainValueError, match="window"):
        build_incremental(graph, x, t, 17, 2)
    program = build_incremental(graph, x, t, 3, 2)
    with pytest.raises(ExplainValueError, match="weights"):
        program.scores(session, np.zeros((1,) + SHAPE), np.zeros((2, 4)))


def test_approximate():
    """Krypton's threshold: tau = 1 cuts nothing (exact); tau 0.5 cuts (its error is printed:
    on 16x16 maps it is large, tau is meant for large maps; benchmarks/incremental.py measures it)."""
    graph, session, x, t = _model(residual)
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(1,) + SHAPE).astype(np.float32)
    weights = rng.normal(size=(1, 4)).astype(np.float32)
    baseline = np.zeros(SHAPE, np.float32)
    expected, _ = _reference(session, x, t, xs, weights, 4, 4, baseline)
    exact = build_incremental(graph, x, t, 4, 4, baseline, max_area=1.0, approximate=1.0)
    np.testing.assert_allclose(exact.scores(session, xs, weights), expected, rtol=1e-5, atol=1e-5)
    approx = build_incremental(graph, x, t, 4, 4, baseline, max_area=1.0, approximate=0.5)
    scores = approx.scores(session, xs, weights)
    deltas = exact.base_scores(session, xs, weights)[:, None] - expected
    error = np.abs(scores - expected).max() / np.abs(deltas).max()
    print(f"approximate tau 0.5: max error {error:.2e} of the largest |delta|")
    assert np.isfinite(error) and error > 1e-6  # the cut changes something here
    with pytest.raises(ExplainValueError, match="approximate"):
        build_incremental(graph, x, t, 4, 4, approximate=0.0)


@pytest.mark.parametrize("body", [residual, strided], ids=lambda b: b.__name__)
def test_occlusion_uses_the_incremental_program_and_gives_the_full_evaluation_s_maps(body):
    from deepexplain_ng import DeepExplain

    graph, session, x, t = _model(body, seed=7)
    xs = np.random.default_rng(8).normal(size=(3,) + SHAPE).astype(np.float32)
    options = {"window_shape": (4, 4, SHAPE[2]), "step": (2, 2, 1), "baseline": 0.25}
    with DeepExplain(session=session) as de:
        fast = de.get_explainer("occlusion", t, x, **options)
        slow = de.get_explainer("occlusion", t, x, incremental=False, **options)
        assert fast._incremental is not None and slow._incremental is None
        a = fast.run(xs, ys=[0, 1, 2], batch_size=2)
        b = slow.run(xs, ys=[0, 1, 2])
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())
        # windows not spanning the channels: the full evaluation
        assert de.get_explainer("occlusion", t, x, window_shape=(4, 4, 1), step=(2, 2, 1))._incremental is None


def test_incremental_rows_per_run_follow_the_memory_budget():
    """Each run holds at most ``memory_budget // row_bytes`` (sample, window) rows, all rows
    are evaluated, and the maps do not depend on the budget."""
    from deepexplain_ng import DeepExplain

    graph, session, x, t = _model(residual, seed=9)
    xs = np.random.default_rng(10).normal(size=(3,) + SHAPE).astype(np.float32)
    options = {"window_shape": (4, 4, SHAPE[2]), "step": (2, 2, 1)}
    rows = []

    class Spy:
        def __init__(self):
            self.graph = session.graph

        def run(self, fetches, feed_dict=None, **kwargs):
            rows.extend(len(v) for k, v in (feed_dict or {}).items() if k.name.endswith("row_sample:0"))
            return session.run(fetches, feed_dict, **kwargs)

    with DeepExplain(session=Spy()) as de:
        whole = de.get_explainer("occlusion", t, x, **options)
        program = whole._incremental
        budget = 5 * program.row_bytes + 1
        small = de.get_explainer("occlusion", t, x, memory_budget=budget, **options)
        expected = whole.run(xs, ys=[0, 1, 2])
        rows.clear()
        got = small.run(xs, ys=[0, 1, 2])
    assert max(rows) <= 5 and sum(rows) == 3 * program.windows, rows
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("numbering", ["grid", "shuffled"])
def test_feature_ablation_over_tiling_groups_is_incremental_and_equals_occlusion(numbering):
    from deepexplain_ng import DeepExplain, groups

    graph, session, x, t = _model(residual, seed=3)
    xs = np.random.default_rng(4).normal(size=(2,) + SHAPE).astype(np.float32)
    cell, (height, width, channels) = 4, SHAPE
    mask = "grid"
    if numbering == "shuffled":  # the same partition, other ids, channels listed
        tiles = groups.grid_mask(SHAPE, cell)[..., 0]
        mask = np.random.default_rng(5).permutation(tiles.max() + 1)[tiles][..., None].repeat(channels, -1)
    options = {"feature_mask": mask, "cell": cell, "baseline": 0.25}
    with DeepExplain(session=session) as de:
        fast = de.get_explainer("feature_ablation", t, x, **options)
        slow = de.get_explainer("feature_ablation", t, x, incremental=False, **options)
        assert fast._tiles is not None and slow._tiles is None
        a, b = fast.run(xs, ys=[0, 1]), slow.run(xs, ys=[0, 1])
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())
        windows = de.get_explainer("occlusion", t, x, window_shape=(cell, cell, channels), step=(cell, cell, 1),
                                   baseline=0.25)
        np.testing.assert_allclose(a, windows.run(xs, ys=[0, 1]), rtol=0, atol=1e-5 * np.abs(b).max())


def test_groups_that_do_not_tile_an_image_are_not_windows():
    from deepexplain_ng import groups

    tiles = groups.grid_mask(SHAPE, 4)[..., 0]
    assert groups.tile_shape("grid", SHAPE, 4) == (4, 4)
    assert groups.tile_shape(tiles, SHAPE) == (4, 4)
    merged = np.where(tiles == 1, 0, tiles)  # two cells in one group
    ragged = groups.grid_mask(SHAPE, 5)[..., 0]
    per_channel = np.arange(np.prod(SHAPE)).reshape(SHAPE)
    for mask in ("slic", None, merged, ragged, per_channel, tiles[None]):
        assert groups.tile_shape(mask, SHAPE, 4) is None
    assert groups.tile_shape("grid", SHAPE, 5) is None
