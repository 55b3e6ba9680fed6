"""Optional comparison with JAX (TESTING.md sections 2 and 8).

Skipped when JAX is not installed. Every function here is also checked
against closed forms, hand-written NumPy or finite differences in
test_transforms.py and test_random_programs.py: this module is never the only
check of anything. JAX runs in float64 (``jax_enable_x64``); agreement is
``rel <= 1e-10`` with ``rel(a, b) = |a - b| / max(1, |b|)``.
"""
import types

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = pytest.importorskip("jax.numpy")

import partiald as pdx  # noqa: E402
import partiald.numpy as pnp  # noqa: E402
from partiald import nn  # noqa: E402

TOL = 1e-10

P = types.SimpleNamespace(np=pnp, logsumexp=nn.logsumexp, log_softmax=nn.log_softmax, softplus=nn.softplus,
                          sigmoid=nn.sigmoid, softmax=nn.softmax)
J = types.SimpleNamespace(np=jnp, logsumexp=jax.nn.logsumexp, log_softmax=jax.nn.log_softmax,
                          softplus=jax.nn.softplus, sigmoid=jax.nn.sigmoid, softmax=jax.nn.softmax)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def assert_tree_close(ours, theirs, tol=TOL):
    o_leaves, o_tree = pdx.tree_flatten(ours)
    t_leaves, t_tree = pdx.tree_flatten(theirs)
    assert o_tree == t_tree, f"structure {o_tree} != JAX's {t_tree}"
    for i, (a, b) in enumerate(zip(o_leaves, t_leaves)):
        err = rel_err(a, np.asarray(b))
        assert err <= tol, f"leaf {i}: rel error {err:.3g} vs JAX"


RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 5))
Xd = RNG.standard_normal((16, 5))
yb = (RNG.uniform(size=16) < 0.5).astype(np.float64)
Yc = np.eye(3)[RNG.integers(0, 3, 16)]


# -- scalar functions of one array ----------------------------------------------------------

SCALAR = {
    "trig_poly": (lambda m, x: m.np.sum(m.np.sin(x) * m.np.cos(x ** 2)) + m.np.prod(1 + x ** 2 / 4), (5,)),
    "tanh_matvec": (lambda m, x: m.np.sum(m.np.tanh(A @ x) ** 2) + m.np.sum(m.np.log(1 + x ** 2)), (5,)),
    "logistic": (lambda m, w: m.np.mean(m.softplus(Xd @ w) - yb * (Xd @ w)), (5,)),
    "softmax_ce": (lambda m, W: -m.np.mean(m.np.sum(Yc * m.log_softmax(Xd @ W, axis=1), axis=1)), (5, 3)),
    "rosenbrock": (lambda m, x: m.np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), (6,)),
    "norm_logsumexp": (lambda m, x: m.np.linalg.norm(x) * m.logsumexp(x) + m.np.max(x), (5,)),
    "matrix": (lambda m, X: m.np.sum(m.np.exp(X @ X.T / 4)) + m.np.mean(m.np.sqrt(1 + X ** 2)), (3, 4)),
    "indexing": (lambda m, x: m.np.sum(x[:4:2] * x[1::2]) + x[-1] ** 3 + m.np.sum(x[np.array([0, 0, 3])]), (5,)),
    "linalg": (lambda m, x: m.np.linalg.det(m.np.reshape(x, (3, 3)) + 3 * np.eye(3))
               + m.np.sum(m.np.linalg.solve(m.np.reshape(x, (3, 3)) + 3 * np.eye(3), np.arange(1.0, 4.0))), (9,)),
}


def _point(shape, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_grad_and_hessian_match_jax(name):
    f, shape = SCALAR[name]
    x = _point(shape)
    ours, theirs = (lambda x: f(P, x)), (lambda x: f(J, x))
    assert rel_err(ours(x), jax.jit(theirs)(x)) <= TOL
    assert rel_err(pdx.grad(ours)(x), jax.jit(jax.grad(theirs))(x)) <= TOL
    H = pdx.hessian(ours)(x)
    assert H.shape == shape + shape
    assert rel_err(H, jax.jit(jax.hessian(theirs))(x)) <= TOL
    v = _point(shape, seed=2)
    hvp_jax = jax.jit(lambda x, v: jax.jvp(jax.grad(theirs), (x,), (v,))[1])
    assert rel_err(pdx.hvp(ours, (x,), (v,)), hvp_jax(x, v)) <= TOL


# -- vector functions: Jacobians, JVP, VJP ---------------------------------------------------

VECTOR = {
    "tanh_matvec": (lambda m, x: m.np.tanh(A @ x) * m.np.sum(x), (5,)),
    "softmax": (lambda m, x: m.softmax(x * 2), (5,)),
    "broadcast": (lambda m, X: m.np.sin(X) * m.np.mean(X, axis=0, keepdims=True) - X.T[:1].T, (3, 4)),
    "outer": (lambda m, x: m.np.outer(m.np.exp(x), x) / (1 + m.np.sum(x ** 2)), (3,)),
    "scalar_in": (lambda m, t: m.np.cos(t * A), ()),
}


@pytest.mark.parametrize("name", sorted(VECTOR))
def test_jacobians_match_jax(name):
    f, shape = VECTOR[name]
    x = _point(shape)
    ours, theirs = (lambda x: f(P, x)), (lambda x: f(J, x))
    jf, jr = pdx.jacfwd(ours)(x), pdx.jacrev(ours)(x)
    ref = jax.jit(jax.jacfwd(theirs))(x)
    assert np.shape(jf) == np.shape(jr) == ref.shape
    assert rel_err(jf, ref) <= TOL and rel_err(jr, ref) <= TOL
    v = _point(shape, seed=3)
    assert rel_err(pdx.jvp(ours, (x,), (v,))[1], jax.jit(lambda x, v: jax.jvp(theirs, (x,), (v,))[1])(x, v)) <= TOL
    y, back = pdx.vjp(ours, x)
    u = np.random.default_rng(4).standard_normal(np.shape(y))
    (g,) = back(u[()] if u.ndim == 0 else u)
    (g_jax,) = jax.jit(lambda x, u: jax.vjp(theirs, x)[1](u))(x, u)
    assert rel_err(g, g_jax) <= TOL
    hj = pdx.jacfwd(pdx.jacrev(ours))(x)
    assert rel_err(hj, jax.jit(jax.jacfwd(jax.jacrev(theirs)))(x)) <= TOL


# -- several arguments, pytrees, nesting --------------------------------------------------------

def _mlp(m, params, X, T):
    h1 = m.np.tanh(X @ params["W1"] + params["b1"])
    h2 = m.np.tanh(h1 @ params["W2"] + params["b2"])
    out = h2 @ params["W3"] + params["b3"]
    return 0.5 * m.np.mean(m.np.sum((out - T) ** 2, axis=1))


def _mlp_params(sizes=(12, 24, 24, 4), seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"b{i}"] = rng.standard_normal(b) / 10
    return params, rng.standard_normal((16, sizes[0])), rng.standard_normal((16, sizes[-1]))


def test_mlp_gradient_matches_jax():
    params, X, T = _mlp_params()
    ours = pdx.grad(lambda p: _mlp(P, p, X, T))(params)
    theirs = jax.jit(jax.grad(lambda p: _mlp(J, p, X, T)))(params)
    assert_tree_close(ours, theirs)
    # and with respect to the data as well (argnums tuple)
    g_ours = pdx.grad(lambda p, X: _mlp(P, p, X, T), argnums=(0, 1))(params, X)
    g_jax = jax.jit(jax.grad(lambda p, X: _mlp(J, p, X, T), argnums=(0, 1)))(params, X)
    assert_tree_close(g_ours, g_jax)


def test_pytree_hessian_nesting_matches_jax():
    params, X, T = _mlp_params(sizes=(3, 4, 2, 2), seed=1)
    ours = pdx.hessian(lambda p: _mlp(P, p, X[:5], T[:5]))(params)
    theirs = jax.jit(jax.hessian(lambda p: _mlp(J, p, X[:5], T[:5])))(params)
    assert_tree_close(ours, theirs)


def test_pytree_jacobian_nesting_matches_jax():
    p = {"a": _point((2,)), "b": [_point((3, 1), 5), _point((), 6)]}

    def f(m, p):
        a, (b, c) = p["a"], p["b"]
        return {"u": m.np.sin(a) * c, "v": (m.np.sum(b * a[0]), b ** 2)}

    for ours_t, jax_t in [(pdx.jacfwd, jax.jacfwd), (pdx.jacrev, jax.jacrev)]:
        assert_tree_close(ours_t(lambda p: f(P, p))(p), jax.jit(jax_t(lambda p: f(J, p)))(p))


def test_argnums_hessian_nesting_matches_jax():
    x, y = _point((3,)), _point((2,), 7)

    def f(m, x, y):
        return m.np.sum(m.np.sin(x)) * m.np.sum(y ** 2) + x[0] * y[1] ** 3

    ours = pdx.hessian(lambda x, y: f(P, x, y), argnums=(0, 1))(x, y)
    theirs = jax.jit(jax.hessian(lambda x, y: f(J, x, y), argnums=(0, 1)))(x, y)
    assert_tree_close(ours, theirs)


@pytest.mark.parametrize("x", [0.3, -1.7])
def test_higher_order_and_nesting_match_jax(x):
    f_p = lambda x: pnp.sin(x) * pnp.exp(x / 3) + x ** 5 / 7
    f_j = lambda x: jnp.sin(x) * jnp.exp(x / 3) + x ** 5 / 7
    g_p, g_j = f_p, f_j
    for _ in range(4):
        g_p, g_j = pdx.grad(g_p), jax.grad(g_j)
        assert rel_err(g_p(x), jax.jit(g_j)(x)) <= TOL
    nested_p = pdx.grad(lambda x: x * pdx.grad(lambda y: pnp.sin(x * y))(x))(x)
    nested_j = jax.jit(jax.grad(lambda x: x * jax.grad(lambda y: jnp.sin(x * y))(x)))(x)
    assert rel_err(nested_p, nested_j) <= TOL
