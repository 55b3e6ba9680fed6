"""``partiald.numpy.linalg``: norm, solve, inv, det, cholesky, slogdet, eigh, eigvalsh, svd,
qr, pinv, matrix_power, lstsq, multi_dot.

Every function takes stacks of matrices ``(..., m, n)`` as NumPy does; the records
underneath work on the whole stack at once (no loop over it), except ``det`` whose
record takes one matrix (a stack is evaluated one matrix at a time).
"""
from __future__ import annotations

import collections as _collections

import numpy as _np

from ..core.primitive import bind
from ..ops import elementwise as _ew
from ..ops import linalg as _la
from . import _core as pnp

SlogdetResult = _collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = _collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = _collections.namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = _collections.namedtuple("QRResult", ["Q", "R"])


def _float(a):
    a = pnp._arr(a)
    if not pnp._is_traced(a) and not hasattr(a, "dtype"):
        a = pnp.asarray(a)
    return pnp._to_float(a)


def _is_complex(x):
    return pnp._dtype(x).kind == "c"


def _mT(x):
    return pnp.swapaxes(x, -1, -2)


def _H(x):
    return _ew.conj(_mT(x)) if _is_complex(x) else _mT(x)


def _stack(a, name, square=True):
    """Check ``a`` is a (stack of) matrices, square ones where ``square``."""
    s = pnp._shape(a)
    if len(s) < 2:
        raise _np.linalg.LinAlgError(
            f"{len(s)}-dimensional array given. Array must be at least two-dimensional "
            f"(pnp.linalg.{name})")
    if square and s[-1] != s[-2]:
        raise _np.linalg.LinAlgError(f"Last 2 dimensions of the array must be square "
                                     f"(pnp.linalg.{name}, got shape {s})")


def _abs(x):
    return pnp.abs(x)


# -- norms ---------------------------------------------------------------------------------------

def _sqrt0(s):
    # sqrt'(0) is inf: evaluate sqrt where s > 0 only, so the gradient at 0 is 0
    zero = pnp.equal(s, 0)
    return pnp.where(zero, 0.0, pnp.sqrt(pnp.where(zero, 1.0, s)))


def _sumsq(x, axes, keepdims):
    if _is_complex(x):
        return pnp.sum(pnp.square(_ew.real(x)) + pnp.square(_ew.imag(x)), axes, keepdims)
    return pnp.sum(pnp.square(x), axes, keepdims)


def _vector_norm(x, ord, axis, keepdims):
    axes = (axis,)
    if ord is None or ord == 2:
        return _sqrt0(_sumsq(x, axes, keepdims))
    if ord == _np.inf:
        return pnp.max(_abs(x), axes, keepdims)
    if ord == -_np.inf:
        return pnp.min(_abs(x), axes, keepdims)
    if ord == 0:
        return pnp.sum(pnp.astype(pnp.not_equal(x, 0), pnp._dtype(_abs(x))), axes, keepdims)
    if ord == 1:
        return pnp.sum(_abs(x), axes, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"pnp.linalg.norm: invalid norm order ord={ord!r} for vectors")
    ord = float(ord)
    return pnp.power(pnp.sum(pnp.power(_abs(x), ord), axes, keepdims), 1.0 / ord)


def _matrix_norm(x, ord, row, col, keepdims):
    nd = pnp._ndim(x)
    if ord in (None, "fro", "f"):
        out = _sqrt0(_sumsq(x, (row, col), True))
    elif ord in (1, -1, _np.inf, -_np.inf):
        # 1: max over columns of the column sums; inf: max over rows of the row sums
        over, then = (row, col) if ord in (1, -1) else (col, row)
        sums = pnp.sum(_abs(x), over, True)
        out = (pnp.max if ord > 0 else pnp.min)(sums, then, True)
    elif ord in (2, -2, "nuc"):
        rest = [i for i in range(nd) if i not in (row, col)]
        y = pnp.transpose(x, tuple(rest) + (row, col))
        s = bind(_la.svd_s_p, y)
        if ord == "nuc":
            out = pnp.sum(s, -1)
        else:
            out = (pnp.max if ord == 2 else pnp.min)(s, -1)
        shape = list(pnp._shape(x))
        shape[row] = shape[col] = 1
        out = pnp.reshape(out, tuple(shape))
    else:
        raise ValueError(f"pnp.linalg.norm: invalid norm order ord={ord!r} for matrices (use None, "
                         "'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")
    if keepdims:
        return out
    return pnp.reshape(out, tuple(d for i, d in enumerate(pnp._shape(out)) if i not in (row, col)))


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, like ``numpy.linalg.norm``, with every NumPy ``ord``.

    Vectors: None/2, any real p, 0 (count of nonzeros, derivative 0), inf, -inf;
    matrices (``axis`` a pair, or a 2-D ``x``): None/'fro', 'nuc', 1, -1, 2, -2, inf,
    -inf (the 2-norms and the nuclear norm through singular values). The 2-norm and
    the Frobenius norm have gradient 0 at 0 instead of NaN.
    """
    x = _float(x)
    nd = pnp._ndim(x)
    if axis is None:
        if ord is None:
            out = _sqrt0(_sumsq(x, tuple(range(nd)), keepdims))
            return out
        if nd == 1:
            axis = (0,)
        elif nd == 2:
            axis = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    elif isinstance(axis, (int, _np.integer)):
        axis = (int(axis),)
    axis = tuple(int(a) % nd if -nd <= int(a) < nd else _bad_axis(a, nd) for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        if axis[0] == axis[1]:
            raise ValueError("Duplicate axes given.")
        return _matrix_norm(x, ord, axis[0], axis[1], keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def _bad_axis(a, nd):
    raise ValueError(f"axis {a} is out of bounds for array of dimension {nd}")


# -- solving ---------------------------------------------------------------------------------------

def _broadcast_batch(a, b, a_core, b_core):
    """``a`` and ``b`` broadcast to a common batch shape (their last ``*_core`` axes kept)."""
    sa, sb = pnp._shape(a), pnp._shape(b)
    batch = _np.broadcast_shapes(sa[:len(sa) - a_core], sb[:len(sb) - b_core])
    if sa[:len(sa) - a_core] != batch:
        a = pnp.broadcast_to(a, batch + sa[len(sa) - a_core:])
    if sb[:len(sb) - b_core] != batch:
        b = pnp.broadcast_to(b, batch + sb[len(sb) - b_core:])
    return a, b


def solve(a, b):
    """Solve ``a @ x = b`` like ``numpy.linalg.solve`` (NumPy 2): ``a`` is ``(..., n, n)``;
    ``b`` is a vector ``(n,)`` when ``b.ndim == 1``, else a stack ``(..., n, k)``; batch
    dimensions broadcast."""
    a = _float(a)
    b = _float(b)
    _stack(a, "solve")
    sa, sb = pnp._shape(a), pnp._shape(b)
    n = sa[-1]
    dt = _np.result_type(pnp._dtype(a), pnp._dtype(b))
    if pnp._dtype(a) != dt:
        a = pnp.astype(a, dt)
    if pnp._dtype(b) != dt:
        b = pnp.astype(b, dt)
    if len(sb) == 1:
        if sb[0] != n:
            raise ValueError(f"pnp.linalg.solve: a has shape {sa} but b has shape {sb}")
        if len(sa) == 2:
            return bind(_la.solve_p, a, b)
        a, b2 = _broadcast_batch(a, pnp.reshape(b, (n, 1)), 2, 2)
        return pnp.reshape(bind(_la.solve_p, a, b2), pnp._shape(a)[:-1])
    if sb[-2] != n:
        raise ValueError(f"pnp.linalg.solve: a has shape {sa} but b has shape {sb}; "
                         f"b must be ({n},) or (..., {n}, k)")
    a, b = _broadcast_batch(a, b, 2, 2)
    return bind(_la.solve_p, a, b)


def _eye_like(a):
    s = pnp._shape(a)
    eye = _np.eye(s[-1], dtype=pnp._dtype(a))
    return _np.broadcast_to(eye, s).copy() if len(s) > 2 else eye


def inv(a):
    """Matrix inverse of a (stack of) square matrices (as ``solve(a, eye)``)."""
    a = _float(a)
    _stack(a, "inv")
    return bind(_la.solve_p, a, _eye_like(a))


def det(a):
    """Determinant of a (stack of) square matrices."""
    a = _float(a)
    _stack(a, "det")
    return bind(_la.det_p, a)


def cholesky(a, upper=False):
    """Lower Cholesky factor ``L`` (``a = L @ L^H``) of a (stack of) Hermitian positive
    definite matrices (``upper=True``: the upper factor ``L^H``).

    As in NumPy only the lower triangle of ``a`` is read; the derivative is that of
    this function, so gradients lie in the lower triangle (a symmetric parameterization
    ``a = f(theta)`` gets its correct gradient through the chain rule). A matrix that is
    not positive definite raises ``numpy.linalg.LinAlgError``, as in NumPy.
    """
    a = _float(a)
    _stack(a, "cholesky")
    low = bind(_la.cholesky_p, a)
    return _H(low) if upper else low


def slogdet(a):
    """``(sign, logabsdet)`` of a (stack of) square matrices, like ``numpy.linalg.slogdet``.

    ``d logabsdet = Re tr(a^-1 da)``; ``sign`` has derivative 0. At a singular matrix
    (``logabsdet = -inf``) the derivative of ``logabsdet`` is undefined and computing
    it raises ``numpy.linalg.LinAlgError`` (as ``inv`` does).
    """
    a = _float(a)
    _stack(a, "slogdet")
    return SlogdetResult(bind(_la.slogdet_sign_p, a), bind(_la.logabsdet_p, a))


def _uplo(a, UPLO, name):
    if UPLO not in ("L", "U", "l", "u"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    a = _float(a)
    _stack(a, name)
    # the upper triangle of a is the lower triangle of a^H (Hermitian completion)
    return _H(a) if UPLO in ("U", "u") else a


def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of a (stack of) Hermitian matrices, like
    ``numpy.linalg.eigh`` (the triangle ``UPLO`` of ``a`` is read).

    Each eigenvector's phase is fixed: its component of largest magnitude (the first
    one on a tie) is real and positive, so ``v`` may differ from NumPy's by column
    signs. Derivatives: ``dw = diag(v^H da v)``, ``dv = v (F * (v^H da v))`` with
    ``F_ij = 1/(w_j - w_i)`` off the diagonal, where ``da`` is the Hermitian matrix
    with the read triangle of the tangent. ``dw`` is defined everywhere; at repeated
    eigenvalues ``dv`` is not, and its columns for those eigenvalues are inf or NaN.
    """
    a = _uplo(a, UPLO, "eigh")
    return EighResult(bind(_la.eigh_w_p, a), bind(_la.eigh_v_p, a))


EigResult = _collections.namedtuple("EigResult", ["eigenvalues", "eigenvectors"])


def eig(a):
    """Eigenvalues and right eigenvectors of a (stack of) square matrices, like
    ``numpy.linalg.eig``; both are complex (JAX's choice: NumPy returns a real dtype when
    every eigenvalue of a real matrix is real). Eigenvectors have unit norm and a fixed
    phase (the component of largest magnitude real and positive), and are differentiated
    as that function of ``a``; at a repeated eigenvalue the eigenvector derivative is not
    finite."""
    a = _float(a)
    _stack(a, "eig")
    return EigResult(bind(_la.eig_w_p, a), bind(_la.eig_v_p, a))


def eigvals(a):
    """The eigenvalues of ``eig`` (complex)."""
    a = _float(a)
    _stack(a, "eigvals")
    return bind(_la.eig_w_p, a)


def eigvalsh(a, UPLO="L"):
    """Eigenvalues (ascending) of a (stack of) Hermitian matrices; see :func:`eigh`."""
    return bind(_la.eigh_w_p, _uplo(a, UPLO, "eigvalsh"))


# -- decompositions -----------------------------------------------------------------------------------

def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` of a (stack of) matrices, like
    ``numpy.linalg.svd`` (returns ``SVDResult(U, S, Vh)``, or ``S`` for ``compute_uv=False``).

    Each column of ``U`` has its component of largest magnitude real and positive (the
    row of ``Vh`` compensates), so ``U``/``Vh`` may differ from NumPy's by signs. The
    derivatives (JAX's rule) need distinct nonzero singular values for ``U`` and ``Vh``;
    ``S`` is differentiable wherever the singular values are distinct. With
    ``full_matrices=True`` and a non-square ``a`` the extra columns have no unique
    derivative: differentiating ``U``/``Vh`` then raises NotImplementedError, as in JAX.
    ``hermitian`` is accepted and ignored (the general algorithm is used).
    """
    a = _float(a)
    _stack(a, "svd", square=False)
    s = bind(_la.svd_s_p, a)
    if not compute_uv:
        return s
    full = bool(full_matrices)
    return SVDResult(bind(_la.svd_u_p, a, full_matrices=full), s,
                     bind(_la.svd_vh_p, a, full_matrices=full))


def svdvals(x):
    """Singular values of a (stack of) matrices (``numpy.linalg.svdvals``)."""
    return svd(x, compute_uv=False)


def qr(a, mode="reduced"):
    """QR factorization of a (stack of) matrices, like ``numpy.linalg.qr``: modes
    'reduced' (``QRResult(Q, R)``), 'r' (``R`` only), and 'complete' where it equals
    'reduced' (``m <= n``). The derivative is JAX's rule (``R`` must have a nonzero
    diagonal)."""
    a = _float(a)
    _stack(a, "qr", square=False)
    m, n = pnp._shape(a)[-2:]
    if mode == "complete" and m > n:
        raise NotImplementedError("pnp.linalg.qr: mode='complete' of a tall matrix is not "
                                  "supported (use mode='reduced')")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"Unrecognized mode '{mode}'" if mode not in ("raw", "full", "economic")
                         else f"pnp.linalg.qr: mode={mode!r} is not supported")
    r = bind(_la.qr_r_p, a)
    if mode == "r":
        return r
    return QRResult(bind(_la.qr_q_p, a), r)


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    """Moore-Penrose pseudo-inverse of a (stack of) matrices, like ``numpy.linalg.pinv``.

    Singular values below ``rcond * max(s)`` (NumPy's default ``rcond``) count as
    zero. The derivative (Golub and Pereyra's formula, as in JAX) is valid where the
    rank is locally constant. ``hermitian`` is accepted and ignored.
    """
    a = _float(a)
    _stack(a, "pinv", square=False)
    if rcond is None:
        rcond = rtol
    if rcond is None:
        m, n = pnp._shape(a)[-2:]
        rcond = max(m, n) * float(_np.finfo(_np.empty(0, pnp._dtype(a)).real.dtype).eps)
    return bind(_la.pinv_p, a, rcond=float(rcond))


def matrix_power(a, n):
    """``a`` raised to the integer power ``n`` (repeated squaring; ``n < 0`` inverts first)."""
    a = _float(a)
    _stack(a, "matrix_power")
    n = int(n) if isinstance(n, (int, _np.integer)) else _bad_power(n)
    if n == 0:
        return _eye_like(a)
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    base = a
    while True:
        if n & 1:
            result = base if result is None else pnp.matmul(result, base)
        n >>= 1
        if not n:
            return result
        base = pnp.matmul(base, base)


def _bad_power(n):
    raise TypeError("exponent must be an integer")


LstsqResult = _collections.namedtuple("LstsqResult", ["x", "residuals", "rank", "s"])


def _value(x):
    if not pnp._is_traced(x):
        return _np.asarray(x)
    return pnp._value_or_none(x)


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a @ x = b`` like ``numpy.linalg.lstsq`` (2-D ``a``):
    returns ``(x, residuals, rank, s)`` where only ``x`` (``pinv(a) @ b``) and the
    residuals are differentiable. ``rank`` and ``s`` are NumPy values (None inside jit
    and vmap, where the values are not known)."""
    a = _float(a)
    b = _float(b)
    if pnp._ndim(a) != 2:
        raise _np.linalg.LinAlgError(f"{pnp._ndim(a)}-dimensional array given. Array must be "
                                     "two-dimensional")
    m, n = pnp._shape(a)
    if rcond is None:
        rcond = float(_np.finfo(_np.empty(0, pnp._dtype(a)).real.dtype).eps) * max(m, n)
    x = pnp.matmul(pinv(a, rcond=rcond), b)
    av = _value(a)
    rank = s = None
    if av is not None:
        s = _np.linalg.svd(av, compute_uv=False)
        rank = int(_np.sum(s > rcond * s.max())) if s.size else 0
    if rank is not None and rank == n and m > n:
        r = b - pnp.matmul(a, x)
        residuals = _sumsq(r, (0,), False)
        if pnp._ndim(b) == 1:
            residuals = pnp.reshape(residuals, (1,))
    else:
        residuals = _np.empty((0,), dtype=pnp._dtype(x))
    return LstsqResult(x, residuals, rank, s)


def multi_dot(arrays, *, out=None):
    """``a @ b @ ...`` of a sequence of arrays (the first may be 1-D, the last too)."""
    if out is not None:
        raise NotImplementedError("pnp.linalg.multi_dot: out= is not supported")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    out_ = arrays[0]
    for x in arrays[1:]:
        out_ = pnp.dot(out_, x)
    return out_


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``numpy.linalg.matrix_norm``: the norm over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """``numpy.linalg.vector_norm``."""
    x = _float(x)
    if axis is None:
        flat = pnp.reshape(x, (-1,))
        out = _vector_norm(flat, ord, 0, False)
        return pnp.reshape(out, (1,) * pnp._ndim(x)) if keepdims else out
    if isinstance(axis, tuple) and len(axis) > 1:
        raise NotImplementedError("pnp.linalg.vector_norm: several axes are not supported")
    ax = axis[0] if isinstance(axis, tuple) else axis
    return _vector_norm(x, ord, int(ax) % pnp._ndim(x), keepdims)


__all__ = ["norm", "solve", "inv", "det", "cholesky", "slogdet", "eigh", "eigvalsh", "eig", "eigvals",
           "svd", "svdvals", "qr", "pinv", "matrix_power", "lstsq", "multi_dot", "matrix_norm",
           "vector_norm"]
FUNCTIONS = {name: globals()[name] for name in __all__}
