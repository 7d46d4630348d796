"""Our metrics against Quantus' (the reference implementation), on the same model, the same
attributions and the same perturbations.

Quantus draws its perturbations inside the metric; where it takes a ``perturb_func`` we give it
one that returns the arrays our metric draws (drawn here with our per-sample generators, in
our metric's order), and where it draws with ``np.random`` itself (FaithfulnessCorrelation's
subsets, RandomLogit's off-classes) that call is replaced for the duration of the call. The
model Quantus evaluates is the graph our context explains, run through the same session
(a Quantus ``TensorFlowModel`` whose ``predict`` runs it), so this file runs in TF1 mode too;
one eager test also gives Quantus a real Keras 3 model, imported into our context.

What is compared, and what is set on Quantus' side to ask for our definition:
* sparseness: ``Sparseness`` (its defaults).
* complexity: ``Complexity`` (its defaults).
* infidelity: ``Infidelity`` with one patch covering the image and a ``perturb_func`` giving
  ``x - I`` (Quantus' default perturbation is a cumulative black-patch replacement instead).
* max_sensitivity: ``MaxSensitivity`` with the noise ``x + U(-r, r)`` fed.
* average_stability: ``AvgSensitivity`` with the noise ``x + U(0, r)`` fed, the numerator norm
  our distance (Euclidean, or L1) and the denominator 1 (Quantus divides by ``||a(x)||``).
* mu_fidelity: ``FaithfulnessCorrelation`` with Spearman's correlation, baseline 0, and our
  subsets (pixel grid).
* random_logit: ``RandomLogit`` without normalisation and with Xplique's SSIM (Gaussian window
  on the 2-D map; Quantus' default is a 7-wide uniform window on the flattened map).
* deletion / insertion curves: ``PixelFlipping`` with our baseline (Quantus' default "black"
  is each input's minimum; insertion: its ``perturb_func`` puts the input's values back into a
  baseline image); its curve lacks the unperturbed score and its AUC is a trapezoid sum.
"""
import numpy as np
import pytest
import tensorflow as tf

quantus = pytest.importorskip("quantus")

from quantus.helpers import utils as quantus_utils  # noqa: E402
from quantus.helpers.model.tf_model import TensorFlowModel  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402

from deepexplain_ng import DeepExplain, metrics  # noqa: E402
from deepexplain_ng.metrics.scoring import streams  # noqa: E402

tf1 = tf.compat.v1

# one channel: Quantus flattens its channel-first a_batch and the explain_func's maps (channel-last
# from a TensorFlow model) alike before comparing them, which only lines up with one channel
SHAPE = (8, 8, 1)
CLASSES = 3
N = 6
RTOL = 1e-5


def _weights(seed=2024):
    rng = np.random.default_rng(seed)
    return dict(k1=rng.normal(scale=0.5, size=(3, 3, 1, 4)), b1=rng.normal(scale=0.1, size=4),
                k2=rng.normal(scale=0.3, size=(3, 3, 4, 6)), b2=rng.normal(scale=0.1, size=6),
                w=rng.normal(scale=0.3, size=(54, CLASSES)), b=rng.normal(scale=0.1, size=CLASSES))


def _logits(x, w):
    """Conv(same, relu) -> conv(valid, relu) -> 2x2 average pool -> dense: logits (n, 3)."""
    f = {k: v.astype(np.float32) for k, v in w.items()}
    h = tf.nn.relu(tf.nn.conv2d(x, f["k1"], 1, "SAME") + f["b1"])
    h = tf.nn.relu(tf.nn.conv2d(h, f["k2"], 1, "VALID") + f["b2"])
    h = tf.nn.avg_pool2d(h, 2, 2, "VALID")
    return tf.matmul(tf.reshape(h, [-1, 54]), f["w"]) + f["b"]


class SessionModel(TensorFlowModel):
    """Quantus' TensorFlow model interface, predicting with our graph through its session: the
    logits, or their softmax when the metric asks for probabilities (``softmax=True``)."""

    def __init__(self, session, x, logits):
        super().__init__(model=None, channel_first=False, softmax=False)
        self.session, self.x, self.logits = session, x, logits
        with session.graph.as_default():
            self.probabilities = tf.nn.softmax(logits)

    def predict(self, x, **kwargs):
        output = self.probabilities if self.softmax else self.logits
        return self.session.run(output, {self.x: np.asarray(x, np.float32)})


@pytest.fixture(scope="module")
def model():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None,) + SHAPE)
        t = _logits(x, _weights())
    session = tf1.Session(graph=graph)
    xs = np.random.default_rng(7).uniform(-1, 1, size=(N,) + SHAPE).astype(np.float32)
    ys = np.array([0, 1, 2, 0, 1, 2])
    yield session, x, t, xs, ys
    session.close()


@pytest.fixture
def session_models(monkeypatch):
    """Quantus wraps Keras and torch models only: let it take our SessionModel as it is."""
    original = quantus_utils.get_wrapped_model

    def wrapped(model, channel_first, softmax, *args, **kwargs):
        if isinstance(model, SessionModel):
            model.softmax = softmax
            return model
        return original(model, channel_first, softmax, *args, **kwargs)

    monkeypatch.setattr(quantus_utils, "get_wrapped_model", wrapped)


def _channel_first(a):
    return np.moveaxis(a, -1, 1)


def _fed(arrays):
    """A Quantus ``perturb_func`` returning ``arrays[k]`` (a channel-first batch, as Quantus
    holds its inputs, flattened as it passes them) on its k-th call, whatever the indices."""
    calls = iter(arrays)

    def perturb(arr, indices, **kwargs):
        out = next(calls)
        return out.reshape(arr.shape).astype(arr.dtype)

    perturb.remaining = calls
    return perturb


def _attributions(seed=11):
    """Distinct, signed values (no ties: orders are the same on both sides)."""
    return np.random.default_rng(seed).normal(size=(N,) + SHAPE)


def test_sparseness_and_complexity_equal_quantus():
    a = _attributions()
    maps = a[..., 0]
    x = np.zeros((N,) + SHAPE, np.float32)
    kwargs = dict(model=None, x_batch=_channel_first(x), y_batch=np.zeros(N, int), channel_first=True)
    gini = np.array(quantus.Sparseness(disable_warnings=True)(a_batch=maps[:, None], **kwargs))
    entropy = np.array(quantus.Complexity(disable_warnings=True)(a_batch=maps[:, None], **kwargs))
    np.testing.assert_allclose(metrics.sparseness(a), gini, rtol=RTOL)
    np.testing.assert_allclose(metrics.sparseness(maps), gini, rtol=RTOL)
    np.testing.assert_allclose(metrics.complexity(a), entropy, rtol=RTOL)


def test_infidelity_equals_quantus_with_the_same_noise(model, session_models):
    session, x, t, xs, ys = model
    a = _attributions(12)
    samples, stdev, seed = 8, 0.1, 3
    noise = np.stack([rng.normal(scale=stdev, size=(samples,) + SHAPE) for rng in streams(seed, N)])
    perturbed = (xs[:, None].astype(np.float64) - noise).astype(np.float32)      # (n, samples, ...)
    with DeepExplain(session=session) as de:
        ours = metrics.infidelity(de, t, x, xs, a, ys=ys, stdev=stdev, samples=samples, seed=seed)
    perturb = _fed([_channel_first(perturbed[:, k]) for k in range(samples)])
    reference = quantus.Infidelity(perturb_patch_sizes=[SHAPE[0]], n_perturb_samples=samples, perturb_func=perturb,
                                   disable_warnings=True)
    theirs = reference(model=SessionModel(session, x, t), x_batch=_channel_first(xs), y_batch=ys,
                       a_batch=_channel_first(a), channel_first=True)
    assert next(perturb.remaining, None) is None
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def _explain_func(explainer):
    def explain(model, inputs, targets, **kwargs):
        return np.asarray(explainer.run(np.asarray(inputs, np.float32), ys=np.asarray(targets)))

    return explain


def test_max_sensitivity_equals_quantus_with_the_same_noise(model, session_models):
    session, x, t, xs, ys = model
    samples, radius, seed = 6, 0.2, 4
    noise = np.stack([rng.uniform(-radius, radius, (samples,) + SHAPE) for rng in streams(seed, N)])
    moved = (xs[:, None] + noise).astype(np.float32)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("grad*input", t, x)
        ours = metrics.max_sensitivity(explainer, xs, ys=ys, radius=radius, samples=samples, seed=seed)
        perturb = _fed([_channel_first(moved[:, k]) for k in range(samples)])
        reference = quantus.MaxSensitivity(nr_samples=samples, perturb_func=perturb, disable_warnings=True)
        theirs = reference(model=SessionModel(session, x, t), x_batch=_channel_first(xs), y_batch=ys,
                           a_batch=_channel_first(explainer.run(xs, ys=ys)), channel_first=True,
                           explain_func=_explain_func(explainer))
    assert next(perturb.remaining, None) is None
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


@pytest.mark.parametrize("distance", ["l2", "l1"])
def test_average_stability_equals_quantus_avg_sensitivity_with_our_distance(model, session_models, distance):
    session, x, t, xs, ys = model
    samples, radius, seed = 5, 0.1, 5
    noise = np.stack([rng.uniform(0, radius, (samples,) + SHAPE) for rng in streams(seed, N)])
    moved = (xs[:, None] + noise).astype(np.float32)
    numerator = ((lambda a: np.sqrt((a ** 2).sum(axis=-1))) if distance == "l2" else (lambda a: np.abs(a).sum(axis=-1)))
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("grad*input", t, x)
        ours = metrics.average_stability(explainer, xs, ys=ys, radius=radius, samples=samples, distance=distance,
                                         seed=seed)
        perturb = _fed([_channel_first(moved[:, k]) for k in range(samples)])
        reference = quantus.AvgSensitivity(nr_samples=samples, perturb_func=perturb, norm_numerator=numerator,
                                           norm_denominator=lambda a: np.ones(len(a)), disable_warnings=True)
        theirs = reference(model=SessionModel(session, x, t), x_batch=_channel_first(xs), y_batch=ys,
                           a_batch=_channel_first(explainer.run(xs, ys=ys)), channel_first=True,
                           explain_func=_explain_func(explainer))
    assert next(perturb.remaining, None) is None
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_mu_fidelity_equals_quantus_faithfulness_correlation_with_the_same_subsets(model, session_models,
                                                                                    monkeypatch):
    session, x, t, xs, ys = model
    a = _attributions(13)
    samples, keep_above, seed = 40, 0.3, 6
    grid = SHAPE[0]   # one cell per pixel: the subsets are sets of pixels on both sides
    removed = np.stack([rng.random((samples, grid, grid)) <= keep_above for rng in streams(seed, N)])
    with DeepExplain(session=session) as de:
        ours = metrics.mu_fidelity(de, t, x, xs, a, ys=ys, grid_size=grid, subset_percent=keep_above,
                                   samples=samples, seed=seed)
    # FaithfulnessCorrelation draws each subset with np.random.choice: give it ours, one sample
    # per batch (its subsets of a batch must be the same size)
    subsets = iter([np.flatnonzero(removed[i, k]) for i in range(N) for k in range(samples)])
    monkeypatch.setattr(np.random, "choice", lambda *args, **kwargs: next(subsets))
    reference = quantus.FaithfulnessCorrelation(nr_runs=samples, subset_size=16,  # the size is ours, not this
                                                similarity_func=quantus.correlation_spearman,
                                                perturb_baseline=0.0, return_aggregate=False, disable_warnings=True)
    theirs = reference(model=SessionModel(session, x, t), x_batch=_channel_first(xs), y_batch=ys,
                       a_batch=_channel_first(a), channel_first=True, batch_size=1)
    assert next(subsets, None) is None
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def _xplique_ssim(a, b, batched=True, **kwargs):
    """Xplique's SSIM (our random_logit's) on Quantus' flattened maps: Gaussian window 11
    (at most the map's size), sigma 1.5, population covariance, the pair's data range."""
    scores = []
    for aa, bb in zip(a, b):
        aa, bb = aa.reshape(SHAPE[:2]), bb.reshape(SHAPE[:2])
        low, high = min(aa.min(), bb.min()), max(aa.max(), bb.max())
        window = min(11, *SHAPE[:2])
        window -= 1 - window % 2
        scores.append(1.0 if high == low else structural_similarity(
            aa, bb, win_size=window, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=high - low))
    return scores


def test_random_logit_equals_quantus_with_the_same_off_classes(model, session_models, monkeypatch):
    session, x, t, xs, ys = model
    seed = 8
    drawn = [int(rng.integers(0, CLASSES - 1)) for rng in streams(seed, N)]
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("saliency", t, x)
        ours = metrics.random_logit(explainer, xs, ys, seed=seed)
        # RandomLogit draws the off-class indices with np.random.randint: give it ours
        monkeypatch.setattr(np.random, "randint", lambda *args, **kwargs: np.array(drawn))
        reference = quantus.RandomLogit(num_classes=CLASSES, similarity_func=_xplique_ssim, normalise=False,
                                        disable_warnings=True)
        theirs = reference(model=SessionModel(session, x, t), x_batch=_channel_first(xs), y_batch=ys,
                           a_batch=_channel_first(explainer.run(xs, ys=ys)), channel_first=True,
                           explain_func=_explain_func(explainer))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_deletion_and_insertion_curves_equal_quantus_pixel_flipping(model, session_models, monkeypatch):
    session, x, t, xs, ys = model
    reference_model = SessionModel(session, x, t)
    a = _attributions(14)
    features = SHAPE[0] * SHAPE[1]
    baseline = 0.25
    with DeepExplain(session=session) as de:
        # PixelFlipping scores probabilities by default (softmax=True): ours scores T, so T = softmax
        auc, curve = metrics.deletion(de, reference_model.probabilities, x, xs, a, ys=ys, steps=features,
                                      baseline=baseline)
        auc_in, curve_in = metrics.insertion(de, t, x, xs, a, ys=ys, steps=features, baseline=baseline)
    given = dict(model=reference_model, x_batch=_channel_first(xs), y_batch=ys, a_batch=_channel_first(a),
                 channel_first=True)
    deleted = np.array(quantus.PixelFlipping(perturb_baseline=baseline, disable_warnings=True)(**given))
    # PixelFlipping's curve starts after the first feature: ours also has S(x) first
    np.testing.assert_allclose(curve[:, 1:], deleted, rtol=RTOL, atol=RTOL * np.abs(deleted).max())
    # its AUC is the trapezoid sum of that curve; ours the trapezoid mean of the whole curve
    # (Quantus 0.6.0 calls np.trapz, which numpy 2.4 removed: give it np.trapezoid)
    monkeypatch.setattr(np, "trapz", getattr(np, "trapz", np.trapezoid), raising=False)
    quantus_auc = np.array(quantus.PixelFlipping(perturb_baseline=baseline, return_auc_per_sample=True,
                                                 disable_warnings=True)(**given))
    np.testing.assert_allclose(auc * features, quantus_auc + (curve[:, 0] + curve[:, 1]) / 2, rtol=RTOL)

    # insertion: the same flipping from a baseline image, putting the input's values back (logits)
    original = _channel_first(xs).reshape(N, -1)

    def put_back(arr, indices, **kwargs):
        out = arr.copy()
        np.put_along_axis(out, indices, np.take_along_axis(original, indices, axis=1), axis=1)
        return out

    inserted = np.array(quantus.PixelFlipping(perturb_func=put_back, disable_warnings=True)(
        **dict(given, x_batch=np.full_like(_channel_first(xs), baseline)), softmax=False))
    np.testing.assert_allclose(curve_in[:, 1:], inserted, rtol=RTOL, atol=RTOL * np.abs(inserted).max())


@pytest.mark.eager
def test_a_keras_model_evaluated_by_quantus_and_imported_into_our_context():
    """Quantus' own Keras path (``TensorFlowModel.predict``, channel-last inputs as Keras takes
    them) on a Keras 3 model with the same weights, which our context imports
    (``de.import_model``): the same numbers."""
    import keras

    w = _weights()
    inputs = keras.Input(SHAPE)
    first = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    second = keras.layers.Conv2D(6, 3, padding="valid", activation="relu")
    dense = keras.layers.Dense(CLASSES)
    outputs = dense(keras.layers.Flatten()(keras.layers.AveragePooling2D(2)(second(first(inputs)))))
    model = keras.Model(inputs, outputs)   # functional: Quantus reads model.input
    first.set_weights([w["k1"], w["b1"]])
    second.set_weights([w["k2"], w["b2"]])
    dense.set_weights([w["w"], w["b"]])
    xs = np.random.default_rng(7).uniform(-1, 1, size=(N,) + SHAPE).astype(np.float32)
    ys = np.array([0, 1, 2, 0, 1, 2])
    a = _attributions(15)
    samples, stdev, seed, step = 4, 0.1, 9, 8
    noise = np.stack([rng.normal(scale=stdev, size=(samples,) + SHAPE) for rng in streams(seed, N)])
    perturbed = (xs[:, None].astype(np.float64) - noise).astype(np.float32)
    with DeepExplain(session=tf1.Session(graph=tf.Graph())) as de:
        x, t = de.import_model(model)
        infidelity = metrics.infidelity(de, t, x, xs, a, ys=ys, stdev=stdev, samples=samples, seed=seed)
        _, curve = metrics.deletion(de, t, x, xs, a, ys=ys, steps=step, baseline=0.0)
    perturb = _fed([_channel_first(perturbed[:, k]) for k in range(samples)])
    theirs = quantus.Infidelity(perturb_patch_sizes=[SHAPE[0]], n_perturb_samples=samples, perturb_func=perturb,
                                disable_warnings=True)(model=model, x_batch=xs, y_batch=ys,
                                                       a_batch=_channel_first(a), channel_first=False)
    np.testing.assert_allclose(infidelity, theirs, rtol=RTOL)
    deleted = np.array(quantus.PixelFlipping(features_in_step=step, perturb_baseline=0.0, disable_warnings=True)(
        model=model, x_batch=xs, y_batch=ys, a_batch=_channel_first(a), channel_first=False, softmax=False))
    np.testing.assert_allclose(curve[:, 1:], deleted, rtol=RTOL, atol=RTOL * np.abs(deleted).max())
