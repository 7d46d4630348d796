"""The builder of the incremental occlusion program (:mod:`deepexplain_ng.incremental`): walks
the path X -> T, evaluates each local op on the boxes its output changes in, and copies the rest
of the network onto full maps with the boxes written in."""
import numpy as np
import tensorflow as tf

from .errors import ExplainValueError
from .incremental_geometry import Box, fit, is_nhwc, op_attr, pair, reflect_table, sliding_geometry
from .paths import path_ops

tf1 = tf.compat.v1

_UNARY = {"Relu": "features", "Relu6": "features", "Elu": "features", "Selu": "features",
          "Softplus": "features", "LeakyRelu": "features", "Sigmoid": "x", "Tanh": "x",
          "Identity": "input"}
_BINARY = frozenset({"Add", "AddV2", "Sub", "Mul", "RealDiv", "BiasAdd"})
_SLIDING = frozenset({"Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool"})
_PADS = frozenset({"Pad", "PadV2", "MirrorPad"})


class Builder:
    """Walks the path X -> T and builds the incremental program's ops (one use)."""

    def __init__(self, graph, X, T, window, step, baseline, max_area, tau):
        self.graph, self.X, self.T, self.max_area, self.tau = graph, X, T, max_area, tau
        shape = X.shape.as_list()
        if len(shape) != 4 or None in shape[1:]:
            raise ExplainValueError(f"X: expected a 4-D NHWC placeholder with known H, W, C, got shape "
                                    f"{X.shape}.")
        _, H, W, C = shape
        self.window = pair("window", window)
        self.step = pair("step", step)
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
            if varying != [0] or op.get_attr("is_training") or not is_nhwc(op):
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
        if op.type == "BiasAdd" and not is_nhwc(op):
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
            starts.append(fit(lo, hi, extent, self.tau))
        box = Box(starts[0][0], starts[1][0], (starts[0][1], starts[1][1]))
        return box, fn(self._read_box(op.inputs[0].name, box), self._read_box(op.inputs[1].name, box))

    def _sliding(self, op, varying, first, shape):
        if varying != [0]:
            return None
        full, box, _ = first
        in_hw = full.shape.as_list()[1:3]
        geometry = sliding_geometry(op, box, in_hw, shape[1:3], self.tau)
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
            if by or bx or op_attr(op, "padding", b"VALID") in (b"SAME", "SAME"):
                # SAME averages over the cells inside the map only: rescale k*k / count
                scale = []
                for table, extent, size, stride_, k in ((ty, in_hw[0], hy, stry, ky), (tx, in_hw[1], hx, strx, kx)):
                    inside = ((table >= 0) & (table < extent)).astype(np.float64)
                    counts = np.stack([inside[:, o * stride_:o * stride_ + k].sum(1) for o in range(size)], 1)
                    scale.append(tf.gather(tf.constant((k / counts).astype(self.dtype.as_numpy_dtype)), self.windows))
                y = y * scale[0][:, :, None, None] * scale[1][:, None, :, None]
        return Box(sy, sx, (hy, hx)), y

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
                src = reflect_table(size_in, before, size_out, op.get_attr("mode").decode()
                                     if isinstance(op.get_attr("mode"), bytes) else op.get_attr("mode"))
            else:
                src = np.arange(size_out) - before  # outside [0, size_in): the constant
            start = box.start_y if axis == 0 else box.start_x
            hit = (src[None] >= start[:, None]) & (src[None] < start[:, None] + box.size[axis])  # (P, out)
            lo = np.where(hit.any(1), hit.argmax(1), 0)
            hi = np.where(hit.any(1), size_out - 1 - hit[:, ::-1].argmax(1), 0)
            out_start, size = fit(lo, hi, size_out, self.tau)
            starts.append((out_start, size))
            tables.append(src[out_start[:, None] + np.arange(size)[None]])
        y = self._read(op.inputs[0].name, tables[0], tables[1], float(value))
        return Box(starts[0][0], starts[1][0], (starts[0][1], starts[1][1])), y

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
            box = Box(self.wy.astype(np.int64), self.wx.astype(np.int64), self.window)
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
        return dict(graph=self.graph, X=self.X, T=self.T, tensors=self.state, weights=self.weights,
                    samples=self.samples, windows=self.windows, score=score, base_score=base_score,
                    local_ops=[op.name for op in local_ops], boundary=boundary,
                    row_bytes=self._row_bytes(local_ops, boundary), count=self.count)

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

