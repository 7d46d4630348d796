"""LRP rules and zennit's composites on the digits CNN, side by side, with how much of each
digit's logit they conserve (z+ and the composites pass on all of it but what biases absorb).

    python examples/lrp.py --out out
"""
import os

from common import parse_args
from deepexplain_ng import DeepExplain
from deepexplain_ng.plot import compare
from digits_model import build_and_train, describe, target_scores, titles

RULES = {
    "epsilon": {"rule": "epsilon", "epsilon": 1e-6},
    "zplus": {"rule": "zplus"},
    "alpha_beta": {"rule": "alpha_beta", "alpha": 2, "beta": 1},
    "gamma": {"rule": "gamma", "gamma": 0.25},
    "epsilon_plus": {"rule": "epsilon_plus"},
    "epsilon_plus_flat": {"rule": "epsilon_plus_flat"},
    "epsilon_gamma_box": {"rule": "epsilon_gamma_box", "low": 0.0, "high": 1.0},  # digits lie in [0, 1]
}

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
logits = target_scores(model, xs, labels)
results = {}
with DeepExplain(session=model.sess) as de:
    for name, options in RULES.items():
        results[name] = de.explain("lrp", model.logits, model.X, xs, ys=labels, **options)
        kept = results[name].sum(axis=(1, 2, 3)) / logits
        print(f"{name:>18}: sum of relevance / logit per digit: " + " ".join(f"{k:6.3f}" for k in kept))
path = os.path.join(args.out, "lrp.png")
compare(xs, results, titles=titles(labels), path=path)
print(f"wrote {os.path.abspath(path)}")
