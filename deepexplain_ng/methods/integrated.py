"""Integrated gradients (Sundararajan et al. 2017) with a choice of quadrature rule, and an
optional tolerance on the completeness residual that refines each sample's steps until met."""
import numbers

import numpy as np

from .. import quadrature
from ..errors import ExplainTypeError, ExplainValueError
from ..notices import ConvergenceWarning, warn
from .base import positive_int
from .gradient import GradientExplainer

#: rows of each sample's first round that evaluate S at x and at the baseline (no gradient)
_AT_X, _AT_BASELINE = -1, -2


class IntegratedGradients(GradientExplainer):
    """``(x - b) * integral_0^1 dS/dx(b + alpha (x - b)) d alpha``, the integral by a quadrature
    rule of ``steps`` gradient evaluations per sample.

    Options:
        steps=100: gradient evaluations per sample (the starting count when ``tolerance`` is set).
        baseline=None: zeros, one array like a sample, or one per sample ``(n, ...)`` (a list of
            them when X is a list).
        rule="riemann_right": DeepExplain's (alpha = k / steps, k = 1..steps); also
            ``"riemann_left"``, ``"riemann_middle"``, ``"riemann_trapezoid"`` (steps >= 2, both
            ends) and ``"gauss_legendre"`` (Captum's default).
        tolerance=None: a number such as 0.01: each sample's steps are doubled (reusing the
            gradients already computed, for the Riemann left/right and trapezoid rules) until
            ``|sum(a) - (S(x) - S(b))| <= tolerance * |S(x) - S(b)|`` or ``max_steps``
            would be exceeded (then a :class:`ConvergenceWarning`).
        max_steps=4096: the most gradient evaluations per sample with ``tolerance``.

    After each ``run``, the explainer holds ``convergence_delta`` ``(n,)``: per sample
    ``sum(a) - (S(x) - S(b))`` (Captum's convergence delta, summed over all inputs of X), and
    ``steps_used`` ``(n,)``. All samples' steps are rows of the same chunked ``session.run``
    batches, so memory is bounded by the budget whatever ``steps`` is.
    """

    name = "intgrad"
    options = {"steps": 100, "baseline": None, "rule": "riemann_right", "tolerance": None, "max_steps": 4096}

    def validate(self, params):
        params["steps"] = positive_int("steps", params["steps"])
        params["max_steps"] = positive_int("max_steps", params["max_steps"])
        if params["rule"] not in quadrature.RULES:
            raise ExplainValueError(f"rule: expected one of {list(quadrature.RULES)}, got {params['rule']!r}.")
        if params["steps"] < quadrature.minimum_points(params["rule"]):
            raise ExplainValueError(f"steps: rule '{params['rule']}' needs at least "
                                    f"{quadrature.minimum_points(params['rule'])} points, got {params['steps']}.")
        tolerance = params["tolerance"]
        if tolerance is not None:
            if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
                raise ExplainTypeError(f"tolerance must be None or a positive number, got {tolerance!r}.")
            if not np.isfinite(tolerance) or tolerance <= 0:
                raise ExplainValueError(f"tolerance must be a positive finite number (e.g. 0.01), got {tolerance}.")
            if params["max_steps"] < params["steps"]:
                raise ExplainValueError(f"max_steps ({params['max_steps']}) must be at least steps "
                                        f"({params['steps']}).")
            params["tolerance"] = float(tolerance)
        self.check_baseline_shapes(params["baseline"])
        return params

    def _build(self):
        super()._build()
        self.fetches = self.gradients + [self.score]

    def _prepare(self, xs, extra):
        n = xs[0].shape[0]
        self.convergence_delta = np.zeros(n)
        self.steps_used = np.zeros(n, np.int64)
        return self.baselines(xs)

    def _explain(self, xs, weights, rows, baselines, extra):
        baselines = self.rows_of(baselines, rows)
        differences = [(a - b).astype(np.float64) for a, b in zip(xs, baselines)]
        n = xs[0].shape[0]
        rule, tolerance = self.params["rule"], self.params["tolerance"]
        count = self.params["steps"]
        alphas, point_weights = quadrature.points(rule, count)
        keep = 0.0
        integrals = [np.zeros(x.shape, np.float64) for x in xs]
        ends = np.zeros((n, 2))  # S(x), S(b)
        active = np.arange(n)
        steps_used = np.full(n, count)
        first = True
        while True:
            if first:  # S at both ends rides in the first round's rows
                alphas, point_weights = np.r_[alphas, _AT_X, _AT_BASELINE], np.r_[point_weights, 0.0, 0.0]
            sums = self._weighted_sums(xs, baselines, differences, weights, active, alphas, point_weights,
                                       ends, extra)
            for integral, s in zip(integrals, sums):
                integral[active] = keep * integral[active] + s
            steps_used[active] = count
            first = False
            if tolerance is None:
                break
            residual = self._residual(differences, integrals, ends, active)
            change = np.abs(ends[active, 0] - ends[active, 1])
            floor = 8 * np.finfo(np.float32).eps * np.abs(ends[active]).sum(axis=1)
            active = active[np.abs(residual) > tolerance * change + floor]
            next_count, alphas, point_weights, keep = quadrature.refinement(rule, count)
            if active.size == 0 or next_count > self.params["max_steps"]:
                break
            count = next_count
        attributions = [d * integral for d, integral in zip(differences, integrals)]
        delta = self._residual(differences, integrals, ends, np.arange(n))
        self.convergence_delta[rows] = delta
        self.steps_used[rows] = steps_used
        if tolerance is not None and active.size:
            worst = np.abs(delta[active]) / np.maximum(np.abs(ends[active, 0] - ends[active, 1]), 1e-30)
            warn(f"intgrad: {active.size} of {n} samples did not reach tolerance={tolerance} within "
                 f"max_steps={self.params['max_steps']} (rule '{rule}'; worst relative residual "
                 f"{worst.max():.3g}); raise max_steps, or accept their convergence_delta.", ConvergenceWarning)
        return [a.astype(x.dtype) for a, x in zip(attributions, xs)]

    @staticmethod
    def _residual(differences, integrals, ends, samples):
        total = sum((d[samples] * integral[samples]).reshape(len(samples), -1).sum(axis=1)
                    for d, integral in zip(differences, integrals))
        return total - (ends[samples, 0] - ends[samples, 1])

    def _weighted_sums(self, xs, baselines, differences, weights, samples, alphas, point_weights, ends, extra):
        """For each sample of ``samples``: sum over the points of ``weight * dS/dx`` at
        ``b + alpha (x - b)``; rows with alpha ``_AT_X`` / ``_AT_BASELINE`` record S in ``ends``."""
        points = len(alphas)
        sums = [np.zeros((len(samples),) + x.shape[1:], np.float64) for x in xs]
        at_x, at_baseline = alphas == _AT_X, alphas == _AT_BASELINE
        position = np.where(at_x, 1.0, np.where(at_baseline, 0.0, alphas))

        def make_feed(lo, hi):
            index = np.arange(lo, hi)
            sample = samples[index // points]
            alpha = position[index % points]
            feed = {self.weights: weights[sample]}
            for x, b, d in zip(self.inputs, baselines, differences):
                scale = alpha.reshape((-1,) + (1,) * (d.ndim - 1))
                start = b if b.shape[0] == 1 else b[sample]
                feed[x] = (start + scale * d[sample]).astype(b.dtype)
            return feed

        def consume(lo, hi, values):
            index = np.arange(lo, hi)
            local, point = index // points, index % points
            starts = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
            w = point_weights[point]
            for total, v in zip(sums, values[:-1]):
                total[local[starts]] += np.add.reduceat(v * w.reshape((-1,) + (1,) * (v.ndim - 1)), starts, axis=0)
            score = values[-1].astype(np.float64)
            ends[samples[local[at_x[point]]], 0] = score[at_x[point]]
            ends[samples[local[at_baseline[point]]], 1] = score[at_baseline[point]]

        self.evaluate(self.fetches, len(samples) * points, make_feed, consume, extra)
        return sums
