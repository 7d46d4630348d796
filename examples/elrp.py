"""epsilon-LRP for digits, as a modified chain rule, compared with gradient * input.

At a ReLU, f(z)/(z + epsilon) is z/(z + epsilon) where z > 0 and 0 elsewhere: the ordinary
gradient as epsilon -> 0. So on a ReLU network epsilon-LRP tends to gradient * input (biases
only make the sum differ from the logit). With tanh, f(z)/z is not the derivative and the
two stay apart.

    python examples/elrp.py --out out
"""
import numpy as np
import tensorflow as tf
from deepexplain_ng import DeepExplain
from digits_model import build_and_train, run_method_example

EPSILONS = (1e-2, 1e-4, 1e-6)


def gaps_to_grad_input(model, xs, labels):
    """max |eLRP - grad*input| / max |grad*input| for each epsilon."""
    with DeepExplain(session=model.sess) as de:
        gradient_input = de.explain("grad*input", model.logits, model.X, xs, ys=labels)
        return [np.abs(de.explain("elrp", model.logits, model.X, xs, ys=labels, epsilon=e) - gradient_input).max()
                / np.abs(gradient_input).max() for e in EPSILONS]


model, xs, labels, attributions = run_method_example("elrp", __doc__.splitlines()[0], epsilon=1e-4)
relu = gaps_to_grad_input(model, xs, labels)
tanh_model = build_and_train(activation=tf.nn.tanh)
print(f"the same CNN with tanh: test accuracy {tanh_model.accuracy:.3f}")
tanh = gaps_to_grad_input(tanh_model, xs, labels)
print("max |eLRP - grad*input| / max |grad*input|")
print("  epsilon   ReLU CNN   tanh CNN")
for epsilon, r, t in zip(EPSILONS, relu, tanh):
    print(f"  {epsilon:7.0e}   {r:8.1e}   {t:8.2f}")
assert relu[0] > relu[1] > relu[2] and relu[2] < 1e-3 and min(tanh) > 0.1
