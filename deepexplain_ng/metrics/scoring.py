"""S(x) = sum(T(x) * ys) of many generated rows, in memory-bounded chunks: what every metric
evaluates. Built once per context, target and input (``DeepExplain.compiled``)."""
import numpy as np

from .. import feeding
from ..errors import ExplainValueError
from ..methods.base import Explainer, check_seed


class Scorer(Explainer):
    """S of rows: ``scores(n_rows, rows_of, weights)`` with ``rows_of(index) -> (inputs,
    sample)``, each row weighted by its sample's ``ys`` row. Creates no op after construction."""

    name = "scores"
    uses_gradients = False
    attributes_target = False

    def _build(self):
        pass

    def check_rows(self, xs):
        """Once per scorer: T's rows must be X's rows (see ``Explainer._probe_row_independence``)."""
        if not self._rows_checked:
            self._probe_row_independence([xs], dict(self._feed_defaults))
            self._rows_checked = True

    def scores(self, n_rows, rows_of, weights, extra=None):
        out = np.empty(n_rows, np.float64)

        def make_feed(lo, hi):
            inputs, sample = rows_of(np.arange(lo, hi))
            return {self.inputs[0]: inputs, self.weights: weights[sample]}

        def consume(lo, hi, values):
            out[lo:hi] = values[0]

        self.evaluate([self.score], n_rows, make_feed, consume, {**self._feed_defaults, **(extra or {})},
                      description=self.description)
        return out


def scorer(de, T, X, memory_budget=None, progress=None, description="metric"):
    """The context's Scorer for ``T`` and ``X`` (one input tensor)."""
    if isinstance(X, (list, tuple)):
        raise ExplainValueError(f"the metrics evaluate one input tensor; X is a list of {len(X)}.")
    key = ("scorer", getattr(T, "name", T), getattr(X, "name", X), memory_budget)
    built = de.compiled(key, lambda: Scorer(de.session, T, X, memory_budget=memory_budget or de.memory_budget))
    built.progress, built.description = progress, description
    return built


def prepared(built, xs, attributions, ys, name="attributions"):
    """``(xs, attributions (float64), weights)`` checked against X's and each other's shapes."""
    xs = feeding.input_list(xs, built.inputs)[0]
    built.check_rows(xs)
    attributions = np.asarray(attributions, np.float64)
    if attributions.shape[0] != xs.shape[0] or not (
            attributions.shape == xs.shape or attributions.shape == xs.shape[:-1]):
        raise ExplainValueError(f"{name}: expected one map per sample shaped like xs {xs.shape} (or without its "
                                f"channel axis {xs.shape[:-1]}), got {attributions.shape}.")
    weights = feeding.target_weights(ys, len(xs), built.target_shape, built.target.dtype.as_numpy_dtype)
    return xs, attributions, weights


def per_pixel(xs, attributions):
    """Images' maps with channels averaged (Xplique's convention): ``(n, H*W)``, and the inputs
    ``(n, H*W, C)``; other inputs: every cell a feature."""
    if xs.ndim == 4:
        maps = attributions.mean(axis=-1) if attributions.ndim == 4 else attributions
        return maps.reshape(len(xs), -1), xs.reshape(len(xs), -1, xs.shape[-1])
    return attributions.reshape(len(xs), -1), xs.reshape(len(xs), -1, 1)


def streams(seed, n):
    """One random generator per sample: draws never depend on the batching."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(check_seed(seed)).spawn(n)]
