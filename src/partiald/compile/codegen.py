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
import math
from dataclasses import dataclass

import numpy as np

from ..core.graph import Graph, Lit, Var
from ..ops.common import NUMPY_IMPL
from . import native, tiling

# A primitive's ``numpy`` lowering names its NumPy ufunc: a plain call, no dispatch,
# and an output buffer can be passed (as ``out=``: NumPy 2.4 deprecates a positional
# one) so that a dying intermediate is reused.
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


# -- the plan: typed statements, and the one printer ----------------------------------
# The generator first builds a list of statements, then prints them. What a statement
# binds (``binds``) is known from the statement itself: which names exist at a point of
# the program (so may be deleted) is never read back from emitted text. Expressions are
# source text of a name or literal (``str``, or an ``int``), ``Item``, ``Apply`` or
# ``Tuple``; an index is the source text of a NumPy basic index (``_basic_index``).

@dataclass(frozen=True)
class Item:
    """``base[index]``."""
    base: object
    index: str


@dataclass(frozen=True)
class Apply:
    """``fn(*args, **kwargs)`` as an expression; ``kwargs`` are (name, expression) pairs."""
    fn: str
    args: tuple = ()
    kwargs: tuple = ()


@dataclass(frozen=True)
class Tuple:
    """``(a,)``, ``(a, b)``."""
    items: tuple


class Stmt:
    """A statement of generated code."""

    def binds(self):
        """The names this statement assigns."""
        return ()


@dataclass(frozen=True)
class Assign(Stmt):
    """``target = value``: an alias, a view (``Item``) or any expression."""
    target: str
    value: object

    def binds(self):
        return (self.target,)


@dataclass(frozen=True)
class Call(Stmt):
    """``target = fn(*args, **kwargs, out=out)``; no ``target``: the call's effect only.
    ``out`` is the buffer written (a dying intermediate, or a slice of one)."""
    target: str | None
    fn: str
    args: tuple = ()
    out: object = None
    kwargs: tuple = ()

    def binds(self):
        return () if self.target is None else (self.target,)


@dataclass(frozen=True)
class Store(Stmt):
    """``target[index] = value`` (``add``: ``+=``, a deferred scatter-add)."""
    target: str
    index: str
    value: object
    add: bool = False


@dataclass(frozen=True)
class Delete(Stmt):
    """``del names``: values released after their last read."""
    names: tuple


@dataclass(frozen=True)
class If(Stmt):
    test: object
    body: tuple

    def binds(self):
        return assigned(self.body)


@dataclass(frozen=True)
class For(Stmt):
    """``for var in iterable: body``."""
    var: str
    iterable: object
    body: tuple

    def binds(self):
        return (self.var,) + assigned(self.body)


@dataclass(frozen=True)
class Continue(Stmt):
    pass


@dataclass(frozen=True)
class Return(Stmt):
    value: object


@dataclass(frozen=True)
class Function(Stmt):
    """``def name(*params): body``."""
    name: str
    params: tuple
    body: tuple

    def binds(self):
        return (self.name,)


def assigned(stmts):
    """The names the statements (and the statements nested in them) assign, in order."""
    return tuple(n for s in stmts for n in s.binds())


def _expr(e):
    if isinstance(e, str):
        return e
    if isinstance(e, (int, np.integer)) and not isinstance(e, bool):
        return repr(int(e))
    if isinstance(e, Item):
        return f"{_expr(e.base)}[{e.index}]"
    if isinstance(e, Apply):
        return _call_text(e.fn, e.args, e.kwargs)
    if isinstance(e, Tuple):
        return "(" + ", ".join(_expr(a) for a in e.items) + ("," if len(e.items) == 1 else "") + ")"
    raise TypeError(f"not an expression of generated code: {e!r}")


def _call_text(fn, args, kwargs):
    return f"{fn}(" + ", ".join([_expr(a) for a in args] + [f"{k}={_expr(v)}" for k, v in kwargs]) + ")"


def _stmt_lines(s, depth):
    pad = "    " * depth
    if isinstance(s, Assign):
        return [f"{pad}{s.target} = {_expr(s.value)}"]
    if isinstance(s, Call):
        call = _call_text(s.fn, s.args, s.kwargs + ((("out", s.out),) if s.out is not None else ()))
        return [f"{pad}{call}" if s.target is None else f"{pad}{s.target} = {call}"]
    if isinstance(s, Store):
        return [f"{pad}{s.target}[{s.index}] {'+=' if s.add else '='} {_expr(s.value)}"]
    if isinstance(s, Delete):
        return [f"{pad}del " + ", ".join(s.names)]
    if isinstance(s, Continue):
        return [f"{pad}continue"]
    if isinstance(s, Return):
        return [f"{pad}return {_expr(s.value)}"]
    if isinstance(s, If):
        head = f"{pad}if {_expr(s.test)}:"
        if len(s.body) == 1 and not isinstance(s.body[0], (If, For, Function)):
            return [head + " " + _stmt_lines(s.body[0], 0)[0]]      # one simple statement: one line
        return [head] + _lines(s.body, depth + 1)
    if isinstance(s, For):
        return [f"{pad}for {s.var} in {_expr(s.iterable)}:"] + _lines(s.body, depth + 1)
    if isinstance(s, Function):
        return [f"{pad}def {s.name}(" + ", ".join(s.params) + "):"] + _lines(s.body, depth + 1)
    raise TypeError(f"not a statement of generated code: {s!r}")


def _lines(stmts, depth):
    return [ln for s in stmts for ln in _stmt_lines(s, depth)]


def print_source(stmts):
    """The source text of statements (a ``Function``, or a list of statements)."""
    stmts = [stmts] if isinstance(stmts, Stmt) else stmts
    return "\n".join(_lines(stmts, 0)) + "\n"


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
    is returned as is. The straight-line code is planned first (``graph_to_plan``)
    and then printed (``print_source``).
    """
    if tile and native.enabled():
        region = tiling.find_region(graph, tile_min=min(tiling.TILE_MIN, native.NATIVE_MIN), fused=True)
        res = _native_source(graph, region, name) if region is not None else None
        if res is not None:
            return res
    region = tiling.find_region(graph) if tile else None
    if region is not None:
        return _tiled_source(graph, region, name)
    fn, ns = graph_to_plan(graph, name, internal)
    return print_source(fn), ns


def _numpy_call(eqn, args):
    """``(callee, args)`` from the record's ``numpy`` lowering: a ufunc's name (a
    parameterless call), or what a lowering function gives for these parameters (a
    ufunc's name or NUMPY_IMPL); None: call the record's impl the plain way."""
    lower = eqn.prim.lowerings.get("numpy")
    if lower is None:
        return None
    if isinstance(lower, str):
        return None if eqn.params else (lower, args)
    return lower(args, eqn.params)


def graph_to_plan(graph: Graph, name="_generated", internal=False):
    """The straight-line NumPy program for ``graph`` as a ``Function`` of typed
    statements, and the namespace it needs (see ``graph_to_source``)."""
    ns = {"_np": np}
    names = _input_names(graph, ns)
    consts = itertools.count()
    plan = _Plan(graph)
    into = {j: k for k, j in plan.deferred.items()}
    owned = set()             # intermediates whose buffer this code allocated
    done = set()              # equations already written by an earlier statement

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
        return [Call(buf, "_np.empty", (repr(tuple(aval.shape)), dtype(aval)))] + [Store(buf, c, "0") for c in comp]

    body = []
    bound = set()             # names the statements so far assign

    def emit(*stmts):
        for s in stmts:
            body.append(s)
            bound.update(s.binds())

    prims = {}
    impls = {}                                  # record -> its impl's name in ns (NUMPY_IMPL calls)
    eqns = graph.eqns
    # an intermediate is released right after its last read (peak memory, checkpoint)
    dying: dict = {}
    for v, us in plan.uses.items():
        if isinstance(v, Var) and v not in graph.invars and v not in graph.constvars and max(us) < plan.end:
            dying.setdefault(max(us), []).append(v)
    for i, eqn in enumerate(eqns):
        if i and dying.get(i - 1):
            # (a deferred scatter_add's value is never assigned: it has nothing to release)
            gone = tuple(names[v] for v in dying[i - 1] if names.get(v) in bound)
            if gone and body and isinstance(body[-1], Delete):
                body[-1] = Delete(body[-1].names + gone)     # nothing ran between: one del
            elif gone:
                emit(Delete(gone))
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
                emit(Assign(out, names[other]))
            else:
                emit(Call(out, "_np.array", (names[other],)))
            emit(Store(out, idx, ref(sc.inputs[0]), add=True))
            owned.add(eqn.outvar)
            continue
        call = _numpy_call(eqn, args)
        if call is not None:
            callee, args = call
            if callee == NUMPY_IMPL:
                # the record's impl with an output buffer: always a fresh one (safe_mul
                # repairs a NaN from its inputs, so it never overwrites one)
                fn = impls.setdefault(eqn.prim, f"_impl{len(impls)}")
                ns[fn] = eqn.prim.impl
            else:
                fn = f"_np.{callee}"
            if not aval.shape:
                emit(Call(out, fn, tuple(args)))
                continue
            j = plan.single_use(eqn.outvar)
            target = eqns[j] if j is not None and j < plan.end else None
            if target is not None and target.prim.name == "scatter_add" and j not in plan.deferred \
                    and len(target.inputs) == 1:
                # computed straight into the slice of the gradient buffer it is scattered to
                pre = zeros_outside(f"_v{j}", target.params["spec"], target.outvar.aval)
                if pre is not None:
                    emit(*pre)
                    emit(Call(out, fn, tuple(args), out=Item(f"_v{j}", _basic_index(target.params["spec"]))))
                    done.add(j)
                    owned.add(target.outvar)
                    continue
            reuse = next((x for x in eqn.inputs if isinstance(x, Var) and x.aval == aval
                          and plan.dies_at(x, i, owned)), None) if callee != NUMPY_IMPL else None
            emit(Call(out, fn, tuple(args), out=names[reuse] if reuse is not None else None))
            owned.add(eqn.outvar)
            continue
        if eqn.outvar in plan.root:
            if pname == "gather":
                emit(Assign(out, Item(args[0], _basic_index(eqn.params["spec"]))))
            elif pname == "reshape":
                emit(Call(out, "_np.reshape", (args[0], repr(tuple(eqn.params["shape"])))))
            else:
                emit(Call(out, "_np.transpose", (args[0], repr(tuple(eqn.params["perm"])))))
            continue
        if pname == "scatter_add" and len(eqn.inputs) == 1:
            pre = zeros_outside(out, eqn.params["spec"], aval)
            if pre is not None:
                emit(*pre)
                emit(Store(out, _basic_index(eqn.params["spec"]), args[0]))
                owned.add(eqn.outvar)
                continue
        if pname == "select" and isinstance(eqn.inputs[1], Lit) and isinstance(eqn.inputs[2], Var) \
                and eqn.inputs[2].aval == aval and plan.dies_at(eqn.inputs[2], i, owned) \
                and _literal(eqn.inputs[1].val) and np.dtype(aval.dtype).kind in "fc":
            # where(c, constant, a) with a dying: overwrite a where c holds
            emit(Assign(out, args[2]))
            copy = Call(None, "_np.copyto", (out, args[1]), kwargs=(("casting", "'same_kind'"), ("where", args[0])))
            if isinstance(eqn.inputs[0], Var) and eqn.inputs[0].aval.shape:
                # a mask that holds nowhere (the usual case: a guard for a special value)
                # costs one read of the mask, not a masked pass over the result
                copy = If(Apply(f"{args[0]}.any"), (copy,))
            emit(copy)
            owned.add(eqn.outvar)
            continue
        if pname == "select" and not eqn.params:
            emit(Call(out, "_np.where", tuple(args)))
            continue
        key = (pname, tuple(sorted((k, repr(v)) for k, v in eqn.params.items())))
        p = prims.get(key)
        if p is None:
            p = f"_p{len(prims)}"
            prims[key] = p
            ns[p] = functools.partial(eqn.prim.impl, **eqn.params) if eqn.params else eqn.prim.impl
        emit(Call(out, p, tuple(args)))
    outs = []
    for o in graph.outvars:
        if o is None:
            outs.append("0.0")
        elif o in plan.root and not internal:
            outs.append(Apply("_np.array", (ref(o),)))     # a view: results never alias
        else:
            outs.append(ref(o))
    emit(Return(Tuple(tuple(outs))))
    return Function(name, tuple(names[v] for v in graph.invars), tuple(body)), ns


def _compiled(graph, name, internal=True):
    source, ns = graph_to_source(graph, name, tile=False, internal=internal)
    _run(source, ns)
    return ns[name], source


def _fresh(a):
    return np.array(a) if isinstance(a, np.ndarray) and a.base is not None else a


def _around_plan(graph, r, name, ns):
    """The ``pre`` and ``post`` parts around a region (tiling.split), as statements:
    the region's graph, the names of the values (``pre`` passes on some), the
    function's parameters, its first statements, a function giving its last ones
    (``post`` of the loop's outputs), and the sources of ``pre`` and ``post``."""
    pre, tile, post, needed = tiling.split(graph, r)
    pre_fn, pre_src = _compiled(pre, name + "_pre")
    post_fn, post_src = _compiled(post, name + "_post", internal=False)
    ns.update({"_np": np, "_pre": pre_fn, "_post": post_fn})
    names = _input_names(graph, ns)
    for i, v in enumerate(needed):
        names[v] = Item("_q", str(i))
    params = tuple(names[v] for v in graph.invars)
    head = [Call("_q", "_pre", params)]

    def finish(loop_outs):
        out = [Call("_r", "_post", params + tuple(names[v] for v in needed) + tuple(loop_outs))]
        # a value of ``pre`` returned as is may be a view of an input: results never alias
        passed = [k for k, o in enumerate(graph.outvars) if isinstance(o, Var) and o in needed]
        if passed:
            ns["_fresh"] = _fresh
            outs = [Apply("_fresh", (Item("_r", str(k)),)) if k in passed else Item("_r", str(k))
                    for k in range(len(graph.outvars))]
            out.append(Return(Tuple(tuple(outs))))
        else:
            out.append(Return("_r"))
        return out
    return tile, names, params, head, finish, [("pre", pre_src), ("post", post_src)]


def _around(graph, r, name, ns):
    """``_around_plan`` printed, for a caller that writes lines of text: the region's
    graph, the names (source text), the function's first lines, a function giving its
    last lines, and the sources of ``pre`` and ``post``."""
    tile, names, params, head, finish, parts = _around_plan(graph, r, name, ns)
    names = {v: _expr(e) for v, e in names.items()}
    lines = [f"def {name}(" + ", ".join(params) + "):"] + _lines(head, 1)
    return tile, names, lines, lambda loop_outs: _lines(finish(loop_outs), 1), parts


def _comment(parts):
    return "".join(f"# {label}:\n" + "".join(f"#   {ln}\n" for ln in src.splitlines()) for label, src in parts)


def _tiled_source(graph: Graph, r, name):
    """The program as ``pre``, a loop over row tiles running the region's code, and
    ``post`` (see tiling.py); each part is generated code of its own."""
    fn, ns, parts = _tiled_plan(graph, r, name)
    return _comment(parts) + print_source(fn), ns


def _tiled_plan(graph: Graph, r, name):
    """``_tiled_source`` as a ``Function`` of statements, its namespace, and the
    sources of its parts (for the comment above it)."""
    ns = {"_min": min, "_max": max, "_range": range}
    tile, names, params, body, finish, parts = _around_plan(graph, r, name, ns)
    tile_fn, tile_src = _compiled(tile, name + "_tile")
    ns["_tile"] = tile_fn
    for i, v in enumerate(r.kept):
        names[v] = f"_m{i}"
        ns[f"_d{i}"] = np.dtype(v.aval.dtype)
        body.append(Call(f"_m{i}", "_np.empty", (repr(tuple(v.aval.shape)), f"_d{i}")))
    L, T = r.length, r.rows
    offs = [off for _, off in r.chain]
    loop = []
    if r.chain:
        ns["_dacc"] = np.dtype(r.root.aval.dtype)
        body.append(Call("_acc", "_np.zeros", (repr(tuple(r.root.aval.shape)), "_dacc")))
        var, bounds = "_s", (0, r.extent, T)
        loop += [Call("_e", "_min", (f"_s + {T}", r.extent)),
                 Call("_r0", "_max", (f"_s - {max(offs)}", 0)),
                 Call("_r1", "_min", (f"_e - {min(offs)}", L)),
                 If("_r0 >= _r1", (Continue(),))]
    else:
        var, bounds = "_r0", (0, L, T)
        loop.append(Call("_r1", "_min", (f"_r0 + {T}", L)))
    args = [Item(names[v], "_r0:_r1") if v in r.sliced else names[v] for v in r.inputs]
    loop.append(Call("_o", "_tile", tuple(args)))
    for i in range(len(r.kept)):
        loop.append(Store(f"_m{i}", "_r0:_r1", Item("_o", str(i))))
    for j, off in enumerate(offs):
        # buffer rows [lo, hi) take the region's rows [lo - off, hi - off)
        k = len(r.kept) + j
        loop += [Call("_lo", "_max", ("_s", off)),
                 Call("_hi", "_min", ("_e", off + L)),
                 If("_lo < _hi", (Store("_acc", "_lo:_hi", Item(Item("_o", str(k)),
                                                                 f"_lo - {off} - _r0:_hi - {off} - _r0"), add=True),))]
    body.append(For(var, Apply("_range", bounds), tuple(loop)))
    body += finish([f"_m{i}" for i in range(len(r.kept))] + (["_acc"] if r.chain else []))
    parts.insert(1, ("tile", tile_src))
    return Function(name, params, tuple(body)), ns, parts


def _native_source(graph: Graph, r, name):
    """The program as ``pre``, one call of a fused loop over the region (native.py,
    compiled by numba), and ``post``; None if the region has no exact fused form or
    the loop cannot be compiled. Sizes and constants are the loop's arguments."""
    kernel = native.plan(r)
    fn = native.function(kernel) if kernel is not None else None
    if fn is None:
        return None
    ns = {"_kernel": native.runner(fn, int(np.prod(kernel.shape))), "_arr": native.flat, "_one": native.scalar}
    _, names, lines, finish, parts = _around(graph, r, name, ns)
    args = [repr(int(n)) for n in kernel.ints]
    for i, v in enumerate(kernel.arrays):
        ns[f"_t{i}"] = np.dtype(v.aval.dtype)
        lines.append(f"    _x{i} = _arr({names[v]}, _t{i})")
        args.append(f"_x{i}")
    for i, v in enumerate(kernel.outputs):
        ns[f"_d{i}"] = np.dtype(v.aval.dtype)
        lines.append(f"    _m{i} = _np.empty({int(np.prod(v.aval.shape))}, _d{i})")
        args.append(f"_m{i}")
    for i, v in enumerate(kernel.scalars):
        ns[f"_u{i}"] = np.dtype(v.aval.dtype)
        args.append(f"_one({names[v]}, _u{i})")
    for i, c in enumerate(kernel.constants):
        ns[f"_c{i}"] = c
        args.append(f"_c{i}")
    lines.append("    _kernel(" + ", ".join(args) + ")")
    lines += finish([f"_m{i}.reshape({tuple(v.aval.shape)!r})" for i, v in enumerate(kernel.outputs)])
    parts.insert(1, ("native", kernel.source))
    return _comment(parts) + "\n".join(lines) + "\n", ns


# Scalar code: Python floats and the math module, for graphs of 0-d float64 values.
# IEEE arithmetic (+ - * /) on Python floats is identical to NumPy's; anything that
# would raise in Python (1/0, math.log(-1), overflow) falls back to the NumPy code.
_isfinite = math.isfinite


def _smul(x, y):
    """``safe_mul`` on floats: 0 * inf and 0 * nan are 0.0, as in its NumPy implementation
    (and no floating-point warning on NumPy scalars)."""
    if (x == 0 and not _isfinite(y)) or (y == 0 and not _isfinite(x)):
        return 0.0
    return x * y


#: the names a record's ``python`` lowering may use (core/primitive.py), for every
#: generator of Python-float code (scalar_source here, compile/staged.py's float code)
PYTHON_NAMESPACE = {"_m": math, "_smul": _smul}


def _scalar_rhs(eqn, args):
    """The primitive's ``python`` lowering of ``eqn`` over the argument expressions, or None."""
    lower = eqn.prim.lowerings.get("python")
    return None if lower is None else lower(args, eqn.params)


def scalar_source(graph: Graph, name, fallback):
    """Source of a Python-float version of ``graph``, or None if some equation has no
    scalar form or some value is not a 0-d float64."""
    ns = dict(PYTHON_NAMESPACE, _fallback=fallback)
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
