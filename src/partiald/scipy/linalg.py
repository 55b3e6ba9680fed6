"""``partiald.scipy.linalg``: SciPy's dense linear algebra, differentiable.

solve_triangular, cholesky, cho_factor, cho_solve, inv, det, expm, solve_sylvester and
solve_banded are compositions of the ``pnp.linalg`` records (NumPy only); sqrtm is a
record whose values come from SciPy when it is installed (else from an
eigendecomposition). Triangular functions read only the triangle SciPy reads, so
their derivatives are those of the function of that triangle.
"""
from __future__ import annotations

import numpy as _np

from ..core.primitive import bind
from ..numpy import _core as pnp
from ..numpy import linalg as _nla
from ..ops import linalg as _la


def _H(x):
    return _nla._H(x)


def _tri(a, lower):
    return pnp.tril(a) if lower else pnp.triu(a)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """Solve ``op(a) x = b`` for a triangular ``a`` (``op``: ``trans`` 0/'N', 1/'T', 2/'C').

    Only the ``lower`` (or upper) triangle of ``a`` is read; with ``unit_diagonal`` its
    diagonal is taken as ones."""
    a = _nla._float(a)
    _nla._stack(a, "solve_triangular")
    t = _tri(a, lower)
    if unit_diagonal:
        n = pnp._shape(a)[-1]
        eye = _np.eye(n, dtype=pnp._dtype(a))
        t = t * (1.0 - eye) + eye
    if trans in (0, "N", "n"):
        op = t
    elif trans in (1, "T", "t"):
        op = _nla._mT(t)
    elif trans in (2, "C", "c"):
        op = _H(t)
    else:
        raise ValueError(f"incorrect value for trans: {trans!r} (0, 1, 2, 'N', 'T' or 'C')")
    return _nla.solve(op, b)


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """Cholesky factor of a Hermitian positive definite matrix, like ``scipy.linalg.cholesky``:
    upper ``U`` with ``a = U^H U`` (reading the upper triangle), or with ``lower=True`` the
    lower ``L`` with ``a = L L^H`` (reading the lower triangle)."""
    a = _nla._float(a)
    if lower:
        return _nla.cholesky(a)
    # the upper triangle of a is the lower triangle of a^H
    return _H(_nla.cholesky(_H(a)))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``(c, lower)`` for :func:`cho_solve`. Unlike SciPy, the other triangle of ``c`` holds
    zeros (SciPy leaves arbitrary data there; neither is read by ``cho_solve``)."""
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """Solve ``a x = b`` given ``cho_factor(a)``; reads only the factor's triangle."""
    c, lower = c_and_lower
    c = _nla._float(c)
    if lower:
        low = pnp.tril(c)
        return _nla.solve(_H(low), _nla.solve(low, b))
    up = pnp.triu(c)
    return _nla.solve(up, _nla.solve(_H(up), b))


def inv(a, overwrite_a=False, check_finite=True):
    """Matrix inverse (``pnp.linalg.inv``)."""
    return _nla.inv(a)


def det(a, overwrite_a=False, check_finite=True):
    """Determinant (``pnp.linalg.det``)."""
    return _nla.det(a)


# Pade approximant of degree 13 with scaling and squaring (Higham 2005): the number of
# squarings is chosen from the 1-norm of the value of ``a`` (known outside jit and vmap;
# inside them the largest count for matrices of 1-norm up to ``2**10 * theta_13`` is used).
_B13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
        129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
        40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def expm(a):
    """Matrix exponential of a square (stack of) matrices, like ``scipy.linalg.expm``
    (degree-13 Pade approximant with scaling and squaring, written with pnp operations,
    so it is differentiable to any order)."""
    a = _nla._float(a)
    _nla._stack(a, "expm")
    n = pnp._shape(a)[-1]
    if n == 0:
        return a
    val = _nla._value(a)
    if val is not None:
        norm1 = float(_np.max(_np.sum(_np.abs(val), axis=-2))) if val.size else 0.0
        s = max(0, int(_np.ceil(_np.log2(norm1 / _THETA13)))) if norm1 > _THETA13 else 0
    else:
        s = 10
    x = a * (0.5 ** s) if s else a
    eye = _np.eye(n, dtype=pnp._dtype(a))
    b = _B13
    x2 = pnp.matmul(x, x)
    x4 = pnp.matmul(x2, x2)
    x6 = pnp.matmul(x4, x2)
    u = pnp.matmul(x, pnp.matmul(x6, b[13] * x6 + b[11] * x4 + b[9] * x2)
                   + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = pnp.matmul(x6, b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    r = _nla.solve(v - u, v + u)
    for _ in range(s):
        r = pnp.matmul(r, r)
    return r


def sqrtm(a):
    """The principal square root of a (stack of) square matrices, like ``scipy.linalg.sqrtm``;
    always complex (as in JAX: SciPy returns a real dtype when the root happens to be real).
    The derivative solves the Sylvester equation ``X dX + dX X = dA``; where ``a`` has a zero
    eigenvalue (or ``X`` two eigenvalues summing to 0) that system is singular and the
    derivative raises numpy.linalg.LinAlgError."""
    a = _nla._float(a)
    _nla._stack(a, "sqrtm")
    return bind(_la.sqrtm_p, a)


#: the largest n m for solve_sylvester's Kronecker system ((n m)^2 entries, 128 MiB in float64)
SYLVESTER_MAX = 4096


def solve_sylvester(a, b, q):
    """X with ``a @ X + X @ b = q``, like ``scipy.linalg.solve_sylvester``; differentiable
    in ``a``, ``b`` and ``q``. Solved as one (n m) x (n m) linear system, so n m is limited
    to ``SYLVESTER_MAX``."""
    a, b, q = _nla._float(a), _nla._float(b), _nla._float(q)
    _nla._stack(a, "solve_sylvester")
    _nla._stack(b, "solve_sylvester")
    n, m = pnp._shape(a)[-1], pnp._shape(b)[-1]
    if pnp._shape(q)[-2:] != (n, m):
        raise ValueError(f"solve_sylvester: q must have shape (..., {n}, {m}) for a of shape "
                         f"{pnp._shape(a)} and b of shape {pnp._shape(b)}, got {pnp._shape(q)}")
    if n * m > SYLVESTER_MAX:
        raise ValueError(f"solve_sylvester: n*m = {n * m} exceeds {SYLVESTER_MAX} (the Kronecker system "
                         f"would have {(n * m) ** 2:,} entries); raise partiald.scipy.linalg.SYLVESTER_MAX "
                         "if the memory is there")
    return _la.sylvester(a, b, q)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """Solve ``a x = b`` for ``a`` in SciPy's banded storage (``ab[u + i - j, j] = a[i, j]``),
    like ``scipy.linalg.solve_banded``; differentiable in ``ab`` and ``b``. The band is
    expanded to a dense matrix (n^2 memory)."""
    lo, up = (int(v) for v in l_and_u)
    ab, b = _nla._float(ab), _nla._float(b)
    rows, n = pnp._shape(ab)[-2:]
    if rows != lo + up + 1:
        raise ValueError(f"solve_banded: ab must have l + u + 1 = {lo + up + 1} rows, got {rows}")
    if pnp._shape(b)[0] != n:
        raise ValueError(f"solve_banded: b must have {n} rows (got shape {pnp._shape(b)})")
    i, j = _np.meshgrid(_np.arange(n), _np.arange(n), indexing="ij")
    k = up + i - j
    inside = (k >= 0) & (k < rows)
    dense = pnp.where(inside, ab[_np.clip(k, 0, rows - 1), j], 0.0)
    return _nla.solve(dense, b)


__all__ = ["solve_triangular", "cholesky", "cho_factor", "cho_solve", "inv", "det", "expm", "sqrtm",
           "solve_sylvester", "solve_banded"]
