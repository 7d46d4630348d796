"""Incremental occlusion: T of every occluded row without recomputing unchanged positions.

Krypton (Nakandala et al., SIGMOD 2019): an occluded window changes only a small region of each
early feature map. For a graph ``X (n, H, W, C) -> T`` and an occlusion geometry (windows of
``window`` over H, W and all channels, sliding with ``step`` as ``skimage.util.view_as_windows``
does, replaced by ``baseline``), :func:`build_incremental` builds once, in the graph, a program
that for a batch of samples and a batch of window indices evaluates:

* the *local prefix*: the ops on the path X -> T whose 4-D NHWC output is computed
  position-locally (convolutions, pools, batch norm in inference, pads, elementwise ops with a
  per-channel operand, sums of two local branches). Each op is evaluated only on the output
  region the window changes (a box of fixed size per layer, the largest over all windows), from
  an input patch read out of the sample's unoccluded map with the changed region of the
  occluded input laid over it, with VALID padding on the explicitly padded patch;
* the rest of the network, as usual, on full maps: a copy of the graph's ops after the prefix
  (imported into the same graph; the user's ops are never modified) reading the unoccluded maps
  with the changed regions written in.

The results equal full re-evaluation of the occluded rows up to float32 rounding. Everything
geometric (regions, index tables) is computed in numpy at build time
(:mod:`deepexplain_ng.incremental_geometry`; the ops are built by
:mod:`deepexplain_ng.incremental_builder`); the program's feeds are X (the samples), the
row -> (sample, window) indices and the target weights.
"""
import numpy as np
import tensorflow as tf

from .errors import ExplainTypeError, ExplainValueError
from .feeding import static_shape
from .incremental_builder import Builder


class IncrementalOcclusion:
    """The built program (see :func:`build_incremental`); creates no ops after construction.

    Attributes:
        windows: number of windows P (in ``view_as_windows`` order, row-major over the grid).
        local_ops: names of the ops evaluated incrementally.
        boundary: names of the local tensors written into full maps for the rest of the network.
        row_bytes: rough bytes one (sample, window) row costs in a run (for a memory budget).
    """

    def __init__(self, graph, X, T, tensors, weights, samples, windows, score, base_score,
                 local_ops, boundary, row_bytes, count):
        self.graph, self.X, self.T = graph, X, T
        self._weights, self._samples, self._windows = weights, samples, windows
        self._score, self._base = score, base_score
        self.local_ops, self.boundary, self.row_bytes, self.windows = local_ops, boundary, row_bytes, count
        self._target_shape = tuple(static_shape(T)[1:])
        self._sample_shape = tuple(static_shape(X)[1:])
        self.tensors = tensors  # {local tensor name: (box, values tensor (rows, h, w, C))}

    def _check(self, xs, weights):
        xs = np.asarray(xs)
        weights = np.asarray(weights)
        if xs.ndim != 4 or xs.shape[1:] != self._sample_shape:
            raise ExplainValueError(f"xs: expected shape (n,) + {self._sample_shape}, got {xs.shape}.")
        if weights.shape != (len(xs),) + self._target_shape:
            raise ExplainValueError(f"weights: expected shape {(len(xs),) + self._target_shape} (T's shape "
                                    f"per sample), got {weights.shape}.")
        return xs.astype(self.X.dtype.as_numpy_dtype, copy=False), weights.astype(self.T.dtype.as_numpy_dtype)

    def base_scores(self, session, xs, weights, feed=None):
        """S(x) = sum(T(x) * weights) per sample: ``xs (n, H, W, C)`` -> ``(n,)``; ``feed``: other
        placeholders of the graph (a learning phase), fed unchanged."""
        xs, weights = self._check(xs, weights)
        return session.run(self._base, {**(feed or {}), self.X: xs, self._weights: weights})

    def scores(self, session, xs, weights, windows_per_run=None, windows=None, feed=None):
        """S of every occluded row: ``xs (n, H, W, C)``, ``weights (n,) + T.shape[1:]`` ->
        ``(n, len(windows))`` (all P windows by default). One ``session.run`` per chunk of
        ``windows_per_run`` windows (all at once if None) over all n samples: a run holds
        ``n * windows_per_run`` rows, plus one forward pass of the n samples (their unoccluded
        maps). ``feed``: other placeholders of the graph, fed unchanged to every run."""
        xs, weights = self._check(xs, weights)
        chosen = np.arange(self.windows) if windows is None else np.asarray(windows, np.int64)
        if chosen.ndim != 1 or not len(chosen) or chosen.min() < 0 or chosen.max() >= self.windows:
            raise ExplainValueError(f"windows: expected a non-empty list of window indices in "
                                    f"[0, {self.windows}), got {np.asarray(windows).tolist()!r:.80}.")
        step = len(chosen) if windows_per_run is None else int(windows_per_run)
        if step <= 0:
            raise ExplainValueError(f"windows_per_run: expected a positive int, got {windows_per_run!r}.")
        n = len(xs)
        out = np.empty((n, len(chosen)), np.float64)
        for lo in range(0, len(chosen), max(step, 1)):
            part = chosen[lo:lo + step]
            sample, window = np.meshgrid(np.arange(n), part, indexing="ij")  # sample-major rows
            values = session.run(self._score, {**(feed or {}), self.X: xs, self._weights: weights,
                                               self._samples: sample.ravel().astype(np.int32),
                                               self._windows: window.ravel().astype(np.int32)})
            out[:, lo:lo + len(part)] = values.reshape(n, len(part))
        return out


def build_incremental(graph, X, T, window, step, baseline=None, max_area=0.5, approximate=None):
    """Build the incremental occlusion program of ``X -> T`` in ``graph``, or None.

    Args:
        graph: the graph of X and T (new ops are added to it; existing ones are not changed).
        X: the input placeholder, shape (batch, H, W, C) NHWC with H, W, C known.
        T: the target tensor, shape (batch, ...) with known dims after the batch.
        window: (height, width) (or one int) of the occluded windows; they cover all channels.
        step: (row step, column step) (or one int) of the windows over H, W.
        baseline: value of the occluded cells: None (0), a scalar, or an array (H, W, C).
        max_area: an op stays in the local prefix while its changed box is at most this fraction
            of its output map (beyond, recomputing the full map costs about the same).
        approximate: None (exact), or Krypton's projective-field threshold tau in (0, 1]: at each
            layer, a changed box larger than ``ceil(tau * side)`` is cut to that size around its
            centre, and the positions cut off keep their unoccluded values (an approximation).

    Returns:
        :class:`IncrementalOcclusion`, or None when no op on the path is local (the first one is
        not), or when X has a fixed batch size: then evaluate the occluded rows through the whole
        network, as today.
    """
    if not isinstance(X, tf.Tensor) or not isinstance(T, tf.Tensor):
        raise ExplainTypeError(f"X and T must be graph tensors, got {type(X).__name__} and {type(T).__name__}.")
    if T.shape.rank is None or T.shape.rank < 1 or None in T.shape.as_list()[1:]:
        raise ExplainValueError(f"T: expected a known shape after the batch axis, got {T.shape}.")
    if X.shape.rank is not None and X.shape.as_list()[0] is not None:
        return None  # the rows' batch differs from X's fixed one: shapes in the rest may depend on it
    if not 0 < max_area <= 1:
        raise ExplainValueError(f"max_area: expected a fraction in (0, 1], got {max_area!r}.")
    if approximate is not None and not (isinstance(approximate, (int, float)) and 0 < approximate <= 1):
        raise ExplainValueError(f"approximate: expected None or a fraction tau in (0, 1], got {approximate!r}.")
    parts = Builder(graph, X, T, window, step, baseline, max_area, approximate).build()
    return None if parts is None else IncrementalOcclusion(**parts)
