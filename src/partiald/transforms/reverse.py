"""Reverse mode as linearize + transpose.

``linearize`` runs the JVP rules with abstract tangents: the work that needs
only primal values is done at once (at the level below), and the work on
tangents is recorded as a linear Graph. ``transpose_eval`` runs that linear
Graph backwards with each linear primitive's transpose rule. No primitive
needs a VJP rule of its own, and because the transposed program is again made
of primitives, it can be differentiated again (any order). A repeated eager
call reuses the backward program of its trace's structure (compile/staged.py).
"""
from __future__ import annotations

import numpy as np

from ..core import debug as _debug
from ..core.graph import Graph, Lit
from ..core.primitive import UndefinedPrimal, bind
from ..core.trace import Builder
from ..ops.elementwise import add_p
from .forward import is_float, jvp_graph_eval, match_dtype
from .simplify import cse, dce


def linearize_graph(graph: Graph, values: dict) -> Graph:
    """The linear map ``input tangents -> output tangents`` of ``graph`` at ``values``."""
    graph = dce(cse(graph))    # a value computed twice gets one cotangent; what no output
    #                            needs is not differentiated
    lin = Builder("linearize")
    tangents = [lin.new_arg(v.aval) if is_float(v.aval) else None for v in graph.invars]
    t_out = jvp_graph_eval(graph, values, tangents)
    invars = [t._var if t is not None else None for t in tangents]
    g = lin.finish([v for v in invars if v is not None], t_out)
    g.in_mask = [v is not None for v in invars]
    return g


def _add(a, b):
    return bind(add_p, a, b)


def transpose_eval(lin: Graph, cts: list) -> list:
    """Cotangents of a linear Graph's inputs, given its outputs' cotangents
    (``None`` = zero). Returns ``None`` for inputs that get no cotangent."""
    with np.errstate(all="ignore"):
        return _transpose_eval(lin, cts)


def _transpose_eval(lin, cts):
    env = dict(zip(lin.constvars, lin.consts))
    ct: dict = {}
    linear_vars = set(lin.invars)
    for eqn in lin.eqns:
        if any(not isinstance(x, Lit) and x in linear_vars for x in eqn.inputs):
            linear_vars.add(eqn.outvar)
    for o, c in zip(lin.outvars, cts):
        if c is not None and o is not None and not isinstance(o, Lit) and o in linear_vars:
            ct[o] = _add(ct[o], c) if o in ct else c

    for eqn in reversed(lin.eqns):
        c = ct.pop(eqn.outvar, None)
        if c is None:
            continue
        args = []
        for x in eqn.inputs:
            if isinstance(x, Lit):
                args.append(x.val)
            elif x in linear_vars:
                args.append(UndefinedPrimal(x.aval))
            else:
                args.append(env[x])
        prim = eqn.prim
        if prim.transpose is None:
            raise NotImplementedError(f"internal error: '{prim.name}' in a linear program has no transpose rule")
        if _debug.STATE[0]:       # some context debugs NaNs: suspend its checks in the rule
            tok = _debug.suspend()
            try:
                in_cts = prim.transpose(c, *args, **eqn.params)
            finally:
                _debug.resume(tok)
        else:
            in_cts = prim.transpose(c, *args, **eqn.params)
        if _debug.STATE[0] and _debug.enabled():
            for ic in in_cts:
                if ic is not None and not hasattr(ic, "_builder"):
                    _debug.check_rule(ic, [c], f"the backward pass (transpose of '{prim.name}')", eqn.info)
        for x, a, ic in zip(eqn.inputs, args, in_cts):
            if ic is not None and isinstance(a, UndefinedPrimal):
                ic = match_dtype(ic, a.aval.dtype)
                ct[x] = _add(ct[x], ic) if x in ct else ic
    return [ct.get(v) for v in lin.invars]
