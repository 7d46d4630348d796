"""Benchmark: the order designs of ``deepexplain_ng.orders`` for Shapley value sampling, error
at equal model rows, bias, and the cost of designing the orders.

Same protocol as benchmarks/shapley_error.py (same three random MLPs, 20 inputs ~ N(0, 1.5^2),
baseline 0, exact Shapley values by enumeration of all 2^F coalitions, every design's rows read
from the coalition table, K orders per input = K (F - 1) + 2 rows, errors |estimate - exact|
over inputs x features x seeds, every design with the same seeds). Designs: independent (plain
permutation sampling), antithetic, orthogonal, balanced (the library's default).

    python benchmarks/shapley_design.py             # the table (~20 s)
    python benchmarks/shapley_design.py --seeds 5   # quicker
    python benchmarks/shapley_design.py --timing    # cost of each design for F = 8, 64, 784
    python benchmarks/shapley_design.py --bias 400  # bias check at K = 10 (~1 min)
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from deepexplain_ng import orders  # noqa: E402


def errors_of(se, v, exact, designs, k, features, seeds):
    """{design: (seeds, inputs, features) errors}, each seed's orders from the same seed."""
    return {d: np.array([se.estimate(v, orders.design(d, np.random.default_rng(seed), len(v), k, features)) - exact
                         for seed in range(seeds)]) for d in designs}


def bias_check(se, seeds, inputs, k=10):
    """Mean error over many seeds per (input, feature), against its standard error: for an
    unbiased estimate the mean of z^2 = (mean / standard error)^2 is about 1."""
    print(f"bias check, K={k}, {inputs} inputs x {seeds} seeds: mean z^2 (1 if unbiased), RMS of the mean error, "
          f"MAE of one run")
    for name, (features, hidden, activations, scale) in se.MODELS.items():
        session, x, t = se.build(features, hidden, activations, scale)
        xs = (np.random.default_rng(100).normal(size=(inputs, features)) * 1.5).astype(np.float32)
        v = se.coalition_table(session, x, t, xs)
        for design, e in errors_of(se, v, se.exact_shapley(v, features), ("independent", "balanced"), k,
                                   features, seeds).items():
            z2 = (e.mean(axis=0) ** 2 / (e.var(axis=0, ddof=1) / seeds)).mean()
            print(f"{name:<20} {design:<12} mean z^2 {z2:6.2f}  RMS mean error "
                  f"{np.sqrt((e.mean(axis=0) ** 2).mean()):.5f}  MAE {np.abs(e).mean():.4f}", flush=True)
        session.close()


def timing():
    for features in (8, 64, 784):
        rng = np.random.default_rng(0)
        reps = 20 if features < 100 else 3
        for name in orders.DESIGNS:
            orders.design(name, rng, 1, 50, features)
            start = time.perf_counter()
            for _ in range(reps):
                orders.design(name, rng, 1, 50, features)
            ms = (time.perf_counter() - start) / reps * 1e3
            print(f"F={features:<4} samples=50, one input: {name:<12} {ms:8.2f} ms ({ms / 50:.3f} ms per order)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20, help="input points per model")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per setting")
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 10, 50], help="orders K per input")
    parser.add_argument("--timing", action="store_true", help="only time the designs")
    parser.add_argument("--bias", type=int, default=0, metavar="SEEDS",
                        help="only the bias check: K = 10, this many seeds (e.g. 400)")
    args = parser.parse_args()
    if args.timing:
        timing()
        return
    import shapley_error as se

    start = time.perf_counter()
    if args.bias:
        bias_check(se, args.bias, args.inputs)
        return
    designs = orders.DESIGNS[::-1]  # independent first
    print(f"{args.inputs} inputs x {args.seeds} seeds per row; MAE |estimate - exact| over inputs x features x "
          f"seeds; ratio = MAE / MAE independent\n")
    print(f"{'model':<20} {'K':>3} {'rows':>5} " + " ".join(f"{d[:11]:>11}" for d in designs)
          + " " + " ".join(f"{d[:11] + '/ind':>15}" for d in designs[1:]))
    for name, (features, hidden, activations, scale) in se.MODELS.items():
        session, x, t = se.build(features, hidden, activations, scale)
        xs = (np.random.default_rng(100).normal(size=(args.inputs, features)) * 1.5).astype(np.float32)
        v = se.coalition_table(session, x, t, xs)
        exact = se.exact_shapley(v, features)
        for k in args.orders:
            mae = {d: np.abs(e).mean() for d, e in errors_of(se, v, exact, designs, k, features, args.seeds).items()}
            print(f"{name:<20} {k:>3} {k * (features - 1) + 2:>5} " + " ".join(f"{mae[d]:>11.4f}" for d in designs)
                  + " " + " ".join(f"{mae[d] / mae['independent']:>15.2f}" for d in designs[1:]), flush=True)
        session.close()
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
