"""Classes of ops by how a modified chain rule treats them, from the op's type and which of
its inputs depend on X (its *varying* inputs)."""
from .rules import ELEMENTWISE

# Ops that are affine in their path input (or only move values around): every
# gradient-based rule passes through them with their ordinary gradient.
LINEAR = frozenset("""
    Identity IdentityN Snapshot StopGradient PreventGradient
    MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum
    Conv1D Conv2D Conv3D DepthwiseConv2dNative Conv2DBackpropInput Conv3DBackpropInputV2
    BiasAdd Add AddV2 AddN Sub Neg Mul RealDiv Div Cast
    Reshape Squeeze ExpandDims Transpose ConcatV2 Concat Pack Unpack Split SplitV
    Slice StridedSlice Pad PadV2 MirrorPad Tile GatherV2 Gather ResourceGather
    Sum Mean AvgPool AvgPool3D
    FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3
    ResizeBilinear ResizeNearestNeighbor ZerosLike OnesLike
    Placeholder PlaceholderWithDefault Const
    SpaceToBatchND BatchToSpaceND SpaceToDepth DepthToSpace ReverseV2 Roll GatherNd ScatterNd
    BroadcastTo ExtractImagePatches Cumsum MatrixBandPart
""".split())
# Bilinear: affine in each factor; a product when both depend on X.
BILINEAR = frozenset("Mul MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum".split())
QUOTIENTS = frozenset({"RealDiv", "Div"})
# Products whose two factors depending on X have no rule (a kernel computed from X).
CONVOLUTIONS = frozenset("Conv2D Conv3D DepthwiseConv2dNative".split())
SELECTS = frozenset({"Select", "SelectV2"})
MAX_POOLS = frozenset("MaxPool MaxPoolV2 MaxPool3D".split())
MAX_REDUCTIONS = frozenset({"Max", "Min"})
PAIR_EXTREMES = frozenset({"Maximum", "Minimum"})
SOFTMAXES = frozenset({"Softmax", "LogSoftmax"})
#: Every op type a rule may apply to: marked with the library's gradient.
RULED = frozenset(ELEMENTWISE) | BILINEAR | QUOTIENTS | MAX_POOLS | MAX_REDUCTIONS | PAIR_EXTREMES | \
    SOFTMAXES | frozenset({"SquaredDifference", "Pow"})


def _same_shape(a, b):
    if a.shape.rank is None or a.shape.rank != b.shape.rank:
        return False
    return all(x is None or y is None or x == y for x, y in zip(a.shape.as_list(), b.shape.as_list()))


def op_class(op, varying):
    """How rules treat ``op`` whose inputs at indices ``varying`` depend on X.

    Returns one of ``"affine"`` (its ordinary gradient is exact), ``"elementwise"`` (a function of
    one varying tensor, elementwise: secant / epsilon rule), ``"product"`` (bilinear in two varying
    factors), ``"quotient"``, ``"squared_difference"``, ``"pair_extreme"`` (Maximum/Minimum of two
    varying tensors), ``"max"`` (max-pooling, Max/Min reductions), ``"softmax"``,
    ``"logsoftmax"``, or None (no rule: a gate, a rounding, ...).
    """
    kind, count = op.type, len(varying)
    if count == 0:
        return "affine"  # nothing here varies row by row (e.g. statistics of a training branch)
    if kind in ELEMENTWISE:
        return "elementwise"
    if count == 1:
        index = varying[0]
        one_varying = {"Maximum": True, "Minimum": True, "SquaredDifference": True,
                       "Pow": index == 0, "RealDiv": index == 1, "Div": index == 1}
        if one_varying.get(kind):
            return "elementwise" if _same_shape(op.inputs[index], op.outputs[0]) else None
        if kind in MAX_POOLS or (kind in MAX_REDUCTIONS and index == 0):
            return "max"
        if kind in SOFTMAXES:
            return kind.lower()
    if count >= 2:
        if kind in BILINEAR:
            return "product"
        if kind in QUOTIENTS:
            return "quotient"
        if kind == "SquaredDifference":
            return "squared_difference"
        if kind in PAIR_EXTREMES and _same_shape(op.inputs[0], op.inputs[1]):
            return "pair_extreme"
        if kind in CONVOLUTIONS or kind == "Pow":
            return None
    if kind in LINEAR:
        return "affine"
    return None
