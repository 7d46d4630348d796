"""Quadrature rules on [0, 1] for integrated gradients, and how each refines when doubled.

A rule of ``n`` points gives ``(alphas, weights)`` (float64, weights summing to 1); ``n`` is the
number of gradient evaluations, as Captum counts its ``n_steps``.
"""
import numpy as np

RULES = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gauss_legendre")
#: rules whose points at the refined count include the current points
NESTED = ("riemann_right", "riemann_left", "riemann_trapezoid")


def minimum_points(rule):
    return 2 if rule == "riemann_trapezoid" else 1


def points(rule, n):
    """``(alphas, weights)`` of ``rule`` with ``n`` points, each of shape ``(n,)``."""
    if rule == "riemann_right":
        return np.arange(1, n + 1) / n, np.full(n, 1.0 / n)
    if rule == "riemann_left":
        return np.arange(n) / n, np.full(n, 1.0 / n)
    if rule == "riemann_middle":
        return (np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)
    if rule == "riemann_trapezoid":
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] = 0.5 / (n - 1)
        return np.linspace(0.0, 1.0, n), weights
    if rule == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return (nodes + 1) / 2, weights / 2
    raise ValueError(rule)


def refinement(rule, n):
    """The rule with about twice the points: ``(count, alphas, weights, keep)``.

    The refined estimate is ``keep * current estimate + sum(weights * f(alphas))``: nested rules
    (Riemann left/right: ``2n`` points; trapezoid: ``2n - 1``, the intervals halved) evaluate only
    the new points and keep half the current sum; the others (midpoint, Gauss-Legendre) evaluate
    all ``2n`` points afresh (``keep = 0``).
    """
    if rule in ("riemann_right", "riemann_left"):
        return 2 * n, (2 * np.arange(n) + 1) / (2 * n), np.full(n, 0.5 / n), 0.5
    if rule == "riemann_trapezoid":
        intervals = n - 1
        return (2 * intervals + 1, (2 * np.arange(intervals) + 1) / (2 * intervals),
                np.full(intervals, 0.5 / intervals), 0.5)
    alphas, weights = points(rule, 2 * n)
    return 2 * n, alphas, weights, 0.0
