"""RISE: its masks against an independent bilinear upsampling, its map against numpy."""
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, ExplainError
from builders import samples

tf1 = tf.compat.v1


def _upsample(cells, size):
    """Linear interpolation with half-pixel centres and held edges, per axis, with np.interp."""
    grid = cells.shape[-1]

    def along(values, out):
        coordinates = np.clip((np.arange(out) + 0.5) * grid / out - 0.5, 0, grid - 1)
        return np.apply_along_axis(lambda v: np.interp(coordinates, np.arange(grid), v), -1, values)

    rows = along(np.swapaxes(cells.astype(float), -1, -2), size[0])   # (k, g cols, H_up)
    return along(np.swapaxes(rows, -1, -2), size[1])                  # (k, H_up, W_up)


def _model(seed=120):
    w = np.random.default_rng(seed).normal(size=(10, 12, 2)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 10, 12, 2))
        t = tf.reduce_sum(x * w, axis=(1, 2, 3))[:, None]
    return tf1.Session(graph=graph), x, t, w.astype(np.float64)


def test_rise_map_is_the_score_weighted_mean_of_the_masks():
    session, x, t, w = _model()
    xs = samples((3, 10, 12, 2), seed=121)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("rise", t, x, samples=64, grid_size=4, seed=3)
        got = explainer.run(xs, ys=[0, 0, 0])
        chunked = de.explain("rise", t, x, xs, samples=64, grid_size=4, seed=3, batch_size=1, memory_budget=4000)
        in_numpy = de.explain("rise", t, x, xs, ys=[0, 0, 0], samples=64, grid_size=4, seed=3, rows_in_graph=False)
        assert explainer._front is not None
        cells, offsets = explainer._prepare([xs], {})
    assert cells.shape == (64, 4, 4) and 0.3 < cells.mean() < 0.7
    full = _upsample(cells, (12, 15))  # (1 + 1/4) * (10, 12)
    masks = np.stack([f[dy:dy + 10, dx:dx + 12] for f, (dy, dx) in zip(full, offsets)])
    np.testing.assert_allclose(explainer.masks(cells, offsets), masks, atol=1e-12)
    np.testing.assert_allclose(explainer.coverage(cells, offsets), masks.sum(axis=0), rtol=1e-12)
    scores = np.einsum("khw,nhwc,hwc->nk", masks, xs.astype(np.float64), w)  # baseline 0: S(x * m)
    expected = np.einsum("nk,khw->nhw", scores, masks) / (masks.sum(axis=0) + 1e-4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(chunked, got, rtol=0, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(in_numpy, got, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_rise_finds_the_region_the_model_reads():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 16, 16))
        t = tf.reduce_sum(x[:, 2:6, 9:13], axis=(1, 2))[:, None]
    with DeepExplain(session=tf1.Session(graph=graph)) as de:
        saliency = de.explain("rise", t, x, np.ones((1, 16, 16), np.float32), samples=2000, grid_size=4, seed=0)[0]
        with pytest.raises(ExplainError, match="preservation_probability"):
            de.explain("rise", t, x, np.ones((1, 16, 16), np.float32), preservation_probability=0)
    inside = saliency[2:6, 9:13].mean()
    outside = np.delete(saliency.ravel(), np.ravel_multi_index(np.mgrid[2:6, 9:13].reshape(2, -1), (16, 16))).mean()
    assert inside > outside + 1.0
