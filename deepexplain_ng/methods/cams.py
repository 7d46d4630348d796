"""Class activation maps at a 4-D layer: Grad-CAM (Selvaraju et al. 2017), Grad-CAM++
(Chattopadhay et al. 2018), guided Grad-CAM, and the gradient-free FEM (Fuad et al. 2020)."""
import numbers

import numpy as np
import tensorflow as tf
from skimage.transform import resize

from ..errors import ExplainTypeError, ExplainValueError
from ..overrides import active_rule
from .gradient import GradientExplainer
from .guided import guided_rule
from .layers import resolve_layer


class LayerMap(GradientExplainer):
    """A map computed from one 4-D (NHWC) ``layer`` A between X and T, at the layer's spatial
    resolution, then resized bilinearly to X's height and width (``upsample=True``).

    ``layer``: a 4-D tensor of the graph or its name; default: the output of the last
    convolutional layer on the path X -> T (after its bias and activation, before any pooling:
    the last convolutional feature map, as Xplique chooses), else the last 4-D float tensor.
    """

    options = {"layer": None, "upsample": True}
    #: whether the map needs dS/dA
    needs_layer_gradient = True

    def validate(self, params):
        for key in ("relu", "upsample"):
            if key in params and not isinstance(params[key], bool):
                raise ExplainTypeError(f"{key} must be True or False, got {params[key]!r}.")
        return params

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"{self.name} explains one input tensor; X is a list of {len(self.inputs)}.")
        layer = resolve_layer(self, self.params["layer"], rank=4, convolutional=True)
        if self.params["upsample"] and self.inputs[0].shape.rank != 4:
            raise ExplainValueError(f"{self.name}: upsample=True needs a 4-D X (NHWC), got {self.inputs[0].shape}; "
                                    "pass upsample=False for the layer's resolution.")
        self.layer = layer

    def _build(self):
        self.fetches = [self.layer]
        if self.needs_layer_gradient:
            self.fetches += tf.gradients(self.score, [self.layer])

    def result_shape(self, shape):
        size = shape[1:3] if self.params["upsample"] else self.layer.shape.as_list()[1:3]
        return (shape[0],) + tuple(size)

    def layer_map(self, activations, gradients):
        """(rows, h, w) map of the layer's activations (and dS/dA) of a chunk of rows."""
        raise NotImplementedError

    def maps(self, xs, weights, extra, more_fetches=(), more=None):
        """The per-sample maps of ``xs[0]`` (float64, resized when ``upsample``); ``more_fetches``
        are evaluated in the same runs and handed to ``more(lo, hi, values)``."""
        x = xs[0]
        parts = []
        count = len(self.fetches)

        def make_feed(lo, hi):
            return {self.inputs[0]: x[lo:hi], self.weights: weights[lo:hi]}

        def consume(lo, hi, values):
            parts.append(self.layer_map(*[v.astype(np.float64) for v in values[:count]]))
            if more is not None:
                more(lo, hi, values[count:])

        self.evaluate(self.fetches + list(more_fetches), len(x), make_feed, consume, extra)
        cam = np.concatenate(parts)
        if self.params.get("relu", False):
            cam = np.maximum(cam, 0.0)
        if self.params["upsample"]:
            cam = np.stack([resize(m, x.shape[1:3], order=1, mode="edge", anti_aliasing=False) for m in cam])
        return cam

    def _explain(self, xs, weights, rows, context, extra):
        return [self.maps(xs, weights, extra).astype(xs[0].dtype)]


class GradCAM(LayerMap):
    """Grad-CAM: channel weights w_c = spatial mean of dS/dA_c; the map is
    ``relu(sum_c w_c A_c)`` (``relu=True``), resized bilinearly to X's height and width
    (``upsample=True``; False keeps the layer's resolution).

    Options: ``layer`` (see :class:`LayerMap`), ``relu=True``, ``upsample=True``.
    Result: ``(n, H, W)`` (X's height and width, or the layer's).
    """

    name = "gradcam"
    options = {"layer": None, "relu": True, "upsample": True}

    @staticmethod
    def channel_weights(activations, gradients):
        return gradients.mean(axis=(1, 2), keepdims=True)

    def layer_map(self, activations, gradients):
        return (activations * self.channel_weights(activations, gradients)).sum(axis=-1)


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhay et al. 2018), as Xplique's GradCAMPP: with g = dS/dA,
    ``alpha = g^2 / (2 g^2 + g^3 * mean_ij A)`` (a zero denominator becomes 1e-4), channel
    weights ``w_c = mean_ij(alpha * relu(g))``, map ``relu(sum_c w_c A_c)``.

    The higher derivatives of the paper are those of exp(S): for an exponential score they are
    powers of the first, which is how every implementation computes them. Options and result as
    ``gradcam``.
    """

    name = "gradcam_plus_plus"

    @staticmethod
    def channel_weights(activations, gradients):
        square = gradients ** 2
        denominator = 2.0 * square + gradients ** 3 * activations.mean(axis=(1, 2), keepdims=True)
        denominator = np.where(denominator == 0, 1e-4, denominator)
        alpha = square / denominator
        return (alpha * np.maximum(gradients, 0)).mean(axis=(1, 2), keepdims=True)


class GuidedGradCAM(GradCAM):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation's map of X times the
    Grad-CAM map (with ReLU) resized bilinearly to X's height and width, broadcast over channels.

    Options: ``layer`` (see :class:`LayerMap`). Result shaped like X ``(n, H, W, C)``.
    """

    name = "guided_gradcam"
    options = {"layer": None}

    def validate(self, params):
        params = dict(params, relu=True, upsample=True)
        return super().validate(params)

    def _build(self):
        super()._build()
        with active_rule(self.graph, guided_rule):
            self.guided = tf.gradients(self.score, self.inputs)

    def result_shape(self, shape):
        return shape

    def _explain(self, xs, weights, rows, context, extra):
        guided = np.empty(xs[0].shape, xs[0].dtype)

        def keep(lo, hi, values):
            guided[lo:hi] = values[0]

        cam = self.maps(xs, weights, extra, self.guided, keep)
        return [(guided * cam[..., None]).astype(xs[0].dtype)]


class FEM(LayerMap):
    """FEM, the feature explanation method (Fuad et al. 2020), as Xplique's FEM: gradient-free
    and class-agnostic (``ys`` is not used). Each channel of the layer is thresholded at
    ``mean + k * std`` of its spatial values (per sample); the map is the sum over channels of
    the binary masks weighted by the channel's spatial mean.

    Options: ``layer`` (see :class:`LayerMap`), ``k=2.0``, ``upsample=True``.
    Result: ``(n, H, W)`` (X's height and width, or the layer's).
    """

    name = "fem"
    options = {"layer": None, "k": 2.0, "upsample": True}
    needs_layer_gradient = False
    uses_gradients = False

    def validate(self, params):
        k = params["k"]
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not np.isfinite(k):
            raise ExplainTypeError(f"k must be a finite number (standard deviations), got {k!r}.")
        params["k"] = float(k)
        return super().validate(params)

    def layer_map(self, activations):
        means = activations.mean(axis=(1, 2), keepdims=True)
        threshold = means + self.params["k"] * activations.std(axis=(1, 2), keepdims=True)
        return ((activations >= threshold) * means).sum(axis=-1)
