"""Attributions of token sequences: models whose X is an embedding lookup's output."""
import numpy as np

from .errors import ExplainValueError


def token_attributions(attributions, embedding_axis=-1):
    """Sum attributions of embedded tokens over the embedding axis: one number per token.

    Args:
        attributions: array ``(n, tokens, embedding_dim)`` explaining an embedding output
            (a list of such arrays is mapped element-wise).
        embedding_axis: the axis holding the embedding dimensions (default last).
    Returns:
        Array ``(n, tokens)``.
    """
    if isinstance(attributions, (list, tuple)):
        return [token_attributions(a, embedding_axis) for a in attributions]
    array = np.asarray(attributions)
    if array.ndim < 2:
        raise ExplainValueError(f"attributions: expected shape (n, tokens, embedding_dim), got {array.shape}.")
    return array.sum(axis=embedding_axis)
