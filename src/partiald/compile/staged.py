"""Staged programs: what a repeated eager call reuses instead of redoing.

Eager ``grad(f)(x)`` traces ``f`` and differentiates the trace on every call. For a
function called again and again on values of the same types, the work that depends
only on the structure of the trace is done once:

* **float forms** (``float_op``): an exact primitive applied to NumPy float64 scalars
  (and Python numbers) is computed by its ``python`` lowering, i.e. NumPy's scalar
  arithmetic, without a ufunc's dispatch. The Builder of an eager trace records with
  them, and **replays** a grad function's last trace with them (``Builder.replay``,
  its plans made here by ``replay_plans``): each equation that repeats the last trace's
  reuses its variable, so a trace that repeats it whole needs no new Graph.
* **backward programs** (``backward_program``): linearize + transpose run once on
  abstract values, which records the program ``(forward values, cotangents) -> input
  cotangents``: the very primitives, in the same order, that the eager derivation
  would apply to this trace's values. It is cached under an exact key of the traced
  Graph and runs on each call's values with the primitives' NumPy implementations, or,
  when every value is a 0-d float64 (or bool) and every primitive has an exact
  ``python`` lowering, as generated straight-line Python-float code (``float_source``).

Every fast form gives NumPy's result bit for bit: only lowerings whose record says
``exact`` are used; float code that raises (1/0, overflow in Python) or gives a NaN
(Python and NumPy pass on different NaN operands) leaves the result to NumPy.
"""
from __future__ import annotations

import functools
import itertools
import math
import operator

import numpy as np

from ..core import debug as _debug
from ..core.graph import F64_SCALAR, Eqn, Graph, Lit, ShapedArray
from ..core.primitive import PLAIN_TYPES, REGISTRY
from ..core.trace import Builder, literal_key, plan_replay
from ..ops import elementwise as _ew
from ..transforms.reverse import linearize_graph, transpose_eval
from .codegen import PYTHON_NAMESPACE, _run

_F64 = np.dtype(np.float64)
_BOOL = np.dtype(np.bool_)


# -- the primitives' python lowering ------------------------------------------------------

def _python_expr(prim, args, params):
    """``prim``'s ``python`` lowering over the argument names ``args``, or None."""
    lower = prim.lowerings.get("python")
    return lower(args, params) if lower is not None else None


def _exact(prim, params) -> bool:
    """Whether ``prim``'s record says its ``python`` lowering rounds exactly as NumPy
    for ``params``."""
    exact = prim.exact
    return bool(exact(params)) if callable(exact) else exact is True


#: lowerings that are one Python operator on the arguments run as that operator
_OPERATORS = {"(_a0 + _a1)": operator.add, "(_a0 - _a1)": operator.sub, "(_a0 * _a1)": operator.mul,
              "(_a0 / _a1)": operator.truediv, "(-_a0)": operator.neg}
_FORMS: dict = {}           # (prim, n_args, parameter keys) -> (fn, type or None) or None
MAX_FORMS = 1024
#: the values a float form is checked on against ``prim.impl``: every one, every pair,
#: and for three arguments (select) every pair after a first one of 0.0, 1.0 or NaN
_SPECIAL = (0.0, -0.0, 1.5, -2.25, 3.0, math.inf, -math.inf, math.nan, 5e-324, 1.7e308)


def _float_form(prim, params, n_args):
    """``(fn, type)``: ``fn(*args)``, made from ``prim``'s exact ``python`` lowering,
    computes ``prim(*args, **params)`` on Python floats as ``prim.impl`` does, bit for
    bit, wherever it neither raises nor gives a NaN; and on NumPy float64 scalars too,
    wherever its result has ``type``, the type ``prim.impl`` gives (``type`` None: not
    on NumPy scalars). None where there is no such form. Made once per primitive and
    parameters, and checked then on special values (a record's ``exact`` that does not
    hold, e.g. a NaN operand lost, leaves the primitive to NumPy)."""
    if not prim.exact or "python" not in prim.lowerings or n_args > 3:
        return None
    key = (prim, n_args, *[(k, literal_key(v)) for k, v in params.items()]) if params else (prim, n_args)
    form = _FORMS.get(key, _MISSING)
    if form is _MISSING:
        form = _make_form(prim, params, n_args) if None not in key[2:] else None
        if len(_FORMS) >= MAX_FORMS:
            _FORMS.clear()
        _FORMS[key] = form
    return form


_MISSING = object()


def _make_form(prim, params, n_args):
    if not _exact(prim, params):
        return None
    names = [f"_a{i}" for i in range(n_args)]
    expr = _python_expr(prim, names, params)
    if expr is None:
        return None
    fn = _OPERATORS.get(expr)
    if fn is None:
        ns = dict(PYTHON_NAMESPACE)
        _run(f"def _float_form({', '.join(names)}):\n    return {expr}\n", ns)
        fn = ns["_float_form"]
    cases = itertools.product(*[(0.0, 1.0, math.nan) if n_args == 3 and i == 0 else _SPECIAL
                                for i in range(n_args)])
    np_type = _UNSET
    with np.errstate(all="ignore"):
        for args in cases:
            try:
                expected = prim.impl(*args, **params)
            except Exception:
                return None
            t = type(expected)
            if t is np.ndarray and expected.shape == ():
                expected = expected[()]         # (the value counts; the type only on NumPy scalars)
                np_type = None
            if type(expected) is not np.float64 and type(expected) is not np.bool_:
                return None
            try:
                got = fn(*args)
            except (ArithmeticError, ValueError):
                got = None              # (float code leaves this to NumPy)
            if got is not None and not _same_number(got, expected):
                return None
            if np_type is not None:     # on NumPy scalars: the same where of the same type
                try:
                    got = fn(*map(np.float64, args))
                except Exception:
                    np_type = None
                    continue
                if type(got) is t:
                    if got.tobytes() != expected.tobytes() and got == got:
                        np_type = None
                    elif np_type is _UNSET:
                        np_type = t
    return fn, (None if np_type is _UNSET else np_type)


_UNSET = object()


def _same_number(got, expected):
    """Whether a float form's Python number is NumPy's ``expected`` bit for bit (a NaN
    only needs to be NaN: float code leaves NaN results to NumPy)."""
    if type(expected) is np.bool_:
        return type(got) in (bool, np.bool_) and bool(got) == bool(expected)
    if type(got) not in (float, np.float64):
        return False
    return got != got and expected != expected or np.float64(got).tobytes() == expected.tobytes()


def float_op(prim, params, n_args):
    """``(fn, type)``: ``fn(*args)`` computes ``prim(*args, **params)`` on NumPy float64
    scalars with Python numbers exactly as ``prim.impl`` does where its result has
    ``type`` (another type, or a NaN, leaves the result to ``prim.impl``): the
    primitive's exact ``python`` lowering, i.e. NumPy's scalar arithmetic without a
    ufunc's dispatch. None where there is none. For ``Builder(float_op=...)``."""
    key = (prim, n_args)
    if params:
        # (parameters that are ints and strings only are their own exact key)
        for v in params.values():
            if type(v) is not int and type(v) is not str:
                key = None
                break
        else:
            key = (prim, n_args, *params.items())
    op = _NUMPY_OPS.get(key, _MISSING)
    if op is _MISSING:
        form = _float_form(prim, params, n_args)
        op = form if form is not None and form[1] is not None else None
        if key is not None:
            if len(_NUMPY_OPS) >= MAX_FORMS:
                _NUMPY_OPS.clear()
            _NUMPY_OPS[key] = op
    return op


_NUMPY_OPS: dict = {}       # (prim, n_args, int and str parameters) -> float_op's answer


def replay_plans(graph: Graph) -> list:
    """``Builder.replay``'s plans for ``graph``, with the float forms of ``float_op``."""
    return plan_replay(graph, float_op)


# -- straight-line Python-float code ----------------------------------------------------------

def _float_literal(v):
    """A literal as the Python number float code computes with (a bool stays a bool), or
    None: an integer beyond 2**53, another type, or not 0-d float64."""
    t = type(v)
    if t is bool:
        return v
    if t is int:
        return float(v) if abs(v) <= 2 ** 53 else None
    if t is float or t is np.float64 or (t is np.ndarray and v.dtype is _F64 and not v.shape):
        return float(v)
    return None


def _kind(x):
    """``float`` or ``bool`` for a 0-d float64 / bool variable or literal, else None."""
    if type(x) is Lit:
        v = _float_literal(x.val)
        return None if v is None else type(v)
    a = x.aval
    if a.shape != ():
        return None
    return float if a.dtype is _F64 else bool if a.dtype is _BOOL else None


def _finite_nonzero(x):
    return type(x) is Lit and type(v := _float_literal(x.val)) is float and v != 0.0 and math.isfinite(v)


def float_source(graph: Graph, name: str, zero="None"):
    """Python-float source of ``graph`` (0-d float64 and bool values, exact primitives
    only) and its namespace, or ``(None, None)``. The function takes the graph's
    inputs (NumPy or Python scalars: float inputs are converted) and returns the tuple
    of its outputs as Python numbers (``zero`` for a None output), or None where NumPy
    must decide: the code raised, or an output is a NaN."""
    if graph.constvars:
        return None, None
    ns = dict(PYTHON_NAMESPACE)
    names = {}
    lines = []
    for i, v in enumerate(graph.invars):
        k = _kind(v)
        if k is None:
            return None, None
        names[v] = f"_a{i}"
        if k is float:
            lines.append(f"        _a{i} = float(_a{i})")

    def ref(x):
        if type(x) is not Lit:
            return names[x]
        v = _float_literal(x.val)
        if type(v) is float and not math.isfinite(v):
            k = f"_k{len(ns)}"
            ns[k] = v
            return k
        return f"({v!r})" if math.copysign(1.0, v) < 0 else repr(v)

    for i, eqn in enumerate(graph.eqns):
        prim, params = eqn.prim, eqn.params
        kinds = [_kind(x) for x in eqn.inputs]
        out = _kind(eqn.outvar)
        if out is None or None in kinds:
            return None, None
        # a bool is taken only as select's condition: Python's arithmetic on bools gives ints
        if not (all(k is float for k in kinds) or (prim is _ew.select_p and kinds == [bool, float, float]
                                                   and out is float)):
            return None, None
        if prim is _ew.safe_mul_p and any(_finite_nonzero(x) for x in eqn.inputs):
            prim = _ew.mul_p                    # times a finite nonzero constant: never 0 * inf
        form = _float_form(prim, params, len(eqn.inputs))
        expr = _python_expr(prim, [ref(x) for x in eqn.inputs], params) if form is not None else None
        if expr is None:
            return None, None
        names[eqn.outvar] = f"_v{i}"
        lines.append(f"        _v{i} = {expr}")
    outs, nan_checks = [], []
    for o in graph.outvars:
        if o is None:
            outs.append(zero)
        elif type(o) is Lit:
            if type(_float_literal(o.val)) is not float:
                return None, None
            outs.append(ref(o))
        else:
            outs.append(names[o])
            if _kind(o) is float and names[o] not in nan_checks:
                nan_checks.append(names[o])
    src = [f"def {name}(" + ", ".join(names[v] for v in graph.invars) + "):"]
    if lines:
        src += ["    try:", *lines, "    except (ArithmeticError, ValueError):", "        return None"]
    if nan_checks:
        src.append("    if " + " or ".join(f"{n} != {n}" for n in nan_checks) + ":")
        src.append("        return None")
    src.append("    return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")
    return "\n".join(src) + "\n", ns


def _float_code(graph, name, zero="None"):
    """The function of ``float_source``, or None."""
    source, ns = float_source(graph, name, zero)
    if source is None:
        return None
    _run(source, ns)
    fn = ns[name]
    fn.source = source
    return fn


# -- backward programs, cached per exact structure of a trace ----------------------------------

#: how many backward programs are kept (least recently used ones are dropped); 0 turns
#: them off (every backward pass is derived per call)
CACHE_SIZE = 256
#: traces with more equations than this are linearized per call, not keyed
MAX_KEY_EQNS = 2000
#: literal arrays larger than this (elements) make a trace uncacheable
MAX_KEY_LITERAL = 256
_CACHE: dict = {}           # key -> Program or _NO_PROGRAM, least recently used first
_CACHE_SEEN: dict = {}      # keys seen once (no program yet), least recently seen first
_NO_PROGRAM = "no program"      # a structure whose backward pass must be derived per call
#: grad's seed cotangent of a float64 scalar output, and its signature (``_ct_sig``)
SEED_SIG = ((np.float64, 0),)


def _aval(x):
    """The abstract value of a NumPy cotangent."""
    return F64_SCALAR if type(x) is np.float64 else ShapedArray(np.shape(x), x.dtype)


def _aval_key(a):
    return 0 if a is F64_SCALAR else (a.shape, a.dtype)


def _remember(cache, key, value):
    """Insert a new ``key`` as the most recently used entry, dropping the least recent
    beyond CACHE_SIZE entries."""
    while len(cache) >= CACHE_SIZE:
        del cache[next(iter(cache))]
    cache[key] = value


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
    primitive, its parameters (raw ints and strings, ``literal_key`` otherwise), its
    number of inputs, each input (a variable's number, or a literal's key) and its
    output's abstract value."""
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
                    v = literal_key(v)
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
                k = (t, v) if t is int or (t is float and v != 0.0 and v == v) else literal_key(v, MAX_KEY_LITERAL)
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
            k = (None,) if o is None else literal_key(o.val, MAX_KEY_LITERAL)
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


class Program:
    """A backward program compiled to steps over one flat list of values: literals, the
    forward values it needs (``needed``: their positions among the trace's inputs and
    equation outputs), the cotangents, then each step's result; and, where it has one,
    its Python-float code (``floats``)."""

    __slots__ = ("needed", "lits", "steps", "outs", "in_mask", "ct_sig", "repeatable", "graph",
                 "floats", "_seeded")

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
        steps = []
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
        self.lits, self.steps = lits, steps
        self.outs = [None if o is None else ("lit", np.array(o.val, copy=True, order="K") if type(o.val) is np.ndarray
                                             else o.val) if type(o) is Lit else slot[o] for o in bwd.outvars]
        # the program as a Graph of (needed forward values, cotangents)
        self.graph = Graph(inputs, [], [], eqns, bwd.outvars)
        # Python-float code: its results are Python numbers, as NumPy's would be finalized
        self.floats = None
        if all(o is None or type(o) is int for o in self.outs):
            self.floats = _float_code(self.graph, "_backward")
        self._seeded = None

    def run(self, graph, values, cts):
        """``(input cotangents, in_mask)`` of a trace of this program's structure, from
        its ``values`` and the output cotangents (None: zero)."""
        n_in = len(graph.invars)
        invars, eqns = graph.invars, graph.eqns
        fvals = [values[invars[i] if i < n_in else eqns[i - n_in].outvar] for i in self.needed]
        if self.floats is not None:
            out = self.floats(*fvals, *cts)
            if out is not None:
                return list(out), self.in_mask
        env = self.lits + fvals + list(cts)
        with np.errstate(all="ignore"):
            for fn, ins in self.steps:
                env.append(fn(*[env[i] for i in ins]))
        return [None if o is None else env[o] if type(o) is int else
                o[1].copy() if type(o[1]) is np.ndarray else o[1] for o in self.outs], self.in_mask

    def seeded(self):
        """The Python-float code of this program for grad's seed (the cotangent 1.0 of a
        float64 scalar output, a literal of the code): a function of the needed forward
        values giving the gradient's Python floats (0.0 for a zero), or None where NumPy
        must decide; None (the method's result) where there is no such code."""
        if self._seeded is None:
            self._seeded = False
            if self.ct_sig == SEED_SIG and self.floats is not None:
                g = self.graph
                *invars, ct = g.invars
                one = Lit(1.0)
                eqns = [Eqn(e.prim, [one if x is ct else x for x in e.inputs], e.params, e.outvar) for e in g.eqns]
                seeded = Graph(invars, [], [], eqns, [one if o is ct else o for o in g.outvars])
                self._seeded = _float_code(seeded, "_backward_seeded", zero="0.0") or False
        return self._seeded or None


def _stage(graph: Graph, cts) -> Program:
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
    return Program(bwd, len(fvars), lin.in_mask, _ct_sig(cts), repeatable)


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
