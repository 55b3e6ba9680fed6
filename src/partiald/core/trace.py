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
"""
from __future__ import annotations

import itertools

import numpy as np

from . import debug as _debug
from .errors import EscapedTracerError, TracerConversionError
from .graph import Eqn, Graph, Lit, ShapedArray, Var, aval_of
from .primitive import bind

_builder_ids = itertools.count(1)


class Builder:
    """Records equations into a Graph; one per transformation level."""

    def __init__(self, name="trace", concrete=True):
        self.id = next(_builder_ids)
        self.name = name
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self._const_ids: dict[int, Var] = {}
        self.values: dict = {}          # var -> value at the level below (None if abstract)
        self.active = True

    def __repr__(self):
        return f"<Builder {self.name}#{self.id}>"

    def new_arg(self, aval, val=None) -> "Tracer":
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
        if not self.active:
            for a in args:
                if isinstance(a, Tracer) and a._builder is self:
                    raise _escaped(a)
        inputs = [self.lift(a) for a in args]
        vals = []
        abstract = False
        for a in args:
            if isinstance(a, Tracer) and a._builder is self:
                val = a._val
                if val is None:
                    abstract = True
                vals.append(val)
            else:
                vals.append(a)
        if abstract:
            aval = prim.abstract_eval(*[_abstract_arg(x) for x in inputs], **params)
            out_val = None
        else:
            out_val = bind(prim, *vals, **params)
            aval = aval_of(out_val)
        v = Var(aval)
        self.eqns.append(Eqn(prim, inputs, params, v, _debug.user_line() if _debug.STATE[0] else None))
        if out_val is not None:
            self.values[v] = out_val
        return Tracer(self, v, out_val)

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
        self.active = False
        return Graph(invars, self.constvars, self.consts, self.eqns, outvars, self.values)


def _abstract_arg(x):
    """What a shape rule sees: the aval, or a Python scalar itself (weakly typed)."""
    if isinstance(x, Lit) and isinstance(x.val, (bool, int, float, complex)):
        return x.val
    return x.aval


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

    def concrete_value(self, what):
        """The NumPy value this tracer stands for, or a clear error if there is none."""
        v = self._val
        while isinstance(v, Tracer):
            v = v._val
        if v is None:
            raise TracerConversionError(
                f"{what} needs the concrete value of a traced array {self.aval}, but inside "
                f"{self._builder.name} only its shape and dtype are known. Python control flow on "
                "traced values cannot be recorded: use pnp.where(cond, x, y) to select values instead "
                "of if/else, and pass shapes, not values, to decide structure.")
        return v

    def __bool__(self):
        return bool(self.concrete_value("bool()"))

    def __float__(self):
        return float(self.concrete_value("float()"))

    def __int__(self):
        return int(self.concrete_value("int()"))

    def __index__(self):
        v = self.concrete_value("using a traced array as an index")
        if np.result_type(v).kind not in "iu":
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(v)

    def __complex__(self):
        return complex(self.concrete_value("complex()"))

    def __array__(self, dtype=None, copy=None):
        raise TracerConversionError(
            f"a traced array {self.aval} cannot be converted to a NumPy array (np.asarray/np.array): "
            "the conversion would cut it off from differentiation. Use partiald.numpy (pnp) functions "
            "on traced values, and convert only the results that transformations return.")

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
