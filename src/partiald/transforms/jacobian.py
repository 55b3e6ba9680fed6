"""Batched Jacobian helpers: push a whole stack of tangents (or cotangents)
through a linearized Graph in one pass, and assemble dense Jacobian blocks.

``batched_linear_apply`` evaluates a linear Graph on a stack of tangents with the
batching rules; ``batched_transpose`` does the same for its transpose
(``transpose_graph``, traced once and cached); ``jacobian_blocks`` builds every
block of a dense Jacobian from them, a chunk of the identity at a time: the
building blocks of ``pdx.jacobian`` and ``pdx.hessian``.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..core.errors import TracerConversionError
from ..core.graph import Graph, Var
from ..core.interpret import interpret
from ..core.primitive import bind
from ..core.trace import Builder
from ..ops.common import shape_of
from ..ops.shape import gather_p, reshape, transpose
from .batching import batch_graph, insert_axis
from ..core.results import unaliased
from .chunked import chunk_bounds, concat, place, run_chunked, slice_along
from .reverse import transpose_eval


def standard_basis(leaves, start=0, stop=None):
    """Rows ``start:stop`` of the identity over the concatenated (flattened) ``leaves``.

    Returns one stack per leaf, of shape ``(stop - start,) + leaf.shape`` and the
    leaf's dtype: row ``k`` is the unit vector ``e_{start + k}`` split over the
    leaves. These are the tangents of ``jacfwd`` (or the cotangents of ``jacrev``).
    """
    shapes = [shape_of(x) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    stop = sum(sizes) if stop is None else stop
    out, offset = [], 0
    for x, s, m in zip(leaves, shapes, sizes):
        block = np.zeros((stop - start, m), dtype=getattr(x, "dtype", np.float64))
        idx = np.arange(max(start, offset), min(stop, offset + m))
        block[idx - start, idx - offset] = 1
        out.append(block.reshape((stop - start,) + s))
        offset += m
    return out


def _stack_size(stacks, avals, what):
    size = None
    for s, aval in zip(stacks, avals):
        if s is None:
            continue
        shape = shape_of(s)
        if shape[1:] != aval.shape or not shape:
            raise ValueError(f"{what}: a stack of shape {shape} does not match {aval.shape} "
                             "(expected (k,) + that shape)")
        if size is not None and shape[0] != size:
            raise ValueError(f"{what}: stacks of different lengths {size} and {shape[0]}")
        size = shape[0]
    return size


def batched_linear_apply(lin: Graph, tangents, chunk_size: int | None = None):
    """Evaluate a linear Graph on a stack of tangents in one pass.

    Args:
      lin: a linear Graph, e.g. ``pdx.linearize(f, *x)[1].graph``; its inputs are
        the tangents of ``f``'s floating-point inputs.
      tangents: one stack per ``lin.invars``: shape ``(k,) + input shape``; row
        ``i`` of every stack together form the ``i``-th tangent.
      chunk_size: evaluate at most this many tangents at a time.

    Returns:
      One stack per ``lin.outvars``, ``(k,) + output shape``: row ``i`` is
      ``lin`` applied to the ``i``-th tangent (``J @ v_i``). ``None`` for an
      output that is identically zero (``None`` in the Graph).
    """
    if len(tangents) != len(lin.invars):
        raise ValueError(f"batched_linear_apply: the Graph takes {len(lin.invars)} tangents, got {len(tangents)}")
    size = _stack_size(tangents, [v.aval for v in lin.invars], "batched_linear_apply")
    if size is None:
        raise ValueError("batched_linear_apply: no tangent stacks given")
    placements = [(0, "output")] * len(lin.outvars)
    res = unaliased(run_chunked(lin, [(t, 0) for t in tangents], size, chunk_size, placements), tangents)
    return [None if o is None else r for o, r in zip(lin.outvars, res)]


#: lin Graph -> (transposed Graph, which outputs of lin take a cotangent)
_TRANSPOSED: "weakref.WeakKeyDictionary[Graph, tuple]" = weakref.WeakKeyDictionary()


def transpose_graph(lin: Graph):
    """The transpose of a linear Graph as a Graph (traced once, then cached).

    Returns ``(graph, mask)``: ``graph`` maps the cotangents of the outputs of
    ``lin`` where ``mask`` is True to the cotangents of ``lin``'s inputs
    (``None`` outputs: no cotangent reaches that input).
    """
    hit = _TRANSPOSED.get(lin)
    if hit is not None:
        return hit
    b = Builder("transpose")
    try:
        cts = [b.new_arg(o.aval) if isinstance(o, Var) else None for o in lin.outvars]
        res = transpose_eval(lin, cts)
        graph = b.finish([c._var for c in cts if c is not None], res)
    finally:
        b.active = False
    hit = _TRANSPOSED[lin] = (graph, [c is not None for c in cts])
    return hit


def batched_transpose(lin: Graph, cotangents, chunk_size: int | None = None):
    """The transpose of a linear Graph applied to a stack of cotangents in one pass.

    Args:
      lin: a linear Graph (see :func:`batched_linear_apply`).
      cotangents: one stack per ``lin.outvars``, ``(k,) + output shape``, or
        ``None`` for an output that gets a zero cotangent.
      chunk_size: evaluate at most this many cotangents at a time.

    Returns:
      One stack per ``lin.invars``, ``(k,) + input shape``: row ``i`` is
      ``J^T u_i`` (what ``transpose_eval`` gives for the ``i``-th cotangent), or
      ``None`` where no cotangent reaches that input.
    """
    if len(cotangents) != len(lin.outvars):
        raise ValueError(f"batched_transpose: the Graph has {len(lin.outvars)} outputs, got "
                         f"{len(cotangents)} cotangent stacks")
    avals = [o.aval if o is not None else None for o in lin.outvars]
    size = _stack_size([c for c, a in zip(cotangents, avals) if a is not None],
                       [a for a in avals if a is not None], "batched_transpose")
    if size is None:
        return [None] * len(lin.invars)
    try:
        graph, mask = transpose_graph(lin)
    except TracerConversionError:
        # a user rule (custom_vjp) needs concrete cotangents: one transpose per row
        return _transpose_rows(lin, cotangents, size)
    mapped, dims = [], []
    for c, m, o in zip(cotangents, mask, lin.outvars):
        if m:
            mapped.append(c if c is not None else np.zeros(o.aval.shape, o.aval.dtype))
            dims.append(0 if c is not None else None)
    res = []
    for start, stop in chunk_bounds(size, chunk_size):
        xs = [x if d is None or (start, stop) == (0, size) else slice_along(x, 0, start, stop)
              for x, d in zip(mapped, dims)]
        outs, out_dims = batch_graph(graph, xs, dims)
        res.append([None if o is None else place(o, d, 0, stop - start, "cotangent")
                    for o, d in zip(outs, out_dims)])
    return unaliased([None if parts[0] is None else concat(list(parts), 0) for parts in zip(*res)], cotangents)


def _transpose_rows(lin, cotangents, size):
    rows = []
    for i in range(size):
        cts = [None if c is None else slice_along(c, 0, i, i + 1) for c in cotangents]
        cts = [None if c is None else bind(gather_p, c, spec=(("int", 0),)) for c in cts]
        rows.append(transpose_eval(lin, cts))
    out = []
    for j in range(len(lin.invars)):
        col = [r[j] for r in rows]
        if all(c is None for c in col):
            out.append(None)
            continue
        aval = lin.invars[j].aval
        col = [np.zeros(aval.shape, aval.dtype) if c is None else c for c in col]
        out.append(concat([insert_axis(c, 0, 1) for c in col], 0))
    return out


def _size(x):
    return int(np.prod(shape_of(x), dtype=np.int64))


def _zeros(shape, like):
    return np.zeros(shape, dtype=getattr(like, "dtype", np.float64))


def _reshape(x, shape):
    """``x`` reshaped, itself when the shape already matches (a view for NumPy arrays)."""
    shape = tuple(int(d) for d in shape)
    if shape_of(x) == shape:
        return x
    return np.reshape(x, shape) if isinstance(x, (np.ndarray, np.generic)) else reshape(x, shape)


def _transpose2(x):
    """A matrix transposed (a view for NumPy arrays)."""
    return x.T if isinstance(x, np.ndarray) else transpose(x, (1, 0))


def tangent_bytes(lin: Graph) -> int:
    """An upper bound on the bytes one more (co)tangent adds to a batched pass of
    :func:`jacobian_blocks` over ``lin``: its row of the basis, the row of every
    intermediate of ``lin`` (or of its transpose, whose cotangents have the same
    shapes), and the rows of the results, all held at once.

    The peak of a pass over ``k`` (co)tangents is about ``k`` times this, on top of
    the result; ``pdx.jacobian`` and ``pdx.hessian`` pick their chunk size from it.
    """
    def nbytes(v):
        aval = getattr(v, "aval", None)
        return 0 if aval is None else aval.size * np.dtype(aval.dtype).itemsize
    seen = set()
    total = 0
    for v in [*lin.invars, *(e.outvar for e in lin.eqns), *lin.outvars]:
        if isinstance(v, Var) and id(v) not in seen:
            seen.add(id(v))
            total += nbytes(v)
    # the basis row and the result row are separate arrays (a result that is an input
    # tangent itself is copied), and a batching rule may move an axis into a copy
    inputs = sum(nbytes(v) for v in lin.invars)
    outputs = sum(nbytes(v) for v in lin.outvars if isinstance(v, Var))
    return int(total + inputs + outputs)


def _concrete(x):
    return x is None or isinstance(x, (np.ndarray, np.generic))


def jacobian_blocks(lin: Graph, ins, outs, mode: str = "fwd", chunk_size: int | None = None):
    """Every block of a dense Jacobian from a linearization, a batch of (co)tangents at a time.

    Args:
      lin: the linear Graph of ``f`` at ``ins`` (``pdx.linearize(f, *ins)[1].graph``,
        or ``_Staged.lin``); its ``in_mask``, when present, says which of ``ins``
        it takes a tangent for.
      ins: the flat inputs (arrays or tracers); outs: the flat outputs.
      mode: ``"fwd"`` pushes the columns of the identity through ``lin``
        (:func:`batched_linear_apply`, one pass per chunk of inputs); ``"rev"``
        pulls the rows back through its transpose (:func:`batched_transpose`,
        one pass per chunk of outputs).
      chunk_size: at most this many tangents (``"fwd"``) or cotangents
        (``"rev"``) per pass, to bound the memory of the intermediates.

    Returns:
      ``blocks[i][j]``, the derivative of ``outs[i]`` with respect to ``ins[j]``,
      of shape ``outs[i].shape + ins[j].shape``. One pass returns its own rows
      (views where the shapes allow); with several passes on NumPy values every
      block is allocated once and each pass writes its rows (or columns) into
      it, so the peak is the result plus one chunk's basis and intermediates
      (:func:`tangent_bytes` per (co)tangent); traced values are concatenated.
    """
    mask = list(getattr(lin, "in_mask", [True] * len(ins)))
    in_sizes, out_sizes = [_size(x) for x in ins], [_size(o) for o in outs]
    if mode == "fwd":
        n, along, other = sum(in_sizes), outs, in_sizes
    elif mode == "rev":
        n, along, other = sum(out_sizes), ins, out_sizes
    else:
        raise ValueError(f"jacobian_blocks: mode must be 'fwd' or 'rev', got {mode!r}")
    offsets = np.concatenate([[0], np.cumsum(other, dtype=np.int64)]).tolist()
    # filled[a][c]: the (size of along[a], size of other[c]) matrix of block (a, c) in
    # fwd mode, (size of other[c], size of along[a]) in rev mode; None until allocated
    filled = None
    # parts[a]: (k, size of along[a]) pieces to concatenate, for traced values
    parts = [[] for _ in along]
    bounds = chunk_bounds(n, chunk_size) if n else []
    for start, stop in bounds:
        k = stop - start
        if mode == "fwd":
            basis = standard_basis(ins, start, stop)
            if k == 1:
                # one tangent (a function of one scalar): the linear program itself, with no
                # batch axis of length 1 for later transformations to carry along
                res = interpret(lin, *[b[0] for b, m in zip(basis, mask) if m])
                res = [None if o is None else r for o, r in zip(lin.outvars, res)]
            else:
                res = batched_linear_apply(lin, [b for b, m in zip(basis, mask) if m])
        else:
            basis = standard_basis(outs, start, stop)
            if k == 1:
                # one cotangent (the gradient of a scalar): reverse mode as grad runs it, so
                # that jacfwd(jacrev(f)) is forward over an unbatched backward pass
                got = iter(transpose_eval(lin, [b[0] if o is not None else None
                                                for b, o in zip(basis, lin.outvars)]))
            else:
                got = iter(batched_transpose(lin, basis))
            res = [next(got) if m else None for m in mask]
        del basis
        if start == 0 and len(bounds) > 1 and all(_concrete(r) for r in res):
            # several passes on NumPy values: each writes into the result, allocated once
            filled = [[None] * len(other) for _ in along]
        if filled is not None:
            _fill(filled, res, along, other, offsets, start, stop, mode)
        else:
            for a, (r, x) in enumerate(zip(res, along)):
                parts[a].append(_zeros((k, _size(x)), x) if r is None else _reshape(r, (k, _size(x))))
        del res
    if filled is not None:
        return _blocks_from_filled(filled, lin, ins, outs, mode)
    # one pass: its rows are the result (no copy); several traced passes: concatenated
    mats = [(p[0] if len(p) == 1 else concat(p, 0)) if p else _zeros((0, _size(x)), x)
            for p, x in zip(parts, along)]
    blocks = []
    for i, o in enumerate(outs):
        row = []
        for j, x in enumerate(ins):
            shape = shape_of(o) + shape_of(x)
            if lin.outvars[i] is None:          # not differentiable (an integer output): exact zeros
                row.append(_zeros(shape, o))
            elif mode == "fwd":                 # mats[i]: (n_in, size of out i)
                row.append(_reshape(_transpose2(mats[i][offsets[j]:offsets[j + 1]]), shape))
            else:                               # mats[j]: (n_out, size of in j)
                row.append(_reshape(mats[j][offsets[i]:offsets[i + 1]], shape))
        blocks.append(row)
    return blocks


def _fill(filled, res, along, other, offsets, start, stop, mode):
    """Write one chunk's rows ``res[a]`` (``(stop - start,) + along[a].shape``, or None
    for zeros) into the preallocated blocks."""
    k = stop - start
    for a, (r, x) in enumerate(zip(res, along)):
        m = _size(x)
        if r is not None:
            r = np.reshape(np.asarray(r), (k, m))
        for c in range(len(other)):
            lo, hi = max(start, offsets[c]), min(stop, offsets[c + 1])
            if lo >= hi:
                continue
            blk = filled[a][c]
            if blk is None:
                dt = r.dtype if r is not None else getattr(x, "dtype", np.float64)
                shape = (m, other[c]) if mode == "fwd" else (other[c], m)
                # zeros where no tangent reaches (r is None): every other entry is written
                blk = filled[a][c] = (np.zeros if r is None else np.empty)(shape, dtype=dt)
            if r is None:
                continue
            if mode == "fwd":
                blk[:, lo - offsets[c]:hi - offsets[c]] = r[lo - start:hi - start].T
            else:
                blk[lo - offsets[c]:hi - offsets[c], :] = r[lo - start:hi - start]


def _blocks_from_filled(filled, lin, ins, outs, mode):
    blocks = []
    for i, o in enumerate(outs):
        row = []
        for j, x in enumerate(ins):
            shape = shape_of(o) + shape_of(x)
            blk = filled[i][j] if mode == "fwd" else filled[j][i]
            if lin.outvars[i] is None:          # not differentiable (an integer output): exact zeros
                row.append(_zeros(shape, o))
            elif blk is None:                   # an empty block (a leaf of size 0)
                row.append(_zeros(shape, o if mode == "fwd" else x))
            else:
                row.append(blk.reshape(shape))
        blocks.append(row)
    return blocks
