"""Copies of the model between X and T, with other weights or other inputs: the user's graph
is never changed (copies are new ops beside it, or graphs of their own).

``frozen_graph_def`` takes the ancestors of the target out of a session's graph with every
variable read replaced by a constant of its current value; ``weight_layers`` names the layers
whose weights those constants are, from the output down; ``with_weights`` returns a copy of the
GraphDef with some constants' values replaced; ``path_copy`` imports a copy of the target's
ancestors into the same graph with some tensors replaced (an input computed in the graph).
"""
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_from_session_graph
from tensorflow.python.util import deprecation

from .errors import ExplainValueError

tf1 = tf.compat.v1

#: ops whose constant operands are a layer's weights (kernel, bias, scale, shift, statistics)
WEIGHTED_OPS = frozenset({
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv1D", "Conv2D", "Conv3D",
    "DepthwiseConv2dNative", "Conv2DBackpropInput", "Conv3DBackpropInputV2", "Einsum",
    "BiasAdd", "Add", "AddV2", "Sub", "Mul", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
#: ops that join the layer whose output they read directly (a bias add, a scaling)
_FOLLOWERS = frozenset({"BiasAdd", "Add", "AddV2", "Sub", "Mul"})


def _node(name):
    """A tensor name's node name: ``'^a'``, ``'a:1'`` -> ``'a'``."""
    return name.lstrip("^").split(":")[0]


def frozen_graph_def(session, target):
    """The GraphDef of ``target``'s ancestors with the session's variables as constants."""
    graph_def = session.graph.as_graph_def()
    with deprecation.silence():  # it calls TF1's extract_sub_graph, which is what is wanted here
        return convert_variables_to_constants_from_session_graph(session, graph_def, [target.op.name])


def _value(node):
    return tf.make_ndarray(node.attr["value"].tensor)


def weight_layers(graph_def, target_name, input_names):
    """The weighted layers on the path from the inputs to the target, top layer first.

    A layer is an op of ``WEIGHTED_OPS`` with an operand computed from constants alone, together
    with the bias adds and scalings that directly follow it; its weights are those constants.
    Constants of one element (a scale like ``x * 0.5``, an epsilon) and integer constants
    (shapes, axes) are not weights.

    Returns:
        ``[(layer name, [constant node names])]``, ordered from the output down.
    """
    nodes = {node.name: node for node in graph_def.node}
    consumers = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(_node(name), set()).add(node.name)
    varying = _closure([_node(name) for name in input_names], lambda name: consumers.get(name, ()))
    ancestors = _closure([_node(target_name)], lambda name: (_node(i) for i in nodes[name].input))
    on_path = _topological(nodes, varying & ancestors)

    def weights_of(input_name):
        """The float constants (of more than one element) an input of the op is computed from
        (a frozen batch norm reads rsqrt(var + eps) * gamma, not one constant)."""
        if _node(input_name) in varying:
            return []
        found = _closure([_node(input_name)], lambda name: (_node(i) for i in nodes[name].input))
        return sorted(name for name in found if nodes[name].op == "Const"
                      and tf.dtypes.as_dtype(nodes[name].attr["value"].tensor.dtype).is_floating
                      and _value(nodes[name]).size > 1)

    layers, owner = [], {}
    for name in on_path:
        node = nodes[name]
        if node.op not in WEIGHTED_OPS:
            continue
        weights = [w for i in node.input if not i.startswith("^") for w in weights_of(i)]
        if not weights:
            continue
        feeding = [_node(i) for i in node.input if _node(i) in varying]
        parent = owner.get(feeding[0]) if node.op in _FOLLOWERS and len(feeding) == 1 else None
        if parent is not None:
            layers[parent][1].extend(w for w in weights if w not in layers[parent][1])
            owner[name] = parent
        else:
            owner[name] = len(layers)
            layers.append((name.rsplit("/", 1)[0] if "/" in name else name, weights))
    return [(label, weights) for label, weights in reversed(layers)]


def _closure(starts, neighbours):
    seen, stack = set(), list(starts)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(neighbours(name))
    return seen


def _topological(nodes, names):
    """``names`` ordered so that every node comes after the nodes it reads."""
    done, out = set(), []
    for start in sorted(names):
        stack = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if name in done:
                continue
            if expanded:
                done.add(name)
                out.append(name)
                continue
            stack.append((name, True))
            stack.extend((_node(i), False) for i in nodes[name].input
                         if _node(i) in names and _node(i) not in done)
    return out


def with_weights(graph_def, values):
    """A copy of ``graph_def`` with the constants named in ``values`` ({name: array}) replaced
    (each keeps its dtype and must keep its shape)."""
    copy = tf1.GraphDef()
    copy.CopyFrom(graph_def)
    for node in copy.node:
        if node.name in values:
            old = _value(node)
            new = np.asarray(values[node.name])
            if new.shape != old.shape:
                raise ExplainValueError(f"weights of '{node.name}': expected shape {old.shape}, got {new.shape}.")
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(new.astype(old.dtype)))
    return copy


def weight_values(graph_def, names):
    """``{name: array}`` of the constants called ``names``."""
    wanted = set(names)
    return {node.name: _value(node) for node in graph_def.node if node.name in wanted}


def path_copy(session, target, replacements, name):
    """The target of a copy of its ancestors, imported into the session's graph (variables read as
    constants of their current values) with each tensor of ``replacements`` ({tensor: new
    tensor}) replaced by the new one and every other placeholder by the original, so that what
    is fed to the original graph (a keep-probability, Keras' learning phase) reaches the copy."""
    graph_def = frozen_graph_def(session, target)
    input_map = {tensor.name: new for tensor, new in replacements.items()}
    for node in graph_def.node:
        if node.op in ("Placeholder", "PlaceholderWithDefault") and f"{node.name}:0" not in input_map:
            input_map[f"{node.name}:0"] = session.graph.get_tensor_by_name(f"{node.name}:0")
    with session.graph.as_default():
        return tf1.import_graph_def(graph_def, input_map=input_map, return_elements=[target.name], name=name)[0]
