"""GraphDef rewrites that make an imported model flat: every op between X and T an ordinary op
of the graph, with its ordinary gradient, visible to the path search, the rules and warnings.

Freezing already inlines most function calls; what it leaves is rewritten here:

* custom gradients (swish and silu carry one) are dropped: they name a Python function that
  refers to the traced function's graph, which cannot be called from another graph, and the
  ops' own gradients are the same derivative;
* calls of functions marked for XLA compilation (Keras' TF backend wraps grouped convolutions
  in one, since TF's CPU kernels lack them) are inlined, and a grouped convolution becomes
  the same linear map in ordinary ops (depthwise, or one convolution per group).
"""
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2, node_def_pb2
from tensorflow.python.framework import op_def_registry

tf1 = tf.compat.v1
_OVERRIDE_ATTRIBUTE = "_gradient_op_type"
_CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


def flat_graph_def(graph_def):
    """A copy of ``graph_def`` without custom gradients, XLA-only function calls and grouped
    convolutions (see the module's docstring); ``graph_def`` itself is left as it is."""
    copy = tf1.GraphDef()
    copy.CopyFrom(graph_def)
    nodes = list(copy.node) + [node for function in copy.library.function for node in function.node_def]
    for node in nodes:
        override = node.attr.get(_OVERRIDE_ATTRIBUTE)
        if override is not None and override.s.startswith(b"CustomGradient"):
            del node.attr[_OVERRIDE_ATTRIBUTE]
    if _inline_calls(copy):
        _grouped_convolutions(copy)
    return copy


def _output_index(op_type, output_arg, index):
    """Flat output index of ``output_arg:index`` of an op, or None when an argument is a list."""
    op_def = op_def_registry.get(op_type)
    if op_def is None:
        return None
    position = 0
    for arg in op_def.output_arg:
        if arg.number_attr or arg.type_list_attr:
            return None
        if arg.name == output_arg:
            return position + index
        position += 1
    return None


def _inlined(call, function):
    """The nodes replacing ``call`` (the function's body under the call's name, and an IdentityN
    named like the call holding its results), or None when the body is not straight-line."""
    prefix = call.name + "/inlined/"
    data_inputs = [i for i in call.input if not i.startswith("^")]
    controls = [i for i in call.input if i.startswith("^")]
    arguments = {arg.name: data_inputs[k] for k, arg in enumerate(function.signature.input_arg)}
    types = {node.name: node.op for node in function.node_def}

    def tensor(reference):
        if reference.startswith("^"):
            return "^" + prefix + reference[1:]
        if reference in arguments:
            return arguments[reference]
        node, output_arg, index = reference.split(":")
        flat = _output_index(types[node], output_arg, int(index))
        if flat is None:
            raise LookupError(reference)
        return f"{prefix}{node}:{flat}"

    try:
        body = []
        for node in function.node_def:
            if node.op in _CALLS or op_def_registry.get(node.op) is None:
                return None
            new = node_def_pb2.NodeDef()
            new.CopyFrom(node)
            new.name = prefix + node.name
            new.ClearField("device")
            del new.input[:]
            new.input.extend([tensor(i) for i in node.input] + controls)
            body.append(new)
        results = node_def_pb2.NodeDef(name=call.name, op="IdentityN")
        results.input.extend(tensor(function.ret[arg.name]) for arg in function.signature.output_arg)
        results.attr["T"].CopyFrom(attr_value_pb2.AttrValue(
            list=attr_value_pb2.AttrValue.ListValue(type=[arg.type for arg in function.signature.output_arg])))
    except (LookupError, ValueError):
        return None
    return body + [results]


def _inline_calls(graph_def):
    """Inline the calls left in ``graph_def``'s top level; returns how many were inlined."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    kept, count = [], 0
    for node in graph_def.node:
        function = functions.get(node.attr["f"].func.name) if node.op in _CALLS else None
        replacement = _inlined(node, function) if function is not None else None
        if replacement is None:
            kept.append(node)
        else:
            kept.extend(replacement)
            count += 1
    if count:
        del graph_def.node[:]
        graph_def.node.extend(kept)
    return count


def _const(name, values):
    node = node_def_pb2.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = tf.int32.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values, tf.int32))
    return node


def _depthwise(node, kernel, channels):
    """Rewrite ``node`` in place as a depthwise convolution; return the nodes it needs."""
    # output o of group g (= input channel g) is o = g * multiplier + j: a reshape of the kernel
    shape = _const(node.name + "/depthwise_shape", [kernel[0], kernel[1], channels, kernel[3] // channels])
    reshape = node_def_pb2.NodeDef(name=node.name + "/depthwise_kernel", op="Reshape",
                                   input=[node.input[1], shape.name])
    reshape.attr["T"].CopyFrom(node.attr["T"])
    reshape.attr["Tshape"].type = tf.int32.as_datatype_enum
    node.op = "DepthwiseConv2dNative"
    node.input[1] = reshape.name
    if "use_cudnn_on_gpu" in node.attr:
        del node.attr["use_cudnn_on_gpu"]
    return [shape, reshape]


def _split_groups(node, groups):
    """Rewrite ``node`` in place as the concatenation of one convolution per group."""
    axis = _const(node.name + "/groups_axis", 3)
    parts = []
    for source, label in ((node.input[0], "inputs"), (node.input[1], "kernels")):
        split = node_def_pb2.NodeDef(name=f"{node.name}/{label}", op="Split", input=[axis.name, source])
        split.attr["T"].CopyFrom(node.attr["T"])
        split.attr["num_split"].i = groups
        parts.append(split)
    convolutions = []
    for g in range(groups):
        conv = node_def_pb2.NodeDef()
        conv.CopyFrom(node)
        conv.name = f"{node.name}/group_{g}"
        del conv.input[:]
        conv.input.extend([f"{parts[0].name}:{g}", f"{parts[1].name}:{g}"])
        convolutions.append(conv)
    dtype = node.attr["T"]
    node.op = "ConcatV2"
    node.ClearField("attr")
    node.attr["T"].CopyFrom(dtype)
    node.attr["N"].i = groups
    node.attr["Tidx"].type = tf.int32.as_datatype_enum
    del node.input[:]
    node.input.extend([conv.name for conv in convolutions] + [axis.name])
    return [axis] + parts + convolutions


def _grouped_convolutions(graph_def):
    """Grouped Conv2D ops (TF's CPU kernels have none) become the same linear map in ordinary
    ops: a depthwise convolution when each group is one input channel, else one convolution
    per group, concatenated."""
    scratch = tf.Graph()
    with scratch.as_default():
        tf1.import_graph_def(graph_def, name="")
    extra = []
    for node in graph_def.node:
        if node.op != "Conv2D" or node.attr["data_format"].s not in (b"", b"NHWC"):
            continue
        op = scratch.get_operation_by_name(node.name)
        channels = op.inputs[0].shape.as_list()[-1] if op.inputs[0].shape.rank == 4 else None
        kernel = op.inputs[1].shape.as_list() if op.inputs[1].shape.rank == 4 else None
        if channels is None or kernel is None or None in kernel or kernel[2] == channels \
                or channels % kernel[2]:
            continue
        groups = channels // kernel[2]
        if kernel[3] % groups:
            continue
        extra += _depthwise(node, kernel, channels) if kernel[2] == 1 else _split_groups(node, groups)
    graph_def.node.extend(extra)
