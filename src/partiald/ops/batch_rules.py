"""Batching rules (vmap), one per primitive record: ``rule(args, dims, **params) -> (out, out_dim)``.

The records in this package name their rule in their ``batch`` field; the
batching transformation (transforms/batching.py) only reads it. A batched value
is a pair ``(x, d)``: an array (or tracer) ``x`` whose axis ``d`` indexes the
batch, or ``d = None`` for a value shared by every example. Rules follow JAX:
move batch axes where the operation can use them (usually to the front), let
elementwise operations broadcast, shift reduction axes and permutations past the
batch axis, add a letter to an einsum. Rules only ``bind`` primitives, so a
batched computation can itself be traced, differentiated or batched again
(nested vmap). Records with no batched form may name :func:`loop_rule`, which
binds one example at a time (exact and differentiable, a Python loop over the
batch); the linear algebra records take stacks and move the batch axis to the
front instead.

Structural primitives are looked up in the registry when a rule runs, so the
record modules can import this one without an import circle.
"""
from __future__ import annotations

import string

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import REGISTRY, bind
from .common import dtype_of, shape_of


def _P(name):
    return REGISTRY[name]

_FULL = ("slice", None, None, None)


# -- helpers (they bind primitives, so they work on tracers) ------------------------------

def _ndim(x):
    return len(shape_of(x))


def batch_size(args, dims):
    """The batch size: the length of any batched operand along its batch axis."""
    for x, d in zip(args, dims):
        if d is not None:
            return shape_of(x)[d]
    raise ValueError("internal error: a batching rule was called with no batched operand")


def moveaxis(x, src, dst):
    """``x`` with axis ``src`` moved to position ``dst`` (no-op when they agree)."""
    if src == dst:
        return x
    perm = [i for i in range(_ndim(x)) if i != src]
    perm.insert(dst, src)
    return bind(_P("transpose"), x, perm=tuple(perm))


def _reshape(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape_of(x) == shape else bind(_P("reshape"), x, shape=shape)


def _as_array(x):
    return x if hasattr(x, "shape") else np.asarray(x)


def insert_axis(x, pos, size):
    """``x`` (unbatched) broadcast along a new axis of length ``size`` at ``pos``."""
    x = _as_array(x)
    s = shape_of(x)
    if pos:         # broadcasting aligns from the right: a new leading axis needs no reshape
        x = _reshape(x, s[:pos] + (1,) + s[pos:])
    return bind(_P("broadcast_to"), x, shape=s[:pos] + (size,) + s[pos:])


def to_front(x, d, size):
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to the batch."""
    return insert_axis(x, 0, size) if d is None else moveaxis(x, d, 0)


def _unbatched_aval(x, d):
    """What ``abstract_eval`` sees for one example of ``(x, d)``."""
    if isinstance(x, (bool, int, float, complex)):
        return x
    s = shape_of(x)
    return ShapedArray(s if d is None else s[:d] + s[d + 1:], dtype_of(x))


def loop_batch(prim, args, dims, **params):
    """The batch one example at a time: exact for any primitive, and differentiable
    (each example is a ``bind``), but a Python loop over the batch."""
    size = batch_size(args, dims)
    xs = [x if d is None else moveaxis(x, d, 0) for x, d in zip(args, dims)]
    if size == 0:
        aval = prim.abstract_eval(*[_unbatched_aval(x, d) for x, d in zip(args, dims)], **params)
        return np.zeros((0,) + aval.shape, aval.dtype), 0
    outs = []
    for i in range(size):
        ex = [x if d is None else bind(_P("gather"), x, spec=(("int", i),)) for x, d in zip(xs, dims)]
        o = _as_array(bind(prim, *ex, **params))
        outs.append(_reshape(o, (1,) + shape_of(o)))
    return (outs[0] if size == 1 else bind(_P("concatenate"), *outs, axis=0)), 0


def loop_rule(name):
    """The rule of a primitive with no batched form: :func:`loop_batch` (``name``: the
    primitive's registered name, or the record itself for one that is not registered)."""
    def rule(args, dims, **params):
        return loop_batch(_P(name) if isinstance(name, str) else name, args, dims, **params)
    return rule


# -- elementwise ------------------------------------------------------------------------------

def elementwise(name):
    """The rule of the elementwise primitive ``name`` (NumPy broadcasting): batched
    operands get their batch axis first and are padded with size-1 axes to the common
    example rank, so unbatched ones broadcast against them."""
    def rule(args, dims, **params):
        prim = _P(name)
        ranks = [_ndim(x) - (d is not None) for x, d in zip(args, dims)]
        r = max(ranks)
        bdims = {d for d in dims if d is not None}
        if len(bdims) == 1:
            d = bdims.pop()
            if all(rk == r if dd is not None else (rk == 0 or d == 0) for rk, dd in zip(ranks, dims)):
                return bind(prim, *args, **params), d       # already aligned: no data movement
        size = batch_size(args, dims)
        xs = []
        for x, d, rk in zip(args, dims, ranks):
            if d is not None:
                x = moveaxis(x, d, 0)
                x = _reshape(x, (size,) + (1,) * (r - rk) + shape_of(x)[1:])
            xs.append(x)
        return bind(prim, *xs, **params), 0
    return rule


# -- reductions ---------------------------------------------------------------------------------

def _full_axis(a, d):
    """The position in the batched array of example axis ``a`` (batch axis at ``d``)."""
    return a if a < d else a + 1


def reduction(name):
    """The rule of the reduction ``name`` over ``axes``: the axes shift past the batch axis."""
    def rule(args, dims, axes):
        prim = _P(name)
        (x,), (d,) = args, dims
        out_d = d - sum(1 for a in axes if a < d)
        return bind(prim, x, axes=tuple(_full_axis(a, d) for a in axes)), out_d
    return rule


def scan(name):
    """The rule of the primitive ``name`` along one ``axis`` that keeps the shape
    (cumsum, argsort): the axis shifts past the batch axis, which stays where it is."""
    def rule(args, dims, axis, **params):
        (x,), (d,) = args, dims
        return bind(_P(name), x, axis=_full_axis(axis, d), **params), d
    return rule


def argmax(args, dims, axis):
    (x,), (d,) = args, dims
    return bind(_P("argmax"), x, axis=_full_axis(axis, d)), d - (axis < d)


# -- structure --------------------------------------------------------------------------------------

def reshape(args, dims, shape):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return bind(_P("reshape"), x, shape=(shape_of(x)[0],) + tuple(shape)), 0


def broadcast_to(args, dims, shape):
    # broadcasting aligns from the right: the batch axis lands n - k places further on
    (x,), (d,) = args, dims
    s = shape_of(x)
    out_d = d + len(shape) - (len(s) - 1)
    full = tuple(shape[:out_d]) + (s[d],) + tuple(shape[out_d:])
    return bind(_P("broadcast_to"), x, shape=full), out_d


def transpose(args, dims, perm):
    (x,), (d,) = args, dims
    return bind(_P("transpose"), x, perm=(d,) + tuple(_full_axis(p, d) for p in perm)), 0


def concatenate(args, dims, axis):
    size = batch_size(args, dims)
    xs = [to_front(x, d, size) for x, d in zip(args, dims)]
    return bind(_P("concatenate"), *xs, axis=axis + 1), 0


# -- indexing -------------------------------------------------------------------------------------

def _advanced(spec):
    """Positions of NumPy's advanced indices in ``spec`` (integers count when an array is present)."""
    arrays = any(e[0] == "array" for e in spec)
    return [i for i, e in enumerate(spec) if e[0] == "array" or (arrays and e[0] == "int")]


def _adjacent(positions):
    return positions == list(range(positions[0], positions[0] + len(positions)))


def _batched_index(spec, arrays, adims, size):
    """Rewrite an index for an operand with a batch axis.

    Returns ``(spec, arrays, x_axis, pos)``: the new spec and index arrays, the
    axis of the operand that must hold its batch, and the axis of the indexed
    result that then holds the batch. With unbatched index arrays a full slice
    goes in front (``x_axis = 0``). With batched index arrays, they get the batch
    axis first (padded to a common rank so they broadcast) and an iota array
    indexing the operand's batch axis pairs example ``i`` of the operand with
    example ``i`` of the indices; it goes just before the first advanced index so
    that NumPy keeps the advanced dimensions where one example has them (in place
    when the advanced indices are adjacent, first otherwise).
    """
    adv = _advanced(spec)
    if all(d is None for d in adims):
        pos = 0 if not adv or _adjacent(adv) else max((_ndim(a) for a in arrays), default=0)
        return (_FULL,) + tuple(spec), list(arrays), 0, pos
    new, r = _batch_index_arrays(arrays, adims, size)
    iota = np.arange(size, dtype=np.int64).reshape((size,) + (1,) * r)
    p = adv[0]
    x_axis = sum(1 for e in spec[:p] if e[0] != "none")
    spec2 = tuple(spec[:p]) + (("array", len(new)),) + tuple(spec[p:])
    return spec2, new + [iota], x_axis, _advanced_position(spec)


def _advanced_position(spec):
    """Where NumPy puts the (broadcast) advanced-index dimensions in the result."""
    adv = _advanced(spec)
    return sum(1 for e in spec[:adv[0]] if e[0] in ("slice", "none")) if _adjacent(adv) else 0


def _batch_index_arrays(arrays, adims, size):
    """Index arrays with the batch axis first, padded to a common example rank ``r`` so
    that they broadcast against each other (unbatched ones broadcast from the right)."""
    ranks = [_ndim(a) - (d is not None) for a, d in zip(arrays, adims)]
    r = max(ranks)
    new = []
    for a, d, rk in zip(arrays, adims, ranks):
        if d is not None:
            a = moveaxis(a, d, 0)
            a = _reshape(a, (size,) + (1,) * (r - rk) + shape_of(a)[1:])
        new.append(a)
    return new, r


def gather(args, dims, spec):
    x, arrays = args[0], args[1:]
    dx, adims = dims[0], dims[1:]
    size = batch_size(args, dims)
    if dx is None:
        # only the indices vary: index the shared operand with the batched indices directly
        new, _ = _batch_index_arrays(arrays, adims, size)
        return bind(_P("gather"), x, *new, spec=tuple(spec)), _advanced_position(spec)
    spec2, arrays2, x_axis, pos = _batched_index(spec, arrays, adims, size)
    return bind(_P("gather"), moveaxis(x, dx, x_axis), *arrays2, spec=spec2), pos


def scatter_add(args, dims, spec, shape):
    ct, arrays = args[0], args[1:]
    dct, adims = dims[0], dims[1:]
    size = batch_size(args, dims)
    spec2, arrays2, x_axis, pos = _batched_index(spec, arrays, adims, size)
    ct = insert_axis(ct, pos, size) if dct is None else moveaxis(ct, dct, pos)
    shape = tuple(shape)
    return bind(_P("scatter_add"), ct, *arrays2, spec=spec2, shape=shape[:x_axis] + (size,) + shape[x_axis:]), x_axis


# -- einsum and linear algebra --------------------------------------------------------------------------

def einsum(args, dims, spec, **params):
    # a fresh index letter for the batch axis: "ij,jk->ik" with A batched becomes "zij,jk->zik"
    free = next((c for c in string.ascii_letters if c not in spec), None)
    if free is None:
        return loop_batch(_P("einsum"), args, dims, spec=spec, **params)
    ins, out = spec.split("->")
    subs = [s if d is None else s[:d] + free + s[d:] for s, d in zip(ins.split(","), dims)]
    return bind(_P("einsum"), *args, spec=",".join(subs) + "->" + free + out, **params), 0


def solve(args, dims):
    (a, b), (da, db) = args, dims
    if da is not None:
        return loop_batch(_P("solve"), args, dims)       # solve takes one matrix (see the module docstring)
    # one matrix, many right-hand sides: the batch becomes extra columns of b
    b = moveaxis(b, db, 1)
    s = shape_of(b)
    if len(s) == 2:
        return bind(_P("solve"), a, b), 1
    x = bind(_P("solve"), a, _reshape(b, (s[0], s[1] * s[2])))
    return _reshape(x, s), 1
