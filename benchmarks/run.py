"""Benchmark: deepexplain_ng against the floor and against the sequential algorithm.

For every registered method and three workloads, in one process:

* ng: ``explainer.run`` (explainer built beforehand);
* floor: the bare forward (perturbation methods) or forward+backward (gradient methods) of the
  same number of rows through the same graph, rows materialised beforehand, fed in the same
  chunk sizes; for epsilon-LRP and DeepLIFT the backward is TF's plain gradient (DeepLIFT's
  rows: the inputs and the baseline row), so the ratio is the cost of the rules;
* sequential: the same algorithm with one ``session.run`` per step / perturbation over the
  batch, as the original DeepExplain did.

Median of ``--repeats`` runs after a warm-up; threads fixed. Run by hand:

    python benchmarks/run.py            # the table of benchmarks/README.md (several minutes)
    python benchmarks/run.py --quick    # smaller settings, about a minute
    python benchmarks/run.py --metrics  # the metrics against their floors
    python benchmarks/run.py --incremental  # incremental occlusion (VGG 224, ResNet 128) against its floor
    python benchmarks/run.py --groups   # the model-agnostic methods on 224x224x3 images
"""
import argparse
import os
import platform
import resource
import statistics
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from skimage.util import view_as_windows  # noqa: E402

from deepexplain_ng import DeepExplain, groups  # noqa: E402

tf1 = tf.compat.v1


def session_for(graph, threads):
    config = tf1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    return tf1.Session(graph=graph, config=config)


def mlp(threads):
    graph = tf.Graph()
    rng = np.random.default_rng(0)
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 64))
        h = x
        for i, (a, b) in enumerate([(64, 256), (256, 256), (256, 10)]):
            h = tf.matmul(h, rng.normal(scale=a ** -0.5, size=(a, b)).astype(np.float32)) + 0.1
            h = tf.nn.relu(h) if i < 2 else h
    return session_for(graph, threads), x, h


def cnn(threads):
    graph = tf.Graph()
    rng = np.random.default_rng(0)
    w = lambda *s: rng.normal(scale=np.prod(s[:-1]) ** -0.5, size=s).astype(np.float32)  # noqa: E731
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 28, 28, 1))
        h = tf.nn.relu(tf.nn.conv2d(x, w(3, 3, 1, 32), 1, "VALID") + 0.1)
        h = tf.nn.relu(tf.nn.conv2d(h, w(3, 3, 32, 64), 1, "VALID") + 0.1)
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.nn.relu(tf.matmul(tf.reshape(h, (-1, 12 * 12 * 64)), w(12 * 12 * 64, 128)) + 0.1)
        t = tf.matmul(h, w(128, 10))
    return session_for(graph, threads), x, t


def transformer(threads):
    """One encoder block on 16 tokens of width 32: self-attention (softmax of query-key
    products, both from X), LayerNorm, a GELU feed-forward block, mean pooling, 10 logits."""
    graph = tf.Graph()
    rng = np.random.default_rng(0)
    w = lambda *s: rng.normal(scale=s[0] ** -0.5, size=s).astype(np.float32)  # noqa: E731

    def layer_norm(h):
        mean, variance = tf.nn.moments(h, axes=[-1], keepdims=True)
        return (h - mean) * tf.math.rsqrt(variance + 1e-3)
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 16, 32))
        q, k, v = (tf.einsum("btd,de->bte", x, w(32, 32)) for _ in range(3))
        attention = tf.nn.softmax(tf.einsum("bqd,bkd->bqk", q, k) / np.sqrt(32.0))
        h = layer_norm(x + tf.einsum("bqk,bkd->bqd", attention, v))
        h = layer_norm(h + tf.einsum("btf,fd->btd", tf.nn.gelu(tf.einsum("btd,df->btf", h, w(32, 64))), w(64, 32)))
        t = tf.matmul(tf.reduce_mean(h, axis=1), w(32, 10))
    return session_for(graph, threads), x, t


def median_times(functions, repeats):
    """Median run time of each function; they alternate, so drifts of a shared machine hit all."""
    for fn in functions:
        fn()  # warm-up
    times = [[] for _ in functions]
    for _ in range(repeats):
        for fn, record in zip(functions, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


# -- the rows each method evaluates, for the floor and the sequential algorithm ----------------
def perturbation_rows(method, xs, options):
    """All perturbed rows (materialised: fine at benchmark sizes) and the number of runs the
    sequential algorithm makes."""
    n, shape = len(xs), xs.shape[1:]
    flat = xs.reshape(n, -1)
    if method == "occlusion":
        index = np.arange(flat.shape[1]).reshape(shape)
        windows = view_as_windows(index, options["window_shape"]).reshape(-1, int(np.prod(options["window_shape"])))
        rows = np.repeat(flat[:, None], len(windows), axis=1)
        for p, window in enumerate(windows):
            rows[:, p, window] = 0
        return rows.reshape((-1,) + shape), len(windows) + 1
    features = flat.shape[1]
    samples = options["samples"]
    orders = np.argsort(np.random.default_rng(0).random((n, samples, features)), axis=2)
    rank = np.argsort(orders, axis=2)
    j = np.arange(1, features)
    removed = rank[:, :, None, :] < j[None, None, :, None]  # (n, samples, F-1, F)
    rows = np.where(removed, 0, flat[:, None, None, :]).reshape((-1,) + shape)
    return rows, samples * (features - 1) + 2


def floor_fn(session, fetch, x, rows, chunk, extra=None):
    def run():
        for lo in range(0, len(rows), chunk):
            feed = {x: rows[lo:lo + chunk]}
            feed.update(extra(lo, min(len(rows), lo + chunk)) if extra else {})
            session.run(fetch, feed)
    return run


def sequential_fn(method, session, x, t, xs, classes, options, grad, score):
    """None for one-pass methods, which make one run per chunk in any algorithm."""
    n = len(xs)
    if method in ("saliency", "grad*input", "elrp", "deeplift"):
        return None
    if method == "intgrad":
        steps = options["steps"]
        return lambda: [session.run(grad, {x: xs * k / steps}) for k in range(1, steps + 1)]
    if method in ("smoothgrad", "expected_gradients"):  # one gradient run per draw
        return lambda: [session.run(grad, {x: xs * 0.5}) for _ in range(options["samples"])]
    if method == "deeplift_shap":  # one DeepLIFT run (inputs and a baseline row) per background row
        return lambda: [session.run(grad, {x: np.concatenate([xs, b[None]])}) for b in options["baselines"]]
    rows, runs = perturbation_rows(method, xs, options)
    per_run = rows.reshape((n, -1) + xs.shape[1:])

    def run():
        session.run(score, {x: xs})
        for p in range(per_run.shape[1]):
            session.run(score, {x: per_run[:, p]})
    return run


def measure(workload, session, x, t, xs, methods, repeats):
    n = len(xs)
    classes = np.arange(n) % 10
    results = []
    with DeepExplain(session=session) as de:
        with session.graph.as_default():
            plain_grad = tf.gradients(tf.reduce_sum(t[:, 0]), x)[0]
            forward = tf.reduce_sum(t[:, 0])
        for label, method, options in methods:
            explainer = de.get_explainer(method, t, x, **options)
            chunk = explainer.rows_per_run()
            if method in ("occlusion", "shapley_sampling"):
                rows, _ = perturbation_rows(method, xs, options)
                # the inputs, (shapley: the baseline once per sample,) the perturbed rows
                ends = [np.zeros_like(xs)] if method == "shapley_sampling" else []
                floor_rows, fetch = np.concatenate([xs] + ends + [rows]), forward
            elif method == "intgrad":
                floor_rows = np.repeat(xs, options["steps"], axis=0)
                fetch = explainer.gradients
            elif method in ("smoothgrad", "expected_gradients"):
                # the noisy copies / draws: the base gradient of samples rows per input
                floor_rows = np.repeat(xs, options["samples"], axis=0)
                fetch = getattr(explainer, "base", explainer).gradients
            elif method == "deeplift_shap":
                # one copy per background row, and the background: TF's plain gradient of them
                background = options["baselines"]
                floor_rows = np.concatenate([np.repeat(xs, len(background), axis=0), background])
                with session.graph.as_default():
                    fetch = tf.gradients(explainer.score, x)
            elif method in ("elrp", "deeplift"):
                # the floor of a modified chain rule: TF's plain gradient of the same rows
                with session.graph.as_default():
                    plain = tf.gradients(explainer.score, x)
                floor_rows, fetch = xs, plain
            else:
                floor_rows, fetch = xs, explainer.gradients
            weights = np.ones((len(floor_rows), 10), np.float32)
            weights_tensor = getattr(explainer, "base", explainer).weights
            feed_weights = (lambda lo, hi: {weights_tensor: weights[lo:hi]}) if fetch is not forward else None
            if method == "deeplift":  # the inputs and the baseline row, in one run
                floor_rows, chunk = np.concatenate([xs, np.zeros_like(xs[:1])]), len(xs) + 1
                weights = np.ones((len(floor_rows), 10), np.float32)
                feed_weights = (lambda lo, hi: {explainer.weights: weights[lo:hi],
                                                explainer.real_rows: len(xs),
                                                explainer.reference_of_row: np.r_[np.full(len(xs), len(xs)), len(xs)]})
            ng, floor = median_times([lambda: explainer.run(xs, ys=classes),
                                      floor_fn(session, fetch, x, floor_rows, chunk, feed_weights)], repeats)
            loop = sequential_fn(method, session, x, t, xs, classes, options, plain_grad, forward)
            sequential = median_times([loop], max(1, repeats // 3))[0] if loop else float("nan")
            tracemalloc.start()
            explainer.run(xs, ys=classes)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            results.append((workload, method, len(floor_rows), ng, floor, sequential, peak))
            print(f"{workload:<14} {method:<17} {len(floor_rows):>7} {ng * 1e3:>9.1f} {floor * 1e3:>9.1f} "
                  f"{sequential * 1e3:>10.1f} {ng / floor:>8.2f} {sequential / ng:>8.2f} {peak / 2**20:>9.1f}",
                  flush=True)
    return results


def memory_check(threads):
    """Occlusion of one 224x224x3 image with a (1, 1, 3) window: 50,176 perturbed rows, 30 GB
    if materialised; reports the peak of numpy allocations (tracemalloc) and the run time."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 224, 224, 3))
        t = tf.matmul(tf.reduce_mean(x, axis=(1, 2)), np.ones((3, 2), np.float32))
    session = session_for(graph, threads)
    image = np.random.default_rng(0).random((1, 224, 224, 3)).astype(np.float32)
    with DeepExplain(session=session) as de:
        explainer = de.get_explainer("occlusion", t, x, window_shape=(1, 1, 3))
        tracemalloc.start()
        start = time.perf_counter()
        explainer.run(image, ys=[0])
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"\nocclusion 224x224x3, window (1,1,3): 50176 rows in {elapsed:.1f} s, numpy peak "
          f"{peak / 2**20:.0f} MiB (materialised: {50176 * image.nbytes / 2**30:.0f} GiB), "
          f"rows per run {explainer.rows_per_run()}")


def image_cnn(threads):
    """A small CNN on 224x224x3 images (two stride-2 convolutions, global pooling, dense): about
    0.5 ms a row here, the worst case for any per-row overhead."""
    graph = tf.Graph()
    rng = np.random.default_rng(0)
    w = lambda *s: rng.normal(scale=np.prod(s[:-1]) ** -0.5, size=s).astype(np.float32)  # noqa: E731
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 224, 224, 3))
        h = tf.nn.relu(tf.nn.conv2d(x, w(3, 3, 3, 16), 2, "SAME") + 0.1)
        h = tf.nn.relu(tf.nn.conv2d(h, w(3, 3, 16, 32), 2, "SAME") + 0.1)
        t = tf.matmul(tf.reduce_mean(h, axis=(1, 2)), w(32, 10))
    return session_for(graph, threads), x, t


def image_vgg(threads):
    """The VGG-style CNN of ``benchmarks/incremental.py`` on 224x224x3 (two blocks of two 3x3
    convolutions and a max-pool, dense): about 3.6 ms a row here, still far cheaper than a
    ResNet-50."""
    from incremental import vgg

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 224, 224, 3))
        t = vgg(x, np.random.default_rng(0))
    return session_for(graph, threads), x, t


def group_methods(threads, repeats, net="small"):
    """The model-agnostic methods on two 224x224x3 photographs (scikit-image), over SLIC
    superpixels where they take groups. Two floors, each in the method's own chunks: the bare
    forward of as many rows (one pre-built chunk fed again and again), and the floor with the row
    generation included (each chunk's rows made by one ``np.where`` of a precomputed random mask
    between the images and the baseline, then the forward), the issue's definition."""
    from skimage import data
    from skimage.transform import resize

    images = np.stack([resize(im, (224, 224), anti_aliasing=True) for im in (data.astronaut(), data.coffee())])
    xs = images.astype(np.float32)
    session, x, t = (image_vgg if net == "vgg" else image_cnn)(threads)
    slic = {"feature_mask": "slic", "n_segments": 50}
    # the same superpixels computed beforehand, as Captum's users pass them (SLIC: ~60 ms an image)
    given = {"feature_mask": groups.slic_masks(xs, 50, 10.0)}
    methods = [("feature_ablation", "feature_ablation", slic), ("  mask given", "feature_ablation", given),
               ("kernel_shap", "kernel_shap", dict(slic, samples=512, seed=0)),
               ("lime", "lime", dict(slic, samples=512, seed=0)),
               ("feature_permutation", "feature_permutation", dict(slic, seed=0)),
               ("  mask given", "feature_permutation", dict(given, seed=0)),
               ("shapley_sampling", "shapley_sampling", dict(slic, samples=10, seed=0)),
               ("rise", "rise", {"samples": 1000, "seed": 0}), ("sobol", "sobol", {"grid_size": 8, "samples": 32})]
    classes = np.zeros(len(xs), int)
    print(f"\nnetwork: {net}")
    print(f"{'workload':<14} {'method':<19} {'rows':>7} {'ng ms':>9} {'floor ms':>9} {'+rows ms':>9} "
          f"{'ng/floor':>8} {'ng/+rows':>8} {'peak MiB':>9}")
    with DeepExplain(session=session) as de:
        with session.graph.as_default():
            forward = tf.reduce_sum(t[:, 0])
        for label, method, options in methods:
            explainer = de.get_explainer(method, t, x, **options)
            counter = {"rows": 0}
            run = explainer.session.run

            def counting(fetches, feed_dict=None, **kwargs):
                # rows fed as inputs, or built in the graph (one sample index per row)
                for key, value in (feed_dict or {}).items():
                    if key is x or getattr(key, "name", "").endswith("/row_sample:0"):
                        counter["rows"] += len(value)
                return run(fetches, feed_dict, **kwargs)

            explainer.session.run = counting
            explainer.run(xs, ys=classes)  # warm-up, and the rows it evaluates
            explainer.session.run = run
            rows, chunk = counter["rows"], explainer.rows_per_run()
            block = np.random.default_rng(0).random((min(chunk, rows),) + xs.shape[1:]).astype(np.float32)
            keep = block < 0.5
            baseline = np.zeros(xs.shape[1:], np.float32)

            def floor():
                for lo in range(0, rows, chunk):
                    session.run(forward, {x: block[:min(chunk, rows - lo)]})

            def floor_with_rows():
                for lo in range(0, rows, chunk):
                    size = min(chunk, rows - lo)
                    made = np.where(keep[:size], xs[(lo // chunk) % len(xs)], baseline)
                    session.run(forward, {x: made})

            ng, bare, made = median_times([lambda: explainer.run(xs, ys=classes), floor, floor_with_rows], repeats)
            tracemalloc.start()
            explainer.run(xs, ys=classes)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{'image 224 n=2':<14} {label:<19} {rows:>7} {ng * 1e3:>9.1f} {bare * 1e3:>9.1f} {made * 1e3:>9.1f} "
                  f"{ng / bare:>8.2f} {ng / made:>8.2f} {peak / 2**20:>9.1f}", flush=True)


def metric_benchmark(threads, repeats):
    """Each metric on the 28x28 CNN (16 samples, saliency maps) against its floor: the bare
    batched forward of as many rows (one pre-built chunk fed again and again) for the metrics
    that score perturbed inputs; for those that re-explain, ``explainer.run`` on all the
    perturbed copies built beforehand. Rows counted by watching the session."""
    from deepexplain_ng import metrics

    session, x, t = cnn(threads)
    xs = np.random.default_rng(2).random((16, 28, 28, 1)).astype(np.float32)
    classes = np.arange(16) % 10
    scored = {
        "deletion": lambda de, a: metrics.deletion(de, t, x, xs, a, ys=classes, steps=20),
        "insertion": lambda de, a: metrics.insertion(de, t, x, xs, a, ys=classes, steps=20),
        "mu_fidelity": lambda de, a: metrics.mu_fidelity(de, t, x, xs, a, ys=classes, seed=0),
        "infidelity": lambda de, a: metrics.infidelity(de, t, x, xs, a, ys=classes, samples=50, seed=0),
        "sensitivity_n": lambda de, a: metrics.sensitivity_n(de, t, x, xs, a, ys=classes, samples=50, seed=0),
        "average_drop": lambda de, a: metrics.average_drop(de, t, x, xs, a, ys=classes),
    }
    print(f"\n{'workload':<14} {'metric':<19} {'rows':>7} {'ng ms':>9} {'floor ms':>9} {'ng/floor':>8} {'runs':>5}")
    with DeepExplain(session=session) as de:
        with session.graph.as_default():
            forward = tf.reduce_sum(t[:, 0])
        explainer = de.get_explainer("saliency", t, x)
        maps = explainer.run(xs, ys=classes)
        run = session.run
        for name, metric in scored.items():
            counter = {"rows": 0, "runs": 0, "chunk": 0}

            def counting(fetches, feed_dict=None, **kwargs):
                if feed_dict and x in feed_dict:
                    counter["rows"] += len(feed_dict[x])
                    counter["runs"] += 1
                    counter["chunk"] = max(counter["chunk"], len(feed_dict[x]))
                return run(fetches, feed_dict, **kwargs)

            session.run = counting
            metric(de, maps)  # warm-up (and the row-independence probe), then count one call
            counter.update(rows=0, runs=0, chunk=0)
            metric(de, maps)
            session.run = run
            rows, chunk, runs = counter["rows"], counter["chunk"], counter["runs"]
            block = np.random.default_rng(0).random((chunk,) + xs.shape[1:]).astype(np.float32)

            def floor():
                for lo in range(0, rows, chunk):
                    session.run(forward, {x: block[:min(chunk, rows - lo)]})

            ng, bare = median_times([lambda: metric(de, maps), floor], repeats)
            print(f"{'cnn n=16':<14} {name:<19} {rows:>7} {ng * 1e3:>9.1f} {bare * 1e3:>9.1f} {ng / bare:>8.2f} "
                  f"{runs:>5}", flush=True)
        for name, options in (("max_sensitivity", {"samples": 10}), ("average_stability", {"samples": 20})):
            copies = np.repeat(xs, options["samples"], axis=0)
            copies += np.random.default_rng(3).uniform(0, 0.02, copies.shape).astype(np.float32)
            weights = np.repeat(classes, options["samples"])
            metric = getattr(metrics, name)
            ng, bare = median_times([lambda: metric(explainer, xs, ys=classes, seed=0, **options),
                                     lambda: (explainer.run(xs, ys=classes), explainer.run(copies, ys=weights))],
                                    repeats)
            print(f"{'cnn n=16':<14} {name:<19} {len(copies) + len(xs):>7} {ng * 1e3:>9.1f} {bare * 1e3:>9.1f} "
                  f"{ng / bare:>8.2f} {'':>5}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller settings, about a minute")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="TF intra-op threads")
    parser.add_argument("--no-memory", action="store_true", help="skip the 224x224x3 occlusion check")
    parser.add_argument("--only", nargs="+", metavar="METHOD", help="measure only these methods")
    parser.add_argument("--groups", action="store_true", help="only the model-agnostic methods on 224x224x3 images")
    parser.add_argument("--metrics", action="store_true", help="only the metrics, against their floors")
    parser.add_argument("--incremental", action="store_true",
                        help="only incremental occlusion against its floor (benchmarks/incremental.py's defaults)")
    parser.add_argument("--net", choices=("small", "vgg", "both"), default="both",
                        help="--groups: the 224x224x3 network (small: 0.5 ms a row; vgg: 3.6 ms a row)")
    args = parser.parse_args()
    if args.metrics:
        metric_benchmark(args.threads, args.repeats)
        return
    if args.incremental:
        import incremental

        incremental.main(["--repeats", str(args.repeats)])
        return
    steps, samples = (20, 1) if args.quick else (100, 5)
    draws = 10 if args.quick else 50
    methods = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": steps}, "elrp": {}, "deeplift": {},
               "occlusion": {"window_shape": 1}, "shapley_sampling": {"samples": samples, "seed": 0},
               "smoothgrad": {"samples": draws, "seed": 0}, "expected_gradients": {"samples": draws, "seed": 0},
               "deeplift_shap": {}}
    if args.groups:
        for net in (("small", "vgg") if args.net == "both" else (args.net,)):
            group_methods(args.threads, args.repeats, net)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"TF {tf.__version__}, intra-op threads {args.threads}, inter-op 1; numpy {np.__version__}")
    print(f"median of {args.repeats} alternating ng/floor runs after a warm-up (sequential: median of {max(1, args.repeats // 3)}); "
          f"intgrad steps={steps}, occlusion window 1, shapley samples={samples}, all features\n")
    print(f"{'workload':<14} {'method':<17} {'rows':>7} {'ng ms':>9} {'floor ms':>9} {'seq ms':>10} "
          f"{'ng/floor':>8} {'seq/ng':>8} {'peak MiB':>9}")
    rng = np.random.default_rng(1)
    workloads = [("mlp n=32", mlp, rng.random((32, 64)).astype(np.float32)),
                 ("cnn n=16", cnn, rng.random((16, 28, 28, 1)).astype(np.float32)),
                 ("cnn n=1", cnn, rng.random((1, 28, 28, 1)).astype(np.float32))]
    if args.quick:
        workloads[1] = ("cnn n=4", cnn, workloads[1][2][:4])
    for name, build, xs in workloads:
        session, x, t = build(args.threads)
        # a background for the expectation methods: other rows of the same distribution
        background = rng.random((20,) + xs.shape[1:]).astype(np.float32)
        chosen = {m: dict(o, baselines=background[:10] if m == "deeplift_shap" else background)
                  if m in ("expected_gradients", "deeplift_shap") else o for m, o in methods.items()
                  if not args.only or m in args.only}
        measure(name, session, x, t, xs, chosen, args.repeats)
    # DeepLIFT's product, softmax and normalisation rules against the plain gradient
    session, x, t = transformer(args.threads)
    one_pass = {m: methods[m] for m in ("saliency", "grad*input", "elrp", "deeplift") if not args.only or m in args.only}
    measure("transformer n=16", session, x, t, rng.normal(size=(16, 16, 32)).astype(np.float32), one_pass,
            args.repeats)
    if not args.no_memory and not args.quick:
        memory_check(args.threads)
    print(f"\nprocess max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main()
