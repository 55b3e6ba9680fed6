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


# Scalar code: Python floats and the math module, for graphs of 0-d float64 values.
# IEEE arithmetic (+ - * /) on Python floats is identical to NumPy's; anything that
# would raise in Python (1/0, math.log(-1), overflow) falls back to the NumPy code.
_SCALAR = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
    "neg": "(-{0})", "exp": "_m.exp({0})", "log": "_m.log({0})", "log1p": "_m.log1p({0})",
    "expm1": "_m.expm1({0})", "sin": "_m.sin({0})", "cos": "_m.cos({0})", "tan": "_m.tan({0})",
    "tanh": "_m.tanh({0})", "sinh": "_m.sinh({0})", "cosh": "_m.cosh({0})", "arcsin": "_m.asin({0})",
    "arccos": "_m.acos({0})", "arctan": "_m.atan({0})", "sqrt": "_m.sqrt({0})", "abs": "abs({0})",
    "safe_mul": "_smul({0}, {1})", "select": "({1} if {0} else {2})",
}
_SCALAR_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def _smul(a, b):
    r = a * b
    return 0.0 if r != r and (a == 0 or b == 0) else r


def _scalar_rhs(eqn, args):
    name = eqn.prim.name
    if name in _SCALAR:
        return _SCALAR[name].format(*args)
    if name == "integer_pow" and eqn.params["n"] >= 0:
        return f"({args[0]} ** {eqn.params['n']})"
    if name == "compare":
        return f"({args[0]} {_SCALAR_CMP[eqn.params['op']]} {args[1]})"
    if name in ("maximum", "minimum"):
        op = ">" if name == "maximum" else "<"
        return f"({args[0]} if {args[0]} {op} {args[1]} else {args[1]})"
    return None


def scalar_source(graph: Graph, name, fallback):
    """Source of a Python-float version of ``graph``, or None if some equation has no
    scalar form or some value is not a 0-d float64."""
    import math
    ns = {"_m": math, "_smul": _smul, "_fallback": fallback}
    names = {v: f"_a{i}" for i, v in enumerate(graph.invars)}
    if graph.constvars:
        return None, None
    for v in graph.invars:
        if v.aval.shape != () or v.aval.dtype != np.float64:
            return None, None
    lines = []
    for i, eqn in enumerate(graph.eqns):
        if eqn.outvar.aval.shape != () or eqn.outvar.aval.dtype.kind not in "fb":
            return None, None
        args = []
        for x in eqn.inputs:
            if isinstance(x, Lit):
                lit = _literal(x.val)
                if lit is None or np.ndim(x.val):
                    return None, None
                args.append(lit if not lit.startswith("-") else f"({lit})")
            else:
                args.append(names[x])
        rhs = _scalar_rhs(eqn, args)
        if rhs is None:
            return None, None
        names[eqn.outvar] = f"_v{i}"
        lines.append(f"        _v{i} = {rhs}")
    params = ", ".join(names[v] for v in graph.invars)
    outs = []
    for o in graph.outvars:
        if o is None:
            outs.append("0.0")
        elif isinstance(o, Lit):
            lit = _literal(o.val)
            if lit is None:
                return None, None
            outs.append(f"float({lit})")
        else:
            outs.append(names[o])
    src = [f"def {name}({params}):", "    try:"] + lines + [
        "        return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")",
        "    except (ArithmeticError, ValueError):",
        f"        return _fallback({params})"]
    return "\n".join(src) + "\n", ns


def _run(source, namespace):
    exec(source, namespace)   # the one exec in partiald: generated source, internal names only


def compile_graph(graph: Graph):
    """A Python function evaluating ``graph`` with generated NumPy code.

    Returns a function of the graph's inputs giving the tuple of its outputs.
    """
    name = f"_generated_{next(_counter)}"
    source, ns = graph_to_source(graph, name)
    _run(source, ns)
    fn = ns[name]
    fn.source = source
    fn.scalar = None
    def fallback(*args):
        return tuple(float(o) if np.ndim(o) == 0 and np.result_type(o) == np.float64 else o for o in fn(*args))
    ssrc, sns = scalar_source(graph, name + "_scalar", fallback)
    if ssrc is not None:
        _run(ssrc, sns)
        fn.scalar = sns[name + "_scalar"]
        fn.scalar.source = ssrc
    return fn
