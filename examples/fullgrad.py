"""FullGrad for digits: the input-gradient map plus every bias's gradient map, and the
completeness of its decomposition on this ReLU CNN: x.dS/dx plus the bias terms is S(x).

    python examples/fullgrad.py --out out
"""
import numpy as np

from deepexplain_ng import DeepExplain
from digits_model import run_family_example, target_scores

model, xs, labels, results = run_family_example("fullgrad", __doc__.splitlines()[0], {"fullgrad": {}})
with DeepExplain(session=model.sess) as de:
    input_term, bias_terms = de.get_explainer("fullgrad", model.logits, model.X).decompose(xs, ys=labels)
total = input_term.sum(axis=(1, 2, 3)) + sum(b.reshape(len(xs), -1).sum(axis=1) for b in bias_terms.values())
scores = target_scores(model, xs, labels)
print(f"bias terms: {', '.join(bias_terms)}")
print(f"completeness: max |x.dS/dx + bias terms - S(x)| = {np.abs(total - scores).max():.2e} "
      f"(S(x) up to {np.abs(scores).max():.1f})")
assert np.abs(total - scores).max() < 1e-4 * np.abs(scores).max()
