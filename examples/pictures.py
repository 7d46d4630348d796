"""The picture modes (Captum's visualize_image_attr and TruLens' visualizers) on one map: integrated
gradients of the digits CNN, drawn as heat map, blended, masked (top 20 %), alpha-scaled, TruLens
mask and under each sign; and a sentence's token scores as HTML.

    python examples/pictures.py --out out
"""
import os

import matplotlib

matplotlib.use("Agg")

from common import parse_args  # noqa: E402
from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.plot import grid, text_html, top_fraction_mask  # noqa: E402
from digits_model import build_and_train, describe, titles  # noqa: E402

MODES = ["heat_map", "blended_heat_map", "masked_image", "alpha_scaling", "mask"]
SIGNS = ["positive", "negative", "absolute"]

args = parse_args(__doc__.splitlines()[0])
model = build_and_train()
describe(model)
xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
with DeepExplain(session=model.sess) as de:
    maps = de.explain("intgrad", model.logits, model.X, xs, ys=labels, steps=32)
columns = MODES + [f"heat_map, {sign}" for sign in SIGNS]
fig = grid(xs, [maps] * len(columns), column_titles=columns, row_titles=titles(labels),
           method=MODES + ["heat_map"] * len(SIGNS), sign=["all"] * len(MODES) + SIGNS,
           blur_sigma=0.7, path=os.path.join(args.out, "pictures.png"))
print(f"wrote {os.path.abspath(os.path.join(args.out, 'pictures.png'))}")
kept = top_fraction_mask(maps[0], fraction=0.2)
print(f"masked_image keeps {int(kept.sum())} of {kept.size} pixels (top 20 %, rounded up)")
# a sentence with made-up scores as coloured HTML (text_strip draws the same as a picture)
tokens, scores = ["a", "<b>", "truly", "dull", "film"], [0.0, 0.1, -0.4, -1.0, 0.2]
with open(os.path.join(args.out, "tokens.html"), "w") as f:
    f.write(text_html(tokens, scores))
print(f"wrote {os.path.abspath(os.path.join(args.out, 'tokens.html'))}")
