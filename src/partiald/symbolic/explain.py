"""Step-by-step explanations of a partial derivative.

Each step is one subexpression of the formula, its derivative (computed by
``Expr.diff``, the same engine that gives the answer), the calculus rule that
combines its parts (named from the primitive registry where a primitive
stands behind it), the variables held constant, and domain notes. The last
line is the answer itself, ``str(f.diff(var))``.

A formula read from text is explained as it was typed: the steps walk the
parser's tree, so ``(x*y)^3`` is a power of a product (power rule + chain
rule, then the product), not the canonical ``x^3*y^3``; only each step's
derivative is simplified. A formula without text (a derivative, or one
traced from a Python function) is explained on its canonical form.
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

    def __init__(self, formula, var, steps, result, omitted=0, parts=None, typed=None):
        self.formula = formula
        self.var = var
        self.steps = steps
        self.result = result
        self.omitted = omitted
        # per step, what its expression and derivative print from: ("ast", tree) or ("node", node),
        # and the derivative's node; the formula's own tree when it was typed
        self._parts = parts
        self._typed = typed

    def to_list(self):
        return [dict(s) for s in self.steps]

    def _render(self, part, form):
        kind, obj = part
        if kind == "ast":
            return printing.ast_text(obj, form)
        return printing.text_of(obj, form)

    def _lines(self, form="text"):
        pretty = form != "text" and self._parts is not None
        head = (printing.ast_text(self._typed, form) if self._typed is not None
                else printing.text_of(self.formula.node, form))
        lines = [f"d/d{self.var} [{head}]"]
        width = 0
        rows = []
        for i, s in enumerate(self.steps):
            e, d = s["expr"], s["derivative"]
            if pretty:
                part, dnode = self._parts[i]
                e, d = self._render(part, form), printing.text_of(dnode, form)
            lhs = f"{s['index']}. {'  ' * s['depth']}d/d{self.var}[{e}] = {d}"
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
        return "\n".join(self._lines() + [f"result: {self.result}"])

    def text(self, form="text"):
        """The steps in ``form``: "text" (``str()``) or "unicode" (``x²``, ``3x⋅y``, ``θ``)."""
        if form == "text":
            return str(self)
        result = printing.text_of(self._result_node, form) if getattr(self, "_result_node", None) is not None \
            else self.result
        return "\n".join(self._lines(form) + [f"result: {result}"])

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


def _exponent_note(e):
    """What u^e needs of its base u for a constant exponent node ``e`` (None: nothing)."""
    ev = e.args[0] if e.kind == "num" else None
    if ev is not None and C.is_exact(ev) and ev.denominator != 1:
        return "u^(p/q) is real for u >= 0 (derivative for u > 0)" if ev > 0 else "defined for u > 0"
    if ev is not None and C.is_exact(ev) and ev < 0:
        return "defined where the base is nonzero"
    return None


def _power_rule(n, var):
    (b, e), = n.args[1]
    note = _exponent_note(e)
    if var in e.free:
        rule = REGISTRY["pow"].rule_name + " (general: d[u^v] = v*u^(v-1)*du + u^v*log(u)*dv)"
        kids = [x for x in (b, e) if var in x.free and x.kind != "sym"]
        return rule, kids, "u^v with a variable exponent needs u > 0"
    rule = REGISTRY["integer_pow"].rule_name
    if b.kind != "sym":
        return rule + " + chain rule", [b], note
    return rule, [], note


def explain(f, var, ast_to_nodes=None):
    """The :class:`Explanation` of ``f.diff(var)``: on the tree of the text ``f`` was read from
    (given ``ast_to_nodes``, expr.py's map from its subtrees to canonical nodes), or else on its
    canonical form."""
    if not isinstance(var, str):
        raise TypeError(f"variable names are strings, got {var!r}")
    result = f.diff(var)
    cache = f._diff_cache()         # each part is differentiated with the formula's cache
    text = getattr(f, "_text", None)
    if text is not None and ast_to_nodes is not None:
        from .parser import parse
        tree = parse(text)
        nodes = ast_to_nodes(tree)
        root = ("ast", tree)
        node_of = lambda a: nodes[id(a)]        # noqa: E731
    else:
        tree = None
        root = ("node", f.node)
        node_of = None
    steps, parts = [], []
    omitted = 0
    # the text budget: the formula and the answer are printed in full (or refused), the steps
    # while they fit beside them
    measure = printing.Printer().measure
    limit = printing.MAX_PRINTED_CHARS
    left = limit - measure(f.node)[0] - measure(result.node)[0] if limit and limit != float("inf") else None
    stack = [(root, 0)]
    while stack:
        item, depth = stack.pop()
        if len(steps) >= MAX_STEPS or (left is not None and left < 0):
            omitted += 1
            continue
        kind, obj = item
        n = node_of(obj) if kind == "ast" else obj
        rule, kids, note = _ast_rule(obj, var, node_of) if kind == "ast" else _rule(obj, var)
        d = result if depth == 0 else f._derived(n, cache).diff(var)
        if left is not None:
            left -= (printing.ast_size(obj) if kind == "ast" else measure(n)[0]) + measure(d.node)[0]
            if left < 0:
                omitted += 1        # this step and every one after it
                continue
        held = sorted(v for v in n.free if v != var)
        steps.append({"index": len(steps) + 1, "depth": depth,
                      "expr": printing.ast_text(obj) if kind == "ast" else to_str(n), "derivative": str(d),
                      "rule": rule, "held_constant": held, "note": note})
        parts.append(((kind, obj), d.node))
        for k in reversed(kids):
            if kind == "ast":
                if k[0] in ("num", "const") or (k[0] == "name" and depth > 0):
                    continue
            else:
                if k.kind in ("num",):
                    continue
                if k.kind == "sym" and depth > 0:
                    continue
            stack.append(((kind, k), depth + 1))
    out = Explanation(f, var, steps, str(result), omitted, parts, tree)
    out._result_node = result.node
    return out


def _ast_rule(a, var, node_of):
    """(rule name, child subtrees to explain, note) for one node of the typed formula's tree."""
    def dep(x):
        return var in node_of(x).free

    tag = a[0]
    if not dep(a):
        return "constant rule", [], None
    if tag == "name":
        return "variable rule: d/d{0}[{0}] = 1".format(var), [], None
    if tag == "neg":
        return "constant multiple rule: d[-u] = -du", [a[1]], None
    if tag == "add":
        terms = list(a[1])
        rule = REGISTRY["add"].rule_name
        if any(t[0] == "neg" for t in terms[1:]):
            rule = f"{rule} and {REGISTRY['sub'].rule_name}"
        return rule, terms, None
    if tag == "mul":
        dependent = [x for x in a[1] if dep(x)]
        if len(dependent) == 1:
            return "constant multiple rule", dependent, None
        return REGISTRY["mul"].rule_name, dependent, None
    if tag == "div":
        top, bottom = a[1], a[2]
        if not dep(bottom):
            return "constant multiple rule: d[u/c] = du/c", [top], None
        return REGISTRY["div"].rule_name, [x for x in (top, bottom) if dep(x)], "valid where the denominator is nonzero"
    if tag == "pow":
        base, exp = a[1], a[2]
        chain = " + chain rule" if base[0] != "name" else ""
        if not dep(exp):
            note = _exponent_note(node_of(exp))
            return REGISTRY["integer_pow"].rule_name + chain, [base] if chain else [], note
        if not dep(base):
            rule = REGISTRY["exp"].rule_name + ": d[a^u] = a^u*log(a)*du"
            return rule + (" + chain rule" if exp[0] != "name" else ""), [exp] if exp[0] != "name" else [], None
        rule = REGISTRY["pow"].rule_name + " (general: d[u^v] = v*u^(v-1)*du + u^v*log(u)*dv)"
        return rule, [x for x in (base, exp) if x[0] != "name"], "u^v with a variable exponent needs u > 0"
    # a function call
    name = a[1]
    record = RECORDS.get(name) or REGISTRY.get(_SUGAR_PRIM.get(name, ""))
    rule = (record.rule_name if record else f"{name} rule") or f"{name} rule"
    inner = [a[2]] if a[2][0] != "name" else []
    if inner:
        rule += " + chain rule"
    domain = RECORDS[name].domain if name in RECORDS else _SUGAR_DOMAIN.get(name, "")
    if name == "sqrt" and not domain:
        domain = "sqrt(u) is real for u >= 0 (derivative for u > 0)"
    return rule, inner, domain or None
