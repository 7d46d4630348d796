"""Modified chain rules (Ancona et al., ICLR 2018): epsilon-LRP and DeepLIFT (Rescale)."""
import numpy as np
import tensorflow as tf

from .. import feeding
from ..errors import ExplainValueError
from ..op_rules import deeplift_gradients, epsilon_gradients, DEEPLIFT_CLASSES, EPSILON_CLASSES
from ..rules import original_gradient
from .base import positive_float
from .gradient import GradientExplainer

tf1 = tf.compat.v1


class EpsilonLRP(GradientExplainer):
    """epsilon-LRP (Bach et al. 2015) as x * the gradient where every nonlinearity's
    derivative becomes f(z) / (z + epsilon * sign(z))."""

    name = "elrp"
    options = {"epsilon": 1e-4}
    rule_based = True
    exact_classes = EPSILON_CLASSES

    def validate(self, params):
        params["epsilon"] = positive_float("epsilon", params["epsilon"])
        return params

    def rule(self):
        epsilon = self.params["epsilon"]

        def epsilon_rule(op, grad):
            varying = self.varying.get(op.name, [])
            gradients = epsilon_gradients(op, grad, varying, epsilon)
            if gradients is None:
                return original_gradient(op, grad)
            return [gradients.get(i) for i in range(len(op.inputs))]
        return epsilon_rule

    def _explain(self, xs, weights, rows, context, extra):
        return [x * g for x, g in zip(xs, self.gradients_at(xs, weights, extra))]


def _max_pool_on_all_rows(op, grad, reference_of_row):
    """op_rules' max-pool rule on the stacked rows, references gathered: the change of each window
    goes to the input's winners (beyond the reference's max) and to the reference's. The forward
    tensors are the op's own, so no max-pool is recomputed."""
    x, y = op.inputs[0], op.outputs[0]
    x_ref, y_ref = tf.gather(x, reference_of_row), tf.gather(y, reference_of_row)
    cross = tf.maximum(y, y_ref)
    attrs = {name: op.get_attr(name) for name in ("ksize", "strides", "padding", "data_format")}
    on_input = tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=grad * (cross - y_ref), **attrs)
    on_reference = tf.raw_ops.MaxPoolGrad(orig_input=x_ref, orig_output=y_ref, grad=grad * (y - cross), **attrs)
    return tf.math.divide_no_nan(on_input + on_reference, x - x_ref)


class DeepLIFT(GradientExplainer):
    """DeepLIFT, Rescale rule (Shrikumar et al. 2017), as (x - b) * the gradient where every
    nonlinearity's derivative becomes (f(z) - f(z_ref)) / (z - z_ref).

    z_ref is the nonlinearity's input when the network runs on the baseline. The baseline
    rows ride in the same batch as the inputs (one row, or one per sample, after them), so
    the references come from the same forward pass: one ``session.run`` per chunk, and only
    the ops on the path X -> T are ever evaluated. A graph whose X has a fixed batch size
    cannot take extra rows; there the references are computed by a forward pass of their own
    and fed back.
    """

    name = "deeplift"
    options = {"baseline": None}
    rule_based = True
    #: stacked rows: the reference rows after the inputs are one shared row or one per input
    #: (sliced, broadcast); True: any number, each input row naming its own (gathered)
    gathers_references = False
    exact_classes = DEEPLIFT_CLASSES

    def validate(self, params):
        self.check_baseline_shapes(params["baseline"])
        return params

    def rule(self):
        self.stacked = self.fixed_batch is None
        self.references = []  # fixed batch only: (placeholder fed with z_ref, z)
        if self.stacked:
            # rows [0, real) are inputs, rows [real, ...) their baselines
            self.real_rows = tf1.placeholder(tf.int32, (), name="real_rows")
            # each row's reference row (a reference row's own): ReLUs gather their references
            # instead of slicing and re-stacking rows, the largest saving on ReLU nets
            self.reference_of_row = tf1.placeholder(tf.int32, (None,), name="reference_of_row")

        def parts(tensor):
            """(rows on the inputs, rows on their references) of a tensor on the path."""
            if self.stacked and self.gathers_references:
                reference = tf.gather(tensor, self.reference_of_row[:self.real_rows])
                return tensor[:self.real_rows], tf.stop_gradient(reference)
            if self.stacked:
                return tensor[:self.real_rows], tf.stop_gradient(tensor[self.real_rows:])
            shape = None if tensor.shape.rank is None else [None] + tensor.shape.as_list()[1:]
            reference = tf1.placeholder(tensor.dtype, shape, name="reference")
            self.references.append((reference, tensor))
            return tensor, reference

        def difference_rule(op, grad):
            varying = self.varying.get(op.name, [])
            if self.stacked and op.type == "MaxPool" and varying and op.get_attr("padding") in (b"SAME", b"VALID"):
                return _max_pool_on_all_rows(op, grad, self.reference_of_row)
            if self.stacked and op.type in ("Relu", "Relu6") and varying:
                z, y = op.inputs[0], op.outputs[0]
                # slopes 0 and 1: the quotient is exact (see rules.unit_slope_multiplier); where
                # z == z_ref exactly, 0 (no difference passes; divide_no_nan saves a select)
                multiplier = tf.math.divide_no_nan(y - tf.gather(y, self.reference_of_row),
                                                   z - tf.gather(z, self.reference_of_row))
                return grad * multiplier  # reference rows: 0 / 0 = 0, with zero gradients anyway
            if self.stacked:
                gradients = deeplift_gradients(op, grad[:self.real_rows], parts, varying)
            else:
                gradients = deeplift_gradients(op, grad, parts, varying)
            if gradients is None:
                return original_gradient(op, grad)
            out = []
            for i, x in enumerate(op.inputs):
                g = gradients.get(i)
                if g is not None and self.stacked:  # reference rows pass nothing back
                    g = tf.concat([g, tf.zeros_like(x[self.real_rows:])], axis=0)
                out.append(g)
            return out
        return difference_rule

    def rows_per_run(self):
        # a chunk carries up to as many baseline rows as input rows
        return max(1, super().rows_per_run() // 2)

    def reference_values(self, baselines, extra):
        """Fixed batch: the inputs of the path's nonlinearities when the net runs on ``baselines``."""
        if not self.references:
            return []
        rows = baselines[0].shape[0]
        feed = {x: feeding._pad_rows(b, self.fixed_batch) for x, b in zip(self.inputs, baselines)}
        feed.update(extra)
        values = self.session.run([z for _, z in self.references], feed)
        return [v[:rows] for v in values]

    def _prepare(self, xs, extra):
        return self.baselines(xs)

    def _explain(self, xs, weights, rows, baselines, extra):
        baselines = self.rows_of(baselines, rows)
        shared = baselines[0].shape[0] == 1
        if self.stacked:
            gradients = self._stacked_gradients(xs, weights, baselines, shared, extra)
        else:
            placeholders = [p for p, _ in self.references]

            def row_feed(lo, hi):
                values = self.reference_values([b if shared else b[lo:hi] for b in baselines], extra)
                return dict(zip(placeholders, values))
            gradients = self.gradients_at(xs, weights, extra, row_feed)
        return [(x - b) * g for x, b, g in zip(xs, baselines, gradients)]

    def _stacked_gradients(self, xs, weights, baselines, shared, extra):
        out = [np.empty(x.shape, x.dtype) for x in xs]

        def make_feed(lo, hi):
            references = [b if shared else b[lo:hi] for b in baselines]
            feed = {x: np.concatenate([a[lo:hi], r]) for x, a, r in zip(self.inputs, xs, references)}
            padding = np.zeros((len(references[0]),) + weights.shape[1:], weights.dtype)
            feed[self.weights] = np.concatenate([weights[lo:hi], padding])
            feed[self.real_rows] = hi - lo
            real, own = hi - lo, np.arange(hi - lo, hi - lo + len(references[0]), dtype=np.int32)
            feed[self.reference_of_row] = np.concatenate([np.full(real, real, np.int32) if shared else own, own])
            return feed

        def consume(lo, hi, values):
            for o, v in zip(out, values):
                o[lo:hi] = v[:hi - lo]

        self.evaluate(self.gradients, xs[0].shape[0], make_feed, consume, extra)
        return out


class DeepLIFTShap(DeepLIFT):
    """DeepLIFT SHAP (Lundberg & Lee 2017): DeepLIFT averaged over the rows of a background,
    ``mean_k DeepLIFT(x; baseline = b_k)``; it sums exactly to ``S(x) - mean_k S(b_k)``.

    Options: ``baselines`` (required: a background ``(k, ...)`` of X's sample shape, or a list
    of them for several inputs). Each sample's copies, one per background row, are rows of the
    same chunked runs, with their background rows riding in the batch. Result shaped like X.
    """

    name = "deeplift_shap"
    options = {"baselines": None}
    gathers_references = True

    def validate(self, params):
        if params["baselines"] is None:
            raise ExplainValueError("deeplift_shap needs baselines=: a background array (k, ...) of samples "
                                    "shaped like X's (a list of them for several inputs).")
        params["baseline"] = None
        return params

    def _prepare(self, xs, extra):
        background = feeding.input_list(self.params["baselines"], self.inputs, name="baselines")
        return background

    def _explain(self, xs, weights, rows, background, extra):
        if self.stacked:
            return self._shared_background(xs, weights, background, extra)
        k, n = len(background[0]), len(xs[0])
        out = [np.empty(x.shape, x.dtype) for x in xs]
        group = max(1, self.rows_per_run() // k)  # a few samples' copies at a time: bounded memory
        for lo in range(0, n, group):
            hi = min(n, lo + group)
            # sample-major copies: row i * k + j is sample i against background row j
            copies = [np.repeat(x[lo:hi], k, axis=0) for x in xs]
            references = [np.tile(b, (hi - lo,) + (1,) * (b.ndim - 1)) for b in background]
            parts = super()._explain(copies, np.repeat(weights[lo:hi], k, axis=0), slice(None), references, extra)
            for o, a in zip(out, parts):
                o[lo:hi] = a.reshape((hi - lo, k) + a.shape[1:]).mean(axis=1)
        return out

    def _shared_background(self, xs, weights, background, extra):
        """Copies of the samples, one per background row (row i * k + j: sample i against
        background row j), and the k background rows once per run after them: each copy's
        references are gathered from its background row."""
        k, n = len(background[0]), len(xs[0])
        totals = [np.zeros(x.shape, np.float64) for x in xs]
        chunk = {}

        def make_feed(lo, hi):
            sample, row = np.divmod(np.arange(lo, hi), k)
            real = hi - lo
            chunk["sample"], chunk["row"] = sample, row
            feed = {x: np.concatenate([a[sample], b]) for x, a, b in zip(self.inputs, xs, background)}
            padding = np.zeros((k,) + weights.shape[1:], weights.dtype)
            feed[self.weights] = np.concatenate([weights[sample], padding])
            feed[self.real_rows] = real
            feed[self.reference_of_row] = np.concatenate([real + row, real + np.arange(k)]).astype(np.int32)
            return feed

        def consume(lo, hi, values):
            sample, row = chunk["sample"], chunk["row"]
            # rows are sample-major: each sample's copies are contiguous (np.add.at is slow)
            starts = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
            for total, x, b, v in zip(totals, xs, background, values):
                total[sample[starts]] += np.add.reduceat((x[sample] - b[row]) * v[:hi - lo], starts, axis=0)

        self.evaluate(self.gradients, n * k, make_feed, consume, extra, description=self.name)
        return [(total / k).astype(x.dtype) for total, x in zip(totals, xs)]

    def rows_per_run(self):
        # copies only: the background (k rows) rides in every run besides them
        background = self.params["baselines"]
        k = len(background[0] if isinstance(background, (list, tuple)) else background)
        return max(1, GradientExplainer.rows_per_run(self) - k)
