"""Which map to trust on the digits CNN: six methods scored by deletion, insertion, MuFidelity,
infidelity, sparseness and the random-logit sanity check, as one markdown table and one picture.

    python examples/compare_metrics.py --out out --samples 16
"""
import os

import numpy as np

from common import parse_args
from deepexplain_ng import DeepExplain, report
from digits_model import build_and_train, describe

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
path = os.path.join(args.out, "compare_metrics.png")
with DeepExplain(session=model.sess) as de:
    table = report.compare(
        de, model.logits, model.X, xs, labels,
        methods=["saliency", "grad*input", ("intgrad", {"steps": 32}), "deeplift", "smoothgrad",
                 ("occlusion", {"window_shape": (2, 2, 1)})],
        metrics=["deletion", "insertion", "mu_fidelity", "infidelity", "sparseness", "random_logit"],
        metric_options={"deletion": {"steps": 16}, "insertion": {"steps": 16},
                        "mu_fidelity": {"grid_size": 4, "samples": 64, "seed": 0},
                        "infidelity": {"seed": 0}, "random_logit": {"seed": 0}},
        path=path)
print(table.to_markdown())
print(f"wrote {os.path.abspath(path)}")
best = min(table.rows, key=lambda row: row["metrics"]["deletion"][0])["label"]
print(f"lowest deletion AUC (S falls fastest as its top pixels go): {best}")
assert all(np.isfinite(row["metrics"]["deletion"][0]) for row in table.rows)
