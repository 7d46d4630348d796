"""Pictures mean what they say: red positive, blue negative, white zero, symmetric scale."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from deepexplain_ng.plot import compare, heatmap, limits  # noqa: E402


def _colours(attribution):
    fig, ax = plt.subplots()
    shown = heatmap(attribution, ax)
    rgba = shown.to_rgba(shown.get_array())
    plt.close(fig)
    return rgba


def test_positive_is_red_negative_is_blue_zero_is_white():
    rgba = _colours(np.array([[1.0, -1.0, 0.0]]))
    red, blue, white = rgba[0, 0], rgba[0, 1], rgba[0, 2]
    assert red[0] > 0.9 and red[2] < 0.1
    assert blue[2] > 0.9 and blue[0] < 0.1
    assert np.all(white[:3] > 0.95)


def test_scale_is_symmetric_and_channels_are_summed():
    a = np.zeros((2, 2, 3))
    a[0, 0] = [1.0, 1.0, 1.0]     # +3 after summing channels
    a[1, 1] = [-1.0, -0.5, 0.0]   # -1.5
    rgba = _colours(a)
    assert rgba[0, 0, 0] > 0.9 and rgba[0, 0, 2] < 0.1          # full red
    assert 0.4 < rgba[1, 1, 0] < 0.6 and rgba[1, 1, 2] > 0.9     # half-strength blue
    assert limits(np.array([-4.0, 2.0]), 100) == 4.0
    assert limits(np.zeros(3)) == 1.0  # all-zero maps still draw


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"attribution: expected shape \(H, W\) or \(H, W, C\), got \(5,\)"):
        heatmap(np.zeros(5))
    with pytest.raises(ValueError, match=r"attributions\['saliency'\]: expected shape \(2, 4, 4\)"):
        compare(np.zeros((2, 4, 4, 1)), {"saliency": np.zeros((2, 3, 4, 1))})


def test_compare_writes_a_grid(tmp_path):
    images = np.random.default_rng(0).random((3, 5, 5, 1))
    fig = compare(images, {"a": images - 0.5, "b": 0.5 - images}, titles=["x", "y", "z"],
                  path=tmp_path / "grid.png")
    assert len(fig.axes) == 9 and (tmp_path / "grid.png").stat().st_size > 1000
    plt.close(fig)
