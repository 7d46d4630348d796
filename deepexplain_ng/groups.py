"""Feature groups for the perturbation methods: which cells of a sample move together.

``feature_mask`` is an integer array giving each cell of a sample a group id, shaped like one
sample or with fewer axes (``(H, W)`` for NHWC images: a pixel's channels form one group; the
missing trailing axes are broadcast), or one mask per sample ``(n, ...)``; or ``"slic"``
(superpixels per sample, scikit-image's SLIC) or ``"grid"`` (square cells of ``cell`` pixels
over the height and width of images, or over every axis otherwise).

Groups are renumbered per sample to ``0 .. G_i - 1`` (in increasing order of their ids), so a
method works on ``labels`` ``(n, cells)`` and ``counts`` ``(n,)``.
"""
import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import ExplainTypeError, ExplainValueError


def _broadcast_mask(mask, sample_shape, n):
    """An integer mask for one sample (or its leading axes) or one per sample -> ``(n, *sample_shape)``."""
    def fits(shape):
        return len(shape) <= len(sample_shape) and all(s in (1, t) for s, t in zip(shape, sample_shape))

    # one mask for every sample if it fits one sample, else one per sample (its leading axis n)
    per_sample = not fits(mask.shape) and mask.ndim >= 1 and mask.shape[0] == n
    shape = mask.shape[1:] if per_sample else mask.shape
    if not fits(shape):
        raise ExplainValueError(f"feature_mask: expected integer group ids shaped like one sample {sample_shape} "
                                f"(or its leading axes, e.g. {sample_shape[:-1]} for one group per pixel), or "
                                f"one mask per sample {(n,) + sample_shape}; got shape {mask.shape}.")
    # missing trailing axes (a pixel's channels) are broadcast
    full = mask.reshape(mask.shape + (1,) * (len(sample_shape) - len(shape)))
    return np.broadcast_to(full if per_sample else full[None], (n,) + sample_shape)


def _spatial_axes(sample_shape):
    """The axes of a sample that grid cells and superpixels tile: height and width of
    ``(H, W, C)`` images, every axis otherwise."""
    return (0, 1) if len(sample_shape) == 3 else tuple(range(len(sample_shape)))


def grid_mask(sample_shape, cell):
    """Square (or box) cells of ``cell`` (int or one per tiled axis) over a sample's tiled axes."""
    axes = _spatial_axes(sample_shape)
    cells = (cell,) * len(axes) if isinstance(cell, numbers.Integral) else tuple(cell)
    if len(cells) != len(axes) or not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and c > 0
                                          for c in cells):
        raise ExplainValueError(f"cell: expected a positive int or {len(axes)} of them, got {cell!r}.")
    index = np.indices([sample_shape[a] for a in axes])
    blocks = [index[k] // c for k, c in enumerate(cells)]
    per_axis = [-(-sample_shape[a] // c) for a, c in zip(axes, cells)]
    label = np.ravel_multi_index(blocks, per_axis)
    return label.reshape(label.shape + (1,) * (len(sample_shape) - len(axes)))


def tile_shape(feature_mask, sample_shape, cell=4):
    """``(cell height, cell width)`` when the groups of ``feature_mask`` are equal boxes tiling an
    image ``(H, W, C)`` and spanning its channels (``"grid"`` cells that divide H and W, or one
    integer mask ``(H, W)`` / ``(H, W, 1)`` / ``(H, W, C)`` partitioning it as such a grid does,
    in any numbering): then ablating a group is occluding a window. None otherwise (superpixels,
    per-sample masks, ragged cells)."""
    if len(sample_shape) != 3 or feature_mask is None:
        return None
    height, width, channels = sample_shape
    if isinstance(feature_mask, str):
        if feature_mask != "grid":
            return None
        cells = (cell, cell) if isinstance(cell, numbers.Integral) else tuple(cell)
        if len(cells) != 2 or not all(isinstance(c, numbers.Integral) and c > 0 for c in cells):
            return None
    else:
        mask = np.asarray(feature_mask)
        if (not np.issubdtype(mask.dtype, np.integer) or mask.ndim not in (2, 3) or mask.shape[:2] != (height, width)
                or (mask.ndim == 3 and mask.shape[2] not in (1, channels))):
            return None
        if mask.ndim == 3:
            if np.any(mask != mask[..., :1]):
                return None  # channels in different groups
            mask = mask[..., 0]
        # the first cell's extent along each axis, then the whole partition against that grid
        cells = tuple(int(np.argmin(np.r_[line == line[0], False])) for line in (mask[:, 0], mask[0]))
        if height % cells[0] or width % cells[1]:
            return None
        corners = mask[::cells[0], ::cells[1]]
        if len(np.unique(corners)) != corners.size or np.any(
                np.repeat(np.repeat(corners, cells[0], 0), cells[1], 1) != mask):
            return None
    if height % cells[0] or width % cells[1]:
        return None
    return int(cells[0]), int(cells[1])


def slic_masks(xs, n_segments, compactness):
    """SLIC superpixels (Achanta et al. 2012, ``skimage.segmentation.slic``) of each image
    ``(n, H, W, C)`` or ``(n, H, W)``; each image is min-max scaled to [0, 1] first, so images
    in [0, 1], [0, 255] or standardised get the same segments. The images are segmented on
    as many threads as the process may use (SLIC's loop releases the GIL; ~27 ms an image of
    224x224 on one core)."""
    from skimage.segmentation import slic

    if xs.ndim not in (3, 4):
        raise ExplainValueError(f"feature_mask='slic' needs images (n, H, W) or (n, H, W, C), got {xs.shape}.")

    def segment(image):
        image = image.astype(np.float64)
        low, high = image.min(), image.max()
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        channel_axis = -1 if image.ndim == 3 else None
        return slic(scaled, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=channel_axis)

    threads = min(len(xs), len(os.sched_getaffinity(0)))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            masks = np.stack(list(pool.map(segment, xs)))
    else:
        masks = np.stack([segment(image) for image in xs])
    return masks[..., None] if xs.ndim == 4 else masks


def resolve(feature_mask, xs, sample_shape, n_segments=50, compactness=10.0, cell=4):
    """``(labels (n, cells) int, counts (n,))``: each cell's group, renumbered per sample."""
    n = len(xs)
    if isinstance(feature_mask, str):
        if feature_mask == "slic":
            mask = slic_masks(xs, n_segments, compactness)
        elif feature_mask == "grid":
            mask = grid_mask(sample_shape, cell)
        else:
            raise ExplainValueError(f"feature_mask: expected an integer array, 'slic' or 'grid', got {feature_mask!r}.")
    else:
        mask = np.asarray(feature_mask)
        if not np.issubdtype(mask.dtype, np.integer):
            raise ExplainTypeError(f"feature_mask: expected integer group ids, got dtype {mask.dtype}.")
    full = _broadcast_mask(mask, tuple(sample_shape), n).reshape(n, -1)
    labels = np.empty(full.shape, np.int64)
    counts = np.empty(n, np.int64)
    for i, row in enumerate(full):
        labels[i], counts[i] = _renumber(row)
    return labels, counts


def _renumber(ids):
    """Group ids ``(cells,)`` -> (their ranks among the distinct ids, as ``np.unique``'s inverse;
    how many distinct). Ids in a small non-negative range (SLIC's, a grid's) are ranked by a
    lookup table, not a sort of every cell."""
    if ids.size and ids.min() >= 0 and ids.max() < 4 * ids.size:
        used = np.bincount(ids) > 0
        return (np.cumsum(used) - 1)[ids], int(used.sum())
    _, inverse = np.unique(ids, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if ids.size else 0


def resolve_joint(masks, xs, sample_shapes, n_segments=50, compactness=10.0, cell=4):
    """Several inputs: one mask per input (each as for :func:`resolve`); equal ids across inputs
    are one joint group. Returns ``(labels (n, cells of all inputs), counts (n,))``."""
    n = len(xs[0])
    raw = []
    for mask, x, shape in zip(masks, xs, sample_shapes):
        if isinstance(mask, str):
            mask = slic_masks(x, n_segments, compactness) if mask == "slic" else grid_mask(shape, cell)
        mask = np.asarray(mask)
        if not np.issubdtype(mask.dtype, np.integer):
            raise ExplainTypeError(f"feature_mask: expected integer group ids, got dtype {mask.dtype}.")
        raw.append(_broadcast_mask(mask, tuple(shape), n).reshape(n, -1))
    joined = np.concatenate(raw, axis=1)
    labels = np.empty(joined.shape, np.int64)
    counts = np.empty(n, np.int64)
    for i, row in enumerate(joined):
        labels[i], counts[i] = _renumber(row)
    return labels, counts


def spread(values, labels, counts):
    """Group values ``(n, G)`` spread evenly over their cells -> ``(n, cells)``."""
    sizes = np.stack([np.bincount(row, minlength=values.shape[1]) for row in labels])
    per_cell = values / np.maximum(sizes, 1)
    return np.take_along_axis(per_cell, labels, axis=1)
