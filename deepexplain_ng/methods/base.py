"""The compiled Explainer: checks its arguments, builds its ops once, then only feeds."""
import numbers

import numpy as np
import tensorflow as tf

from .. import feeding
from ..errors import ExplainOptionError, ExplainTypeError, ExplainValueError
from ..notices import UnsupportedOpWarning, warn
from ..overrides import mark
from ..paths import batch_weight_factor, check_path, path_ops, varying_inputs

tf1 = tf.compat.v1


def tensor_list(value, name):
    """``value`` (a graph tensor or a list of them) as ``(list, was_single)``."""
    single = not isinstance(value, (list, tuple))
    values = [value] if single else list(value)
    if not values:
        raise ExplainValueError(f"{name} is an empty list; give a tensor or a list of tensors.")
    for i, v in enumerate(values):
        if not isinstance(v, tf.Tensor) or not hasattr(v, "graph"):
            label = name if single else f"{name}[{i}]"
            advice = ("; this is a Keras 3 symbolic tensor, which lives in no graph: bring the model "
                      "into the context with `X, T = de.import_model(model)` and explain those tensors"
                      if type(v).__name__ == "KerasTensor" else "")
            raise ExplainTypeError(f"{label} must be a tf.Tensor of a graph (a static-graph tensor such as a "
                                   f"placeholder or a layer's output), got {type(v).__name__}{advice}.")
    return values, single


def _learning_phase_feed(graph):
    """Keras' learning-phase placeholders of ``graph`` fed as inference (dropout off)."""
    feed = {}
    for op in graph.get_operations():
        if op.type in ("Placeholder", "PlaceholderWithDefault") and op.name.endswith("keras_learning_phase"):
            tensor = op.outputs[0]
            feed[tensor] = np.zeros((), tensor.dtype.as_numpy_dtype)
    return feed


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ExplainTypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__}).")
    if value <= 0:
        raise ExplainValueError(f"{name} must be a positive integer, got {value}.")
    return int(value)


def check_seed(seed):
    """``seed`` must be None or an int (numpy's generators take it)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ExplainTypeError(f"seed must be None or an int, got {seed!r}.")
    return seed


def positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ExplainTypeError(f"{name} must be a positive number, got {value!r} ({type(value).__name__}).")
    if not np.isfinite(value) or value <= 0:
        raise ExplainOptionError(f"{name} must be a positive finite number, got {value}.")
    return float(value)


class Explainer:
    """An explanation method compiled for one target ``T`` and input(s) ``X``.

    Built by :meth:`DeepExplain.get_explainer`; all ops are created at construction,
    so :meth:`run` can be called any number of times without growing the graph.

    Subclasses set ``name``, ``options`` (method keywords and their defaults), whether
    they compute gradients and whether they replace the chain rule, and implement
    ``_build`` and ``_explain``.
    """

    name = None
    options = {}
    uses_gradients = True
    #: whether the method evaluates T on rows of its own (steps, baselines, copies, chunks)
    batches_rows = True
    rule_based = False
    #: op classes (``op_classes.op_class``) the method's rules treat exactly
    exact_classes = frozenset()
    #: op types the method's rule applies to besides ``op_classes.RULED`` (marked at build)
    marked_types = frozenset()
    #: whether the results attribute T (False for tools that only evaluate it: then a target
    #: behind a softmax, which the metrics expect, draws no warning)
    attributes_target = True
    #: keywords every method accepts
    common_options = {"memory_budget": None, "progress": None}

    def __init__(self, session, T, X, memory_budget=None, progress=None, **options):
        self.session = session
        self.graph = session.graph
        self.inputs, self._single = tensor_list(X, "X")
        targets, single_target = tensor_list(T, "T")
        if not single_target:
            raise ExplainTypeError("T must be one tensor; to explain several outputs, sum them or pass "
                                   "weights through ys.")
        # T * ys (DeepExplain's masking idiom): explain T with ys as per-sample weights
        self.target, self.weight_factor = batch_weight_factor(targets[0])
        for label, tensor in [("T", self.target)] + [("X", x) for x in self.inputs]:
            if tensor.graph is not self.graph:
                raise ExplainValueError(f"{label} '{tensor.name}' belongs to another graph than the "
                                        "DeepExplain context's session; build the model in the session's graph.")
        self._check_target()
        self.params = self._check_options(options)
        self.memory_budget = (feeding.DEFAULT_MEMORY_BUDGET if memory_budget is None
                              else positive_int("memory_budget", memory_budget))
        self.progress = progress
        self.path, reached = path_ops([self.target], self.inputs)
        self._check_connected(reached)
        foreign = mark(self.path, self.marked_types)
        if foreign and self.rule_based:
            names = ", ".join(f"'{op.name}' ({op.type})" for op in foreign)
            warn(f"{self.name}: these nonlinearities carry a gradient override of their own, "
                 f"which the {self.name} rule does not replace: {names}.", UnsupportedOpWarning)
        self.varying = varying_inputs(self.path, self.inputs)
        check_path(self.path, self.inputs, self.target, self.name, self.rule_based, self.exact_classes,
                   self.varying, softmax_warning=self.attributes_target)
        self.target_shape = feeding.static_shape(self.target)[1:]
        batch_dims = {x.shape.as_list()[0] for x in self.inputs if x.shape.rank}
        self.fixed_batch = batch_dims.pop() if len(batch_dims) == 1 and None not in batch_dims else None
        self._check_static_batch()
        self._rows_checked = self.fixed_batch is not None or not self.batches_rows
        self._feed_defaults = _learning_phase_feed(self.graph)
        self._check_inputs()  # last of the checks: a failed one leaves the graph as it was
        with self.graph.as_default(), tf1.name_scope(f"deepexplain_ng_{self.name.replace('*', '_')}"):
            self.weights = tf1.placeholder(self.target.dtype, (None,) + tuple(self.target_shape),
                                           name="target_weights")
            weighted = self.target * self.weights
            # S(x): one scalar per sample; its gradient w.r.t. X is per sample too.
            self.score = tf.reduce_sum(tf.reshape(weighted, [tf.shape(weighted)[0], -1]), axis=1)
            self._build()

    # -- checks -----------------------------------------------------------------------------
    def _check_target(self):
        shape = feeding.static_shape(self.target)
        if shape is None or len(shape) == 0:
            raise ExplainValueError(f"T '{self.target.name}' must have a batch axis (shape (n, ...)), got "
                                    f"shape {self.target.shape}.")
        if not self.target.dtype.is_floating:
            raise ExplainTypeError(f"T '{self.target.name}' must be a float tensor, got {self.target.dtype.name}.")
        for x in self.inputs:
            if not x.dtype.is_floating:
                raise ExplainTypeError(
                    f"X '{x.name}' has dtype {x.dtype.name}: no gradient flows from integer inputs "
                    "(token ids, indices). For an embedding model, explain the embedding lookup's "
                    "output instead and sum the attributions over the embedding axis.")
            if x.shape.rank is None or x.shape.rank == 0:
                raise ExplainValueError(f"X '{x.name}' must have a batch axis (shape (n, ...)), got {x.shape}.")

    def _check_options(self, options):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = sorted(self.options) + sorted(self.common_options)
            raise ExplainTypeError(f"method '{self.name}' got unknown keyword(s) {unknown}; it accepts "
                                   f"{allowed}.")
        params = dict(self.options)
        params.update(options)
        return self.validate(params)

    def validate(self, params):
        """Check and normalise the method's keywords (subclasses extend)."""
        return params

    def _check_inputs(self):
        """Method-specific checks of X that create no ops (subclasses extend)."""

    def _check_static_batch(self):
        """T's rows must be X's rows: a batch axis that static shapes fix apart from X's is coupled."""
        rows = self.target.shape.as_list()[0]
        x_rows = {x.shape.as_list()[0] for x in self.inputs}
        if rows is not None and x_rows != {rows}:
            raise ExplainValueError(
                f"T '{self.target.name}' has a fixed batch of {rows} rows while X's batch is "
                f"{'free' if x_rows == {None} else sorted(x_rows, key=str)}: T's rows are not X's rows "
                "(a weight or constant that broadcasts against the batch axis, a reduction over it). "
                "The methods evaluate T on rows of their own (IG steps, baselines, perturbed copies), "
                "so explain a target with one row per sample of X; to select classes, pass ys= "
                "instead of multiplying T.")

    def _probe_row_independence(self, xs, extra):
        """Once per explainer: T of a row must not change when another row is in the batch.

        Evaluates two different rows together and the first alone; a difference beyond float32
        rounding means T mixes rows (a reduction over the batch axis, batch statistics as in
        BatchNorm in training mode), and every batched result would depend on the batching.
        """
        first = [x[:1] for x in xs]
        other = [x[1:2] if len(x) > 1 and not np.array_equal(x[1:2], x[:1]) else (0.5 * x[:1] + 0.25).astype(x.dtype)
                 for x in xs]
        if all(np.array_equal(a, b) for a, b in zip(first, other)):
            return
        together, alone = [
            self.session.run(self.target, {**extra, **dict(zip(self.inputs, values))})[:1]
            for values in ([np.concatenate([a, b]) for a, b in zip(first, other)], first)]
        scale = max(float(np.abs(alone).max()), float(np.abs(together).max()), 1e-30)
        change = float(np.abs(together - alone).max())
        if change > 1e-4 * scale:
            raise ExplainValueError(
                f"T '{self.target.name}': its rows are coupled across the batch: T of one sample changed "
                f"by {change:.3g} (of {scale:.3g}) when another sample was in the same batch (a reduction "
                "over the batch axis, or batch statistics such as BatchNorm in training mode). The "
                "methods batch IG steps, baselines and perturbed copies as rows, so the numbers would "
                "depend on the batching. Explain the model in inference mode (Keras: training=False, "
                "learning phase 0) or a target computed per sample.")

    def _check_connected(self, reached):
        for x, hit in zip(self.inputs, reached):
            if not hit:
                raise ExplainValueError(
                    f"X '{x.name}' is not connected to T '{self.target.name}' by a differentiable "
                    "path, so it gets no attribution. If X feeds an embedding lookup (token ids), "
                    "explain the lookup's output instead (its float tensor) and sum the attributions "
                    "over the embedding axis; otherwise check that T is computed from X.")

    # -- running ---------------------------------------------------------------------------
    def __reduce__(self):
        # a session and its graph cannot cross processes; a job description can
        raise ExplainTypeError(
            f"a compiled {self.name} explainer holds a TF session and graph, which cannot be pickled; to run "
            "it in other processes (Dask, multiprocessing) send deepexplain_ng.batch.Job(model_file, method, "
            "options) instead, which builds its explainer once in each process.")

    def run(self, xs=None, ys=None, batch_size=None, feed=None):
        """Attributions for ``xs``.

        Args:
            xs: array of shape ``(n,) + X.shape[1:]``, or a list of such arrays when X is a list.
                None when X is a hidden tensor (a layer's output, an embedding) computed from
                the model's raw inputs given in ``feed``.
            ys: optional target weights of shape ``(n,) + T.shape[1:]`` (e.g. one-hot), or ``n``
                integer class indices when T is ``(n, classes)`` (one int: that class for every
                sample), or ``"predicted"`` (each sample's top class of T, from one extra forward
                pass), or a quantity of :mod:`deepexplain_ng.targets` (``contrast(a, b)``,
                ``channel(k)``, ``neuron(i, ...)``); None sums all outputs of T.
            batch_size: samples of ``xs`` per chunk (None: all at once, bounded by the memory
                budget); it never changes the numbers.
            feed: dict ``{placeholder (tensor or name): value}``. With ``xs``: other
                placeholders the graph needs (e.g. a keep-probability), fed to every run. Without
                ``xs``: the raw inputs ``(n, ...)`` from which X is computed first (scalars are
                still fed to every run).
        Returns:
            An array shaped like ``xs`` (a list of them when X is a list).
        """
        feed = self._check_feed(feed)
        if batch_size is not None:
            batch_size = positive_int("batch_size", batch_size)
        if xs is None:
            xs = self._inputs_from(feed, batch_size)
            feed = {k: v for k, v in feed.items() if np.ndim(v) == 0}
        xs = feeding.input_list(xs, self.inputs)
        n = xs[0].shape[0]
        extra = dict(self._feed_defaults)
        extra.update(feed)
        if isinstance(ys, str):
            ys = self._predicted_classes(ys, xs, extra)
        weights = feeding.target_weights(ys, n, self.target_shape, self.target.dtype.as_numpy_dtype)
        if self.weight_factor is not None:
            weights = weights * self._factor_rows(n)
        step = n if batch_size is None else batch_size
        if not self._rows_checked:
            self._probe_row_independence(xs, extra)
            self._rows_checked = True
        context = self._prepare(xs, extra)
        outputs = [np.empty(self.result_shape(x.shape), x.dtype) for x in xs]
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            chunk = self._explain([x[lo:hi] for x in xs], weights[lo:hi], slice(lo, hi), context, extra)
            for out, part in zip(outputs, chunk):
                out[lo:hi] = part
        return outputs[0] if self._single else outputs

    def _predicted_classes(self, ys, xs, extra):
        """``ys="predicted"``: each sample's top class of T, as class indices."""
        if ys != "predicted":
            raise ExplainValueError(f"ys: expected weights, class indices, None or \"predicted\", got {ys!r}.")
        if len(self.target_shape) != 1:
            raise ExplainValueError(f"ys=\"predicted\" needs a target of shape (n, classes), got T "
                                    f"'{self.target.name}' of shape {self.target.shape}.")
        classes = np.empty(xs[0].shape[0], np.int64)

        def make_feed(lo, hi):
            return {x: a[lo:hi] for x, a in zip(self.inputs, xs)}

        def consume(lo, hi, values):
            classes[lo:hi] = values[0].argmax(axis=1)

        feeding.run_rows(self.session, [self.target], len(classes), make_feed, consume, self.rows_per_run(),
                         self.fixed_batch, False, None, extra)
        return classes

    def _factor_rows(self, n):
        factor = self.weight_factor
        if factor.shape[0] != n:
            raise ExplainValueError(
                f"T: '{self.target.name}' is multiplied by a constant of {factor.shape[0]} rows (the "
                f"`T * ys` masking idiom), so xs must have {factor.shape[0]} samples; got {n}. Pass the "
                "mask as ys= instead (one row per sample of xs), and the target unmasked as T.")
        return factor.astype(self.target.dtype.as_numpy_dtype)

    def _check_feed(self, feed):
        if feed is None:
            return {}
        if not isinstance(feed, dict):
            raise ExplainTypeError(f"feed must be a dict {{placeholder: value}}, got {type(feed).__name__}.")
        checked = {}
        for key, value in feed.items():
            tensor = key
            if isinstance(key, str):
                try:
                    tensor = self.graph.get_tensor_by_name(key if ":" in key else key + ":0")
                except (KeyError, ValueError) as error:
                    raise ExplainValueError(f"feed: no tensor named '{key}' in the graph ({error}).") from None
            if not isinstance(tensor, tf.Tensor) or tensor.graph is not self.graph:
                raise ExplainTypeError(f"feed: keys must be tensors of the explainer's graph (or their names), "
                                       f"got {key!r}.")
            checked[tensor] = feeding.as_array(f"feed['{tensor.name}']", value, tensor.dtype.as_numpy_dtype)
        return checked

    def _inputs_from(self, feed, batch_size):
        """X computed from the raw inputs in ``feed``, chunk by chunk."""
        batched = {k: v for k, v in feed.items() if np.ndim(v) > 0}
        if not batched:
            names = ", ".join(f"'{x.name}'" for x in self.inputs)
            raise ExplainValueError(f"xs: give the values of X ({names}), or the model's raw inputs as "
                                    "feed={input_placeholder: array} so the explainer computes X from them.")
        counts = {k.name: v.shape[0] for k, v in batched.items()}
        if len(set(counts.values())) > 1:
            raise ExplainValueError(f"feed: the raw inputs need the same number of samples, got {counts}.")
        n = next(iter(counts.values()))
        step = batch_size or self.rows_per_run()
        constants = {k: v for k, v in feed.items() if np.ndim(v) == 0}
        constants.update(self._feed_defaults)
        parts = []
        for lo in range(0, n, step):
            chunk = dict(constants)
            chunk.update({k: v[lo:lo + step] for k, v in batched.items()})
            parts.append(self.session.run(self.inputs, chunk))
        return [np.concatenate(values) for values in zip(*parts)]

    def result_shape(self, shape):
        """The shape of the attributions of inputs of ``shape`` (the input's, for most methods)."""
        return shape

    def _prepare(self, xs, extra):
        """Per-call work shared by all chunks (e.g. reference activations)."""
        return None

    def _explain(self, xs, weights, rows, context, extra):
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------------------------
    def row_bytes(self):
        """Bytes one row costs in a run: activations on the path (and their gradients)."""
        if getattr(self, "_row_bytes", None) is None:
            self._row_bytes = self._count_row_bytes()
        return self._row_bytes

    def _count_row_bytes(self):
        total = sum(int(np.prod(x.shape[1:].as_list() or [1], dtype=np.int64)) * x.dtype.size
                    for x in self.inputs)
        for op in self.path:
            for out in op.outputs:
                dims = out.shape.as_list()[1:] if out.shape.rank else []
                total += int(np.prod([d or 1 for d in dims], dtype=np.int64)) * out.dtype.size
        return total * (2 if self.uses_gradients else 1)

    def rows_per_run(self):
        return max(1, self.memory_budget // max(1, self.row_bytes()))

    def evaluate(self, fetches, n_rows, make_feed, consume, extra, description=None):
        """Run ``fetches`` over ``n_rows`` rows in memory-bounded chunks (see feeding.run_rows)."""
        feeding.run_rows(self.session, fetches, n_rows, make_feed, consume, self.rows_per_run(),
                         self.fixed_batch, self.progress, description or self.name, extra)
