"""Sparse Jacobians and Hessians: detect the sparsity pattern, color it, evaluate one
compressed product per color, recover the entries (API.md section 2).

* ``sparse_jacobian(f)(x)``: the Jacobian as a ``scipy.sparse.csr_matrix`` of shape
  ``(f(x).size, x.size)``, from one JVP per column color (or one VJP per row color).
* ``sparse_hessian(f)(x)``: the Hessian of a scalar ``f`` as a symmetric
  ``csr_matrix`` of shape ``(x.size, x.size)``, from one Hessian-vector product
  (forward over reverse) per color of a star coloring.
* ``jacobian_sparsity(f)(x)`` / ``hessian_sparsity(f)(x)``: the detected patterns
  (boolean ``csr_matrix``), without evaluating any derivative.

Patterns come from the traced Graph by index-set propagation
(``partiald.transforms.sparsity``; the colorings are in ``partiald.coloring``): no
numeric probing, and always a superset of the derivative's nonzeros, so the
recovered values are exact. The result keeps
the detected pattern as its structure (an entry that happens to be 0.0 at ``x``
stays stored; ``.eliminate_zeros()`` drops them).

Inputs are raveled (C order): an ``(m, n)`` argument gives ``m*n`` columns; a
pytree argument is flattened like :func:`partiald.ravel_pytree`. Outputs are
raveled and concatenated the same way. SciPy is needed
(``pip install "partiald[sparse]"``).

``sparse_jacobian`` and ``sparse_hessian`` do the structural work once per input
signature (the pytree structure, shapes and dtypes of the arguments, and the
values of int, bool and str arguments): ``f`` is traced on shapes only, like
:func:`partiald.jit`, the pattern is detected on that trace and colored, and the
compressed products are compiled with ``jit`` (``vmap`` over the seed vectors);
every later call with the same signature runs the compiled products and one
fancy index into the CSR data. Arrays and floats among the other arguments are
traced inputs, so new values reuse the plan; arrays ``f`` closes over are
constants of the plan, as under ``jit``. A function that cannot be traced on
shapes alone (Python control flow on values), or whose pattern depends on
values (a gather with an index array computed from the arguments, a constant
mask passed as an argument), is handled per call: traced on the values, its
pattern detected and colored again at every call.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import coloring as _col
from . import numpy as pnp
from .api import _prepare, grad, jvp, linearize, make_graph, ravel_pytree, vjp
from .compile.jit import jit
from .core.graph import ShapedArray, aval_of
from .core.pytree import LEAF, tree_flatten, tree_unflatten
from .core.trace import Builder, Tracer
from .transforms import sparsity as _sp
from .vectorize import vmap

#: input signatures whose plan (pattern, coloring, compiled products) one
#: ``sparse_jacobian`` / ``sparse_hessian`` function keeps; the oldest goes beyond this
CACHE_SIZE = 32


@dataclass
class SparseInfo:
    """How a sparse derivative was computed (``return_info=True``); pass it back as
    ``sparsity=`` to skip detection and coloring at the next point.

    Attributes:
      kind: ``"jacobian"`` or ``"hessian"``.
      pattern: the detected structural nonzeros, a boolean ``csr_matrix``.
      colors: one color per column (per row in reverse mode), an int array.
      n_colors: the number of colors: the number of JVPs, VJPs or HVPs evaluated.
      mode: ``"fwd"`` (JVPs), ``"rev"`` (VJPs) or ``"star"`` (HVPs, star coloring).
      method: the coloring that was used (``"greedy"``, ``"cyclic"``, ``"cyclic-rcm"``,
        ``"trivial"`` or ``"given"``).
    """

    kind: str
    pattern: Any
    colors: np.ndarray
    n_colors: int
    mode: str
    method: str

    def __repr__(self):
        p = self.pattern
        return (f"SparseInfo(kind={self.kind!r}, shape={p.shape}, nnz={p.nnz}, n_colors={self.n_colors}, "
                f"mode={self.mode!r}, method={self.method!r})")


# -- one flat argument ------------------------------------------------------------------------

def _argnum(argnums, nargs, fname):
    if not isinstance(argnums, int):
        raise TypeError(f"{fname}: argnums must be an int (one argument, which may be a pytree), "
                        f"got {argnums!r}")
    if not -nargs <= argnums < nargs:
        raise ValueError(f"{fname}: argnums={argnums} but the function was called with {nargs} "
                         "positional argument(s)")
    return argnums % nargs


def _no_tracers(leaves, fname):
    for a in leaves:
        if isinstance(a, Tracer):
            raise TypeError(f"{fname} cannot be used inside another transformation (grad, jit, ...): it "
                            "returns a SciPy matrix, which cannot be traced. Call it on concrete arrays.")


def _flat_problem(f, args, kwargs, argnums, fname):
    """``(x, g)``: the differentiated argument as a 1-D float array and ``g(v)``, ``f``
    as a function of it (the other arguments held fixed)."""
    i = _argnum(argnums, len(args), fname)
    leaves, _ = tree_flatten(args[i])
    _no_tracers(tree_flatten((args, kwargs))[0], fname)
    if len(leaves) == 1 and leaves[0] is args[i]:
        x0 = _prepare(args[i], fname)
        shape = np.shape(x0)
        x = np.ascontiguousarray(x0).reshape(-1)

        def arg(v):
            return v if len(shape) == 1 else pnp.reshape(v, shape)
    else:
        flat = [_prepare(a, fname) for a in leaves]
        x, unravel = ravel_pytree(tree_unflatten(tree_flatten(args[i])[1], flat))
        x = np.asarray(x)
        arg = unravel
    if x.dtype.kind == "c":
        raise TypeError(f"{fname}: complex inputs are not supported by the sparse transformations; "
                        "use pdx.jacobian / pdx.jacrev (or split z into real and imaginary parts, "
                        "f(x + 1j*y), to get a real sparse problem)")
    rest_before, rest_after = args[:i], args[i + 1:]

    def g(v):
        return f(*rest_before, arg(v), *rest_after, **kwargs)
    return x, g


def _flat_out(g):
    """``g`` with its output pytree raveled into one 1-D vector."""
    def h(v, *rest):
        out = g(v, *rest)
        leaves, _ = tree_flatten(out)
        flat = [pnp.reshape(o, (-1,)) for o in leaves]
        if len(flat) == 1:
            return flat[0]
        return pnp.concatenate(flat) if flat else np.zeros(0)
    return h


def _scalar_out(g, fname):
    def h(v, *rest):
        out = g(v, *rest)
        if np.shape(out) != ():
            raise TypeError(f"{fname} requires a function with a scalar output, but it returned shape "
                            f"{np.shape(out)}; for a vector output use pdx.sparse_jacobian, or reduce it "
                            "(e.g. pnp.sum) first")
        return out
    return h


def _check_pattern(pattern, shape, fname):
    sp = _sp.scipy_sparse()
    if not sp.issparse(pattern) and not isinstance(pattern, np.ndarray):
        raise TypeError(f"{fname}: sparsity= must be a SparseInfo from return_info=True, or a sparse or "
                        f"dense boolean matrix, got {type(pattern).__name__}")
    p = sp.csr_matrix(pattern, dtype=bool)
    if p.shape != shape:
        raise ValueError(f"{fname}: sparsity= has shape {p.shape}, but the derivative has shape {shape}")
    p.eliminate_zeros()
    p.sort_indices()
    return p


def _given(sparsity, kind, shape, fname):
    """The (pattern, info) to reuse from ``sparsity=``, or (pattern, None) to color."""
    if isinstance(sparsity, SparseInfo):
        if sparsity.kind != kind:
            raise ValueError(f"{fname}: sparsity= is the SparseInfo of a {sparsity.kind}, not of a {kind}")
        _check_pattern(sparsity.pattern, shape, fname)
        return sparsity.pattern, sparsity
    return _check_pattern(sparsity, shape, fname), None


def _csr(pattern, data, dtype):
    sp = _sp.scipy_sparse()
    return sp.csr_matrix((np.asarray(data, dtype=dtype), pattern.indices.copy(), pattern.indptr.copy()),
                         shape=pattern.shape)


# -- patterns ---------------------------------------------------------------------------------

def jacobian_sparsity(f: Callable, argnums: int = 0):
    """The sparsity pattern of ``f``'s Jacobian, detected from its traced Graph.

    Returns a function of ``f``'s arguments giving a boolean ``scipy.sparse.csr_matrix``
    of shape ``(f(x).size, x.size)`` (argument and output raveled). No derivative is
    evaluated; the pattern is a superset of the Jacobian's nonzeros for any input
    that follows the same Python control flow.

    Examples:
      >>> import numpy as np, partiald as pdx, partiald.numpy as pnp
      >>> from partiald.sparse import jacobian_sparsity
      >>> jacobian_sparsity(lambda x: x[1:] * x[:-1])(np.ones(4)).toarray().astype(int)
      array([[1, 1, 0, 0],
             [0, 1, 1, 0],
             [0, 0, 1, 1]])
    """
    @functools.wraps(f)
    def pattern(*args, **kwargs):
        x, g = _flat_problem(f, args, kwargs, argnums, "jacobian_sparsity")
        return _sp.jacobian_pattern(make_graph(_flat_out(g))(x))
    return pattern


def hessian_sparsity(f: Callable, argnums: int = 0):
    """The sparsity pattern of the Hessian of a scalar ``f``, detected from its traced Graph.

    Returns a function of ``f``'s arguments giving a symmetric boolean
    ``scipy.sparse.csr_matrix`` of shape ``(x.size, x.size)``: the input pairs that
    meet in a nonlinear operation whose result reaches the output.

    Examples:
      >>> import numpy as np, partiald.numpy as pnp
      >>> from partiald.sparse import hessian_sparsity
      >>> hessian_sparsity(lambda x: pnp.sum(x[1:] * x[:-1]))(np.ones(3)).toarray().astype(int)
      array([[0, 1, 0],
             [1, 0, 1],
             [0, 1, 0]])
    """
    @functools.wraps(f)
    def pattern(*args, **kwargs):
        x, g = _flat_problem(f, args, kwargs, argnums, "hessian_sparsity")
        return _sp.hessian_pattern(make_graph(_scalar_out(g, "hessian_sparsity"))(x))
    return pattern


# -- one plan per input signature -------------------------------------------------------------

_PER_CALL = "per-call"          # the cache's mark for a signature handled by the per-call path
_NO_REST = tree_flatten(((), (), {}))[1]


def _x_sig(a):
    """The signature of a leaf of the differentiated argument, or None (the per-call
    path converts it, or says why it cannot be differentiated)."""
    t = type(a)
    if t is np.ndarray:
        return (a.shape, a.dtype.str) if a.dtype.kind == "f" else None
    if t is float:
        return ((), "<f8")
    if isinstance(a, np.floating):
        return ((), a.dtype.str)
    return None


def _fixed_sig(a):
    """The signature of a leaf of the other arguments, or None: arrays and floats are
    traced by shape and dtype; ints, bools and strings are constants of the plan."""
    t = type(a)
    if t is np.ndarray or isinstance(a, np.generic):
        return ("a", np.shape(a), a.dtype.str) if a.dtype.kind in "biufc" else None
    if t is float:
        return ("f",)
    if t in (bool, int, str, complex):
        return ("s", t, a)
    return None


class _Call:
    """One call's arguments split for the plan cache: the key, the differentiated
    argument raveled, and the traced leaves of the other arguments."""

    __slots__ = ("key", "i", "x_leaves", "x_tree", "rest_leaves", "rest_tree", "traced")

    def __init__(self, args, kwargs, argnums, fname):
        self.i = i = _argnum(argnums, len(args), fname)
        a = args[i]
        if type(a) is np.ndarray:           # the common case, without the pytree walk
            self.x_leaves, self.x_tree = [a], LEAF
        else:
            self.x_leaves, self.x_tree = tree_flatten(a)
        if len(args) == 1 and not kwargs:
            self.rest_leaves, self.rest_tree = [], _NO_REST
        else:
            self.rest_leaves, self.rest_tree = tree_flatten((args[:i], args[i + 1:], kwargs))
        _no_tracers(self.x_leaves, fname)
        _no_tracers(self.rest_leaves, fname)
        xs = [_x_sig(a) for a in self.x_leaves]
        rs = [_fixed_sig(a) for a in self.rest_leaves]
        self.key = None
        self.traced = [s is not None and s[0] != "s" for s in rs]
        if xs and all(s is not None for s in xs) and all(s is not None for s in rs):
            key = (i, self.x_tree, tuple(xs), self.rest_tree, tuple(rs))
            try:
                hash(key)
                self.key = key
            except TypeError:            # an unhashable leaf or dict key: per call
                pass

    def x(self):
        """The differentiated argument as one 1-D array (C order, leaves concatenated)."""
        if len(self.x_leaves) == 1:
            return np.asarray(self.x_leaves[0]).reshape(-1)
        return np.concatenate([np.asarray(a).reshape(-1) for a in self.x_leaves])

    def dynamic(self):
        """The traced leaves of the other arguments."""
        return [a for a, t in zip(self.rest_leaves, self.traced) if t]


class _Fun:
    """``f`` as a function of the raveled differentiated argument and of the traced
    leaves of the other arguments (their constant leaves stay in place)."""

    def __init__(self, f, call: _Call):
        self.f, self.rest_tree, self.traced = f, call.rest_tree, call.traced
        # the traced leaves' values are not kept: each call passes its own
        self.rest = [None if t else a for a, t in zip(call.rest_leaves, call.traced)]
        prepared = [np.asarray(a) for a in call.x_leaves]
        if call.x_tree.kind == "leaf":
            shape = prepared[0].shape
            self.arg = (lambda v: v) if len(shape) == 1 else (lambda v: pnp.reshape(v, shape))
        else:
            self.arg = ravel_pytree(tree_unflatten(call.x_tree, prepared))[1]

    def __call__(self, v, *dyn):
        it = iter(dyn)
        leaves = [next(it) if t else a for a, t in zip(self.rest, self.traced)]
        before, after, kwargs = tree_unflatten(self.rest_tree, leaves)
        return self.f(*before, self.arg(v), *after, **kwargs)


def _shape_trace(h, x, dyn):
    """``(graph, out)``: ``h`` traced on the shapes and dtypes of ``x`` and ``dyn``
    only, or None when it needs values (Python control flow on them, conversions)."""
    b = Builder("sparse differentiation")
    tv = b.new_arg(ShapedArray(x.shape, x.dtype))
    tds = [b.new_arg(aval_of(a)) for a in dyn]
    try:
        out = h(tv, *tds)
        graph = b.finish([tv._var] + [t._var for t in tds], [out])
    except Exception:       # value-dependent code, a wrong output: the per-call path decides
        b.active = False
        return None
    return graph, out


def _seeds(colors, k, dtype):
    """The k x n seed matrix: row c is the indicator of the columns of color c."""
    s = np.zeros((k, colors.size), dtype=dtype)
    if k:
        s[colors, np.arange(colors.size)] = 1
    return s


class _Plan:
    """What one input signature needs at every call: the coloring, the CSR structure,
    where each entry lies in the compressed product, and the products themselves
    (compiled; eager when compiling fails)."""

    __slots__ = ("info", "shape", "dtype", "indices", "indptr", "take", "compiled", "eager", "evaluate")

    def __init__(self, info, pattern, dtype, take, compiled, eager):
        self.info, self.shape, self.dtype, self.take = info, pattern.shape, dtype, take
        self.indices, self.indptr = pattern.indices.copy(), pattern.indptr.copy()
        self.compiled, self.eager = compiled, eager
        self.evaluate = None if info.n_colors else eager

    def products(self, x, dyn):
        """The compressed products, one row per color."""
        if self.evaluate is not None:
            return self.evaluate(x, *dyn)
        try:                              # first call: compile
            out = self.compiled(x, *dyn)
            self.evaluate = self.compiled
        except Exception:                 # no compiled form (e.g. a primitive vmap cannot batch)
            out = self.eager(x, *dyn)
            self.evaluate = self.eager
        return out

    def matrix(self, x, dyn):
        sp = _sp.scipy_sparse()
        if self.info.n_colors:
            data = np.asarray(self.products(x, dyn)).reshape(-1)[self.take]
            if data.dtype != self.dtype:
                data = data.astype(self.dtype)
        else:
            data = np.zeros(self.take.size, dtype=self.dtype)
        # the index arrays are copied: the result is the caller's to modify
        return sp.csr_matrix((data, self.indices.copy(), self.indptr.copy()), shape=self.shape)


class _Cache:
    """Plans by input signature, at most :data:`CACHE_SIZE` (the oldest is dropped)."""

    def __init__(self):
        self.plans: dict = {}

    def plan(self, call, build):
        if call.key is None:
            return None
        plan = self.plans.get(call.key)
        if plan is None:
            plan = build()
            if len(self.plans) >= CACHE_SIZE:
                self.plans.pop(next(iter(self.plans)))
            self.plans[call.key] = _PER_CALL if plan is None else plan
        return None if plan is _PER_CALL else plan

    def size(self):
        return sum(1 for p in self.plans.values() if p is not _PER_CALL)


def _hessian_plan(f, call, sparsity):
    fun = _Fun(f, call)
    h = _scalar_out(fun, "sparse_hessian")
    x, dyn = call.x(), call.dynamic()
    n, dtype = x.size, x.dtype
    traced = _shape_trace(h, x, dyn)
    if traced is None:
        return None
    graph = traced[0]
    if sparsity is None:
        try:
            pattern = _sp.hessian_pattern(graph, wrt=1, strict=True)
        except _sp.ValueNeeded:
            return None
        info = None
    else:
        pattern, info = _given_hessian(sparsity, n)
    del graph, traced
    if info is None:
        colors, method = _col.star_coloring(pattern)
        info = SparseInfo("hessian", pattern, colors, _count(pattern, colors), "star", method)
    k = info.n_colors
    seeds = _seeds(info.colors, k, dtype)

    def compiled(v, *dyn):
        g = grad(lambda u: h(u, *dyn))
        return vmap(lambda s: jvp(g, (v,), (s,))[1])(seeds)

    def eager(v, *dyn):
        _, hvp_lin = linearize(grad(lambda u: h(u, *dyn)), v)       # forward over reverse
        return np.stack([np.asarray(hvp_lin(s)) for s in seeds]) if k else np.zeros((0, n), dtype)
    take = _col.star_recovery_index(pattern, info.colors, k, by_color=True)
    return _Plan(info, pattern, dtype, take, jit(compiled), eager)


def _jacobian_plan(f, call, mode, sparsity):
    h = _flat_out(_Fun(f, call))
    x, dyn = call.x(), call.dynamic()
    n, dtype = x.size, x.dtype
    traced = _shape_trace(h, x, dyn)
    if traced is None:
        return None
    graph, out = traced
    m = int(np.prod(np.shape(out), dtype=np.int64))
    odt = out.dtype if hasattr(out, "dtype") else np.result_type(out)
    if sparsity is None:
        try:
            pattern = _sp.jacobian_pattern(graph, wrt=1, strict=True)
        except _sp.ValueNeeded:
            return None
        info = None
    else:
        pattern, info = _given(sparsity, "jacobian", (m, n), "sparse_jacobian")
    del graph, traced, out
    if info is None:
        info = _color_jacobian(pattern, mode)
    k = info.n_colors
    if info.mode == "fwd":
        seeds = _seeds(info.colors, k, dtype)

        def compiled(v, *dyn):
            return vmap(lambda s: jvp(lambda u: h(u, *dyn), (v,), (s,))[1])(seeds)

        def eager(v, *dyn):
            _, f_jvp = linearize(lambda u: h(u, *dyn), v)
            return np.stack([np.asarray(f_jvp(s)) for s in seeds]) if k else np.zeros((0, m), dtype)
        take = _col.column_recovery_index(pattern, info.colors, k, by_color=True)
    else:
        seeds = _seeds(info.colors, k, odt)

        def compiled(v, *dyn):
            return vmap(lambda w: vjp(lambda u: h(u, *dyn), v)[1](w)[0])(seeds)

        def eager(v, *dyn):
            _, back = vjp(lambda u: h(u, *dyn), v)
            return np.stack([np.asarray(back(w)[0]) for w in seeds]) if k else np.zeros((0, n), dtype)
        take = _col.row_recovery_index(pattern, info.colors)
    return _Plan(info, pattern, dtype, take, jit(compiled), eager)


def _given_hessian(sparsity, n):
    pattern, info = _given(sparsity, "hessian", (n, n), "sparse_hessian")
    pattern = (pattern + pattern.T).tocsr()       # a Hessian pattern is symmetric
    pattern.sort_indices()
    return pattern, info


# -- derivatives ------------------------------------------------------------------------------

def sparse_jacobian(f: Callable, argnums: int = 0, *, mode: str = "auto", sparsity=None,
                    return_info: bool = False):
    """The Jacobian of ``f`` as a ``scipy.sparse.csr_matrix``, from compressed products.

    The pattern is detected (:func:`jacobian_sparsity`), then colored: in forward
    mode, columns that share no row get one color and one JVP with the sum of their
    unit vectors; in reverse mode, rows likewise with one VJP per color.

    Args:
      f: a function of NumPy arrays (written with ``partiald.numpy``).
      argnums: which positional argument to differentiate (a pytree is raveled).
      mode: ``"fwd"`` (column coloring, JVPs), ``"rev"`` (row coloring, VJPs) or
        ``"auto"`` (whichever needs fewer products; forward on ties).
      sparsity: skip detection: a :class:`SparseInfo` from an earlier call (reuses
        its coloring too) or a boolean matrix known to contain the pattern.
      return_info: also return the :class:`SparseInfo` (pattern, colors, n_colors).

    Returns:
      A function of ``f``'s arguments giving a ``csr_matrix`` of shape
      ``(f(x).size, x.size)``, or ``(matrix, info)`` with ``return_info``. Detection,
      coloring and compilation happen once per input signature (see the module
      docstring); ``.cache_size()`` counts the signatures planned so far.

    Examples:
      >>> import numpy as np, partiald as pdx, partiald.numpy as pnp
      >>> from partiald.sparse import sparse_jacobian
      >>> J, info = sparse_jacobian(lambda x: pnp.sin(x[1:]) * x[:-1], return_info=True)(np.zeros(5))
      >>> J.shape, J.nnz, info.n_colors
      ((4, 5), 8, 2)
    """
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"sparse_jacobian: mode must be 'auto', 'fwd' or 'rev', got {mode!r}")

    cache = _Cache()

    @functools.wraps(f)
    def jac(*args, **kwargs):
        call = _Call(args, kwargs, argnums, "sparse_jacobian")
        plan = cache.plan(call, lambda: _jacobian_plan(f, call, mode, sparsity))
        if plan is None:
            return _jacobian_per_call(f, args, kwargs, argnums, mode, sparsity, return_info)
        res = plan.matrix(call.x(), call.dynamic())
        return (res, plan.info) if return_info else res
    jac.cache_size = cache.size
    jac._cache = cache
    return jac


def _jacobian_per_call(f, args, kwargs, argnums, mode, sparsity, return_info):
    """Trace on the values, detect, color and evaluate eagerly (no plan)."""
    x, g = _flat_problem(f, args, kwargs, argnums, "sparse_jacobian")
    h = _flat_out(g)
    info = None
    if sparsity is None:
        pattern = _sp.jacobian_pattern(make_graph(h)(x))
    else:
        out_size = int(np.size(h(x)))
        pattern, info = _given(sparsity, "jacobian", (out_size, x.size), "sparse_jacobian")
    if info is None:
        info = _color_jacobian(pattern, mode)
    dtype = x.dtype
    m, n = pattern.shape
    if info.mode == "fwd":
        _, f_jvp = linearize(h, x)
        comp = np.zeros((m, info.n_colors), dtype=dtype)
        for c in range(info.n_colors):
            comp[:, c] = f_jvp((info.colors == c).astype(dtype))
        data = _col.recover_columns(pattern, info.colors, comp)
    else:
        out, back = vjp(h, x)
        comp = np.zeros((info.n_colors, n), dtype=dtype)
        odt = np.asarray(out).dtype
        for c in range(info.n_colors):
            comp[c] = back((info.colors == c).astype(odt))[0]
        data = _col.recover_rows(pattern, info.colors, comp)
    res = _csr(pattern, data, dtype)
    return (res, info) if return_info else res


def _color_jacobian(pattern, mode):
    cands = []
    if mode in ("auto", "fwd"):
        colors, method = _col.color_columns(pattern)
        cands.append(SparseInfo("jacobian", pattern, colors, _count(pattern, colors), "fwd", method))
    if mode in ("auto", "rev"):
        colors, method = _col.color_columns(pattern.T.tocsr())
        cands.append(SparseInfo("jacobian", pattern, colors, _count(pattern, colors), "rev", method))
    return min(cands, key=lambda i: i.n_colors)


def _count(pattern, colors):
    """Products to evaluate: none for an empty pattern."""
    return int(colors.max()) + 1 if pattern.nnz and colors.size else 0


def sparse_hessian(f: Callable, argnums: int = 0, *, sparsity=None, return_info: bool = False):
    """The Hessian of a scalar ``f`` as a symmetric ``scipy.sparse.csr_matrix``.

    The pattern is detected (:func:`hessian_sparsity`) and star-colored; one
    Hessian-vector product (forward over reverse) per color gives ``H S``, from
    which every entry is read directly. Chained Rosenbrock (tridiagonal) needs
    3 products for any n; an arrowhead pattern needs 2.

    Args:
      f: a scalar function of NumPy arrays (written with ``partiald.numpy``).
      argnums: which positional argument to differentiate (a pytree is raveled).
      sparsity: skip detection: a :class:`SparseInfo` from an earlier call (reuses
        its coloring too) or a symmetric boolean matrix known to contain the pattern.
      return_info: also return the :class:`SparseInfo` (pattern, colors, n_colors).

    Returns:
      A function of ``f``'s arguments giving a ``csr_matrix`` of shape
      ``(x.size, x.size)``, or ``(matrix, info)`` with ``return_info``. Detection,
      coloring and compilation happen once per input signature (see the module
      docstring); ``.cache_size()`` counts the signatures planned so far.

    Raises:
      TypeError: ``f`` does not return a scalar.

    Examples:
      >>> import numpy as np, partiald.numpy as pnp
      >>> from partiald.sparse import sparse_hessian
      >>> rosen = lambda x: pnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
      >>> H, info = sparse_hessian(rosen, return_info=True)(np.ones(1000))
      >>> H.shape, H.nnz, info.n_colors
      ((1000, 1000), 2998, 3)
    """
    cache = _Cache()

    @functools.wraps(f)
    def hess(*args, **kwargs):
        call = _Call(args, kwargs, argnums, "sparse_hessian")
        plan = cache.plan(call, lambda: _hessian_plan(f, call, sparsity))
        if plan is None:
            return _hessian_per_call(f, args, kwargs, argnums, sparsity, return_info)
        res = plan.matrix(call.x(), call.dynamic())
        return (res, plan.info) if return_info else res
    hess.cache_size = cache.size
    hess._cache = cache
    return hess


def _hessian_per_call(f, args, kwargs, argnums, sparsity, return_info):
    """Trace on the values, detect, color and evaluate eagerly (no plan)."""
    x, g = _flat_problem(f, args, kwargs, argnums, "sparse_hessian")
    h = _scalar_out(g, "sparse_hessian")
    info = None
    if sparsity is None:
        pattern = _sp.hessian_pattern(make_graph(h)(x))
    else:
        pattern, info = _given_hessian(sparsity, x.size)
    if info is None:
        colors, method = _col.star_coloring(pattern)
        info = SparseInfo("hessian", pattern, colors, _count(pattern, colors), "star", method)
    dtype = x.dtype
    comp = np.zeros((x.size, info.n_colors), dtype=dtype)
    if info.n_colors:
        _, hvp_lin = linearize(grad(h), x)          # forward over reverse, linearized once
        for c in range(info.n_colors):
            comp[:, c] = hvp_lin((info.colors == c).astype(dtype))
        del hvp_lin                                  # its residuals are no longer needed
    res = _csr(pattern, _col.recover_star(pattern, info.colors, comp), dtype)
    return (res, info) if return_info else res
