"""Stacked linear algebra and the newer pnp.linalg / partiald.scipy.linalg functions:
values against NumPy and SciPy, gradients against finite differences and JAX, vmap,
jit and second order."""
from __future__ import annotations

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald.scipy import linalg as psl

RNG = np.random.default_rng(1234)


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def _check_grad(f, x, tol=1e-6):
    g = pdx.grad(f)(x)
    fd = _fd_grad(lambda y: float(f(y)), x)
    np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)


def _distinct_sv(shape, rng=RNG):
    *batch, m, n = shape
    k = min(m, n)
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        u, _ = np.linalg.qr(rng.normal(size=(m, k)))
        v, _ = np.linalg.qr(rng.normal(size=(n, k)))
        out[idx] = (u * (1.0 + 0.7 * np.arange(k)[::-1] + rng.uniform(-0.1, 0.1, k))) @ v.T
    return out


def _spd(shape, rng=RNG):
    b = rng.normal(size=shape)
    return b @ np.swapaxes(b, -1, -2) / shape[-1] + np.eye(shape[-1])


def _sym(shape, rng=RNG):
    a = rng.normal(size=shape)
    return a + np.swapaxes(a, -1, -2)


A3 = RNG.normal(size=(2, 3, 3, 3)) + 3 * np.eye(3)
W = RNG.normal(size=(3, 3))


# -- values -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bshape", [(3,), (2, 3, 3, 2), (3, 3, 1), (1, 3, 4), (3, 2)])
def test_solve_values_follow_numpy_broadcasting(bshape):
    b = RNG.normal(size=bshape)
    np.testing.assert_allclose(pnp.linalg.solve(A3, b), np.linalg.solve(A3, b), rtol=1e-12)


def test_stacked_values():
    np.testing.assert_allclose(pnp.linalg.inv(A3), np.linalg.inv(A3), rtol=1e-12)
    np.testing.assert_allclose(pnp.linalg.det(A3), np.linalg.det(A3), rtol=1e-12)
    s, l = pnp.linalg.slogdet(A3)
    s0, l0 = np.linalg.slogdet(A3)
    np.testing.assert_allclose(s, s0)
    np.testing.assert_allclose(l, l0, rtol=1e-12)
    spd = _spd((2, 4, 4))
    np.testing.assert_allclose(pnp.linalg.cholesky(spd), np.linalg.cholesky(spd), rtol=1e-12)
    np.testing.assert_allclose(pnp.linalg.cholesky(spd, upper=True), np.linalg.cholesky(spd, upper=True),
                               rtol=1e-12)
    a = RNG.normal(size=(2, 4, 4))
    for uplo in ("L", "U"):
        np.testing.assert_allclose(pnp.linalg.eigvalsh(a, UPLO=uplo), np.linalg.eigvalsh(a, UPLO=uplo),
                                   rtol=1e-12)
        w, v = pnp.linalg.eigh(a, UPLO=uplo)
        w0, v0 = np.linalg.eigh(a, UPLO=uplo)
        np.testing.assert_allclose(w, w0, rtol=1e-12)
        np.testing.assert_allclose(np.abs(v), np.abs(v0), atol=1e-10)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 5, 2), (0, 0)])
@pytest.mark.parametrize("full", [True, False])
def test_svd_values(shape, full):
    a = RNG.normal(size=shape)
    u, s, vh = pnp.linalg.svd(a, full_matrices=full)
    u0, s0, vh0 = np.linalg.svd(a, full_matrices=full)
    assert u.shape == u0.shape and vh.shape == vh0.shape
    np.testing.assert_allclose(s, s0, rtol=1e-12)
    np.testing.assert_allclose(pnp.linalg.svd(a, compute_uv=False), s0, rtol=1e-12)
    k = min(shape[-2:])
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, atol=1e-12)
    np.testing.assert_allclose(np.abs(u[..., :k]), np.abs(u0[..., :k]), atol=1e-10)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 5, 3)])
def test_qr_pinv_values(shape):
    a = RNG.normal(size=shape)
    q, r = pnp.linalg.qr(a)
    q0, r0 = np.linalg.qr(a)
    np.testing.assert_allclose(q, q0, atol=1e-12)
    np.testing.assert_allclose(r, r0, atol=1e-12)
    np.testing.assert_allclose(pnp.linalg.qr(a, mode="r"), r0, atol=1e-12)
    np.testing.assert_allclose(pnp.linalg.pinv(a), np.linalg.pinv(a), atol=1e-12)


@pytest.mark.parametrize("ord", [None, 2, 1, 0, 3, 0.5, -1, np.inf, -np.inf])
def test_vector_norms(ord):
    x = RNG.normal(size=(3, 5))
    np.testing.assert_allclose(pnp.linalg.norm(x[0], ord), np.linalg.norm(x[0], ord), rtol=1e-12)
    for axis in (0, 1, -1):
        for kd in (False, True):
            np.testing.assert_allclose(pnp.linalg.norm(x, ord, axis=axis, keepdims=kd),
                                       np.linalg.norm(x, ord, axis=axis, keepdims=kd), rtol=1e-12)
    if ord not in (0,):
        _check_grad(lambda y: pnp.linalg.norm(y[0], ord), x)


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms(ord):
    x = RNG.normal(size=(3, 4, 5))
    np.testing.assert_allclose(pnp.linalg.norm(x[0], ord), np.linalg.norm(x[0], ord), rtol=1e-12)
    for axis in ((1, 2), (2, 0), (-1, -2)):
        for kd in (False, True):
            np.testing.assert_allclose(pnp.linalg.norm(x, ord, axis=axis, keepdims=kd),
                                       np.linalg.norm(x, ord, axis=axis, keepdims=kd), rtol=1e-12)
    _check_grad(lambda y: pnp.sum(pnp.linalg.norm(y, ord, axis=(2, 1))), x)


def test_norm_errors():
    with pytest.raises(ValueError, match="ord"):
        pnp.linalg.norm(np.ones((2, 2)), ord=3)
    with pytest.raises(ValueError, match="ord"):
        pnp.linalg.norm(np.ones(2), ord="nuc")


def test_matrix_power_multi_dot_lstsq():
    a = A3[0, 0]
    for n in (0, 1, 2, 3, 5, -1, -3):
        np.testing.assert_allclose(pnp.linalg.matrix_power(A3, n), np.linalg.matrix_power(A3, n), rtol=1e-10)
    xs = [RNG.normal(size=(3,)), RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2)), RNG.normal(size=(2,))]
    np.testing.assert_allclose(pnp.linalg.multi_dot(xs), np.linalg.multi_dot(xs), rtol=1e-12)
    m = RNG.normal(size=(5, 3))
    b = RNG.normal(size=(5, 2))
    x, res, rank, s = pnp.linalg.lstsq(m, b)
    x0, res0, rank0, s0 = np.linalg.lstsq(m, b)
    np.testing.assert_allclose(x, x0, rtol=1e-10)
    np.testing.assert_allclose(res, res0, rtol=1e-10)
    assert rank == rank0
    np.testing.assert_allclose(s, s0)
    _check_grad(lambda y: pnp.sum(pnp.sin(pnp.linalg.matrix_power(y, 3))), a)
    _check_grad(lambda y: pnp.sum(pnp.linalg.lstsq(y, b)[0] ** 2), m)
    _check_grad(lambda y: pnp.sum(pnp.linalg.lstsq(m, y)[1]), b)


# -- gradients against finite differences ------------------------------------------------------------

_FUNCS = {
    "solve": (lambda a: pnp.sum(pnp.sin(pnp.linalg.solve(a, np.ones((3, 2))))), lambda: A3),
    "solve-vec": (lambda a: pnp.sum(pnp.sin(pnp.linalg.solve(a, np.ones(3)))), lambda: A3),
    "inv": (lambda a: pnp.sum(pnp.sin(pnp.linalg.inv(a))), lambda: A3),
    "det": (lambda a: pnp.sum(pnp.linalg.det(a)), lambda: A3),
    "slogdet": (lambda a: pnp.sum(pnp.linalg.slogdet(a)[1]), lambda: A3),
    "cholesky": (lambda a: pnp.sum(pnp.sin(pnp.linalg.cholesky(a))), lambda: _spd((2, 3, 3))),
    "eigh-L": (lambda a: pnp.sum(pnp.sin(pnp.linalg.eigh(a)[1]) * W) + pnp.sum(pnp.linalg.eigh(a)[0] ** 3),
               lambda: _sym((2, 3, 3))),
    "eigh-U": (lambda a: pnp.sum(pnp.sin(pnp.linalg.eigh(a, UPLO="U")[1]) * W)
               + pnp.sum(pnp.linalg.eigvalsh(a, UPLO="U") ** 3), lambda: _sym((2, 3, 3)) + np.triu(np.ones(3))),
    "svd-square": (lambda a: sum(pnp.sum(pnp.sin(t)) for t in pnp.linalg.svd(a)), lambda: _distinct_sv((2, 3, 3))),
    "svd-tall": (lambda a: sum(pnp.sum(pnp.sin(t)) for t in pnp.linalg.svd(a, full_matrices=False)),
                 lambda: _distinct_sv((2, 4, 2))),
    "svd-wide": (lambda a: sum(pnp.sum(pnp.sin(t)) for t in pnp.linalg.svd(a, full_matrices=False)),
                 lambda: _distinct_sv((2, 2, 4))),
    "svd-s-full": (lambda a: pnp.sum(pnp.linalg.svd(a)[1] ** 3), lambda: _distinct_sv((4, 2))),
    "qr-tall": (lambda a: sum(pnp.sum(pnp.sin(t)) for t in pnp.linalg.qr(a)), lambda: _distinct_sv((2, 4, 3))),
    "qr-wide": (lambda a: sum(pnp.sum(pnp.sin(t)) for t in pnp.linalg.qr(a)), lambda: _distinct_sv((3, 5))),
    "pinv-tall": (lambda a: pnp.sum(pnp.sin(pnp.linalg.pinv(a))), lambda: _distinct_sv((2, 4, 3))),
    "pinv-wide": (lambda a: pnp.sum(pnp.sin(pnp.linalg.pinv(a))), lambda: _distinct_sv((3, 5))),
    "solve_triangular": (lambda a: sum(pnp.sum(pnp.sin(psl.solve_triangular(a, np.ones((3, 2)), trans=t, lower=lo,
                                                                            unit_diagonal=u)))
                                       for t in (0, 1, 2) for lo in (True, False) for u in (True, False)),
                         lambda: RNG.normal(size=(3, 3)) + 3 * np.eye(3)),
    "scipy-cholesky": (lambda a: pnp.sum(pnp.sin(psl.cholesky(a))) + pnp.sum(pnp.sin(psl.cholesky(a, lower=True))),
                       lambda: _spd((3, 3)) + np.triu(np.ones((3, 3)), 1)),
    "cho_solve": (lambda a: pnp.sum(pnp.sin(psl.cho_solve(psl.cho_factor(a), np.ones(3))))
                  + pnp.sum(pnp.sin(psl.cho_solve(psl.cho_factor(a, lower=True), np.ones(3)))),
                  lambda: _spd((3, 3))),
    "expm": (lambda a: pnp.sum(pnp.sin(psl.expm(a))), lambda: RNG.normal(size=(3, 3))),
    "expm-scaled": (lambda a: pnp.sum(pnp.sin(psl.expm(a))), lambda: 4 * RNG.normal(size=(3, 3))),
}


@pytest.mark.parametrize("name", sorted(_FUNCS))
def test_gradients_against_finite_differences(name):
    f, make = _FUNCS[name]
    _check_grad(f, make(), tol=2e-6)


def test_svd_full_matrices_derivative_is_refused_for_non_square():
    a = _distinct_sv((4, 2))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        pdx.grad(lambda x: pnp.sum(pnp.linalg.svd(x)[0]))(a)


# -- scipy values ---------------------------------------------------------------------------------------

def test_scipy_linalg_values():
    sl = pytest.importorskip("scipy.linalg")
    a = RNG.normal(size=(4, 4)) + 4 * np.eye(4)
    b = RNG.normal(size=(4, 2))
    for trans in (0, 1, 2, "N", "T", "C"):
        for lower in (True, False):
            for unit in (True, False):
                np.testing.assert_allclose(psl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit),
                                           sl.solve_triangular(a, b, trans=trans, lower=lower,
                                                               unit_diagonal=unit), rtol=1e-10)
    spd = _spd((4, 4))
    ns = spd + np.triu(np.ones((4, 4)), 1)      # only the read triangle matters
    np.testing.assert_allclose(psl.cholesky(ns), sl.cholesky(np.triu(ns) + np.triu(ns, 1).T), rtol=1e-12)
    np.testing.assert_allclose(psl.cholesky(spd, lower=True), sl.cholesky(spd, lower=True), rtol=1e-12)
    for lower in (True, False):
        np.testing.assert_allclose(psl.cho_solve(psl.cho_factor(spd, lower=lower), b),
                                   sl.cho_solve(sl.cho_factor(spd, lower=lower), b), rtol=1e-10)
    np.testing.assert_allclose(psl.inv(a), sl.inv(a), rtol=1e-12)
    np.testing.assert_allclose(psl.det(a), sl.det(a), rtol=1e-12)
    for scale in (0.1, 1.0, 5.0, 30.0):
        m = scale * RNG.normal(size=(4, 4))
        np.testing.assert_allclose(psl.expm(m), sl.expm(m), rtol=1e-10, atol=1e-12)


# -- vmap, jit, second order --------------------------------------------------------------------------

_VMAP = {
    "solve": lambda a: pnp.linalg.solve(a, np.arange(3.0)),
    "inv": pnp.linalg.inv,
    "det": pnp.linalg.det,
    "slogdet": lambda a: pnp.linalg.slogdet(a)[1],
    "cholesky": lambda a: pnp.linalg.cholesky(a @ pnp.swapaxes(a, -1, -2) + np.eye(3)),
    "eigh": lambda a: pnp.linalg.eigh(a + pnp.swapaxes(a, -1, -2))[0],
    "svd": lambda a: pnp.linalg.svd(a)[1],
    "svd-u": lambda a: pnp.abs(pnp.linalg.svd(a)[0]),
    "qr": lambda a: pnp.linalg.qr(a)[1],
    "pinv": pnp.linalg.pinv,
}


@pytest.mark.parametrize("name", sorted(_VMAP))
def test_vmap_and_jit(name):
    f = _VMAP[name]
    a = A3[0]
    expected = np.stack([np.asarray(f(x)) for x in a])
    np.testing.assert_allclose(pdx.vmap(f)(a), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pdx.vmap(f, in_axes=1, out_axes=0)(np.swapaxes(a, 0, 1)), expected,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pdx.jit(f)(a), np.asarray(f(a)), rtol=1e-10, atol=1e-12)
    g = pdx.grad(lambda x: pnp.sum(pnp.sin(f(x))))
    np.testing.assert_allclose(pdx.vmap(g)(a), np.stack([g(x) for x in a]), rtol=1e-9, atol=1e-12)


def test_vmap_of_solve_with_shared_matrix_and_batched_vectors():
    a = A3[0, 0]
    bs = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(pdx.vmap(lambda b: pnp.linalg.solve(A3[0], b))(bs),
                               np.stack([np.linalg.solve(A3[0], b) for b in bs]), rtol=1e-12)
    np.testing.assert_allclose(pdx.vmap(lambda b: pnp.linalg.solve(a, b))(bs), np.linalg.solve(a, bs.T).T,
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["svd-square", "qr-tall", "pinv-tall", "eigh-L", "cholesky", "slogdet"])
def test_second_order(name):
    f, make = _FUNCS[name]
    x = make()
    v = RNG.normal(size=x.shape)
    hv = pdx.jvp(pdx.grad(f), (x,), (v,))[1]
    g = pdx.grad(f)
    fd = (g(x + 1e-5 * v) - g(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-5)


# -- against JAX ------------------------------------------------------------------------------------------

_JAX = {
    # functions invariant to the sign conventions of singular vectors / eigenvectors
    "svd": (lambda np_, a: sum(np_.sum(np_.sin(t)) for t in [np_.linalg.svd(a, full_matrices=False)[1]])
            + np_.sum(np_.linalg.svd(a, full_matrices=False)[0] ** 2 * np_.arange(1.0, 4.0))
            + np_.sum(np_.linalg.svd(a, full_matrices=False)[2] ** 2 * np_.arange(1.0, 4.0)[:, None]),
            lambda: _distinct_sv((2, 4, 3))),
    "svd-wide": (lambda np_, a: np_.sum(np_.linalg.svd(a, full_matrices=False)[0] ** 2 * np_.arange(1.0, 3.0))
                 + np_.sum(np_.linalg.svd(a, full_matrices=False)[2] ** 2 * np_.arange(1.0, 3.0)[:, None]),
                 lambda: _distinct_sv((2, 4))),
    "qr": (lambda np_, a: sum(np_.sum(np_.sin(t)) for t in np_.linalg.qr(a)), lambda: _distinct_sv((2, 4, 3))),
    "qr-wide": (lambda np_, a: sum(np_.sum(np_.sin(t)) for t in np_.linalg.qr(a)), lambda: _distinct_sv((3, 5))),
    "pinv": (lambda np_, a: np_.sum(np_.sin(np_.linalg.pinv(a))), lambda: _distinct_sv((2, 3, 5))),
    "eigh": (lambda np_, a: np_.sum(np_.linalg.eigh(a)[1] ** 2 * np_.arange(1.0, 4.0)), lambda: _sym((2, 3, 3))),
    "norm-nuc": (lambda np_, a: np_.linalg.norm(a, "nuc") + np_.linalg.norm(a, 2) + np_.linalg.norm(a, -2),
                 lambda: _distinct_sv((3, 4))),
    "solve": (lambda np_, a: np_.sum(np_.sin(np_.linalg.solve(a, np_.ones((3, 3, 2))))), lambda: A3),
    "slogdet": (lambda np_, a: np_.sum(np_.linalg.slogdet(a)[1]), lambda: A3),
    "cholesky": (lambda np_, a: np_.sum(np_.sin(np_.linalg.cholesky(a))), lambda: _spd((2, 3, 3))),
}


@pytest.mark.parametrize("name", sorted(_JAX))
def test_gradients_against_jax(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    f, make = _JAX[name]
    x = make()
    ours = pdx.grad(lambda a: f(pnp, a))(x)
    theirs = np.asarray(jax.grad(lambda a: f(jnp, a))(x))
    if name == "eigh" or name == "cholesky":
        # JAX symmetrizes the tangent; ours lies in the read (lower) triangle: compare the
        # gradients with respect to a symmetric parameterization
        ours = ours + np.swapaxes(ours, -1, -2) - ours * np.eye(3)
        theirs = theirs + np.swapaxes(theirs, -1, -2) - theirs * np.eye(3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def test_pinv_of_a_fixed_low_rank_matrix():
    # pinv(X^T X) with X 5 x 7: rank 5 everywhere nearby, so the derivative exists
    x = RNG.normal(size=(5, 7))
    w = RNG.normal(size=(7, 7))
    _check_grad(lambda y: pnp.sum(pnp.linalg.pinv(pnp.matmul(y.T, y)) * w), x, tol=1e-5)


_CPLX = RNG.normal(size=(2, 3, 3)) + 1j * RNG.normal(size=(2, 3, 3))
_WC = RNG.normal(size=(3, 3))
_COMPLEX = {
    "solve": (lambda np_, x: np_.sum(np_.abs(np_.linalg.solve(x, np_.ones((2, 3, 2)))) ** 2), _CPLX),
    "inv": (lambda np_, x: np_.sum(np_.real(np_.linalg.inv(x)) * _WC), _CPLX),
    "slogdet": (lambda np_, x: np_.sum(np_.linalg.slogdet(x)[1]), _CPLX),
    "svd-s": (lambda np_, x: np_.sum(np_.linalg.svd(x, compute_uv=False) ** 3), _CPLX),
    "svd-abs-uv": (lambda np_, x: np_.sum(np_.abs(np_.linalg.svd(x)[0]) * _WC)
                   + np_.sum(np_.abs(np_.linalg.svd(x)[2]) * _WC), _CPLX),
    "qr": (lambda np_, x: np_.sum(np_.real(np_.linalg.qr(x)[1]) * _WC)
           + np_.sum(np_.imag(np_.linalg.qr(x)[0]) * _WC), _CPLX),
    "pinv": (lambda np_, x: np_.sum(np_.real(np_.linalg.pinv(x)) * _WC[:2]), _CPLX[..., :2]),
    "norm": (lambda np_, x: np_.linalg.norm(x[0], "nuc") + np_.linalg.norm(x[1], 2)
             + np_.linalg.norm(x[0], "fro"), _CPLX),
}
_HERM = _CPLX + np.conj(np.swapaxes(_CPLX, -1, -2))
_HPD = _CPLX @ np.conj(np.swapaxes(_CPLX, -1, -2)) + np.eye(3)
_COMPLEX_HERMITIAN = {
    # JAX symmetrizes; ours reads one triangle: compare along Hermitian directions
    "eigvalsh": (lambda np_, x: np_.sum(np_.linalg.eigvalsh(x) ** 3), _HERM),
    "eigh-abs-v": (lambda np_, x: np_.sum(np_.abs(np_.linalg.eigh(x)[1]) * _WC), _HERM),
    "cholesky": (lambda np_, x: np_.sum(np_.real(np_.linalg.cholesky(x)) * _WC)
                 + np_.sum(np_.imag(np_.linalg.cholesky(x)) * _WC), _HPD),
}


def _complex_grads(f, x):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    try:
        ours = pdx.grad(lambda y: f(pnp, y))(x)
    except (TypeError, NotImplementedError) as e:       # complex inputs not supported yet
        pytest.skip(f"complex inputs: {e}")
    return ours, np.asarray(jax.grad(lambda y: f(jnp, y))(x))


@pytest.mark.parametrize("name", sorted(_COMPLEX))
def test_complex_gradients_against_jax(name):
    f, x = _COMPLEX[name]
    ours, theirs = _complex_grads(f, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(_COMPLEX_HERMITIAN))
def test_complex_hermitian_gradients_against_jax(name):
    f, x = _COMPLEX_HERMITIAN[name]
    ours, theirs = _complex_grads(f, x)
    for seed in range(3):
        d = np.random.default_rng(seed).normal(size=x.shape) * (1 + 1j)
        d = d + np.conj(np.swapaxes(d, -1, -2))
        np.testing.assert_allclose(np.sum(np.real(np.conj(ours) * d)), np.sum(np.real(np.conj(theirs) * d)),
                                   rtol=1e-8)


def test_complex_eigh_ignores_the_imaginary_part_of_the_diagonal():
    # LAPACK reads the real part of the diagonal only; so does the derivative
    x = _CPLX[0]
    g = pdx.grad(lambda y: pnp.sum(pnp.linalg.eigvalsh(y) ** 3))
    try:
        gx = g(x)
    except (TypeError, NotImplementedError) as e:
        pytest.skip(f"complex inputs: {e}")
    f = lambda y: float(np.sum(np.linalg.eigvalsh(y) ** 3))   # noqa: E731
    for i in range(3):
        e = np.zeros((3, 3), complex)
        e[i, i] = 1e-6j
        assert abs(f(x + e) - f(x - e)) < 1e-12
        assert abs(np.imag(gx[i, i])) < 1e-12


# -- eig (general, complex results) ---------------------------------------------------------------

def _nonsym(shape, seed):
    rng = np.random.default_rng(seed)
    *batch, n, _ = shape
    s = np.eye(n) + 0.3 * rng.normal(size=tuple(batch) + (n, n))
    w = np.arange(n) - (n - 1) / 2 + rng.uniform(-0.15, 0.15, size=tuple(batch) + (n,))
    return s @ (w[..., :, None] * np.linalg.inv(s))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5, 5)])
def test_eig_values_and_phase_invariant_gradients(shape):
    a = _nonsym(shape, 3)
    w, v = pnp.linalg.eig(a)
    w0, v0 = np.linalg.eig(a)
    np.testing.assert_allclose(w, w0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.abs(v), np.abs(v0), rtol=1e-10, atol=1e-12)
    assert w.dtype == np.complex128 and v.dtype == np.complex128
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0, rtol=1e-13)

    def loss(a):
        w, v = pnp.linalg.eig(a)
        return pnp.sum(pnp.abs(v) ** 3) + pnp.sum(pnp.real(w) ** 2 * pnp.arange(shape[-1]))
    _check_grad(loss, a)


def test_eig_of_complex_matrices_and_the_fixed_phase():
    rng = np.random.default_rng(5)
    a = _nonsym((4, 4), 5) + 0.3j * rng.normal(size=(4, 4))
    t = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    h = 1e-6
    for k in (0, 1):
        f = lambda a: pnp.linalg.eig(a)[k]  # noqa: E731
        _, jt = pdx.jvp(f, (a,), (t,))
        np.testing.assert_allclose(jt, (f(a + h * t) - f(a - h * t)) / (2 * h), rtol=1e-6, atol=1e-7)
    v = pnp.linalg.eig(a)[1]
    piv = np.take_along_axis(v, np.argmax(np.abs(v), axis=0)[None, :], axis=0)
    assert np.all(np.abs(np.imag(piv)) < 1e-14) and np.all(np.real(piv) > 0)


def test_eig_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a = _nonsym((4, 4), 9)

    def loss(m, eig):
        return lambda a: (m.sum(m.abs(eig(a)[1]) ** 2 * m.arange(4.0))
                          + m.sum(m.imag(eig(a @ a.T - a)[0])))

    def jax_eig(a):        # JAX differentiates eigenvectors only when asked to
        w, v = jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
        return w, v
    np.testing.assert_allclose(pdx.grad(loss(pnp, pnp.linalg.eig))(a), jax.grad(loss(jnp, jax_eig))(a),
                               rtol=1e-9, atol=1e-12)


# -- sqrtm, solve_sylvester, solve_banded ---------------------------------------------------------

def test_sqrtm_values_and_derivatives():
    sla = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    spd = (q * np.array([0.5, 1.0, 2.0, 3.5])) @ q.T
    indefinite = (q * np.array([0.5, -1.0, 2.0, -3.5])) @ q.T
    for a in (spd, indefinite, rng.normal(size=(3, 3)) + 3 * np.eye(3)):
        x = psl.sqrtm(a)
        assert x.dtype == np.complex128
        np.testing.assert_allclose(x, sla.sqrtm(a), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x @ x, a, rtol=1e-10, atol=1e-12)
        w = rng.normal(size=a.shape)
        _check_grad(lambda a: pnp.sum(pnp.real(psl.sqrtm(a)) * w + pnp.imag(psl.sqrtm(a)) ** 2), a)
    stack = np.stack([spd, 2 * spd])
    np.testing.assert_allclose(psl.sqrtm(stack)[1], sla.sqrtm(2 * spd), rtol=1e-10)
    # second order: d2/dt2 sqrt(t * spd) = -1/4 t^-3/2 sqrt(spd)
    d2 = pdx.grad(pdx.grad(lambda t: pnp.real(psl.sqrtm(t * spd)[0, 0])))(1.0)
    assert np.isclose(d2, -0.25 * np.real(sla.sqrtm(spd)[0, 0]), rtol=1e-8)


def test_solve_sylvester_matches_scipy_and_differentiates_in_every_argument():
    sla = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(12)
    a, b, q = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=(2, 2)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(psl.solve_sylvester(a, b, q), sla.solve_sylvester(a, b, q), rtol=1e-12)
    w = rng.normal(size=(3, 2))
    for k, x in enumerate((a, b, q)):
        def f(v, k=k):
            args = [a, b, q]
            args[k] = v
            return pnp.sum(psl.solve_sylvester(*args) * w)
        _check_grad(f, x)
    with pytest.raises(ValueError, match="SYLVESTER_MAX"):
        psl.solve_sylvester(np.eye(70), np.eye(70), np.ones((70, 70)))


def test_solve_banded_matches_scipy():
    sla = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(13)
    for lu, n in (((1, 1), 5), ((2, 0), 4), ((0, 3), 6)):
        ab = rng.normal(size=(sum(lu) + 1, n))
        ab[lu[1]] += 4.0                                   # a dominant diagonal
        b = rng.normal(size=(n, 2))
        np.testing.assert_allclose(psl.solve_banded(lu, ab, b), sla.solve_banded(lu, ab, b), rtol=1e-12)
        w = rng.normal(size=(n, 2))
        _check_grad(lambda v: pnp.sum(psl.solve_banded(lu, v, b) * w), ab)
        _check_grad(lambda v: pnp.sum(psl.solve_banded(lu, ab, v) * w), b)


# -- det and adjugate on stacks ----------------------------------------------------------------

def _adj(a):
    from partiald.core.primitive import REGISTRY, bind
    return bind(REGISTRY["adjugate"], a)


def _cofactor_adjugate(a):
    """adj(A)[..., i, j] = (-1)^(i+j) det(A without row j and column i), per matrix: exact
    at singular matrices (a reference independent of the SVD)."""
    a = np.asarray(a)
    n = a.shape[-1]
    out = np.empty_like(a)
    if n == 1:
        return np.ones_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, j, axis=-2), i, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


def _rank_stack(batch, n, rank, rng=RNG, cplx=False):
    def draw(shape):
        x = rng.normal(size=shape)
        return x + 1j * rng.normal(size=shape) if cplx else x
    return draw(batch + (n, rank)) @ draw(batch + (rank, n))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_stacked_det_and_adjugate_values(n):
    a = RNG.normal(size=(2, 3, n, n))
    np.testing.assert_allclose(pnp.linalg.det(a), np.linalg.det(a), rtol=1e-12, atol=1e-12)
    assert np.shape(pnp.linalg.det(a)) == (2, 3)
    adj = _adj(a)
    assert adj.shape == a.shape
    if n:
        np.testing.assert_allclose(adj, _cofactor_adjugate(a), rtol=1e-10, atol=1e-12)
    # an empty batch
    assert np.shape(pnp.linalg.det(np.zeros((0, n, n)))) == (0,)
    assert _adj(np.zeros((0, n, n))).shape == (0, n, n)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("drop", [1, 2])
def test_stacked_det_gradient_at_singular_matrices(n, drop):
    # rank n-1: the gradient adj(A)^T is nonzero; rank n-2: it is 0 (for n >= 3 ... or n = 2)
    rank = n - drop
    a = _rank_stack((2, 2), n, rank)
    w = RNG.normal(size=(2, 2))
    f = lambda x: pnp.sum(pnp.linalg.det(x) * w)          # noqa: E731
    g = pdx.grad(f)(a)
    ref = np.swapaxes(_cofactor_adjugate(a), -1, -2) * w[..., None, None]
    np.testing.assert_allclose(g, ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.swapaxes(_adj(a), -1, -2) * w[..., None, None], ref, rtol=1e-8, atol=1e-10)
    if rank == n - 1:
        assert np.abs(ref).max() > 1e-3
    _check_grad(f, a)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("drop", [0, 1, 2])
def test_stacked_det_second_order_exact_at_singular_matrices(n, drop):
    # n <= 3: the adjugate JVP is a closed form, so the Hessian is exact at singular matrices
    a = _rank_stack((2,), n, n - drop)
    w = np.array([0.7, -1.3])
    f = lambda x: pnp.sum(pnp.linalg.det(x) * w)          # noqa: E731
    h = np.reshape(pdx.hessian(f)(a), (a.size, a.size))
    gflat = lambda v: np.ravel(pdx.grad(f)(np.reshape(v, a.shape)))   # noqa: E731
    v0, eps = np.ravel(a), 1e-5
    fd = np.stack([(gflat(v0 + eps * e) - gflat(v0 - eps * e)) / (2 * eps) for e in np.eye(a.size)], axis=1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-7)
    # no coupling between matrices of the stack
    m = n * n
    assert np.all(h[:m, m:] == 0) and np.all(h[m:, :m] == 0)


def test_stacked_det_second_order_n4():
    a = RNG.normal(size=(2, 4, 4)) + 3 * np.eye(4)
    w = np.array([0.7, -1.3])
    f = lambda x: pnp.sum(pnp.linalg.det(x) * w)          # noqa: E731
    h = np.reshape(pdx.hessian(f)(a), (a.size, a.size))
    gflat = lambda v: np.ravel(pdx.grad(f)(np.reshape(v, a.shape)))   # noqa: E731
    v0, eps = np.ravel(a), 1e-5
    fd = np.stack([(gflat(v0 + eps * e) - gflat(v0 - eps * e)) / (2 * eps) for e in np.eye(a.size)], axis=1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-6)
    # third order along a direction: d^3/dt^3 det(A + tD) is 6 * the t^3 coefficient
    d = RNG.normal(size=(4, 4))
    d3 = pdx.grad(pdx.grad(pdx.grad(lambda t: pnp.linalg.det(a[0] + t * d))))(0.0)
    coeffs = np.polyfit(np.linspace(-1, 1, 9), [np.linalg.det(a[0] + t * d) for t in np.linspace(-1, 1, 9)], 4)
    assert np.isclose(d3, 6 * coeffs[1], rtol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_stacked_adjugate_gradient(n):
    a = RNG.normal(size=(3, n, n)) + 2 * np.eye(n)
    w = RNG.normal(size=(3, n, n))
    _check_grad(lambda x: pnp.sum(_adj(x) * w), a, tol=1e-5)
    if n == 3:      # exact at singular matrices too
        _check_grad(lambda x: pnp.sum(_adj(x) * w), _rank_stack((3,), 3, 1), tol=1e-6)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_vmap_and_jit_of_det_and_adjugate(n):
    a = RNG.normal(size=(4, 2, n, n))
    expected = np.linalg.det(a)
    np.testing.assert_allclose(pdx.vmap(pnp.linalg.det)(a), expected, rtol=1e-10)
    np.testing.assert_allclose(pdx.vmap(pnp.linalg.det, in_axes=1, out_axes=1)(np.swapaxes(a, 0, 1)),
                               np.swapaxes(expected, 0, 1), rtol=1e-10)
    np.testing.assert_allclose(pdx.vmap(pdx.vmap(pnp.linalg.det))(a), expected, rtol=1e-10)
    np.testing.assert_allclose(pdx.jit(pnp.linalg.det)(a), expected, rtol=1e-10)
    np.testing.assert_allclose(pdx.vmap(_adj)(a), _cofactor_adjugate(a), rtol=1e-9, atol=1e-12)
    g = pdx.grad(lambda x: pnp.sum(pnp.linalg.det(x) ** 2))
    gv = pdx.vmap(g)(a)
    np.testing.assert_allclose(gv, np.stack([g(x) for x in a]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pdx.jit(g)(a), gv, rtol=1e-9, atol=1e-12)
    # vmap of a gradient-of-gradient (the batched adjugate JVP)
    hv = pdx.vmap(lambda x: pdx.hvp(lambda y: pnp.linalg.det(y), (x,), (np.ones_like(x),))[1])(a[:, 0])
    for k in range(a.shape[0]):
        h = pdx.hvp(lambda y: pnp.linalg.det(y), (a[k, 0],), (np.ones_like(a[k, 0]),))[1]
        np.testing.assert_allclose(hv[k], h, rtol=1e-8, atol=1e-10)


def test_det_and_adjugate_batch_without_a_loop(monkeypatch):
    # the batching rule binds the record once on the whole stack
    from partiald.ops import batch_rules
    calls = []
    orig = batch_rules.loop_batch

    def spy(*args, **kwargs):
        calls.append(args[0])
        return orig(*args, **kwargs)
    monkeypatch.setattr(batch_rules, "loop_batch", spy)
    a = RNG.normal(size=(3, 4, 4))
    pdx.vmap(pdx.grad(lambda x: pnp.linalg.det(x)))(a)
    pdx.vmap(_adj)(a)
    assert not [p for p in calls if getattr(p, "name", None) in ("det", "adjugate")]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_complex_det_gradient_matches_finite_differences_and_jax(n):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    a = _rank_stack((2,), n, n, cplx=True)
    f = lambda x: pnp.sum(pnp.real(pnp.linalg.det(x)))         # noqa: E731
    fn = lambda x: float(np.sum(np.real(np.linalg.det(x))))      # noqa: E731
    g = pdx.grad(f)(a)
    theirs = np.asarray(jax.grad(lambda x: jnp.sum(jnp.real(jnp.linalg.det(x))))(a))
    np.testing.assert_allclose(g, theirs, rtol=1e-8, atol=1e-10)
    eps = 1e-6
    for i in np.ndindex(a.shape):
        for d in (1.0, 1j):           # real and imaginary directions: df = Re(conj(g) * d)
            e = np.zeros_like(a)
            e[i] = eps * d
            fd = (fn(a + e) - fn(a - e)) / (2 * eps)
            assert np.isclose(np.real(g[i] * d), fd, rtol=1e-6, atol=1e-7), (i, d)
    # complex adjugate values (the SVD formula for n > 3 uses conjugate transposes)
    np.testing.assert_allclose(_adj(a), _cofactor_adjugate(a), rtol=1e-9, atol=1e-11)


def test_complex_det_gradient_at_singular_matrices_and_second_order():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    a = _rank_stack((2,), 3, 2, cplx=True)
    f = lambda x: pnp.sum(pnp.imag(pnp.linalg.det(x) ** 2))      # noqa: E731
    g = pdx.grad(f)(a)
    theirs = np.asarray(jax.grad(lambda x: jnp.sum(jnp.imag(jnp.linalg.det(x) ** 2)))(a))
    np.testing.assert_allclose(g, theirs, rtol=1e-8, atol=1e-10)
    # a Hessian-vector product through the adjugate JVP
    x0 = _rank_stack((2,), 3, 3, cplx=True)
    v = RNG.normal(size=x0.shape) + 1j * RNG.normal(size=x0.shape)
    f2 = lambda x: pnp.sum(pnp.real(pnp.linalg.det(x)))          # noqa: E731
    gl = lambda x: pdx.grad(f2)(x)                                # noqa: E731
    eps = 1e-6
    fd = (gl(x0 + eps * v) - gl(x0 - eps * v)) / (2 * eps)
    jf = jax.grad(lambda x: jnp.sum(jnp.real(jnp.linalg.det(x))))
    _, theirs2 = jax.jvp(jf, (x0,), (v,))
    np.testing.assert_allclose(fd, np.asarray(theirs2), rtol=1e-6, atol=1e-7)


def test_stacked_det_and_adjugate_sparsity_is_block_diagonal():
    a = RNG.normal(size=(2, 3, 3))
    f = lambda v: pnp.linalg.det(pnp.reshape(v, (2, 3, 3)))       # noqa: E731
    jp = pdx.jacobian_sparsity(f)(np.ravel(a)).toarray()
    np.testing.assert_array_equal(jp, np.kron(np.eye(2), np.ones((1, 9))) != 0)
    hp = pdx.hessian_sparsity(lambda v: pnp.sum(f(v)))(np.ravel(a)).toarray()
    i, j, k, l = np.indices((3, 3, 3, 3))
    per = ((i != k) & (j != l)).reshape(9, 9)
    np.testing.assert_array_equal(hp, np.kron(np.eye(2), per) != 0)
    # the Hessian's nonzeros lie in the pattern
    h = np.reshape(pdx.hessian(lambda v: pnp.sum(f(v)))(np.ravel(a)), (18, 18))
    assert not np.any((h != 0) & ~hp)
    g2 = lambda v: _adj(pnp.reshape(v, (2, 2, 2)))                # noqa: E731
    jp2 = pdx.jacobian_sparsity(g2)(np.ravel(a)[:8]).toarray()
    np.testing.assert_array_equal(jp2, np.kron(np.eye(2), np.eye(4)[[3, 1, 2, 0]]) != 0)
    g3 = lambda v: _adj(pnp.reshape(v, (2, 3, 3)))                # noqa: E731
    jp3 = pdx.jacobian_sparsity(g3)(np.ravel(a)).toarray()
    np.testing.assert_array_equal(jp3, np.kron(np.eye(2), np.ones((9, 9))) != 0)


def test_stacked_det_hessian_pattern_over_the_pair_limit(monkeypatch):
    # past PAIR_LIMIT the det rule pairs all entries of each matrix, still per matrix
    from partiald.transforms import sparsity as S
    monkeypatch.setattr(S, "PAIR_LIMIT", 10)
    a = RNG.normal(size=(2, 3, 3))
    hp = pdx.hessian_sparsity(lambda v: pnp.sum(pnp.linalg.det(pnp.reshape(v, (2, 3, 3)))))(np.ravel(a))
    np.testing.assert_array_equal(hp.toarray(), np.kron(np.eye(2), np.ones((9, 9))) != 0)
