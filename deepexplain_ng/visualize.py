"""Feature visualisation (Erhan et al. 2009; Olah et al. 2017, Lucid): inputs that maximise a
class, a channel or a neuron, by gradient ascent in the session.

    with DeepExplain(session=sess) as de:
        images, history = visualize.maximize(de, logits, X, ys=np.arange(10), steps=256)
"""
import numbers

import numpy as np
import tensorflow as tf

from . import feeding
from .errors import ExplainValueError
from .methods.base import check_seed, positive_int, tensor_list

tf1 = tf.compat.v1


def _non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ExplainValueError(f"{name} must be a non-negative number, got {value!r}.")
    return float(value)


class Maximizer:
    """The objective ``S(x) - l2 * sum(x^2) - total_variation * TV(x)`` per sample and its
    gradient w.r.t. X, built once for one target ``T``, input ``X`` and penalty weights;
    :meth:`run` only feeds the session. ``S(x) = sum(T(x) * ys)`` as for every method."""

    def __init__(self, session, T, X, l2, total_variation):
        (self.target,), _ = tensor_list(T, "T")
        (self.input,), _ = tensor_list(X, "X")
        self.session = session
        self.l2, self.total_variation = _non_negative("l2", l2), _non_negative("total_variation", total_variation)
        rank = self.input.shape.rank
        if self.total_variation and rank != 4:
            raise ExplainValueError(f"total_variation needs a 4-D X (NHWC images), got X of shape {self.input.shape}.")
        self.sample_shape = feeding.static_shape(self.input)[1:]
        if self.sample_shape is None or None in self.sample_shape:
            raise ExplainValueError(f"X '{self.input.name}' needs a static shape after the batch axis, "
                                    f"got {self.input.shape}.")
        self.target_shape = feeding.static_shape(self.target)[1:]
        with session.graph.as_default(), tf1.name_scope("deepexplain_ng_maximize"):
            self.weights = tf1.placeholder(self.target.dtype, (None,) + tuple(self.target_shape), "target_weights")
            weighted = self.target * self.weights
            score = tf.reduce_sum(tf.reshape(weighted, [tf.shape(weighted)[0], -1]), axis=1)
            flat = tf.reshape(self.input, [tf.shape(self.input)[0], -1])
            objective = score - self.l2 * tf.reduce_sum(tf.square(flat), axis=1)
            if self.total_variation:
                objective -= self.total_variation * tf.image.total_variation(self.input)
            (gradient,) = tf.gradients(objective, [self.input])
        if gradient is None:
            raise ExplainValueError(f"X '{self.input.name}' is not connected to T '{self.target.name}'.")
        self.fetches = [objective, score, gradient]

    def run(self, ys=None, n=None, start=None, steps=256, learning_rate=0.05, jitter=0, value_range=None,
            seed=None, feed=None):
        """Gradient ascent (Adam) from ``start``; see :func:`maximize` for the arguments.

        Returns ``(images, history)``: the final inputs ``(n,) + X.shape[1:]`` and a dict of
        per-step arrays ``(steps, n)``: ``"objective"`` (with the penalties) and ``"score"`` (S).
        """
        steps = positive_int("steps", steps)
        jitter = 0 if jitter is None else positive_int("jitter", jitter) if jitter else 0
        if jitter and len(self.sample_shape) != 3:
            raise ExplainValueError(f"jitter needs a 4-D X (NHWC images), got X of shape {self.input.shape}.")
        rate = _non_negative("learning_rate", learning_rate)
        rng = np.random.default_rng(check_seed(seed))
        dtype = self.input.dtype.as_numpy_dtype
        if start is None:
            if n is None:
                n = len(ys) if ys is not None and not isinstance(ys, str) and np.ndim(ys) >= 1 else 1
            x = (0.01 * rng.standard_normal((positive_int("n", n),) + tuple(self.sample_shape))).astype(np.float64)
        else:
            x = feeding.input_list(start, [self.input])[0].astype(np.float64)
        n = len(x)
        weights = feeding.target_weights(ys, n, self.target_shape, self.target.dtype.as_numpy_dtype)
        low, high = (None, None) if value_range is None else value_range
        extra = dict(feed or {})
        first, second = np.zeros_like(x), np.zeros_like(x)
        history = {"objective": np.empty((steps, n)), "score": np.empty((steps, n))}
        for step in range(steps):
            shift = tuple(rng.integers(-jitter, jitter + 1, size=2)) if jitter else (0, 0)
            shown = np.roll(x, shift, axis=(1, 2)) if jitter else x
            objective, score, gradient = self.session.run(
                self.fetches, {**extra, self.input: shown.astype(dtype), self.weights: weights})
            if jitter:
                gradient = np.roll(gradient, (-shift[0], -shift[1]), axis=(1, 2))
            history["objective"][step], history["score"][step] = objective, score
            # Adam (Kingma & Ba 2015), ascending
            first = 0.9 * first + 0.1 * gradient
            second = 0.999 * second + 0.001 * np.square(gradient)
            corrected = first / (1 - 0.9 ** (step + 1))
            x = x + rate * corrected / (np.sqrt(second / (1 - 0.999 ** (step + 1))) + 1e-8)
            if value_range is not None:
                x = np.clip(x, low, high)
        return x.astype(dtype), history


def maximize(de, T, X, ys=None, steps=256, learning_rate=0.05, l2=1e-3, total_variation=0.0, jitter=0,
             value_range=None, n=None, start=None, seed=None, feed=None):
    """Inputs that maximise ``S(x) = sum(T(x) * ys)``: a class (``ys`` class indices, one image
    per index), a channel (``ys=targets.channel(k)``) or a neuron (``targets.neuron(...)``).

    Args:
        de: a :class:`~deepexplain_ng.DeepExplain` context (its session and graph).
        T, X: target and input tensors (X ``(n, ...)``; static shape after the batch axis).
        ys: as for :meth:`Explainer.run`; with class indices, one image per entry.
        steps=256, learning_rate=0.05: Adam's steps and step size.
        l2=1e-3: weight of ``sum(x^2)`` subtracted from S (keeps images bounded).
        total_variation=0: weight of the images' total variation (4-D X), for smooth images.
        jitter=0: a random shift of up to ``jitter`` pixels before each step (Lucid's
            transformation robustness; 4-D X).
        value_range=None: ``(low, high)`` to clip the images to after each step.
        n, start: how many images (default: one per ``ys`` entry) or the images to start from
            ``(n, ...)`` (default: small Gaussian noise).
        seed: makes the start and the jitter reproducible.
        feed: other placeholders the graph needs.
    Returns:
        ``(images, history)``: images ``(n,) + X.shape[1:]`` and ``{"objective", "score"}``
        arrays ``(steps, n)``. The ops are built once per (T, X, l2, total_variation) and
        reused by later calls.
    """
    key = ("maximize", T.name if hasattr(T, "name") else T, X.name if hasattr(X, "name") else X,
           float(l2) if isinstance(l2, numbers.Real) else l2,
           float(total_variation) if isinstance(total_variation, numbers.Real) else total_variation)
    maximizer = de.compiled(key, lambda: Maximizer(de.session, T, X, l2, total_variation))
    return maximizer.run(ys=ys, n=n, start=start, steps=steps, learning_rate=learning_rate, jitter=jitter,
                         value_range=value_range, seed=seed, feed=feed)
