"""partiald.numpy.fft: values against numpy.fft, derivatives against finite
differences and JAX, second order, vmap, jit and raw NumPy dispatch.

Complex values follow JAX's convention: a cotangent pairs with a tangent by
``Re(sum(ct * t))``; the gradient of a real function of complex ``z`` is
``df/dx - i df/dy``.
"""
from __future__ import annotations

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.core.primitive import REGISTRY

F = pnp.fft
NORMS = [None, "backward", "ortho", "forward"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _traced(f, x):
    """``f(x)`` evaluated on a tracer (the forward output of a VJP)."""
    return pdx.vjp(f, x)[0]


# (name, input kind, args, kwargs): every function with n/s, axis/axes and norm variants
C2C = ["fft", "ifft"]
CASES = []
for name in C2C:
    for norm in NORMS:
        CASES.append((name, "c", (5, 6), {"norm": norm}))
    CASES += [(name, "c", (5, 6), {"n": 4}), (name, "c", (5, 6), {"n": 9, "axis": 0}),
              (name, "r", (7,), {}), (name, "c", (2, 3, 4), {"axis": 1, "n": 5, "norm": "ortho"})]
for name in ["rfft"]:
    for norm in NORMS:
        CASES.append((name, "r", (5, 6), {"norm": norm}))
    CASES += [(name, "r", (5, 7), {}), (name, "r", (5, 6), {"n": 4}), (name, "r", (5, 6), {"n": 9, "axis": 0}),
              (name, "r", (2, 3, 4), {"axis": 1, "n": 5, "norm": "forward"})]
for name in ["irfft", "hfft"]:
    for norm in NORMS:
        CASES.append((name, "c", (5, 4), {"norm": norm}))
    CASES += [(name, "c", (5, 4), {"n": 7}), (name, "c", (5, 4), {"n": 4}), (name, "c", (5, 4), {"n": 3, "axis": 0}),
              (name, "c", (2, 3, 4), {"axis": 1, "n": 8, "norm": "ortho"})]
for norm in NORMS:
    CASES.append(("ihfft", "r", (4, 6), {"norm": norm}))
CASES.append(("ihfft", "r", (4, 6), {"n": 5, "axis": 0}))
for name in ["fft2", "ifft2", "fftn", "ifftn"]:
    for norm in NORMS:
        CASES.append((name, "c", (3, 4, 5), {"norm": norm}))
    CASES += [(name, "c", (3, 4, 5), {"s": (5, 2), "axes": (0, 2)}), (name, "r", (3, 4), {}),
              (name, "c", (3, 4, 5), {"s": (2, 6), "axes": (2, 0), "norm": "ortho"})]
CASES += [("fftn", "c", (3, 4, 5), {"axes": (1,)}), ("fftn", "c", (3, 4), {"axes": (0, 0)}),
          ("ifftn", "c", (3, 4, 5), {"s": (4, 4, 4), "axes": (0, 1, 2), "norm": "forward"})]
for name in ["rfft2", "rfftn"]:
    for norm in NORMS:
        CASES.append((name, "r", (3, 4, 5), {"norm": norm}))
    CASES += [(name, "r", (3, 4, 5), {"s": (5, 2), "axes": (0, 2)}), (name, "r", (4, 5), {}),
              (name, "r", (3, 4, 5), {"s": (2, 7), "axes": (2, 0), "norm": "ortho"})]
CASES.append(("rfftn", "r", (3, 4, 5), {"axes": (1,)}))
for name in ["irfft2", "irfftn"]:
    for norm in NORMS:
        CASES.append((name, "c", (3, 4, 5), {"norm": norm}))
    CASES += [(name, "c", (3, 4, 5), {"s": (5, 6), "axes": (0, 2)}), (name, "c", (4, 3), {}),
              (name, "c", (3, 4, 5), {"s": (2, 7), "axes": (2, 0), "norm": "ortho"})]
CASES.append(("irfftn", "c", (3, 4, 5), {"s": (4, 4, 9), "axes": (0, 1, 2), "norm": "forward"}))
IDS = [f"{n}-{k}{s}-{kw}" for n, k, s, kw in CASES]


def _input(kind, shape, seed=0):
    rng = _rng(seed)
    return _cplx(rng, shape) if kind == "c" else rng.standard_normal(shape)


@pytest.mark.parametrize("name, kind, shape, kw", CASES, ids=IDS)
def test_values_match_numpy(name, kind, shape, kw):
    x = _input(kind, shape)
    want = getattr(np.fft, name)(x, **kw)
    plain = getattr(F, name)(x, **kw)
    np.testing.assert_array_equal(plain, want)
    got = _traced(lambda x: getattr(F, name)(x, **kw), x)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "fftn",
                                  "ifftn", "rfft2", "irfft2", "rfftn", "irfftn"])
def test_float32_and_complex64_keep_single_precision(name):
    rng = _rng(1)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    if name.startswith("ir") or name == "hfft":
        x = (x + 1j * rng.standard_normal((4, 6))).astype(np.complex64)
    want = getattr(np.fft, name)(x)
    got = _traced(getattr(F, name), x)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    y, back = pdx.vjp(getattr(F, name), x)
    assert back(np.ones(y.shape, y.dtype))[0].dtype == x.dtype


def test_integer_input_promotes_to_complex128():
    x = np.arange(6.0)
    y = _traced(lambda x: F.fft(pnp.astype(x, np.int64)) + F.fft(pnp.astype(x, np.float32)), x)
    assert y.dtype == np.complex128
    np.testing.assert_allclose(y, 2 * np.fft.fft(np.arange(6)), atol=1e-5)
    assert _traced(F.rfft, np.arange(6.0)).dtype == np.complex128


# -- gradients of real losses vs central differences -----------------------------------------

def _loss(name, kw, x):
    y = getattr(F, name)(x, **kw)
    w = np.cos(np.arange(int(np.prod(y.shape))).reshape(y.shape))   # fixed weights break symmetries
    if np.iscomplexobj(y) or pnp._dtype(y).kind == "c":
        return pnp.sum(w * pnp.abs(y) ** 2) + pnp.sum(w * pnp.real(y)) - 0.3 * pnp.sum(pnp.imag(y) ** 3)
    return pnp.sum(w * y ** 2) + pnp.sum(pnp.sin(y))


def _fd_grad(f, x, h=1e-6):
    """The gradient by central differences; for complex x, df/dx - i df/dy (JAX's convention)."""
    g = np.zeros(x.shape, dtype=x.dtype)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape, dtype=x.dtype)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
        if np.iscomplexobj(x):
            g[i] -= 1j * (f(x + 1j * e) - f(x - 1j * e)) / (2 * h)
    return g


GRAD_CASES = [c for c in CASES if np.prod(c[2]) <= 30 or c[0] in ("fftn", "irfftn", "rfftn")][::2]


@pytest.mark.parametrize("name, kind, shape, kw", GRAD_CASES,
                         ids=[f"{n}-{k}{s}-{kw}" for n, k, s, kw in GRAD_CASES])
def test_grad_of_real_loss_vs_finite_differences(name, kind, shape, kw):
    x = _input(kind, shape, seed=2) * 0.5

    def f(x):
        return _loss(name, kw, x)
    g = pdx.grad(f)(x)
    assert g.shape == x.shape and g.dtype == x.dtype
    np.testing.assert_allclose(g, _fd_grad(f, x), rtol=1e-5, atol=1e-6)


def test_transposes_pair_with_tangents():
    """<ct, J t> = <J^T ct, t> with the pairing Re(sum(a * b)), every fft_type, odd and even lengths."""
    prim = REGISTRY["fft"]
    rng = _rng(3)
    for kind in ("FFT", "IFFT", "RFFT", "IRFFT"):
        for lengths in [(5,), (6,), (3, 4), (2, 5), (1,), (2,)]:
            if kind == "IRFFT":
                shape = (2,) + lengths[:-1] + (lengths[-1] // 2 + 1,)
            else:
                shape = (2,) + lengths
            x = rng.standard_normal(shape) if kind == "RFFT" else _cplx(rng, shape)
            f = (lambda x, kind=kind, lengths=lengths:
                 prim.bind(x, fft_type=kind, fft_lengths=lengths))
            y, back = pdx.vjp(f, x)
            ct = _cplx(rng, y.shape) if np.iscomplexobj(y) else rng.standard_normal(y.shape)
            t = rng.standard_normal(shape) if kind == "RFFT" else _cplx(rng, shape)
            jt = pdx.jvp(f, (x,), (t,))[1]
            (g,) = back(ct)
            lhs, rhs = np.real(np.sum(ct * jt)), np.real(np.sum(g * t))
            assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)), (kind, lengths, lhs, rhs)


# -- against JAX ---------------------------------------------------------------------------------

JAX_FNS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "fftn", "ifftn",
           "rfft2", "irfft2", "rfftn", "irfftn"]
JAX_KW = [{}, {"norm": "ortho"}, {"norm": "forward"}]


@pytest.fixture(scope="module")
def jax_np():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    return jax, jnp


def _jax_kw(name, kw, shape):
    kw = dict(kw)
    if name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
        kw.setdefault("n", {"fft": 7, "ifft": 4, "rfft": 5, "irfft": 7, "hfft": 6, "ihfft": 5}[name])
    elif name not in ("fftn", "ifftn", "rfftn", "irfftn") or kw.get("norm") != "forward":
        kw["s"] = (5, 4)
        kw["axes"] = (0, 2)
    return kw


@pytest.mark.parametrize("kw", JAX_KW, ids=["backward", "ortho", "forward"])
@pytest.mark.parametrize("name", JAX_FNS)
def test_grad_and_vjp_match_jax(jax_np, name, kw):
    jax, jnp = jax_np
    real_in = name in ("rfft", "ihfft", "rfft2", "rfftn")
    rng = _rng(4)
    shape = (3, 4, 5)
    x = rng.standard_normal(shape) if real_in else _cplx(rng, shape)
    kw = _jax_kw(name, kw, shape)
    ours = getattr(F, name)
    theirs = getattr(jnp.fft, name)
    y, back = pdx.vjp(lambda x: ours(x, **kw), x)
    y_j, back_j = jax.vjp(lambda x: theirs(x, **kw), x)
    np.testing.assert_allclose(y, y_j, rtol=1e-11, atol=1e-11)
    assert y.dtype == y_j.dtype
    ct = _cplx(rng, y.shape) if np.iscomplexobj(y) else rng.standard_normal(y.shape)
    np.testing.assert_allclose(back(ct)[0], back_j(ct)[0], rtol=1e-10, atol=1e-10)
    # grad of a real loss
    w = rng.standard_normal(y.shape)

    def loss(fft, np_, x):
        z = fft(x, **kw)
        return np_.sum(w * np_.abs(z) ** 2) + np_.sum(w * np_.real(z))
    g = pdx.grad(lambda x: loss(ours, pnp, x))(x)
    g_j = jax.grad(lambda x: loss(theirs, jnp, x))(x)
    np.testing.assert_allclose(g, g_j, rtol=1e-10, atol=1e-10)
    # forward mode
    t = rng.standard_normal(shape) if real_in else _cplx(rng, shape)
    np.testing.assert_allclose(pdx.jvp(lambda x: ours(x, **kw), (x,), (t,))[1],
                               jax.jvp(lambda x: theirs(x, **kw), (x,), (t,))[1], rtol=1e-10, atol=1e-10)


def test_shifts_match_jax(jax_np):
    jax, jnp = jax_np
    x = _rng(5).standard_normal((5, 4))
    for axes in (None, 0, 1, (0, 1), (-1,)):
        for name in ("fftshift", "ifftshift"):
            ct = _rng(6).standard_normal((5, 4))
            y, back = pdx.vjp(lambda x: getattr(F, name)(x, axes=axes), x)
            y_j, back_j = jax.vjp(lambda x: getattr(jnp.fft, name)(x, axes=axes), x)
            np.testing.assert_array_equal(y, y_j)
            np.testing.assert_array_equal(y, getattr(np.fft, name)(x, axes=axes))
            np.testing.assert_array_equal(back(ct)[0], back_j(ct)[0])


# -- second order ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kind, kw", [("fft", "r", {}), ("rfft", "r", {"norm": "ortho"}),
                                            ("irfft", "c", {"n": 5}), ("fft2", "c", {}),
                                            ("rfftn", "r", {"s": (3, 4)}), ("irfftn", "c", {"norm": "forward"})])
def test_hessian_vs_finite_differences_of_the_gradient(name, kind, kw):
    x = _input(kind, (3, 4), seed=7) * 0.5
    if kind == "c":           # the Hessian over the real and imaginary parts
        def f(v):
            return _loss(name, kw, v[0] + 1j * v[1])
        v = np.stack([x.real, x.imag])
    else:
        def f(v):
            return _loss(name, kw, v)
        v = x
    H = pdx.hessian(f)(v)
    g = pdx.grad(f)
    h = 1e-5
    fd = np.zeros(v.shape + v.shape)
    for i in np.ndindex(v.shape):
        e = np.zeros(v.shape)
        e[i] = h
        fd[(Ellipsis,) + i] = (g(v + e) - g(v - e)) / (2 * h)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6)


def test_fft_of_a_quadratic_has_the_expected_hessian():
    # sum |fft(x)|^2 = n sum x^2 (Parseval): the Hessian is 2 n I
    x = _rng(8).standard_normal(6)
    H = pdx.hessian(lambda x: pnp.sum(pnp.abs(F.fft(x)) ** 2))(x)
    np.testing.assert_allclose(H, 12.0 * np.eye(6), atol=1e-12)


# -- transformations ---------------------------------------------------------------------------

def test_vmap_matches_a_loop():
    rng = _rng(9)
    xs = _cplx(rng, (3, 4, 6))
    for name, kw in [("fft", {}), ("ifft", {"axis": 0, "n": 5}), ("fft2", {"norm": "ortho"}),
                     ("irfft", {"n": 9}), ("irfftn", {"axes": (0, 1)}), ("hfft", {})]:
        f = (lambda x, name=name, kw=kw: getattr(F, name)(x, **kw))
        want = np.stack([getattr(np.fft, name)(x, **kw) for x in xs])
        for axis in (0, 1, 2):
            got = pdx.vmap(f, in_axes=axis)(np.moveaxis(xs, 0, axis))
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name} in_axes={axis}")
    xr = rng.standard_normal((3, 4, 6))
    for name in ("rfft", "rfft2", "rfftn", "ihfft"):
        got = pdx.vmap(getattr(F, name), in_axes=1)(np.moveaxis(xr, 0, 1))
        np.testing.assert_allclose(got, np.stack([getattr(np.fft, name)(x) for x in xr]), rtol=1e-12, atol=1e-12)


def test_vmap_of_grad_matches_a_loop():
    xs = _rng(10).standard_normal((4, 8))

    def f(x):
        return pnp.sum(pnp.abs(F.rfft(x)[1:3]) ** 2) + pnp.sum(F.irfft(F.rfft(x) * np.arange(5.0)) ** 2)
    got = pdx.vmap(pdx.grad(f))(xs)
    np.testing.assert_allclose(got, np.stack([pdx.grad(f)(x) for x in xs]), rtol=1e-12, atol=1e-12)


def test_jit_of_value_and_grad():
    x = _cplx(_rng(11), (4, 5))

    def f(x):
        y = F.fftshift(F.fft2(x, norm="ortho"))
        return pnp.sum(pnp.real(y) ** 2) - pnp.sum(pnp.imag(F.ifftshift(y)))
    g = pdx.grad(f)(x)
    np.testing.assert_allclose(pdx.jit(f)(x), f(x), rtol=1e-12)
    np.testing.assert_allclose(pdx.jit(pdx.grad(f))(x), g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, _fd_grad(f, x), rtol=1e-6, atol=1e-7)


def test_raw_numpy_calls_on_tracers_dispatch_to_pnp_fft():
    x = _rng(12).standard_normal((4, 6))

    def f(x):
        return pnp.sum(pnp.abs(np.fft.rfft2(np.fft.fftshift(x))) ** 2) + pnp.sum(pnp.real(np.fft.ifft(x, n=8)))
    np.testing.assert_allclose(pdx.grad(f)(x), _fd_grad(f, x), rtol=1e-6, atol=1e-7)


def test_sparse_jacobian_is_block_dense_along_the_transformed_axis():
    x = _rng(13).standard_normal((3, 4))

    def f(x):
        return pnp.real(F.fft(x, axis=1)) + pnp.imag(F.rfft(x, n=6, axis=1))[:, :4]
    J = pdx.sparse_jacobian(f)(x)
    np.testing.assert_allclose(J.toarray(), pdx.jacobian(f)(x).reshape(12, 12), atol=1e-12)
    assert J.nnz <= 3 * 4 * 4          # rows do not mix
    H = pdx.sparse_hessian(lambda x: pnp.sum(pnp.abs(F.fft(x, axis=0)) ** 2))(x)
    np.testing.assert_allclose(H.toarray(), pdx.hessian(lambda x: pnp.sum(pnp.abs(F.fft(x, axis=0)) ** 2))(x)
                               .reshape(12, 12), atol=1e-10)


def test_helpers_and_errors():
    assert F.fftfreq is np.fft.fftfreq and F.rfftfreq is np.fft.rfftfreq
    assert "fft" in pnp.__all__ and pnp.fft is F
    x = np.ones(4)
    with pytest.raises(ValueError, match="norm"):
        pdx.grad(lambda x: pnp.sum(pnp.real(F.fft(x, norm="bogus"))))(x)
    with pytest.raises(ValueError, match="data points"):
        pdx.grad(lambda x: pnp.sum(pnp.real(F.fft(x, n=0))))(x)
    with pytest.raises(TypeError):
        pdx.grad(lambda z: pnp.sum(pnp.real(F.rfft(z))))(x + 1j)
