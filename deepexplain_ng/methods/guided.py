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


def guided_rule(op, grad):
    """Guided backpropagation's backward rule: ``relu(g) * [unit active]`` at the ReLUs."""
    if op.type not in RELUS:
        return original_gradient(op, grad)
    return tf.nn.relu(grad) * _inside(op)


def deconvnet_rule(op, grad):
    """Deconvnet's backward rule: ``relu(g)`` at the ReLUs, whatever the forward activation."""
    if op.type not in RELUS:
        return original_gradient(op, grad)
    return tf.nn.relu(grad)


class GuidedBackprop(GradientExplainer):
    """Guided backpropagation (Springenberg et al. 2015): at each ReLU, only positive gradients
    pass, and only where the unit was active: ``relu(g) * [z > 0]``. Result: that modified
    gradient of S, shaped like X (no multiplication by the input). No options."""

    name = "guided_backprop"

    def rule(self):
        return guided_rule

    def _explain(self, xs, weights, rows, context, extra):
        return self.gradients_at(xs, weights, extra)


class Deconvnet(GradientExplainer):
    """Deconvnet (Zeiler & Fergus 2014): at each ReLU the gradient passes through a ReLU of its
    own, ``relu(g)``, whatever the forward activation. Result shaped like X. No options."""

    name = "deconvnet"

    def rule(self):
        return deconvnet_rule

    def _explain(self, xs, weights, rows, context, extra):
        return self.gradients_at(xs, weights, extra)
