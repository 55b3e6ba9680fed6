"""Minimize a formula from the command line, printing each iteration as it goes.

    partiald minimize "(1 - x)^2 + 100*(y - x^2)^2" --start x=-1.2,y=1 --method newton
    partiald minimize "x^2 + 3*y^2" --start x=1,y=1 --method gd --lr 0.1 --json

Exit status: 0 when the optimizer converged, 1 when it stopped without
converging (the message says why), 2 for bad input.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..core.interpret import interpret
from ..symbolic.expr import expr
from .solvers import DEFAULT_TOL, FIRST_ORDER, METHODS, minimize

HELP = "minimize a formula (gd, momentum, nesterov, adam, newton, newton-cg, lbfgs)"


def add_arguments(parser):
    """Add the ``minimize`` options to its subparser."""
    parser.add_argument("formula", help='the objective, e.g. "(1 - x)^2 + 100*(y - x^2)^2" (quote it)')
    parser.add_argument("--start", required=True, metavar="x=-1.2,y=1",
                        help="the starting point: a value for every variable (values may be formulas: x=pi/4)")
    parser.add_argument("--method", default="lbfgs", choices=METHODS, help="the method (default: lbfgs)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (gd/momentum/nesterov/adam) or first line-search step (others)")
    parser.add_argument("--tol", type=float, default=DEFAULT_TOL,
                        help=f"stop when |grad| <= tol (default: {DEFAULT_TOL:g}, as optim.minimize)")
    parser.add_argument("--max-iter", type=int, default=1000, dest="max_iter",
                        help="the most iterations (default: 1000)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="print every N-th iteration of the table (default: 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (no table)")
    parser.add_argument("--compare", metavar="METHODS", default="",
                        help="also run these methods (comma-separated) from the same start: a comparison "
                             "table (method, iterations, f, |grad|, converged), and their runs in --plot; --lr "
                             "applies to those of --method's kind (learning rate or line-search step)")
    parser.add_argument("--plot", metavar="FILE", help="save a picture of the run(s) (needs matplotlib; .png, "
                        ".svg, .pdf, ...; an existing file is replaced): one variable: f with the iterates and "
                        "their tangent lines; two: the descent paths over the level sets; more: f and |grad| "
                        "per iteration")
    parser.add_argument("--log", action="store_true",
                        help="--plot of two variables: log-spaced level sets (the default where f > 0 in the "
                             "picture and its values span decades)")


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401  (partiald.plot draws with it after the run)
    except ImportError:
        raise ValueError('--plot needs matplotlib, which is not installed: pip install "partiald[plot]"') from None


def _parse_start(text, variables):
    from .._cliargs import parse_point
    return parse_point(text, variables, option="--start")


def _number(v):
    """A JSON-safe number: non-finite values become null."""
    v = float(v)
    return v if math.isfinite(v) else None


def _point(variables, x):
    return {name: float(v) for name, v in zip(variables, np.atleast_1d(x))}


#: the most parameter columns in the iteration table (--json has every variable)
MAX_X_COLUMNS = 6


def run(args, out):
    """Run ``partiald minimize``; returns the exit status (0 converged, 1 not converged).

    Every check of the input comes before the first line of output, so an error is
    never preceded by a table header."""
    if args.plot is not None:
        # the output file is checked before any work (partiald._files); the command line
        # draws it after this returns (partiald.plot.cli.draw_descent)
        from .._files import check_output
        args.plot_output = check_output(args.plot, "--plot")
        _require_matplotlib()
    elif getattr(args, "log", False):
        raise ValueError("--log chooses the colour scale of --plot; add --plot FILE")
    f = expr(args.formula)
    names = f.variables
    if not names:
        raise ValueError("the formula has no variables to minimize over")
    if args.max_iter < 0:
        raise ValueError(f"--max-iter must be >= 0, got {args.max_iter}")
    if args.lr is not None and not (0 < args.lr < math.inf):
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if not (0 <= args.tol < math.inf):
        raise ValueError(f"--tol must be a number >= 0, got {args.tol}")
    if args.every < 1:
        raise ValueError(f"--every must be >= 1, got {args.every}")
    start = _parse_start(args.start, names)
    others = []
    for m in (m.strip() for m in args.compare.split(",")):
        if not m:
            continue
        if m not in METHODS:
            raise ValueError(f"--compare: unknown method {m!r}; choose from {', '.join(METHODS)}")
        if m != args.method and m not in others:
            others.append(m)
    graph = f.graph

    def objective(v):
        # the formula's Graph, replayed on the entries of v (traced, so partiald differentiates it)
        return interpret(graph, *[v[i] for i in range(len(names))])[0]

    x0 = np.array([start[n] for n in names], dtype=np.float64)
    columns = [(k, label) for k, label in _EXTRA if _has_column(args.method, k)]
    shown_x = list(range(min(len(names), MAX_X_COLUMNS)))
    widths = [max(12, len(names[i])) for i in shown_x]
    table = not args.json
    shown = []

    def show(rec):
        if table and rec["iter"] % args.every == 0:
            _row(out, rec, columns, shown_x, widths)
            shown.append(rec["iter"])

    if table:
        out.write(f"minimize f({', '.join(names)}) = {f}\n")
        out.write(f"method {args.method} from " + ", ".join(f"{k}={v:g}" for k, v in start.items()) + "\n")
        if len(names) > len(shown_x):
            out.write(f"(the table shows the first {len(shown_x)} of the {len(names)} variables; "
                      "--json has them all)\n")
        out.write("\n")
        cols = ["iter".rjust(5), "f".rjust(16), "|grad|".rjust(10), "step".rjust(10)]
        cols += [names[i].rjust(w) for i, w in zip(shown_x, widths)]
        out.write("  ".join(cols + [label.rjust(9) for _, label in columns]) + "\n")
    res = minimize(objective, x0, method=args.method, lr=args.lr, tol=args.tol, max_iter=args.max_iter,
                   callback=show)
    # the runs, for the comparison table and the command line's --plot (drawn by partiald.plot)
    args.results = {args.method: res}
    for m in others:
        # --lr is a learning rate for gd/momentum/nesterov/adam and a first trial step for the
        # line-search methods: a compared method of the other kind keeps its own default
        lr = args.lr if (m in FIRST_ORDER) == (args.method in FIRST_ORDER) else None
        args.results[m] = minimize(objective, x0, method=m, lr=lr, tol=args.tol, max_iter=args.max_iter)
    args.objective, args.start_point = f, start
    if args.json:
        history = []
        for rec in res.history:
            item = {"iter": rec["iter"], "x": _point(names, rec["x"]), "f": _number(rec["f"]),
                    "grad_norm": _number(rec["grad_norm"]), "step": _number(rec["step"])}
            for k, _ in _EXTRA:
                if k in rec:
                    item[k] = _number(rec[k])
            history.append(item)
        doc = {"formula": str(f), "variables": list(names), "method": args.method, "start": start,
               "tol": args.tol, "x": _point(names, res.x), "fun": _number(res.fun),
               "grad_norm": _number(res.grad_norm), "nit": res.nit, "converged": res.converged,
               "message": res.message, "history": history}
        if others:
            doc["compare"] = [{"method": m, "nit": r.nit, "fun": _number(r.fun), "grad_norm": _number(r.grad_norm),
                               "converged": r.converged, "message": r.message, "x": _point(names, r.x)}
                              for m, r in args.results.items()]
        out.write(json.dumps(doc) + "\n")
    else:
        if res.history and (not shown or shown[-1] != res.history[-1]["iter"]):
            _row(out, res.history[-1], columns, shown_x, widths)   # the last iterate, even when --every skipped it
        out.write("\n" + res.message + "\n")
        out.write("x: " + ", ".join(f"{k} = {v:.12g}" for k, v in _point(names, res.x).items()) + "\n")
        out.write(f"f = {res.fun:.12g}   |grad| = {res.grad_norm:.3e}   iterations: {res.nit}\n")
        if others:
            _comparison(out, args.results, args.tol, args.max_iter)
    return 0 if res.converged else 1


def _comparison(out, results, tol, max_iter):
    """The runs side by side: method, iterations, f, |grad|, converged (and why not)."""
    out.write(f"\ncomparison (same start, tol = {tol:g}, at most {max_iter} iterations):\n")
    width = max(len("method"), *(len(m) for m in results))
    out.write("  ".join(["method".ljust(width), "iterations".rjust(10), "f".rjust(16), "|grad|".rjust(10),
                         "converged"]) + "\n")
    notes = []
    for m, r in results.items():
        verdict = "yes"
        if not r.converged:
            notes.append(f"  {m}: {r.message}")
            verdict = f"no ({len(notes)})"
        out.write("  ".join([m.ljust(width), f"{r.nit:>10}", f"{r.fun:>16.9g}", f"{r.grad_norm:>10.3e}",
                             verdict]) + "\n")
    for i, note in enumerate(notes, 1):
        out.write(f"({i}){note[1:]}\n")


_EXTRA = (("alpha", "alpha"), ("damping", "damping"), ("cg_iter", "cg"))


def _row(out, rec, columns, shown_x=(), widths=()):
    cells = [f"{rec['iter']:>5}", f"{rec['f']:>16.9g}", f"{rec['grad_norm']:>10.3e}", f"{rec['step']:>10.3e}"]
    if shown_x and "x" in rec:
        x = np.atleast_1d(np.asarray(rec["x"], dtype=np.float64))
        cells += [f"{x[i]:>{w}.7g}" for i, w in zip(shown_x, widths)]
    cells += [f"{rec[k]:>9.3g}" if k in rec else "-".rjust(9) for k, _ in columns]
    out.write("  ".join(cells) + "\n")
    out.flush()


def _has_column(method, key):
    return {"damping": method == "newton", "cg_iter": method == "newton-cg",
            "alpha": method in ("newton", "newton-cg", "lbfgs")}[key]
