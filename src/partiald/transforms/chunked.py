"""Evaluating a Graph over a batch axis, a chunk of the batch at a time.

The plumbing shared by ``vmap`` (partiald.vectorize) and the batched Jacobian
helpers (partiald.transforms.jacobian): slice the mapped inputs, run the
batching rules of partiald.transforms.batching on each chunk, move every
output's batch axis where it is asked for, and concatenate the chunks.
"""
from __future__ import annotations

import numpy as np

from ..core.primitive import bind
from ..ops.common import shape_of
from ..ops.shape import concatenate_p, gather_p
from .batching import batch_graph, insert_axis, moveaxis

_FULL = ("slice", None, None, None)


def slice_along(x, axis, start, stop):
    """Elements ``start:stop`` of ``x`` along ``axis`` (a view for NumPy arrays)."""
    if isinstance(x, np.ndarray):
        return x[(slice(None),) * axis + (slice(start, stop),)]
    return bind(gather_p, x, spec=(_FULL,) * axis + (("slice", start, stop, None),))


def chunk_bounds(size, chunk_size):
    """``(start, stop)`` of each chunk of a batch of ``size``: one chunk unless ``chunk_size``
    is smaller."""
    if chunk_size is None or chunk_size >= size:
        return [(0, size)]
    return [(s, min(size, s + chunk_size)) for s in range(0, size, chunk_size)]


def place(o, d, axis, n, path):
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


def concat(parts, axis):
    return parts[0] if len(parts) == 1 else bind(concatenate_p, *parts, axis=axis)


def run_chunked(graph, mapped, size, chunk_size, placements):
    """Evaluate ``graph`` on ``mapped = [(value, axis)]`` in chunks of the batch; each
    output goes to ``placements[i] = (axis, path)`` and the chunks are concatenated."""
    bounds = chunk_bounds(size, chunk_size)
    pieces = [[] for _ in graph.outvars]
    for start, stop in bounds:
        xs = [x if (start, stop) == (0, size) else slice_along(x, a, start, stop) for x, a in mapped]
        outs, dims = batch_graph(graph, xs, [a for _, a in mapped])
        for i, (o, d) in enumerate(zip(outs, dims)):
            pieces[i].append((o, d, stop - start))
    results = []
    for parts, (axis, path) in zip(pieces, placements):
        if all(d is None for _, d, _ in parts):       # shared by every example: broadcast once
            results.append(place(parts[0][0], None, axis, size, path))
        else:
            placed = [place(o, d, axis, n, path) for o, d, n in parts]
            results.append(concat(placed, axis % len(shape_of(placed[0]))))
    return results
