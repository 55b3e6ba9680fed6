"""Step-by-step explanations of a partial derivative.

Each step is one subexpression of the formula, its derivative (computed by
``Expr.diff``, the same engine that gives the answer), the calculus rule that
combines its parts (named from the primitive registry where a primitive
stands behind it), the variables held constant, and domain notes. The last
line is the answer itself, ``str(f.diff(var))``.
"""
from __future__ import annotations

from fractions import Fraction

from ..core.primitive import REGISTRY
from . import canonical as C
from . import printing
from .functions import RECORDS
from .printing import ordered_terms, to_str

#: at most this many steps are listed (the answer is always given); and the steps' text stays
#: within the printing limit (printing.MAX_PRINTED_CHARS), with the formula and the answer:
#: steps beyond either are counted as not shown
MAX_STEPS = 200

#: the rewritten function names (symbolic/functions.py): the primitive whose rule explains
#: them and what is said about their domain; every other function is a record with a
#: ``symbol``, which gives both
_SUGAR_PRIM = {"softplus": "logaddexp", "relu": "maximum"}
_SUGAR_DOMAIN = {
    "relu": "at u = 0 the derivative is taken as 0 (partiald's convention)",
    "step": "step(u) = 1 for u > 0, else 0; its derivative is 0 (away from the jump)",
}


class Explanation:
    """The steps of a derivative. ``str()`` prints numbered lines ending with the answer;
    ``steps`` holds them as a list of dicts."""

    def __init__(self, formula, var, steps, result, omitted=0):
        self.formula = formula
        self.var = var
        self.steps = steps
        self.result = result
        self.omitted = omitted

    def to_list(self):
        return [dict(s) for s in self.steps]

    def _lines(self, fmt):
        lines = [f"d/d{self.var} [{fmt(self.formula.node)}]"]
        width = 0
        rows = []
        for s in self.steps:
            lhs = f"{s['index']}. {'  ' * s['depth']}d/d{self.var}[{s['expr']}] = {s['derivative']}"
            rule = s["rule"]
            if s["held_constant"]:
                rule += "; " + ", ".join(s["held_constant"]) + " held constant"
            rows.append((lhs, rule, s["note"]))
            width = max(width, len(lhs))
        width = min(width, 60)
        for lhs, rule, note in rows:
            lines.append(f"{lhs:<{width}}   ({rule})")
            if note:
                lines.append(" " * 6 + f"note: {note}")
        if self.omitted:
            lines.append(f"... {self.omitted} more steps not shown")
        return lines

    def __str__(self):
        return "\n".join(self._lines(to_str) + [f"result: {self.result}"])

    def __repr__(self):
        return f"<Explanation of d/d{self.var} with {len(self.steps)} steps>"


def _factors(n):
    """A product as ``[(coef or None, node)]`` parts: the numeric coefficient and each power."""
    if n.kind != "mul":
        return Fraction(1), [n]
    coef, factors = n.args
    return coef, [C.power(b, e) for b, e in factors]


def _rule(n, var):
    """(rule name, child nodes to explain, note) for one node."""
    reg = REGISTRY
    if n.kind == "num" or var not in n.free:
        if n.kind == "sym":
            return "constant rule", [], None
        return "constant rule", [], None
    if n.kind == "sym":
        return "variable rule: d/d{0}[{0}] = 1".format(var), [], None
    if n.kind == "add":
        kids = [C.mul(C.num(c), t) for c, t in ordered_terms(n) if t is not None]
        return reg["add"].rule_name, kids, None
    if n.kind == "mul":
        coef, parts = _factors(n)
        dependent = [p for p in parts if var in p.free]
        if len(parts) == 1 and coef == 1:
            return _power_rule(n, var)
        if len(dependent) == 1:
            return "constant multiple rule", dependent, None
        has_den = any(e.kind == "num" and C.is_exact(e.args[0]) and e.args[0] < 0
                      and var in b.free for b, e in n.args[1])
        if has_den:
            return reg["div"].rule_name, dependent, "valid where the denominator is nonzero"
        return reg["mul"].rule_name, dependent, None
    # a function of one (or two) arguments
    name = n.args[0]
    args = list(n.args[1:])
    record = RECORDS.get(name) or reg.get(_SUGAR_PRIM.get(name, ""))
    rule = (record.rule_name if record else f"{name} rule") or f"{name} rule"
    inner = [a for a in args if var in a.free and a.kind != "sym"]
    if inner:
        rule += " + chain rule"
    domain = RECORDS[name].domain if name in RECORDS else _SUGAR_DOMAIN.get(name, "")
    return rule, inner, domain or None


def _power_rule(n, var):
    (b, e), = n.args[1]
    ev = e.args[0] if e.kind == "num" else None
    note = None
    if ev is not None and C.is_exact(ev) and ev.denominator != 1:
        note = "u^(p/q) is real for u >= 0 (derivative for u > 0)" if ev > 0 else "defined for u > 0"
    elif ev is not None and C.is_exact(ev) and ev < 0:
        note = "defined where the base is nonzero"
    if var in e.free:
        rule = REGISTRY["pow"].rule_name + " (general: d[u^v] = v*u^(v-1)*du + u^v*log(u)*dv)"
        kids = [x for x in (b, e) if var in x.free and x.kind != "sym"]
        return rule, kids, "u^v with a variable exponent needs u > 0"
    rule = REGISTRY["integer_pow"].rule_name
    if b.kind != "sym":
        return rule + " + chain rule", [b], note
    return rule, [], note


def explain(f, var):
    """The :class:`Explanation` of ``f.diff(var)``."""
    if not isinstance(var, str):
        raise TypeError(f"variable names are strings, got {var!r}")
    result = f.diff(var)
    cache = f._diff_cache()         # each part is differentiated with the formula's cache
    steps = []
    omitted = 0
    # the text budget: the formula and the answer are printed in full (or refused), the steps
    # while they fit beside them
    measure = printing.Printer().measure
    limit = printing.MAX_PRINTED_CHARS
    left = limit - measure(f.node)[0] - measure(result.node)[0] if limit and limit != float("inf") else None
    stack = [(f.node, 0)]
    while stack:
        n, depth = stack.pop()
        if len(steps) >= MAX_STEPS or (left is not None and left < 0):
            omitted += 1
            continue
        rule, kids, note = _rule(n, var)
        d = result if n is f.node else f._derived(n, cache).diff(var)
        if left is not None:
            left -= measure(n)[0] + measure(d.node)[0]
            if left < 0:
                omitted += 1        # this step and every one after it
                continue
        held = sorted(v for v in n.free if v != var)
        steps.append({"index": len(steps) + 1, "depth": depth, "expr": to_str(n), "derivative": str(d),
                      "rule": rule, "held_constant": held, "note": note})
        for k in reversed(kids):
            if k.kind in ("num",):
                continue
            if k.kind == "sym" and depth > 0:
                continue
            stack.append((k, depth + 1))
    return Explanation(f, var, steps, str(result), omitted)
