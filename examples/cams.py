"""Class activation maps for digits at the last 4-D layer on the path (the 4x4 pooled feature
map of the digits CNN, resized to 8x8): Grad-CAM, Grad-CAM++,
guided Grad-CAM and the gradient-free FEM.

    python examples/cams.py --out out
"""

from digits_model import run_family_example

model, xs, labels, results = run_family_example("cams", __doc__.splitlines()[0], {
    "gradcam": {}, "gradcam_plus_plus": {}, "guided_gradcam": {}, "fem": {"k": 1.0}})
for method, maps in results.items():
    print(f"{method:>17}: shape {maps.shape}, min {maps.min():.3g}, max {maps.max():.3g}")
assert results["gradcam"].min() >= 0 and results["gradcam_plus_plus"].min() >= 0
