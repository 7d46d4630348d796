"""Benchmark: error of Shapley value sampling against exact Shapley values, at equal model rows.

Nonlinear models with 8 and 10 features (random MLPs with ReLU and tanh layers, built with
tf.compat.v1 in a graph; inputs ~ N(0, 1.5^2)). For every input, the model is evaluated on all
2^F coalitions (features present keep their value, the others take the baseline 0), which gives
the exact Shapley values by enumeration, and the value of every row any permutation sampler can
ask for. Three samplers,
with K orders per input each, so the same K * (F - 1) + 2 model rows per input:

* plain: K independent uniform orders (the previous library behaviour, written out here);
* antithetic: K / 2 independent orders, each with its reverse (written out here);
* library: ``de.explain("shapley_sampling", ..., samples=K, seed=s)``, which pairs each order
  with its reverse and chooses the pairs balanced (``deepexplain_ng.orders.balanced``; real
  model rows). ``benchmarks/shapley_design.py`` compares all the designs.

plain and antithetic read their rows' values from the coalition table (the same float32 rows
the library feeds); the script checks that the table reproduces the library's own estimate
from its own orders. Errors are |estimate - exact| over inputs x features x seeds. Run by hand:

    python benchmarks/shapley_error.py            # the table of benchmarks/README.md (~30 s)
    python benchmarks/shapley_error.py --seeds 5  # quicker
"""
import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402

tf1 = tf.compat.v1

#: name: (features, hidden sizes, activations, weight scale)
MODELS = {
    "mlp relu-tanh F=8": (8, (32, 32), (tf.nn.relu, tf.tanh), 1.5),
    "mlp relu F=8": (8, (64,), (tf.nn.relu,), 1.0),
    "mlp tanh-relu F=10": (10, (24, 24), (tf.tanh, tf.nn.relu), 1.5),
}


def build(features, hidden, activations, scale, seed=0):
    """A random MLP with one output, weights ~ N(0, scale^2 / fan_in)."""
    rng = np.random.default_rng(seed)
    sizes = (features,) + hidden + (1,)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, features))
        h = x
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = rng.normal(scale=scale / np.sqrt(a), size=(a, b)).astype(np.float32)
            h = tf.matmul(h, w) + rng.normal(scale=0.3, size=b).astype(np.float32)
            if i < len(hidden):
                h = activations[i](h)
        t = h[:, 0]
    config = tf1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    return tf1.Session(graph=graph, config=config), x, t


def coalition_table(session, x, t, xs):
    """v[i, c]: model output for input i with the features of bit mask c present, the rest 0."""
    features = xs.shape[1]
    present = (np.arange(2 ** features)[:, None] >> np.arange(features)) & 1
    rows = (xs[:, None, :] * present[None]).reshape(-1, features).astype(np.float32)
    return session.run(t, {x: rows}).astype(np.float64).reshape(len(xs), 2 ** features)


def exact_shapley(v, features):
    """Shapley values from the coalition table: sum over S of |S|!(F-|S|-1)!/F! (v(S+i) - v(S))."""
    masks = np.arange(2 ** features)
    sizes = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(k) * math.factorial(features - k - 1) / math.factorial(features)
                       for k in range(features)])
    phi = np.empty((len(v), features))
    for i in range(features):
        without = masks[(masks >> i) & 1 == 0]
        phi[:, i] = (weight[sizes[without]] * (v[:, without | (1 << i)] - v[:, without])).sum(axis=1)
    return phi


def interaction_profile(v, features):
    """Share of sum |d_T| over coalitions T of 1, 2 and >= 3 features (d: Harsanyi dividends,
    v(S) = sum of d_T over T in S). Pairs of orders are exact on the first two parts."""
    d = v.copy()
    masks = np.arange(2 ** features)
    for i in range(features):  # Moebius transform, one feature at a time
        with_i = masks[(masks >> i) & 1 == 1]
        d[:, with_i] -= d[:, with_i ^ (1 << i)]
    sizes = np.array([bin(m).count("1") for m in masks])
    mass = np.array([np.abs(d[:, sizes == k]).sum() for k in range(1, features + 1)])
    return mass[0] / mass.sum(), mass[1] / mass.sum(), mass[2:].sum() / mass.sum()


def estimate(v, orders):
    """The sampling estimate for removal orders (n, K, F), rows read from the table v."""
    n, k, features = orders.shape
    full = 2 ** features - 1
    codes = full - np.cumsum(1 << orders, axis=2)  # features present after j = 1..F removals
    values = np.concatenate([np.broadcast_to(v[:, full, None, None], (n, k, 1)),
                             np.take_along_axis(v[:, None, :], codes.reshape(n, 1, -1), axis=2)
                             .reshape(n, k, features)], axis=2)
    credits = values[:, :, :-1] - values[:, :, 1:]
    phi = np.zeros((n, features))
    np.add.at(phi, (np.arange(n)[:, None, None], orders), credits)
    return phi / k


def plain_orders(rng, n, k, features):
    return np.argsort(rng.random((n, k, features)), axis=2)


def antithetic_orders(rng, n, k, features):
    first = np.argsort(rng.random((n, -(-k // 2), features)), axis=2)
    return np.stack([first, first[:, :, ::-1]], axis=2).reshape(n, -1, features)[:, :k]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20, help="input points per model")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per setting")
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 10, 50], help="orders K per input")
    args = parser.parse_args()
    start = time.perf_counter()
    header = (f"{'model':<20} {'K':>3} {'rows/input':>10} {'MAE plain':>10} {'MAE anti':>9} {'MAE lib':>9}"
              f" {'max plain':>10} {'max lib':>9} {'anti/plain':>10} {'lib/plain':>9}")
    print(f"{args.inputs} inputs x {args.seeds} seeds per row; baseline 0; errors |estimate - exact| "
          f"over inputs x features x seeds\n")
    print(header)
    for name, (features, hidden, activations, scale) in MODELS.items():
        session, x, t = build(features, hidden, activations, scale)
        xs = (np.random.default_rng(100).normal(size=(args.inputs, features)) * 1.5).astype(np.float32)
        v = coalition_table(session, x, t, xs)
        exact = exact_shapley(v, features)
        with DeepExplain(session=session) as de:
            # the table reproduces the library's estimate from the library's orders
            explainer = de.get_explainer("shapley_sampling", t, x, samples=3, seed=0)
            check = np.abs(explainer.run(xs) - estimate(v, explainer._prepare([xs], {}))).max()
            assert check < 1e-5 * np.abs(v).max(), check
            for k in args.orders:
                errors = {"plain": [], "anti": [], "lib": []}
                for seed in range(args.seeds):
                    for key, sampler in (("plain", plain_orders), ("anti", antithetic_orders)):
                        orders = sampler(np.random.default_rng(seed), len(xs), k, features)
                        errors[key].append(estimate(v, orders) - exact)
                    errors["lib"].append(de.explain("shapley_sampling", t, x, xs, samples=k, seed=seed) - exact)
                mae = {key: np.abs(e).mean() for key, e in errors.items()}
                worst = {key: np.abs(e).max() for key, e in errors.items()}
                print(f"{name:<20} {k:>3} {k * (features - 1) + 2:>10} {mae['plain']:>10.4f} {mae['anti']:>9.4f}"
                      f" {mae['lib']:>9.4f} {worst['plain']:>10.4f} {worst['lib']:>9.4f}"
                      f" {mae['anti'] / mae['plain']:>10.2f} {mae['lib'] / mae['plain']:>9.2f}")
        profile = "/".join(f"{100 * share:.0f}" for share in interaction_profile(v, features))
        print(f"{'':<20} mean |exact Shapley value| {np.abs(exact).mean():.4f}; dividends of 1/2/>=3 "
              f"features: {profile} %; table check vs library {check:.1e}")

    # the example: min(x1, x2), 300 orders, per-row error
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 2))
        t = tf.minimum(x[:, 0], x[:, 1])
    session = tf1.Session(graph=graph)
    xs = np.random.default_rng(101).normal(size=(200, 2)).astype(np.float32)
    v = coalition_table(session, x, t, xs)
    exact = exact_shapley(v, 2)
    plain = estimate(v, plain_orders(np.random.default_rng(0), len(xs), 300, 2)) - exact
    with DeepExplain(session=session) as de:
        library = de.explain("shapley_sampling", t, x, xs, samples=300, seed=0) - exact
    print(f"\nmin(x1, x2), 200 inputs ~ N(0, 1), 300 orders: max |error| plain {np.abs(plain).max():.3f}, "
          f"library {np.abs(library).max():.1e}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
