"""Pictures of partial derivatives: slices with tangent lines, level sets with
gradient arrows and descent paths, and a 3-D surface with its two tangents.

A partial derivative is the slope of a hill walked strictly along one axis:
∂f/∂x east-west, ∂f/∂y north-south. The gradient (∂f/∂x, ∂f/∂y) points
steepest uphill, at right angles to the level sets; gradient descent walks
against it into the valley.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._field import as_field, fmt, partial_label, short_list
from ._history import named_runs, path_points
from ._mpl import new_figure, require

#: colors of the plotted variables' tangents and of optimization paths
TANGENT_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
PATH_COLORS = ("#ff7f0e", "#e7298a", "#ffd92f", "#ffffff", "#a6761d", "#fb9a99", "#8c564b", "#000000")
#: each path's own marker and dashes, so paths that overlap (the same valley, the same end) stay apart
PATH_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
PATH_DASHES = ("-", "--", "-.", ":")
#: the colour of single-colour gradient arrows (``arrow_colorbar=False``)
ARROW_COLOR = "#2c4a7a"


#: level sets in pale greys, so the arrows (dark to green: |∇f|) and the warm paths stand out
BG_CMAP, BG_RANGE = "Greys", (0.0, 0.55)
ARROW_CMAP, ARROW_RANGE = "viridis", (0.0, 0.82)


# -- shared helpers ------------------------------------------------------------------

def _cmap(name, part):
    """The ``part`` (low, high) of a named colormap: pale level sets under dark arrows."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    base = colormaps[name] if isinstance(name, str) else name
    if part == (0.0, 1.0):
        return base
    return ListedColormap(base(np.linspace(*part, 256)), name=f"{base.name}_part")


def _point(field, at, axes=(), box=None):
    """The point ``at`` as a dict over all of f's variables; a sequence is read in
    ``field.names`` order. Plotted ``axes`` default to the middle of ``box``."""
    if at is None:
        at = {}
    elif not isinstance(at, Mapping):
        vals = list(np.ravel(np.asarray(at, dtype=np.float64)))
        if len(vals) != len(field.names):
            raise ValueError(f"at= has {len(vals)} value(s); f has variables {', '.join(field.names)}: "
                             f"pass a dict such as {{{', '.join(repr(v) + ': 1.0' for v in field.names)}}}")
        at = dict(zip(field.names, vals))
    unknown = sorted(set(at) - set(field.names))
    if unknown:
        raise ValueError(f"at= names {', '.join(map(str, unknown))}, which f does not use "
                         f"(its variables: {', '.join(field.names)})")
    point = {}
    for v in field.names:
        if v in at:
            point[v] = float(at[v])
        elif box is not None and v in axes:
            lo, hi = box[axes.index(v)]
            point[v] = lo / 2 + hi / 2          # (no overflow near the largest floats)
        else:
            raise ValueError(f"at= gives no value for {v}; f has variables {', '.join(field.names)}")
        if not np.isfinite(point[v]):
            raise ValueError(f"at= value for {v} must be a finite number, got {at.get(v)!r}")
    return point


#: the largest |end| of a plotted range: beyond it grids, tick labels and arrow
#: lengths overflow (1e308 - (-1e308) is inf)
MAX_END = 1e100
#: the narrowest range, relative to its ends' size: a grid needs distinct points
MIN_REL_WIDTH = 1e-9
#: most panels one ``slices`` picture draws (more take minutes and are unreadable)
MAX_PANELS = 12


def check_range(lo, hi, name, shown=None):
    """Raise ValueError unless ``(lo, hi)`` is a range a picture can be drawn over:
    finite, low < high, ends within ±MAX_END, and wide enough for distinct grid points
    at their magnitude. ``name`` (an argument or option) and ``shown`` (the values as
    given) go into the message."""
    shown = shown or f"({fmt(lo)}, {fmt(hi)})"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} must be finite with low < high, got {shown}")
    if not lo < hi:
        raise ValueError(f"{name} needs low < high, got {shown}")
    if max(abs(lo), abs(hi)) > MAX_END:
        raise ValueError(f"{name} {shown} is too far out to draw (its width overflows the grid and the "
                         f"axis ticks); give ends between {-MAX_END:g} and {MAX_END:g}")
    if hi - lo < MIN_REL_WIDTH * max(abs(lo), abs(hi)) or hi - lo < 1 / MAX_END:
        raise ValueError(f"{name} {shown} is too narrow to draw at this magnitude (the grid points would "
                         f"not be distinct): its width must be at least {MIN_REL_WIDTH:g} times its ends' "
                         f"size and at least {1 / MAX_END:g}")
    return lo, hi


def _limits(lim, name):
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {lim!r}") from None
    return check_range(lo, hi, name, repr(lim))


def _robust_range(values):
    """(low, high) of the finite values, ignoring far outliers (poles such as 1/x)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    q_lo, q_hi = (float(q) for q in np.percentile(v, [2, 98]))
    if hi - lo > 20 * (q_hi - q_lo) > 0:
        lo, hi = q_lo, q_hi
    return lo, hi


def _axes_pair(field, variables):
    """The two plotted variables."""
    if variables is not None:
        axes = tuple(variables)
        if len(axes) != 2:
            raise ValueError(f"variables= must name two variables, got {variables!r}")
        missing = [v for v in axes if v not in field.names]
        if missing:
            raise ValueError(f"f has no variable {', '.join(missing)} (its variables: {', '.join(field.names)})")
        return axes
    if len(field.names) < 2:
        raise ValueError(f"this picture needs a function of two variables; {field.text()} has one "
                         f"({field.names[0]}): use plot.slices, or pass variables=('{field.names[0]}', 'y')")
    return field.names[:2]


def _grid(xlim, ylim, nx, ny):
    return np.meshgrid(np.linspace(*xlim, nx), np.linspace(*ylim, ny))


def _fixed_caption(point, axes):
    held = [f"{v} = {fmt(point[v])}" for v in point if v not in axes]
    return f" ({short_list(held)} held fixed)" if held else ""


# -- slices ------------------------------------------------------------------------------

def slices(f, at=None, *, variables=None, lims=None, span=2.0, n=400, figsize=None):
    """f along each variable through a point, with the tangent line whose slope is the partial.

    Each panel walks along one variable with the others held fixed: the curve is
    that one-variable function, the dashed line its tangent at the point, and the
    slope printed on the line is the partial derivative there.

    Args:
      f: an Expr, formula text (``"x^2 + 3*x*y"``) or a Python function of scalars
        written with ``partiald.numpy``.
      at: the point, a dict ``{"x": 1, "y": 2}`` (or values in variable order).
        Variables it leaves out are 0.
      variables: which variables get a panel (default: all of f's).
      lims: optional dict ``name -> (low, high)`` for a panel's horizontal range;
        otherwise the point's value ± ``span``.
      n: points per curve.

    Returns:
      A matplotlib Figure, one panel per variable.

    Examples:
      >>> from partiald import plot
      >>> fig = plot.slices("x^2 + 3*x*y", at={"x": 1, "y": 2})
      >>> [ax.get_xlabel() for ax in fig.axes]
      ['x', 'y']
    """
    require()
    field = as_field(f)
    at = dict(at) if isinstance(at, Mapping) else at
    if isinstance(at, dict):
        at = {**{v: 0.0 for v in field.names}, **at}
    elif at is None:
        at = {v: 0.0 for v in field.names}
    point = _point(field, at)
    names = tuple(variables) if variables is not None else field.names
    missing = [v for v in names if v not in field.names]
    if missing:
        raise ValueError(f"f has no variable {', '.join(missing)} (its variables: {', '.join(field.names)})")
    f0, parts = field.at(point, names)
    lims = dict(lims or {})
    ncols = min(len(names), 3)
    nrows = -(-len(names) // ncols)
    fig = new_figure(figsize or (4.8 * ncols, 4.3 * nrows + 0.5), layout="constrained")
    axs = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axs[len(names):]:
        ax.set_visible(False)
    where = short_list([f"{v} = {fmt(point[v])}" for v in field.names], keep=8)
    for i, (ax, v) in enumerate(zip(axs, names)):
        color = TANGENT_COLORS[i % len(TANGENT_COLORS)]
        p = point[v]
        if v in lims:
            lo, hi = _limits(lims[v], f"lims[{v!r}]")
        else:
            lo, hi = check_range(p - span, p + span, f"the range of {v} (its value {fmt(p)} ± span {fmt(span)})")
        t = np.linspace(lo, hi, n)
        y = field.value({**point, v: t})
        y[~np.isfinite(y)] = np.nan          # undefined stretches leave a gap
        yr = _robust_range(y) or (f0 - 1.0, f0 + 1.0)
        ylo, yhi = min(yr[0], f0), max(yr[1], f0)
        pad = 0.08 * (yhi - ylo) or 1.0
        ylo, yhi = ylo - pad, yhi + pad
        # far off-screen values become gaps, so a pole (1/y) is not joined by a vertical line
        y[(y < ylo - (yhi - ylo)) | (y > yhi + (yhi - ylo))] = np.nan
        fixed = {k: point[k] for k in field.names if k != v}
        ax.plot(t, y, color="#333333", lw=2, label=field.signature(fixed), gid=f"curve:{v}")
        slope = parts[v]
        a, b = max(p - 0.3 * (hi - lo), lo), min(p + 0.3 * (hi - lo), hi)
        if slope != 0:                      # the part of the tangent inside the picture
            ends = sorted(p + (z - f0) / slope for z in (ylo, yhi))
            a, b = max(a, ends[0]), min(b, ends[1])
        tt = np.array([a, b])
        label = f"tangent: slope {partial_label(v)} = {fmt(slope)}"
        ax.plot(tt, f0 + slope * (tt - p), "--", color=color, lw=2, label=label, gid=f"tangent:{v}")
        ax.plot([p], [f0], "o", color=color, ms=7, mec="white", mew=1.5, zorder=5, gid=f"point:{v}")
        # the slope, printed on the longer half of the tangent
        xt = p + 0.6 * (b - p) if b - p >= p - a else p - 0.6 * (p - a)
        ax.text(xt, f0 + slope * (xt - p), f"slope {fmt(slope)}", color=color, fontsize=10, ha="center",
                va="center", zorder=6, gid=f"slope:{v}",
                bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=color, lw=1, alpha=0.95))
        ax.set_ylim(ylo, yhi)
        ax.set_xlim(lo, hi)
        ax.axvline(p, color="#999999", lw=0.8, ls=":", gid=f"guide:{v}")
        ax.set_xlabel(v)
        ax.set_ylabel(field.signature(fixed))
        formula = field.partial_text(v)
        head = f"{partial_label(v)} = " + (f"{formula} = " if formula is not None else "")
        ax.set_title(f"{head}{fmt(slope)}", fontsize=11)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9, framealpha=0.9)
    fig.suptitle(f"{field.title()}\nslices at {where}", fontsize=12)
    return fig


# -- contour -----------------------------------------------------------------------------

def contour(f, xlim=(-3.0, 3.0), ylim=(-3.0, 3.0), *, gradient=True, normalize=True, path=None,
            at=None, variables=None, levels=20, logscale=False, n=200, arrows=20, cmap=None,
            figsize=None, arrow_colorbar=True, title=None):
    """Filled level sets of f, gradient arrows, the steepest-descent direction and descent paths.

    Args:
      f: an Expr, formula text or a Python function of two scalars (``partiald.numpy``).
      xlim, ylim: the plotted box, ``(low, high)`` for each variable.
      gradient: draw ∇f (uphill, perpendicular to the level sets) on a grid of
        about ``arrows`` points per axis, colored by |∇f|.
      normalize: draw every arrow the same length (direction only; the color tells
        the magnitude). With False, length is proportional to |∇f|.
      path: an optimization history (``res.history``: records with an ``"x"``
        entry; an ``(n, 2)`` array; a result with ``.history``) or several, as a
        dict ``name -> history``; drawn with start (○) and end (★) markers. Each path
        has its own colour, marker and dashes, and the first is drawn widest, so
        paths that overlap stay visible.
      at: a point to mark, with the steepest-descent direction −∇f drawn there.
        For f of more than two variables it also fixes the others.
      variables: the two plotted variables (default: f's first two).
      levels: number of filled levels, or the level values.
      logscale: levels spaced geometrically (for functions like Rosenbrock's whose
        values span decades); needs f > 0 in the whole box. ``"auto"``: geometric
        where f > 0 in the box and linear levels would leave most of the box in the
        lowest level, linear otherwise.
      n: grid points per axis for the level sets.
      arrow_colorbar: False draws the arrows in one colour, leaving one colour bar
        (the level values).
      title: a second title line (e.g. what the paths are); the title is shrunk to
        fit the figure's width.

    Returns:
      A matplotlib Figure. Where f is undefined (NaN or inf, e.g. log(x) for x < 0)
      the level sets and arrows are left out and the box is hatched.

    Examples:
      >>> from partiald import plot
      >>> fig = plot.contour("x^2 + 3*y^2", (-2, 2), (-2, 2), at={"x": 1, "y": 1})
      >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
      ('x', 'y')
    """
    require()
    from matplotlib import colors as mcolors
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    field = as_field(f, extra=tuple(variables or ()))
    axes = _axes_pair(field, variables)
    xlim, ylim = _limits(xlim, "xlim"), _limits(ylim, "ylim")
    point = _point(field, at, axes, (xlim, ylim))
    mark = at is not None
    if mark and isinstance(at, Mapping):
        missing_axes = [v for v in axes if v not in at]
        if missing_axes:
            raise ValueError(f"at= marks a point, so it needs {', '.join(missing_axes)} too")
    base = {v: point[v] for v in field.names if v not in axes}

    fig = new_figure(figsize or (8.4, 7.0), layout="compressed")
    ax = fig.add_subplot()
    X, Y = _grid(xlim, ylim, n, n)
    Z = field.value({**base, axes[0]: X, axes[1]: Y})
    Zm = np.ma.masked_invalid(Z)
    zr = _robust_range(Z)
    if zr is None:
        raise ValueError(f"{field.text()} is undefined (NaN or inf) everywhere in the box "
                         f"{axes[0]} in {xlim}, {axes[1]} in {ylim}")
    legend = []
    if np.ma.is_masked(Zm):        # hatched where f is undefined
        from matplotlib.patches import Patch, Rectangle
        ax.add_patch(Rectangle((xlim[0], ylim[0]), xlim[1] - xlim[0], ylim[1] - ylim[0], fill=False,
                               hatch="//", edgecolor="#b0b0b0", lw=0, zorder=0, gid="undefined"))
        legend.append(Patch(fill=False, hatch="//", edgecolor="#b0b0b0", label="f undefined (NaN/inf)"))
    norm = None
    if isinstance(logscale, str):
        if logscale != "auto":
            raise ValueError(f"logscale must be True, False or 'auto', got {logscale!r}")
        logscale = log_levels_help(Z)
    if not isinstance(levels, (int, np.integer)):
        lv = np.asarray(levels, dtype=np.float64)
    elif logscale:
        finite = Z[np.isfinite(Z)]
        pos = finite[finite > 0]
        if pos.size < finite.size:
            low = float(finite.min())
            raise ValueError(f"logscale=True needs f > 0 in the whole box (log-spaced levels), but f reaches "
                             f"{fmt(low)} here; use logscale=False, or logscale='auto' to choose")
        top = float(pos.max())
        lv = np.geomspace(max(float(pos.min()), top * 1e-6), top, int(levels) + 1)
        norm = mcolors.LogNorm(lv[0], lv[-1])
    else:
        from matplotlib.ticker import MaxNLocator
        lo, hi = zr if zr[1] > zr[0] else (zr[0] - 1, zr[0] + 1)
        lv = MaxNLocator(int(levels) + 1).tick_values(lo, hi)     # round level values
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max",
              (True, True): "both"}[(bool(Zm.min() < lv[0]), bool(Zm.max() > lv[-1]))]
    bg = _cmap(BG_CMAP, BG_RANGE) if cmap is None else cmap
    filled = ax.contourf(X, Y, Zm, levels=lv, cmap=bg, norm=norm, extend=extend)
    filled.set_gid("levels")
    ax.contour(X, Y, Zm, levels=lv, colors="black", linewidths=0.4, alpha=0.35, norm=norm).set_gid("level-lines")
    cb = fig.colorbar(filled, ax=ax, shrink=0.9, pad=0.01)
    if norm is not None:
        from matplotlib.ticker import LogFormatterSciNotation, LogLocator
        ticks = LogLocator(numticks=8).tick_values(lv[0], lv[-1])
        cb.set_ticks(ticks[(ticks >= lv[0]) & (ticks <= lv[-1])])
        cb.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
        cb.ax.minorticks_off()
    cb.set_label(field.signature(base) if base else field.signature())
    ratio = (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    equal = 1 / 3 <= ratio <= 3         # equal scales, so ∇f meets the level sets at right angles
    if gradient:
        q = _gradient_arrows(ax, field, base, axes, xlim, ylim, int(arrows), normalize, equal,
                             None if arrow_colorbar else ARROW_COLOR)
        if q is not None and arrow_colorbar:
            cq = fig.colorbar(q, ax=ax, shrink=0.9, pad=0.01)
            cq.set_label("|∇f| (arrow color)")

    runs = named_runs(path)
    for i, (label, run) in enumerate(runs):
        pts = path_points(run, field.names, axes)
        color = PATH_COLORS[i % len(PATH_COLORS)]
        name = label if label is not None else ("path" if len(runs) == 1 else f"path {i + 1}")
        steps = len(pts) - 1
        # several paths: the first widest and underneath, each with its own marker and dashes,
        # so where they run together (a valley, the common end) every one still shows
        several = len(runs) > 1
        # only the first (widest) path has a dark outline: an outline on the later, narrower
        # ones would hide the paths under them
        lw = (3.6 if i == 0 else max(2.0 - 0.3 * (i - 1), 1.1)) if several else 1.8
        marker = PATH_MARKERS[i % len(PATH_MARKERS)] if several else "."
        ms = max(8.0 - 1.6 * i, 3.5) if several else 5
        stroke = [patheffects.withStroke(linewidth=lw + 1.7, foreground="black", alpha=0.6)] if i == 0 else None
        ax.plot(pts[:, 0], pts[:, 1], PATH_DASHES[i % len(PATH_DASHES)] if several else "-", color=color,
                lw=lw, marker=marker if len(pts) <= 80 else None, ms=ms, mec="black" if several else None,
                mew=0.6 if several else None, label=f"{name} ({steps} step{'s' if steps != 1 else ''})",
                path_effects=stroke, zorder=6 + 0.01 * i, gid=f"path:{name}")
        ax.plot(pts[0, 0], pts[0, 1], "o", ms=max(10 - 2 * i, 5), mfc="white", mec=color, mew=2.2,
                zorder=7 + 0.01 * i, gid=f"start:{name}")
        # ends that coincide (both converged) show as nested stars, the first the largest
        ax.plot(pts[-1, 0], pts[-1, 1], "*", ms=max(18 - 4 * i, 7), color=color, mec="black", mew=0.8,
                zorder=7 + 0.01 * i, gid=f"end:{name}")
    if runs:
        legend += [Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec="black", label="start"),
                   Line2D([], [], ls="", marker="*", ms=12, color="#bbbbbb", mec="black", label="end")]

    if mark:
        f0, g = field.at(point, axes)
        gx, gy = g[axes[0]], g[axes[1]]
        x0, y0 = point[axes[0]], point[axes[1]]
        ax.plot([x0], [y0], "o", ms=8, color="#d62728", mec="white", mew=1.5, zorder=8, gid="point")
        gn = float(np.hypot(gx, gy))
        desc = f"−∇f = ({fmt(-gx)}, {fmt(-gy)}) at ({fmt(x0)}, {fmt(y0)})"
        if gn > 0:
            # 0.15 of the box long, measured in box fractions (any aspect), along −∇f
            frac = float(np.hypot(gx / (xlim[1] - xlim[0]), gy / (ylim[1] - ylim[0])))
            tip = (x0 - 0.15 * gx / frac, y0 - 0.15 * gy / frac)
            ax.annotate("", xy=tip, xytext=(x0, y0), zorder=8,
                        arrowprops=dict(arrowstyle="-|>,head_width=0.35,head_length=0.7", color="#d62728",
                                        lw=2.5, shrinkA=0, shrinkB=0), gid="descent")
            legend.append(Line2D([], [], color="#d62728", lw=2.5, marker=">", ms=7,
                                 label="steepest descent " + desc))
        else:
            legend.append(Line2D([], [], ls="", marker="o", color="#d62728",
                                 label=f"∇f = 0 at ({fmt(x0)}, {fmt(y0)}): a stationary point"))

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if equal:
        ax.set_aspect("equal")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    sub = []
    if gradient:
        sub.append("arrows: ∇f = (" + ", ".join(partial_label(v) for v in axes) + "), uphill"
                   + (", normalized" if normalize else ""))
    lines = [field.title() + _fixed_caption(point, axes)] + ([title] if title else []) + (["; ".join(sub)]
                                                                                           if sub else [])
    fit_title(ax, lines, fallback=field.text() + _fixed_caption(point, axes))
    handles = [h for h in ax.get_lines() if not h.get_label().startswith("_")] + legend
    if handles:       # below the picture, so it hides none of it
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize=9,
                   frameon=False)
    if figsize is None:     # room for a square-ish box plus title, colorbars and legend rows
        rows = -(-len(handles) // 3)
        box = 5.4 * min(max(ratio, 0.45), 1.5) if equal else 5.2
        fig.set_size_inches(8.4, box + 1.2 + 0.28 * rows)
    return fig


def log_levels_help(Z):
    """True when log-spaced levels show f better than linear ones: f > 0 everywhere in
    the box (where it is defined), its values span at least two decades, and linear
    levels would leave at least a third of the box in the lowest one (a narrow valley
    such as Rosenbrock's)."""
    v = Z[np.isfinite(Z)]
    if v.size == 0 or v.min() <= 0:
        return False
    lo, hi = float(v.min()), float(v.max())
    if hi < 100 * lo:
        return False
    return bool(np.mean(v < lo + (hi - lo) / 20) >= 1 / 3)


def fit_title(ax, lines, fallback=None, largest=11, smallest=7):
    """Set the title ``lines`` in the largest font size (``largest`` down to ``smallest``)
    at which every line fits the figure's width; a first line that fits at no size
    is replaced by ``fallback`` (plain text), shortened with "…" until it fits."""
    from ._mpl import math_or_text
    fig = ax.figure
    width = fig.get_figwidth() * fig.dpi * 0.96
    renderer = fig.canvas.get_renderer()

    def fits(text, size):
        t = ax.set_title(text, fontsize=size)
        try:
            return t.get_window_extent(renderer).width <= width
        except (ValueError, RuntimeError):      # mathtext it cannot lay out
            return False
    lines = list(lines)
    for size in np.arange(largest, smallest - 0.5, -0.5):
        if fits("\n".join(lines), size):
            return size
    first = fallback or lines[0].replace("$", "")
    first = math_or_text(None, first, limit=max(len(first), 1))
    while len(first) > 20 and not fits("\n".join([first] + lines[1:]), smallest):
        first = first[: max(20, int(len(first) * 0.9)) - 1].rstrip("…") + "…"
    rest = []
    for line in lines[1:]:
        while len(line) > 20 and not fits(line, smallest):
            line = line[: max(20, int(len(line) * 0.9)) - 1].rstrip("…") + "…"
        rest.append(line)
    ax.set_title("\n".join([first] + rest), fontsize=smallest)
    return smallest


def _gradient_arrows(ax, field, base, axes, xlim, ylim, arrows, normalize, equal, color=None):
    """∇f on a grid of about ``arrows`` points per axis (square cells on screen), colored
    by |∇f| (or all in ``color``); the Quiver, or None where ∇f is undefined everywhere."""
    from matplotlib import colors as mcolors
    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    nx = ny = max(arrows, 2)
    if equal:                           # fewer arrows along the shorter side
        nx = max(3, round(arrows * min(1.0, width / height)))
        ny = max(3, round(arrows * min(1.0, height / width)))
    dx, dy = width / nx, height / ny
    AX, AY = np.meshgrid(xlim[0] + dx * (np.arange(nx) + 0.5), ylim[0] + dy * (np.arange(ny) + 0.5))
    val, parts = field.value_and_partials({**base, axes[0]: AX, axes[1]: AY}, axes)
    U, V = parts[axes[0]], parts[axes[1]]
    mag = np.hypot(U, V)
    # no arrow where f itself is undefined, even if the derivative formula is (log x: 1/x)
    ok = np.isfinite(val) & np.isfinite(U) & np.isfinite(V) & np.isfinite(mag)
    if not ok.any():
        return None
    # Lengths are measured in grid cells, so an arrow fills about 0.8 of a cell in any
    # direction, while (su, sv) stays parallel to (U, V): the true gradient direction.
    cu, cv = np.where(ok, U, 0.0) / dx, np.where(ok, V, 0.0) / dy
    cells = np.hypot(cu, cv)
    longest = cells[ok].max()
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(cells > 0, 0.8 / cells if normalize else 0.8 / (longest or 1.0), 0.0)
    su, sv = cu * scale * dx, cv * scale * dy
    mags = mag[ok]
    pos = mags[mags > 0]
    if pos.size and pos.max() > 100 * pos.min():      # magnitudes spanning decades
        cnorm = mcolors.LogNorm(max(pos.min(), pos.max() * 1e-6), pos.max())
    else:
        cnorm = mcolors.Normalize(float(mags.min()), float(mags.max()) or 1.0)
    style = dict(angles="xy", scale_units="xy", scale=1.0, width=0.0035, headwidth=3.5, headlength=4,
                 pivot="middle", edgecolor="white", linewidth=0.3, gid="gradient")
    if color is not None:
        return ax.quiver(AX[ok], AY[ok], su[ok], sv[ok], color=color, alpha=0.55, **style)
    return ax.quiver(AX[ok], AY[ok], su[ok], sv[ok], mags, cmap=_cmap(ARROW_CMAP, ARROW_RANGE), norm=cnorm,
                     **style)


# -- surface -----------------------------------------------------------------------------

def surface(f, xlim=(-3.0, 3.0), ylim=(-3.0, 3.0), *, at=None, tangents=True, variables=None, n=60,
            cmap=None, elev=28.0, azim=-60.0, figsize=(8.0, 6.6)):
    """3-D surface of f with the two tangent lines at a point.

    The tangent along x lies in the plane y = y0 and climbs with slope ∂f/∂x;
    the one along y lies in x = x0 with slope ∂f/∂y. Together they span the
    tangent plane. Thin curves show the slices of the surface they touch.

    Args:
      f: an Expr, formula text or a Python function of two scalars.
      xlim, ylim: the plotted box.
      at: the point of tangency (default: the middle of the box).
      tangents: draw the slices and tangent lines.
      n: grid points per axis.

    Returns:
      A matplotlib Figure with one 3-D Axes.
    """
    require()
    field = as_field(f, extra=tuple(variables or ()))
    axes = _axes_pair(field, variables)
    xlim, ylim = _limits(xlim, "xlim"), _limits(ylim, "ylim")
    point = _point(field, at, axes, (xlim, ylim))
    base = {v: point[v] for v in field.names if v not in axes}

    fig = new_figure(figsize, layout="constrained")
    ax = fig.add_subplot(projection="3d", computed_zorder=False)
    X, Y = _grid(xlim, ylim, n, n)
    Z = field.value({**base, axes[0]: X, axes[1]: Y})
    Z[~np.isfinite(Z)] = np.nan                 # undefined cells are left out of the mesh
    zr = _robust_range(Z)
    if zr is None:
        raise ValueError(f"{field.text()} is undefined (NaN or inf) everywhere in the box")
    Zc = np.where((Z < zr[0]) | (Z > zr[1]), np.nan, Z) if zr != (np.nanmin(Z), np.nanmax(Z)) else Z
    cmap = _cmap(BG_CMAP, (0.1, 0.7)) if cmap is None else cmap     # grey: the colored tangents stand out
    ax.plot_surface(X, Y, Zc, cmap=cmap, vmin=zr[0], vmax=zr[1], rcount=n, ccount=n, linewidth=0,
                    antialiased=False, alpha=0.75, zorder=1).set_gid("surface")
    title = field.title() + _fixed_caption(point, axes)
    if tangents:
        f0, g = field.at(point, axes)
        zr = (min(zr[0], f0), max(zr[1], f0))      # the point of tangency is in the picture
    zlim = zr if zr[1] > zr[0] else (zr[0] - 1, zr[0] + 1)
    if tangents:
        x0, y0 = point[axes[0]], point[axes[1]]
        for i, v in enumerate(axes):
            color = TANGENT_COLORS[i]
            lo, hi = (xlim, ylim)[i]
            t = np.linspace(lo, hi, 200)
            other = axes[1 - i]
            curve = field.value({**base, v: t, other: point[other]})
            curve[~np.isfinite(curve)] = np.nan
            curve[(curve < zr[0]) | (curve > zr[1])] = np.nan
            w = 0.3 * (hi - lo)
            a, b = point[v] - w, point[v] + w
            if g[v] != 0:          # keep the tangent inside the box's height too (3-D does not clip)
                ends = sorted(point[v] + (z - f0) / g[v] for z in zlim)
                a, b = max(a, ends[0]), min(b, ends[1])
            tt = np.clip([a, b], lo, hi)
            zt = f0 + g[v] * (tt - point[v])
            c_xy = (t, np.full_like(t, y0)) if i == 0 else (np.full_like(t, x0), t)
            t_xy = (tt, np.full(2, y0)) if i == 0 else (np.full(2, x0), tt)
            ax.plot(*c_xy, curve, color=color, lw=1.6, alpha=0.9, zorder=3, gid=f"curve:{v}")
            ax.plot(*t_xy, zt, color=color, lw=3, zorder=4, gid=f"tangent:{v}",
                    label=f"tangent along {v}: slope {partial_label(v)} = {fmt(g[v])}")
        ax.plot([x0], [y0], [f0], "o", color="black", mec="white", ms=7, zorder=5, gid="point",
                label=f"({axes[0]}, {axes[1]}) = ({fmt(x0)}, {fmt(y0)}), f = {fmt(f0)}")
        ax.legend(loc="upper left", fontsize=9, framealpha=0.85)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_zlim(*zlim)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_zlabel(field.signature(base) if base else field.signature())
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(title, fontsize=11)
    return fig


# -- iterates of a function of one variable ------------------------------------------------

#: tangent lines drawn per run (the first iterates: where the steps are large)
MAX_TANGENTS = 12


def iterates(f, path, *, xlim=None, variable=None, n=400, figsize=(8.4, 5.6), title=None):
    """f(x) with an optimizer's iterates and, at each, the tangent line it stepped along.

    Gradient descent reads the slope f'(x_k) of the tangent at the iterate and moves
    downhill along it: ``x_{k+1} = x_k - lr f'(x_k)``. Each tangent is drawn from
    x_k to x_{k+1} (the linear model's prediction), with a dotted drop or rise to the
    curve at x_{k+1}: a step that lands past the minimum, higher up the other side,
    is an overshoot (the learning rate is too large).

    Args:
      f: an Expr, formula text or a Python function of one scalar.
      path: an optimization history (``res.history``), a result, a list of x values,
        or several as a dict ``name -> history``.
      xlim: the plotted range of x (default: the iterates' range, padded; runs that
        diverge off to huge values are left out of the framing when another run
        stayed finite).
      variable: the plotted variable, for f of several variables (the others must
        then be fixed by the path's points: only functions of one variable are drawn).

    Returns:
      A matplotlib Figure with one Axes: ``curve``, per run ``iterates:NAME`` (the
      points) and ``tangent:NAME:k`` lines (at most 12 per run).

    Examples:
      >>> from partiald import plot
      >>> fig = plot.iterates("x^2", [1.0, -0.8, 0.64])
      >>> [ln.get_gid() for ln in fig.axes[0].get_lines()][:2]
      ['curve', 'iterates:path']
    """
    require()
    from matplotlib.lines import Line2D
    field = as_field(f)
    if len(field.names) != 1:
        raise ValueError(f"iterates() draws a function of one variable; {field.text()} has "
                         f"{len(field.names)} ({short_list(field.names)}): use plot.contour or plot.convergence")
    v = field.names[0] if variable is None else variable
    if v != field.names[0]:
        raise ValueError(f"f has no variable {v!r} (its variable: {field.names[0]})")
    runs = []
    for i, (label, run) in enumerate(named_runs(path)):
        xs = _xs(run)
        name = label if label is not None else ("path" if len(named_runs(path)) == 1 else f"path {i + 1}")
        runs.append((name, xs))
    if not runs:
        raise ValueError("iterates() needs a path: res.history, a result, or a list of x values")
    if xlim is None:
        xlim = _frame_1d([xs for _, xs in runs])
    lo, hi = _limits(xlim, "xlim")
    fig = new_figure(figsize, layout="constrained")
    ax = fig.add_subplot()
    t = np.linspace(lo, hi, n)
    y = field.value({v: t})
    y[~np.isfinite(y)] = np.nan
    vals = [field.value({v: xs}) for _, xs in runs]
    inside = np.concatenate([fv[(xs >= lo) & (xs <= hi) & np.isfinite(fv)] for (_, xs), fv in zip(runs, vals)])
    yr = _robust_range(np.concatenate([y[np.isfinite(y)], inside]))
    if yr is None:
        raise ValueError(f"{field.text()} is undefined (NaN or inf) everywhere in {v} in ({fmt(lo)}, {fmt(hi)})")
    ylo, yhi = yr if yr[1] > yr[0] else (yr[0] - 1, yr[0] + 1)
    # the tangents' far ends (where each step lands on the linear model) are in the
    # picture too, up to twice the curve's own height below or above it
    ends = []
    for (_, xs), fv in zip(runs, vals):
        k = min(len(xs) - 1, MAX_TANGENTS)
        if k > 0:
            _, sl = field.value_and_partials({v: xs[:k]}, (v,))
            ends.append(fv[:k] + np.atleast_1d(sl[v]) * (xs[1:k + 1] - xs[:k]))
    if ends:
        e = np.concatenate(ends)
        e = e[np.isfinite(e)]
        h = yhi - ylo
        if e.size:
            ylo, yhi = max(min(ylo, float(e.min())), ylo - 2 * h), min(max(yhi, float(e.max())), yhi + 2 * h)
    pad = 0.06 * (yhi - ylo)
    ylo, yhi = ylo - pad, yhi + pad
    ax.plot(t, y, color="#333333", lw=2, label=field.signature(), gid="curve", zorder=2)
    legend = []
    for i, ((name, xs), fv) in enumerate(zip(runs, vals)):
        color = TANGENT_COLORS[i % len(TANGENT_COLORS)]
        marker = PATH_MARKERS[i % len(PATH_MARKERS)]
        ok = np.isfinite(xs) & np.isfinite(fv)
        steps = len(xs) - 1
        ax.plot(xs[ok], fv[ok], marker, ls="", color=color, ms=max(8 - 1.5 * i, 4), mec="white", mew=1.2,
                zorder=5, label=f"{name}: {steps} step{'s' if steps != 1 else ''}", gid=f"iterates:{name}")
        _, slopes = field.value_and_partials({v: xs[: MAX_TANGENTS + 1]}, (v,))
        slopes = np.atleast_1d(slopes[v])
        for k in range(min(len(xs) - 1, MAX_TANGENTS)):
            x0, x1, f0, s = xs[k], xs[k + 1], fv[k], slopes[k]
            if not (np.isfinite(x0) and np.isfinite(x1) and np.isfinite(f0) and np.isfinite(s)):
                break
            a, b = sorted((x0, x1))
            a, b = max(a, lo), min(b, hi)
            if b <= a:
                continue
            tt = np.array([a, b])
            ax.plot(tt, f0 + s * (tt - x0), "-", color=color, lw=1.6, alpha=0.9, zorder=4,
                    gid=f"tangent:{name}:{k}")
            if np.isfinite(fv[k + 1]) and lo <= x1 <= hi:
                ax.plot([x1, x1], [f0 + s * (x1 - x0), fv[k + 1]], ":", color=color, lw=1.2, zorder=3,
                        gid=f"drop:{name}:{k}")
            if k < 4 and lo <= x0 <= hi:
                ax.annotate(str(k), (x0, f0), xytext=(4 + 6 * i, 6), textcoords="offset points", fontsize=8,
                            color=color, zorder=6)
        legend.append(Line2D([], [], color=color, lw=1.6,
                             label=f"{name}: tangent at $x_k$ (slope f'($x_k$)), followed to $x_{{k+1}}$"))
    legend.append(Line2D([], [], color="#666666", ls=":", lw=1.2, label="from the tangent up or down to f at "
                         "$x_{k+1}$"))
    ax.set_xlim(lo, hi)
    ax.set_ylim(ylo, yhi)
    ax.set_xlabel(v)
    ax.set_ylabel(field.signature())
    ax.grid(alpha=0.3)
    handles = [h for h in ax.get_lines() if not h.get_label().startswith("_")] + legend
    ax.legend(handles=handles, fontsize=8.5, framealpha=0.9, loc="best")
    fit_title(ax, [field.title()] + ([title] if title else []), fallback=field.text())
    return fig


def _xs(run):
    """The x values of a one-variable path."""
    if isinstance(run, Mapping) and "x" in run and not np.isscalar(run["x"]):
        run = run["x"]
    out = []
    for rec in (run if not isinstance(run, np.ndarray) else run.ravel()):
        val = rec["x"] if isinstance(rec, Mapping) else rec
        a = np.ravel(np.asarray(val, dtype=np.float64))
        if a.size != 1:
            raise ValueError(f"a point of a one-variable path has {a.size} coordinates")
        out.append(float(a[0]))
    if not out:
        raise ValueError("a path needs at least one point")
    return np.asarray(out)


def _frame_1d(paths):
    """(low, high) around the iterates: the finite ones within reach, padded."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64) for p in paths])
    pts = pts[np.isfinite(pts) & (np.abs(pts) <= MAX_END / 10)]
    if not pts.size:
        return (-1.0, 1.0)
    lo, hi = float(pts.min()), float(pts.max())
    pad = max(0.15 * (hi - lo), 0.5, 1e-6 * max(abs(lo), abs(hi)))
    return lo - pad, hi + pad
