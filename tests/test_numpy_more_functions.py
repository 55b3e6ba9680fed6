"""NaN-aware reductions, order statistics and further NumPy functions of partiald.numpy:
values against NumPy, gradients against central differences, jit/vmap, error cases."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

RNG = np.random.default_rng(0)


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _check_grad(f, x, rtol=1e-5, atol=1e-6):
    g = pdx.grad(lambda t: pnp.sum(f(t)))(x)
    fd = _fd(lambda v: float(np.sum(f(v))), x)
    np.testing.assert_allclose(g, fd, rtol=rtol, atol=atol)


def _val(f, x):
    """the value of f(traced x), through jit (a traced evaluation)."""
    return np.asarray(pdx.jit(f)(x))


SHAPES = [(5,), (3, 4), (2, 3, 4)]
AXES = {1: [None, 0, -1], 2: [None, 0, 1, (0, 1)], 3: [None, 1, (0, 2), -1]}


def _with_nans(shape, frac=0.3, seed=1):
    r = np.random.default_rng(seed)
    x = r.normal(size=shape)
    x[r.random(shape) < frac] = np.nan
    return x


NAN_FUNCS = ["nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "nanmedian"]


@pytest.mark.parametrize("name", NAN_FUNCS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_nan_reductions_match_numpy(name, shape, keepdims):
    x = _with_nans(shape)
    x.flat[0] = 0.7                           # at least one value per flattened reduction
    for axis in AXES[len(shape)]:
        with np.errstate(all="ignore"), _nowarn():
            want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
            got = _val(lambda t: getattr(pnp, name)(t, axis=axis, keepdims=keepdims), x)
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


class _nowarn:
    def __enter__(self):
        import warnings
        self._c = warnings.catch_warnings()
        self._c.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        self._c.__exit__(*a)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd",
                                  "nancumsum", "nancumprod", "nanmedian"])
def test_nan_reductions_gradients_are_finite_and_zero_at_nans(name):
    x = np.array([[0.3, np.nan, -1.2, 2.0], [np.nan, 0.5, 1.7, -0.4], [1.1, 0.2, np.nan, 0.9]])
    f = getattr(pnp, name)
    for axis in [None, 0, 1]:
        g = pdx.grad(lambda t: pnp.sum(f(t, axis=axis)))(x)
        assert np.all(np.isfinite(g))
        assert np.all(g[np.isnan(x)] == 0)
        fill = np.where(np.isnan(x), 0.0, x)
        mask = np.isnan(x)

        def fv(v):
            v = np.where(mask, np.nan, v)
            return float(np.sum(getattr(np, name)(v, axis=axis)))
        fd = _fd(fv, fill)
        fd[mask] = 0
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_nan_reductions_all_nan_slices_dtypes_and_ints():
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with np.errstate(all="ignore"), _nowarn():
        for name in ["nanmean", "nanmax", "nanmin", "nanvar", "nanstd", "nanmedian"]:
            want = getattr(np, name)(x, axis=1)
            got = _val(lambda t: getattr(pnp, name)(t, axis=1), x)
            np.testing.assert_array_equal(got, want)
            g = pdx.grad(lambda t: pnp.sum(pnp.nan_to_num(getattr(pnp, name)(t, axis=1))))(x)
            assert np.all(np.isfinite(g)) and np.all(g[np.isnan(x)] == 0)
    xi = np.arange(6).reshape(2, 3)
    for name in ["nansum", "nanmean", "nanmax", "nanprod", "nanvar", "nancumsum", "nanmedian"]:
        want = getattr(np, name)(xi, axis=0)
        got = pdx.jit(lambda t: getattr(pnp, name)(t, axis=0))(xi)
        np.testing.assert_array_equal(np.asarray(got), want)
        assert np.asarray(got).dtype == want.dtype, name
    x32 = _with_nans((4, 3)).astype(np.float32)
    for name in ["nansum", "nanmean", "nanvar", "nanmedian", "nanmax"]:
        want = getattr(np, name)(x32, axis=0)
        got = np.asarray(pdx.jit(lambda t: getattr(pnp, name)(t, axis=0))(x32))
        assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # ddof, cumulative
    x = _with_nans((3, 5), seed=3)
    np.testing.assert_allclose(_val(lambda t: pnp.nanvar(t, axis=1, ddof=1), x), np.nanvar(x, axis=1, ddof=1))
    np.testing.assert_allclose(_val(lambda t: pnp.nancumsum(t, axis=1), x), np.nancumsum(x, axis=1))
    np.testing.assert_allclose(_val(lambda t: pnp.nancumprod(t), x), np.nancumprod(x))


def test_nanargmax_nanargmin():
    x = _with_nans((3, 4), seed=5)
    x[:, 0] = 0.1
    for f in ["nanargmax", "nanargmin"]:
        for axis in [None, 0, 1]:
            for kd in [False, True]:
                want = getattr(np, f)(x, axis=axis, keepdims=kd)
                got = pdx.jit(lambda t: getattr(pnp, f)(t, axis=axis, keepdims=kd))(x)
                np.testing.assert_array_equal(np.asarray(got), want)
        g = pdx.grad(lambda t: pnp.sum(t[0] * getattr(pnp, f)(t, axis=0)))(x)
        assert np.all(np.isfinite(g))
    with pytest.raises(ValueError, match="All-NaN"):
        pdx.grad(lambda t: pnp.sum(t) * pnp.nanargmax(t, axis=1)[0])(np.array([[np.nan, np.nan], [1.0, 2.0]]))


# -- order statistics ----------------------------------------------------------------

METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "hazen", "weibull", "median_unbiased",
           "normal_unbiased", "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
           "interpolated_inverted_cdf"]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods_match_numpy(method):
    x = RNG.normal(size=(4, 7))
    for q in [0.5, 0.0, 1.0, np.array([0.1, 0.33, 0.9]), np.array([[0.25], [0.75]])]:
        for axis in [None, 0, 1, (0, 1)]:
            for kd in [False, True]:
                want = np.quantile(x, q, axis=axis, method=method, keepdims=kd)
                got = _val(lambda t: pnp.quantile(t, q, axis=axis, method=method, keepdims=kd), x)
                assert got.shape == np.shape(want)
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
                want = np.nanquantile(_with_nans((4, 7), seed=9), q, axis=axis, method=method, keepdims=kd)
                got = _val(lambda t: pnp.nanquantile(t, q, axis=axis, method=method, keepdims=kd),
                           _with_nans((4, 7), seed=9))
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES)
def test_median_percentile_values(shape):
    x = RNG.normal(size=shape)
    for axis in AXES[len(shape)]:
        for kd in [False, True]:
            np.testing.assert_allclose(_val(lambda t: pnp.median(t, axis=axis, keepdims=kd), x),
                                       np.median(x, axis=axis, keepdims=kd), rtol=1e-14)
            np.testing.assert_allclose(_val(lambda t: pnp.percentile(t, [10, 50, 95], axis=axis, keepdims=kd), x),
                                       np.percentile(x, [10, 50, 95], axis=axis, keepdims=kd), rtol=1e-13)
            xn = _with_nans(shape, seed=4)
            with _nowarn():
                np.testing.assert_allclose(_val(lambda t: pnp.nanpercentile(t, 30, axis=axis, keepdims=kd), xn),
                                           np.nanpercentile(xn, 30, axis=axis, keepdims=kd), rtol=1e-13)
                np.testing.assert_allclose(_val(lambda t: pnp.nanmedian(t, axis=axis, keepdims=kd), xn),
                                           np.nanmedian(xn, axis=axis, keepdims=kd), rtol=1e-14)


def test_order_statistics_nans_ints_dtypes_and_empty():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 2.0, 0.5]])
    for f in ["median", "quantile", "percentile"]:
        args = () if f == "median" else ((0.3,) if f == "quantile" else (30,))
        want = getattr(np, f)(x, *args, axis=1)
        np.testing.assert_array_equal(_val(lambda t: getattr(pnp, f)(t, *args, axis=1), x), want)
    xi = np.array([[3, 1, 2, 7], [5, 5, 0, 1]])
    for kw in [{}, {"method": "lower"}, {"method": "nearest"}]:
        want = np.quantile(xi, 0.4, axis=1, **kw)
        got = np.asarray(pdx.jit(lambda t: pnp.quantile(t, 0.4, axis=1, **kw))(xi))
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert np.asarray(pdx.jit(pnp.median)(xi)).dtype == np.median(xi).dtype
    x32 = RNG.normal(size=6).astype(np.float32)
    assert np.asarray(pdx.jit(pnp.median)(x32)).dtype == np.float32
    assert np.asarray(pdx.jit(lambda t: pnp.quantile(t, 0.3))(x32)).dtype == np.quantile(x32, 0.3).dtype
    with _nowarn():
        e = np.zeros((0, 3))
        np.testing.assert_array_equal(np.asarray(pdx.jit(lambda t: pnp.median(t, axis=0))(e)),
                                      np.median(e, axis=0))


def test_order_statistic_gradients():
    x = np.array([[0.3, -1.2, 2.0, 0.9, 1.4], [0.5, 1.7, -0.4, 0.1, -2.2]])
    _check_grad(lambda t: (pnp if not isinstance(t, np.ndarray) else np).median(t, axis=1), x)
    _check_grad(lambda t: (pnp if not isinstance(t, np.ndarray) else np).median(t), x)
    _check_grad(lambda t: (pnp if not isinstance(t, np.ndarray) else np).quantile(t, [0.13, 0.6], axis=0), x)
    _check_grad(lambda t: (pnp if not isinstance(t, np.ndarray) else np).percentile(t, 37.0, axis=1), x)
    _check_grad(lambda t: (pnp if not isinstance(t, np.ndarray) else np).quantile(t, 0.7, method="hazen"), x)
    xn = x.copy()
    xn[0, 1] = np.nan
    g = pdx.grad(lambda t: pnp.sum(pnp.nanquantile(t, 0.35, axis=1) + pnp.nanmedian(t, axis=1)))(xn)
    assert g[0, 1] == 0 and np.all(np.isfinite(g))
    mask = np.isnan(xn)
    fd = _fd(lambda v: float(np.sum(np.nanquantile(np.where(mask, np.nan, v), 0.35, axis=1)
                                    + np.nanmedian(np.where(mask, np.nan, v), axis=1))), np.where(mask, 0, xn))
    fd[mask] = 0
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
    # second order: a quantile is piecewise linear in the data
    h = pdx.hessian(lambda t: pnp.quantile(t, 0.3) ** 2)(x[0])
    gq = np.array(pdx.grad(lambda t: pnp.quantile(t, 0.3))(x[0]))
    np.testing.assert_allclose(h, 2 * np.outer(gq, gq), atol=1e-12)
    # derivative in q
    dq = pdx.grad(lambda q: pnp.quantile(x[0], q))(0.3)
    np.testing.assert_allclose(dq, (np.quantile(x[0], 0.3 + 1e-6) - np.quantile(x[0], 0.3 - 1e-6)) / 2e-6,
                               rtol=1e-6)


def test_order_statistics_vmap_jit_and_errors():
    x = RNG.normal(size=(5, 6))
    np.testing.assert_allclose(np.asarray(pdx.vmap(pnp.median)(x)), np.median(x, axis=1))
    np.testing.assert_allclose(np.asarray(pdx.vmap(lambda r: pnp.quantile(r, [0.2, 0.8]))(x)),
                               np.quantile(x, [0.2, 0.8], axis=1).T)
    xn = _with_nans((5, 6), seed=11)
    with _nowarn():
        np.testing.assert_allclose(np.asarray(pdx.vmap(lambda r: pnp.nanquantile(r, 0.4))(xn)),
                                   np.nanquantile(xn, 0.4, axis=1))
    with pytest.raises(ValueError, match="range"):
        pdx.grad(lambda t: pnp.quantile(t, 1.5))(x[0])
    with pytest.raises(ValueError, match="range"):
        pdx.grad(lambda t: pnp.percentile(t, -1))(x[0])
    with pytest.raises(ValueError, match="not a valid method"):
        pdx.grad(lambda t: pnp.quantile(t, 0.5, method="bogus"))(x[0])
    with pytest.raises(NotImplementedError, match="weights"):
        pdx.grad(lambda t: pnp.quantile(t, 0.5, weights=np.ones(6), method="inverted_cdf"))(x[0])


def test_average_cov_corrcoef():
    x = RNG.normal(size=(3, 6))
    w = RNG.random(6) + 0.1
    for axis, wt in [(None, None), (1, w), (0, RNG.random(3) + 0.1), (None, RNG.random((3, 6)))]:
        for kd in [False, True]:
            want = np.average(x, axis=axis, weights=wt, returned=True, keepdims=kd)
            got = pdx.jit(lambda t: pnp.average(t, axis=axis, weights=wt, returned=True, keepdims=kd))(x)
            for g_, w_ in zip(got, want):
                np.testing.assert_allclose(np.asarray(g_), w_, rtol=1e-13)
    _check_grad(lambda t: np.average(t, axis=1, weights=w) if isinstance(t, np.ndarray)
                else pnp.average(t, axis=1, weights=w), x)
    gw = pdx.grad(lambda v: pnp.sum(pnp.average(x, axis=1, weights=v)))(w)
    np.testing.assert_allclose(gw, _fd(lambda v: float(np.sum(np.average(x, axis=1, weights=v))), w), rtol=1e-6)
    fw = np.array([1, 2, 1, 3, 1, 1])
    for kw in [{}, {"rowvar": False}, {"bias": True}, {"ddof": 2}, {"fweights": fw}, {"aweights": w},
               {"fweights": fw, "aweights": w}, {"y": x[:2] + 1.0}]:
        np.testing.assert_allclose(_val(lambda t: pnp.cov(t, **kw), x), np.cov(x, **kw), rtol=1e-12)
        _check_grad(lambda t: np.cov(t, **kw) if isinstance(t, np.ndarray) else pnp.cov(t, **kw), x)
    np.testing.assert_allclose(_val(lambda t: pnp.cov(t), x[0]), np.cov(x[0]))
    for kw in [{}, {"rowvar": False}, {"y": x[:1] ** 2}]:
        np.testing.assert_allclose(_val(lambda t: pnp.corrcoef(t, **kw), x), np.corrcoef(x, **kw), rtol=1e-12)
    _check_grad(lambda t: np.corrcoef(t)[0, 1:] if isinstance(t, np.ndarray) else pnp.corrcoef(t)[0, 1:], x)
    with pytest.raises(ZeroDivisionError):
        pdx.grad(lambda t: pnp.sum(pnp.average(t, axis=1, weights=np.zeros(6))))(x)
    with pytest.raises(TypeError, match="Axis must be specified"):
        pdx.grad(lambda t: pnp.sum(pnp.average(t, weights=w)))(x)


# -- elementwise and misc --------------------------------------------------------------

SPECIAL = np.array([-np.inf, -2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 3.7, np.inf, np.nan])


@pytest.mark.parametrize("name", ["isinf", "isposinf", "isneginf", "signbit", "trunc", "rint", "fix"])
def test_elementwise_unary_values(name):
    got = _val(getattr(pnp, name), SPECIAL)
    want = getattr(np, name)(SPECIAL)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    if name not in ("signbit",):
        np.testing.assert_array_equal(np.signbit(got[:-1]) if got.dtype.kind == "f" else got[:-1],
                                      np.signbit(want[:-1]) if got.dtype.kind == "f" else want[:-1])
    xi = np.arange(-3, 3)
    np.testing.assert_array_equal(np.asarray(pdx.jit(getattr(pnp, name))(xi)), getattr(np, name)(xi))
    assert np.asarray(pdx.jit(getattr(pnp, name))(xi)).dtype == getattr(np, name)(xi).dtype


def test_modf_copysign_heaviside_fmod_float_power():
    fr, ip = pdx.jit(pnp.modf)(SPECIAL)
    wf, wi = np.modf(SPECIAL)
    np.testing.assert_array_equal(np.asarray(fr), wf)
    np.testing.assert_array_equal(np.signbit(np.asarray(fr)), np.signbit(wf))
    np.testing.assert_array_equal(np.asarray(ip), wi)
    x1 = np.array([-2.0, 0.5, 3.0, -0.0, 1.5])
    x2 = np.array([1.0, -1.0, -0.0, 2.0, np.inf])
    np.testing.assert_array_equal(np.asarray(pdx.jit(pnp.copysign)(x1, x2)), np.copysign(x1, x2))
    np.testing.assert_array_equal(np.asarray(pdx.jit(pnp.heaviside)(np.array([-1.0, 0.0, 2.0, np.nan]), 0.5)),
                                  np.heaviside(np.array([-1.0, 0.0, 2.0, np.nan]), 0.5))
    a = np.array([5.5, -5.5, 5.5, -5.5, 3.0, -4.0])
    b = np.array([2.0, 2.0, -2.0, -2.0, 1.5, 2.0])
    np.testing.assert_allclose(np.asarray(pdx.jit(pnp.fmod)(a, b)), np.fmod(a, b))
    np.testing.assert_array_equal(np.asarray(pdx.jit(pnp.fmod)(np.arange(-5, 5), 3)), np.fmod(np.arange(-5, 5), 3))
    np.testing.assert_allclose(np.asarray(pdx.jit(pnp.float_power)(np.arange(1, 5), 0.5)),
                               np.float_power(np.arange(1, 5), 0.5))
    assert np.asarray(pdx.jit(pnp.float_power)(np.float32([2.0]), 2)).dtype == np.float64
    # derivatives
    xs = np.array([-2.3, 0.7, 1.6])
    ys = np.array([1.0, -3.0, 2.0])
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.copysign(t, ys)))(xs), np.sign(xs) * np.sign(ys))
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.modf(t)[0]))(xs), np.ones(3))
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.fmod(t, 0.5)))(xs), np.ones(3))
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.fmod(5.3, t)))(ys),
                               _fd(lambda v: float(np.sum(np.fmod(5.3, v))), ys), rtol=1e-6)
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.float_power(t, 3.0)))(xs), 3 * xs ** 2)
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.heaviside(np.array([0.0, 1.0, -1.0]), t)))(xs),
                               [1.0, 0.0, 0.0])


def test_trapezoid_cumulative_ediff1d_polyval_unwrap():
    y = RNG.normal(size=(3, 5))
    xs = np.sort(RNG.random(5))
    for kw in [{}, {"dx": 0.3}, {"x": xs}, {"axis": 0}, {"x": np.sort(RNG.random((3, 5)), axis=1)}]:
        np.testing.assert_allclose(_val(lambda t: pnp.trapezoid(t, **kw), y), np.trapezoid(y, **kw))
        _check_grad(lambda t: np.trapezoid(t, **kw) if isinstance(t, np.ndarray) else pnp.trapezoid(t, **kw), y)
    gx = pdx.grad(lambda v: pnp.trapezoid(y[0], v))(xs)
    np.testing.assert_allclose(gx, _fd(lambda v: float(np.trapezoid(y[0], v)), xs), rtol=1e-6)
    for kw in [{"axis": 1}, {"axis": 0, "include_initial": True}]:
        np.testing.assert_allclose(_val(lambda t: pnp.cumulative_sum(t, **kw), y), np.cumulative_sum(y, **kw))
        np.testing.assert_allclose(_val(lambda t: pnp.cumulative_prod(t, **kw), y), np.cumulative_prod(y, **kw))
    np.testing.assert_allclose(_val(lambda t: pnp.cumulative_sum(t, include_initial=True), y[0]),
                               np.cumulative_sum(y[0], include_initial=True))
    with pytest.raises(ValueError, match="axis"):
        pdx.grad(lambda t: pnp.sum(pnp.cumulative_sum(t)))(y)
    np.testing.assert_allclose(_val(lambda t: pnp.ediff1d(t, to_end=[9.0], to_begin=-1.0), y),
                               np.ediff1d(y, to_end=[9.0], to_begin=-1.0))
    p = np.array([1.5, -2.0, 0.3, 4.0])
    xv = np.linspace(-1, 2, 7)
    np.testing.assert_allclose(_val(lambda t: pnp.polyval(p, t), xv), np.polyval(p, xv))
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.polyval(p, t)))(xv), np.polyval(np.polyder(p), xv))
    np.testing.assert_allclose(pdx.grad(lambda c: pnp.sum(pnp.polyval(c, xv)))(p),
                               _fd(lambda c: float(np.sum(np.polyval(c, xv))), p), rtol=1e-6)
    np.testing.assert_allclose(pdx.grad(pdx.grad(lambda t: pnp.polyval(p, t)))(0.7),
                               np.polyval(np.polyder(p, 2), 0.7))
    ph = np.cumsum(RNG.uniform(-2.5, 2.5, size=(2, 12)), axis=1)
    wr = np.angle(np.exp(1j * ph))
    for kw in [{}, {"axis": 0}, {"discont": 4.0}, {"period": 5.0}]:
        np.testing.assert_allclose(_val(lambda t: pnp.unwrap(t, **kw), wr), np.unwrap(wr, **kw), atol=1e-12)
    np.testing.assert_allclose(pdx.grad(lambda t: pnp.sum(pnp.unwrap(t) ** 2))(wr), 2 * np.unwrap(wr))
    np.testing.assert_array_equal(np.asarray(pdx.jit(pnp.unwrap)(np.array([0, 7, 14, 3]))),
                                  np.unwrap(np.array([0, 7, 14, 3])))


def test_interp():
    xp = np.array([0.0, 1.0, 2.5, 4.0, 4.5])
    fp = np.array([1.0, -1.0, 2.0, 0.5, 3.0])
    x = np.array([-1.0, 0.0, 0.3, 1.0, 2.0, 3.9, 4.5, 5.0, np.nan])
    for kw in [{}, {"left": -7.0}, {"right": 9.0}, {"left": 0.0, "right": 1.0}]:
        np.testing.assert_array_equal(_val(lambda t: pnp.interp(t, xp, fp, **kw), x), np.interp(x, xp, fp, **kw))
    np.testing.assert_allclose(_val(lambda t: pnp.interp(t, xp, fp, period=3.0), x[:-1]),
                               np.interp(x[:-1], xp, fp, period=3.0), rtol=1e-13)
    np.testing.assert_array_equal(_val(lambda t: pnp.interp(t, [1.0], [3.0]), np.array([0.0, 1.0, 2.0])),
                                  np.interp([0.0, 1.0, 2.0], [1.0], [3.0]))
    xi = np.array([0.3, 1.7, 3.2, 4.1])
    _check_grad(lambda t: np.interp(t, xp, fp) if isinstance(t, np.ndarray) else pnp.interp(t, xp, fp), xi)
    _check_grad(lambda f: np.interp(xi, xp, f) if isinstance(f, np.ndarray) else pnp.interp(xi, xp, f), fp)
    _check_grad(lambda v: np.interp(xi, v, fp) if isinstance(v, np.ndarray) else pnp.interp(xi, v, fp), xp)
    np.testing.assert_allclose(np.asarray(pdx.vmap(lambda t: pnp.interp(t, xp, fp))(xi)), np.interp(xi, xp, fp))


def test_searchsorted_digitize():
    a = np.array([0.0, 1.0, 1.0, 2.5, 4.0, np.nan])
    v = np.array([[-1.0, 1.0, 1.2], [4.0, 9.0, np.nan]])
    for side in ["left", "right"]:
        for run in [lambda f, t: pdx.jit(f)(t), lambda f, t: _grad_value(f, t)]:
            got = run(lambda t: pnp.searchsorted(a, t, side=side), v)
            np.testing.assert_array_equal(np.asarray(got), np.searchsorted(a, v, side=side))
            got = run(lambda t: pnp.searchsorted(t, v[0], side=side), a)
            np.testing.assert_array_equal(np.asarray(got), np.searchsorted(a, v[0], side=side))
    srt = np.array([3, 0, 2, 1])
    base = np.array([0.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(np.asarray(pdx.jit(lambda t: pnp.searchsorted(t, 1.5, sorter=srt))(base)),
                                  np.searchsorted(base, 1.5, sorter=srt))
    bins = np.array([0.0, 1.0, 2.5, 4.0])
    x = np.array([-0.5, 0.0, 1.0, 3.0, 4.0, 7.0])
    for b in [bins, bins[::-1]]:
        for right in [False, True]:
            np.testing.assert_array_equal(np.asarray(pdx.jit(lambda t: pnp.digitize(t, b, right))(x)),
                                          np.digitize(x, b, right))
            np.testing.assert_array_equal(np.asarray(_grad_value(lambda t: pnp.digitize(t, b, right), x)),
                                          np.digitize(x, b, right))
    g = pdx.grad(lambda t: pnp.sum(t * pnp.searchsorted(bins, t)))(x)
    np.testing.assert_allclose(g, np.searchsorted(bins, x))


def _grad_value(f, x):
    """f's result computed under grad (a traced value with a concrete value)."""
    box = {}

    def g(t):
        box["v"] = f(t)
        return pnp.sum(t) * 0.0
    pdx.grad(g)(x)
    v = box["v"]
    return v if isinstance(v, np.ndarray) else np.asarray(getattr(v, "concrete_value")("test"))


def test_insert_delete_resize_compress_extract_choose():
    x = RNG.normal(size=(3, 4))
    cases = [
        (lambda m, t: m.delete(t, 1, axis=1)), (lambda m, t: m.delete(t, [0, 2])),
        (lambda m, t: m.delete(t, slice(0, 3, 2), axis=0)),
        (lambda m, t: m.insert(t, 1, 5.0, axis=1)), (lambda m, t: m.insert(t, [1, 3], [7.0, 8.0])),
        (lambda m, t: m.insert(t, 2, [[1.0], [2.0], [3.0]], axis=1)),
        (lambda m, t: m.resize(t, (5, 3))), (lambda m, t: m.resize(t, 2)),
        (lambda m, t: m.compress([True, False, True], t, axis=0)),
        (lambda m, t: m.compress([False, True], t, axis=1)),
        (lambda m, t: m.extract(np.arange(12).reshape(3, 4) % 3 == 0, t)),
        (lambda m, t: m.choose(np.array([[0, 1, 2, 1]] * 3), [t, t * 2.0, -t])),
        (lambda m, t: m.choose(np.array([4, -1, 2, 0]), [t, 1.0, 2.0], mode="clip")),
        (lambda m, t: m.choose(np.array([4, -1, 2, 0]), [t, 1.0, 2.0], mode="wrap")),
    ]
    for f in cases:
        want = f(np, x)
        got = _grad_value(lambda t: f(pnp, t), x)
        np.testing.assert_array_equal(np.asarray(got), want)
        _check_grad(lambda t: f(np if isinstance(t, np.ndarray) else pnp, t), x)
    for f in cases[:8] + cases[-3:]:
        np.testing.assert_array_equal(np.asarray(pdx.jit(lambda t: f(pnp, t))(x)), f(np, x))
    gv = pdx.grad(lambda v: pnp.sum(pnp.insert(x, [0, 2], v, axis=0) ** 2))(np.ones(4) * 0.5)
    np.testing.assert_allclose(gv, 2 * 2 * 0.5 * np.ones(4))
    idx = np.array([0, 2, 1])
    got = pdx.jit(lambda i: pnp.choose(i, [np.zeros(3), np.ones(3), np.full(3, 2.0)]))(idx)
    np.testing.assert_array_equal(np.asarray(got), np.choose(idx, [np.zeros(3), np.ones(3), np.full(3, 2.0)]))
    with pytest.raises(ValueError, match="invalid entry"):
        pdx.grad(lambda t: pnp.sum(pnp.choose(np.array([3, 0, 0, 0]), [t, t])))(x[0])


def test_dstack_block_vecdot_matvec_vecmat():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    np.testing.assert_array_equal(np.asarray(pdx.jit(lambda s, t: pnp.dstack([s, t, s]))(a, b)), np.dstack([a, b, a]))
    np.testing.assert_array_equal(np.asarray(pdx.jit(lambda s: pnp.dstack([s[0], s[1]]))(a)),
                                  np.dstack([a[0], a[1]]))
    c = RNG.normal(size=(3, 3))
    want = np.block([[a, b[:, :1]], [c, np.ones((3, 1))]])
    got = pdx.jit(lambda s, t: pnp.block([[s, t[:, :1]], [c, np.ones((3, 1))]]))(a, b)
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(pdx.jit(lambda s: pnp.block([s[0], 1.0, s[1]]))(a)),
                                  np.block([a[0], 1.0, a[1]]))
    g = pdx.grad(lambda s: pnp.sum(pnp.block([[s, s]]) ** 2))(a)
    np.testing.assert_allclose(g, 4 * a)
    m = RNG.normal(size=(4, 2, 3))
    v = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(_val(lambda t: pnp.vecdot(t, v), a[:1].repeat(4, 0)), np.vecdot(a[:1].repeat(4, 0), v))
    np.testing.assert_allclose(_val(lambda t: pnp.matvec(t, v), m), np.matvec(m, v))
    np.testing.assert_allclose(_val(lambda t: pnp.vecmat(t, m.transpose(0, 2, 1)), v),
                               np.vecmat(v, m.transpose(0, 2, 1)))
    np.testing.assert_allclose(_val(lambda t: pnp.vecdot(t, m, axis=1), np.ones((4, 2, 1))),
                               np.vecdot(np.ones((4, 2, 1)), m, axis=1))
    zc = RNG.normal(size=3) + 1j * RNG.normal(size=3)
    np.testing.assert_allclose(np.asarray(pdx.jit(lambda t: pnp.vecdot(t, zc))(zc)), np.vecdot(zc, zc))
    _check_grad(lambda t: np.matvec(t, v) if isinstance(t, np.ndarray) else pnp.matvec(t, v), m)
    _check_grad(lambda t: np.vecmat(t, m) if isinstance(t, np.ndarray) else pnp.vecmat(t, m), v[:, :2])
    np.testing.assert_allclose(np.asarray(pdx.vmap(lambda r: pnp.vecdot(r, r))(v)), np.sum(v * v, axis=1))


def test_reexports_and_in_place_functions():
    assert pnp.tril_indices is np.tril_indices and pnp.mgrid is np.mgrid and pnp.ogrid is np.ogrid
    np.testing.assert_array_equal(pnp.indices((2, 3)), np.indices((2, 3)))
    np.testing.assert_array_equal(pnp.triu_indices(3)[1], np.triu_indices(3)[1])
    np.testing.assert_array_equal(pnp.diag_indices(3)[0], np.arange(3))
    x = np.ones((3, 3))
    for name, call in [("fill_diagonal", lambda m, t: m.fill_diagonal(t, 0.0)),
                       ("put", lambda m, t: m.put(t, [0], [1.0])),
                       ("put_along_axis", lambda m, t: m.put_along_axis(t, np.zeros((3, 1), int), 2.0, 1)),
                       ("place", lambda m, t: m.place(t, t > 0, [2.0])),
                       ("copyto", lambda m, t: m.copyto(t, 2.0))]:
        y = x.copy()
        call(pnp, y)                               # NumPy arrays: NumPy's own in-place function
        z = x.copy()
        call(np, z)
        np.testing.assert_array_equal(y, z)
        for mod in (pnp, np):
            with pytest.raises(TypeError, match=rf"{name}.*in place.*\.at\[|{name}.*in place.*where"):
                pdx.grad(lambda t: pnp.sum(call(mod, t) or t))(x)


def test_raw_numpy_calls_dispatch():
    x = _with_nans((3, 4), seed=2)
    x[:, 0] = 1.0
    f = pdx.jit(lambda t: np.nanmean(t, axis=1) + np.nanmedian(t, axis=1) + np.nanstd(t, axis=1))
    np.testing.assert_allclose(np.asarray(f(x)), np.nanmean(x, axis=1) + np.nanmedian(x, axis=1)
                               + np.nanstd(x, axis=1))
    y = RNG.normal(size=(3, 4))
    f = pdx.jit(lambda t: np.median(t) + np.percentile(t, 20) + np.sum(np.isinf(t)) + np.sum(np.trunc(t)))
    np.testing.assert_allclose(float(np.asarray(f(y))), np.median(y) + np.percentile(y, 20) + np.sum(np.trunc(y)))
    g = pdx.grad(lambda t: np.sum(np.nan_to_num(np.nansum(t, axis=0))))(x)
    assert np.all(g[np.isnan(x)] == 0) and np.all(g[~np.isnan(x)] == 1)
