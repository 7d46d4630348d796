"""Backward rules at the ReLU family that do not multiply by the input (Captum's semantics):
guided backpropagation and deconvnet."""
import tensorflow as tf

from ..rules import original_gradient
from .gradient import GradientExplainer

#: the ops these rules replace; every other op keeps its gradient
RELUS = ("Relu", "Relu6")


def _inside(op):
    z = op.inputs[0]
    unit = z > 0 if op.type == "Relu" else tf.logical_and(z > 0, z < 6)
    return tf.cast(unit, z.dtype)


class GuidedBackprop(GradientExplainer):
    """Guided backpropagation (Springenberg et al. 2015): at each ReLU, only positive gradients
    pass, and only where the unit was active: ``relu(g) * [z > 0]``. Result: that modified
    gradient of S, shaped like X (no multiplication by the input). No options."""

    name = "guided_backprop"

    def rule(self):
        def guided(op, grad):
            if op.type not in RELUS:
                return original_gradient(op, grad)
            return tf.nn.relu(grad) * _inside(op)
        return guided

    def _explain(self, xs, weights, rows, context, extra):
        return self.gradients_at(xs, weights, extra)


class Deconvnet(GradientExplainer):
    """Deconvnet (Zeiler & Fergus 2014): at each ReLU the gradient passes through a ReLU of its
    own, ``relu(g)``, whatever the forward activation. Result shaped like X. No options."""

    name = "deconvnet"

    def rule(self):
        def deconvolution(op, grad):
            if op.type not in RELUS:
                return original_gradient(op, grad)
            return tf.nn.relu(grad)
        return deconvolution

    def _explain(self, xs, weights, rows, context, extra):
        return self.gradients_at(xs, weights, extra)
