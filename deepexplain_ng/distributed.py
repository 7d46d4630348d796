"""The same job on a Dask cluster: each worker process loads the model and builds its explainer
once (a :class:`~deepexplain_ng.batch.Job` pickles as its description), then explains chunks.

    import dask.array as da
    from deepexplain_ng.distributed import explain_array
    maps = explain_array(da.from_zarr("images.zarr"), "model.keras", "intgrad", steps=64)
    maps.to_zarr("maps.zarr")             # on the scheduler's workers (a Client connected)
"""
import numpy as np

from .batch.job import Job, chunk_error
from .errors import ExplainValueError


def _targets(ys, rows):
    if ys is None or isinstance(ys, str):
        if ys not in (None, "predicted"):
            raise ExplainValueError(f"ys: expected None or 'predicted' (each row's top class), a class index or "
                                    f"({rows},) class indices, got {ys!r}.")
        return "predicted"
    if np.ndim(ys) == 0:
        return int(ys)
    ys = np.asarray(ys)
    if ys.shape != (rows,) or not np.issubdtype(ys.dtype, np.integer):
        raise ExplainValueError(f"ys: expected ({rows},) integer class indices, got shape {ys.shape} of {ys.dtype}.")
    return ys


def explain_array(array, model, method, ys=None, batch_size=None, output="logits", inputs=None, outputs=None,
                  **options):
    """Attributions of every row of a dask array, as a lazy dask array.

    Args:
        array: ``(n,) + sample shape`` (a dask array, or anything ``dask.array.asarray`` takes);
            chunked along rows only (other axes are merged into one chunk).
        model: a model file every worker can read (see :meth:`DeepExplain.import_model`).
        method, options: the method and its keywords.
        ys: None or ``"predicted"`` (each row's top class), a class index, or ``(n,)`` indices.
        batch_size: rows per explainer batch within a chunk.
        output, inputs, outputs: as :meth:`DeepExplain.import_model` (inputs/outputs name the
            tensors of a .pb graph).
    Returns:
        A dask array of float32 attributions shaped and chunked like ``array`` (``meta`` given, so
        building it never loads the model on the client). The same chunks give the same bytes as
        one process.
    """
    import dask.array as da

    job = Job(model, method, options, output=output, inputs=inputs, outputs=outputs, batch_size=batch_size)
    array = da.asarray(array)
    if array.ndim > 1 and any(len(c) > 1 for c in array.chunks[1:]):
        array = array.rechunk({axis: -1 for axis in range(1, array.ndim)})
    targets = _targets(ys, array.shape[0])

    def block(xs, block_info=None):
        lo, hi = block_info[0]["array-location"][0]
        return job.run(xs, targets if isinstance(targets, (str, int)) else targets[lo:hi])["attributions"]

    return array.map_blocks(block, dtype=np.float32, meta=np.empty((0,) * array.ndim, np.float32))


def _run_chunk(job, xs, target):
    return job.run(xs, target)


def explain_chunks(job, source, todo, target_of, scheduler):
    """``(index, lo, hi, results)`` of each chunk of ``todo``, computed on the Dask cluster at
    ``scheduler`` as they complete; at most two chunks per worker thread are in flight, so the
    client holds a bounded number of chunks."""
    from distributed import Client, as_completed

    client = Client(scheduler, timeout="30s")
    try:
        width = max(1, 2 * sum(client.nthreads().values()))
        pending = list(todo)
        running = {}

        def submit():
            index, lo, hi = pending.pop(0)
            future = client.submit(_run_chunk, job, np.asarray(source[lo:hi]), target_of(lo, hi), pure=False)
            running[future] = (index, lo, hi)
            return future

        queue = as_completed([submit() for _ in range(min(width, len(pending)))])
        for future in queue:
            index, lo, hi = running.pop(future)
            try:
                results = future.result()
            except Exception as error:
                raise chunk_error(index, lo, hi, error) from error
            if pending:
                queue.add(submit())
            yield index, lo, hi, results
    finally:
        for future in list(running):
            future.cancel()
        client.close()
