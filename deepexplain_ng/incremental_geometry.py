"""The geometry of incremental occlusion: which box of each feature map a window changes,
and which input cells a sliding op's output box reads (:mod:`deepexplain_ng.incremental`).
Everything here is numpy on static shapes and op attributes, computed once at build time."""
import numpy as np

from .errors import ExplainTypeError, ExplainValueError


class Box:
    """A fixed-size box of a map per window: rows ``[start_y[p], start_y[p] + size[0])`` and the
    same for columns; always inside the map (``start`` arrays shape (P,))."""

    def __init__(self, start_y, start_x, size):
        self.start_y, self.start_x, self.size = start_y, start_x, size


def fit(lo, hi, extent, tau=None):
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


def same_before(size_in, size_out, stride, span):
    """Padding TF's SAME puts before the first position."""
    return max((size_out - 1) * stride + span - size_in, 0) // 2


def reflect_table(size_in, before, size_out, mode):
    """Input index read by each output position of a MirrorPad (REFLECT/SYMMETRIC)."""
    shift = 0 if mode == "REFLECT" else 1
    src = np.arange(size_out) - before
    src = np.where(src < 0, -src - shift, src)
    return np.where(src >= size_in, 2 * size_in - 2 - src + shift, src)


def sliding_geometry(op, box, in_hw, out_hw, tau=None):
    """(output box, input row/col index tables (P, ph)/(P, pw), pad before y/x) of a
    Conv2D/DepthwiseConv2dNative/MaxPool/AvgPool, or None if its attrs are not supported."""
    if not is_nhwc(op):
        return None
    strides = list(op.get_attr("strides"))
    if op.type in ("MaxPool", "AvgPool"):
        ksize = list(op.get_attr("ksize"))
        if ksize[0] != 1 or ksize[3] != 1:
            return None
        kernel, dilations = ksize[1:3], [1, 1]
    else:
        kernel = op.inputs[1].shape.as_list()[:2]
        dilations = list(op_attr(op, "dilations", [1, 1, 1, 1]))[1:3]
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
            before = same_before(in_hw[axis], out_hw[axis], stride, span)
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
        out_start, size = fit(lo, hi, out_hw[axis], tau)
        patch = (size - 1) * stride + span
        table = out_start[:, None] * stride - before + np.arange(patch)[None]
        geometry.append((out_start, size, table, before, kernel[axis], stride, dilations[axis]))
    return geometry


def op_attr(op, name, default):
    try:
        return op.get_attr(name)
    except ValueError:
        return default


def is_nhwc(op):
    """Whether the op's layout is NHWC (the default when it has no data_format attr)."""
    return op_attr(op, "data_format", b"NHWC") in (b"NHWC", "NHWC")


def pair(name, value):
    values = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (not isinstance(values, (tuple, list)) or len(values) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)):
        raise ExplainTypeError(f"{name}: expected an int or a tuple of 2 ints (height, width), got {value!r}.")
    if min(values) <= 0:
        raise ExplainValueError(f"{name}: values must be positive, got {tuple(values)}.")
    return int(values[0]), int(values[1])

