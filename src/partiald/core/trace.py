"""Tracing: running Python functions on Tracers to record Graphs.

A Builder records equations into a Graph. Builders nest: each transformation
opens a new one, newer builders are inner ones, and ``bind`` records into the
innermost builder among its arguments. A tracer of an outer builder that
reaches an inner one becomes a captured constant of the inner Graph, so an
inner derivative never sees an outer perturbation.

A Tracer carries the value it stands for when one is known (a NumPy array,
or a tracer of the enclosing builder), so Python ``if``/``for`` on values work
while tracing; a Tracer with no value (``val is None``) is abstract, as inside
a linearization or ``jit``.

A Builder told to ``replay`` a Graph (the last trace of the same function)
checks each equation against it, exactly, instead of recording a new one; once
the trace departs from it, recording goes on from the equations repeated so far.
``repeated`` tells whether the whole trace was that Graph. What each equation is
checked against, and the float form that computes it, is its plan
(``plan_replay``; compile/staged.py makes them from the primitives' lowerings).
"""
from __future__ import annotations

import itertools
import re
import struct
import sys

import numpy as np

from . import debug as _debug
from .errors import EscapedTracerError, TracerConversionError
from .graph import F64_SCALAR, SCALAR_AVALS, Eqn, Graph, Lit, ShapedArray, Var, aval_of
from .primitive import PLAIN_TYPES, bind

_DEBUG = _debug.STATE

_builder_ids = itertools.count(1)
_LITERAL_TYPES = frozenset({bool, int, float, complex, np.ndarray, np.float64, np.float32, np.bool_})


class Builder:
    """Records equations into a Graph; one per transformation level."""

    def __init__(self, name="trace", float_op=None):
        self.id = next(_builder_ids)
        self.name = name
        # ``float_op(prim, params, n_args)``: ``(fn, type)`` where ``fn`` computes ``prim``
        # on NumPy float64 scalars with Python numbers exactly as ``prim.impl`` does, its
        # result of that type (compile/staged.py); None: ``prim.impl`` computes everything
        self._float_op = float_op
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self._const_ids: dict[int, Var] = {}
        self.values: dict = {}          # var -> value at the level below (None if abstract)
        self.active = True
        # Replaying a Graph (``replay``): while the trace applies exactly its equations,
        # in order, it reuses their variables instead of recording new ones; ``repeated``
        # (set by ``finish``) says the whole trace was that Graph (see ``process``).
        self._expect = None
        self._plans = None
        self._n_expect = 0
        self._cursor = 0                # equations of ``_expect`` repeated so far
        self._n_args = 0
        self.repeated = False

    def replay(self, graph: Graph, plans=None, args=None):
        """Expect the trace to repeat ``graph`` exactly (the last trace of the same
        function): call before the first ``new_arg``. ``plans``: ``plan_replay(graph,
        float_op)``, made once per Graph (default: with this Builder's float_op). Each input
        from ``new_arg`` and each equation that repeats ``graph``'s own (same primitive,
        parameters, inputs, literal values bit for bit, and output abstract value)
        reuses its variable; from the first one that does not, recording goes on after
        the equations repeated so far. ``args``: the values of all the trace's inputs at
        once: returns their tracers (what ``new_arg`` would)."""
        if self._n_args or self.eqns:
            raise ValueError("Builder.replay must come before the trace's first input")
        if plans is None:
            plans = plan_replay(graph, self._float_op)
        self._expect = graph
        self._plans = plans
        self._n_expect = len(plans)
        if args is None:
            return None
        invars = graph.invars
        if len(args) == len(invars):
            values = self.values
            tracers = []
            for v, x in zip(invars, args):
                if type(x) is not _F64 or v.aval is not F64_SCALAR:
                    break               # (the common case here; new_arg for the others)
                values[v] = x
                tracers.append(Tracer(self, v, x))
            else:
                self._n_args = len(tracers)
                return tracers
            values.clear()
        return [self.new_arg(aval_of(x), x) for x in args]

    def repeated_output(self, out) -> bool:
        """Whether the trace so far, its inputs the ``new_arg`` tracers in order, repeated
        the whole replayed Graph and ``out`` is that Graph's single output: then the
        Builder is finished without building a Graph (``repeated`` is set; the tracers
        are closed) and ``values`` holds this trace's values of the Graph's variables.
        False otherwise, and the Builder is left as it was. ``finish`` may follow either way."""
        exp = self._expect
        if (exp is not None and self._cursor == self._n_expect and self._n_args == len(exp.invars)
                and not self.constvars and type(out) is Tracer and out._builder is self
                and len(exp.outvars) == 1 and out._var is exp.outvars[0]):
            self.eqns = exp.eqns
            self._expect = self._plans = None
            self.repeated = True
            self.active = False
            return True
        return False

    def __repr__(self):
        return f"<Builder {self.name}#{self.id}>"

    def new_arg(self, aval, val=None) -> "Tracer":
        n = self._n_args
        self._n_args = n + 1
        exp = self._expect
        v = None
        if exp is not None:
            if n < len(exp.invars) and (exp.invars[n].aval is aval or exp.invars[n].aval == aval):
                v = exp.invars[n]
            else:
                self._stop_repeating()
        if v is None:
            v = Var(aval)
        if val is not None:
            self.values[v] = val
        return Tracer(self, v, val)

    def lift(self, x):
        """The Var or Lit standing for ``x`` in this builder's graph."""
        if isinstance(x, Tracer):
            b = x._builder
            if b is self:
                return x._var
            if not b.active:
                raise _escaped(x)
            if b.id > self.id:
                raise EscapedTracerError(
                    f"a value traced by an inner transformation ({b.name}) reached an outer one "
                    f"({self.name}); return it from the inner function instead of storing it")
            return self._capture(x)
        if isinstance(x, (bool, int, float, complex, np.generic, np.ndarray)):
            return Lit(x)
        b = getattr(x, "_builder", None)
        if b is not None and b.id < self.id and getattr(x, "aval", None) is not None:
            # a value of an interpreter below every trace (a formula node): a captured constant
            return self._capture(x)
        raise TypeError(f"value of type {type(x).__name__} cannot be used in a traced computation; "
                        "use NumPy arrays, Python numbers, or partiald.numpy functions")

    def _capture(self, x):
        """The constvar standing for an outer value ``x`` (one per value)."""
        v = self._const_ids.get(id(x))
        if v is None:
            v = Var(x.aval)
            self._const_ids[id(x)] = v
            self.constvars.append(v)
            self.consts.append(x)
            self.values[v] = x
        return v

    def process(self, prim, args, params):
        plans = self._plans
        if plans is not None:
            # Replaying: if ``prim(*args)`` is exactly the next equation (same primitive,
            # parameters, input variables, literal values and output abstract value),
            # that equation's variable stands for the value computed now.
            k = self._cursor
            if k < self._n_expect and not (_DEBUG[0] and _debug.enabled()):
                e_prim, e_params, param1, inputs, v, op, op_type = plans[k]
                if prim is e_prim and len(args) == len(inputs) and (
                        not (params or e_params)
                        or (param1 is not None and len(params) == 1
                            and params.get(param1[0], _MISSING) is param1[1])
                        or _same_params(params, e_params)):
                    # each input: this trace's tracer of the same variable, or the same literal
                    # (two inputs, the common case, without a loop)
                    vals = None
                    if len(args) == 2:
                        a, b = args
                        x, y = inputs
                        if type(a) is Tracer:
                            ok = a._var is x and a._builder is self
                            a = a._val
                        else:
                            ok = type(x) is Lit and (a is x.val or same_literal(a, x.val))
                        if ok:
                            if type(b) is Tracer:
                                ok = b._var is y and b._builder is self
                                b = b._val
                            else:
                                ok = type(y) is Lit and (b is y.val or same_literal(b, y.val))
                            if ok:
                                vals = (a, b)
                    elif len(args) == 1:
                        a = args[0]
                        x = inputs[0]
                        if type(a) is Tracer:
                            if a._var is x and a._builder is self:
                                vals = (a._val,)
                        elif type(x) is Lit and (a is x.val or same_literal(a, x.val)):
                            vals = (a,)
                    else:
                        vals = []
                        for a, x in zip(args, inputs):
                            if type(a) is Tracer:
                                if a._var is not x or a._builder is not self:
                                    vals = None
                                    break
                                a = a._val
                            elif type(x) is not Lit or (a is not x.val and not same_literal(a, x.val)):
                                vals = None
                                break
                            vals.append(a)
                    if vals is not None:
                        out_val = None
                        if op is not None:
                            # float64 scalars with Python numbers, one a float64 (``float_op``)
                            if len(vals) == 2:            # (the values a and b above)
                                ta, tb = type(a), type(b)
                                if (ta is _F64 and (tb is _F64 or tb is float or tb is int)) \
                                        or (tb is _F64 and (ta is float or ta is int)):
                                    out_val = op(a, b)
                            elif len(vals) == 1 and type(vals[0]) is _F64:
                                out_val = op(vals[0])
                        t = type(out_val)
                        if t is not op_type or out_val != out_val:
                            # no float form here, another type than impl's, or a NaN (of
                            # two NaN operands, NumPy's ufuncs pass on the first one's sign
                            # and payload, scalar arithmetic the second's): impl decides
                            out_val = None
                            for a in vals:
                                if type(a) not in PLAIN_TYPES:
                                    break           # (a value of an enclosing trace: record it)
                            else:
                                out_val = prim.impl(*vals, **params)
                                t = type(out_val)
                        if out_val is not None:
                            if t is _F64 and v.aval is F64_SCALAR:
                                pass                # (the common case of the check below)
                            else:
                                aval = SCALAR_AVALS.get(type(out_val)) or aval_of(out_val)
                                if aval is not v.aval and aval != v.aval:
                                    self._stop_repeating()
                                    v = Var(aval)       # recorded anew, with the value just computed
                                    self.eqns.append(Eqn(prim, [self.lift(a) for a in args], params, v))
                                    self.values[v] = out_val
                                    return Tracer(self, v, out_val)
                            self._cursor = k + 1
                            self.values[v] = out_val
                            return Tracer(self, v, out_val)
            self._stop_repeating()
        if not self.active:
            for a in args:
                if isinstance(a, Tracer) and a._builder is self:
                    raise _escaped(a)
        inputs = []
        vals = []
        abstract = False
        plain = True            # no tracer among the values: evaluate here, as ``bind`` would
        numbers = True          # only float64 scalars and Python floats/ints ...
        f64 = False             # ... one of them a float64 scalar
        for a in args:
            if isinstance(a, Tracer) and a._builder is self:
                inputs.append(a._var)
                a = a._val
                if a is None:
                    abstract = True
            else:
                inputs.append(Lit(a) if type(a) in _LITERAL_TYPES else self.lift(a))
            t = type(a)
            if t is np.float64:
                f64 = True
            elif t is not float and t is not int:
                numbers = False
                if t not in PLAIN_TYPES:
                    plain = False
            vals.append(a)
        if abstract:
            v = Var(prim.abstract_eval(*[_abstract_arg(x) for x in inputs], **params))
            out_val = None
        else:
            if not plain:
                out_val = bind(prim, *vals, **params)
            else:
                out_val = None
                op = self._float_op(prim, params, len(vals)) if numbers and f64 and self._float_op else None
                if op is not None:
                    out_val = op[0](*vals)
                    if type(out_val) is not op[1] or out_val != out_val:     # (see above)
                        out_val = None
                if out_val is None:
                    out_val = prim.impl(*vals, **params) if params else prim.impl(*vals)
                if _DEBUG[0]:
                    _debug.check(prim, vals, out_val)
            v = Var(SCALAR_AVALS.get(type(out_val)) or aval_of(out_val))
            self.values[v] = out_val
        self.eqns.append(Eqn(prim, inputs, params, v, _debug.user_line() if _DEBUG[0] and _debug.enabled() else None))
        return Tracer(self, v, out_val)

    def _stop_repeating(self):
        """The trace departs from ``expect``: keep the equations repeated so far."""
        if self._expect is not None:
            self.eqns = self._expect.eqns[:self._cursor]
            self._expect = None
            self._plans = None

    def value_of(self, x):
        """The value at the level below of a Var/Lit/Tracer of this builder."""
        if isinstance(x, Lit):
            return x.val
        if isinstance(x, Var):
            return self.values.get(x)
        return x

    def finish(self, invars, outs) -> Graph:
        """Stop recording; return the Graph from ``invars`` to ``outs``.

        ``outs`` may hold tracers, constants or ``None`` (a known zero)."""
        outvars = [None if o is None else self.lift(o) for o in outs]
        exp = self._expect
        if exp is not None:
            # (variables compare by identity)
            if (self._cursor == self._n_expect and not self.constvars and outvars == exp.outvars
                    and list(invars) == exp.invars):
                self.eqns = exp.eqns
                self.repeated = True
                self._expect = None
            else:
                self._stop_repeating()
        self._plans = None
        self.active = False
        return Graph(invars, self.constvars, self.consts, self.eqns, outvars, self.values)


def _same_params(p, q):
    """Whether two parameter dicts are equal exactly (types and float bits too)."""
    if len(p) != len(q):
        return False
    for k, v in p.items():
        w = q.get(k, _MISSING)
        if v is not w and not same_literal(v, w):
            return False
    return True


_MISSING = object()
_F64 = np.float64


def plan_replay(graph: Graph, float_op=None) -> list:
    """What ``Builder.replay`` checks each equation of ``graph`` against, and how it
    computes it: ``(prim, params, param1, inputs, outvar, fn, fn_type)``. ``param1``:
    the one ``(name, value)`` of ``params`` if there is one (the same object in a
    call's parameters is the same parameter; anything else is compared by
    ``_same_params``); ``fn, fn_type``: ``float_op``'s float form of the equation, or
    ``None, None``. Made once per Graph (a replayed Graph is never modified)."""
    plans = []
    for e in graph.eqns:
        prim, params, inputs = e.prim, e.params, e.inputs
        op = float_op(prim, params, len(inputs)) if float_op is not None else None
        param1 = next(iter(params.items())) if len(params) == 1 else None
        if op is None:
            plans.append((prim, params, param1, inputs, e.outvar, None, None))
        else:
            plans.append((prim, params, param1, inputs, e.outvar, op[0], op[1]))
    return plans


def literal_key(v, max_array=0):
    """A hashable key of a literal or parameter value, equal only for the same value of
    the same type bit for bit (0.0 and -0.0 differ, and so do 1, 1.0 and True, and NaN
    payloads); None for a value that has none: anything mutable except NumPy arrays of
    at most ``max_array`` elements (keyed by their contents)."""
    t = type(v)
    if t is float:
        return (float, v) if v == v and v != 0.0 else (float, struct.pack("<d", v))
    if t is int or t is bool or t is str or v is None:
        return (t, v)
    if t is tuple:
        items = tuple(literal_key(x, max_array) for x in v)
        return None if None in items else (tuple, items)
    if t is np.ndarray:
        if v.size > max_array or v.dtype.hasobject:
            return None
        return (np.ndarray, v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic) and not isinstance(v, np.object_):
        return (t, v.dtype.str, v.tobytes())
    if isinstance(v, np.dtype):
        return (np.dtype, v)
    if t is complex:
        return (complex, struct.pack("<dd", v.real, v.imag))
    if t is type:
        return (type, v)
    return None


def same_literal(a, b) -> bool:
    """Whether ``a`` and ``b`` are the same immutable value of the same type, bit for bit
    (see ``literal_key``); False for anything mutable."""
    if type(a) is not type(b):
        return False
    k = literal_key(a)
    return k is not None and k == literal_key(b)


def _abstract_arg(x):
    """What a shape rule sees: the aval, or a Python scalar itself (weakly typed)."""
    if isinstance(x, Lit) and isinstance(x.val, (bool, int, float, complex)):
        return x.val
    return x.aval


#: what a floating-point exit is replaced with: ``math.NAME`` -> ``pnp.NAME`` where the names differ
_MATH_TO_PNP = {"fabs": "abs", "pow": "power", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
                "atan2": "arctan2", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh",
                "copysign": "copysign", "fsum": "sum", "prod": "prod", "dist": "linalg.norm",
                "hypot": "hypot", "trunc": "trunc", "degrees": "degrees", "radians": "radians"}

_EXIT_PATTERNS = (
    (re.compile(r"\bmath\.(\w+)\s*\("), None),
    (re.compile(r"\b(?:np|numpy)\.(float64|float32|float16|double|single|longdouble|complex128|complex64)\s*\("),
     "a traced value is already an array of its dtype: use it as it is, or pnp.astype(x, np.{0}) "
     "to change the dtype"),
    (re.compile(r"\bstruct\.\w+\s*\(|\barray\.array\s*\("),
     "pack or store only the results that a transformation returns"),
    (re.compile(r"\.(item|tolist)\s*\(\s*\)"),
     "use the traced value itself (it takes part in arithmetic and pnp functions as it is)"),
    (re.compile(r"\b(?:np|numpy)\.(?:asarray|array|asanyarray|ascontiguousarray)\s*\("),
     "use pnp.asarray, or pnp functions directly on the traced value"),
)


_TAKE_HINT = (" To index a NumPy data array by a traced index (X[i] under vmap or jit), write "
              "pnp.take(X, i, axis=0).")


def _pnp_has(name):
    """Whether partiald.numpy (loaded whenever tracers have their operators) has ``name``,
    e.g. ``exp`` or ``linalg.norm`` (no import here: core sits below partiald.numpy)."""
    module, _, fname = name.rpartition(".")
    mod = sys.modules.get("partiald.numpy" + ("." + module if module else ""))
    return mod is not None and fname in vars(mod).get("FUNCTIONS", {})


def _exit_hint(code):
    """The fix for a floating-point exit, read from the user's source line."""
    for pattern, hint in _EXIT_PATTERNS:
        m = pattern.search(code)
        if m is None:
            continue
        if hint is None:            # math.NAME
            name = m.group(1)
            target = _MATH_TO_PNP.get(name, name)
            if _pnp_has(target):
                return (f"math.{name} works on Python floats only: use pnp.{target} "
                        "(import partiald.numpy as pnp), which is traced and differentiated")
            return (f"math.{name} works on Python floats only, and partiald.numpy has no {target} yet: "
                    "write it with pnp functions (pnp.exp, pnp.log, pnp.sqrt, pnp.where...), which are "
                    "traced and differentiated")
        return hint.format(*m.groups())
    return ("use the traced value itself, or pnp functions on it (pnp.exp, not math.exp); to read a "
            "number for logging, return it from the function (has_aux=True)")


def conversion_error(t, what, extra=""):
    """The TracerConversionError for a floating-point tracer ``t`` leaving the trace by ``what``."""
    where = _debug.user_line()
    code = where.split(": ", 1)[1] if ": " in where else ""
    return TracerConversionError(
        f"{what}: a traced value {t.aval} cannot be converted to a plain number or NumPy array: "
        f"taken out of the trace it becomes a constant, and its derivative would silently be 0. "
        f"Called at {where}. Fix: {_exit_hint(code)}.{extra} Integer and bool traced values may be "
        "converted (indices, counts); Python control flow on values (if x > 0:) is allowed outside jit.")


def _escaped(t):
    return EscapedTracerError(
        f"encountered a traced value ({t.aval}) from a transformation that has already returned "
        f"({t._builder.name}). A function being differentiated must return its results instead of "
        "storing them in globals, closures or lists that outlive the call.")


class Tracer:
    """A traced array. Supports NumPy-style operators (installed by partiald.numpy)."""

    __slots__ = ("_builder", "_var", "_val")
    __array_priority__ = 1000

    def __init__(self, builder, var, val):
        self._builder = builder
        self._var = var
        self._val = val

    @property
    def aval(self) -> ShapedArray:
        return self._var.aval

    @property
    def shape(self):
        return self._var.aval.shape

    @property
    def dtype(self):
        return self._var.aval.dtype

    @property
    def ndim(self):
        return len(self._var.aval.shape)

    @property
    def size(self):
        return self._var.aval.size

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def concrete_value(self, what, extra=""):
        """The NumPy value this tracer stands for, or a clear error if there is none."""
        v = self._val
        while isinstance(v, Tracer):
            v = v._val
        if v is None:
            raise TracerConversionError(
                f"{what} needs the concrete value of a traced array {self.aval}, but inside "
                f"{self._builder.name} only its shape and dtype are known. Python control flow on "
                "traced values cannot be recorded: use pnp.where(cond, x, y) to select values instead "
                f"of if/else, and pass shapes, not values, to decide structure.{extra}")
        return v

    def exit_value(self, what, extra=""):
        """The concrete value for a conversion that leaves the trace (``float()``,
        ``.item()``...): allowed for integer and bool tracers, which carry no derivative;
        a floating-point tracer raises TracerConversionError, since its value would
        become a constant and its derivative a silent 0."""
        if self._var.aval.dtype.kind in "fc":
            raise conversion_error(self, what, extra)
        return self.concrete_value(what, extra)

    def __bool__(self):
        # ``if x:`` is control flow on a value: the derivative of the branch taken is right
        return bool(self.concrete_value("bool()"))

    def __float__(self):
        return float(self.exit_value("float()"))

    def __int__(self):
        return int(self.exit_value("int()"))

    def __index__(self):
        v = self.concrete_value("using a traced array as an index")
        if np.result_type(v).kind not in "iu":
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(v)

    def __complex__(self):
        return complex(self.exit_value("complex()"))

    def __array__(self, dtype=None, copy=None):
        v = self.exit_value("np.asarray() (or np.array, np.float64...)", _TAKE_HINT)
        return np.array(v, dtype=dtype, copy=True)

    def __format__(self, spec):
        # display only (print(f"{loss:.3f}") while tracing): the string is not a number
        # that flows back into the computation
        if not spec:
            return repr(self)
        v = self.concrete_value(f"format(x, {spec!r})")
        return format(v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v, spec)

    def __hash__(self):
        raise TypeError("traced arrays are unhashable")

    def __setitem__(self, idx, value):
        raise TypeError(
            "traced arrays are immutable: x[idx] = v (in-place assignment) cannot be differentiated. "
            "Use the functional form x = x.at[idx].set(v) (or .add(v)), or build the array with "
            "pnp.where / pnp.concatenate.")

    def __repr__(self):
        val = self._val
        while isinstance(val, Tracer):
            val = val._val
        if val is None:
            return f"Tracer<{self.aval}, {self._builder.name}>"
        return f"Tracer<{self.aval}, {self._builder.name}>(\n{np.asarray(val)!r})"

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self
