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
geometric (regions, index tables) is computed in numpy at build time; the program's feeds are
X (the samples), the row -> (sample, window) indices and the target weights.
"""
import numpy as np
import tensorflow as tf

from .errors import ExplainTypeError, ExplainValueError
from .feeding import static_shape
from .paths import path_ops

tf1 = tf.compat.v1

_UNARY = {"Relu": "features", "Relu6": "features", "Elu": "features", "Selu": "features",
          "Softplus": "features", "LeakyRelu": "features", "Sigmoid": "x", "Tanh": "x",
          "Identity": "input"}
_BINARY = frozenset({"Add", "AddV2", "Sub", "Mul", "RealDiv", "BiasAdd"})
_SLIDING = frozenset({"Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool"})
_PADS = frozenset({"Pad", "PadV2", "MirrorPad"})


class _Box:
    """A fixed-size box of a map per window: rows ``[start_y[p], start_y[p] + size[0])`` and the
    same for columns; always inside the map (``start`` arrays shape (P,))."""

    def __init__(self, start_y, start_x, size):
        self.start_y, self.start_x, self.size = start_y, start_x, size


def _fit(lo, hi, extent, tau=None):
    """The changed index ranges ``[lo, hi]`` (per window, inclusive, unclipped) as fixed-size
    boxes inside ``[0, extent)``: (start (P,), size). A box larger than a window's range is still
    exact (unchanged positions are recomputed from their unchanged inputs). With ``tau``
    (approximate mode), a size above ``ceil(tau * extent)`` is cut to it around each range's
    centre: positions outside keep their unoccluded values."""
    lo, hi = np.clip(lo, 0, extent - 1), np.clip(hi, 0, extent - 1)
    hi = np.maximum(hi, lo)  # no position changed (a stride past the window): keep one
    size = int((hi - lo + 1).max())
    if tau is not None and size > int(np.ceil(tau * extent)):
        size = max(1, int(np.ceil(tau * extent)))
        lo = np.clip((lo + hi) // 2 - size // 2, 0, extent - size)
    return np.minimum(lo, extent - size).astype(np.int64), size


def _same_before(size_in, size_out, stride, span):
    """Padding TF's SAME puts before the first position."""
    return max((size_out - 1) * stride + span - size_in, 0) // 2


def _reflect_table(size_in, before, size_out, mode):
    """Input index read by each output position of a MirrorPad (REFLECT/SYMMETRIC)."""
    shift = 0 if mode == "REFLECT" else 1
    src = np.arange(size_out) - before
    src = np.where(src < 0, -src - shift, src)
    return np.where(src >= size_in, 2 * size_in - 2 - src + shift, src)


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


class _Builder:
    """Walks the path X -> T and builds the incremental program's ops (one use)."""

    def __init__(self, graph, X, T, window, step, baseline, max_area, tau):
        self.graph, self.X, self.T, self.max_area, self.tau = graph, X, T, max_area, tau
        shape = X.shape.as_list()
        if len(shape) != 4 or None in shape[1:]:
            raise ExplainValueError(f"X: expected a 4-D NHWC placeholder with known H, W, C, got shape "
                                    f"{X.shape}.")
        _, H, W, C = shape
        self.window = _pair("window", window)
        self.step = _pair("step", step)
        if self.window[0] > H or self.window[1] > W:
            raise ExplainValueError(f"window: {self.window} is larger than X's H, W {(H, W)}.")
        dtype = X.dtype.as_numpy_dtype
        base = np.asarray(0.0 if baseline is None else baseline, dtype)
        if base.ndim == 0:
            base = np.full((H, W, C), base, dtype)
        if base.shape != (H, W, C):
            raise ExplainValueError(f"baseline: expected a scalar or an array of shape {(H, W, C)}, got "
                                    f"{base.shape}.")
        rows = np.arange(0, H - self.window[0] + 1, self.step[0])
        cols = np.arange(0, W - self.window[1] + 1, self.step[1])
        # view_as_windows order: row-major over the grid of window positions
        self.wy, self.wx = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        self.count = len(self.wy)
        wh, ww = self.window
        self.baseline_patches = np.stack([base[y:y + wh, x:x + ww] for y, x in zip(self.wy, self.wx)])
        self.dtype = X.dtype

    # -- geometry of one op ------------------------------------------------------------------
    def _sliding_geometry(self, op, box, in_hw, out_hw):
        """(output box, input row/col index tables (P, ph)/(P, pw), pad before y/x) of a
        Conv2D/DepthwiseConv2dNative/MaxPool/AvgPool, or None if its attrs are not supported."""
        if not _nhwc(op):
            return None
        strides = list(op.get_attr("strides"))
        if op.type in ("MaxPool", "AvgPool"):
            ksize = list(op.get_attr("ksize"))
            if ksize[0] != 1 or ksize[3] != 1:
                return None
            kernel, dilations = ksize[1:3], [1, 1]
        else:
            kernel = op.inputs[1].shape.as_list()[:2]
            dilations = list(_attr(op, "dilations", [1, 1, 1, 1]))[1:3]
            if None in kernel:
                return None
        if strides[0] != 1 or strides[3] != 1:
            return None
        padding = op.get_attr("padding")
        padding = padding.decode() if isinstance(padding, bytes) else padding
        geometry = []
        for axis in (0, 1):
            stride, span = strides[axis + 1], (kernel[axis] - 1) * dilations[axis] + 1
            if padding == "SAME":
                before = _same_before(in_hw[axis], out_hw[axis], stride, span)
            elif padding == "VALID":
                before = 0
            elif padding == "EXPLICIT":
                before = list(op.get_attr("explicit_paddings"))[2 * (axis + 1)]
            else:
                return None
            start = box.start_y if axis == 0 else box.start_x
            a, b = start, start + box.size[axis] - 1
            # outputs o whose inputs [o*s - before, o*s - before + span) meet [a, b]
            lo = -((-(a + before - span + 1)) // stride)
            hi = (b + before) // stride
            out_start, size = _fit(lo, hi, out_hw[axis], self.tau)
            patch = (size - 1) * stride + span
            table = out_start[:, None] * stride - before + np.arange(patch)[None]
            geometry.append((out_start, size, table, before, kernel[axis], stride, dilations[axis]))
        return geometry

    # -- reading occluded patches --------------------------------------------------------------
    def _read(self, name, iy, ix, pad_value=0.0):
        """The occluded map of local tensor ``name`` at rows ``iy (P, ph)`` x cols ``ix (P, pw)``
        (indices may fall outside the map: ``pad_value`` there), for every row of the program:
        ``(rows, ph, pw, C)``. The sample's unoccluded map, with the changed box laid over it."""
        full, box, values = self.state[name]
        _, H, W, C = full.shape.as_list()
        top, left = max(0, -int(iy.min())), max(0, -int(ix.min()))
        bottom, right = max(0, int(iy.max()) - H + 1), max(0, int(ix.max()) - W + 1)
        if top or left or bottom or right:
            full = tf.pad(full, [[0, 0], [top, bottom], [left, right], [0, 0]],
                          constant_values=tf.constant(pad_value, full.dtype))
        ph, pw = iy.shape[1], ix.shape[1]
        width, cells = W + left + right, (H + top + bottom) * (W + left + right)
        # flat indices: one GatherV2 of whole channel vectors, no per-row index stacking
        outer = ((iy + top)[:, :, None] * width + (ix + left)[:, None, :]).reshape(len(iy), -1)
        rows = tf.shape(self.windows)[0]
        index = self.samples[:, None] * cells + tf.gather(tf.constant(outer.astype(np.int32)), self.windows)
        source = tf.reshape(full, [-1, C])
        # where the read meets the changed box, its values come from the box instead
        jy, jx = iy - box.start_y[:, None], ix - box.start_x[:, None]
        my, mx = (jy >= 0) & (jy < box.size[0]), (jx >= 0) & (jx < box.size[1])
        mask = (my[:, :, None] & mx[:, None, :]).reshape(len(iy), -1)
        if mask.any():
            inner = (np.clip(jy, 0, box.size[0] - 1)[:, :, None] * box.size[1]
                     + np.clip(jx, 0, box.size[1] - 1)[:, None, :]).reshape(len(iy), -1)
            changed = (tf.shape(source)[0] + tf.range(rows)[:, None] * (box.size[0] * box.size[1])
                       + tf.gather(tf.constant(inner.astype(np.int32)), self.windows))
            index = tf.where(tf.gather(tf.constant(mask), self.windows), changed, index)
            source = tf.concat([source, tf.reshape(values, [-1, C])], 0)
        return tf.reshape(tf.gather(source, index), [rows, ph, pw, C])

    def _read_box(self, name, box):
        return self._read(name, box.start_y[:, None] + np.arange(box.size[0]),
                          box.start_x[:, None] + np.arange(box.size[1]))

    # -- one op ----------------------------------------------------------------------------------
    def _local(self, op):
        """``(box, values)`` of the op's output 0 if it is local, else None (ops created here)."""
        varying = [i for i, t in enumerate(op.inputs) if t.name in self.on_path]
        if not varying or any(op.inputs[i].name not in self.state for i in varying):
            return None
        if any(t.name in self.needed for t in op.outputs[1:]):
            return None  # only output 0 is modelled (FusedBatchNorm's statistics are not)
        out = op.outputs[0]
        shape = out.shape.as_list()
        if len(shape) != 4 or None in shape[1:]:
            return None
        first = self.state[op.inputs[varying[0]].name]
        in_shape = first[0].shape.as_list()
        if op.type in _UNARY or op.type == "FusedBatchNormV3" or op.type in _BINARY:
            if shape[1:] != in_shape[1:]:
                return None
        if op.type in _UNARY:
            if len(varying) != 1:
                return None
            box, values = first[1], first[2]
            kwargs = {_UNARY[op.type]: values}
            if op.type == "LeakyRelu":
                kwargs["alpha"] = op.get_attr("alpha")
            return box, getattr(tf.raw_ops, op.type)(**kwargs)
        if op.type == "FusedBatchNormV3":
            if varying != [0] or op.get_attr("is_training") or not _nhwc(op):
                return None
            box, values = first[1], first[2]
            y = tf.raw_ops.FusedBatchNormV3(
                x=values, scale=op.inputs[1], offset=op.inputs[2], mean=op.inputs[3], variance=op.inputs[4],
                epsilon=op.get_attr("epsilon"), exponential_avg_factor=op.get_attr("exponential_avg_factor"),
                data_format="NHWC", is_training=False)[0]
            return box, y
        if op.type in _BINARY:
            return self._binary(op, varying, shape)
        if op.type in _SLIDING:
            return self._sliding(op, varying, first, shape)
        if op.type in _PADS:
            return self._pad(op, varying, first, shape)
        return None

    def _binary(self, op, varying, shape):
        fn = {"Add": tf.add, "AddV2": tf.add, "BiasAdd": tf.add, "Sub": tf.subtract, "Mul": tf.multiply,
              "RealDiv": tf.divide}[op.type]
        if op.type == "BiasAdd" and not _nhwc(op):
            return None
        if len(varying) == 1:
            other = op.inputs[1 - varying[0]]
            dims = other.shape.as_list() if other.shape.rank is not None else None
            # a scalar or a per-channel vector: the same at every position
            if dims is None or None in dims or len(dims) > 4 or int(np.prod(dims[:-1] or [1])) != 1:
                return None
            if op.type == "RealDiv" and varying[0] != 0:
                return None
            _, box, values = self.state[op.inputs[varying[0]].name]
            args = [values, other] if varying[0] == 0 else [other, values]
            return box, fn(*args)
        if op.type in ("BiasAdd", "RealDiv") or op.inputs[0].shape.as_list()[1:] != op.inputs[1].shape.as_list()[1:]:
            return None
        # two local branches (a residual sum): their changed boxes' bounding box
        boxes = [self.state[t.name][1] for t in op.inputs]
        starts = []
        for axis, extent in ((0, shape[1]), (1, shape[2])):
            lo = np.minimum(*[(b.start_y if axis == 0 else b.start_x) for b in boxes])
            hi = np.maximum(*[(b.start_y if axis == 0 else b.start_x) + b.size[axis] - 1 for b in boxes])
            starts.append(_fit(lo, hi, extent, self.tau))
        box = _Box(starts[0][0], starts[1][0], (starts[0][1], starts[1][1]))
        return box, fn(self._read_box(op.inputs[0].name, box), self._read_box(op.inputs[1].name, box))

    def _sliding(self, op, varying, first, shape):
        if varying != [0]:
            return None
        full, box, _ = first
        in_hw = full.shape.as_list()[1:3]
        geometry = self._sliding_geometry(op, box, in_hw, shape[1:3])
        if geometry is None:
            return None
        (sy, hy, ty, by, ky, stry, dy), (sx, hx, tx, bx, kx, strx, dx) = geometry
        pad_value = self.dtype.min if op.type == "MaxPool" else 0.0
        patch = self._read(op.inputs[0].name, ty, tx, pad_value)
        strides = [1, stry, strx, 1]
        if op.type == "Conv2D":
            y = tf.raw_ops.Conv2D(input=patch, filter=op.inputs[1], strides=strides, padding="VALID",
                                  dilations=[1, dy, dx, 1], data_format="NHWC")
        elif op.type == "DepthwiseConv2dNative":
            y = tf.raw_ops.DepthwiseConv2dNative(input=patch, filter=op.inputs[1], strides=strides,
                                                 padding="VALID", dilations=[1, dy, dx, 1], data_format="NHWC")
        elif op.type == "MaxPool":
            y = tf.raw_ops.MaxPool(input=patch, ksize=[1, ky, kx, 1], strides=strides, padding="VALID",
                                   data_format="NHWC")
        else:
            y = tf.raw_ops.AvgPool(value=patch, ksize=[1, ky, kx, 1], strides=strides, padding="VALID",
                                   data_format="NHWC")
            if by or bx or _attr(op, "padding", b"VALID") in (b"SAME", "SAME"):
                # SAME averages over the cells inside the map only: rescale k*k / count
                scale = []
                for table, extent, size, stride_, k in ((ty, in_hw[0], hy, stry, ky), (tx, in_hw[1], hx, strx, kx)):
                    inside = ((table >= 0) & (table < extent)).astype(np.float64)
                    counts = np.stack([inside[:, o * stride_:o * stride_ + k].sum(1) for o in range(size)], 1)
                    scale.append(tf.gather(tf.constant((k / counts).astype(self.dtype.as_numpy_dtype)), self.windows))
                y = y * scale[0][:, :, None, None] * scale[1][:, None, :, None]
        return _Box(sy, sx, (hy, hx)), y

    def _pad(self, op, varying, first, shape):
        if varying != [0]:
            return None
        paddings = tf.get_static_value(op.inputs[1])
        if paddings is None or np.shape(paddings) != (4, 2) or np.any(paddings[[0, 3]] != 0):
            return None
        value = 0.0
        if op.type == "PadV2":
            value = tf.get_static_value(op.inputs[2])
            if value is None:
                return None
        full, box, _ = first
        in_hw = full.shape.as_list()[1:3]
        tables, starts = [], []
        for axis in (0, 1):
            size_in, size_out, before = in_hw[axis], shape[axis + 1], int(paddings[axis + 1][0])
            if op.type == "MirrorPad":
                src = _reflect_table(size_in, before, size_out, op.get_attr("mode").decode()
                                     if isinstance(op.get_attr("mode"), bytes) else op.get_attr("mode"))
            else:
                src = np.arange(size_out) - before  # outside [0, size_in): the constant
            start = box.start_y if axis == 0 else box.start_x
            hit = (src[None] >= start[:, None]) & (src[None] < start[:, None] + box.size[axis])  # (P, out)
            lo = np.where(hit.any(1), hit.argmax(1), 0)
            hi = np.where(hit.any(1), size_out - 1 - hit[:, ::-1].argmax(1), 0)
            out_start, size = _fit(lo, hi, size_out, self.tau)
            starts.append((out_start, size))
            tables.append(src[out_start[:, None] + np.arange(size)[None]])
        y = self._read(op.inputs[0].name, tables[0], tables[1], float(value))
        return _Box(starts[0][0], starts[1][0], (starts[0][1], starts[1][1])), y

    # -- the whole program -----------------------------------------------------------------------
    def build(self):
        ops, reached = path_ops([self.T], [self.X])
        if not reached[0]:
            raise ExplainValueError(f"T '{self.T.name}' does not depend on X '{self.X.name}'.")
        self.on_path = {t.name for op in ops for t in op.outputs} | {self.X.name}
        self.needed = _ancestor_tensors(self.T)
        scope = self.graph.unique_name("deepexplain_ng_incremental")
        with self.graph.as_default(), tf1.name_scope(scope + "/"):
            self.samples = tf1.placeholder(tf.int32, (None,), name="row_sample")
            self.windows = tf1.placeholder(tf.int32, (None,), name="row_window")
            box = _Box(self.wy.astype(np.int64), self.wx.astype(np.int64), self.window)
            patches = tf.gather(tf.constant(self.baseline_patches), self.windows)
            self.state = {self.X.name: (self.X, box, patches)}
            local_ops = []
            _, H, W, _ = self.X.shape.as_list()
            for op in ops:
                found = self._local(op)
                if found is None:
                    continue
                box, values = found
                out = op.outputs[0]
                area = box.size[0] * box.size[1] / (out.shape.as_list()[1] * out.shape.as_list()[2])
                if area > self.max_area:
                    continue  # recomputing most of the map: cheaper as part of the rest
                self.state[out.name] = (out, box, values)
                local_ops.append(op)
            if not local_ops:
                return None
            local_names = {op.name for op in local_ops}
            target, boundary = self._rest(local_names)
            rows = tf.shape(self.windows)[0]
            self.weights = tf1.placeholder(self.T.dtype, (None,) + tuple(self.T.shape.as_list()[1:]),
                                           name="target_weights")
            weighted = target * tf.gather(self.weights, self.samples)
            score = tf.reduce_sum(tf.reshape(weighted, [rows, -1]), axis=1)
            base = self.T * self.weights
            base_score = tf.reduce_sum(tf.reshape(base, [tf.shape(base)[0], -1]), axis=1)
        return IncrementalOcclusion(self.graph, self.X, self.T, self.state, self.weights, self.samples,
                                    self.windows, score, base_score, [op.name for op in local_ops],
                                    boundary, self._row_bytes(local_ops, boundary), self.count)

    def _rest(self, local_names):
        """T of every row: the ops after the prefix, copied and fed full occluded maps.
        Returns (T's copy, boundary tensor names)."""
        if self.T.name in self.state:
            return self._full(self.T.name), [self.T.name]
        descendants = _descendant_ops(self.X)
        ancestors = _ancestor_ops(self.T)
        rest = (descendants & ancestors) - local_names - {self.X.op.name}
        graph_def = self.graph.as_graph_def()
        copy = tf1.GraphDef()
        copy.versions.CopyFrom(graph_def.versions)
        input_map, boundary = {}, []
        for node in graph_def.node:
            if node.name not in rest:
                continue
            new = copy.node.add()
            new.CopyFrom(node)
            del new.input[:]
            for name in node.input:
                if name.startswith("^"):
                    continue  # control edges of the user's graph are not copied
                tensor = name if ":" in name else name + ":0"
                new.input.append(tensor)
                if tensor.split(":")[0] in rest or tensor in input_map:
                    continue
                if tensor in self.state:
                    input_map[tensor] = self._full(tensor)
                    boundary.append(tensor)
                else:
                    input_map[tensor] = self.graph.get_tensor_by_name(tensor)
        [target] = tf1.import_graph_def(copy, input_map=input_map, return_elements=[self.T.name], name="rest")
        return target, boundary

    def _full(self, name):
        """The full occluded map of local tensor ``name`` for every row: ``(rows, H, W, C)``: the
        sample's unoccluded map with the changed box written in (boxes lie inside the map)."""
        full, box, values = self.state[name]
        rows = tf.shape(self.windows)[0]
        grid = [rows, box.size[0], box.size[1]]
        ys = tf.gather(tf.constant((box.start_y[:, None] + np.arange(box.size[0])).astype(np.int32)), self.windows)
        xs = tf.gather(tf.constant((box.start_x[:, None] + np.arange(box.size[1])).astype(np.int32)), self.windows)
        index = tf.stack([tf.broadcast_to(tf.range(rows)[:, None, None], grid),
                          tf.broadcast_to(ys[:, :, None], grid), tf.broadcast_to(xs[:, None, :], grid)], -1)
        return tf.tensor_scatter_nd_update(tf.gather(full, self.samples), index, values)

    def _row_bytes(self, local_ops, boundary):
        size = self.dtype.size
        total = 0
        for name, (full, box, _) in self.state.items():
            channels = full.shape.as_list()[3]
            total += 3 * box.size[0] * box.size[1] * channels * size  # patch, overlay, output
        for name in boundary:
            total += 3 * int(np.prod(self.state[name][0].shape.as_list()[1:])) * size
        for op in _ops_between(self.T, set(boundary)):
            for out in op.outputs:
                dims = out.shape.as_list()[1:] if out.shape.rank else []
                total += int(np.prod([d or 1 for d in dims])) * out.dtype.size
        return total


def _attr(op, name, default):
    try:
        return op.get_attr(name)
    except ValueError:
        return default


def _nhwc(op):
    """Whether the op's layout is NHWC (the default when it has no data_format attr)."""
    return _attr(op, "data_format", b"NHWC") in (b"NHWC", "NHWC")


def _pair(name, value):
    values = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (not isinstance(values, (tuple, list)) or len(values) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)):
        raise ExplainTypeError(f"{name}: expected an int or a tuple of 2 ints (height, width), got {value!r}.")
    if min(values) <= 0:
        raise ExplainValueError(f"{name}: values must be positive, got {tuple(values)}.")
    return int(values[0]), int(values[1])


def _ancestor_tensors(tensor):
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if t.name not in seen:
            seen.add(t.name)
            stack.extend(t.op.inputs)
    return seen


def _ancestor_ops(tensor):
    seen, stack = set(), [tensor.op]
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen.add(op.name)
            stack.extend(t.op for t in op.inputs)
    return seen


def _descendant_ops(tensor):
    seen, stack = set(), list(tensor.consumers())
    while stack:
        op = stack.pop()
        if op.name not in seen:
            seen.add(op.name)
            stack.extend(c for t in op.outputs for c in t.consumers())
    return seen


def _ops_between(target, starts):
    """Ops computing ``target`` from the tensors named ``starts`` (their ancestors excluded)."""
    seen, out, stack = set(), [], [target]
    while stack:
        t = stack.pop()
        if t.name in starts or t.op.name in seen or not t.dtype.is_floating:
            continue
        seen.add(t.op.name)
        out.append(t.op)
        stack.extend(t.op.inputs)
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
    return _Builder(graph, X, T, window, step, baseline, max_area, approximate).build()
