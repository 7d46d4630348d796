"""Inputs of a batch job, read a chunk of rows at a time: never loaded whole."""
import os

import numpy as np

from ..errors import ExplainValueError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageFolder:
    """The images of a folder (sorted by name) as rows ``(n, size, size, 3)`` float32 in [0, 1]:
    grey images get three equal channels, an alpha channel is dropped, every image is resized
    (anti-aliased) to ``size`` x ``size``."""

    def __init__(self, path, size):
        self.files = sorted(os.path.join(path, name) for name in os.listdir(path)
                            if name.lower().endswith(IMAGE_SUFFIXES))
        if not self.files:
            raise ExplainValueError(f"--input: the folder '{path}' holds no image ({', '.join(IMAGE_SUFFIXES)}).")
        if size is None:
            raise ExplainValueError("--image-size: a folder of images needs a size to resize them to, e.g. 224.")
        self.size = int(size)
        self.shape = (len(self.files), self.size, self.size, 3)
        self.dtype = np.dtype(np.float32)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, rows):
        from skimage import io, transform
        from skimage.color import gray2rgb, rgba2rgb
        from skimage.util import img_as_float32

        out = np.empty((len(range(*rows.indices(len(self)))),) + self.shape[1:], np.float32)
        for i, name in enumerate(self.files[rows]):
            image = img_as_float32(io.imread(name))
            image = gray2rgb(image) if image.ndim == 2 else rgba2rgb(image) if image.shape[-1] == 4 else image
            out[i] = transform.resize(image, self.shape[1:], anti_aliasing=True, preserve_range=True)
        return out


def open_input(spec, image_size=None, name="--input"):
    """An array-like of rows (``shape``, ``dtype``, slicing along rows) for ``spec``:

    - ``file.npy``: memory-mapped;
    - ``file.npz:member`` (or ``file.npz`` holding one array): that member;
    - ``store.zarr`` (an array) or ``store.zarr:path/in/group``: the zarr array, chunk by chunk;
    - a folder of images: :class:`ImageFolder` (``image_size`` needed).
    """
    path, _, member = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    if not os.path.exists(path):
        raise ExplainValueError(f"{name}: '{path}' does not exist (expected a .npy, .npz[:member], .zarr[:array] "
                                f"or a folder of images).")
    if path.endswith(".npy"):
        try:
            return np.load(path, mmap_mode="r")
        except ValueError as error:
            raise ExplainValueError(f"{name}: '{path}' is not a readable .npy array ({error}).") from None
    if path.endswith(".npz"):
        archive = np.load(path)
        members = list(archive.files)
        if not member and len(members) == 1:
            member = members[0]
        if member not in members:
            raise ExplainValueError(f"{name}: name the array of '{path}' as {path}:NAME, one of {members}.")
        return archive[member]
    if path.endswith(".zarr") or os.path.exists(os.path.join(path, "zarr.json")):
        import zarr

        try:
            node = zarr.open(path, mode="r", path=member or None) if member else zarr.open(path, mode="r")
        except Exception as error:  # zarr raises several kinds for a missing or foreign node
            raise ExplainValueError(f"{name}: cannot open zarr '{spec}' ({type(error).__name__}: {error}).") from None
        if not hasattr(node, "shape"):
            raise ExplainValueError(f"{name}: '{spec}' is a zarr group; name its array as {path}:ARRAY, one of "
                                    f"{sorted(node.array_keys())}.")
        return node
    if os.path.isdir(path):
        return ImageFolder(path, image_size)
    raise ExplainValueError(f"{name}: '{spec}' is not a .npy, .npz[:member], .zarr[:array] or a folder of images.")


def open_labels(spec, rows):
    """Class indices ``(rows,)`` from a .npy / .npz / .zarr spec, read whole (one int per row)."""
    labels = np.asarray(open_input(spec, name="--labels")[:])
    if labels.shape != (rows,) or not np.issubdtype(labels.dtype, np.integer):
        raise ExplainValueError(f"--labels: expected {rows} integer class indices (shape ({rows},)) like the input's "
                                f"rows, got shape {labels.shape} of {labels.dtype}.")
    return labels.astype(np.int64)
