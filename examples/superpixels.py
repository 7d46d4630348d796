"""KernelSHAP, LIME and feature ablation over SLIC superpixels of a photograph (scikit-image's
astronaut), for a small model written in TF that scores how red an image is: the superpixels
the methods credit most are the red ones (the flag and the suit's patches).

    python examples/superpixels.py --out out
"""
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from skimage import data
from skimage.segmentation import mark_boundaries
from skimage.transform import resize

from common import parse_args, save
from deepexplain_ng import DeepExplain, groups

tf1 = tf.compat.v1
args = parse_args(__doc__.splitlines()[0])
image = resize(data.astronaut(), (128, 128), anti_aliasing=True).astype(np.float32)[None]  # [0, 1]
graph = tf.Graph()
with graph.as_default():
    x = tf1.placeholder(tf.float32, (None, 128, 128, 3))
    red = tf.nn.relu(x[..., 0] - 0.5 * (x[..., 1] + x[..., 2]) - 0.15)      # per-pixel redness
    t = tf.stack([tf.reduce_mean(red, axis=(1, 2)), tf.reduce_mean(x, axis=(1, 2, 3))], axis=1)
options = {"feature_mask": "slic", "n_segments": 60}
results = {}
with DeepExplain(session=tf1.Session(graph=graph)) as de:
    results["feature_ablation"] = de.explain("feature_ablation", t, x, image, ys=[0], **options)
    results["kernel_shap"] = de.explain("kernel_shap", t, x, image, ys=[0], samples=1024, seed=0, **options)
    results["lime"] = de.explain("lime", t, x, image, ys=[0], samples=1024, seed=0, **options)
labels, counts = groups.resolve("slic", image, (128, 128, 3), n_segments=60)
labels = labels[0].reshape(128, 128, 3)[..., 0]
redness = (image[0, ..., 0] - 0.5 * (image[0, ..., 1] + image[0, ..., 2]))
print(f"{counts[0]} superpixels")
for method, a in results.items():
    per_pixel = a[0].sum(axis=-1)
    top = np.bincount(labels.ravel(), per_pixel.ravel()).argmax()
    ratio = redness[labels == top].mean() / redness.mean()
    print(f"{method:>16}: top superpixel's mean redness is {ratio:.1f}x the image's")
    assert ratio > 3

fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
axes[0].imshow(mark_boundaries(image[0], labels))
axes[0].set_title("SLIC superpixels")
for ax, (method, a) in zip(axes[1:], results.items()):
    m = a[0].sum(axis=-1)
    limit = np.abs(m).max()
    ax.imshow(image[0])
    ax.imshow(m, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6)
    ax.set_title(f"{method} (redness)")
for ax in axes:
    ax.axis("off")
save(fig, args.out, "superpixels.png")
