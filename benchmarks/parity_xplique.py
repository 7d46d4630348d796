"""By-hand parity check of our attribution methods and metrics against Xplique's, on one small
Keras 3 model, with the same attributions and the same random draws on both sides.

Not part of the test suite (it imports xplique, which declares ``tensorflow<=2.20`` and so does
not install beside our pins; see benchmarks/PARITY.md for the venv that runs it):

    /tmp/xplique-venv/bin/python benchmarks/parity_xplique.py

Prints one row per comparison: the max absolute and max relative difference, and whether it is
within 1e-5 (relative to the reference's largest value). Where the two differ by definition, the
row compares what can be compared (e.g. a scale factor taken out) and says so.

How the draws are shared: we draw with our own generators (as our code does), and Xplique's
drawing call is replaced for the duration of its call (its ``tf.random.uniform`` in MuFidelity,
its noise in the gradient statistics, its masks and crops in RISE, its off-class draw in
RandomLogitMetric, its neighbour noise in AverageStability), with ``tf.function``s run eagerly.
LIME and KernelSHAP get our coalitions through Xplique's ``pertub_func``; Sobol and HSIC need no
draw (both sides use the same deterministic Sobol-sequence masks).
"""
import contextlib
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")

import keras  # noqa: E402
from tensorflow.python.eager import context as eager_context  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import xplique  # noqa: E402
from xplique import attributions as xa  # noqa: E402
from xplique import metrics as xm  # noqa: E402
from xplique.attributions.global_sensitivity_analysis.replicated_designs import ScipySobolSequenceRS  # noqa: E402
from xplique.attributions.gradient_statistics.gradient_statistic import GradientStatistic  # noqa: E402
from sklearn import linear_model  # noqa: E402

from deepexplain_ng import DeepExplain, SoftmaxTargetWarning, metrics  # noqa: E402
from deepexplain_ng.methods.sensitivity import cubic_matrix  # noqa: E402
from deepexplain_ng.metrics.scoring import streams  # noqa: E402

tf1 = tf.compat.v1
tf.config.run_functions_eagerly(True)   # so that the replaced draws are called every time
# Average Drop/Increase/Gain score probabilities, which our context warns about as for attributions
warnings.filterwarnings("ignore", category=SoftmaxTargetWarning)

SHAPE = (12, 12, 3)
CLASSES = 4
N = 5
TOL = 1e-5
ROWS = []


def model_and_data(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPE)
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(8, 3, padding="valid", activation="relu", name="conv2")(h)
    h = keras.layers.AveragePooling2D(2, name="pool")(h)
    outputs = keras.layers.Dense(CLASSES, name="logits")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0, 1, (N,) + SHAPE).astype(np.float32)
    classes = np.arange(N) % CLASSES
    return model, xs, classes, np.eye(CLASSES, dtype=np.float32)[classes]


def report(name, ours, theirs, note=""):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        ROWS.append((name, np.nan, np.nan, "SHAPE", f"ours {ours.shape} vs xplique {theirs.shape}. {note}"))
        return
    diff = np.abs(ours - theirs)
    scale = np.abs(theirs).max()
    rel = diff.max() / scale if scale > 0 else diff.max()
    ROWS.append((name, diff.max(), rel, "ok" if rel <= TOL else "DIFF", note))


def xq(fn):
    """Run an Xplique call eagerly (our DeepExplain context has its graph as the default)."""
    with eager_context.eager_mode():
        return fn()


@contextlib.contextmanager
def replaced(owner, name, value):
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def attributions(de, x, t, imported, model, xs, onehot):
    ours = lambda method, **kw: np.asarray(de.explain(method, t, x, xs, ys=onehot, **kw))  # noqa: E731

    report("Saliency (reducer=None)", ours("saliency"), xq(lambda: xa.Saliency(model, reducer=None).explain(xs, onehot)))
    report("Saliency (Xplique default: max over channels)", ours("saliency").max(-1, keepdims=True),
           xq(lambda: xa.Saliency(model).explain(xs, onehot)), "ours per channel; max taken here")
    report("GradientInput (reducer=None)", ours("grad*input"), xq(lambda: xa.GradientInput(model, reducer=None).explain(xs, onehot)))
    report("IntegratedGradients (trapezoid, 50 points)", ours("intgrad", steps=50, rule="riemann_trapezoid"),
           xq(lambda: xa.IntegratedGradients(model, reducer=None, steps=50).explain(xs, onehot)),
           "ours: rule='riemann_trapezoid' (our default is riemann_right, 100 steps)")

    # noise tunnels: the same standard normal draws times the same absolute sigma
    samples, sigma, seed = 16, 0.2, 3

    def tunnel(cls, method, **kw):
        z = np.random.default_rng(seed).standard_normal((N * samples,) + SHAPE, dtype=np.float32)
        mine = ours(method, samples=samples, stdev=sigma, seed=seed, **kw)

        def perturb(inputs, nb, noise):
            repeated = np.repeat(np.asarray(inputs), nb, axis=0)
            return tf.constant(repeated + (z * np.float32(sigma))[:len(repeated)])

        with replaced(GradientStatistic, "_perturb_samples", staticmethod(perturb)):
            theirs = xq(lambda: cls(model, reducer=None, nb_samples=samples, noise=sigma,
                                    batch_size=N * samples).explain(xs, onehot))
        return mine, np.asarray(theirs)

    mine, theirs = tunnel(xa.SquareGrad, "smoothgrad_sq")
    report("SquareGrad vs smoothgrad_sq", mine, theirs)
    mine, theirs = tunnel(xa.SmoothGrad, "smoothgrad")
    report("SmoothGrad vs smoothgrad (base saliency)", mine, theirs,
           "Xplique averages signed gradients; ours the base method's maps (|grad|)")
    mine_gi, _ = tunnel(xa.SmoothGrad, "smoothgrad", base="grad*input")
    mine, theirs = tunnel(xa.VarGrad, "vargrad")
    report("VarGrad vs vargrad (base saliency)", mine, theirs,
           "Xplique: unbiased variance (n/(n-1)) of signed gradients; ours: biased variance of |grad|")
    report("VarGrad vs vargrad * n/(n-1)", mine * samples / (samples - 1), theirs,
           "bias factor taken out; the rest is Var(|g|) vs Var(g)")

    # Grad-CAM: the same layer (Xplique takes the last layer with filters)
    conv2 = imported.layer("conv2")
    default_layer = de.get_explainer("gradcam", t, x).layer
    cam = xq(lambda: xa.GradCAM(model))
    report("GradCAM (conv2, Xplique: bicubic upsampling)", ours("gradcam", layer=conv2),
           np.asarray(xq(lambda: cam.explain(xs, onehot)))[..., 0],
           "ours upsamples bilinearly")
    def layer_resolution():
        feature_maps, gradients = cam._gradient(tf.constant(xs), tf.constant(onehot))
        return xa.GradCAM._apply_weights(xa.GradCAM._compute_weights(gradients, feature_maps), feature_maps).numpy()

    low = xq(layer_resolution)
    report("GradCAM at the layer's resolution (conv2)", ours("gradcam", layer=conv2, upsample=False), low)
    ROWS.append(("GradCAM default layer", np.nan, np.nan, "info",
                 f"ours: '{default_layer.name}' {default_layer.shape}; Xplique: '{cam.conv_layer.name}'"))

    # Occlusion: 3x3 patches, stride 3 (Xplique's defaults)
    theirs = np.asarray(xq(lambda: xa.Occlusion(model, patch_size=3, patch_stride=3).explain(xs, onehot)))
    mine = ours("occlusion", window_shape=(3, 3, SHAPE[2]), step=(3, 3, SHAPE[2]))
    report("Occlusion 3x3 stride 3 (ours x window size 9C)", (mine * 9 * SHAPE[2])[..., :1], theirs,
           "ours divides each window's delta by its size (DeepExplain); Xplique sums deltas")

    # RISE: the same binary cells and crop offsets
    samples, grid, p, seed = 300, 4, 0.5, 5
    rng = np.random.default_rng(seed)
    cells = rng.random((samples, grid, grid)) < p
    up = int(SHAPE[0] * (1 + 1 / grid)), int(SHAPE[1] * (1 + 1 / grid))
    offsets = np.stack([rng.integers(0, up[0] - SHAPE[0] + 1, samples), rng.integers(0, up[1] - SHAPE[1] + 1, samples)],
                       axis=1)
    mine = ours("rise", samples=samples, grid_size=grid, preservation_probability=p, seed=seed)

    def get_masks(input_shape, nb_samples, grid_size, preservation_probability):
        return tf.constant(cells[..., None])

    def crop(value, size, seed=None, name=None):
        value = np.asarray(value)
        return tf.constant(np.stack([value[k, i:i + size[1], j:j + size[2]] for k, (i, j) in enumerate(offsets)]))

    with replaced(xa.Rise, "_get_masks", staticmethod(get_masks)), replaced(tf.image, "random_crop", crop):
        theirs = np.asarray(xq(lambda: xa.Rise(model, nb_samples=samples, grid_size=grid, preservation_probability=p,
                                               batch_size=samples).explain(xs, onehot)))[..., 0]
    report("Rise (same cells and per-mask crops)", mine, theirs,
           "Xplique crops each batch of masks at one offset, anew per input; here per mask, as ours")
    return ours("grad*input"), mine_gi


def tf_bicubic_matrix(size, grid):
    """``(size, grid)`` matrix of ``tf.image.resize(method="bicubic")`` (TF's ResizeBicubic with
    half-pixel centres): Keys' kernel with a = -0.5, its coefficients tabulated at 1/1024 of a
    pixel, the taps outside the grid dropped and the others renormalised to sum to 1."""
    a = -0.5
    source = (np.arange(size) + 0.5) * grid / size - 0.5
    start = np.floor(source).astype(int)
    source = start + np.rint((source - start) * 1024) / 1024
    taps = start[:, None] + np.arange(-1, 3)
    d = np.abs(taps - source[:, None])
    near, far = ((a + 2) * d - (a + 3)) * d * d + 1, ((d - 5) * d + 8) * d * a - 4 * a
    weights = np.where(d <= 1, near, np.where(d < 2, far, 0))
    weights = np.where((taps >= 0) & (taps < grid), weights, 0)
    weights /= weights.sum(axis=1, keepdims=True)
    matrix = np.zeros((size, grid))
    np.add.at(matrix, (np.repeat(np.arange(size), 4), np.clip(taps, 0, grid - 1).ravel()), weights.ravel())
    return matrix


def model_agnostic(de, x, t, model, xs, onehot):
    """Issue 10's model-agnostic methods: feature groups (occlusion / feature ablation, LIME,
    KernelSHAP) on a 3x3-pixel grid of 16 groups given to both sides (Xplique's
    ``map_to_interpret_space``, our ``feature_mask``), baseline 0 on both sides (Xplique's
    ``ref_value`` is grey 0.5 for RGB by default); grid sensitivity (Sobol, HSIC) on the same
    8x8 masks. Our group methods spread a group's value over its cells (here 9 pixels x 3
    channels), Xplique gives every pixel of the group the whole value: ours are summed over
    channels and multiplied by the pixels per group before comparing."""
    ours = lambda method, **kw: np.asarray(de.explain(method, t, x, xs, ys=onehot, **kw))  # noqa: E731
    cell = 3
    per_side = SHAPE[0] // cell
    labels = ((np.arange(SHAPE[0])[:, None] // cell) * per_side + np.arange(SHAPE[1])[None, :] // cell).astype(np.int32)
    count = per_side * per_side
    mapping = lambda inp: tf.constant(labels)  # noqa: E731
    zeros = np.zeros(SHAPE[2], np.float32)

    def per_group(maps):
        return maps.sum(-1, keepdims=True) * cell * cell

    # occlusion with a feature mask = feature ablation: Xplique's non-overlapping patches are our groups
    theirs = np.asarray(xq(lambda: xa.Occlusion(model, patch_size=cell, patch_stride=cell).explain(xs, onehot)))
    report("occlusion(feature_mask=3x3 grid) vs Occlusion 3x3/3", per_group(ours("occlusion", feature_mask=labels)),
           theirs, "ours spread over a group's 27 cells: summed over channels x 9 pixels")
    report("feature_ablation(3x3 grid) vs Occlusion 3x3/3", per_group(ours("feature_ablation", feature_mask=labels)),
           theirs, "same")

    def fed(draws):
        queue = iter(draws)
        return lambda num_features, nb_samples: tf.constant(next(queue).astype(np.int32))  # noqa: E731

    # LIME: our coalitions (each group present with probability 1/2, as Xplique's default draw),
    # our kernel on Xplique's side, and an unregularised least squares with intercept
    samples, seed, width = 100, 11, 1.0
    mine = ours("lime", feature_mask=labels, samples=samples, seed=seed, kernel_width=width)
    draws = [rng.random((samples, count)) < 0.5 for rng in streams(seed, N)]

    def our_kernel(inp, interpretable, perturbed):
        z = np.asarray(interpretable, np.float64)
        distance = 1 - np.sqrt(z.sum(1) / z.shape[1])  # cosine distance of the indicators to all-present
        return tf.constant(np.exp(-distance ** 2 / width ** 2), tf.float32)

    def lime(**kw):
        kw = dict(dict(interpretable_model=linear_model.LinearRegression(), similarity_kernel=our_kernel), **kw)
        return np.asarray(xq(lambda: xa.Lime(model, pertub_func=fed(draws), map_to_interpret_space=mapping,
                                             ref_value=zeros, nb_samples=samples, batch_size=samples,
                                             **kw).explain(xs, onehot)))

    report("Lime (same coalitions, our kernel, no ridge)", per_group(mine), lime(),
           "Xplique given LinearRegression() and exp(-d^2/w^2), d = cosine distance of the indicators to 1")
    report("Lime, Xplique distance_mode='cosine', width 1", per_group(mine),
           lime(similarity_kernel=None, distance_mode="cosine", kernel_width=width),
           "Xplique's d: cosine distance of the perturbed IMAGE to the image, not of the indicators")
    report("Lime, Xplique defaults (Ridge(2), euclidean, 45)", per_group(mine),
           lime(interpretable_model=linear_model.Ridge(alpha=2), similarity_kernel=None),
           "Xplique: Ridge(alpha=2), exp(-||x - x'||^2 / 45^2) in input space (weights ~0.97 here); our grid, "
           "coalitions, baseline 0 kept")

    # KernelSHAP: our coalitions (drawn in complementary pairs, sizes from the Shapley kernel's
    # distribution, as Xplique's draw), weight 1 each on both sides
    samples, seed = 200, 12
    explainer = de.get_explainer("kernel_shap", t, x, samples=samples, seed=seed, feature_mask=labels)
    draws = [explainer._coalitions(rng, count)[0] for rng in streams(seed, N)]
    mine = per_group(ours("kernel_shap", feature_mask=labels, samples=samples, seed=seed))
    # Lundberg & Lee's constraints (intercept = S(baseline), sum = S(x) - S(baseline)) as two
    # coalitions, empty and full, of weight 1e9 for Xplique's unconstrained regression
    ends = np.stack([np.zeros(count, bool), np.ones(count, bool)])
    penalty = lambda inp, z, p: tf.constant(np.where(np.isin(np.asarray(z).sum(1), (0, count)), 1e9, 1.0),  # noqa: E731
                                            tf.float32)

    def kernel_shap(extra=None, kernel=None):
        explainer = xq(lambda: xa.KernelShap(model, map_to_interpret_space=mapping, nb_samples=samples,
                                             ref_value=zeros, batch_size=samples + 2))
        explainer.pertub_func = fed([np.r_[d, extra] if extra is not None else d for d in draws])
        if kernel is not None:
            explainer.similarity_kernel = kernel
        return np.asarray(xq(lambda: explainer.explain(xs, onehot)))

    theirs = kernel_shap()
    logits = lambda inputs: np.asarray(xq(lambda: model(inputs)))[np.arange(N), onehot.argmax(1)]  # noqa: E731
    scores = logits(xs) - logits(np.zeros_like(xs))
    gap = np.abs(theirs[:, ::cell, ::cell, 0].reshape(N, -1).sum(1) - scores).max()
    report("KernelShap (same coalitions)", mine, theirs,
           f"Xplique: ordinary least squares with a free intercept; ours: efficiency imposed (its sum misses "
           f"S(x) - S(0) by up to {gap:.3f})")
    report("KernelShap + empty/full coalitions of weight 1e9", mine, kernel_shap(ends, penalty),
           "the constraints as heavy coalitions on Xplique's side")

    # Sobol: the same replicated design (Xplique's ScipySobolSequenceRS = ours: unscrambled, first
    # point kept); Xplique resizes the indices with tf.image.resize (bicubic), ours with OpenCV's cubic
    grid, samples = 8, 32
    resize = cubic_matrix(SHAPE[0], grid), cubic_matrix(SHAPE[1], grid)

    tf_resize = tf_bicubic_matrix(SHAPE[0], grid), tf_bicubic_matrix(SHAPE[1], grid)

    def gsa(cls, **kw):
        """Xplique's maps, and its grid indices resized by our matrix and by TF's as a matrix."""
        explainer = xq(lambda: cls(model, grid_size=grid, **kw))
        indices, estimate = [], explainer.estimator
        explainer.estimator = lambda masks, outputs, nb: indices.append(estimate(masks, outputs, nb)) or indices[-1]
        maps = np.asarray(xq(lambda: explainer.explain(xs, onehot)))[..., 0]
        indices = [np.asarray(i, np.float64)[..., 0] for i in indices]
        return (explainer, maps, np.stack([resize[0] @ i @ resize[1].T for i in indices]),
                np.stack([tf_resize[0] @ i @ tf_resize[1].T for i in indices]))

    mine = ours("sobol", grid_size=grid, samples=samples)
    sobol, theirs, grid_level, as_tf = gsa(xa.SobolAttributionMethod, nb_design=samples, sampler=ScipySobolSequenceRS())
    design = de.get_explainer("sobol", t, x, grid_size=grid, samples=samples)
    design.run(xs[:1], ys=onehot[:1])
    report("Sobol masks (ScipySobolSequenceRS)", design.design, np.asarray(sobol.masks).reshape(len(design.design), -1))
    report("Sobol indices, resized by OpenCV's cubic", mine, grid_level,
           "Xplique's Jansen indices (8x8) given our resize; same masks (sampler=ScipySobolSequenceRS)")
    report("Sobol (Xplique: tf.image.resize bicubic)", mine, theirs,
           "TF's bicubic: Keys a=-0.5, outside taps dropped; OpenCV's (ours): a=-0.75, edges replicated")
    report("  Xplique's indices by TF's bicubic as a matrix", as_tf, theirs,
           "check of the row above: a=-0.5, weights renormalised inside the grid, 1/1024 table")
    _, _, default_design, _ = gsa(xa.SobolAttributionMethod, nb_design=samples)
    report("Sobol, Xplique's default sampler (TFSobolSequenceRS)", mine, default_design,
           "tf.math.sobol_sample skips the all-zero first point; ours keeps it (as Scipy's); resize ours")

    # HSIC: Xplique's default design (tf.math.sobol_sample rounded) is ours
    samples = 500
    mine = ours("hsic", grid_size=grid, samples=samples)
    hsic, theirs, grid_level, as_tf = gsa(xa.HsicAttributionMethod, nb_design=samples)
    design = de.get_explainer("hsic", t, x, grid_size=grid, samples=samples)
    design.run(xs[:1], ys=onehot[:1])
    report("Hsic masks (TFSobolSequence(binary=True))", design.design,
           np.asarray(hsic.masks).reshape(len(design.design), -1))
    report("Hsic indices, resized by OpenCV's cubic", mine, grid_level,
           "Xplique's binary-kernel HSIC (8x8) given our resize")
    report("Hsic (Xplique: tf.image.resize bicubic)", mine, theirs, "as Sobol: TF's bicubic (a=-0.5) vs OpenCV's (a=-0.75)")
    report("  Xplique's indices by TF's bicubic as a matrix", as_tf, theirs, "check of the row above")


def fidelity(de, x, t, model, xs, onehot, maps):
    classes = onehot.argmax(1)
    for mode, ours_fn, cls in (("Deletion", metrics.deletion, xm.Deletion), ("Insertion", metrics.insertion, xm.Insertion)):
        auc, curve = ours_fn(de, t, x, xs, maps, ys=classes)
        metric = xq(lambda: cls(model, xs, onehot))
        report(f"{mode} AUC (defaults: 10 steps, baseline 0)", auc.mean(), xq(lambda: metric.evaluate(maps)),
               "Xplique reports the AUC of the batch-mean curve = mean of ours")
        report(f"{mode} curve (batch mean)", curve.mean(0), list(xq(lambda: metric.detailed_evaluate(maps)).values()))

    # MuFidelity, fed our grid cells: one input per Xplique batch, the uniforms of that sample;
    # grid 4 divides the 12-pixel side, Xplique's default grid 9 does not (nearest upsampling)
    for grid in (4, 9):
        p, samples, seed = 0.2, 60, 7
        mine = metrics.mu_fidelity(de, t, x, xs, maps, ys=classes, grid_size=grid, subset_percent=p,
                                   samples=samples, seed=seed)
        uniforms = [rng.random((samples, grid, grid)) for rng in streams(seed, N)]
        theirs = []
        for i in range(N):
            fake = lambda shape, minval=0, maxval=1, dtype=tf.float32, **kw: tf.constant(  # noqa: E731
                uniforms[i].reshape(shape).astype(np.float32))
            with replaced(tf.random, "uniform", fake):
                theirs.append(xq(lambda: xm.MuFidelity(model, xs[i:i + 1], onehot[i:i + 1], grid_size=grid,
                                                       subset_percent=p, nb_samples=samples,
                                                       batch_size=samples).evaluate(maps[i:i + 1])))
        report(f"MuFidelity grid {grid} (same cells)", mine, theirs,
               f"correlations {np.round(mine, 3).tolist()}; Xplique uses one set of masks for a whole batch")

    probabilities = tf.nn.softmax(t)
    for name, ours_fn, cls in (("AverageDrop", metrics.average_drop, xm.AverageDropMetric),
                               ("AverageIncrease", metrics.average_increase, xm.AverageIncreaseMetric),
                               ("AverageGain", metrics.average_gain, xm.AverageGainMetric)):
        mine = ours_fn(de, probabilities, x, xs, maps, ys=classes)
        report(f"{name} (softmax)", mine, xq(lambda: cls(model, xs, onehot, activation="softmax").detailed_evaluate(
            tf.constant(xs), tf.constant(onehot), tf.constant(maps, tf.float32))))

    report("Complexity", metrics.complexity(maps), xq(lambda: xm.Complexity().detailed_evaluate(maps)))
    report("Sparseness", metrics.sparseness(maps), xq(lambda: xm.Sparseness().detailed_evaluate(maps)))
    small = maps * 1e-9
    report("Complexity of the maps x 1e-9", metrics.complexity(small), xq(lambda: xm.Complexity().detailed_evaluate(small)),
           f"Xplique's is scale-dependent (eps 1e-8 beside the sum), ours is not: ours {metrics.complexity(small).mean():.3f} "
           f"vs {metrics.complexity(maps).mean():.3f} unscaled")


def robustness(de, x, t, model, xs, onehot):
    classes = onehot.argmax(1)
    explainer = de.get_explainer("grad*input", t, x)
    explain = lambda inputs, targets: explainer.run(np.asarray(inputs, np.float32), ys=np.asarray(targets))  # noqa: E731
    samples, radius, seed = 8, 0.05, 9
    noise = [rng.uniform(0, radius, (samples,) + SHAPE) for rng in streams(seed, N)]
    for distance, xdist, note in (("l2", "l2", ""), ("l1", "l1", "")):
        mine = metrics.average_stability(explainer, xs, ys=classes, radius=radius, samples=samples, distance=distance,
                                         seed=seed)
        theirs = []
        for i in range(N):
            metric = xq(lambda: xm.AverageStability(model, xs[i:i + 1], onehot[i:i + 1], radius=radius,
                                                    nb_samples=samples, distance=xdist))
            metric.noisy_masks = xq(lambda: tf.constant(noise[i], tf.float32))
            theirs.append(xq(lambda: metric.evaluate(explain)))
        report(f"AverageStability {distance} (xplique distance {xdist if isinstance(xdist, str) else 'callable'})",
               mine, theirs, note)

    # RandomLogitMetric with our off-classes; our SSIM (skimage) vs Xplique's (tf.image.ssim)
    seed = 10
    saliency = de.get_explainer("saliency", t, x)
    drawn = np.array([rng.integers(0, CLASSES - 1) for rng in streams(seed, N)])
    other = np.where(drawn >= classes, drawn + 1, drawn)
    mine = metrics.random_logit(saliency, xs, classes, seed=seed)

    class Wrapped:
        def explain(self, inputs, targets):
            return saliency.run(np.asarray(inputs, np.float32), ys=np.asarray(targets))

    metric = xq(lambda: xm.RandomLogitMetric(model, xs, onehot, batch_size=N))
    context = lambda inputs, targets, explainer: (inputs, tf.one_hot(other, CLASSES), explainer)  # noqa: E731
    metric._get_perturbed_context = context
    scores = []
    original = metric._compute_similarity
    metric._compute_similarity = lambda a, b: scores.append(original(a, b)) or scores[-1]
    xq(lambda: metric.evaluate(Wrapped()))
    report("RandomLogit (same off-classes)", mine, np.asarray(scores[0]),
           f"skimage SSIM vs tf.image.ssim; scores {np.round(mine, 3).tolist()}")


def main():
    model, xs, classes, onehot = model_and_data()
    with DeepExplain(session=tf1.Session(graph=tf.Graph())) as de:
        imported = de.import_model(model)
        x, t = imported
        maps, _ = attributions(de, x, t, imported, model, xs, onehot)
        model_agnostic(de, x, t, model, xs, onehot)
        fidelity(de, x, t, model, xs, onehot, maps)
        robustness(de, x, t, model, xs, onehot)
    print(f"xplique {xplique.__version__}, tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"numpy {np.__version__}, python {sys.version.split()[0]}")
    width = max(len(r[0]) for r in ROWS)
    print(f"{'comparison':<{width}}  {'max abs':>10}  {'max rel':>10}  result  note")
    for name, absolute, relative, verdict, note in ROWS:
        print(f"{name:<{width}}  {absolute:10.2e}  {relative:10.2e}  {verdict:<6}  {note}")


if __name__ == "__main__":
    main()
