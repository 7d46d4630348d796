"""Model-agnostic methods on feature groups for digits (2x2-pixel cells): feature ablation,
KernelSHAP and LIME, and RISE's random soft masks; KernelSHAP's values sum exactly to
S(x) - S(0) (its efficiency constraint).

    python examples/model_agnostic.py --out out
"""
import numpy as np

from digits_model import run_family_example, target_scores

CELLS = {"feature_mask": "grid", "cell": 2}
model, xs, labels, results = run_family_example("model_agnostic", __doc__.splitlines()[0], {
    "feature_ablation": CELLS,
    "kernel_shap": dict(CELLS, samples=1024, seed=0),
    "lime": dict(CELLS, samples=1024, seed=0),
    "rise": {"samples": 2000, "grid_size": 4, "seed": 0},
})
change = target_scores(model, xs, labels) - target_scores(model, np.zeros_like(xs), labels)
error = np.abs(results["kernel_shap"].sum(axis=(1, 2, 3)) - change).max()
print(f"kernel_shap: max |sum - (S(x) - S(0))| = {error:.2e} (S(x) - S(0) up to {np.abs(change).max():.1f})")
agree = np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(results["kernel_shap"], results["lime"])])
print(f"correlation of KernelSHAP and LIME maps: {agree:.3f}")
assert error < 1e-4 * np.abs(change).max()
