"""Finding the hidden tensor a layer method works at (``layer=``)."""
import tensorflow as tf

from ..errors import ExplainValueError


def resolve_layer(explainer, layer, rank=None):
    """``layer`` (a tensor of the explainer's graph, its name, or an op name) checked to lie on
    the path X -> T (and to have ``rank`` axes when given); None picks the last float tensor of
    that rank on the path."""
    name = explainer.name
    if layer is None:
        candidates = [t for op in explainer.path for t in op.outputs
                      if (rank is None or t.shape.rank == rank) and t.dtype.is_floating
                      and op.type not in ("Placeholder",)]
        if not candidates:
            raise ExplainValueError(f"{name}: no {rank}-D tensor on the path from X to T; give layer=.")
        return candidates[-1]
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
