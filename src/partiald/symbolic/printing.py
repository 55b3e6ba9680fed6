"""Printers for canonical formulas: plain text, unicode and LaTeX.

One visitor class per output format, sharing the layout logic (term order,
signs, fractions, parentheses by precedence); a format supplies only its
symbols. Terms of a sum are ordered like SymPy's default: lexicographically
by the exponents of the sorted generators, so ``x^2 + 3*x*y`` and
``2*x + 3*y``, with the constant last.

Printing walks the DAG iteratively (children before parents, each node once),
so deep formulas never hit the recursion limit and shared subexpressions are
formatted once.
"""
from __future__ import annotations

import math
from fractions import Fraction

from .canonical import Node, is_exact, topo_order

# precedence levels
P_ATOM, P_POW, P_MUL, P_ADD = 4, 3, 2, 1

_SUPERSCRIPT = str.maketrans("0123456789-/()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ⁽⁾")


def _monomial(term):
    """``{generator: exponent}`` of a term, for ordering."""
    if term.kind == "mul":
        out = {}
        for b, e in term.args[1]:
            if e.kind == "num" and is_exact(e.args[0]):
                out[b] = e.args[0]
            else:
                out[term] = Fraction(1)
                return {term: Fraction(1)}
        return out
    return {term: Fraction(1)}


def ordered_terms(n: Node):
    """The ``(coef, term)`` pairs of a sum in SymPy's printing order: descending
    lexicographic exponents over the sorted generators. The constant is the pair
    ``(constant, None)`` with all exponents 0 (so it comes last unless some term
    has a negative exponent: ``1/2 + 6/x^3``)."""
    constant, pairs = n.args
    items = list(pairs) + ([(constant, None)] if constant != 0 else [])
    monos = [_monomial(t) if t is not None else {} for _, t in items]
    gens = sorted({g for m in monos for g in m}, key=lambda g: g.skey)
    keys = [tuple(m.get(g, Fraction(0)) for g in gens) for m in monos]
    idx = sorted(range(len(items)), key=lambda i: (tuple(-k for k in keys[i]),
                                                   items[i][1].skey if items[i][1] is not None else ()))
    return [items[i] for i in idx]


class Printer:
    """Plain text: ``2*x + 3*y``, ``x^2``, ``sqrt(x)``, ``x/(1 + y^2)``."""

    mul_sym = "*"
    neg_space = " - "
    plus = " + "

    def number(self, q):
        if isinstance(q, float):
            if math.isnan(q):
                return "nan"
            return "inf" if q > 0 else "-inf"
        if q.denominator == 1:
            return str(q.numerator)
        return f"{q.numerator}/{q.denominator}"

    def symbol(self, name):
        return name

    def constant(self, name):
        return name

    def call(self, name, args):
        return f"{name}(" + ", ".join(args) + ")"

    def sqrt(self, arg):
        return f"sqrt({arg})"

    def power(self, base, exp):
        return f"{base}^{exp}"

    def paren(self, s):
        return f"({s})"

    def join_mul(self, parts):
        return self.mul_sym.join(parts)

    # -- layout ---------------------------------------------------------------------------

    def doprint(self, root: Node) -> str:
        memo: dict = {}
        for n in topo_order(root):
            memo[n] = self._print(n, memo)
        return memo[root][0]

    def _wrap(self, item, level):
        s, p = item
        return self.paren(s) if p < level else s

    def _print(self, n, memo):
        k = n.kind
        if k == "num":
            q = n.args[0]
            s = self.number(q)
            neg = (q < 0) if not (isinstance(q, float) and math.isnan(q)) else False
            frac = is_exact(q) and q.denominator != 1
            return s, (P_ADD if neg else P_MUL if frac else P_ATOM)
        if k == "sym":
            return self.symbol(n.args[0]), P_ATOM
        if k == "const":
            return self.constant(n.args[0]), P_ATOM
        if k == "func":
            return self.call(n.args[0], [memo[a][0] for a in n.args[1:]]), P_ATOM
        if k == "add":
            return self._print_add(n, memo), P_ADD
        return self._print_mul(n.args[0], n.args[1], memo)

    def _print_add(self, n, memo):
        out = []
        constant = n.args[0]
        items = ordered_terms(n)
        if len(items) == 2 and constant != 0 and not isinstance(constant, float) and constant > 0 \
                and items[0][0] < 0 and items[0][1] is not None \
                and not (items[0][1].kind == "mul" and len(items[0][1].args[1]) > 1):
            # like SymPy: 1 - x^2, not -x^2 + 1
            items = items[::-1]
        for c, t in items:
            s, sign = self._term(c, t, memo)
            if not out:
                out.append(("-" if sign < 0 else "") + s)
            else:
                out.append((self.neg_space if sign < 0 else self.plus) + s)
        return "".join(out)

    def _term(self, c, t, memo):
        """A term printed without its sign, and the sign."""
        sign = -1 if c < 0 else 1
        c = -c if c < 0 else c
        if t is None:
            return self.number(c), sign
        if t.kind == "mul":
            coef, factors = t.args
            s, _ = self._print_mul(coef * c, factors, memo)
        else:
            s, _ = self._print_mul(c, ((t, None),), memo)
        return s, sign

    def _print_mul(self, coef, factors, memo):
        """``coef * prod(base^exp)`` as ``numerator/denominator``; ``e is None`` marks a
        factor printed as it is (a term of a sum)."""
        neg = coef < 0
        if neg:
            coef = -coef
        num_items, den_items = [], []
        for b, e in factors:
            if e is None:
                num_items.append(memo[b])
                continue
            ev = e.args[0] if e.kind == "num" else None
            if ev is not None and is_exact(ev) and ev < 0:
                den_items.append(self._pow_item(b, num_value(-ev), memo))
            else:
                num_items.append(self._pow_item(b, e, memo))
        exact = is_exact(coef)
        cnum = coef.numerator if exact else coef
        cden = coef.denominator if exact else 1
        if cnum != 1 or not num_items:
            num_items.insert(0, (self.number(Fraction(cnum) if exact else cnum), P_ATOM))
        if cden != 1:
            den_items.insert(0, (str(cden), P_ATOM))
        if den_items:
            s, prec = self.frac(num_items, den_items), P_MUL
        elif len(num_items) == 1:
            s, prec = num_items[0]
        else:
            s, prec = self.join_mul([self._wrap(it, P_MUL) for it in num_items]), P_MUL
        if neg:
            return "-" + (self.paren(s) if prec < P_MUL else s), P_ADD
        return s, prec

    def frac(self, num_items, den_items):
        num = self.join_mul([self._wrap(it, P_MUL) for it in num_items])
        dens = [self._wrap(it, P_MUL) for it in den_items]
        den = self.join_mul(dens)
        if len(dens) > 1:
            den = self.paren(den)
        return f"{num}/{den}"

    def _pow_item(self, b, e, memo):
        if e.kind == "num" and e.args[0] == 1:
            return memo[b]
        if e.kind == "num" and e.args[0] == Fraction(1, 2):
            return self.sqrt(memo[b][0]), P_ATOM
        base = self._wrap(memo[b], P_POW + 1) if b.kind != "num" or not _simple_num(b) else memo[b][0]
        if e.kind == "num":
            q = e.args[0]
            exp = self.number(q)
            if is_exact(q) and (q.denominator != 1 or q < 0):
                exp = self.exp_paren(exp)
        else:
            exp = self._exp_str(memo[e])
        return self.power(base, exp), P_POW

    def exp_paren(self, s):
        return f"({s})"

    def _exp_str(self, item):
        s, p = item
        return s if p >= P_ATOM else self.exp_paren(s)


def _simple_num(n):
    q = n.args[0]
    return is_exact(q) and q.denominator == 1 and q >= 0


def num_value(q):
    from .canonical import num
    return num(q)


class UnicodePrinter(Printer):
    """For the terminal: ``2x + 3y``, ``x²``, ``√x``, ``x⋅sin(x)``."""

    mul_sym = "⋅"
    neg_space = " − "

    def join_mul(self, parts):
        # 2x, 3xy: juxtapose a leading number and single-letter names; ⋅ elsewhere
        out = parts[0]
        for p in parts[1:]:
            prev_num = out.replace(".", "").isdigit()
            simple = len(p) == 1 and p.isalpha() or p.startswith("(") or "²" in p or p[:1].isalpha() and "(" not in p
            out += ("" if (prev_num and simple) else "⋅") + p
        return out

    def number(self, q):
        if isinstance(q, float) and not math.isnan(q):
            return "∞" if q > 0 else "-∞"
        return super().number(q)

    def constant(self, name):
        return "π" if name == "pi" else "e"

    def sqrt(self, arg):
        return f"√{arg}" if arg.isalnum() else f"√({arg})"

    def power(self, base, exp):
        if all(ch in "0123456789-" for ch in exp):
            return base + exp.translate(_SUPERSCRIPT)
        return f"{base}^{exp}"

    def _print_add(self, n, memo):
        s = super()._print_add(n, memo)
        return "−" + s[1:] if s.startswith("-") else s

    def doprint(self, root):
        s = super().doprint(root)
        return "−" + s[1:] if s.startswith("-") else s


class LatexPrinter(Printer):
    """LaTeX: ``2 x + 3 y``, ``x^{2}``, ``\\frac{1}{x}``, ``\\sin{\\left(x \\right)}``."""

    mul_sym = " "

    def number(self, q):
        if isinstance(q, float):
            return r"\text{NaN}" if math.isnan(q) else (r"\infty" if q > 0 else r"-\infty")
        if q.denominator == 1:
            return str(q.numerator)
        return rf"\frac{{{q.numerator}}}{{{q.denominator}}}"

    def symbol(self, name):
        greek = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                 "lambda", "mu", "nu", "xi", "omicron", "rho", "sigma", "tau", "upsilon", "phi", "chi",
                 "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"}
        base, _, sub = name.partition("_")
        head = "\\" + base if base in greek else base
        if len(head) > 1 and not head.startswith("\\"):
            if head[-1].isdigit() and not sub:
                i = len(head.rstrip("0123456789"))
                return f"{head[:i]}_{{{head[i:]}}}" if i == 1 else rf"\mathrm{{{head[:i]}}}_{{{head[i:]}}}"
            head = rf"\mathrm{{{head}}}"
        return f"{head}_{{{sub}}}" if sub else head

    def constant(self, name):
        return r"\pi" if name == "pi" else "e"

    def call(self, name, args):
        known = {"sin", "cos", "tan", "tanh", "sinh", "cosh", "exp", "log"}
        if name == "abs":
            return rf"\left|{args[0]}\right|"
        if name in ("asin", "acos", "atan"):
            head = rf"\operatorname{{a{name[1:]}}}"
        elif name in known:
            head = "\\" + name
        else:
            head = rf"\operatorname{{{name}}}"
        return head + r"{\left(" + ", ".join(args) + r" \right)}"

    def sqrt(self, arg):
        return rf"\sqrt{{{arg}}}"

    def power(self, base, exp):
        return f"{base}^{{{exp}}}"

    def exp_paren(self, s):
        return s

    def _exp_str(self, item):
        return item[0]

    def frac(self, num_items, den_items):
        num = self.join_mul([self._wrap(it, P_MUL) for it in num_items]) if len(num_items) > 1 else num_items[0][0]
        den = self.join_mul([self._wrap(it, P_MUL) for it in den_items]) if len(den_items) > 1 else den_items[0][0]
        return rf"\frac{{{num}}}{{{den}}}"

    def paren(self, s):
        return rf"\left({s}\right)"


def to_str(n: Node) -> str:
    return Printer().doprint(n)


def to_unicode(n: Node) -> str:
    return UnicodePrinter().doprint(n)


def to_latex(n: Node) -> str:
    return LatexPrinter().doprint(n)
