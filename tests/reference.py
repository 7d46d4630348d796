"""Independent float64 numpy re-implementations of the gradient methods on small nets.

Nothing here imports TensorFlow or the library: a net is a forward pass that records each
nonlinearity's input z, and a backward pass in which the local derivative of every
nonlinearity is given by a *multiplier* chosen by the method:

* gradient: f'(z)
* elrp: f(z) / (z + eps * sign(z)), sign(0) = +1
* deeplift: (f(z) - f(z_ref)) / (z - z_ref), f'(z) where z == z_ref
"""
import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "relu6": (lambda z: np.clip(z, 0, 6), lambda z: ((z > 0) & (z < 6)).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z: np.where(z > 0, 1.0, 0.2)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    "selu": (lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0))),
             lambda z: SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0)))),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "softplus": (lambda z: np.logaddexp(0, z), _sigmoid),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),
}


def multiplier(method, activation, z, z_ref=None, epsilon=1e-4):
    """The local derivative that ``method`` uses at a nonlinearity with input ``z``."""
    f, df = ACTIVATIONS[activation]
    if method == "elrp":
        return f(z) / (z + epsilon * np.where(z >= 0, 1.0, -1.0))
    if method == "deeplift":
        d = z - z_ref
        close = np.abs(d) < 1e-9
        return np.where(close, df(z), (f(z) - f(z_ref)) / np.where(close, 1.0, d))
    return df(z)


# -- layers: forward(h) -> (out, cache); backward(g, cache) -> g_in --------------------------------
def dense_forward(h, w, b):
    return h @ w + (0 if b is None else b)


def dense_backward(g, w):
    return g @ w.T


def _patches(x, kh, kw):
    n, hh, ww, c = x.shape
    out_h, out_w = hh - kh + 1, ww - kw + 1
    p = np.empty((n, out_h, out_w, kh, kw, c))
    for i in range(kh):
        for j in range(kw):
            p[:, :, :, i, j, :] = x[:, i:i + out_h, j:j + out_w, :]
    return p


def _pad(kernel, padding):
    if padding == "VALID":
        return (0, 0), (0, 0)
    kh, kw = kernel.shape[:2]
    return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)


def conv_forward(x, kernel, bias, padding):
    """NHWC convolution (cross-correlation, stride 1) like tf.nn.conv2d."""
    ph, pw = _pad(kernel, padding)
    xp = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    out = np.einsum("nhwijc,ijco->nhwo", _patches(xp, *kernel.shape[:2]), kernel)
    return out + (0 if bias is None else bias)


def conv_backward(g, kernel, x_shape, padding):
    ph, pw = _pad(kernel, padding)
    n, hh, ww, c = x_shape
    gp = np.zeros((n, hh + sum(ph), ww + sum(pw), c))
    gpatch = np.einsum("nhwo,ijco->nhwijc", g, kernel)
    out_h, out_w = g.shape[1:3]
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            gp[:, i:i + out_h, j:j + out_w, :] += gpatch[:, :, :, i, j, :]
    return gp[:, ph[0]:ph[0] + hh, pw[0]:pw[0] + ww, :]


def avg_pool_forward(x):
    n, hh, ww, c = x.shape
    return x.reshape(n, hh // 2, 2, ww // 2, 2, c).mean(axis=(2, 4))


def avg_pool_backward(g):
    return np.repeat(np.repeat(g, 2, axis=1), 2, axis=2) / 4.0


# -- nets --------------------------------------------------------------------------------------
class MLP:
    """Dense layers ``[(w, b), ...]`` with ``activation`` between them; the last is linear."""

    def __init__(self, layers, activation):
        self.layers, self.activation = layers, activation

    def forward(self, x):
        f = ACTIVATIONS[self.activation][0]
        zs, h = [], x
        for i, (w, b) in enumerate(self.layers):
            z = dense_forward(h, w, b)
            if i < len(self.layers) - 1:
                zs.append(z)
                h = f(z)
            else:
                h = z
        return h, zs

    def backward(self, ys, zs, multipliers):
        g = ys
        for i in range(len(self.layers) - 1, -1, -1):
            g = dense_backward(g, self.layers[i][0])
            if i > 0:
                g = g * multipliers[i - 1]
        return g


class CNN:
    """conv SAME + bias + act, conv VALID + act, 2x2 average pool, flatten, dense (logits)."""

    def __init__(self, k1, c1, k2, w, activation):
        self.k1, self.c1, self.k2, self.w, self.activation = k1, c1, k2, w, activation

    def forward(self, x):
        f = ACTIVATIONS[self.activation][0]
        z1 = conv_forward(x, self.k1, self.c1, "SAME")
        z2 = conv_forward(f(z1), self.k2, None, "VALID")
        pooled = avg_pool_forward(f(z2))
        return pooled.reshape(len(x), -1) @ self.w, [z1, z2]

    def backward(self, ys, zs, multipliers):
        z1, z2 = zs
        g = (ys @ self.w.T).reshape((len(ys),) + (z2.shape[1] // 2, z2.shape[2] // 2, z2.shape[3]))
        g = avg_pool_backward(g) * multipliers[1]
        g = conv_backward(g, self.k2, z1.shape, "VALID") * multipliers[0]
        # SAME padding keeps height and width
        return conv_backward(g, self.k1, (len(ys),) + z1.shape[1:3] + (self.k1.shape[2],), "SAME")


class TwoInputNet:
    """h = act(a @ wa + b @ wb + c); logits = h @ w."""

    def __init__(self, wa, wb, c, w, activation):
        self.wa, self.wb, self.c, self.w, self.activation = wa, wb, c, w, activation

    def forward(self, xs):
        a, b = xs
        z = a @ self.wa + b @ self.wb + self.c
        return ACTIVATIONS[self.activation][0](z) @ self.w, [z]

    def backward(self, ys, zs, multipliers):
        g = (ys @ self.w.T) * multipliers[0]
        return [g @ self.wa.T, g @ self.wb.T]


# -- methods -----------------------------------------------------------------------------------
def _modified_gradient(net, method, x, ys, baseline=None, epsilon=1e-4):
    _, zs = net.forward(x)
    refs = [None] * len(zs)
    if method == "deeplift":
        _, refs = net.forward(baseline)
    mults = [multiplier(method, net.activation, z, r, epsilon) for z, r in zip(zs, refs)]
    return net.backward(ys, zs, mults)


def _elementwise(fn, *parts):
    if isinstance(parts[0], list):
        return [fn(*p) for p in zip(*parts)]
    return fn(*parts)


def explain(net, method, x, ys, baseline=None, steps=100, epsilon=1e-4):
    """Attributions of ``net`` for ``x`` (an array, or a list for TwoInputNet), float64.

    ``ys``: (n, classes) weights; ``baseline``: broadcastable to x (list for several inputs).
    """
    def as64(v):
        return [np.asarray(p, np.float64) for p in v] if isinstance(v, list) else np.asarray(v, np.float64)
    x, ys = as64(x), np.asarray(ys, np.float64)
    if baseline is None:
        baseline = _elementwise(np.zeros_like, x)
    baseline = _elementwise(lambda b, a: np.broadcast_to(b, a.shape).astype(np.float64), as64(baseline), x)
    if method == "saliency":
        return _elementwise(np.abs, _modified_gradient(net, "gradient", x, ys))
    if method == "grad*input":
        return _elementwise(np.multiply, x, _modified_gradient(net, "gradient", x, ys))
    if method == "elrp":
        return _elementwise(np.multiply, x, _modified_gradient(net, "elrp", x, ys, epsilon=epsilon))
    if method == "deeplift":
        g = _modified_gradient(net, "deeplift", x, ys, baseline)
        return _elementwise(lambda a, b, gg: (a - b) * gg, x, baseline, g)
    if method == "intgrad":
        total = _elementwise(np.zeros_like, x)
        for k in range(1, steps + 1):
            point = _elementwise(lambda a, b: b + k / steps * (a - b), x, baseline)
            total = _elementwise(np.add, total, _modified_gradient(net, "gradient", point, ys))
        return _elementwise(lambda a, b, t: (a - b) * t / steps, x, baseline, total)
    raise ValueError(method)


def score(net, x, ys):
    """S(x) = sum(T(x) * ys) per sample."""
    out, _ = net.forward(x)
    return (out * ys).sum(axis=1)
