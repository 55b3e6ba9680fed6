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
import re
import sys
import warnings

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
  partiald grad "(w*x1 + b - t)^2" --wrt w,b --at w=0.5,b=0,x1=2,t=1
  partiald hessian "x^3 - 3*x + y^2" --at x=1,y=0     # a minimum, a maximum or a saddle?
  partiald diff "f(x, y) = x² + 3x·y" --steps --pretty  # textbook notation
"""


_SHORT_OPTIONS = ("-h", "-o")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message}. Run '{self.prog} --help' for usage and examples.")


def _build_parser():
    p = _Parser(prog="partiald", description="Exact partial derivatives of formulas.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"partiald {_version()}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp):
        sp.add_argument("formula", help='the formula, e.g. "x^2 + 3*x*y" (quote it)')
        sp.add_argument("--at", metavar="x=1,y=2", help="evaluate at this point (values may be formulas: x=pi/2)")
        sp.add_argument("--latex", action="store_true", help="print LaTeX")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--pretty", action="store_true", help="unicode math (x², ⋅) instead of plain text")

    def wrt(sp, what):
        sp.add_argument("--wrt", metavar="x,y", help=f"{what} (default: all the formula's variables, or those "
                        "of its left side f(x, y) = ...)")

    d = sub.add_parser("diff", help="partial derivatives", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(d)
    wrt(d, "variables to differentiate by")
    d.add_argument("--order", type=int, default=1, metavar="N", help="derivative order in each variable")
    d.add_argument("--mixed", action="store_true", help="one mixed partial in the --wrt variables, in order")
    d.add_argument("--steps", action="store_true", help="explain each step with its rule")
    d.add_argument("--check", metavar="ANSWER", help="check a hand-computed derivative (one variable)")
    g = sub.add_parser("grad", help="the gradient vector", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(g)
    wrt(g, "the parameters: the gradient's entries (other names, e.g. data, are held fixed)")
    h = sub.add_parser("hessian", help="the Hessian matrix", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    common(h)
    wrt(h, "the parameters: the Hessian's rows and columns (other names are held fixed)")
    for name, module in _command_modules().items():
        sp = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sp)
    return p


def _version():
    """``partiald.__version__`` (the version pyproject.toml gives the package)."""
    from . import __version__
    return __version__


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


def _typed(f, args):
    """The formula as typed (``3xy`` shows as ``3*xy``: how it was read), in the output's form;
    its canonical form where it has no text (LaTeX is always canonical)."""
    text = getattr(f, "_text", None)
    if text is None or args.latex:
        return _fmt(f, args)
    from .symbolic.parser import parse
    from .symbolic.printing import ast_text
    return ast_text(parse(text), "unicode" if args.pretty else "text")


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
    """A value as people write it: ``0.3`` (not ``0.30000000000000004``), ``8``, ``1e+20``: the
    shortest text of the value rounded to 15 significant digits (``--json`` keeps full precision)."""
    v = float(v)
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(f"{v:.15g}"))


def _point_text(point):
    return ", ".join(f"{k}={_num(v)}" for k, v in point.items())


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


def _names(text, option):
    """The variable names of a comma-separated list (``--wrt x,θ``), spelled as formulas spell
    them (a Greek letter is its ASCII name)."""
    from ._cliargs import variable_name
    names = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name = variable_name(item, option)
        if name not in names:
            names.append(name)
    return names


def _read_as_one(name, known, lengths, text):
    """The pointer for a name made of other names (``known``, of the sorted distinct
    ``lengths``) run together, or None: ```xy` is read as one variable; write `x*y` (or
    `3*x*y`)``."""
    from .symbolic.parser import split_hint_in
    hint = split_hint_in(name, known, lengths)
    if hint is None:
        return None
    product = hint[len("did you mean "):-1]
    out = f"`{name}` is read as one variable; write `{product}`"
    m = re.search(r"(?<![A-Za-z0-9_.])([0-9]+(?:\.[0-9]+)?)[ \t]*" + re.escape(name) + r"(?![A-Za-z0-9_])", text)
    if m:
        out += f" (or `{m.group(1)}*{product}`)"
    return out


def _check_names(f, args, out_err):
    """The variables to differentiate by (``--wrt``, else the left side's or all), after the
    checks that keep a formula typed as a textbook prints it from a misleading answer: a name
    given to --wrt or --at that the formula does not use is refused, and a name that is other
    names run together (``xy`` beside ``x`` and ``y``) is pointed out before any number."""
    from .symbolic.parser import parse_definition
    text = args.formula
    variables = list(f.variables)
    wrt = _names(args.wrt, "--wrt") if getattr(args, "wrt", None) else None
    at_names = []
    if args.at:
        from ._cliargs import variable_name
        at_names = [variable_name(item.partition("=")[0].strip(), "--at") for item in args.at.split(",")
                    if item.strip() and item.partition("=")[0].strip()]
    named = set(wrt or ()) | set(at_names)
    known = set(variables) | named
    lengths = sorted({len(w) for w in known})
    pointers = [p for p in (_read_as_one(v, known, lengths, text) for v in variables if v not in named) if p]
    for option, given in (("--wrt", wrt or ()), ("--at", at_names)):
        unknown = [w for w in given if w not in variables]
        if unknown:
            msg = (f"{option} names {', '.join(unknown)}, which the formula does not use (its variables: "
                   f"{', '.join(variables) or 'none'})")
            raise UsageError(msg + ("; " + "; ".join(pointers) if pointers else ""))
    if pointers:
        raise UsageError("; ".join(pointers) + f" (or name `{pointers[0].split('`')[1]}` in --wrt to keep it "
                         "one variable)")
    # a short name of single letters, one of them a variable: probably a product typed without '*'
    for v in variables:
        if 2 <= len(v) <= 3 and v.isalpha() and v.islower() and v not in named and any(c in known for c in v):
            product = "*".join(v)
            note = f"`{v}` is read as one variable; write `{product}` for a product"
            m = re.search(r"(?<![A-Za-z0-9_.])([0-9]+(?:\.[0-9]+)?)[ \t]*" + v + r"(?![A-Za-z0-9_])", text)
            if m:
                note += f" (`{m.group(1)}*{product}`)"
            out_err.write(f"partiald: note: {note}\n")
    if wrt is None:
        _, declared, _ = parse_definition(text)
        wrt = list(declared) if declared else variables
    return wrt


def _explanations(f, seq, args):
    """The explanation of each derivative in turn: d/dx of f, then d/dy of that, ..."""
    out = []
    e = f
    for v in seq:
        out.append(e.explain(v))
        e = e.diff(v)
    return out


def _steps_text(explanations, args):
    form = "unicode" if args.pretty else "text"
    return "\n\n".join(x.text(form) for x in explanations)


def _cmd_diff(f, args, out, err):
    from .symbolic.expr import expr
    wrt = _check_names(f, args, err)
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
    point = parse_point(args.at, f.variables) if args.at else None
    check = None
    if args.check is not None:
        if len(items) != 1:
            raise UsageError("--check compares one derivative: give one variable with --wrt")
        verdict, detail = items[0][1].compare(expr(args.check))
        check = {"answer": args.check, "equivalent": verdict, "detail": detail}
    # the steps of each derivative: one explanation per differentiation, in the order diff takes them
    steps = None
    if args.steps and args.order > 0:
        with deadline("explaining the derivatives"):
            steps = [(k, _explanations(f, sorted(m * args.order) if m else [k] * args.order, args))
                     for k, _, m in items]
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
        if steps is not None:
            if args.order == 1 and not args.mixed:
                res["steps"] = {k: xs[0].to_list() for k, xs in steps}
            else:       # one explanation per differentiation
                res["steps"] = {k: [{"variable": x.var, "steps": x.to_list(), "result": x.result} for x in xs]
                                for k, xs in steps}
        if check:
            res["check"] = check
        out.write(json.dumps(res) + "\n")
        return 0 if not check or check["equivalent"] is True else 1
    texts = _texts(named, f, has_values, _form(args))      # before any output: it may refuse
    if args.latex:
        out.write(f"f = {f.latex()}\n")
    else:
        out.write(f"f({', '.join(printing_name(v, args) for v in f.variables)}) = {_typed(f, args)}\n")
    rows = []
    for (k, d, mixed), (text, length) in zip(items, texts):
        label = _label(printing_name(k, args) if not mixed else k, args.order, args.latex,
                       _repeat([printing_name(v, args) for v in mixed] if mixed else mixed, args.order))
        rows.append((label, text if text is not None else _omitted(length, args.latex), d))
    width = max(len(r[0]) for r in rows)
    dwidth = max(len(r[1]) for r in rows)
    for label, text, d in rows:
        line = f"{label:<{width}} = {text}"
        if point is not None:
            line = f"{label:<{width}} = {text:<{dwidth}}  = {_num(value(d))}"
        out.write(line + "\n")
    if point is not None:
        out.write("at " + _point_text(point) + "\n")
    if steps is not None:
        for _, xs in steps:
            out.write("\n" + _steps_text(xs, args) + "\n")
    if check:
        verdict = {True: "equivalent", False: "NOT equivalent", None: "undecided"}[check["equivalent"]]
        out.write(f"\ncheck: {args.check} is {verdict} to the derivative ({check['detail']})\n")
        return 0 if check["equivalent"] is True else 1
    return 0


def _cmd_grad(f, args, out, err):
    wrt = _check_names(f, args, err)
    if not wrt:
        raise UsageError("the formula has no variables; give --wrt to name one")
    from .symbolic.limits import deadline
    with deadline("computing the gradient"):
        grads = [f.diff(v) for v in wrt]
    point = parse_point(args.at, f.variables) if args.at else None
    named = [(_label(v, 1, False), g) for v, g in zip(wrt, grads)]
    value = _evaluator(point) if point is not None else None
    if args.json:
        texts = _texts(named, f, point is not None, "text")
        res = {"formula": str(f), "variables": list(f.variables), "wrt": list(wrt),
               "gradient": [t for t, _ in texts]}
        if any(t is None for t, _ in texts):
            res["too_large_to_print"] = {v: n for v, (t, n) in zip(wrt, texts) if t is None}
        if point is not None:
            res["at"] = point
            res["values"] = [_jnum(value(g)) for g in grads]
        out.write(json.dumps(res) + "\n")
        return 0
    texts = _texts(named, f, point is not None, _form(args))      # before any output: it may refuse
    if args.latex:
        out.write(f"f = {f.latex()}\n")
        body = r" \\ ".join(t if t is not None else _omitted(n, True) for t, n in texts)
        out.write(r"\nabla f = \begin{pmatrix} " + body + r" \end{pmatrix}" + "\n")
        if point is not None:
            body = r" \\ ".join(_num(value(g)) for g in grads)
            out.write(r"\nabla f(" + _point_text(point) + r") = \begin{pmatrix} " + body + r" \end{pmatrix}" + "\n")
        return 0
    out.write(f"f({', '.join(printing_name(v, args) for v in f.variables)}) = {_typed(f, args)}\n")
    labels = [_label(printing_name(v, args), 1, False) for v in wrt]
    cells = [t if t is not None else _omitted(n) for t, n in texts]
    width = max(len(lb) for lb in labels)
    dwidth = max(len(c) for c in cells)
    for lb, c, g in zip(labels, cells, grads):
        line = f"{lb:<{width}} = {c}"
        if point is not None:
            line = f"{lb:<{width}} = {c:<{dwidth}}  = {_num(value(g))}"
        out.write(line + "\n")
    head = "∇f" if len(wrt) == len(f.variables) else f"∇f in ({', '.join(wrt)})"
    if point is not None:
        out.write(f"at {_point_text(point)}: {head} = ({', '.join(_num(value(g)) for g in grads)})\n")
    elif all(t is not None for t, _ in texts) and sum(len(c) + 2 for c in cells) <= 200:
        out.write(f"{head} = ({', '.join(cells)})\n")
    return 0


#: the most rows and columns a Hessian is printed as a matrix with (the entries are always listed)
MATRIX_MAX = 12
#: the widest symbolic matrix printed (wider ones are listed entry by entry)
MATRIX_WIDTH = 100


def _matrix(names, cells, numbers):
    """Lines of an aligned matrix with row and column names; numbers right-aligned."""
    widths = [max(len(names[j]), *(len(row[j]) for row in cells)) for j in range(len(names))]
    rw = max(len(n) for n in names)
    pad = (lambda c, w: c.rjust(w)) if numbers else (lambda c, w: c.ljust(w))
    lines = ["  " + " " * rw + "  " + "  ".join(pad(n, w) for n, w in zip(names, widths))]
    for n, row in zip(names, cells):
        lines.append("  " + n.ljust(rw) + "  " + "  ".join(pad(c, w) for c, w in zip(row, widths)))
    return [ln.rstrip() for ln in lines]


def _classify(H, g, fval):
    """What the Hessian ``H`` (values) says at a point with gradient values ``g``: a dict with
    ``definiteness``, ``eigenvalues``, ``critical_point`` and ``classification`` (minimum,
    maximum, saddle point or None)."""
    H = np.asarray(H, dtype=float)
    g = np.asarray(g, dtype=float)
    res = {"definiteness": None, "eigenvalues": None, "critical_point": None, "classification": None}
    if not (np.all(np.isfinite(H)) and np.all(np.isfinite(g))):
        return res
    ev = np.linalg.eigvalsh((H + H.T) / 2)
    tol = 1e-10 * max(1.0, float(np.abs(ev).max()))
    pos, neg = ev > tol, ev < -tol
    if pos.all():
        kind = "positive definite"
    elif neg.all():
        kind = "negative definite"
    elif pos.any() and neg.any():
        kind = "indefinite"
    else:
        kind = "positive semidefinite" if not neg.any() else "negative semidefinite"
    scale = max(1.0, abs(float(fval))) if np.isfinite(fval) else 1.0
    critical = bool(np.all(np.abs(g) <= 1e-10 * scale))
    res.update(definiteness=kind, eigenvalues=[float(e) for e in ev], critical_point=critical)
    if critical:
        res["classification"] = {"positive definite": "minimum", "negative definite": "maximum",
                                 "indefinite": "saddle point"}.get(kind)
    return res


def _verdict(c, point, wrt, variables):
    if c["definiteness"] is None:
        return "H or ∇f is not finite there: the second-derivative test does not apply"
    evs = ", ".join(f"{e:.6g}" for e in c["eigenvalues"]) if len(c["eigenvalues"]) <= MATRIX_MAX else None
    line = f"H is {c['definiteness']}" + (f" (eigenvalues {evs})" if evs else "")
    fixed = [v for v in variables if v not in wrt]
    held = f" with {', '.join(fixed)} held fixed" if fixed else ""
    if not c["critical_point"]:
        return line + f"; ∇f is not 0 there, so the point is not a critical point{held}"
    kind = c["classification"]
    if kind is None:
        return line + f" and ∇f = 0: a critical point{held}, but the test is inconclusive (H is singular)"
    article = "a local " if kind != "saddle point" else "a "
    return line + f" and ∇f = 0: a critical point{held}, {article}{kind}"


def _cmd_hessian(f, args, out, err):
    vs = _check_names(f, args, err)
    if not vs:
        raise UsageError("the formula has no variables; give --wrt to name one")
    from .symbolic.limits import deadline
    with deadline("computing the Hessian"):
        grads = [f.diff(v) for v in vs]
        H = [[None] * len(vs) for _ in vs]
        for i in range(len(vs)):
            for j in range(i, len(vs)):
                H[i][j] = H[j][i] = grads[i].diff(vs[j])
    point = parse_point(args.at, f.variables) if args.at else None
    # each entry printed once, within the printing limit (values stand in with --at)
    pairs = [(i, j) for i in range(len(vs)) for j in range(len(vs)) if j >= i]
    named = [(_label(vs[i], 2, False, [vs[i], vs[j]]), H[i][j]) for i, j in pairs]
    value = _evaluator(point) if point is not None else None
    verdict = None
    if point is not None:
        verdict = _classify([[value(h) for h in row] for row in H], [value(g) for g in grads], f(**point))
    if args.json:
        texts = dict(zip(pairs, _texts(named, f, point is not None, "text")))
        res = {"formula": str(f), "variables": list(f.variables), "wrt": list(vs),
               "hessian": [[texts[min(i, j), max(i, j)][0] for j in range(len(vs))] for i in range(len(vs))]}
        if any(t is None for t, _ in texts.values()):
            res["too_large_to_print"] = {f"{vs[i]},{vs[j]}": n for (i, j), (t, n) in texts.items() if t is None}
        if point is not None:
            res["at"] = point
            res["values"] = [[_jnum(value(h)) for h in row] for row in H]
            res["gradient"] = [_jnum(value(g)) for g in grads]
            res.update(verdict)
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
            body = r" \\ ".join(" & ".join(_num(value(h)) for h in row) for row in H)
            out.write(r"H(" + _point_text(point) + r") = \begin{pmatrix} " + body + r" \end{pmatrix}" + "\n")
        return 0
    out.write(f"f({', '.join(printing_name(v, args) for v in f.variables)}) = {_typed(f, args)}\n")
    names = [printing_name(v, args) for v in vs]
    if point is None and len(vs) <= MATRIX_MAX and all(t is not None for t, _ in texts.values()):
        cells = [[entry(i, j) for j in range(len(vs))] for i in range(len(vs))]
        lines = _matrix(names, cells, numbers=False)
        if max(len(ln) for ln in lines) <= MATRIX_WIDTH:
            out.write("H =\n" + "\n".join(lines) + "\n")
            return 0
    rows = [(_label(names[i], 2, False, [names[i], names[j]]), entry(i, j), H[i][j]) for i, j in pairs]
    width = max(len(r[0]) for r in rows)
    dwidth = max(len(r[1]) for r in rows)
    for label, text, h in rows:
        line = f"{label:<{width}} = {text}"
        if point is not None:
            line = f"{label:<{width}} = {text:<{dwidth}}  = {_num(value(h))}"
        out.write(line + "\n")
    if point is not None:
        if len(vs) <= MATRIX_MAX:
            cells = [[_num(value(h)) for h in row] for row in H]
            out.write(f"H at {_point_text(point)}:\n" + "\n".join(_matrix(names, cells, numbers=True)) + "\n")
        else:
            out.write(f"at {_point_text(point)} (the {len(vs)}x{len(vs)} matrix is listed above entry by "
                      "entry; --json gives it as rows)\n")
        out.write(_verdict(verdict, point, vs, f.variables) + "\n")
    return 0


def printing_name(v, args):
    """A variable's name as the output spells it (θ with --pretty)."""
    if args.pretty:
        from .symbolic.printing import greek_letter
        return greek_letter(v)
    return v


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
    if argv[:1] == ["--version"]:
        out.write(f"partiald {_version()}\n")
        return 0
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
        from .symbolic.expr import FormulaWarning, expr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FormulaWarning)     # names run together: _check_names says so
            f = expr(args.formula)
        with np.errstate(all="ignore"):     # values print as inf/nan; no NumPy warnings on stderr
            return {"diff": _cmd_diff, "grad": _cmd_grad, "hessian": _cmd_hessian}[args.command](f, args, out, err)
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
