"""partiald.scipy.special's compositions against scipy.special: values (realistic ranges,
0, large, +-inf, NaN), gradients against central differences, second derivatives of
logsumexp and softmax, and one jit and one vmap."""
import numpy as np
import pytest

import partiald as pdx
import partiald.scipy.special as ps

ss = pytest.importorskip("scipy.special")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INF, NAN = np.inf, np.nan


def _same(got, want, rtol=1e-13):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=0, equal_nan=True)


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


# ---- values -----------------------------------------------------------------

UNARY_POINTS = {
    "expit": [-INF, -800.0, -40.0, -3.0, -1e-10, 0.0, 1e-10, 2.5, 40.0, 800.0, INF, NAN],
    "logit": [0.0, 1e-300, 1e-8, 0.1, 0.3, 0.5, 0.5 + 1e-10, 0.5 - 1e-9, 0.7, 0.9,
              1 - 1e-12, 1.0, -0.5, 1.5, NAN],
    "entr": [-INF, -1.0, -0.0, 0.0, 1e-300, 1e-5, 0.5, 1.0, 3.0, 1e300, INF, NAN],
}


@pytest.mark.parametrize("name", sorted(UNARY_POINTS))
def test_unary_values(name):
    x = np.array(UNARY_POINTS[name])
    _same(getattr(ps, name)(x), getattr(ss, name)(x))
    rng = np.random.default_rng(0)
    r = rng.uniform(0.0, 1.0, 200) if name == "logit" else rng.normal(0, 5, 200)
    _same(getattr(ps, name)(r), getattr(ss, name)(r))
    assert float(getattr(ps, name)(float(x[3]))) == pytest.approx(float(getattr(ss, name)(x[3])), nan_ok=True)


SPECIAL = [0.0, -0.0, 1e-300, 0.5, 1.0, 2.0, 1e300, INF, -1.0, -INF, NAN]


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "rel_entr"])
def test_binary_values(name):
    x, y = np.meshgrid(np.array(SPECIAL), np.array(SPECIAL + [-0.5, -1.5]))
    _same(getattr(ps, name)(x, y), getattr(ss, name)(x, y))
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 5, 100), rng.uniform(0, 5, 100)
    _same(getattr(ps, name)(a, b), getattr(ss, name)(a, b))
    _same(getattr(ps, name)(0.0, 0.0), getattr(ss, name)(0.0, 0.0))


LSE_CASES = [
    np.array([1.0, 2.0, 3.0]),
    np.array([1000.0, 1000.0, -1000.0]),                 # would overflow naively
    np.array([-INF, -INF]),                              # all -inf: -inf
    np.array([-INF, 0.0, 1.0]),
    np.array([INF, 1.0]),
    np.array([NAN, 1.0]),
    np.random.default_rng(2).normal(0, 30, (3, 4, 5)),
]


@pytest.mark.parametrize("a", LSE_CASES, ids=range(len(LSE_CASES)))
@pytest.mark.parametrize("axis", [None, 0, -1, (0, -1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_values(a, axis, keepdims):
    if axis == (0, -1) and a.ndim == 1:
        axis = (0,)
    _same(ps.logsumexp(a, axis=axis, keepdims=keepdims), ss.logsumexp(a, axis=axis, keepdims=keepdims))
    if np.all(np.isfinite(a)):
        _same(ps.softmax(a, axis=axis), ss.softmax(a, axis=axis))
        _same(ps.log_softmax(a, axis=axis), ss.log_softmax(a, axis=axis))


def test_logsumexp_weights_and_sign():
    a = np.array([[1.0, 2.0, 3.0], [500.0, 500.0, 1.0]])
    b = np.array([[1.0, -2.0, 0.5], [1.0, -1.0, 3.0]])
    for axis in (None, 0, 1):
        got, sg = ps.logsumexp(a, axis=axis, b=b, return_sign=True)
        want, ws = ss.logsumexp(a, axis=axis, b=b, return_sign=True)
        _same(got, want, rtol=1e-12)
        _same(sg, ws)
    _same(ps.logsumexp(a, b=np.array([2.0, 1.0, 0.0]), axis=1), ss.logsumexp(a, b=np.array([2.0, 1.0, 0.0]), axis=1))
    assert np.isnan(ps.logsumexp(np.array([0.0, 1.0]), b=np.array([1.0, -1.0])))   # negative sum, no sign


# ---- derivatives --------------------------------------------------------------

GRAD_POINTS = {
    "expit": [-30.0, -2.0, 0.0, 0.7, 30.0],
    "logit": [1e-3, 0.2, 0.5, 0.6, 0.9],
    "entr": [1e-3, 0.3, 1.0, 7.0],
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_unary_grads(name):
    f, ref = getattr(ps, name), getattr(ss, name)
    for x in GRAD_POINTS[name]:
        h = 1e-6 * min(1.0, x) if name in ("logit", "entr") else 1e-6
        assert float(pdx.grad(f)(x)) == pytest.approx(_fd(ref, x, h), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "rel_entr"])
def test_binary_grads(name):
    f, ref = getattr(ps, name), getattr(ss, name)
    for x, y in [(0.5, 2.0), (3.0, 0.25), (1e-3, 4.0), (2.0, 2.0)]:
        gx, gy = pdx.grad(f, argnums=(0, 1))(x, y)
        assert float(gx) == pytest.approx(_fd(lambda t: ref(t, y), x, 1e-7), rel=1e-6)
        assert float(gy) == pytest.approx(_fd(lambda t: ref(x, t), y, 1e-7), rel=1e-6)


def test_derivative_conventions_at_zero():
    # x == 0: d/dx xlogy = log y (the function is linear in x) where log y is finite ...
    gx, gy = pdx.grad(ps.xlogy, argnums=(0, 1))(0.0, 2.0)
    assert float(gx) == pytest.approx(np.log(2.0)) and float(gy) == 0.0
    gx, gy = pdx.grad(ps.xlog1py, argnums=(0, 1))(0.0, 2.0)
    assert float(gx) == pytest.approx(np.log1p(2.0)) and float(gy) == 0.0
    # ... and finite (0) where it is not: no NaN from 0 * log(0)
    for f, y in [(ps.xlogy, 0.0), (ps.xlogy, -1.0), (ps.xlogy, INF), (ps.xlog1py, -1.0)]:
        gx, gy = pdx.grad(f, argnums=(0, 1))(0.0, y)
        assert (float(gx), float(gy)) == (0.0, 0.0)
    gx, gy = pdx.grad(ps.rel_entr, argnums=(0, 1))(0.0, 1.0)
    assert (float(gx), float(gy)) == (0.0, 0.0)
    assert float(pdx.grad(ps.entr)(0.0)) == 0.0 and float(pdx.grad(ps.entr)(-1.0)) == 0.0
    # x != 0, y == 0: the true derivative x / y = inf
    assert float(pdx.grad(ps.xlogy, argnums=1)(2.0, 0.0)) == INF
    # logsumexp of an all -inf slice: -inf with gradient 0
    g = pdx.grad(ps.logsumexp)(np.array([-INF, -INF]))
    np.testing.assert_array_equal(np.asarray(g), 0.0)


def test_logsumexp_softmax_derivatives():
    a = np.array([0.3, -1.2, 2.0, 700.0 - 698.5])
    s = ss.softmax(a)
    np.testing.assert_allclose(pdx.grad(ps.logsumexp)(a), s, rtol=1e-13)
    np.testing.assert_allclose(pdx.hessian(ps.logsumexp)(a), np.diag(s) - np.outer(s, s), atol=1e-14)
    big = a + 1e4                                        # no overflow in the second derivative
    np.testing.assert_allclose(pdx.hessian(ps.logsumexp)(big), np.diag(s) - np.outer(s, s), atol=1e-12)
    # weights: d/db = exp(a) / sum(b exp(a))
    b = np.array([1.0, 2.0, 0.5, 1.0])
    gb = pdx.grad(lambda b: ps.logsumexp(a, b=b))(b)
    np.testing.assert_allclose(gb, np.exp(a) / np.sum(b * np.exp(a)), rtol=1e-13)
    # softmax Jacobian diag(s) - s s^T; its second derivative by differences of the first
    np.testing.assert_allclose(pdx.jacobian(ps.softmax)(a), np.diag(s) - np.outer(s, s), atol=1e-14)
    np.testing.assert_allclose(pdx.jacobian(ps.log_softmax)(a), np.eye(4) - s[None, :], atol=1e-14)
    w = np.array([1.0, -2.0, 0.5, 3.0])
    f = lambda x: ps.softmax(x) @ w                      # noqa: E731
    h = pdx.hessian(f)(a)
    e = np.eye(4) * 1e-5
    fd = np.stack([(pdx.grad(f)(a + e[i]) - pdx.grad(f)(a - e[i])) / 2e-5 for i in range(4)])
    np.testing.assert_allclose(h, fd, atol=1e-8)
    np.testing.assert_allclose(h, h.T, atol=1e-14)


def test_jit_and_vmap():
    x = np.random.default_rng(3).normal(size=(5, 3))
    y = np.abs(x) + 0.1
    f = pdx.jit(lambda x, y: ps.logsumexp(x, axis=1) + ps.xlogy(x, y).sum(1) + ps.entr(y).sum(1)
                + ps.rel_entr(y, y + 1).sum(1) + ps.logit(ps.expit(x)).sum(1) + ps.softmax(x, axis=1)[:, 0])
    want = (ss.logsumexp(x, axis=1) + ss.xlogy(x, y).sum(1) + ss.entr(y).sum(1)
            + ss.rel_entr(y, y + 1).sum(1) + x.sum(1) + ss.softmax(x, axis=1)[:, 0])
    np.testing.assert_allclose(f(x, y), want, rtol=1e-12)
    np.testing.assert_allclose(f(x, y), want, rtol=1e-12)      # second call: cached program
    v = pdx.vmap(lambda r, s: ps.logsumexp(r) + ps.xlog1py(r, s).sum() + ps.log_softmax(r)[1])(x, y)
    np.testing.assert_allclose(v, ss.logsumexp(x, axis=1) + ss.xlog1py(x, y).sum(1)
                               + ss.log_softmax(x, axis=1)[:, 1], rtol=1e-12)


def test_scalars_and_lists():
    assert float(ps.expit(0)) == 0.5
    assert float(ps.logsumexp([0.0, 0.0])) == pytest.approx(np.log(2.0))
    assert np.asarray(ps.softmax([1.0, 1.0])).tolist() == [0.5, 0.5]


# ---- gammaln, digamma, polygamma (records) -------------------------------------

GAMMA_POINTS = np.array([-INF, -2.0, -1.5, -0.3, -0.0, 0.0, 1e-300, 1e-8, 0.5, 1.0, 1.4616321449683622,
                         2.0, 5.9, 10.0, 123.4, 1e10, 1e300, INF, NAN])


def _no_scipy(monkeypatch):
    from partiald.ops import elementwise as ew
    monkeypatch.setattr(ew, "_scipy_special", lambda: None)


@pytest.mark.parametrize("fallback", [False, True], ids=["scipy", "own"])
def test_gamma_values(fallback, monkeypatch):
    if fallback:
        _no_scipy(monkeypatch)
    rtol = 1e-13 if not fallback else 1e-12
    _same(ps.gammaln(GAMMA_POINTS), ss.gammaln(GAMMA_POINTS), rtol)
    r = np.random.default_rng(4).uniform(0.01, 60.0, 300)
    _same(ps.gammaln(r), ss.gammaln(r), rtol)
    _same(ps.digamma(r), ss.digamma(r), rtol)
    _same(ps.psi(2.5), ss.psi(2.5))
    d = np.asarray(ps.digamma(GAMMA_POINTS))
    np.testing.assert_allclose(d, ss.digamma(GAMMA_POINTS), rtol=rtol, atol=1e-11 if fallback else 0, equal_nan=True)
    for n in (1, 2, 3, 6):
        pts = np.array([0.0, -0.0, -1.0, -INF, 1e-300, 1e-8, 0.5, 1.0, 7.5, 1e10, 1e200, INF, NAN])
        _same(ps.polygamma(n, pts), ss.polygamma(n, pts), rtol)
        _same(ps.polygamma(n, r), ss.polygamma(n, r), rtol)
    _same(ps.polygamma(0, r), ss.digamma(r), rtol)


def test_polygamma_without_scipy_for_negative_x(monkeypatch):
    _no_scipy(monkeypatch)
    with pytest.raises(NotImplementedError, match="SciPy"):
        ps.polygamma(1, -0.5)
    assert float(ps.digamma(-0.5)) == pytest.approx(ss.digamma(-0.5), rel=1e-14)   # n = 0: every x


def test_polygamma_rejects_bad_orders():
    for n in (-1, 1.5, True, np.array([1, 2])):
        with pytest.raises(ValueError, match="polygamma: n must be"):
            ps.polygamma(n, 1.0)


@pytest.mark.parametrize("fallback", [False, True], ids=["scipy", "own"])
def test_gamma_derivatives(fallback, monkeypatch):
    if fallback:
        _no_scipy(monkeypatch)
    for x in (0.3, 1.0, 2.5, 17.0, -1.5):
        assert float(pdx.grad(ps.gammaln)(x)) == pytest.approx(_fd(ss.gammaln, x, 1e-6), rel=1e-7)
        if x > 0 or not fallback:
            assert float(pdx.grad(ps.digamma)(x)) == pytest.approx(_fd(ss.digamma, x, 1e-6), rel=1e-7)
            # every order: d^k/dx^k gammaln = polygamma(k - 1)
            g = ps.gammaln
            for k in range(1, 5):
                g = pdx.grad(g)
                assert float(g(x)) == pytest.approx(ss.polygamma(k - 1, x), rel=1e-12)
    gx = pdx.grad(lambda x: ps.polygamma(3, x))(2.0)
    assert float(gx) == pytest.approx(ss.polygamma(4, 2.0), rel=1e-13)


def test_gamma_jit_vmap():
    x = np.array([0.5, 1.0, 3.5])
    f = pdx.jit(lambda x: ps.gammaln(x) + ps.polygamma(2, x) + ps.digamma(x))
    want = ss.gammaln(x) + ss.polygamma(2, x) + ss.digamma(x)
    np.testing.assert_allclose(f(x), want, rtol=1e-13)
    np.testing.assert_allclose(pdx.vmap(pdx.grad(ps.gammaln))(x), ss.digamma(x), rtol=1e-13)
    np.testing.assert_allclose(pdx.vmap(pdx.hessian(ps.gammaln))(x), ss.polygamma(1, x), rtol=1e-13)
