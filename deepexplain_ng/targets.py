"""Quantities of interest beyond one-hot ``ys``: pass one of these as ``ys=``.

    de.explain("intgrad", logits, X, xs, ys=targets.contrast(3, 5))   # logit 3 minus logit 5
    de.explain("saliency", conv_out, X, xs, ys=targets.channel(7))     # channel 7 of a layer

Each is resolved against T's shape when the explainer runs: a weight array of shape
``(n,) + T.shape[1:]``, so ``S(x) = sum(T(x) * weights)`` per sample as everywhere.
"""
import numbers

import numpy as np

from .errors import ExplainTypeError, ExplainValueError


class Target:
    """A quantity of interest: builds ``ys`` weights for ``n`` samples of a target shape."""

    def weights(self, n, target_shape, dtype):
        raise NotImplementedError


def _class_indices(name, value, n, classes):
    """``value`` (an int, or n ints) as n class indices in [0, classes)."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.integer) or array.ndim > 1:
        raise ExplainTypeError(f"{name}: expected a class index or one per sample, got {value!r}.")
    array = np.broadcast_to(array, (n,)) if array.ndim == 0 else array
    if array.shape != (n,):
        raise ExplainValueError(f"{name}: expected one class index per sample ({n}), got {array.shape[0]}.")
    if array.min() < 0 or array.max() >= classes:
        raise ExplainValueError(f"{name}: class indices must lie in [0, {classes}), got {array.min()}..{array.max()}.")
    return array


class contrast(Target):
    """``T[a] - T[b]`` per sample (TruLens' ``ComparativeQoI``): why class ``a`` rather than ``b``.
    ``a`` and ``b``: class indices, each an int or one per sample. T: ``(n, classes)``."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def weights(self, n, target_shape, dtype):
        if len(target_shape) != 1 or target_shape[0] is None:
            raise ExplainValueError(f"ys=contrast(...) needs a target of shape (n, classes), got (n, "
                                    f"{', '.join(map(str, target_shape))}).")
        a = _class_indices("contrast: a", self.a, n, target_shape[0])
        b = _class_indices("contrast: b", self.b, n, target_shape[0])
        weights = np.zeros((n, target_shape[0]), dtype)
        rows = np.arange(n)
        weights[rows, a] += 1
        weights[rows, b] -= 1
        return weights

    def __repr__(self):
        return f"contrast({self.a!r}, {self.b!r})"


class channel(Target):
    """The sum of channel ``k`` of T over every other axis (TruLens' ``InternalChannelQoI``), for
    a hidden layer ``(n, ..., channels)`` (channels last); ``k`` an int or one per sample."""

    def __init__(self, k):
        self.k = k

    def weights(self, n, target_shape, dtype):
        if not target_shape or target_shape[-1] is None or any(d is None for d in target_shape):
            raise ExplainValueError(f"ys=channel({self.k!r}) needs a target with a known shape (n, ..., channels), "
                                    f"got (n, {', '.join(map(str, target_shape))}).")
        k = _class_indices("channel: k", self.k, n, target_shape[-1])
        weights = np.zeros((n,) + tuple(target_shape), dtype)
        weights[np.arange(n), ..., k] = 1
        return weights

    def __repr__(self):
        return f"channel({self.k!r})"


class neuron(Target):
    """One unit of T, ``T[:, index]`` (TruLens' ``InternalChannelQoI`` on a flat layer, Captum's
    ``neuron_selector``): ``index`` a tuple over T's axes after the batch axis."""

    def __init__(self, *index):
        if not index or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in index):
            raise ExplainTypeError(f"neuron: expected integer indices over T's axes after the batch, got {index!r}.")
        self.index = tuple(int(i) for i in index)

    def weights(self, n, target_shape, dtype):
        if len(self.index) != len(target_shape) or any(
                d is not None and not 0 <= i < d for i, d in zip(self.index, target_shape)):
            raise ExplainValueError(f"neuron{self.index}: not an index of T's sample shape "
                                    f"({', '.join(map(str, target_shape))}).")
        weights = np.zeros((n,) + tuple(target_shape), dtype)
        weights[(slice(None),) + self.index] = 1
        return weights

    def __repr__(self):
        return f"neuron{self.index}"
