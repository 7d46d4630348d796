"""Layer conductance (Dhamdhere et al. 2018): integrated gradients through a hidden layer."""
import numpy as np
import tensorflow as tf

from ..errors import ExplainValueError
from .base import positive_int
from .gradient import GradientExplainer
from .layers import resolve_layer


class Conductance(GradientExplainer):
    """The conductance of each unit y_j of a hidden ``layer`` for S along the straight path from
    the baseline b to x: ``integral_0^1 dS/dy_j * d y_j(b + alpha (x - b)) / d alpha``, as Captum's
    LayerConductance discretises it: ``sum_k dS/dy_j(alpha_k) (y_j(alpha_{k+1}) - y_j(alpha_k))``
    over ``steps + 1`` evenly spaced points from 0 to 1. The units' conductances sum to
    ``S(x) - S(b)`` as ``steps`` grows (completeness through the layer).

    Options: ``layer`` (required: a tensor on the path X -> T or its name), ``steps=50``,
    ``baseline=None`` (zeros). Result: shaped like the layer, ``(n,) + layer.shape[1:]``.
    """

    name = "conductance"
    options = {"layer": None, "steps": 50, "baseline": None}

    def validate(self, params):
        params["steps"] = positive_int("steps", params["steps"])
        self.check_baseline_shapes(params["baseline"])
        return params

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"conductance explains one input tensor; X is a list of {len(self.inputs)}.")
        if self.params["layer"] is None:
            raise ExplainValueError("conductance needs layer=: the hidden tensor (or its name) whose units "
                                    "to credit, on the path from X to T.")
        self.layer = resolve_layer(self, self.params["layer"])
        shape = self.layer.shape.as_list()[1:]
        if None in shape:
            raise ExplainValueError(f"layer: '{self.layer.name}' needs a static shape after the batch axis, "
                                    f"got {self.layer.shape}.")
        self.layer_shape = tuple(shape)

    def _build(self):
        (gradient,) = tf.gradients(self.score, [self.layer])
        self.fetches = [self.layer, gradient]

    def result_shape(self, shape):
        return (shape[0],) + self.layer_shape

    def _prepare(self, xs, extra):
        return self.baselines(xs)

    def _explain(self, xs, weights, rows, baselines, extra):
        (x,), (b,) = xs, self.rows_of(baselines, rows)
        points = self.params["steps"] + 1
        difference = x - b
        out = np.zeros((len(x),) + self.layer_shape, np.float64)
        last = {}  # the previous row's (layer, gradient): a sample's rows may span two chunks

        def make_feed(lo, hi):
            index = np.arange(lo, hi)
            sample = index // points
            alpha = (index % points / self.params["steps"]).astype(x.dtype)
            start = b if b.shape[0] == 1 else b[sample]
            return {self.inputs[0]: start + alpha.reshape((-1,) + (1,) * (x.ndim - 1)) * difference[sample],
                    self.weights: weights[sample]}

        def consume(lo, hi, values):
            layer, gradient = (v.astype(np.float64) for v in values)
            before_layer = np.concatenate([last.get("layer", layer[:1]), layer[:-1]])
            before_gradient = np.concatenate([last.get("gradient", gradient[:1]), gradient[:-1]])
            index = np.arange(lo, hi)
            step = index % points != 0  # a row with a predecessor of its own sample
            np.add.at(out, index[step] // points, (before_gradient * (layer - before_layer))[step])
            last["layer"], last["gradient"] = layer[-1:], gradient[-1:]

        self.evaluate(self.fetches, len(x) * points, make_feed, consume, extra)
        return [out.astype(x.dtype)]
