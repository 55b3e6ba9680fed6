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

from ..core.graph import Graph, Lit, Var
from ..core.primitive import REGISTRY
from . import native, tiling

# The common primitives as NumPy ufuncs: plain calls, no dispatch, and an output
# buffer can be passed (as ``out=``: NumPy 2.4 deprecates a positional one) so that
# a dying intermediate is reused.
_UFUNCS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide", "neg": "negative",
    "exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sin": "sin", "cos": "cos",
    "tan": "tan", "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "arcsin": "arcsin",
    "arccos": "arccos", "arctan": "arctan", "sqrt": "sqrt", "abs": "abs", "sign": "sign",
    "maximum": "maximum", "minimum": "minimum", "pow": "power", "logaddexp": "logaddexp",
    "arctan2": "arctan2", "rem": "remainder", "floor_divide": "floor_divide",
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


def _basic_index(spec):
    """Source text of a NumPy basic index for a gather/scatter spec without index
    arrays, or None."""
    parts = []
    for e in spec:
        if e[0] == "int":
            parts.append(repr(int(e[1])))
        elif e[0] == "slice":
            lo, hi, step = ("" if v is None else repr(int(v)) for v in e[1:])
            parts.append(f"{lo}:{hi}" + (f":{step}" if step else ""))
        elif e[0] == "none":
            parts.append("None")
        else:
            return None
    return ", ".join(parts) + ("," if len(parts) == 1 else "") if parts else "()"


def _complement(spec, shape):
    """Basic indices (source text) covering exactly the elements of an array of
    ``shape`` that a box of unit-step slices ``spec`` does not reach, or None if the
    spec is not such a box."""
    if any(e[0] != "slice" or e[3] not in (None, 1) for e in spec) or len(spec) > len(shape):
        return None
    box = [slice(e[1], e[2]).indices(d)[:2] for e, d in zip(spec, shape)]
    box = [(lo, max(lo, hi)) for lo, hi in box]
    out = []
    for d, (lo, hi) in enumerate(box):
        inner = [f"{a}:{b}" for a, b in box[:d]]
        if lo > 0:
            out.append(", ".join(inner + [f":{lo}"]) + ",")
        if hi < shape[d]:
            out.append(", ".join(inner + [f"{hi}:"]) + ",")
    return out


class _Plan:
    """What the generator knows about the program's buffers before writing a line.

    * ``uses``: the equations reading each variable (an output is read "at the end").
    * deferred ``scatter_add`` equations: ``add(o, scatter_add(k))`` with its only use
      in that ``add`` is written as ``o[idx] += k`` (no zero-filled array, no extra add).
    * views: slicing, reshape and transpose of an intermediate are NumPy views; a
      buffer is not overwritten while a view of it may still be read.
    """

    def __init__(self, graph):
        eqns = graph.eqns
        self.end = len(eqns)
        uses: dict = {}
        for i, eqn in enumerate(eqns):
            for x in eqn.inputs:
                if not isinstance(x, Lit):
                    uses.setdefault(x, []).append(i)
        for o in graph.outvars:
            if o is not None and not isinstance(o, Lit):
                uses.setdefault(o, []).append(self.end)
        self.deferred = {}                      # scatter index -> add index
        for i, eqn in enumerate(eqns):
            if eqn.prim.name != "scatter_add" or len(eqn.inputs) != 1 or not eqn.outvar.aval.shape:
                continue
            if _basic_index(eqn.params["spec"]) is None or len(uses.get(eqn.outvar, ())) != 1:
                continue
            j = uses[eqn.outvar][0]
            if j == self.end or eqns[j].prim.name != "add" or eqns[j].inputs[0] is eqns[j].inputs[1]:
                continue
            a, b = eqns[j].inputs
            other = b if a is eqn.outvar else a
            if isinstance(other, Lit) or other.aval != eqn.outvar.aval or other.aval != eqns[j].outvar.aval:
                continue
            if any(other is eqns[k].outvar for k in self.deferred):
                continue
            self.deferred[i] = j
            k = eqn.inputs[0]
            if not isinstance(k, Lit):
                uses[k] = [j if u == i else u for u in uses[k]]
        self.uses = uses
        # views and the buffer each one reads
        self.root: dict = {}
        for eqn in eqns:
            x = eqn.inputs[0] if eqn.inputs else None
            if isinstance(x, Lit) or x is None or not x.aval.shape:
                continue
            name = eqn.prim.name
            if name in ("reshape", "transpose") or (
                    name == "gather" and len(eqn.inputs) == 1 and _basic_index(eqn.params["spec"])):
                self.root[eqn.outvar] = self.root.get(x, x)
        self.last: dict = {}
        for v, us in uses.items():
            r = self.root.get(v, v)
            self.last[r] = max(self.last.get(r, -1), max(us))

    def dies_at(self, v, i, owned):
        """``v`` is a buffer this code allocated (or a view of one), and nothing reads
        that buffer or any view of it after equation ``i``: ``v`` may be overwritten."""
        r = self.root.get(v, v)
        return r in owned and self.last.get(r, -1) == i

    def single_use(self, v):
        us = self.uses.get(v, ())
        return us[0] if len(us) == 1 else None


def _input_names(graph, ns):
    """Source names of the graph's inputs (``_a<i>``) and constants (``_k<i>``, whose
    values go into the namespace ``ns``)."""
    names = {v: f"_a{i}" for i, v in enumerate(graph.invars)}
    for i, (v, c) in enumerate(zip(graph.constvars, graph.consts)):
        names[v] = f"_k{i}"
        ns[f"_k{i}"] = c
    return names


def graph_to_source(graph: Graph, name="_generated", tile=True, internal=False):
    """Python source for ``graph`` and the namespace it needs.

    Elementwise operations write into a dying intermediate of the same shape and
    dtype (never into an input, a constant, an output or a buffer a live view
    reads); slices of intermediates are views; a gradient's ``scatter_add`` into
    zeros accumulates in place; long elementwise chains run tile by tile
    (``tiling.py``). ``internal``: the outputs feed other generated code, so a view
    is returned as is.
    """
    if tile and native.enabled():
        region = tiling.find_region(graph, tile_min=min(tiling.TILE_MIN, native.NATIVE_MIN), fused=True)
        res = _native_source(graph, region, name) if region is not None else None
        if res is not None:
            return res
    region = tiling.find_region(graph) if tile else None
    if region is not None:
        return _tiled_source(graph, region, name)
    ns = {"_np": np}
    names = _input_names(graph, ns)
    consts = itertools.count()
    plan = _Plan(graph)
    into = {j: k for k, j in plan.deferred.items()}
    owned = set()             # intermediates whose buffer this code allocated
    done = set()              # equations already written by an earlier line

    def ref(x):
        if isinstance(x, Lit):
            lit = _literal(x.val)
            if lit is not None:
                return lit if not lit.startswith("-") else f"({lit})"
            k = f"_c{next(consts)}"
            ns[k] = x.val
            return k
        return names[x]

    def dtype(aval):
        key = f"_d_{np.dtype(aval.dtype).str.replace('<', 'l').replace('>', 'b').replace('|', 'n')}"
        ns[key] = np.dtype(aval.dtype)
        return key

    def zeros_outside(buf, spec, aval):
        """``buf = empty`` with zeros wherever ``buf[spec]`` does not write, else None."""
        comp = _complement(spec, aval.shape)
        if comp is None:
            return None
        return [f"    {buf} = _np.empty({tuple(aval.shape)!r}, {dtype(aval)})"] + \
            [f"    {buf}[{c}] = 0" for c in comp]

    lines = [f"def {name}(" + ", ".join(names[v] for v in graph.invars) + "):"]
    prims = {}
    eqns = graph.eqns
    # an intermediate is released right after its last read (peak memory, checkpoint)
    dying: dict = {}
    for v, us in plan.uses.items():
        if isinstance(v, Var) and v not in graph.invars and v not in graph.constvars and max(us) < plan.end:
            dying.setdefault(max(us), []).append(v)
    assigned, scanned = set(), 0
    for i, eqn in enumerate(eqns):
        if i and dying.get(i - 1):
            for ln in lines[scanned:]:
                target = ln[4:].split(" = ", 1)[0]
                if ln.startswith("    _v") and target.isidentifier():
                    assigned.add(target)
            scanned = len(lines)
            gone = [names[v] for v in dying[i - 1] if names.get(v) in assigned]
            if gone:
                lines.append("    del " + ", ".join(gone))
        out = f"_v{i}"
        names[eqn.outvar] = out
        if i in done:
            continue
        pname = eqn.prim.name
        if i in plan.deferred:
            continue                     # written by the add that consumes it
        args = [ref(x) for x in eqn.inputs]
        aval = eqn.outvar.aval
        if i in into:
            sc = eqns[into[i]]
            other = eqn.inputs[1] if eqn.inputs[0] is sc.outvar else eqn.inputs[0]
            idx = _basic_index(sc.params["spec"])
            if plan.dies_at(other, i, owned):
                lines.append(f"    {out} = {names[other]}")
            else:
                lines.append(f"    {out} = _np.array({names[other]})")
            lines.append(f"    {out}[{idx}] += {ref(sc.inputs[0])}")
            owned.add(eqn.outvar)
            continue
        ufunc = _UFUNCS.get(pname) if not eqn.params else None
        if pname == "integer_pow" and eqn.params["n"] == 2:
            ufunc, args = "multiply", [args[0], args[0]]
        if pname == "safe_mul" and aval.shape:
            ns["_smul_arrays"] = REGISTRY["safe_mul"].impl
            ufunc = "safe_mul"
        if ufunc is not None:
            call = (f"_np.{ufunc}(" if ufunc != "safe_mul" else "_smul_arrays(") + ", ".join(args)
            if not aval.shape:
                lines.append(f"    {out} = {call})")
                continue
            j = plan.single_use(eqn.outvar)
            target = eqns[j] if j is not None and j < plan.end else None
            if target is not None and target.prim.name == "scatter_add" and j not in plan.deferred \
                    and len(target.inputs) == 1:
                # computed straight into the slice of the gradient buffer it is scattered to
                pre = zeros_outside(f"_v{j}", target.params["spec"], target.outvar.aval)
                if pre is not None:
                    lines += pre
                    lines.append(f"    {out} = {call}, out=_v{j}[{_basic_index(target.params['spec'])}])")
                    done.add(j)
                    owned.add(target.outvar)
                    continue
            # (safe_mul repairs a NaN from its inputs, so it never overwrites one)
            reuse = next((x for x in eqn.inputs if isinstance(x, Var) and x.aval == aval
                          and plan.dies_at(x, i, owned)), None) if ufunc != "safe_mul" else None
            lines.append(f"    {out} = {call}" + (f", out={names[reuse]})" if reuse is not None else ")"))
            owned.add(eqn.outvar)
            continue
        if eqn.outvar in plan.root:
            idx = _basic_index(eqn.params["spec"]) if pname == "gather" else None
            if pname == "gather":
                lines.append(f"    {out} = {args[0]}[{idx}]")
            elif pname == "reshape":
                lines.append(f"    {out} = _np.reshape({args[0]}, {tuple(eqn.params['shape'])!r})")
            else:
                lines.append(f"    {out} = _np.transpose({args[0]}, {tuple(eqn.params['perm'])!r})")
            continue
        if pname == "scatter_add" and len(eqn.inputs) == 1:
            pre = zeros_outside(out, eqn.params["spec"], aval)
            if pre is not None:
                lines += pre
                lines.append(f"    {out}[{_basic_index(eqn.params['spec'])}] = {args[0]}")
                owned.add(eqn.outvar)
                continue
        if pname == "select" and isinstance(eqn.inputs[1], Lit) and isinstance(eqn.inputs[2], Var) \
                and eqn.inputs[2].aval == aval and plan.dies_at(eqn.inputs[2], i, owned) \
                and _literal(eqn.inputs[1].val) and np.dtype(aval.dtype).kind in "fc":
            # where(c, constant, a) with a dying: overwrite a where c holds
            lines.append(f"    {out} = {args[2]}")
            copy = f"_np.copyto({out}, {args[1]}, casting='same_kind', where={args[0]})"
            if isinstance(eqn.inputs[0], Var) and eqn.inputs[0].aval.shape:
                # a mask that holds nowhere (the usual case: a guard for a special value)
                # costs one read of the mask, not a masked pass over the result
                copy = f"if {args[0]}.any(): " + copy
            lines.append(f"    {copy}")
            owned.add(eqn.outvar)
            continue
        if pname == "select" and not eqn.params:
            rhs = "_np.where({0}, {1}, {2})".format(*args)
        else:
            key = (pname, tuple(sorted((k, repr(v)) for k, v in eqn.params.items())))
            p = prims.get(key)
            if p is None:
                p = f"_p{len(prims)}"
                prims[key] = p
                ns[p] = functools.partial(eqn.prim.impl, **eqn.params) if eqn.params else eqn.prim.impl
            rhs = f"{p}(" + ", ".join(args) + ")"
        lines.append(f"    {out} = {rhs}")
    outs = []
    for o in graph.outvars:
        if o is None:
            outs.append("0.0")
        elif o in plan.root and not internal:
            outs.append(f"_np.array({ref(o)})")     # a view: results never alias
        else:
            outs.append(ref(o))
    lines.append("    return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")
    return "\n".join(lines) + "\n", ns


def _compiled(graph, name, internal=True):
    source, ns = graph_to_source(graph, name, tile=False, internal=internal)
    _run(source, ns)
    return ns[name], source


def _fresh(a):
    return np.array(a) if isinstance(a, np.ndarray) and a.base is not None else a


def _around(graph, r, name, ns):
    """The generated ``pre`` and ``post`` parts around a region (tiling.split): the
    function's first lines, its names for the values ``pre`` passes on, and a
    function giving its last lines (``post`` of the loop's outputs)."""
    pre, tile, post, needed = tiling.split(graph, r)
    pre_fn, pre_src = _compiled(pre, name + "_pre")
    post_fn, post_src = _compiled(post, name + "_post", internal=False)
    ns.update({"_np": np, "_pre": pre_fn, "_post": post_fn})
    names = _input_names(graph, ns)
    for i, v in enumerate(needed):
        names[v] = f"_q[{i}]"
    args = ", ".join(names[v] for v in graph.invars)
    lines = [f"def {name}({args}):", f"    _q = _pre({args})"]

    def finish(loop_outs):
        out = ["    _r = _post(" + ", ".join([names[v] for v in graph.invars]
                                            + [names[v] for v in needed] + loop_outs) + ")"]
        # a value of ``pre`` returned as is may be a view of an input: results never alias
        passed = [k for k, o in enumerate(graph.outvars) if isinstance(o, Var) and o in needed]
        if passed:
            ns["_fresh"] = _fresh
            outs = [f"_fresh(_r[{k}])" if k in passed else f"_r[{k}]" for k in range(len(graph.outvars))]
            out.append("    return (" + ", ".join(outs) + ("," if len(outs) == 1 else "") + ")")
        else:
            out.append("    return _r")
        return out
    return tile, names, lines, finish, [("pre", pre_src), ("post", post_src)]


def _comment(parts):
    return "".join(f"# {label}:\n" + "".join(f"#   {ln}\n" for ln in src.splitlines()) for label, src in parts)


def _tiled_source(graph: Graph, r, name):
    """The program as ``pre``, a loop over row tiles running the region's code, and
    ``post`` (see tiling.py); each part is generated code of its own."""
    ns = {"_min": min, "_max": max, "_range": range}
    tile, names, lines, finish, parts = _around(graph, r, name, ns)
    tile_fn, tile_src = _compiled(tile, name + "_tile")
    ns["_tile"] = tile_fn
    for i, v in enumerate(r.kept):
        names[v] = f"_m{i}"
        ns[f"_d{i}"] = np.dtype(v.aval.dtype)
        lines.append(f"    _m{i} = _np.empty({tuple(v.aval.shape)!r}, _d{i})")
    L, T = r.length, r.rows
    offs = [off for _, off in r.chain]
    if r.chain:
        ns["_dacc"] = np.dtype(r.root.aval.dtype)
        lines.append(f"    _acc = _np.zeros({tuple(r.root.aval.shape)!r}, _dacc)")
        lines.append(f"    for _s in _range(0, {r.extent}, {T}):")
        lines.append(f"        _e = _min(_s + {T}, {r.extent})")
        lines.append(f"        _r0 = _max(_s - {max(offs)}, 0)")
        lines.append(f"        _r1 = _min(_e - {min(offs)}, {L})")
        lines.append("        if _r0 >= _r1:")
        lines.append("            continue")
    else:
        lines.append(f"    for _r0 in _range(0, {L}, {T}):")
        lines.append(f"        _r1 = _min(_r0 + {T}, {L})")
    args = [f"{names[v]}[_r0:_r1]" if v in r.sliced else names[v] for v in r.inputs]
    lines.append("        _o = _tile(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")")
    for i in range(len(r.kept)):
        lines.append(f"        _m{i}[_r0:_r1] = _o[{i}]")
    for j, off in enumerate(offs):
        # buffer rows [lo, hi) take the region's rows [lo - off, hi - off)
        k = len(r.kept) + j
        lines.append(f"        _lo = _max(_s, {off})")
        lines.append(f"        _hi = _min(_e, {off + L})")
        lines.append("        if _lo < _hi:")
        lines.append(f"            _acc[_lo:_hi] += _o[{k}][_lo - {off} - _r0:_hi - {off} - _r0]")
    lines += finish([f"_m{i}" for i in range(len(r.kept))] + (["_acc"] if r.chain else []))
    parts.insert(1, ("tile", tile_src))
    return _comment(parts) + "\n".join(lines) + "\n", ns


def _c_array(x, dtype):
    return np.ascontiguousarray(x, dtype)


def _c_scalar(x):
    return np.asarray(x).reshape(()).item()


def _native_source(graph: Graph, r, name):
    """The program as ``pre``, one call of a fused C loop over the region
    (native.py), and ``post``; None if the region has no exact C form or no
    compiler works."""
    kernel = native.plan(r, "pd")
    fns = native.function(kernel) if kernel is not None else None
    if fns is None:
        return None
    ns = {"_kkept": fns[0], "_kacc": fns[1], "_arr": _c_array, "_one": _c_scalar, "_run": native.run}
    _, names, lines, finish, parts = _around(graph, r, name, ns)
    ptrs = []
    for i, v in enumerate(kernel.arrays):
        ns[f"_t{i}"] = np.dtype(v.aval.dtype)
        lines.append(f"    _x{i} = _arr({names[v]}, _t{i})")
        ptrs.append(f"_x{i}.ctypes.data")
    outs = list(r.kept) + ([r.root] if r.chain else [])
    for i, v in enumerate(outs):
        ns[f"_d{i}"] = np.dtype(v.aval.dtype)
        lines.append(f"    _m{i} = _np.empty({tuple(v.aval.shape)!r}, _d{i})")
        ptrs.append(f"_m{i}.ctypes.data")
    ptrs += [f"_one({names[v]})" for v in kernel.scalars]
    if r.kept:
        lines.append(f"    _run(_kkept, {kernel.kept_total}, " + ", ".join(ptrs) + f", unit={kernel.unit})")
    if r.chain:
        lines.append(f"    _run(_kacc, {r.extent * kernel.rows}, " + ", ".join(ptrs) + ")")
    lines += finish([f"_m{i}" for i in range(len(outs))])
    parts.insert(1, ("native", kernel.source))
    return _comment(parts) + "\n".join(lines) + "\n", ns


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
    if name == "integer_pow" and eqn.params["n"] == 2:
        return f"({args[0]} * {args[0]})"             # as NumPy's integer_pow: one rounding
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


#: the module generated code runs as (its ``__name__``) and the file name of its code:
#: a warning raised from generated code is attributed to ``partiald._generated``, so a
#: filter on module ``partiald`` (pytest's ``filterwarnings``) catches it
GENERATED_MODULE = "partiald._generated"
GENERATED_FILE = "<partiald generated>"


def _run(source, namespace):
    namespace["__name__"] = GENERATED_MODULE
    code = compile(source, GENERATED_FILE, "exec")
    exec(code, namespace)   # the one exec in partiald: generated source, internal names only


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
