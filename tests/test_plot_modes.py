"""The picture modes draw what they promise, checked on rendered pixels and on the mask arrays:
red positive, blue negative, white zero; each sign; outlier clipping; masks keeping exactly the
top fraction; blended and alpha-scaled images; TruLens' masks; token strips and HTML; grids."""
import math
import os

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deepexplain_ng.errors import ExplainValueError  # noqa: E402
from deepexplain_ng.plot import (blur_mask, channel_masks, grid, normalize, text_html, text_strip,  # noqa: E402
                                 top_fraction_mask, visualize)

RED, BLUE, WHITE, BLACK = (1, 0, 0), (0, 0, 1), (1, 1, 1), (0, 0, 0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _pixels(shape, **options):
    """visualize() in axes filling a figure of 10 x 10 pixels per cell: the RGB at each cell's centre."""
    height, width = shape
    fig = plt.figure(figsize=(width, height), dpi=10)
    ax = fig.add_axes((0, 0, 1, 1))
    assert visualize(ax=ax, **options) is fig
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[5::10, 5::10, :3] / 255.0


def _close(rgb, colour, atol=0.03):
    return np.allclose(rgb, colour, atol=atol)


def test_heat_map_red_positive_blue_negative_white_zero_on_a_symmetric_scale():
    rgb = _pixels((1, 4), attribution=np.array([[2.0, -2.0, 0.0, 1.0]]), outlier_percentile=0)[0]
    assert _close(rgb[0], RED) and _close(rgb[1], BLUE) and _close(rgb[2], WHITE)
    assert _close(rgb[3], (1, 0.5, 0.5), atol=0.02)        # half the limit: half-strength red


def test_each_sign_keeps_its_part():
    a = np.array([[2.0, -2.0, 0.0, 1.0]])
    positive = _pixels((1, 4), attribution=a, sign="positive", outlier_percentile=0)[0]
    assert _close(positive[0], RED) and _close(positive[1], WHITE) and _close(positive[2], WHITE)
    negative = _pixels((1, 4), attribution=a, sign="negative", outlier_percentile=0)[0]
    assert _close(negative[1], BLUE) and _close(negative[0], WHITE) and _close(negative[3], WHITE)
    absolute = _pixels((1, 4), attribution=a, sign="absolute", outlier_percentile=0)[0]
    assert _close(absolute[0], absolute[1], atol=0.005) and absolute[0].max() < 0.6   # same dark colour
    assert absolute[2].min() > 0.95                                                      # zero: white
    np.testing.assert_allclose(normalize(a, "negative", 0), [[0, 1, 0, 0]])
    np.testing.assert_allclose(normalize(a, "absolute", 0), [[1, 1, 0, 0.5]])


def test_outlier_percentile_saturates_the_top_two_percent():
    a = np.arange(1.0, 101.0).reshape(10, 10)
    shown = normalize(a)                                   # outlier_percentile=2
    assert np.count_nonzero(shown == 1.0) == 2 and shown.max() == 1.0
    assert shown[0, 0] == pytest.approx(1 / np.percentile(a, 98))
    outliers = np.linspace(0.0, 1.0, 100)
    outliers[[17, 42]] = [50.0, 100.0]                     # two outliers: they saturate, the rest stays pale
    rgb = _pixels((10, 10), attribution=outliers.reshape(10, 10)).reshape(100, 3)
    assert _close(rgb[17], RED) and _close(rgb[42], RED)
    assert np.delete(rgb, [17, 42], axis=0)[:, 1].min() > 0.45
    assert np.count_nonzero(normalize(a, outlier_percentile=0) == 1.0) == 1
    # Captum's rule: L = the smallest value whose cumulative sum reaches 80 % of the total (1..10: 9)
    np.testing.assert_allclose(normalize(np.arange(1.0, 11.0).reshape(2, 5), outlier_percentile=20,
                                         outlier_rule="mass").ravel(), [*(np.arange(1, 10) / 9), 1])


def test_top_fraction_mask_keeps_exactly_the_ceiling_of_the_fraction():
    a = np.random.default_rng(0).standard_normal((10, 10))
    for fraction, count in ((0.25, 25), (0.123, 13), (0.3, 30), (1.0, 100)):
        kept = top_fraction_mask(a, fraction)
        assert kept.sum() == count == math.ceil(round(fraction * 100, 9))
        assert np.abs(a[kept]).min() > np.abs(a[~kept]).max() if count < 100 else kept.all()
    kept = top_fraction_mask(a, 0.1, "positive")
    assert kept.sum() == 10 and a[kept].min() > a[~kept].max() > 0       # the 10 most positive
    assert np.array_equal(top_fraction_mask(np.ones((2, 4)), 0.5), [[1, 1, 1, 1], [0, 0, 0, 0]])  # ties: row-major
    sparse = np.zeros((4, 4))
    sparse[0, :3] = [3.0, -1.0, 2.0]
    assert top_fraction_mask(sparse, 0.5, "positive").sum() == 2                  # only the positive ones


def test_masked_image_shows_the_image_on_exactly_the_kept_pixels():
    a = np.random.default_rng(1).standard_normal((6, 6))
    colour = (0.2, 0.6, 0.9)
    image = np.ones((6, 6, 3)) * colour
    rgb = _pixels((6, 6), attribution=a, image=image, method="masked_image", fraction=0.25)
    kept = top_fraction_mask(a, 0.25)
    assert kept.sum() == 9
    assert all(_close(rgb[i, j], colour if kept[i, j] else BLACK) for i in range(6) for j in range(6))
    # fraction=None: Captum's product of the image and the normalised strength
    rgb = _pixels((1, 3), attribution=np.array([[2.0, -1.0, 0.0]]), image=np.ones((1, 3)), method="masked_image",
                  fraction=None, outlier_percentile=0)[0]
    np.testing.assert_allclose(rgb[:, 0], [1, 0.5, 0], atol=0.01)


def test_blended_shows_the_image_where_attribution_is_zero_and_alpha_scaling_is_transparent_there():
    a = np.array([[2.0, -2.0, 0.0, 0.0]])
    image = np.array([[0.5, 0.5, 0.0, 1.0]])
    rgb = _pixels((1, 4), attribution=a, image=image, method="blended_heat_map", alpha=1.0, outlier_percentile=0)[0]
    assert _close(rgb[0], RED) and _close(rgb[1], BLUE) and _close(rgb[2], BLACK) and _close(rgb[3], WHITE)
    rgb = _pixels((1, 4), attribution=np.array([[2.0, 1.0, 0.0, -2.0]]), image=np.zeros((1, 4, 3)),
                  method="alpha_scaling", outlier_percentile=0)[0]
    np.testing.assert_allclose(rgb[:, 0], [0, 0.5, 1, 0], atol=0.01)    # black image, alpha 1 .. 0 over white
    drawn = plt.gcf().axes[0].images[0].get_array()
    np.testing.assert_allclose(drawn[0, :, 3], [1, 0.5, 0, 1])


def test_mask_blurs_then_keeps_the_share_above_the_threshold():
    a = np.random.default_rng(2).standard_normal((10, 10))
    kept = blur_mask(a, blur_sigma=0, threshold=0.5)
    assert kept.sum() == 50 and np.abs(a[kept]).min() > np.abs(a[~kept]).max()
    spike = np.zeros((21, 21))
    spike[10, 10] = 1.0
    kept = blur_mask(spike, blur_sigma=2.0, threshold=0.9)                  # the blurred spike's top 10 %
    distance = np.hypot(*np.mgrid[-10:11, -10:11])
    assert kept.sum() == 45 and distance[kept].max() <= distance[~kept].min()
    kept = blur_mask(a, blur_sigma=0)
    rgb = _pixels((10, 10), attribution=a, image=np.ones((10, 10)), method="mask", blur_sigma=0, dim=0.2)
    assert np.allclose(rgb[kept], 1, atol=0.02) and np.allclose(rgb[~kept], 0.2, atol=0.02)   # darkened outside


def test_channel_mask_colours_each_channel_by_its_own_mask():
    a = np.zeros((4, 4, 3))
    a[:, :2, 0] = 1.0     # red channel matters on the left
    a[:2, :, 1] = -1.0    # green on the top
    assert channel_masks(a, 0, 0.5).sum(axis=(0, 1)).tolist() == [8, 8, 0]
    rgb = _pixels((4, 4), attribution=a, method="channel_mask", blur_sigma=0)
    assert _close(rgb[0, 0], (1, 1, 0)) and _close(rgb[0, 3], (0, 1, 0))
    assert _close(rgb[3, 0], RED) and _close(rgb[3, 3], BLACK)
    rgb = _pixels((4, 4), attribution=a, image=np.ones((4, 4, 3)), method="channel_mask", blur_sigma=0, dim=0.2)
    assert _close(rgb[3, 0], (1, 0.2, 0.2)) and _close(rgb[3, 3], (0.2, 0.2, 0.2))


def test_nan_stays_grey():
    rgb = _pixels((1, 2), attribution=np.array([[np.nan, 1.0]]), sign="positive")[0]
    assert _close(rgb[0], matplotlib.colors.to_rgb("0.75"), atol=0.01)


def test_text_strip_colours_tokens_and_wraps():
    scores = [2.0, -2.0, 0.0, 1.0]
    fig = text_strip(["good", "bad", "meh", "<b>"], scores, dpi=50)
    ax = fig.axes[0]
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    for patch, colour in zip(ax.patches, [RED, BLUE, WHITE, (1, 0.5, 0.5)]):
        box = patch.get_window_extent()
        x, y = int(box.x0 + 2), int(fig.bbox.height - (box.y0 + box.y1) / 2)   # inside the box, left of the text
        assert _close(pixels[y, x], colour, atol=0.02), (patch, pixels[y, x])
    assert [t.get_text() for t in ax.texts] == ["good", "bad", "meh", "<b>"] and ax.texts[0].get_color() == "white"
    wrapped = text_strip(["word"] * 12, np.linspace(-1, 1, 12), width=1.5).axes[0]
    rows = sorted({p.get_y() for p in wrapped.patches})
    assert len(rows) > 2 and all(p.get_x() + p.get_width() <= 1.5 * 72 for p in wrapped.patches)


def test_text_html_escapes_tokens_and_colours_backgrounds():
    page = text_html(["<b>", "bad", "so-so"], [1.0, -1.0, 0.0])
    assert "&lt;b&gt;" in page and "<b>" not in page and page.count("<span") == 3
    backgrounds = [part.split(";")[0] for part in page.split("background-color: ")[1:]]
    assert backgrounds[:2] == ["#ff0000", "#0000ff"]
    assert min(matplotlib.colors.to_rgb(backgrounds[2])) > 0.95


def test_ax_gives_that_axes_figure_and_no_new_figure():
    fig, axes = plt.subplots(1, 3)
    count = len(plt.get_fignums())
    image = np.zeros((3, 3))
    for method in ("heat_map", "blended_heat_map", "masked_image", "alpha_scaling", "mask", "original_image"):
        assert visualize(np.eye(3), image, method=method, ax=axes[0]) is fig
    assert visualize(np.ones((3, 3, 3)), method="channel_mask", ax=axes[0]) is fig
    assert text_strip(["a", "b"], [1, -1], ax=axes[1]) is fig
    sub = plt.figure().subfigures(1, 2)[0]
    assert grid(None, {"m": np.ones((2, 3, 3))}, fig=sub) is sub.get_figure(root=True)
    assert len(plt.get_fignums()) == count + 1


def test_colorbar_adds_an_axes_with_the_limits():
    a = np.array([[4.0, -1.0], [0.0, 2.0]])
    fig = visualize(a, colorbar=True, outlier_percentile=0)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylim() == pytest.approx((-4, 4))
    fig = visualize(a, sign="positive", colorbar=True, outlier_percentile=0)
    assert fig.axes[1].get_ylim() == pytest.approx((0, 4))
    assert len(text_strip(["a"], [1.0], colorbar=True).axes) == 2


def test_grid_titles_rows_and_columns():
    images = np.random.default_rng(3).random((2, 4, 4))
    maps = {"up": images - 0.5, "down": 0.5 - images}
    fig = grid(images, maps, row_titles=["x", "y"], method=["heat_map", "masked_image"], fraction=0.5)
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["input", "up", "down"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["x", "y"]
    np.testing.assert_allclose(axes[1, 1].images[0].get_array(), maps["up"][1])
    kept, grey = top_fraction_mask(maps["down"][1], 0.5), images[1]
    stretched = (grey - grey.min()) / (grey.max() - grey.min())   # grey images are stretched as imshow does
    np.testing.assert_allclose(axes[1, 2].images[0].get_array()[..., 0], np.where(kept, stretched, 0), atol=0.005)
    fig = grid(None, [maps["up"]], column_titles=["only"], sign="absolute")
    assert [ax.get_title() for ax in fig.axes] == ["only", ""]


@pytest.mark.parametrize("call, message", [
    (lambda: visualize(np.ones((2, 2)), method="heatmap"), r"method: expected one of 'heat_map', .*got 'heatmap'"),
    (lambda: visualize(np.ones((2, 2)), sign="pos"), r"sign: expected one of 'all', 'positive', 'negative', "
                                                      r"'absolute', got 'pos'"),
    (lambda: visualize(np.ones((2, 2)), outlier_percentile=100),
     r"outlier_percentile: expected a number in \[0, 100\), got 100"),
    (lambda: top_fraction_mask(np.ones((2, 2)), 0), r"fraction: expected a number in \(0, 1\], got 0"),
    (lambda: blur_mask(np.ones((2, 2)), threshold=1.5), r"threshold: expected a number in \[0, 1\], got 1.5"),
    (lambda: visualize(np.ones((2, 2)), method="mask"), r"image: method 'mask' draws over the input image, got None"),
    (lambda: visualize(np.ones((2, 2)), np.ones((2, 3)), method="mask"),
     r"image: expected height and width \(2, 2\) like the attribution, got shape \(2, 3\)"),
    (lambda: visualize(np.ones((2, 2)), method="channel_mask"),
     r"attribution: expected shape \(H, W, 3\) or \(H, W, 1\) for method 'channel_mask', got \(2, 2\)"),
    (lambda: visualize(np.ones((2, 2)), np.ones((2, 2)), method="mask", colorbar=True), r"colorbar: only 'heat_map'"),
    (lambda: visualize(np.ones(4)), r"attribution: expected shape \(H, W\) or \(H, W, C\), got \(4,\)"),
    (lambda: grid(np.ones((2, 3, 3)), {"m": np.ones((2, 3, 4))}),
     r"maps_by_column\['m'\]: expected shape \(2, 3, 3\) or \(2, 3, 3, C\) like the images, got \(2, 3, 4\)"),
    (lambda: grid(None, {"m": np.ones((2, 3, 3))}, row_titles=["a"]), r"row_titles: expected 2 labels, got \['a'\]"),
    (lambda: grid(None, {"m": np.ones((2, 3, 3))}, method=["heat_map"] * 2), r"method: expected .* a list of 1 "),
    (lambda: text_html("a sentence", [1.0]), r"tokens: expected a sequence of strings.*split the text"),
    (lambda: text_strip(["a", "b"], np.ones((2, 8))), r"scores: expected 2 numbers, shape \(2,\) like tokens"),
])
def test_bad_arguments_name_the_argument(call, message):
    with pytest.raises(ExplainValueError, match=message) as caught:
        call()
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, ValueError)
