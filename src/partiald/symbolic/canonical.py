"""Canonical formulas: a hash-consed DAG of nodes, and the interpreter that
evaluates Graph primitives on them.

A formula Graph is simplified by *interpreting* it on symbolic values: each
primitive's ``symbolic`` entry builds its result through the canonical
constructors below (``add``, ``mul``, ``power``, ``func``), which flatten
sums and products, collect like terms, fold constants (exactly, with
``int`` and ``Fraction``, while the numbers stay small), combine powers and drop
identities. Derivatives are the engine's own JVP rules run on these values,
so every derivative comes out already simplified, and identical
subexpressions are one node (hash-consing), so derivative DAGs stay linear.

The node kinds:

* ``num``   ``args = (value,)``: exact, an ``int`` or (not an integer) a ``Fraction``;
  or a ``float`` (inf/nan only). Arithmetic with inf and nan is IEEE's, as NumPy
  evaluates the same text: ``0*inf`` and ``0/0`` are nan, and a product or sum with a
  nan in it is nan; ``x^0`` and ``0^0`` are 1. A symbolic factor takes SymPy's generic
  reading (``0*x`` is 0), and an infinite coefficient is never distributed
  (``inf*(x - 1)``). Only the derivative rules' ``safe_mul`` keeps the engine's
  convention that a zero tangent times inf/nan is 0 (:func:`safe_mul`).
* ``sym``   ``args = (name,)``
* ``const`` ``args = ("pi",)`` or ``("e",)``
* ``add``   ``args = (constant, ((coef, term), ...))``: ``constant + sum(coef * term)``
* ``mul``   ``args = (coef, ((base, exponent), ...))``: ``coef * prod(base ** exponent)``
* ``func``  ``args = (name, arg, ...)``: ``sin(x)``, ``max(x, y)``, ``step(x)``, ...
"""
from __future__ import annotations

import math
import threading
import weakref
from fractions import Fraction

import numpy as np

from ..core.errors import ExpressionTooLarge
from ..core.graph import ShapedArray
from .functions import RECORDS
from .limits import tick

#: exact integers (numerators and denominators) are kept below this many bits
MAX_INT_BITS = 4096
#: the largest number of distinct nodes one formula may have
MAX_NODES = 200_000

_FLOAT64 = np.dtype(np.float64)
_SCALAR_AVAL = ShapedArray((), _FLOAT64)


class _SymbolicInterpreter:
    """Makes ``bind`` evaluate primitives on Nodes through their ``symbolic`` rules."""

    id = 0          # below every tracing Builder: a tracer wins over a node (and rejects it)
    name = "symbolic"
    active = True

    def process(self, prim, args, params):
        rule = SYMBOLIC_RULES.get(prim.name)
        if rule is None:
            raise NotImplementedError(f"primitive '{prim.name}' has no symbolic form: "
                                      "it cannot appear in a formula")
        for a in args:
            if type(a) is not Node and not isinstance(a, Cond):
                args = [a if isinstance(a, (Node, Cond)) else as_node(a) for a in args]
                break
        return rule(*args, **params)


SYMBOLIC = _SymbolicInterpreter()
#: the interning table: key -> weak reference to the one node with that key (an entry
#: goes when its node does)
_TABLE: dict = {}


def _forget(ref, table=_TABLE):
    if table.get(ref.key) is ref:
        del table[ref.key]


class Node:
    """One node of a formula DAG. Nodes are interned: equal formulas are the same object."""

    # _content: of a sum, see _content(); _unit: of a product with a coefficient, the product
    # without it (both filled in when first needed); height: 1 for a leaf, else one more than
    # the highest child; ckey: what stands for the node in its parents' skeys (see _Key)
    __slots__ = ("kind", "args", "free", "skey", "height", "ckey", "_content", "_unit", "_nonfin",
                 "__weakref__")
    shape = ()
    dtype = _FLOAT64
    ndim = 0
    _builder = SYMBOLIC

    @property
    def aval(self):
        return _SCALAR_AVAL

    def __repr__(self):
        # a structural sketch: the readable text is printing's (which builds on this module)
        return f"Node({_sketch(self, 3)})"

    def __reduce__(self):
        raise TypeError("formula nodes are not picklable")

    # A Node is a number only when it is a num; anything else has no truth value.
    def __bool__(self):
        if self.kind == "num":
            return bool(self.args[0])
        raise TypeError("the truth value of a symbolic expression is undecided; "
                        "formulas cannot contain data-dependent Python control flow")


def _sketch(n, depth):
    """``n`` in prefix form for ``repr``, ``...`` below ``depth`` levels or after four
    operands: ``add(1, 2*x, x^3)``."""
    if n.kind in ("num", "sym", "const"):
        return str(n.args[0])
    if depth <= 0:
        return "..."
    if n.kind == "add":
        first = [str(n.args[0])] if n.args[0] != 0 else []
        parts = first + [_sketch(t, depth - 1) if c == 1 else f"{c}*{_sketch(t, depth - 1)}" for c, t in n.args[1]]
    elif n.kind == "mul":
        first = [str(n.args[0])] if n.args[0] != 1 else []
        parts = first + [_sketch(b, depth - 1) if e.kind == "num" and e.args[0] == 1
                         else f"{_sketch(b, depth - 1)}^{_sketch(e, depth - 1)}" for b, e in n.args[1]]
    else:
        parts = [_sketch(a, depth - 1) for a in n.args[1:]]
    name = n.args[0] if n.kind == "func" else n.kind
    return f"{name}({', '.join(parts[:4] + ['...'] * (len(parts) > 4))})"


def _lookup(key):
    """The live node interned under ``key``, or None."""
    ref = _TABLE.get(key)
    return None if ref is None else ref()


def _intern(kind, args, free, skey, key, height=1):
    """The unique node for ``key`` (which identifies (kind, args)): equal formulas are one object."""
    ref = _TABLE.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    node = Node()
    node.kind, node.args, node.free, node.skey, node.height = kind, args, free, skey, height
    node.ckey = skey if height < _DEEP else _Key(skey)
    node._nonfin = None                 # _nonfinite's answer, filled in when first asked
    _TABLE[key] = weakref.KeyedRef(node, _forget, key)
    return node


# -- sort keys -------------------------------------------------------------------------------
# A node's ``skey`` orders it among others (terms of a sum, factors of a product, printing):
# a tuple holding its kind, name or numbers and the keys of its children. Compared as nested
# tuples, two chains n levels deep that differ at the bottom cost O(n^2) (tuple comparison
# tests equality element by element, recursively, then compares the first unequal element
# again) and recurse n levels deep in C (RecursionError beyond a few hundred). So a child at
# least ``_DEEP`` levels high appears in its parents' skeys as a ``_Key``: compared by
# identity for equality (equal keys are the same node), and in order by ``_compare``, which
# walks the keys iteratively and remembers the order of pairs of deep nodes. The order is
# exactly that of the nested tuples with every ``_Key`` replaced by its tuple.

#: nodes at least this high are compared through a _Key in their parents' skeys
_DEEP = 10
#: at most this many remembered comparisons (then the memo starts afresh)
_CMP_MEMO_SIZE = 200_000
_CMP_MEMO: dict = {}


class _Key:
    """A deep node's skey inside its parents' skeys (see above). Equality is identity."""

    __slots__ = ("t",)

    def __init__(self, t):
        self.t = t

    def __lt__(self, other):
        return _compare(self, other) < 0

    def __le__(self, other):
        return _compare(self, other) <= 0

    def __gt__(self, other):
        return _compare(self, other) > 0

    def __ge__(self, other):
        return _compare(self, other) >= 0


def _compare(a, b):
    """-1, 0 or 1: the order of two sort keys (tuples or _Keys), as nested tuples compare."""
    if a is b:
        return 0
    memo = _CMP_MEMO
    if type(a) is _Key and type(b) is _Key:
        r = memo.get((a, b))
        if r is not None:
            return r
    # frames [x, y, i, pair]: the tuples x and y, compared from index i; pair: the _Keys they
    # are the tuples of, for the memo (or None)
    stack = [_frame(a, b)]
    r = 0
    while stack:
        frame = stack[-1]
        tx, ty, i, _ = frame
        n = min(len(tx), len(ty))
        child = None
        r = 0
        while i < n:
            u = tx[i]
            v = ty[i]
            if u is v:
                i += 1
                continue
            tu = type(u)
            tv = type(v)
            if tu is _Key or tv is _Key or (tu is tuple and tv is tuple):
                if tu is _Key and tv is _Key:
                    c = memo.get((u, v))
                    if c is not None:
                        if c:
                            r = c
                            break
                        i += 1
                        continue
                child = (u, v)
                break
            if u == v:
                i += 1
                continue
            r = -1 if u < v else 1
            break
        else:
            r = (len(tx) > len(ty)) - (len(tx) < len(ty))
        if child is not None:
            frame[2] = i
            stack.append(_frame(*child))
            continue
        # this frame is decided: r; a nonzero r decides every enclosing frame too
        while True:
            pair = stack.pop()[3]
            if pair is not None:
                if len(memo) >= _CMP_MEMO_SIZE:
                    memo.clear()
                memo[pair] = r
                memo[(pair[1], pair[0])] = -r
            if not stack or not r:
                break
        if stack:
            stack[-1][2] += 1       # the child was equal: go on after it
    return r


def _frame(x, y):
    if type(x) is _Key:
        if type(y) is _Key:
            return [x.t, y.t, 0, (x, y)]
        return [x.t, y, 0, None]
    return [x, y.t if type(y) is _Key else y, 0, None]


def _num_key(v):
    """A cheap hashable standing for an exact or float number in interning keys."""
    t = type(v)
    if t is int:
        return v
    if t is Fraction:
        return (v.numerator, v.denominator)
    return "nan" if math.isnan(v) else v


_EMPTY = frozenset()


def _union(nodes):
    """The free variables of ``nodes`` together (reusing a set where one holds them all;
    else gathered in one set, in time linear in the sets)."""
    out = _EMPTY
    acc = None
    for n in nodes:
        f = n.free
        if f is out or not f:
            continue
        if acc is not None:
            acc.update(f)
        elif not out or out < f:
            out = f
        elif not f <= out:
            acc = set(out)
            acc.update(f)
    return out if acc is None else frozenset(acc)


# -- numbers ------------------------------------------------------------------------
# An exact number is an ``int`` when it is an integer and a ``Fraction`` otherwise (never
# an integral Fraction), so that the common integer arithmetic stays in C; a ``float``
# only stands for inf or nan.

def is_exact(v) -> bool:
    """Whether a number of a node is exact (an int or a Fraction), not inf/nan."""
    return type(v) is not float


def _q(v):
    """An exact number in its stored form: an integral Fraction becomes an int."""
    if type(v) is Fraction and v.denominator == 1:
        return v.numerator
    return v


def _check_bits(q):
    t = type(q)
    if t is int:
        if q.bit_length() > MAX_INT_BITS:
            raise ExpressionTooLarge(f"an exact number in this formula would exceed {MAX_INT_BITS} bits")
    elif isinstance(q, Fraction) and (q.numerator.bit_length() > MAX_INT_BITS
                                      or q.denominator.bit_length() > MAX_INT_BITS):
        raise ExpressionTooLarge(f"an exact number in this formula would exceed {MAX_INT_BITS} bits")
    return q


def to_number(v):
    """A Python/NumPy number as an exact int or Fraction where possible (shortest repr for floats)."""
    t = type(v)
    if t is int:
        return _check_bits(v)
    if isinstance(v, Fraction):
        return _q(v if t is Fraction else Fraction(v))
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return _check_bits(int(v))
    f = float(v)
    if f.is_integer() and -2**53 < f < 2**53:
        return int(f)               # what Fraction(repr(f)) gives, faster
    if not math.isfinite(f):
        return f
    q = Fraction(repr(f))
    if q.denominator > 10**6:
        # a float that is exactly the double nearest a simple fraction (1/3, 2/3, 5/7)
        # came from one, e.g. an exponent lowered to a float: take the fraction back
        r = q.limit_denominator(10**4)
        if float(r) == f:
            return _q(r)
    return _q(q)


def to_float(q) -> float:
    """The nearest float to an exact number (+-inf beyond the float range)."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def num(v) -> Node:
    if type(v) is not int:
        v = to_number(v)
    key = ("num", _num_key(v))
    ref = _TABLE.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    if type(v) is float:
        skey = (0, v if not math.isnan(v) else math.inf, repr(v))
    else:
        _check_bits(v)
        skey = (0, to_float(v), str(v))
    return _intern("num", (v,), _EMPTY, skey, key)


ZERO = num(0)
ONE = num(1)
MINUS_ONE = num(-1)
NAN = num(math.nan)


def is_num(n, value=None):
    return n.kind == "num" and (value is None or n.args[0] == value)


def numval(n):
    return n.args[0]


def sym(name: str) -> Node:
    return _intern("sym", (name,), frozenset((name,)), (1, name), ("sym", name))


def const(name: str) -> Node:
    if name not in ("pi", "e"):
        raise ValueError(f"unknown constant {name!r}")
    return _intern("const", (name,), _EMPTY, (0.5, name), ("const", name))   # pi*x, like SymPy


def as_node(x) -> Node:
    if type(x) is Node:
        return x
    if isinstance(x, np.ndarray):
        if x.shape != ():
            raise TypeError(f"formulas are scalar; got an array of shape {x.shape}")
        x = x[()]
    return num(x)


# -- sums -----------------------------------------------------------------------------

def _split_coef(n):
    """A term as (numeric coefficient, node without it)."""
    if n.kind == "mul":
        coef, factors = n.args
        if coef != 1:
            try:
                return coef, n._unit
            except AttributeError:
                n._unit = unit = _make_mul(1, factors)
                return coef, unit
    return 1, n


def _term_skey(p):
    return p[1].skey


# -- memos ---------------------------------------------------------------------------------------
# ``add``, ``mul`` and ``power`` are pure functions of their arguments, which are interned
# nodes: while a derivative is computed (see expr.py) their results are memoized, keyed by
# the argument nodes themselves, in dicts that belong to the formula being differentiated.

class _MemoState(threading.local):
    memo = None     # (add memo, mul memo, power memo), or None: no memo


_STATE = _MemoState()


def set_memo(memo):
    """Make ``memo`` (three dicts, or None) the active memo of this thread; return the
    previous one."""
    prev = _STATE.memo
    _STATE.memo = memo
    return prev


def _memo_args(xs):
    for x in xs:
        if type(x) is not Node:
            return tuple([x if type(x) is Node else as_node(x) for x in xs])
    return xs


def add(*xs) -> Node:
    """Canonical sum: flattened, like terms collected, constants folded, zeros dropped,
    ``c*sin(u)^2 + c*cos(u)^2 -> c`` (:func:`_pythagoras`); ``t - t`` is nan where ``t``
    may be inf/nan (``(x + inf)^2``)."""
    m = _STATE.memo
    if m is None:
        return _add(xs)
    xs = _memo_args(xs)
    d = m[0]
    out = d.get(xs)
    if out is None:
        out = d[xs] = _add(xs)
    return out


def mul(*xs) -> Node:
    """Canonical product: flattened, coefficients folded and written first, equal bases
    combined into powers (``x*x -> x^2``), ``*1`` and ``^0`` dropped. A number times a sum
    stays a product here, so it can still combine with powers of the same sum
    (``2*(u + 1) * (u + 1)^-3``); :func:`normalize` distributes what remains.
    Exponentials merge where that is not larger (``exp(x)*exp(-x) -> 1``,
    ``exp(a)*exp(b) -> exp(a + b)``) and so do powers of positive numbers with one
    exponent (``2^x*4^x -> 8^x``); a factor that may be inf/nan (``x + inf``) never
    cancels: ``(x + inf)/(x + inf)`` is nan (:func:`_nonfinite`)."""
    m = _STATE.memo
    if m is None:
        return _mul(xs)
    xs = _memo_args(xs)
    d = m[1]
    out = d.get(xs)
    if out is None:
        out = d[xs] = _mul(xs)
    return out


def power(base, exponent) -> Node:
    """Canonical ``base ** exponent``."""
    m = _STATE.memo
    if m is None:
        return _power(base, exponent)
    if type(base) is not Node:
        base = as_node(base)
    if type(exponent) is not Node:
        exponent = as_node(exponent)
    d = m[2]
    key = (base, exponent)
    out = d.get(key)
    if out is None:
        out = d[key] = _power(base, exponent)
    return out


def _add(xs):
    constant = 0
    terms: dict = {}
    for x in xs:
        if type(x) is not Node:
            x = as_node(x)
        kind = x.kind
        if kind == "num":
            constant = _num_add(constant, x.args[0])
            continue
        if kind == "add":
            constant = _num_add(constant, x.args[0])
            pairs = x.args[1]
        else:
            pairs = (_split_coef(x),)
        for c, t in pairs:
            if t.kind == "add" and type(c) is not float:
                # c * (a + b) inside a sum: distribute, so like terms meet (not c = inf:
                # inf*(x - 1) is -inf at x = 1/2, and inf*x - inf is nan)
                constant = _num_add(constant, _num_mul(c, t.args[0]))
                for c2, t2 in t.args[1]:
                    cc = _num_mul(c, c2)
                    old = terms.get(t2)
                    terms[t2] = cc if old is None else _num_add(old, cc)
                continue
            old = terms.get(t)
            terms[t] = c if old is None else _num_add(old, c)
    return _add_finish(constant, terms)


def _add_finish(constant, terms):
    """The sum node ``constant + sum(c * t for t, c in terms.items())`` (zero coefficients
    dropped): the last step of ``_add``, and of :class:`SumBuilder`."""
    if type(constant) is float and math.isnan(constant):
        return NAN
    if len(terms) > 1:
        constant = _pythagoras(constant, terms)
    pairs = tuple(sorted([(c, t) for t, c in terms.items() if c != 0], key=_term_skey))
    if len(pairs) < len(terms):
        for t, c in terms.items():
            if c == 0 and _nonfinite(t):
                return NAN      # (x + inf)^2 - (x + inf)^2 is inf - inf
    for c, _ in pairs:
        if _is_nan(c):
            return NAN      # inf*x - inf*x: a nan term makes the sum nan
    if not pairs:
        return num(constant)
    if constant == 0 and len(pairs) == 1:
        c, t = pairs[0]
        return t if c == 1 else mul(num(c), t)
    # nodes compare by identity, so the pairs themselves key the sum when the coefficients
    # are ints (the common case); other numbers go through _num_key (NaN, slow Fraction hash)
    for c, _ in pairs:
        if type(c) is not int:
            key = ("add", _num_key(constant), tuple([(_num_key(c), id(t)) for c, t in pairs]))
            break
    else:
        key = ("add", _num_key(constant), pairs)
    ref = _TABLE.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    free = _union([t for _, t in pairs])
    skey = (5, tuple([t.ckey for _, t in pairs]), tuple([str(c) for c, _ in pairs]), str(constant))
    return _intern("add", (constant, pairs), free, skey, key, 1 + max([t.height for _, t in pairs]))


def _num_add(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        r = a + b
        if r.bit_length() > MAX_INT_BITS:
            _check_bits(r)
        return r
    if ta is float or tb is float:
        # inf or nan plus an exact number: the exact one changes nothing (and may be too
        # large for a float: -inf + 2^2000 is -inf, not nan)
        return (a if ta is float else 0.0) + (b if tb is float else 0.0)
    return _check_bits(_q(a + b))


def _num_mul(a, b):
    """``a * b`` for the numbers of nodes: exact, or IEEE where one is inf/nan
    (``0 * inf`` is nan, as NumPy and SymPy have it; the derivative rules' convention
    that a zero tangent times inf/nan is 0 is :func:`safe_mul`'s, not this one's)."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        r = a * b
        if r.bit_length() > MAX_INT_BITS:
            _check_bits(r)
        return r
    if ta is float or tb is float:
        # an exact factor only matters by its sign (and may be too large for a float)
        return (a if ta is float else float((a > 0) - (a < 0))) * \
            (b if tb is float else float((b > 0) - (b < 0)))
    return _check_bits(_q(a * b))


def _is_nan(v) -> bool:
    return type(v) is float and v != v


def neg(x) -> Node:
    return mul(MINUS_ONE, x)


def sub(x, y) -> Node:
    return add(x, neg(y))


# -- products and powers ---------------------------------------------------------------------

def _make_mul(coef, factors):
    if not factors:
        return num(coef)
    if len(factors) == 1 and coef == 1 and factors[0][1] is ONE:
        return factors[0][0]
    key = ("mul", coef if type(coef) is int else _num_key(coef), factors)
    ref = _TABLE.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    nodes = []
    for b, e in factors:
        nodes.append(b)
        nodes.append(e)
    skey = (4, tuple([(b.ckey, e.ckey) for b, e in factors]), str(coef))
    return _intern("mul", (coef, tuple(factors)), _union(nodes), skey, key, 1 + max([n.height for n in nodes]))


def _base_skey(f):
    return f[0].skey


def _mul(xs):
    if len(xs) == 2:
        a, m = xs
        if type(a) is Node and type(m) is Node and a.kind == "num" and m.kind == "mul":
            # a number times a product whose bases need no folding (the general path below
            # would only multiply the coefficients)
            c = a.args[0]
            if type(c) is int and c != 0:
                coef, factors = m.args
                for b, e in factors:
                    bk = b.kind
                    if bk == "add" or bk == "num" or bk == "mul" or e is ZERO:
                        break
                else:
                    coef = _num_mul(c, coef)
                    if coef != 0:
                        return _make_mul(coef, factors)
    coef = 1
    exps: dict = {}
    order = []
    for x in xs:
        if type(x) is not Node:
            x = as_node(x)
        kind = x.kind
        if kind == "num":
            coef = _num_mul(coef, x.args[0])
            continue
        if kind == "mul":
            coef = _num_mul(coef, x.args[0])
            pairs = x.args[1]
        else:
            pairs = ((x, ONE),)
        for b, e in pairs:
            old = exps.get(b)
            if old is None:
                exps[b] = e
                order.append(b)
            elif old.kind == "num" and e.kind == "num":
                ov, ev = old.args[0], e.args[0]
                if ((ov > 0 and ev < 0) or (ov < 0 and ev > 0)) and _nonfinite(b):
                    return NAN      # (x + inf)/(x + inf) is inf * 0
                exps[b] = num(_num_add(ov, ev))
            else:
                merged = exps[b] = add(old, e)
                if merged is ZERO and _nonfinite(b):
                    return NAN      # (x + inf)^y / (x + inf)^y is inf * 0 (or 0 * inf)
    if len(order) > 1:
        f = _merge_powers(exps, order)
        if f != 1:
            coef = _num_mul(coef, f)
    if coef == 0:
        for b in order:
            e = exps[b]
            if e.kind == "num" and e.args[0] > 0 and _nonfinite(b):
                return NAN  # 0 * (x + inf) is nan: x + inf is infinite wherever x is finite
        return ZERO         # 0 * x is 0 for every other x (SymPy's reading of a formula)
    if _is_nan(coef):
        return NAN          # nan * x is nan (and so is 0 * inf * x)
    factors = []
    for i, b in enumerate(order):
        if b is None:
            continue
        e = exps[b]
        bkind = b.kind
        if e.kind == "num":
            ev = e.args[0]
            if bkind == "add" and type(ev) is not float and type(coef) is not float:
                # a sum inside a product keeps no common integer factor: (2a + 2b)/2 -> a + b
                g = _content(b)
                ge = _fold_num_power(g, ev) if g is not None and g > 1 else None
                if ge is not None:
                    reduced = _divide_content(b, g)
                    coef = _num_mul(coef, _check_bits(ge))
                    if reduced in exps:
                        # b^e -> g^e * reduced^e: its power joins reduced's (and b is gone)
                        merged = exps[reduced] = add(exps[reduced], e)
                        order[i] = None
                        if order.index(reduced) < i:
                            # reduced's factor is made already: it takes the new exponent
                            factors = [f for f in factors if f[0] is not reduced]
                            if merged.kind != "num" or merged.args[0] != 0:
                                factors.append((reduced, merged))
                        continue
                    exps[reduced] = e
                    order[i] = b = reduced
                    bkind = b.kind
            if ev == 0:
                continue
            if _is_nan(ev):
                return NAN      # x^inf / x^inf = x^nan is nan
        if bkind == "num" or bkind == "mul":
            p = power(b, e)
            if p.kind != "mul" or p.args[1] != ((b, e),):
                # folding changed the power (e.g. 2^2 -> 4): multiply it in again
                return mul(num(coef), p, *[power(bb, exps[bb]) for bb in order if bb is not b and bb is not None])
        factors.append((b, e))
    if len(factors) > 1:
        factors.sort(key=_base_skey)
    return _make_mul(coef, tuple(factors))


def _divide_content(b, g):
    """The sum ``b`` divided by ``g``, a common integer factor of its coefficients."""
    return add(num(b.args[0] // g), *[mul(num(c // g), t) for c, t in b.args[1]])


def _content(a):
    """The largest integer dividing every coefficient of the sum ``a`` (when all are
    integers), or None (a float or a fraction among them). Kept on the node."""
    try:
        return a._content
    except AttributeError:
        pass
    constant, pairs = a.args
    g = 0
    for c, _ in pairs:
        if type(c) is not int:
            g = None
            break
        g = math.gcd(g, c)
    if g is not None and constant != 0:
        g = math.gcd(g, constant) if type(constant) is int else None
    a._content = out = g if g else None
    return out


def _int_root(n: int, k: int):
    """The exact k-th root of a non-negative int, or None."""
    if n < 0:
        return None
    r = round(n ** (1.0 / k)) if n < 2**1000 else None
    if r is None:
        return None
    for cand in (r - 1, r, r + 1):
        if cand >= 0 and cand**k == n:
            return cand
    return None


def _fold_num_power(b, e):
    """Exact b**e for exact numbers, when the result stays small; None otherwise."""
    if type(e) is int:
        k = e
        if b == 0 and k < 0:
            return float("inf")
        bits = max(b.numerator.bit_length(), b.denominator.bit_length())
        if bits * abs(k) > MAX_INT_BITS:
            return None
        if k >= 0 or type(b) is not int:
            return _q(b**k)
        return _q(Fraction(b)**k)
    if b < 0 or e.denominator > 64:
        return None
    p = _int_root(b.numerator, e.denominator)
    q = _int_root(b.denominator, e.denominator)
    if p is None or q is None:
        return None
    return _fold_num_power(_q(Fraction(p, q)), e.numerator)


def _power(base, exponent):
    if type(base) is not Node:
        base = as_node(base)
    if type(exponent) is not Node:
        exponent = as_node(exponent)
    ekind = exponent.kind
    if ekind == "num":
        e = exponent.args[0]
        if e == 0:
            return ONE
        if e == 1:
            return base
        if base.kind == "num":
            b = base.args[0]
            if type(b) is not float and type(e) is not float:
                r = _fold_num_power(b, e)
                if r is not None:
                    return num(r)
            else:
                with np.errstate(all="ignore"):
                    return num(float(np.power(float(b), float(e))))
        elif _is_nan(e):
            return NAN      # x^nan is nan (SymPy; NumPy too, but at x = 1)
    if base.kind == "num" and _is_nan(base.args[0]):
        return NAN          # nan^x is nan (SymPy; NumPy too, but at x = 0)
    if base is ONE:
        return ONE
    if base.kind == "const" and base.args[0] == "e":
        return func("exp", exponent)
    if base.kind == "mul" and ekind == "num" and type(exponent.args[0]) is int:
        # (c * x^a * y^b)^n = c^n * x^(a n) * y^(b n) for an integer n
        coef, factors = base.args
        parts = [power(num(coef), exponent)] + [power(b, mul(e, exponent)) for b, e in factors]
        return mul(*parts)
    if base.kind == "mul" and ekind == "num" and type(exponent.args[0]) is Fraction:
        # (c * x^2 * y^4)^r = c^r * |x|^(2 r) * |y|^(4 r) for real x, y and c > 0
        coef, factors = base.args
        r = exponent.args[0]
        if type(coef) is not float and coef > 0 and all(
                e.kind == "num" and type(e.args[0]) is int and e.args[0] % 2 == 0 for _, e in factors):
            parts = [power(num(coef), exponent)]
            for b, e in factors:
                k = _q(e.args[0] * r)
                parts.append(power(b if type(k) is int and k % 2 == 0 else func("abs", b), num(k)))
            return mul(*parts)
    if base.kind == "func" and base.args[0] == "abs" and ekind == "num" \
            and type(exponent.args[0]) is int and exponent.args[0] % 2 == 0:
        return power(base.args[1], exponent)       # abs(x)^2 = x^2
    return _make_mul(1, ((base, exponent),))


def div(x, y) -> Node:
    return mul(x, power(y, MINUS_ONE))


# -- builders: long chains of sums and products -------------------------------------------------
# ``s = s + term`` run n times makes n sums, each a copy of the one before with a term more:
# O(n^2) work for a formula of n terms. A builder keeps the state that ``_add`` (``_mul``)
# collects -- the constant (coefficient) and a dict of terms (bases) -- across the steps,
# and makes the node once, at the end. The node is exactly the one the chain of ``add``
# (``mul``) calls gives: a step merges one operand into the state as ``_add`` would merge it
# into the state it rebuilds from the previous sum, and where that previous result is not
# simply that state (a sum that collapsed to one term or a number; a product whose last
# pass would change a factor) the step is the plain ``add``/``mul`` call on the nodes.

def _put_term(terms, t, c):
    """``terms[t] += c`` as ``_add`` does it; the change in the number of nonzero terms."""
    old = terms.get(t)
    if old is None:
        terms[t] = c
        return 1 if c != 0 else 0
    new = terms[t] = _num_add(old, c)
    return (new != 0) - (old != 0)


class SumBuilder:
    """A sum grown one operand at a time: ``b.add(x)`` is ``s = add(s, x)`` (``first=False``:
    ``s = add(x, s)``) in time of the order of ``x``'s terms; ``b.node()`` is ``s``."""

    __slots__ = ("_node", "_constant", "_terms", "_nonzero")

    def __init__(self, node):
        self._set(node)

    def _set(self, node):
        self._node = node
        if node.kind == "add":
            self._constant, pairs = node.args
            self._terms = {t: c for c, t in pairs}
            self._nonzero = len(pairs)
        else:
            self._terms = None      # not a sum: the next step is a plain add()

    def add(self, x, first=True):
        terms = self._terms
        if terms is None:
            n = self._node
            self._set(add(n, x) if first else add(x, n))
            return
        if type(x) is not Node:
            x = as_node(x)
        constant = self._constant
        nonzero = self._nonzero
        kind = x.kind
        # the loop body of _add, for one operand
        if kind == "num":
            constant = _num_add(constant, x.args[0])
            pairs = ()
        elif kind == "add":
            constant = _num_add(constant, x.args[0])
            pairs = x.args[1]
        else:
            pairs = (_split_coef(x),)
        for c, t in pairs:
            if _has_trig_square(t) or (t.kind == "add" and any(_has_trig_square(t2) for _, t2 in t.args[1])):
                # sin(u)^2 + cos(u)^2 collapses in add(): take that step as add() does
                n = self.node()
                self._set(add(n, x) if first else add(x, n))
                return
        for c, t in pairs:
            if t.kind == "add" and type(c) is not float:
                constant = _num_add(constant, _num_mul(c, t.args[0]))
                for c2, t2 in t.args[1]:
                    nonzero += _put_term(terms, t2, _num_mul(c, c2))
                    if terms[t2] == 0 and _nonfinite(t2):
                        self._set(NAN)
                        return
                continue
            nonzero += _put_term(terms, t, c)
            if terms[t] == 0 and _nonfinite(t):
                self._set(NAN)      # add() makes the sum nan: inf - inf
                return
        self._constant = constant
        self._nonzero = nonzero
        if nonzero > 1 or (nonzero == 1 and constant != 0):
            if type(constant) is not float or not math.isnan(constant):
                self._node = None       # still a sum: made when asked for
                return
        self._set(_add_finish(constant, terms))     # a number or one term

    def node(self) -> Node:
        n = self._node
        if n is None:
            n = self._node = _add_finish(self._constant, self._terms)
        return n


def _factor_kept(b, e, coef):
    """Whether the last pass of ``_mul`` keeps the factor ``b^e`` as it is (or drops it,
    ``e = 0``) in a product with coefficient ``coef``."""
    bkind = b.kind
    if e.kind == "num":
        ev = e.args[0]
        if bkind == "add" and type(ev) is not float and type(coef) is not float:
            g = _content(b)
            if g is not None and g > 1 and _fold_num_power(g, ev) is not None:
                return False
        if ev == 0:
            return True
        if _is_nan(ev):
            return False        # _mul makes the product nan
    if bkind == "num" or bkind == "mul":
        p = power(b, e)
        return p.kind == "mul" and p.args[1] == ((b, e),)
    return True


class ProductBuilder:
    """A product grown one operand at a time: ``b.mul(x)`` is ``p = mul(p, x)``
    (``first=False``: ``p = mul(x, p)``) in time of the order of ``x``'s factors;
    ``b.node()`` is ``p``."""

    __slots__ = ("_node", "_coef", "_exps")

    def __init__(self, node):
        self._set(node)

    def _set(self, node):
        self._node = node
        self._exps = None           # unless node is a product mul() would leave as it is
        kind = node.kind
        if kind == "mul":
            coef, factors = node.args
            for b, e in factors:
                if not _factor_kept(b, e, coef):
                    return
            self._coef, self._exps = coef, dict(factors)
        elif kind == "num":
            if node.args[0] != 0 and not _is_nan(node.args[0]):
                self._coef, self._exps = node.args[0], {}
        elif _factor_kept(node, ONE, 1):
            self._coef, self._exps = 1, {node: ONE}

    def mul(self, x, first=True):
        exps = self._exps
        if type(x) is not Node:
            x = as_node(x)
        if exps is not None:
            kind = x.kind
            coef = self._coef
            if kind == "num":
                coef = _num_mul(coef, x.args[0])
                pairs = ()
            elif kind == "mul":
                coef = _num_mul(coef, x.args[0])
                pairs = x.args[1]
            else:
                pairs = ((x, ONE),)
            updates = []
            if coef != 0 and not _is_nan(coef):
                reduced = False
                for b, e in pairs:
                    old = exps.get(b)
                    if (old is not None and _nonfinite(b)) or _merges(b, exps):
                        break       # mul() may make it nan, or merge exp() or number bases
                    if old is not None:
                        if old.kind == "num" and e.kind == "num":
                            e = num(_num_add(old.args[0], e.args[0]))
                        else:
                            e = add(old, e) if first else add(e, old)
                    if _factor_kept(b, e, coef):
                        updates.append((b, e))
                        continue
                    # _mul takes a common integer factor out of a sum, (2x + 2)^e -> 2^e (x + 1)^e,
                    # and the power joins that of x + 1; done here once a step, and only where
                    # the exponents are numbers
                    if reduced or b.kind != "add" or e.kind != "num":
                        break
                    g = _content(b)
                    r = _divide_content(b, g)
                    er = exps.get(r)
                    if (er is not None and er.kind != "num") or any(bb is r for bb, _ in pairs):
                        break
                    coef = _num_mul(coef, _check_bits(_fold_num_power(g, e.args[0])))
                    er = e if er is None else add(er, e)
                    if not _factor_kept(r, er, coef):
                        break
                    updates.append((b, ZERO))       # b is gone
                    updates.append((r, er))
                    reduced = True
                else:
                    for b, e in updates:
                        if e.kind == "num" and e.args[0] == 0:
                            exps.pop(b, None)
                        else:
                            exps[b] = e
                    self._coef = coef
                    self._node = None       # made when asked for
                    return
        # the product before this step is not simply the state, or mul() would change it
        n = self.node()
        self._set(mul(n, x) if first else mul(x, n))

    def node(self) -> Node:
        n = self._node
        if n is None:
            factors = sorted(self._exps.items(), key=_base_skey)
            n = self._node = _make_mul(self._coef, tuple(factors))
        return n


# -- functions --------------------------------------------------------------------------------

#: functions whose value at an exact argument folds exactly
_EXACT = {
    ("sin", 0): 0, ("cos", 0): 1, ("tan", 0): 0, ("tanh", 0): 0, ("sinh", 0): 0, ("cosh", 0): 1,
    ("exp", 0): 1, ("log", 1): 0, ("asin", 0): 0, ("atan", 0): 0, ("sigmoid", 0): Fraction(1, 2),
    ("relu", 0): 0, ("step", 0): 0, ("sign", 0): 0, ("abs", 0): 0, ("acos", 1): 0,
    ("log", 0): -math.inf,      # NumPy's log(0), so that 0*log(0) is nan and x*log(0) is -inf*x
}
#: NumPy evaluation of each function, used to fold float arguments: a record's own
#: ``impl`` (symbolic/functions.py), and the rewritten names
NUMPY_FUNCS = {name: record.impl for name, record in RECORDS.items()}
NUMPY_FUNCS.update({
    "relu": lambda x: np.maximum(x, 0.0),
    "step": lambda x: np.where(np.asarray(x) > 0, 1.0, 0.0),
    "softplus": lambda x: np.logaddexp(x, 0.0),
})


def func(name, *args) -> Node:
    args = tuple([a if type(a) is Node else as_node(a) for a in args])
    if len(args) == 1:
        a = args[0]
        akind = a.kind
        if akind == "num":
            v = a.args[0]
            if type(v) is not float:
                hit = _EXACT.get((name, v))
                if hit is not None:
                    return num(hit)
                if name in ("abs", "sign", "relu", "step"):
                    return num({"abs": abs(v), "sign": (v > 0) - (v < 0), "relu": max(v, 0),
                                "step": int(v > 0)}[name])
            else:
                with np.errstate(all="ignore"):
                    return num(float(NUMPY_FUNCS[name](v)))
        elif akind == "add" and type(a.args[0]) is float:
            v = _inf_constant(a)
            if v is not None:
                # exp(x + inf) is inf, sin(x + inf) nan, tanh(x + inf) 1 (other values stay)
                with np.errstate(all="ignore"):
                    r = float(NUMPY_FUNCS[name](v))
                if not math.isfinite(r) or r.is_integer():
                    return num(r)
        elif akind == "func":
            inner = a.args[0]
            if name == "log" and inner == "exp":
                return a.args[1]                       # log(exp(u)) = u for real u
            if name == "exp" and inner == "log":
                return a.args[1]                       # exp(log(u)) = u where defined
            if name == "abs" and inner in ("abs", "exp", "sigmoid", "relu", "softplus"):
                return a
        key = ("func", name, a)
    else:
        key = ("func", name) + args
    node = _lookup(key)
    if node is not None:
        return node
    # factor order: exp(...) before other functions, as SymPy prints exp(x)*cos(x)
    skey = (3, 0 if name == "exp" else 1, name, tuple([a.ckey for a in args]))
    return _intern("func", (name,) + args, _union(args), skey, key, 1 + max([a.height for a in args]))


# -- piecewise: comparisons and select ------------------------------------------------------------

class Cond:
    """An undecided comparison ``lhs op rhs`` produced by a derivative rule."""

    __slots__ = ("op", "lhs", "rhs")
    shape = ()
    dtype = np.dtype(bool)
    _builder = SYMBOLIC

    def __init__(self, op, lhs, rhs):
        self.op, self.lhs, self.rhs = op, lhs, rhs


_CMP = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def compare(x, y, op):
    x, y = as_node(x), as_node(y)
    if x.kind == "num" and y.kind == "num":
        return num(int(_CMP[op](x.args[0], y.args[0])))
    if x is y:
        return num(int(op in ("le", "ge", "eq")))
    return Cond(op, x, y)


def select(c, a, b):
    """``where(c, a, b)`` for formulas.

    Exact (in)equality tests in derivative rules guard special points
    (``x**y`` at ``y == 0``): a formula is read for generic values, so
    ``==`` is false and ``!=`` true. Order comparisons become a step
    function, ``step(u) = 1 if u > 0 else 0``, which keeps the engine's
    convention at ties (``relu'(0) = 0``).
    """
    a, b = as_node(a), as_node(b)
    if isinstance(c, Node):
        if c.kind != "num":
            raise NotImplementedError("a symbolic select condition must be a comparison")
        return a if c.args[0] else b
    if a is b:
        return a
    op = c.op
    if op in ("eq", "ne"):
        return b if op == "eq" else a
    if op in ("gt", "ge"):
        s = func("step", sub(c.lhs, c.rhs))
    else:
        s = func("step", sub(c.rhs, c.lhs))
    pa, pb = _where_parts(a), _where_parts(b)
    if pa is not None and pb is not None and (pa[0] is not None or pb[0] is not None):
        # an inf/nan branch: (a - b)*step would be inf*0 = nan where b is chosen
        out = add(pb[1], mul(sub(pa[1], pb[1]), s))
        if pa[0] is not None:
            out = add(out, _pick(pa[0], s))
        if pb[0] is not None:
            out = add(out, _pick(pb[0], sub(ONE, s)))
        return out
    # where(c, a, b) = b + (a - b) * step  (ge/le differ from gt/lt only at the tie itself)
    return add(b, mul(sub(a, b), s))


# -- the symbolic rule of each primitive -------------------------------------------------------------

def _identity(x, **_):
    return x


def _maximum(x, y):
    # max(x, y) = y + relu(x - y): at a tie the derivative goes to y, the engine's convention
    return add(y, func("relu", sub(x, y)))


def _minimum(x, y):
    # min(x, y) = y - relu(y - x): where(x < y, x, y), ties to y
    return sub(y, func("relu", sub(y, x)))


def _logaddexp(x, y):
    if is_num(y, 0):
        return func("softplus", x)
    if is_num(x, 0):
        return func("softplus", y)
    # log(e^x + e^y) = x + softplus(y - x)
    return add(x, func("softplus", sub(y, x)))


def _reduce(x, axes=(), **_):
    return x


def safe_mul(x, y) -> Node:
    """The engine's ``safe_mul`` (derivative rules: a tangent times a local derivative):
    ``x * y``, but 0 when either is 0, even times inf or nan. Plain :func:`mul` is IEEE's
    ``0 * inf = nan``; this keeps ``d/dx sqrt(x - x) = 0 * inf`` at 0, as ``pdx.grad`` has it."""
    if type(x) is not Node:
        x = as_node(x)
    if type(y) is not Node:
        y = as_node(y)
    if x is ZERO or y is ZERO:
        return ZERO
    return mul(x, y)


#: primitive name -> the Node it builds from Node arguments: a record with a formula name
#: is that function; the others (and sqrt, a power) are written out
SYMBOLIC_RULES = {record.name: (lambda x, _name=name: func(_name, x)) for name, record in RECORDS.items()}
SYMBOLIC_RULES.update({
    "add": add, "sub": sub, "neg": neg, "mul": mul, "safe_mul": safe_mul, "div": div,
    "integer_pow": lambda x, n: power(x, num(n)), "pow": power,
    "log1p": lambda x: func("log", add(ONE, x)), "expm1": lambda x: sub(func("exp", x), ONE),
    "sqrt": lambda x: power(x, num(Fraction(1, 2))),
    "maximum": _maximum, "minimum": _minimum,
    "logaddexp": _logaddexp, "select": select, "compare": compare,
    "broadcast_to": _identity, "reshape": _identity, "convert": _identity, "stop_gradient": _identity,
    "reduce_sum": _reduce, "reduce_max": _reduce, "reduce_prod": _reduce,
})


def normalize(root: Node, memo=None) -> Node:
    """The final canonical form: a number times a sum is distributed
    (``2*(x + y) -> 2*x + 2*y``), as SymPy does. Applied to every formula and
    derivative users see, so equal formulas are the same node.

    ``memo`` (node -> normalized node) may be shared between calls: the result for
    a node depends on the node alone, so a formula and its derivatives share it."""
    if memo is None:
        memo = {}
    elif root in memo:
        return memo[root]
    for n in topo_order(root, memo):
        tick()
        k = n.kind
        if k in ("num", "sym", "const"):
            memo[n] = n
        elif k == "add":
            constant, pairs = n.args
            for _, t in pairs:
                if memo[t] is not t:
                    memo[n] = add(num(constant), *[mul(num(c), memo[t]) for c, t in pairs])
                    break
            else:
                memo[n] = n     # a sum of normal terms is normal (add() of its own terms gives it back)
        elif k == "mul":
            coef, factors = n.args
            if coef != 1 and type(coef) is not float and len(factors) == 1 and is_num(factors[0][1], 1) \
                    and memo[factors[0][0]].kind == "add":
                # a number times a sum: distributed (add() spreads the coefficient over the terms;
                # not inf: inf*(x - 1) is not inf*x - inf)
                memo[n] = add(ZERO, mul(num(coef), memo[factors[0][0]]))
            else:
                memo[n] = mul(num(coef), *[power(memo[b], memo[e]) for b, e in factors])
        else:
            memo[n] = func(n.args[0], *[memo[a] for a in n.args[1:]])
    return memo[root]


# -- traversal helpers -------------------------------------------------------------------------------

def children(n: Node):
    k = n.kind
    if k == "add":
        return [t for _, t in n.args[1]]
    if k == "mul":
        out = []
        for b, e in n.args[1]:
            out.append(b)
            out.append(e)
        return out
    if k == "func":
        return list(n.args[1:])
    return []


def topo_order(root: Node, known=()):
    """Nodes reachable from ``root``, children before parents (iterative). Nodes in
    ``known`` (a set or dict) are left out, and so is what is reachable only through them."""
    seen = set()
    order = []
    stack = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if n in seen or n in known:
            continue
        seen.add(n)
        stack.append((n, True))
        for c in children(n):
            if c not in seen:
                stack.append((c, False))
    return order


def count_nodes(root: Node) -> int:
    return len(topo_order(root))


def check_size(root: Node) -> Node:
    if len(_TABLE) <= MAX_NODES:
        return root             # every live node is interned: the formula cannot have more
    n = count_nodes(root)
    if n > MAX_NODES:
        raise ExpressionTooLarge(f"the formula has {n} distinct subexpressions, over the limit of {MAX_NODES}")
    return root


# -- simplifications the constructors apply (exact where the formula is defined) ---------------

TWO = num(2)
#: node -> whether it may be inf/nan at finite values of its symbols (see _nonfinite)


def _nonfinite(n) -> bool:
    """Whether ``n`` may be inf or nan where its symbols are finite reals, through an
    inf/nan number in it (``x + inf``, ``inf*x``, ``(x + inf)^2``), not counting the
    singular points that formulas read generically (``1/x`` at 0). Such a factor or term
    is never cancelled: ``(x + inf)/(x + inf)`` is nan, not 1."""
    k = n.kind
    if k == "num":
        return type(n.args[0]) is float
    if k == "sym" or k == "const":
        return False
    r = n._nonfin
    if r is not None:
        return r
    stack = [n]
    while stack:
        m = stack[-1]
        if m._nonfin is not None:
            stack.pop()
            continue
        pending = [c for c in children(m) if c.kind not in ("num", "sym", "const") and c._nonfin is None]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        m._nonfin = _nonfinite_here(m)
    return n._nonfin


def _nonfinite_here(m) -> bool:
    """:func:`_nonfinite` of ``m`` from its children's (known already)."""
    k = m.kind
    if k == "add":
        constant, pairs = m.args
        return type(constant) is float or any(type(c) is float or _nonfinite(t) for c, t in pairs)
    if k == "mul":
        coef, factors = m.args
        if type(coef) is float:
            return True
        for b, e in factors:
            if _nonfinite(e):
                return True
            if _nonfinite(b) and not (e.kind == "num" and type(e.args[0]) is int and e.args[0] < 0):
                return True     # (x + inf)^-1 is 0, (x + inf)^2 is inf
        return False
    args = m.args[1:]
    if m.args[0] in _BOUNDED:
        return False            # tanh(inf*x) is 1 for x > 0: finite
    if len(args) == 1:
        v = _inf_constant(args[0])
        if v is not None:
            with np.errstate(all="ignore"):
                return not math.isfinite(float(NUMPY_FUNCS[m.args[0]](v)))
    return any(_nonfinite(a) for a in args)


#: functions finite at every argument, inf and -inf too (sin(inf) is nan)
_BOUNDED = frozenset(("atan", "tanh", "sigmoid", "erf", "erfc", "step", "sign"))


def _inf_constant(a):
    """The value (inf or -inf) of a sum ``a = x + inf`` whose terms are finite, else None."""
    if a.kind != "add" or type(a.args[0]) is not float:
        return None
    for c, t in a.args[1]:
        if type(c) is float or _nonfinite(t):
            return None
    return a.args[0]


#: tree nodes _ops walks before it gives up
_OPS_BUDGET = 400


def _ops(n):
    """SymPy's ``count_ops`` of ``n`` read as a tree (roughly: one per +, *, ^, /, function
    and rational number), or None beyond ``_OPS_BUDGET`` nodes."""
    total = 0
    seen = 0
    stack = [n]
    while stack:
        m = stack.pop()
        seen += 1
        if seen > _OPS_BUDGET:
            return None
        k = m.kind
        if k == "num":
            total += type(m.args[0]) is Fraction
        elif k == "add":
            constant, pairs = m.args
            total += len(pairs) - (constant == 0)
            for c, t in pairs:
                total += c != 1 and c != -1
                stack.append(t)
        elif k == "mul":
            coef, factors = m.args
            total += len(factors) - 1 + (coef != 1)
            for b, e in factors:
                if e is not ONE:
                    total += 1
                    stack.append(e)
                stack.append(b)
        elif k == "func":
            total += 1
            stack.extend(m.args[1:])
    return total


def _merge_powers(exps, order):
    """In ``_mul``'s factors (``exps``: base -> exponent, ``order``: the bases; both changed
    in place): ``exp(a)^j * exp(b)^k -> exp(j a + k b)`` where that is not larger by
    :func:`_ops` (always where the exponents fold to a number: ``exp(x)*exp(-x) -> 1``), and
    ``2^x * 4^x -> 8^x`` (positive exact bases, the same exponent). Returns a number the
    coefficient takes (``exp(0)`` is 1), or 1."""
    factor = 1
    exps_found = []
    nums = None
    for b in order:
        k = b.kind
        if k == "func":
            if b.args[0] == "exp":
                e = exps[b]
                if e.kind == "num" and type(e.args[0]) is not float:
                    exps_found.append(b)
        elif k == "num":
            e = exps[b]
            v = b.args[0]
            if e.kind != "num" and type(v) is not float and v > 0 and not _nonfinite(e):
                # (not 2^(inf*x) * (1/2)^(inf*x): inf * 0 where x > 0)
                if nums is None:
                    nums = {}
                nums.setdefault(e, []).append(b)
    changed = False
    if len(exps_found) > 1:
        arg = add(*[mul(exps[b], b.args[1]) for b in exps_found])
        new = func("exp", arg)
        merge = arg.kind == "num"
        if not merge:
            after = _ops(new)
            if after is not None:
                before = len(exps_found) - 1
                for b in exps_found:
                    o = _ops(b)
                    if o is None:
                        before = None
                        break
                    before += o + (exps[b] is not ONE)
                merge = before is not None and after <= before
        if merge:
            changed = True
            for b in exps_found:
                del exps[b]
            if new.kind == "num":
                factor = new.args[0]
            else:
                exps[new] = ONE
                order.append(new)
    if nums:
        for e, bs in nums.items():
            if len(bs) < 2:
                continue
            changed = True
            p = 1
            for b in bs:
                p = _num_mul(p, b.args[0])
                del exps[b]
            if p != 1:
                nb = num(p)
                old = exps.get(nb)
                if old is None:
                    exps[nb] = e
                    order.append(nb)
                else:
                    exps[nb] = add(old, e)
    if changed:
        order[:] = [b for b in order if b in exps]
    return factor


def _pythagoras(constant, terms):
    """``c*r*sin(u)^2 + c*r*cos(u)^2 -> c*r`` in a sum's terms (``terms``: term -> coefficient,
    changed in place; of unequal coefficients of one sign the smaller goes:
    ``3*sin(u)^2 + 2*cos(u)^2 -> 2 + sin(u)^2``). Returns the new constant."""
    for t in list(terms):
        if t.kind != "mul":
            continue
        c = terms[t]
        if c == 0 or type(c) is float:
            continue
        factors = t.args[1]
        for i, (b, e) in enumerate(factors):
            if e is TWO and b.kind == "func" and b.args[0] == "sin":
                break
        else:
            continue
        rest = _make_mul(1, factors[:i] + factors[i + 1:])
        if rest.kind == "add" or _nonfinite(rest) or _nonfinite(b):
            continue        # inf*sin(u)^2 + inf*cos(u)^2 is nan where sin(u) = 0, sin(inf*x) nan
        partner = mul(rest, power(func("cos", b.args[1]), TWO))
        d = terms.get(partner)
        if d is None or d == 0 or type(d) is float or (c > 0) != (d > 0):
            continue
        m = c if abs(c) <= abs(d) else d
        terms[t] = _num_add(c, -m)
        terms[partner] = _num_add(d, -m)
        if rest.kind == "num":
            constant = _num_add(constant, _num_mul(m, rest.args[0]))
        else:
            old = terms.get(rest)
            terms[rest] = m if old is None else _num_add(old, m)
    return constant


def _has_trig_square(t) -> bool:
    """Whether the term ``t`` has a factor sin(u)^2 or cos(u)^2 (:func:`_pythagoras`)."""
    if t.kind != "mul":
        return False
    for b, e in t.args[1]:
        if e is TWO and b.kind == "func" and (b.args[0] == "sin" or b.args[0] == "cos"):
            return True
    return False


def _where_parts(a):
    """``a`` as (K, rest): K its inf/nan constant (``a = K + rest``) or None, rest finite;
    or None where an inf/nan is elsewhere in it (``inf*x``)."""
    if a.kind == "num":
        return (a.args[0], ZERO) if type(a.args[0]) is float else (None, a)
    if not _nonfinite(a):
        return None, a
    if a.kind == "add" and type(a.args[0]) is float:
        rest = add(*[mul(num(c), t) for c, t in a.args[1]])
        if not _nonfinite(rest):
            return a.args[0], rest
    return None


def _pick(k, s):
    """The constant ``k`` (inf, -inf or nan) where ``s`` (0 or 1) is 1, and 0 where it is 0,
    without a product ``0*k`` (nan)."""
    if math.isnan(k):
        return func("log", sub(ONE, mul(TWO, s)))     # log(-1) is nan, log(1) is 0
    return sub(power(num(k), s), ONE)                 # k^0 - 1 = 0, k^1 - 1 = k


def _merges(b, exps) -> bool:
    """Whether a new factor with base ``b`` may be merged by :func:`_merge_powers` with the
    bases ``exps`` of a product (ProductBuilder then takes the step as ``mul`` does)."""
    k = b.kind
    if k == "func":
        if b.args[0] != "exp":
            return False
        return any(bb.kind == "func" and bb.args[0] == "exp" for bb in exps)
    if k == "num":
        return any(bb.kind == "num" for bb in exps)
    return False
