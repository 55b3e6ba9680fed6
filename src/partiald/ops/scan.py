"""Scans and orderings along one axis: cumsum (linear) and argsort (integer, derivative 0)."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, register, zero_jvp
from . import batch_rules
from .common import shape_of


def cumsum(x, axis, reverse=False):
    """The running sum of ``x`` along ``axis`` (from the end when ``reverse``)."""
    return bind(cumsum_p, x, axis=int(axis), reverse=bool(reverse))


def _cumsum_impl(x, axis, reverse):
    x = np.asarray(x)
    if reverse:
        out = np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
        out = np.ascontiguousarray(out)
    else:
        out = np.cumsum(x, axis=axis)
    return out[()] if out.ndim == 0 else out


def _cumsum_aval(x, axis, reverse):
    dt = np.dtype(x.dtype)
    return ShapedArray(shape_of(x), dt if dt.kind in "fc" else np.cumsum(np.zeros(1, dt)).dtype)


# linear: the tangent is the running sum of the tangent; the transpose of a running
# sum along an axis is the running sum from the other end (ct_j = sum_{i >= j} ct_i)
cumsum_p = register(Primitive(
    "cumsum", _cumsum_impl, _cumsum_aval,
    jvp=lambda ts, ans, x, axis, reverse: cumsum(ts[0], axis, reverse),
    transpose=lambda ct, x, axis, reverse: [cumsum(ct, axis, not reverse)],
    linear=True, rule_name="sum rule", batch=batch_rules.scan("cumsum"), sparsity="cumsum"))


def argsort(x, axis):
    return bind(argsort_p, x, axis=int(axis))


def _argsort_aval(x, axis):
    return ShapedArray(shape_of(x), np.dtype(np.int64))


def _argsort_impl(x, axis):
    # stable, so that ties keep NumPy's order (np.sort's values agree with it either way)
    out = np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    return out[()] if out.ndim == 0 else out


argsort_p = register(Primitive(
    "argsort", _argsort_impl, _argsort_aval, jvp=zero_jvp,
    batch=batch_rules.scan("argsort"), sparsity="zero"))
