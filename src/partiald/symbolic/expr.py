"""``Expr``: a formula with named variables, its exact partial derivatives,
values, printing, explanations and compiled code.

An Expr is a view on a scalar Graph of the engine's IR. ``diff`` runs the
engine's forward-mode (JVP) rules on the formula's primitives with symbolic
values (see ``canonical.py``, and "derivatives" below), so the derivative of a
formula and the derivative ``partiald.grad`` computes for the same function
come from the same rules.
"""
from __future__ import annotations

import inspect
import warnings
import weakref
from fractions import Fraction

import numpy as np

from ..compile.codegen import compile_graph
from ..core.errors import ExpressionTooLarge, ParseError
from ..core.graph import ShapedArray, Var
from ..core.interpret import interpret
from ..core.primitive import REGISTRY, bind
from ..core.trace import Builder, Tracer
from ..transforms.forward import is_float, match_dtype
from . import canonical as C
from .functions import RECORDS
from .limits import deadline, tick
from .printing import to_latex, to_str, to_unicode

#: the highest derivative order ``diff`` accepts
MAX_ORDER = 1000
#: calling a formula whose Graph has more equations than this, before ``compile()``, interprets
#: the Graph (generating and compiling the code of a huge derivative takes seconds and much
#: memory: 6 s and 900 MB for 150,000 equations, where interpreting them once takes 0.3 s)
INTERPRET_ABOVE = 20_000


# -- lowering: parser AST -> canonical node -----------------------------------------------

_FUNC_ALIASES = {"ln": "log"}


def _number(text):
    """The exact value of a numeric literal, refusing ones too large to hold exactly
    (``inf`` and ``nan``, the parser's non-finite numbers, are floats)."""
    if text == "inf" or text == "nan":
        return C.num(float(text))
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    exp = int(exponent) if exponent else 0
    if digits > 1200 or abs(exp) > 1200:     # about MAX_INT_BITS bits either way
        raise ExpressionTooLarge(f"the number {text[:24]}{'...' if len(text) > 24 else ''} is too large "
                                 "to keep exactly")
    return C.num(int(text) if set(text) <= set("0123456789") else Fraction(text))


def ast_to_node(ast) -> C.Node:
    """Canonical node of a parser AST (iterative: deep or wide input is fine)."""
    return C.check_size(ast_to_nodes(ast)[id(ast)])


def ast_to_nodes(ast):
    """``{id(subtree): canonical node}`` for every subtree of a parser AST (the AST must be
    kept alive while the ids are used)."""
    results = {}
    stack = [(ast, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in results:
            continue
        tick()
        kind = node[0]
        if kind in ("num", "name", "const"):
            results[key] = (_number(node[1]) if kind == "num" else
                            C.sym(node[1]) if kind == "name" else C.const(node[1]))
            continue
        kids = list(node[1]) if kind in ("add", "mul") else [node[2]] if kind == "call" else list(node[1:])
        if not done:
            stack.append((node, True))
            for k in kids:
                if id(k) in results:
                    continue
                if k[0] == "name":          # the common leaf, made at once
                    results[id(k)] = C.sym(k[1])
                else:
                    stack.append((k, False))
            continue
        vals = [results[id(k)] for k in kids]
        if kind == "add":
            r = C.add(*vals)
        elif kind == "mul":
            r = C.mul(*vals)
        elif kind == "neg":
            r = C.neg(vals[0])
        elif kind == "div":
            r = C.div(vals[0], vals[1])
        elif kind == "pow":
            r = C.power(vals[0], vals[1])
        elif kind == "call":
            r = _call(node[1], vals[0])
        else:
            raise ValueError(f"unknown AST node {kind!r}")
        results[key] = r
    return results


def _call(name, arg):
    name = _FUNC_ALIASES.get(name, name)
    if name == "sqrt":
        return C.power(arg, C.num(Fraction(1, 2)))
    return C.func(name, arg)


# -- lowering: canonical node -> Graph ------------------------------------------------------

_HALF = Fraction(1, 2)


def _lower_pow(b, e, memo, exact=False):
    """``b ** e`` for a lowered base ``b`` and an exponent node ``e``."""
    ev = e.args[0] if e.kind == "num" else None
    if type(ev) is int and abs(ev) < 2**53:
        return bind(REGISTRY["integer_pow"], b, n=int(ev))
    if type(ev) is int and not exact:
        return _huge_int_pow(b, ev)
    if ev == _HALF:
        return bind(REGISTRY["sqrt"], b)
    if ev is None:
        return bind(REGISTRY["pow"], b, memo[e])
    return bind(REGISTRY["pow"], b, e if exact else C.to_float(ev))


def _huge_int_pow(b, n):
    """``b ** n`` in floats for an integer ``n`` beyond 2^53 (``x^(10^400)``), which neither
    integer_pow nor a float exponent holds exactly: ``|b| ** float(n)`` has the magnitude
    (``float(n)`` may be inf: 0, 1 or inf then), and an odd ``n`` keeps the sign of ``b``."""
    mag = bind(REGISTRY["pow"], bind(REGISTRY["abs"], b), C.to_float(abs(n)))
    if n % 2:
        mag = bind(REGISTRY["mul"], bind(REGISTRY["sign"], b), mag)
    return bind(REGISTRY["div"], 1.0, mag) if n < 0 else mag


def _balanced(op, items):
    items = list(items)
    while len(items) > 1:
        nxt = [bind(REGISTRY[op], items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def _lower(n, memo, exact=False):
    """One node as primitives applied to the lowered children in ``memo``. With ``exact``,
    numbers stay formula nodes (captured constants of the Graph) instead of floats."""
    number = C.num if exact else C.to_float
    k = n.kind
    if k == "num":
        return C.to_float(n.args[0])
    if k == "const":
        return float(np.pi) if n.args[0] == "pi" else float(np.e)
    if k == "sym":
        return memo[n]
    if k == "add":
        constant, pairs = n.args
        terms = []
        for c, t in pairs:
            v = memo[t]
            terms.append(v if c == 1 else bind(REGISTRY["neg"], v) if c == -1 else
                         bind(REGISTRY["mul"], number(c), v))
        if constant != 0:
            terms.append(number(constant))
        return _balanced("add", terms)
    if k == "mul":
        coef, factors = n.args
        nums, dens = [], []
        for b, e in factors:
            ev = e.args[0] if e.kind == "num" else None
            if ev is not None and C.is_exact(ev) and ev < 0:
                dens.append(memo[b] if ev == -1 else _lower_pow(memo[b], C.num(-ev), memo, exact))
            else:
                nums.append(memo[b] if ev == 1 else _lower_pow(memo[b], e, memo, exact))
        if coef != 1 or not nums:
            nums.insert(0, number(coef))
        out = _balanced("mul", nums)
        return bind(REGISTRY["div"], out, _balanced("mul", dens)) if dens else out
    name = n.args[0]
    args = [memo[a] for a in n.args[1:]]
    record = RECORDS.get(name)
    if record is not None:
        return bind(record, *args)
    if name == "relu":
        return bind(REGISTRY["maximum"], args[0], 0.0)
    if name == "softplus":
        return bind(REGISTRY["logaddexp"], args[0], 0.0)
    if name == "step":
        return bind(REGISTRY["select"], bind(REGISTRY["compare"], args[0], 0.0, op="gt"), 1.0, 0.0)
    raise ValueError(f"no primitive for function {name!r}")


def node_to_graph(root, variables, exact=False):
    """The scalar Graph computing ``root`` from the named ``variables`` (in order).

    With ``exact``, subexpressions without variables (``1/3``, ``pi``, ``2^(2^64)``)
    stay formula nodes, captured as constants of the Graph, so that differentiating
    it symbolically keeps them exact; otherwise they are floats, for evaluation.
    """
    b = Builder("formula")
    memo = {}
    ins = []
    for v in variables:
        t = b.new_arg(ShapedArray((), np.float64))
        ins.append(t)
        memo[C.sym(v)] = t
    for n in C.topo_order(root):
        if exact and not n.free:
            memo[n] = n
        elif n.kind != "sym":
            memo[n] = _lower(n, memo, exact)
    out = memo[root]
    return b.finish([t._var for t in ins], [out])


# -- derivatives: the engine's JVP rules on (value, tangent) pairs of nodes ---------------------
#
# d/dv of a formula is the engine's forward mode run on the formula's Graph with
# symbolic values. Rather than lowering the whole formula to a Graph, interpreting
# it and then pushing tangents through it, each node is lowered on its own (the
# same ``_lower`` as ``node_to_graph(..., exact=True)``) with its children as
# ``_Dual`` values: ``bind`` then hands every primitive to ``_JVP``, which computes
# the value with the canonical constructors (as ``graph_to_node`` does) and the
# tangent with the primitive's own JVP rule (as ``jvp_graph_eval`` does). The
# result is the same node, equation by equation; but a node's value and tangent
# depend on that node alone, so they are kept per node in a ``_DiffCache`` shared
# by a formula and its derivatives: subexpressions that several derivatives share
# are differentiated once.

class _JVPInterpreter:
    """Makes ``bind`` evaluate primitives on :class:`_Dual` values."""

    id = 0.5        # above the symbolic interpreter (nodes), below every tracing Builder
    name = "symbolic jvp"
    active = True

    def __init__(self):
        self._float_out = {}

    def process(self, prim, args, params):
        primals = []
        tangents = []
        any_tangent = False
        for a in args:
            if type(a) is _Dual:
                primals.append(a.p)
                t = a.t
                tangents.append(t)
                if t is not None:
                    any_tangent = True
            else:
                primals.append(a if isinstance(a, (C.Node, C.Cond)) else C.as_node(a))
                tangents.append(None)
        rule = _RULES.get(prim.name)
        out = rule(*primals, **params) if rule is not None else C.SYMBOLIC.process(prim, primals, params)
        if not any_tangent or not self._is_float(prim, args, params):
            return _Dual(out, None)
        if prim.jvp is None:
            raise NotImplementedError(f"primitive '{prim.name}' is not differentiable (no JVP rule)")
        t = prim.jvp(tangents, out, *primals, **params)
        if t is not None:
            t = match_dtype(t, C.Node.dtype)
        return _Dual(out, t)

    def _is_float(self, prim, args, params):
        """Whether ``prim`` on arguments like ``args`` has a float result (a comparison has
        none, so no tangent), from its shape rule as when tracing the lowered formula: a
        formula value stands for a float64 scalar, a comparison for a bool one, and a Python
        literal for itself. (Only the primitives ``_lower`` emits come here; their result
        dtype does not depend on their parameters.)"""
        kinds = []
        for a in args:
            v = a.p if type(a) is _Dual else a
            kinds.append(_SCALAR_AVAL if type(v) is C.Node else _BOOL_AVAL if type(v) is C.Cond else type(v))
        key = (prim, *kinds)
        hit = self._float_out.get(key)
        if hit is None:
            avals = [k if isinstance(k, ShapedArray) else a for k, a in zip(kinds, args)]
            hit = self._float_out[key] = is_float(prim.abstract_eval(*avals, **params))
        return hit


_SCALAR_AVAL = ShapedArray((), np.float64)
_BOOL_AVAL = ShapedArray((), np.dtype(bool))
_JVP = _JVPInterpreter()
_RULES = C.SYMBOLIC_RULES


class _Dual:
    """A node's value and its tangent (``None``: zero) while differentiating."""

    __slots__ = ("p", "t")
    _builder = _JVP

    def __init__(self, p, t):
        self.p = p
        self.t = t


class _DiffCache:
    """Per node: its value as the lowered Graph recomputes it, its tangent per variable,
    and its normalized form. Shared by a formula and its derivatives."""

    __slots__ = ("primal", "dual", "norm", "ops", "terms", "printed", "__weakref__")

    def __init__(self):
        self.primal = {}
        self.dual = {}          # variable -> {node: _Dual, or the node's value where constant in it}
        self.norm = {}
        self.ops = ({}, {}, {})  # memos of add, mul and power (canonical.set_memo)
        self.terms = {}         # a long sum -> {variable: its (coef, term) pairs that hold it}
        self.printed = {}       # node -> its str() form (printing.Printer.doprint's ``shared``)


#: a sum with at least this many terms keeps an index of its terms by variable
_INDEX_TERMS = 16


def _terms_with(n, var, cache):
    """The ``(coef, term)`` pairs of the sum ``n`` whose term depends on ``var``."""
    pairs = n.args[1]
    if len(pairs) < _INDEX_TERMS:
        return [p for p in pairs if var in p[1].free]
    index = cache.terms.get(n)
    if index is None:
        # the first variable scans the terms; a second one makes the index
        cache.terms[n] = False
        return [p for p in pairs if var in p[1].free]
    if index is False:
        index = cache.terms[n] = {}
        for p in pairs:
            for v in p[1].free:
                got = index.get(v)
                if got is None:
                    index[v] = [p]
                else:
                    got.append(p)
    return index.get(var, ())


# A sum is lowered to a balanced tree of adds of its terms (c*t: t, neg(t) or mul(c, t)).
# Interpreting that tree builds every partial sum, O(n log n) for n terms; and its tangent
# visits every term. Canonical sums are associative and commutative, so the value is the one
# sum of all the lowered terms, and the tangent the sum of the terms' tangents as the JVP
# rules give them (t', neg(t'), safe_mul(c, t')), where ``add``'s rule passes a lone tangent
# through as it is and adds two: the same nodes, in time linear in the terms that depend on
# the variable.

def _sum_value(n, prim):
    """The value of the lowering of the sum ``n``, from its terms' values in ``prim``."""
    constant, pairs = n.args
    for _, t in pairs:
        if prim[t] is not t:
            break
    else:
        return n        # add() of a sum's own terms gives the sum back
    terms = []
    for c, t in pairs:
        v = prim[t]
        terms.append(v if c == 1 else C.mul(C.num(c), v))
    if constant != 0:
        terms.append(C.num(constant))
    return C.add(*terms)


def _sum_tangent(pairs, duals):
    """The tangent of a sum from the tangents (in ``duals``) of its terms ``pairs``."""
    tangents = []
    for c, t in pairs:
        d = duals[t]
        tt = d.t if type(d) is _Dual else None
        if tt is None:
            continue
        tangents.append(tt if c == 1 else C.neg(tt) if c == -1 else C.safe_mul(C.num(c), tt))
    if not tangents:
        return None
    return tangents[0] if len(tangents) == 1 else C.add(*tangents)


def _primal(root, cache):
    """The value of ``root`` recomputed from its lowering (what ``graph_to_node`` gives)."""
    prim = cache.primal
    hit = prim.get(root)
    if hit is not None:
        return hit
    stack = [root]
    while stack:
        n = stack[-1]
        if n in prim:
            stack.pop()
            continue
        if not n.free or n.kind == "sym":
            prim[n] = n
            stack.pop()
            continue
        pending = [c for c in C.children(n) if c not in prim]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        tick()
        prim[n] = _sum_value(n, prim) if n.kind == "add" else _lower(n, prim, exact=True)
    return prim[root]


def _tangent(root, var, cache):
    """d(root)/d(var) as the engine's forward mode computes it on the lowered formula,
    or None (zero)."""
    duals = cache.dual.get(var)
    if duals is None:
        duals = cache.dual[var] = {}
    prim = cache.primal
    stack = [root]
    with np.errstate(all="ignore"):     # rules may fold inf/NaN where a zero tangent masks them
        while stack:
            n = stack[-1]
            if n in duals:
                stack.pop()
                continue
            if var not in n.free:
                duals[n] = _primal(n, cache)
                stack.pop()
                continue
            if n.kind == "sym":
                duals[n] = _Dual(n, C.ONE)
                stack.pop()
                continue
            if n.kind == "add":
                pairs = _terms_with(n, var, cache)
                pending = [t for _, t in pairs if t not in duals]
                if pending:
                    stack.extend(pending)
                    continue
                stack.pop()
                tick()
                duals[n] = _Dual(_primal(n, cache), _sum_tangent(pairs, duals))
                continue
            pending = [c for c in C.children(n) if c not in duals]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            tick()
            d = _lower(n, duals, exact=True)
            duals[n] = d
            if n not in prim:
                prim[n] = d.p if type(d) is _Dual else d
    d = duals[root]
    return d.t if type(d) is _Dual else None


def graph_to_node(graph, variables):
    """Interpret a scalar Graph on symbolic inputs; return the output node and every value."""
    values = {}
    for v, name in zip(graph.invars, variables):
        values[v] = C.sym(name)
    for cv, c in zip(graph.constvars, graph.consts):
        values[cv] = C.as_node(c)

    def read(x):
        return C.as_node(x.val) if not hasattr(x, "count") else values[x]

    for eqn in graph.eqns:
        values[eqn.outvar] = bind(eqn.prim, *[read(x) for x in eqn.inputs], **eqn.params)
    return read(graph.outvars[0]), values


# -- the formula of a traced Python function ---------------------------------------------------
# A loop such as ``for k in ...: s = s + term`` traces to a chain of n ``add`` equations;
# interpreted one by one (``graph_to_node``) each makes a sum with one term more than the
# last, O(n^2) work in all. ``function_node`` gives the very same node, but carries a sum
# (product) along such a chain in a ``SumBuilder`` (``ProductBuilder``), which merges each
# new operand in and makes the node once, where it is read by anything else. A value goes
# by builder when it is read once, by the next equation of its chain: an add or sub (mul,
# div or neg) at one of the positions below.

#: per primitive of a chain, the input positions at which the chain may go on
_SUM_STEPS = {"add": (0, 1), "sub": (0,)}
_PRODUCT_STEPS = {"mul": (0, 1), "div": (0,), "neg": (0,)}
_CHAIN_PRIMS = frozenset(_SUM_STEPS) | frozenset(_PRODUCT_STEPS)
#: the fewest steps ahead for which a chain starts a builder
_MIN_CHAIN = 4


def _carried(graph):
    """The variables of ``graph`` that may go on as builders, each with its builder type and
    the number of steps of its chain ahead; and the number of reads of every variable
    (outputs included)."""
    uses = {}
    reader = {}
    for eqn in graph.eqns:
        for i, x in enumerate(eqn.inputs):
            if type(x) is Var:
                uses[x] = uses.get(x, 0) + 1
                reader[x] = (eqn, i)
    for x in graph.outvars:
        if type(x) is Var:
            uses[x] = uses.get(x, 0) + 1
    carry = {}
    for eqn in reversed(graph.eqns):
        name = eqn.prim.name
        steps = _SUM_STEPS if name in _SUM_STEPS else _PRODUCT_STEPS if name in _PRODUCT_STEPS else None
        v = eqn.outvar
        if steps is None or eqn.params or uses.get(v) != 1 or v not in reader:
            continue
        nxt, pos = reader[v]
        if pos in steps.get(nxt.prim.name, ()) and not nxt.params:
            ahead = carry.get(nxt.outvar)
            carry[v] = (C.SumBuilder if steps is _SUM_STEPS else C.ProductBuilder,
                        1 if ahead is None else ahead[1] + 1)
    return carry, uses


def _built(v):
    return v.node() if type(v) is C.SumBuilder or type(v) is C.ProductBuilder else v


def function_node(graph, variables):
    """The output node of a scalar Graph interpreted on symbols: ``graph_to_node(graph,
    variables)[0]``, in time linear in long chains of sums and products."""
    if sum(1 for e in graph.eqns if e.prim.name in _CHAIN_PRIMS) > _MIN_CHAIN:
        carry, left = _carried(graph)
    else:
        carry = {}
    if not any(run >= _MIN_CHAIN for _, run in carry.values()):
        return graph_to_node(graph, variables)[0]      # no chain long enough for a builder to gain
    values = {}
    for v, name in zip(graph.invars, variables):
        values[v] = C.sym(name)
    for cv, c in zip(graph.constvars, graph.consts):
        values[cv] = C.as_node(c)

    def read(x):
        if type(x) is not Var:
            return C.as_node(x.val)
        val = values[x]
        n = left.get(x, 0) - 1
        if n <= 0:
            del values[x]       # its last read: a value no longer needed is freed
        else:
            left[x] = n
        return val

    for eqn in graph.eqns:
        tick()
        name = eqn.prim.name
        args = [read(x) for x in eqn.inputs]
        out = None
        if name in _SUM_STEPS:
            for i, a in enumerate(args):
                if type(a) is C.SumBuilder:
                    if name == "add":
                        a.add(_built(args[1 - i]), first=i == 0)
                    else:                           # sub, the builder first
                        a.add(C.neg(_built(args[1])))
                    out = a
                    break
        elif name in _PRODUCT_STEPS:
            for i, a in enumerate(args):
                if type(a) is C.ProductBuilder:
                    if name == "mul":
                        a.mul(_built(args[1 - i]), first=i == 0)
                    elif name == "div":             # the builder first
                        a.mul(C.power(_built(args[1]), C.MINUS_ONE))
                    else:                           # neg: mul(-1, x)
                        a.mul(C.MINUS_ONE, first=False)
                    out = a
                    break
        if out is None:
            out = bind(eqn.prim, *[_built(a) for a in args], **eqn.params)
        kind = carry.get(eqn.outvar)
        if kind is None:
            out = _built(out)
        elif type(out) is not kind[0]:
            out = _built(out)
            if kind[1] >= _MIN_CHAIN:       # a builder pays off on a longer chain only
                out = kind[0](out)
        values[eqn.outvar] = out
    return _built(read(graph.outvars[0]))


# -- Expr ---------------------------------------------------------------------------------

class Expr:
    """A formula in named scalar variables.

    Build one with :func:`expr`. Printing gives the canonical text form
    (``str``), ``unicode()``, ``latex()``; ``diff``, ``gradient`` and
    ``hessian`` give exact partial derivatives; calling it evaluates it.
    """

    __slots__ = ("node", "_variables", "_graph", "_compiled", "_derivatives", "_cache", "_text")

    def __init__(self, node: C.Node, variables=None):
        cache = _DiffCache()
        node = C.normalize(node, cache.norm)
        self.node = node
        self._variables = tuple(sorted(node.free)) if variables is None else tuple(variables)
        self._text = None       # the text it was read from: explain() follows the formula as typed
        self._graph = None
        self._compiled = None
        self._derivatives = {}
        self._cache = cache

    def _diff_cache(self):
        """The derivative cache of this formula's family: held by the formula that made it,
        borrowed (weakly) by its derivatives, so a derivative kept alone keeps no more."""
        c = self._cache
        if type(c) is weakref.ref:
            c = c()
            if c is None:
                c = self._cache = _DiffCache()
        return c

    def _derived(self, node, cache):
        """An Expr for ``node`` (a derivative or part of this formula) sharing ``cache``."""
        out = object.__new__(type(self))
        out.node = C.normalize(node, cache.norm)
        out._variables = self._variables
        out._graph = None
        out._compiled = None
        out._derivatives = {}
        out._cache = weakref.ref(cache)
        out._text = None
        return out

    # -- structure -----------------------------------------------------------
    @property
    def variables(self):
        """The variable names, sorted."""
        return self._variables

    @property
    def graph(self):
        """The scalar Graph of this formula (inputs in ``variables`` order)."""
        if self._graph is None:
            self._graph = node_to_graph(self.node, self._variables)
        return self._graph

    def __eq__(self, other):
        if isinstance(other, Expr):
            return self.node is other.node
        if isinstance(other, (int, float, Fraction)) and not isinstance(other, bool):
            return self.node is C.num(other)
        return NotImplemented

    def __hash__(self):
        return hash(id(self.node))

    def is_number(self):
        return self.node.kind == "num"

    def __float__(self):
        if self.node.kind == "num":
            return C.to_float(self.node.args[0])
        if not self.node.free:
            return float(self.compile()())
        raise TypeError(f"cannot convert the formula {self} to a float: it has variables "
                        f"{', '.join(self.variables)}; call it with values, e.g. f({self.variables[0]}=1.0)")

    # -- printing -------------------------------------------------------------
    def __str__(self):
        return to_str(self.node, shared=self._diff_cache().printed)

    def __repr__(self):
        return f"Expr('{to_str(self.node)}')"

    def unicode(self):
        """Terminal form: ``2x + 3y``, ``x²``, ``√x``."""
        return to_unicode(self.node)

    def latex(self):
        """LaTeX form: ``x^{2} + 3 x y``."""
        return to_latex(self.node)

    def _repr_latex_(self):
        return f"${self.latex()}$"

    # -- derivatives -----------------------------------------------------------
    def _diff1(self, var):
        d = self._derivatives.get(var)
        if d is None:
            d = self._derivatives[var] = self._compute_diff1(var)
        return d

    def _compute_diff1(self, var):
        cache = self._diff_cache()
        prev = C.set_memo(cache.ops)
        try:
            t = _tangent(self.node, var, cache)
            node = C.ZERO if t is None else C.as_node(t)
            return self._derived(C.check_size(node), cache)
        finally:
            C.set_memo(prev)

    def diff(self, *variables, n=1):
        """Partial derivative: ``diff("x")``, mixed ``diff("x", "y")``, ``diff("x", n=3)``.

        The result keeps this formula's variables (a variable that drops out is
        still an argument of ``compile()``).
        """
        if not variables:
            if len(self.variables) == 1:
                variables = self.variables
            else:
                raise TypeError(f"diff() needs the variable(s) to differentiate by; this formula has "
                                f"{', '.join(self.variables) or 'no variables'}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"derivative order n must be a non-negative integer, got {n!r}")
        for v in variables:
            if not isinstance(v, str):
                raise TypeError(f"variable names are strings, got {v!r}")
        if len(variables) * n > MAX_ORDER:
            raise ExpressionTooLarge(f"derivative order {len(variables) * n} is over the limit of {MAX_ORDER}")
        # mixed partials commute for the formulas partiald builds (smooth where defined, and
        # the steps of piecewise functions have derivative 0 either way): take them in sorted
        # order, so d2f/dydx and d2f/dxdy are one computation and share the derivative cache
        seq = sorted(v for v in variables for _ in range(n))
        result = self
        with deadline(_differentiating(seq)):
            for v in seq:
                if v not in result.node.free:      # constant in v (this covers numbers)
                    return Expr(C.ZERO, self._variables)
                result = result._diff1(v)
        return result

    def gradient(self):
        """The first partials, one per variable in ``variables`` order."""
        with deadline("computing the gradient"):
            return tuple(self.diff(v) for v in self.variables)

    def hessian(self):
        """The second partials as a tuple of tuples (symmetric)."""
        with deadline("computing the Hessian"):
            grads = self.gradient()
            vs = self.variables
            rows = [[None] * len(vs) for _ in vs]
            for i, g in enumerate(grads):
                for j in range(i, len(vs)):
                    h = g.diff(vs[j])
                    rows[i][j] = rows[j][i] = h
        return tuple(tuple(r) for r in rows)

    def explain(self, var):
        """The steps of ``diff(var)``, each naming its rule; ``str()`` prints them numbered."""
        from .explain import explain
        with deadline(f"explaining d/d{var}"):
            return explain(self, var, ast_to_nodes)

    # -- evaluation ---------------------------------------------------------------
    def compile(self):
        """A fast numeric function of the variables (positional, in ``variables`` order),
        from generated NumPy code; it broadcasts, constants included."""
        if self._compiled is None:
            graph = self.graph
            fn = compile_graph(graph)
            n = len(self._variables)

            def f(*args):
                if len(args) != n:
                    raise TypeError(f"the compiled formula takes {n} argument(s) "
                                    f"({', '.join(self._variables)}), got {len(args)}")
                if any(isinstance(a, Tracer) for a in args):
                    # inside a transformation (grad of a compiled formula): replay its Graph
                    return interpret(graph, *args)[0]
                arrays = [np.asarray(a, dtype=np.float64) for a in args]
                with np.errstate(all="ignore"):
                    (out,) = fn(*arrays)
                shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
                out = np.broadcast_to(np.asarray(out, dtype=np.float64), shape)
                return float(out) if out.ndim == 0 else np.array(out)
            f.source = fn.source
            f.variables = self._variables
            self._compiled = f
        return self._compiled

    def __call__(self, /, *args, **values):
        """Evaluate at a point: ``f(x=1, y=2)`` (or positionally in ``variables`` order).
        Arrays broadcast."""
        if args and values:
            raise TypeError("pass values either positionally or by name, not both")
        if values:
            unknown = set(values) - set(self._variables)
            missing = [v for v in self._variables if v not in values]
            if unknown:
                raise TypeError(f"unknown variable(s) {', '.join(sorted(unknown))}; "
                                f"this formula has {', '.join(self._variables) or 'no variables'}")
            if missing:
                raise TypeError(f"missing value(s) for {', '.join(missing)}")
            args = tuple(values[v] for v in self._variables)
        if self._compiled is None and len(self.graph.eqns) > INTERPRET_ABOVE:
            return self._interpret(args)
        return self.compile()(*args)

    def _interpret(self, args):
        """What ``compile()(*args)`` gives, by interpreting the Graph (no code generated)."""
        n = len(self._variables)
        if len(args) != n:
            raise TypeError(f"the formula takes {n} argument(s) ({', '.join(self._variables)}), got {len(args)}")
        if any(isinstance(a, Tracer) for a in args):
            return interpret(self.graph, *args)[0]
        arrays = [np.asarray(a, dtype=np.float64) for a in args]
        with np.errstate(all="ignore"):
            (out,) = interpret(self.graph, *arrays)
        shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        out = np.broadcast_to(np.asarray(out, dtype=np.float64), shape)
        return float(out) if out.ndim == 0 else np.array(out)

    def subs(self, **values):
        """Substitute numbers for some variables; returns a new Expr."""
        graph = self.graph
        mapping = {}
        for name in self._variables:
            mapping[name] = C.as_node(values[name]) if name in values else C.sym(name)
        env = {v: mapping[name] for v, name in zip(graph.invars, self._variables)}

        def read(x):
            return C.as_node(x.val) if not hasattr(x, "count") else env[x]
        for eqn in graph.eqns:
            env[eqn.outvar] = bind(eqn.prim, *[read(x) for x in eqn.inputs], **eqn.params)
        node = read(graph.outvars[0])
        return Expr(node, tuple(v for v in self._variables if v not in values))

    def equals(self, other, samples=16, seed=0):
        """Whether two formulas are equal: by canonical form, then at random points.

        Returns True or False; see :meth:`compare` for the undecided case and a
        point where they differ.
        """
        return self.compare(other, samples, seed)[0] is True

    def compare(self, other, samples=16, seed=0):
        """``(verdict, detail)``: ``True`` (equal), ``False`` (with a point where they
        differ) or ``None`` (undecided: too few points where both are defined)."""
        other = expr(other) if not isinstance(other, Expr) else other
        diff = C.sub(self.node, other.node)
        if diff is C.ZERO:
            return True, "identical canonical forms"
        names = sorted(self.node.free | other.node.free)
        rng = np.random.default_rng(seed)
        f1 = Expr(self.node, names).compile()
        f2 = Expr(other.node, names).compile()
        pts = rng.uniform(-2.0, 2.0, size=(samples, len(names)))
        pts = np.concatenate([pts, rng.uniform(0.1, 3.0, size=(samples, len(names)))])
        a = np.atleast_1d(f1(*pts.T)) if names else np.full(len(pts), f1())
        b = np.atleast_1d(f2(*pts.T)) if names else np.full(len(pts), f2())
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 4:
            return None, "undecided: the formulas are defined at too few sample points"
        bad = ok & (np.abs(a - b) > 1e-9 * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b))))
        if bad.any():
            i = int(np.argmax(bad))
            point = {n: float(v) for n, v in zip(names, pts[i])}
            return False, f"differ at {point}: {float(a[i])!r} vs {float(b[i])!r}"
        return True, f"equal at {int(ok.sum())} random points"


def expr(source, variables=None) -> Expr:
    """A formula from text (``"x^2 + 3*x*y"``), a Python function of scalars
    (``lambda x, y: x**2 + 3*x*y``), or an Expr.

    Raises:
      ParseError: the text is not a formula (the message points at the problem).
      ExpressionTooLarge: the formula exceeds the size limits.
    """
    if isinstance(source, Expr):
        return source
    if isinstance(source, str):
        from .parser import parse_definition
        with deadline("reading the formula"):
            _, declared, ast = parse_definition(source)
            node = ast_to_node(ast)
            _check_names(source, node)
            # f(x, y) = x^2: the variables of the left side are the formula's, used or not
            out = Expr(node, None if declared is None else tuple(sorted(set(declared) | node.free)))
            out._text = source
            return out
    if callable(source):
        with deadline("reading the formula of the function"):
            return _from_function(source, variables)
    if isinstance(source, (int, float, Fraction)) and not isinstance(source, bool):
        return Expr(C.num(source))
    raise TypeError(f"expr() takes formula text, a Python function or a number, got {type(source).__name__}")


class FormulaWarning(UserWarning):
    """A formula parsed, but probably not as meant."""


def _differentiating(seq):
    """``differentiating by x, x, y``, cut short for a long sequence."""
    names = ", ".join(seq[:6]) + (f", ... ({len(seq)} in all)" if len(seq) > 6 else "")
    return f"differentiating by {names}"


def _check_names(text, node):
    from .parser import split_hint_in
    names = node.free
    lengths = sorted({len(w) for w in names})
    for name in sorted(names):
        hint = split_hint_in(name, names, lengths)
        if hint is not None:
            warnings.warn(f"'{name}' in {text!r} is one variable name; {hint}", FormulaWarning, stacklevel=3)


def _from_function(fn, variables=None):
    if variables is None:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            raise TypeError("expr(f): cannot read the parameters of f; pass variables=[...]") from None
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            raise TypeError("expr(f): f must take named scalar parameters (no *args/**kwargs), "
                            "or pass variables=[...]")
        variables = [p.name for p in params]
    b = Builder("expr")
    ins = [b.new_arg(ShapedArray((), np.float64)) for _ in variables]
    try:
        out = fn(*ins)
    except ParseError:
        raise
    if not isinstance(out, Tracer):
        node = C.as_node(np.asarray(out, dtype=np.float64))
        return Expr(node, tuple(sorted(variables)))
    if out.shape != ():
        raise TypeError(f"expr(f): f must return a scalar, got shape {out.shape}")
    graph = b.finish([t._var for t in ins], [out])
    node = function_node(graph, list(variables))
    return Expr(C.check_size(node), tuple(sorted(variables)))
