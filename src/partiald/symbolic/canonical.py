"""Canonical formulas: a hash-consed DAG of nodes, and the interpreter that
evaluates Graph primitives on them.

A formula Graph is simplified by *interpreting* it on symbolic values: each
primitive's ``symbolic`` entry builds its result through the canonical
constructors below (``add``, ``mul``, ``power``, ``func``), which flatten
sums and products, collect like terms, fold constants (exactly, with
``Fraction``, while the numbers stay small), combine powers and drop
identities. Derivatives are the engine's own JVP rules run on these values,
so every derivative comes out already simplified, and identical
subexpressions are one node (hash-consing), so derivative DAGs stay linear.

The node kinds:

* ``num``   ``args = (value,)``, a ``Fraction`` (exact) or a ``float`` (inf/nan)
* ``sym``   ``args = (name,)``
* ``const`` ``args = ("pi",)`` or ``("e",)``
* ``add``   ``args = (constant, ((coef, term), ...))``: ``constant + sum(coef * term)``
* ``mul``   ``args = (coef, ((base, exponent), ...))``: ``coef * prod(base ** exponent)``
* ``func``  ``args = (name, arg, ...)``: ``sin(x)``, ``max(x, y)``, ``step(x)``, ...
"""
from __future__ import annotations

import math
import weakref
from fractions import Fraction

import numpy as np

from ..core.errors import ExpressionTooLarge
from ..core.graph import ShapedArray
from ..core.primitive import REGISTRY

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
        return rule(*[a if isinstance(a, (Node, Cond)) else as_node(a) for a in args], **params)


SYMBOLIC = _SymbolicInterpreter()
_TABLE: "weakref.WeakValueDictionary[tuple, Node]" = weakref.WeakValueDictionary()


class Node:
    """One node of a formula DAG. Nodes are interned: equal formulas are the same object."""

    __slots__ = ("kind", "args", "free", "skey", "__weakref__")
    shape = ()
    dtype = _FLOAT64
    ndim = 0
    _builder = SYMBOLIC

    @property
    def aval(self):
        return _SCALAR_AVAL

    def __repr__(self):
        from .printing import to_str
        return f"Node({to_str(self)})"

    def __reduce__(self):
        raise TypeError("formula nodes are not picklable")

    # A Node is a number only when it is a num; anything else has no truth value.
    def __bool__(self):
        if self.kind == "num":
            return bool(self.args[0])
        raise TypeError("the truth value of a symbolic expression is undecided; "
                        "formulas cannot contain data-dependent Python control flow")


def _intern(kind, args, free, skey, key=None):
    """The unique node for (kind, args): equal formulas are one object."""
    if key is None:
        key = (kind,) + tuple(_flat_key(a) for a in args)
    node = _TABLE.get(key)
    if node is not None:
        return node
    node = Node()
    node.kind, node.args, node.free, node.skey = kind, args, free, skey
    _TABLE[key] = node
    return node


def _flat_key(a):
    if isinstance(a, tuple):
        return tuple(_flat_key(x) for x in a)
    if isinstance(a, Node):
        return ("n", id(a))
    if isinstance(a, float) and math.isnan(a):
        return ("nan",)
    return (type(a).__name__, a)


def _num_key(v):
    return ("nan",) if isinstance(v, float) and math.isnan(v) else (type(v).__name__, v)


# -- numbers ------------------------------------------------------------------------

def _check_bits(q):
    if isinstance(q, Fraction) and (q.numerator.bit_length() > MAX_INT_BITS
                                    or q.denominator.bit_length() > MAX_INT_BITS):
        raise ExpressionTooLarge(f"an exact number in this formula would exceed {MAX_INT_BITS} bits")
    return q


def to_number(v):
    """A Python/NumPy number as an exact Fraction where possible (shortest repr for floats)."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (bool, np.bool_)):
        return Fraction(int(v))
    if isinstance(v, (int, np.integer)):
        return _check_bits(Fraction(int(v)))
    f = float(v)
    if not math.isfinite(f):
        return f
    q = Fraction(repr(f))
    if q.denominator > 10**6:
        # a float that is exactly the double nearest a simple fraction (1/3, 2/3, 5/7)
        # came from one, e.g. an exponent lowered to a float: take the fraction back
        r = q.limit_denominator(10**4)
        if float(r) == f:
            return r
    return q


def to_float(q) -> float:
    """The nearest float to an exact number (+-inf beyond the float range)."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def num(v) -> Node:
    if type(v) is Fraction:
        node = _TABLE.get(("num", ("Fraction", v)))
        if node is not None:
            return node
    v = to_number(v)
    if isinstance(v, Fraction):
        _check_bits(v)
        skey = (0, to_float(v), str(v))
    else:
        skey = (0, v if not math.isnan(v) else math.inf, repr(v))
    return _intern("num", (v,), frozenset(), skey)


ZERO = num(0)
ONE = num(1)
MINUS_ONE = num(-1)


def is_num(n, value=None):
    return n.kind == "num" and (value is None or n.args[0] == value)


def numval(n):
    return n.args[0]


def sym(name: str) -> Node:
    return _intern("sym", (name,), frozenset((name,)), (1, name))


def const(name: str) -> Node:
    if name not in ("pi", "e"):
        raise ValueError(f"unknown constant {name!r}")
    return _intern("const", (name,), frozenset(), (0.5, name))   # pi*x, like SymPy


def as_node(x) -> Node:
    if isinstance(x, Node):
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
            return coef, _make_mul(Fraction(1), factors)
    return Fraction(1), n


def add(*xs) -> Node:
    """Canonical sum: flattened, like terms collected, constants folded, zeros dropped."""
    constant = Fraction(0)
    terms: dict = {}
    order = []
    for x in xs:
        x = as_node(x)
        if x.kind == "num":
            constant = _num_add(constant, x.args[0])
            continue
        pairs = x.args[1] if x.kind == "add" else ((None, x),)
        if x.kind == "add":
            constant = _num_add(constant, x.args[0])
        for c, t in pairs:
            if c is None:
                c, t = _split_coef(t)
            if t.kind == "add":
                # c * (a + b) inside a sum: distribute, so like terms meet
                constant = _num_add(constant, _num_mul(c, t.args[0]))
                for c2, t2 in t.args[1]:
                    cc = _num_mul(c, c2)
                    if t2 in terms:
                        terms[t2] = _num_add(terms[t2], cc)
                    else:
                        terms[t2] = cc
                        order.append(t2)
                continue
            if t in terms:
                terms[t] = _num_add(terms[t], c)
            else:
                terms[t] = c
                order.append(t)
    pairs = tuple(sorted(((c, t) for t in order if (c := terms[t]) != 0), key=lambda p: p[1].skey))
    if isinstance(constant, float) and math.isnan(constant):
        return num(constant)
    if not pairs:
        return num(constant)
    if constant == 0 and len(pairs) == 1:
        c, t = pairs[0]
        return t if c == 1 else mul(num(c), t)
    free = frozenset().union(*[t.free for _, t in pairs])
    skey = (5, tuple(t.skey for _, t in pairs), tuple(str(c) for c, _ in pairs), str(constant))
    key = ("add", _num_key(constant), tuple((_num_key(c), id(t)) for c, t in pairs))
    return _intern("add", (constant, pairs), free, skey, key)


def _num_add(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return float(a) + float(b)
    return _check_bits(a + b)


def _num_mul(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if (a == 0 or b == 0) and not (isinstance(a, float) and math.isnan(a)) \
                and not (isinstance(b, float) and math.isnan(b)):
            return Fraction(0)
        return float(a) * float(b)
    return _check_bits(a * b)


def neg(x) -> Node:
    return mul(MINUS_ONE, x)


def sub(x, y) -> Node:
    return add(x, neg(y))


# -- products and powers ---------------------------------------------------------------------

def _make_mul(coef, factors):
    if not factors:
        return num(coef)
    if coef == 1 and len(factors) == 1 and is_num(factors[0][1], 1):
        return factors[0][0]
    free = frozenset().union(*[b.free | e.free for b, e in factors])
    key = ("mul", _num_key(coef), tuple((id(b), id(e)) for b, e in factors))
    node = _TABLE.get(key)
    if node is not None:
        return node
    skey = (4, tuple((b.skey, e.skey) for b, e in factors), str(coef))
    return _intern("mul", (coef, tuple(factors)), free, skey, key)


def mul(*xs) -> Node:
    """Canonical product: flattened, coefficients folded and written first, equal bases
    combined into powers (``x*x -> x^2``), ``*1`` and ``^0`` dropped. A number times a sum
    stays a product here, so it can still combine with powers of the same sum
    (``2*(u + 1) * (u + 1)^-3``); :func:`normalize` distributes what remains."""
    coef = Fraction(1)
    exps: dict = {}
    order = []
    for x in xs:
        x = as_node(x)
        if x.kind == "num":
            coef = _num_mul(coef, x.args[0])
            continue
        if x.kind == "mul":
            coef = _num_mul(coef, x.args[0])
            pairs = x.args[1]
        else:
            pairs = ((x, ONE),)
        for b, e in pairs:
            if b in exps:
                exps[b] = add(exps[b], e)
            else:
                exps[b] = e
                order.append(b)
    if coef == 0:
        return ZERO
    factors = []
    for i, b in enumerate(order):
        e = exps[b]
        if b.kind == "add" and e.kind == "num" and isinstance(e.args[0], Fraction) \
                and not isinstance(coef, float):
            # a sum inside a product keeps no common integer factor: (2a + 2b)/2 -> a + b
            g = _content(b)
            ge = _fold_num_power(g, e.args[0]) if g is not None and g > 1 else None
            if ge is not None:
                reduced = add(num(b.args[0] / g), *[mul(num(c / g), t) for c, t in b.args[1]])
                coef = _num_mul(coef, _check_bits(ge))
                if reduced in exps:
                    exps[reduced] = add(exps[reduced], e)
                    continue
                exps[reduced] = e
                order[i] = b = reduced
        if is_num(e, 0):
            continue
        p = power(b, e) if (b.kind == "num" or b.kind == "mul") else None
        if p is not None and (p.kind != "mul" or p.args[1] != ((b, e),)):
            # folding changed the power (e.g. 2^2 -> 4): multiply it in again
            return mul(num(coef), p, *[power(bb, exps[bb]) for bb in order if bb is not b])
        factors.append((b, e))
    factors.sort(key=lambda f: f[0].skey)
    return _make_mul(coef, tuple(factors))


def _content(a):
    """The largest integer dividing every coefficient of the sum ``a`` (when all are
    integers), or None (a float or a fraction among them)."""
    values = [c for c, _ in a.args[1]] + ([a.args[0]] if a.args[0] != 0 else [])
    if any(not isinstance(v, Fraction) for v in values):
        return None
    g_num, l_den = 0, 1
    for v in values:
        g_num = math.gcd(g_num, v.numerator)
        l_den = l_den * v.denominator // math.gcd(l_den, v.denominator)
    return Fraction(g_num) if g_num and l_den == 1 else None


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
    """Exact b**e for Fractions, when the result stays small; None otherwise."""
    if e.denominator == 1:
        k = e.numerator
        if b == 0 and k < 0:
            return float("inf")
        bits = max(b.numerator.bit_length(), b.denominator.bit_length())
        if bits * abs(k) > MAX_INT_BITS:
            return None
        return b**k
    if b < 0 or e.denominator > 64:
        return None
    p = _int_root(b.numerator, e.denominator)
    q = _int_root(b.denominator, e.denominator)
    if p is None or q is None:
        return None
    return _fold_num_power(Fraction(p, q), Fraction(e.numerator))


def power(base, exponent) -> Node:
    """Canonical ``base ** exponent``."""
    base, exponent = as_node(base), as_node(exponent)
    if is_num(exponent, 0):
        return ONE
    if is_num(exponent, 1):
        return base
    if base.kind == "num" and exponent.kind == "num":
        b, e = base.args[0], exponent.args[0]
        if isinstance(b, Fraction) and isinstance(e, Fraction):
            r = _fold_num_power(b, e)
            if r is not None:
                return num(r)
        elif not (isinstance(b, Fraction) and isinstance(e, Fraction)):
            with np.errstate(all="ignore"):
                return num(float(np.power(float(b), float(e))))
    if is_num(base, 1):
        return ONE
    if base.kind == "const" and base.args[0] == "e":
        return func("exp", exponent)
    if base.kind == "mul" and exponent.kind == "num" and isinstance(exponent.args[0], Fraction) \
            and exponent.args[0].denominator == 1:
        # (c * x^a * y^b)^n = c^n * x^(a n) * y^(b n) for an integer n
        coef, factors = base.args
        parts = [power(num(coef), exponent)] + [power(b, mul(e, exponent)) for b, e in factors]
        return mul(*parts)
    return _make_mul(Fraction(1), ((base, exponent),))


def div(x, y) -> Node:
    return mul(x, power(y, MINUS_ONE))


# -- functions --------------------------------------------------------------------------------

#: functions whose value at an exact argument folds exactly
_EXACT = {
    ("sin", 0): 0, ("cos", 0): 1, ("tan", 0): 0, ("tanh", 0): 0, ("sinh", 0): 0, ("cosh", 0): 1,
    ("exp", 0): 1, ("log", 1): 0, ("asin", 0): 0, ("atan", 0): 0, ("sigmoid", 0): Fraction(1, 2),
    ("relu", 0): 0, ("step", 0): 0, ("sign", 0): 0, ("abs", 0): 0, ("acos", 1): 0,
}
#: NumPy evaluation of each function, used to fold float arguments
NUMPY_FUNCS = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
    "sinh": np.sinh, "cosh": np.cosh, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "abs": np.abs, "sign": np.sign, "relu": lambda x: np.maximum(x, 0.0),
    "step": lambda x: np.where(np.asarray(x) > 0, 1.0, 0.0),
    "sigmoid": lambda x: REGISTRY["logistic"].impl(x),
    "softplus": lambda x: np.logaddexp(x, 0.0),
}
FUNCTION_NAMES = frozenset(NUMPY_FUNCS)


def func(name, *args) -> Node:
    args = tuple(as_node(a) for a in args)
    if len(args) == 1:
        a = args[0]
        if a.kind == "num":
            v = a.args[0]
            if isinstance(v, Fraction):
                hit = _EXACT.get((name, v))
                if hit is not None:
                    return num(hit)
                if name in ("abs", "sign", "relu", "step"):
                    return num({"abs": abs(v), "sign": (v > 0) - (v < 0), "relu": max(v, 0),
                                "step": int(v > 0)}[name])
            else:
                with np.errstate(all="ignore"):
                    return num(float(NUMPY_FUNCS[name](v)))
        if name == "log" and a.kind == "func" and a.args[0] == "exp":
            return a.args[1]                       # log(exp(u)) = u for real u
        if name == "exp" and a.kind == "func" and a.args[0] == "log":
            return a.args[1]                       # exp(log(u)) = u where defined
        if name == "abs" and a.kind == "func" and a.args[0] in ("abs", "exp", "sigmoid", "relu", "softplus"):
            return a
    free = frozenset().union(*[a.free for a in args])
    # factor order: exp(...) before other functions, as SymPy prints exp(x)*cos(x)
    skey = (3, 0 if name == "exp" else 1, name, tuple(a.skey for a in args))
    return _intern("func", (name,) + args, free, skey)


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


SYMBOLIC_RULES = {
    "add": add, "sub": sub, "neg": neg, "mul": mul, "safe_mul": mul, "div": div,
    "integer_pow": lambda x, n: power(x, num(n)), "pow": power,
    "exp": lambda x: func("exp", x), "log": lambda x: func("log", x),
    "log1p": lambda x: func("log", add(ONE, x)), "expm1": lambda x: sub(func("exp", x), ONE),
    "sin": lambda x: func("sin", x), "cos": lambda x: func("cos", x), "tan": lambda x: func("tan", x),
    "tanh": lambda x: func("tanh", x), "sinh": lambda x: func("sinh", x), "cosh": lambda x: func("cosh", x),
    "arcsin": lambda x: func("asin", x), "arccos": lambda x: func("acos", x),
    "arctan": lambda x: func("atan", x), "sqrt": lambda x: power(x, num(Fraction(1, 2))),
    "abs": lambda x: func("abs", x), "sign": lambda x: func("sign", x),
    "logistic": lambda x: func("sigmoid", x), "maximum": _maximum, "minimum": _minimum,
    "logaddexp": _logaddexp, "select": select, "compare": compare,
    "broadcast_to": _identity, "reshape": _identity, "convert": _identity, "stop_gradient": _identity,
    "reduce_sum": _reduce, "reduce_max": _reduce, "reduce_prod": _reduce,
}


def normalize(root: Node) -> Node:
    """The final canonical form: a number times a sum is distributed
    (``2*(x + y) -> 2*x + 2*y``), as SymPy does. Applied to every formula and
    derivative users see, so equal formulas are the same node."""
    memo = {}
    for n in topo_order(root):
        k = n.kind
        if k in ("num", "sym", "const"):
            memo[n] = n
        elif k == "add":
            constant, pairs = n.args
            memo[n] = add(num(constant), *[mul(num(c), memo[t]) for c, t in pairs])
        elif k == "mul":
            coef, factors = n.args
            if coef != 1 and len(factors) == 1 and is_num(factors[0][1], 1) and memo[factors[0][0]].kind == "add":
                # a number times a sum: distributed (add() spreads the coefficient over the terms)
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


def topo_order(root: Node):
    """Nodes reachable from ``root``, children before parents (iterative)."""
    seen = set()
    order = []
    stack = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        for c in children(n):
            if id(c) not in seen:
                stack.append((c, False))
    return order


def count_nodes(root: Node) -> int:
    return len(topo_order(root))


def check_size(root: Node) -> Node:
    n = count_nodes(root)
    if n > MAX_NODES:
        raise ExpressionTooLarge(f"the formula has {n} distinct subexpressions, over the limit of {MAX_NODES}")
    return root
