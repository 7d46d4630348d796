"""Pictures of attributions: red = positive evidence, blue = negative, white = none."""
import numpy as np

#: Diverging colormap: blue (negative) - white (0) - red (positive).
CMAP = "bwr"


def _as_map(attribution, name="attribution"):
    """(H, W) or (H, W, C) -> (H, W), channels summed."""
    a = np.asarray(attribution, dtype=np.float64)
    if a.ndim == 3:
        a = a.sum(axis=-1)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected shape (H, W) or (H, W, C), got {np.shape(attribution)}.")
    return a


def limits(attribution, percentile=99.5):
    """Symmetric colour limit: the ``percentile`` of |attribution| (NaN ignored), never 0."""
    values = np.abs(np.asarray(attribution, dtype=np.float64))
    values = values[np.isfinite(values)]
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}.")
    limit = np.percentile(values, percentile) if values.size else 0.0
    return float(limit) if limit > 0 else 1.0


def heatmap(attribution, ax=None, percentile=99.5, image=None, alpha=0.35):
    """Draw one attribution map.

    Args:
        attribution: (H, W) or (H, W, C) array (channels are summed).
        ax: matplotlib axes (default: a new figure's).
        percentile: the colour scale spans +-(this percentile of |attribution|).
        image: optional (H, W) or (H, W, C) input drawn in grey underneath, as an outline.
        alpha: opacity of that image.
    Returns:
        The ``AxesImage`` of the heatmap.
    """
    import matplotlib.pyplot as plt

    a = _as_map(attribution)
    if ax is None:
        ax = plt.figure().add_subplot()
    limit = limits(a, percentile)
    shown = ax.imshow(a, cmap=CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    if image is not None:
        grey = _as_map(image, "image")
        if grey.shape != a.shape:
            raise ValueError(f"image: expected shape {a.shape} like the attribution, got {grey.shape}.")
        ax.imshow(grey, cmap="gray_r", alpha=alpha, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def compare(images, attributions, titles=None, path=None, percentile=99.5, dpi=80):
    """A grid: one row per sample, its input first, then one column per method.

    Args:
        images: (n, H, W) or (n, H, W, C) inputs.
        attributions: ``{method name: array (n, H, W[, C])}``, drawn in this order.
        titles: optional row labels (n strings), e.g. the explained class.
        path: where to save a PNG (optional).
    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    for method, a in attributions.items():
        if np.shape(a)[:3] != images.shape[:3]:
            raise ValueError(f"attributions['{method}']: expected shape {images.shape[:3]}+, got {np.shape(a)}.")
    columns = 1 + len(attributions)
    fig, axes = plt.subplots(n, columns, figsize=(1.6 * columns, 1.6 * n + 0.4), dpi=dpi, squeeze=False)
    for row in range(n):
        picture = images[row] if images.ndim == 3 or images.shape[-1] in (3, 4) else images[row, ..., 0]
        axes[row, 0].imshow(picture, cmap="gray_r" if picture.ndim == 2 else None)
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        if titles is not None:
            axes[row, 0].set_ylabel(str(titles[row]))
        for col, (method, a) in enumerate(attributions.items(), start=1):
            heatmap(a[row], axes[row, col], percentile)
            if row == 0:
                axes[row, col].set_title(method, fontsize=9)
    axes[0, 0].set_title("input", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
