"""An objective over a pytree, seen as a function of one flat float64 vector.

Every optimizer in :func:`partiald.optim.minimize` works on flat vectors; this
module is the one place that flattens the user's parameters, restores them
(shapes, dtypes, Python floats), and counts evaluations.
"""
from __future__ import annotations

import numpy as np

from .. import numpy as pnp
from ..api import hessian, linearize, value_and_grad
from ..core.errors import MemoryBudgetError
from ..core.pytree import tree_flatten, tree_unflatten
from ..core.trace import Tracer


def _leaf_spec(x, fname):
    """(shape, dtype, was_python_scalar) of one leaf; ints and Python numbers become float64."""
    if isinstance(x, Tracer):
        raise TypeError(f"{fname}: the starting point is a traced value; pass concrete NumPy arrays")
    if isinstance(x, bool) or isinstance(x, np.bool_):
        raise TypeError(f"{fname}: x0 contains a bool; pass floats")
    if isinstance(x, (int, float)):
        return (), np.dtype(np.float64), True
    a = np.asarray(x) if isinstance(x, (np.ndarray, np.generic, list)) else None
    if a is None or a.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: x0 leaves must be float arrays or numbers, got {type(x).__name__}; "
                        "pass NumPy arrays or pytrees (tuple/list/dict) of them")
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    return a.shape, dt, False


class FlatProblem:
    """``f`` of a pytree as a function of a flat float64 vector, with evaluation counters.

    Args:
      f: scalar function of one pytree of float arrays.
      x0: the starting pytree; its structure, shapes and dtypes are kept.
      fname: the caller's name, for error messages.
    """

    def __init__(self, f, x0, fname="minimize"):
        if not callable(f):
            raise TypeError(f"{fname}: f must be a function of the parameters, got {type(f).__name__}")
        self.f = f
        leaves, self.treedef = tree_flatten(x0)
        if not leaves:
            raise ValueError(f"{fname}: x0 has no array leaves; pass the starting point, e.g. np.zeros(2)")
        specs = [_leaf_spec(x, fname) for x in leaves]
        self.shapes = [s for s, _, _ in specs]
        self.dtypes = [d for _, d, _ in specs]
        self.scalars = [p for _, _, p in specs]
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.n = sum(self.sizes)
        if self.n == 0:
            raise ValueError(f"{fname}: x0 has no elements")
        self.x0 = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in leaves])
        # a lone 1-D float64 array needs no flattening: f sees the vector itself
        self._identity = (len(leaves) == 1 and len(self.shapes[0]) == 1 and self.dtypes[0] == np.float64
                          and not self.scalars[0])
        self.nfev = 0     # f evaluations (with or without gradient)
        self.ngev = 0     # gradient evaluations
        self.nhev = 0     # Hessians or Hessian linearizations
        self.eps = float(np.finfo(np.float64).eps)    # rounding unit of f's values (float32 f: 1.2e-7)

    # -- flat <-> tree ---------------------------------------------------------------
    def _pieces(self, v, reshape, cast):
        out, start = [], 0
        for shape, size, dt in zip(self.shapes, self.sizes, self.dtypes):
            piece = reshape(v[start:start + size], shape)
            out.append(cast(piece, dt))
            start += size
        return out

    def traced(self, v):
        """The pytree for a (possibly traced) flat vector, as ``f`` receives it."""
        if self._identity:
            return v
        return tree_unflatten(self.treedef, self._pieces(
            v, pnp.reshape, lambda p, dt: p.astype(dt) if p.dtype != dt else p))

    def unravel(self, v):
        """A fresh pytree of NumPy arrays (Python floats where x0 had them) for a flat vector."""
        pieces = self._pieces(np.asarray(v, dtype=np.float64), np.reshape, lambda p, dt: p.astype(dt))
        pieces = [float(p) if s else p for p, s in zip(pieces, self.scalars)]
        return tree_unflatten(self.treedef, pieces)

    def flat_f(self, v):
        """``f`` as a function of the flat vector (traceable)."""
        return self.f(self.traced(v))

    # -- evaluations -------------------------------------------------------------------
    def value(self, v):
        """``f(v)`` as a float, evaluated directly (no tracing)."""
        self.nfev += 1
        with np.errstate(all="ignore"):
            out = self.f(self.unravel(v) if not self._identity else v)
        return self._scalar(out)

    def value_and_grad(self, v):
        """``(f(v), grad f(v))``: a float and a float64 vector."""
        self.nfev += 1
        self.ngev += 1
        with np.errstate(all="ignore"):
            f, g = value_and_grad(self.flat_f)(v)
        return self._scalar(f), np.asarray(g, dtype=np.float64)

    def hessian(self, v):
        """The dense ``n x n`` Hessian (Newton's method only)."""
        self.nhev += 1
        try:
            with np.errstate(all="ignore"):
                return np.asarray(hessian(self.flat_f)(v), dtype=np.float64).reshape(self.n, self.n)
        except MemoryBudgetError as e:
            raise MemoryBudgetError(f"method='newton' forms the dense {self.n} x {self.n} Hessian; use "
                                    f"method='newton-cg', which needs only Hessian-vector products. ({e})") from e

    def linearize(self, v):
        """``(f, g, hvp)`` at ``v``: the gradient linearized once, so each ``hvp(p) = H p`` is
        one pass through the linear program (no Hessian is formed)."""
        self.nfev += 1
        self.ngev += 1
        self.nhev += 1
        with np.errstate(all="ignore"):
            (f, g), lin = linearize(value_and_grad(self.flat_f), v)

        def hvp(p):
            with np.errstate(all="ignore"):
                return np.asarray(lin(np.asarray(p, dtype=np.float64))[1], dtype=np.float64)
        return self._scalar(f), np.asarray(g, dtype=np.float64), hvp

    def _scalar(self, out):
        """A scalar objective value as a Python float; notes the precision it was computed in."""
        if np.shape(out) != ():
            raise TypeError(f"the objective must return a scalar, got shape {np.shape(out)}; reduce it "
                            "(e.g. pnp.sum) first")
        dt = getattr(out, "dtype", None)
        if dt is not None and dt.kind == "f":
            self.eps = max(self.eps, float(np.finfo(dt).eps))
        return float(out)
