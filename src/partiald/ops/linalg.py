"""Linear algebra primitives: solve and det (inv and norm are compositions)."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, register
from .elementwise import mul, neg, safe_mul, sub
from .reduce import reduce_sum
from .shape import einsum, transpose


def _undef(x):
    return type(x).__name__ == "UndefinedPrimal"


def solve(a, b):
    return bind(solve_p, a, b)


def _solve_impl(a, b):
    # b is a vector (n,) or a matrix (n, k); a is (n, n).
    return np.linalg.solve(a, b)


def _solve_aval(a, b):
    return ShapedArray(b.shape, np.result_type(a.dtype, b.dtype))


def _matvec(a, x):
    return einsum("ij,j->i" if len(x.shape) == 1 else "ij,jk->ik", a, x)


def _solve_jvp(tangents, ans, a, b):
    # x = A^-1 b  =>  dx = A^-1 (db - dA x)
    ta, tb = tangents
    rhs = tb
    if ta is not None:
        rhs = neg(_matvec(ta, ans)) if rhs is None else sub(rhs, _matvec(ta, ans))
    return solve(a, rhs)


def _solve_transpose(ct, a, b):
    if _undef(a):
        raise NotImplementedError("internal error: solve is linear only in b")
    return [None, solve(transpose(a, (1, 0)), ct)]


solve_p = register(Primitive("solve", _solve_impl, _solve_aval, jvp=_solve_jvp,
                             transpose=_solve_transpose, rule_name="inverse rule"))


def _det_jvp(tangents, ans, a):
    # d det(A) = det(A) * tr(A^-1 dA) = det(A) * sum(A^-T * dA)
    n = a.shape[0]
    inv_t = transpose(solve(a, np.eye(n, dtype=ans.dtype)), (1, 0))
    return mul(ans, reduce_sum(safe_mul(tangents[0], inv_t), (0, 1)))


det_p = register(Primitive("det", lambda a: np.linalg.det(a),
                           lambda a: ShapedArray((), a.dtype), jvp=_det_jvp,
                           rule_name="determinant rule"))
