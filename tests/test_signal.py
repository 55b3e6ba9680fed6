"""Convolution and correlation: pnp.convolve/pnp.correlate (NumPy's 1-D functions) and
partiald.scipy.signal (convolve, correlate, convolve2d, correlate2d, fftconvolve).

Values against NumPy and SciPy for every mode, 1-D/2-D/3-D, odd and even sizes and both
argument orders (traced, under jit); gradients in both inputs against finite
differences; second order, vmap, complex input, large inputs (the FFT path of 'auto')
and the errors for bad modes, methods, boundaries and shapes.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

sps = pytest.importorskip("scipy.signal")
from partiald.scipy import signal as ps  # noqa: E402

MODES = ["full", "same", "valid"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _data(rng, shape, cplx=False):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if cplx else x


def _jit(f, *args, **kw):
    return np.asarray(pdx.jit(lambda *a: f(*a, **kw))(*args))


def _close(r, e):
    r = np.asarray(r)
    assert r.shape == e.shape
    assert np.iscomplexobj(r) == np.iscomplexobj(e)
    np.testing.assert_allclose(r, e, rtol=1e-9, atol=1e-9)


# -- values: NumPy's 1-D functions -------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_numpy_1d_values_all_lengths(name, mode, cplx):
    rng = _rng(1)
    for n, m in itertools.product(range(1, 7), repeat=2):      # odd/even, v shorter and longer
        a, v = _data(rng, n, cplx), _data(rng, m, cplx)
        expected = getattr(np, name)(a, v, mode)
        _close(_jit(getattr(pnp, name), a, v, mode=mode), expected)
        _close(getattr(pnp, name)(a, v, mode), expected)            # untraced


def test_numpy_defaults_ints_and_scalars():
    a, v = np.arange(5), np.array([1, 0, -1, 2])
    assert pnp.convolve(a, v).dtype == np.convolve(a, v).dtype
    np.testing.assert_array_equal(pnp.convolve(a, v), np.convolve(a, v))            # mode='full'
    np.testing.assert_array_equal(pnp.correlate(a, v), np.correlate(a, v))          # mode='valid'
    for mode in (0, 1, 2):
        np.testing.assert_array_equal(pnp.convolve(a, v, mode), np.convolve(a, v, mode))
    np.testing.assert_allclose(pnp.convolve(3.0, [1.0, 2.0]), np.convolve(3.0, [1.0, 2.0]))


def test_numpy_dispatch_from_plain_numpy_calls():
    rng = _rng(2)
    a, v = rng.standard_normal(6), rng.standard_normal(3)
    g = pdx.grad(lambda a: np.sum(np.convolve(a, v, "same") ** 2))(a)
    g2 = pdx.grad(lambda a: pnp.sum(pnp.convolve(a, v, "same") ** 2))(a)
    np.testing.assert_allclose(g, g2)


# -- values: SciPy ---------------------------------------------------------------------

def _shape_pairs(nd):
    sizes = [1, 2, 3, 4, 5] if nd < 3 else [1, 2, 3, 4]
    rng = np.random.default_rng(nd)
    shapes = list(itertools.product(sizes, repeat=nd))
    picks = [shapes[i] for i in rng.choice(len(shapes), size=min(7, len(shapes)), replace=False)]
    return [(s1, s2) for s1 in picks for s2 in picks]        # both argument orders


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("cplx", [False, True])
def test_scipy_values_all_modes_and_methods(nd, cplx):
    rng = _rng(3)
    cases = [(ps.convolve, sps.convolve, {}), (ps.correlate, sps.correlate, {}),
             (ps.convolve, sps.convolve, {"method": "fft"}),
             (ps.correlate, sps.correlate, {"method": "fft"}),
             (ps.convolve, sps.convolve, {"method": "direct"}),
             (ps.correlate, sps.correlate, {"method": "direct"}),
             (ps.fftconvolve, sps.fftconvolve, {})]
    if nd == 2:
        cases += [(ps.convolve2d, sps.convolve2d, {}), (ps.correlate2d, sps.correlate2d, {})]
    checked = 0
    for s1, s2 in _shape_pairs(nd):
        a, b = _data(rng, s1, cplx), _data(rng, s2, cplx)
        for mode in MODES:
            for ours, theirs, kw in cases:
                try:
                    expected = theirs(a, b, mode, **kw)
                except ValueError:
                    with pytest.raises(ValueError):
                        _jit(ours, a, b, mode=mode, **kw)
                    continue
                _close(_jit(ours, a, b, mode=mode, **kw), expected)
                checked += 1
    assert checked > 100


def test_valid_mode_needs_one_input_at_least_as_large():
    a, b = np.ones((2, 5)), np.ones((3, 4))
    for f in (ps.convolve, ps.correlate, ps.convolve2d, ps.correlate2d, ps.fftconvolve):
        with pytest.raises(ValueError, match="at least as large"):
            f(a, b, "valid")
    # swapped sizes are fine: the output has the |n - m| + 1 shape
    assert ps.convolve(np.ones((2, 3)), np.ones((4, 5)), "valid").shape == (3, 3)
    _close(ps.correlate(np.arange(3.0), np.arange(6.0), "valid"),
           sps.correlate(np.arange(3.0), np.arange(6.0), "valid"))


def test_fftconvolve_axes_broadcasting_and_ints():
    rng = _rng(4)
    a, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((1, 4, 5))
    for mode in MODES:
        for axes in (1, [1], (-2,), [0, 1]):
            try:
                expected = sps.fftconvolve(a, b, mode, axes=axes)
            except ValueError:
                with pytest.raises(ValueError):
                    _jit(ps.fftconvolve, a, b, mode=mode, axes=axes)
                continue
            _close(_jit(ps.fftconvolve, a, b, mode=mode, axes=axes), expected)
    ia, ib = np.arange(6), np.array([1, 2, 3])
    for mode in MODES:
        np.testing.assert_allclose(ps.fftconvolve(ia, ib, mode), sps.fftconvolve(ia, ib, mode))
        for method in ("direct", "fft", "auto"):
            r, e = ps.convolve(ia, ib, mode, method=method), sps.convolve(ia, ib, mode, method=method)
            assert r.dtype == e.dtype
            np.testing.assert_array_equal(r, e)
    with pytest.raises(ValueError, match="incompatible shapes"):
        ps.fftconvolve(np.ones((2, 3)), np.ones((3, 3)), axes=1)


def test_real_inputs_give_real_outputs_and_float32_stays():
    rng = _rng(5)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 3))
    for method in ("direct", "fft"):
        assert not np.iscomplexobj(_jit(ps.convolve, a, b, method=method))
        r = ps.correlate(a.astype(np.float32), b.astype(np.float32), method=method)
        assert r.dtype == np.float32
    assert not np.iscomplexobj(_jit(ps.fftconvolve, a, b))


def test_scalars_and_empty_like_scipy():
    np.testing.assert_allclose(ps.convolve(np.float64(2.0), np.float64(3.0)), 6.0)
    assert ps.convolve(np.ones(0), np.ones(0)).size == 0


def test_auto_uses_fft_for_large_inputs():
    rng = _rng(6)
    a, b = rng.standard_normal(6000), rng.standard_normal(1000)     # 7e6 window elements
    for mode in MODES:
        np.testing.assert_allclose(ps.convolve(a, b, mode), sps.convolve(a, b, mode), atol=1e-8)
        np.testing.assert_allclose(pnp.correlate(a, b, mode), np.correlate(a, b, mode), atol=1e-8)
    g = pdx.grad(lambda b: pnp.sum(ps.correlate(a, b, "valid") ** 2))(b)
    z = sps.correlate(a, b, "valid")
    expected = [2 * np.dot(z, a[j:j + z.size]) for j in range(b.size)]   # z[k] = sum_l a[l + k] b[l]
    np.testing.assert_allclose(g, expected, rtol=1e-7, atol=1e-6)


# -- derivatives -------------------------------------------------------------------------

def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


GRAD_CASES = [
    (ps.convolve, (7,), (4,), {}), (ps.convolve, (4,), (7,), {"method": "fft"}),
    (ps.correlate, (6,), (3,), {}), (ps.correlate, (3,), (6,), {"method": "fft"}),
    (ps.convolve, (4, 5), (3, 2), {}), (ps.correlate, (3, 2), (4, 5), {"method": "fft"}),
    (ps.convolve, (3, 4, 2), (2, 3, 2), {"method": "direct"}),
    (ps.correlate, (2, 3, 2), (3, 4, 2), {"method": "fft"}),
    (ps.convolve2d, (5, 4), (2, 3), {}), (ps.correlate2d, (2, 3), (5, 4), {}),
    (ps.fftconvolve, (4, 5), (3, 2), {}),
    (pnp.convolve, (6,), (4,), {}), (pnp.convolve, (3,), (6,), {}),
    (pnp.correlate, (6,), (4,), {}), (pnp.correlate, (3,), (6,), {}),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, s1, s2, kw", GRAD_CASES)
def test_grad_both_inputs_vs_finite_differences(f, s1, s2, kw, mode):
    rng = _rng(7)
    x, y = rng.standard_normal(s1), rng.standard_normal(s2)

    def loss(x, y):
        out = f(x, y, mode, **kw)
        w = np.cos(np.arange(int(np.prod(out.shape))) + 1.0).reshape(out.shape)
        return pnp.sum(pnp.sin(out) * w)
    gx, gy = pdx.grad(loss, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, _fd_grad(lambda t: loss(t, y), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gy, _fd_grad(lambda t: loss(x, t), y), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_second_order_vs_finite_differences_of_the_gradient(method):
    rng = _rng(8)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((2, 2))

    def loss(x, y):
        return pnp.sum(pnp.sin(ps.correlate(x, y, "same", method=method)))
    H = np.asarray(pdx.hessian(loss, argnums=1)(x, y)).reshape(4, 4)
    gy = pdx.grad(loss, argnums=1)
    fd = np.stack([_fd_grad(lambda t: gy(x, t)[i], y).ravel() for i in np.ndindex(2, 2)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)
    # mixed second derivative d/dx (d/dy loss) through both operands
    gxy = pdx.jacobian(lambda x: gy(x, y))(x)
    assert np.asarray(gxy).shape == (2, 2, 4, 3)


def test_vmap_and_jit():
    rng = _rng(9)
    X, K = rng.standard_normal((4, 7)), rng.standard_normal((4, 3))
    for mode in MODES:
        out = pdx.vmap(lambda x, k: ps.convolve(x, k, mode))(X, K)
        np.testing.assert_allclose(out, np.stack([sps.convolve(x, k, mode) for x, k in zip(X, K)]))
        out = pdx.vmap(lambda x: pnp.correlate(x, K[0], mode))(X)
        np.testing.assert_allclose(out, np.stack([np.correlate(x, K[0], mode) for x in X]))
        out = pdx.vmap(lambda x: ps.fftconvolve(x, K[0], mode))(X)
        np.testing.assert_allclose(out, np.stack([sps.fftconvolve(x, K[0], mode) for x in X]))
    g = pdx.jit(pdx.grad(lambda x, k: pnp.sum(ps.convolve2d(x, k, "same") ** 2), argnums=(0, 1)))
    x2, k2 = rng.standard_normal((5, 4)), rng.standard_normal((2, 3))
    gx, gk = g(x2, k2)
    gx0, gk0 = pdx.grad(lambda x, k: pnp.sum(ps.convolve2d(x, k, "same") ** 2), argnums=(0, 1))(x2, k2)
    np.testing.assert_allclose(gx, gx0)
    np.testing.assert_allclose(gk, gk0)


def test_complex_correlate_conjugates_and_differentiates():
    rng = _rng(10)
    a, v = _data(rng, 5, True), _data(rng, 3, True)
    _close(pnp.correlate(a, v, "full"), np.correlate(a, v, "full"))
    _close(ps.correlate(a, v), sps.correlate(a, v))

    def loss(v):
        return pnp.sum(pnp.abs(ps.correlate(a, v, "same")) ** 2)
    g = pdx.grad(loss)(v)

    def f(vv):
        return float(np.sum(np.abs(sps.correlate(a, vv, "same")) ** 2))
    h = 1e-6
    fd = np.array([(f(v + h * e) - f(v - h * e)) / (2 * h) - 1j * (f(v + 1j * h * e) - f(v - 1j * h * e)) / (2 * h)
                   for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)   # df/dx - i df/dy (JAX's convention)


# -- errors ------------------------------------------------------------------------------

def test_errors():
    x = np.ones(4)
    with pytest.raises(ValueError, match="mode must be one of"):
        pnp.convolve(x, x, "bogus")
    with pytest.raises(ValueError, match="mode must be one of"):
        pnp.correlate(x, x, 5)
    with pytest.raises(ValueError, match="cannot be empty"):
        pnp.convolve(x, np.ones(0))
    with pytest.raises(ValueError, match="1-D"):
        pnp.correlate(np.ones((2, 2)), x)
    with pytest.raises(ValueError, match="Acceptable mode flags"):
        ps.convolve(x, x, "bogus")
    with pytest.raises(ValueError, match="Acceptable method flags"):
        ps.correlate(x, x, method="bogus")
    with pytest.raises(ValueError, match="same dimensionality"):
        ps.convolve(np.ones((2, 2)), x)
    with pytest.raises(ValueError, match="same dimensionality"):
        ps.fftconvolve(np.ones((2, 2)), x)
    with pytest.raises(ValueError, match="2-D"):
        ps.convolve2d(x, x)
    with pytest.raises(ValueError, match="Acceptable boundary flags"):
        ps.convolve2d(np.ones((2, 2)), np.ones((2, 2)), boundary="bogus")
    for boundary in ("wrap", "circular", "symm", "symmetric"):
        with pytest.raises(NotImplementedError, match="wrap.*symm"):
            ps.correlate2d(np.ones((2, 2)), np.ones((2, 2)), boundary=boundary)
    with pytest.raises(NotImplementedError, match="fillvalue"):
        ps.convolve2d(np.ones((2, 2)), np.ones((2, 2)), fillvalue=1.0)
