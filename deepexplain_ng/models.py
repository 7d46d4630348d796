"""Getting a static graph from a model: tf_keras sessions, and Keras 3 / SavedModel / GraphDef
models frozen into a GraphDef that a DeepExplain context imports under its overrides."""
import contextlib
import importlib
import os
from dataclasses import dataclass

import tensorflow as tf
from tensorflow.python.eager import context as eager_context
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from .errors import ExplainError, ExplainTypeError, ExplainValueError

tf1 = tf.compat.v1
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot"})
_SQUASHING = frozenset({"Softmax", "Sigmoid"})


def keras_session():
    """tf_keras' graph-mode session (``tf_keras`` keeps ``get_session`` out of its public API).

    Call ``tf.compat.v1.disable_eager_execution()`` before building the tf_keras model.
    """
    from tf_keras.src import backend
    return backend.get_session()


@dataclass
class FrozenModel:
    """A model as a GraphDef with constants for weights, and the names of its tensors."""

    graph_def: object
    inputs: list       # input tensor names
    output: str        # the model's (first) output
    layers: dict       # Keras layer name -> its output tensor's name (functional models)


def _is_keras_model(model):
    return hasattr(model, "layers") and hasattr(model, "get_layer") and callable(model)


def _input_specs(model):
    """TensorSpecs of the model's inputs with a free batch axis, or None when unknown."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [tf.TensorSpec((None,) + tuple(x.shape[1:]), x.dtype, name=x.name.split(":")[0])
                for x in inputs]
    # a subclassed model remembers the shape of its first call
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    shape = shapes.get("input_shape") if len(shapes) == 1 else None
    if shape is None or not all(isinstance(d, int) or d is None for d in shape):
        return None
    return [tf.TensorSpec((None,) + tuple(shape[1:]), tf.float32, name="input")]


def load_graph_def(path):
    """A GraphDef read from a binary ``.pb`` file."""
    if not os.path.exists(path):
        raise ExplainValueError(f"model: no file at '{path}'.")
    graph_def = tf1.GraphDef()
    with open(path, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    return graph_def


def _load(path):
    """A model object or GraphDef from a file or SavedModel directory."""
    if not os.path.exists(path):
        raise ExplainValueError(f"model: no file or directory at '{path}'.")
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ExplainValueError(f"model: '{path}' is a directory without saved_model.pb, not a SavedModel.")
        with eager_context.eager_mode():
            return tf.saved_model.load(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".keras", ".h5", ".hdf5"):
        import keras
        with eager_context.eager_mode():
            return keras.saving.load_model(path, compile=False)
    if suffix == ".pb":
        return load_graph_def(path)
    raise ExplainValueError(f"model: don't know how to load '{path}' (expected a SavedModel directory, "
                            "a .keras, .h5 or .pb file).")


def _layer_outputs(model):
    """{name: output} of every layer with one output, for functional and Sequential models.

    The outputs are those of the layers' calls inside ``model`` (its graph nodes), so a model
    nested in another gives the tensor of its call in the outer model, not of its own inputs.
    """
    outputs = {}
    # a Keras 3 Sequential model keeps its graph in a functional model of its own
    graph = getattr(model, "_functional", None) or model
    for nodes in (getattr(graph, "_nodes_by_depth", None) or {}).values():
        for node in nodes:
            layer = getattr(node, "operation", None) or getattr(node, "layer", None)
            tensors = tf.nest.flatten(node.output_tensors)
            if layer is None or type(layer).__name__ == "InputLayer" or len(tensors) != 1:
                continue
            outputs.setdefault(layer.name, tensors[0])
    order = {layer.name: i for i, layer in enumerate(getattr(model, "layers", []))}
    return dict(sorted(outputs.items(), key=lambda item: order.get(item[0], len(order))))


def _recurrent_layers(model):
    """Keras recurrent layers (with an ``unroll`` switch) anywhere inside ``model``."""
    found, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if hasattr(layer, "unroll") and hasattr(layer, "cell"):
            found.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
        for attribute in ("layer", "forward_layer", "backward_layer"):  # Bidirectional, wrappers
            inner = getattr(layer, attribute, None)
            if inner is not None and hasattr(inner, "__call__"):
                stack.append(inner)
    return found


@contextlib.contextmanager
def _unrolled(model):
    """Recurrent layers traced unrolled: a While loop would hide the steps from the path
    search and the rules, and its lowered form cannot be differentiated after import."""
    layers = [layer for layer in _recurrent_layers(model) if not layer.unroll]
    for layer in layers:
        layer.unroll = True
    try:
        yield
    finally:
        for layer in layers:
            layer.unroll = False


def _keras_function(model):
    """A concrete function of ``model`` in inference mode; returns ``(function, layer names)``.

    The function returns the model's first output, then the output of every layer, so
    that any layer can serve as a target or as the tensor to explain from. Recurrent layers
    are unrolled when the sequence length is known.
    """
    try:
        outputs = list(model.outputs)
    except (AttributeError, TypeError, ValueError):
        outputs = None  # subclassed: only the model's own output is known
    traced, layers = model, {}
    if outputs:
        layers = _layer_outputs(model)
        if layers:
            # keras or tf_keras, whichever the model comes from
            package = importlib.import_module(type(model).__module__.split(".")[0])
            traced = package.Model(model.inputs, outputs[:1] + list(layers.values()))
    specs = _input_specs(model)
    if not specs:
        raise ExplainValueError("model: its input shape is unknown; call the model on data once (or build "
                                "it with an input shape) so it can be traced.")

    def call(*xs):
        result = traced(list(xs) if len(xs) > 1 else xs[0], training=False)
        return result if isinstance(result, (list, tuple)) else [result]

    try:
        with _unrolled(model):
            return tf.function(call).get_concrete_function(*specs), list(layers)
    except (ValueError, TypeError) as error:
        if "unroll" not in str(error).lower():
            raise
    # unrolling needs a known sequence length; keep the loop (its steps stay opaque)
    return tf.function(call).get_concrete_function(*specs), list(layers)


def _saved_model_function(loaded):
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" in signatures:
        return signatures["serving_default"]
    if signatures:
        return next(iter(signatures.values()))
    raise ExplainValueError("model: the SavedModel has no signature to trace; export it with one "
                            "(model.export(path) does).")


def _constants(function):
    # aggressive inlining also inlines calls holding stateful ops (e.g. random ops that
    # inference never runs), which would otherwise stay as opaque function calls
    return convert_variables_to_constants_v2(function, aggressive_inlining=True)


def freeze(model):
    """Freeze ``model`` (see :meth:`DeepExplain.import_model`) into a :class:`FrozenModel`.

    Runs in eager mode whatever the caller's mode: reading variables needs it.
    """
    if isinstance(model, (str, os.PathLike)):
        model = _load(os.fspath(model))
    layer_names = []
    with eager_context.eager_mode():
        if _is_keras_model(model):
            try:
                function, layer_names = _keras_function(model)
                frozen = _constants(function)
            except ExplainError:
                raise
            except Exception as error:
                hint = ("; a Keras 3 model must be built outside the `with DeepExplain(...)` block "
                        "(it builds eagerly), then imported inside it" if "out of scope" in str(error) else "")
                raise ExplainValueError(f"model: could not trace the Keras model in inference mode "
                                        f"({type(error).__name__}: {str(error).splitlines()[0]}){hint}.") from error
        elif hasattr(model, "signatures"):
            frozen = _constants(_saved_model_function(model))
        else:
            raise ExplainTypeError(f"model: expected a Keras model, a SavedModel, a GraphDef or a path, "
                                   f"got {type(model).__name__}.")
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    return FrozenModel(frozen.graph.as_graph_def(), inputs, outputs[0],
                       dict(zip(layer_names, outputs[1:])))


def behind_identities(tensor):
    """The tensor that ``tensor`` merely copies through Identity-like ops."""
    while tensor.op.type in _PASS_THROUGH and tensor.op.inputs:
        tensor = tensor.op.inputs[tensor.value_index if tensor.op.type == "IdentityN" else 0]
    return tensor


def pre_activation(tensor):
    """The input of a final softmax/sigmoid behind ``tensor`` (through identities), or None."""
    op = behind_identities(tensor).op
    return op.inputs[0] if op.type in _SQUASHING else None


class ImportedModel:
    """A model inside a DeepExplain graph. Unpacks as ``X, T = de.import_model(...)``.

    Attributes:
        input: the input placeholder ``(n, ...)``, or a list of them (= X).
        target: the tensor chosen by ``output`` (= T).
        output: the model's own output (probabilities when it ends with a softmax).
        layers: ``{layer name: output tensor}`` for functional and Sequential Keras models.
    """

    def __init__(self, inputs, target, output, layers):
        self.input = inputs[0] if len(inputs) == 1 else list(inputs)
        self.target, self.output, self.layers = target, output, dict(layers)

    def __iter__(self):
        return iter((self.input, self.target))

    def layer(self, name):
        """The output tensor of the layer called ``name`` (e.g. an embedding, to explain from)."""
        if name not in self.layers:
            known = list(self.layers) or "none (only functional and Sequential Keras models list them)"
            raise ExplainValueError(f"output: no layer named '{name}' in the model; its layers are {known}.")
        return self.layers[name]
