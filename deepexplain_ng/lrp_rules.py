"""Layer-wise relevance propagation rules at linear layers, in zennit's conventions.

Relevance flows backwards as the "gradient" of the graph: it starts at ``T * ys`` (the logit's
value), passes unchanged through activations and per-channel affine ops (batch norm, biases,
scales: these are folded into the linear layer before them), is split by the sum or mean's
inputs in proportion to their values at sums and average pools (zennit's Norm), and is
redistributed at every linear layer (MatMul, Conv2D, DepthwiseConv2dNative) by its rule:

* ``epsilon``: ``R_i = x_i sum_j w_ij R_j / stab(z_j)``, z including the bias;
* ``zplus`` (alpha 1, beta 0): only the positive terms ``x w`` (a negative input times a negative
  weight is positive), and the positive part of the bias;
* ``alpha_beta``: ``alpha`` times the positive terms' share minus ``beta`` times the negative's;
* ``gamma``: weights ``w + gamma w+`` where the output is positive (``w + gamma w-`` where it
  is negative), per zennit's generalised gamma rule;
* ``zbox`` (first layer, inputs in a box ``[low, high]``) and ``flat`` (all weights one, no
  multiplication by the input).

``stab(z) = z + eps * sign(z)`` with sign(0) = +1; eps is 1e-6 except for the epsilon rule.
"""
import tensorflow as tf

from .op_rules import apply_like
from .rules import original_gradient

STABILIZER = 1e-6
LINEAR_LAYERS = frozenset({"MatMul", "Conv2D", "DepthwiseConv2dNative"})
CONVOLUTIONS = frozenset({"Conv2D", "DepthwiseConv2dNative"})
#: per-channel affine ops folded into the linear layer before them (and passed through)
FOLDED = frozenset({"BiasAdd", "Add", "AddV2", "Sub", "Mul", "FusedBatchNorm", "FusedBatchNormV2",
                    "FusedBatchNormV3"})
#: ops where relevance is split in proportion to the inputs' values (zennit's Norm rule)
NORMALISED = frozenset({"AvgPool", "Mean", "Sum", "Add", "AddV2", "AddN"})


def stabilize(z, epsilon):
    return z + tf.cast(epsilon, z.dtype) * tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))


def positive(t):
    return tf.maximum(t, tf.zeros_like(t))


def negative(t):
    return tf.minimum(t, tf.zeros_like(t))


class Layer:
    """A linear op (its X-dependent input first) with the per-channel affine ops after it
    folded in: ``output = forward(x, kernel) + bias`` up to float rounding.

    ``scale`` (per output channel) and ``bias`` come from the folded ops; ``output`` is the last
    folded op's output, the layer's z.
    """

    def __init__(self, op, output, scale, bias):
        self.op, self.output = op, output
        self.x = op.inputs[0]
        kernel = op.inputs[1]
        if scale is not None:
            if op.type == "MatMul" and op.get_attr("transpose_b"):
                kernel = kernel * tf.reshape(scale, [-1, 1])
            elif op.type == "DepthwiseConv2dNative":
                kernel = kernel * tf.reshape(scale, [1, 1] + kernel.shape.as_list()[2:])
            else:
                kernel = kernel * scale
        self.kernel = kernel
        self.bias = bias

    def forward(self, u, kernel):
        return apply_like(self.op, [u, kernel]).outputs[0]

    def backward(self, s, kernel):
        """The transposed linear map with ``kernel`` applied to ``s`` (shaped like the output)."""
        clone = apply_like(self.op, [self.x, kernel])
        return original_gradient(clone, s)[0]

    def biased(self, z, part=None):
        if self.bias is None:
            return z
        bias = self.bias if part is None else part(self.bias)
        return z + bias


def relevance(layer, R, rule):
    """Relevance at the layer's input x from relevance ``R`` at its output, by ``rule``: a tuple
    ``(name, *parameters)`` (see the module's docstring)."""
    name = rule[0]
    x, W = layer.x, layer.kernel
    if name == "epsilon":
        s = R / stabilize(layer.output, rule[1])
        return x * layer.backward(s, W)
    xp, xn = positive(x), negative(x)
    Wp, Wn = positive(W), negative(W)
    if name == "zplus":
        z = layer.biased(layer.forward(xp, Wp), positive) + layer.forward(xn, Wn)
        s = R / stabilize(z, STABILIZER)
        return xp * layer.backward(s, Wp) + xn * layer.backward(s, Wn)
    if name == "alpha_beta":
        alpha, beta = rule[1], rule[2]
        z_pos = layer.biased(layer.forward(xp, Wp), positive) + layer.forward(xn, Wn)
        z_neg = layer.biased(layer.forward(xp, Wn), negative) + layer.forward(xn, Wp)
        s_pos, s_neg = R / stabilize(z_pos, STABILIZER), R / stabilize(z_neg, STABILIZER)
        return (alpha * (xp * layer.backward(s_pos, Wp) + xn * layer.backward(s_pos, Wn))
                - beta * (xp * layer.backward(s_neg, Wn) + xn * layer.backward(s_neg, Wp)))
    if name == "gamma":
        gamma = rule[1]
        W_up, W_down = W + gamma * Wp, W + gamma * Wn
        bias_up = None if layer.bias is None else layer.bias + gamma * positive(layer.bias)
        bias_down = None if layer.bias is None else layer.bias + gamma * negative(layer.bias)
        z_up = layer.forward(xp, W_up) + (0 if bias_up is None else bias_up) + layer.forward(xn, W_down)
        z_down = layer.forward(xp, W_down) + (0 if bias_down is None else bias_down) + layer.forward(xn, W_up)
        z = layer.output
        s_up = tf.cast(z > 0, R.dtype) * R / stabilize(z_up, STABILIZER)
        s_down = tf.cast(z < 0, R.dtype) * R / stabilize(z_down, STABILIZER)
        return (xp * (layer.backward(s_up, W_up) + layer.backward(s_down, W_down))
                + xn * (layer.backward(s_up, W_down) + layer.backward(s_down, W_up)))
    if name == "zbox":
        low, high = (tf.cast(v, x.dtype) + tf.zeros_like(x) for v in rule[1:3])
        z = (layer.biased(layer.forward(x, W)) - layer.biased(layer.forward(low, Wp), positive)
             - layer.biased(layer.forward(high, Wn), negative))
        s = R / stabilize(z, STABILIZER)
        return x * layer.backward(s, W) - low * layer.backward(s, Wp) - high * layer.backward(s, Wn)
    if name == "flat":
        ones = tf.ones_like(W)
        s = R / stabilize(layer.forward(tf.ones_like(x), ones), STABILIZER)
        return layer.backward(s, ones)
    raise ValueError(name)


def normalised(op, R, varying):
    """zennit's Norm at a sum, mean or average pool: ``R_i = x_i * grad_i(R / stab(y))``."""
    s = R / stabilize(op.outputs[0], STABILIZER)
    gradients = original_gradient(op, s)
    gradients = list(gradients) if isinstance(gradients, (list, tuple)) else [gradients]
    return [op.inputs[i] * g if i in varying and g is not None else None for i, g in enumerate(gradients)]
