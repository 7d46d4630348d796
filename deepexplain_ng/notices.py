"""The package's warnings, issued at the caller's own line rather than inside the package."""
import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class UnsupportedOpWarning(UserWarning):
    """An op on the path X -> T that the chosen method cannot treat exactly.

    Turn it into an error with ``warnings.simplefilter("error", UnsupportedOpWarning)``.
    """


class SoftmaxTargetWarning(UserWarning):
    """The target is computed through a softmax; explaining the logits is advised."""


def warn(message, category=UserWarning):
    """``warnings.warn`` attributed to the first frame outside the package (the user's call)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class ConvergenceWarning(UserWarning):
    """An adaptive method stopped at its step limit before reaching the asked accuracy."""
