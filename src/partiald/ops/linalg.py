"""Linear algebra primitives: solve, det, adjugate, cholesky, logabsdet and slogdet_sign,
eigh_w and eigh_v, svd_s/svd_u/svd_vh, qr_q/qr_r and pinv (inv and norm are compositions).

Every record takes stacks ``(..., m, n)`` of matrices: the impls call NumPy's stacked
routines (or vectorized closed forms), the JVP rules are written with batched einsums,
gathers and solves, and the batching rule moves the batch axis to the front and binds
the same record. Rules follow JAX's conventions for complex inputs
(conjugate transposes where JAX has them)."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import REGISTRY, Primitive, bind, is_undefined, register, zero_jvp
from . import batch_rules
from .common import complex_dtype, dtype_of, is_complex, real_dtype, shape_of
from .elementwise import abs_, add, compare, conj, div, imag, mul, neg, real, safe_mul, select, sub
from .reduce import reduce_sum
from .shape import concatenate, einsum, gather, reshape, transpose

_LETTERS = "abcdefgh"


def _nd(x):
    return len(shape_of(x))


def _mT(x):
    """``x`` with its last two axes swapped."""
    r = _nd(x)
    return transpose(x, tuple(range(r - 2)) + (r - 1, r - 2))


def _H(x):
    """The conjugate transpose of the last two axes (the transpose for real ``x``)."""
    t = _mT(x)
    return conj(t) if is_complex(x) else t


def _conj(x):
    return conj(x) if is_complex(x) else x


def _mm(x, y):
    """Batched matrix product ``x @ y`` of stacks with equal batch shapes (a 2-D operand
    is shared by the whole stack)."""
    rx, ry = _nd(x), _nd(y)
    nb = max(rx, ry) - 2
    b = _LETTERS[:nb]
    sx = b[nb - (rx - 2):] + "ij"
    sy = b[nb - (ry - 2):] + "jk"
    return einsum(f"{sx},{sy}->{b}ik", x, y, safe=True)


def _diag(x):
    """The diagonal ``x[..., i, i]`` of a stack of square matrices."""
    n = shape_of(x)[-1]
    return reduce_sum(mul(x, np.eye(n, dtype=dtype_of(x))), (_nd(x) - 2,))


def _row(v):
    """``v[..., None, :]``."""
    s = shape_of(v)
    return reshape(v, s[:-1] + (1, s[-1]))


def _col(v):
    """``v[..., :, None]``."""
    s = shape_of(v)
    return reshape(v, s + (1,))


def _slice_last(x, axis_from_end, start, stop):
    """``x[..., start:stop, :]`` (axis_from_end=2) or ``x[..., start:stop]`` (1)."""
    r = _nd(x)
    full = ("slice", None, None, None)
    spec = [full] * r
    spec[r - axis_from_end] = ("slice", start, stop, None)
    return gather(x, tuple(spec))


def _front_rule(name):
    """Batching rule of a stacked record: the batch axis goes to the front, the same
    record runs on the larger stack."""
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        return bind(REGISTRY[name], batch_rules.moveaxis(x, d, 0), **params), 0
    return rule


def solve(a, b):
    return bind(solve_p, a, b)


def _solve_impl(a, b):
    # a: (..., n, n); b: (n,) with a 2-D a, else (..., n, k) with the batch shape of a
    return np.linalg.solve(a, b)


def _solve_aval(a, b):
    return ShapedArray(b.shape, np.result_type(a.dtype, b.dtype))


def _matvec(a, x):
    if len(shape_of(x)) == 1:
        return einsum("ij,j->i", a, x, safe=True)
    return _mm(a, x)


def _solve_jvp(tangents, ans, a, b):
    # x = A^-1 b  =>  dx = A^-1 (db - dA x)
    ta, tb = tangents
    rhs = tb
    if ta is not None:
        rhs = neg(_matvec(ta, ans)) if rhs is None else sub(rhs, _matvec(ta, ans))
    return solve(a, rhs)


def _solve_transpose(ct, a, b):
    if is_undefined(a):
        raise NotImplementedError("internal error: solve is linear only in b")
    return [None, solve(_mT(a), ct)]


def _solve_batch(args, dims):
    (a, b), (da, db) = args, dims
    ra = _nd(a) - (da is not None)
    rb = _nd(b) - (db is not None)
    if da is None and ra == 2:
        return batch_rules.solve(args, dims)     # one matrix: the batch becomes columns of b
    size = batch_rules.batch_size(args, dims)
    a = batch_rules.to_front(a, da, size)
    b = batch_rules.to_front(b, db, size)
    if rb == 1:                                  # one vector per example: a column
        n = shape_of(b)[-1]
        x = solve(a, reshape(b, (size, n, 1)))
        return reshape(x, (size, n)), 0
    return solve(a, b), 0


solve_p = register(Primitive("solve", _solve_impl, _solve_aval, jvp=_solve_jvp,
                             transpose=_solve_transpose, rule_name="inverse rule",
                             batch=_solve_batch, sparsity="solve"))


def _adjugate_impl(a):
    # adj(A) = det(U) det(V^H) V diag(prod_{j != i} s_j) U^H for A = U S V^H: defined and
    # exact for singular matrices too, where det(A) * inv(A) is not. Stacks (..., n, n).
    a = np.asarray(a)
    n = a.shape[-1]
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    if n == 1:
        return np.ones_like(a)
    if n == 2:      # exact: [[d, -b], [-c, a]]
        out = np.empty_like(a)
        out[..., 0, 0], out[..., 1, 1] = a[..., 1, 1], a[..., 0, 0]
        out[..., 0, 1], out[..., 1, 0] = -a[..., 0, 1], -a[..., 1, 0]
        return out
    if n == 3:      # exact cofactors: adj(A)[i, j] = C[j, i]
        r0, r1, c0, c1 = _MINOR_IDX
        minor = a[..., r0, c0] * a[..., r1, c1] - a[..., r0, c1] * a[..., r1, c0]
        return (minor * _MINOR_SIGN).astype(a.dtype, copy=False)
    u, s, vh = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)      # prod_{j < i}
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]  # prod_{j > i}
    excl = before * after
    sign = np.linalg.det(u) * np.linalg.det(vh)
    v = np.conj(np.swapaxes(vh, -1, -2))
    uh = np.conj(np.swapaxes(u, -1, -2))
    return (sign[..., None, None] * ((v * excl[..., None, :]) @ uh)).astype(a.dtype, copy=False)


# for 3x3 cofactors: the rows r0 < r1 other than j (varying along the column index j) and
# the columns c0 < c1 other than i (varying along the row index i)
_IDX3 = np.array([(1, 2), (0, 2), (0, 1)])
_MINOR_IDX = (np.ascontiguousarray(np.broadcast_to(_IDX3[:, 0][None, :], (3, 3))),
              np.ascontiguousarray(np.broadcast_to(_IDX3[:, 1][None, :], (3, 3))),
              np.ascontiguousarray(np.broadcast_to(_IDX3[:, 0][:, None], (3, 3))),
              np.ascontiguousarray(np.broadcast_to(_IDX3[:, 1][:, None], (3, 3))))
_MINOR_SIGN = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])


def _gather_last2(m, r, c):
    """``m[..., r, c]`` with index arrays ``r``, ``c`` of one shape."""
    full = ("slice", None, None, None)
    return gather(m, (full,) * (_nd(m) - 2) + (("array", 0), ("array", 1)), r, c)


def _minor_products(a, b):
    """For stacks of 3x3 matrices, the bilinear cofactor form: adj(A) = B(A, A), with
    B(A, B)[i, j] = (-1)^(i+j) (A[r0, c0] B[r1, c1] - A[r0, c1] B[r1, c0]), where
    r = the rows other than j and c = the columns other than i."""
    r0, r1, c0, c1 = _MINOR_IDX
    g = _gather_last2
    return mul(sub(mul(g(a, r0, c0), g(b, r1, c1)), mul(g(a, r0, c1), g(b, r1, c0))), _MINOR_SIGN)


def _adjugate_jvp(tangents, ans, a):
    t = tangents[0]
    n = shape_of(a)[-1]
    if n <= 1:
        return None                          # adj of a 1x1 matrix is the constant [[1]]
    if n == 2:
        # linear in A: adj(T) = [[t11, -t01], [-t10, t00]], a signed gather of T
        r = np.array([[1, 0], [1, 0]])
        c = np.array([[1, 1], [0, 0]])
        return mul(_gather_last2(t, r, c), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    if n == 3:
        # quadratic in A: d B(A, A) = B(T, A) + B(A, T), exact at singular matrices too
        return add(_minor_products(t, a), _minor_products(a, t))
    # adj(A) = det(A) A^-1  =>  d adj = tr(adj dA) A^-1 - A^-1 dA adj
    #                                 = A^-1 (tr(adj dA) I - dA adj)       (A invertible)
    r = _nd(a)
    tr = reduce_sum(safe_mul(t, _mT(ans)), (r - 2, r - 1))
    tr = reshape(tr, shape_of(tr) + (1, 1))
    return solve(a, sub(mul(tr, np.eye(n, dtype=dtype_of(ans))), _mm(t, ans)))


adjugate_p = register(Primitive("adjugate", _adjugate_impl, lambda a: ShapedArray(a.shape, a.dtype),
                                jvp=_adjugate_jvp, rule_name="adjugate rule",
                                batch=_front_rule("adjugate"), sparsity="adjugate"))


def _det_jvp(tangents, ans, a):
    # d det(A) = tr(adj(A) dA) = sum(adj(A)^T * dA) over the last two axes, also where A is
    # singular (plain transposes: det is holomorphic, as in JAX)
    r = _nd(a)
    adj_t = _mT(bind(adjugate_p, a))
    return reduce_sum(safe_mul(tangents[0], adj_t), (r - 2, r - 1))


det_p = register(Primitive("det", lambda a: np.linalg.det(a),
                           lambda a: ShapedArray(a.shape[:-2], a.dtype), jvp=_det_jvp,
                           rule_name="determinant rule", batch=_front_rule("det"),
                           sparsity="det"))


# -- factorizations -----------------------------------------------------------------------------
# NumPy's cholesky and eigh read the lower triangle of their input only. The JVP rules follow
# the same convention, so they are exact derivatives of the implementation for every input:
# a tangent dA enters as its Hermitian completion from the lower triangle,
# tril(dA) + tril(dA, -1)^H, and the gradient of a function of A lies in the lower triangle.

def _lower_sym(t, n, dtype):
    """tril(t) + tril(t, -1)^H, the Hermitian matrix whose lower triangle is that of ``t``."""
    strict = np.tril(np.ones((n, n), dtype=dtype), -1)
    if is_complex(t):
        # LAPACK reads the real part of the diagonal only
        eye = np.eye(n, dtype=real_dtype(dtype))
        return add(add(mul(t, strict), _H(mul(t, strict))), mul(real(t), eye))
    low = np.tril(np.ones((n, n), dtype=dtype))
    return add(mul(t, low), _H(mul(t, strict)))


def _square_aval(a):
    return ShapedArray(a.shape, a.dtype)


def _cholesky_jvp(tangents, ans, a):
    # A = L L^H  =>  dL = L phi(L^-1 dA L^-H), phi = lower triangle with the diagonal halved
    t = tangents[0]
    n = a.shape[-1]
    if n == 0 or 0 in a.shape:
        return None
    s = _lower_sym(t, n, ans.dtype)
    y = solve(ans, s)                                              # L^-1 dA
    x = _H(solve(ans, _H(y)))                                      # L^-1 dA L^-H (Hermitian)
    phi = np.tril(np.ones((n, n), dtype=ans.dtype), -1) + 0.5 * np.eye(n, dtype=ans.dtype)
    return _mm(ans, mul(x, phi))


cholesky_p = register(Primitive("cholesky", lambda a: np.linalg.cholesky(a), _square_aval,
                                jvp=_cholesky_jvp, rule_name="Cholesky factorization rule",
                                batch=_front_rule("cholesky"), sparsity="dense"))


def _inv(a, dtype):
    n = a.shape[-1]
    eye = np.eye(n, dtype=dtype)
    if len(a.shape) > 2:
        eye = np.broadcast_to(eye, tuple(a.shape)).copy()
    return solve(a, eye)


def _logabsdet_jvp(tangents, ans, a):
    # d log|det A| = Re tr(A^-1 dA) = Re sum(A^-T * dA)
    if a.shape[-1] == 0 or 0 in a.shape:
        return None
    r = _nd(a)
    out = reduce_sum(safe_mul(tangents[0], _mT(_inv(a, a.dtype))), (r - 2, r - 1))
    return real(out) if is_complex(a) else out


def _slogdet(a, which):
    sign, logabs = np.linalg.slogdet(a)
    return np.asarray(sign if which == 0 else logabs)


logabsdet_p = register(Primitive("logabsdet", lambda a: _slogdet(a, 1),
                                 lambda a: ShapedArray(a.shape[:-2], real_dtype(a.dtype)),
                                 jvp=_logabsdet_jvp, rule_name="log-determinant rule",
                                 batch=_front_rule("logabsdet"), sparsity="dense"))

# the sign of det(A): piecewise constant for real A, derivative 0 by definition
slogdet_sign_p = register(Primitive("slogdet_sign", lambda a: _slogdet(a, 0),
                                    lambda a: ShapedArray(a.shape[:-2], a.dtype), jvp=zero_jvp,
                                    rule_name="sign rule", batch=_front_rule("slogdet_sign"),
                                    sparsity="zero"))


def _fix_phase(v, w=None):
    """Columns of ``v`` (and the matching rows of ``w``) scaled by a unit scalar so that
    each column's component of largest magnitude (the first such) is real and positive."""
    if v.shape[-1] == 0 or v.shape[-2] == 0:
        return v, w
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    piv = np.take_along_axis(v, idx, axis=-2)
    if np.iscomplexobj(v):
        mag = np.abs(piv)
        ph = np.where(mag == 0, 1.0, np.conj(piv) / np.where(mag == 0, 1.0, mag)).astype(v.dtype)
    else:
        ph = np.where(piv < 0, -1.0, 1.0).astype(v.dtype)
    v = v * ph
    if w is not None:
        k = min(v.shape[-1], w.shape[-2])
        wph = np.conj(ph[..., 0, :k])[..., :, None]
        w = np.concatenate([w[..., :k, :] * wph, w[..., k:, :]], axis=-2)
    return v, w


def _eigh_v_impl(a):
    # eigenvectors with a fixed phase: the component of largest magnitude (the first such)
    # is real and positive, so V is a function of A wherever that component is unique
    return _fix_phase(np.linalg.eigh(a)[1])[0]


def _eigh_m(t, a, v, dtype):
    """V^H dA V for the Hermitian completion of dA from its lower triangle."""
    n = a.shape[-1]
    return _mm(_H(v), _mm(_lower_sym(t, n, dtype), v))


def _eigh_w_jvp(tangents, ans, a):
    # dw_i = (V^H dA V)_ii
    if a.shape[-1] == 0 or 0 in a.shape:
        return None
    v = bind(eigh_v_p, a)
    m = _eigh_m(tangents[0], a, v, a.dtype)
    d = _diag(m)
    return real(d) if is_complex(a) else d


def _eigh_v_jvp(tangents, ans, a):
    # dV = V (F o (V^H dA V)), F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it. At repeated
    # eigenvalues F has infinite entries (the eigenvectors are not differentiable there): the
    # tangent is then inf or NaN in the columns of the repeated eigenvalues. For complex A the
    # phase normalization adds i Im(diag) terms, omitted here as in JAX (gauge dependent).
    n = a.shape[-1]
    if n == 0 or 0 in a.shape:
        return None
    w = bind(eigh_w_p, a)
    rdt = real_dtype(ans.dtype)
    eye = np.eye(n, dtype=rdt)
    gap = add(sub(_row(w), _col(w)), eye)
    f = div(1.0 - eye, gap)
    m = _eigh_m(tangents[0], a, ans, ans.dtype)
    return _mm(ans, mul(f, m))


eigh_w_p = register(Primitive("eigh_w", lambda a: np.linalg.eigh(a)[0],
                              lambda a: ShapedArray(a.shape[:-1], real_dtype(a.dtype)),
                              jvp=_eigh_w_jvp, rule_name="symmetric eigenvalue rule",
                              batch=_front_rule("eigh_w"), sparsity="dense"))
eigh_v_p = register(Primitive("eigh_v", _eigh_v_impl, _square_aval, jvp=_eigh_v_jvp,
                              rule_name="symmetric eigenvector rule",
                              batch=_front_rule("eigh_v"), sparsity="dense"))


# -- general eigendecomposition ---------------------------------------------------------------------
# eig_w and eig_v are the outputs of np.linalg.eig, always complex (as in JAX; NumPy returns a real
# dtype when every eigenvalue of a real matrix happens to be real), eigenvalues in LAPACK's order.
# Eigenvectors have unit 2-norm (NumPy's) and a fixed phase (_fix_phase: the component of largest
# magnitude real and positive), so V is a function of A wherever the eigenvalues are distinct and
# that component unique; the JVP differentiates exactly that function, the phase term included.

def _eig_impl(a):
    w, v = np.linalg.eig(a)
    ct = complex_dtype(a.dtype)
    return w.astype(ct, copy=False), _fix_phase(v.astype(ct, copy=False))[0]


def _eig_aval(a, vectors):
    ct = complex_dtype(a.dtype)
    return ShapedArray(a.shape if vectors else a.shape[:-1], ct)


def _eig_m(t, v):
    """V^-1 dA V."""
    return solve(v, _mm(t, v))


def _eig_w_jvp(tangents, ans, a):
    # A V = V diag(w)  =>  dw = diag(V^-1 dA V)
    if 0 in a.shape:
        return None
    return _diag(_eig_m(tangents[0], bind(eig_v_p, a)))


def _pivot_rows(v):
    """A one-hot (..., n, n) mask of each column's pivot, the component _fix_phase made real
    (argmax of |v| down the column: an integer, derivative 0)."""
    n = shape_of(v)[-2]
    p = bind(REGISTRY["argmax"], abs_(v), axis=_nd(v) - 2)
    return compare(np.arange(n).reshape(n, 1), _row(p), "eq")


def _eig_v_jvp(tangents, ans, a):
    # dV = V (F o (V^-1 dA V)), F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it (inf or NaN
    # at repeated eigenvalues, where V is not differentiable); then the two gauge terms that
    # keep each column of unit norm and its pivot component real
    n = a.shape[-1]
    if 0 in a.shape:
        return None
    w = bind(eig_w_p, a)
    eye = np.eye(n, dtype=ans.dtype)
    f = div(1.0 - eye, add(sub(_row(w), _col(w)), eye))
    dv = _mm(ans, mul(f, _eig_m(tangents[0], ans)))
    # unit norm: Re(v_k^H dv_k) = 0
    dv = sub(dv, mul(ans, _row(real(reduce_sum(mul(conj(ans), dv), (_nd(ans) - 2,))))))
    # pivot phase: Im(dv_k[p] / v_k[p]) = 0
    mask = _pivot_rows(ans)
    zero = np.zeros((), dtype=ans.dtype)
    piv_v = reduce_sum(select(mask, ans, zero), (_nd(ans) - 2,))
    piv_dv = reduce_sum(select(mask, dv, zero), (_nd(ans) - 2,))
    theta = imag(mul(piv_dv, div(1.0, piv_v)))
    return sub(dv, mul(ans, _row(mul(theta, 1j))))


eig_w_p = register(Primitive("eig_w", lambda a: _eig_impl(a)[0], lambda a: _eig_aval(a, False),
                             jvp=_eig_w_jvp, rule_name="eigenvalue rule", batch=_front_rule("eig_w"),
                             sparsity="dense"))
eig_v_p = register(Primitive("eig_v", lambda a: _eig_impl(a)[1], lambda a: _eig_aval(a, True),
                             jvp=_eig_v_jvp, rule_name="eigenvector rule", batch=_front_rule("eig_v"),
                             sparsity="dense"))


# -- Sylvester equations and the matrix square root ---------------------------------------------------

def sylvester(a, b, q):
    """X with A X + X B = Q for stacks A (..., n, n), B (..., m, m), Q (..., n, m), by one
    batched solve of the (n m) x (n m) Kronecker system (row-major vec: (A (x) I + I (x) B^T)
    vec(X) = vec(Q)); written with primitives, so it is differentiable in A, B and Q."""
    n, m = shape_of(a)[-1], shape_of(b)[-1]
    r = max(_nd(a), _nd(b), _nd(q)) - 2
    bl = _LETTERS[:r]
    sa, sb = bl[r - (_nd(a) - 2):], bl[r - (_nd(b) - 2):]
    dt = np.result_type(dtype_of(a), dtype_of(b), dtype_of(q))
    k = add(einsum(f"{sa}ik,jl->{bl}ijkl", a, np.eye(m, dtype=dt), safe=True),
            einsum(f"ik,{sb}lj->{bl}ijkl", np.eye(n, dtype=dt), b, safe=True))
    batch = shape_of(k)[:r]
    k = reshape(k, batch + (n * m, n * m))
    qs = shape_of(q)
    if qs[:-2] != batch:                          # a shared Q: broadcast it over the stack
        q = add(q, np.zeros(batch + (n, m), dtype=dt))
    x = solve(k, reshape(q, batch + (n * m, 1)))
    return reshape(x, batch + (n, m))


def _sqrtm_impl(a):
    ct = complex_dtype(a.dtype)
    if a.size == 0:
        return np.zeros(a.shape, ct)
    try:
        import scipy.linalg as sla
    except ImportError:
        sla = None
    if sla is not None and a.ndim == 2:
        return np.asarray(sla.sqrtm(a), dtype=ct)
    if sla is not None:
        try:                                   # SciPy >= 1.16 takes stacks
            return np.asarray(sla.sqrtm(a), dtype=ct).reshape(a.shape)
        except ValueError:
            pass
    # diagonalizable matrices: V sqrt(diag(w)) V^-1, principal branch, batched
    w, v = np.linalg.eig(np.asarray(a).astype(ct))
    return np.linalg.solve(np.swapaxes(v, -1, -2), np.swapaxes(v * np.sqrt(w)[..., None, :], -1, -2)
                           ).swapaxes(-1, -2).astype(ct, copy=False)


def _sqrtm_jvp(tangents, ans, a):
    # X X = A  =>  X dX + dX X = dA
    if 0 in a.shape:
        return None
    return sylvester(ans, ans, tangents[0])


sqrtm_p = register(Primitive("sqrtm", _sqrtm_impl,
                             lambda a: ShapedArray(a.shape, complex_dtype(a.dtype)),
                             jvp=_sqrtm_jvp, rule_name="matrix square root rule", batch=_front_rule("sqrtm"),
                             sparsity="dense"))


# -- singular value decomposition -----------------------------------------------------------------
# svd_s, svd_u and svd_vh are the three outputs of one decomposition A = U diag(S) Vh, computed
# by NumPy with a fixed phase: each column of U has its component of largest magnitude real and
# positive (the matching row of Vh compensates), so U and Vh are functions of A wherever the
# singular values are distinct and that component is unique. The JVP rule is JAX's: for distinct
# nonzero singular values; for full_matrices=True and a non-square A the extra columns have no
# unique derivative and (as in JAX) the U/Vh derivatives raise NotImplementedError.

def _svd(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    u, vh = _fix_phase(u, vh)
    return u, s, vh


def _svd_s_impl(a):
    return np.linalg.svd(a, compute_uv=False)


def _svd_s_aval(a):
    m, n = a.shape[-2:]
    return ShapedArray(tuple(a.shape[:-2]) + (min(m, n),), real_dtype(a.dtype))


def _svd_u_aval(a, full_matrices):
    m, n = a.shape[-2:]
    return ShapedArray(tuple(a.shape[:-2]) + (m, m if full_matrices else min(m, n)), a.dtype)


def _svd_vh_aval(a, full_matrices):
    m, n = a.shape[-2:]
    return ShapedArray(tuple(a.shape[:-2]) + (n if full_matrices else min(m, n), n), a.dtype)


def _svd_parts(a):
    return bind(svd_u_p, a, full_matrices=False), bind(svd_s_p, a), bind(svd_vh_p, a, full_matrices=False)


def _svd_ds(t, a):
    u, s, vh = _svd_parts(a)
    return u, s, vh, _mm(_H(u), _mm(t, _H(vh)))            # dS = U^H dA V


def _svd_s_jvp(tangents, ans, a):
    # ds = Re diag(U^H dA V)
    if 0 in a.shape:
        return None
    _, _, _, ds = _svd_ds(tangents[0], a)
    d = _diag(ds)
    return real(d) if is_complex(a) else d


def _svd_uv_tangents(t, a, want):
    m, n = a.shape[-2:]
    u, s, vh, ds = _svd_ds(t, a)
    k = min(m, n)
    rdt = real_dtype(a.dtype)
    eye = np.eye(k, dtype=rdt)
    sr, sc = _row(s), _col(s)
    diffs = mul(add(sr, sc), sub(sr, sc))                   # s_j^2 - s_i^2
    f = sub(div(1.0, add(diffs, eye)), eye)
    if want == "u":
        dss = mul(sr, ds)                                   # dS diag(s)
        inner = mul(f, add(dss, _H(dss)))
        if is_complex(a):
            s_inv = div(1.0, s)
            inner = add(inner, mul(mul(mul(0.5, sub(ds, _H(ds))), _row(s_inv)), eye))
        du = _mm(u, inner)
        if m > n:
            dav = _mm(t, _H(vh))
            du = add(du, mul(sub(dav, _mm(u, _mm(_H(u), dav))), div(1.0, sr)))
        return du
    sds = mul(sc, ds)                                       # diag(s) dS
    dv = _mm(_H(vh), mul(f, add(sds, _H(sds))))
    if n > m:
        dahu = _mm(_H(t), u)
        dv = add(dv, mul(sub(dahu, _mm(_H(vh), _mm(vh, dahu))), div(1.0, sr)))
    return _H(dv)


def _svd_full_check(a, full_matrices, which):
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"the derivative of {which} from svd(full_matrices=True) of a non-square "
            f"{m}x{n} matrix is not unique (as in JAX): use full_matrices=False")


def _svd_u_jvp(tangents, ans, a, full_matrices):
    if 0 in a.shape:
        return None
    _svd_full_check(a, full_matrices, "U")
    return _svd_uv_tangents(tangents[0], a, "u")


def _svd_vh_jvp(tangents, ans, a, full_matrices):
    if 0 in a.shape:
        return None
    _svd_full_check(a, full_matrices, "Vh")
    return _svd_uv_tangents(tangents[0], a, "vh")


svd_s_p = register(Primitive("svd_s", _svd_s_impl, _svd_s_aval, jvp=_svd_s_jvp,
                             rule_name="singular value rule", batch=_front_rule("svd_s"),
                             sparsity="dense"))
svd_u_p = register(Primitive("svd_u", lambda a, full_matrices: _svd(a, full_matrices)[0], _svd_u_aval,
                             jvp=_svd_u_jvp, rule_name="singular vector rule",
                             batch=_front_rule("svd_u"), sparsity="dense"))
svd_vh_p = register(Primitive("svd_vh", lambda a, full_matrices: _svd(a, full_matrices)[2], _svd_vh_aval,
                              jvp=_svd_vh_jvp, rule_name="singular vector rule",
                              batch=_front_rule("svd_vh"), sparsity="dense"))


# -- QR ---------------------------------------------------------------------------------------------
# Reduced QR as NumPy computes it (Householder, no sign normalization). The JVP rule is JAX's
# (j-towns.github.io/papers/qr-derivative.pdf); for a wide A = [A1 A2] it differentiates the
# square QR of A1 and then R2 = Q^H A2.

def _qr_aval(a, which):
    m, n = a.shape[-2:]
    k = min(m, n)
    shape = (m, k) if which == 0 else (k, n)
    return ShapedArray(tuple(a.shape[:-2]) + shape, a.dtype)


def _thin_qr_tangents(q, r, dx):
    dx_rinv = _mT(solve(_mT(r), _mT(dx)))                   # dX R^-1
    qt = _mm(_H(q), dx_rinv)
    n = shape_of(r)[-1]
    strict = np.tril(np.ones((n, n)), -1)
    low = mul(qt, strict)
    do = sub(low, _H(low))                                  # skew-Hermitian
    if is_complex(q):
        do = add(do, mul(sub(qt, real(qt)), np.eye(n)))
    dq = add(_mm(q, sub(do, qt)), dx_rinv)
    dr = _mm(sub(qt, do), r)
    return dq, dr


def _qr_tangents(t, a):
    m, n = a.shape[-2:]
    q, r = bind(qr_q_p, a), bind(qr_r_p, a)
    if m >= n:
        return _thin_qr_tangents(q, r, t)
    r1 = _slice_last(r, 1, 0, m)
    r2 = _slice_last(r, 1, m, n)
    dx1 = _slice_last(t, 1, 0, m)
    dx2 = _slice_last(t, 1, m, n)
    dq, dr1 = _thin_qr_tangents(q, r1, dx1)
    dr2 = _mm(_H(q), sub(dx2, _mm(dq, r2)))
    return dq, concatenate([dr1, dr2], axis=_nd(a) - 1)


def _qr_q_jvp(tangents, ans, a):
    if 0 in a.shape:
        return None
    return _qr_tangents(tangents[0], a)[0]


def _qr_r_jvp(tangents, ans, a):
    if 0 in a.shape:
        return None
    return _qr_tangents(tangents[0], a)[1]


qr_q_p = register(Primitive("qr_q", lambda a: np.linalg.qr(a)[0], lambda a: _qr_aval(a, 0),
                            jvp=_qr_q_jvp, rule_name="QR factorization rule",
                            batch=_front_rule("qr_q"), sparsity="dense"))
qr_r_p = register(Primitive("qr_r", lambda a: np.linalg.qr(a)[1], lambda a: _qr_aval(a, 1),
                            jvp=_qr_r_jvp, rule_name="QR factorization rule",
                            batch=_front_rule("qr_r"), sparsity="dense"))


# -- pseudo-inverse -------------------------------------------------------------------------------
# Golub and Pereyra's derivative (as in JAX), valid where the rank of A is locally constant.

def _pinv_aval(a, rcond):
    return ShapedArray(tuple(a.shape[:-2]) + (a.shape[-1], a.shape[-2]), a.dtype)


def _pinv_jvp(tangents, ans, a, rcond):
    if 0 in a.shape:
        return None
    t = tangents[0]
    p = ans
    m, n = a.shape[-2:]
    th = _H(t)
    if m >= n:
        s = _mm(_mm(p, _H(p)), th)
        u = _mm(_mm(th, _H(p)), p)
        out = sub(add(neg(_mm(_mm(p, t), p)), s), _mm(_mm(s, a), p))
        return sub(add(out, u), _mm(_mm(p, a), u))
    s = _mm(p, _mm(_H(p), th))
    u = _mm(th, _mm(_H(p), p))
    out = sub(add(neg(_mm(p, _mm(t, p))), s), _mm(s, _mm(a, p)))
    return sub(add(out, u), _mm(p, _mm(a, u)))


pinv_p = register(Primitive("pinv", lambda a, rcond: np.linalg.pinv(a, rcond=rcond), _pinv_aval,
                            jvp=_pinv_jvp, rule_name="pseudo-inverse rule",
                            batch=_front_rule("pinv"), sparsity="dense"))
