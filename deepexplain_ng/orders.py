"""Designs of feature orders for Shapley value sampling: which permutations to evaluate.

Every design returns removal orders ``(n, samples, features)`` (an int array; row k of input i
is the order in which its features are removed), and every single order is a uniformly random
permutation, so the Shapley estimate stays unbiased; the designs differ in how the orders of
one input relate to each other, which is what lowers the error at the same number of rows.
All but ``independent`` come in antithetic pairs: an order at index 2k, its reverse at 2k + 1
(for an odd ``samples`` the last pair gives its first order only). In a pair each feature
precedes each other exactly once, so interactions of one or two features are exact.
"""
import numpy as np

DESIGNS = ("balanced", "orthogonal", "antithetic", "independent")
#: features whose sign patterns the balanced design scores (all of them when there are fewer)
PIVOTS = 16
CANDIDATES = 32
#: inputs designed together (bounds the memory of the sign arrays)
GROUP = 16


def independent(rng, n, samples, features):
    """Independent uniform orders (plain permutation sampling)."""
    return np.argsort(rng.random((n, samples, features)), axis=2)


def _pair_up(first, samples):
    n, pairs, features = first.shape
    return np.stack([first, first[:, :, ::-1]], axis=2).reshape(n, 2 * pairs, features)[:, :samples]


def antithetic(rng, n, samples, features):
    """Independent uniform orders, each with its reverse."""
    return _pair_up(independent(rng, n, -(-samples // 2), features), samples)


def orthogonal(rng, n, samples, features):
    """Antithetic pairs from orthogonal directions (Mitchell et al. 2022, "orthogonal spherical
    codes"): per input, ceil(samples / 2) directions u of the hyperplane sum(u) = 0, in blocks of
    up to features - 1 orthonormal ones; direction u gives the pair (argsort(u), its reverse)."""
    if features == 1:
        return np.zeros((n, samples, 1), np.intp)
    pairs = -(-samples // 2)
    width = min(features - 1, pairs)  # directions per orthogonal block
    blocks = -(-pairs // width)
    gauss = rng.normal(size=(n, blocks, features, width))
    gauss -= gauss.mean(axis=2, keepdims=True)
    q, r = np.linalg.qr(gauss)
    # Q's column j is then the normalised part of Gaussian column j orthogonal to the previous
    # ones: uniform on the sphere (LAPACK's own signs depend on the data and bias odd samples)
    q *= np.where(np.diagonal(r, axis1=2, axis2=3) < 0, -1.0, 1.0)[:, :, None, :]
    directions = np.swapaxes(q, 2, 3).reshape(n, blocks * width, features)[:, :pairs]
    return _pair_up(np.argsort(directions, axis=2), samples)


def _signs(ranks, pivots):
    """``sign(rank[j] - rank[i])`` for pivot features i: ``(n, m, F)`` -> ``(n, |pivots|, m, F)``."""
    pivot_ranks = np.swapaxes(ranks[:, :, pivots], 1, 2)[..., None]  # (n, |P|, m, 1)
    return np.sign(ranks[:, None, :, :] - pivot_ranks).astype(np.float32)


def _discrepancy(candidate_ranks, chosen_ranks, pivots):
    """Per input and candidate: sum over pivots i and chosen pairs of t_i^2, where t_i counts the
    features j on the same side of i in the candidate and the chosen order minus those on
    opposite sides. Zero for all i means each feature has every other before it equally often
    across the pairs: on every triple, each element is the middle one a third of the time."""
    a, b = _signs(candidate_ranks, pivots), _signs(chosen_ranks, pivots)
    t = np.matmul(a, np.swapaxes(b, 2, 3))  # (n, |P|, candidates, chosen)
    return np.einsum("nicp,nicp->nc", t, t)


def _balanced_group(rng, n, pairs, features, candidates):
    chosen = np.empty((n, pairs, features), np.intp)
    ranks = np.empty((n, pairs, features), np.intp)
    rows = np.arange(n)

    def pivots():
        return slice(None) if features <= PIVOTS else np.sort(rng.choice(features, PIVOTS, replace=False))

    def keep_best(p, candidate, others):
        candidate_ranks = np.argsort(candidate, axis=2)
        best = np.argmin(_discrepancy(candidate_ranks, ranks[:, others], pivots()), axis=1)
        chosen[:, p], ranks[:, p] = candidate[rows, best], candidate_ranks[rows, best]

    for p in range(pairs):  # greedy: the best of `candidates` uniform orders
        candidate = np.argsort(rng.random((n, candidates, features)), axis=2)
        if p == 0:
            chosen[:, 0], ranks[:, 0] = candidate[:, 0], np.argsort(candidate[:, 0], axis=1)
        else:
            keep_best(p, candidate, np.arange(p))
    if pairs > 1:
        for p in range(pairs):  # one sweep of local search: the order or one of its transpositions
            candidate = np.repeat(chosen[:, p, None], candidates, axis=1)
            i, j = rng.integers(features, size=(2, n, candidates))
            i[:, 0] = j[:, 0] = 0  # candidate 0: the order itself
            a, c = np.ogrid[:n, :candidates]
            candidate[a, c, i], candidate[a, c, j] = candidate[a, c, j], candidate[a, c, i]
            keep_best(p, candidate, np.delete(np.arange(pairs), p))
    # a uniform relabelling of the features makes every order exactly uniform (unbiased)
    relabel = np.argsort(rng.random((n, features)), axis=1)
    return np.take_along_axis(relabel[:, None, :], chosen, axis=2)


def balanced(rng, n, samples, features, candidates=CANDIDATES):
    """Antithetic pairs chosen greedily (kernel herding) so that, across the pairs of an input,
    every feature has each other feature before it about equally often: then on every triple
    of features each is the middle one about a third of the time, which makes interactions of
    three features nearly exact as well. Each pair is the best of ``candidates`` random orders
    (then improved by one sweep of transpositions), scored on all features when there are at
    most 16, else on 16 random pivot features per step; a final uniform relabelling of the
    features keeps every order uniformly random."""
    if features == 1:
        return np.zeros((n, samples, 1), np.intp)
    pairs = -(-samples // 2)
    first = np.empty((n, pairs, features), np.intp)
    for lo in range(0, n, GROUP):
        hi = min(n, lo + GROUP)
        first[lo:hi] = _balanced_group(rng, hi - lo, pairs, features, candidates)
    return _pair_up(first, samples)


def design(name, rng, n, samples, features):
    return {"balanced": balanced, "orthogonal": orthogonal, "antithetic": antithetic,
            "independent": independent}[name](rng, n, samples, features)
