"""The DeepExplain context manager: a graph, its session, the override scope, explainers."""
import hashlib
import sys

import numpy as np
import tensorflow as tf

from .errors import ExplainTypeError, ExplainValueError
from .feeding import DEFAULT_MEMORY_BUDGET
from .flatten import flat_graph_def
from .methods import method_class
from .models import (FrozenModel, ImportedModel, behind_identities, freeze, keras_session, load_graph_def,
                     pre_activation)
from .overrides import override_scope

tf1 = tf.compat.v1


def _resolve_session(session, graph):
    if session is not None:
        if not isinstance(session, tf1.Session) and not hasattr(session, "run"):
            raise ExplainTypeError(f"session must be a tf.compat.v1.Session, got {type(session).__name__}.")
        if graph is not None and session.graph is not graph:
            raise ExplainValueError("session and graph disagree: session.graph is not the graph given; "
                                    "pass only one of them.")
        return session
    default = tf1.get_default_session()
    if default is not None and (graph is None or default.graph is graph):
        return default
    if graph is not None:
        return tf1.Session(graph=graph)
    if "tf_keras" in sys.modules and not tf.executing_eagerly():
        return keras_session()
    raise ExplainValueError(
        "DeepExplain needs a session: pass DeepExplain(session=sess) with the tf.compat.v1.Session "
        "that holds the model's weights (for a tf_keras model in graph mode: "
        "session=deepexplain_ng.keras_session()), or graph=... for a graph without variables.")


def _freeze(value):
    """A hashable key for an option value (arrays by content)."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return ("array", array.shape, str(array.dtype), hashlib.sha1(array.tobytes()).hexdigest())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    try:
        hash(value)
        return value
    except TypeError:
        return ("repr", repr(value))


class DeepExplain:
    """Context in which attributions of a TF static graph are computed.

    Inside ``with DeepExplain(session=sess) as de:`` the session's graph is the default
    graph and the gradients of the nonlinearities (Relu, Relu6, LeakyRelu, Elu, Selu,
    Sigmoid, Tanh, Softplus, Softsign) are routed through the library, so that epsilon-LRP
    and DeepLIFT run as modified chain rules. A model built before entering works too:
    the ops between X and T are marked when an explainer is built.

    Args:
        session: the ``tf.compat.v1.Session`` holding the model (default: the default
            session, else tf_keras' session in graph mode).
        graph: the graph, when there is no session yet (a new session is made for it).
        memory_budget: bytes of activations one ``session.run`` may use (default 256 MiB);
            it bounds chunk sizes, never the results.
    """

    def __init__(self, session=None, graph=None, memory_budget=None):
        self.session = _resolve_session(session, graph)
        self.graph = self.session.graph
        self.memory_budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
        self._explainers = {}
        self._scopes = []

    def __enter__(self):
        scopes = [self.graph.as_default(), override_scope(self.graph)]
        for scope in scopes:
            scope.__enter__()
        self._scopes.append(scopes)
        return self

    def __exit__(self, *exc):
        for scope in reversed(self._scopes.pop()):
            scope.__exit__(*exc)
        return False

    def get_explainer(self, method, T, X, **kwargs):
        """Build an :class:`~deepexplain_ng.Explainer` for ``method`` once.

        Args:
            method: one of :func:`deepexplain_ng.available_methods`.
            T: target tensor of shape ``(n, ...)``.
            X: input tensor of shape ``(n, ...)``, or a list of them.
            **kwargs: the method's options (e.g. ``steps``, ``baseline``, ``epsilon``) and
                the common ``memory_budget`` (bytes) and ``progress`` (bool, None = auto).
        Returns:
            An explainer whose ``run(xs, ys=None, batch_size=None)`` adds no ops to the graph.
        """
        cls = method_class(method)
        kwargs.setdefault("memory_budget", self.memory_budget)
        with self.graph.as_default():
            return cls(self.session, T, X, **kwargs)

    def explain(self, method, T, X, xs=None, ys=None, batch_size=None, feed=None, **kwargs):
        """Attributions of ``T`` w.r.t. ``X`` for the samples ``xs``.

        Shapes: ``xs`` is ``(n,) + X.shape[1:]`` (a list of arrays for a list of inputs);
        ``ys`` is ``(n,) + T.shape[1:]`` weights (e.g. one-hot) or ``(n,)`` integer class
        indices, None to sum all outputs; the result has the shape of ``xs``. When X is a hidden
        tensor, ``xs`` may be None and ``feed={raw_input: values}`` give the model's inputs
        (see :meth:`Explainer.run`).
        Repeated calls with the same method, tensors and options reuse one compiled
        explainer, so the graph does not grow.
        """
        cls = method_class(method)
        inputs = X if isinstance(X, (list, tuple)) else [X]
        names = tuple(getattr(t, "name", None) for t in [T, *inputs])
        key = (cls.name, names, isinstance(X, (list, tuple)), _freeze(kwargs))
        explainer = self._explainers.get(key) if None not in names else None
        if explainer is None:
            explainer = self.get_explainer(method, T, X, **kwargs)
            self._explainers[key] = explainer
        return explainer.run(xs, ys=ys, batch_size=batch_size, feed=feed)

    def compiled(self, key, build):
        """The object built by ``build()`` for ``key``, built once per context (tools above the
        methods, such as :func:`deepexplain_ng.visualize.maximize`, keep their ops here)."""
        if key not in self._explainers:
            with self.graph.as_default():
                self._explainers[key] = build()
        return self._explainers[key]

    def import_model(self, model, output="logits", inputs=None, outputs=None, name="model"):
        """Bring a trained model into this context's graph.

        Args:
            model: a Keras 3 model (functional, Sequential, or subclassed and already called),
                a tf_keras model (graph mode in this graph, or eager), a path to a SavedModel
                directory or a ``.keras``/``.h5`` file, a ``GraphDef`` or a ``.pb`` path.
            output: ``"logits"`` (the input of a final softmax/sigmoid when there is one, else
                the output), ``"probabilities"`` (the model's output), or a Keras layer's name.
            inputs, outputs: tensor names (lists of str) in a GraphDef / ``.pb``, which carry no
                signature; ``outputs[0]`` is the model's output.
            name: name scope of the imported ops.
        Returns:
            An :class:`~deepexplain_ng.models.ImportedModel` that unpacks as ``(X, T)``: the input
            placeholder ``(n, ...)`` (a list for several inputs) and the target ``(n, ...)``, in this
            context's graph; ``.layer(name)`` gives any layer's output (e.g. an embedding to
            explain from, with ``feed={X: token_ids}``). Weights are frozen into constants and the
            model runs in inference mode (dropout off, batch norm on moving statistics);
            imported nonlinearities get the library's gradient override.
        """
        if not isinstance(output, str):
            raise ExplainTypeError(f"output must be 'logits', 'probabilities' or a layer name, got {output!r}.")
        if hasattr(model, "layers") and getattr(model, "inputs", None) is not None and \
                all(getattr(x, "graph", None) is self.graph for x in model.inputs):
            # a tf_keras model built in this very graph: nothing to import
            imported = ImportedModel(list(model.inputs), model.outputs[0], model.outputs[0],
                                     {layer.name: layer.output for layer in model.layers})
        else:
            imported = self._import_graph(model, inputs, outputs, name)
        if output == "logits":
            logits = pre_activation(imported.output)
            imported.target = imported.output if logits is None else logits
        elif output != "probabilities":
            imported.target = imported.layer(output)
        return imported

    def _import_graph(self, model, inputs, outputs, name):
        if isinstance(model, tf1.GraphDef) or (isinstance(model, str) and model.endswith(".pb")):
            if not inputs or not outputs:
                raise ExplainValueError("inputs= and outputs=: a GraphDef has no signature; name its input "
                                        "and output tensors, e.g. inputs=['x:0'], outputs=['logits:0'].")
            frozen = FrozenModel(load_graph_def(model) if isinstance(model, str) else model,
                                 list(inputs), list(outputs)[0], {})
        else:
            frozen = freeze(model)
        names = frozen.inputs + [frozen.output] + list(frozen.layers.values())
        with self.graph.as_default(), override_scope(self.graph):
            try:
                elements = tf1.import_graph_def(flat_graph_def(frozen.graph_def), name=name,
                                                return_elements=names)
            except (KeyError, ValueError) as error:
                raise ExplainValueError(f"inputs/outputs: {error}") from None
        count = len(frozen.inputs)
        # a traced function returns each layer's output through an Identity op off the main path;
        # the tensor upstream of T is the one behind it
        layers = {layer: behind_identities(t) for layer, t in zip(frozen.layers, elements[count + 1:])}
        return ImportedModel(elements[:count], elements[count], elements[count], layers)
