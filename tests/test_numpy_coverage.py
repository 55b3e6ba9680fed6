"""partiald.numpy's index tricks, numerical gradient, partition, value-only predicates,
joining keywords, einsum's sublist form, pad modes, 2-vector cross products, integer
casts; partiald.scipy.special's inverse error / gamma / Bessel functions and
partiald.scipy.stats: values against NumPy/SciPy, derivatives against finite differences
(order 2), and jit/vmap where they apply."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

RNG = np.random.default_rng(7)
R = RNG.standard_normal


def _check(f, *args, order=2):
    pdx.check_grads(f, args, order=order)


# -- r_ / c_ -------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda ns, x, c: ns.r_[x],
    lambda ns, x, c: ns.r_[x, x],
    lambda ns, x, c: ns.r_[x, c, x],
    lambda ns, x, c: ns.c_[x, c, x],
    lambda ns, x, c: ns.r_["0,2", x[0], c[0]],
    lambda ns, x, c: ns.r_["-1,2,0", x[:, 0], c[:, 1]],
    lambda ns, x, c: ns.c_[x[:, 0], c[:, 0], x[:, 1]],
])
def test_r_c_match_numpy_and_differentiate(build):
    x, c = R((3, 2)), R((3, 2))
    got = pdx.jit(lambda x: build(pnp, x, c))(x)
    np.testing.assert_allclose(got, build(np, x, c), rtol=1e-15)
    _check(lambda x: build(pnp, x, c), x)


def test_r_slices_scalars_and_dtypes():
    v = R(4)
    got = pnp.r_[v, 1:4, 2.5, 0:1:3j]
    np.testing.assert_allclose(pdx.jit(lambda v: pnp.r_[v, 1:4, 2.5, 0:1:3j])(v), np.r_[v, 1:4, 2.5, 0:1:3j])
    assert np.shape(got) == (11,)
    _check(lambda v: pnp.r_[v, 1:4, 2.5], v)
    v32 = v.astype(np.float32)
    assert pdx.jit(lambda v: pnp.r_[v, 1.0])(v32).dtype == np.float32        # Python numbers are weak
    row = pdx.jit(lambda v: pnp.r_["r", v, v])(v)
    col = pdx.jit(lambda v: pnp.r_["c", v, v])(v)
    assert np.shape(row) == (1, 8) and np.shape(col) == (8, 1)
    assert pnp.r_[1:3, [5, 6]].tolist() == [1, 2, 5, 6]                      # no tracer: NumPy's own
    with pytest.raises(ValueError, match="directive"):
        pdx.grad(lambda v: pnp.r_["bogus", v].sum())(v)
    with pytest.raises(TypeError, match="unsupported item"):
        pdx.grad(lambda v: pnp.r_[v, {"a": 1}].sum())(v)


# -- gradient ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(10,), (6, 7), (4, 5, 6)])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_matches_numpy(shape, edge_order):
    f = R(shape)
    for axis in [None, 0, -1] + ([(0, -1)] if len(shape) > 1 else []):
        got = pdx.jit(lambda f: pnp.gradient(f, axis=axis, edge_order=edge_order))(f)
        want = np.gradient(f, axis=axis, edge_order=edge_order)
        assert type(got) is type(want)
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-13, atol=1e-13)
    _check(lambda f: pnp.gradient(f, 0.5, edge_order=edge_order, axis=0), f)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_with_coordinates_and_spacings(edge_order):
    f, xs = R(9), np.cumsum(RNG.uniform(0.2, 1.0, 9))
    np.testing.assert_allclose(pnp.gradient(pdx.stop_gradient(f), xs, edge_order=edge_order),
                               np.gradient(f, xs, edge_order=edge_order), rtol=1e-13)
    np.testing.assert_allclose(pdx.jit(lambda f: pnp.gradient(f, xs, edge_order=edge_order))(f),
                               np.gradient(f, xs, edge_order=edge_order), rtol=1e-12)
    _check(lambda f: pnp.gradient(f, xs, edge_order=edge_order), f)
    _check(lambda xs: pnp.gradient(f, xs, edge_order=edge_order), xs)        # in the coordinates too
    g = R((5, 6))
    got = pdx.jit(lambda g: pnp.gradient(g, 2.0, 0.5))(g)
    for a, b in zip(got, np.gradient(g, 2.0, 0.5)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    with pytest.raises(ValueError, match="too small"):
        pdx.grad(lambda f: pnp.gradient(f, edge_order=2).sum())(R(2))
    batch = R((3, 8))
    np.testing.assert_allclose(pdx.vmap(lambda r: pnp.gradient(r))(batch), np.gradient(batch, axis=1), rtol=1e-13)


# -- partition, where(cond), nonzero ----------------------------------------------------------------

def test_partition_and_argpartition():
    a = R(9)
    for k in (0, 4, 8):
        p = pdx.jit(lambda a: pnp.partition(a, k))(a)
        assert p[k] == np.partition(a, k)[k]
        assert np.all(p[:k] <= p[k]) and np.all(p[k + 1:] >= p[k])
        idx = pnp.argpartition(pdx.stop_gradient(a), k)
        np.testing.assert_array_equal(a[idx], np.sort(a))
    _check(lambda a: pnp.partition(a, 3) * pnp.arange(9.0), a)
    m = R((3, 5))
    np.testing.assert_allclose(pnp.partition(pdx.stop_gradient(m), 2, axis=0)[2],
                               np.partition(m, 2, axis=0)[2])
    with pytest.raises(ValueError, match="out of bounds"):
        pdx.grad(lambda a: pnp.partition(a, 20).sum())(a)


def test_where_with_condition_alone_gives_indices():
    cond = [True, False, True]
    assert [i.tolist() for i in pnp.where(cond)] == [[0, 2]]
    x = np.array([1.0, -2.0, 3.0])
    g = pdx.grad(lambda x: pnp.sum(x[pnp.where(x > 0)] ** 2))(x)
    np.testing.assert_allclose(g, [2.0, 0.0, 6.0])
    assert pnp.nonzero(np.eye(2))[1].tolist() == [0, 1]
    assert pnp.flatnonzero(np.eye(2)).tolist() == [0, 3]
    assert pnp.argwhere(np.eye(2)).tolist() == [[0, 0], [1, 1]]
    with pytest.raises(pdx.TracerConversionError, match="pnp.nonzero"):
        pdx.jit(lambda x: pnp.where(x > 0)[0])(x)
    with pytest.raises(ValueError, match="both or neither"):
        pnp.where(cond, x)


# -- value-only predicates -----------------------------------------------------------------------------

def test_allclose_isclose_and_friends_on_tracers():
    x = np.array([1.0, 2.0, 3.0])
    seen = {}

    def f(x):
        seen["allclose"] = pnp.allclose(x, x * 3.0 / 3.0)
        seen["array_equal"] = pnp.array_equal(x, x)
        seen["array_equiv"] = pnp.array_equiv(x, x[:1])
        seen["isclose"] = pnp.isclose(x, x + np.array([0.0, 1.0, np.inf]))
        seen["iscomplex"] = pnp.iscomplex(x)
        seen["isreal"] = pnp.isreal(x)
        seen["iscomplexobj"] = pnp.iscomplexobj(x)
        seen["isrealobj"] = pnp.isrealobj(x)
        return pnp.sum(x)

    np.testing.assert_allclose(pdx.grad(f)(x), np.ones(3))
    assert seen["allclose"] is True and seen["array_equal"] is True and seen["array_equiv"] is False
    assert np.asarray(seen["isclose"].concrete_value("test")).tolist() == [True, False, False]
    assert seen["iscomplex"].tolist() == [False] * 3 and seen["isreal"].tolist() == [True] * 3
    assert seen["iscomplexobj"] is False and seen["isrealobj"] is True
    # isclose follows NumPy (infinities, NaN) and stays traced under jit
    a = np.array([1.0, np.inf, np.nan, -np.inf, 1e-9])
    b = np.array([1.0 + 1e-6, np.inf, np.nan, np.inf, 0.0])
    for eq in (False, True):
        np.testing.assert_array_equal(pdx.jit(lambda a: pnp.isclose(a, b, equal_nan=eq))(a),
                                      np.isclose(a, b, equal_nan=eq))
    # a falsy check on a traced value picks a branch (autograd's falseyness test)
    g = pdx.grad(lambda x: x ** 2 if pnp.iscomplex(x) else pnp.sum(x))(2.0)
    assert g == 1.0
    with pytest.raises(pdx.TracerConversionError, match="pnp.allclose"):
        pdx.jit(lambda x: pnp.where(pnp.allclose(x, 0.0), x, -x))(x)
    with pytest.raises(TypeError):
        pdx.grad(lambda x: pnp.allclose(x, x))(x)


# -- joining, einsum sublists, nested lists ---------------------------------------------------------------

def test_joining_keywords_and_single_arrays():
    v = R(3)
    m = R((2, 3))
    np.testing.assert_allclose(pdx.jit(pnp.vstack)(v), np.vstack(v))
    np.testing.assert_allclose(pdx.jit(pnp.hstack)(v), np.hstack(v))
    np.testing.assert_allclose(pdx.jit(pnp.vstack)(m), np.vstack(m))
    _check(pnp.vstack, v)
    _check(pnp.hstack, m)
    got = pdx.jit(lambda v: pnp.stack([v, v], axis=1, dtype=np.float32))(v)
    assert got.dtype == np.float32 and got.shape == (3, 2)
    assert pdx.jit(lambda v: pnp.concatenate([v, v], axis=None, dtype=np.float32))(v).dtype == np.float32
    assert pdx.jit(lambda m: pnp.concatenate([m, m], axis=None))(m).shape == (12,)
    assert pdx.jit(lambda v: pnp.hstack([v, v], dtype=np.float32))(v).dtype == np.float32
    with pytest.raises(TypeError, match="cannot cast"):
        pdx.grad(lambda v: pnp.vstack([v, v], dtype=np.int64, casting="safe").sum())(v)
    np.testing.assert_allclose(pnp.row_stack([m, m]), np.vstack([m, m]))


def test_einsum_sublist_form():
    a, b = R((2, 3)), R((3, 4))
    np.testing.assert_allclose(pdx.jit(lambda a: pnp.einsum(a, [0, 1], b, [1, 2], [0, 2]))(a), a @ b, rtol=1e-14)
    np.testing.assert_allclose(pnp.einsum(pdx.stop_gradient(a), [0, 1]), np.einsum(a, [0, 1]))
    c, d = R((2, 2, 3)), R((3, 2))
    got = pdx.jit(lambda c: pnp.einsum(c, [Ellipsis, 0, 1], d, [1, 0], [Ellipsis]))(c)
    np.testing.assert_allclose(got, np.einsum(c, [Ellipsis, 0, 1], d, [1, 0], [Ellipsis]), rtol=1e-14)
    _check(lambda a, b: pnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), a, b)
    with pytest.raises(ValueError, match="sublist"):
        pnp.einsum(a, [0, 99], b, [99, 2])


def test_nested_lists_of_tracers_build_arrays():
    def f(t):
        m = pnp.array([[t, 2.0 * t], [3.0, t ** 2]])
        return pnp.sum(m ** 2)
    _check(f, 1.5)
    assert pdx.grad(f)(1.5) == pytest.approx(2 * 1.5 + 2 * 2 * 3.0 + 4 * 1.5 ** 3)


# -- pad, cross, trace, integer casts ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_pad_modes(mode):
    x = R((3, 4))
    for width in [1, ((1, 5), (0, 3)), ((4, 2), (3, 0))]:
        np.testing.assert_array_equal(pdx.jit(lambda x: pnp.pad(x, width, mode=mode))(x), np.pad(x, width, mode=mode))
    _check(lambda x: pnp.pad(x, ((2, 1), (0, 5)), mode=mode), x)
    with pytest.raises(NotImplementedError, match="supported modes"):
        pdx.grad(lambda x: pnp.pad(x, 1, mode="median").sum())(x)


def test_cross_of_2_vectors():
    a2, b2, b3 = R((5, 2)), R((5, 2)), R((5, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)      # NumPy 2 deprecates 2-vectors
        np.testing.assert_allclose(pdx.jit(pnp.cross)(a2, b2), np.cross(a2, b2), rtol=1e-14)
        np.testing.assert_allclose(pdx.jit(pnp.cross)(a2, b3), np.cross(a2, b3), rtol=1e-14)
        np.testing.assert_allclose(pdx.jit(pnp.cross)(b3, a2), np.cross(b3, a2), rtol=1e-14)
    _check(pnp.cross, a2, b3)
    _check(pnp.cross, a2, b2)


def test_trace_variants():
    x = R((3, 4, 5))
    for off, a1, a2 in [(0, 0, 1), (1, 0, 1), (-1, 1, 2), (2, 2, 0)]:
        np.testing.assert_allclose(pdx.jit(lambda x: pnp.trace(x, off, a1, a2))(x), np.trace(x, off, a1, a2))
    _check(lambda x: pnp.trace(x, 1, 1, 2), x)


def test_integer_cast_of_a_traced_array_stays_in_the_trace():
    def fun(w):
        idx = pnp.int64(w[:, -1])
        assert idx.dtype == pnp.int64 and idx.dtype == np.int64
        return w[:, :-1][idx].sum()
    w = R((5, 10))
    w[:, -1] = RNG.integers(0, 5, 5) + 0.25
    _check(fun, w)
    assert isinstance(np.int64(3), pnp.int64) and pnp.int64(3.7) == 3 and type(pnp.int64(2)) is np.int64
    assert np.zeros(2, dtype=pnp.int32).dtype == np.int32 and pnp.float32 is np.float32
    with pytest.raises(pdx.TracerConversionError):      # NumPy's own float conversion still refuses
        pdx.grad(lambda x: np.float64(x))(1.0)


# -- scipy.special ----------------------------------------------------------------------------------------------

sp = pytest.importorskip("scipy.special")
ss = pytest.importorskip("scipy.stats")
from partiald.scipy import special as S  # noqa: E402
from partiald.scipy import stats as ST  # noqa: E402


@pytest.mark.parametrize("name, lo, hi", [
    ("erfinv", -0.95, 0.95), ("erfcinv", 0.05, 1.95), ("gamma", 0.3, 4.0), ("rgamma", -2.7, 3.0),
    ("i0", -5.0, 5.0), ("i1", -5.0, 5.0), ("i0e", -5.0, 5.0), ("i1e", -5.0, 5.0),
])
def test_special_unary(name, lo, hi):
    x = RNG.uniform(lo, hi, 7)
    f = getattr(S, name)
    np.testing.assert_allclose(f(x), getattr(sp, name)(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(pdx.jit(f)(x), getattr(sp, name)(x), rtol=1e-13)
    _check(f, x)
    np.testing.assert_allclose(pdx.vmap(pdx.grad(f))(x), [pdx.grad(f)(v) for v in x], rtol=1e-14)


def test_special_binary_and_edges():
    a, b = RNG.uniform(0.5, 4.0, 5), RNG.uniform(0.5, 4.0, 5)
    np.testing.assert_allclose(S.betaln(a, b), sp.betaln(a, b), rtol=1e-13)
    np.testing.assert_allclose(S.beta(a, b), sp.beta(a, b), rtol=1e-13)
    np.testing.assert_allclose(S.beta(-1.5, 2.2), sp.beta(-1.5, 2.2), rtol=1e-13)
    _check(S.beta, a, b)
    _check(S.betaln, a, b)
    np.testing.assert_allclose(S.multigammaln(a + 2, 3), sp.multigammaln(a + 2, 3), rtol=1e-13)
    _check(lambda a: S.multigammaln(a, 2), a + 2)
    with pytest.raises(ValueError):
        S.multigammaln(np.array([0.2]), 3)
    z = np.array([0.0, -0.0, -2.5, 3.0, np.nan])
    np.testing.assert_array_equal(S.gammasgn(z), sp.gammasgn(z))
    poles = np.array([0.0, -1.0, -2.0, -3.0])
    np.testing.assert_array_equal(S.rgamma(poles), sp.rgamma(poles))
    np.testing.assert_allclose(pdx.vmap(pdx.grad(S.rgamma))(poles), [1.0, -1.0, 2.0, -6.0])   # (-1)^n n!
    assert pdx.grad(S.i1)(0.0) == 0.5
    assert S.erfinv(1.0) == np.inf and S.erfcinv(0.0) == np.inf and np.isnan(S.erfinv(1.5))


# -- scipy.stats --------------------------------------------------------------------------------------------------

def test_norm():
    x, loc, scale = R((4, 3)), R((1, 3)), R((4, 1)) ** 2 + 1.1
    for fn in ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"]:
        f = getattr(ST.norm, fn)
        np.testing.assert_allclose(f(x, loc, scale), getattr(ss.norm, fn)(x, loc, scale), rtol=1e-12)
        _check(f, x, loc, scale)
    z = np.array([-1e3, -40.0, -25.0, -10.0, 0.0, 10.0, 40.0])
    np.testing.assert_allclose(ST.norm.logcdf(z), ss.norm.logcdf(z), rtol=1e-12)
    assert np.all(np.isfinite(pdx.vmap(pdx.grad(ST.norm.logcdf))(z)))


def test_t_gamma_chi2_beta_poisson():
    x, df = R(4), R(4) ** 2 + 2.1
    np.testing.assert_allclose(ST.t.logpdf(x, df, 0.3, 1.7), ss.t.logpdf(x, df, 0.3, 1.7), rtol=1e-12)
    _check(ST.t.pdf, x, df, R(4), df)
    a, b = R(4) ** 2 + 1.1, R(4) ** 2 + 1.1
    np.testing.assert_allclose(ST.gamma.logpdf(a, b), ss.gamma.logpdf(a, b), rtol=1e-12)
    np.testing.assert_allclose(ST.gamma.pdf(np.array([-1.0, 2.0]), 2.0), ss.gamma.pdf(np.array([-1.0, 2.0]), 2.0))
    _check(ST.gamma.pdf, a, b)
    np.testing.assert_allclose(ST.chi2.logpdf(a, 3), ss.chi2.logpdf(a, 3), rtol=1e-12)
    _check(lambda a: ST.chi2.pdf(a, 2), a)
    p = RNG.uniform(0.05, 0.95, 4)
    np.testing.assert_allclose(ST.beta.logpdf(p, a, b), ss.beta.logpdf(p, a, b), rtol=1e-12)
    np.testing.assert_allclose(ST.beta.pdf(np.array([-0.5, 1.5]), 2.0, 3.0), [0.0, 0.0])
    _check(ST.beta.logpdf, p, a, b)
    k, mu = np.round(R((4, 3)) ** 2), R((4, 1)) ** 2 + 1.1
    np.testing.assert_allclose(ST.poisson.logpmf(k, mu), ss.poisson.logpmf(k, mu), rtol=1e-12)
    np.testing.assert_allclose(ST.poisson.pmf(np.array([-1.0, 1.5]), 2.0), [0.0, 0.0])
    _check(lambda mu: ST.poisson.pmf(k, mu), mu)


def test_dirichlet_and_multivariate_normal():
    alpha = RNG.uniform(0.5, 3.0, 4)
    x = RNG.dirichlet(alpha)
    np.testing.assert_allclose(ST.dirichlet.logpdf(x, alpha), ss.dirichlet.logpdf(x, alpha), rtol=1e-12)
    np.testing.assert_allclose(ST.dirichlet.pdf(x, alpha), ss.dirichlet.pdf(x, alpha), rtol=1e-12)
    _check(ST.dirichlet.logpdf, x, alpha)
    m = R((4, 4))
    cov = m @ m.T + 0.5 * np.eye(4)
    mean, X = R(4), R((5, 4))
    mvn = ST.multivariate_normal
    np.testing.assert_allclose(mvn.logpdf(X, mean, cov), ss.multivariate_normal.logpdf(X, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(mvn.pdf(X[0], mean, cov), ss.multivariate_normal.pdf(X[0], mean, cov), rtol=1e-12)
    np.testing.assert_allclose(mvn.entropy(mean, cov), ss.multivariate_normal.entropy(mean, cov), rtol=1e-12)
    sym = lambda f: (lambda x, mu, c: f(x, mu, 0.5 * (c + c.T)))  # noqa: E731
    _check(sym(mvn.logpdf), X, mean, cov)
    _check(lambda c: mvn.entropy(mean, 0.5 * (c + c.T)), cov)
    np.testing.assert_allclose(pdx.jit(mvn.logpdf)(X, mean, cov), ss.multivariate_normal.logpdf(X, mean, cov),
                               rtol=1e-12)
    sing = np.diag([1.0, 2.0, 0.0, 0.0])
    xs, ms = np.r_[R(2), 0.0, 0.0], np.r_[R(2), 0.0, 0.0]
    np.testing.assert_allclose(mvn.logpdf(xs, ms, sing, allow_singular=True),
                               ss.multivariate_normal.logpdf(xs, ms, sing, allow_singular=True), rtol=1e-12)
    _check(lambda x: mvn.pdf(x, ms, sing, allow_singular=True), xs, order=1)


def test_any_all_and_the_remaining_ndarray_methods():
    x = np.array([[0.4, -1.0, 2.0], [0.0, 3.0, -0.25]])

    def f(m, x):
        return (x.cumsum(1).sum() + (x.cumprod() ** 2).sum() + (x * x.round()).sum() + x.swapaxes(0, 1)[0, 1]
                + x.mT[2, 1] + (x.repeat(2) ** 3).sum() + x.take([0, 2]).sum() + m.ptp(x) * 2.0
                + x[:, :2].trace() + (x.diagonal() ** 2).sum()
                + m.where(m.any(x > 2.5), 1.0, 0.0) * x.sum() + m.where(m.all(x > -2.0, 1), x[:, 0], 0.0).sum())
    assert np.isclose(f(pnp, x), f(np, x), rtol=1e-14)
    h = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        fd[i] = (f(np, x + e) - f(np, x - e)) / (2 * h)
    np.testing.assert_allclose(pdx.grad(lambda x: f(pnp, x))(x), fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pdx.jit(pdx.grad(lambda x: f(pnp, x)))(x), fd, rtol=1e-6, atol=1e-6)
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            got = pdx.jit(lambda x, a=axis, k=keepdims: pnp.any(x > 1.0, a, k))(x)
            np.testing.assert_array_equal(got, np.any(x > 1.0, axis, keepdims=keepdims))
            got = pdx.jit(lambda x, a=axis, k=keepdims: pnp.all(x, a, k))(x)
            np.testing.assert_array_equal(got, np.all(x, axis, keepdims=keepdims))
    assert pnp.any(np.zeros((0, 3))) == np.any(np.zeros((0, 3)))
    with pytest.raises(TypeError, match=r"in place.*pnp\.sort"):
        pdx.grad(lambda x: (x.sort(), x.sum())[1])(x)
