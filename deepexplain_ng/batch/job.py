"""One explanation job as a picklable value: a model file, a method and its options. Each process
that runs it (this one, or a Dask worker) loads the model and builds the explainer once."""
import functools
import hashlib
import os

import numpy as np
import tensorflow as tf

from .. import feeding
from ..context import DeepExplain
from ..errors import ExplainValueError
from ..methods import method_class

tf1 = tf.compat.v1

#: methods whose attributions sum to S(x) - S(baseline) (exactly, or up to their quadrature)
COMPLETE = frozenset({"intgrad", "deeplift", "shapley_sampling", "kernel_shap", "conductance"})


class ChunkError(RuntimeError):
    """A chunk of a batch job failed (the command line exits 1 with this message)."""


def chunk_error(index, lo, hi, error):
    return ChunkError(f"chunk {index} (rows {lo}-{hi}) failed: {type(error).__name__}: {error}")


def file_digest(path):
    """sha256 of a file, or of a directory's files (names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    for name in files:
        if os.path.isdir(path):
            digest.update(os.path.relpath(name, path).encode())
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _built(job):
    """The (session, context, X, T, explainer) of ``job`` in this process: a Dask worker runs
    many chunks of one job, and loading the model is the expensive part."""
    threads = job.threads or _worker_threads()
    config = tf1.ConfigProto(intra_op_parallelism_threads=threads or 0, inter_op_parallelism_threads=threads or 0)
    session = tf1.Session(graph=tf.Graph(), config=config)
    de = DeepExplain(session=session, memory_budget=job.memory_budget)
    with de:
        X, T = de.import_model(job.model, output=job.output, inputs=list(job.inputs or []) or None,
                               outputs=list(job.outputs or []) or None)
        if isinstance(X, list):
            raise ExplainValueError(f"model: the job explains models of one input; '{job.model}' has {len(X)}.")
        explainer = de.get_explainer(job.method, T, X, progress=False, **dict(job.options))
    return session, de, X, T, explainer


def _worker_threads():
    """The thread count of the Dask worker running this code, or None outside one."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None


class Job:
    """Explain rows of one model with one method.

    Args:
        model: a path :meth:`DeepExplain.import_model` takes (.keras, .h5, SavedModel
            directory, .pb with ``inputs``/``outputs``).
        method: a method name; options: its keywords (hashable values: numbers, strings, tuples).
        output: ``"logits"``, ``"probabilities"`` or a layer name, as ``import_model``.
        batch_size: rows per ``explainer.run`` batch (None: the memory budget decides).
        memory_budget: bytes per ``session.run``; threads: TF threads (None: the Dask
            worker's, else TF's default).
    Pickling keeps only these values: a job sent to another process builds its explainer there,
    once per process.
    """

    def __init__(self, model, method, options=None, output="logits", inputs=None, outputs=None, batch_size=None,
                 memory_budget=None, threads=None):
        method_class(method)
        self.model, self.method, self.output = os.fspath(model), method, output
        self.options = tuple(sorted((options or {}).items()))
        self.inputs, self.outputs = tuple(inputs or ()), tuple(outputs or ())
        self.batch_size, self.memory_budget, self.threads = batch_size, memory_budget, threads

    def _key(self):
        return (self.model, self.method, self.options, self.output, self.inputs, self.outputs, self.memory_budget,
                self.threads)

    def __eq__(self, other):
        return isinstance(other, Job) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    @property
    def complete(self):
        """Whether the method's attributions sum to S(x) - S(baseline)."""
        return method_class(self.method).name in COMPLETE

    def build(self):
        """Load the model and build the explainer in this process (cached); returns the explainer."""
        return _built(self)[4]

    def sample_shape(self):
        return tuple(feeding.static_shape(_built(self)[2])[1:])

    def run(self, xs, target="predicted"):
        """Explain the rows ``xs`` ``(n,) + sample shape``.

        Args:
            target: ``"predicted"`` (each row's top class), a class index, or ``(n,)`` class
                indices.
        Returns:
            ``{"attributions": float32 like xs, "target": int64 (n,), "score": S(x) (n,)}``, plus
            ``"baseline_score"`` (S at the method's baseline) and ``"attribution_sum"`` for methods
            with a completeness property (float64).
        """
        session, _, X, T, explainer = _built(self)
        xs = np.asarray(xs, X.dtype.as_numpy_dtype)
        logits = self._outputs(session, X, T, xs)
        if isinstance(target, str):
            classes = logits.reshape(len(xs), -1).argmax(axis=1)
        else:
            classes = np.broadcast_to(np.asarray(target, np.int64), (len(xs),))
        rows = np.arange(len(xs))
        flat = logits.reshape(len(xs), -1)
        attributions = np.asarray(explainer.run(xs, ys=classes, batch_size=self.batch_size), np.float32)
        out = {"attributions": attributions, "target": classes.astype(np.int64), "score": flat[rows, classes]}
        if self.complete:
            baseline = feeding.baseline_list(explainer.params.get("baseline"), [X], [xs], per_sample=True)[0]
            baseline = np.broadcast_to(baseline, xs.shape).astype(xs.dtype)
            out["baseline_score"] = self._outputs(session, X, T, baseline).reshape(len(xs), -1)[rows, classes]
            out["attribution_sum"] = attributions.reshape(len(xs), -1).astype(np.float64).sum(axis=1)
        return out

    def _outputs(self, session, X, T, xs):
        step = self.batch_size or max(1, _built(self)[4].rows_per_run())
        return np.concatenate([session.run(T, {X: xs[lo:lo + step]}) for lo in range(0, len(xs), step)]
                              ).astype(np.float64)

    def __repr__(self):
        return f"Job({self.model!r}, {self.method!r}, options={dict(self.options)})"
