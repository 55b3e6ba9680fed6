"""``vmap``: vectorize a function over a batch axis; batched Jacobian helpers.

``vmap(f)`` traces ``f`` once, abstractly, on the shapes of one example, then
evaluates the traced Graph on the whole batch with the batching rules of
partiald.transforms.batching. Because the batched evaluation only ``bind``\\ s
primitives, it composes with every other transformation in both orders:
``vmap(grad(f))`` gives per-example gradients, ``grad`` of a function that
calls ``vmap`` differentiates through it, and ``vmap`` nests.

``batched_linear_apply`` and ``batched_transpose`` push a whole stack of
tangents (or cotangents) through a linearized Graph in one pass: the building
blocks of dense Jacobians and Hessians.
"""
from __future__ import annotations

import functools
import weakref
from typing import Callable

import numpy as np

from . import numpy as pnp
from .core.errors import TracerConversionError
from .core.graph import Graph, ShapedArray, Var
from .core.interpret import interpret
from .core.primitive import bind
from .core.pytree import tree_flatten, tree_unflatten
from .core.trace import Builder, Tracer
from .ops.common import shape_of
from .ops.shape import concatenate_p, gather_p
from .transforms.batching import batch_graph, insert_axis, moveaxis
from .transforms.reverse import transpose_eval

_FULL = ("slice", None, None, None)


# -- axis specifications --------------------------------------------------------------------

def _is_axis(a):
    return a is None or (isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)))


def _check_spec(spec, what):
    """``spec`` is an int, None, or a tuple/list/dict of them (nested)."""
    if _is_axis(spec):
        return
    if isinstance(spec, (tuple, list)):
        for s in spec:
            _check_spec(s, what)
    elif isinstance(spec, dict):
        for s in spec.values():
            _check_spec(s, what)
    else:
        raise TypeError(f"vmap {what} must be an int, None, or a (nested) tuple/list/dict of them, "
                        f"got {spec!r} of type {type(spec).__name__}")


def _leaf_paths(tree, path):
    """The path of every leaf of ``tree``, in ``tree_flatten`` order."""
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        return [p for i, c in enumerate(tree) for p in _leaf_paths(c, f"{path}[{i}]")]
    if isinstance(tree, dict):
        return [p for k in sorted(tree) for p in _leaf_paths(tree[k], f"{path}[{k!r}]")]
    return [path]


def _prefix_leaves(spec, tree, what, path):
    """``(axis, path)`` for every leaf of ``tree``: an axis in ``spec`` covers its whole subtree."""
    if _is_axis(spec):
        return [(None if spec is None else int(spec), p) for p in _leaf_paths(tree, path)]
    if isinstance(spec, dict):
        if not isinstance(tree, dict) or set(spec) != set(tree):
            raise ValueError(f"vmap {what}: the dict {spec!r} does not match the structure of {path} "
                             f"({_describe(tree)}); give one entry per key, or a single axis for all of it")
        return [e for k in sorted(tree) for e in _prefix_leaves(spec[k], tree[k], what, f"{path}[{k!r}]")]
    if not isinstance(tree, (tuple, list)) or len(tree) != len(spec):
        raise ValueError(f"vmap {what}: {spec!r} does not match the structure of {path} ({_describe(tree)}); "
                         "a container in the axes must mirror the argument, or use a single axis for all of it")
    return [e for i, (s, c) in enumerate(zip(spec, tree)) for e in _prefix_leaves(s, c, what, f"{path}[{i}]")]


def _describe(tree):
    if isinstance(tree, (tuple, list)):
        return f"a {type(tree).__name__} of length {len(tree)}"
    if isinstance(tree, dict):
        return f"a dict with keys {sorted(tree)}"
    return f"an array of shape {np.shape(tree)}" if hasattr(tree, "shape") else f"a {type(tree).__name__}"


# -- batch plumbing -------------------------------------------------------------------------------

def _slice(x, axis, start, stop):
    """Elements ``start:stop`` of ``x`` along ``axis`` (a view for NumPy arrays)."""
    if isinstance(x, np.ndarray):
        return x[(slice(None),) * axis + (slice(start, stop),)]
    return bind(gather_p, x, spec=(_FULL,) * axis + (("slice", start, stop, None),))


def _chunks(size, chunk_size):
    if chunk_size is None or chunk_size >= size:
        return [(0, size)]
    return [(s, min(size, s + chunk_size)) for s in range(0, size, chunk_size)]


def _place(o, d, axis, n, path):
    """A batched output ``(o, d)`` with its batch axis at ``axis``; an unbatched one is
    broadcast along a new axis of length ``n`` there (``axis=None``: left unbatched)."""
    if axis is None:
        if d is not None:
            raise ValueError(f"vmap out_axes is None for {path}, but it depends on the mapped inputs; "
                             "give it an axis (e.g. out_axes=0) or return only values shared by every example")
        return o
    o = o if hasattr(o, "shape") else np.asarray(o)
    nd = len(shape_of(o)) + (d is None)
    if not -nd <= axis < nd:
        raise ValueError(f"vmap out_axes={axis} is out of range for {path}, which has {nd} dimension(s) "
                         "with the batch axis")
    axis %= nd
    return insert_axis(o, axis, n) if d is None else moveaxis(o, d, axis)


def _concat(parts, axis):
    return parts[0] if len(parts) == 1 else bind(concatenate_p, *parts, axis=axis)


def _run_chunked(graph, mapped, size, chunk_size, placements):
    """Evaluate ``graph`` on ``mapped = [(value, axis)]`` in chunks of the batch; each
    output goes to ``placements[i] = (axis, path)`` and the chunks are concatenated."""
    chunks = _chunks(size, chunk_size)
    pieces = [[] for _ in graph.outvars]
    for start, stop in chunks:
        xs = [x if (start, stop) == (0, size) else _slice(x, a, start, stop) for x, a in mapped]
        outs, dims = batch_graph(graph, xs, [a for _, a in mapped])
        for i, (o, d) in enumerate(zip(outs, dims)):
            pieces[i].append((o, d, stop - start))
    results = []
    for parts, (axis, path) in zip(pieces, placements):
        if all(d is None for _, d, _ in parts):       # shared by every example: broadcast once
            results.append(_place(parts[0][0], None, axis, size, path))
        else:
            placed = [_place(o, d, axis, n, path) for o, d, n in parts]
            results.append(_concat(placed, axis % len(shape_of(placed[0]))))
    return results


def _unaliased(results, inputs):
    """Results are new arrays: copy any that shares memory with an input."""
    arrays = [x for x in inputs if isinstance(x, np.ndarray)]
    return [r.copy() if isinstance(r, np.ndarray) and any(np.may_share_memory(r, x) for x in arrays) else r
            for r in results]


# -- vmap -----------------------------------------------------------------------------------------

def vmap(f: Callable, in_axes=0, out_axes=0, chunk_size: int | None = None):
    """Vectorize ``f`` over a batch axis of its arguments (JAX semantics).

    Args:
      f: a function of arrays (or pytrees of arrays) written for one example.
      in_axes: the batch axis of each positional argument: an int (every
        argument), ``None`` (not batched: shared by every example), or a tuple
        with one entry per positional argument, where each entry is an int,
        ``None`` or a pytree prefix of that argument. Keyword arguments are
        batched along axis 0.
      out_axes: where the batch axis goes in each output: an int, ``None`` (the
        output must not depend on the batch) or a pytree prefix of the output.
      chunk_size: evaluate at most this many examples at a time and
        concatenate the results, to bound the memory of the intermediates.

    Returns:
      The batched function. ``f`` is traced once, with only the shapes of one
      example known, so Python control flow on the values of batched arguments
      raises ``TracerConversionError`` (use ``pnp.where``).

    Raises:
      ValueError: mapped axes of different sizes (naming them), an axis out of
        range, or an axis structure that does not match the arguments.
      TypeError: an ``in_axes``/``out_axes`` entry that is not an int or None.

    Examples:
      >>> import numpy as np, partiald as pdx, partiald.numpy as pnp
      >>> from partiald.vectorize import vmap
      >>> vmap(lambda x, y: pnp.sum(x * y))(np.ones((3, 2)), np.arange(6.0).reshape(3, 2))
      array([1., 5., 9.])
      >>> loss = lambda w, x, y: (pnp.dot(x, w) - y) ** 2
      >>> X, y = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([1.0, 0.0])
      >>> vmap(pdx.grad(loss), in_axes=(None, 0, 0))(np.ones(2), X, y)   # per-example gradients
      array([[0., 0.],
             [0., 8.]])
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_spec(in_axes, "in_axes")
    _check_spec(out_axes, "out_axes")
    if not _is_axis(in_axes) and not isinstance(in_axes, tuple):
        raise TypeError("vmap in_axes must be an int, None, or a tuple with one entry per positional "
                        f"argument, got {type(in_axes).__name__} {in_axes!r}")
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool)
                                   or chunk_size < 1):
        raise ValueError(f"vmap chunk_size must be a positive int or None, got {chunk_size!r}")

    @functools.wraps(f)
    def batched(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes has {len(in_axes)} entries, but the function was called with "
                             f"{len(args)} positional argument(s); give one entry per argument")
        spec = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        entries = [e for i, (s, a) in enumerate(zip(spec, args))
                   for e in _prefix_leaves(s, a, "in_axes", f"argument {i}")]
        entries += [e for k in sorted(kwargs) for e in _prefix_leaves(0, kwargs[k], "in_axes",
                                                                         f"keyword argument {k!r}")]
        args_leaves, args_tree = tree_flatten(args)
        kw_leaves, kw_tree = tree_flatten(kwargs)
        leaves = _mapped_leaves(args_leaves + kw_leaves, entries)
        size = _batch_size(leaves, entries)

        b = Builder("vmap")
        try:
            traced, invars = [], []
            for x, (a, _) in zip(leaves, entries):
                if a is None:
                    traced.append(x)
                else:
                    s = shape_of(x)
                    t = b.new_arg(ShapedArray(s[:a] + s[a + 1:], x.dtype))
                    traced.append(t)
                    invars.append(t._var)
            out = f(*tree_unflatten(args_tree, traced[:len(args_leaves)]),
                    **tree_unflatten(kw_tree, traced[len(args_leaves):]))
            out_leaves, out_tree = tree_flatten(out)
            for o in out_leaves:
                if not isinstance(o, (Tracer, np.ndarray, np.generic, bool, int, float, complex)):
                    raise TypeError(f"vmap: the function returned a {type(o).__name__}; outputs must be arrays, "
                                    "numbers, or pytrees of them")
            graph = b.finish(invars, out_leaves)
        finally:
            b.active = False
        placements = _prefix_leaves(out_axes, out, "out_axes", "output")
        mapped = [(x, a) for x, (a, _) in zip(leaves, entries) if a is not None]
        results = _run_chunked(graph, mapped, size, chunk_size, placements)
        return tree_unflatten(out_tree, _unaliased(results, leaves))
    return batched


def _mapped_leaves(leaves, entries):
    """Mapped leaves as arrays, with their axes normalized (checked against their rank)."""
    out = []
    for i, (x, (a, path)) in enumerate(zip(leaves, entries)):
        if a is not None:
            if not isinstance(x, (Tracer, np.ndarray)):
                x = np.asarray(x)
                if x.dtype == object:
                    raise TypeError(f"vmap: {path} is a {type(leaves[i]).__name__}, not an array; "
                                    "pass arrays, numbers or pytrees of them (in_axes=None to pass it as is)")
            nd = len(x.shape)
            if nd == 0:
                raise ValueError(f"vmap in_axes={a} maps {path}, but it is a scalar (shape ()); a mapped "
                                 "argument needs an axis to map over: use in_axes=None for it")
            if not -nd <= a < nd:
                raise ValueError(f"vmap in_axes={a} is out of range for {path} of shape {tuple(x.shape)} "
                                 f"({nd} dimension(s))")
            entries[i] = (a % nd, path)
        out.append(x)
    return out


def _batch_size(leaves, entries):
    sizes = [(shape_of(x)[a], a, path, shape_of(x)) for x, (a, path) in zip(leaves, entries) if a is not None]
    if not sizes:
        raise ValueError("vmap needs at least one mapped argument, but in_axes maps none (all None); "
                         "call the function directly, or map an argument")
    if len({n for n, *_ in sizes}) > 1:
        first = {}
        for n, a, path, shape in sizes:
            first.setdefault(n, f"{path} has size {n} along axis {a} (shape {shape})")
        raise ValueError("vmap got inconsistent sizes for the mapped axes: " + "; ".join(first.values())
                         + ". Every mapped axis must have the same length (the batch size)")
    return sizes[0][0]


# -- batched Jacobian helpers -------------------------------------------------------------------------

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
    res = _unaliased(_run_chunked(lin, [(t, 0) for t in tangents], size, chunk_size, placements), tangents)
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
    for start, stop in _chunks(size, chunk_size):
        xs = [x if d is None or (start, stop) == (0, size) else _slice(x, 0, start, stop)
              for x, d in zip(mapped, dims)]
        outs, out_dims = batch_graph(graph, xs, dims)
        res.append([None if o is None else _place(o, d, 0, stop - start, "cotangent")
                    for o, d in zip(outs, out_dims)])
    return _unaliased([None if parts[0] is None else _concat(list(parts), 0) for parts in zip(*res)], cotangents)


def _transpose_rows(lin, cotangents, size):
    rows = []
    for i in range(size):
        cts = [None if c is None else _slice(c, 0, i, i + 1) for c in cotangents]
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
        out.append(_concat([insert_axis(c, 0, 1) for c in col], 0))
    return out


def _size(x):
    return int(np.prod(shape_of(x), dtype=np.int64))


def _zeros(shape, like):
    return np.zeros(shape, dtype=getattr(like, "dtype", np.float64))


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
    chunks = _chunks(n, chunk_size) if n else []
    for start, stop in chunks:
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
        if start == 0 and len(chunks) > 1 and all(_concrete(r) for r in res):
            # several passes on NumPy values: each writes into the result, allocated once
            filled = [[None] * len(other) for _ in along]
        if filled is not None:
            _fill(filled, res, along, other, offsets, start, stop, mode)
        else:
            for a, (r, x) in enumerate(zip(res, along)):
                parts[a].append(_zeros((k, _size(x)), x) if r is None else pnp.reshape(r, (k, _size(x))))
        del res
    if filled is not None:
        return _blocks_from_filled(filled, lin, ins, outs, mode)
    # one pass: its rows are the result (no copy); several traced passes: concatenated
    mats = [(p[0] if len(p) == 1 else pnp.concatenate(p, axis=0)) if p else _zeros((0, _size(x)), x)
            for p, x in zip(parts, along)]
    blocks = []
    for i, o in enumerate(outs):
        row = []
        for j, x in enumerate(ins):
            shape = shape_of(o) + shape_of(x)
            if lin.outvars[i] is None:          # not differentiable (an integer output): exact zeros
                row.append(_zeros(shape, o))
            elif mode == "fwd":                 # mats[i]: (n_in, size of out i)
                row.append(pnp.reshape(pnp.transpose(mats[i][offsets[j]:offsets[j + 1]]), shape))
            else:                               # mats[j]: (n_out, size of in j)
                row.append(pnp.reshape(mats[j][offsets[i]:offsets[i + 1]], shape))
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
