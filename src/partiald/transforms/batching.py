"""Batching (vmap): evaluate a Graph on inputs that carry an extra batch axis.

A batched value is a pair ``(x, d)``: an array (or tracer) ``x`` whose axis
``d`` indexes the batch, or ``d = None`` for a value shared by every example.
Each primitive's record names its batching rule (``prim.batch``, written in
ops/batch_rules.py), ``rule(args, dims, **params) -> (out, out_dim)``, which
computes the whole batch at once from its batched operands. A primitive whose
record has no rule is refused with :class:`BatchingRuleError`, never run as a
silent Python loop.

``batch_graph(graph, args, in_dims)`` runs a Graph this way; the ``vmap``
of partiald.vectorize traces a function once per example shape and calls it.
"""
from __future__ import annotations

from ..core.graph import Graph, Lit
from ..core.primitive import bind
from ..core.errors import BatchingRuleError
from ..ops.batch_rules import batch_size, insert_axis, loop_batch, moveaxis, to_front  # noqa: F401  (re-exported)


# -- graphs -----------------------------------------------------------------------------------------------

def batch_graph(graph: Graph, args, in_dims, consts=None):
    """Evaluate ``graph`` on batched inputs.

    Args:
      graph: any Graph.
      args: one value per ``graph.invars`` (arrays, or tracers when nested).
      in_dims: the batch axis of each argument, ``None`` for an argument shared by
        every example. Captured constants are unbatched.
      consts: values for ``graph.constvars`` (default ``graph.consts``).

    Returns:
      ``(outs, out_dims)``: one value per output with the axis holding the batch
      (``None`` for an output that does not depend on the batch, and for an
      output that is ``None`` in the Graph, a known zero).
    """
    if len(args) != len(graph.invars) or len(in_dims) != len(graph.invars):
        raise TypeError(f"batch_graph: graph takes {len(graph.invars)} inputs, got {len(args)} "
                        f"values and {len(in_dims)} batch axes")
    env = {v: (x, d) for v, x, d in zip(graph.invars, args, in_dims)}
    env.update((v, (c, None)) for v, c in zip(graph.constvars, graph.consts if consts is None else consts))
    last = _last_uses(graph)

    def read(x):
        return (x.val, None) if isinstance(x, Lit) else env[x]

    for i, eqn in enumerate(graph.eqns):
        vals, dims = zip(*[read(x) for x in eqn.inputs]) if eqn.inputs else ((), ())
        if all(d is None for d in dims):
            env[eqn.outvar] = (bind(eqn.prim, *vals, **eqn.params), None)
        else:
            rule = eqn.prim.batch
            if rule is None:
                raise BatchingRuleError(
                    f"vmap: primitive {eqn.prim.name!r} has no batching rule (its record's `batch` "
                    "field is empty). Fix: give the record a rule (ops/batch_rules.py has "
                    "elementwise, reduction and loop_rule), or call the function once per example.")
            env[eqn.outvar] = rule(list(vals), list(dims), **eqn.params)
        for x in eqn.inputs:            # free what no later equation needs (peak memory)
            if not isinstance(x, Lit) and last.get(x) == i:
                env.pop(x, None)
    outs = [(None, None) if o is None else read(o) for o in graph.outvars]
    return [o for o, _ in outs], [d for _, d in outs]


def _last_uses(graph):
    """Variable -> index of the last equation reading it (outputs are never freed)."""
    last = {}
    for i, eqn in enumerate(graph.eqns):
        for x in eqn.inputs:
            if not isinstance(x, Lit):
                last[x] = i
    for o in graph.outvars:
        if o is not None and not isinstance(o, Lit):
            last.pop(o, None)
    return last


def peak_bytes_per_example(graph: Graph) -> int:
    """An estimate of the memory one example adds while :func:`batch_graph` runs
    ``graph`` (the largest total of simultaneously live values, inputs included):
    ``budget // peak_bytes_per_example(graph)`` examples per chunk stay within a budget."""
    last = _last_uses(graph)
    nbytes = {v: v.aval.size * v.aval.dtype.itemsize for v in graph.invars}
    live = sum(nbytes.values())
    peak = live
    for i, eqn in enumerate(graph.eqns):
        a = eqn.outvar.aval
        nbytes[eqn.outvar] = a.size * a.dtype.itemsize
        live += nbytes[eqn.outvar]
        peak = max(peak, live)
        for x in set(eqn.inputs):
            if not isinstance(x, Lit) and last.get(x) == i:
                live -= nbytes.get(x, 0)
    return max(peak, 1)
