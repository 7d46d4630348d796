"""Occlusion for digits: hide 2x2 patches (with a blank baseline) and measure how much the
class logit drops. All windows of all digits are rows of a few batched session runs.

    python examples/occlusion.py --out out
"""
import numpy as np
from digits_model import run_method_example

model, xs, labels, attributions = run_method_example("occlusion", __doc__.splitlines()[0],
                                                     window_shape=(2, 2, 1), step=2)
# non-overlapping windows: the 4 pixels of a patch share the logit drop its occlusion causes
patches = attributions[..., 0].reshape(len(xs), 4, 2, 4, 2).sum(axis=(2, 4))
for label, drops in zip(labels, patches):
    row, col = np.unravel_index(np.argmax(drops), drops.shape)
    print(f"class {label}: hiding the patch at rows {2 * row}-{2 * row + 1}, columns {2 * col}-{2 * col + 1} "
          f"lowers the logit most, by {drops.max():.2f}")
