"""Finding the hidden tensor a layer method works at (``layer=``)."""
import tensorflow as tf

from ..errors import ExplainValueError


#: ops that make feature maps from learned filters
CONVOLUTIONS = frozenset({"Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "Conv3D"})
#: per-position ops that a convolutional layer's output passes through (bias, activation, norm)
_LAYER_TAIL = frozenset({"BiasAdd", "Add", "AddV2", "Mul", "Sub", "Relu", "Relu6", "LeakyRelu", "Elu", "Selu",
                         "Sigmoid", "Tanh", "Softplus", "Softsign", "Swish", "Gelu", "FusedBatchNorm",
                         "FusedBatchNormV2", "FusedBatchNormV3", "Identity"})


def _last_convolution_output(candidates):
    """The output of the last convolutional layer among ``candidates`` (in graph order): the last
    convolution's tensor followed through its bias, activation and normalisation, stopping at
    pooling, reshapes or anything else; None when no convolution is there."""
    positions = [i for i, t in enumerate(candidates) if t.op.type in CONVOLUTIONS]
    if not positions:
        return None
    chosen = candidates[positions[-1]]
    for tensor in candidates[positions[-1] + 1:]:
        if tensor.op.type not in _LAYER_TAIL or chosen.op not in [i.op for i in tensor.op.inputs]:
            break
        chosen = tensor
    return chosen


def resolve_layer(explainer, layer, rank=None, convolutional=False):
    """``layer`` (a tensor of the explainer's graph, its name, or an op name) checked to lie on
    the path X -> T (and to have ``rank`` axes when given); None picks the last float tensor of
    that rank on the path, or with ``convolutional`` the output of the last convolutional layer
    (after its bias and activation, before pooling: Xplique's and Captum's users' choice)."""
    name = explainer.name
    if layer is None:
        candidates = [t for op in explainer.path for t in op.outputs
                      if (rank is None or t.shape.rank == rank) and t.dtype.is_floating
                      and op.type not in ("Placeholder",)]
        if not candidates:
            raise ExplainValueError(f"{name}: no {rank}-D tensor on the path from X to T; give layer=.")
        chosen = _last_convolution_output(candidates) if convolutional else None
        return candidates[-1] if chosen is None else chosen
    if isinstance(layer, str):
        try:
            layer = explainer.graph.get_tensor_by_name(layer if ":" in layer else layer + ":0")
        except (KeyError, ValueError) as error:
            raise ExplainValueError(f"layer: no tensor named '{layer}' in the graph ({error}).") from None
    expected = f"a {rank}-D (NHWC) tensor" if rank == 4 else "a tensor"
    if not isinstance(layer, tf.Tensor) or layer.graph is not explainer.graph or (
            rank is not None and layer.shape.rank != rank):
        raise ExplainValueError(f"layer: expected {expected} of the explainer's graph, got {layer!r}.")
    if layer.op.name not in {op.name for op in explainer.path}:
        raise ExplainValueError(f"layer: '{layer.name}' is not on the path from X to T.")
    return layer
