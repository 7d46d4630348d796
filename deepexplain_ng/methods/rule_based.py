"""Modified chain rules (Ancona et al., ICLR 2018): epsilon-LRP and DeepLIFT (Rescale)."""
import numpy as np
import tensorflow as tf

from .. import feeding
from ..rules import epsilon_multiplier, rescale_multiplier
from .base import positive_float
from .gradient import GradientExplainer

tf1 = tf.compat.v1


class EpsilonLRP(GradientExplainer):
    """epsilon-LRP (Bach et al. 2015) as x * the gradient where every nonlinearity's
    derivative becomes f(z) / (z + epsilon * sign(z))."""

    name = "elrp"
    options = {"epsilon": 1e-4}
    rule_based = True

    def validate(self, params):
        params["epsilon"] = positive_float("epsilon", params["epsilon"])
        return params

    def rule(self):
        epsilon = self.params["epsilon"]
        return lambda op, grad: grad * epsilon_multiplier(op, epsilon)

    def _explain(self, xs, weights, rows, context, extra):
        return [x * g for x, g in zip(xs, self.gradients_at(xs, weights, extra))]


class DeepLIFT(GradientExplainer):
    """DeepLIFT, Rescale rule (Shrikumar et al. 2017), as (x - b) * the gradient where every
    nonlinearity's derivative becomes (f(z) - f(z_ref)) / (z - z_ref).

    z_ref is the nonlinearity's input when the network runs on the baseline. Only the ops
    that the gradient of T w.r.t. X visits get a reference, so unrelated parts of the
    graph are never evaluated.
    """

    name = "deeplift"
    options = {"baseline": None}
    rule_based = True
    max_pool_exact = False

    def validate(self, params):
        self.check_baseline_shapes(params["baseline"])
        return params

    def rule(self):
        self.references = []  # (placeholder fed with z_ref, z)

        def rescale(op, grad):
            z = op.inputs[0]
            shape = None if z.shape.rank is None else [None] + z.shape.as_list()[1:]
            reference = tf1.placeholder(z.dtype, shape, name="reference")
            self.references.append((reference, z))
            return grad * rescale_multiplier(op, reference)
        return rescale

    def reference_values(self, baselines, extra):
        """The inputs of the path's nonlinearities when the net runs on ``baselines``."""
        if not self.references:
            return []
        rows = baselines[0].shape[0]
        feed = {x: b for x, b in zip(self.inputs, baselines)}
        if self.fixed_batch is not None and rows < self.fixed_batch:
            feed = {x: feeding._pad_rows(b, self.fixed_batch) for x, b in feed.items()}
        feed.update(extra)
        values = self.session.run([z for _, z in self.references], feed)
        return [v[:rows] for v in values]

    def _prepare(self, xs, extra):
        baselines = self.baselines(xs)
        shared = all(b.shape[0] == 1 for b in baselines)
        references = self.reference_values(baselines, extra) if shared else None
        return baselines, references

    def _explain(self, xs, weights, rows, context, extra):
        baselines, shared_references = context
        baselines = self.rows_of(baselines, rows)
        placeholders = [p for p, _ in self.references]
        if shared_references is not None:
            extra = {**extra, **dict(zip(placeholders, shared_references))}
            row_feed = None
        else:
            def row_feed(lo, hi):
                values = self.reference_values([b[lo:hi] for b in baselines], extra)
                return dict(zip(placeholders, values))
        gradients = self.gradients_at(xs, weights, extra, row_feed)
        return [(x - b) * g for x, b, g in zip(xs, baselines, gradients)]
