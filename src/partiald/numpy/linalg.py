"""``partiald.numpy.linalg``: norm, solve, inv, det, cholesky, slogdet, eigh, eigvalsh."""
from __future__ import annotations

import collections as _collections

import numpy as _np

from ..core.primitive import bind
from ..ops import linalg as _la
from . import _core as pnp


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, like ``numpy.linalg.norm``.

    The 2-norm (and the Frobenius norm) has gradient 0 at 0 instead of NaN.
    Supported: ``ord`` None/2/'fro' (Euclidean), 1, inf, -inf for vectors,
    'fro' and None for matrices.
    """
    x = pnp._to_float(pnp.asarray(x) if not pnp._is_traced(x) else x)
    nd = pnp._ndim(x)
    if axis is None:
        if ord is not None and ord != "fro" and nd == 2:
            raise NotImplementedError(f"pnp.linalg.norm: matrix norm ord={ord!r} is not supported "
                                      "(use ord=None or 'fro')")
        if ord is not None and ord != "fro" and nd != 1:
            raise ValueError(f"pnp.linalg.norm: ord={ord!r} needs a vector (got shape {pnp._shape(x)})")
        axes = tuple(range(nd))
    else:
        axes = pnp._axes(x, axis)
        if len(axes) == 2 and ord not in (None, "fro"):
            raise NotImplementedError(f"pnp.linalg.norm: matrix norm ord={ord!r} is not supported")
    if ord in (None, 2, "fro"):
        s = pnp.sum(pnp.square(x), axes, keepdims)
        # sqrt'(0) is inf: evaluate sqrt where s > 0 only, so the gradient at 0 is 0
        zero = pnp.equal(s, 0)
        return pnp.where(zero, 0.0, pnp.sqrt(pnp.where(zero, 1.0, s)))
    if ord == 1:
        return pnp.sum(pnp.abs(x), axes, keepdims)
    if ord == _np.inf:
        return pnp.max(pnp.abs(x), axes, keepdims)
    if ord == -_np.inf:
        return pnp.min(pnp.abs(x), axes, keepdims)
    if isinstance(ord, (int, float)) and ord > 0:
        return pnp.power(pnp.sum(pnp.power(pnp.abs(x), float(ord)), axes, keepdims), 1.0 / ord)
    raise ValueError(f"pnp.linalg.norm: unsupported ord={ord!r}")


def _square_matrix(a, name):
    s = pnp._shape(a)
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError(f"pnp.linalg.{name}: expected a square 2-D matrix, got shape {s}")


def solve(a, b):
    """Solve ``a @ x = b`` for a square ``a`` of shape (n, n) and ``b`` of shape (n,) or (n, k)."""
    a = pnp._to_float(pnp._arr(a))
    b = pnp._to_float(pnp._arr(b))
    _square_matrix(a, "solve")
    sb = pnp._shape(b)
    if len(sb) not in (1, 2) or sb[0] != pnp._shape(a)[0]:
        raise ValueError(f"pnp.linalg.solve: a has shape {pnp._shape(a)} but b has shape {sb}; "
                         f"b must be ({pnp._shape(a)[0]},) or ({pnp._shape(a)[0]}, k)")
    return bind(_la.solve_p, a, b)


def inv(a):
    """Matrix inverse (as ``solve(a, eye)``)."""
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "inv")
    n = pnp._shape(a)[0]
    return solve(a, _np.eye(n, dtype=pnp._dtype(a)))


def det(a):
    """Determinant of a square 2-D matrix."""
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "det")
    return bind(_la.det_p, a)


def cholesky(a):
    """Lower Cholesky factor ``L`` (``a = L @ L.T``) of a symmetric positive definite 2-D matrix.

    As in NumPy only the lower triangle of ``a`` is read; the derivative is that of
    this function, so gradients lie in the lower triangle (a symmetric parameterization
    ``a = f(theta)`` gets its correct gradient through the chain rule). A matrix that is
    not positive definite raises ``numpy.linalg.LinAlgError``, as in NumPy.
    """
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "cholesky")
    return bind(_la.cholesky_p, a)


SlogdetResult = _collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])


def slogdet(a):
    """``(sign, logabsdet)`` of a square 2-D matrix, like ``numpy.linalg.slogdet``.

    ``d logabsdet = tr(a^-1 da)``; ``sign`` has derivative 0. At a singular matrix
    (``logabsdet = -inf``) the derivative of ``logabsdet`` is undefined and computing
    it raises ``numpy.linalg.LinAlgError`` (as ``inv`` does).
    """
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "slogdet")
    return SlogdetResult(bind(_la.slogdet_sign_p, a), bind(_la.logabsdet_p, a))


EighResult = _collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


def eigh(a):
    """Eigenvalues (ascending) and eigenvectors of a symmetric 2-D matrix, like
    ``numpy.linalg.eigh`` (the lower triangle of ``a`` is read).

    Each eigenvector's sign is fixed: its component of largest magnitude (the first
    one on a tie) is positive, so ``v`` may differ from NumPy's by column signs.
    Derivatives: ``dw = diag(v.T da v)``, ``dv = v (F * (v.T da v))`` with
    ``F_ij = 1/(w_j - w_i)`` off the diagonal, where ``da`` is the symmetric matrix
    with the lower triangle of the tangent. ``dw`` is defined everywhere; at
    repeated eigenvalues ``dv`` is not, and its columns for those eigenvalues are
    inf or NaN.
    """
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "eigh")
    return EighResult(bind(_la.eigh_w_p, a), bind(_la.eigh_v_p, a))


def eigvalsh(a):
    """Eigenvalues (ascending) of a symmetric 2-D matrix; see :func:`eigh`."""
    a = pnp._to_float(pnp._arr(a))
    _square_matrix(a, "eigvalsh")
    return bind(_la.eigh_w_p, a)


__all__ = ["norm", "solve", "inv", "det", "cholesky", "slogdet", "eigh", "eigvalsh"]
FUNCTIONS = {"norm": norm, "solve": solve, "inv": inv, "det": det, "cholesky": cholesky,
             "slogdet": slogdet, "eigh": eigh, "eigvalsh": eigvalsh}
