"""Backward rules by op class (see ``op_classes``): DeepLIFT's difference rules and epsilon-LRP's
choices, for every op a rule applies to.

A DeepLIFT rule returns, for each input of the op, the gradient whose product with the input's
difference from reference sums to the op's output difference: ``sum g_out * (y - y_ref) =
sum_i sum g_i * (x_i - x_i_ref)`` (summation-to-delta), exactly, in forms that stay accurate in
float32. ``parts(t)`` gives a tensor's rows on the inputs and on their references.
"""
import tensorflow as tf

from .op_classes import op_class
from .rules import epsilon_multiplier, original_gradient, rescale_multiplier, unit_slope_multiplier

# binary ops ruled as a function of one varying input, the other constant
_WITH_A_CONSTANT = frozenset({"Maximum", "Minimum", "SquaredDifference", "Pow", "RealDiv", "Div"})


def apply_like(op, inputs):
    """A new op of ``op``'s type and attributes on ``inputs``; returns the new op."""
    attrs = {name: op.node_def.attr[name] for name in op.node_def.attr}
    return op.graph._create_op_internal(op.type, inputs, dtypes=[t.dtype for t in op.outputs], attrs=attrs)


def _input_gradients(op, grad):
    """TF's own gradients of ``op`` as a list, one per input (one-input ops return a tensor)."""
    gradients = original_gradient(op, grad)
    return list(gradients) if isinstance(gradients, (list, tuple)) else [gradients]


def _broadcast(reference, like):
    return reference + tf.zeros_like(like)


def _sum_to(gradient, like):
    """``gradient`` (broadcast shape) summed back to the shape of ``like``."""
    axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(like), s1=tf.shape(gradient))
    return tf.reshape(tf.reduce_sum(gradient, axes), tf.shape(like))


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (no difference, no credit)."""
    zero = tf.equal(denominator, 0)
    return tf.where(zero, tf.zeros_like(numerator), numerator / tf.where(zero, tf.ones_like(denominator),
                                                                         denominator))


def _elementwise(op, grad, parts, index):
    z, z_ref = parts(op.inputs[index])
    if op.type in ("Relu", "Relu6"):  # the outputs are there already: the cheapest exact form
        return {index: grad * unit_slope_multiplier(op, z, z_ref, *parts(op.outputs[0]))}
    if op.type not in _WITH_A_CONSTANT or len(op.inputs) == 1:
        return {index: grad * rescale_multiplier(op, z, z_ref)}
    y, y_ref = parts(op.outputs[0])
    if op.type in ("RealDiv", "Div"):
        # c / z: (c/z - c/z_ref) / (z - z_ref) = -(c/z) / z_ref, no cancellation
        return {index: grad * -y / _broadcast(z_ref, z)}
    # the derivatives at both ends; their mean is the secant of a quadratic (SquaredDifference)
    # exactly, and of the others (Maximum/Minimum against a constant, Pow with a constant
    # exponent) to O(d^2) where d is too small for the quotient's float32 digits
    slope, slope_ref = parts(_input_gradients(op, tf.ones_like(op.outputs[0]))[index])
    trapezoid = 0.5 * (slope + slope_ref)
    if op.type == "SquaredDifference":
        return {index: grad * trapezoid}
    d = z - z_ref
    small = tf.abs(d) < 1e-3 * (1.0 + tf.abs(z))
    return {index: grad * tf.where(small, trapezoid, _ratio(y - y_ref, d))}


def _product(op, grad, parts, varying):
    a, a_ref = parts(op.inputs[0])
    b, b_ref = parts(op.inputs[1])
    a_mean, b_mean = 0.5 * (a + a_ref), 0.5 * (b + b_ref)
    if op.type == "Mul":
        return {0: _sum_to(grad * b_mean, a), 1: _sum_to(grad * a_mean, b)}
    # bilinear P: P(a, b) - P(a_ref, b_ref) = P(a - a_ref, b_mean) + P(a_mean, b - b_ref)
    return {0: _input_gradients(apply_like(op, [a, b_mean]), grad)[0],
            1: _input_gradients(apply_like(op, [a_mean, b]), grad)[1]}


def _quotient(op, grad, parts, varying):
    # a / b = a * v with v = 1 / b: the product split, and v's secant -1 / (b b_ref)
    a, a_ref = parts(op.inputs[0])
    b, b_ref = parts(op.inputs[1])
    v_mean = 0.5 * (1.0 / b + 1.0 / b_ref)
    return {0: _sum_to(grad * v_mean, a), 1: _sum_to(grad * 0.5 * (a + a_ref), b) * (-1.0 / (b * b_ref))}


def _squared_difference(op, grad, parts, varying):
    a, a_ref = parts(op.inputs[0])
    b, b_ref = parts(op.inputs[1])
    slope = (a - b) + (a_ref - b_ref)  # secant of the square of a - b
    return {0: _sum_to(grad * slope, a), 1: -_sum_to(grad * slope, b)}


def _pair_extreme(op, grad, parts, varying):
    # two-player Shapley split of m(a, b): each player's mean marginal change over both orders
    m = tf.maximum if op.type == "Maximum" else tf.minimum
    a, a_ref = parts(op.inputs[0])
    b, b_ref = parts(op.inputs[1])
    a_ref, b_ref = _broadcast(a_ref, a), _broadcast(b_ref, b)
    share_a = 0.5 * ((m(a, b_ref) - m(a_ref, b_ref)) + (m(a, b) - m(a_ref, b)))
    share_b = 0.5 * ((m(a_ref, b) - m(a_ref, b_ref)) + (m(a, b) - m(a, b_ref)))
    return {0: grad * _ratio(share_a, a - a_ref), 1: grad * _ratio(share_b, b - b_ref)}


def _max(op, grad, parts, varying):
    """Max-pooling and Max/Min reductions: each output's change y - y_ref is routed to the
    winners of the input (the part beyond the reference's extreme) and of the reference."""
    x, x_ref = parts(op.inputs[0])
    y, y_ref = parts(op.outputs[0])
    x_ref = _broadcast(x_ref, x)
    y_ref = _broadcast(y_ref, y)
    cross = tf.minimum(y, y_ref) if op.type == "Min" else tf.maximum(y, y_ref)
    rest = list(op.inputs[1:])
    on_input = _input_gradients(apply_like(op, [x] + rest), grad * (cross - y_ref))[0]
    on_reference = _input_gradients(apply_like(op, [x_ref] + rest), grad * (y - cross))[0]
    return {0: _ratio(on_input + on_reference, x - x_ref)}


def _shifted_exponentials(z, z_ref):
    # one shift per row pair: softmax(z) = u / sum u with u = exp(z - c) for any c, and a shared c
    # keeps the differences of u those of the secant of exp
    shift = tf.stop_gradient(tf.maximum(tf.reduce_max(z, -1, keepdims=True),
                                        tf.reduce_max(z_ref, -1, keepdims=True)))
    return z - shift, z_ref - shift


class _Exp:
    type = "Exp"


class _Log:
    type = "Log"


def _softmax(op, grad, parts, varying):
    z, z_ref = parts(op.inputs[0])
    z_ref = _broadcast(z_ref, z)
    shifted, shifted_ref = _shifted_exponentials(z, z_ref)
    u, u_ref = tf.exp(shifted), tf.exp(shifted_ref)
    s, s_ref = tf.reduce_sum(u, -1, keepdims=True), tf.reduce_sum(u_ref, -1, keepdims=True)
    exp_secant = rescale_multiplier(_Exp, shifted, shifted_ref)
    if op.type == "LogSoftmax":
        # y = (z - c) - log(s): the change of log s is its secant times the change of s
        log_secant = rescale_multiplier(_Log, s, s_ref)
        return {0: grad - tf.reduce_sum(grad, -1, keepdims=True) * log_secant * exp_secant}
    # y = u * v with v = 1 / s: the product split, v's secant -1 / (s s_ref)
    v_mean = 0.5 * (1.0 / s + 1.0 / s_ref)
    through_v = tf.reduce_sum(grad * 0.5 * (u + u_ref), -1, keepdims=True) * (-1.0 / (s * s_ref))
    return {0: (grad * v_mean + through_v) * exp_secant}


_DEEPLIFT = {"product": _product, "quotient": _quotient, "squared_difference": _squared_difference,
             "pair_extreme": _pair_extreme, "max": _max, "softmax": _softmax, "logsoftmax": _softmax}
#: Op classes each rule treats exactly (the others are named in a warning).
DEEPLIFT_CLASSES = frozenset(_DEEPLIFT) | {"affine", "elementwise"}
EPSILON_CLASSES = frozenset({"affine", "elementwise", "product", "pair_extreme", "max"})


def deeplift_gradients(op, grad, parts, varying):
    """``{input index: gradient}`` of DeepLIFT's rule at ``op``, or None for its ordinary gradient."""
    kind = op_class(op, varying)
    if kind == "elementwise":
        return _elementwise(op, grad, parts, varying[0] if len(op.inputs) > 1 else 0)
    rule = _DEEPLIFT.get(kind)
    return None if rule is None else rule(op, grad, parts, varying)


def epsilon_gradients(op, grad, varying, epsilon):
    """``{input index: gradient}`` of epsilon-LRP at ``op``, or None for its ordinary gradient.

    Elementwise functions: f(z) / (z + eps sign z). Products of two varying factors: half the
    relevance to each (the uniform rule of AttnLRP), i.e. half the ordinary gradient.
    Max: winner-take-all, the ordinary gradient.
    """
    kind = op_class(op, varying)
    if kind == "elementwise":
        index = varying[0] if len(op.inputs) > 1 else 0
        return {index: grad * epsilon_multiplier(op, epsilon, op.inputs[index])}
    if kind == "product":
        return {i: 0.5 * g for i, g in enumerate(_input_gradients(op, grad)) if i in varying}
    return None
