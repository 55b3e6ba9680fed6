"""Reverse mode as linearize + transpose.

``linearize`` runs the JVP rules with abstract tangents: the work that needs
only primal values is done at once (at the level below), and the work on
tangents is recorded as a linear Graph. ``transpose_eval`` runs that linear
Graph backwards with each linear primitive's transpose rule. No primitive
needs a VJP rule of its own, and because the transposed program is again made
of primitives, it can be differentiated again (any order).
"""
from __future__ import annotations

import functools
import math
import operator
import struct

import numpy as np

from ..core import debug as _debug
from ..core.graph import F64_SCALAR, Graph, Lit, ShapedArray
from ..core.primitive import PLAIN_TYPES, REGISTRY, UndefinedPrimal, bind
from ..core.trace import Builder
from ..ops import elementwise as _ew
from ..ops.elementwise import add_p
from .forward import is_float, jvp_graph_eval, match_dtype
from .simplify import cse, dce


def linearize_graph(graph: Graph, values: dict) -> Graph:
    """The linear map ``input tangents -> output tangents`` of ``graph`` at ``values``."""
    graph = dce(cse(graph))    # a value computed twice gets one cotangent; what no output
    #                            needs is not differentiated
    lin = Builder("linearize")
    tangents = [lin.new_arg(v.aval) if is_float(v.aval) else None for v in graph.invars]
    t_out = jvp_graph_eval(graph, values, tangents)
    invars = [t._var if t is not None else None for t in tangents]
    g = lin.finish([v for v in invars if v is not None], t_out)
    g.in_mask = [v is not None for v in invars]
    return g


def _add(a, b):
    return bind(add_p, a, b)


def transpose_eval(lin: Graph, cts: list) -> list:
    """Cotangents of a linear Graph's inputs, given its outputs' cotangents
    (``None`` = zero). Returns ``None`` for inputs that get no cotangent."""
    with np.errstate(all="ignore"):
        return _transpose_eval(lin, cts)


def _transpose_eval(lin, cts):
    env = dict(zip(lin.constvars, lin.consts))
    ct: dict = {}
    linear_vars = set(lin.invars)
    for eqn in lin.eqns:
        if any(not isinstance(x, Lit) and x in linear_vars for x in eqn.inputs):
            linear_vars.add(eqn.outvar)
    for o, c in zip(lin.outvars, cts):
        if c is not None and o is not None and not isinstance(o, Lit) and o in linear_vars:
            ct[o] = _add(ct[o], c) if o in ct else c

    for eqn in reversed(lin.eqns):
        c = ct.pop(eqn.outvar, None)
        if c is None:
            continue
        args = []
        for x in eqn.inputs:
            if isinstance(x, Lit):
                args.append(x.val)
            elif x in linear_vars:
                args.append(UndefinedPrimal(x.aval))
            else:
                args.append(env[x])
        prim = eqn.prim
        if prim.transpose is None:
            raise NotImplementedError(f"internal error: '{prim.name}' in a linear program has no transpose rule")
        if _debug.STATE[0]:       # some context debugs NaNs: suspend its checks in the rule
            tok = _debug.suspend()
            try:
                in_cts = prim.transpose(c, *args, **eqn.params)
            finally:
                _debug.resume(tok)
        else:
            in_cts = prim.transpose(c, *args, **eqn.params)
        if _debug.STATE[0] and _debug.enabled():
            for ic in in_cts:
                if ic is not None and not hasattr(ic, "_builder"):
                    _debug.check_rule(ic, [c], f"the backward pass (transpose of '{prim.name}')", eqn.info)
        for x, a, ic in zip(eqn.inputs, args, in_cts):
            if ic is not None and isinstance(a, UndefinedPrimal):
                ic = match_dtype(ic, a.aval.dtype)
                ct[x] = _add(ct[x], ic) if x in ct else ic
    return [ct.get(v) for v in lin.invars]


# -- the backward program of a concrete trace, derived once per structure --------------------
#
# Linearizing and transposing a small Graph costs far more than evaluating it. For a
# trace whose values are all concrete (NumPy values, no enclosing transformation), the
# whole backward pass is staged once: linearize + transpose run on abstract tracers that
# stand for the forward values and the output cotangents, which records the program
# ``(forward values, cotangents) -> input cotangents``: the very primitives, in the same
# order, that eager linearize + transpose would apply to this trace's values. It is
# cached under an exact key of the traced Graph (primitives, params, wiring, abstract
# values, literal values), and each call evaluates it on its own trace's values. For
# 0-d float64 programs of IEEE-exact operations the evaluation uses Python floats;
# results that are NaN are left to the NumPy program (see ``has_nan``). A grad function
# also keeps its last trace: a trace that repeats it exactly (``Builder(expect=...)``)
# runs that trace's program without computing the key.

#: how many backward programs are kept (least recently used ones are dropped); 0 turns
#: them off (every backward pass is derived per call)
CACHE_SIZE = 256
#: traces with more equations than this are linearized per call, not keyed
MAX_KEY_EQNS = 2000
#: literal arrays larger than this (elements) make a trace uncacheable
MAX_KEY_LITERAL = 256
_CACHE: dict = {}           # key -> _Program or _NO_PROGRAM, least recently used first
_CACHE_SEEN: dict = {}      # keys seen once (no program yet), least recently seen first
_NO_PROGRAM = "no program"      # a structure whose backward pass must be derived per call
_F64 = np.dtype(np.float64)
_BOOL = np.dtype(np.bool_)


def _aval(x):
    """The abstract value of a NumPy cotangent."""
    return F64_SCALAR if type(x) is np.float64 else ShapedArray(np.shape(x), x.dtype)


def _remember(cache, key, value):
    """Insert a new ``key`` as the most recently used entry, dropping the least recent
    beyond CACHE_SIZE entries."""
    while len(cache) >= CACHE_SIZE:
        del cache[next(iter(cache))]
    cache[key] = value


def _exact(v, arrays=True):
    """A hashable stand-in for a literal or parameter, equal only for equal values and
    types (0.0 and -0.0, 1 and 1.0 and True, NaN payloads differ); None if unknown."""
    t = type(v)
    if t is float:
        return (float, v) if v == v and v != 0.0 else (float, struct.pack("<d", v))
    if t is int or t is bool or t is str or v is None:
        return (t, v)
    if t is tuple:
        items = tuple(_exact(x, arrays) for x in v)
        return None if None in items else (tuple, items)
    if t is np.ndarray:
        if not arrays or v.size > MAX_KEY_LITERAL or v.dtype.hasobject:
            return None
        return (np.ndarray, v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic) and not isinstance(v, np.object_):
        return (t, v.tobytes())
    if isinstance(v, np.dtype):
        return (np.dtype, v.str)
    if t is complex:
        return (complex, struct.pack("<dd", v.real, v.imag))
    if t is type:
        return (type, v)
    return None


def _aval_key(a):
    return 0 if a is F64_SCALAR else (a.shape, a.dtype)


_REGISTERED: set = set()


def _registered(prim):
    """Whether ``prim`` is a built-in primitive record (not one carrying user rules)."""
    if prim in _REGISTERED:
        return True
    if REGISTRY.get(prim.name) is prim:
        _REGISTERED.add(prim)
        return True
    return False


def _graph_key(graph, cts):
    """An exact key of a concrete trace and its output cotangents (a flat tuple), or
    None when it cannot have one (user rules, captured values, large literals, ...).

    Variables are numbered in definition order; each equation enters as its
    primitive, its parameters (raw ints and strings, tagged tuples otherwise), its
    number of inputs, each input (a variable's number, or a literal's type and
    exact value) and its output's abstract value."""
    if graph.constvars or len(graph.eqns) > MAX_KEY_EQNS:
        return None
    invars = graph.invars
    key = [len(invars), len(graph.eqns), len(graph.outvars), len(cts)]
    pos = {}
    for v in invars:
        pos[v] = len(pos)
        a = v.aval
        key.append(0 if a is F64_SCALAR else (a.shape, a.dtype))
    n = len(invars)
    for eqn in graph.eqns:
        prim = eqn.prim
        if prim not in _REGISTERED and not _registered(prim):
            return None                # a user rule (custom_jvp, ...) runs on every call
        key.append(prim)
        if eqn.params:
            for name, v in eqn.params.items():
                if type(v) is not int and type(v) is not str:
                    v = _exact(v, arrays=False)
                    if v is None:
                        return None
                key.append(name)
                key.append(v)
        inputs = eqn.inputs
        key.append(len(inputs))
        for x in inputs:
            if type(x) is Lit:
                v = x.val
                t = type(v)
                k = (t, v) if t is int or (t is float and v != 0.0 and v == v) else _exact(v)
                if k is None:
                    return None
                key.append(k)
            else:
                key.append(pos[x])
        out = eqn.outvar
        pos[out] = n
        n += 1
        a = out.aval
        key.append(0 if a is F64_SCALAR else (a.shape, a.dtype))
    for o in graph.outvars:
        if o is None or type(o) is Lit:
            k = (None,) if o is None else _exact(o.val)
            if k is None:
                return None
            key.append(k)
        else:
            key.append(pos[o])
    for c in cts:
        if type(c) is not np.ndarray and not isinstance(c, np.generic):
            return None                # only NumPy cotangents (a Python number has no dtype)
        key.append((type(c), _aval_key(_aval(c))))
    return tuple(key)


def _smul(x, y):
    # safe_mul on Python floats: 0 * inf = 0 (exactly as _safe_mul_impl)
    r = x * y
    if r != r and (x == 0 or y == 0):
        return 0.0
    return r


def _div(x, y):
    if y:
        return x / y
    with np.errstate(all="ignore"):
        return float(np.true_divide(x, y))


def _select(c, x, y):
    return x if c else y


#: Python-float forms of primitives whose IEEE result is exactly NumPy's (no libm calls)
_SCALAR_FNS = {_ew.add_p: operator.add, _ew.sub_p: operator.sub, _ew.mul_p: operator.mul,
               _ew.neg_p: operator.neg, _ew.safe_mul_p: _smul, _ew.div_p: _div, _ew.abs_p: abs}
_SCALAR_CMP = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
               "eq": operator.eq, "ne": operator.ne}
_POW = {0: lambda x: 1.0, 1: lambda x: x, 2: lambda x: x * x}


def _scalar_kind(x):
    """``float`` or ``bool`` for a 0-d float64 / bool input (variable or literal), else None."""
    if type(x) is Lit:
        v = _scalar_lit(x.val)
        return None if v is None else type(v)
    a = x.aval
    if a.shape != ():
        return None
    return float if a.dtype is _F64 else bool if a.dtype is _BOOL else None


def _scalar_fn(eqn):
    """The Python-number function computing ``eqn`` exactly as NumPy does, or None."""
    prim, params = eqn.prim, eqn.params
    kinds = [_scalar_kind(x) for x in eqn.inputs]
    if prim is _ew.select_p:
        return _select if kinds == [bool, float, float] and _scalar_kind(eqn.outvar) is float else None
    if any(k is not float for k in kinds):
        return None
    if prim is _ew.compare_p:
        return _SCALAR_CMP.get(params["op"])
    if _scalar_kind(eqn.outvar) is not float:
        return None
    if prim is _ew.integer_pow_p:
        return _POW.get(params["n"])
    if prim is _ew.convert_p:
        return _POW[1]
    if prim is _ew.safe_mul_p and any(type(x) is Lit and _finite_nonzero(_scalar_lit(x.val)) for x in eqn.inputs):
        return operator.mul            # times a finite nonzero constant: never 0 * inf
    return _SCALAR_FNS.get(prim)


def has_nan(xs):
    """Whether a NaN is among the Python floats ``xs`` (Nones allowed). Python's
    arithmetic passes on the second of two NaN operands, NumPy's ufuncs the first: the
    scalar programs leave results that are NaN to the NumPy program."""
    for x in xs:
        if x != x:
            return True
    return False


def _finite_nonzero(v):
    return type(v) is float and v != 0.0 and math.isfinite(v)


def _scalar_lit(v):
    """A literal as the Python number the scalar program uses (bool stays bool), or None."""
    t = type(v)
    if t is bool:
        return v
    if t is int or t is float or t is np.float64 or (t is np.ndarray and v.dtype is _F64 and not v.shape):
        try:
            return float(v)
        except OverflowError:
            return None
    return None


class _Program:
    """A backward program compiled to steps over one flat list of values: literals,
    the forward values it needs, the cotangents, then each step's result."""

    __slots__ = ("needed", "lits", "steps", "outs", "in_mask", "scalar", "scalar_lits", "conv",
                 "binary", "ct_sig", "repeatable", "graph", "compiled")

    def __init__(self, bwd: Graph, n_fwd: int, in_mask, ct_sig, repeatable):
        self.in_mask = in_mask
        self.ct_sig = ct_sig            # the cotangents' types and abstract values
        self.repeatable = repeatable    # its traces hold no mutable literal (see ``Builder``)
        live = {o for o in bwd.outvars if o is not None and type(o) is not Lit}
        eqns = []
        for eqn in reversed(bwd.eqns):        # only what the cotangents need
            if eqn.outvar in live:
                eqns.append(eqn)
                live.update(x for x in eqn.inputs if type(x) is not Lit)
        eqns.reverse()
        fwd = bwd.invars[:n_fwd]
        self.needed = [i for i, v in enumerate(fwd) if v in live]
        # literal arrays are copied: the key holds their contents, not the objects
        lits = [np.array(x.val, copy=True, order="K") if type(x.val) is np.ndarray else x.val
                for e in eqns for x in e.inputs if type(x) is Lit]
        inputs = [fwd[i] for i in self.needed] + bwd.invars[n_fwd:]
        slot = {}
        for v in inputs:
            slot[v] = len(lits) + len(slot)
        kinds = [_scalar_kind(v) for v in slot]
        self.conv = kinds[:len(self.needed)]
        scalar = all(k is not None for k in kinds) and all(k is float for k in kinds[len(self.needed):])
        steps, fns = [], []
        k = 0
        for eqn in eqns:
            ins = []
            for x in eqn.inputs:
                if type(x) is Lit:
                    ins.append(k)
                    k += 1
                else:
                    ins.append(slot[x])
            slot[eqn.outvar] = len(lits) + len(slot)
            impl = eqn.prim.impl
            steps.append((functools.partial(impl, **eqn.params) if eqn.params else impl, tuple(ins)))
            fn = _scalar_fn(eqn) if scalar else None
            scalar = fn is not None
            fns.append(fn)
        self.lits, self.steps = lits, steps
        self.outs = [None if o is None else ("lit", np.array(o.val, copy=True, order="K") if type(o.val) is np.ndarray
                                             else o.val) if type(o) is Lit else slot[o] for o in bwd.outvars]
        self.scalar = None
        self.graph = None               # the scalar program as a Graph (for code generation)
        self.compiled = None            # its generated code for grad's seed (api._generated; False: none)
        if scalar and all(o is None or type(o) is int for o in self.outs):
            self.graph = Graph(inputs, [], [], eqns, bwd.outvars)
            # (fn, i, j, k): the slots of up to three inputs (-1: none)
            self.scalar = [(fn, *ins, *(-1,) * (3 - len(ins))) for fn, (_, ins) in zip(fns, steps)]
            self.scalar_lits = [_scalar_lit(v) for v in lits]
            self.binary = all(len(ins) == 2 for _, ins in steps)

    def run(self, graph, values, cts):
        """``(input cotangents, in_mask)`` of a trace of this program's structure, from
        its ``values`` and the output cotangents (None: zero)."""
        n_in = len(graph.invars)
        invars, eqns = graph.invars, graph.eqns
        fvals = [values[invars[i] if i < n_in else eqns[i - n_in].outvar] for i in self.needed]
        if self.scalar is not None:
            # Python numbers: no NumPy dispatch, and no NumPy warnings to silence
            env = self.scalar_lits + [c(v) for c, v in zip(self.conv, fvals)]
            for c in cts:
                env.append(float(c))
            try:
                if self.binary:
                    for fn, i, j, _ in self.scalar:
                        env.append(fn(env[i], env[j]))
                else:
                    for fn, i, j, k in self.scalar:
                        env.append(fn(env[i]) if j < 0 else fn(env[i], env[j]) if k < 0 else
                                   fn(env[i], env[j], env[k]))
            except (ArithmeticError, ValueError):
                pass                   # NumPy's program decides what NumPy would do
            else:
                out = [None if o is None else env[o] for o in self.outs]
                if not has_nan(out):   # (a NaN's sign and payload are NumPy's to decide)
                    return out, self.in_mask
        env = self.lits + fvals + list(cts)
        with np.errstate(all="ignore"):
            for fn, ins in self.steps:
                env.append(fn(*[env[i] for i in ins]))
        return [None if o is None else env[o] if type(o) is int else
                o[1].copy() if type(o[1]) is np.ndarray else o[1] for o in self.outs], self.in_mask


def _stage(graph: Graph, cts) -> _Program:
    """Linearize + transpose ``graph`` on abstract values: the backward program."""
    b = Builder("grad")
    fvars = list(graph.invars) + [e.outvar for e in graph.eqns]
    args = [b.new_arg(v.aval) for v in fvars]
    ct_args = [b.new_arg(_aval(c)) for c in cts]
    lin = linearize_graph(graph, dict(zip(fvars, args)))
    in_cts = transpose_eval(lin, ct_args)
    bwd = b.finish([t._var for t in args + ct_args], in_cts)
    lits = [x.val for e in graph.eqns for x in e.inputs if type(x) is Lit]
    lits += [o.val for o in graph.outvars if type(o) is Lit]
    repeatable = all(type(v) in (bool, int, float, complex) or isinstance(v, np.generic) for v in lits)
    return _Program(bwd, len(fvars), lin.in_mask, _ct_sig(cts), repeatable)


def programs_enabled() -> bool:
    """Whether backward programs are used (not under debug_nans, CACHE_SIZE > 0)."""
    return CACHE_SIZE > 0 and not (_debug.STATE[0] and _debug.enabled())


def _ct_sig(cts):
    """The cotangents' types and abstract values (as in the key)."""
    return tuple((np.float64, 0) if type(c) is np.float64 else
                 (type(c), _aval_key(_aval(c)) if isinstance(c, (np.ndarray, np.generic)) else None)
                 for c in cts)


def _plain_inputs(graph, values):
    """Whether the trace's inputs are NumPy values (no enclosing transformation)."""
    for v in graph.invars:
        if type(values.get(v)) not in PLAIN_TYPES:
            return False
    return True


def backward_program(graph: Graph, values: dict, cts: list):
    """The cached backward program of a concrete trace's structure, for ``cts``;
    None when there is none (then linearize + transpose this trace)."""
    if not programs_enabled() or not _plain_inputs(graph, values):
        return None                    # checking NaNs, or inside another transformation
    key = _graph_key(graph, cts)
    if key is None:
        return None
    prog = _CACHE.pop(key, None)
    if prog is None:
        # a structure seen once is differentiated eagerly; the second time, its program
        # is derived (so a trace that differs on every call never pays for staging)
        if _CACHE_SEEN.pop(key, None) is None:
            _remember(_CACHE_SEEN, key, True)
            return None
        try:
            prog = _stage(graph, cts)
        except Exception:
            prog = _NO_PROGRAM         # e.g. a rule that needs concrete values: per call
        _remember(_CACHE, key, prog)
    else:
        _CACHE[key] = prog             # now the most recently used
    return None if prog is _NO_PROGRAM else prog


def repeated_program(prog, graph: Graph, values: dict, cts: list):
    """``prog`` if it is the program of this trace, which repeated exactly the Graph
    ``prog`` was found for (``Builder.repeated``), for these cotangents; else None."""
    if prog is None or not programs_enabled() or not _plain_inputs(graph, values):
        return None
    return prog if _ct_sig(cts) == prog.ct_sig else None
