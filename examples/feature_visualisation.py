"""Feature visualisation: for each digit class, the 8x8 image the digits CNN finds most like
that class (gradient ascent on the class logit, with an L2 and a total-variation penalty,
jitter, pixels kept in [0, 1]); each image is checked to be classified as its class.

    python examples/feature_visualisation.py --out out
"""
import matplotlib.pyplot as plt
import numpy as np

from common import parse_args, save
from deepexplain_ng import DeepExplain, visualize
from digits_model import build_and_train, describe

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
classes = np.arange(10)
with DeepExplain(session=model.sess) as de:
    images, history = visualize.maximize(de, model.logits, model.X, ys=classes, steps=256, learning_rate=0.05,
                                         l2=0.05, total_variation=0.05, jitter=1, value_range=(0, 1), seed=0)
predicted = model.sess.run(model.logits, {model.X: images}).argmax(axis=1)
print("class logit at the start:", np.round(history["score"][0], 2))
print("class logit at the end:  ", np.round(history["score"][-1], 2))
print(f"classified as their own class: {int((predicted == classes).sum())} of 10")
assert np.all(predicted == classes), predicted

fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
for c, ax in zip(classes, axes):
    ax.imshow(images[c, ..., 0], cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"class {c}", fontsize=9)
    ax.axis("off")
save(fig, args.out, "feature_visualisation.png")
