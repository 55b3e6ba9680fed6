"""Function-level transforms (TESTING.md section 2, and the MLP check of section 7).

Every derivative here is compared with an oracle that does not share code with
the engine: closed forms written out by hand, hand-written NumPy (backprop,
Jacobians of linear index maps built column by column), SciPy's Rosenbrock
derivatives, and central finite differences. Cross-checks between partiald's
own modes (jacfwd vs jacrev, five Hessians) come on top, never instead.

Notation: ``rel(a, b) = |a - b| / max(1, |b|)`` elementwise, as in TESTING.md.
"""
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import partiald as pdx
import partiald.numpy as pnp
from partiald import nn
from partiald.core.graph import Var


# -- helpers -------------------------------------------------------------------------------

def rel_err(a, b):
    """max over elements of |a - b| / max(1, |b|); 0 for empty arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != expected {b.shape}"
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def assert_rel(a, b, tol=1e-12, what=""):
    err = rel_err(a, b)
    assert err <= tol, f"{what}: rel error {err:.3g} > {tol:g}\nactual:\n{a}\nexpected:\n{b}"


def assert_tree_rel(actual, expected, tol=1e-12):
    """Same pytree structure, same leaf shapes, leaves within ``tol`` (rel)."""
    a_leaves, a_tree = pdx.tree_flatten(actual)
    e_leaves, e_tree = pdx.tree_flatten(expected)
    assert a_tree == e_tree, f"structure {a_tree} != expected {e_tree}"
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        assert np.shape(a) == np.shape(e), f"leaf {i}: shape {np.shape(a)} != expected {np.shape(e)}"
        assert_rel(a, e, tol, what=f"leaf {i}")


def fd_jacobian(f, x, h=1e-6):
    """Central-difference Jacobian of a NumPy function, shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(f(x))
    J = np.zeros(y.shape + x.shape)
    for k in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[k] = h
        J[(Ellipsis,) + k] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return J


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


SHAPES = [(), (1,), (4,), (2, 3)]


# -- jacfwd vs jacrev ----------------------------------------------------------------------

A34 = np.random.default_rng(11).standard_normal((3, 4))

JAC_FUNCS = {
    # name: (partiald function, NumPy twin for the FD oracle, input shape)
    "elementwise": (lambda x: pnp.sin(x) * pnp.exp(x), lambda x: np.sin(x) * np.exp(x), (5,)),
    "tanh_matvec": (lambda x: pnp.tanh(A34 @ x), lambda x: np.tanh(A34 @ x), (4,)),
    "softmax": (lambda x: nn.softmax(x), lambda x: np_softmax(x), (6,)),
    "outer": (lambda x: pnp.outer(x, pnp.cos(x)), lambda x: np.outer(x, np.cos(x)), (3,)),
    "matrix_to_vector": (lambda X: pnp.sum(X ** 3, axis=0) / (1 + pnp.sum(X ** 2)),
                         lambda X: np.sum(X ** 3, axis=0) / (1 + np.sum(X ** 2)), (3, 4)),
    "scalar_to_matrix": (lambda t: pnp.sin(t * A34), lambda t: np.sin(t * A34), ()),
    "matrix_to_matrix": (lambda X: X @ X.T + pnp.log(1 + X[:, :3] ** 2),
                         lambda X: X @ X.T + np.log(1 + X[:, :3] ** 2), (3, 4)),
    "reductions": (lambda x: pnp.stack([pnp.max(x), pnp.mean(x), pnp.prod(x), pnp.var(x)]),
                   lambda x: np.stack([np.max(x), np.mean(x), np.prod(x), np.var(x)]), (5,)),
}


@pytest.mark.parametrize("name", sorted(JAC_FUNCS))
def test_jacfwd_equals_jacrev_and_fd(name):
    f, f_np, shape = JAC_FUNCS[name]
    x = np.random.default_rng(1).uniform(-1.5, 1.5, shape)
    jf = pdx.jacfwd(f)(x)
    jr = pdx.jacrev(f)(x)
    expected_shape = np.shape(f_np(x)) + shape
    assert np.shape(jf) == np.shape(jr) == expected_shape
    assert_rel(jf, jr, 1e-12, "jacfwd vs jacrev")
    assert_rel(pdx.jacobian(f)(x), jr, 1e-12, "jacobian vs jacrev")
    # independent oracle: central differences (error ~1e-9)
    assert_rel(jr, fd_jacobian(f_np, x), 1e-6, "jacrev vs FD")


# -- the shape contract --------------------------------------------------------------------

def _sin_linear(W, out_shape):
    """f(x) = reshape(W @ sin(ravel(x)), out_shape): J and H have closed forms."""
    def f(x):
        return pnp.reshape(W @ pnp.reshape(pnp.sin(x), (-1,)), out_shape)
    return f


def _sin_linear_derivs(W, x, out_shape):
    xs = np.ravel(x)
    J = (W * np.cos(xs)).reshape(out_shape + np.shape(x))
    n = xs.size
    H = np.zeros((W.shape[0], n, n))
    for j in range(n):
        H[:, j, j] = -W[:, j] * np.sin(xs[j])
    return J, H.reshape(out_shape + np.shape(x) + np.shape(x))


@pytest.mark.parametrize("in_shape", SHAPES + [(0,), (2, 0)], ids=str)
@pytest.mark.parametrize("out_shape", SHAPES + [(0,), (2, 0)], ids=str)
def test_shape_contract_jacobian_and_hessian(in_shape, out_shape):
    rng = np.random.default_rng(2)
    W = rng.standard_normal((int(np.prod(out_shape)), int(np.prod(in_shape))))
    x = np.asarray(rng.uniform(-1, 1, in_shape))
    f = _sin_linear(W, out_shape)
    J_true, H_true = _sin_linear_derivs(W, x, out_shape)
    for jac in (pdx.jacobian, pdx.jacfwd, pdx.jacrev):
        J = jac(f)(x)
        assert np.shape(J) == out_shape + in_shape, jac.__name__
        assert_rel(J, J_true, 1e-12, jac.__name__)
    H = pdx.hessian(f)(x)
    assert np.shape(H) == out_shape + in_shape + in_shape
    assert_rel(H, H_true, 1e-12, "hessian")


def test_jacobian_of_python_float_is_scalar():
    J = pdx.jacobian(pnp.sin)(0.3)
    assert np.shape(J) == ()
    assert J == pytest.approx(np.cos(0.3), rel=1e-15)
    H = pdx.hessian(pnp.sin)(0.3)
    assert np.shape(H) == ()
    assert H == pytest.approx(-np.sin(0.3), rel=1e-15)


def test_argnums_tuple_jacobian_and_hessian_nesting():
    rng = np.random.default_rng(3)
    x, c, z = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(2)

    def f(x, c, z):  # c is a non-differentiated argument
        return pnp.sin(x) * pnp.sum(z ** 2) + c[0]

    S = np.sum(z ** 2)
    Jx_true = np.diag(np.cos(x)) * S
    Jz_true = np.outer(np.sin(x), 2 * z)
    for jac in (pdx.jacfwd, pdx.jacrev, pdx.jacobian):
        J = jac(f, argnums=(0, 2))(x, c, z)
        assert isinstance(J, tuple) and len(J) == 2
        assert_rel(J[0], Jx_true, 1e-12)
        assert_rel(J[1], Jz_true, 1e-12)
    # a single negative argnum gives a bare array
    assert_rel(pdx.jacrev(f, argnums=-1)(x, c, z), Jz_true, 1e-12)

    def g(x, c, z):
        return pnp.sum(pnp.sin(x)) * pnp.sum(z ** 2) + c[1] * z[0]

    H = pdx.hessian(g, argnums=(0, 2))(x, c, z)
    Hxz = np.outer(np.cos(x), 2 * z)
    expected = ((np.diag(-np.sin(x)) * S, Hxz),
                (Hxz.T, 2 * np.sum(np.sin(x)) * np.eye(2)))
    assert_tree_rel(H, expected, 1e-12)
    assert [[np.shape(b) for b in row] for row in H] == [[(3, 3), (3, 2)], [(2, 3), (2, 2)]]


def test_pytree_jacobian_nests_output_outside_input_inside():
    rng = np.random.default_rng(4)
    p = {"a": rng.standard_normal(2), "b": rng.standard_normal((3, 1))}
    Wa, Wb = rng.standard_normal((4, 2)), rng.standard_normal((4, 3))

    def f(p):
        out0 = Wa @ p["a"] + Wb @ pnp.reshape(p["b"], (-1,))
        return (out0, {"s": pnp.sum(p["a"] ** 2) * pnp.sum(p["b"])})

    sb, sa2 = np.sum(p["b"]), np.sum(p["a"] ** 2)
    expected = ({"a": Wa, "b": Wb.reshape(4, 3, 1)},
                {"s": {"a": 2 * p["a"] * sb, "b": np.full((3, 1), sa2)}})
    for jac in (pdx.jacfwd, pdx.jacrev, pdx.jacobian):
        assert_tree_rel(jac(f)(p), expected, 1e-12)

    def g(p):
        return pnp.sum(p["a"] ** 2) * pnp.sum(p["b"])

    H = pdx.hessian(g)(p)
    Hab = np.broadcast_to((2 * p["a"])[:, None, None], (2, 3, 1))
    expected_h = {"a": {"a": 2 * sb * np.eye(2), "b": Hab},
                  "b": {"a": np.transpose(Hab, (1, 2, 0)), "b": np.zeros((3, 1, 3, 1))}}
    assert_tree_rel(H, expected_h, 1e-12)
    # grad mirrors the input structure
    assert_tree_rel(pdx.grad(g)(p), {"a": 2 * p["a"] * sb, "b": np.full((3, 1), sa2)}, 1e-12)


def test_list_and_tuple_pytrees_in_grad():
    x = [np.array([1.0, 2.0]), (np.array(3.0), {"k": np.array([[0.5]])})]

    def f(t):
        a, (b, d) = t
        return pnp.sum(a ** 2) * b + pnp.sum(d["k"]) ** 3

    g = pdx.grad(f)(x)
    expected = [2 * x[0] * 3.0, (np.array(5.0), {"k": np.array([[3 * 0.25]])})]
    assert isinstance(g, list) and isinstance(g[1], tuple) and isinstance(g[1][1], dict)
    assert_tree_rel(g, expected, 1e-14)


# -- Hessian identities ----------------------------------------------------------------------

A6 = np.random.default_rng(5).standard_normal((5, 6))
C32 = np.random.default_rng(6).standard_normal((3, 2)) / 2

HESS_FUNCS = {
    "tanh_log": (lambda x: pnp.sum(pnp.tanh(A6 @ x) ** 2) + pnp.sum(pnp.log(1 + x ** 2)), (6,)),
    "logsumexp_sin": (lambda x: nn.logsumexp(A6 @ x) * pnp.sin(x[0]) + x[1] * x[2] * x[3], (6,)),
    "prod": (lambda x: pnp.prod(1 + x ** 2 / 10) + pnp.sum(pnp.exp(x / 3) * pnp.cos(x[::-1])), (6,)),
    "matrix_input": (lambda X: pnp.sum(pnp.exp(X @ C32)) + pnp.sum(X ** 4) * X[0, 0], (2, 3)),
}


@pytest.mark.parametrize("name", sorted(HESS_FUNCS))
def test_hessian_identities(name):
    f, shape = HESS_FUNCS[name]
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, shape)
    n = x.size
    H = pdx.hessian(f)(x)
    assert H.shape == shape + shape
    Hm = H.reshape(n, n)
    # symmetric
    assert np.max(np.abs(Hm - Hm.T)) <= 1e-12 * np.max(np.abs(Hm))
    # against FD of the (exact) gradient: an independent check of the values
    Hfd = fd_jacobian(lambda y: np.asarray(pdx.grad(f)(y)), x)
    assert_rel(H, Hfd, 1e-6, "hessian vs FD of grad")
    # hvp vs H @ v
    for _ in range(3):
        v = rng.standard_normal(shape)
        hv = pdx.hvp(f, (x,), (v,))
        assert np.shape(hv) == shape
        assert_rel(hv, (Hm @ v.ravel()).reshape(shape), 1e-12, "hvp vs H @ v")
    # laplacian == trace, hessian_diag == diag
    assert_rel(pdx.laplacian(f)(x), np.trace(Hm), 1e-12, "laplacian vs trace")
    hd = pdx.hessian_diag(f)(x)
    assert np.shape(hd) == shape
    assert_rel(hd, np.diag(Hm).reshape(shape), 1e-12, "hessian_diag vs diag")


def test_hvp_several_arguments():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    vx, vy = rng.standard_normal(3), rng.standard_normal(2)

    def f(x, y):
        return pnp.sum(pnp.sin(x)) * pnp.sum(y ** 2)

    S = np.sum(y ** 2)
    Hxx, Hxy, Hyy = np.diag(-np.sin(x)) * S, np.outer(np.cos(x), 2 * y), 2 * np.sum(np.sin(x)) * np.eye(2)
    hx, hy = pdx.hvp(f, (x, y), (vx, vy))
    assert_rel(hx, Hxx @ vx + Hxy @ vy, 1e-12)
    assert_rel(hy, Hxy.T @ vx + Hyy @ vy, 1e-12)


def test_laplacian_closed_forms():
    x = np.array([0.3, -1.2])
    # harmonic functions have zero Laplacian
    assert abs(pdx.laplacian(lambda x: pnp.exp(x[0]) * pnp.sin(x[1]))(x)) <= 1e-14
    assert abs(pdx.laplacian(lambda x: x[0] ** 2 - x[1] ** 2 + x[0] * x[1])(x)) <= 1e-14
    z = np.array([0.5, 1.5, -2.0])
    assert pdx.laplacian(lambda x: pnp.sum(x ** 3))(z) == pytest.approx(6 * z.sum(), rel=1e-14)
    assert_rel(pdx.hessian_diag(lambda x: pnp.sum(x ** 3))(z), 6 * z, 1e-14)


# -- closed forms ------------------------------------------------------------------------------

def test_quadratic_form_hessian():
    rng = np.random.default_rng(9)
    for n in (1, 4, 9):
        A = rng.standard_normal((n, n))
        x = rng.standard_normal(n)
        f = lambda x: x @ A @ x
        assert_rel(pdx.grad(f)(x), (A + A.T) @ x, 1e-12)
        assert_rel(pdx.hessian(f)(x), A + A.T, 1e-12)
        assert_rel(pdx.jacfwd(pdx.grad(f))(x), A + A.T, 1e-12)


def test_mse_linear_regression():
    rng = np.random.default_rng(10)
    X, y, w = rng.standard_normal((20, 5)), rng.standard_normal(20), rng.standard_normal(5)
    n = X.shape[0]

    def loss(w, X, y):
        return pnp.mean((X @ w - y) ** 2)

    r = X @ w - y
    assert pdx.value_and_grad(loss)(w, X, y)[0] == pytest.approx(np.mean(r ** 2), rel=1e-14)
    assert_rel(pdx.grad(loss)(w, X, y), 2 / n * X.T @ r, 1e-12)
    assert_rel(pdx.hessian(loss)(w, X, y), 2 / n * X.T @ X, 1e-12)
    gw, gX, gy = pdx.grad(loss, argnums=(0, 1, 2))(w, X, y)
    assert_rel(gw, 2 / n * X.T @ r, 1e-12)
    assert_rel(gX, 2 / n * np.outer(r, w), 1e-12)
    assert_rel(gy, -2 / n * r, 1e-12)


def _logistic_naive(w, X, y):
    p = 1.0 / (1.0 + pnp.exp(-(X @ w)))
    return -pnp.mean(y * pnp.log(p) + (1 - y) * pnp.log(1 - p))


def _logistic_sigmoid(w, X, y):
    p = nn.sigmoid(X @ w)
    return -pnp.mean(y * pnp.log(p) + (1 - y) * pnp.log1p(-p))


def _logistic_stable(w, X, y):
    z = X @ w
    return pnp.mean(nn.softplus(z) - y * z)


@pytest.mark.parametrize("loss", [_logistic_naive, _logistic_sigmoid, _logistic_stable], ids=lambda f: f.__name__)
def test_logistic_regression(loss):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((30, 4))
    y = (rng.uniform(size=30) < 0.5).astype(np.float64)
    w = rng.standard_normal(4) / 2
    n = X.shape[0]
    p = np_sigmoid(X @ w)
    value = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss(w, X, y) == pytest.approx(value, rel=1e-13)
    assert_rel(pdx.grad(loss)(w, X, y), X.T @ (p - y) / n, 1e-12)
    assert_rel(pdx.hessian(loss)(w, X, y), X.T @ np.diag(p * (1 - p)) @ X / n, 1e-12)


def _ce_logsoftmax(z, onehot):
    return -pnp.sum(onehot * nn.log_softmax(z))


def _ce_naive(z, onehot):
    e = pnp.exp(z)
    return -pnp.sum(onehot * pnp.log(e / pnp.sum(e)))


def _ce_logsumexp(z, onehot):
    return nn.logsumexp(z) - pnp.sum(onehot * z)


@pytest.mark.parametrize("loss", [_ce_logsoftmax, _ce_naive, _ce_logsumexp], ids=lambda f: f.__name__)
def test_softmax_cross_entropy_single(loss):
    rng = np.random.default_rng(13)
    z = rng.standard_normal(5) * 2
    onehot = np.eye(5)[3]
    p = np_softmax(z)
    assert loss(z, onehot) == pytest.approx(-np.log(p[3]), rel=1e-13)
    assert_rel(pdx.grad(loss)(z, onehot), p - onehot, 1e-12)
    assert_rel(pdx.hessian(loss)(z, onehot), np.diag(p) - np.outer(p, p), 1e-12)


def test_softmax_cross_entropy_batched_weights():
    rng = np.random.default_rng(14)
    n, d, k = 12, 4, 3
    X = rng.standard_normal((n, d))
    Y = np.eye(k)[rng.integers(0, k, n)]
    W = rng.standard_normal((d, k)) / 2

    def loss(W):
        return -pnp.mean(pnp.sum(Y * nn.log_softmax(X @ W, axis=1), axis=1))

    P = np_softmax(X @ W, axis=1)
    assert_rel(pdx.grad(loss)(W), X.T @ (P - Y) / n, 1e-12)
    # d2L / dW_ab dW_cd = 1/n sum_i X_ia X_ic (delta_bd P_ib - P_ib P_id)
    H_true = (np.einsum("ia,ic,ib,bd->abcd", X, X, P, np.eye(k))
              - np.einsum("ia,ic,ib,id->abcd", X, X, P, P)) / n
    H = pdx.hessian(loss)(W)
    assert H.shape == (d, k, d, k)
    assert_rel(H, H_true, 1e-12)


def _rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_rosenbrock_2d_closed_form():
    for x0, y0 in [(-1.2, 1.0), (1.0, 1.0), (0.3, -0.7)]:
        x = np.array([x0, y0])
        g = np.array([-400 * x0 * (y0 - x0 ** 2) - 2 * (1 - x0), 200 * (y0 - x0 ** 2)])
        H = np.array([[1200 * x0 ** 2 - 400 * y0 + 2, -400 * x0], [-400 * x0, 200.0]])
        assert_rel(pdx.grad(_rosen)(x), g, 1e-12)
        assert_rel(pdx.hessian(_rosen)(x), H, 1e-12)


@pytest.mark.parametrize("n", [2, 3, 7])
def test_rosenbrock_vs_scipy(n):
    x = np.random.default_rng(15).uniform(-2, 2, n)
    assert _rosen(x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
    assert_rel(pdx.grad(_rosen)(x), scipy.optimize.rosen_der(x), 1e-12)
    assert_rel(pdx.hessian(_rosen)(x), scipy.optimize.rosen_hess(x), 1e-12)
    v = np.arange(1.0, n + 1)
    assert_rel(pdx.hvp(_rosen, (x,), (v,)), scipy.optimize.rosen_hess_prod(x, v), 1e-12)


# -- a 3-layer tanh MLP with about 1,000 parameters --------------------------------------------

MLP_SIZES = [12, 24, 24, 4]   # 12*24+24 + 24*24+24 + 24*4+4 = 1012 parameters


def _mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"b{i}"] = rng.standard_normal(b) / 10
    X = rng.standard_normal((16, MLP_SIZES[0]))
    T = rng.standard_normal((16, MLP_SIZES[-1]))
    return params, X, T


def _mlp_loss(params, X, T):
    h1 = pnp.tanh(X @ params["W1"] + params["b1"])
    h2 = pnp.tanh(h1 @ params["W2"] + params["b2"])
    out = h2 @ params["W3"] + params["b3"]
    return 0.5 * pnp.mean(pnp.sum((out - T) ** 2, axis=1))


def _mlp_backprop(params, X, T):
    """Hand-written NumPy backpropagation for _mlp_loss."""
    n = X.shape[0]
    h1 = np.tanh(X @ params["W1"] + params["b1"])
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    out = h2 @ params["W3"] + params["b3"]
    d_out = (out - T) / n
    d_a2 = (d_out @ params["W3"].T) * (1 - h2 ** 2)
    d_a1 = (d_a2 @ params["W2"].T) * (1 - h1 ** 2)
    return {"W3": h2.T @ d_out, "b3": d_out.sum(0),
            "W2": h1.T @ d_a2, "b2": d_a2.sum(0),
            "W1": X.T @ d_a1, "b1": d_a1.sum(0)}


def test_mlp_parameter_count():
    params, _, _ = _mlp_problem()
    flat, _ = pdx.ravel_pytree(params)
    assert flat.shape == (1012,)


def test_mlp_gradient_matches_numpy_backprop():
    params, X, T = _mlp_problem()
    g = pdx.grad(_mlp_loss)(params, X, T)
    expected = _mlp_backprop(params, X, T)
    assert_tree_rel(g, expected, 1e-12)
    v, g2 = pdx.value_and_grad(_mlp_loss)(params, X, T)
    assert_tree_rel(g2, expected, 1e-12)
    h2 = np.tanh(np.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])
    out = h2 @ params["W3"] + params["b3"]
    assert v == pytest.approx(0.5 * np.mean(np.sum((out - T) ** 2, axis=1)), rel=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_check_grads_reverse_mode(seed):
    params, X, T = _mlp_problem(seed)
    pdx.check_grads(lambda p: _mlp_loss(p, X, T), (params,), order=1, modes=("rev",), seed=seed)


def test_mlp_check_grads_catches_a_wrong_gradient():
    """The FD rule used above is sharp enough to see a 1e-4 relative error in one layer."""
    params, X, T = _mlp_problem()
    good = _mlp_backprop(params, X, T)
    bad = dict(good, W2=good["W2"] * (1 + 1e-4))
    # <bad - good, u> along the directional derivative is far above the FD noise (about 1e-9)
    rng = np.random.default_rng(0)
    u = {k: rng.standard_normal(np.shape(v)) for k, v in params.items()}
    h = 1e-6
    plus = {k: params[k] + h * u[k] for k in params}
    minus = {k: params[k] - h * u[k] for k in params}
    fd = (float(_mlp_loss(plus, X, T)) - float(_mlp_loss(minus, X, T))) / (2 * h)
    dot = lambda g: sum(float(np.sum(g[k] * u[k])) for k in g)
    assert abs(dot(good) - fd) <= 1e-6 * (1 + abs(fd))
    assert abs(dot(bad) - fd) > 1e-6 * (1 + abs(fd))


# -- composition to any order -----------------------------------------------------------------

@pytest.mark.parametrize("x", [0.0, 0.7, -2.3, 10.0])
def test_grad_of_grad_of_grad_sin(x):
    d3 = pdx.grad(pdx.grad(pdx.grad(pnp.sin)))(x)
    assert d3 == pytest.approx(-np.cos(x), rel=1e-14, abs=1e-15)
    d4 = pdx.grad(pdx.grad(pdx.grad(pdx.grad(pnp.sin))))(x)
    assert d4 == pytest.approx(np.sin(x), rel=1e-14, abs=1e-15)


def test_fifth_derivative_of_exp():
    g = pnp.exp
    for _ in range(5):
        g = pdx.grad(g)
    assert g(0.5) == pytest.approx(np.exp(0.5), rel=1e-14)
    h = lambda x: pnp.exp(2 * x)
    for _ in range(4):
        h = pdx.grad(h)
    assert h(0.3) == pytest.approx(16 * np.exp(0.6), rel=1e-14)


B44 = np.random.default_rng(16).standard_normal((4, 4))


def _five_hessians(f, x):
    return {"hessian": pdx.hessian(f)(x),
            "jacfwd(jacrev)": pdx.jacfwd(pdx.jacrev(f))(x),
            "jacrev(jacfwd)": pdx.jacrev(pdx.jacfwd(f))(x),
            "jacrev(jacrev)": pdx.jacrev(pdx.jacrev(f))(x),
            "jacfwd(jacfwd)": pdx.jacfwd(pdx.jacfwd(f))(x)}


def test_one_hessian_five_ways_closed_form():
    x = np.random.default_rng(17).standard_normal(4)
    f = lambda x: 0.5 * x @ B44 @ x + pnp.sum(pnp.sin(x)) + x[0] * x[1] ** 2
    H_true = (B44 + B44.T) / 2 - np.diag(np.sin(x))
    H_true[1, 1] += 2 * x[0]
    H_true[0, 1] += 2 * x[1]
    H_true[1, 0] += 2 * x[1]
    for name, H in _five_hessians(f, x).items():
        assert_rel(H, H_true, 1e-12, name)


def test_one_hessian_five_ways_nonlinear():
    x = np.random.default_rng(18).uniform(-1, 1, 4)
    f = lambda x: pnp.sum(pnp.tanh(B44 @ x)) * pnp.exp(x[0] * x[1] / 4) + nn.logsumexp(x * x[::-1])
    hs = _five_hessians(f, x)
    ref = hs["hessian"]
    for name, H in hs.items():
        assert_rel(H, ref, 1e-12, name)
    assert_rel(ref, fd_jacobian(lambda y: np.asarray(pdx.grad(f)(y)), x), 1e-6, "hessian vs FD of grad")


def test_third_order_tensor_two_ways():
    x = np.array([0.4, -0.9, 1.3])
    f = lambda x: pnp.sum(x ** 3) + x[0] * x[1] * x[2]
    T_true = np.zeros((3, 3, 3))
    for i in range(3):
        T_true[i, i, i] = 6.0
    for p in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]:
        T_true[p] = 1.0
    assert_rel(pdx.jacfwd(pdx.hessian(f))(x), T_true, 1e-12)
    assert_rel(pdx.jacrev(pdx.jacrev(pdx.grad(f)))(x), T_true, 1e-12)


def test_perturbation_confusion():
    # Siskind & Pearlmutter: d/dx [x * d/dy (x + y)] = d/dx [x] = 1
    assert pdx.grad(lambda x: x * pdx.grad(lambda y: x + y)(1.0))(2.0) == 1.0
    # d/dx [x * d/dy (x * y)] = d/dx [x^2] = 2x
    assert pdx.grad(lambda x: x * pdx.grad(lambda y: x * y)(1.0))(2.0) == 4.0
    assert pdx.grad(lambda x: x * pdx.grad(lambda y: x * y)(1.0))(-3.0) == -6.0
    # d/dx d/dy (x * y) = 1, the inner point being irrelevant
    assert pdx.grad(lambda x: pdx.grad(lambda y: x * y)(3.0))(2.0) == 1.0
    # inner derivative evaluated at the outer variable: d/dx [2 x y]_{y=x} = d/dx 2x^2 = 4x
    assert pdx.grad(lambda x: pdx.grad(lambda y: x * y ** 2)(x))(3.0) == pytest.approx(12.0, rel=1e-15)
    # forward over forward and mixed modes
    jv = lambda x: x * pdx.jvp(lambda y: x * y, (1.0,), (1.0,))[1]
    assert pdx.jvp(jv, (2.0,), (1.0,))[1] == 4.0
    assert pdx.grad(jv)(2.0) == 4.0
    assert pdx.jvp(lambda x: x * pdx.grad(lambda y: x + y)(1.0), (2.0,), (1.0,))[1] == 1.0
    # vector case
    x = np.array([1.0, 2.0])
    g = pdx.grad(lambda x: pnp.sum(x * pdx.grad(lambda y: pnp.sum(x * y))(np.ones(2))))(x)
    assert_rel(g, 2 * x, 1e-15)


def test_check_grads_second_order_on_nested_function():
    f = lambda x: pnp.sum(pnp.sin(x) * pdx.grad(lambda y: pnp.sum(pnp.exp(x * y)))(x))
    pdx.check_grads(f, (np.array([0.3, -0.4, 0.8]),), order=2)


# -- value_and_grad, has_aux, argnums, determinism, dtypes ---------------------------------

def test_value_and_grad_matches_value_and_grad():
    x = np.array([0.5, -1.0, 2.0])
    f = lambda x: pnp.sum(pnp.exp(x) * pnp.sin(x))
    v, g = pdx.value_and_grad(f)(x)
    assert v == pytest.approx(np.sum(np.exp(x) * np.sin(x)), rel=1e-15)
    assert_rel(g, np.exp(x) * (np.sin(x) + np.cos(x)), 1e-14)
    assert_rel(pdx.grad(f)(x), g, 0.0)


def test_has_aux_returns_aux_unchanged_and_undifferentiated():
    x = np.array([1.0, -2.0, 3.0])
    const = np.array([7.0, 8.0])

    def f(x):
        loss = pnp.sum(x ** 2)
        return loss, {"cube": pnp.sum(x ** 3), "pred": x * 2, "tag": "abc", "n": 3, "const": const}

    g, aux = pdx.grad(f, has_aux=True)(x)
    assert_rel(g, 2 * x, 0.0)                      # only the loss is differentiated
    assert aux["tag"] == "abc" and aux["n"] == 3
    assert aux["const"] is const
    assert aux["cube"] == pytest.approx(np.sum(x ** 3), rel=1e-15)
    assert isinstance(aux["pred"], np.ndarray)
    np.testing.assert_array_equal(aux["pred"], x * 2)
    assert sorted(aux) == ["const", "cube", "n", "pred", "tag"]

    (v, aux2), g2 = pdx.value_and_grad(f, has_aux=True)(x)
    assert v == pytest.approx(14.0, rel=1e-15)
    assert_rel(g2, 2 * x, 0.0)
    np.testing.assert_array_equal(aux2["pred"], x * 2)

    J, aux3 = pdx.jacrev(lambda x: (pnp.sin(x), x[0]), has_aux=True)(x)
    assert_rel(J, np.diag(np.cos(x)), 1e-15)
    assert aux3 == x[0]


def test_argnums_tuple_grad():
    f = lambda a, b, c: pnp.sum(a * b) * c
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, -1.0]), 2.0
    ga, gc = pdx.grad(f, argnums=(0, 2))(a, b, c)
    assert_rel(ga, b * c, 0.0)
    assert gc == pytest.approx(np.sum(a * b), rel=1e-15)
    (gb,) = pdx.grad(f, argnums=(1,))(a, b, c)
    assert_rel(gb, a * c, 0.0)
    v, (ga2, gb2, gc2) = pdx.value_and_grad(f, argnums=(0, 1, 2))(a, b, c)
    assert v == pytest.approx(2.0, rel=1e-15)
    assert_rel(gb2, a * c, 0.0)
    # keyword arguments are passed through and not differentiated
    h = lambda x, scale=1.0: scale * pnp.sum(x ** 2)
    assert_rel(pdx.grad(h)(a, scale=3.0), 6 * a, 0.0)


def test_grad_twice_identical_no_hidden_accumulation():
    params, X, T = _mlp_problem(1)
    g = pdx.grad(_mlp_loss)
    first = g(params, X, T)
    other = {k: v + 0.1 for k, v in params.items()}
    g(other, X, T)
    second = g(params, X, T)
    for k in first:
        assert first[k].tobytes() == second[k].tobytes(), k
    # and the inputs were not mutated
    params2, _, _ = _mlp_problem(1)
    for k in params:
        np.testing.assert_array_equal(params[k], params2[k])


def test_deterministic_bitwise_across_transforms():
    x = np.random.default_rng(19).standard_normal(5)
    f = lambda x: pnp.sum(pnp.tanh(x) * nn.softmax(x)) + pnp.prod(x)
    for t in (pdx.grad, pdx.hessian, pdx.jacfwd, pdx.jacrev, pdx.hessian_diag):
        a, b = t(f)(x), t(f)(x)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), t.__name__


def test_python_float_in_float_out():
    f = lambda x: x ** 3 + pnp.sin(x)
    g = pdx.grad(f)(1.5)
    assert isinstance(g, float) and np.ndim(g) == 0
    assert g == pytest.approx(3 * 1.5 ** 2 + np.cos(1.5), rel=1e-15)
    v, g2 = pdx.value_and_grad(f)(1.5)
    assert isinstance(v, float) and isinstance(g2, float)
    gs = pdx.grad(lambda a, b: a * b, argnums=(0, 1))(2.0, 3.0)
    assert all(isinstance(t, float) for t in gs) and gs == (3.0, 2.0)


def test_python_int_is_promoted():
    g = pdx.grad(lambda x: x ** 3)(2)
    assert g == 12.0 and np.result_type(g) == np.float64
    assert pdx.grad(lambda x, y: x * y, argnums=1)(3, 4) == 3.0
    assert pdx.hessian(lambda x: x ** 3)(2) == 12.0
    assert np.result_type(pdx.jacobian(lambda x: x ** 2)(5)) == np.float64


FLOAT32_FUNCS = [
    pytest.param(lambda x: pnp.sum(pnp.tanh(x) * pnp.exp(x)) + pnp.sum(x) ** 2 + pnp.prod(x * 0.5), id="tanh_exp"),
    pytest.param(lambda x: nn.logsumexp(x * 3.0) + pnp.sum(nn.sigmoid(x) * pnp.sqrt(1 + x ** 2)), id="nn"),
    pytest.param(lambda x: pnp.sum(pnp.sin(x) @ np.ones((4, 2), np.float32)) + pnp.max(x), id="matmul"),
    pytest.param(lambda x: pnp.sum(pnp.exp(x / 2)), id="div_by_python_scalar"),
    pytest.param(lambda x: pnp.mean(pnp.sin(x) ** 2), id="mean"),
    pytest.param(lambda x: pnp.sum((1.5 + x) ** 2.5), id="float_power"),
    pytest.param(lambda x: pnp.var(x) + pnp.std(x), id="var_std"),
    pytest.param(lambda x: pnp.sum(pnp.arctan2(x, 2.0) + pnp.log2(2 + x) + pnp.where(x > 0, x, 0.0)), id="atan2_log2"),
]


@pytest.mark.parametrize("f", FLOAT32_FUNCS)
def test_float32_stays_float32_and_agrees_with_float64(f):
    rng = np.random.default_rng(20)
    x64 = rng.uniform(-1, 1, 4)
    x32 = x64.astype(np.float32)
    F = lambda x: pnp.sin(x) * f(x)      # a vector-valued companion for the Jacobians
    cases = [(pdx.grad, f), (pdx.jacobian, F), (pdx.jacfwd, F), (pdx.jacrev, F), (pdx.hessian, f),
             (pdx.hessian_diag, f)]
    for t, fn in cases:
        r32, r64 = t(fn)(x32), t(fn)(x64)
        assert np.asarray(r32).dtype == np.float32, t.__name__
        assert np.asarray(r64).dtype == np.float64, t.__name__
        np.testing.assert_allclose(r32, r64, rtol=2e-3, atol=2e-3 * np.max(np.abs(r64)), err_msg=t.__name__)
    v32, g32 = pdx.value_and_grad(f)(x32)
    assert np.asarray(v32).dtype == np.float32 and g32.dtype == np.float32
    np.testing.assert_allclose(v32, f(x64), rtol=1e-5)
    hv = pdx.hvp(f, (x32,), (np.ones(4, np.float32),))
    assert hv.dtype == np.float32
    _, t32 = pdx.jvp(F, (x32,), (np.ones(4, np.float32),))
    assert t32.dtype == np.float32


def test_float32_division_by_python_scalar():
    """A Python scalar constant is weakly typed (NEP 50): it must not promote float32 derivatives."""
    g = pdx.grad(lambda x: pnp.sum(x / 2))(np.ones(3, np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.full(3, 0.5, np.float32))


# -- Python control flow, indexing, NumPy dispatch ----------------------------------------------

def test_if_else_on_values():
    def f(x):
        if x > 0:
            return x ** 2
        return -x ** 3 + pnp.sin(x)
    assert pdx.grad(f)(1.5) == 3.0
    assert pdx.grad(f)(-1.5) == pytest.approx(-3 * 1.5 ** 2 + np.cos(-1.5), rel=1e-15)
    assert pdx.hessian(f)(-1.5) == pytest.approx(-6 * -1.5 - np.sin(-1.5), rel=1e-15)


def test_data_dependent_while_loop():
    def f(x):
        while x < 10.0:
            x = x * 1.5 + 0.1
        return x

    for x0 in [0.5, 2.0, 9.0, 11.0]:
        n, x = 0, x0
        while x < 10.0:
            x, n = x * 1.5 + 0.1, n + 1
        assert pdx.grad(f)(x0) == pytest.approx(1.5 ** n, rel=1e-15), x0


def test_elementwise_branches_in_a_for_loop():
    def f(x):
        total = 0.0
        for i in range(x.shape[0]):
            if x[i] > 0:
                total = total + x[i] ** 2
            else:
                total = total + pnp.sin(x[i])
        return total

    x = np.array([1.0, -0.5, 2.0, -3.0, 0.25])
    assert_rel(pdx.grad(f)(x), np.where(x > 0, 2 * x, np.cos(x)), 1e-15)
    assert_rel(pdx.hessian(f)(x), np.diag(np.where(x > 0, 2.0, -np.sin(x))), 1e-15)


def test_newton_iteration_for_sqrt():
    def my_sqrt(a):
        y = a
        for _ in range(100):
            if abs(y * y - a) <= 1e-15 * a:      # control flow on values (float() would raise)
                break
            y = 0.5 * (y + a / y)
        return y

    for a in [0.5, 2.0, 9.0, 150.0]:
        assert pdx.grad(my_sqrt)(a) == pytest.approx(0.5 / np.sqrt(a), rel=1e-10)


INDEX_CASES = [
    ((6,), slice(1, 4)),
    ((6,), slice(None, None, -1)),
    ((6,), slice(-4, None, 2)),
    ((6,), -1),
    ((6,), 2),
    ((6,), np.array([0, 2, 2, 5, 0, 0])),
    ((6,), [1, 1, -1]),
    ((6,), (None,)),
    ((6,), np.array([[1, 4], [4, 4]])),
    ((3, 4), (slice(None), None, 1)),
    ((3, 4), (Ellipsis, -1)),
    ((3, 4), (None, Ellipsis)),
    ((3, 4), (-2,)),
    ((3, 4), np.array([[0, 1], [2, 2]])),
    ((3, 4), (np.array([0, 2, 0]), np.array([1, 3, 1]))),
    ((3, 4), (slice(1, None), np.array([3, 0, 3]))),
    ((3, 4), (np.array([2, 2]), slice(None, None, -2))),
    ((3, 4), np.array([[True, False, True, False], [False, False, True, True], [True, True, True, True]])),
    ((2, 3, 4), (1, slice(None, None, 2), -2)),
    ((2, 3, 4), (Ellipsis, np.array([1, 1]))),
    ((2, 3, 4), (None, 0, Ellipsis, None)),
    ((2, 3, 4), (slice(None), np.array([0, 2, 2]), np.array([3, 3, 0]))),
]


def _np_linear_map_jacobian(fn, shapes):
    """Dense Jacobian of a NumPy function linear in its arguments, built column by column."""
    sizes = [int(np.prod(s)) for s in shapes]
    cols = []
    for k in range(sum(sizes)):
        e = np.zeros(sum(sizes))
        e[k] = 1.0
        parts, start = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(e[start:start + n].reshape(s))
            start += n
        cols.append(np.ravel(fn(*parts)))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("shape,idx", INDEX_CASES, ids=[f"{s}-{i!r}".replace("\n", "") for s, i in INDEX_CASES])
def test_indexing_values_and_derivatives(shape, idx):
    rng = np.random.default_rng(21)
    x = rng.standard_normal(shape)
    expected = x[idx]
    y, back = pdx.vjp(lambda x: x[idx], x)
    np.testing.assert_array_equal(y, expected)
    J = _np_linear_map_jacobian(lambda x: x[idx], [shape])
    ct = rng.standard_normal(expected.shape)
    (g,) = back(ct)
    assert np.shape(g) == shape
    assert_rel(g, (J.T @ ct.ravel()).reshape(shape), 1e-14, "vjp")
    v = rng.standard_normal(shape)
    _, t = pdx.jvp(lambda x: x[idx], (x,), (v,))
    assert_rel(t, (J @ v.ravel()).reshape(expected.shape), 1e-14, "jvp")


def test_repeated_integer_index_accumulates():
    g = pdx.grad(lambda x: pnp.sum(x[np.array([0, 0, 0, 2])]))(np.zeros(3))
    np.testing.assert_array_equal(g, [3.0, 0.0, 1.0])
    g2 = pdx.grad(lambda x: pnp.sum(x[[1, 1]] ** 2))(np.array([0.0, 3.0]))
    np.testing.assert_array_equal(g2, [0.0, 12.0])


AT_CASES = [
    ("set", (5,), slice(1, 3), (2,)),
    ("set", (5,), np.array([0, 3]), (2,)),
    ("set", (5,), 2, ()),
    ("set", (5,), slice(None), ()),
    ("set", (3, 4), (slice(None), 1), (3,)),
    ("set", (3, 4), (np.array([2, 0]), np.array([1, 3])), (2,)),
    ("set", (3, 4), (Ellipsis, slice(0, 2)), (1, 2)),
    ("add", (5,), np.array([1, 1, 4]), (3,)),
    ("add", (5,), slice(None, None, 2), (3,)),
    ("add", (5,), -1, ()),
    ("add", (3, 4), (np.array([0, 0]), slice(None)), (2, 4)),
    ("add", (3, 4), (np.array([1, 1, 2]), np.array([0, 0, 3])), (3,)),
]


def _np_at(kind, idx):
    def fn(x, v):
        y = np.array(x, dtype=np.float64, copy=True)
        if kind == "set":
            y[idx] = v
        else:
            np.add.at(y, idx, np.broadcast_to(v, y[idx].shape) if np.ndim(v) == 0 else v)
        return y
    return fn


@pytest.mark.parametrize("kind,shape,idx,vshape", AT_CASES,
                         ids=[f"{k}-{s}-{i!r}-{v}" for k, s, i, v in AT_CASES])
def test_at_set_and_add(kind, shape, idx, vshape):
    rng = np.random.default_rng(22)
    x, v = rng.standard_normal(shape), rng.standard_normal(vshape)
    f = (lambda x, v: x.at[idx].set(v)) if kind == "set" else (lambda x, v: x.at[idx].add(v))
    ref = _np_at(kind, idx)
    y, back = pdx.vjp(f, x, v)
    assert_rel(y, ref(x, v), 1e-15, "value")
    J = _np_linear_map_jacobian(ref, [shape, vshape])
    ct = rng.standard_normal(shape)
    gx, gv = back(ct)
    g_true = J.T @ ct.ravel()
    assert_rel(gx, g_true[:x.size].reshape(shape), 1e-14, "d/dx")
    assert_rel(gv, g_true[x.size:].reshape(vshape), 1e-14, "d/dv")
    Jx, Jv = pdx.jacrev(f, argnums=(0, 1))(x, v)
    assert_rel(Jx.reshape(x.size if shape else 1, -1), J[:, :x.size], 1e-15)
    assert_rel(Jv.reshape(x.size, -1), J[:, x.size:], 1e-15)


def test_at_set_inside_a_nonlinear_function():
    x = np.array([0.5, 1.0, -2.0])

    def f(x):
        y = x.at[1].set(pnp.sin(x[0]))
        return pnp.sum(y ** 2)
    # f = x0^2 + sin(x0)^2 + x2^2
    assert_rel(pdx.grad(f)(x), [2 * x[0] + 2 * np.sin(x[0]) * np.cos(x[0]), 0.0, 2 * x[2]], 1e-15)


def test_numpy_ufuncs_dispatch_through_array_ufunc():
    x = np.array([0.3, -1.1, 2.0])
    A = np.random.default_rng(23).standard_normal((2, 3))
    g = pdx.grad(lambda x: np.sum(np.sin(x) * np.exp(x)))(x)
    assert_rel(g, np.exp(x) * (np.sin(x) + np.cos(x)), 1e-14)
    # ndarray on the left of an operator defers to the tracer
    g2 = pdx.grad(lambda x: np.sum(np.tanh(A @ x) * np.array([1.0, 2.0])))(x)
    s = 1 - np.tanh(A @ x) ** 2
    assert_rel(g2, A.T @ (s * np.array([1.0, 2.0])), 1e-14)
    g3 = pdx.grad(lambda x: np.add(np.multiply(2.0, x), np.square(x)).sum())(x)
    assert_rel(g3, 2 + 2 * x, 1e-15)
    J = pdx.jacfwd(np.cos)(x)
    assert_rel(J, np.diag(-np.sin(x)), 1e-15)


def test_numpy_linalg_norm_dispatches_through_array_function():
    x = np.array([3.0, -4.0, 12.0])
    g = pdx.grad(lambda x: np.linalg.norm(x))(x)
    assert_rel(g, x / 13.0, 1e-15)
    H = pdx.hessian(lambda x: np.linalg.norm(x))(x)
    assert_rel(H, (np.eye(3) - np.outer(x, x) / 169) / 13, 1e-14)
    # the gradient at 0 is 0, not NaN (API.md section 2)
    np.testing.assert_array_equal(pdx.grad(lambda x: np.linalg.norm(x))(np.zeros(3)), np.zeros(3))
    X = np.arange(1.0, 7.0).reshape(2, 3)
    assert_rel(pdx.grad(lambda X: np.linalg.norm(X))(X), X / np.sqrt(np.sum(X ** 2)), 1e-15)


# -- make_graph, interpret, linearize ---------------------------------------------------------

def test_make_graph_prints_equations_in_topological_order_with_values():
    f = lambda x, y: x ** 2 + 3 * x * y
    graph = pdx.make_graph(f)(1.0, 2.0)
    text = str(graph)
    lines = text.splitlines()
    assert lines[0].startswith("graph(") and lines[-1] == "}"
    assert lines[-2].strip().startswith("return")
    body = lines[1:-2]
    assert len(body) == len(graph.eqns) >= 3
    header = lines[0][len("graph("):lines[0].index(")")]
    defined = {d.split(":")[0].strip() for d in header.split(",")}
    values = []
    for line in body:
        lhs, rhs = line.split("=", 1)
        name = lhs.split(":")[0].strip()
        rhs, _, comment = rhs.partition("#")
        tokens = rhs.split()[1:]                 # operands after the primitive
        for tok in tokens:
            if tok.isidentifier():               # variable names; literals are numbers
                assert tok in defined, f"{tok} used before it is defined in:\n{text}"
        assert name not in defined
        defined.add(name)
        assert comment.strip(), f"no value printed in line {line!r}"
        values.append(float(comment))
    # the values of x^2, 3x, 3xy and the result at (1, 2)
    assert values[-1] == 7.0
    assert {1.0, 6.0} <= set(values)
    ret = lines[-2].split()[1]
    assert ret in defined


def test_make_graph_structure_is_topological():
    def f(x, W):
        h = pnp.tanh(x @ W)
        return pnp.sum(h * pnp.exp(h)) + pnp.max(x)
    x, W = np.ones(3), np.random.default_rng(24).standard_normal((3, 2))
    graph = pdx.make_graph(f)(x, W)
    seen = set(graph.invars) | set(graph.constvars)
    for eqn in graph.eqns:
        for v in eqn.inputs:
            if isinstance(v, Var):
                assert v in seen
        seen.add(eqn.outvar)
    assert all(v in seen for v in graph.outvars if isinstance(v, Var))


def test_interpret_reproduces_the_function():
    def f(x, y):
        return pnp.sum(pnp.sin(x) * y) / (1 + pnp.sum(x ** 2)), pnp.exp(x) - y[0]

    def f_np(x, y):
        return np.sum(np.sin(x) * y) / (1 + np.sum(x ** 2)), np.exp(x) - y[0]

    rng = np.random.default_rng(25)
    graph = pdx.make_graph(f)(rng.standard_normal(3), rng.standard_normal(3))
    for _ in range(3):       # the graph is reusable at new points
        x, y = rng.standard_normal(3), rng.standard_normal(3)
        out = pdx.interpret(graph, x, y)
        expected = f_np(x, y)
        assert len(out) == 2
        for o, e in zip(out, expected):
            assert_rel(o, e, 1e-15)
    # interpreting inside a transformation differentiates the graph
    g = pdx.grad(lambda x: pdx.interpret(graph, x, y)[0])(x)
    assert_rel(g, fd_jacobian(lambda x: f_np(x, y)[0], x), 1e-6)


def test_linearize_matches_jvp():
    rng = np.random.default_rng(26)
    A = rng.standard_normal((4, 3))
    f = lambda x: pnp.tanh(A @ x) * pnp.sum(pnp.sin(x))
    x = rng.standard_normal(3)
    y, f_jvp = pdx.linearize(f, x)
    assert_rel(y, np.tanh(A @ x) * np.sum(np.sin(x)), 1e-15)
    J = pdx.jacfwd(f)(x)
    for _ in range(4):
        v = rng.standard_normal(3)
        lin = f_jvp(v)
        assert_rel(lin, pdx.jvp(f, (x,), (v,))[1], 1e-14)
        assert_rel(lin, J @ v, 1e-12)
    # the map is linear
    v1, v2 = rng.standard_normal(3), rng.standard_normal(3)
    assert_rel(f_jvp(2.0 * v1 - 3.0 * v2), 2.0 * f_jvp(v1) - 3.0 * f_jvp(v2), 1e-12)
    # several arguments
    g = lambda a, b: pnp.sum(a * pnp.exp(b))
    a, b = rng.standard_normal(2), rng.standard_normal(2)
    _, g_jvp = pdx.linearize(g, a, b)
    va, vb = rng.standard_normal(2), rng.standard_normal(2)
    assert_rel(g_jvp(va, vb), np.sum(va * np.exp(b) + a * np.exp(b) * vb), 1e-14)


# -- ravel_pytree -----------------------------------------------------------------------------

def _mixed_tree():
    return {"w": np.arange(6.0).reshape(2, 3),
            "layers": [np.linspace(-1, 1, 4).astype(np.float32),
                       (np.float64(3.5), np.ones((1, 2, 1)))],
            "b": np.array(-2.0),
            "nothing": None}


def test_ravel_pytree_round_trip():
    tree = _mixed_tree()
    flat, unravel = pdx.ravel_pytree(tree)
    leaves = pdx.tree_leaves(tree)
    assert flat.ndim == 1 and flat.shape == (sum(np.size(x) for x in leaves),)
    np.testing.assert_array_equal(flat, np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves]))
    back = unravel(flat)
    b_leaves, b_tree = pdx.tree_flatten(back)
    assert b_tree == pdx.tree_flatten(tree)[1]
    assert back["nothing"] is None
    for a, b in zip(b_leaves, leaves):
        assert np.shape(a) == np.shape(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)
    # unravel of a modified vector lands in the right places
    back2 = unravel(flat + np.arange(flat.size))
    assert back2["b"] == -2.0 + 0
    # dicts flatten in sorted key order: b (1), layers (4 + 1 + 2), nothing (0), w (6)
    np.testing.assert_array_equal(back2["w"], tree["w"] + np.arange(8.0, 14.0).reshape(2, 3))
    np.testing.assert_array_equal(back2["layers"][0], tree["layers"][0] + np.arange(1.0, 5.0, dtype=np.float32))
    with pytest.raises(ValueError):
        unravel(flat[:-1])


def test_grad_through_unravel():
    tree = {"a": np.array([0.5, -1.0]), "b": [np.array([[2.0, 0.1, -0.3]]), np.array(0.7)]}
    flat0, unravel = pdx.ravel_pytree(tree)

    def loss(t):
        return pnp.sum(t["a"] ** 2) + pnp.sum(pnp.exp(t["b"][0])) * t["b"][1]

    # a function of the flat vector, via unravel
    g_flat = pdx.grad(lambda v: loss(unravel(v)))(flat0)
    expected, _ = pdx.ravel_pytree(pdx.grad(loss)(tree))
    assert_rel(g_flat, expected, 1e-15)
    e0 = np.exp(tree["b"][0])
    assert_rel(g_flat, np.concatenate([2 * tree["a"], e0.ravel() * 0.7, [np.sum(e0)]]), 1e-15)
    H = pdx.hessian(lambda v: loss(unravel(v)))(flat0)
    assert H.shape == (6, 6)
    assert np.max(np.abs(H - H.T)) <= 1e-12 * np.max(np.abs(H))
    assert_rel(np.diag(H)[:2], [2.0, 2.0], 1e-15)


def test_grad_through_ravel_pytree_of_traced_tree():
    tree = {"a": np.array([0.5, -1.0]), "b": [np.array([[2.0, 0.1, -0.3]]), np.array(0.7)]}
    flat0, unravel = pdx.ravel_pytree(tree)
    w = np.linspace(1.0, 2.0, flat0.size)

    def f(t):
        v, _ = pdx.ravel_pytree(t)
        return pnp.sum(pnp.sin(v) * w)

    g = pdx.grad(f)(tree)
    assert_tree_rel(g, unravel(np.cos(flat0) * w), 1e-15)


# -- broadcasting and reductions, property-based --------------------------------------------------

def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (reverse of NumPy broadcasting), written independently."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, d in enumerate(shape):
        if d == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


BINARY = {
    # name: (partiald op, NumPy op, d/dx, d/dy)
    "add": (lambda x, y: x + y, np.add, lambda x, y: np.ones_like(x * y), lambda x, y: np.ones_like(x * y)),
    "sub": (pnp.subtract, np.subtract, lambda x, y: np.ones_like(x * y), lambda x, y: -np.ones_like(x * y)),
    "mul": (lambda x, y: x * y, np.multiply, lambda x, y: y + 0 * x, lambda x, y: x + 0 * y),
    "div": (pnp.divide, np.divide, lambda x, y: 1 / y + 0 * x, lambda x, y: -x / y ** 2),
    "pow": (pnp.power, np.power, lambda x, y: y * x ** (y - 1), lambda x, y: np.log(x) * x ** y),
    "atan2": (pnp.arctan2, np.arctan2, lambda x, y: y / (x ** 2 + y ** 2), lambda x, y: -x / (x ** 2 + y ** 2)),
}


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 32 - 1))
def test_broadcasting_binary_ops(shapes, op, seed):
    f, f_np, dx, dy = BINARY[op]
    sx, sy = shapes.input_shapes
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, sx)      # positive: pow and div are defined
    y = rng.uniform(0.5, 2.0, sy)
    out, back = pdx.vjp(f, x, y)
    assert np.shape(out) == np.broadcast_shapes(sx, sy) == shapes.result_shape
    assert_rel(out, f_np(x, y), 1e-14)
    ct = rng.standard_normal(np.shape(out))
    gx, gy = back(ct[()] if ct.ndim == 0 else ct)
    assert np.shape(gx) == sx and np.shape(gy) == sy
    xb, yb = np.broadcast_arrays(x, y)
    assert_rel(gx, _unbroadcast(ct * dx(xb, yb), sx), 1e-12)
    assert_rel(gy, _unbroadcast(ct * dy(xb, yb), sy), 1e-12)
    # forward mode agrees: <ct, J v> == <J^T ct, v>
    vx, vy = rng.standard_normal(sx), rng.standard_normal(sy)
    _, t = pdx.jvp(f, (x, y), (vx, vy))
    assert np.shape(t) == shapes.result_shape
    lhs = float(np.sum(ct * t))
    rhs = float(np.sum(gx * vx) + np.sum(gy * vy))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, float(np.sum(np.abs(ct * t))))


def _reduction_grad(op, x, axes, ct_keep):
    """Closed-form VJP of a reduction over ``axes``; ``ct_keep`` has keepdims shape."""
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if op == "sum":
        return np.broadcast_to(ct_keep, x.shape)
    if op == "mean":
        return np.broadcast_to(ct_keep, x.shape) / n
    if op in ("max", "min"):
        ref = (np.max if op == "max" else np.min)(x, axis=axes, keepdims=True)
        hit = (x == ref).astype(np.float64)
        return ct_keep * hit / hit.sum(axis=axes, keepdims=True)
    if op == "prod":
        return ct_keep * np.prod(x, axis=axes, keepdims=True) / x
    m = np.mean(x, axis=axes, keepdims=True)
    if op == "var":
        return ct_keep * 2 * (x - m) / n
    if op == "std":
        return ct_keep * (x - m) / (n * np.std(x, axis=axes, keepdims=True))
    raise AssertionError(op)


REDUCTIONS = {"sum": pnp.sum, "mean": pnp.mean, "max": pnp.max, "min": pnp.min, "prod": pnp.prod,
              "var": pnp.var, "std": pnp.std}


@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4),
       op=st.sampled_from(sorted(REDUCTIONS)), keepdims=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_reductions_axis_subsets_and_keepdims(data, shape, op, keepdims, seed):
    nd = len(shape)
    axis = data.draw(st.one_of(
        st.none(),
        st.lists(st.integers(0, nd - 1), unique=True, max_size=nd).map(tuple) if nd else st.just(()),
        st.integers(-nd, nd - 1) if nd else st.none()), label="axis")
    if isinstance(axis, tuple):
        axis = data.draw(st.permutations(axis).map(tuple), label="axis order")
        flip = data.draw(st.lists(st.booleans(), min_size=len(axis), max_size=len(axis)), label="negate")
        axis = tuple(a - nd if neg else a for a, neg in zip(axis, flip))
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    axes = tuple(range(nd)) if axis is None else tuple(sorted(a % nd for a in np.atleast_1d(axis)))
    n = int(np.prod([shape[a] for a in axes])) if axes else 1
    f = lambda x: REDUCTIONS[op](x, axis=axis, keepdims=keepdims)
    expected = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    out, back = pdx.vjp(f, x)
    assert np.shape(out) == np.shape(expected)
    assert_rel(out, expected, 1e-13)
    ct = rng.standard_normal(np.shape(out))
    (g,) = back(ct[()] if ct.ndim == 0 else ct)
    assert np.shape(g) == shape
    keep_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    if op == "std" and n == 1:
        return   # std'(x) at zero spread is not finite; only shapes are checked
    assert_rel(g, _reduction_grad(op, x, axes, ct.reshape(keep_shape)), 1e-12)
