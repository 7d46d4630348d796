"""The ops between the inputs X and the target T, and what a method can say about them."""
import tensorflow as tf

from .notices import SoftmaxTargetWarning, UnsupportedOpWarning, warn
from .rules import NONLINEARITIES


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
# Products: affine only while at most one factor depends on X.
PRODUCTS = frozenset("Mul RealDiv Div MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum "
                     "Conv2D Conv3D DepthwiseConv2dNative".split())
# Selections: affine in the selected values while the condition does not depend on X (a fixed
# dropout mask); a condition computed from X (relu written as where(x > 0, x, 0)) is a gate.
SELECTS = frozenset({"Select", "SelectV2"})
MAX_POOLS = frozenset("MaxPool MaxPoolV2 MaxPool3D MaxPoolWithArgmax".split())
SOFTMAXES = frozenset({"Softmax", "LogSoftmax"})
FUNCTION_CALLS = frozenset("PartitionedCall StatefulPartitionedCall While StatelessWhile If "
                           "StatelessIf".split())


_GRADIENT_STOPS = frozenset({"StopGradient", "PreventGradient"})


def _differentiable(tensor):
    return tensor.dtype.is_floating or tensor.dtype.is_complex


def path_ops(targets, inputs):
    """Ops on a differentiable path from any of ``inputs`` to any of ``targets``, in graph order.

    Returns ``(ops, reached)``; ``reached[i]`` says whether ``inputs[i]`` reaches a target.
    Integer tensors (token ids, shapes) and StopGradient carry no gradient, so they cut paths.
    Tensors are keyed by name: graph tensors are not hashable while eager mode is on.
    """
    needed, stack = set(), list(targets)
    while stack:
        tensor = stack.pop()
        if tensor.name in needed:
            continue
        needed.add(tensor.name)
        if tensor.op.type not in _GRADIENT_STOPS:
            stack.extend(t for t in tensor.op.inputs if _differentiable(t))
    reached = [x.name in needed for x in inputs]

    on_path = set()
    stack = [x for x, hit in zip(inputs, reached) if hit]
    seen = {x.name for x in stack}
    while stack:
        tensor = stack.pop()
        for consumer in tensor.consumers():
            if consumer.type in _GRADIENT_STOPS:
                continue
            outputs = [t for t in consumer.outputs if t.name in needed]
            if not outputs:
                continue
            on_path.add(consumer.name)
            for t in outputs:
                if t.name not in seen:
                    seen.add(t.name)
                    stack.append(t)
    ordered = [op for op in targets[0].graph.get_operations() if op.name in on_path]
    return ordered, reached


_SHAPE_ONLY = frozenset("Shape ShapeN Size Rank ZerosLike OnesLike".split())


def _depends_on(tensor, input_names):
    """Whether the values of ``tensor`` are computed from the inputs' values, through any op
    (a random mask shaped like X, as in dropout, does not count)."""
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if t.name in input_names:
            return True
        if t.op.name in seen or t.op.type in _SHAPE_ONLY:
            continue
        seen.add(t.op.name)
        stack.extend(t.op.inputs)
    return False


def _path_inputs(op, on_path, input_names):
    return [t for t in op.inputs if t.op.name in on_path or t.name in input_names]


# Ops a conditional branch may hold and stay affine in the values it passes on (dropout: a
# random mask drawn from X's shape, multiplied in), plus what TF adds to branch functions.
_BRANCH_SAFE = LINEAR | SELECTS | _SHAPE_ONLY | frozenset("""
    NoOp Fill Range RandomUniform RandomStandardNormal RandomUniformInt TruncatedNormal
    StatelessRandomUniformV2 StatelessRandomNormalV2 StatelessRandomGetKeyCounter
    Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr LogicalNot
    OptionalFromValue OptionalNone
""".split())
_CONDITIONALS = frozenset({"If", "StatelessIf"})
# Between a softmax and T, these do not mix the probabilities again: the softmax is the target's.
_AFTER_SOFTMAX = frozenset("""
    Identity IdentityN Snapshot Reshape Squeeze ExpandDims StridedSlice Slice GatherV2 Gather
    Cast Log Mul RealDiv Neg Transpose Pack Unpack ConcatV2 Split SplitV
""".split())


def _affine_conditional(op, input_names):
    """An If whose condition does not depend on X and whose branches hold only affine and
    random-mask ops (tf_keras' Dropout in graph mode): it passes values on affinely."""
    if op.type not in _CONDITIONALS or _depends_on(op.inputs[0], input_names):
        return False
    for branch in ("then_branch", "else_branch"):
        try:
            definition = op.graph._get_function(op.get_attr(branch).name).definition
        except (AttributeError, ValueError, KeyError):
            return False
        if any(node.op not in _BRANCH_SAFE for node in definition.node_def):
            return False
    return True


def _target_softmax(target, on_path):
    """The softmax whose output reaches T through ops that do not mix it again, or None."""
    stack, seen = [target.op], set()
    while stack:
        op = stack.pop()
        if op.name in seen or op.name not in on_path:
            continue
        seen.add(op.name)
        if op.type in SOFTMAXES:
            return op
        if op.type in _AFTER_SOFTMAX:
            stack.extend(t.op for t in op.inputs)
    return None


def _grouped(problems, limit=3):
    """'reason: 'a', 'b', 'c' and 9 more' per reason, for a readable warning."""
    by_reason = {}
    for name, reason in problems:
        by_reason.setdefault(reason, []).append(name)
    parts = []
    for reason, names in by_reason.items():
        shown = ", ".join(f"'{n}'" for n in names[:limit])
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        parts.append(f"{len(names)} x {reason}: {shown}{more}")
    return "; ".join(parts)


def check_path(ops, inputs, target, method, rule_based, max_pool_exact):
    """Warn, naming the ops, about what ``method`` cannot explain exactly on this path.

    ``rule_based``: the method replaces the chain rule at nonlinearities (elrp, deeplift),
    so any other nonlinear op silently falls back to its gradient and is reported.
    ``max_pool_exact``: whether max-pooling's gradient is the method's own rule.
    """
    on_path = {op.name for op in ops}
    input_names = {x.name for x in inputs}
    softmax = _target_softmax(target, on_path)
    if softmax is not None:
        warn(
            f"the target is computed through {softmax.type} op '{softmax.name}': attributions of "
            f"probabilities mix all classes; explain the logits instead "
            f"(T = graph.get_tensor_by_name('{softmax.inputs[0].name}')).",
            SoftmaxTargetWarning)
    calls = [op for op in ops if op.type in FUNCTION_CALLS and not _affine_conditional(op, input_names)]
    if calls:
        names = ", ".join(f"'{op.name}' ({op.type})" for op in calls)
        warn(
            f"{method}: ops inside function bodies are not visible to the library: {names}; "
            "freeze the model into a flat graph (DeepExplain.import_model) to explain it exactly.",
            UnsupportedOpWarning)
    if not rule_based:
        return
    problems = []
    for op in ops:
        if op.type in NONLINEARITIES or op.type in FUNCTION_CALLS or op is softmax:
            continue  # a target softmax has its own warning
        if op.type in PRODUCTS:
            if len(_path_inputs(op, on_path, input_names)) > 1:
                problems.append((op.name, f"{op.type} of two inputs that both depend on X (a multiplicative "
                                          "gate as in swish, GELU, LSTM cells, attention; not exact)"))
            continue
        if op.type in SELECTS and not _depends_on(op.inputs[0], input_names):
            continue
        if op.type in LINEAR:
            continue
        if op.type in MAX_POOLS:
            if not max_pool_exact:
                problems.append((op.name, f"{op.type} (its ordinary gradient is used)"))
            continue
        problems.append((op.name, f"{op.type} (no {method} rule; its ordinary gradient is used)"))
    if problems:
        warn(
            f"{method}: {len(problems)} op(s) on the path from X to T are not handled exactly by "
            f"the {method} rules: " + _grouped(problems),
            UnsupportedOpWarning)


def batch_weight_factor(target):
    """``(T0, c)`` when ``target`` is ``T0 * c`` with ``c`` a constant of a fixed batch of rows, else
    ``(target, None)``.

    DeepExplain's README selects the class with ``T * ys`` (``ys`` a numpy one-hot array). The
    constant has the batch size of the user's ``xs``, which the rows the library batches (IG
    steps, baselines, perturbed copies) do not have; as target weights per sample it means the
    same thing and fits any batching.
    """
    op = target.op
    if op.type != "Mul" or target.shape.rank is None or target.shape.rank < 1:
        return target, None
    for i in (0, 1):
        factor, rest = op.inputs[i], op.inputs[1 - i]
        if factor.op.type != "Const" or factor.shape.rank != rest.shape.rank:
            continue
        rows = factor.shape.as_list()[0]
        if rows is None or rows < 2 or rest.shape.as_list()[0] not in (None, rows):
            continue
        value = tf.get_static_value(factor)
        if value is not None:
            return rest, value
    return target, None
