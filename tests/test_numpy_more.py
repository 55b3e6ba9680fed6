"""The NumPy functions added as compositions or new records: values against NumPy,
gradients against finite differences, and the special points (sinc at 0, nan_to_num
at NaN/inf, fmax/fmin with NaN, sort with ties)."""
import math

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _fd_grad(f, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


X = np.array([[0.3, -1.7, 2.2], [1.1, 0.45, -0.8]])
W = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]])


@pytest.mark.parametrize("name", ["deg2rad", "rad2deg", "radians", "degrees", "sinc", "ceil", "fabs",
                                  "nan_to_num"])
def test_unary_values_match_numpy(name):
    np.testing.assert_allclose(getattr(pnp, name)(X), getattr(np, name)(X), rtol=1e-15, atol=0)
    traced = pdx.jit(getattr(pnp, name))(X)
    np.testing.assert_allclose(traced, getattr(np, name)(X), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["deg2rad", "rad2deg", "sinc", "fabs", "nan_to_num"])
def test_unary_gradients_match_finite_differences(name):
    f = getattr(pnp, name)
    g = pdx.grad(lambda x: pnp.sum(f(x) * W))(X)
    np.testing.assert_allclose(g, _fd_grad(lambda x: np.sum(getattr(np, name)(x) * W), X), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", ["fmax", "fmin", "logaddexp2"])
def test_binary_values_and_gradients(name):
    Y = X[::-1, ::-1] * 0.9 + 0.05
    f, ref = getattr(pnp, name), getattr(np, name)
    np.testing.assert_allclose(f(X, Y), ref(X, Y), rtol=1e-15, atol=0)
    gx, gy = pdx.grad(lambda a, b: pnp.sum(f(a, b) * W), argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(gx, _fd_grad(lambda a: np.sum(ref(a, Y) * W), X), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gy, _fd_grad(lambda b: np.sum(ref(X, b) * W), Y), rtol=1e-7, atol=1e-8)


def test_sinc_at_zero_value_and_derivatives():
    assert pnp.sinc(0.0) == 1.0
    d1 = pdx.grad(pnp.sinc)
    d2 = pdx.grad(d1)
    d3 = pdx.grad(d2)
    assert d1(0.0) == 0.0
    assert math.isclose(d2(0.0), -math.pi ** 2 / 3, rel_tol=1e-14)
    assert d3(0.0) == 0.0
    # continuous across the switch to the series (|pi x| = 0.01) and equal to NumPy's
    t = np.linspace(-0.01, 0.01, 2001)
    np.testing.assert_allclose(pnp.sinc(t), np.sinc(t), rtol=2e-16, atol=0)
    g = pdx.vmap(d1)(t[t != 0])
    y = np.pi * t[t != 0]
    want = (np.cos(y) * y - np.sin(y)) / (y * y) * np.pi
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-12)


def test_nan_to_num_special_points():
    x = np.array([np.nan, np.inf, -np.inf, 2.0, -0.0])
    np.testing.assert_array_equal(pnp.nan_to_num(x), np.nan_to_num(x))
    kw = dict(nan=-1.0, posinf=9.0, neginf=-9.0)
    f = pdx.jit(lambda t: pnp.nan_to_num(t, **kw))
    np.testing.assert_array_equal(f(x), np.nan_to_num(x, **kw))
    g = pdx.grad(lambda t: pnp.sum(pnp.nan_to_num(t, **kw)))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 1.0, 1.0])
    ints = np.array([1, 2])
    np.testing.assert_array_equal(pnp.nan_to_num(ints), ints)


def test_fmax_fmin_nan_rule():
    x = np.array([np.nan, 1.0, 2.0, np.nan])
    y = np.array([1.0, np.nan, 2.0, np.nan])
    for f, ref in [(pnp.fmax, np.fmax), (pnp.fmin, np.fmin)]:
        np.testing.assert_array_equal(f(x, y), ref(x, y))
        gx, gy = pdx.grad(lambda a, b: pnp.sum(f(a, b)), argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 1.0])       # tie at 2.0: to y
        np.testing.assert_array_equal(gy, [1.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_and_cumprod(axis):
    for pf, nf in [(pnp.cumsum, np.cumsum), (pnp.cumprod, np.cumprod)]:
        np.testing.assert_allclose(pf(X, axis=axis), nf(X, axis=axis), rtol=1e-15)
        w = np.arange(X.size, dtype=float).reshape(nf(X, axis=axis).shape) - 2.5
        g = pdx.grad(lambda x: pnp.sum(pf(x, axis=axis) * w))(X)
        np.testing.assert_allclose(g, _fd_grad(lambda x: np.sum(nf(x, axis=axis) * w), X), rtol=1e-7, atol=1e-8)


def test_cumprod_exact_at_zero():
    x = np.array([2.0, 0.0, 3.0])
    j = pdx.jacobian(pnp.cumprod)(x)
    np.testing.assert_array_equal(j, [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 6.0, 0.0]])


def test_cumsum_vmap_and_sparsity():
    xs = np.arange(24.0).reshape(2, 3, 4)
    for axis in (0, 1):
        np.testing.assert_array_equal(pdx.vmap(lambda t: pnp.cumsum(t, axis=axis))(xs),
                                      np.cumsum(xs, axis=axis + 1))
    np.testing.assert_array_equal(pdx.vmap(lambda t: pnp.cumsum(t, axis=0), in_axes=1)(xs),
                                  np.moveaxis(np.cumsum(xs, axis=0), 1, 0))
    pytest.importorskip("scipy")
    from partiald.sparse import jacobian_sparsity
    pattern = jacobian_sparsity(lambda t: pnp.cumsum(t, axis=1))(np.ones((2, 3)))
    dense = pattern.toarray() if hasattr(pattern, "toarray") else np.asarray(pattern)
    want = np.kron(np.eye(2), np.tril(np.ones((3, 3))))
    np.testing.assert_array_equal(dense != 0, want != 0)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_sort_argsort_take_along_axis(axis):
    x = np.array([[3.0, 1.0, 2.0], [0.5, 0.5, -1.0]])
    np.testing.assert_array_equal(pnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"))
    np.testing.assert_array_equal(pnp.sort(x, axis=axis), np.sort(x, axis=axis))
    np.testing.assert_array_equal(pdx.jit(lambda t: pnp.sort(t, axis=axis))(x), np.sort(x, axis=axis))
    w = np.arange(x.size, dtype=float).reshape(np.sort(x, axis=axis).shape) + 1.0
    g = pdx.grad(lambda t: pnp.sum(pnp.sort(t, axis=axis) * w))(x)
    # the derivative moves with the values: element i of the input gets the weight of its sorted slot
    idx = np.argsort(x, axis=axis, kind="stable")
    want = np.zeros(x.size) if axis is None else np.zeros_like(x)
    if axis is None:
        want[idx] = w
        want = want.reshape(x.shape)
    else:
        np.put_along_axis(want, idx, w, axis=axis)
    np.testing.assert_array_equal(g, want)
    if axis is not None:
        i = np.argsort(x, axis=axis)
        np.testing.assert_array_equal(pnp.take_along_axis(x, i, axis), np.take_along_axis(x, i, axis))
        gt = pdx.grad(lambda t: pnp.sum(pnp.take_along_axis(t, i, axis) * w))(x)
        np.testing.assert_array_equal(gt, want)


def test_sort_vmap_and_argsort_integer():
    xs = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    np.testing.assert_array_equal(pdx.vmap(pnp.sort)(xs), np.sort(xs, axis=1))
    np.testing.assert_array_equal(pdx.vmap(pnp.argsort, in_axes=1)(xs), np.argsort(xs.T, axis=1))
    assert pdx.jit(pnp.argsort)(xs).dtype == np.int64
