"""Bessel functions and the regularized incomplete gamma / beta functions of
partiald.scipy.special, and the CDFs of partiald.scipy.stats built on them: values against
SciPy, derivatives against finite differences and the recurrences, every order, vmap, jit,
and the TypeError for a derivative with respect to an order or a shape."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

ss = pytest.importorskip("scipy.special")
st = pytest.importorskip("scipy.stats")
from partiald.scipy import special as S  # noqa: E402
from partiald.scipy import stats as PS  # noqa: E402

X_ALL = np.array([-30.0, -7.5, -2.0, -0.3, 0.0, 0.3, 1.0, 2.0, 7.5, 30.0, 400.0])
X_POS = np.array([0.0, 0.05, 0.3, 1.0, 2.0, 7.5, 30.0, 400.0])
ORDERS = [0.0, 1.0, 2.0, 3.0, 2.5, -1.5]


def _close(got, want, rtol=1e-13):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=1e-300, equal_nan=True)


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name", ["j0", "j1", "y0", "y1"])
def test_unary_values_match_scipy(name):
    with np.errstate(all="ignore"):
        _close(getattr(S, name)(X_ALL), getattr(ss, name)(X_ALL), rtol=0)


@pytest.mark.parametrize("name", ["jv", "jn", "yv", "yn", "iv", "ive", "kv", "kve", "kn"])
@pytest.mark.parametrize("v", ORDERS)
def test_order_values_match_scipy(name, v):
    if name in ("jn", "yn", "kn") and v != int(v):
        v = int(v)
    ref = {"jn": ss.jv, "yn": ss.yn, "kn": ss.kn}.get(name, getattr(ss, name, None))
    with np.errstate(all="ignore"):
        _close(getattr(S, name)(v, X_ALL), ref(v, X_ALL), rtol=0 if name not in ("yn", "kn") else 1e-12)


def test_array_orders_broadcast_like_scipy():
    v = np.array([[0.0], [1.0], [2.5]])
    x = np.array([0.5, 1.0, 4.0, 9.0])
    for name in ["jv", "yv", "iv", "ive", "kv", "kve"]:
        got = getattr(S, name)(v, x)
        assert got.shape == (3, 4)
        _close(got, getattr(ss, name)(v, x), rtol=0)
    a = np.array([0.5, 1.0, 3.0])
    _close(S.gammainc(a, x[:, None]), ss.gammainc(a, x[:, None]), rtol=0)
    _close(S.betainc(a, 2.0, np.array([[0.2], [0.7]])), ss.betainc(a, 2.0, np.array([[0.2], [0.7]])), rtol=0)


@pytest.mark.parametrize("name", ["j0", "j1", "y0", "y1"])
def test_unary_derivatives_against_finite_differences(name):
    f, ref = getattr(S, name), getattr(ss, name)
    x = np.array([0.3, 1.0, 2.7, 8.0, 25.0] + ([-1.3, -6.0] if name[0] == "j" else []))
    g = pdx.vmap(pdx.grad(f))(x)
    _close(g, _fd(ref, x), rtol=1e-7)
    g2 = pdx.vmap(pdx.grad(pdx.grad(f)))(x)
    np.testing.assert_allclose(g2, _fd(lambda t: _fd(ref, t, 1e-5), x, 1e-4), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["jv", "yv", "iv", "ive", "kv", "kve"])
@pytest.mark.parametrize("v", [0.0, 1.0, 2.0, 3.0, 2.5])
def test_order_derivatives_against_finite_differences(name, v):
    f, ref = getattr(S, name), getattr(ss, name)
    x = np.array([0.3, 1.0, 2.7, 8.0, 25.0])
    if name in ("jv", "iv", "ive") and v == int(v):
        x = np.concatenate([x, -x])                       # integer orders: defined for x < 0
    g = pdx.grad(lambda t: pnp.sum(f(v, t)))(x)
    _close(g, _fd(lambda t: ref(v, t), x), rtol=1e-7)
    h = pdx.hessian(lambda t: pnp.sum(f(v, t)))(x)
    np.testing.assert_allclose(np.diag(h), _fd(lambda t: _fd(lambda u: ref(v, u), t, 1e-5), x, 1e-4), rtol=1e-4,
                               atol=1e-6)
    assert np.count_nonzero(h - np.diag(np.diag(h))) == 0


def test_recurrences_hold_to_every_order():
    x = 1.7
    # d/dx J_v = (J_{v-1} - J_{v+1})/2 and its iterate: d2/dx2 J_v = (J_{v-2} - 2 J_v + J_{v+2})/4
    for v in (0.0, 2.0, 3.0, 2.5):
        _close(pdx.grad(lambda t: S.jv(v, t))(x), (ss.jv(v - 1, x) - ss.jv(v + 1, x)) / 2)
        _close(pdx.grad(pdx.grad(lambda t: S.jv(v, t)))(x),
               (ss.jv(v - 2, x) - 2 * ss.jv(v, x) + ss.jv(v + 2, x)) / 4)
        _close(pdx.grad(pdx.grad(lambda t: S.iv(v, t)))(x),
               (ss.iv(v - 2, x) + 2 * ss.iv(v, x) + ss.iv(v + 2, x)) / 4)
    _close(pdx.grad(S.j0)(x), -ss.j1(x))
    _close(pdx.grad(S.y0)(x), -ss.y1(x))
    _close(pdx.grad(lambda t: S.ive(2, t))(-x), (ss.ive(1, -x) + ss.ive(3, -x)) / 2 + ss.ive(2, -x))
    _close(pdx.grad(lambda t: S.kve(1.5, t))(x), -(ss.kve(0.5, x) + ss.kve(2.5, x)) / 2 + ss.kve(1.5, x))
    # Bessel's equation x^2 y'' + x y' + (x^2 - v^2) y = 0, third order through the records
    for v in (2.0, 3.0):
        y, d1 = S.jv(v, x), pdx.grad(lambda t: S.jv(v, t))(x)
        d2 = pdx.grad(pdx.grad(lambda t: S.jv(v, t)))(x)
        assert abs(x * x * d2 + x * d1 + (x * x - v * v) * y) < 1e-14
        d3 = pdx.grad(pdx.grad(pdx.grad(lambda t: S.jv(v, t))))(x)
        _close(d3, (ss.jv(v - 3, x) - 3 * ss.jv(v - 1, x) + 3 * ss.jv(v + 1, x) - ss.jv(v + 3, x)) / 8)
    # forward mode agrees with reverse mode
    _, t = pdx.jvp(lambda u: S.yv(2.5, u), (x,), (1.0,))
    _close(t, pdx.grad(lambda u: S.yv(2.5, u))(x))


def test_integer_orders_jn_yn_kn():
    x = np.array([0.4, 2.0, 11.0])
    _close(S.jn(2, x), ss.jn(2, x), rtol=0)
    _close(S.jn(2.5, x), ss.jn(2.5, x), rtol=0)                        # SciPy's jn is jv
    _close(S.yn(3, x), ss.yn(3, x), rtol=1e-12)
    _close(S.kn(2, x), ss.kn(2, x), rtol=1e-12)
    _close(pdx.grad(lambda t: pnp.sum(S.jn(2, t)))(x), (ss.jv(1, x) - ss.jv(3, x)) / 2)


def test_incomplete_gamma_and_beta():
    x = np.array([0.0, 1e-3, 0.4, 1.3, 5.0, 40.0])
    for a in (0.5, 1.0, 2.5, 30.0):
        _close(S.gammainc(a, x), ss.gammainc(a, x), rtol=0)
        _close(S.gammaincc(a, x), ss.gammaincc(a, x), rtol=0)
        xi = x[1:]
        want = np.exp((a - 1) * np.log(xi) - xi - ss.gammaln(a))
        _close(pdx.grad(lambda t: pnp.sum(S.gammainc(a, t)))(xi), want, rtol=1e-12)
        _close(pdx.grad(lambda t: pnp.sum(S.gammaincc(a, t)))(xi), -want, rtol=1e-12)
        np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(S.gammainc(a, t)))(xi),
                                   _fd(lambda t: ss.gammainc(a, t), xi), rtol=1e-6, atol=1e-9)
    # large a and x: the log-space derivative neither overflows nor underflows to NaN
    assert np.isfinite(pdx.grad(lambda t: S.gammainc(500.0, t))(480.0))
    u = np.array([0.0, 0.01, 0.3, 0.5, 0.9, 0.999, 1.0])
    for a, b in ((1.0, 1.0), (2.0, 3.0), (0.5, 0.7), (40.0, 3.0)):
        _close(S.betainc(a, b, u), ss.betainc(a, b, u), rtol=0)
        ui = u[1:-1]
        want = np.exp((a - 1) * np.log(ui) + (b - 1) * np.log1p(-ui) - ss.betaln(a, b))
        _close(pdx.grad(lambda t: pnp.sum(S.betainc(a, b, t)))(ui), want, rtol=1e-12)
        g2 = pdx.grad(pdx.grad(lambda t: S.betainc(a, b, t)))(0.3)
        _close(g2, _fd(lambda t: _fd(lambda s_: ss.betainc(a, b, s_), t, 1e-5), 0.3, 1e-4), rtol=1e-4)


def test_vmap_and_jit():
    x = np.linspace(0.5, 6.0, 5)
    v = np.array([0.0, 1.0, 2.5])
    f = pdx.grad(lambda t: pnp.sum(S.jv(v, t)))
    _close(pdx.vmap(f)(x), [f(t) for t in x], rtol=1e-15)
    _close(pdx.jit(f)(1.3), f(1.3), rtol=1e-15)
    g = pdx.grad(lambda t: pnp.sum(S.ive(2.5, t) + S.gammainc(2.0, t) + S.betainc(2.0, 3.0, t / 7.0)))
    _close(pdx.jit(g)(x), g(x), rtol=1e-15)
    _close(pdx.vmap(g)(x), [g(t) for t in x], rtol=1e-15)
    # the order itself may be a traced value under jit / vmap, as long as nothing differentiates it
    _close(pdx.jit(lambda n, t: S.jv(n, t))(2.0, 1.5), ss.jv(2.0, 1.5), rtol=1e-15)
    _close(pdx.vmap(lambda n: S.iv(n, 1.5))(v), ss.iv(v, 1.5), rtol=1e-15)


@pytest.mark.parametrize("call", [
    lambda v: S.jv(v, 1.3), lambda v: S.yv(v, 1.3), lambda v: S.iv(v, 1.3), lambda v: S.ive(v, 1.3),
    lambda v: S.kv(v, 1.3), lambda v: S.kve(v, 1.3), lambda v: S.jn(v, 1.3),
    lambda a: S.gammainc(a, 1.3), lambda a: S.gammaincc(a, 1.3), lambda a: S.betainc(a, 2.0, 0.3),
    lambda b: S.betainc(2.0, b, 0.3), lambda df: PS.t.cdf(0.3, df), lambda df: PS.chi2.cdf(1.3, df),
    lambda a: PS.gamma.cdf(1.3, a), lambda a: PS.beta.cdf(0.3, a, 2.0)])
def test_a_derivative_in_the_order_or_shape_raises_type_error(call):
    with pytest.raises(TypeError, match="not supported.*constant"):
        pdx.grad(call)(2.0)
    with pytest.raises(TypeError, match="not supported"):
        pdx.jvp(call, (2.0,), (1.0,))


def test_stats_cdfs_match_scipy_and_differentiate():
    x = np.array([-40.0, -2.5, -0.4, 0.0, 0.3, 1.7, 60.0])
    for df in (1.0, 3.5, 30.0):
        _close(PS.t.cdf(x, df, 0.2, 1.3), st.t.cdf(x, df, 0.2, 1.3), rtol=1e-13)
        _close(PS.t.logcdf(x, df, 0.2, 1.3), st.t.logcdf(x, df, 0.2, 1.3), rtol=1e-13)
        _close(pdx.grad(lambda u: pnp.sum(PS.t.cdf(u, df)))(x), st.t.pdf(x, df), rtol=1e-12)
        # at the center, second order exact too (pdf'(0) = 0)
        assert abs(pdx.grad(pdx.grad(lambda u: PS.t.cdf(u, df)))(0.0)) == 0.0
        _close(pdx.grad(lambda s_: PS.t.cdf(0.9, df, 0.0, s_))(1.3), -0.9 / 1.3 ** 2 * st.t.pdf(0.9 / 1.3, df))
    xp = np.array([0.0, 0.2, 1.0, 3.3, 20.0])
    _close(PS.chi2.cdf(xp, 3.0), st.chi2.cdf(xp, 3.0), rtol=1e-14)
    _close(pdx.grad(lambda u: pnp.sum(PS.chi2.cdf(u, 3.0)))(xp[1:]), st.chi2.pdf(xp[1:], 3.0), rtol=1e-12)
    _close(PS.gamma.cdf(x, 2.2, 0.1, 2.0), st.gamma.cdf(x, 2.2, 0.1, 2.0), rtol=1e-14)
    _close(pdx.grad(lambda u: pnp.sum(PS.gamma.cdf(u, 2.2)))(xp[1:]), st.gamma.pdf(xp[1:], 2.2), rtol=1e-12)
    u = np.array([-0.5, 0.0, 0.2, 0.6, 1.0, 1.5])
    _close(PS.beta.cdf(u, 2.2, 1.3), st.beta.cdf(u, 2.2, 1.3), rtol=1e-14)
    _close(pdx.grad(lambda t: pnp.sum(PS.beta.cdf(t, 2.2, 1.3)))(u[2:4]), st.beta.pdf(u[2:4], 2.2, 1.3),
           rtol=1e-12)
    k = np.array([-1.0, 0.0, 1.0, 2.5, 7.0])
    _close(PS.poisson.cdf(k, 3.3), st.poisson.cdf(k, 3.3), rtol=1e-14)
    # d/dmu P(K <= k) = -pmf(floor(k); mu)
    _close(pdx.grad(lambda m: pnp.sum(PS.poisson.cdf(k[1:], m)))(3.3), -np.sum(st.poisson.pmf(np.floor(k[1:]), 3.3)))
    assert pdx.grad(lambda kk: PS.poisson.cdf(kk, 3.3))(2.0) == 0.0       # a step function in k


def test_without_scipy_the_records_name_pip_install(monkeypatch):
    from partiald.ops import elementwise as ew
    from partiald.ops import special as ops
    monkeypatch.setattr(ops, "_scipy_special", lambda: None)
    for call in (lambda: S.jv(1.0, 2.0), lambda: S.j0(2.0), lambda: S.gammainc(1.0, 2.0)):
        with pytest.raises(ImportError, match="pip install scipy"):
            call()
    assert ew._scipy_special() is not None
