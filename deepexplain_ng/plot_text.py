"""Token attributions as text on coloured boxes: a matplotlib strip (PNG) and HTML spans.

The colours are the heat maps': red positive, blue negative, white 0, on limits symmetric
around 0; NaN grey. Import these from :mod:`deepexplain_ng.plot`.
"""
import html

import numpy as np

from .errors import ExplainValueError
from .plot_modes import _cmap, _figure_of, _number, _scale

_LUMINANCE = np.array([0.299, 0.587, 0.114])


def _tokens_and_scores(tokens, scores):
    if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__iter__"):
        raise ExplainValueError(f"tokens: expected a sequence of strings, one per token, got {type(tokens).__name__}"
                                f"{' (split the text into tokens first)' if isinstance(tokens, str) else ''}.")
    tokens = [str(token) for token in tokens]
    if not tokens:
        raise ExplainValueError("tokens: expected at least one token, got none.")
    s = np.asarray(scores)
    if s.shape != (len(tokens),) or not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
        raise ExplainValueError(f"scores: expected {len(tokens)} numbers, shape ({len(tokens)},) like tokens "
                                f"(embedding attributions: sum them with deepexplain_ng.text.token_attributions), "
                                f"got shape {s.shape} of {s.dtype}.")
    return tokens, s.astype(np.float64)


def _colours(scores, outlier_percentile, cmap):
    """(n,) scores -> (n, 4) RGBA on -L .. L, and L."""
    from matplotlib.colors import Normalize

    p = _number("outlier_percentile", outlier_percentile, 0, 100, open_high=True)
    limit = _scale(scores, "all", p, "percentile")
    return _cmap(cmap)(Normalize(-limit, limit)(np.ma.masked_invalid(scores))), limit


def _ink(rgba):
    """Black text on light boxes, white on dark ones."""
    return "white" if float(np.asarray(rgba)[:3] @ _LUMINANCE) < 0.5 else "black"


def text_strip(tokens, scores, path=None, ax=None, outlier_percentile=0, cmap=None, title=None, colorbar=False,
               width=8.0, fontsize=12, dpi=100):
    """Draw tokens on boxes coloured by their scores, left to right, wrapped into lines.

    Args:
        tokens: ``n`` strings (drawn as they are; ``$`` is not read as math).
        scores: ``(n,)`` numbers, one per token (NaN: a grey box).
        path: where to save the figure (PNG by the extension), optional.
        ax: matplotlib axes to draw in (default: a new figure ``width`` inches wide, as tall as
            the lines need). Its width sets where lines wrap; content taller than it is squeezed.
        outlier_percentile: the scale is ``-L .. L`` with ``L`` the ``100 - outlier_percentile``
            percentile of ``|scores|``; 0 (default) = the largest, so the strongest token is full colour.
        cmap: another diverging colormap. title: a title above the tokens.
        colorbar: add a horizontal colour bar (in score units) below the tokens.
        width, fontsize, dpi: figure width in inches, font size in points, resolution.
    Returns:
        The matplotlib ``Figure``; the boxes are ``fig.axes[0].patches`` in token order.
    Raises:
        ExplainValueError: on a string instead of tokens, or scores of another length.
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Rectangle
    from matplotlib.textpath import text_to_path

    tokens, scores = _tokens_and_scores(tokens, scores)
    colours, limit = _colours(scores, outlier_percentile, cmap)
    font = FontProperties(size=fontsize)
    pad, box, gap, step = 0.35 * fontsize, 1.5 * fontsize, 0.3 * fontsize, 1.85 * fontsize   # in points
    new = ax is None
    if new:
        available = width * 72.0
    else:
        fig = _figure_of(ax)
        available = ax.bbox.width / fig.dpi * 72.0
    boxes, x, y = [], gap, gap
    for token in tokens:
        size = text_to_path.get_text_width_height_descent(token, font, ismath=False)[0] + 2 * pad
        if x + size > available - gap and x > gap:
            x, y = gap, y + step
        boxes.append((x, y, size))
        x += size + gap
    height = y + box + gap
    if new:
        top = 2.2 * fontsize if title is not None else 0.0
        bottom = 3.2 * fontsize if colorbar else 0.0
        total = height + top + bottom
        fig = plt.figure(figsize=(width, total / 72.0), dpi=dpi)
        ax = fig.add_axes((0.0, bottom / total, 1.0, height / total))
    ax.set_xlim(0, available)
    ax.set_ylim(max(height, ax.bbox.height / fig.dpi * 72.0), 0)
    ax.set_axis_off()
    for token, colour, (x, y, size) in zip(tokens, colours, boxes):
        ax.add_patch(Rectangle((x, y), size, box, facecolor=colour, edgecolor="0.8", linewidth=0.5))
        ax.text(x + pad, y + box / 2, token, fontproperties=font, color=_ink(colour), ha="left", va="center",
                parse_math=False)
    if title is not None:
        ax.set_title(title, fontsize=fontsize)
    if colorbar:
        mappable = ScalarMappable(norm=Normalize(-limit, limit), cmap=_cmap(cmap))
        if new:
            cax = fig.add_axes((0.15, 1.6 * fontsize / total, 0.7, 0.7 * fontsize / total))
            fig.colorbar(mappable, cax=cax, orientation="horizontal")
        else:
            fig.colorbar(mappable, ax=ax, orientation="horizontal")
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def text_html(tokens, scores, outlier_percentile=0, cmap=None, path=None):
    """Tokens as self-contained HTML: one ``<span>`` per token, its background coloured by its score.

    Args:
        tokens: ``n`` strings (HTML-escaped, so ``<b>`` shows as text).
        scores: ``(n,)`` numbers, one per token (NaN: grey); each span's ``title`` shows its score.
        outlier_percentile, cmap: the colour scale, as in :func:`text_strip`.
        path: also write the HTML there (UTF-8), optional.
    Returns:
        The HTML as a ``str``: a ``<div>`` with inline styles only (no scripts, no stylesheet).
    """
    from matplotlib.colors import to_hex

    tokens, scores = _tokens_and_scores(tokens, scores)
    colours, _ = _colours(scores, outlier_percentile, cmap)
    spans = [f'<span title="{score:.4g}" style="background-color: {to_hex(colour)}; color: {_ink(colour)}; '
             f'padding: 0.1em 0.25em; margin: 0 0.1em; border-radius: 0.2em; white-space: pre-wrap;">'
             f'{html.escape(token)}</span>' for token, score, colour in zip(tokens, scores, colours)]
    text = '<div style="font-family: sans-serif; line-height: 2;">\n' + "\n".join(spans) + "\n</div>\n"
    if path is not None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    return text
