"""Guided backpropagation and deconvnet for digits, next to the plain gradient.

Both replace only the ReLUs' backward (guided: relu(g) * [z > 0]; deconvnet: relu(g)) and do not
multiply by the input; a digit's map shows the pattern that excites the class. The sanity check
of Adebayo et al. (2018) is printed: how much each map changes when another class is explained
(guided backprop is known to change little).

    python examples/guided_backprop.py --out out
"""
import numpy as np

from deepexplain_ng import DeepExplain
from digits_model import run_family_example

model, xs, labels, results = run_family_example(
    "guided_backprop", __doc__.splitlines()[0], {"saliency": {}, "guided_backprop": {}, "deconvnet": {}})
other = (labels + 1) % 10
with DeepExplain(session=model.sess) as de:
    for method in results:
        again = de.explain(method, model.logits, model.X, xs, ys=other)
        correlation = np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(results[method], again)])
        print(f"{method:>16}: correlation of the maps for the true class and the next class: {correlation:.2f}")
