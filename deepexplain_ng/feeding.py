"""Checking what users feed, and feeding it to a session in bounded chunks."""
import os

import numpy as np
import tqdm

from .errors import ExplainTypeError, ExplainValueError
from .targets import Target

#: Default memory budget of one ``session.run`` (bytes of activations and gradients).
DEFAULT_MEMORY_BUDGET = 256 * 2**20
#: Environment variable that switches progress bars off when set to 0/false/no/off.
PROGRESS_ENV = "DEEPEXPLAIN_NG_PROGRESS"


def shape_str(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def static_shape(tensor):
    """Static shape of ``tensor`` as a tuple (None for unknown dims), or None if rank unknown."""
    if tensor.shape.rank is None:
        return None
    return tuple(tensor.shape.as_list())


def _compatible(expected, given):
    return expected is None or (len(expected) == len(given) and all(
        e is None or e == g for e, g in zip(expected, given)))


def check_finite(name, array):
    if np.issubdtype(array.dtype, np.number) and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))
        raise ExplainValueError(f"{name} contains {len(bad)} NaN/inf value(s), the first at index "
                                f"{tuple(int(i) for i in bad[0])}; attributions of non-finite inputs are undefined.")


def as_array(name, value, dtype):
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and other non-arrays
        raise ExplainTypeError(f"{name} must be a numpy array (or convertible to one): {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ExplainTypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}.")
    array = array.astype(dtype, copy=False)
    check_finite(name, array)
    return array


def input_list(xs, inputs, name="xs"):
    """``xs`` as a list matching the list of input tensors, checked for shape and values."""
    if len(inputs) > 1:
        if not isinstance(xs, (list, tuple)) or len(xs) != len(inputs):
            given = f"a list of {len(xs)}" if isinstance(xs, (list, tuple)) else f"one {type(xs).__name__}"
            raise ExplainValueError(f"{name}: X is a list of {len(inputs)} tensors, so {name} must be a list "
                                    f"of {len(inputs)} arrays in the same order; got {given}.")
        values = list(xs)
    else:
        if isinstance(xs, (list, tuple)) and len(xs) == 1 and np.ndim(xs[0]) == len(inputs[0].shape):
            values = list(xs)
        else:
            values = [xs]
    arrays = []
    for i, (value, x) in enumerate(zip(values, inputs)):
        label = f"{name}[{i}]" if len(inputs) > 1 else name
        array = as_array(label, value, x.dtype.as_numpy_dtype)
        expected = static_shape(x)
        if expected is not None and (array.ndim != len(expected)
                                     or not _compatible(expected[1:], array.shape[1:])):
            raise ExplainValueError(f"{label}: expected shape {shape_str(('n',) + expected[1:])} to feed "
                                    f"X '{x.name}' of shape {shape_str(expected)}, got {array.shape}.")
        arrays.append(array)
    counts = {a.shape[0] for a in arrays}
    if len(counts) > 1:
        raise ExplainValueError(f"{name}: all inputs need the same number of samples, got "
                                f"{[a.shape[0] for a in arrays]}.")
    if arrays[0].shape[0] == 0:
        raise ExplainValueError(f"{name}: no samples (batch axis of length 0).")
    return arrays


def baseline_list(baseline, inputs, xs, per_sample):
    """Baselines as a list of arrays shaped ``(1,) + x.shape[1:]`` or ``x.shape`` (one per sample).

    ``baseline`` None means zeros; a scalar is broadcast; ``per_sample`` says whether a
    baseline per sample is allowed.
    """
    if baseline is None:
        return [np.zeros((1,) + x.shape[1:], x.dtype) for x in xs]
    if len(inputs) > 1:
        if not isinstance(baseline, (list, tuple)) or len(baseline) != len(inputs):
            raise ExplainValueError(f"baseline: X is a list of {len(inputs)} tensors, so baseline must be a "
                                    f"list of {len(inputs)} arrays (or None for zeros).")
        values = list(baseline)
    else:
        values = [baseline]
    out = []
    for i, (value, x) in enumerate(zip(values, xs)):
        label = f"baseline[{i}]" if len(inputs) > 1 else "baseline"
        b = as_array(label, value, x.dtype)
        if b.ndim == 0:
            b = np.full((1,) + x.shape[1:], b, x.dtype)
        elif b.shape == x.shape[1:]:
            b = b[None]
        elif per_sample and b.shape == x.shape:
            pass
        else:
            allowed = f"{x.shape[1:]} (the input's shape without the batch axis)" + (
                f" or one baseline per sample {x.shape}" if per_sample else "")
            raise ExplainValueError(f"{label}: expected shape {allowed}, got {b.shape}.")
        out.append(b)
    return out


def target_weights(ys, n, target_shape, dtype):
    """``ys`` as weights of shape ``(n,) + target_shape``.

    Accepts None (all ones: every output summed), weights of that shape (e.g. one-hot),
    or, when the target has one axis of classes, a vector of n integer class indices (or one
    int for all samples), or a
    :class:`deepexplain_ng.targets.Target` (contrast, channel, neuron).
    """
    full = (n,) + tuple(target_shape)
    if ys is None:
        return np.ones(full, dtype)
    if isinstance(ys, Target):
        return ys.weights(n, tuple(target_shape), dtype)
    array = np.asarray(ys)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ExplainTypeError(f"ys must be a numeric array, got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.integer) and array.ndim == 0 and len(target_shape) == 1:
        array = np.full(n, array)  # one class for every sample, as Captum's target=int
    is_indices = (np.issubdtype(array.dtype, np.integer) and array.ndim == 1
                  and len(target_shape) == 1 and array.shape == (n,))
    if is_indices:
        classes = target_shape[0]
        if classes is not None and (array.min() < 0 or array.max() >= classes):
            raise ExplainValueError(f"ys: class indices must lie in [0, {classes}) for a target of shape "
                                    f"{shape_str((None,) + tuple(target_shape))}; got values from "
                                    f"{array.min()} to {array.max()}.")
        if classes is None:
            raise ExplainValueError("ys: class indices need a target with a known number of classes; "
                                    "give one-hot weights instead.")
        weights = np.zeros(full, dtype)
        weights[np.arange(n), array] = 1
        return weights
    if not _compatible(full, array.shape):
        raise ExplainValueError(f"ys: expected weights of shape {shape_str(full)} (T's shape per sample, "
                                f"e.g. one-hot)" + (f" or {n} integer class indices" if len(target_shape) == 1 else "")
                                + f", got shape {array.shape}.")
    weights = array.astype(dtype)
    check_finite("ys", weights)
    return weights


def progress_enabled(progress):
    """Resolve the ``progress`` option: False/True, or None (auto: on a terminal, unless the env says no)."""
    if progress is not None:
        return bool(progress)
    if os.environ.get(PROGRESS_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return None  # tqdm's "only on a terminal"


def run_rows(session, fetches, n_rows, make_feed, consume, rows_per_run, fixed_batch=None,
             progress=None, description=None, extra=None):
    """Evaluate ``fetches`` over ``n_rows`` virtual rows, one ``session.run`` per chunk.

    ``make_feed(lo, hi)`` builds the feed dict of rows [lo, hi) only when they are needed,
    so memory stays bounded by ``rows_per_run``; ``consume(lo, hi, values)`` folds the
    results in. A graph whose X has a fixed batch size gets chunks of exactly that size
    (the last one padded by repeating its last row; padded outputs are dropped).
    ``extra`` is fed unchanged to every run.
    """
    step = max(1, int(rows_per_run))
    if fixed_batch is not None:
        step = fixed_batch
    runs = -(-n_rows // step)
    enabled = progress_enabled(progress)
    if enabled is False or (enabled is None and runs == 1):
        bar = _NO_BAR  # a single run, or bars switched off: skip tqdm's set-up cost
    else:
        bar = tqdm.tqdm(total=n_rows, desc=description, unit="row", leave=False,
                        disable=None if enabled is None else False)
    try:
        for lo in range(0, n_rows, step):
            hi = min(n_rows, lo + step)
            feed = make_feed(lo, hi)
            if fixed_batch is not None and hi - lo < fixed_batch:
                feed = {k: _pad_rows(v, fixed_batch) for k, v in feed.items()}
            feed.update(extra or {})
            values = session.run(fetches, feed)
            del feed  # before the next chunk is built: one chunk of inputs alive at a time
            if fixed_batch is not None and hi - lo < fixed_batch:
                values = [v[: hi - lo] for v in values]
            consume(lo, hi, values)
            bar.update(hi - lo)
    finally:
        bar.close()


class _NoBar:
    def update(self, count):
        pass

    def close(self):
        pass


_NO_BAR = _NoBar()


def _pad_rows(array, size):
    missing = size - array.shape[0]
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)]) if missing > 0 else array
