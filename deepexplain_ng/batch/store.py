"""The output of a batch job: a zarr (v3) group chunked along samples, and a record of the chunks
that are durably written (the group attribute ``RECORD``). A chunk is written whole, its files are
flushed to disk, and only then is it added to the record (zarr replaces ``zarr.json`` atomically):
a killed job loses at most the chunk in flight, and a resumed job writes every row exactly once."""
import glob
import json
import os
import shutil

import numpy as np

from ..errors import ExplainValueError

RECORD = "deepexplain_ng_progress"
#: per-sample arrays besides the attributions, and their dtypes
COLUMNS = {"target": np.int64, "score": np.float64, "baseline_score": np.float64, "attribution_sum": np.float64}


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path):
    """Flush a chunk's file (1-d arrays) or the files under its directory."""
    if os.path.isfile(path):
        _fsync(path)
    for root, _, names in os.walk(path):
        for name in names:
            _fsync(os.path.join(root, name))


def _record(path):
    """The record of the store at ``path``, or None when it is not a store of this package."""
    import zarr

    if not os.path.exists(os.path.join(path, "zarr.json")):
        return None
    try:
        return zarr.open_group(path, mode="r").attrs.get(RECORD)
    except Exception:  # noqa: BLE001  (a foreign or damaged zarr.json: not ours)
        return None


class Store:
    """A job's zarr group: ``attributions (n,) + sample shape`` float32 and per-sample ``target``,
    ``score`` (S(x)), and for complete methods ``baseline_score`` and ``attribution_sum``;
    chunks of ``chunk_rows`` samples. ``attrs["job"]`` describes the job."""

    def __init__(self, path, group, record):
        self.path, self.group, self.record = path, group, record

    @property
    def chunk_rows(self):
        return self.record["chunk_rows"]

    @property
    def rows(self):
        return self.record["rows"]

    def chunks(self):
        """``[(index, lo, hi)]`` of all chunks."""
        return [(i, lo, min(lo + self.chunk_rows, self.rows)) for i, lo in enumerate(range(0, self.rows, self.chunk_rows))]

    def finished(self):
        return set(self.record["finished"])

    @classmethod
    def open(cls, path, job, rows, sample_shape, chunk_rows, columns, overwrite=False):
        """Create the store for ``job`` (a dict: what defines the result), or reopen the store of the
        same job to resume it. A store of another job is refused, naming what differs."""
        import zarr

        if os.path.exists(path) and overwrite:
            shutil.rmtree(path)
        job = json.loads(json.dumps(job))  # as stored: tuples become lists
        record = _record(path) if os.path.exists(path) else None
        if record is not None:
            differs = sorted(k for k in set(job) | set(record["job"]) if job.get(k) != record["job"].get(k))
            if differs:
                detail = "; ".join(f"{k}: store has {record['job'].get(k)!r}, this command {job.get(k)!r}"
                                   for k in differs)
                raise ExplainValueError(f"--output: '{path}' holds another job ({detail}). Run the same command to "
                                        f"resume it, or add --overwrite to start again.")
            for partial in glob.glob(os.path.join(glob.escape(path), "**", "*.partial"), recursive=True):
                os.remove(partial)  # a write a kill cut short (zarr writes a temporary, then renames)
            return cls(path, zarr.open_group(path, mode="r+"), record)
        if os.path.exists(path) and os.listdir(path):
            raise ExplainValueError(f"--output: '{path}' exists and is not a store of this package; choose another "
                                    f"path or add --overwrite to replace it.")
        # built beside the final path and renamed into place: a kill during creation leaves no
        # half-made store under the name
        building = f"{path.rstrip(os.sep)}.creating"
        shutil.rmtree(building, ignore_errors=True)
        group = zarr.open_group(building, mode="w")
        group.create_array("attributions", shape=(rows,) + tuple(sample_shape), chunks=(chunk_rows,) + tuple(sample_shape),
                           dtype=np.float32, fill_value=np.nan)
        for name in columns:
            group.create_array(name, shape=(rows,), chunks=(chunk_rows,), dtype=COLUMNS[name],
                               fill_value=-1 if name == "target" else np.nan)
        record = {"job": job, "rows": rows, "chunk_rows": chunk_rows, "finished": [], "columns": list(columns)}
        group.attrs[RECORD] = record
        if os.path.exists(path):
            os.rmdir(path)  # an empty directory, checked above
        os.rename(building, path)
        return cls(path, zarr.open_group(path, mode="r+"), record)

    def write(self, index, lo, hi, results):
        """Write chunk ``index`` (rows ``lo:hi``) whole, flush it, then record it as finished."""
        self.group["attributions"][lo:hi] = results["attributions"]
        for name in self.record["columns"]:
            self.group[name][lo:hi] = results[name]
        for name in ["attributions"] + self.record["columns"]:
            _fsync_tree(os.path.join(self.path, name, "c", str(index)))
        self.record["finished"] = sorted(set(self.record["finished"]) | {index})
        self.group.attrs[RECORD] = self.record

    def set_attrs(self, **values):
        self.group.attrs.update(values)


def describe(path):
    """What a store holds and how far its job got, as text (``deepexplain-ng info``)."""
    import zarr

    record = _record(path)
    if record is None:
        raise ExplainValueError(f"OUTPUT: '{path}' is not a store written by deepexplain-ng (no zarr group with "
                                f"the attribute '{RECORD}').")
    group = zarr.open_group(path, mode="r")
    attrs = dict(group.attrs)
    chunks = -(-record["rows"] // record["chunk_rows"])
    done = sum(min(record["chunk_rows"], record["rows"] - i * record["chunk_rows"]) for i in record["finished"])
    lines = [f"store: {os.path.abspath(path)}",
             f"progress: {done} of {record['rows']} rows ({len(record['finished'])} of {chunks} chunks of "
             f"{record['chunk_rows']})" + (" - complete" if done == record["rows"] else " - resumable")]
    for key in ("model", "model_sha256", "method", "options", "target", "input", "started", "finished"):
        if key in attrs.get("job", {}) or key in attrs:
            lines.append(f"{key}: {attrs.get('job', {}).get(key, attrs.get(key))}")
    for key in ("package_version", "tensorflow_version"):
        if key in attrs:
            lines.append(f"{key}: {attrs[key]}")
    for name, array in sorted(group.arrays()):
        lines.append(f"array {name}: shape {array.shape}, {array.dtype}, chunks {array.chunks}")
    if "attribution_sum" in record["columns"] and done:
        finished = np.zeros(record["rows"], bool)
        for i in record["finished"]:
            finished[i * record["chunk_rows"]:(i + 1) * record["chunk_rows"]] = True
        change = (group["score"][:] - group["baseline_score"][:])[finished]
        gap = np.abs(group["attribution_sum"][:][finished] - change)
        lines.append(f"completeness: max |sum(attributions) - (S(x) - S(baseline))| = {gap.max():.3g} over {done} rows "
                     f"(S(x) - S(baseline) up to {np.abs(change).max():.3g})")
    return "\n".join(lines)
