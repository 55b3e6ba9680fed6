"""vmap and the batching rules (partiald.vectorize, partiald.transforms.batching).

The oracle everywhere is a Python loop over the batch stacked with ``np.stack``:

* every registered primitive, on the samples of tests/primitive_specs.py (three
  seeds of one shape/parameter case form a batch of three), with in_axes 0, 1,
  -1 and None mixes: equal to the loop to ``1e-14`` (exactly for integer and
  boolean results); gather and scatter_add also with batched index arrays;
* a registry test fails when a primitive has no batching rule;
* composition: per-example gradients (``vmap(grad)``), ``grad`` through
  ``vmap``, ``vmap`` of ``jvp``/``vjp``/``hessian``/``jacfwd``, ``jit`` either
  side, nested ``vmap``, custom_jvp inside ``vmap``;
* ``chunk_size``, pytree ``in_axes``/``out_axes``, keyword arguments, and the
  error messages;
* ``batched_linear_apply``/``batched_transpose`` against stacked single
  ``jvp``/``vjp`` results, and their timing against the loop on a 200-dim
  logistic-loss Hessian (printed, not asserted).
"""
from __future__ import annotations

import collections
import doctest
import time

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from primitive_specs import _GATHERS, PRIMITIVE_SPECS
from test_random_programs import evaluate, n_inputs, program_text, programs

import partiald as pdx
import partiald.numpy as pnp
import partiald.vectorize
from partiald.core.primitive import REGISTRY, bind
from partiald.transforms.batching import batch_graph, peak_bytes_per_example
from partiald.core.pytree import tree_flatten
from partiald.transforms.jacobian import (batched_linear_apply, batched_transpose, jacobian_blocks,
                                         standard_basis, transpose_graph)
from partiald.vectorize import vmap

TOL = 1e-14


def assert_close(got, want, tol=TOL):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
        return
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)


def loop(f, args, in_axes, out_axis=0):
    """The reference: ``f`` applied example by example, results stacked."""
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)])
            for i in range(size)]
    return np.stack([np.asarray(o) for o in outs], axis=out_axis)


# -- every primitive ----------------------------------------------------------------------------

def _batches(name):
    """(args per seed, params) for each shape/parameter case of the primitive's samples."""
    groups = collections.defaultdict(list)
    for c in PRIMITIVE_SPECS[name].cases():
        if c.base is not None or c.call is None:
            continue
        args, params = c.call
        key = (c.group, tuple(np.shape(a) for a in args), repr(params))
        groups[key].append((args, params))
    return [([a for a, _ in members], members[0][1]) for members in groups.values()]


def _patterns(ranks):
    """in_axes patterns for operands of the given example ranks: 0, 1 (or -1), None mixes."""
    n = len(ranks)
    out = [tuple(0 for _ in ranks), tuple(min(1, r) for r in ranks), tuple(-1 for _ in ranks)]
    if n > 1:
        for i in range(n):
            out.append(tuple((min(i % 2, ranks[j]) if j == i else None) for j in range(n)))
        out.append((None,) + tuple(r for r in ranks[1:]))        # batch axis last, first operand shared
    return list(dict.fromkeys(out))


def _stack(values, axis):
    return np.stack([np.asarray(v) for v in values], axis=axis)


def check_primitive_batch(prim, per_seed, params, pattern):
    base = per_seed[0]
    args = [base[i] if ax is None else _stack([s[i] for s in per_seed], ax) for i, ax in enumerate(pattern)]
    f = lambda *xs: bind(prim, *xs, **params)
    got = vmap(f, in_axes=pattern)(*args)
    want = loop(f, args, [None if ax is None else ax % np.ndim(a) for a, ax in zip(args, pattern)])
    assert_close(got, want)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_primitive_batches_like_a_loop(name):
    prim = REGISTRY[name]
    count = 0
    for per_seed, params in _batches(name):
        ranks = [np.ndim(a) for a in per_seed[0]]
        for pattern in _patterns(ranks):
            try:
                check_primitive_batch(prim, per_seed, params, pattern)
            except AssertionError as e:
                raise AssertionError(f"{name} {params} shapes {[np.shape(a) for a in per_seed[0]]} "
                                     f"in_axes={pattern}: {e}") from None
            count += 1
    assert count >= 5


def test_every_primitive_has_a_batching_rule():
    missing = [name for name, p in REGISTRY.items() if p.batch is None]
    assert missing == [], f"primitives without a batching rule: {missing}"
    assert set(PRIMITIVE_SPECS) >= set(REGISTRY)


def test_a_record_without_a_batching_rule_is_refused_not_looped():
    from partiald.core.errors import BatchingRuleError
    from partiald.core.graph import Eqn, Graph, ShapedArray, Var
    from partiald.core.primitive import Primitive
    import partiald.ops.elementwise as ew
    bare = Primitive("bare_exp", ew.exp_p.impl, ew.exp_p.abstract_eval, jvp=ew.exp_p.jvp)
    x = Var(ShapedArray((3,), np.dtype(np.float64)))
    y = Var(ShapedArray((3,), np.dtype(np.float64)))
    g = Graph([x], [], [], [Eqn(bare, [x], {}, y)], [y])
    with pytest.raises(BatchingRuleError, match="bare_exp.*no batching rule"):
        batch_graph(g, [np.ones((4, 3))], [0])


def _array_axis(spec, k):
    """The axis of the operand that index array ``k`` indexes."""
    pos = next(i for i, e in enumerate(spec) if e == ("array", k))
    return sum(1 for e in spec[:pos] if e[0] != "none")


def _index_batches(shape, spec, arrays, size=3):
    """Per-example index arrays: shifted copies, all in bounds."""
    out = []
    for k, a in enumerate(arrays):
        n = shape[_array_axis(spec, k)]
        out.append([(a + s) % n if n else a for s in range(size)])
    return out


@pytest.mark.parametrize("row", [r for r in _GATHERS if r[2]], ids=lambda r: f"{r[0]}-{r[1]}")
def test_gather_and_scatter_add_with_batched_indices(row, rng):
    shape, spec, arrays = row
    idx_batches = _index_batches(shape, spec, arrays)
    x = rng.standard_normal((3,) + shape)
    gather = lambda x, *a: bind(REGISTRY["gather"], x, *a, spec=spec)
    n_arr = len(arrays)
    patterns = [(0,) + (0,) * n_arr, (None,) + (0,) * n_arr, (1 if len(shape) else 0,) + (-1,) * n_arr]
    patterns += [(0,) + tuple(0 if j == i else None for j in range(n_arr)) for i in range(n_arr)]
    patterns += [(None,) + tuple(0 if j == i else None for j in range(n_arr)) for i in range(n_arr)]
    for pattern in dict.fromkeys(patterns):
        xa = x[0] if pattern[0] is None else np.moveaxis(x, 0, pattern[0])
        args = [xa] + [arrays[k] if ax is None else _stack(idx_batches[k], ax) for k, ax in enumerate(pattern[1:])]
        axes = [None if ax is None else ax % np.ndim(a) for a, ax in zip(args, pattern)]
        assert_close(vmap(gather, in_axes=pattern)(*args), loop(gather, args, axes))
        # scatter_add, the transpose: the cotangent has the gathered shape
        ct_shape = np.shape(gather(np.zeros(shape), *arrays))
        ct = rng.standard_normal((3,) + ct_shape)
        scatter = lambda c, *a: bind(REGISTRY["scatter_add"], c, *a, spec=spec, shape=shape)
        cta = ct[0] if pattern[0] is None else np.moveaxis(ct, 0, min(pattern[0], len(ct_shape)))
        sargs = [cta] + args[1:]
        saxes = [None if pattern[0] is None else min(pattern[0], len(ct_shape))] + axes[1:]
        if all(a is None for a in saxes):
            continue
        assert_close(vmap(scatter, in_axes=tuple(saxes))(*sargs), loop(scatter, sargs, saxes))


def test_batched_index_arrays_through_pnp_indexing(rng):
    X = rng.standard_normal((5, 4, 6))
    idx = rng.integers(0, 4, size=(5, 3))
    f = lambda x, i: x[i, 1:5:2] * 2.0
    assert_close(vmap(f)(X, idx), loop(f, [X, idx], [0, 0]))
    def add_at(x, i):
        out = x.copy()
        np.add.at(out, i, 1.0)
        return out
    assert_close(vmap(lambda x, i: x.at[i].add(1.0))(X, idx), loop(add_at, [X, idx], [0, 0]))
    # a shared traced operand indexed with batched indices: an embedding lookup under grad
    # (a NumPy array cannot be indexed with a traced index: NumPy converts the index)
    W = rng.standard_normal((4, 6))
    lookup = lambda W: pnp.sum(vmap(lambda i: pnp.tanh(W[i]) ** 2)(idx[:, :2]))
    want = pdx.grad(lambda W: sum(pnp.sum(pnp.tanh(W[i]) ** 2) for i in idx[:, :2]))(W)
    assert_close(pdx.grad(lookup)(W), want, 1e-13)


def test_gradients_through_batched_gather_and_einsum(rng):
    X = rng.standard_normal((4, 3, 5))
    idx = rng.integers(0, 3, size=(4, 2))
    w = rng.standard_normal(5)

    def loss(w):
        return pnp.sum(vmap(lambda x, i: pnp.tanh(x[i] @ w))(X, idx) ** 2)

    want = sum(pdx.grad(lambda w: pnp.sum(pnp.tanh(X[b][idx[b]] @ w) ** 2))(w) for b in range(4))
    assert_close(pdx.grad(loss)(w), want, 1e-13)


@settings(max_examples=60, deadline=None)
@given(nodes=programs(), seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_random_programs_batch_like_a_loop(nodes, seed, data):
    """The random programs of test_random_programs.py, each input mapped along a random
    axis or shared, and their per-example gradients."""
    note(program_text(nodes))
    k = n_inputs(nodes)
    axes = [data.draw(st.one_of(st.none(), st.integers(0, len(nodes[i].shape))), label=f"axis {i}")
            for i in range(k)]
    if all(a is None for a in axes):
        axes[0] = 0
    rng = np.random.default_rng(seed)
    xs = []
    for i, a in enumerate(axes):
        shape = nodes[i].shape
        xs.append(rng.uniform(-1.5, 1.5, shape if a is None else shape[:a] + (3,) + shape[a:]))
    f = lambda *args: evaluate(nodes, args, pnp)
    want = loop(lambda *args: evaluate(nodes, args, np), xs, axes)
    assert_close(vmap(f, in_axes=tuple(axes))(*xs), want, 1e-12)
    g = pdx.grad(lambda *args: pnp.sum(f(*args)), argnums=tuple(range(k)))
    got = vmap(g, in_axes=tuple(axes), chunk_size=2)(*xs)
    for j in range(k):
        assert_close(got[j], loop(lambda *args: g(*args)[j], xs, axes), 1e-12)


# -- composition with derivatives ------------------------------------------------------------------

def _logistic_loss(w, x, y):
    z = pnp.dot(x, w["w"]) + w["b"]
    return pnp.logaddexp(0.0, -y * z)


@pytest.fixture
def data(rng):
    X = rng.standard_normal((7, 4))
    y = np.sign(rng.standard_normal(7))
    params = {"w": rng.standard_normal(4), "b": np.array(0.3)}
    return params, X, y


def test_per_example_gradients(data):
    params, X, y = data
    got = vmap(pdx.grad(_logistic_loss), in_axes=(None, 0, 0))(params, X, y)
    for k in ("w", "b"):
        want = np.stack([np.asarray(pdx.grad(_logistic_loss)(params, X[i], y[i])[k]) for i in range(len(X))])
        assert_close(got[k], want)


def test_grad_of_a_function_that_calls_vmap(data):
    params, X, y = data
    batched = lambda p: pnp.sum(vmap(_logistic_loss, in_axes=(None, 0, 0))(p, X, y))
    looped = lambda p: sum(_logistic_loss(p, X[i], y[i]) for i in range(len(X)))
    got, want = pdx.grad(batched)(params), pdx.grad(looped)(params)
    for k in ("w", "b"):
        assert_close(got[k], want[k], 1e-13)
    # closing over a traced value instead of passing it
    w = params["w"]
    f = lambda w: pnp.sum(vmap(lambda x: pnp.sin(x @ w))(X))
    assert_close(pdx.grad(f)(w), pdx.grad(lambda w: pnp.sum(pnp.sin(X @ w)))(w), 1e-13)
    # second order through vmap
    H = pdx.hessian(lambda w: pnp.sum(vmap(lambda x: pnp.tanh(x @ w) ** 2)(X)))(w)
    assert_close(H, pdx.hessian(lambda w: pnp.sum(pnp.tanh(X @ w) ** 2))(w), 1e-13)


def test_vmap_of_jvp_vjp_and_hessian(rng):
    f = lambda x: pnp.sin(x) * pnp.sum(x ** 2) + pnp.exp(x[::-1])
    X, V = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    jv = lambda x, v: pdx.jvp(f, (x,), (v,))
    got = vmap(jv)(X, V)
    for j in range(2):
        assert_close(got[j], loop(lambda x, v: jv(x, v)[j], [X, V], [0, 0]))
    vj = lambda x, u: pdx.vjp(f, x)[1](u)[0]
    assert_close(vmap(vj)(X, V), loop(vj, [X, V], [0, 0]))
    g = lambda x: pnp.sum(pnp.sin(x) * x[0]) + pnp.prod(x)
    assert_close(vmap(pdx.hessian(g))(X), loop(pdx.hessian(g), [X], [0]))
    assert_close(vmap(pdx.jacfwd(f), in_axes=1, out_axes=2)(X.T), loop(pdx.jacfwd(f), [X.T], [1], 2))
    assert_close(vmap(pdx.jacrev(f))(X), loop(pdx.jacrev(f), [X], [0]))


def test_derivatives_of_vmap(rng):
    f = lambda x: pnp.sin(x) * pnp.sum(x ** 2)
    X = rng.standard_normal((3, 2))
    J = pdx.jacfwd(vmap(f))(X)               # block diagonal: examples do not interact
    want = np.zeros((3, 2, 3, 2))
    for i in range(3):
        want[i, :, i, :] = pdx.jacfwd(f)(X[i])
    assert_close(J, want, 1e-13)
    assert_close(pdx.jacrev(vmap(f))(X), want, 1e-13)
    _, t = pdx.jvp(vmap(f), (X,), (np.ones_like(X),))
    assert_close(t, np.einsum("ijkl,kl->ij", want, np.ones_like(X)), 1e-13)


def test_nested_vmap(rng):
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    kernel = lambda x, y: pnp.exp(-pnp.sum((x - y) ** 2))
    K = vmap(vmap(kernel, in_axes=(None, 0)), in_axes=(0, None))(X, Y)
    want = np.array([[kernel(x, y) for y in Y] for x in X])
    assert_close(K, want)
    # both levels mapped, non-zero axes, and an inner out_axes
    Z = rng.standard_normal((3, 4, 5))
    g = lambda z: z * pnp.sum(z)
    got = vmap(vmap(g, in_axes=1, out_axes=1), in_axes=2, out_axes=0)(Z)
    want = np.stack([np.stack([g(Z[:, j, k]) for j in range(4)], axis=1) for k in range(5)], axis=0)
    assert_close(got, want)
    # per-example Hessians of a nested function
    H = vmap(pdx.hessian(lambda x: pnp.sum(vmap(lambda a: a * pnp.sin(a))(x))))(X)
    assert_close(H, np.stack([np.diag(2 * np.cos(x) - x * np.sin(x)) for x in X]), 1e-13)


def test_jit_either_side(rng):
    f = lambda x, w: pnp.tanh(x @ w)
    X, w = rng.standard_normal((6, 3)), rng.standard_normal(3)
    want = loop(f, [X, w], [0, None])
    assert_close(pdx.jit(vmap(f, in_axes=(0, None)))(X, w), want)
    assert_close(vmap(pdx.jit(f), in_axes=(0, None))(X, w), want)


def test_custom_jvp_and_checkpoint_inside_vmap(rng):
    @pdx.custom_jvp
    def softplus(x):
        return pnp.log1p(pnp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * pdx.nn.sigmoid(x)

    X = rng.standard_normal((4, 3))
    assert_close(vmap(softplus)(X), np.log1p(np.exp(X)))
    g = vmap(pdx.grad(lambda x: pnp.sum(softplus(x))))(X)
    assert_close(g, 1 / (1 + np.exp(-X)), 1e-13)
    h = pdx.checkpoint(lambda x: pnp.sin(pnp.sin(x)))
    assert_close(vmap(pdx.grad(lambda x: pnp.sum(h(x))))(X), np.cos(np.sin(X)) * np.cos(X), 1e-13)


def test_linear_algebra_batches(rng):
    A = rng.uniform(-1, 1, (4, 3, 3)) + 3 * np.eye(3)
    B = rng.standard_normal((4, 3))
    solve = pnp.linalg.solve
    assert_close(vmap(solve)(A, B), loop(solve, [A, B], [0, 0]))
    assert_close(vmap(solve, in_axes=(None, 0))(A[0], B), loop(solve, [A[0], B], [None, 0]))
    assert_close(vmap(pnp.linalg.det)(A), loop(pnp.linalg.det, [A], [0]))
    assert_close(vmap(pnp.linalg.inv)(A), loop(pnp.linalg.inv, [A], [0]))
    # gradients through batched solve and det
    f = lambda a, b: pnp.sum(solve(a, b)) + pnp.linalg.det(a)
    got = vmap(pdx.grad(f, argnums=(0, 1)))(A, B)
    for j in range(2):
        assert_close(got[j], loop(lambda a, b: pdx.grad(f, argnums=(0, 1))(a, b)[j], [A, B], [0, 0]), 1e-13)
    lhs = lambda b: pnp.sum(vmap(lambda b: solve(A[0], b) ** 2)(b))
    assert_close(pdx.grad(lhs)(B), pdx.grad(lambda b: pnp.sum(solve(A[0], b.T) ** 2))(B), 1e-13)


def test_dtypes_and_empty_batches(rng):
    x32 = rng.standard_normal((4, 3)).astype(np.float32)
    out = vmap(lambda x: pnp.exp(x) * 2.0 + pnp.sum(x))(x32)
    assert out.dtype == np.float32
    assert vmap(pdx.grad(lambda x: pnp.sum(x ** 2)))(x32).dtype == np.float32
    ints = np.arange(12).reshape(4, 3)
    assert_close(vmap(lambda i: pnp.argmax(-(i - 4) ** 2))(ints), np.array([2, 1, 0, 0]))
    empty = np.zeros((0, 3))
    assert vmap(lambda x: pnp.sum(pnp.sin(x)))(empty).shape == (0,)
    assert vmap(pnp.linalg.det)(np.zeros((0, 2, 2))).shape == (0,)


# -- chunking, axes, keyword arguments --------------------------------------------------------------

def test_chunk_size_gives_identical_results(rng):
    # bitwise for elementwise work and reductions; contractions (np.einsum) may round
    # differently for a different number of rows, so those agree to 1e-14
    X, W = rng.standard_normal((10, 4)), rng.standard_normal((4, 3))
    f = lambda x, w: (pnp.tanh(x[:, None] * w), pnp.sum(x ** 2), w * 2.0, pnp.tanh(x @ w))
    full = vmap(f, in_axes=(0, None), out_axes=(0, 0, 1, 0))(X, W)
    for chunk in (1, 3, 4, 10, 99):
        got = vmap(f, in_axes=(0, None), out_axes=(0, 0, 1, 0), chunk_size=chunk)(X, W)
        for a, b in zip(got[:3], full[:3]):
            np.testing.assert_array_equal(a, b)
        assert_close(got[3], full[3])
    g = vmap(pdx.grad(lambda x: pnp.sum(pnp.sin(x) * x)), chunk_size=3)
    np.testing.assert_array_equal(g(X), vmap(pdx.grad(lambda x: pnp.sum(pnp.sin(x) * x)))(X))
    # chunked vmap under grad
    loss = lambda w, c: pnp.sum(vmap(lambda x: pnp.tanh(x @ w), chunk_size=c)(X))
    np.testing.assert_allclose(pdx.grad(lambda w: loss(w, 3))(W[:, 0]), pdx.grad(lambda w: loss(w, None))(W[:, 0]),
                               rtol=1e-15, atol=1e-15)


def test_traced_once(rng):
    calls = []

    def f(x):
        calls.append(type(x).__name__)
        return x * 2.0
    vmap(f, chunk_size=2)(rng.standard_normal((7, 2)))
    assert calls == ["Tracer"]


def test_pytree_axes(rng):
    a, b, c = rng.standard_normal((3, 2)), rng.standard_normal((2, 3)), rng.standard_normal(4)

    def f(tree, c):
        return {"s": tree["a"] * tree["b"], "t": (pnp.sum(tree["a"]) * c, c)}
    got = vmap(f, in_axes=({"a": 0, "b": 1}, None), out_axes={"s": 1, "t": (0, None)})({"a": a, "b": b}, c)
    assert_close(got["s"], (a * b.T).T)
    assert_close(got["t"][0], a.sum(1)[:, None] * c)
    assert got["t"][1] is c or np.array_equal(got["t"][1], c)
    # in_axes as a list, a tuple prefix, negative axes, keyword arguments (mapped along 0)
    g = lambda x, pair, scale=1.0: (x + pair[0]) * pair[1] * scale
    want = (a + b.T) * c[:3, None] * 2.0
    assert_close(vmap(g, in_axes=[0, (1, 0)])(a, (b, c[:3]), scale=np.full(3, 2.0)), want)
    assert_close(vmap(g, in_axes=(-2, (-1, -1)))(a, (b, c[:3]), scale=np.full(3, 2.0)), want)
    # an output that does not depend on the batch is broadcast (out_axes not None) or kept
    h = lambda x: (x * 2.0, np.ones(2))
    out = vmap(h, out_axes=(0, 1))(a)
    assert_close(out[1], np.ones((2, 3)))
    assert vmap(h, out_axes=(0, None))(a)[1].shape == (2,)
    # results never alias the inputs
    ident = vmap(lambda x: x)(a)
    assert ident is not a and not np.may_share_memory(ident, a)
    np.testing.assert_array_equal(ident, a)


# -- errors ----------------------------------------------------------------------------------------

def test_mismatched_sizes_name_both():
    with pytest.raises(ValueError, match=r"inconsistent sizes.*size 3 along axis 0.*size 4 along axis 1"):
        vmap(lambda x, y: x + y, in_axes=(0, 1))(np.ones((3, 2)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"argument 0\['b'\] has size 2"):
        vmap(lambda t: t["a"] + t["b"])({"a": np.ones(3), "b": np.ones(2)})


def test_control_flow_on_batched_values_names_where():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(pdx.TracerConversionError, match="pnp.where"):
        vmap(f)(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(vmap(lambda x: pnp.where(x > 0, x, -x))(np.array([1.0, -2.0])), [1.0, 2.0])
    # shapes are known: control flow on them is fine
    assert vmap(lambda x: x * 2 if x.shape == (3,) else x)(np.ones((2, 3)))[0, 0] == 2


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: vmap(pnp.sin, in_axes="0")(np.ones(3)), TypeError, "in_axes must be an int, None"),
    (lambda: vmap(pnp.sin, in_axes=(0, 0))(np.ones(3)), ValueError, "2 entries.*1 positional"),
    (lambda: vmap(pnp.sin, in_axes=2)(np.ones((3, 2))), ValueError, r"in_axes=2 is out of range.*\(3, 2\)"),
    (lambda: vmap(pnp.sin)(1.0), ValueError, "scalar"),
    (lambda: vmap(pnp.add, in_axes=(None, None))(np.ones(3), np.ones(3)), ValueError, "at least one mapped"),
    (lambda: vmap(pnp.sin, in_axes={"a": 0})(np.ones(3)), TypeError, "tuple with one entry"),
    (lambda: vmap(lambda t: t["a"], in_axes=({"b": 0},))({"a": np.ones(3)}), ValueError,
     r"does not match the structure of argument 0"),
    (lambda: vmap(lambda t: t[0], in_axes=((0, 0, 0),))((np.ones(3), np.ones(3))), ValueError,
     "does not match the structure"),
    (lambda: vmap(pnp.sin, out_axes=None)(np.ones(3)), ValueError, "out_axes is None for output"),
    (lambda: vmap(pnp.sin, out_axes=3)(np.ones(3)), ValueError, "out_axes=3 is out of range"),
    (lambda: vmap(pnp.sin, out_axes=1.5), TypeError, "out_axes must be an int"),
    (lambda: vmap(pnp.sin, chunk_size=0), ValueError, "chunk_size must be a positive int"),
    (lambda: vmap(lambda x: "s")(np.ones(3)), TypeError, "returned a str"),
])
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# -- batched Jacobian helpers ------------------------------------------------------------------------

def _two_in_two_out(a, b):
    return {"u": pnp.sin(a) * pnp.sum(b), "v": pnp.tanh(a @ b)}


def test_batched_linear_apply_and_transpose_match_jvp_and_vjp(rng):
    a, b = rng.standard_normal(3), rng.standard_normal((3, 2))
    f = lambda a, b: _two_in_two_out(a, b[:, 0] * b[:, 1])
    _, f_jvp = pdx.linearize(f, a, b)
    lin = f_jvp.graph
    k = 5
    ta, tb = rng.standard_normal((k, 3)), rng.standard_normal((k, 3, 2))
    outs = batched_linear_apply(lin, [ta, tb])
    for i in range(k):
        want = pdx.jvp(f, (a, b), (ta[i], tb[i]))[1]
        assert_close(outs[0][i], want["u"])
        assert_close(outs[1][i], want["v"])
    for chunk in (1, 2, 5):
        for got, full in zip(batched_linear_apply(lin, [ta, tb], chunk_size=chunk), outs):
            assert_close(got, full)
    cu, cv = rng.standard_normal((k, 3)), rng.standard_normal(k)
    cts = batched_transpose(lin, [cu, cv])
    _, back = pdx.vjp(f, a, b)
    for i in range(k):
        ga, gb = back({"u": cu[i], "v": cv[i]})
        assert_close(cts[0][i], ga)
        assert_close(cts[1][i], gb)
    for chunk in (1, 3):
        for got, full in zip(batched_transpose(lin, [cu, cv], chunk_size=chunk), cts):
            assert_close(got, full)
    # a zero cotangent for one output
    only_v = batched_transpose(lin, [None, cv])
    for i in range(k):
        assert_close(only_v[0][i], back({"u": np.zeros(3), "v": cv[i]})[0])
    assert transpose_graph(lin) is transpose_graph(lin)          # traced once


def jacobian_via_blocks(f, mode, chunk_size=None):
    """A Jacobian function wired the way api.jacfwd/jacrev can use jacobian_blocks."""
    def jac(*xs):
        out, f_jvp = pdx.linearize(f, *xs)
        ins, outs = tree_flatten(xs)[0], tree_flatten(out)[0]
        ins = [np.asarray(x) if isinstance(x, float) else x for x in ins]
        blocks = jacobian_blocks(f_jvp.graph, ins, outs, mode, chunk_size)
        return blocks[0][0] if len(ins) == 1 and len(outs) == 1 else blocks
    return jac


def test_jacobian_blocks_match_jacfwd(rng):
    f = lambda a, b: (pnp.sin(a)[:, None] * b, pnp.sum(b ** 2) * a[0], pnp.argmax(a))
    a, b = rng.standard_normal(3), rng.standard_normal((3, 2))
    want = pdx.jacfwd(f, argnums=(0, 1))(a, b)
    for mode in ("fwd", "rev"):
        for chunk in (None, 1, 4, 100):
            got = jacobian_via_blocks(f, mode, chunk)(a, b)
            for i in range(3):
                for j in range(2):
                    assert_close(got[i][j], want[i][j])
    a32 = a.astype(np.float32)
    for mode in ("fwd", "rev"):
        assert jacobian_via_blocks(lambda a: pnp.sin(a) * 2.0, mode)(a32).dtype == np.float32
    empty = jacobian_via_blocks(lambda a: pnp.sum(a), "fwd")(np.zeros(0))
    assert empty.shape == (0,)
    with pytest.raises(ValueError, match="mode must be"):
        jacobian_blocks(pdx.linearize(pnp.sin, a)[1].graph, [a], [a], "both")


def test_hessian_from_nested_jacobian_blocks(rng):
    g = lambda x: pnp.sum(pnp.sin(x) * x[::-1]) * pnp.prod(x[:2]) + pnp.linalg.det(pnp.outer(x, x) + np.eye(3))
    x = rng.standard_normal(3)
    want = pdx.hessian(g)(x)
    for outer, inner in (("fwd", "rev"), ("rev", "fwd"), ("fwd", "fwd"), ("rev", "rev")):
        for chunk in (None, 2):
            H = jacobian_via_blocks(jacobian_via_blocks(g, inner, chunk), outer, chunk)(x)
            assert_close(H, want, 1e-12)
    # under vmap, jit and grad
    hess = jacobian_via_blocks(jacobian_via_blocks(g, "rev", 2), "fwd", 2)
    X = rng.standard_normal((4, 3))
    assert_close(vmap(hess)(X), loop(pdx.hessian(g), [X], [0]), 1e-12)
    assert_close(pdx.jit(hess)(x), want, 1e-12)
    assert_close(pdx.grad(lambda x: pnp.sum(hess(x)))(x), pdx.grad(lambda x: pnp.sum(pdx.hessian(g)(x)))(x), 1e-12)


def _logistic(X, y):
    def loss(w):
        z = X @ w
        return pnp.mean(pnp.logaddexp(0.0, -y * z)) + 1e-3 * pnp.sum(w ** 2)
    return loss


def test_hessian_columns_batched_vs_loop(rng):
    n, d = 500, 200
    X, y = rng.standard_normal((n, d)), np.sign(rng.standard_normal(n))
    w = rng.standard_normal(d) * 0.1
    loss = _logistic(X, y)
    _, hvp = pdx.linearize(pdx.grad(loss), w)
    lin = hvp.graph
    basis = standard_basis([w])
    t0 = time.perf_counter()
    H = batched_linear_apply(lin, basis)[0]
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    H_loop = np.stack([hvp(e) for e in np.eye(d)])
    t_loop = time.perf_counter() - t0
    assert_close(H, H_loop)
    t0 = time.perf_counter()
    Ht = batched_transpose(lin, basis)[0]
    t_transpose = time.perf_counter() - t0
    _, back = pdx.vjp(pdx.grad(loss), w)
    t0 = time.perf_counter()
    Ht_loop = np.stack([back(e)[0] for e in np.eye(d)])
    t_transpose_loop = time.perf_counter() - t0
    assert_close(Ht, Ht_loop)
    p = 1 / (1 + np.exp(y * (X @ w)))
    assert_close(H, (X.T * (p * (1 - p))) @ X / n + 2e-3 * np.eye(d), 1e-12)
    print(f"\n200-dim logistic Hessian ({n}x{d} data): batched_linear_apply {t_batched * 1e3:.1f} ms vs "
          f"{d} JVPs {t_loop * 1e3:.1f} ms; batched_transpose {t_transpose * 1e3:.1f} ms vs "
          f"{d} VJPs {t_transpose_loop * 1e3:.1f} ms")


def test_batch_graph_directly(rng):
    g = pdx.make_graph(lambda x, y: pnp.sum(x * y, axis=0))(np.ones((2, 3)), np.ones(3))
    X = rng.standard_normal((2, 4, 3))
    outs, dims = batch_graph(g, [X, np.arange(3.0)], [1, None])
    got = np.moveaxis(outs[0], dims[0], 0)
    assert_close(got, np.stack([np.sum(X[:, i] * np.arange(3.0), axis=0) for i in range(4)]))


def test_peak_bytes_per_example():
    g = pdx.make_graph(lambda x: pnp.sin(x) * 2.0)(np.ones(1000))
    assert peak_bytes_per_example(g) == 16000        # x and sin(x), then sin(x) and the product
    lin = pdx.linearize(lambda x: pnp.sum(pnp.tanh(x) ** 2), np.ones(100, np.float32))[1].graph
    assert 0 < peak_bytes_per_example(lin) <= 4 * 100 * len(lin.eqns) + 400


def test_docstring_examples_run():
    result = doctest.testmod(partiald.vectorize, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                             extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0


def test_take_indexes_a_numpy_array_by_traced_rows():
    """``pnp.take(X, i, axis=0)`` with ``i`` traced: per-example losses over row indices
    under vmap and jit, equal to the loop; the gradient in X scatters back and
    repeated indices accumulate (checked against finite differences)."""
    rng = np.random.default_rng(3)
    X, w = rng.normal(size=(6, 3)), rng.normal(size=3)
    rows = np.array([4, 0, 4, 2])
    loss = lambda w, i: pnp.tanh(pnp.sum(pnp.take(X, i, axis=0) * w))   # noqa: E731
    want = np.array([np.tanh(X[i] @ w) for i in rows])
    np.testing.assert_allclose(vmap(loss, in_axes=(None, 0))(w, rows), want, rtol=1e-14)
    np.testing.assert_allclose(pdx.jit(vmap(loss, in_axes=(None, 0)))(w, rows), want, rtol=1e-14)
    per_example = vmap(pdx.grad(loss), in_axes=(None, 0))(w, rows)
    np.testing.assert_allclose(per_example, [(1 - np.tanh(X[i] @ w) ** 2) * X[i] for i in rows], rtol=1e-13)
    pdx.check_grads(lambda X: pnp.sum(pnp.take(X, np.array([[5, 1], [1, 1]])) ** 2), (X,), order=2)
    pdx.check_grads(lambda X: pnp.sum(pnp.sin(pnp.take(X, rows, axis=0))), (X,), order=2)
    np.testing.assert_array_equal(pnp.take(X, [5, 1]), np.take(X, [5, 1]))
    np.testing.assert_array_equal(pnp.take(X, [2, 0], axis=-1), np.take(X, [2, 0], axis=-1))
    with pytest.raises(TypeError, match="integers"):
        pnp.take(X, [1.5])
    with pytest.raises(IndexError, match="out of bounds"):
        pnp.take(X, [7], axis=0)
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        pnp.take(X, [1], axis=2)
