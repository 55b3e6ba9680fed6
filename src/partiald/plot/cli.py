"""Draw a picture of a formula's partial derivatives into an image file.

  partiald plot "x^2 + 3*x*y" --at x=1,y=2 -o slices.png
  partiald plot "(1-x)^2 + 100*(y-x^2)^2" --kind contour --xlim -2 2 --ylim -1 3 --logscale -o c.png
  partiald plot "sin(x)*cos(y)" --kind surface --at x=0.5,y=1 -o surface.png

slices: f along each variable through the point, with the tangent whose slope
is the partial derivative. contour: level sets, gradient arrows and the
steepest-descent direction at the point. surface: 3-D surface with the two
tangent lines. The file type follows the extension (.png, .svg, .pdf).

A slices picture has at most 12 panels: with more variables the first 12 are
drawn (a note on stderr says so) unless --wrt names others. Ranges must be
finite, within ±1e100, and wide enough for distinct grid points. The output file
is checked before any work and written atomically (partiald._files).
"""
from __future__ import annotations

import sys

import numpy as np

from ._field import short_list
from .figures import MAX_END, MAX_PANELS, check_range

HELP = "draw slices, level sets or a surface of a formula into an image file"
KINDS = ("slices", "contour", "surface")


def add_arguments(parser):
    parser.add_argument("formula", help='the formula, e.g. "x^2 + 3*x*y" (quote it)')
    parser.add_argument("--at", metavar="x=1,y=2",
                        help="the point (values may be formulas: x=pi/2); slices default to 0 for each variable, "
                             "contour marks the point, surface draws its tangents there")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="image file to write (.png, .svg, .pdf, ...); an existing file is replaced")
    parser.add_argument("--kind", choices=KINDS, default="slices", help="the picture (default: slices)")
    parser.add_argument("--wrt", metavar="x,y",
                        help=f"slices: the variables that get a panel (default: the first {MAX_PANELS}); "
                             "contour, surface: the two plotted variables (the others are held at --at)")
    parser.add_argument("--xlim", nargs=2, metavar=("LOW", "HIGH"),
                        help="range of the first variable (contour, surface; default: the point's value ± 3)")
    parser.add_argument("--ylim", nargs=2, metavar=("LOW", "HIGH"), help="range of the second variable")
    parser.add_argument("--span", type=float, default=2.0, metavar="W",
                        help="slices: each variable runs over its value ± W (default 2)")
    parser.add_argument("--logscale", action="store_true", help="contour: geometric levels (values spanning decades)")
    parser.add_argument("--no-gradient", dest="gradient", action="store_false", help="contour: no gradient arrows")
    parser.add_argument("--dpi", type=int, default=100, help="resolution of raster images (default 100)")


def _pair(parts, name):
    from ..symbolic.expr import expr
    vals = []
    for p in parts:
        e = expr(p)
        if e.variables:
            raise ValueError(f"{name} values must be numbers, got {p!r}")
        vals.append(float(e))
    return check_range(vals[0], vals[1], name, " ".join(p.strip() for p in parts))


def _default_range(center, name, option):
    """The point's value ± 3, checked (at 1e300, ± 3 is no range: the message names ``option``)."""
    return check_range(center - 3, center + 3,
                       f"the default {option} ({name} = {center:g} ± 3; give {option} LOW HIGH to choose)",
                       f"{center - 3:g} {center + 3:g}")


def _check_output(path, option="-o", inputs=()):
    """Refuse an output file that cannot or must not be written, before drawing anything
    (partiald._files: folders, missing folders, inputs, extensions)."""
    from .._files import check_output
    return check_output(path, option, inputs=inputs)


def _matplotlib_available():
    """True, or False after telling the user how to install it (exit status 1)."""
    from . import _mpl
    try:
        _mpl.require()
    except ImportError as e:
        sys.stderr.write(f"partiald: error: {e}\n")
        return False
    return True


def _save(fig, dest, dpi):
    """Write the figure atomically (a temporary file moved into place); the words to add
    to the "wrote" line."""
    from .._files import replacing, save_figure
    return replacing(save_figure(fig, dest, dpi=dpi))


#: the largest raster image written (pixels): 12 panels at --dpi 1000 took 13 s and 255 megapixels
MAX_PIXELS = 64e6
#: raster file types (--dpi counts; vector types are drawn at any size)
_RASTER = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "webp", "gif", "avif", "raw", "rgba"})


def _check_pixels(fig, dest, dpi):
    if dest.file_type not in _RASTER:
        return
    w, h = (float(v) * dpi for v in fig.get_size_inches())
    if w * h > MAX_PIXELS:
        most = int((MAX_PIXELS / (w * h)) ** 0.5 * dpi)
        raise ValueError(f"--dpi {dpi} makes a {w:.0f}x{h:.0f}-pixel image ({w * h / 1e6:.0f} megapixels; the "
                         f"most is {MAX_PIXELS / 1e6:.0f}): use --dpi {most} or less, fewer panels (--wrt), "
                         "or a vector type (.svg, .pdf)")


def _short(text, limit=100):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrt(args, variables):
    if not args.wrt:
        return None
    names = [w.strip() for w in args.wrt.split(",") if w.strip()]
    unknown = [w for w in names if w not in variables]
    if unknown:
        raise ValueError(f"--wrt names {', '.join(unknown)}, which the formula does not use "
                         f"(its variables: {short_list(variables, 12)})")
    if len(set(names)) != len(names):
        raise ValueError(f"--wrt names a variable twice: {args.wrt}")
    if not names:
        raise ValueError("--wrt needs variable names, e.g. --wrt x,y")
    return names


def run(args, out):
    from .._cliargs import parse_point
    from ..symbolic.expr import expr
    from .figures import contour, slices, surface

    if not _matplotlib_available():
        return 1
    dest = _check_output(args.output)
    f = expr(args.formula)
    if not f.variables:
        raise ValueError(f"the formula {args.formula!r} has no variables to plot against")
    if not 10 <= args.dpi <= 1000:
        raise ValueError(f"--dpi must be between 10 and 1000, got {args.dpi}")
    point = parse_point(args.at, f.variables) if args.at else None
    wrt = _wrt(args, f.variables)
    if args.kind == "slices":
        if not (0 < args.span <= MAX_END):
            raise ValueError(f"--span must be a positive number up to {MAX_END:g}, got {args.span:g}")
        names = wrt or list(f.variables)
        if len(names) > MAX_PANELS:
            if wrt:
                raise ValueError(f"--wrt names {len(names)} variables; a picture has at most {MAX_PANELS} "
                                 "panels: name fewer")
            names = names[:MAX_PANELS]
            err = getattr(args, "stderr", None) or sys.stderr
            err.write(f"partiald: note: the formula has {len(f.variables)} variables; drawing the first "
                      f"{MAX_PANELS} ({short_list(names, 6)}); choose others with --wrt\n")
        at = point or {v: 0.0 for v in f.variables}
        for v in names:
            check_range(at[v] - args.span, at[v] + args.span,
                        f"the range of {v} (its value {at[v]:g} ± --span {args.span:g})",
                        f"{at[v] - args.span:g} {at[v] + args.span:g}")
        fig = slices(f, at=point, span=args.span, variables=names)
        what = f"slices along {short_list(names, 6)}"
    else:
        axes = wrt or list(f.variables)
        if len(axes) != 2:
            if wrt:
                raise ValueError(f"--kind {args.kind} plots two variables; --wrt names {len(wrt)} "
                                 f"({', '.join(wrt)})")
            raise ValueError(f"--kind {args.kind} draws a function of two variables; {_short(args.formula, 60)!r} "
                             f"has {len(axes)} ({short_list(axes, 6)}): use --kind slices, or name two with "
                             "--wrt x,y (the others are held at their --at values)")
        center = point or {v: 0.0 for v in f.variables}
        xlim = _pair(args.xlim, "--xlim") if args.xlim else _default_range(center[axes[0]], axes[0], "--xlim")
        ylim = _pair(args.ylim, "--ylim") if args.ylim else _default_range(center[axes[1]], axes[1], "--ylim")
        variables = tuple(axes) if wrt else None
        if args.kind == "contour":
            fig = contour(f, xlim, ylim, at=point, gradient=args.gradient, logscale=args.logscale,
                          variables=variables)
        else:
            fig = surface(f, xlim, ylim, at=point, variables=variables)
        what = args.kind
    _check_pixels(fig, dest, args.dpi)
    note = _save(fig, dest, args.dpi)
    sig = f"f({short_list(f.variables, 6)})"
    out.write(f"wrote {args.output}{note} ({what} of {_short(f'{sig} = {f}')})\n")
    return 0


def draw_descent(args, out):
    """``partiald minimize ... --plot FILE``: a picture of each method's run. One variable:
    f(x) with the iterates and their tangent lines; two: the descent paths over the level
    sets (log-spaced where f > 0 and that helps, or --log); more: f and |grad| per
    iteration. Returns an exit status (1 without matplotlib)."""
    from .curves import convergence
    from .figures import contour, iterates

    if not _matplotlib_available():
        return 1
    dest = getattr(args, "plot_output", None) or _check_output(args.plot, "--plot")
    f, names = args.objective, args.objective.variables
    results = args.results
    counts = ", ".join(f"{m}: {r.nit} iteration{'s' if r.nit != 1 else ''}" + ("" if r.converged else
                                                                             " (not converged)")
                       for m, r in results.items())
    err = getattr(args, "stderr", None) or sys.stderr
    if len(names) == 1:
        runs = {m: r.history for m, r in results.items()}
        xlim = _frame([r for r in results.values()], args.start_point, names)[0]
        fig = iterates(f, runs, xlim=xlim, title=f"from {names[0]} = {args.start_point[names[0]]:g}; {counts}")
        what = f"f({names[0]}) with the iterates and tangent lines of {', '.join(results)}"
    elif len(names) == 2:
        xlim, ylim = _frame(list(results.values()), args.start_point, names)
        logscale = "auto"
        if getattr(args, "log", False):
            logscale = True
            lowest = _lowest(f, xlim, ylim)
            if lowest is not None and lowest <= 0:
                logscale = False
                err.write(f"partiald: note: --log needs f > 0 in the picture, but f reaches {lowest:.4g} there; "
                          "drawing linear levels\n")
        start = ", ".join(f"{args.start_point[n]:g}" for n in names)
        fig = contour(f, xlim, ylim, path={m: r.history for m, r in results.items()}, logscale=logscale,
                      arrow_colorbar=False, arrows=16, title=f"from ({start}); {counts}")
        what = f"descent paths of {', '.join(results)} over f({short_list(names, 6)})"
    else:
        fig = convergence(results, tol=args.tol,
                          title=_short(f"f({short_list(names, 6)}) = {f}", 110) + f"\n{counts}")
        what = (f"f and |grad| per iteration of {', '.join(results)}; f has {len(names)} variables, so no "
                "level sets")
    note = _save(fig, dest, 100)
    out.write(f"wrote {args.plot}{note} ({what})\n")
    return 0


def _frame(results, start, names):
    """Plotted ranges around the runs that converged (a diverging run leaves the picture
    rather than shrinking it; with none converged, around all the finite iterates)."""
    runs = [r for r in results if r.converged] or results
    pts = np.concatenate([np.array([np.ravel(h["x"]) for h in r.history]).reshape(-1, len(names))
                          for r in runs])
    pts = pts[np.isfinite(pts).all(axis=1)]
    # a path that ran off to +-1e300 would make a box nothing can be drawn over: frame
    # the points within reach (the start is always drawn)
    pts = pts[(np.abs(pts) <= MAX_END / 10).all(axis=1)]
    if not len(pts):
        pts = np.array([[start[n] for n in names]])
    lims = []
    for k in range(len(names)):
        lo, hi = float(pts[:, k].min()), float(pts[:, k].max())
        pad = max(0.25 * (hi - lo), 0.5, 1e-6 * max(abs(lo), abs(hi)))
        lims.append((lo - pad, hi + pad))
    return lims


def _lowest(f, xlim, ylim, n=200):
    """The smallest finite value of f on the plotted grid (None where it is undefined)."""
    from ._field import as_field
    field = as_field(f)
    X, Y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    Z = field.value({field.names[0]: X, field.names[1]: Y})
    Z = Z[np.isfinite(Z)]
    return float(Z.min()) if Z.size else None
