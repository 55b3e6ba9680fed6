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
(``partiald.transforms.sparsity``): no numeric probing, and always a superset of
the derivative's nonzeros, so the recovered values are exact. The result keeps
the detected pattern as its structure (an entry that happens to be 0.0 at ``x``
stays stored; ``.eliminate_zeros()`` drops them).

Inputs are raveled (C order): an ``(m, n)`` argument gives ``m*n`` columns; a
pytree argument is flattened like :func:`partiald.ravel_pytree`. Outputs are
raveled and concatenated the same way. SciPy is needed
(``pip install "partiald[sparse]"``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import numpy as pnp
from .api import _prepare, grad, linearize, make_graph, ravel_pytree, vjp
from .core.pytree import tree_flatten, tree_unflatten
from .core.trace import Tracer
from .transforms import sparsity as _sp


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

def _flat_problem(f, args, kwargs, argnums, fname):
    """``(x, g)``: the differentiated argument as a 1-D float array and ``g(v)``, ``f``
    as a function of it (the other arguments held fixed)."""
    if not isinstance(argnums, int):
        raise TypeError(f"{fname}: argnums must be an int (one argument, which may be a pytree), "
                        f"got {argnums!r}")
    if not -len(args) <= argnums < len(args):
        raise ValueError(f"{fname}: argnums={argnums} but the function was called with {len(args)} "
                         "positional argument(s)")
    i = argnums % len(args)
    leaves, _ = tree_flatten(args[i])
    if any(isinstance(a, Tracer) for a in tree_flatten((args, kwargs))[0]):
        raise TypeError(f"{fname} cannot be used inside another transformation (grad, jit, ...): it "
                        "returns a SciPy matrix, which cannot be traced. Call it on concrete arrays.")
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
    rest_before, rest_after = args[:i], args[i + 1:]

    def g(v):
        return f(*rest_before, arg(v), *rest_after, **kwargs)
    return x, g


def _flat_out(g):
    """``g`` with its output pytree raveled into one 1-D vector."""
    def h(v):
        out = g(v)
        leaves, _ = tree_flatten(out)
        flat = [pnp.reshape(o, (-1,)) for o in leaves]
        if len(flat) == 1:
            return flat[0]
        return pnp.concatenate(flat) if flat else np.zeros(0)
    return h


def _scalar_out(g, fname):
    def h(v):
        out = g(v)
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
      ``(f(x).size, x.size)``, or ``(matrix, info)`` with ``return_info``.

    Examples:
      >>> import numpy as np, partiald as pdx, partiald.numpy as pnp
      >>> from partiald.sparse import sparse_jacobian
      >>> J, info = sparse_jacobian(lambda x: pnp.sin(x[1:]) * x[:-1], return_info=True)(np.zeros(5))
      >>> J.shape, J.nnz, info.n_colors
      ((4, 5), 8, 2)
    """
    if mode not in ("auto", "fwd", "rev"):
        raise ValueError(f"sparse_jacobian: mode must be 'auto', 'fwd' or 'rev', got {mode!r}")

    @functools.wraps(f)
    def jac(*args, **kwargs):
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
            data = _sp.recover_columns(pattern, info.colors, comp)
        else:
            out, back = vjp(h, x)
            comp = np.zeros((info.n_colors, n), dtype=dtype)
            odt = np.asarray(out).dtype
            for c in range(info.n_colors):
                comp[c] = back((info.colors == c).astype(odt))[0]
            data = _sp.recover_rows(pattern, info.colors, comp)
        res = _csr(pattern, data, dtype)
        return (res, info) if return_info else res
    return jac


def _color_jacobian(pattern, mode):
    cands = []
    if mode in ("auto", "fwd"):
        colors, method = _sp.color_columns(pattern)
        cands.append(SparseInfo("jacobian", pattern, colors, _count(pattern, colors), "fwd", method))
    if mode in ("auto", "rev"):
        colors, method = _sp.color_columns(pattern.T.tocsr())
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
      ``(x.size, x.size)``, or ``(matrix, info)`` with ``return_info``.

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
    @functools.wraps(f)
    def hess(*args, **kwargs):
        x, g = _flat_problem(f, args, kwargs, argnums, "sparse_hessian")
        h = _scalar_out(g, "sparse_hessian")
        info = None
        if sparsity is None:
            pattern = _sp.hessian_pattern(make_graph(h)(x))
        else:
            pattern, info = _given(sparsity, "hessian", (x.size, x.size), "sparse_hessian")
            pattern = (pattern + pattern.T).tocsr()       # a Hessian pattern is symmetric
            pattern.sort_indices()
        if info is None:
            colors, method = _sp.star_coloring(pattern)
            info = SparseInfo("hessian", pattern, colors, _count(pattern, colors), "star", method)
        dtype = x.dtype
        comp = np.zeros((x.size, info.n_colors), dtype=dtype)
        if info.n_colors:
            _, hvp_lin = linearize(grad(h), x)          # forward over reverse, linearized once
            for c in range(info.n_colors):
                comp[:, c] = hvp_lin((info.colors == c).astype(dtype))
            del hvp_lin                                  # its residuals are no longer needed
        res = _csr(pattern, _sp.recover_star(pattern, info.colors, comp), dtype)
        return (res, info) if return_info else res
    return hess
