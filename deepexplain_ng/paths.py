"""The ops between the inputs X and the target T, and what a method can say about them."""
import warnings

from .rules import NONLINEARITIES


class UnsupportedOpWarning(UserWarning):
    """An op on the path X -> T that the chosen method cannot treat exactly.

    Turn it into an error with ``warnings.simplefilter("error", UnsupportedOpWarning)``.
    """


class SoftmaxTargetWarning(UserWarning):
    """The target is computed through a softmax; explaining the logits is advised."""


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


def check_path(ops, inputs, method, rule_based, max_pool_exact):
    """Warn, naming each op, about what ``method`` cannot explain exactly on this path.

    ``rule_based``: the method replaces the chain rule at nonlinearities (elrp, deeplift),
    so any other nonlinear op silently falls back to its gradient and is reported.
    ``max_pool_exact``: whether max-pooling's gradient is the method's own rule.
    """
    on_path = {op.name for op in ops}
    input_names = {x.name for x in inputs}
    softmaxes = [op for op in ops if op.type in SOFTMAXES]
    if softmaxes:
        op = softmaxes[-1]
        warnings.warn(
            f"the target is computed through {op.type} op '{op.name}': attributions of "
            f"probabilities mix all classes; explain the logits instead "
            f"(T = graph.get_tensor_by_name('{op.inputs[0].name}')).",
            SoftmaxTargetWarning, stacklevel=4)
    calls = [op for op in ops if op.type in FUNCTION_CALLS]
    if calls:
        names = ", ".join(f"'{op.name}' ({op.type})" for op in calls)
        warnings.warn(
            f"{method}: ops inside function bodies are not visible to the library: {names}; "
            "freeze the model into a flat graph (DeepExplain.import_model) to explain it exactly.",
            UnsupportedOpWarning, stacklevel=4)
    if not rule_based:
        return
    problems = []
    for op in ops:
        if op.type in NONLINEARITIES or op.type in SOFTMAXES or op.type in FUNCTION_CALLS:
            continue
        if op.type in PRODUCTS:
            if len(_path_inputs(op, on_path, input_names)) > 1:
                problems.append(f"'{op.name}' ({op.type} of two inputs that both depend on X: "
                                "a multiplicative gate such as swish or GELU; the rule is not exact)")
            continue
        if op.type in SELECTS and not _depends_on(op.inputs[0], input_names):
            continue
        if op.type in LINEAR:
            continue
        if op.type in MAX_POOLS:
            if not max_pool_exact:
                problems.append(f"'{op.name}' ({op.type}: falls back to its ordinary gradient)")
            continue
        problems.append(f"'{op.name}' ({op.type}: no {method} rule; its ordinary gradient is used)")
    if problems:
        warnings.warn(
            f"{method}: {len(problems)} op(s) on the path from X to T are not handled exactly by "
            f"the {method} rules: " + "; ".join(problems),
            UnsupportedOpWarning, stacklevel=4)
