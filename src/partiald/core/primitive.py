"""Primitive records and ``bind``, the single entry point for every operation.

Each primitive is one record holding everything the operation knows: its NumPy
implementation, its shape/dtype rule, its JVP rule and (for linear primitives)
its transpose rule, its batching and sparsity rules, the properties the passes
need, and its lowerings (one per code-generation target). Transformations,
codegen, sparsity detection and the symbolic layer only read records; the record
is written once, where the primitive is defined (tests/test_static.py checks
that no other module assigns into one). Reverse mode needs no VJP table: it
linearizes with the JVP rules and transposes the linear program.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import debug as _debug

REGISTRY: dict[str, "Primitive"] = {}
_DEBUG = _debug.STATE


def zero_jvp(tangents, ans, *primals, **params):
    """JVP rule of a primitive whose derivative is zero by definition."""
    return None


@dataclass(eq=False)
class Primitive:
    """One operation of the IR.

    Attributes:
      name: the name printed in graphs (``mul``, ``reduce_sum``).
      impl: ``impl(*arrays, **params) -> array``, the NumPy evaluation.
      abstract_eval: ``abstract_eval(*avals, **params) -> ShapedArray``; Python
        scalars are passed as themselves (weakly typed, as in NumPy 2).
      jvp: ``jvp(tangents, ans, *primals, **params) -> tangent or None``.
        ``tangents`` holds ``None`` for a zero tangent. Rules are written with
        primitives, so derivatives of derivatives work. ``None`` (the field)
        means the primitive is not differentiable and says so when asked.
      transpose: for primitives linear in some inputs,
        ``transpose(ct, *args, **params) -> list`` with a cotangent per
        :class:`UndefinedPrimal` argument (``None`` elsewhere).
      linear: linear jointly in all of its floating inputs, so reverse mode
        transposes it directly instead of linearizing it first.
      batch: batching rule (vmap), ``batch(args, dims, **params) -> (out, out_dim)``
        (see transforms/batching.py); ``None``: vmap refuses the primitive.
      sparsity: how the sparsity detector (transforms/sparsity.py) propagates
        patterns through it: for an elementwise primitive, the tuple of input
        pairs ``(i, j)`` whose mixed second derivative can be nonzero (``()`` for
        a linear or piecewise-linear one, ``((0, 0),)`` for a nonlinear unary
        one); otherwise the name of a structural rule (``"zero"``, ``"index"``,
        ``"einsum"``...). ``None``: sparse Jacobians and Hessians refuse it.
      elementwise: applied element by element with NumPy broadcasting (the
        result at an index depends on the inputs at that index only): tiling,
        fusion and the transpose-sinking pass may split or move it.
      exact: its ``python`` and ``fused`` lowerings round exactly as NumPy does
        (IEEE ``+ - * /``, comparisons, selections: no libm call), so a float
        fast path may replace the NumPy call without changing a bit.
      lowerings: one entry per code-generation target:
        ``"numpy"``: the name of the NumPy ufunc generated code calls (with an
        ``out=`` buffer), for parameterless calls; ``"python"``:
        ``lower(args, params) -> str | None``, a Python expression over float
        names (namespace: ``_m`` = math, ``_smul``), None where these
        parameters have no float form; ``"fused"``: the scalar expression of a
        fused loop (compile/native.py). A target missing here falls back to
        calling ``impl`` (``numpy``) or to the NumPy code (the others).
      symbol: how formulas name it (the function name in text and LaTeX, e.g.
        ``"log2"``), ``""`` for a primitive formulas do not call by name.
      domain: what explanations say about where it (or its derivative) is
        defined, e.g. ``"log(u) is defined for u > 0"``.
      rule_name: the calculus rule this primitive's derivative applies,
        shown by explanations (``"chain rule (exp)"``).
    """

    name: str
    impl: Callable
    abstract_eval: Callable
    jvp: Callable | None = None
    transpose: Callable | None = None
    linear: bool = False
    batch: Callable | None = None
    sparsity: tuple | str | None = None
    elementwise: bool = False
    exact: bool = False
    lowerings: dict = field(default_factory=dict)
    symbol: str = ""
    domain: str = ""
    rule_name: str = ""

    @property
    def differentiable(self) -> bool:
        """Whether the primitive has a derivative rule (``zero_jvp`` counts)."""
        return self.jvp is not None

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def __repr__(self):
        return f"<primitive {self.name}>"


def register(prim: Primitive) -> Primitive:
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    REGISTRY[prim.name] = prim
    return prim


class UndefinedPrimal:
    """Marks the linear input of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return len(self.aval.shape)

    def __repr__(self):
        return f"UndefinedPrimal({self.aval})"


def is_undefined(x) -> bool:
    """Whether ``x`` is the linear input a transpose rule produces a cotangent for."""
    return type(x) is UndefinedPrimal


#: types of concrete values that are never traced (``bind`` evaluates them at once)
PLAIN_TYPES = frozenset({float, int, bool, complex, np.ndarray, np.float64, np.float32, np.bool_,
                         np.int64, np.int32, np.complex128, np.complex64})


def bind(prim: Primitive, *args, **params):
    """Apply ``prim`` to ``args``: evaluate it, or record it in the innermost trace."""
    top = None
    for a in args:
        if type(a) in PLAIN_TYPES:
            continue
        b = getattr(a, "_builder", None)
        if b is not None and (top is None or b.id > top.id):
            top = b
    if top is None:
        out = prim.impl(*args, **params)
        if _DEBUG[0]:
            _debug.check(prim, args, out)
        return out
    return top.process(prim, args, params)
