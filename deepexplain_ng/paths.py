"""The ops between the inputs X and the target T, and what a method can say about them."""
import tensorflow as tf

from .notices import SoftmaxTargetWarning, UnsupportedOpWarning, warn
from .op_classes import LINEAR, SELECTS, SOFTMAXES, op_class


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


_KIND_NAMES = {"product": "a product of two inputs that both depend on X",
               "quotient": "a quotient of two inputs that both depend on X",
               "squared_difference": "a squared difference of two inputs that both depend on X",
               "softmax": "a softmax inside the network", "logsoftmax": "a log-softmax inside the network"}


def varying_inputs(ops, inputs):
    """``{op name: indices of its inputs that vary with X row by row}`` for the ops of a path."""
    on_path = {op.name for op in ops}
    input_names = {x.name for x in inputs}
    batch = {x.shape.as_list()[0] for x in inputs if x.shape.rank}
    return {op.name: _varying(op, on_path, input_names, batch) for op in ops}


def _varying(op, on_path, input_names, batch=None):
    """Inputs computed from X; with ``batch`` (X's batch sizes), only those with X's batch axis:
    a tensor without it (batch statistics behind a training-mode switch that inference never
    takes) holds no row of its own to rule on."""
    def rows(t):
        return batch is None or (t.shape.rank not in (None, 0) and t.shape.as_list()[0] in batch)
    return [i for i, t in enumerate(op.inputs) if (t.op.name in on_path or t.name in input_names) and rows(t)]


def check_path(ops, inputs, target, method, rule_based, exact_classes, varying, softmax_warning=True):
    """Warn, naming the ops, about what ``method`` cannot explain exactly on this path.

    ``rule_based``: the method replaces the chain rule at nonlinearities (elrp, deeplift),
    so any other nonlinear op silently falls back to its gradient and is reported.
    ``exact_classes``: the op classes (``op_classes.op_class``) the method's rules treat exactly;
    ``varying``: the varying inputs of each op (:func:`varying_inputs`); ``softmax_warning``: warn
    about a target behind a softmax (not for tools that only evaluate T, such as the metrics).
    """
    on_path = {op.name for op in ops}
    input_names = {x.name for x in inputs}
    softmax = _target_softmax(target, on_path)
    if softmax is not None and softmax_warning:
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
        if op.type in FUNCTION_CALLS or op is softmax:
            continue  # a target softmax has its own warning
        kind = op_class(op, varying[op.name])
        if kind in exact_classes:
            continue
        if op.type in SELECTS and not _depends_on(op.inputs[0], input_names):
            continue  # a fixed or random mask: affine in the selected values
        if kind is None:
            problems.append((op.name, f"{op.type} (no {method} rule; its ordinary gradient is used)"))
        else:
            problems.append((op.name, f"{op.type}: {_KIND_NAMES.get(kind, kind)} (no {method} rule; "
                                      "its ordinary gradient is used)"))
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
