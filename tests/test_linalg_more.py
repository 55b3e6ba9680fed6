"""pnp.linalg.cholesky, slogdet, eigh, eigvalsh: values against NumPy, derivatives against
central finite differences on realistic matrices, higher orders, vmap and the documented
conventions (lower triangle read, eigenvector signs, repeated eigenvalues)."""
import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp


def _fd_grad(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def _spd(n, seed):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(n, n))
    return b @ b.T / n + 0.5 * np.eye(n)


def _sym_distinct(n, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = (q * (np.arange(n) * 1.3 - 2.0)) @ q.T
    return (a + a.T) / 2


def _fixed_sign(v):
    idx = np.argmax(np.abs(v), axis=0)
    return v * np.where(v[idx, np.arange(v.shape[1])] < 0, -1.0, 1.0)


# -- values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_values_match_numpy(n):
    a = _spd(n, n)
    np.testing.assert_allclose(pnp.linalg.cholesky(a), np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
    b = np.random.default_rng(n).normal(size=(n, n))
    sign, logdet = pnp.linalg.slogdet(b)
    ref = np.linalg.slogdet(b)
    assert sign == ref[0] and np.isclose(logdet, ref[1], rtol=1e-12)
    s = _sym_distinct(n, n)
    w, v = pnp.linalg.eigh(s)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), atol=1e-12)
    np.testing.assert_allclose(pnp.linalg.eigvalsh(s), np.linalg.eigvalsh(s), atol=1e-12)
    np.testing.assert_allclose(v, _fixed_sign(np.linalg.eigh(s)[1]), atol=1e-10)
    np.testing.assert_allclose((np.asarray(v) * np.asarray(w)) @ np.asarray(v).T, s, atol=1e-10)


def test_names_and_results():
    for name in ("cholesky", "slogdet", "eigh", "eigvalsh"):
        assert name in pnp.linalg.__all__ and name in pnp.linalg.FUNCTIONS
    r = pnp.linalg.slogdet(np.eye(2))
    assert r.sign == 1.0 and r.logabsdet == 0.0
    r = pnp.linalg.eigh(np.diag([2.0, 1.0]))
    np.testing.assert_array_equal(r.eigenvalues, [1.0, 2.0])


def test_shape_errors():
    with pytest.raises(ValueError, match="cholesky"):
        pnp.linalg.cholesky(np.ones((2, 3)))
    with pytest.raises(ValueError, match="eigh"):
        pnp.linalg.eigh(np.ones(3))
    with pytest.raises(np.linalg.LinAlgError):
        pnp.linalg.cholesky(-np.eye(2))


# -- a Gaussian-process log-likelihood (cholesky + slogdet) -----------------------------------

_X = np.linspace(-2.0, 2.0, 12)
_Y = np.sin(2 * _X) + 0.1 * np.cos(7 * _X)


def _gp_nll(theta, m):
    log_ell, log_sf, log_sn = theta[0], theta[1], theta[2]
    d2 = (_X[:, None] - _X[None, :]) ** 2
    k = m.exp(2 * log_sf) * m.exp(-0.5 * d2 / m.exp(2 * log_ell)) + (m.exp(2 * log_sn) + 1e-8) * np.eye(_X.size)
    if m is np:
        chol, solve = np.linalg.cholesky, np.linalg.solve
        logdet = np.linalg.slogdet(k)[1]
    else:
        chol, solve = pnp.linalg.cholesky, pnp.linalg.solve
        logdet = pnp.linalg.slogdet(k)[1]
    lo = chol(k)
    alpha = solve(lo, _Y)
    fit = m.sum(alpha ** 2)
    # both log-determinants: from the factor and from slogdet
    return 0.5 * fit + 0.25 * logdet + 0.5 * m.sum(m.log(m.diagonal(lo))) + 0.5 * _X.size * np.log(2 * np.pi)


@pytest.mark.parametrize("theta", [np.array([0.1, 0.2, -1.5]), np.array([-0.4, -0.3, -0.8])])
def test_gp_log_likelihood(theta):
    val, g = pdx.value_and_grad(lambda t: _gp_nll(t, pnp))(theta)
    assert np.isclose(val, _gp_nll(theta, np), rtol=1e-12)
    np.testing.assert_allclose(g, _fd_grad(lambda t: _gp_nll(t, np), theta), rtol=1e-6, atol=1e-6)
    h = pdx.hessian(lambda t: _gp_nll(t, pnp))(theta)
    h_fd = np.array([_fd_grad(lambda t: pdx.grad(lambda s: _gp_nll(s, pnp))(t)[i], theta) for i in range(3)])
    np.testing.assert_allclose(h, h_fd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, h.T, atol=1e-9)


# -- derivatives of each function ---------------------------------------------------------------

def _sym_param(n):
    """A symmetric matrix from its n(n+1)/2 lower-triangle parameters."""
    rows, cols = np.tril_indices(n)

    def build(p, m):
        full = np.zeros((n, n, p.size))
        full[rows, cols, np.arange(p.size)] = 1.0
        full[cols, rows, np.arange(p.size)] = 1.0
        return m.einsum("ijk,k->ij", full, p)
    return build, (rows, cols)


def test_cholesky_gradient_of_symmetric_parameterization():
    n = 5
    a = _spd(n, 3)
    build, (r, c) = _sym_param(n)
    p0 = a[r, c]
    w = np.random.default_rng(0).normal(size=(n, n))

    def f(p, m):
        lo = (pnp.linalg.cholesky if m is pnp else np.linalg.cholesky)(build(p, m))
        return m.sum(w * lo) + m.sum(lo ** 2 * w)
    np.testing.assert_allclose(pdx.grad(lambda p: f(p, pnp))(p0), _fd_grad(lambda p: f(p, np), p0),
                               rtol=1e-6, atol=1e-7)


def test_cholesky_gradient_lies_in_lower_triangle():
    a = _spd(4, 1)
    g = pdx.grad(lambda a: pnp.sum(pnp.linalg.cholesky(a) ** 3))(a)
    assert np.all(np.triu(g, 1) == 0.0)
    np.testing.assert_allclose(g, _fd_grad(lambda a: np.sum(np.linalg.cholesky(a) ** 3), a), rtol=1e-6, atol=1e-8)


def test_slogdet_gradient_is_inverse_transpose():
    b = np.random.default_rng(5).normal(size=(6, 6))
    g = pdx.grad(lambda a: pnp.linalg.slogdet(a)[1])(b)
    np.testing.assert_allclose(g, np.linalg.inv(b).T, rtol=1e-10, atol=1e-12)
    assert np.all(pdx.grad(lambda a: pnp.linalg.slogdet(a)[0])(b) == 0.0)
    h = pdx.hessian(lambda a: pnp.linalg.slogdet(a)[1])(b)
    inv = np.linalg.inv(b)
    # d2 log|det| / da_ij da_kl = -inv_jk inv_li
    np.testing.assert_allclose(h, -np.einsum("jk,li->ijkl", inv, inv), rtol=1e-9, atol=1e-10)


def test_slogdet_at_singular_matrix_raises_for_the_derivative():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    sign, logdet = pnp.linalg.slogdet(a)
    assert sign == 0.0 and logdet == -np.inf
    with pytest.raises(np.linalg.LinAlgError):
        pdx.grad(lambda a: pnp.linalg.slogdet(a)[1])(a)


def test_eigh_derivatives_distinct_eigenvalues():
    n = 5
    a = _sym_distinct(n, 2)
    build, (r, c) = _sym_param(n)
    p0 = a[r, c]
    cw = np.random.default_rng(1).normal(size=(n, n))

    def f(p, m):
        if m is pnp:
            w, v = pnp.linalg.eigh(build(p, m))
        else:
            w, v = np.linalg.eigh(build(p, m))
            v = _fixed_sign(v)
        return m.sum(w ** 3) + m.sum(cw * v) + m.sum((v * cw) ** 2)
    np.testing.assert_allclose(pdx.grad(lambda p: f(p, pnp))(p0), _fd_grad(lambda p: f(p, np), p0),
                               rtol=1e-6, atol=1e-7)
    # second order, against finite differences of the exact gradient
    h = pdx.hessian(lambda p: f(p, pnp))(p0)
    h_fd = np.array([_fd_grad(lambda p: pdx.grad(lambda q: f(q, pnp))(p)[i], p0) for i in range(p0.size)])
    np.testing.assert_allclose(h, h_fd, rtol=1e-5, atol=1e-6)


def test_eigvalsh_at_repeated_eigenvalues():
    # dw = diag(V^T dA V) stays the derivative of the sorted eigenvalues for a symmetric
    # perturbation that keeps their order (here: the identity, every direction)
    a = np.eye(3)
    d = np.diag([1.0, 2.0, 3.0])
    out, t = pdx.jvp(lambda a: pnp.linalg.eigvalsh(a), (a,), (d,))
    np.testing.assert_array_equal(out, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(t, [1.0, 2.0, 3.0])
    # the sum of the eigenvalues is the trace: gradient I (lower-triangle convention) everywhere
    np.testing.assert_allclose(pdx.grad(lambda a: pnp.sum(pnp.linalg.eigvalsh(a)))(2 * np.eye(3)), np.eye(3))


def test_eigh_eigenvectors_at_repeated_eigenvalues_are_not_finite():
    x = np.eye(2)
    e = np.array([[0.0, 0.0], [1.0, 0.0]])
    _, t = pdx.jvp(lambda a: pnp.linalg.eigh(a)[1], (x,), (e,))
    assert not np.all(np.isfinite(t))


def test_vmap_over_stack():
    a = np.stack([_spd(3, s) for s in range(4)])
    np.testing.assert_allclose(pdx.vmap(pnp.linalg.cholesky)(a), np.linalg.cholesky(a), atol=1e-12)
    np.testing.assert_allclose(pdx.vmap(lambda m: pnp.linalg.slogdet(m)[1])(a), np.linalg.slogdet(a)[1],
                               atol=1e-12)
    np.testing.assert_allclose(pdx.vmap(pnp.linalg.eigvalsh)(a), np.linalg.eigvalsh(a), atol=1e-12)
    g = pdx.vmap(pdx.grad(lambda m: pnp.linalg.slogdet(m)[1]))(a)
    np.testing.assert_allclose(g, np.transpose(np.linalg.inv(a), (0, 2, 1)), atol=1e-10)
