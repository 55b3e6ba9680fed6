"""The ``partiald`` command line.

    partiald diff "x^2 + 3*x*y" --at x=1,y=2
    partiald diff "x^2*y + z" --wrt x --steps
    partiald hessian "exp(x*y)*sin(x + y^2)/(1 + x^2)" --at x=0.3,y=-0.7 --latex
    partiald grad "x^2 + 3*x*y" --at x=1,y=2 --json

Bad input exits with status 2 and a one-paragraph message on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .core.errors import ExpressionTooLarge, ParseError

EXAMPLES = """examples:
  partiald diff "x^2 + 3*x*y" --at x=1,y=2
  partiald diff "x^2*y + z" --wrt x --steps
  partiald diff "x^3*y" --wrt x --order 2
  partiald diff "x^2*y" --wrt x,y --mixed
  partiald diff "x^2 + 3*x*y" --wrt x --check "2*x + 3*y"
  partiald grad "x^2 + 3*x*y" --at x=1,y=2 --json
  partiald hessian "exp(x*y)*sin(x + y^2)/(1 + x^2)" --at x=0.3,y=-0.7 --latex
"""


_SHORT_OPTIONS = ("-h", "-o")


class UsageError(ValueError):
    """Bad command-line input: reported in one paragraph, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message}. Run '{self.prog} --help' for usage and examples.")


def _build_parser():
    p = _Parser(prog="partiald", description="Exact partial derivatives of formulas.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp):
        sp.add_argument("formula", help='the formula, e.g. "x^2 + 3*x*y" (quote it)')
        sp.add_argument("--at", metavar="x=1,y=2", help="evaluate at this point (values may be formulas: x=pi/2)")
        sp.add_argument("--latex", action="store_true", help="print LaTeX")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--pretty", action="store_true", help="unicode math (x², ⋅) instead of plain text")

    d = sub.add_parser("diff", help="partial derivatives", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(d)
    d.add_argument("--wrt", metavar="x,y", help="variables to differentiate by (default: all)")
    d.add_argument("--order", type=int, default=1, metavar="N", help="derivative order in each variable")
    d.add_argument("--mixed", action="store_true", help="one mixed partial in the --wrt variables, in order")
    d.add_argument("--steps", action="store_true", help="explain each step with its rule")
    d.add_argument("--check", metavar="ANSWER", help="check a hand-computed derivative (one variable)")
    g = sub.add_parser("grad", help="the gradient vector", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(g)
    h = sub.add_parser("hessian", help="the Hessian matrix", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(h)
    for name, module in _command_modules().items():
        sp = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sp)
    return p


def _command_modules():
    """Subcommands that live with their subsystem. Each module has ``HELP``,
    ``add_arguments(parser)`` and ``run(args, out) -> exit status``; it raises
    ValueError (exit 2, message on stderr) for bad input."""
    mods = {}
    try:
        from .optim import cli as optim_cli
        mods["minimize"] = optim_cli
    except ImportError:
        pass
    try:
        from .plot import cli as plot_cli
        mods["plot"] = plot_cli
    except ImportError:
        pass
    try:
        from .nn import cli as nn_cli
        mods["train"] = nn_cli
    except ImportError:
        pass
    return mods


def parse_point(text, variables, option="--at"):
    """``{"x": 1.0, "y": 2.0}`` from ``"x=1,y=2"``: one finite value (a number or a constant
    formula such as ``pi/2``) for each of ``variables``; UsageError naming ``option`` otherwise."""
    from .symbolic.expr import expr
    point = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"{option} expects name=value pairs separated by commas (e.g. x=1,y=2), got {item!r}")
        value_text = value.strip()
        v = expr(value_text)
        if v.variables:
            raise UsageError(f"{option} value for {name} must be a number, got {value_text!r}")
        number = float(v)
        if not np.isfinite(number):
            raise UsageError(f"{option} value for {name} is {number} ({value_text!r}): give a finite number")
        point[name] = number
    unknown = sorted(set(point) - set(variables))
    if unknown:
        raise UsageError(f"{option} names {', '.join(unknown)}, which the formula does not use "
                         f"(its variables: {', '.join(variables) or 'none'})")
    missing = [v for v in variables if v not in point]
    if missing:
        raise UsageError(f"{option} gives no value for {', '.join(missing)}; the formula uses "
                         f"{', '.join(variables)}")
    return point


def _fmt(e, args):
    return e.latex() if args.latex else e.unicode() if args.pretty else str(e)


def _jnum(v):
    """A JSON number, or null where the value is NaN or infinite (JSON has neither)."""
    v = float(v)
    return v if np.isfinite(v) else None


def _num(v):
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 1e15 else v


def _label(var, order, latex, mixed_vars=None):
    vs = mixed_vars or [var] * order
    k = len(vs)
    if k == 0:
        return "f"
    if latex:
        top = r"\partial" + (f"^{{{k}}}" if k > 1 else "") + " f"
        bottom = " ".join(r"\partial " + v for v in vs)
        return rf"\frac{{{top}}}{{{bottom}}}"
    sup = lambda n: "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(c)] for c in str(n))
    top = "∂" + ("" if k == 1 else sup(k)) + "f"
    groups = []
    for v in vs:      # ∂x∂x -> ∂x²
        if groups and groups[-1][0] == v:
            groups[-1][1] += 1
        else:
            groups.append([v, 1])
    bottom = "".join("∂" + v + (sup(c) if c > 1 else "") for v, c in groups)
    return f"{top}/{bottom}"


def _cmd_diff(f, args, out):
    from .symbolic.expr import expr
    wrt = [w.strip() for w in args.wrt.split(",") if w.strip()] if args.wrt else list(f.variables)
    if not wrt:
        raise UsageError("the formula has no variables; give --wrt to name one")
    if args.order < 0 or args.order > 1000:
        raise UsageError(f"--order must be between 0 and 1000, got {args.order}")
    if args.mixed:
        items = [("".join(wrt), f.diff(*wrt, n=args.order) if args.order != 1 else f.diff(*wrt), wrt)]
    else:
        items = [(v, f.diff(v, n=args.order), None) for v in wrt]
    if args.steps and (args.order != 1 or args.mixed):
        raise UsageError("--steps explains first partials: use it without --order/--mixed")
    point = parse_point(args.at, f.variables) if args.at else None
    check = None
    if args.check is not None:
        if len(items) != 1:
            raise UsageError("--check compares one derivative: give one variable with --wrt")
        verdict, detail = items[0][1].compare(expr(args.check))
        check = {"answer": args.check, "equivalent": verdict, "detail": detail}
    if args.json:
        res = {"formula": str(f), "variables": list(f.variables), "order": args.order,
               "derivatives": {k: str(d) for k, d, _ in items}}
        if args.latex:
            res["latex"] = {k: d.latex() for k, d, _ in items}
        if point is not None:
            res["at"] = point
            res["values"] = {k: _jnum(d(**point)) for k, d, _ in items}
        if args.steps:
            res["steps"] = {k: f.explain(k).to_list() for k, _, m in items if m is None and args.order == 1}
        if check:
            res["check"] = check
        out.write(json.dumps(res) + "\n")
        return 0 if not check or check["equivalent"] is True else 1
    if args.latex:
        out.write(f"f = {f.latex()}\n")
    else:
        out.write(f"f({', '.join(f.variables)}) = {_fmt(f, args)}\n")
    rows = []
    for k, d, mixed in items:
        label = _label(k, args.order, args.latex, mixed)
        rows.append((label, _fmt(d, args), d))
    width = max(len(r[0]) for r in rows)
    dwidth = max(len(r[1]) for r in rows)
    for label, text, d in rows:
        line = f"{label:<{width}} = {text}"
        if point is not None:
            line = f"{label:<{width}} = {text:<{dwidth}}  = {_num(d(**point))}"
        out.write(line + "\n")
    if point is not None:
        out.write("at " + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + "\n")
    if args.steps:
        for k, _, _ in items:
            out.write("\n" + str(f.explain(k)) + "\n")
    if check:
        verdict = {True: "equivalent", False: "NOT equivalent", None: "undecided"}[check["equivalent"]]
        out.write(f"\ncheck: {args.check} is {verdict} to the derivative ({check['detail']})\n")
        return 0 if check["equivalent"] is True else 1
    return 0


def _cmd_grad(f, args, out):
    grads = f.gradient()
    point = parse_point(args.at, f.variables) if args.at else None
    if args.json:
        res = {"formula": str(f), "variables": list(f.variables), "gradient": [str(g) for g in grads]}
        if point is not None:
            res["at"] = point
            res["values"] = [_jnum(g(**point)) for g in grads]
        out.write(json.dumps(res) + "\n")
        return 0
    out.write(f"f({', '.join(f.variables)}) = {_fmt(f, args)}\n")
    label = r"\nabla f" if args.latex else "∇f"
    out.write(f"{label} = (" + ", ".join(_fmt(g, args) for g in grads) + ")\n")
    if point is not None:
        vals = ", ".join(str(_num(g(**point))) for g in grads)
        out.write(f"    = ({vals})  at " + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + "\n")
    return 0


def _cmd_hessian(f, args, out):
    H = f.hessian()
    point = parse_point(args.at, f.variables) if args.at else None
    vs = f.variables
    if args.json:
        res = {"formula": str(f), "variables": list(vs), "hessian": [[str(h) for h in row] for row in H]}
        if point is not None:
            res["at"] = point
            res["values"] = [[_jnum(h(**point)) for h in row] for row in H]
        out.write(json.dumps(res) + "\n")
        return 0
    if args.latex:
        out.write(f"f = {f.latex()}\n")
        body = r" \\ ".join(" & ".join(h.latex() for h in row) for row in H)
        out.write(r"H = \begin{pmatrix} " + body + r" \end{pmatrix}" + "\n")
        if point is not None:
            body = r" \\ ".join(" & ".join(f"{_num(h(**point)):.6g}" for h in row) for row in H)
            out.write(r"H(" + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + r") = \begin{pmatrix} "
                      + body + r" \end{pmatrix}" + "\n")
        return 0
    out.write(f"f({', '.join(vs)}) = {_fmt(f, args)}\n")
    for i, a in enumerate(vs):
        for j, b in enumerate(vs):
            if j < i:
                continue
            label = _label(a, 2, False, [a, b])
            line = f"{label} = {_fmt(H[i][j], args)}"
            if point is not None:
                line += f"  = {_num(H[i][j](**point))}"
            out.write(line + "\n")
    if point is not None:
        out.write("at " + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + "\n")
    return 0


def main(argv=None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # a formula may start with '-' ("-x^2 - y^2"): argparse would take it for an option,
    # so give such arguments a leading space (the formula parser ignores it)
    argv = [" " + a if a[:1] == "-" and a[:2] != "--" and a not in _SHORT_OPTIONS else a for a in argv]
    try:
        args = parser.parse_args(argv)
        external = _command_modules()
        if args.command in external:
            status = external[args.command].run(args, out)
            if args.command == "minimize" and args.plot:
                from .plot.cli import draw_descent
                status = max(status, draw_descent(args, out))
            return status
        from .symbolic.expr import expr
        f = expr(args.formula)
        with np.errstate(all="ignore"):     # values print as inf/nan; no NumPy warnings on stderr
            return {"diff": _cmd_diff, "grad": _cmd_grad, "hessian": _cmd_hessian}[args.command](f, args, out)
    except UsageError as e:
        err.write(f"partiald: error: {e}\n")
        return 2
    except ParseError as e:
        err.write(f"partiald: error: could not read the formula: {e}\n")
        return 2
    except ExpressionTooLarge as e:
        err.write(f"partiald: error: {e}. Simplify the formula or lower the derivative order.\n")
        return 2
    except (ValueError, TypeError) as e:
        err.write(f"partiald: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        err.write("partiald: interrupted\n")
        return 130
    except BrokenPipeError:     # e.g. piped into head
        return 0
    except Exception as e:  # never a traceback for users
        err.write(f"partiald: internal error ({type(e).__name__}: {e}). Please report it with the command "
                  "you ran.\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
