"""Pictures of attributions: red = positive evidence, blue = negative, white = none.

Every map is drawn with the diverging colormap ``bwr`` on limits symmetric around 0
(``-L .. +L``, ``L`` = a percentile of ``|attribution|``), so white always means 0 and the
same colour strength means the same magnitude on both sides. NaN (e.g. features no
occlusion window covers) is drawn grey.

matplotlib is imported only inside the functions, and no backend is chosen here: scripts
without a display set ``MPLBACKEND=Agg`` (or call ``matplotlib.use``) before importing pyplot.
"""
from collections.abc import Mapping

import numpy as np

from .errors import ExplainValueError

#: Diverging colormap name: blue (negative) - white (0) - red (positive).
CMAP = "bwr"
#: Colour of NaN attributions.
NAN_COLOUR = "0.75"
_LUMINANCE = np.array([0.299, 0.587, 0.114])


def _colormap():
    import matplotlib

    return matplotlib.colormaps[CMAP].with_extremes(bad=NAN_COLOUR)


def _as_map(attribution, name="attribution"):
    """(H, W) or (H, W, C) -> (H, W) float64, channels summed (NaN kept)."""
    a = np.asarray(attribution)
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise ExplainValueError(f"{name}: expected shape (H, W) or (H, W, C), got {a.shape}.")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ExplainValueError(f"{name}: expected numbers, got dtype {a.dtype}.")
    a = a.astype(np.float64)
    return a.sum(axis=-1) if a.ndim == 3 else a


def _check_percentile(percentile):
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float, np.number)) \
            or not 0 < percentile <= 100:
        raise ExplainValueError(f"percentile: expected a number in (0, 100], got {percentile!r}.")


def _grey(image, shape=None):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> (H, W) grey levels (luminance for RGB)."""
    img = np.asarray(image)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] in (1, 3, 4))) or 0 in img.shape:
        raise ExplainValueError(f"image: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {img.shape}.")
    img = img.astype(np.float64)
    if img.ndim == 3:
        img = img[..., 0] if img.shape[-1] == 1 else img[..., :3] @ _LUMINANCE
    if shape is not None and img.shape != tuple(shape):
        raise ExplainValueError(f"image: expected height and width {tuple(shape)} like the attribution, "
                                f"got shape {np.shape(image)}.")
    return img


def limits(attribution, percentile=99):
    """The symmetric colour limit ``L`` (the scale is ``-L .. +L``).

    Args:
        attribution: array of any shape; NaN and inf are ignored.
        percentile: ``L`` is this percentile of ``|attribution|``, in (0, 100]; values beyond
            it saturate. 100 = the largest magnitude.
    Returns:
        ``L`` as a float, or 1.0 when the attribution is all zero (so it draws white).
    """
    _check_percentile(percentile)
    values = np.abs(np.asarray(attribution, dtype=np.float64))
    values = values[np.isfinite(values)]
    limit = np.percentile(values, percentile) if values.size else 0.0
    return float(limit) if limit > 0 else 1.0


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.figure().add_subplot()


def _clean(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def heatmap(attribution, ax=None, percentile=99):
    """Draw one attribution map.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)`` array; channels are summed to ``(H, W)``.
        ax: matplotlib axes to draw in (default: the axes of a new figure).
        percentile: the colour scale spans ``-L .. +L`` with ``L`` this percentile of
            ``|attribution|`` (after summing channels); see :func:`limits`.
    Returns:
        The ``AxesImage``: red = positive, blue = negative, white = 0.
    Raises:
        ValueError: on another shape or a percentile outside (0, 100].
    """
    a = _as_map(attribution)
    limit = limits(a, percentile)
    ax = _new_axes(ax)
    shown = ax.imshow(a, cmap=_colormap(), vmin=-limit, vmax=limit, interpolation="nearest")
    _clean(ax)
    return shown


def overlay(attribution, image, ax=None, alpha=0.8, percentile=99, image_cmap="gray"):
    """Draw an attribution map over a grayscale version of ``image``.

    The image is drawn in grey; on top, each pixel's heatmap colour is blended with opacity
    ``alpha * min(|a| / L, 1)``: strong attributions show in red/blue, zero leaves the image
    visible untouched.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)`` array; channels are summed.
        image: the input, ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3|4)`` (RGB turned into
            luminance), with the attribution's ``H`` and ``W``.
        ax: matplotlib axes (default: the axes of a new figure).
        alpha: opacity of the strongest attributions, in [0, 1].
        percentile: colour limit ``L`` as in :func:`heatmap`.
        image_cmap: colormap of the grey image; ``"gray_r"`` draws high values dark (ink on
            paper, e.g. digits scaled to [0, 1]).
    Returns:
        The heatmap's ``AxesImage`` (the upper layer).
    Raises:
        ValueError: on mismatched or unsupported shapes, alpha outside [0, 1].
    """
    a = _as_map(attribution)
    grey = _grey(image, a.shape)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not 0 <= alpha <= 1:
        raise ExplainValueError(f"alpha: expected a number in [0, 1], got {alpha!r}.")
    limit = limits(a, percentile)
    ax = _new_axes(ax)
    ax.imshow(grey, cmap=image_cmap, interpolation="nearest")
    strength = np.nan_to_num(np.clip(np.abs(a) / limit, 0.0, 1.0), nan=1.0)
    shown = ax.imshow(a, cmap=_colormap(), vmin=-limit, vmax=limit, interpolation="nearest",
                      alpha=alpha * strength)
    _clean(ax)
    return shown


def _image_for_display(image):
    """One input as imshow wants it: (H, W) grey or (H, W, 3|4) colour."""
    return image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image


def compare(images, attributions_by_method, titles=None, path=None, percentile=99, on_image=False,
            image_cmap="gray_r", dpi=80, cell_size=1.6):
    """A grid of attributions: one row per sample, its input first, then one column per method.

    Each map has its own symmetric colour scale (red positive, blue negative, white 0).

    Args:
        images: the inputs, ``(n, H, W)``, ``(n, H, W, 1)`` or ``(n, H, W, 3|4)``.
        attributions_by_method: ``{method name: array (n, H, W) or (n, H, W, C)}`` (channels
            summed), drawn left to right in the mapping's order.
        titles: optional ``n`` row labels (e.g. the explained class), shown left of each row.
        path: where to save the figure (PNG by the extension), optional.
        percentile: colour limit of each map, see :func:`limits`.
        on_image: draw each map with :func:`overlay` over its input instead of alone.
        image_cmap: colormap of single-channel inputs (``"gray_r"``: high values dark).
        dpi, cell_size: figure resolution and the size of one cell in inches.
    Returns:
        The matplotlib ``Figure`` (close it with ``plt.close(fig)`` when done).
    Raises:
        ValueError: naming the argument, the expected and the given shape.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3, 4))) or 0 in images.shape:
        raise ExplainValueError("images: expected shape (n, H, W), (n, H, W, 1) or (n, H, W, 3|4), "
                                f"got {images.shape}.")
    n, height, width = images.shape[:3]
    if not isinstance(attributions_by_method, Mapping) or not attributions_by_method:
        raise ExplainValueError("attributions_by_method: expected a non-empty dict {method name: array "
                                f"({n}, {height}, {width}[, C])}}, got {type(attributions_by_method).__name__}"
                                f"{' (empty)' if isinstance(attributions_by_method, Mapping) else ''}.")
    maps = {}
    for method, a in attributions_by_method.items():
        shape = np.shape(a)
        if len(shape) not in (3, 4) or shape[:3] != (n, height, width):
            raise ExplainValueError(f"attributions_by_method['{method}']: expected shape ({n}, {height}, {width}) "
                                    f"or ({n}, {height}, {width}, C) like the images, got {shape}.")
        maps[method] = np.asarray(a)
    if titles is not None and len(titles) != n:
        raise ExplainValueError(f"titles: expected {n} labels (one per image), got {len(titles)}.")

    columns = 1 + len(maps)
    fig, axes = plt.subplots(n, columns, figsize=(cell_size * columns, cell_size * n + 0.3), dpi=dpi,
                             squeeze=False)
    for row in range(n):
        picture = _image_for_display(images[row])
        axes[row, 0].imshow(picture, cmap=image_cmap if picture.ndim == 2 else None, interpolation="nearest")
        _clean(axes[row, 0])
        if titles is not None:
            axes[row, 0].set_ylabel(str(titles[row]), fontsize=9)
        for col, (method, a) in enumerate(maps.items(), start=1):
            if on_image:
                overlay(a[row], images[row], axes[row, col], percentile=percentile, image_cmap=image_cmap)
            else:
                heatmap(a[row], axes[row, col], percentile)
            if row == 0:
                axes[row, col].set_title(method, fontsize=9)
    axes[0, 0].set_title("input", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return fig
