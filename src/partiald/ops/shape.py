"""Structural primitives: reshape, broadcast, transpose, concatenate, indexing, einsum.

All of them are linear (einsum is linear in each operand), so their
derivative rules are the operations themselves and their transposes.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, is_undefined, register
from . import batch_rules
from .common import shape_of
from .elementwise import has_nan, unbroadcast


def reshape(x, shape):
    return bind(reshape_p, x, shape=tuple(int(d) for d in shape))


def broadcast_to(x, shape):
    return bind(broadcast_to_p, x, shape=tuple(int(d) for d in shape))


def transpose(x, perm):
    return bind(transpose_p, x, perm=tuple(int(p) for p in perm))


def _copy(a):
    """A fresh array (a NumPy scalar for 0-d): results never alias their inputs."""
    out = np.array(a, copy=True)
    return out[()] if out.ndim == 0 else out


reshape_p = register(Primitive(
    "reshape", lambda x, shape: _copy(np.reshape(x, shape)),
    lambda x, shape: ShapedArray(shape, x.dtype),
    jvp=lambda ts, ans, x, shape: reshape(ts[0], shape),
    transpose=lambda ct, x, shape: [reshape(ct, x.shape)], linear=True,
    batch=batch_rules.reshape, sparsity="index"))

broadcast_to_p = register(Primitive(
    "broadcast_to", lambda x, shape: np.array(np.broadcast_to(x, shape)),
    lambda x, shape: ShapedArray(shape, x.dtype),
    jvp=lambda ts, ans, x, shape: broadcast_to(ts[0], shape),
    transpose=lambda ct, x, shape: [unbroadcast(ct, x.shape)], linear=True,
    batch=batch_rules.broadcast_to, sparsity="index"))

transpose_p = register(Primitive(
    "transpose", lambda x, perm: np.transpose(x, perm).copy(),
    lambda x, perm: ShapedArray(tuple(x.shape[p] for p in perm), x.dtype),
    jvp=lambda ts, ans, x, perm: transpose(ts[0], perm),
    transpose=lambda ct, x, perm: [transpose(ct, tuple(np.argsort(perm)))], linear=True,
    batch=batch_rules.transpose, sparsity="index"))


# -- concatenate ----------------------------------------------------------------

def concatenate(xs, axis):
    return bind(concatenate_p, *xs, axis=int(axis))


def _concat_aval(*xs, axis):
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return ShapedArray(shape, np.result_type(*[x.dtype for x in xs]))


def _concat_jvp(tangents, ans, *xs, axis):
    dt = ans.dtype
    parts = [t if t is not None else np.zeros(shape_of(x), dt) for t, x in zip(tangents, xs)]
    return concatenate(parts, axis)


def _concat_transpose(ct, *xs, axis):
    out, start = [], 0
    for x in xs:
        n = shape_of(x)[axis]
        if is_undefined(x):
            idx = [("slice", None, None, None)] * len(shape_of(x))
            idx[axis] = ("slice", start, start + n, None)
            out.append(gather(ct, tuple(idx)))
        else:
            out.append(None)
        start += n
    return out


concatenate_p = register(Primitive(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis), _concat_aval,
    jvp=_concat_jvp, transpose=_concat_transpose, linear=True,
    batch=batch_rules.concatenate, sparsity="concatenate"))


# -- indexing -------------------------------------------------------------------
# An index is a static tuple of entries:
#   ("int", i) | ("slice", start, stop, step) | ("none",) | ("array", k)
# where ("array", k) refers to the k-th integer-array operand after x.

def _np_index(spec, arrays):
    out = []
    for e in spec:
        kind = e[0]
        if kind == "int":
            out.append(e[1])
        elif kind == "slice":
            out.append(slice(e[1], e[2], e[3]))
        elif kind == "none":
            out.append(None)
        else:
            out.append(np.asarray(arrays[e[1]]))
    return tuple(out)


def gather(x, spec, *arrays):
    return bind(gather_p, x, *arrays, spec=tuple(spec))


def _gather_impl(x, *arrays, spec):
    return _copy(np.asarray(x)[_np_index(spec, arrays)])


def _gather_aval(x, *arrays, spec):
    dummy = np.broadcast_to(np.zeros((), x.dtype), x.shape)
    idx = _np_index(spec, [np.zeros(a.shape, a.dtype) for a in arrays])
    return ShapedArray(np.shape(dummy[idx]), x.dtype)


def _scatter_add_impl(ct, *arrays, spec, shape):
    out = np.zeros(shape, dtype=np.result_type(ct))
    idx = _np_index(spec, arrays)
    if arrays:
        np.add.at(out, idx, ct)       # repeated indices accumulate
    else:
        out[idx] = ct
    return out


gather_p = register(Primitive(
    "gather", _gather_impl, _gather_aval,
    jvp=lambda ts, ans, x, *arrays, spec: gather(ts[0], spec, *arrays),
    transpose=lambda ct, x, *arrays, spec: [bind(scatter_add_p, ct, *arrays, spec=spec, shape=x.shape)]
    + [None] * len(arrays),
    linear=True, batch=batch_rules.gather, sparsity="index"))

scatter_add_p = register(Primitive(
    "scatter_add", _scatter_add_impl,
    lambda ct, *arrays, spec, shape: ShapedArray(shape, ct.dtype),
    jvp=lambda ts, ans, ct, *arrays, spec, shape: bind(scatter_add_p, ts[0], *arrays, spec=spec, shape=shape),
    transpose=lambda ct, x, *arrays, spec, shape: [gather(ct, spec, *arrays)] + [None] * len(arrays),
    linear=True, batch=batch_rules.scatter_add, sparsity="scatter_add"))


# -- einsum -----------------------------------------------------------------------
# ``spec`` is explicit ("ij,jk->ik"): no ellipsis, no index repeated within an
# operand (partiald.numpy normalizes user specs to this form).

def einsum(spec, *operands, safe=False):
    return bind(einsum_p, *operands, spec=spec, safe=safe)


def _split_spec(spec):
    ins, out = spec.split("->")
    return ins.split(","), out


def _einsum_matmul(spec, a, b):
    """Two-operand einsum as one BLAS matmul: operands transposed to (batch, free,
    contracted) and (batch, contracted, free), multiplied, reshaped and transposed to
    the output order. None when the spec does not fit (repeated or summed-away indices)."""
    (sa, sb), out = _split_spec(spec)
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or len(set(out)) != len(out):
        return None
    batch = [c for c in sa if c in sb and c in out]
    contract = [c for c in sa if c in sb and c not in out]
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]
    if any(c not in out for c in free_a + free_b):
        return None
    a, b = np.asarray(a), np.asarray(b)
    size = {c: d for c, d in zip(sa, a.shape)}
    size.update({c: d for c, d in zip(sb, b.shape)})
    n = lambda cs: math.prod(size[c] for c in cs)   # noqa: E731
    at = np.transpose(a, [sa.index(c) for c in batch + free_a + contract]).reshape(
        n(batch), n(free_a), n(contract))
    bt = np.transpose(b, [sb.index(c) for c in batch + contract + free_b]).reshape(
        n(batch), n(contract), n(free_b))
    res = np.matmul(at, bt).reshape([size[c] for c in batch + free_a + free_b])
    order = batch + free_a + free_b
    return np.transpose(res, [order.index(c) for c in out]) if order != list(out) else res


def _einsum_impl(*ops, spec, safe=False):
    out = _einsum_matmul(spec, *ops) if len(ops) == 2 else None
    if out is None:
        out = np.einsum(spec, *ops, optimize=len(ops) > 2)
    elif out.ndim == 0:
        out = out[()]
    if isinstance(out, np.ndarray) and any(np.may_share_memory(out, o) for o in ops):
        out = out.copy()      # a pure permutation ('ij->ji') is a view in NumPy
    if safe and has_nan(out):
        # a 0 * inf (or 0 * NaN) product would have left a NaN in the result; without
        # one, the plain result is the exact-zero one (one read pass over the result)
        out = _exact_zero_einsum(spec, ops)
    return out


def _exact_zero_einsum(spec, ops):
    """einsum in which 0 * inf is 0, for derivative rules (a zero tangent or cotangent
    contributes nothing). Multiplies out in the full index space: only used when an
    operand is not finite."""
    from .elementwise import _safe_mul_impl
    ins, out = _split_spec(spec)
    letters = sorted(set("".join(ins)))
    sizes = {c: d for sub, op in zip(ins, ops) for c, d in zip(sub, np.shape(op))}
    full = None
    for sub, op in zip(ins, ops):
        perm = sorted(range(len(sub)), key=lambda i: letters.index(sub[i]))
        arr = np.transpose(op, perm).reshape([sizes[c] if c in sub else 1 for c in letters])
        full = arr if full is None else _safe_mul_impl(full, arr)
    full = np.broadcast_to(full, [sizes[c] for c in letters])
    res = np.sum(full, axis=tuple(i for i, c in enumerate(letters) if c not in out))
    kept = [c for c in letters if c in out]
    return np.transpose(res, [kept.index(c) for c in out]) if out else res


def _einsum_aval(*ops, spec, safe=False):
    ins, out = _split_spec(spec)
    sizes = {}
    for sub, op in zip(ins, ops):
        for c, d in zip(sub, op.shape):
            sizes[c] = d
    return ShapedArray(tuple(sizes[c] for c in out), np.result_type(*[o.dtype for o in ops]))


def _einsum_jvp(tangents, ans, *ops, spec, safe=False):
    out = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        term = einsum(spec, *ops[:i], t, *ops[i + 1:], safe=True)
        out = term if out is None else bind(_add_p(), out, term)
    return out


def _add_p():
    from .elementwise import add_p
    return add_p


def _einsum_transpose(ct, *ops, spec, safe=False):
    ins, out = _split_spec(spec)
    k = next(i for i, o in enumerate(ops) if is_undefined(o))
    target = ins[k]
    others = [(s, o) for i, (s, o) in enumerate(zip(ins, ops)) if i != k]
    available = set(out).union(*[set(s) for s, _ in others]) if others else set(out)
    kept = "".join(c for c in target if c in available)
    new_spec = ",".join([out] + [s for s, _ in others]) + "->" + kept
    res = einsum(new_spec, ct, *[o for _, o in others], safe=True)
    if kept != target:
        # indices summed away in the forward pass: the cotangent is constant along them
        shape = ops[k].shape
        res = broadcast_to(reshape(res, tuple(d if c in available else 1 for c, d in zip(target, shape))), shape)
    return [res if i == k else None for i in range(len(ops))]


einsum_p = register(Primitive("einsum", _einsum_impl, _einsum_aval, jvp=_einsum_jvp,
                              transpose=_einsum_transpose, rule_name="product rule",
                              batch=batch_rules.einsum, sparsity="einsum"))
