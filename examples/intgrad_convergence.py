"""Integrated gradients: completeness error against gradient evaluations, for each quadrature
rule at fixed steps and for `tolerance=` (steps refined per digit until met), on the digits CNN.

    python examples/intgrad_convergence.py --out out
"""
import matplotlib.pyplot as plt
import numpy as np

from common import parse_args, save
from deepexplain_ng import DeepExplain
from digits_model import build_and_train, describe

RULES = ["riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gauss_legendre"]
STEPS = [4, 8, 16, 32, 64, 128, 256]
TOLERANCES = [0.1, 0.03, 0.01, 0.003]

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
xs, labels = model.test_images[:16], model.test_labels[:16]
curves = {}
with DeepExplain(session=model.sess) as de:
    for rule in RULES:
        errors = []
        for steps in STEPS:
            explainer = de.get_explainer("intgrad", model.logits, model.X, rule=rule, steps=steps)
            a = explainer.run(xs, ys=labels)
            residual = explainer.convergence_delta  # sum(a) - (S(x) - S(0)), per digit
            errors.append(np.max(np.abs(residual) / np.abs(a.sum(axis=(1, 2, 3)) - residual)))
        curves[rule] = (STEPS, errors)
        print(f"{rule:>18}: worst relative residual at {STEPS} steps: " + " ".join(f"{e:.4f}" for e in errors))
    for rule in ("riemann_right", "riemann_trapezoid"):  # nested: a digit's cost is its final count
        cost, errors = [], []
        for tolerance in TOLERANCES:
            explainer = de.get_explainer("intgrad", model.logits, model.X, rule=rule, steps=4,
                                         tolerance=tolerance, max_steps=4096)
            a = explainer.run(xs, ys=labels)
            change = a.sum(axis=(1, 2, 3)) - explainer.convergence_delta  # S(x) - S(0)
            relative = np.abs(explainer.convergence_delta) / np.abs(change)
            assert np.all(relative <= tolerance * (1 + 1e-3) + 1e-5), (rule, tolerance, relative.max())
            cost.append(explainer.steps_used.mean())
            errors.append(relative.max())
            print(f"{rule:>18} tolerance={tolerance}: every digit within tolerance; mean gradients per "
                  f"digit {cost[-1]:.0f} (from {explainer.steps_used.min()} to {explainer.steps_used.max()})")
        curves[f"{rule}, tolerance="] = (cost, errors)

fig, ax = plt.subplots(figsize=(6.4, 4.2))
for label, (cost, errors) in curves.items():
    ax.loglog(cost, errors, "o--" if "tolerance" in label else "o-", label=label, markersize=4)
ax.set_xlabel("gradient evaluations per digit")
ax.set_ylabel("worst |sum(a) - (S(x) - S(0))| / |S(x) - S(0)|")
ax.set_title("Integrated gradients on the digits CNN (worst of 16 digits)")
ax.legend(fontsize=8)
save(fig, args.out, "intgrad_convergence.png")
