"""Forward mode: push tangents through a traced Graph with the JVP rules."""
from __future__ import annotations

import numpy as np

from ..core.graph import Graph, Lit
from ..core import debug as _debug
from ..core.primitive import bind


def is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def match_dtype(t, dtype):
    """A tangent or cotangent has its primal's dtype (float32 stays float32), whatever
    the constants inside a rule promoted it to."""
    dt = getattr(t, "dtype", None)
    if dt is None or dt == dtype:
        return t
    from ..ops.elementwise import convert_p
    return bind(convert_p, t, dtype=dtype)


def jvp_graph_eval(graph: Graph, values: dict, tangents: list, literal=None) -> list:
    """Tangents of ``graph``'s outputs, given primal ``values`` of every variable
    (as recorded while tracing) and input ``tangents`` (``None`` = zero).

    Tangents may be arrays (forward mode) or abstract tracers of a linear
    builder (linearization); rules only ``bind`` primitives, so both work, and
    the computations that involve only primal values run at the level below.
    ``literal`` converts the Graph's literal constants first (formulas use it to
    keep them exact).
    """
    # Derivative rules evaluate local derivatives that may be inf or NaN where a
    # zero (co)tangent later masks them; NumPy's warnings there would be noise.
    with np.errstate(all="ignore"):
        return _jvp_eval(graph, values, tangents, literal)


def _jvp_eval(graph, values, tangents, literal):
    tan = {v: t for v, t in zip(graph.invars, tangents) if t is not None}

    def val(x):
        if isinstance(x, Lit):
            return x.val if literal is None else literal(x.val)
        return values[x]

    for eqn in graph.eqns:
        ts = [None if isinstance(x, Lit) else tan.get(x) for x in eqn.inputs]
        if all(t is None for t in ts) or not is_float(eqn.outvar.aval):
            continue
        prim = eqn.prim
        if prim.jvp is None:
            raise NotImplementedError(
                f"primitive '{prim.name}' is not differentiable (no JVP rule); "
                "apply stop_gradient to its input if its derivative is not needed")
        debugging = _debug.STATE[0] and _debug.enabled()
        # the rule's internals may be inf/NaN where masked: checks suspended inside it
        tok = _debug.suspend() if _debug.STATE[0] else None
        lin = next((t._builder for t in ts if hasattr(t, "_builder")), None) if debugging else None
        start = len(lin.eqns) if lin is not None and hasattr(lin, "eqns") else None
        try:
            t_out = prim.jvp(ts, values[eqn.outvar], *[val(x) for x in eqn.inputs], **eqn.params)
        finally:
            if tok is not None:
                _debug.resume(tok)
        if start is not None:
            # the linear equations this rule made remember the forward operation
            for e in lin.eqns[start:]:
                e.info = f"the derivative rule of '{prim.name}', traced at {eqn.info or 'an unknown line'}"
        if t_out is not None:
            t_out = match_dtype(t_out, eqn.outvar.aval.dtype)
            if debugging and not hasattr(t_out, "_builder"):
                _debug.check_rule(t_out, ts, f"the forward-mode derivative of '{prim.name}'",
                                  f"the operation traced at {eqn.info}" if eqn.info else None)
            tan[eqn.outvar] = t_out
    return [None if o is None or isinstance(o, Lit) else tan.get(o) for o in graph.outvars]
