"""Pictures of attributions: red = positive evidence, blue = negative, white = none.

Every heat map is drawn with the diverging colormap ``bwr`` on limits symmetric around 0
(``-L .. +L``, ``L`` = a percentile of ``|attribution|``), so white always means 0 and the
same colour strength means the same magnitude on both sides. NaN (e.g. features no
occlusion window covers) is drawn grey.

- :func:`visualize`: one picture in the modes of Captum's ``visualize_image_attr`` and TruLens'
  visualizers (``heat_map``, ``blended_heat_map``, ``masked_image``, ``alpha_scaling``, ``mask``,
  ``channel_mask``, ``original_image``; ``sign`` all / positive / negative / absolute; outlier
  clipping; colour bar); the arrays behind it: :func:`normalize`, :func:`top_fraction_mask`,
  :func:`blur_mask`, :func:`channel_masks` (in ``plot_modes.py``).
- :func:`grid`: samples by rows, maps by columns, with row and column titles; :func:`compare`:
  inputs then one heat map per method.
- :func:`text_strip` and :func:`text_html`: tokens on coloured boxes (in ``plot_text.py``).
- :func:`heatmap`, :func:`overlay`, :func:`limits`: the first pictures (they return the ``AxesImage``).

matplotlib is imported only inside the functions, and no backend is chosen here: scripts
without a display set ``MPLBACKEND=Agg`` (or call ``matplotlib.use``) before importing pyplot.
"""
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import ExplainValueError
from .plot_modes import (ABSOLUTE_CMAP, CMAP, METHODS, NAN_COLOUR, SIGNS, _as_map, _check_image, _choice,
                         _clean, _cmap, _figure_of, _new_axes, blur_mask, channel_masks, normalize, top_fraction_mask,
                         visualize)
from .plot_text import text_html, text_strip

__all__ = ["limits", "heatmap", "overlay", "compare", "visualize", "grid", "normalize", "top_fraction_mask",
           "blur_mask", "channel_masks", "text_strip", "text_html", "CMAP", "ABSOLUTE_CMAP", "NAN_COLOUR",
           "METHODS", "SIGNS"]
_LUMINANCE = np.array([0.299, 0.587, 0.114])


def _colormap():
    return _cmap()


def _check_percentile(percentile):
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float, np.number)) \
            or not 0 < percentile <= 100:
        raise ExplainValueError(f"percentile: expected a number in (0, 100], got {percentile!r}.")


def _grey(image, shape=None):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> (H, W) grey levels (luminance for RGB)."""
    img = _check_image(image, shape).astype(np.float64)
    if img.ndim == 3:
        img = img[..., 0] if img.shape[-1] == 1 else img[..., :3] @ _LUMINANCE
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


def _per_column(name, value, count, valid):
    """One value for every column, or a sequence of ``count`` values: a list of ``count``."""
    values = [value] * count if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if values is None or len(values) != count:
        raise ExplainValueError(f"{name}: expected one of {', '.join(map(repr, valid))} or a list of {count} "
                                f"(one per column), got {value!r}.")
    return [_choice(name, v, valid) for v in values]


def grid(images, maps_by_column, row_titles=None, column_titles=None, method="heat_map", sign="all",
         show_images=True, image_cmap="gray", path=None, fig=None, dpi=80, cell_size=1.6, **options):
    """A grid of pictures: one row per sample (its input first), one column per map, with titles.

    Args:
        images: the inputs, ``(n, H, W)``, ``(n, H, W, 1)`` or ``(n, H, W, 3|4)``; None draws
            only heat maps (``method="heat_map"`` or ``"channel_mask"``) and no input column.
        maps_by_column: ``{column title: array (n, H, W) or (n, H, W, C)}`` (drawn in order), or
            a list of such arrays (titled by ``column_titles``).
        row_titles: optional ``n`` labels, shown left of each row.
        column_titles: optional labels of the map columns (default: the mapping's keys).
        method, sign: as in :func:`visualize`, one for every column or a list with one per column
            (e.g. one attribution under every method).
        show_images: draw the input in a first column titled "input".
        image_cmap: colormap of single-channel inputs (``"gray_r"``: high values dark).
        path: where to save the figure (PNG by the extension), optional.
        fig: a matplotlib ``Figure`` or ``SubFigure`` to draw in (default: a new figure).
        dpi, cell_size: resolution and the size of one cell in inches (new figures).
        options: passed to :func:`visualize` (``outlier_percentile``, ``colorbar``, ``cmap``,
            ``alpha``, ``fraction``, ``blur_sigma``, ``threshold``, ``dim``, ``outlier_rule``).
    Returns:
        The matplotlib ``Figure`` (close it with ``plt.close(fig)`` when done); its axes row by row.
    Raises:
        ExplainValueError: naming the argument, the expected and the given shape or value.
    """
    import matplotlib.pyplot as plt

    if isinstance(maps_by_column, Mapping):
        keys, maps = [str(k) for k in maps_by_column], list(maps_by_column.values())
    elif isinstance(maps_by_column, Sequence) and not isinstance(maps_by_column, str):
        keys, maps = [f"map {i}" for i in range(len(maps_by_column))], list(maps_by_column)
    else:
        raise ExplainValueError("maps_by_column: expected a dict {title: array (n, H, W[, C])} or a list of "
                                f"arrays, got {type(maps_by_column).__name__}.")
    if not maps:
        raise ExplainValueError("maps_by_column: expected at least one map, got none.")
    maps = [np.asarray(a) for a in maps]
    if images is not None:
        images = np.asarray(images)
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3, 4))) or 0 in images.shape:
            raise ExplainValueError("images: expected shape (n, H, W), (n, H, W, 1) or (n, H, W, 3|4), "
                                    f"got {images.shape}.")
    first = images.shape[:3] if images is not None else maps[0].shape[:3]
    for key, a in zip(keys, maps):
        if a.ndim not in (3, 4) or a.shape[:3] != first:
            dims = ", ".join(map(str, first))
            raise ExplainValueError(f"maps_by_column[{key!r}]: expected shape ({dims}) or ({dims}, C) "
                                    f"{'like the images' if images is not None else 'like the first map'}, "
                                    f"got {a.shape}.")
    n, count = first[0], len(maps)
    for name, titles, expected in (("row_titles", row_titles, n), ("column_titles", column_titles, count)):
        if titles is not None and (isinstance(titles, str) or len(titles) != expected):
            raise ExplainValueError(f"{name}: expected {expected} labels, got {titles!r}.")
    methods = _per_column("method", method, count, METHODS)
    signs = _per_column("sign", sign, count, SIGNS)
    titles = keys if column_titles is None else [str(t) for t in column_titles]
    show_images = show_images and images is not None

    columns = count + show_images
    new = fig is None
    if new:
        wide = 1.35 if options.get("colorbar") else 1.0
        fig = plt.figure(figsize=(cell_size * (show_images + count * wide), cell_size * n + 0.3), dpi=dpi)
    axes = np.asarray(fig.subplots(n, columns, squeeze=False))
    for row in range(n):
        if show_images:
            picture = images[row, ..., 0] if images.shape[-1:] == (1,) and images.ndim == 4 else images[row]
            axes[row, 0].imshow(picture, cmap=image_cmap if picture.ndim == 2 else None, interpolation="nearest")
            _clean(axes[row, 0])
        for col in range(count):
            visualize(maps[col][row], None if images is None else images[row], method=methods[col], sign=signs[col],
                      ax=axes[row, col + show_images], image_cmap=image_cmap, **options)
        if row_titles is not None:
            axes[row, 0].set_ylabel(str(row_titles[row]), fontsize=9)
    if show_images:
        axes[0, 0].set_title("input", fontsize=9)
    for col, title in enumerate(titles):
        axes[0, col + show_images].set_title(title, fontsize=9)
    root = _figure_of(fig)
    if new:
        fig.tight_layout()
    if path is not None:
        root.savefig(path, dpi=dpi, bbox_inches="tight")
    return root
