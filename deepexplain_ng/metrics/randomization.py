"""Model randomisation sanity check (Adebayo et al., NeurIPS 2018): a map that stays the same
when the model's weights are destroyed explains the input, not the model."""
import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr

from ..context import DeepExplain
from ..errors import ExplainValueError
from ..graph_copies import frozen_graph_def, weight_layers, weight_values, with_weights
from ..methods.base import check_seed
from .robustness import _inputs

tf1 = tf.compat.v1
_MODES = ("gaussian", "permute")


def _randomized(value, rng, mode):
    """Gaussian: fresh weights of the original's mean and standard deviation (a re-initialisation
    at the trained scale, so activations keep their magnitude), kept positive where all the
    originals are (a variance, a scale); permute: the original values in a random order (Quantus
    shuffles TF weights along their first axis; all cells here)."""
    if mode == "gaussian":
        drawn = rng.normal(value.mean(), value.std() or 1.0, value.shape)
        return np.abs(drawn) if value.min() > 0 else drawn
    return rng.permutation(value.ravel()).reshape(value.shape)


def _rank_correlation(a, b, absolute):
    a, b = a.ravel(), b.ravel()
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b)[0])


def model_randomization(explainer, xs, ys=None, cascading=True, mode="gaussian", absolute=False, layers=None,
                        seed=None):
    """Cascading (or independent) model parameter randomisation (Adebayo et al. 2018).

    The weights between X and T are randomised layer by layer from the top layer down
    (``cascading=True``: layers 1..k at step k) or one layer at a time (``cascading=False``),
    each time in a copy of the model in a graph of its own (the weights of a frozen model are
    constants; the copy rewrites them, the user's graph and session are never touched). Each copy
    is explained with the same method and options, and every map is compared with the original
    map of the same sample by Spearman rank correlation.

    Args:
        explainer: a compiled explainer (``de.get_explainer(method, T, X, **options)``), one input.
        xs: the samples ``(n,) + X.shape[1:]``; ys as for ``explain`` (classes, weights or None).
        mode: ``"gaussian"`` (fresh weights of each tensor's mean and spread) or ``"permute"``
            (the trained values shuffled).
        absolute: rank ``|map|`` instead of the signed map (Adebayo et al. show both).
        layers: how many layers to randomise from the top (default all).
        seed: None or an int; each layer's draws depend only on it and the layer's position.
    Returns:
        ``(correlation (n, L), layer names (L,))``: row i, column k is the correlation of sample
        i's map after step k with its original map (near 0 for a method that depends on the
        model, near 1 for one that does not).
    """
    xs = _inputs(explainer, xs)
    seed = check_seed(seed)
    if mode not in _MODES:
        raise ExplainValueError(f"mode: expected one of {list(_MODES)}, got {mode!r}.")
    graph_def = frozen_graph_def(explainer.session, explainer.target)
    found = weight_layers(graph_def, explainer.target.name, [x.name for x in explainer.inputs])
    if not found:
        raise ExplainValueError(f"model_randomization: no weights (float constants or variables feeding a matmul, "
                                f"convolution, bias or batch norm) between X and T '{explainer.target.name}'.")
    if layers is not None:
        if isinstance(layers, bool) or not isinstance(layers, int) or not 0 < layers <= len(found):
            raise ExplainValueError(f"layers: expected an int in 1..{len(found)} (the model's weighted layers), "
                                    f"got {layers!r}.")
        found = found[:layers]
    original = np.asarray(explainer.run(xs, ys=ys), np.float64)
    trained = weight_values(graph_def, [name for _, names in found for name in names])
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(found))]
    drawn = [{name: _randomized(trained[name], rng, mode) for name in names}
             for (_, names), rng in zip(found, rngs)]
    options = {key: value for key, value in explainer.params.items()}
    correlation = np.empty((len(xs), len(found)))
    for step in range(len(found)):
        replaced = {}
        for layer in (range(step + 1) if cascading else [step]):
            replaced.update(drawn[layer])
        maps = _explain_copy(with_weights(graph_def, replaced), explainer, options, xs, ys)
        correlation[:, step] = [_rank_correlation(a, b, absolute) for a, b in zip(original, maps)]
    return correlation, [label for label, _ in found]


def _explain_copy(graph_def, explainer, options, xs, ys):
    graph = tf.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    with tf1.Session(graph=graph) as session, DeepExplain(session=session) as de:
        T = graph.get_tensor_by_name(explainer.target.name)
        X = graph.get_tensor_by_name(explainer.inputs[0].name)
        copy = de.get_explainer(explainer.name, T, X, memory_budget=explainer.memory_budget, progress=False,
                                **options)
        return np.asarray(copy.run(xs, ys=ys), np.float64)
