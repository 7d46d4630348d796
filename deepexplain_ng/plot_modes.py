"""The picture modes (Captum's ``visualize_image_attr``, TruLens' mask visualizers) and the
conventions every picture of :mod:`deepexplain_ng.plot` shares; import them from there.

Conventions: red = positive, blue = negative, white = 0 on limits symmetric around 0; NaN grey.
The bottom of the plot modules: numpy, matplotlib (inside functions, no backend chosen),
scikit-image and ``.errors`` only.
"""
import math
from numbers import Real

import numpy as np

from .errors import ExplainValueError

#: Diverging colormap name: blue (negative) - white (0) - red (positive).
CMAP = "bwr"
#: Sequential colormap of ``sign="absolute"`` (white - purple: both signs alike).
ABSOLUTE_CMAP = "Purples"
#: Colour of NaN attributions.
NAN_COLOUR = "0.75"
METHODS = ("heat_map", "blended_heat_map", "masked_image", "alpha_scaling", "mask", "channel_mask",
           "original_image")
SIGNS = ("all", "positive", "negative", "absolute")
OUTLIER_RULES = ("percentile", "mass")
_SCALED = ("heat_map", "blended_heat_map")   # the methods with a colour scale
_LUMINANCE = np.array([0.299, 0.587, 0.114])


def _cmap(cmap=None, half=None):
    """A Colormap with NaN grey: ``cmap`` (name or Colormap, default :data:`CMAP`); ``half`` =
    "upper" / "lower" gives bwr's white-red / white-blue half."""
    import matplotlib
    from matplotlib.colors import Colormap, LinearSegmentedColormap

    base = cmap if isinstance(cmap, Colormap) else matplotlib.colormaps[cmap or CMAP]
    if half is not None:
        base = LinearSegmentedColormap.from_list(f"{base.name}_{half}",
                                                 base(np.linspace(0.5, 1.0 if half == "upper" else 0.0, 128)))
    return base.with_extremes(bad=NAN_COLOUR)


def _as_map(attribution, name="attribution"):
    """(H, W) or (H, W, C) -> (H, W) float64, channels summed (NaN kept)."""
    a = np.asarray(attribution)
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise ExplainValueError(f"{name}: expected shape (H, W) or (H, W, C), got {a.shape}.")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ExplainValueError(f"{name}: expected numbers, got dtype {a.dtype}.")
    a = a.astype(np.float64)
    return a.sum(axis=-1) if a.ndim == 3 else a


def _number(name, value, low, high, open_low=False, open_high=False):
    """``value`` as a float, or ExplainValueError naming ``name`` and the interval."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
            or not (low < value if open_low else low <= value) or not (value < high if open_high else value <= high):
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise ExplainValueError(f"{name}: expected a number in {interval}, got {value!r}.")
    return float(value)


def _choice(name, value, valid):
    if not isinstance(value, str) or value not in valid:
        raise ExplainValueError(f"{name}: expected one of {', '.join(map(repr, valid))}, got {value!r}.")
    return value


def _check_image(image, shape=None):
    img = np.asarray(image)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] in (1, 3, 4))) or 0 in img.shape:
        raise ExplainValueError(f"image: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {img.shape}.")
    if shape is not None and img.shape[:2] != tuple(shape):
        raise ExplainValueError(f"image: expected height and width {tuple(shape)} like the attribution, "
                                f"got shape {img.shape}.")
    return img


def _stretch(x, always):
    finite = x[np.isfinite(x)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if high > low and (always or low < 0 or high > 1):
        x = (x - low) / (high - low)
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _rgb(image, shape, image_cmap="gray", grey=False):
    """An image as (H, W, 3) floats in [0, 1]. Colour: integers / 255, floats in [0, 1] as they are,
    other ranges stretched min-max. Grey (one channel, or the luminance if ``grey``): stretched
    min-max as ``imshow`` does, through ``image_cmap``. NaN is black."""
    img = _check_image(image, shape)
    x = img.astype(np.float64) / (255.0 if np.issubdtype(img.dtype, np.integer) else 1.0)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 3 and grey:
        x = x[..., :3] @ _LUMINANCE
    if x.ndim == 3:
        return _stretch(x[..., :3], always=False)
    return _cmap(image_cmap)(_stretch(x, always=True))[..., :3]


def _signed(a, sign):
    """The quantity ``sign`` shows, (H, W) -> (H, W): ``a``, ``max(a, 0)``, ``max(-a, 0)``, ``|a|`` (NaN kept)."""
    return {"all": a, "positive": np.maximum(a, 0.0), "negative": np.maximum(-a, 0.0), "absolute": np.abs(a)}[sign]


def _scale(shown, sign, outlier_percentile, outlier_rule):
    """``L``, the value that saturates: over ``|shown|`` (finite; only the nonzero for one sign)."""
    values = np.abs(shown[np.isfinite(shown)])
    if sign in ("positive", "negative"):
        values = values[values > 0]
    if outlier_rule == "percentile":   # as plot.limits
        limit = np.percentile(values, 100 - outlier_percentile) if values.size else 0.0
        return float(limit) if limit > 0 else 1.0
    ordered = np.sort(values)        # "mass": the smallest value whose cumulative sum reaches 100-p % of the total
    total = np.cumsum(ordered)
    if not ordered.size or total[-1] <= 0:
        return 1.0
    return float(ordered[min(np.searchsorted(total, total[-1] * (1 - outlier_percentile / 100)), ordered.size - 1)])


def _options(sign, outlier_percentile, outlier_rule):
    return (_choice("sign", sign, SIGNS), _number("outlier_percentile", outlier_percentile, 0, 100, open_high=True),
            _choice("outlier_rule", outlier_rule, OUTLIER_RULES))


def normalize(attribution, sign="all", outlier_percentile=2, outlier_rule="percentile"):
    """The attribution as pictures show it: the quantity ``sign`` keeps, divided by ``L`` and clipped.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)``; channels are summed.
        sign: ``"all"`` (``a``), ``"positive"`` (``max(a, 0)``), ``"negative"`` (``max(-a, 0)``,
            the magnitude of the negative part) or ``"absolute"`` (``|a|``).
        outlier_percentile: ``L`` is the ``100 - outlier_percentile`` percentile of the shown
            magnitudes (finite; for "positive"/"negative" only that sign's nonzero values), so the
            top ``outlier_percentile`` % saturate; 0 = the largest. ``L = 1`` if that is 0.
        outlier_rule: ``"percentile"``, or ``"mass"`` (Captum's rule: ``L`` is the smallest
            magnitude at which the sorted magnitudes' cumulative sum reaches ``100 - p`` % of the total).
    Returns:
        ``(H, W)`` float64 in [-1, 1] for "all", [0, 1] otherwise; NaN kept.
    """
    sign, p, rule = _options(sign, outlier_percentile, outlier_rule)
    shown = _signed(_as_map(attribution), sign)
    return np.clip(shown / _scale(shown, sign, p, rule), -1.0, 1.0)


def _strength(a, sign):
    """(H, W) -> (H, W) >= 0: |a| for "all" and "absolute", else the sign's part; NaN -> 0."""
    return np.nan_to_num(np.abs(_signed(a, sign)), nan=0.0, posinf=np.finfo(float).max)


def _top(strength, fraction):
    """Exactly ceil(fraction * size) True at the largest strengths (fewer if fewer are > 0); ties by raster order."""
    flat = strength.ravel()
    count = min(math.ceil(round(fraction * flat.size, 9)), int(np.count_nonzero(flat > 0)))
    keep = np.zeros(flat.size, dtype=bool)
    keep[np.argsort(-flat, kind="stable")[:count]] = True
    return keep.reshape(strength.shape)


def top_fraction_mask(attribution, fraction=0.2, sign="all"):
    """The pixels ``masked_image`` keeps: the top ``fraction`` by attribution strength.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)``; channels are summed.
        fraction: share of pixels kept, in (0, 1].
        sign: the strength ranked: ``|a|`` ("all", "absolute"), ``max(a, 0)`` ("positive"),
            ``max(-a, 0)`` ("negative"); NaN counts as 0.
    Returns:
        ``(H, W)`` bool with exactly ``ceil(fraction * H * W)`` True (fewer only when fewer pixels
        have a nonzero strength; zero-strength pixels are never kept); ties go to the earlier pixel in
        row-major order.
    """
    fraction = _number("fraction", fraction, 0, 1, open_low=True)
    return _top(_strength(_as_map(attribution), _choice("sign", sign, SIGNS)), fraction)


def blur_mask(attribution, blur_sigma=2.0, threshold=0.5, sign="all"):
    """TruLens' mask: the strength (see :func:`top_fraction_mask`), Gaussian-blurred, kept above a quantile.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)``; channels are summed first.
        blur_sigma: standard deviation of the blur in pixels (``skimage.filters.gaussian``,
            edges extended); 0 = no blur.
        threshold: the share of pixels masked out, in [0, 1]: 0.5 keeps the top half.
        sign: as in :func:`top_fraction_mask`.
    Returns:
        ``(H, W)`` bool with exactly ``ceil((1 - threshold) * H * W)`` True (the largest blurred
        strengths; fewer only if fewer are nonzero).
    """
    sigma = _number("blur_sigma", blur_sigma, 0, np.inf, open_high=True)
    keep = 1 - _number("threshold", threshold, 0, 1)
    strength = _strength(_as_map(attribution), _choice("sign", sign, SIGNS))
    if sigma > 0:
        from skimage.filters import gaussian

        strength = gaussian(strength, sigma=sigma, mode="nearest", preserve_range=True)
    return _top(strength, keep)


def channel_masks(attribution, blur_sigma=2.0, threshold=0.5, sign="all"):
    """One :func:`blur_mask` per channel (TruLens' channel mask idea).

    Args:
        attribution: ``(H, W, C)``; each channel masked on its own.
        blur_sigma, threshold, sign: as in :func:`blur_mask`.
    Returns:
        ``(H, W, C)`` bool.
    """
    a = np.asarray(attribution)
    if a.ndim != 3 or 0 in a.shape:
        raise ExplainValueError(f"attribution: expected shape (H, W, C) for per-channel masks, got {a.shape}.")
    return np.stack([blur_mask(a[..., c], blur_sigma, threshold, sign) for c in range(a.shape[-1])], axis=-1)


def _clean(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _new_axes(ax):
    import matplotlib.pyplot as plt

    return plt.figure().add_subplot() if ax is None else ax


def _figure_of(ax):
    try:
        return ax.get_figure(root=True)
    except TypeError:   # matplotlib < 3.10
        return ax.figure


def visualize(attribution, image=None, method="heat_map", sign="all", outlier_percentile=2, colorbar=False,
              ax=None, title=None, cmap=None, alpha=0.8, fraction=0.2, blur_sigma=2.0, threshold=0.5, dim=None,
              image_cmap="gray", outlier_rule="percentile"):
    """Draw one attribution in one of Captum's and TruLens' modes.

    Args:
        attribution: ``(H, W)`` or ``(H, W, C)``, channels summed (``channel_mask``: ``(H, W, 1|3)``,
            one mask per channel; ``original_image``: ignored, may be None).
        image: the input, ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3|4)`` with the attribution's H, W;
            integers are read as 0-255, floats in [0, 1] as is, other floats are stretched min-max.
            Needed by every method but ``heat_map`` (and ``channel_mask``, which then shows the masks).
        method: ``"heat_map"``: the attribution alone. ``"blended_heat_map"``: the heat map over the
            image in grey, each pixel at opacity ``alpha * |normalised|`` (zero shows the image).
            ``"masked_image"``: the image where :func:`top_fraction_mask` keeps it (exactly the top
            ``fraction``), ``dim`` (default 0: black) elsewhere; ``fraction=None``: Captum's image
            times the normalised strength. ``"alpha_scaling"``: the image with opacity = normalised
            strength (zero is transparent). ``"mask"``: the image where :func:`blur_mask` keeps it,
            darkened by ``dim`` (default 0.2) elsewhere. ``"channel_mask"``: each colour channel of
            the image kept where its own channel's mask is on (:func:`channel_masks`); without an
            image, the masks as an RGB picture. ``"original_image"``: the image alone.
        sign, outlier_percentile, outlier_rule: what is shown and where it saturates, as in
            :func:`normalize`. Colours: "all" diverging (blue - white - red) on ``-L .. L``;
            "positive" white-red and "negative" white-blue (its magnitude) on ``0 .. L``; "absolute"
            white-purple. The masking methods rank ``|a|`` for "all" as for "absolute".
        colorbar: add a colour bar (in attribution units); only for the heat map methods.
        ax: matplotlib axes to draw in (default: the axes of a new figure).
        title: axes title. cmap: another colormap for the heat map methods.
        alpha: opacity of the strongest attributions in ``blended_heat_map``, in [0, 1].
        fraction, blur_sigma, threshold, dim: the masks' parameters (``dim`` in [0, 1] is the
            brightness left outside the mask). image_cmap: colormap of single-channel images.
    Returns:
        The matplotlib ``Figure`` holding the axes (``ax``'s figure when given).
    Raises:
        ExplainValueError: naming the argument, the expected and the given value or shape.
    """
    method = _choice("method", method, METHODS)
    sign, p, rule = _options(sign, outlier_percentile, outlier_rule)
    alpha = _number("alpha", alpha, 0, 1)
    _number("blur_sigma", blur_sigma, 0, np.inf, open_high=True)
    _number("threshold", threshold, 0, 1)
    if colorbar and method not in _SCALED:
        raise ExplainValueError(f"colorbar: only {' and '.join(map(repr, _SCALED))} have a colour scale, "
                                f"got method {method!r}.")
    if fraction is not None:
        fraction = _number("fraction", fraction, 0, 1, open_low=True)
    dim = (0.0 if method == "masked_image" else 0.2) if dim is None else _number("dim", dim, 0, 1)
    if image is None and method not in ("heat_map", "channel_mask"):
        raise ExplainValueError(f"image: method {method!r} draws over the input image, got None.")
    if method == "original_image":
        shape = None
    elif method == "channel_mask":
        raw = np.asarray(attribution)
        if raw.ndim != 3 or raw.shape[-1] not in (1, 3) or 0 in raw.shape:
            raise ExplainValueError(f"attribution: expected shape (H, W, 3) or (H, W, 1) for method 'channel_mask', "
                                    f"got {raw.shape}.")
        _as_map(raw)   # the dtype check
        shape = raw.shape[:2]
    else:
        a = _as_map(attribution)
        shape = a.shape
    rgb = None if image is None else _rgb(image, shape, image_cmap, grey=method == "blended_heat_map")

    ax = _new_axes(ax)
    fig, mappable = _figure_of(ax), None
    if method in _SCALED:
        shown = _signed(a, sign)
        limit = _scale(shown, sign, p, rule)
        half = {"positive": "upper", "negative": "lower"}.get(sign) if cmap is None else None
        colours = _cmap(ABSOLUTE_CMAP) if sign == "absolute" and cmap is None else _cmap(cmap, half)
        low = -limit if sign == "all" else 0.0
        opacity = None
        if method == "blended_heat_map":
            ax.imshow(rgb, interpolation="nearest")
            opacity = alpha * np.nan_to_num(np.clip(np.abs(shown) / limit, 0.0, 1.0), nan=1.0)
        mappable = ax.imshow(shown, cmap=colours, vmin=low, vmax=limit, interpolation="nearest", alpha=opacity)
    elif method in ("masked_image", "alpha_scaling"):
        strength = np.clip(_strength(a, sign) / _scale(_signed(a, sign), sign, p, rule), 0.0, 1.0)
        if method == "alpha_scaling":
            ax.imshow(np.dstack([rgb, strength]), interpolation="nearest")
        else:
            kept = strength if fraction is None else np.where(_top(_strength(a, sign), fraction), 1.0, dim)
            ax.imshow(rgb * kept[..., None], interpolation="nearest")
    elif method == "mask":
        ax.imshow(rgb * np.where(blur_mask(a, blur_sigma, threshold, sign), 1.0, dim)[..., None],
                  interpolation="nearest")
    elif method == "channel_mask":
        masks = channel_masks(raw, blur_sigma, threshold, sign)
        masks = np.repeat(masks, 3, axis=-1) if masks.shape[-1] == 1 else masks
        ax.imshow(masks.astype(float) if rgb is None else rgb * np.where(masks, 1.0, dim), interpolation="nearest")
    else:
        ax.imshow(rgb, interpolation="nearest")
    _clean(ax)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        from matplotlib.cm import ScalarMappable

        fig.colorbar(ScalarMappable(norm=mappable.norm, cmap=mappable.cmap), ax=ax)
    return fig
