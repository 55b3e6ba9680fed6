"""Complex numbers, with JAX's conventions (API.md; issue "NumPy coverage").

The oracle is independent of the rules: central differences along the real and
the imaginary axis.  For a real-valued ``L(z)`` JAX's gradient is
``dL/dx - i dL/dy``; a holomorphic ``f`` has ``f'(z) = df/dx``; ``jvp`` is the
real-linear push-forward; ``vjp`` is its transpose under ``Re(sum(a * b))``.
JAX itself is a second oracle where it is installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp

H = 1e-6
RNG = np.random.default_rng(7)
Z = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
Z[np.abs(Z) < 0.2] += 0.5                  # away from 0, where abs/angle/log have kinks
W1, W2 = RNG.standard_normal(5), RNG.standard_normal(5)


def _fd_grad(L, z):
    """dL/dx - i dL/dy by central differences, one coordinate at a time."""
    out = np.zeros(z.shape, complex)
    for i in range(z.size):
        e = np.zeros(z.shape)
        e.flat[i] = H
        dx = (L(z + e) - L(z - e)) / (2 * H)
        dy = (L(z + 1j * e) - L(z - 1j * e)) / (2 * H)
        out.flat[i] = dx - 1j * dy
    return out


# elementwise functions of complex z, each with NumPy's reference
FUNCTIONS = {
    "exp": (pnp.exp, np.exp), "log": (pnp.log, np.log), "sin": (pnp.sin, np.sin), "cos": (pnp.cos, np.cos),
    "tan": (pnp.tan, np.tan), "tanh": (pnp.tanh, np.tanh), "sqrt": (pnp.sqrt, np.sqrt),
    "square": (pnp.square, np.square), "reciprocal": (pnp.reciprocal, np.reciprocal),
    "arcsin": (pnp.arcsin, np.arcsin), "arctan": (pnp.arctan, np.arctan), "log1p": (pnp.log1p, np.log1p),
    "expm1": (pnp.expm1, np.expm1), "abs": (pnp.abs, np.abs), "sign": (pnp.sign, np.sign),
    "real": (pnp.real, np.real), "imag": (pnp.imag, np.imag), "conj": (pnp.conj, np.conj),
    "angle": (pnp.angle, np.angle), "cube": (lambda z: z ** 3, lambda z: z ** 3),
    "power": (lambda z: pnp.power(z, 1.5 + 0.5j), lambda z: np.power(z, 1.5 + 0.5j)),
    "z*conj(z)": (lambda z: z * pnp.conj(z), lambda z: z * np.conj(z)),
    "abs(exp)*conj": (lambda z: pnp.abs(pnp.exp(z)) * pnp.conj(z), lambda z: np.abs(np.exp(z)) * np.conj(z)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_of_real_loss_matches_differences(name):
    f, ref = FUNCTIONS[name]
    np.testing.assert_allclose(np.asarray(f(Z)), ref(Z), rtol=1e-13)

    def loss(z):
        y = f(z)
        return pnp.sum(pnp.real(y) * W1 + pnp.imag(y) * W2)

    def loss_np(z):
        y = ref(z)
        return np.sum(np.real(y) * W1 + np.imag(y) * W2)

    np.testing.assert_allclose(pdx.grad(loss)(Z), _fd_grad(loss_np, Z), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jvp_and_vjp_are_transposes(name):
    f, ref = FUNCTIONS[name]
    t = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    y, jt = pdx.jvp(f, (Z,), (t,))
    # the push-forward, by central differences along t
    np.testing.assert_allclose(jt, (ref(Z + H * t) - ref(Z - H * t)) / (2 * H), rtol=1e-6, atol=1e-7)
    y2, vjp_fn = pdx.vjp(f, Z)
    ct = RNG.standard_normal(np.shape(y2))
    if np.iscomplexobj(y2):
        ct = ct + 1j * RNG.standard_normal(np.shape(y2))
    (g,) = vjp_fn(ct)
    assert g.dtype == np.complex128
    assert np.isclose(np.real(np.sum(ct * jt)), np.real(np.sum(g * t)), rtol=1e-12, atol=1e-12)


HOLOMORPHIC = [
    (lambda z: pnp.sin(z) * z, lambda z: np.cos(z) * z + np.sin(z)),
    (lambda z: pnp.exp(z ** 2), lambda z: 2 * z * np.exp(z ** 2)),
    (lambda z: pnp.log(z) / z, lambda z: (1 - np.log(z)) / z ** 2),
    (lambda z: pnp.sqrt(1.0 + z * z), lambda z: z / np.sqrt(1.0 + z * z)),
]


@pytest.mark.parametrize("k", range(len(HOLOMORPHIC)))
def test_holomorphic_grad_is_the_complex_derivative(k):
    f, df = HOLOMORPHIC[k]
    for z in (0.7 + 0.4j, -1.3 + 0.2j, 2.0 - 1.1j):
        g = pdx.grad(f, holomorphic=True)(z)
        assert isinstance(g, complex)                    # Python complex in, Python complex out
        assert np.isclose(g, df(z), rtol=1e-13)
    jac = pdx.jacobian(lambda z: f(z), holomorphic=True)(Z)
    np.testing.assert_allclose(jac, np.diag(df(Z)), rtol=1e-12, atol=1e-14)
    jf = pdx.jacfwd(f, holomorphic=True)(Z)
    np.testing.assert_allclose(jf, jac, rtol=1e-12, atol=1e-14)
    # second derivative, f'' by differences of f'
    z = 0.7 + 0.4j
    d2 = pdx.grad(pdx.grad(f, holomorphic=True), holomorphic=True)(z)
    assert np.isclose(d2, (df(z + H) - df(z - H)) / (2 * H), rtol=1e-6)


def test_real_inputs_through_complex_intermediates_get_real_gradients():
    x = np.array([0.3, -1.2, 2.0])
    g = pdx.grad(lambda x: pnp.sum(pnp.abs(pnp.exp(1j * x) * (2.0 + x))))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.sign(2.0 + x), rtol=1e-12)
    # jacfwd of a real-to-complex map is complex
    j = pdx.jacfwd(lambda x: pnp.exp(1j * x))(x)
    np.testing.assert_allclose(j, np.diag(1j * np.exp(1j * x)), rtol=1e-14)


def test_complex64_stays_complex64():
    z = Z.astype(np.complex64)
    g = pdx.grad(lambda z: pnp.sum(pnp.abs(z) ** 2))(z)
    assert g.dtype == np.complex64
    np.testing.assert_allclose(g, 2 * np.conj(z), rtol=1e-6)


def test_jit_and_vmap_on_complex_inputs():
    def loss(z):
        return pnp.sum(pnp.abs(pnp.exp(z) * pnp.conj(z)) ** 2 + pnp.real(pnp.log(z) * z))
    g = pdx.grad(loss)(Z)
    np.testing.assert_allclose(pdx.jit(pdx.grad(loss))(Z), g, rtol=1e-13)
    np.testing.assert_allclose(pdx.vmap(pdx.grad(loss))(np.stack([Z, 2 * Z]))[0], g, rtol=1e-13)


def test_methods_and_raw_numpy_calls():
    def loss(z):
        return pnp.sum((z.conj() * z).real + z.imag * np.real(z) + np.angle(z) + np.conj(z).imag)
    want = _fd_grad(lambda z: np.sum((z.conj() * z).real + z.imag * z.real + np.angle(z) + np.conj(z).imag), Z)
    np.testing.assert_allclose(pdx.grad(loss)(Z), want, rtol=1e-6, atol=1e-7)


def test_errors_name_the_convention():
    with pytest.raises(TypeError, match="holomorphic=True"):
        pdx.grad(lambda z: pnp.sin(z))(1.0 + 2.0j)
    with pytest.raises(TypeError, match="complex output"):
        pdx.grad(lambda z: pnp.abs(z), holomorphic=True)(1.0 + 2.0j)
    with pytest.raises(TypeError, match="complex inputs"):
        pdx.jacobian(lambda z: pnp.sin(z), holomorphic=True)(np.ones(2))
    with pytest.raises(TypeError, match="reverse mode"):
        pdx.jacfwd(lambda z: pnp.abs(z))(Z)
    with pytest.raises(TypeError, match="forward mode"):
        pdx.jacrev(lambda x: pnp.exp(1j * x))(np.ones(2))
    with pytest.raises(TypeError, match="real and imaginary parts"):
        pdx.hessian(lambda z: pnp.sum(pnp.abs(z) ** 2))(Z)


def test_hessian_over_real_and_imaginary_parts():
    # the documented way: a real Hessian over (x, y)
    def loss(x, y):
        z = x + 1j * y
        return pnp.sum(pnp.abs(z) ** 4)
    x, y = Z.real.copy(), Z.imag.copy()
    hxx = pdx.hessian(loss, argnums=(0, 1))(x, y)[0][0]
    r2 = x ** 2 + y ** 2
    np.testing.assert_allclose(hxx, np.diag(4 * r2 + 8 * x ** 2), rtol=1e-12)


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    # (not sign: JAX gives complex sign(z) = z/|z| a zero derivative; partiald differentiates
    # it, checked against differences in test_gradient_of_real_loss_matches_differences)
    def both(m):
        return lambda z: m.sum(m.abs(m.exp(z) * m.conj(z)) ** 2 + m.real(m.log(z) * z) + m.angle(z)
                               + m.imag(m.tanh(z)) * m.real(m.sqrt(z)))
    np.testing.assert_allclose(pdx.grad(both(pnp))(Z), jax.grad(both(jnp))(Z), rtol=1e-12)
    hol = lambda m: (lambda z: m.sum(m.sin(z) * m.exp(z) / (1.0 + z * z)))  # noqa: E731
    np.testing.assert_allclose(pdx.grad(hol(pnp), holomorphic=True)(Z),
                               jax.grad(hol(jnp), holomorphic=True)(Z), rtol=1e-12)
    np.testing.assert_allclose(pdx.hessian(hol(pnp), holomorphic=True)(Z),
                               jax.hessian(hol(jnp), holomorphic=True)(Z), rtol=1e-11, atol=1e-13)
    f = lambda m: (lambda z: m.sin(z) * m.conj(z) + m.abs(z))  # noqa: E731
    ct = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    np.testing.assert_allclose(pdx.vjp(f(pnp), Z)[1](ct)[0], jax.vjp(f(jnp), Z)[1](ct)[0], rtol=1e-12)
    t = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    np.testing.assert_allclose(pdx.jvp(f(pnp), (Z,), (t,))[1], jax.jvp(f(jnp), (Z,), (t,))[1], rtol=1e-12)


def test_kinks_at_zero_follow_the_real_convention():
    # abs, sign and angle at z = 0: derivative taken as 0 (as abs'(0) = sign(0) = 0 for reals)
    z0 = np.zeros(3, complex)
    for f in (pnp.abs, lambda z: pnp.real(pnp.sign(z)), lambda z: pnp.imag(pnp.sign(z))):
        g = pdx.grad(lambda z: pnp.sum(f(z)))(z0)
        assert np.all(np.isfinite(g)) and np.all(g == 0)


@pytest.mark.parametrize("name", ["var", "std", "norm", "sum-abs", "mean-real"])
def test_reductions_of_complex_values(name):
    f, ref = {
        "var": (lambda z: pnp.var(z, ddof=1), lambda z: np.var(z, ddof=1)),
        "std": (pnp.std, np.std),
        "norm": (pnp.linalg.norm, np.linalg.norm),
        "sum-abs": (lambda z: pnp.sum(pnp.abs(z)), lambda z: np.sum(np.abs(z))),
        "mean-real": (lambda z: pnp.real(pnp.mean(z * z)), lambda z: np.real(np.mean(z * z))),
    }[name]
    assert np.isclose(f(Z), ref(Z), rtol=1e-13) and np.isrealobj(f(Z))
    np.testing.assert_allclose(pdx.grad(f)(Z), _fd_grad(ref, Z), rtol=1e-6, atol=1e-7)


def test_sparse_transformations_refuse_complex_inputs_and_see_complex_intermediates():
    with pytest.raises(TypeError, match="complex inputs are not supported"):
        pdx.sparse_jacobian(lambda z: pnp.real(z))(Z)
    # sign of a complex intermediate is not piecewise constant: the pattern must see it
    x = np.array([0.5, -1.0, 2.0])
    f = lambda x: pnp.real(pnp.sign(x + 1j))  # noqa: E731
    np.testing.assert_allclose(pdx.sparse_jacobian(f)(x).toarray(), pdx.jacobian(f)(x), rtol=1e-14)
    assert np.all(np.diag(pdx.jacobian(f)(x)) != 0)
