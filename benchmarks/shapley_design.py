"""Benchmark: designs of permutation orders for Shapley value sampling, error at equal model rows.

Same protocol as benchmarks/shapley_error.py (same three random MLPs, 20 inputs ~ N(0, 1.5^2),
baseline 0, exact Shapley values by enumeration of all 2^F coalitions, every sampler's rows read
from the coalition table, K orders per input = K (F - 1) + 2 rows, errors |estimate - exact|
over inputs x features x seeds, each design and plain with the same seeds). Columns:

* plain: K independent uniform orders;
* lib: the library's ``ShapleySampling._paired_orders`` (antithetic pairs, orthogonal directions);
* bal: ``paired_orders`` below: antithetic pairs chosen greedily (kernel herding) so that, for
  every feature i, the sets of features removed before i are balanced to second order across the
  pairs (equivalently: for every triple {i, j, k}, each element is the middle one in about a third
  of the pairs), then improved by a few local-search sweeps, then relabelled by a random
  permutation of the features (which makes every order exactly uniform: the estimate unbiased);
* bal+ks: the same rows (bal orders) with a different estimate: the mean of the usual permutation
  estimate and a KernelSHAP-style weighted least-squares fit (with the efficiency constraint) on
  the chain coalitions. Not unbiased (a ratio-type estimate, bias O(1/K)); its bias is measured.

Run by hand:

    python benchmarks/shapley_design.py             # the table (~5 min on 2 cores)
    python benchmarks/shapley_design.py --seeds 5   # quicker
    python benchmarks/shapley_design.py --timing    # cost of paired_orders for F = 8, 64, 784
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def paired_orders(rng, n, samples, features, candidates=64, pivots=16, sweeps=2):
    """Removal orders, shape (n, samples, features): an order at index 2k, its reverse at 2k + 1.

    Per input: the pairs are chosen one at a time, each as the best of ``candidates`` uniform
    random orders, then ``sweeps`` passes of local search (each pair against ``candidates``
    random transpositions of itself) keep a move when it lowers the same discrepancy. The
    discrepancy of a pair (order a) against an earlier pair (order b): sum over pivot features i
    of t_i(a, b)^2, with t_i = sum over j != i of sign(r_a[j] - r_a[i]) * sign(r_b[j] - r_b[i])
    (r: position in the order). This is kernel herding with a kernel that is invariant under
    relabelling and reversal; its minimum balances, for every i, the second moments of the set
    removed before i, i.e. for every triple the number of pairs in which each element is in the
    middle (the error of a pair on a 3-feature interaction). Pivots: all features when
    features <= pivots, otherwise a fresh random subset of ``pivots`` per step, which bounds the
    cost to O(candidates * pairs^2 * pivots * features) per input. Finally a uniform random
    relabelling of the features makes every single order exactly uniform, so the estimate is
    unbiased whatever the search does.
    """
    if features == 1:
        return np.zeros((n, samples, 1), np.intp)
    pairs = -(-samples // 2)
    out = np.empty((n, 2 * pairs, features), np.intp)
    all_pivots = features <= pivots
    arange_c = np.arange(candidates)
    for a in range(n):
        chosen = np.empty((pairs, features), np.intp)
        ranks = np.empty((pairs, features), np.intp)

        def signs(rank, piv):  # (m, F) ranks -> (|piv|, m, F) float32 signs of r[j] - r[i]
            return np.sign(rank[None, :, :] - rank[:, piv].T[:, :, None]).astype(np.float32)

        def scores(cand_rank, others):
            piv = slice(None) if all_pivots else rng.choice(features, pivots, replace=False)
            if not all_pivots:
                piv = np.sort(piv)
            yc = signs(cand_rank, piv)
            yo = signs(ranks[others], piv)
            t = np.matmul(yc, np.ascontiguousarray(np.swapaxes(yo, 1, 2)))  # (|piv|, candidates, len(others))
            return np.einsum("icp,icp->c", t, t)

        for p in range(pairs):
            cand = np.argsort(rng.random((candidates, features)), axis=1)
            cand_rank = np.argsort(cand, axis=1)
            best = np.argmin(scores(cand_rank, np.arange(p))) if p else 0
            chosen[p], ranks[p] = cand[best], cand_rank[best]
        if pairs > 1:
            for _ in range(sweeps):
                for p in range(pairs):
                    others = np.delete(np.arange(pairs), p)
                    # candidates: the current order (row 0) and random transpositions of it
                    cand = np.repeat(chosen[p][None], candidates, axis=0)
                    i, j = rng.integers(features, size=(2, candidates))
                    i[0] = j[0] = 0
                    cand[arange_c, i], cand[arange_c, j] = cand[arange_c, j], cand[arange_c, i]
                    cand_rank = np.argsort(cand, axis=1)
                    best = np.argmin(scores(cand_rank, others))
                    chosen[p], ranks[p] = cand[best], cand_rank[best]
        relabel = rng.permutation(features)
        out[a, 0::2] = relabel[chosen]
        out[a, 1::2] = relabel[chosen[:, ::-1]]
    return out[:, :samples]


def chain_kernelshap(v, orders):
    """KernelSHAP-style estimate from the chain coalitions of ``orders`` (rows read from v):
    weighted least squares of v(S) - v(empty) on the indicators of S, weights 1 / (|S| (F - |S|))
    (Shapley kernel over the chain's sampling probability), with sum(phi) = v(full) - v(empty)."""
    n, k, features = orders.shape
    full = 2 ** features - 1
    codes = (full - np.cumsum(1 << orders, axis=2)[:, :, :-1]).reshape(n, -1)  # sizes F-1 .. 1
    z = ((codes[..., None] >> np.arange(features)) & 1).astype(np.float64)
    y = np.take_along_axis(v, codes, axis=1) - v[:, :1]
    size = z.sum(axis=2)
    w = 1.0 / (size * (features - size))
    a = np.einsum("nr,nri,nrj->nij", w, z, z)
    b = np.einsum("nr,nri,nr->ni", w, z, y)
    a_b = np.linalg.solve(a, b[..., None])[..., 0]
    a_1 = np.linalg.solve(a, np.ones((n, features, 1)))[..., 0]
    return a_b - ((a_b.sum(axis=1) - (v[:, full] - v[:, 0])) / a_1.sum(axis=1))[:, None] * a_1


def timing():
    for features in (8, 64, 784):
        rng = np.random.default_rng(0)
        reps = 20 if features < 100 else 3
        for name, fn in (("paired_orders", paired_orders), ("library", None)):
            if fn is None:
                from deepexplain_ng.methods.perturbation import ShapleySampling
                fn = ShapleySampling._paired_orders
            fn(rng, 1, 50, features)
            start = time.perf_counter()
            for _ in range(reps):
                fn(rng, 1, 50, features)
            ms = (time.perf_counter() - start) / reps * 1e3
            print(f"F={features:<4} samples=50, one input: {name:<14} {ms:8.2f} ms ({ms / 50:.3f} ms per order)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20, help="input points per model")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per setting")
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 10, 50], help="orders K per input")
    parser.add_argument("--timing", action="store_true", help="only time paired_orders")
    args = parser.parse_args()
    if args.timing:
        timing()
        return
    import shapley_error as se
    from deepexplain_ng.methods.perturbation import ShapleySampling

    start = time.perf_counter()
    designs = ("plain", "lib", "bal", "bal+ks")
    print(f"{args.inputs} inputs x {args.seeds} seeds per row; MAE |estimate - exact| over inputs x features x "
          f"seeds; ratio = MAE / MAE plain; bias = RMS over inputs x features of the mean error over seeds\n")
    print(f"{'model':<20} {'K':>3} {'rows':>5} " + " ".join(f"{'MAE ' + d:>11}" for d in designs)
          + " " + " ".join(f"{d + '/plain':>12}" for d in designs[1:])
          + f" {'bias bal':>9} {'bias ks':>8} {'bias 2se':>8}")
    for name, (features, hidden, activations, scale) in se.MODELS.items():
        session, x, t = se.build(features, hidden, activations, scale)
        xs = (np.random.default_rng(100).normal(size=(args.inputs, features)) * 1.5).astype(np.float32)
        v = se.coalition_table(session, x, t, xs)
        exact = se.exact_shapley(v, features)
        for k in args.orders:
            errors = {d: [] for d in designs}
            for seed in range(args.seeds):
                errors["plain"].append(se.estimate(v, se.plain_orders(np.random.default_rng(seed), len(xs), k, features)) - exact)
                errors["lib"].append(se.estimate(v, ShapleySampling._paired_orders(
                    np.random.default_rng(seed), len(xs), k, features)) - exact)
                orders = paired_orders(np.random.default_rng(seed), len(xs), k, features)
                perm = se.estimate(v, orders)
                errors["bal"].append(perm - exact)
                errors["bal+ks"].append(0.5 * (perm + chain_kernelshap(v, orders)) - exact)
            errors = {d: np.array(e) for d, e in errors.items()}
            mae = {d: np.abs(e).mean() for d, e in errors.items()}
            bias = {d: np.sqrt((e.mean(axis=0) ** 2).mean()) for d, e in errors.items()}
            se2 = 2 * np.sqrt((errors["bal"].var(axis=0) / args.seeds).mean())  # 2 standard errors, RMS
            print(f"{name:<20} {k:>3} {k * (features - 1) + 2:>5} " + " ".join(f"{mae[d]:>11.4f}" for d in designs)
                  + " " + " ".join(f"{mae[d] / mae['plain']:>12.2f}" for d in designs[1:])
                  + f" {bias['bal']:>9.4f} {bias['bal+ks']:>8.4f} {se2:>8.4f}", flush=True)
        session.close()
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
