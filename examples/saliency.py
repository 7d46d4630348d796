"""Saliency maps |dS/dx| for digits: where the class logit is sensitive, sign discarded.

Checks that the maps are |gradient|: non-negative, and |grad*input| = saliency * |x|.

    python examples/saliency.py --out out
"""
import numpy as np
from deepexplain_ng import DeepExplain
from digits_model import run_method_example

model, xs, labels, attributions = run_method_example("saliency", __doc__.splitlines()[0])
with DeepExplain(session=model.sess) as de:
    gradient_input = de.explain("grad*input", model.logits, model.X, xs, ys=labels)
print(f"all attributions non-negative: {bool((attributions >= 0).all())}")
print(f"max | |grad*input| - saliency * |x| | = {np.abs(np.abs(gradient_input) - attributions * np.abs(xs)).max():.2e}")
print(f"share of the saliency on ink pixels (x > 0.2): {attributions[xs > 0.2].sum() / attributions.sum():.2f} "
      f"(ink covers {(xs > 0.2).mean():.2f} of the pixels)")
assert (attributions >= 0).all()
np.testing.assert_allclose(np.abs(gradient_input), attributions * np.abs(xs), rtol=1e-5, atol=1e-6)
