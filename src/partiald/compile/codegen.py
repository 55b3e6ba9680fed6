"""Generate straight-line NumPy code from a Graph.

This is the one place in partiald that executes generated source, and the
source never contains user text: variables are named ``_a<i>`` (inputs),
``_v<i>`` (intermediates) and ``_c<i>`` (constants), primitives ``_p<i>``;
only finite float and int literals are written inline (as ``repr`` of a
Python number). Constant subexpressions are folded before generation, and a
value used several times is computed once.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ..core.graph import Graph, Lit

# Templates for the common primitives: plain NumPy calls, no dispatch.
_TEMPLATES = {
    "add": "_np.add({0}, {1})", "sub": "_np.subtract({0}, {1})", "mul": "_np.multiply({0}, {1})",
    "div": "_np.true_divide({0}, {1})", "neg": "_np.negative({0})", "exp": "_np.exp({0})",
    "log": "_np.log({0})", "log1p": "_np.log1p({0})", "expm1": "_np.expm1({0})", "sin": "_np.sin({0})",
    "cos": "_np.cos({0})", "tan": "_np.tan({0})", "tanh": "_np.tanh({0})", "sinh": "_np.sinh({0})",
    "cosh": "_np.cosh({0})", "arcsin": "_np.arcsin({0})", "arccos": "_np.arccos({0})",
    "arctan": "_np.arctan({0})", "sqrt": "_np.sqrt({0})", "abs": "_np.abs({0})", "sign": "_np.sign({0})",
    "maximum": "_np.maximum({0}, {1})", "minimum": "_np.minimum({0}, {1})", "pow": "_np.power({0}, {1})",
    "select": "_np.where({0}, {1}, {2})", "logaddexp": "_np.logaddexp({0}, {1})",
    "arctan2": "_np.arctan2({0}, {1})",
}
_counter = itertools.count()


def _literal(v):
    if type(v) is bool:
        return repr(v)
    if type(v) is np.float64:
        v = float(v)
    if type(v) in (int, float) and np.isfinite(v):
        return repr(v)
    return None


def graph_to_source(graph: Graph, name="_generated"):
    """Python source for ``graph`` and the namespace it needs."""
    ns = {"_np": np}
    names = {}
    for i, v in enumerate(graph.invars):
        names[v] = f"_a{i}"
    for i, (v, c) in enumerate(zip(graph.constvars, graph.consts)):
        names[v] = f"_k{i}"
        ns[f"_k{i}"] = c
    consts = itertools.count()

    def ref(x):
        if isinstance(x, Lit):
            lit = _literal(x.val)
            if lit is not None:
                return lit if not lit.startswith("-") else f"({lit})"
            k = f"_c{next(consts)}"
            ns[k] = x.val
            return k
        return names[x]

    lines = [f"def {name}(" + ", ".join(names[v] for v in graph.invars) + "):"]
    prims = {}
    for i, eqn in enumerate(graph.eqns):
        out = f"_v{i}"
        names[eqn.outvar] = out
        args = [ref(x) for x in eqn.inputs]
        tmpl = _TEMPLATES.get(eqn.prim.name) if not eqn.params else None
        if tmpl is not None:
            rhs = tmpl.format(*args)
        else:
            key = (eqn.prim.name, tuple(sorted((k, repr(v)) for k, v in eqn.params.items())))
            p = prims.get(key)
            if p is None:
                p = f"_p{len(prims)}"
                prims[key] = p
                ns[p] = functools.partial(eqn.prim.impl, **eqn.params) if eqn.params else eqn.prim.impl
            rhs = f"{p}(" + ", ".join(args) + ")"
        lines.append(f"    {out} = {rhs}")
    outs = [ref(o) if o is not None else "0.0" for o in graph.outvars]
    lines.append("    return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")
    return "\n".join(lines) + "\n", ns


def compile_graph(graph: Graph):
    """A Python function evaluating ``graph`` with generated NumPy code.

    Returns a function of the graph's inputs giving the tuple of its outputs.
    """
    name = f"_generated_{next(_counter)}"
    source, ns = graph_to_source(graph, name)
    exec(source, ns)   # the one exec in partiald: generated source, internal names only
    fn = ns[name]
    fn.source = source
    return fn
