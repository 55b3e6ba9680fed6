"""The reference interpreter: evaluate any Graph on values or tracers."""
from __future__ import annotations

from .graph import Graph, Lit
from .primitive import bind


def interpret(graph: Graph, *args, consts=None):
    """Evaluate ``graph`` on ``args`` (arrays, or tracers when nested); return its outputs.

    Every equation goes through ``bind``, so interpreting inside another
    transformation inlines the graph into that trace.
    """
    if len(args) != len(graph.invars):
        raise TypeError(f"graph takes {len(graph.invars)} inputs, got {len(args)}")
    env = dict(zip(graph.invars, args))
    env.update(zip(graph.constvars, graph.consts if consts is None else consts))

    def read(x):
        return x.val if isinstance(x, Lit) else env[x]

    for eqn in graph.eqns:
        env[eqn.outvar] = bind(eqn.prim, *[read(x) for x in eqn.inputs], **eqn.params)
    return [None if o is None else read(o) for o in graph.outvars]
