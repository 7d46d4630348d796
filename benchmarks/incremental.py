"""Incremental occlusion (deepexplain_ng.incremental) against the floor of today's evaluation.

    python benchmarks/incremental.py [--windows N] [--samples 1] [--chunk 32] [--repeats 2] [--max-area 0.5] [--tau 0.5]

Two models with random weights (fixed seeds), NHWC, built with tf.nn ops in a TF1-style graph:

* vgg: 224x224x3, two blocks of 2 convs 3x3 (16 then 32 channels) + 2x2 max-pool, flatten, dense 10;
* resnet: 128x128x3, a stride-2 stem conv + batch norm, residual blocks (two 3x3 convs with batch
  norm, identity skips; stride-2 blocks with a 1x1 stride-2 projection), global mean, dense 10.

Windows of 16x16 at step 8 (all channels, baseline 0). For each model:

(a) floor: the bare batched forward of T on the occluded rows, built beforehand in numpy and fed
    as many rows per session.run as the memory budget gives a full row (the rows per run of
    ``occlusion`` with ``incremental=False``), with no row building and no scoring in the time;
(b) incremental: ``IncrementalOcclusion.scores`` over the same windows, as many rows per run as
    the budget gives its rows (``budget // row_bytes``, as ``occlusion`` does);
(b') the whole method: ``occlusion`` through an explainer, ``incremental=True`` against ``False``.

``--memory-budget`` (MiB, default 256: the package's default) sets both; ``--chunk N`` feeds N
rows per run to (a) and (b) instead.

Both are checked to agree (max relative error printed). (c) the approximate mode
(``approximate=tau``, Krypton's projective-field threshold) is timed too, with its error on the
occlusion deltas S(x) - S(occluded). Each time is the best of ``--repeats``
after one warm-up. ``--windows`` takes that many windows evenly spread over the grid (default 240
of vgg's 729 and all 225 of resnet's, about a minute on 2 cores); ``--windows 0`` takes all.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.incremental import build_incremental  # noqa: E402

tf1 = tf.compat.v1
WINDOW, STEP = 16, 8


def _conv(rng, h, k, out, stride=1):
    fan_in = k * k * h.shape.as_list()[-1]
    kernel = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(k, k, h.shape.as_list()[-1], out)).astype(np.float32)
    return tf.nn.conv2d(h, kernel, stride, "SAME")


def _bn(rng, h):
    c = h.shape.as_list()[-1]
    f = lambda lo, hi: rng.uniform(lo, hi, c).astype(np.float32)  # noqa: E731
    return tf1.nn.fused_batch_norm(h, f(0.8, 1.2), f(-0.1, 0.1), f(-0.1, 0.1), f(0.8, 1.2), is_training=False)[0]


def vgg(x, rng):
    h = x
    for channels in (16, 32):
        h = tf.nn.relu(_conv(rng, h, 3, channels) + rng.normal(scale=0.05, size=channels).astype(np.float32))
        h = tf.nn.relu(_conv(rng, h, 3, channels) + rng.normal(scale=0.05, size=channels).astype(np.float32))
        h = tf.nn.max_pool2d(h, 2, 2, "VALID")
    flat = tf.reshape(h, [-1, int(np.prod(h.shape.as_list()[1:]))])
    return tf.matmul(flat, rng.normal(scale=0.01, size=(flat.shape.as_list()[1], 10)).astype(np.float32))


def resnet(x, rng):
    h = tf.nn.relu(_bn(rng, _conv(rng, x, 3, 16, 2)))  # 64x64
    for channels, stride in ((16, 1), (32, 2), (32, 1), (64, 2)):
        y = tf.nn.relu(_bn(rng, _conv(rng, h, 3, channels, stride)))
        y = _bn(rng, _conv(rng, y, 3, channels))
        skip = h if stride == 1 else _bn(rng, _conv(rng, h, 1, channels, stride))
        h = tf.nn.relu(y + skip)
    pooled = tf.reduce_mean(h, axis=[1, 2])
    return tf.matmul(pooled, rng.normal(scale=0.1, size=(64, 10)).astype(np.float32))


def _occluded(x, wy, wx):
    rows = np.repeat(x[None], len(wy), axis=0)
    for row, y0, x0 in zip(rows, wy, wx):
        row[y0:y0 + WINDOW, x0:x0 + WINDOW] = 0
    return rows


def _best(fn, repeats):
    fn()  # warm-up: first-run allocations and kernel choices
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def run(name, body, size, args):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, size, size, 3), name="x")
        t = body(x, np.random.default_rng(0))
    session = tf1.Session(graph=graph, config=tf1.ConfigProto(intra_op_parallelism_threads=2,
                                                              inter_op_parallelism_threads=1))
    start = time.perf_counter()
    program = build_incremental(graph, x, t, WINDOW, STEP, 0.0, max_area=args.max_area)
    built = time.perf_counter() - start
    grid = np.arange(0, size - WINDOW + 1, STEP)
    wy, wx = (a.ravel() for a in np.meshgrid(grid, grid, indexing="ij"))
    total = len(wy)
    count = total if args.windows in (0, None) or args.windows >= total else args.windows
    chosen = np.unique(np.linspace(0, total - 1, count).round().astype(int))
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(args.samples, size, size, 3)).astype(np.float32)
    weights = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
    rows = np.concatenate([_occluded(x_, wy[chosen], wx[chosen]) for x_ in xs])  # sample-major

    budget = int(args.memory_budget * 2**20)
    with DeepExplain(session=session) as de:
        occlusion = {m: de.get_explainer("occlusion", t, x, window_shape=(WINDOW, WINDOW, 3), step=(STEP, STEP, 1),
                                         incremental=m, memory_budget=budget, progress=False) for m in (True, False)}
    floor_chunk = args.chunk or occlusion[False].rows_per_run()
    incremental_chunk = args.chunk or max(1, budget // program.row_bytes)

    def floor():
        out = [session.run(t, {x: rows[lo:lo + floor_chunk]}) for lo in range(0, len(rows), floor_chunk)]
        return np.concatenate(out)

    def incremental():
        return program.scores(session, xs, weights, windows_per_run=max(1, incremental_chunk // args.samples),
                              windows=chosen)

    floor_s, values = _best(floor, args.repeats)
    incremental_s, scores = _best(incremental, args.repeats)
    expected = (values.reshape(args.samples, len(chosen), 10) * weights[:, None]).sum(-1)
    error = np.abs(scores - expected).max() / np.abs(values).max()
    print(f"{name}: {size}x{size}x3, {len(chosen)} of {total} windows x {args.samples} sample(s) = {len(rows)} rows; "
          f"{len(program.local_ops)} local ops, boundary {program.boundary}; built in {built:.1f} s")
    print(f"  floor (bare forward of the rows)  {1000 * floor_s:9.1f} ms  ({1000 * floor_s / len(rows):.2f} ms/row)")
    print(f"  incremental                       {1000 * incremental_s:9.1f} ms  "
          f"({1000 * incremental_s / len(rows):.2f} ms/row)")
    print(f"  speed-up floor / incremental      {floor_s / incremental_s:9.2f} x   max relative error {error:.1e}"
          f"   (rows per run: floor {floor_chunk}, incremental {incremental_chunk})")
    if len(chosen) == total and not args.chunk:
        full_s, full = _best(lambda: occlusion[False].run(xs, ys=weights), args.repeats)
        fast_s, fast = _best(lambda: occlusion[True].run(xs, ys=weights), args.repeats)
        print(f"  occlusion explainer: incremental=False {1000 * full_s:9.1f} ms, True {1000 * fast_s:9.1f} ms: "
              f"{full_s / fast_s:.2f} x (max difference {np.abs(fast - full).max() / np.abs(full).max():.1e} of the "
              f"largest attribution)")
    if args.tau:
        approx = build_incremental(graph, x, t, WINDOW, STEP, 0.0, max_area=args.max_area, approximate=args.tau)

        def approximate():
            return approx.scores(session, xs, weights, windows_per_run=max(1, incremental_chunk // args.samples),
                                 windows=chosen)

        approx_s, approx_scores = _best(approximate, args.repeats)
        deltas = program.base_scores(session, xs, weights)[:, None] - expected
        wrong = np.abs(approx_scores - expected)
        print(f"  approximate tau={args.tau}  ({len(approx.local_ops)} local ops) {1000 * approx_s:9.1f} ms  "
              f"speed-up {floor_s / approx_s:.2f} x; error of the deltas: max {wrong.max() / np.abs(deltas).max():.1e}"
              f", mean {wrong.mean() / np.abs(deltas).mean():.1e} (relative to max / mean |delta|)")
    session.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=None, help="windows per model (0: all)")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=None,
                        help="rows per session.run for floor and incremental (default: from the memory budget)")
    parser.add_argument("--memory-budget", type=float, default=256, help="MiB (default: the package's, 256)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="vgg,resnet")
    parser.add_argument("--max-area", type=float, default=0.5, help="build_incremental's max_area")
    parser.add_argument("--tau", type=float, default=0.5, help="approximate mode's tau (0: skip it)")
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        body, size, default = {"vgg": (vgg, 224, 240), "resnet": (resnet, 128, 0)}[name]
        run(name, body, size, argparse.Namespace(**{**vars(args), "windows": default if args.windows is None
                                                     else args.windows}))


if __name__ == "__main__":
    main()
