"""Sparse Jacobians and Hessians (partiald.sparse, partiald.transforms.sparsity).

* every registered primitive has a sparsity rule, and on every sample of the
  primitive sweep (tests/primitive_specs.py) the detected Jacobian and Hessian
  patterns contain the dense derivatives' nonzeros (never a subset);
* the same on random straight-line programs (the generator of
  tests/test_random_programs.py), with values equal to the dense ones;
* for typical functions the detected pattern is exact;
* values equal the dense ``pdx.jacobian`` / ``pdx.hessian`` to 1e-12, in forward
  and reverse mode, for 1-D, 2-D and pytree arguments and float32;
* colorings are valid (checked independently on random patterns) and small:
  3 for tridiagonal, 2 for arrowhead, 1 for diagonal Hessians;
* chained Rosenbrock scales (n = 200,000 here, without forming anything dense).
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from primitive_specs import PRIMITIVE_SPECS

import partiald as pdx
import partiald.numpy as pnp
from partiald.core.graph import Eqn, Graph, ShapedArray, Var
from partiald.core.primitive import REGISTRY
from partiald.sparse import (SparseInfo, hessian_sparsity, jacobian_sparsity, sparse_hessian,
                             sparse_jacobian)
from partiald import coloring as C
from partiald.transforms import sparsity as S

sp = pytest.importorskip("scipy.sparse")

TOL = 1e-12


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def nonzeros(a, rel=0.0):
    """Structural view of a dense derivative: NaN and inf count as nonzero; with ``rel``,
    entries below ``rel * max|a|`` are round-off (e.g. d^2 det / da_00 da_10 for 4x4
    matrices comes out as 1e-15 from det's adjugate-by-inverse rule)."""
    a = np.asarray(a)
    finite = np.isfinite(a)
    scale = np.abs(a[finite]).max() if finite.any() else 0.0
    return ~finite | (np.abs(np.where(finite, a, 0.0)) > rel * scale)


def dense_pattern(p):
    return p.toarray().astype(bool)


def assert_superset(pattern, dense, what=""):
    missing = nonzeros(dense, rel=1e-12) & ~dense_pattern(pattern)
    assert not missing.any(), f"{what}: detected pattern misses {np.argwhere(missing)[:5].tolist()}"


# -- the rule table covers the registry --------------------------------------------------------

def test_every_primitive_has_a_sparsity_rule():
    import partiald.custom as custom
    records = list(REGISTRY.values()) + [custom.custom_jvp_call_p, custom.custom_vjp_call_p,
                                         custom.custom_vjp_lin_p, custom.checkpoint_call_p,
                                         custom.checkpoint_lin_p]
    missing = []
    for p in records:
        try:
            S.rule_for(p)
        except S.SparsityRuleError:
            missing.append(p.name)
    assert missing == [], f"records without a sparsity rule: {missing}"


def test_a_record_without_a_sparsity_rule_is_refused_not_dense():
    from partiald.core.primitive import Primitive
    import partiald.ops.elementwise as ew
    bare = Primitive("bare_exp", ew.exp_p.impl, ew.exp_p.abstract_eval, jvp=ew.exp_p.jvp)
    g = Graph([x := Var(ShapedArray((3,), np.dtype(np.float64)))], [], [],
              [Eqn(bare, [x], {}, y := Var(ShapedArray((3,), np.dtype(np.float64))))], [y])
    with pytest.raises(S.SparsityRuleError, match="bare_exp.*no sparsity rule"):
        S.jacobian_pattern(g)


def _flat_case(case):
    """``case.fn`` as a function of one flat vector; returns (v0, g)."""
    shapes = [np.shape(p) for p in case.primals]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    v0 = np.concatenate([np.ravel(p) for p in case.primals]) if case.primals else np.zeros(0)

    def g(v):
        parts, start = [], 0
        for shape, n in zip(shapes, sizes):
            parts.append(pnp.reshape(v[start:start + n], shape))
            start += n
        return case.fn(*parts)
    return v0, g


def _sweep_cases():
    out = []
    for name, spec in sorted(PRIMITIVE_SPECS.items()):
        for case in spec.cases(seeds=(0,)):
            if case.size == 0 or case.size > 40:
                continue
            out.append(pytest.param(case, id=case.id))
    return out


@pytest.mark.parametrize("case", _sweep_cases())
def test_rule_patterns_contain_the_derivatives(case):
    v0, g = _flat_case(case)
    out = g(v0)
    float_out = np.asarray(out).dtype.kind == "f"
    jp = jacobian_sparsity(lambda v: g(v) if float_out else pnp.zeros(np.shape(out)))(v0)
    assert jp.shape == (int(np.size(out)), v0.size)
    if not float_out:
        return
    with np.errstate(all="ignore"):
        jac = np.reshape(pdx.jacfwd(g)(v0), (np.size(out), v0.size))
    assert_superset(jp, jac, f"Jacobian of {case.id}")
    if case.zero:
        assert jp.nnz == 0
    # the Hessian of a random weighting of the outputs
    w = np.random.default_rng(1).uniform(0.5, 1.5, np.shape(out))

    def h(v):
        return pnp.sum(g(v) * w)
    hp = hessian_sparsity(h)(v0)
    assert (hp != hp.T).nnz == 0
    with np.errstate(all="ignore"):
        hess = pdx.hessian(h)(v0)
    assert_superset(hp, hess, f"Hessian of {case.id}")
    if case.linear:
        assert hp.nnz == 0, f"{case.id} is linear but has a Hessian pattern"


try:
    from test_random_programs import evaluate, n_inputs, program_text, programs
except ImportError:                 # pragma: no cover - the generator lives in another test module
    programs = None

if programs is not None:
    @settings(max_examples=max(10, settings.default.max_examples // 3))
    @given(nodes=programs(), seed=st.integers(0, 2 ** 32 - 1))
    def test_random_programs(nodes, seed):
        """Random straight-line programs (tests/test_random_programs.py): the patterns
        contain the dense derivatives' nonzeros and the sparse values equal the dense ones."""
        note(program_text(nodes))
        rng = np.random.default_rng(seed)
        xs = tuple(np.asarray(rng.uniform(-1.5, 1.5, nodes[i].shape)) for i in range(n_inputs(nodes)))
        flat, unravel = pdx.ravel_pytree(xs)
        flat = np.asarray(flat)

        def f(args):
            return evaluate(nodes, args, pnp)

        def fv(v):
            return f(unravel(v))
        w = rng.uniform(0.5, 1.5, nodes[-1].shape)

        def scalar(args):
            return pnp.sum(f(args) * w)
        jac = np.reshape(pdx.jacobian(fv)(flat), (-1, flat.size))
        J, info = sparse_jacobian(f, return_info=True)(xs)
        assert_superset(info.pattern, jac, "Jacobian")
        scale = max(1.0, np.abs(jac).max())
        np.testing.assert_allclose(J.toarray(), jac, rtol=1e-12, atol=1e-12 * scale)
        hess = pdx.hessian(lambda v: scalar(unravel(v)))(flat)
        H, info = sparse_hessian(scalar, return_info=True)(xs)
        assert_superset(info.pattern, hess, "Hessian")
        scale = max(1.0, np.abs(hess).max())
        np.testing.assert_allclose(H.toarray(), hess, rtol=1e-12, atol=1e-12 * scale)


# -- exact patterns of typical functions -------------------------------------------------------

A_BAND = np.diag(np.arange(1.0, 9.0)) + np.diag(np.ones(7), 1) - 2 * np.diag(np.ones(6), -2)


def banded(x):
    return pnp.sum((x[2:] - 2 * x[1:-1] + x[:-2]) ** 2) + pnp.sum(pnp.cos(x))


def arrowhead(x):
    return x[0] * pnp.sum(x ** 2) + pnp.sum(pnp.exp(x))


def elementwise(x):
    return pnp.sum(pnp.tanh(x) * pnp.exp(x) + pnp.log1p(x ** 2))


def neighbors(x):
    return pnp.sum(x[1:] * x[:-1])


def least_squares(x):
    return pnp.sum((A_BAND @ x - 1.0) ** 2)


def quadratic_form(x):
    return x @ A_BAND @ x


def softmax_block(x):
    # two independent blocks: a dense 4x4 block and a diagonal part
    return pnp.log(pnp.sum(pnp.exp(x[:4]))) + pnp.sum(pnp.sin(x[4:]))


def norm_chain(x):
    return pnp.sqrt(pnp.sum(x[:3] ** 2) + 1.0) + pnp.sum(pnp.maximum(x[3:], 0.0) * x[3:])


MASK = np.array([True, True, False, True, True, True, False, True])


def where_update(x):
    y = pnp.where(MASK, x, 3.0)          # x[2] and x[6] no longer reach the output
    return pnp.sum(pnp.where(y > -10, y ** 3, 0.0))


HESSIAN_FUNCS = [rosen, banded, arrowhead, elementwise, neighbors, least_squares, quadratic_form,
                 softmax_block, norm_chain, where_update]


@pytest.mark.parametrize("f", HESSIAN_FUNCS, ids=lambda f: f.__name__)
def test_hessian_pattern_exact_and_values(f):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 1.0, 8)
    dense = pdx.hessian(f)(x)
    pattern = hessian_sparsity(f)(x)
    np.testing.assert_array_equal(dense_pattern(pattern), nonzeros(dense))
    H, info = sparse_hessian(f, return_info=True)(x)
    assert sp.issparse(H) and H.format == "csr" and H.shape == (8, 8)
    np.testing.assert_allclose(H.toarray(), dense, rtol=TOL, atol=TOL)
    assert C.is_star_coloring(pattern, info.colors)
    assert info.n_colors == len(np.unique(info.colors))


JAC_FUNCS = [
    ("neighbors", lambda x: x[1:] * x[:-1]),
    ("elementwise", lambda x: pnp.sin(x) * x),
    ("matvec", lambda x: A_BAND @ pnp.exp(x)),
    ("stencil", lambda x: x[2:] - 2 * x[1:-1] + x[:-2] ** 3),
    ("concat", lambda x: pnp.concatenate([x[:3] * x[5:], pnp.sum(x[3:5] ** 2)[None]])),
    ("reverse_cumprod", lambda x: pnp.prod(pnp.reshape(x, (4, 2)), axis=1)),
    ("gather", lambda x: x[np.array([0, 0, 7, 3])] * x[np.array([1, 2, 3, 4])]),
    ("scalar", lambda x: pnp.sum(x[:3]) * 2.0),
    ("at_add", lambda x: (x ** 2).at[np.array([1, 1, 4])].add(x[:3])),
]


@pytest.mark.parametrize("name, f", JAC_FUNCS, ids=[n for n, _ in JAC_FUNCS])
@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_pattern_exact_and_values(name, f, mode):
    x = np.random.default_rng(1).uniform(0.2, 1.0, 8)
    dense = np.reshape(pdx.jacobian(f)(x), (-1, 8))
    pattern = jacobian_sparsity(f)(x)
    np.testing.assert_array_equal(dense_pattern(pattern), nonzeros(dense))
    J, info = sparse_jacobian(f, mode=mode, return_info=True)(x)
    assert J.shape == dense.shape and J.format == "csr"
    np.testing.assert_allclose(J.toarray(), dense, rtol=TOL, atol=TOL)
    assert info.mode == mode or mode == "auto"
    target = pattern if info.mode == "fwd" else pattern.T.tocsr()
    assert C.is_column_coloring(target, info.colors)


def test_number_of_colors():
    x = np.random.default_rng(2).uniform(-1, 1, 300)
    tri = lambda x: pnp.sum((x[1:] - x[:-1]) ** 2 * x[1:]) + pnp.sum(x ** 4)  # noqa: E731
    assert sparse_hessian(tri, return_info=True)(x)[1].n_colors == 3
    assert sparse_hessian(rosen, return_info=True)(x)[1].n_colors <= 3
    assert sparse_hessian(arrowhead, return_info=True)(x)[1].n_colors == 2
    assert sparse_hessian(elementwise, return_info=True)(x)[1].n_colors == 1
    assert sparse_hessian(lambda x: pnp.sum(x * 3.0), return_info=True)(x)[1].n_colors == 0
    assert sparse_jacobian(lambda x: x[1:] * x[:-1], return_info=True)(x)[1].n_colors == 2
    assert sparse_jacobian(pnp.exp, return_info=True)(x)[1].n_colors == 1
    # a dense row: forward needs 300 colors, reverse mode needs 2 VJPs
    J, info = sparse_jacobian(lambda x: pnp.concatenate([pnp.sum(x)[None], x ** 2]), return_info=True)(x)
    assert info.mode == "rev" and info.n_colors == 2


def test_liveness_and_dead_code():
    x = np.linspace(0.1, 1.0, 6)

    def f(x):
        unused = pnp.exp(x) * x[0]        # noqa: F841  (dead code: no pairs)
        e = pnp.exp(x * x[1])
        return pnp.sum(e[:2]) + pnp.sum(pnp.stop_gradient(pnp.sin(x)) * x)
    p = dense_pattern(hessian_sparsity(f)(x))
    np.testing.assert_array_equal(p, nonzeros(pdx.hessian(f)(x)))
    assert not p[2:, 2:].any()


def test_checkpoint_is_inlined_and_custom_jvp_rules_are_traced():
    x = np.linspace(0.1, 1.0, 6)
    inner = pdx.checkpoint(lambda y: pnp.sin(y[1:]) * y[:-1])
    f = lambda x: pnp.sum(inner(x))  # noqa: E731
    np.testing.assert_array_equal(dense_pattern(hessian_sparsity(f)(x)), nonzeros(pdx.hessian(f)(x)))
    H = sparse_hessian(f)(x)
    np.testing.assert_allclose(H.toarray(), pdx.hessian(f)(x), rtol=TOL, atol=TOL)

    @pdx.custom_jvp
    def softplus(y):
        return pnp.log1p(pnp.exp(y))
    softplus.defjvp(lambda primals, tangents: (softplus(primals[0]), tangents[0] * nn_sigmoid(primals[0])))

    def g(x):
        return pnp.sum(softplus(x[1:] - x[:-1]) * x[1:])
    for y in (x, np.linspace(-1.0, 1.0, 2000)):
        pattern = hessian_sparsity(g)(y)
        assert pattern.nnz == 3 * y.size - 2                     # tridiagonal, not dense
        if y.size < 100:
            np.testing.assert_array_equal(dense_pattern(pattern), nonzeros(pdx.hessian(g)(y)))
            np.testing.assert_allclose(sparse_hessian(g)(y).toarray(), pdx.hessian(g)(y), rtol=TOL, atol=TOL)
    J = sparse_jacobian(lambda y: softplus(y) * 2.0)(x)
    np.testing.assert_allclose(J.toarray(), np.diag(2.0 / (1.0 + np.exp(-x))), rtol=TOL)

    @pdx.custom_vjp
    def clip_grad(y):
        return y
    clip_grad.defvjp(lambda y: (y, None), lambda res, ct: (pnp.clip(ct, -1.0, 1.0),))
    h = lambda x: pnp.sum(clip_grad(x) * 3.0)  # noqa: E731
    pattern = jacobian_sparsity(h)(x)               # opaque backward rule: conservative (dense)
    assert pattern.nnz == x.size
    J = sparse_jacobian(h, mode="rev")(x)
    np.testing.assert_allclose(J.toarray(), pdx.jacrev(h)(x)[None], rtol=TOL)


def nn_sigmoid(y):
    return 1.0 / (1.0 + pnp.exp(-y))


# -- arguments and outputs ---------------------------------------------------------------------------

def test_matrix_pytree_and_extra_arguments():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (3, 4))
    f = lambda X: pnp.sum(pnp.sin(X) * X[:, ::-1])  # noqa: E731
    H = sparse_hessian(f)(X)
    np.testing.assert_allclose(H.toarray(), pdx.hessian(f)(X).reshape(12, 12), rtol=TOL, atol=TOL)
    J = sparse_jacobian(lambda X: X.T * 2.0)(X)
    np.testing.assert_allclose(J.toarray(), pdx.jacobian(lambda X: X.T * 2.0)(X).reshape(12, 12))

    params = {"w": rng.uniform(-1, 1, 3), "b": np.array(0.5)}

    def loss(p, data):
        return pnp.sum((data * p["w"] + p["b"]) ** 2)
    data = rng.uniform(-1, 1, 3)
    flat, unravel = pdx.ravel_pytree(params)
    dense = pdx.hessian(lambda v: loss(unravel(v), data))(flat)
    H = sparse_hessian(loss)(params, data)
    np.testing.assert_allclose(H.toarray(), dense, rtol=TOL, atol=TOL)
    H1 = sparse_hessian(lambda d, p: loss(p, d), argnums=1)(data, params)
    np.testing.assert_allclose(H1.toarray(), dense, rtol=TOL, atol=TOL)
    # several outputs are raveled and concatenated
    J = sparse_jacobian(lambda x: (x[:2] ** 2, {"a": pnp.sum(x)}))(np.arange(1.0, 4.0))
    np.testing.assert_allclose(J.toarray(), [[2, 0, 0], [0, 4, 0], [1, 1, 1]])


def test_float32_and_scalars():
    x = np.linspace(0.1, 1.0, 5).astype(np.float32)
    H = sparse_hessian(rosen)(x)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H.toarray(), pdx.hessian(rosen)(x), rtol=1e-5)
    assert sparse_hessian(lambda t: t ** 3)(2.0).toarray()[0, 0] == 12.0
    assert sparse_jacobian(lambda t: pnp.sin(t))(0.0).toarray()[0, 0] == 1.0


def test_reusing_sparsity_info():
    x = np.linspace(-1, 1, 50)
    H, info = sparse_hessian(rosen, return_info=True)(x)
    assert isinstance(info, SparseInfo) and "n_colors=3" in repr(info)
    y = x[::-1].copy()
    H2 = sparse_hessian(rosen, sparsity=info)(y)
    np.testing.assert_allclose(H2.toarray(), pdx.hessian(rosen)(y), rtol=TOL, atol=TOL)
    H3 = sparse_hessian(rosen, sparsity=info.pattern.toarray())(y)     # a given pattern is colored again
    np.testing.assert_allclose(H3.toarray(), H2.toarray(), rtol=TOL, atol=TOL)
    f = lambda x: x[1:] * x[:-1]  # noqa: E731
    J, jinfo = sparse_jacobian(f, return_info=True)(x)
    np.testing.assert_allclose(sparse_jacobian(f, sparsity=jinfo)(y).toarray(), pdx.jacobian(f)(y), atol=TOL)
    with pytest.raises(ValueError, match="not of a jacobian"):
        sparse_jacobian(f, sparsity=info)(x)
    with pytest.raises(ValueError, match="shape"):
        sparse_hessian(rosen, sparsity=info)(x[:10])


def test_errors():
    with pytest.raises(TypeError, match="sparse_jacobian"):
        sparse_hessian(lambda x: x ** 2)(np.ones(3))
    with pytest.raises(TypeError, match="float64"):
        sparse_hessian(rosen)(np.arange(4))
    with pytest.raises(TypeError, match="inside another transformation"):
        pdx.grad(lambda x: sparse_hessian(rosen)(x).sum())(np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        sparse_jacobian(pnp.sin, mode="sideways")
    with pytest.raises(TypeError, match="argnums"):
        sparse_hessian(rosen, argnums=(0,))(np.ones(3))


def test_missing_scipy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match=r'pip install "partiald\[sparse\]"'):
        S.scipy_sparse()


# -- colorings ---------------------------------------------------------------------------------------

def _random_symmetric(rng, n, density):
    a = sp.random(n, n, density=density, random_state=rng, format="csr")
    a = (a + a.T + sp.identity(n)).tocsr()
    a.data[:] = rng.uniform(-1, 1, a.nnz)
    return ((a + a.T) / 2).tocsr()


@pytest.mark.parametrize("seed", range(6))
def test_star_coloring_and_recovery_on_random_patterns(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 120))
    H = _random_symmetric(rng, n, float(rng.uniform(0.01, 0.2)))
    pattern = H.astype(bool)
    for method in ("greedy", "auto"):
        colors, _ = C.star_coloring(pattern, method=method)
        assert C.is_star_coloring(pattern, colors)
        seeds = np.eye(colors.max() + 1)[colors]               # n x k: column c = indicator of color c
        data = C.recover_star(pattern, colors, H @ seeds)
        rec = sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=H.shape)
        np.testing.assert_allclose(rec.toarray(), H.toarray(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("seed", range(6))
def test_column_coloring_and_recovery_on_random_patterns(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(3, 80)), int(rng.integers(3, 80))
    J = sp.random(m, n, density=float(rng.uniform(0.02, 0.3)), random_state=rng, format="csr")
    pattern = J.astype(bool)
    for method in ("greedy", "cyclic", "auto"):
        colors, _ = C.color_columns(pattern, method=method)
        assert C.is_column_coloring(pattern, colors)
        data = C.recover_columns(pattern, colors, J @ np.eye(colors.max() + 1)[colors])
        np.testing.assert_allclose(data, J.data if J.has_sorted_indices else J.sorted_indices().data)
    rcolors, _ = C.color_columns(pattern.T.tocsr())
    data = C.recover_rows(pattern, rcolors, np.eye(rcolors.max() + 1)[rcolors].T @ J)
    np.testing.assert_allclose(data, J.sorted_indices().data)


def test_coloring_checkers_reject_bad_colorings():
    path = sp.csr_matrix(np.eye(4, k=1) + np.eye(4, k=-1), dtype=bool)
    assert not C.is_star_coloring(path, [0, 1, 0, 1])          # a two-colored path on 4 vertices
    assert C.is_star_coloring(path, [0, 1, 2, 0])
    assert not C.is_star_coloring(path, [0, 0, 1, 2])          # not even distance-1
    assert not C.is_column_coloring(sp.csr_matrix(np.ones((1, 2)), dtype=bool), [0, 0])


# -- scale ----------------------------------------------------------------------------------------------

def test_rosenbrock_scales_without_dense_work():
    n = 200_000
    x = np.random.default_rng(4).uniform(-1, 1, n)
    H, info = sparse_hessian(rosen, return_info=True)(x)
    assert info.n_colors == 3 and H.nnz == 3 * n - 2
    # the analytic tridiagonal Hessian
    d = np.zeros(n)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    scale = np.abs(d).max()
    np.testing.assert_allclose(H.diagonal(), d, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_allclose(H.diagonal(1), off, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_allclose(H.diagonal(-1), off, rtol=1e-12, atol=1e-14 * scale)
