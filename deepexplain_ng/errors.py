"""The package's one exception family for a caller's mistakes.

DeepExplain raised ``RuntimeError`` for bad arguments, so code written for it catches that;
every error here is also a ``RuntimeError`` *and* the natural built-in (``ValueError`` for a
wrong value or shape, ``TypeError`` for a wrong kind of object), so both old and new
``except`` clauses catch it.
"""


class ExplainError(RuntimeError):
    """Base of every error the package raises for a caller's mistake."""


class ExplainValueError(ExplainError, ValueError):
    """An argument of the right kind with a wrong value or shape."""


class ExplainTypeError(ExplainError, TypeError):
    """An argument of the wrong kind (not a tensor, not an array, not an int, ...)."""


class ExplainOptionError(ExplainValueError, AssertionError):
    """A method option outside its range (DeepExplain asserted ``epsilon > 0``)."""
