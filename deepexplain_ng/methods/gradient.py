"""Gradient methods: saliency, gradient * input.

Also the shared machinery of every method that back-propagates a (possibly modified)
gradient of S(x) = sum(T(x) * ys) to the inputs.
"""
import numpy as np
import tensorflow as tf

from .. import feeding
from ..errors import ExplainValueError
from ..overrides import active_rule
from .base import Explainer


class GradientExplainer(Explainer):
    """Builds dS/dX once, under the method's backward rule (None: TF's own gradients)."""

    def rule(self):
        """``rule(op, grad)`` applied at marked nonlinearities, or None for plain gradients."""
        return None

    def _build(self):
        with active_rule(self.graph, self.rule()):
            gradients = tf.gradients(self.score, self.inputs)
        self._check_connected([g is not None for g in gradients])  # raises with the embedding advice
        self.gradients = gradients

    def gradients_at(self, xs, weights, extra, row_feed=None):
        """dS/dX at each row of ``xs`` (list of arrays with n rows) -> list of arrays like xs."""
        out = [np.empty(x.shape, x.dtype) for x in xs]

        def make_feed(lo, hi):
            feed = {x: a[lo:hi] for x, a in zip(self.inputs, xs)}
            feed[self.weights] = weights[lo:hi]
            if row_feed is not None:
                feed.update(row_feed(lo, hi))
            return feed

        def consume(lo, hi, values):
            for o, v in zip(out, values):
                o[lo:hi] = v

        self.evaluate(self.gradients, xs[0].shape[0], make_feed, consume, extra)
        return out

    # -- baselines (intgrad, deeplift) -----------------------------------------------------
    def check_baseline_shapes(self, baseline):
        """Early check of a ``baseline`` keyword against X's static shape."""
        if baseline is None:
            return None
        values = baseline if len(self.inputs) > 1 else [baseline]
        if len(self.inputs) > 1 and (not isinstance(baseline, (list, tuple)) or len(baseline) != len(self.inputs)):
            raise ExplainValueError(f"baseline: X is a list of {len(self.inputs)} tensors, so baseline must be "
                                    f"a list of {len(self.inputs)} arrays (or None for zeros).")
        for i, (b, x) in enumerate(zip(values, self.inputs)):
            label = f"baseline[{i}]" if len(self.inputs) > 1 else "baseline"
            b = feeding.as_array(label, b, x.dtype.as_numpy_dtype)
            sample = tuple(x.shape.as_list()[1:])
            ok = (b.ndim == 0 or (b.ndim == len(sample) and all(s is None or s == d for s, d in zip(sample, b.shape)))
                  or (b.ndim == len(sample) + 1 and all(s is None or s == d for s, d in zip(sample, b.shape[1:]))))
            if not ok:
                raise ExplainValueError(f"{label}: expected the input's shape without the batch axis "
                                        f"{feeding.shape_str(sample)} (or one baseline per sample, "
                                        f"{feeding.shape_str(('n',) + sample)}), got {b.shape}.")
        return baseline

    def baselines(self, xs):
        return feeding.baseline_list(self.params["baseline"], self.inputs, xs, per_sample=True)

    @staticmethod
    def rows_of(baselines, rows):
        """The baselines of the samples in ``rows`` (shared baselines stay one row)."""
        return [b if b.shape[0] == 1 else b[rows] for b in baselines]


class Zero(Explainer):
    """All-zero attributions of X's shape (DeepExplain's ``zero``): a baseline method for testing
    a pipeline's plumbing. It builds no gradient and activates no rule."""

    name = "zero"
    uses_gradients = False
    batches_rows = False

    def _build(self):
        pass

    def _explain(self, xs, weights, rows, context, extra):
        return [np.zeros(x.shape, np.float32) for x in xs]


class Saliency(GradientExplainer):
    """|dS/dx| (Simonyan et al. 2014)."""

    name = "saliency"

    def _explain(self, xs, weights, rows, context, extra):
        return [np.abs(g) for g in self.gradients_at(xs, weights, extra)]


class GradientXInput(GradientExplainer):
    """x * dS/dx (Shrikumar et al. 2016)."""

    name = "grad*input"

    def _explain(self, xs, weights, rows, context, extra):
        return [x * g for x, g in zip(xs, self.gradients_at(xs, weights, extra))]
