"""The plan cache of sparse_jacobian / sparse_hessian (partiald.sparse).

One plan (pattern, coloring, compiled products, CSR scatter indices) per input
signature; every check compares against the dense ``pdx.hessian`` /
``pdx.jacobian`` at the same point, and the patterns against the eager
(value-aware) detection:

* a plan is reused across points and across new values of the other arguments,
  and a new shape, dtype, pytree structure or static int argument gets its own;
* functions that need values (Python control flow, index arrays or masks
  computed from or passed as arguments) run per call and stay exact;
* a plan whose compiled products fail falls back to eager products;
* results are the caller's: modifying one does not change the next;
* errors repeat at every call; the cache is bounded.
No timings here (bench/ measures them).
"""
from __future__ import annotations

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import sparse as psp
from partiald.sparse import hessian_sparsity, jacobian_sparsity, sparse_hessian, sparse_jacobian
from partiald.transforms import sparsity as S

sp = pytest.importorskip("scipy.sparse")

TOL = 1e-12


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def points(n, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, n).astype(dtype) for _ in range(k)]


def assert_hessian(H, f, x, *rest, rtol=TOL, atol=TOL):
    dense = pdx.hessian(lambda v: f(v, *rest))(x)
    n = np.size(x)
    np.testing.assert_allclose(H.toarray(), np.reshape(dense, (n, n)), rtol=rtol, atol=atol)


def test_one_plan_per_signature_reused_across_points():
    sh = sparse_hessian(rosen, return_info=True)
    first = None
    for x in points(40):
        x0 = x.copy()
        H, info = sh(x)
        np.testing.assert_array_equal(x, x0)            # the input is not modified
        assert_hessian(H, rosen, x)
        assert info.n_colors == 3 and H.nnz == 3 * 40 - 2
        assert first is None or info is first          # the cached plan's info
        first = info
    assert sh.cache_size() == 1
    # the pattern from the shape-only trace is the eager one
    np.testing.assert_array_equal(first.pattern.toarray(), hessian_sparsity(rosen)(points(40)[0]).toarray())
    sh(np.ones(41))                                    # a new shape: a second plan
    sh(np.ones(40, np.float32))                        # a new dtype: a third
    assert sh.cache_size() == 3
    sh(points(40)[1])
    assert sh.cache_size() == 3


def test_float32_matrix_and_pytree_arguments():
    sh = sparse_hessian(rosen)
    for x in points(12, dtype=np.float32):
        H = sh(x)
        assert H.dtype == np.float32
        assert_hessian(H, rosen, x, rtol=1e-5, atol=1e-4)

    def f(X):
        return pnp.sum(pnp.sin(X) * X[:, ::-1]) + pnp.sum(X[1:] * X[:-1])
    sh = sparse_hessian(f)
    for s in range(3):
        X = np.random.default_rng(s).uniform(-1, 1, (3, 4))
        np.testing.assert_allclose(sh(X).toarray(), pdx.hessian(f)(X).reshape(12, 12), rtol=TOL, atol=TOL)
    assert sh.cache_size() == 1

    def loss(p):
        return pnp.sum((p["w"] * p["w"][::-1]) ** 2) * p["b"] + pnp.sum(p["v"] ** 3)
    sh = sparse_hessian(loss)
    for s in range(3):
        rng = np.random.default_rng(s)
        p = {"w": rng.uniform(-1, 1, 4), "b": float(rng.uniform()), "v": rng.uniform(-1, 1, (2, 2)).astype(np.float32)}
        flat, unravel = pdx.ravel_pytree(p)
        dense = pdx.hessian(lambda v: loss(unravel(v)))(flat)
        np.testing.assert_allclose(sh(p).toarray(), dense, rtol=1e-6, atol=1e-6)
    assert sh.cache_size() == 1
    # a Python float argument, and a scalar output of a scalar
    s3 = sparse_hessian(lambda t: t ** 3)
    assert s3(2.0).toarray()[0, 0] == 12.0 and s3(1.0).toarray()[0, 0] == 6.0


def test_other_arguments_are_traced_or_static():
    def f(x, data, scale, k):
        return scale * pnp.sum((data * x[:k] - x[1:k + 1] ** 2) ** 2)
    sh = sparse_hessian(f)
    x = points(10)[0]
    for s in range(3):
        data = np.random.default_rng(s).uniform(-1, 1, 6)
        scale = 1.0 + s
        H = sh(x, data, scale, 6)
        assert_hessian(H, f, x, data, scale, 6)
    assert sh.cache_size() == 1                          # new data and scale: the same plan
    data = np.random.default_rng(7).uniform(-1, 1, 8)
    H = sh(x, data, scale, 8)                          # k is an int: part of the signature
    assert_hessian(H, f, x, data, scale, 8)
    assert sh.cache_size() == 2
    # argnums and keyword arguments
    g = lambda d, v, *, w: pnp.sum(w * pnp.exp(v[1:] * v[:-1]) * d)  # noqa: E731
    sj = sparse_hessian(g, argnums=1)
    for s in range(2):
        d, w = np.random.default_rng(s).uniform(-1, 1, (2, 9))
        H = sj(d, x, w=w)
        dense = pdx.hessian(lambda v: g(d, v, w=w))(x)
        np.testing.assert_allclose(H.toarray(), dense, rtol=TOL, atol=TOL)
    assert sj.cache_size() == 1


def test_value_dependent_functions_run_per_call_and_stay_exact():
    def branchy(x):                       # Python control flow on a value
        if x[0] > 0:
            return pnp.sum(x[1:] * x[:-1])
        return pnp.sum(pnp.exp(x) ** 2)

    def argmax_gather(x):                 # an index computed from the input
        i = pnp.argmax(x)
        return pnp.sum(x * x[i]) + pnp.sum(pnp.sin(x))

    def index_argument(x, idx):           # an index array passed as an argument
        return pnp.sum(x[idx] ** 2 * x[1:])

    def mask_argument(x, mask):           # a constant mask passed as an argument
        return pnp.sum(pnp.where(mask, x ** 3, x)) + pnp.sum(x[1:] * x[:-1])

    idx = np.array([0, 3, 3, 5, 1, 2, 0, 4])
    mask = np.arange(9) % 3 == 0
    cases = [(branchy, ()), (argmax_gather, ()), (index_argument, (idx,)), (mask_argument, (mask,))]
    for f, rest in cases:
        sh = sparse_hessian(f, return_info=True)
        for x in points(9, 4, seed=3):
            H, info = sh(x, *rest)
            assert_hessian(H, f, x, *rest)
            # the pattern is the value-aware one, as detected from a trace with values
            eager = hessian_sparsity(f)(x, *rest)
            np.testing.assert_array_equal(info.pattern.toarray(), eager.toarray())
        assert sh.cache_size() == 0, f.__name__
    # the same for Jacobians
    gj = sparse_jacobian(lambda x, idx: x[idx] * x[1:])
    x = points(9)[0]
    J = gj(x, idx)
    np.testing.assert_allclose(J.toarray(), pdx.jacobian(lambda v: v[idx] * v[1:])(x), rtol=TOL, atol=TOL)
    assert J.nnz < 20 and gj.cache_size() == 0


def test_constant_masks_and_index_arrays_in_the_closure_are_used():
    mask = np.arange(9) % 3 == 0
    idx = np.array([0, 3, 3, 5, 1, 2, 0, 4])

    def f(x):
        return pnp.sum(pnp.where(mask, x ** 3, x)) + pnp.sum(x[idx] ** 2 * x[1:])
    sh = sparse_hessian(f, return_info=True)
    for x in points(9):
        H, info = sh(x)
        assert_hessian(H, f, x)
    assert sh.cache_size() == 1
    np.testing.assert_array_equal(info.pattern.toarray(), hessian_sparsity(f)(x).toarray())


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_plans(mode):
    def f(x, a):
        return {"u": pnp.sin(x[1:]) * x[:-1] * a, "s": pnp.sum(x ** 2)[None]}
    sj = sparse_jacobian(f, mode=mode, return_info=True)
    for s, x in enumerate(points(7)):
        a = float(s + 1)
        J, info = sj(x, a)
        flat = lambda v: pnp.concatenate([f(v, a)["s"], f(v, a)["u"]])  # noqa: E731  (dict keys sorted)
        np.testing.assert_allclose(J.toarray(), pdx.jacobian(flat)(x), rtol=TOL, atol=TOL)
        np.testing.assert_array_equal(info.pattern.toarray(), jacobian_sparsity(lambda v: f(v, a))(x).toarray())
        assert info.mode == mode or mode == "auto"
    assert sj.cache_size() == 1
    # an output that does not depend on x, and an empty pattern
    z = sparse_jacobian(lambda x: np.ones(3))(points(4)[0])
    assert z.shape == (3, 4) and z.nnz == 0
    zh = sparse_hessian(lambda x: pnp.sum(3.0 * x), return_info=True)
    for x in points(5, 2):
        H, info = zh(x)
        assert H.shape == (5, 5) and H.nnz == 0 and info.n_colors == 0


def test_compiled_products_fall_back_to_eager_ones():
    @pdx.custom_vjp
    def odd_grad(y):
        return y * y

    def fwd(y):
        return y * y, y

    def bwd(y, ct):
        float(pnp.sum(ct))        # needs the cotangent's value: not traceable under jit
        return (2.0 * y * ct,)
    odd_grad.defvjp(fwd, bwd)
    f = lambda x: odd_grad(x[1:]) * x[:-1]  # noqa: E731
    sj = sparse_jacobian(f, mode="rev")
    for x in points(6):
        J = sj(x)
        np.testing.assert_allclose(J.toarray(), pdx.jacrev(f)(x), rtol=TOL, atol=TOL)
    assert sj.cache_size() == 1
    plan = next(iter(sj._cache.plans.values()))
    assert plan.evaluate == plan.eager
    # a typical function runs its compiled products
    sh = sparse_hessian(rosen)
    sh(points(6)[0])
    plan = next(iter(sh._cache.plans.values()))
    assert plan.evaluate == plan.compiled


def test_results_are_the_callers():
    sh = sparse_hessian(rosen)
    x = points(30)[0]
    H = sh(x)
    ref = H.toarray()
    H.data[:] = 0.0
    H.eliminate_zeros()                          # rewrites indices and indptr in place
    H.indices[:] = 0
    H2 = sh(x)
    np.testing.assert_array_equal(H2.toarray(), ref)
    assert not np.shares_memory(H2.indices, sh(x).indices)


def test_sparsity_argument_with_plans():
    x = points(50)[0]
    H, info = sparse_hessian(rosen, return_info=True)(x)
    again = sparse_hessian(rosen, sparsity=info, return_info=True)
    for y in points(50, seed=5):
        H2, info2 = again(y)
        assert info2 is info
        assert_hessian(H2, rosen, y)
    assert again.cache_size() == 1
    with pytest.raises(ValueError, match="shape"):
        again(x[:10])
    with pytest.raises(ValueError, match="shape"):        # not cached: raises again
        again(x[:10])
    given = sparse_hessian(rosen, sparsity=np.triu(info.pattern.toarray()))   # symmetrized
    assert_hessian(given(x), rosen, x)


def test_errors_repeat_at_every_call():
    sh = sparse_hessian(lambda x: x ** 2)
    for _ in range(2):
        with pytest.raises(TypeError, match="sparse_jacobian"):
            sh(np.ones(3))
    for _ in range(2):
        with pytest.raises(TypeError, match="float64"):
            sparse_hessian(rosen)(np.arange(4))
    with pytest.raises(TypeError, match="inside another transformation"):
        pdx.grad(lambda x: sparse_hessian(rosen)(x).sum())(np.ones(3))
    with pytest.raises(TypeError, match="inside another transformation"):
        pdx.grad(lambda c: sparse_hessian(lambda x, c: pnp.sum(c * x ** 3))(np.ones(3), c).sum())(1.0)
    with pytest.raises(ValueError, match="argnums"):
        sparse_hessian(rosen, argnums=2)(np.ones(3))


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(psp, "CACHE_SIZE", 2)
    sh = sparse_hessian(rosen)
    for n in (5, 6, 7, 8):
        assert_hessian(sh(points(n)[0]), rosen, points(n)[0])
        assert sh.cache_size() <= 2


def test_strict_analysis_reports_needed_values():
    b_idx = np.array([2, 0, 1])

    def f(x, idx):
        return pnp.sum(x[idx] * x)
    graph = pdx.make_graph(f)(np.ones(3), b_idx)
    # a trace with values: the gather's index array is known, with or without strict
    np.testing.assert_array_equal(S.hessian_pattern(graph, wrt=1, strict=True).toarray(),
                                  S.hessian_pattern(graph, wrt=1).toarray())
    from partiald.core.graph import ShapedArray
    from partiald.core.trace import Builder
    b = Builder("test")
    tx, ti = b.new_arg(ShapedArray((3,), np.float64)), b.new_arg(ShapedArray((3,), np.int64))
    g = b.finish([tx._var, ti._var], [f(tx, ti)])
    assert S.hessian_pattern(g, wrt=1).nnz == 9           # not strict: conservative (dense)
    with pytest.raises(S.ValueNeeded):
        S.hessian_pattern(g, wrt=1, strict=True)
