"""deepexplain_ng: attribution methods for TensorFlow static graphs.

    with DeepExplain(session=sess) as de:
        attributions = de.explain("deeplift", T, X, xs, ys=labels)
"""
from . import targets, text, visualize
from .context import DeepExplain
from .errors import ExplainError, ExplainOptionError, ExplainTypeError, ExplainValueError
from .methods import METHODS, Explainer
from .models import keras_session
from .notices import ConvergenceWarning, SoftmaxTargetWarning, UnsupportedOpWarning

__version__ = "0.1.0"


def available_methods():
    """Names accepted as ``method`` by :meth:`DeepExplain.explain`."""
    return list(METHODS)


__all__ = ["DeepExplain", "Explainer", "available_methods", "keras_session", "targets", "text", "visualize",
           "ExplainError", "ExplainValueError", "ExplainTypeError", "ExplainOptionError",
           "ConvergenceWarning", "SoftmaxTargetWarning", "UnsupportedOpWarning"]
