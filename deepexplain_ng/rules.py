"""Backward rules for elementwise nonlinearities y = f(z).

A rule replaces the local derivative f'(z) in the chain rule by a multiplier:

* ``original``: f'(z) (TF's own registered gradient);
* ``epsilon`` (epsilon-LRP): f(z) / (z + eps * sign(z)), with sign(0) = +1;
* ``rescale`` (DeepLIFT): the secant (f(z) - f(z_ref)) / (z - z_ref).

The secants are written per function in forms that do not subtract two nearly equal
numbers: the textbook quotient loses most float32 digits when z is close to z_ref
(the error of f(z) - f(z_ref) is ~1e-7 * |f(z)| whatever the distance), which is
exactly where DeepLIFT references sit for features equal to the baseline.
"""
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

#: Op types whose gradient the library overrides.
NONLINEARITIES = (
    "Relu", "Relu6", "LeakyRelu", "Elu", "Selu",
    "Sigmoid", "Tanh", "Softplus", "Softsign",
)

# Constants of TF's Selu kernel (Klambauer et al. 2017).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def original_gradient(op, grad):
    """TF's registered gradient of ``op``, ignoring any override."""
    return tf_ops.gradient_registry.lookup(op.type)(op, grad)


def epsilon_multiplier(op, epsilon):
    """f(z) / (z + epsilon * sign(z)) for the nonlinearity ``op`` (sign(0) = +1)."""
    z, y = op.inputs[0], op.outputs[0]
    stabilizer = tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z)) * tf.cast(epsilon, z.dtype)
    return y / (z + stabilizer)


def _stable_ratio(numerator, d):
    """numerator / d, with d > 0 where used; avoids dividing by zero inside tf.where."""
    return numerator / tf.where(d > 0, d, tf.ones_like(d))


def _sigmoid_secant(hi, lo, d):
    # s(hi) - s(lo) = s(hi) * s(-lo) * (1 - exp(-d)),  d = hi - lo >= 0
    return _stable_ratio(tf.sigmoid(hi) * tf.sigmoid(-lo) * -tf.math.expm1(-d), d)


def _softplus_secant(hi, lo, d):
    # sp(hi) - sp(lo) = log1p(s(lo) * expm1(d)); for large d there is no cancellation
    # to fear and expm1 would overflow, so the plain difference is used there.
    small = tf.minimum(d, 20.0)
    stable = tf.math.log1p(tf.sigmoid(lo) * tf.math.expm1(small))
    plain = tf.nn.softplus(hi) - tf.nn.softplus(lo)
    return _stable_ratio(tf.where(d < 20.0, stable, plain), d)


def _exp_branch_secant(hi, lo, d):
    # (e^hi - e^lo) / d = e^lo * expm1(d) / d, for the negative branch of elu/selu
    return _stable_ratio(tf.exp(lo) * tf.math.expm1(d), d)


def _piecewise(z, ref, f, breaks, slopes, curved=None):
    """Secant of a function that is linear between ``breaks`` (slope None: ``curved``).

    Inside one piece the secant is that piece's slope (exact) or its stable curved
    form; across pieces f(hi) - f(lo) adds terms of one sign, so the plain quotient
    is accurate there.
    """
    hi, lo = tf.maximum(z, ref), tf.minimum(z, ref)
    d = hi - lo

    def piece(v):
        return tf.add_n([tf.cast(v > b, tf.int32) for b in breaks])

    piece_hi, piece_lo = piece(hi), piece(lo)
    secant = _stable_ratio(f(hi) - f(lo), d)
    for index, slope in enumerate(slopes):
        inside = tf.logical_and(tf.equal(piece_hi, index), tf.equal(piece_lo, index))
        value = curved(hi, lo, d) if slope is None else tf.cast(slope, z.dtype) * tf.ones_like(d)
        secant = tf.where(inside, value, secant)
    return secant


def _derivative(op, z):
    """f'(z) for the nonlinearity ``op``, used where z == z_ref."""
    kind = op.type
    one, zero = tf.ones_like(z), tf.zeros_like(z)
    if kind == "Relu":
        return tf.where(z > 0, one, zero)
    if kind == "Relu6":
        return tf.where(tf.logical_and(z > 0, z < 6), one, zero)
    if kind == "LeakyRelu":
        return tf.where(z > 0, one, tf.cast(op.get_attr("alpha"), z.dtype) * one)
    if kind == "Elu":
        return tf.where(z > 0, one, tf.exp(z))
    if kind == "Selu":
        return _SELU_SCALE * tf.where(z > 0, one, _SELU_ALPHA * tf.exp(z))
    if kind == "Sigmoid":
        return tf.sigmoid(z) * tf.sigmoid(-z)
    if kind == "Tanh":
        return 1.0 - tf.square(tf.tanh(z))
    if kind == "Softplus":
        return tf.sigmoid(z)
    if kind == "Softsign":
        return 1.0 / tf.square(1.0 + tf.abs(z))
    raise NotImplementedError(kind)


def rescale_multiplier(op, z, ref):
    """DeepLIFT's (f(z) - f(z_ref)) / (z - z_ref) for the nonlinearity ``op``, f'(z) where
    z == z_ref; ``z`` holds rows of the op's input, ``ref`` one reference row or one per row.
    """
    ref = tf.cast(ref, z.dtype)
    hi, lo = tf.maximum(z, ref), tf.minimum(z, ref)
    d = hi - lo
    kind = op.type
    if kind == "Relu":
        secant = _piecewise(z, ref, tf.nn.relu, [0.0], [0.0, 1.0])
    elif kind == "Relu6":
        secant = _piecewise(z, ref, tf.nn.relu6, [0.0, 6.0], [0.0, 1.0, 0.0])
    elif kind == "LeakyRelu":
        alpha = op.get_attr("alpha")
        secant = _piecewise(z, ref, lambda v: tf.nn.leaky_relu(v, alpha), [0.0], [alpha, 1.0])
    elif kind == "Elu":
        secant = _piecewise(z, ref, tf.nn.elu, [0.0], [None, 1.0], _exp_branch_secant)
    elif kind == "Selu":
        secant = _piecewise(
            z, ref, tf.nn.selu, [0.0], [None, _SELU_SCALE],
            lambda h, l, dd: _SELU_SCALE * _SELU_ALPHA * _exp_branch_secant(h, l, dd))
    elif kind == "Sigmoid":
        secant = _sigmoid_secant(hi, lo, d)
    elif kind == "Tanh":
        # tanh(v) = 2 s(2v) - 1
        secant = 4.0 * _sigmoid_secant(2.0 * hi, 2.0 * lo, 2.0 * d)
    elif kind == "Softplus":
        secant = _softplus_secant(hi, lo, d)
    elif kind == "Softsign":
        same_sign = tf.logical_or(lo >= 0, hi <= 0)
        plain = _stable_ratio(tf.nn.softsign(hi) - tf.nn.softsign(lo), d)
        secant = tf.where(same_sign, 1.0 / ((1.0 + tf.abs(hi)) * (1.0 + tf.abs(lo))), plain)
    else:
        raise NotImplementedError(kind)
    return tf.where(d > 0, secant, _derivative(op, z + tf.zeros_like(ref)))
