"""Methods that average over random draws: noise tunnels (SmoothGrad, SmoothGrad², VarGrad),
expected gradients and gradient SHAP. Draws are rows of the same chunked runs as IG steps."""
import numbers

import numpy as np

from .. import feeding
from ..errors import ExplainTypeError, ExplainValueError
from .base import Explainer, check_seed, positive_int
from .gradient import GradientExplainer, GradientXInput, Saliency
from .integrated import IntegratedGradients
from .guided import Deconvnet, GuidedBackprop
from .rule_based import DeepLIFT, EpsilonLRP

#: methods a noise tunnel may average
BASES = {cls.name: cls for cls in (Saliency, GradientXInput, IntegratedGradients, EpsilonLRP, DeepLIFT,
                                   GuidedBackprop, Deconvnet)}



def _non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ExplainValueError(f"{name} must be a non-negative number, got {value!r}.")
    return float(value)


class NoiseTunnel(Explainer):
    """SmoothGrad (Smilkov et al. 2017): the mean of a base method's attributions over noisy
    copies ``x + N(0, sigma^2)`` of each sample; ``smoothgrad_sq`` the mean of their squares,
    ``vargrad`` their variance.

    Options: ``samples=50`` noisy copies per sample; ``noise_level=0.15``: sigma as a fraction of
    each sample's ``max - min`` (the paper's convention), or ``stdev=`` an absolute sigma (give
    one); ``seed=None`` (an int makes results reproducible whatever the batching);
    ``base="saliency"`` (also ``grad*input``, ``intgrad``, ``elrp``, ``deeplift``,
    ``guided_backprop``, ``deconvnet``) and ``base_options={}`` (e.g. ``{"steps": 20}``).
    Result shaped like X. The copies are rows of the base method's chunked runs.
    """

    name = "smoothgrad"
    options = {"samples": 50, "noise_level": None, "stdev": None, "seed": None, "base": "saliency",
               "base_options": None}

    def validate(self, params):
        params["samples"] = positive_int("samples", params["samples"])
        check_seed(params["seed"])
        if params["stdev"] is not None and params["noise_level"] is not None:
            raise ExplainValueError("give one of noise_level= (relative to each sample's range) and stdev= "
                                    f"(absolute), got both: {params['noise_level']!r} and {params['stdev']!r}.")
        if params["stdev"] is not None:
            params["stdev"] = _non_negative("stdev", params["stdev"])
        else:
            level = 0.15 if params["noise_level"] is None else params["noise_level"]
            params["noise_level"] = _non_negative("noise_level", level)
        if params["base"] not in BASES:
            raise ExplainValueError(f"base: expected one of {sorted(BASES)}, got {params['base']!r}.")
        if params["base_options"] is not None and not isinstance(params["base_options"], dict):
            raise ExplainTypeError(f"base_options must be a dict of the base method's options, "
                                   f"got {type(params['base_options']).__name__}.")
        return params

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"{self.name} adds noise to one input tensor, and X is a list of "
                                    f"{len(self.inputs)}; explain them one at a time or concatenate them.")

    def _build(self):
        base = BASES[self.params["base"]]
        self.base = base(self.session, self.target, self.inputs[0], memory_budget=self.memory_budget,
                         progress=self.progress, **(self.params["base_options"] or {}))
        self.uses_gradients = self.base.uses_gradients

    def _prepare(self, xs, extra):
        return np.random.default_rng(self.params["seed"])

    def _sigma(self, x):
        if self.params["stdev"] is not None:
            return np.full((len(x),) + (1,) * (x.ndim - 1), self.params["stdev"])
        flat = x.reshape(len(x), -1)
        spread = flat.max(axis=1) - flat.min(axis=1)
        return (self.params["noise_level"] * spread).reshape((-1,) + (1,) * (x.ndim - 1))

    def _explain(self, xs, weights, rows, rng, extra):
        x, samples = xs[0], self.params["samples"]
        sigma = self._sigma(x)
        total = np.zeros(x.shape, np.float64)
        squares = np.zeros(x.shape, np.float64)
        # a few samples' copies at a time: memory stays bounded whatever samples is
        group = max(1, self.base.rows_per_run() // samples)
        for lo in range(0, len(x), group):
            hi = min(len(x), lo + group)
            copies = np.repeat(x[lo:hi], samples, axis=0)
            noise = rng.standard_normal(copies.shape, dtype=np.float32) * np.repeat(sigma[lo:hi], samples, axis=0)
            a = self.base.run((copies + noise).astype(x.dtype), np.repeat(weights[lo:hi], samples, axis=0),
                              feed={k: v for k, v in extra.items() if np.ndim(v) == 0 and k not in
                                    self._feed_defaults}).astype(np.float64)
            a = a.reshape((hi - lo, samples) + x.shape[1:])
            total[lo:hi] = a.sum(axis=1)
            squares[lo:hi] = np.square(a).sum(axis=1)
        return [self._reduce(total / samples, squares / samples).astype(x.dtype)]

    def _reduce(self, mean, mean_of_squares):
        return mean


class SmoothGradSquared(NoiseTunnel):
    """SmoothGrad²: the mean of the squared base attributions over the noisy copies (see smoothgrad)."""

    name = "smoothgrad_sq"

    def _reduce(self, mean, mean_of_squares):
        return mean_of_squares


class VarGrad(NoiseTunnel):
    """VarGrad (Adebayo et al. 2018): the variance of the base attributions over the noisy copies."""

    name = "vargrad"

    def _reduce(self, mean, mean_of_squares):
        return np.maximum(mean_of_squares - np.square(mean), 0.0)


class ExpectedGradients(GradientExplainer):
    """Expected gradients (Erion et al. 2021): ``mean_k (x - b_k) * dS/dx`` at ``b_k + alpha_k (x - b_k)``,
    with ``b_k`` a random row of the background ``baselines`` and ``alpha_k ~ U(0, 1)``.

    Options: ``baselines`` (required: a background array ``(k, ...)`` of X's sample shape),
    ``samples=50`` draws per input, ``seed=None``. Its expectation sums to ``S(x) - mean_b S(b)``.
    Draws are rows of chunked runs, like IG steps. Result shaped like X.
    """

    name = "expected_gradients"
    options = {"baselines": None, "samples": 50, "seed": None}
    noise = False

    def validate(self, params):
        params["samples"] = positive_int("samples", params["samples"])
        check_seed(params["seed"])
        if params["baselines"] is None:
            raise ExplainValueError(f"{self.name} needs baselines=: a background array (k, ...) of samples "
                                    "shaped like X's, e.g. a few hundred training rows.")
        return params

    def _check_inputs(self):
        if len(self.inputs) > 1:
            raise ExplainValueError(f"{self.name} takes one input tensor; X is a list of {len(self.inputs)}.")
        x = self.inputs[0]
        background = feeding.as_array("baselines", self.params["baselines"], x.dtype.as_numpy_dtype)
        sample = tuple(x.shape.as_list()[1:])
        if background.ndim != len(sample) + 1 or not all(s is None or s == d for s, d in
                                                         zip(sample, background.shape[1:])):
            raise ExplainValueError(f"baselines: expected a background array {feeding.shape_str(('k',) + sample)}, "
                                    f"got {background.shape}.")
        self.background = background

    def _prepare(self, xs, extra):
        # background rows and alphas drawn for all samples up front, the noise in row order from
        # a stream of its own: the draws do not depend on the chunking
        draws, noise = (np.random.default_rng(s) for s in np.random.SeedSequence(self.params["seed"]).spawn(2))
        n, samples = len(xs[0]), self.params["samples"]
        return draws.integers(0, len(self.background), (n, samples)), draws.random((n, samples)), noise

    def _explain(self, xs, weights, rows, draws, extra):
        chosen, alpha, noise = draws
        x, samples = xs[0], self.params["samples"]
        n = len(x)
        chosen, alpha = chosen[rows], alpha[rows].astype(x.dtype)
        stdev = self.params["stdev"] if self.noise else 0.0
        total = np.zeros(x.shape, np.float64)
        chunk = {}

        def make_feed(lo, hi):
            i, k = np.divmod(np.arange(lo, hi), samples)
            start = self.background[chosen[i, k]]
            end = x[i]
            if stdev > 0:  # noise of these rows only, drawn in row order
                end = end + (noise.standard_normal(end.shape) * stdev).astype(x.dtype)
            chunk["rows"], chunk["difference"] = i, end - start
            scale = alpha[i, k].reshape((-1,) + (1,) * (x.ndim - 1))
            return {self.inputs[0]: start + scale * chunk["difference"], self.weights: weights[i]}

        def consume(lo, hi, values):
            # rows are sample-major: each sample's draws are contiguous (np.add.at is slow)
            i = chunk["rows"]
            starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
            total[i[starts]] += np.add.reduceat(chunk["difference"] * values[0], starts, axis=0)

        self.evaluate(self.gradients, n * samples, make_feed, consume, extra)
        return [(total / samples).astype(x.dtype)]


class GradientShap(ExpectedGradients):
    """Gradient SHAP (Lundberg & Lee 2017, Captum's definition): expected gradients whose inputs
    get Gaussian noise of ``stdev`` first (``stdev=0``: expected gradients). Options as
    expected_gradients plus ``stdev=0``."""

    name = "gradient_shap"
    options = {"baselines": None, "samples": 50, "seed": None, "stdev": 0.0}
    noise = True

    def validate(self, params):
        params["stdev"] = _non_negative("stdev", params["stdev"])
        return super().validate(params)
