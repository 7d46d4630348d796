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
from xplique.attributions.gradient_statistics.gradient_statistic import GradientStatistic  # noqa: E402

from deepexplain_ng import DeepExplain, SoftmaxTargetWarning, metrics  # noqa: E402
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
