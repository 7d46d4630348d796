"""Class activation maps: Grad-CAM (Selvaraju et al. 2017)."""
import numpy as np
import tensorflow as tf
from skimage.transform import resize

from ..errors import ExplainTypeError, ExplainValueError
from .gradient import GradientExplainer


class GradCAM(GradientExplainer):
    """Grad-CAM: at a 4-D (NHWC) ``layer`` A between X and T, channel weights are the spatial mean
    of dS/dA; the map is ``relu(sum_c w_c A_c)`` (``relu=True``), resized bilinearly to X's height
    and width (``upsample=True``; False keeps the layer's resolution).

    Options: ``layer`` (a 4-D tensor of the graph or its name; default: the last 4-D tensor on the
    path X -> T), ``relu=True``, ``upsample=True``. Result: ``(n, H, W)`` (X's, or the layer's).
    """

    name = "gradcam"
    options = {"layer": None, "relu": True, "upsample": True}

    def validate(self, params):
        for key in ("relu", "upsample"):
            if not isinstance(params[key], bool):
                raise ExplainTypeError(f"{key} must be True or False, got {params[key]!r}.")
        return params

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"gradcam explains one input tensor; X is a list of {len(self.inputs)}.")
        layer = self.params["layer"]
        if layer is None:
            candidates = [t for op in self.path for t in op.outputs
                          if t.shape.rank == 4 and t.dtype.is_floating and op.type not in ("Placeholder",)]
            if not candidates:
                raise ExplainValueError("gradcam: no 4-D (NHWC) tensor on the path from X to T; give layer=.")
            layer = candidates[-1]
        elif isinstance(layer, str):
            try:
                layer = self.graph.get_tensor_by_name(layer if ":" in layer else layer + ":0")
            except (KeyError, ValueError) as error:
                raise ExplainValueError(f"layer: no tensor named '{layer}' in the graph ({error}).") from None
        if not isinstance(layer, tf.Tensor) or layer.graph is not self.graph or layer.shape.rank != 4:
            raise ExplainValueError(f"layer: expected a 4-D (NHWC) tensor of the explainer's graph, got {layer!r}.")
        if layer.op.name not in {op.name for op in self.path}:
            raise ExplainValueError(f"layer: '{layer.name}' is not on the path from X to T.")
        if self.params["upsample"] and self.inputs[0].shape.rank != 4:
            raise ExplainValueError(f"gradcam: upsample=True needs a 4-D X (NHWC), got {self.inputs[0].shape}; "
                                    "pass upsample=False for the layer's resolution.")
        self.layer = layer

    def _build(self):
        (gradient,) = tf.gradients(self.score, [self.layer])
        self.fetches = [self.layer, gradient]

    def result_shape(self, shape):
        size = shape[1:3] if self.params["upsample"] else self.layer.shape.as_list()[1:3]
        return (shape[0],) + tuple(size)

    def _explain(self, xs, weights, rows, context, extra):
        x = xs[0]
        maps = []

        def make_feed(lo, hi):
            return {self.inputs[0]: x[lo:hi], self.weights: weights[lo:hi]}

        def consume(lo, hi, values):
            activations, gradients = values
            channel_weights = gradients.mean(axis=(1, 2), keepdims=True)
            maps.append((activations * channel_weights).sum(axis=-1))

        self.evaluate(self.fetches, len(x), make_feed, consume, extra)
        cam = np.concatenate(maps).astype(np.float64)
        if self.params["relu"]:
            cam = np.maximum(cam, 0.0)
        if self.params["upsample"]:
            cam = np.stack([resize(m, x.shape[1:3], order=1, mode="edge", anti_aliasing=False) for m in cam])
        return [cam.astype(x.dtype)]
