"""Printers for canonical formulas: plain text, unicode and LaTeX.

One visitor class per output format, sharing the layout logic (term order,
signs, fractions, parentheses by precedence); a format supplies only its
symbols. Terms of a sum are ordered like SymPy's default: lexicographically
by the exponents of the sorted generators, so ``x^2 + 3*x*y`` and
``2*x + 3*y``, with the constant last.

Printing walks the DAG iteratively (children before parents, each node once),
so deep formulas never hit the recursion limit and shared subexpressions are
formatted once. But the text repeats a shared subexpression wherever it occurs, so
a small DAG can print as gigabytes (the 16th derivative of ``x^x`` has 862 distinct
subexpressions and 274 MB of text). Before printing, the length of the text is
estimated on the DAG (a size per node, from its children's: linear in the DAG, an
upper bound within a small factor), and a formula whose text would exceed
:data:`MAX_PRINTED_CHARS` raises :class:`ExpressionTooLarge` instead: evaluate it
(call it, or ``compile()``), which needs no printing. The text of a subexpression
is dropped as soon as the last one that reads it is printed.
"""
from __future__ import annotations

import math
from fractions import Fraction

from ..core.errors import ExpressionTooLarge
from .canonical import Node, children, is_exact
from .limits import env_number

#: the most characters the text of one formula may have (an estimate on the DAG decides,
#: before any text is made); the environment variable PARTIALD_MAX_PRINTED_CHARS sets it
MAX_PRINTED_CHARS = env_number("PARTIALD_MAX_PRINTED_CHARS", 10_000_000, int)
#: the text of all subexpressions printed on the way may come to this many times the limit
PRINT_WORK_FACTOR = 50
#: the printed text a formula family keeps for reuse (Printer.doprint's ``shared``), in characters
SHARED_PRINT_CHARS = 20_000_000
#: sizes are counted up to this (so an astronomically large formula costs no big integers)
_SIZE_CAP = 1 << 62

# precedence levels
P_ATOM, P_POW, P_MUL, P_ADD = 4, 3, 2, 1

_SUPERSCRIPT = str.maketrans("0123456789-/()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ⁽⁾")


def _monomial(term):
    """``((generator, exponent), ...)`` of a term, for ordering: the powers of a product with
    exact exponents, else the term itself to the first power."""
    if term.kind == "mul":
        out = []
        for b, e in term.args[1]:
            if e.kind == "num" and is_exact(e.args[0]):
                out.append((b, e.args[0]))
            else:
                return ((term, 1),)
        return out
    return ((term, 1),)


def ordered_terms(n: Node):
    """The ``(coef, term)`` pairs of a sum in SymPy's printing order: descending
    lexicographic exponents over the sorted generators. The constant is the pair
    ``(constant, None)`` with all exponents 0 (so it comes last unless some term
    has a negative exponent: ``1/2 + 6/x^3``).

    The exponent vectors are sparse (a term has a few of the sum's generators): each is
    written as its nonzero entries in generator order, ``(rank, -exponent)`` for a positive
    exponent and ``(2N + 1 - rank, -exponent)`` for a negative one (N generators), closed by
    ``(N,)``; these tuples compare as the dense vectors do, in time of the order of the
    terms' own factors."""
    constant, pairs = n.args
    items = list(pairs) + ([(constant, None)] if constant != 0 else [])
    for _, t in pairs:
        if t.kind == "mul":
            break
    else:
        # every term is its own generator to the first power: the order is that of the
        # generators, in which a sum keeps its terms (by skey), and the constant last
        return items
    monos = [_monomial(t) for _, t in pairs]
    gens = set()
    for m in monos:
        for g, _ in m:
            gens.add(g)
    rank = {g: i for i, g in enumerate(sorted(gens, key=_skey))}
    top = 2 * len(gens) + 1
    end = (len(gens),)
    decorated = []
    for i, m in enumerate(monos):
        if len(m) == 1:
            g, e = m[0]
            r = rank[g]
            key = ((r, -e) if e > 0 else (top - r, -e), end)
        else:
            entries = sorted([(rank[g], e) for g, e in m])
            key = tuple([(r, -e) if e > 0 else (top - r, -e) for r, e in entries]) + (end,)
        decorated.append((key, pairs[i][1].skey, i))
    if constant != 0:
        decorated.append(((end,), (), len(pairs)))
    decorated.sort()
    return [items[i] for _, _, i in decorated]


def _skey(g):
    return g.skey


def _deps(n):
    """The nodes whose text the text of ``n`` is made from (a sum reads the factors of its
    product terms, not the terms' own text); otherwise ``n``'s children."""
    if n.kind != "add":
        return children(n)
    out = []
    for _, t in n.args[1]:
        if t.kind == "mul":
            out.extend(children(t))
        else:
            out.append(t)
    return out


def _print_order(root):
    """The nodes printing ``root`` reads, each after those it reads; their reads; and the
    number of times each is read."""
    deps = {}
    uses = {}
    order = []
    stack = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if n in deps:
            continue
        ds = deps[n] = _deps(n)
        stack.append((n, True))
        for c in ds:
            u = uses.get(c)
            uses[c] = 1 if u is None else u + 1
            if c not in deps:
                if c.kind in _LEAVES:
                    deps[c] = ()
                    order.append(c)
                else:
                    stack.append((c, False))
    return order, deps, uses


_LEAVES = frozenset(("num", "sym", "const"))


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

    # -- size ---------------------------------------------------------------------------
    # What the layout adds around its parts, at most: parentheses, a function call, the
    # separator of terms, the '^' of a power, the bar of a fraction.
    paren_size = 2
    call_size = 2
    sep_size = 3
    pow_size = 1
    frac_size = 3

    def sizes(self, order):
        """An upper bound on the length of each node's text (within a small factor), for
        the nodes of ``order`` (from :func:`_print_order`): leaves exactly, the rest from
        their parts."""
        size = {}
        cap = _SIZE_CAP
        paren, mul, sep = self.paren_size, len(self.mul_sym), self.sep_size
        numlen = self._numlen
        factors_size = self._factors_size
        for n in order:
            k = n.kind
            if k == "num":
                s = numlen(n.args[0])
            elif k == "sym":
                s = len(self.symbol(n.args[0]))
            elif k == "const":
                s = len(self.constant(n.args[0]))
            elif k == "func":
                s = len(n.args[0]) + self.call_size + sum([size[a] + 2 for a in n.args[1:]])
            elif k == "add":
                constant = n.args[0]
                s = numlen(constant) if constant != 0 else -sep      # no separator before the first
                for c, t in n.args[1]:
                    s += sep + (0 if c == 1 or c == -1 else numlen(c) + mul)
                    if t.kind == "mul":
                        s += factors_size(t.args[0], t.args[1], size)
                    else:
                        s += size[t] + (paren if t.kind == "add" else 0)
            else:
                s = factors_size(n.args[0], n.args[1], size) + 1
            size[n] = s if s < cap else cap
        return size

    def _factors_size(self, coef, factors, size):
        """At most the length of ``coef * prod(base^exp)`` without the sign."""
        paren, mul = self.paren_size, len(self.mul_sym)
        s = 0 if coef == 1 or coef == -1 else self._numlen(coef) + mul + self.frac_size
        den = False
        for b, e in factors:
            s += size[b] + mul
            bk = b.kind
            if e.kind == "num":
                q = e.args[0]
                if q == 1:
                    s += paren if bk == "add" else 0
                    continue
                if is_exact(q) and q < 0:
                    den = True
                    if q == -1:
                        s += paren if bk == "add" else 0
                        continue
                s += self.pow_size + self._numlen(q) + (paren if not is_exact(q) or q < 0 or type(q) is not int else 0)
            else:
                s += self.pow_size + size[e] + (paren if e.kind in ("add", "mul", "num") else 0)
            s += paren if bk in ("add", "mul", "num") else 0
        return s - mul + (self.frac_size + paren if den else 0)

    def _numlen(self, q):
        return len(self.number(q))

    def measure(self, root: Node):
        """``(length, work)``: about how many characters the text of ``root`` has (at most,
        within a small factor), and how many the texts of all the subexpressions printed
        on the way have together."""
        order, _, _ = _print_order(root)
        size = self.sizes(order)
        return size[root], min(sum(size.values()), _SIZE_CAP)

    def doprint(self, root: Node, max_chars=None, shared=None) -> str:
        """The text of ``root``; ExpressionTooLarge (before any text is made) when it would
        have more than ``max_chars`` characters (default :data:`MAX_PRINTED_CHARS`).

        ``shared``: a dict kept between calls by this printer's class (a formula and its
        derivatives share one): the printed form of each node, which depends on the node
        alone, is read from it and added to it (up to :data:`SHARED_PRINT_CHARS` characters
        in all, counted under the key ``None``)."""
        order, deps, uses = _print_order(root)
        limit = MAX_PRINTED_CHARS if max_chars is None else max_chars
        if limit and limit != math.inf:
            size = self.sizes(order)
            length, work = size[root], sum(size.values())
            if not _within(length, work, limit):
                raise ExpressionTooLarge(too_large_message("the formula", length, work, limit))
        memo: dict = {}
        if shared is not None:
            stored = shared.get(None, 0)
            if stored < SHARED_PRINT_CHARS:
                self._terms = shared.get("terms")
                if self._terms is None:
                    self._terms = shared["terms"] = {}     # (product, coefficient) -> its text in a sum
            for n in order:
                item = shared.get(n)
                if item is None:
                    item = self._print(n, memo)
                    if stored < SHARED_PRINT_CHARS:
                        shared[n] = item
                        stored += len(item[0])
                memo[n] = item
            shared[None] = stored
            return memo[root][0]
        for n in order:
            memo[n] = self._print(n, memo)
            for c in deps[n]:
                left = uses[c] - 1
                if left:
                    uses[c] = left
                elif c in memo:
                    del memo[c]         # its last reader is printed
        return memo[root][0]

    _terms = None

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
        if c == 1 and t.kind != "mul":
            return memo[t][0], sign         # what _print_mul(1, ((t, None),)) gives
        if t.kind == "mul":
            terms = self._terms
            if terms is not None:
                s = terms.get((t, c))
                if s is None:
                    coef, factors = t.args
                    s = terms[(t, c)] = self._print_mul(coef * c, factors, memo)[0]
                return s, sign
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
        if e.kind == "num" and e.args[0] == _HALF:
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


_HALF = Fraction(1, 2)


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

    def symbol(self, name):
        return greek_letter(name)

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

    def doprint(self, root, max_chars=None):
        s = super().doprint(root, max_chars)
        return "−" + s[1:] if s.startswith("-") else s


class LatexPrinter(Printer):
    """LaTeX: ``2 x + 3 y``, ``x^{2}``, ``\\frac{1}{x}``, ``\\sin{\\left(x \\right)}``."""

    mul_sym = " "
    paren_size = 13         # \left( \right)
    call_size = 30          # \operatorname{name}{\left( \right)}
    pow_size = 3            # ^{}
    frac_size = 16          # \frac{}{}, and a denominator in \left( \right)

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


#: how to raise the printing limit, for messages
RAISE_LIMIT = "set PARTIALD_MAX_PRINTED_CHARS or partiald.symbolic.printing.MAX_PRINTED_CHARS to allow more"


def too_large_message(what, length, work, limit,
                      instead="evaluate it at a point instead (call it, or compile()), which needs no printing"):
    """The message of ExpressionTooLarge for text over the limit."""
    if length > limit:
        size = f"would print as about {length:,} characters, over the limit of {limit:,}"
    else:
        size = (f"would print as about {length:,} characters, but its parts repeat so much that printing "
                f"it builds about {work:,} characters of text, over {PRINT_WORK_FACTOR} times the limit of {limit:,}")
    return f"{what} {size} ({RAISE_LIMIT}); {instead}"


PRINTERS = {"text": Printer, "unicode": UnicodePrinter, "latex": LatexPrinter}


def printed_size(n: Node, form="text"):
    """About how many characters (at most, within a small factor) the text of ``n`` has in
    ``form`` ("text", "unicode" or "latex"), computed on the DAG without printing."""
    return PRINTERS[form]().measure(n)[0]


def printable(n: Node, form="text", max_chars=None):
    """Whether the text of ``n`` in ``form`` is within the limit (``max_chars``, default
    :data:`MAX_PRINTED_CHARS`); ``(ok, length, work)``."""
    limit = MAX_PRINTED_CHARS if max_chars is None else max_chars
    length, work = PRINTERS[form]().measure(n)
    return _within(length, work, limit), length, work


def _within(length, work, limit):
    """Whether text of ``length`` characters, built from ``work`` characters of parts, is
    within ``limit`` (0 or inf: no limit)."""
    return not limit or limit == math.inf or (length <= limit and work <= PRINT_WORK_FACTOR * limit)


def text_of(n: Node, form="text", max_chars=None) -> str:
    """The text of ``n`` in ``form`` ("text", "unicode" or "latex")."""
    return PRINTERS[form]().doprint(n, max_chars)


def to_str(n: Node, max_chars=None, shared=None) -> str:
    return Printer().doprint(n, max_chars, shared)


def to_unicode(n: Node, max_chars=None) -> str:
    return UnicodePrinter().doprint(n, max_chars)


def to_latex(n: Node, max_chars=None) -> str:
    return LatexPrinter().doprint(n, max_chars)


# -- the formula as typed: printing a parser AST ------------------------------------------------
# Explanations follow the input's own tree (symbolic/explain.py), so its parts are printed
# from the parser's AST (symbolic/parser.py), not from the canonical form: ``(x*y)^3`` stays
# ``(x*y)^3``. Parentheses are those the grammar needs, so the text reads back to the same
# formula. Printing is iterative and emits pieces that are joined once: linear in the text.

#: binding strength of each AST tag: a sum 1, a product or quotient 2, unary minus 3, a power 4,
#: an atom (number, name, constant, call) 5
_AST_LEVEL = {"add": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}

_GREEK_WORDS = None


def greek_letter(name):
    """The Greek letter a name spells (``theta`` -> ``θ``, ``theta_2`` -> ``θ_2``, ``Delta1`` ->
    ``Δ1``), or the name itself."""
    global _GREEK_WORDS
    if _GREEK_WORDS is None:
        from .parser import GREEK
        _GREEK_WORDS = {w: c for c, w in GREEK.items()}
    base = name.rstrip("0123456789")
    head, sep, tail = base.partition("_")
    letter = _GREEK_WORDS.get(head)
    if letter is None or (sep and not tail):
        return name
    return letter + name[len(head):]


def ast_level(a):
    return _AST_LEVEL.get(a[0], 5)


def ast_text(ast, form="text"):
    """The text of a parser AST in ``form`` ("text" or "unicode"): ``3x + (x*y)^3`` prints as
    ``3*x + (x*y)^3`` (``3x + (x⋅y)³`` in unicode)."""
    uni = form == "unicode"
    out = []
    stack = [ast]
    while stack:
        a = stack.pop()
        if type(a) is str:
            out.append(a)
            continue
        pieces = _ast_pieces(a, uni)
        stack.extend(reversed(pieces))
    return "".join(out)


def ast_size(ast):
    """About how many characters ``ast_text(ast)`` has (iterative, linear in the tree)."""
    total = 0
    stack = [ast]
    while stack:
        a = stack.pop()
        tag = a[0]
        if tag in ("num", "name", "const"):
            total += len(a[1])
        elif tag == "call":
            total += len(a[1]) + 4
            stack.append(a[2])
        elif tag in ("add", "mul"):
            total += 5 * len(a[1])
            stack.extend(a[1])
        else:
            total += 5
            stack.extend(a[1:])
    return total


def _wrap(a, level):
    return ["(", a, ")"] if ast_level(a) < level else [a]


def _ast_pieces(a, uni):
    """One AST node as a list of strings and child ASTs, in order."""
    tag = a[0]
    if tag == "num":
        if uni and a[1] == "inf":
            return ["∞"]
        return [a[1]]
    if tag == "name":
        return [greek_letter(a[1]) if uni else a[1]]
    if tag == "const":
        return ["π" if uni and a[1] == "pi" else a[1]]
    minus = "−" if uni else "-"
    if tag == "neg":
        return [minus] + _wrap(a[1], 4)
    if tag == "add":
        out = []
        for i, t in enumerate(a[1]):
            if i and t[0] == "neg":
                out += [f" {minus} "] + _wrap(t[1], 2)
            else:
                out += ([" + "] if i else []) + [t]
        return out
    if tag == "mul":
        out = []
        for i, f in enumerate(a[1]):
            if i:
                prev = a[1][i - 1]
                joined = uni and prev[0] == "num" and f[0] in ("name", "const", "call", "add", "pow")
                out.append("" if joined else "⋅" if uni else "*")
            out += _wrap(f, 3 if i else 2) if f[0] != "div" or i == 0 else ["(", f, ")"]
        return out
    if tag == "div":
        return _wrap(a[1], 2) + ["/"] + _wrap(a[2], 3)
    if tag == "pow":
        base, exp = a[1], a[2]
        pieces = _wrap(base, 5)
        if uni and exp[0] == "num" and exp[1].isdigit():
            return pieces + [exp[1].translate(_SUPERSCRIPT)]
        if uni and exp[0] == "neg" and exp[1][0] == "num" and exp[1][1].isdigit():
            return pieces + [("-" + exp[1][1]).translate(_SUPERSCRIPT)]
        return pieces + ["^"] + _wrap(exp, 3)
    if tag == "call":
        if uni and a[1] == "sqrt":
            if a[2][0] in ("name", "num", "const"):
                return ["√", a[2]]
            return ["√(", a[2], ")"]
        return [a[1] + "(", a[2], ")"]
    raise ValueError(f"unknown AST node {tag!r}")
