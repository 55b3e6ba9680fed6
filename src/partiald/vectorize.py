"""``vmap``: vectorize a function over a batch axis.

``vmap(f)`` traces ``f`` once, abstractly, on the shapes of one example, then
evaluates the traced Graph on the whole batch with the batching rules of
partiald.transforms.batching. Because the batched evaluation only ``bind``\\ s
primitives, it composes with every other transformation in both orders:
``vmap(grad(f))`` gives per-example gradients, ``grad`` of a function that
calls ``vmap`` differentiates through it, and ``vmap`` nests.

The batched Jacobian helpers built on the same batching rules
(``batched_linear_apply``, ``batched_transpose``, ``jacobian_blocks``) are in
partiald.transforms.jacobian.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from .core.graph import ShapedArray
from .core.pytree import tree_flatten, tree_unflatten
from .core.trace import Builder, Tracer
from .ops.common import shape_of
from .core.results import unaliased
from .transforms.chunked import run_chunked


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
        results = run_chunked(graph, mapped, size, chunk_size, placements)
        return tree_unflatten(out_tree, unaliased(results, leaves))
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
