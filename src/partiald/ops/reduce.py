"""Reductions: sum, max, prod, argmax."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, register, zero_jvp
from . import batch_rules
from .common import reduced_shape, shape_of
from .elementwise import compare, div, safe_mul, select


def reduce_sum(x, axes):
    return bind(reduce_sum_p, x, axes=tuple(axes))


def reduce_max(x, axes):
    return bind(reduce_max_p, x, axes=tuple(axes))


def reduce_prod(x, axes):
    return bind(reduce_prod_p, x, axes=tuple(axes))


def _reduce_aval(x, axes, **_):
    return ShapedArray(reduced_shape(shape_of(x), axes), x.dtype)


def _expand(ct, shape, axes):
    """Broadcast a reduced array back over the reduced ``axes`` of ``shape``."""
    from .shape import broadcast_to, reshape
    return broadcast_to(reshape(ct, reduced_shape(shape, axes, keepdims=True)), tuple(shape))


def _sum_impl(x, axes):
    return np.sum(x, axis=axes)


reduce_sum_p = register(Primitive(
    "reduce_sum", _sum_impl, _reduce_aval,
    jvp=lambda ts, ans, x, axes: reduce_sum(ts[0], axes),
    transpose=lambda ct, x, axes: [_expand(ct, x.shape, axes)],
    linear=True, rule_name="sum rule", batch=batch_rules.reduction("reduce_sum"), sparsity="reduce"))


def _max_jvp(tangents, ans, x, axes):
    # Ties share the derivative equally: d max = sum(t * mask) / count(mask).
    from .elementwise import convert_p
    mask = compare(x, _expand(ans, shape_of(x), axes), "eq")
    w = bind(convert_p, mask, dtype=np.dtype(ans.dtype))
    w = div(w, _expand(reduce_sum(w, axes), shape_of(x), axes))
    return reduce_sum(safe_mul(tangents[0], w), axes)


reduce_max_p = register(Primitive(
    "reduce_max", lambda x, axes: np.max(x, axis=axes), _reduce_aval, jvp=_max_jvp,
    rule_name="piecewise rule", batch=batch_rules.reduction("reduce_max"), sparsity="reduce"))


def _prod_jvp(tangents, ans, x, axes):
    # d prod(x) = sum_i t_i * prod_{j != i} x_j. The exclusive products are
    # taken over an extra axis with the diagonal set to 1 (no division by x,
    # so zeros in x are fine); memory is k^2 per reduced group of k elements.
    from .shape import broadcast_to, reshape, transpose
    shape = shape_of(x)
    keep = [i for i in range(len(shape)) if i not in axes]
    perm = tuple(keep) + tuple(axes)
    k = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    lead = tuple(shape[i] for i in keep)
    xs = reshape(transpose(x, perm), lead + (1, k))
    ts = reshape(transpose(tangents[0], perm), lead + (k,))
    eye = np.eye(k, dtype=bool)
    excl = reduce_prod(select(eye, np.ones((), dtype=ans.dtype), broadcast_to(xs, lead + (k, k))),
                       (len(lead) + 1,))
    return reduce_sum(safe_mul(ts, excl), (len(lead),))


reduce_prod_p = register(Primitive(
    "reduce_prod", lambda x, axes: np.prod(x, axis=axes), _reduce_aval, jvp=_prod_jvp,
    rule_name="product rule", batch=batch_rules.reduction("reduce_prod"), sparsity="reduce_prod"))


def _argmax_aval(x, axis):
    return ShapedArray(reduced_shape(shape_of(x), (axis,)), np.int64)


argmax_p = register(Primitive(
    "argmax", lambda x, axis: np.argmax(x, axis=axis), _argmax_aval, jvp=zero_jvp,
    batch=batch_rules.argmax, sparsity="zero"))
