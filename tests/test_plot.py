"""Pictures mean what they say: red positive, blue negative, white zero, one symmetric scale,
channels summed, the input visible under an overlay, and clear errors for wrong shapes."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deepexplain_ng.plot import compare, heatmap, limits, overlay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _colours(attribution, **options):
    """RGBA of every cell as heatmap draws it."""
    shown = heatmap(attribution, plt.subplots()[1], **options)
    return shown.to_rgba(shown.get_array())


def _rendered(draw, cells):
    """Draw a one-row picture filling a figure; the RGB at the centre of each of its cells."""
    fig = plt.figure(figsize=(cells, 1), dpi=40)
    ax = fig.add_axes((0, 0, 1, 1))
    draw(ax)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    return pixels[20, 20::40][:cells]


def test_positive_is_red_negative_is_blue_zero_is_white():
    rgba = _colours(np.array([[1.0, -1.0, 0.0]]))
    red, blue, white = rgba[0, 0], rgba[0, 1], rgba[0, 2]
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1
    assert blue[2] > 0.9 and blue[0] < 0.1 and blue[1] < 0.1
    assert np.all(white[:3] > 0.95)


def test_the_scale_is_symmetric_at_the_percentile():
    a = np.array([[0.5, -0.25, 0.1, 8.0]])
    shown = heatmap(a, plt.subplots()[1], percentile=100)
    assert shown.get_clim() == (-8.0, 8.0)
    # the default (99th percentile) lets one outlier saturate instead of washing out the rest
    values = np.linspace(-1, 1, 201)
    values[0] = -50.0
    low, high = heatmap(values.reshape(1, -1), plt.subplots()[1]).get_clim()
    assert low == -high and high == pytest.approx(np.percentile(np.abs(values), 99))
    assert limits(np.array([-4.0, 2.0]), 100) == 4.0
    assert limits(np.array([np.nan, -3.0, np.inf]), 100) == 3.0   # NaN and inf ignored
    assert limits(np.zeros(3)) == 1.0                              # all-zero maps still draw (white)
    # the same magnitude gives the same strength on both sides: -a mirrors a's colours
    rgba, mirrored = _colours(a, percentile=100), _colours(-a, percentile=100)
    np.testing.assert_allclose(rgba[..., [0, 1, 2]], mirrored[..., [2, 1, 0]], atol=0.01)


def test_channels_are_summed():
    a = np.zeros((2, 2, 3))
    a[0, 0] = [1.0, 1.0, 1.0]     # +3 after summing channels
    a[1, 1] = [-1.0, -0.5, 0.0]   # -1.5
    a[0, 1] = [2.0, -2.0, 0.0]    # 0: white
    rgba = _colours(a, percentile=100)
    assert rgba[0, 0, 0] > 0.9 and rgba[0, 0, 2] < 0.1          # full red
    assert 0.4 < rgba[1, 1, 0] < 0.6 and rgba[1, 1, 2] > 0.9     # half-strength blue
    assert np.all(rgba[0, 1, :3] > 0.95)
    np.testing.assert_allclose(rgba, _colours(a.sum(axis=-1), percentile=100))


def test_nan_is_grey_not_white():
    nan = _colours(np.array([[np.nan, 1.0, 0.0]]))[0, 0]
    assert np.allclose(nan[:3], matplotlib.colors.to_rgb("0.75")) and nan[3] == 1


def test_overlay_tints_the_image_red_and_blue_and_leaves_it_where_attribution_is_zero():
    attribution = np.array([[2.0, -2.0, 0.0, 0.0, 0.0]])
    image = np.array([[0.5, 0.5, 0.5, 0.0, 1.0]])
    for picture in (image, image[..., None], np.repeat(image[..., None], 3, axis=-1)):  # grey, 1 or 3 channels
        rgb = _rendered(lambda ax: overlay(attribution, picture, ax), cells=5)
        red, blue, grey, black, white = rgb
        assert red[0] > 0.8 and red[0] > red[2] + 0.5
        assert blue[2] > 0.8 and blue[2] > blue[0] + 0.5
        np.testing.assert_allclose(grey, [0.5, 0.5, 0.5], atol=0.02)   # zero attribution: the image itself
        np.testing.assert_allclose(black, [0, 0, 0], atol=0.02)
        np.testing.assert_allclose(white, [1, 1, 1], atol=0.02)
    # alpha=0 shows only the image; gray_r draws high values dark
    np.testing.assert_allclose(_rendered(lambda ax: overlay(attribution, image, ax, alpha=0, image_cmap="gray_r"),
                                         cells=5)[:, 0], [0.5, 0.5, 0.5, 1, 0], atol=0.02)


def test_overlay_uses_the_luminance_of_colour_images():
    image = np.zeros((1, 2, 3))
    image[0, 0] = [1.0, 0, 0]    # red: luminance 0.299
    image[0, 1] = [0, 1.0, 0]    # green: 0.587, the lighter grey
    rgb = _rendered(lambda ax: overlay(np.zeros((1, 2)), image, ax), cells=2)
    assert rgb[0, 0] < rgb[1, 0] and np.allclose(rgb[:, 0], rgb[:, 1], atol=0.01)


def test_bad_inputs_are_refused_with_shapes():
    with pytest.raises(ValueError, match=r"attribution: expected shape \(H, W\) or \(H, W, C\), got \(5,\)"):
        heatmap(np.zeros(5))
    with pytest.raises(ValueError, match=r"attribution: expected shape .*got \(1, 2, 3, 4\)"):
        heatmap(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"percentile: expected a number in \(0, 100\], got 0"):
        heatmap(np.zeros((2, 2)), percentile=0)
    with pytest.raises(ValueError, match=r"percentile: .*got 150"):
        limits(np.ones(3), 150)
    with pytest.raises(ValueError, match=r"image: expected height and width \(4, 4\) like the attribution, "
                                         r"got shape \(4, 5\)"):
        overlay(np.zeros((4, 4, 1)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"image: expected shape \(H, W\), \(H, W, 1\).*got \(4, 4, 2\)"):
        overlay(np.zeros((4, 4)), np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"alpha: expected a number in \[0, 1\], got 2"):
        overlay(np.zeros((4, 4)), np.zeros((4, 4)), alpha=2)
    with pytest.raises(ValueError, match=r"attributions_by_method\['saliency'\]: expected shape \(2, 4, 4\) "
                                         r"or \(2, 4, 4, C\) like the images, got \(2, 3, 4, 1\)"):
        compare(np.zeros((2, 4, 4, 1)), {"saliency": np.zeros((2, 3, 4, 1))})
    with pytest.raises(ValueError, match=r"images: expected shape \(n, H, W\).*got \(4, 4\)"):
        compare(np.zeros((4, 4)), {"saliency": np.zeros((4, 4))})
    with pytest.raises(ValueError, match=r"attributions_by_method: expected a non-empty dict"):
        compare(np.zeros((2, 4, 4)), {})
    with pytest.raises(ValueError, match=r"titles: expected 2 labels \(one per image\), got 3"):
        compare(np.zeros((2, 4, 4)), {"a": np.zeros((2, 4, 4))}, titles=["x", "y", "z"])


def test_compare_draws_inputs_then_one_column_per_method(tmp_path):
    images = np.random.default_rng(0).random((3, 5, 5, 1))
    maps = {"up": images - 0.5, "down": 0.5 - images}
    fig = compare(images, maps, titles=["x", "y", "z"], path=tmp_path / "grid.png")
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["input", "up", "down"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["x", "y", "z"]
    for row in range(3):
        np.testing.assert_array_equal(axes[row, 0].images[0].get_array(), images[row, ..., 0])
        up, down = (axes[row, col].images[0] for col in (1, 2))
        np.testing.assert_allclose(up.get_array(), maps["up"][row, ..., 0])
        assert up.get_clim()[0] == -up.get_clim()[1]
        # opposite maps, opposite colours
        np.testing.assert_allclose(up.to_rgba(up.get_array())[..., :3],
                                   down.to_rgba(down.get_array())[..., 2::-1], atol=0.01)
    assert (tmp_path / "grid.png").stat().st_size > 1000
    # overlays: the input under each map
    fig = compare(images[:, :, :, 0], {"up": maps["up"][..., 0]}, on_image=True)
    assert [len(ax.images) for ax in fig.axes] == [1, 2] * 3
