"""FullGrad (Srinivas & Fleuret 2019): the input-gradient map plus every bias's gradient map."""
import numpy as np
import tensorflow as tf
from skimage.transform import resize

from .. import feeding
from ..errors import ExplainValueError
from .gradient import GradientExplainer

_BATCH_NORMS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def _bias_of(op, varying):
    """The constant that ``op`` adds to its one X-dependent input, as a function building it
    (broadcastable against the op's output), or None when the op adds no bias."""
    if op.type == "BiasAdd" and varying == [0]:
        channels_first = op.get_attr("data_format") == b"NCHW"
        return lambda: tf.reshape(op.inputs[1], [-1, 1, 1]) if channels_first else op.inputs[1]
    if op.type in ("Add", "AddV2") and len(varying) == 1:
        return lambda: op.inputs[1 - varying[0]]
    if op.type == "Sub" and len(varying) == 1:
        return (lambda: -op.inputs[1]) if varying == [0] else (lambda: op.inputs[0])
    if op.type in _BATCH_NORMS and varying == [0] and not op.get_attr("is_training"):
        if op.get_attr("data_format") not in (b"NHWC", b"NDHWC"):
            return None
        _, scale, offset, mean, variance = op.inputs[:5]
        epsilon = op.get_attr("epsilon")
        # y = scale (x - mean) / sqrt(variance + eps) + offset: the bias is what x = 0 gives
        return lambda: offset - scale * mean * tf.math.rsqrt(variance + epsilon)
    return None


def _psi(maps):
    """FullGrad's post-processing per sample: absolute value, then min-max scaling to [0, 1]."""
    flat = np.abs(maps).reshape(len(maps), -1)
    low = flat.min(axis=1, keepdims=True)
    high = flat.max(axis=1, keepdims=True)
    return ((flat - low) / (high - low + 1e-6)).reshape(maps.shape)


class FullGrad(GradientExplainer):
    """FullGrad: with g = dS/dx and, for every bias b_l on the path, g_l = dS/d(output of the op
    adding it), the decomposition ``S(x) = sum(x * g) + sum_l sum(g_l * b_l)`` is exact on ReLU
    networks (Srinivas & Fleuret 2019). The map is ``psi(x * g)`` plus, for every bias term of
    a 4-D (NHWC) layer, ``psi(g_l * b_l)`` resized bilinearly to X's height and width, all summed
    over channels; psi is the absolute value then min-max scaling per sample (as the authors'
    code, which also leaves dense layers' bias terms out of the map).

    Biases: BiasAdd, Add/AddV2/Sub of a tensor that does not depend on X, and the implicit bias
    ``offset - scale * mean / sqrt(variance + eps)`` of batch norm in inference mode.
    No options. Result: ``(n, H, W)`` for a 4-D X (NHWC); for other X, ``psi(x * g)`` shaped
    like X. :meth:`decompose` gives the raw terms.
    """

    name = "fullgrad"

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"fullgrad explains one input tensor; X is a list of {len(self.inputs)}.")
        self.sites = [(op, bias) for op in self.path
                      for bias in [_bias_of(op, self.varying.get(op.name, []))] if bias is not None]

    def _build(self):
        gradients = tf.gradients(self.score, self.inputs + [op.outputs[0] for op, _ in self.sites])
        self._check_connected([gradients[0] is not None])
        self.gradients = gradients[:1]
        self.bias_names = [op.name for op, _ in self.sites]
        terms = [g * tf.cast(bias(), g.dtype) if g is not None else tf.zeros_like(op.outputs[0])
                 for (op, bias), g in zip(self.sites, gradients[1:])]
        self.fetches = [self.inputs[0] * gradients[0]] + terms
        self.spatial = [t.shape.rank == 4 for t in terms]

    def result_shape(self, shape):
        return tuple(shape[:3]) if len(shape) == 4 else tuple(shape)

    def _terms(self, xs, weights, extra, consume_terms):
        x = xs[0]

        def make_feed(lo, hi):
            return {self.inputs[0]: x[lo:hi], self.weights: weights[lo:hi]}

        self.evaluate(self.fetches, len(x), make_feed, consume_terms, extra)

    def _explain(self, xs, weights, rows, context, extra):
        x = xs[0]
        image = x.ndim == 4
        out = np.empty(self.result_shape(x.shape), np.float64)

        def consume(lo, hi, values):
            saliency = _psi(values[0].astype(np.float64))
            if not image:
                out[lo:hi] = saliency
                return
            total = saliency.sum(axis=-1)
            for term, spatial in zip(values[1:], self.spatial):
                if spatial:
                    scaled = _psi(term.astype(np.float64)).sum(axis=-1)
                    total += np.stack([resize(m, x.shape[1:3], order=1, mode="edge", anti_aliasing=False)
                                       for m in scaled])
            out[lo:hi] = total

        self._terms(xs, weights, extra, consume)
        return [out.astype(x.dtype)]

    def decompose(self, xs, ys=None):
        """The raw FullGrad decomposition of ``S`` at ``xs`` ``(n, ...)``.

        Returns ``(input_term, bias_terms)``: ``x * dS/dx`` shaped like xs, and a dict
        ``{op name: g_l * b_l}`` of arrays shaped like each op's output. On ReLU networks
        ``input_term`` and all bias terms, summed per sample, add up to S(x).
        """
        (x,) = feeding.input_list(xs, self.inputs)
        weights = feeding.target_weights(ys, len(x), self.target_shape, self.target.dtype.as_numpy_dtype)
        parts = [[] for _ in self.fetches]

        def consume(lo, hi, values):
            for part, v in zip(parts, values):
                part.append(v)

        self._terms([x], weights, dict(self._feed_defaults), consume)
        arrays = [np.concatenate(p) for p in parts]
        return arrays[0], dict(zip(self.bias_names, arrays[1:]))
