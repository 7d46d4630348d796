"""epsilon-LRP for digits, as a modified chain rule; compared with gradient * input, which it
equals on ReLU networks without biases (this CNN has biases, so they differ a little).

    python examples/elrp.py --out out
"""
import numpy as np
from deepexplain_ng import DeepExplain
from digits_model import run_method_example

model, xs, labels, attributions = run_method_example("elrp", __doc__.splitlines()[0], epsilon=1e-4)
with DeepExplain(session=model.session) as de:
    gradient_input = de.explain("grad*input", model.logits, model.X, xs, ys=labels)
correlation = np.corrcoef(attributions.ravel(), gradient_input.ravel())[0, 1]
print(f"correlation with grad*input: {correlation:.3f}")
