"""The overridden gradient of the ops a rule may apply to, and the per-graph rule state.

One gradient function is registered with TF under ``GRADIENT_NAME``. The ops a rule may
apply to (``op_classes.RULED``: nonlinearities, unary math, products, max, softmax) are
marked with it, either while they are built inside a ``DeepExplain`` context
(``gradient_override_map`` writes the ``_gradient_op_type`` attribute as the op is made) or
afterwards, when an explainer is built on a graph that already exists. Afterwards, the op's
NodeDef is left alone (a session may have run it already, and TF refuses to have such ops
mutated): the Python ``Operation`` gets the function as its ``_gradient_function``, which
TF's gradient lookup consults before any attribute. When TF calls it, the function asks
the op's graph which rule is active: a rule is active only while an Explainer builds its
symbolic gradients, under the graph's lock, so ordinary training gradients and other
explainers are unaffected (without a rule, TF's own gradient is used).
"""
import contextlib
import threading

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

from .op_classes import RULED
from .rules import original_gradient

GRADIENT_NAME = "DeepExplainNGGradient"
_STATE_ATTRIBUTE = "_deepexplain_ng_rules"
_OP_TYPE_ATTRIBUTE = "_gradient_op_type"
# Guards only the one-time creation of a graph's state object.
_STATE_CREATION = threading.Lock()


class _GraphRules:
    """Rule state of one graph: the rule in force while gradients are being built."""

    def __init__(self):
        self.lock = threading.RLock()
        self.active = None


def graph_rules(graph):
    """The rule state attached to ``graph`` (created on first use)."""
    state = getattr(graph, _STATE_ATTRIBUTE, None)
    if state is None:
        with _STATE_CREATION:
            state = getattr(graph, _STATE_ATTRIBUTE, None)
            if state is None:
                state = _GraphRules()
                setattr(graph, _STATE_ATTRIBUTE, state)
    return state


def _dispatch(op, *grads):
    rule = graph_rules(op.graph).active
    if rule is None or (len(grads) > 1 and not getattr(rule, "multi_output", False)):
        return original_gradient(op, *grads)  # rules see one-output ops, unless they say otherwise
    return rule(op, *grads)


def _register():
    try:
        tf_ops.gradient_registry.lookup(GRADIENT_NAME)
    except LookupError:
        tf.RegisterGradient(GRADIENT_NAME)(_dispatch)


_register()


def override_scope(graph):
    """Context manager marking the ops a rule may apply to (nonlinearities, products, max,
    softmax, ...) built in ``graph`` inside it; without an active rule they keep their gradient."""
    return graph.gradient_override_map({kind: GRADIENT_NAME for kind in RULED})


def _override_of(op):
    """The gradient override ``op`` carries: a function, an op-type name, or None."""
    if op._gradient_function is not None:
        return op._gradient_function
    try:
        return op.get_attr(_OP_TYPE_ATTRIBUTE).decode()
    except ValueError:
        return None


def is_marked(op):
    return _override_of(op) in (_dispatch, GRADIENT_NAME)


def mark(ops, extra=frozenset()):
    """Mark the ops among ``ops`` a rule may apply to (``RULED``, and the op types in ``extra``
    that a method rules besides), after the fact; return the ops skipped.

    Ops that already carry another gradient override (a user's custom gradient) are
    left alone and returned, so the caller can say so.
    """
    foreign = []
    for op in ops:
        if op.type not in RULED and op.type not in extra:
            continue
        override = _override_of(op)
        if override is None:
            op._gradient_function = _dispatch
        elif override not in (_dispatch, GRADIENT_NAME):
            foreign.append(op)
    return foreign


@contextlib.contextmanager
def active_rule(graph, rule):
    """Make ``rule(op, grad)`` the backward of marked ops of ``graph`` inside the block."""
    state = graph_rules(graph)
    with state.lock:
        previous, state.active = state.active, rule
        try:
            yield
        finally:
            state.active = previous
