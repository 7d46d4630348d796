"""How incremental occlusion works: the cone of one window through a VGG-style CNN.

An occluded 16x16 window of a 128x128 photograph changes only a box of each early feature map:
the window's projection through the receptive fields. `occlusion` (incremental=True, the
default for channel-spanning image windows) evaluates each local op only on that box, batched
over windows, and runs the layers after the local prefix on full maps. This script draws the
box of one window at every local layer (outlined on the layer's unoccluded map) and checks that
the incremental scores equal full re-evaluation.

    python examples/occlusion_cone.py --out out
"""
import time

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.patches import Rectangle
from skimage import data
from skimage.transform import resize

from common import parse_args, save
from deepexplain_ng import DeepExplain
from deepexplain_ng.incremental import build_incremental

tf1 = tf.compat.v1
args = parse_args(__doc__.splitlines()[0])
SIZE, WINDOW, STEP = 128, 16, 8
image = resize(data.astronaut(), (SIZE, SIZE), anti_aliasing=True).astype(np.float32)[None]
rng = np.random.default_rng(0)
graph = tf.Graph()
with graph.as_default():
    x = tf1.placeholder(tf.float32, (None, SIZE, SIZE, 3), name="image")
    h = x
    for block, channels in enumerate((16, 32, 64)):
        for conv in range(2):
            fan_in = 9 * h.shape[-1]
            kernel = rng.normal(scale=np.sqrt(2 / fan_in), size=(3, 3, h.shape[-1], channels)).astype(np.float32)
            h = tf.nn.relu(tf.nn.conv2d(h, kernel, 1, "SAME"), name=f"block{block + 1}_conv{conv + 1}")
        h = tf.nn.max_pool2d(h, 2, 2, "VALID", name=f"block{block + 1}_pool")
    flat = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
    t = tf.matmul(flat, rng.normal(scale=0.01, size=(flat.shape[1], 10)).astype(np.float32))
session = tf1.Session(graph=graph)

with DeepExplain(session=session) as de:
    program = build_incremental(graph, x, t, WINDOW, STEP)
    timings = {}
    for incremental in (True, False):
        explainer = de.get_explainer("occlusion", t, x, window_shape=(WINDOW, WINDOW, 3), step=STEP,
                                     incremental=incremental)
        explainer.run(image, ys=[0])  # warm-up
        start = time.perf_counter()
        timings[incremental] = explainer.run(image, ys=[0]), time.perf_counter() - start
(fast, fast_s), (full, full_s) = timings[True], timings[False]
error = np.abs(fast - full).max() / np.abs(full).max()
print(f"{program.windows} windows; local prefix of {len(program.local_ops)} ops, then full maps from "
      f"{program.boundary}")
print(f"occlusion: incremental {fast_s:.2f} s, full re-evaluation {full_s:.2f} s; max relative difference "
      f"{error:.1e}")
assert error < 1e-4, error  # float32: both sides round differently (batch sizes, kernels)

# the boxes of one window (the middle of the grid) at the input and at every convolution / pool
window = program.windows // 2  # the grid is 15 x 15: its centre
layers = [x.name] + [name + ":0" for name in program.local_ops
                     if graph.get_operation_by_name(name).type in ("Relu", "MaxPool")]
maps = session.run([graph.get_tensor_by_name(name) for name in layers], {x: image})
columns = (len(layers) + 1) // 2
fig, axes = plt.subplots(2, columns, figsize=(2.2 * columns, 5.4), layout="constrained")
for ax in axes.ravel()[len(layers):]:
    ax.axis("off")
for ax, name, values in zip(axes.ravel(), layers, maps):
    box = program.tensors[name][1]
    picture = values[0] if name == x.name else np.abs(values[0]).mean(-1)
    side = picture.shape[0]
    ax.imshow(picture, cmap=None if name == x.name else "gray")
    y0, x0 = box.start_y[window], box.start_x[window]
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), box.size[1], box.size[0], fill=False, color="red", lw=1.5))
    ax.set_title(f"{name.split(':')[0].split('/')[0]}\n{side}x{side}, box {box.size[0]}x{box.size[1]}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"one {WINDOW}x{WINDOW} occlusion window: the box each local layer recomputes", fontsize=10)
save(fig, args.out, "occlusion_cone.png")
