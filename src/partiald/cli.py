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

from ._cliargs import UsageError, parse_point
from .core.errors import ExpressionTooLarge, MemoryBudgetError, ParseError

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


def _fmt(e, args):
    return e.latex() if args.latex else e.unicode() if args.pretty else str(e)


def _form(args):
    return "latex" if args.latex else "unicode" if args.pretty else "text"


def _texts(named, f, has_values, form):
    """The text of each formula of ``named`` (``(label, Expr)`` pairs) in ``form``, or None where
    it is left out: one whose text would exceed the printing limit (symbolic/printing.py,
    MAX_PRINTED_CHARS), or all of them when together they would. Sizes are estimated on the
    formulas' DAGs before any text is made, and each distinct formula is printed once. A
    result left out is an ExpressionTooLarge suggesting --at, unless ``has_values`` (values
    stand in for the text). Returns ``[(text or None, estimated length)]``."""
    from .symbolic import printing
    limit = printing.MAX_PRINTED_CHARS
    measured = {}
    for _, e in named:
        if e.node not in measured:
            measured[e.node] = printing.printable(e.node, form)
    total = sum(measured[e.node][1] for _, e in named)
    over_total = bool(limit) and limit != float("inf") and total > limit
    names = ",".join(f"{v}=1" for v in f.variables[:3]) + (",..." if len(f.variables) > 3 else "")
    instead = f"evaluate at a point with --at {names}, which prints only the values"
    out = []
    texts = {}
    for label, e in named:
        ok, length, work = measured[e.node]
        if not ok or over_total:
            if not has_values:
                if not ok:
                    raise ExpressionTooLarge(printing.too_large_message(label, length, work, limit, instead))
                raise ExpressionTooLarge(f"the {len(named)} results together would print as about {total:,} "
                                         f"characters, over the limit of {limit:,} ({printing.RAISE_LIMIT}); "
                                         + instead)
            out.append((None, length))
            continue
        text = texts.get(e.node)
        if text is None:
            text = texts[e.node] = printing.text_of(e.node, form)
        out.append((text, length))
    return out


def _evaluator(point):
    """``value(e)``: the formula ``e`` at ``point``, compiled and evaluated once per distinct
    formula (the entries of a Hessian are often one formula)."""
    cache = {}

    def value(e):
        v = cache.get(e.node)
        if v is None:
            v = cache[e.node] = e(**point)
        return v
    return value


def _omitted(length, latex=False):
    """What stands in the output for a result too large to print."""
    if latex:
        return rf"\text{{(about {length:,} characters: too large to print)}}"
    return f"(about {length:,} characters: too large to print)"


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


def _repeat(mixed, order):
    """The variables of a mixed partial of ``order`` in each: ``[x, y]``, 2 -> ``[x, x, y, y]``."""
    return [v for v in mixed for _ in range(order)] if mixed else mixed


def _cmd_diff(f, args, out):
    from .symbolic.expr import expr
    wrt = [w.strip() for w in args.wrt.split(",") if w.strip()] if args.wrt else list(f.variables)
    if not wrt:
        raise UsageError("the formula has no variables; give --wrt to name one")
    if args.order < 0 or args.order > 1000:
        raise UsageError(f"--order must be between 0 and 1000, got {args.order}")
    from .symbolic.limits import deadline
    with deadline("computing the derivatives"):
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
    # derivatives too large to print: values (--at, --check) stand in for them, or exit 2
    named = [(_label(k, args.order, False, _repeat(m, args.order)), d) for k, d, m in items]
    has_values = point is not None or check is not None
    value = _evaluator(point) if point is not None else None
    if args.json:
        texts = _texts(named, f, has_values, "text")
        res = {"formula": str(f), "variables": list(f.variables), "order": args.order,
               "derivatives": {k: t for (k, _, _), (t, _) in zip(items, texts)}}
        if any(t is None for t, _ in texts):
            res["too_large_to_print"] = {k: n for (k, _, _), (t, n) in zip(items, texts) if t is None}
        if args.latex:
            res["latex"] = {k: t for (k, _, _), (t, _) in zip(items, _texts(named, f, has_values, "latex"))}
        if point is not None:
            res["at"] = point
            res["values"] = {k: _jnum(value(d)) for k, d, _ in items}
        if args.steps:
            res["steps"] = {k: f.explain(k).to_list() for k, _, m in items if m is None and args.order == 1}
        if check:
            res["check"] = check
        out.write(json.dumps(res) + "\n")
        return 0 if not check or check["equivalent"] is True else 1
    texts = _texts(named, f, has_values, _form(args))      # before any output: it may refuse
    if args.latex:
        out.write(f"f = {f.latex()}\n")
    else:
        out.write(f"f({', '.join(f.variables)}) = {_fmt(f, args)}\n")
    rows = []
    for (k, d, mixed), (text, length) in zip(items, texts):
        label = _label(k, args.order, args.latex, _repeat(mixed, args.order))
        rows.append((label, text if text is not None else _omitted(length, args.latex), d))
    width = max(len(r[0]) for r in rows)
    dwidth = max(len(r[1]) for r in rows)
    for label, text, d in rows:
        line = f"{label:<{width}} = {text}"
        if point is not None:
            line = f"{label:<{width}} = {text:<{dwidth}}  = {_num(value(d))}"
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
    named = [(_label(v, 1, False), g) for v, g in zip(f.variables, grads)]
    value = _evaluator(point) if point is not None else None
    if args.json:
        texts = _texts(named, f, point is not None, "text")
        res = {"formula": str(f), "variables": list(f.variables), "gradient": [t for t, _ in texts]}
        if any(t is None for t, _ in texts):
            res["too_large_to_print"] = {v: n for v, (t, n) in zip(f.variables, texts) if t is None}
        if point is not None:
            res["at"] = point
            res["values"] = [_jnum(value(g)) for g in grads]
        out.write(json.dumps(res) + "\n")
        return 0
    texts = _texts(named, f, point is not None, _form(args))      # before any output: it may refuse
    out.write(f"f({', '.join(f.variables)}) = {_fmt(f, args)}\n")
    label = r"\nabla f" if args.latex else "∇f"
    out.write(f"{label} = (" + ", ".join(t if t is not None else _omitted(n, args.latex) for t, n in texts) + ")\n")
    if point is not None:
        vals = ", ".join(str(_num(value(g))) for g in grads)
        out.write(f"    = ({vals})  at " + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + "\n")
    return 0


def _cmd_hessian(f, args, out):
    H = f.hessian()
    point = parse_point(args.at, f.variables) if args.at else None
    vs = f.variables
    # each entry printed once, within the printing limit (values stand in with --at)
    pairs = [(i, j) for i in range(len(vs)) for j in range(len(vs)) if j >= i]
    named = [(_label(vs[i], 2, False, [vs[i], vs[j]]), H[i][j]) for i, j in pairs]
    value = _evaluator(point) if point is not None else None
    if args.json:
        texts = dict(zip(pairs, _texts(named, f, point is not None, "text")))
        res = {"formula": str(f), "variables": list(vs),
               "hessian": [[texts[min(i, j), max(i, j)][0] for j in range(len(vs))] for i in range(len(vs))]}
        if any(t is None for t, _ in texts.values()):
            res["too_large_to_print"] = {f"{vs[i]},{vs[j]}": n for (i, j), (t, n) in texts.items() if t is None}
        if point is not None:
            res["at"] = point
            res["values"] = [[_jnum(value(h)) for h in row] for row in H]
        out.write(json.dumps(res) + "\n")
        return 0
    texts = dict(zip(pairs, _texts(named, f, point is not None, _form(args))))

    def entry(i, j):
        text, length = texts[min(i, j), max(i, j)]
        return text if text is not None else _omitted(length, args.latex)
    if args.latex:
        out.write(f"f = {f.latex()}\n")
        body = r" \\ ".join(" & ".join(entry(i, j) for j in range(len(vs))) for i in range(len(vs)))
        out.write(r"H = \begin{pmatrix} " + body + r" \end{pmatrix}" + "\n")
        if point is not None:
            body = r" \\ ".join(" & ".join(f"{_num(value(h)):.6g}" for h in row) for row in H)
            out.write(r"H(" + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + r") = \begin{pmatrix} "
                      + body + r" \end{pmatrix}" + "\n")
        return 0
    out.write(f"f({', '.join(vs)}) = {_fmt(f, args)}\n")
    for i, a in enumerate(vs):
        for j, b in enumerate(vs):
            if j < i:
                continue
            label = _label(a, 2, False, [a, b])
            line = f"{label} = {entry(i, j)}"
            if point is not None:
                line += f"  = {_num(value(H[i][j]))}"
            out.write(line + "\n")
    if point is not None:
        out.write("at " + ", ".join(f"{k}={_num(v)}" for k, v in point.items()) + "\n")
    return 0


def _loss_curve():
    """partiald.plot.loss_curve for ``train --plot`` (plot/ sits above nn/: the command
    line hands it down), or why it cannot be had."""
    try:
        from .plot import loss_curve
    except ImportError as e:
        return f"partiald.plot could not be imported ({e})"
    return loss_curve


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
            args.stderr = err           # for notes (a command's messages go to out, its errors are raised)
            if args.command == "train" and args.plot is not None:
                args.loss_curve = _loss_curve()
            status = external[args.command].run(args, out)
            if args.command == "minimize" and args.plot:
                from .plot.cli import draw_descent
                # with --json, stdout holds the one JSON object: "wrote FILE" goes to stderr
                status = max(status, draw_descent(args, err if args.json else out))
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
    except MemoryBudgetError as e:      # refused before allocating: the message says what to change
        err.write(f"partiald: error: {e}\n")
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
