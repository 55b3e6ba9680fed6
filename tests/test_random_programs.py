"""Random straight-line programs (TESTING.md section 2, "Random programs").

Hypothesis builds programs as a list of nodes over partiald.numpy functions:
depth <= 6, <= 30 operations, arrays of at most 20 elements ((4, 5)) with
broadcasting between operands, reductions (sum, mean, max with axis and
keepdims), transpose, reshape, broadcast_to and indexing (slices, negative
steps, None, integer arrays with repeats), and only domain-safe operations (log(1 + x^2),
sqrt(1 + x^2), x / (1 + y^2), exp(tanh(x)), ...), so every program is smooth
(max aside) on all of R^n. The same node list is evaluated three ways:

- with partiald.numpy on traced values (what is being tested);
- with NumPy on float64 values (the forward oracle and the finite differences);
- with NumPy on complex values (the complex-step oracle, when every operation
  in the program is analytic: everything but max).

Each program must pass:
- ``pdx.check_grads`` order 1 in both modes (|AD - FD| <= 1e-6 * scale + 1e-6 * |FD|);
- the transpose identity ``<u, J v> == <J^T u, v>`` to 1e-12 (relative to the
  terms of the inner products, with a floor of ``|u| |v|`` for Jacobians that cancel to ~0);
- ``jacfwd == jacrev`` (rel 1e-12);
- the complex step ``Im f(x + i h v) / h == J v`` (rel 1e-10), analytic programs only;
- ``jit`` of the program, of its VJP and of its JVP equal the eager results
  (rel 1e-13), also with every elementwise chain tiled (tiles of 2 elements), and
  the compiled code leaves its inputs unchanged (the generator reuses dying
  buffers, never an input's).

Examples: 200 in the ``ci`` profile, 20 in ``dev``, 10,000 in ``nightly`` (twice
the profile's count).
"""
from __future__ import annotations

import types

import numpy as np
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis import given

import partiald as pdx
import partiald.numpy as pnp
from partiald.compile import native, tiling

MAX_DEPTH = 6
MAX_OPS = 30
MAX_SIZE = 20          # elements, i.e. (4, 5)
CS_STEP = 1e-20


# -- the operations -----------------------------------------------------------------------
# Each takes the array module ``m`` (numpy or partiald.numpy) first, so the same
# program runs on NumPy float64, NumPy complex128 and partiald tracers.

UNARY = {
    "sin": lambda m, x: m.sin(x),
    "cos": lambda m, x: m.cos(x),
    "tanh": lambda m, x: m.tanh(x),
    "arctan": lambda m, x: m.arctan(x),
    "exp_tanh": lambda m, x: m.exp(m.tanh(x)),
    "log1p_sq": lambda m, x: m.log(1 + x * x),
    "sqrt1p_sq": lambda m, x: m.sqrt(1 + x * x),
    "recip1p_sq": lambda m, x: 1 / (1 + x * x),
    "square": lambda m, x: x * x,
    "neg": lambda m, x: -x,
    "scale": lambda m, x: 0.5 * x - 0.25,
}

BINARY = {
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y,
    "div_1p_sq": lambda m, x, y: x / (1 + y * y),
    "mul_fn": lambda m, x, y: m.multiply(x, m.sin(y)),
}

REDUCE = {
    "sum": lambda m, x, axis, keepdims: m.sum(x, axis=axis, keepdims=keepdims),
    "mean": lambda m, x, axis, keepdims: m.mean(x, axis=axis, keepdims=keepdims),
    "max": lambda m, x, axis, keepdims: m.max(x, axis=axis, keepdims=keepdims),
}

NON_ANALYTIC = {"max"}


# -- programs ---------------------------------------------------------------------------

class Node(types.SimpleNamespace):
    """kind in {input, unary, binary, reduce, transpose, reshape, index, broadcast}; op; args; params; shape; depth."""


def _reduced_shape(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in (axis if isinstance(axis, tuple)
                                                                            else (axis,))]
    axes = set(axes)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reshape_targets(shape):
    n = int(np.prod(shape))
    out = {(n,), (1, n), (n, 1), tuple(reversed(shape))}
    out |= {(a, n // a) for a in (2, 3, 4) if n % a == 0 and n // a <= 5}
    if n == 1:
        out.add(())
    out.discard(tuple(shape))
    return sorted(out, key=lambda s: (len(s), s))


def _index_choices(shape):
    """Basic and integer-array indices (with repeats) valid for ``shape``, at most MAX_SIZE elements."""
    if not shape:
        return [(None,), (Ellipsis,)]
    n = shape[0]
    out = [(slice(None, None, -1),), (Ellipsis, slice(None, None, -1)), (slice(0, max(1, n - 1)),),
           (np.array([0, n - 1, 0]),), (-1,)]
    if len(shape) == 1:
        out.append((None, Ellipsis))
    if len(shape) == 2:
        out += [(slice(None), np.array([shape[1] - 1, 0, 0])), (slice(None, None, 2), -1)]
    return [i for i in out if np.empty(shape)[i].size <= MAX_SIZE]


def _sub_shape(draw, base):
    """A shape that broadcasts to ``base``: some leading dims dropped, some dims set to 1."""
    drop = draw(st.integers(0, len(base)), label="drop leading dims")
    kept = base[drop:]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)), label="size-1 dims")
    return tuple(1 if o else d for d, o in zip(kept, ones))


def _broadcast(a, b):
    try:
        s = np.broadcast_shapes(a, b)
    except ValueError:
        return None
    return s if int(np.prod(s)) <= MAX_SIZE else None


@st.composite
def programs(draw):
    base = draw(st.sampled_from([(), (1,), (3,), (5,), (4, 1), (1, 5), (2, 3), (3, 4), (4, 5)]), label="base shape")
    n_inputs = draw(st.integers(1, 3), label="inputs")
    nodes = [Node(kind="input", op=f"x{i}", args=(), params={}, shape=_sub_shape(draw, base), depth=0)
             for i in range(n_inputs)]
    n_ops = draw(st.integers(1, MAX_OPS), label="ops")
    for _ in range(n_ops):
        eligible = [i for i, nd in enumerate(nodes) if nd.depth < MAX_DEPTH]
        # half the time the newest node, so programs grow deep; k = 0 is also where shrinking goes
        chain = draw(st.booleans(), label="chain")
        first = eligible[-1 if chain else -1 - draw(st.integers(0, len(eligible) - 1), label="operand")]
        a = nodes[first]
        kind = draw(st.sampled_from(["unary"] * 3 + ["binary"] * 3 + ["reduce", "transpose", "reshape", "index",
                                                                      "broadcast"]),
                    label="kind")
        if kind == "unary":
            node = Node(kind=kind, op=draw(st.sampled_from(sorted(UNARY))), args=(first,), params={},
                        shape=a.shape, depth=a.depth + 1)
        elif kind == "binary":
            partners = [i for i in eligible if _broadcast(a.shape, nodes[i].shape) is not None]
            second = partners[-1 - draw(st.integers(0, len(partners) - 1), label="second operand")]
            args = (first, second) if draw(st.booleans(), label="order") else (second, first)
            node = Node(kind=kind, op=draw(st.sampled_from(sorted(BINARY))), args=args, params={},
                        shape=_broadcast(a.shape, nodes[second].shape),
                        depth=1 + max(a.depth, nodes[second].depth))
        elif kind == "reduce":
            nd = len(a.shape)
            axis_choices = [None] + list(range(-nd, nd)) + ([(0, 1), (-1, 0)] if nd == 2 else [])
            axis = draw(st.sampled_from(axis_choices), label="axis")
            keepdims = draw(st.booleans(), label="keepdims")
            node = Node(kind=kind, op=draw(st.sampled_from(sorted(REDUCE))), args=(first,),
                        params={"axis": axis, "keepdims": keepdims},
                        shape=_reduced_shape(a.shape, axis, keepdims), depth=a.depth + 1)
        elif kind == "transpose":
            node = Node(kind=kind, op="transpose", args=(first,), params={},
                        shape=tuple(reversed(a.shape)), depth=a.depth + 1)
        elif kind == "index":
            choices = _index_choices(a.shape)
            if not choices:
                continue
            index = draw(st.sampled_from(choices), label="index")
            node = Node(kind=kind, op="index", args=(first,), params={"index": index},
                        shape=np.empty(a.shape)[index].shape, depth=a.depth + 1)
        elif kind == "broadcast":
            targets = sorted({nodes[i].shape for i in eligible
                              if nodes[i].shape != a.shape and _broadcast(a.shape, nodes[i].shape) == nodes[i].shape})
            if not targets:
                continue
            target = draw(st.sampled_from(targets), label="broadcast target")
            node = Node(kind=kind, op="broadcast_to", args=(first,), params={"shape": target},
                        shape=target, depth=a.depth + 1)
        else:
            targets = _reshape_targets(a.shape)
            if not targets:
                continue
            target = draw(st.sampled_from(targets), label="reshape target")
            node = Node(kind=kind, op="reshape", args=(first,), params={"shape": target},
                        shape=target, depth=a.depth + 1)
        nodes.append(node)
    return nodes


def evaluate(nodes, inputs, m):
    vals = list(inputs)
    for node in nodes[len(inputs):]:
        args = [vals[i] for i in node.args]
        if node.kind == "unary":
            out = UNARY[node.op](m, *args)
        elif node.kind == "binary":
            out = BINARY[node.op](m, *args)
        elif node.kind == "reduce":
            out = REDUCE[node.op](m, *args, **node.params)
        elif node.kind == "transpose":
            out = m.transpose(*args)
        elif node.kind == "index":
            out = args[0][node.params["index"]]
        elif node.kind == "broadcast":
            out = m.broadcast_to(*args, node.params["shape"])
        else:
            out = m.reshape(*args, node.params["shape"])
        vals.append(out)
    return vals[-1]


def program_text(nodes):
    names = [f"v{i}" for i in range(len(nodes))]
    lines = []
    for i, node in enumerate(nodes):
        if node.kind == "input":
            lines.append(f"{names[i]} = input{node.shape}")
            continue
        args = ", ".join(names[j] for j in node.args)
        params = "".join(f", {k}={v!r}" for k, v in node.params.items())
        lines.append(f"{names[i]} = {node.op}({args}{params})    # {node.shape}, depth {node.depth}")
    return "\n".join(lines)


def is_analytic(nodes):
    return not any(n.op in NON_ANALYTIC for n in nodes)


def n_inputs(nodes):
    return sum(1 for n in nodes if n.kind == "input")


# -- helpers ------------------------------------------------------------------------------

def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def _random_like(rng, xs):
    return [np.asarray(rng.standard_normal(np.shape(x))) for x in xs]


def _dot(a, b):
    return sum(float(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))) for x, y in zip(a, b))


def _absdot(a, b):
    return sum(float(np.sum(np.abs(np.asarray(x, np.float64) * np.asarray(y, np.float64)))) for x, y in zip(a, b))


# -- the property --------------------------------------------------------------------------

@settings(max_examples=2 * settings.default.max_examples)
@given(nodes=programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_program(nodes, seed):
    note(program_text(nodes))
    k = n_inputs(nodes)
    rng = np.random.default_rng(seed)
    xs = [np.asarray(rng.uniform(-1.5, 1.5, nodes[i].shape)) for i in range(k)]
    note(f"inputs: {xs!r}")

    def f(*args):
        return evaluate(nodes, args, pnp)

    y_np = np.asarray(evaluate(nodes, xs, np))
    assert np.all(np.isfinite(y_np))

    # forward value: same as NumPy
    y = f(*xs)
    assert np.shape(y) == nodes[-1].shape == y_np.shape
    assert _rel_err(y, y_np) <= 1e-12

    # 1. finite differences, both modes (|AD - FD| <= 1e-6 * scale + 1e-6 * |FD|)
    pdx.check_grads(f, tuple(xs), order=1, modes=("fwd", "rev"), seed=seed % 1000)

    # 2. transpose identity <u, J v> == <J^T u, v>, both sides exact
    v = _random_like(rng, xs)
    u = rng.standard_normal(np.shape(y))
    out, jv = pdx.jvp(f, tuple(xs), tuple(v))
    _, back = pdx.vjp(f, *xs)
    jtu = back(u[()] if u.ndim == 0 else u)
    assert len(jtu) == k
    assert all(np.shape(g) == np.shape(x) for g, x in zip(jtu, xs))
    lhs, rhs = _dot([u], [jv]), _dot(jtu, v)
    # 1e-12 relative to the terms of either inner product; the floor |u| |v| (the "max(1, .)"
    # of rel) covers a Jacobian that cancels to ~0 from O(1) chain-rule terms, where the
    # rounding error is ~1e-17 |u| |v| but both inner products are tiny
    floor = float(np.linalg.norm(u)) * float(np.sqrt(sum(float(np.sum(d * d)) for d in v)))
    bound = 1e-12 * max(_absdot([u], [jv]), _absdot(jtu, v), floor)
    assert abs(lhs - rhs) <= bound, f"<u, Jv> = {lhs!r}, <J^T u, v> = {rhs!r}"

    # 3. jacfwd == jacrev
    argnums = tuple(range(k))
    jf = pdx.jacfwd(f, argnums=argnums)(*xs)
    jr = pdx.jacrev(f, argnums=argnums)(*xs)
    for i in range(k):
        assert np.shape(jf[i]) == np.shape(jr[i]) == np.shape(y) + np.shape(xs[i])
        assert _rel_err(jf[i], jr[i]) <= 1e-12, f"jacfwd vs jacrev, argument {i}"
    # the Jacobian contracts to the JVP
    jv_from_j = sum(np.tensordot(np.asarray(jf[i]), v[i], axes=np.ndim(xs[i])) for i in range(k))
    assert _rel_err(jv_from_j, jv) <= 1e-12

    # 4. complex step, when every operation is analytic
    if is_analytic(nodes):
        zs = [x + 1j * CS_STEP * d for x, d in zip(xs, v)]
        cs = np.imag(np.asarray(evaluate(nodes, zs, np))) / CS_STEP
        scale = max(1.0, float(np.max(np.abs(cs))) if cs.size else 1.0)
        err = float(np.max(np.abs(np.asarray(jv) - cs))) / scale if cs.size else 0.0
        assert err <= 1e-10, f"JVP vs complex step: {err:.3g}"
        # and the reverse mode, through <u, J v>
        assert abs(rhs - float(np.sum(u * cs))) <= 1e-10 * max(1.0, float(np.sum(np.abs(u * cs))))

    # 5. jit: the program, its VJP and its JVP, compiled, equal the eager results
    u_arg = u[()] if u.ndim == 0 else u
    copies = [x.copy() for x in xs]
    assert _rel_err(pdx.jit(f)(*xs), y) <= 1e-13
    jit_back = pdx.jit(lambda *a: pdx.vjp(f, *a)[1](u_arg))(*xs)
    for g, want in zip(jit_back, jtu):
        assert _rel_err(g, want) <= 1e-13, "jit(vjp)"
    _, jit_jv = pdx.jit(lambda *a: pdx.jvp(f, a, tuple(v)))(*xs)
    assert _rel_err(jit_jv, jv) <= 1e-13, "jit(jvp)"
    assert all(np.array_equal(x, c) for x, c in zip(xs, copies)), "jit wrote into an input"
    # ... and with every elementwise chain run in tiles of 2 elements (compile/tiling.py)
    with tiling.forced(2):
        assert _rel_err(pdx.jit(f)(*xs), y) <= 1e-13, "tiled jit"
        tiled_back = pdx.jit(lambda *a: pdx.vjp(f, *a)[1](u_arg))(*xs)
    for g, want in zip(tiled_back, jtu):
        assert _rel_err(g, want) <= 1e-13, "tiled jit(vjp)"
    assert all(np.array_equal(x, c) for x, c in zip(xs, copies)), "tiled jit wrote into an input"
    # ... and with elementwise arithmetic fused into native loops (compile/native.py)
    if native.available():
        with native.forced():
            assert _rel_err(pdx.jit(f)(*xs), y) <= 1e-13, "native jit"
            native_back = pdx.jit(lambda *a: pdx.vjp(f, *a)[1](u_arg))(*xs)
        for g, want in zip(native_back, jtu):
            assert _rel_err(g, want) <= 1e-13, "native jit(vjp)"
        assert all(np.array_equal(x, c) for x, c in zip(xs, copies)), "native jit wrote into an input"


# -- the generator itself ----------------------------------------------------------------

@settings(max_examples=50)
@given(nodes=programs())
def test_generated_programs_respect_the_limits(nodes):
    assert n_inputs(nodes) <= 3
    assert len(nodes) - n_inputs(nodes) <= MAX_OPS
    assert max(n.depth for n in nodes) <= MAX_DEPTH
    for n in nodes:
        assert int(np.prod(n.shape)) <= MAX_SIZE and len(n.shape) <= 2
    xs = [np.ones(nodes[i].shape) for i in range(n_inputs(nodes))]
    assert np.shape(evaluate(nodes, xs, np)) == nodes[-1].shape


def test_complex_step_oracle_detects_a_wrong_derivative():
    """The complex-step evaluation is an oracle of the right precision: a rule off by 1e-9 shows."""
    nodes = [Node(kind="input", op="x0", args=(), params={}, shape=(3,), depth=0),
             Node(kind="unary", op="log1p_sq", args=(0,), params={}, shape=(3,), depth=1),
             Node(kind="reduce", op="sum", args=(1,), params={"axis": None, "keepdims": False}, shape=(), depth=2)]
    x = np.array([0.3, -1.2, 0.9])
    v = np.array([1.0, 2.0, -0.5])
    cs = np.imag(evaluate(nodes, [x + 1j * CS_STEP * v], np)) / CS_STEP
    exact = float(np.sum(2 * x / (1 + x ** 2) * v))
    assert abs(cs - exact) <= 1e-15 * abs(exact)
    assert abs(cs - exact * (1 + 1e-9)) > 1e-10 * abs(exact)
    _, jv = pdx.jvp(lambda x: evaluate(nodes, [x], pnp), (x,), (v,))
    assert abs(jv - cs) <= 1e-14 * abs(cs)
