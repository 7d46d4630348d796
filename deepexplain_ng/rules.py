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
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

#: Activations with a rule of their own since DeepExplain.
NONLINEARITIES = (
    "Relu", "Relu6", "LeakyRelu", "Elu", "Selu",
    "Sigmoid", "Tanh", "Softplus", "Softsign",
)
#: TF's unary math ops: elementwise functions of one tensor, ruled like the activations.
UNARY_MATH = (
    "Exp", "Expm1", "Log", "Log1p", "Sqrt", "Rsqrt", "Reciprocal", "Inv", "Square", "Erf", "Erfc",
    "Abs", "Sin", "Cos", "Tan", "Atan", "Sinh", "Cosh", "Asinh", "Atanh",
)
#: Every elementwise function of one tensor with a secant and an epsilon rule.
ELEMENTWISE = NONLINEARITIES + UNARY_MATH

# Constants of TF's Selu kernel (Klambauer et al. 2017).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def original_gradient(op, *grads):
    """TF's registered gradient of ``op`` (one gradient per output), ignoring any override."""
    return tf_ops.gradient_registry.lookup(op.type)(op, *grads)


def epsilon_multiplier(op, epsilon, z=None):
    """f(z) / (z + epsilon * sign(z)) for the elementwise ``op`` of ``z`` (default: its first
    input), with sign(0) = +1."""
    z = op.inputs[0] if z is None else z
    y = op.outputs[0]
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


def _sinc(v):
    """sin(v) / v, 1 at v = 0."""
    small = tf.abs(v) < 1e-4
    return tf.where(small, 1.0 - tf.square(v) / 6.0, tf.sin(v) / tf.where(small, tf.ones_like(v), v))


def _generic_secant(f, derivative):
    """(f(hi) - f(lo)) / d, and the derivative at the midpoint where d is too small for it.

    The quotient's float32 error is ~eps |f| / d, the midpoint rule's d^2 |f'''| / 24:
    switching where d < 1e-3 (1 + |midpoint|) keeps both near 1e-5 of the multiplier.
    """
    def form(hi, lo, d):
        mid = 0.5 * (hi + lo)
        small = d < 1e-3 * (1.0 + tf.abs(mid))
        return tf.where(small, derivative(mid), _stable_ratio(f(hi) - f(lo), d))
    return form


_TWO_OVER_SQRT_PI = 1.1283791670955126
# kind: (f'(z), secant(hi, lo, d)) for d = hi - lo >= 0; closed forms free of cancellation where
# one is known, else the quotient with a midpoint fallback
_UNARY = {
    "Exp": (tf.exp, lambda hi, lo, d: _stable_ratio(tf.exp(lo) * tf.math.expm1(d), d)),
    "Expm1": (tf.exp, lambda hi, lo, d: _stable_ratio(tf.exp(lo) * tf.math.expm1(d), d)),
    "Log": (lambda v: 1.0 / v, lambda hi, lo, d: _stable_ratio(tf.math.log1p(d / lo), d)),
    "Log1p": (lambda v: 1.0 / (1.0 + v), lambda hi, lo, d: _stable_ratio(tf.math.log1p(d / (1.0 + lo)), d)),
    "Sqrt": (lambda v: 0.5 * tf.math.rsqrt(v), lambda hi, lo, d: 1.0 / (tf.sqrt(hi) + tf.sqrt(lo))),
    "Rsqrt": (lambda v: -0.5 * tf.math.rsqrt(v) / v,
              lambda hi, lo, d: -tf.math.rsqrt(hi) * tf.math.rsqrt(lo) / (tf.sqrt(hi) + tf.sqrt(lo))),
    "Reciprocal": (lambda v: -1.0 / tf.square(v), lambda hi, lo, d: -1.0 / (hi * lo)),
    "Inv": (lambda v: -1.0 / tf.square(v), lambda hi, lo, d: -1.0 / (hi * lo)),
    "Square": (lambda v: 2.0 * v, lambda hi, lo, d: hi + lo),
    # sin(hi) - sin(lo) = 2 cos(mid) sin(d / 2); cos(hi) - cos(lo) = -2 sin(mid) sin(d / 2)
    "Sin": (tf.cos, lambda hi, lo, d: tf.cos(0.5 * (hi + lo)) * _sinc(0.5 * d)),
    "Cos": (lambda v: -tf.sin(v), lambda hi, lo, d: -tf.sin(0.5 * (hi + lo)) * _sinc(0.5 * d)),
    "Abs": (lambda v: tf.where(v >= 0, tf.ones_like(v), -tf.ones_like(v)),
            lambda hi, lo, d: tf.where(lo >= 0, tf.ones_like(d), tf.where(
                hi <= 0, -tf.ones_like(d), _stable_ratio(tf.abs(hi) - tf.abs(lo), d)))),
}
for _kind, (_f, _derivative_of) in {
        "Erf": (tf.math.erf, lambda v: _TWO_OVER_SQRT_PI * tf.exp(-tf.square(v))),
        "Erfc": (tf.math.erfc, lambda v: -_TWO_OVER_SQRT_PI * tf.exp(-tf.square(v))),
        "Tan": (tf.tan, lambda v: 1.0 + tf.square(tf.tan(v))),
        "Atan": (tf.atan, lambda v: 1.0 / (1.0 + tf.square(v))),
        "Sinh": (tf.sinh, tf.cosh),
        "Cosh": (tf.cosh, tf.sinh),
        "Asinh": (tf.asinh, lambda v: tf.math.rsqrt(1.0 + tf.square(v))),
        "Atanh": (tf.atanh, lambda v: 1.0 / (1.0 - tf.square(v))),
}.items():
    _UNARY[_kind] = (_derivative_of, _generic_secant(_f, _derivative_of))


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
    if kind in _UNARY:
        return _UNARY[kind][0](z)
    raise NotImplementedError(kind)


_UNIT_SLOPES = {"Relu": tf.nn.relu, "Relu6": tf.nn.relu6}


def unit_slope_multiplier(op, z, ref, y, y_ref):
    """The secant of Relu or Relu6 from inputs and outputs already computed.

    Their pieces have slopes 0 and 1, so y - y_ref is z - ref itself (the same float operation),
    0, or a difference of terms far apart: the plain quotient is exact and needs no guard. Where
    z == ref it is the derivative, 1 inside the unit-slope piece.
    """
    d = z - tf.cast(ref, z.dtype)
    inside = z > 0 if op.type == "Relu" else tf.logical_and(z > 0, z < 6)
    # the quotient's 0/0 where d == 0 is never selected
    return tf.where(tf.equal(d, 0), tf.cast(inside, z.dtype), (y - y_ref) / d)


def rescale_multiplier(op, z, ref):
    """DeepLIFT's (f(z) - f(z_ref)) / (z - z_ref) for the nonlinearity ``op``, f'(z) where
    z == z_ref; ``z`` holds rows of the op's input, ``ref`` one reference row or one per row.
    """
    ref = tf.cast(ref, z.dtype)
    kind = op.type
    if kind in _UNIT_SLOPES:
        return unit_slope_multiplier(op, z, ref, _UNIT_SLOPES[kind](z), _UNIT_SLOPES[kind](ref))
    hi, lo = tf.maximum(z, ref), tf.minimum(z, ref)
    d = hi - lo
    if kind == "LeakyRelu":
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
    elif kind in _UNARY:
        secant = _UNARY[kind][1](hi, lo, d)
    elif kind == "Softsign":
        same_sign = tf.logical_or(lo >= 0, hi <= 0)
        plain = _stable_ratio(tf.nn.softsign(hi) - tf.nn.softsign(lo), d)
        secant = tf.where(same_sign, 1.0 / ((1.0 + tf.abs(hi)) * (1.0 + tf.abs(lo))), plain)
    else:
        raise NotImplementedError(kind)
    return tf.where(d > 0, secant, _derivative(op, z + tf.zeros_like(ref)))
