"""matplotlib, imported only when a figure is drawn.

Figures are plain ``matplotlib.figure.Figure`` objects with an Agg canvas:
drawing never imports pyplot, never opens a window and never changes the
process-wide backend, so plotting works headless (servers, CI, the command
line). Save one with ``fig.savefig("out.png")``; a notebook displays it when
it is the value of a cell.
"""
from __future__ import annotations

INSTALL = 'pip install "partiald[plot]"'


def require():
    """The ``matplotlib`` module, or ImportError with the install command."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise ImportError(f"partiald.plot draws with matplotlib, which is not installed; "
                          f"install it with: {INSTALL}") from None
    return matplotlib


def new_figure(figsize, **kwargs):
    """A Figure on an Agg canvas (headless), not registered with pyplot."""
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def math_or_text(latex, text, limit=90):
    """``$latex$`` when matplotlib's mathtext can typeset it, else the plain ``text``
    (shortened to ``limit`` characters)."""
    from matplotlib.mathtext import MathTextParser
    if latex is not None and len(latex) <= 2 * limit:
        try:
            MathTextParser("path").parse(f"${latex}$")
            return f"${latex}$"
        except (ValueError, RuntimeError):
            pass
    return text if len(text) <= limit else text[: limit - 1] + "…"
