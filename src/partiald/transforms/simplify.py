"""Graph simplification before code generation: constant folding, common
subexpression elimination and dead-code elimination. Graph to Graph; the
result computes the same outputs (tested against ``interpret``)."""
from __future__ import annotations

import numpy as np

from ..core.trace import literal_key
from ..core.graph import Eqn, Graph, Lit, ShapedArray, Var, use_counts
from ..core.primitive import REGISTRY


def _param_key(params):
    items = []
    for k, v in sorted(params.items()):
        if isinstance(v, np.ndarray):
            v = ("ndarray", v.shape, v.dtype.str, v.tobytes())
        elif isinstance(v, np.dtype):
            v = ("dtype", v.str)
        try:
            hash(v)
        except TypeError:
            v = ("id", id(v))
        items.append((k, v))
    return tuple(items)


def _lit_key(x):
    """The CSE key of a literal: its value bit for bit (core.trace.literal_key: -0.0 is
    not 0.0, NaN payloads differ), or its identity for a large array."""
    key = literal_key(x.val, max_array=64)
    return ("lit", key) if key is not None else ("id", id(x.val))


def dce(graph: Graph) -> Graph:
    """``graph`` without the equations no output depends on."""
    live = {o for o in graph.outvars if isinstance(o, Var)}
    kept = []
    for eqn in reversed(graph.eqns):
        if eqn.outvar in live:
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    if len(kept) == len(graph.eqns):
        return graph
    kept.reverse()
    return Graph(graph.invars, graph.constvars, graph.consts, kept, graph.outvars, graph.values)


def cse(graph: Graph) -> Graph:
    """``graph`` with each repeated equation (the same primitive, parameters and inputs)
    computed once: exact, since a primitive is a function of its inputs. What differentiates
    a Graph runs it first, so that a value computed twice (``sigmoid(X @ w)`` written twice)
    gets one cotangent, summed before it flows back through ``X @ w``: one backward matmul,
    not one per spelling of it."""
    rename: dict = {}
    seen: dict = {}
    eqns = []
    for eqn in graph.eqns:
        inputs = [rename.get(x, x) if isinstance(x, Var) else x for x in eqn.inputs]
        changed = any(a is not b for a, b in zip(inputs, eqn.inputs))
        if eqn.prim.name not in _NO_FOLD:
            try:
                key = (eqn.prim, tuple(("v", id(x)) if isinstance(x, Var) else _lit_key(x) for x in inputs),
                       _param_key(eqn.params))
            except TypeError:       # (an unhashable literal: kept as it is)
                key = None
            if key is not None:
                prev = seen.get(key)
                if prev is not None and prev.aval == eqn.outvar.aval:
                    rename[eqn.outvar] = prev
                    continue
                seen[key] = eqn.outvar
        eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.outvar, eqn.info) if changed else eqn)
    if not rename:
        return graph
    outvars = [rename.get(o, o) if isinstance(o, Var) else o for o in graph.outvars]
    return Graph(graph.invars, graph.constvars, graph.consts, eqns, outvars, graph.values)


def simplify(graph: Graph) -> Graph:
    """Fold equations whose inputs are all literals, merge equal equations, and drop
    equations no output depends on."""
    rename: dict = {}

    def sub(x):
        if isinstance(x, Var):
            return rename.get(x, x)
        return x

    n_uses = use_counts(graph, output_uses=2)      # an output is never "read once"
    masked: dict = {}          # var -> (c, a) for var = select(c, 0, a) read once
    seen: dict = {}
    scaled: dict = {}          # var -> (c, x) for var = c * x with a scalar literal c
    eqns = []
    for eqn in graph.eqns:
        inputs = [sub(x) for x in eqn.inputs]
        prim = eqn.prim
        if inputs and all(isinstance(x, Lit) for x in inputs) and prim.name not in _NO_FOLD:
            # constant folding: every input is known now
            with np.errstate(all="ignore"):
                val = prim.impl(*[x.val for x in inputs], **eqn.params)
            rename[eqn.outvar] = Lit(val)
            continue
        inputs = _scalarize(prim, inputs, eqn.outvar.aval)
        if prim.name == "neg" and isinstance(inputs[0], Var) and inputs[0] in scaled:
            # -(c * x) -> (-c) * x
            c, x = scaled[inputs[0]]
            prim, inputs = _MUL, [Lit(-c), x]
        same = _identity(prim.name, inputs, eqn.outvar.aval)
        if same is not None:
            rename[eqn.outvar] = same
            continue
        if prim.name == "einsum":
            perm = _identity_contraction(inputs, eqn.params, eqn.outvar.aval)
            if perm is not None:
                x = inputs[0] if isinstance(inputs[0], Var) else inputs[1]
                if perm == tuple(range(len(perm))):
                    rename[eqn.outvar] = x
                    continue
                prim, inputs, params = _TRANSPOSE, [x], {"perm": perm}
                eqn = Eqn(prim, inputs, params, eqn.outvar)
        if prim.name == "mul" and len(inputs) == 2:
            folded = _fold_scale(inputs, scaled)
            if folded is not None:
                inputs = folded
        if prim.name == "safe_mul" and any(_finite_nonzero_scalar(x) for x in inputs):
            prim = _MUL          # 0 * c is 0 anyway: no NaN to guard against
        if prim.name == "safe_mul" and len(inputs) == 2 and any(x in masked for x in inputs):
            # safe_mul(select(c, 0, a), b) -> select(c, 0, safe_mul(a, b)): the mask is
            # applied last, where the generated code can apply it in place
            k = 0 if inputs[0] in masked else 1
            c, a = masked[inputs[k]]
            product = Var(REGISTRY["safe_mul"].abstract_eval(a.aval, _aval(inputs[1 - k])))
            eqns.append(Eqn(prim, [a, inputs[1 - k]], {}, product))
            prim, inputs = _SELECT, [c, Lit(0.0), product]
        key = (prim.name, tuple(("v", id(x)) if isinstance(x, Var) else _lit_key(x) for x in inputs),
               _param_key(eqn.params))
        prev = seen.get(key)
        if prev is not None:
            rename[eqn.outvar] = prev
            continue
        seen[key] = eqn.outvar
        if prim.name == "select" and _is_zero_lit(inputs[1]) and isinstance(inputs[2], Var) \
                and n_uses.get(eqn.outvar) == 1 and np.dtype(eqn.outvar.aval.dtype).kind == "f":
            masked[eqn.outvar] = (inputs[0], inputs[2])
        if prim.name == "mul" and len(inputs) == 2:
            lits = [x for x in inputs if _finite_nonzero_scalar(x)]
            others = [x for x in inputs if isinstance(x, Var)]
            if len(lits) == 1 and len(others) == 1 and others[0].aval == eqn.outvar.aval:
                scaled[eqn.outvar] = (lits[0].val, others[0])
        eqns.append(Eqn(prim, inputs, eqn.params, eqn.outvar))
    outvars = [sub(o) if o is not None else None for o in graph.outvars]
    return sink_transposes(dce(Graph(graph.invars, graph.constvars, graph.consts, eqns, outvars)))


def sink_transposes(graph: Graph) -> Graph:
    """Elementwise work on a transposed array done in the array's own layout, the
    transpose moved after it, and absorbed by an ``einsum`` that reads the result.

    ``op(transpose(x), s)`` becomes ``transpose(op(x, s'))``, where ``s'`` is a smaller
    operand ``s`` (a row, a column, a scalar) permuted to match ``x``: the same value
    at every index, so the result is exact. A jacobian's basis arrives transposed
    (``X^T`` in forward-over-reverse Hessians); computed on it directly, every
    elementwise pass and the fused loop would read or copy a strided array. An
    ``einsum`` of ``transpose(y)`` is the same ``einsum`` of ``y`` with its index
    letters permuted (the BLAS reads a transposed operand as it is).
    """
    tr: dict = {}          # var -> (x, perm): var = transpose(x, perm), in the new program
    eqns: list = []
    changed = False
    for eqn in graph.eqns:
        name = eqn.prim.name
        inputs = list(eqn.inputs)
        if name == "transpose" and isinstance(inputs[0], Var):
            tr[eqn.outvar] = (inputs[0], tuple(eqn.params["perm"]))
            eqns.append(eqn)
            continue
        if eqn.prim.elementwise and any(isinstance(x, Var) and x in tr for x in inputs):
            moved = _sunk(eqn, inputs, tr, eqns)
            if moved is not None:
                changed = True
                continue
        if name == "einsum" and any(isinstance(x, Var) and x in tr for x in inputs):
            ins, out = eqn.params["spec"].split("->")
            subs = ins.split(",")
            for i, x in enumerate(inputs):
                if isinstance(x, Var) and x in tr:
                    src, perm = tr[x]
                    letters = [""] * len(perm)
                    for k, p in enumerate(perm):
                        letters[p] = subs[i][k]
                    subs[i], inputs[i] = "".join(letters), src
            params = dict(eqn.params, spec=",".join(subs) + "->" + out)
            eqns.append(Eqn(eqn.prim, inputs, params, eqn.outvar, eqn.info))
            changed = True
            continue
        eqns.append(eqn)
    if not changed:
        return graph
    return dce(Graph(graph.invars, graph.constvars, graph.consts, eqns, graph.outvars))


def _sunk(eqn, inputs, tr, eqns):
    """Append ``transpose(op(x, s'))`` for the elementwise ``eqn`` on a transposed input
    (see ``sink_transposes``) to ``eqns`` and return True, or None where it does not apply:
    a full-size operand that is not the same transpose, or a result larger than it."""
    shape = eqn.outvar.aval.shape
    nd = len(shape)
    lead = next((x for x in inputs if isinstance(x, Var) and x in tr and x.aval.shape == shape), None)
    if lead is None:
        return None
    src, perm = tr[lead]
    inv = tuple(int(i) for i in np.argsort(perm))
    size = int(np.prod(shape, dtype=np.int64))
    new_inputs, extra = [], []
    for x in inputs:
        if isinstance(x, Var) and x in tr and tr[x][1] == perm and tr[x][0].aval.shape == src.aval.shape:
            new_inputs.append(tr[x][0])          # (the same transpose of another array)
            continue
        xs = x.aval.shape if isinstance(x, Var) else np.shape(x.val)
        if len(xs) == 0:
            new_inputs.append(x)
            continue
        if len(xs) > nd or int(np.prod(xs, dtype=np.int64)) >= size:
            return None                     # (a full-size operand in the other layout)
        padded = (1,) * (nd - len(xs)) + tuple(xs)
        target = tuple(padded[i] for i in inv)
        if isinstance(x, Lit):
            new_inputs.append(Lit(np.transpose(np.reshape(x.val, padded), inv)))
            continue
        y = x
        if padded != tuple(xs):
            r = Var(ShapedArray(padded, x.aval.dtype))
            extra.append(Eqn(_RESHAPE, [y], {"shape": padded}, r))
            y = r
        t = Var(ShapedArray(target, x.aval.dtype))
        extra.append(Eqn(_TRANSPOSE, [y], {"perm": inv}, t))
        new_inputs.append(t)
    new = Var(ShapedArray(src.aval.shape, eqn.outvar.aval.dtype))
    eqns.extend(extra)
    eqns.append(Eqn(eqn.prim, new_inputs, eqn.params, new, eqn.info))
    eqns.append(Eqn(_TRANSPOSE, [new], {"perm": perm}, eqn.outvar))
    tr[eqn.outvar] = (new, perm)
    return True


def _fold_scale(inputs, scaled):
    """``c1 * (c2 * x)`` as ``(c1 * c2) * x`` where that is exact: ``c2`` a power of two
    with ``|c2| >= 1`` (so ``c2 * x`` is exact) and ``|c1| >= 1`` (so neither side
    overflows where the other does not)."""
    for i in (0, 1):
        c1, y = inputs[i], inputs[1 - i]
        if not (_finite_nonzero_scalar(c1) and isinstance(y, Var) and y in scaled):
            continue
        c2, x = scaled[y]
        c1v, c2v = c1.val, c2
        if abs(c1v) < 1 or abs(c2v) < 1 or np.frexp(abs(c2v))[0] != 0.5:
            continue
        with np.errstate(all="ignore"):
            c = c1v * c2v
        if not np.isfinite(c):
            continue
        if isinstance(c1v, float) and isinstance(c2v, float):       # np.float64 is a float
            return [Lit(float(c)), x]
        if type(c1v) is type(c2v):
            return [Lit(c), x]
    return None


def _identity_contraction(inputs, params, aval):
    """For ``einsum(x, I)`` with ``I`` a literal identity matrix and ``safe=True``
    (a zero times inf is zero): the permutation of ``x`` it amounts to, or None.

    ``I[p, q]`` renames one index of ``x`` to the other; when the renamed ``x`` has
    distinct indices and they are exactly the output's, the product is a transpose.
    """
    if len(inputs) != 2 or not params.get("safe"):
        return None
    ins, out = params["spec"].split("->")
    ins = ins.split(",")
    for k in (0, 1):
        eye, x = inputs[k], inputs[1 - k]
        if not (isinstance(eye, Lit) and isinstance(x, Var) and x.aval.dtype == aval.dtype):
            continue
        v = eye.val
        if not (isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[0] == v.shape[1]
                and v.dtype.kind == "f" and len(set(ins[k])) == 2):
            continue
        p, q = ins[k]
        sub = ins[1 - k]
        if (p in sub) == (q in sub):
            continue
        new = sub.replace(q, p) if q in sub else sub.replace(p, q)
        if len(set(new)) != len(new) or sorted(new) != sorted(out):
            continue
        if not np.array_equal(v, np.eye(v.shape[0], dtype=v.dtype)):
            continue
        return tuple(new.index(c) for c in out)
    return None


def _is_zero_lit(x):
    return _scalar_lit(x) and x.val == 0 and not isinstance(x.val, (bool, np.bool_))


def _aval(x):
    """What ``abstract_eval`` takes: a Var's aval, a Python number as itself (weak)."""
    if isinstance(x, Var):
        return x.aval
    if type(x.val) in (int, float, bool):
        return x.val
    return ShapedArray(np.shape(x.val), np.result_type(x.val))


def _scalar_lit(x):
    return isinstance(x, Lit) and np.ndim(x.val) == 0 and np.asarray(x.val).dtype.kind in "fiu"


def _finite_nonzero_scalar(x):
    return _scalar_lit(x) and np.isfinite(x.val) and x.val != 0


def _scalarize(prim, inputs, aval):
    """A literal array with one value everywhere (a broadcast constant, folded) becomes
    a scalar when the other operand alone already has the output's shape: one pass and
    no constant array, the same result."""
    if not prim.elementwise or len(inputs) != 2:
        return inputs
    out = list(inputs)
    for i, x in enumerate(inputs):
        other = inputs[1 - i]
        if isinstance(x, Lit) and isinstance(x.val, np.ndarray) and x.val.ndim and x.val.size \
                and isinstance(other, Var) and other.aval.shape == aval.shape and other.aval.dtype == aval.dtype:
            first = x.val.flat[0]
            same_dtype = np.result_type(other.aval.dtype, x.val.dtype) == aval.dtype
            if np.isfinite(first) and same_dtype and (x.val == first).all():
                out[i] = Lit(first.item() if x.val.dtype.kind == "f" else first)
    return out


def _identity(name, inputs, aval):
    """The input an equation passes through unchanged (x*1, x+0, ...), if any."""
    def keeps(x):      # the other operand already has the output's shape and dtype
        return isinstance(x, Var) and x.aval == aval
    if name in ("mul", "safe_mul") and len(inputs) == 2:
        a, b = inputs
        if _scalar_lit(b) and b.val == 1 and keeps(a):
            return a
        if _scalar_lit(a) and a.val == 1 and keeps(b):
            return b
    if name in ("add", "sub") and len(inputs) == 2:
        a, b = inputs
        if _scalar_lit(b) and b.val == 0 and keeps(a):
            return a
        if name == "add" and _scalar_lit(a) and a.val == 0 and keeps(b):
            return b
    if name == "concatenate" and len(inputs) == 1 and keeps(inputs[0]):
        return inputs[0]
    if name == "div" and len(inputs) == 2 and _scalar_lit(inputs[1]) and inputs[1].val == 1 and keeps(inputs[0]):
        return inputs[0]
    return None


# primitives whose evaluation at compile time is not wanted (side effects or
# user callbacks)
_NO_FOLD = frozenset({"custom_jvp_call", "custom_vjp_call", "checkpoint_call", "custom_vjp_lin",
                      "checkpoint_lin"})

_MUL = REGISTRY["mul"]
_TRANSPOSE = REGISTRY["transpose"]
_RESHAPE = REGISTRY["reshape"]
_SELECT = REGISTRY["select"]
