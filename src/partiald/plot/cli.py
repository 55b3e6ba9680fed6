"""Draw a picture of a formula's partial derivatives into an image file.

  partiald plot "x^2 + 3*x*y" --at x=1,y=2 -o slices.png
  partiald plot "(1-x)^2 + 100*(y-x^2)^2" --kind contour --xlim -2 2 --ylim -1 3 --logscale -o c.png
  partiald plot "sin(x)*cos(y)" --kind surface --at x=0.5,y=1 -o surface.png

slices: f along each variable through the point, with the tangent whose slope
is the partial derivative. contour: level sets, gradient arrows and the
steepest-descent direction at the point. surface: 3-D surface with the two
tangent lines. The file type follows the extension (.png, .svg, .pdf).
"""
from __future__ import annotations

import sys

import numpy as np

HELP = "draw slices, level sets or a surface of a formula into an image file"
KINDS = ("slices", "contour", "surface")


def add_arguments(parser):
    parser.add_argument("formula", help='the formula, e.g. "x^2 + 3*x*y" (quote it)')
    parser.add_argument("--at", metavar="x=1,y=2",
                        help="the point (values may be formulas: x=pi/2); slices default to 0 for each variable, "
                             "contour marks the point, surface draws its tangents there")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="image file to write (.png, .svg, .pdf)")
    parser.add_argument("--kind", choices=KINDS, default="slices", help="the picture (default: slices)")
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
    if not vals[0] < vals[1]:
        raise ValueError(f"{name} needs LOW < HIGH, got {' '.join(parts)}")
    return tuple(vals)


def _check_output(path):
    """Refuse an output file matplotlib cannot write before drawing anything."""
    import os

    from matplotlib.backend_bases import FigureCanvasBase
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist")
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        raise ValueError(f"cannot write {path}: the file type follows the extension, one of "
                         f"{', '.join('.' + k for k in sorted(formats))}")


def _matplotlib_available():
    """True, or False after telling the user how to install it (exit status 1)."""
    from . import _mpl
    try:
        _mpl.require()
    except ImportError as e:
        sys.stderr.write(f"partiald: error: {e}\n")
        return False
    return True


def _save(fig, path, dpi):
    try:
        fig.savefig(path, dpi=dpi)
    except OSError as e:
        raise ValueError(f"cannot write {path}: {e.strerror or e}") from None


def run(args, out):
    from ..cli import parse_point
    from ..symbolic.expr import expr
    from .figures import contour, slices, surface

    f = expr(args.formula)
    if not f.variables:
        raise ValueError(f"the formula {args.formula!r} has no variables to plot against")
    if not 10 <= args.dpi <= 1000:
        raise ValueError(f"--dpi must be between 10 and 1000, got {args.dpi}")
    point = parse_point(args.at, f.variables) if args.at else None
    if not _matplotlib_available():
        return 1
    _check_output(args.output)
    if args.kind == "slices":
        fig = slices(f, at=point, span=args.span)
    else:
        if len(f.variables) != 2:
            raise ValueError(f"--kind {args.kind} draws a function of two variables; {args.formula!r} has "
                             f"{len(f.variables)} ({', '.join(f.variables)}): use --kind slices")
        center = point or {v: 0.0 for v in f.variables}
        xlim = _pair(args.xlim, "--xlim") if args.xlim else (center[f.variables[0]] - 3, center[f.variables[0]] + 3)
        ylim = _pair(args.ylim, "--ylim") if args.ylim else (center[f.variables[1]] - 3, center[f.variables[1]] + 3)
        if args.kind == "contour":
            fig = contour(f, xlim, ylim, at=point, gradient=args.gradient, logscale=args.logscale)
        else:
            fig = surface(f, xlim, ylim, at=point)
    _save(fig, args.output, args.dpi)
    out.write(f"wrote {args.output} ({args.kind} of f({', '.join(f.variables)}) = {f})\n")
    return 0


def draw_descent(args, out):
    """``partiald minimize ... --plot FILE``: the descent path of each method run, over the
    level sets of the objective. Returns an exit status (1 without matplotlib)."""
    from .figures import contour

    if not _matplotlib_available():
        return 1
    _check_output(args.plot)
    f, names = args.objective, args.objective.variables
    # frame the runs that converged (a diverging run leaves the picture rather than shrinking it)
    runs = [r for r in args.results.values() if r.converged] or list(args.results.values())[:1]
    pts = np.concatenate([np.array([np.ravel(r["x"]) for r in res.history]) for res in runs])
    pts = pts[np.isfinite(pts).all(axis=1)]
    lims = []
    for k in range(2):
        lo, hi = float(pts[:, k].min()), float(pts[:, k].max())
        pad = max(0.25 * (hi - lo), 0.5)
        lims.append((lo - pad, hi + pad))
    fig = contour(f, lims[0], lims[1], path={m: r.history for m, r in args.results.items()},
                  at=args.start_point, logscale=True)
    _save(fig, args.plot, 100)
    out.write(f"wrote {args.plot} (descent paths of {', '.join(args.results)} over f({', '.join(names)}))\n")
    return 0
