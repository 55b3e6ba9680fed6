"""The IR: a Graph is a straight-line program of primitive equations.

    graph(a: f64[3], b: f64[]) {
      c: f64[3] = mul a b
      d: f64[] = reduce_sum[axes=(0,)] c
      return d
    }

Everything partiald computes is a Graph: a traced function, its JVP, its
linearization and the transposed (VJP) program. Graphs are printed,
interpreted, transformed and compiled; nothing else stores computation.
"""
from __future__ import annotations

import itertools

import numpy as np

_DTYPE_ABBREV = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64",
                 "int32": "i32", "int8": "i8", "int16": "i16", "uint8": "u8", "bool": "bool",
                 "complex128": "c128", "complex64": "c64"}


class ShapedArray:
    """The abstract value of an array: its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape if type(shape) is tuple else tuple(int(d) for d in shape)
        self.dtype = dtype if type(dtype) is np.dtype or isinstance(dtype, np.dtype) else np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other):
        return isinstance(other, ShapedArray) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def str_short(self):
        d = _DTYPE_ABBREV.get(self.dtype.name, self.dtype.name)
        return f"{d}[{','.join(map(str, self.shape))}]"

    __repr__ = str_short


def aval_of(x) -> ShapedArray:
    """The abstract value of a concrete value (array, scalar or tracer)."""
    a = SCALAR_AVALS.get(type(x))
    if a is not None:
        return a
    if type(x) is np.ndarray and x.dtype is _F64 and not x.shape:
        return F64_SCALAR
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, x.dtype)
    a = getattr(x, "aval", None)
    if a is not None:
        return a
    if isinstance(x, (bool, int, float, complex)):
        return ShapedArray((), np.result_type(type(x)) if not isinstance(x, bool) else np.bool_)
    return ShapedArray(np.shape(x), np.result_type(x))


_F64 = np.dtype(np.float64)
#: the abstract value of every 0-d float64 (shared: avals are never modified)
F64_SCALAR = ShapedArray((), _F64)
# the scalar types whose abstract value is fixed: Python scalars (weakly typed, as
# their NumPy type) and the common NumPy scalars
SCALAR_AVALS = {float: F64_SCALAR, np.float64: F64_SCALAR, bool: ShapedArray((), np.bool_),
                 int: ShapedArray((), np.result_type(int)), complex: ShapedArray((), np.result_type(complex)),
                 np.bool_: ShapedArray((), np.bool_), np.float32: ShapedArray((), np.float32)}

_counter = itertools.count()


class Var:
    """A variable of a Graph; identity is the object itself."""

    __slots__ = ("aval", "count")

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(_counter)

    def __repr__(self):
        return f"Var({self.aval})"


class Lit:
    """A literal constant inside a Graph (a Python scalar or a NumPy array)."""

    __slots__ = ("val", "aval")

    def __init__(self, val):
        self.val = val
        self.aval = aval_of(val)

    def __repr__(self):
        return _fmt_value(self.val)


class Eqn:
    """``outvar = prim(*inputs, **params)``."""

    __slots__ = ("prim", "inputs", "params", "outvar", "info")

    def __init__(self, prim, inputs, params, outvar, info=None):
        self.prim = prim
        self.inputs = tuple(inputs)
        self.params = params
        self.outvar = outvar
        self.info = info        # where it was traced (recorded under debug_nans)


class Graph:
    """A straight-line program: inputs, captured constants, equations, outputs.

    ``constvars`` are inputs bound to ``consts``: values captured from an
    enclosing trace (or arrays) that the program treats as constants; their
    derivative is zero, which is what keeps nested derivatives apart.
    ``values`` maps variables to the concrete values they had while tracing,
    when the trace was concrete; the printer shows them.
    """

    def __init__(self, invars, constvars, consts, eqns, outvars, values=None):
        self.invars = list(invars)
        self.constvars = list(constvars)
        self.consts = list(consts)
        self.eqns = list(eqns)
        self.outvars = list(outvars)
        self.values = values

    def __str__(self):
        return pp_graph(self)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _var_names():
    for n in itertools.count(1):
        for t in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=n):
            yield "".join(t)


def _fmt_value(v, limit=8):
    if np.ndim(v) == 0:
        return repr(v if type(v) in (bool, int, float, complex) else np.asarray(v).item())
    a = np.asarray(v)
    if a.size <= limit:
        return np.array2string(a, precision=4, separator=", ").replace("\n", "")
    if a.dtype.kind in "fiu" and a.size:
        return f"<{aval_of(a)} min={np.nanmin(a):.4g} max={np.nanmax(a):.4g}>"
    return f"<{aval_of(a)}>"


def _fmt_param(v):
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, tuple) and len(v) > 12:
        return f"({len(v)} items)"
    return repr(v)


def pp_graph(graph: Graph) -> str:
    """Print a Graph in topological order, one equation a line."""
    names: dict = {}
    gen = _var_names()

    def name(x):
        if isinstance(x, Lit):
            return _fmt_value(x.val, limit=4)
        if x is None:
            return "0"
        if x not in names:
            names[x] = next(gen)
        return names[x]

    def decl(v):
        return f"{name(v)}:{v.aval.str_short()}"

    values = graph.values or {}
    lines = ["graph(" + ", ".join(decl(v) for v in graph.invars) + ")"
             + (" consts(" + ", ".join(decl(v) for v in graph.constvars) + ")" if graph.constvars else "")
             + " {"]
    for eqn in graph.eqns:
        params = ",".join(f"{k}={_fmt_param(v)}" for k, v in eqn.params.items())
        rhs = eqn.prim.name + (f"[{params}]" if params else "") + " " + " ".join(name(x) for x in eqn.inputs)
        line = f"  {decl(eqn.outvar)} = {rhs}"
        if eqn.outvar in values:
            val = values[eqn.outvar]
            if not hasattr(val, "_builder"):
                line = f"{line:<48s} # {_fmt_value(val)}"
        lines.append(line)
    outs = ", ".join(name(v) for v in graph.outvars)
    lines.append(f"  return {outs}")
    lines.append("}")
    return "\n".join(lines)


def use_counts(graph, output_uses=1) -> dict:
    """How many times each Var of ``graph`` is read: once per equation input, and
    ``output_uses`` times per appearance among the outputs."""
    counts: dict = {}
    for eqn in graph.eqns:
        for x in eqn.inputs:
            if isinstance(x, Var):
                counts[x] = counts.get(x, 0) + 1
    for o in graph.outvars:
        if isinstance(o, Var):
            counts[o] = counts.get(o, 0) + output_uses
    return counts
