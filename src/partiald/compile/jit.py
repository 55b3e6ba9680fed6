"""``jit``: trace once per input signature, run generated straight-line NumPy code."""
from __future__ import annotations

import functools

import numpy as np

from ..core.results import finalize
from ..core.debug import STATE as _DEBUG
from ..core.debug import enabled as _debug_enabled
from ..core.graph import ShapedArray
from ..core.interpret import interpret
from ..core.pytree import tree_flatten, tree_unflatten
from ..core.trace import Builder, Tracer
from ..transforms.simplify import simplify
from .codegen import compile_graph


def _leaf_signature(x):
    if isinstance(x, Tracer):
        return ("T", x.shape, x.dtype.str)
    if isinstance(x, np.ndarray):
        return ("A", x.shape, x.dtype.str)
    if isinstance(x, float):
        return ("f",)
    if isinstance(x, bool):
        return ("b", x)
    if isinstance(x, int):
        return ("i",)
    if isinstance(x, np.generic):
        return ("A", (), x.dtype.str)
    raise TypeError(f"jit: argument of type {type(x).__name__} is not an array or number; "
                    "pass it through static_argnums if it is a constant")


def _aval(x):
    if isinstance(x, (Tracer, np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), x.dtype)
    if isinstance(x, bool):
        return ShapedArray((), np.bool_)
    if isinstance(x, int):
        return ShapedArray((), np.int64)
    return ShapedArray((), np.float64)


class _Compiled:
    __slots__ = ("graph", "fn", "out_tree", "n_out")

    def __init__(self, graph, out_tree):
        self.graph = graph
        self.fn = compile_graph(graph)
        self.out_tree = out_tree
        self.n_out = len(graph.outvars)


def jit(f, static_argnums=()):
    """Compile ``f``: trace it once per input signature (pytree structure, shapes,
    dtypes, static argument values) and run generated NumPy code afterwards.

    Under ``jit`` only shapes and dtypes are known while tracing, so Python control
    flow on values raises an error that names ``pnp.where``. Transformations of a
    jitted function (``grad(jit(f))``) and jitted transformations (``jit(grad(f))``)
    both work.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> g = pdx.jit(pdx.grad(lambda x: pnp.sum(pnp.sin(x) ** 2)))
      >>> float(g(np.array([0.5, 1.0]))[0])
      0.8414709848078965
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    cache: dict = {}
    scalar_cache: dict = {}

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        if _DEBUG[0] and not kwargs and _debug_enabled():
            # under debug_nans, f runs operation by operation, so that the first one
            # making a NaN/inf is named with its line (compiled code has no such checks)
            return f(*args)
        # fast path: only Python floats in, a program with a Python-float version
        fast = scalar_cache.get(len(args))
        if fast is not None and not kwargs:
            for a in args:
                if type(a) is not float:
                    break
            else:
                return fast(*args)
        if kwargs:
            raise TypeError("jit-compiled functions take positional arguments only "
                            "(bind keyword arguments with functools.partial before jit)")
        nargs = len(args)
        for i in static:
            if not -nargs <= i < nargs:
                raise ValueError(f"jit: static_argnums={static_argnums!r} but the function got {nargs} arguments")
        static_set = {i % nargs for i in static}
        dyn = tuple(a for i, a in enumerate(args) if i not in static_set)
        static_vals = tuple((i, args[i]) for i in sorted(static_set))
        leaves, treedef = tree_flatten(dyn)
        try:
            key = (treedef, tuple(_leaf_signature(x) for x in leaves), static_vals)
            hash(key)
        except TypeError as e:
            if "unhashable" in str(e):
                raise TypeError("jit: static arguments must be hashable (numbers, strings, tuples)") from None
            raise
        entry = cache.get(key)
        if entry is None:
            entry = cache[key] = _trace(f, args, static_set, leaves, treedef)
            if entry.fn.scalar is not None and not static_set and all(type(a) is float for a in args):
                scalar_cache[nargs] = _scalar_entry(entry)
        if any(isinstance(x, Tracer) for x in leaves):
            # inside another transformation: inline the program into its trace
            outs = interpret(entry.graph, *leaves)
        else:
            outs = [finalize(o) for o in entry.fn(*leaves)]
        return tree_unflatten(entry.out_tree, outs)

    wrapped.cache_size = lambda: len(cache)
    wrapped.lower = lambda *args: _lower(f, args, static)
    return wrapped


def _scalar_entry(entry):
    """A call path for Python-float arguments: the Python-float program, then the
    output structure."""
    fn, tree = entry.fn.scalar, entry.out_tree
    if tree.kind == "leaf":
        return lambda *a: fn(*a)[0]
    if tree.kind == "tuple" and all(c.kind == "leaf" for c in tree.children):
        return fn
    return lambda *a: tree_unflatten(tree, list(fn(*a)))


def _trace(f, args, static_set, leaves, treedef):
    b = Builder("jit")
    tracers = [b.new_arg(_aval(x)) for x in leaves]
    dyn = iter(tree_unflatten(treedef, tracers))
    full = [args[i] if i in static_set else next(dyn) for i in range(len(args))]
    out = f(*full)
    out_flat, out_tree = tree_flatten(out)
    graph = simplify(b.finish([t._var for t in tracers], out_flat))
    return _Compiled(graph, out_tree)


def _lower(f, args, static):
    """The simplified Graph and generated source ``jit`` would run for ``args``."""
    nargs = len(args)
    static_set = {i % nargs for i in ((static,) if isinstance(static, int) else static)}
    dyn = tuple(a for i, a in enumerate(args) if i not in static_set)
    leaves, treedef = tree_flatten(dyn)
    entry = _trace(f, args, static_set, leaves, treedef)
    return entry.graph, entry.fn.source
