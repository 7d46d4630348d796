"""Layer conductance for digits: how much of each digit's logit change S(x) - S(0) flows through
each of the 16 channels of the first convolution (integrated gradients through the layer); the
channels' conductances add up to the change. The picture: integrated gradients of the input,
and the conductance of the layer summed over its channels, per position.

    python examples/conductance.py --out out
"""
import os

import numpy as np

from common import parse_args
from deepexplain_ng import DeepExplain
from deepexplain_ng.plot import compare
from digits_model import build_and_train, describe, target_scores, titles

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
with DeepExplain(session=model.sess) as de:
    ig = de.explain("intgrad", model.logits, model.X, xs, ys=labels, steps=200)
    flow = de.explain("conductance", model.logits, model.X, xs, ys=labels, layer="conv1", steps=200)
change = target_scores(model, xs, labels) - target_scores(model, np.zeros_like(xs), labels)
per_channel = flow.sum(axis=(1, 2))  # (n, 16)
for label, channels, total in zip(labels, per_channel, change):
    top = np.argsort(-np.abs(channels))[:3]
    print(f"digit {label}: S(x) - S(0) = {total:6.2f}; channels sum to {channels.sum():6.2f}; "
          f"strongest channels {', '.join(f'{c} ({channels[c]:+.2f})' for c in top)}")
error = np.abs(per_channel.sum(axis=1) - change).max()
print(f"completeness through the layer: max |sum - (S(x) - S(0))| = {error:.3f}")
assert error < 0.02 * np.abs(change).max()
path = os.path.join(args.out, "conductance.png")
compare(xs, {"intgrad": ig, "conductance of conv1": flow.sum(axis=-1)}, titles=titles(labels), path=path)
print(f"wrote {os.path.abspath(path)}")
