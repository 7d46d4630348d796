"""Several methods under several metrics at once: one table and one picture to choose a map by.

    from deepexplain_ng import report
    table = report.compare(de, logits, X, images, labels, methods=["saliency", "intgrad", "deeplift"],
                           metrics=["deletion", "insertion", "mu_fidelity"], path="compare.png")
    print(table.to_markdown())
"""
import time
from collections.abc import Mapping

import numpy as np

from . import metrics as _metrics
from .errors import ExplainTypeError, ExplainValueError
from .methods import method_class

#: what each metric's per-sample score is, and whether higher is better (True), lower (False)
#: or neither (None: a property of the map, not a quality)
METRICS = {
    "deletion": False, "insertion": True, "mu_fidelity": True, "infidelity": False, "sensitivity_n": True,
    "average_drop": False, "average_increase": True, "average_gain": True, "complexity": False,
    "sparseness": True, "max_sensitivity": False, "average_stability": False, "random_logit": False,
    "model_randomization": False,
}
DEFAULT_METRICS = ("deletion", "insertion", "mu_fidelity", "infidelity", "sparseness")
_ARROWS = {True: " ↑", False: " ↓", None: ""}


def _methods(methods):
    """``[(label, method name, options)]`` from a list of names / ``(name, options)`` pairs or a
    mapping ``{name: options}``."""
    if isinstance(methods, Mapping):
        methods = list(methods.items())
    if isinstance(methods, str) or not methods:
        raise ExplainValueError(f"methods: expected a non-empty list of method names (or (name, options) "
                                f"pairs, or a dict {{name: options}}), got {methods!r}.")
    out = []
    for item in methods:
        name, options = (item, {}) if isinstance(item, str) else tuple(item)
        method_class(name)  # unknown names fail here, before any work
        if not isinstance(options, Mapping):
            raise ExplainTypeError(f"methods: the options of '{name}' must be a dict, got {type(options).__name__}.")
        label = name if not options else f"{name} ({', '.join(f'{k}={v}' for k, v in options.items())})"
        out.append((label, name, dict(options)))
    labels = [label for label, _, _ in out]
    if len(set(labels)) != len(labels):
        raise ExplainValueError(f"methods: the same method and options twice in {labels}.")
    return out


def _metric_names(names, metric_options):
    unknown = sorted(set(names) - set(METRICS)) + sorted(set(metric_options) - set(names))
    if unknown or isinstance(names, str) or not names:
        raise ExplainValueError(f"metrics: expected a non-empty list of {sorted(METRICS)}, and metric_options "
                                f"only for those listed; got metrics={names!r}, unknown or unlisted: {unknown}.")
    return list(names)


class Comparison:
    """The result of :func:`compare`.

    Attributes:
        rows: one dict per method: ``label``, ``method``, ``seconds`` (explaining the samples) and
            ``{metric: (mean, standard deviation)}`` over the samples under ``"metrics"``.
        scores: ``{label: {metric: per-sample scores (n,)}}``.
        curves: ``{label: {"deletion" | "insertion": (n, steps + 1)}}`` where computed.
        attributions: ``{label: maps shaped like xs}``.
    """

    def __init__(self, metric_names):
        self.metric_names = metric_names
        self.rows, self.scores, self.curves, self.attributions = [], {}, {}, {}

    def to_markdown(self, digits=3):
        """The table as markdown: one row per method, each metric's mean ± spread (↑ higher is
        better, ↓ lower is better)."""
        head = ["method", "seconds"] + [f"{m}{_ARROWS[METRICS[m]]}" for m in self.metric_names]
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for row in self.rows:
            cells = [row["label"], f"{row['seconds']:.2f}"]
            cells += [f"{mean:.{digits}g} ± {spread:.2g}" for mean, spread in
                      (row["metrics"][m] for m in self.metric_names)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    __str__ = to_markdown


def _score(metric, de, T, X, xs, ys, maps, method, method_options, options, comparison, label):
    explainer = (lambda: de.get_explainer(method, T, X, **method_options))
    if metric in ("deletion", "insertion"):
        auc, curve = getattr(_metrics, metric)(de, T, X, xs, maps, ys=ys, **options)
        comparison.curves.setdefault(label, {})[metric] = curve
        return auc
    if metric == "sensitivity_n":
        return _metrics.sensitivity_n(de, T, X, xs, maps, ys=ys, **options)[0].mean(axis=1)
    if metric in ("complexity", "sparseness"):
        return getattr(_metrics, metric)(maps, **options)
    if metric in ("max_sensitivity", "average_stability"):
        return getattr(_metrics, metric)(explainer(), xs, ys=ys, **options)
    if metric == "random_logit":
        classes = np.asarray(ys)
        if ys is None or classes.shape != (len(xs),) or not np.issubdtype(classes.dtype, np.integer):
            raise ExplainValueError(f"metrics: random_logit needs ys as one class index per sample, shape "
                                    f"({len(xs)},), got {None if ys is None else classes.shape}.")
        return _metrics.random_logit(explainer(), xs, classes, **options)
    if metric == "model_randomization":
        return _metrics.model_randomization(explainer(), xs, ys=ys, **options)[0].mean(axis=1)
    return getattr(_metrics, metric)(de, T, X, xs, maps, ys=ys, **options)


def compare(de, T, X, xs, ys=None, methods=("saliency", "grad*input", "intgrad"), metrics=DEFAULT_METRICS,
            metric_options=None, path=None, samples_shown=4):
    """Explain ``xs`` with every method and score every map with every metric.

    Args:
        de, T, X: the context, target and input tensor (one input).
        xs: the samples ``(n,) + X.shape[1:]``; ys as for ``explain`` (class indices for
            ``random_logit``).
        methods: method names, ``(name, options)`` pairs or ``{name: options}``.
        metrics: names from :data:`METRICS`; ``metric_options`` gives their keywords
            (``{"deletion": {"steps": 20}}``). ``sensitivity_n`` is summarised per sample by its
            mean over n, ``model_randomization`` by its mean correlation over the cascade.
        path: a PNG to write: the first ``samples_shown`` inputs with each method's map, and the
            mean deletion / insertion curves of each method when those metrics ran.
    Returns:
        A :class:`Comparison` (``print`` it for the markdown table).
    """
    metric_options = dict(metric_options or {})
    names = _metric_names(metrics, metric_options)
    entries = _methods(methods)
    comparison = Comparison(names)
    for label, method, options in entries:
        start = time.perf_counter()
        maps = np.asarray(de.explain(method, T, X, xs, ys=ys, **options))
        seconds = time.perf_counter() - start
        comparison.attributions[label] = maps
        scores = comparison.scores.setdefault(label, {})
        for metric in names:
            scores[metric] = np.asarray(_score(metric, de, T, X, xs, ys, maps, method, options,
                                               metric_options.get(metric, {}), comparison, label), np.float64)
        comparison.rows.append({"label": label, "method": method, "seconds": seconds,
                                "metrics": {m: (float(np.nanmean(s)), float(np.nanstd(s))) for m, s in scores.items()}})
    if path is not None:
        _picture(comparison, np.asarray(xs), samples_shown).savefig(path, dpi=90, bbox_inches="tight")
    return comparison


def _picture(comparison, xs, samples_shown):
    """Maps of the first samples (a row each) over the mean deletion / insertion curves."""
    import matplotlib.pyplot as plt

    from .plot import heatmap

    labels = list(comparison.attributions)
    shown = min(samples_shown, len(xs)) if xs.ndim >= 3 else 0
    curves = [m for m in ("deletion", "insertion") if m in comparison.metric_names]
    columns = max(1 + len(labels), 2 * len(curves))
    heights = [1.0] * shown + ([2.0] if curves else [])
    fig = plt.figure(figsize=(1.6 * columns, 1.6 * sum(heights) + 0.3))
    grid = fig.add_gridspec(len(heights), columns, height_ratios=heights)
    for i in range(shown):
        ax = fig.add_subplot(grid[i, 0])
        image = xs[i] if xs.ndim == 3 or xs.shape[-1] in (3, 4) else xs[i].mean(axis=-1)
        ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        if i == 0:
            ax.set_title("input", fontsize=8)
        for j, label in enumerate(labels, start=1):
            ax = fig.add_subplot(grid[i, j])
            heatmap(comparison.attributions[label][i], ax)
            if i == 0:
                ax.set_title(label, fontsize=7)
    width = columns // max(len(curves), 1)
    for k, metric in enumerate(curves):
        ax = fig.add_subplot(grid[shown, k * width:(k + 1) * width])
        for label in labels:
            curve = comparison.curves[label][metric]
            ax.plot(np.linspace(0, 1, curve.shape[1]), curve.mean(axis=0), label=label)
        ax.set_title(f"{metric} (mean over samples)", fontsize=9)
        ax.set_xlabel("fraction of features", fontsize=8)
        ax.set_ylabel("S", fontsize=8)
        if k == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
