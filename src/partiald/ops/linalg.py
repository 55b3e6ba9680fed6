"""Linear algebra primitives: solve, det, adjugate, cholesky, logabsdet and slogdet_sign,
eigh_w and eigh_v (inv and norm are compositions)."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, is_undefined, register, zero_jvp
from . import batch_rules
from .elementwise import add, div, mul, neg, safe_mul, sub
from .reduce import reduce_sum
from .shape import einsum, transpose


def solve(a, b):
    return bind(solve_p, a, b)


def _solve_impl(a, b):
    # b is a vector (n,) or a matrix (n, k); a is (n, n).
    return np.linalg.solve(a, b)


def _solve_aval(a, b):
    return ShapedArray(b.shape, np.result_type(a.dtype, b.dtype))


def _matvec(a, x):
    return einsum("ij,j->i" if len(x.shape) == 1 else "ij,jk->ik", a, x, safe=True)


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
    return [None, solve(transpose(a, (1, 0)), ct)]


solve_p = register(Primitive("solve", _solve_impl, _solve_aval, jvp=_solve_jvp,
                             transpose=_solve_transpose, rule_name="inverse rule",
                             batch=batch_rules.solve, sparsity="solve"))


def _adjugate_impl(a):
    # adj(A) = det(U) det(V) V diag(prod_{j != i} s_j) U^T for A = U S V^T: defined and
    # exact for singular matrices too, where det(A) * inv(A) is not.
    a = np.asarray(a)
    n = a.shape[-1]
    if n == 1:
        return np.ones_like(a)
    if n == 2:      # exact: [[d, -b], [-c, a]]
        return np.array([[a[1, 1], -a[0, 1]], [-a[1, 0], a[0, 0]]], dtype=a.dtype)
    if n == 3:      # exact cofactors: adj(A)[i, j] = C[j, i]
        out = np.empty_like(a)
        for i in range(3):
            for j in range(3):
                r = [k for k in range(3) if k != j]
                c = [k for k in range(3) if k != i]
                minor = a[r[0], c[0]] * a[r[1], c[1]] - a[r[0], c[1]] * a[r[1], c[0]]
                out[i, j] = minor if (i + j) % 2 == 0 else -minor
        return out
    u, s, vt = np.linalg.svd(a)
    excl = np.array([np.prod(np.delete(s, i)) for i in range(n)], dtype=a.dtype)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return (sign * (vt.T * excl) @ u.T).astype(a.dtype)


def _minor_products(a, b):
    """For 3x3 matrices, the bilinear cofactor form: adj(A) = B(A, A), with
    B(A, B)[i, j] = (-1)^(i+j) (A[r0, c0] B[r1, c1] - A[r0, c1] B[r1, c0]), where
    r = the rows other than j and c = the columns other than i."""
    from .shape import gather
    idx = np.array([(1, 2), (0, 2), (0, 1)])
    r0 = np.broadcast_to(idx[:, 0][None, :], (3, 3))      # rows without j (column index j)
    r1 = np.broadcast_to(idx[:, 1][None, :], (3, 3))
    c0 = np.broadcast_to(idx[:, 0][:, None], (3, 3))      # columns without i (row index i)
    c1 = np.broadcast_to(idx[:, 1][:, None], (3, 3))
    spec = (("array", 0), ("array", 1))

    def g(m, r, c):
        return gather(m, spec, np.ascontiguousarray(r), np.ascontiguousarray(c))
    sign = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    return mul(sub(mul(g(a, r0, c0), g(b, r1, c1)), mul(g(a, r0, c1), g(b, r1, c0))), sign)


def _adjugate_jvp(tangents, ans, a):
    t = tangents[0]
    n = a.shape[0]
    if n == 1:
        return None                          # adj of a 1x1 matrix is the constant [[1]]
    if n == 2:
        # linear in A: adj(T) = [[t11, -t01], [-t10, t00]], a signed gather of T
        from .shape import gather
        r = np.array([[1, 0], [1, 0]])
        c = np.array([[1, 1], [0, 0]])
        return mul(gather(t, (("array", 0), ("array", 1)), r, c), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    if n == 3:
        # quadratic in A: d B(A, A) = B(T, A) + B(A, T), exact at singular matrices too
        return add(_minor_products(t, a), _minor_products(a, t))
    # adj(A) = det(A) A^-1  =>  d adj = tr(adj dA) A^-1 - A^-1 dA adj   (A invertible)
    tr = reduce_sum(safe_mul(t, transpose(ans, (1, 0))), (0, 1))
    inv = solve(a, np.eye(n, dtype=ans.dtype))
    return sub(mul(tr, inv), solve(a, einsum("ij,jk->ik", t, ans, safe=True)))


adjugate_p = register(Primitive("adjugate", _adjugate_impl, lambda a: ShapedArray(a.shape, a.dtype),
                                jvp=_adjugate_jvp, rule_name="adjugate rule",
                                batch=batch_rules.loop_rule("adjugate"), sparsity="adjugate"))


def _det_jvp(tangents, ans, a):
    # d det(A) = tr(adj(A) dA) = sum(adj(A)^T * dA), also where A is singular
    adj_t = transpose(bind(adjugate_p, a), (1, 0))
    return reduce_sum(safe_mul(tangents[0], adj_t), (0, 1))


det_p = register(Primitive("det", lambda a: np.linalg.det(a),
                           lambda a: ShapedArray((), a.dtype), jvp=_det_jvp,
                           rule_name="determinant rule", batch=batch_rules.loop_rule("det"),
                           sparsity="det"))


# -- factorizations -----------------------------------------------------------------------------
# NumPy's cholesky and eigh read the lower triangle of their input only. The JVP rules follow
# the same convention, so they are exact derivatives of the implementation for every input:
# a tangent dA enters as its symmetric completion from the lower triangle,
# tril(dA) + tril(dA, -1)^T, and the gradient of a function of A lies in the lower triangle.

def _lower_sym(t, n, dtype):
    """tril(t) + tril(t, -1)^T, the symmetric matrix whose lower triangle is that of ``t``."""
    low = np.tril(np.ones((n, n), dtype=dtype))
    strict = np.tril(np.ones((n, n), dtype=dtype), -1)
    return add(mul(t, low), transpose(mul(t, strict), (1, 0)))


def _mm(x, y):
    return einsum("ij,jk->ik", x, y, safe=True)


def _square_aval(a):
    return ShapedArray(a.shape, a.dtype)


def _cholesky_jvp(tangents, ans, a):
    # A = L L^T  =>  dL = L phi(L^-1 dA L^-T), phi = lower triangle with the diagonal halved
    t = tangents[0]
    n = a.shape[0]
    if n == 0:
        return None
    s = _lower_sym(t, n, ans.dtype)
    y = solve(ans, s)                                              # L^-1 dA
    x = transpose(solve(ans, transpose(y, (1, 0))), (1, 0))        # L^-1 dA L^-T (symmetric)
    phi = np.tril(np.ones((n, n), dtype=ans.dtype), -1) + 0.5 * np.eye(n, dtype=ans.dtype)
    return _mm(ans, mul(x, phi))


cholesky_p = register(Primitive("cholesky", lambda a: np.linalg.cholesky(a), _square_aval,
                                jvp=_cholesky_jvp, rule_name="Cholesky factorization rule",
                                batch=batch_rules.loop_rule("cholesky"), sparsity="dense"))


def _inv_t(a, dtype):
    return transpose(solve(a, np.eye(a.shape[0], dtype=dtype)), (1, 0))


def _logabsdet_jvp(tangents, ans, a):
    # d log|det A| = tr(A^-1 dA) = sum(A^-T * dA)
    if a.shape[0] == 0:
        return None
    return reduce_sum(safe_mul(tangents[0], _inv_t(a, ans.dtype)), (0, 1))


logabsdet_p = register(Primitive("logabsdet", lambda a: np.asarray(np.linalg.slogdet(a)[1]),
                                 lambda a: ShapedArray(a.shape[:-2], a.dtype), jvp=_logabsdet_jvp,
                                 rule_name="log-determinant rule",
                                 batch=batch_rules.loop_rule("logabsdet"), sparsity="dense"))

# the sign of det(A): piecewise constant, derivative 0 by definition
slogdet_sign_p = register(Primitive("slogdet_sign", lambda a: np.asarray(np.linalg.slogdet(a)[0]),
                                    lambda a: ShapedArray(a.shape[:-2], a.dtype), jvp=zero_jvp,
                                    rule_name="sign rule", batch=batch_rules.loop_rule("slogdet_sign"),
                                    sparsity="zero"))


def _eigh_v_impl(a):
    # eigenvectors with a fixed sign: the component of largest magnitude (the first such) is
    # positive, so V is a function of A wherever that component is unique
    w, v = np.linalg.eigh(a)
    if v.shape[-1] == 0:
        return v
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    s = np.where(np.take_along_axis(v, idx, axis=-2) < 0, -1.0, 1.0).astype(v.dtype)
    return v * s


def _eigh_m(t, a, v, dtype):
    """V^T dA V for the symmetric completion of dA from its lower triangle."""
    n = a.shape[0]
    return _mm(transpose(v, (1, 0)), _mm(_lower_sym(t, n, dtype), v))


def _eigh_w_jvp(tangents, ans, a):
    # dw_i = (V^T dA V)_ii
    n = a.shape[0]
    if n == 0:
        return None
    v = bind(eigh_v_p, a)
    m = _eigh_m(tangents[0], a, v, ans.dtype)
    return reduce_sum(mul(m, np.eye(n, dtype=ans.dtype)), (0,))


def _eigh_v_jvp(tangents, ans, a):
    # dV = V (F o (V^T dA V)), F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it. At repeated
    # eigenvalues F has infinite entries (the eigenvectors are not differentiable there): the
    # tangent is then inf or NaN in the columns of the repeated eigenvalues.
    n = a.shape[0]
    if n == 0:
        return None
    from .shape import reshape
    w = bind(eigh_w_p, a)
    eye = np.eye(n, dtype=ans.dtype)
    gap = add(sub(reshape(w, (1, n)), reshape(w, (n, 1))), eye)
    f = div(1.0 - eye, gap)
    m = _eigh_m(tangents[0], a, ans, ans.dtype)
    return _mm(ans, mul(f, m))


eigh_w_p = register(Primitive("eigh_w", lambda a: np.linalg.eigh(a)[0],
                              lambda a: ShapedArray(a.shape[:-1], a.dtype), jvp=_eigh_w_jvp,
                              rule_name="symmetric eigenvalue rule",
                              batch=batch_rules.loop_rule("eigh_w"), sparsity="dense"))
eigh_v_p = register(Primitive("eigh_v", _eigh_v_impl, _square_aval, jvp=_eigh_v_jvp,
                              rule_name="symmetric eigenvector rule",
                              batch=batch_rules.loop_rule("eigh_v"), sparsity="dense"))
