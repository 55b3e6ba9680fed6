"""partiald.optim: convergence to known optima, rates, update rules against the
published equations, the traps that must end with converged=False, the SciPy
bridge and the ``partiald minimize`` command (TESTING.md section 7)."""
import copy
import doctest
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import partiald as pdx
import partiald.numpy as pnp
from partiald import optim


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def himmelblau(v):
    return (v[0] ** 2 + v[1] - 11) ** 2 + (v[0] + v[1] ** 2 - 7) ** 2


def camel(v):
    """The six-hump camel; global minima f = -1.0316284535 at (±0.0898420, ∓0.7126564)."""
    return (4 - 2.1 * v[0] ** 2 + v[0] ** 4 / 3) * v[0] ** 2 + v[0] * v[1] + (-4 + 4 * v[1] ** 2) * v[1] ** 2


def quadratic(eigs, seed=0):
    """f(x) = x'Ax/2 - b'x with A = Q diag(eigs) Q' (so L = max eig, mu = min eig)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    A = Q @ np.diag(eigs) @ Q.T
    A = 0.5 * (A + A.T)
    b = rng.standard_normal(len(eigs))
    return A, b, (lambda x: 0.5 * (x @ A @ x) - b @ x), np.linalg.solve(A, b)


def logistic_problem(n=300, d=6, lam=1e-2, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ rng.standard_normal(d)))).astype(float)

    def loss(w):          # mean log-loss + L2, written with partiald.numpy
        z = X @ w
        return pnp.mean(pnp.logaddexp(0.0, z) - y * z) + 0.5 * lam * pnp.sum(w * w)

    def np_loss(w):       # the same loss and its closed-form gradient, in plain NumPy
        z = X @ w
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * w @ w)

    def np_grad(w):
        return X.T @ (1 / (1 + np.exp(-(X @ w))) - y) / n + lam * w
    return loss, np_loss, np_grad, d


# -- convergence ------------------------------------------------------------------------------

@pytest.mark.parametrize("method,max_nit", [("newton", 50), ("lbfgs", 200), ("newton-cg", 100)])
def test_rosenbrock(method, max_nit):
    res = optim.minimize(rosen, np.array([-1.2, 1.0]), method=method, tol=1e-10)
    assert res.converged, res.message
    assert res.nit <= max_nit
    assert np.max(np.abs(res.x - 1.0)) <= 1e-6
    assert len(res.history) == res.nit + 1
    np.testing.assert_array_equal(res.history[0]["x"], [-1.2, 1.0])


def test_gd_converges_below_2_over_L_and_diverges_above():
    A, b, f, x_star = quadratic([1.0, 2.0, 5.0, 10.0])
    L = 10.0
    ok = optim.minimize(f, np.zeros(4), method="gd", lr=1.9 / L, tol=1e-9, max_iter=20000)
    assert ok.converged, ok.message
    assert np.max(np.abs(ok.x - x_star)) <= 1e-6
    bad = optim.minimize(f, np.zeros(4), method="gd", lr=2.1 / L, max_iter=20000)
    assert not bad.converged
    assert "lower the learning rate" in bad.message and "diverging" in bad.message
    assert np.all(np.isfinite(bad.x)) and math.isfinite(bad.fun)
    assert bad.fun <= f(np.zeros(4))                 # the best iterate, not the last one


@pytest.mark.parametrize("which", ["1/L", "2/(L+mu)"])
def test_gd_linear_rate(which):
    mu, L = 1.0, 10.0
    A, b, f, x_star = quadratic([mu, 2.0, 4.0, 7.0, L], seed=3)
    lr, expected = (1 / L, 1 - mu / L) if which == "1/L" else (2 / (L + mu), (L - mu) / (L + mu))
    res = optim.minimize(f, np.zeros(5), method="gd", lr=lr, tol=0, max_iter=120)
    err = np.array([np.linalg.norm(h["x"] - x_star) for h in res.history])
    ratios = err[81:121] / err[80:120]
    np.testing.assert_allclose(ratios, expected, rtol=1e-3)


def test_newton_converges_quadratically():
    loss, _, _, d = logistic_problem()
    ref = optim.minimize(loss, np.zeros(d), method="newton", tol=1e-14, ftol=0)
    res = optim.minimize(loss, np.zeros(d), method="newton", tol=1e-13, ftol=0)
    err = [np.linalg.norm(h["x"] - ref.x) for h in res.history]
    pairs = [(a, b) for a, b in zip(err, err[1:]) if a < 0.2 and b > 1e-13]
    assert len(pairs) >= 3
    for a, b in pairs:                           # the error roughly squares each step
        assert math.log(b) / math.log(a) >= 1.8, err


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs"])
def test_logistic_regression_matches_scipy_bfgs(method):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    loss, np_loss, np_grad, d = logistic_problem()
    ref = scipy_optimize.minimize(np_loss, np.zeros(d), jac=np_grad, method="BFGS", options={"gtol": 1e-11})
    res = optim.minimize(loss, np.zeros(d), method=method, tol=1e-10)
    assert res.converged, res.message
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    assert np.linalg.norm(np_grad(res.x)) <= 1e-7      # the optimality condition, in closed form
    assert abs(res.fun - np_loss(res.x)) <= 1e-14


def test_first_order_methods_on_a_quadratic():
    A, b, f, x_star = quadratic([1.0, 3.0, 5.0])
    for method, lr in [("gd", 0.15), ("momentum", 0.05), ("nesterov", 0.05), ("adam", 0.05)]:
        res = optim.minimize(f, np.zeros(3), method=method, lr=lr, tol=1e-8, max_iter=20000)
        assert res.converged, (method, res.message)
        assert np.max(np.abs(res.x - x_star)) <= 1e-6, method


def test_pytrees_and_dtypes():
    target = {"w": np.array([1.0, -2.0]), "s": 0.5}

    def f(p):
        return pnp.sum((p["w"] - target["w"]) ** 2) + (p["s"] - target["s"]) ** 2 + pnp.sum(p["u"] ** 2)
    x0 = {"w": np.zeros(2), "s": 3.0, "u": np.ones((2, 2), dtype=np.float32)}
    for method in ["lbfgs", "newton", "newton-cg", "gd"]:
        res = optim.minimize(f, x0, method=method, lr=0.3 if method == "gd" else None, tol=1e-8)
        assert res.converged, (method, res.message)
        assert set(res.x) == {"w", "s", "u"}
        assert isinstance(res.x["s"], float) and abs(res.x["s"] - 0.5) < 1e-6
        assert res.x["u"].dtype == np.float32 and res.x["u"].shape == (2, 2)
        np.testing.assert_allclose(res.x["w"], target["w"], atol=1e-6)
    assert x0["s"] == 3.0 and np.all(x0["u"] == 1)        # the start is not modified


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs"])
def test_float32_objective_converges(method):
    # f is computed in float32: the line searches must judge decrease at float32 rounding
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5)).astype(np.float32)
    A = M @ M.T + np.float32(0.1) * np.eye(5, dtype=np.float32)
    res = optim.minimize(lambda x: 0.5 * (x @ A @ x) - pnp.sum(x) + 0.1 * pnp.sum(x ** 4),
                         np.ones(5, np.float32), method=method, tol=1e-6)
    assert res.converged, res.message
    assert res.x.dtype == np.float32


# -- the traps: converged=False with a specific message and a finite x ----------------------------

@pytest.mark.parametrize("method", optim.METHODS)
def test_always_nan_objective(method):
    res = optim.minimize(lambda x: pnp.sum(x) * np.nan, np.array([1.0, 2.0]), method=method)
    assert not res.converged
    assert "not finite at the starting point" in res.message
    np.testing.assert_array_equal(res.x, [1.0, 2.0])
    assert res.nit == 0


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "gd", "momentum"])
def test_unbounded_below(method):
    res = optim.minimize(lambda x: -(x @ x), np.array([1.0, 2.0]), method=method)
    assert not res.converged
    assert "unbounded below" in res.message
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)


def test_indefinite_start_himmelblau():
    res = optim.minimize(himmelblau, np.array([0.0, 0.0]), method="newton", tol=1e-10)
    assert res.history[0]["damping"] > 0          # H(0, 0) = diag(-42, -26) was damped
    assert res.converged and res.fun < 1e-16
    assert np.all(np.linalg.eigvalsh(pdx.hessian(himmelblau)(res.x)) > 0)   # a minimum, not the max near (0, 0)
    assert all(b["f"] < a["f"] for a, b in zip(res.history, res.history[1:]))   # every step descends


@pytest.mark.parametrize("x0,f_min", [((0.0, 0.0), -1.0316284534898774), ((1.0, 0.5), -1.0316284534898774),
                                       ((-1.0, -0.3), -1.0316284534898774), ((1.2, -0.2), -0.2154638243837177)])
def test_indefinite_start_six_hump_camel(x0, f_min):
    # H is indefinite at each start; (0, 0) is a saddle with zero gradient, which Newton must
    # leave along negative curvature; H is negative definite at the last two; (1.2, -0.2) leads
    # to a local, non-global minimum.
    assert np.linalg.eigvalsh(pdx.hessian(camel)(np.array(x0)))[0] < 0
    res = optim.minimize(camel, np.array(x0), method="newton", tol=1e-10)
    assert res.converged, res.message
    assert abs(res.fun - f_min) < 1e-10
    assert np.all(np.linalg.eigvalsh(pdx.hessian(camel)(res.x)) > 0)
    if x0 == (0.0, 0.0):
        assert res.history[1]["direction"] == "negative curvature"


def _off_domain(x):
    # x - log x (minimum 1 at x = 1), +inf for x <= 0
    return pnp.sum(pnp.where(x > 0, x - pnp.log(pnp.where(x > 0, x, 1.0)), pnp.inf))


def test_inf_off_the_domain():
    for method in ["gd", "momentum", "adam"]:
        res = optim.minimize(_off_domain, np.array([3.0]), method=method, lr=5.0)
        assert not res.converged
        assert "f became inf" in res.message and "lower the learning rate" in res.message
        assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    for method in ["newton", "newton-cg", "lbfgs"]:     # line searches back off the infinite region
        res = optim.minimize(_off_domain, np.array([3.0]), method=method, tol=1e-10)
        assert res.converged, res.message
        np.testing.assert_allclose(res.x, [1.0], atol=1e-8)


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs"])
def test_line_search_failure(method):
    # f = x^2, but the gradient is 2x - 3 (stop_gradient hides the extra term from f)
    def f(x):
        return pnp.sum(x ** 2) - 3.0 * pnp.sum(x - pdx.stop_gradient(x))
    res = optim.minimize(f, np.array([1.0]), method=method)
    assert not res.converged
    assert "line search failed" in res.message and "check_grads" in res.message
    np.testing.assert_array_equal(res.x, [1.0])


def test_nonfinite_gradient_and_max_iter_and_callback():
    res = optim.minimize(lambda x: pnp.sum(pnp.sqrt(x)), np.array([0.0, 1.0]), method="gd")
    assert not res.converged and "gradient at x0 is not finite" in res.message
    res = optim.minimize(himmelblau, np.zeros(2), method="lbfgs", max_iter=3)
    assert not res.converged and res.nit == 3 and "maximum number of iterations (3)" in res.message
    seen = []
    res = optim.minimize(himmelblau, np.zeros(2), method="gd",
                         callback=lambda r: seen.append(r["iter"]) or len(seen) > 4)
    assert not res.converged and "stopped by the callback at iteration 4" in res.message and seen == [0, 1, 2, 3, 4]


def test_history_records_and_repr():
    res = optim.minimize(himmelblau, np.zeros(2), method="newton-cg", tol=1e-9)
    assert {"iter", "x", "f", "grad_norm", "step", "alpha", "cg_iter"} <= set(res.history[1])
    assert res.history[-1]["f"] == res.fun and res.history[-1]["grad_norm"] == res.grad_norm
    assert len(res.path) == res.nit + 1
    text = repr(res)
    assert "converged=True" in text and "newton-cg" in text and len(text) < 600
    big = optim.minimize(lambda x: pnp.sum(x ** 2), np.ones(10000), method="lbfgs", record_x=False)
    assert big.converged and "x" not in big.history[0] and len(repr(big)) < 600


def test_invalid_arguments():
    with pytest.raises(ValueError, match="unknown method 'bfgs'"):
        optim.minimize(rosen, np.zeros(2), method="bfgs")
    with pytest.raises(ValueError, match="lr must be a positive number"):
        optim.minimize(rosen, np.zeros(2), method="gd", lr=0.0)
    with pytest.raises(TypeError, match="x0 leaves must be float arrays"):
        optim.minimize(rosen, "1,2")
    with pytest.raises(TypeError, match="scalar"):
        optim.minimize(lambda x: x * 2, np.zeros(2))


# -- step optimizers against the published update equations ----------------------------------------

def _reference(kind, A, b, p, lr, steps, mu=0.9, wd=0.0, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's SGD (dampening 0) and Kingma & Ba's Adam (decoupled decay as in AdamW), in NumPy."""
    buf, m, v, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for t in range(1, steps + 1):
        g = A @ p - b
        if kind == "adam":
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            p = p * (1 - lr * wd) - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        else:
            g = g + wd * p
            buf = mu * buf + g
            p = p - lr * {"sgd": g, "momentum": buf, "nesterov": g + mu * buf}[kind]
        out.append(p.copy())
    return out


OPTIMIZERS = {
    "sgd": (lambda: optim.sgd(0.05), {}),
    "momentum": (lambda: optim.sgd(0.05, momentum=0.9), {}),
    "nesterov": (lambda: optim.sgd(0.05, momentum=0.9, nesterov=True), {}),
    "sgd-decay": (lambda: optim.sgd(0.05, momentum=0.9, weight_decay=0.1), {"kind": "momentum", "wd": 0.1}),
    "adam": (lambda: optim.adam(0.05), {}),
    "adamw": (lambda: optim.adam(0.05, weight_decay=0.1), {"kind": "adam", "wd": 0.1}),
}


def _split(p):
    return {"a": p[:5], "b": p[5:].reshape(2, 2)}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_rule_matches_reference(name):
    make, ref_kw = OPTIMIZERS[name]
    A, b, _, _ = quadratic(np.linspace(0.5, 5.0, 9), seed=7)
    loss = lambda q: 0.5 * (pnp.concatenate([q["a"], pnp.reshape(q["b"], (-1,))]) @ A
                            @ pnp.concatenate([q["a"], pnp.reshape(q["b"], (-1,))])) \
        - b @ pnp.concatenate([q["a"], pnp.reshape(q["b"], (-1,))])
    p0 = np.random.default_rng(2).standard_normal(9)
    kw = {"kind": name, **ref_kw}
    ref = _reference(kw.pop("kind"), A, b, p0, 0.05, 100, **kw)
    opt = make()
    params = _split(p0.copy())
    state = opt.init(params)
    for t in range(100):
        params, state = opt.update(pdx.grad(loss)(params), state, params)
        flat = np.concatenate([params["a"], params["b"].reshape(-1)])
        assert np.linalg.norm(flat - ref[t]) <= 1e-12 * np.linalg.norm(ref[t]), (name, t)
    assert state["count"] == 100


def test_schedule_is_used():
    A, b, _, _ = quadratic([1.0, 2.0, 3.0])
    sched = optim.exponential_decay(0.1, 0.5, 10)
    opt = optim.sgd(sched, momentum=0.5)
    p = np.ones(3)
    state = opt.init(p)
    ref, buf = np.ones(3), np.zeros(3)
    for t in range(30):
        p, state = opt.update(A @ p - b, state, p)
        buf = 0.5 * buf + (A @ ref - b)
        ref = ref - 0.1 * 0.5 ** (t / 10) * buf
        np.testing.assert_allclose(p, ref, rtol=1e-13)
    assert optim.cosine_decay(1.0, 10)(10) == 0.0 and optim.linear_warmup(1.0, 4)(1) == 0.5


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_round_trip_is_bitwise(name):
    opt = OPTIMIZERS[name][0]()
    rng = np.random.default_rng(5)
    grads = [{"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)} for _ in range(40)]
    params = {"w": np.ones((3, 2)), "b": np.zeros(2)}
    state = opt.init(params)
    for g in grads[:20]:
        params, state = opt.update(g, state, params)
    saved_params, saved_state = copy.deepcopy(params), copy.deepcopy(state)
    for g in grads[20:]:
        params, state = opt.update(g, state, params)
    for g in grads[20:]:
        saved_params, saved_state = opt.update(g, saved_state, saved_params)
    for k in params:
        assert params[k].tobytes() == saved_params[k].tobytes()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_stays_float32(name):
    opt = OPTIMIZERS[name][0]()
    params = {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}
    state = opt.init(params)
    for _ in range(3):
        grads = pdx.grad(lambda p: pnp.sum(p["w"] ** 2) + pnp.sum(p["b"] - 1.0))(params)
        params, state = opt.update(grads, state, params)
    leaves = pdx.tree_leaves(params) + [x for x in pdx.tree_leaves(state) if isinstance(x, np.ndarray)]
    assert all(x.dtype == np.float32 for x in leaves)


def test_step_optimizer_errors():
    with pytest.raises(ValueError, match="nesterov=True needs momentum"):
        optim.sgd(0.1, nesterov=True)
    with pytest.raises(ValueError, match="b2 must be in"):
        optim.adam(0.1, b2=1.0)
    opt = optim.adam(0.1)
    params = {"w": np.zeros(2)}
    with pytest.raises(ValueError, match="grads has structure"):
        opt.update({"v": np.zeros(2)}, opt.init(params), params)


# -- SciPy bridge ------------------------------------------------------------------------------------

def test_scipy_bridge():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    x0 = {"a": np.array([-1.2]), "b": np.array(1.0)}
    f = lambda p: (1 - p["a"][0]) ** 2 + 100 * (p["b"] - p["a"][0] ** 2) ** 2
    obj = optim.scipy(f, x0)
    v = np.array([0.3, -0.4])
    assert obj.fun(v) == pytest.approx((1 - 0.3) ** 2 + 100 * (-0.4 - 0.09) ** 2, rel=1e-15)
    H = obj.hess(v)
    p = np.array([0.7, 2.0])
    np.testing.assert_allclose(obj.hessp(v, p), H @ p, rtol=1e-13)
    for method in ["Newton-CG", "trust-ncg", "L-BFGS-B"]:
        res = obj.minimize(method=method, options={"maxiter": 500})
        x = obj.unravel(res.x)
        assert res.success and abs(x["a"][0] - 1) < 1e-4 and x["b"].shape == ()
    res = scipy_optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp, method="Newton-CG")
    assert res.success


@pytest.mark.parametrize("module", [optim.solvers, optim.steps, optim.bridge], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- the command line ------------------------------------------------------------------------------

def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "partiald", "minimize", *args], capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_table():
    rc, out, err = _cli("(1 - x)^2 + 100*(y - x^2)^2", "--start", "x=-1.2,y=1", "--method", "newton")
    assert rc == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["iter", "f", "|grad|", "step"])
    assert "damping" in lines[header]
    rows = [line.split() for line in lines[header + 1:] if line.strip() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(len(rows))) and float(rows[0][1]) == pytest.approx(24.2)
    assert "converged" in out and "x = 1, y = 1" in out


def test_cli_json():
    rc, out, err = _cli("x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "gd", "--lr", "0.1", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert {"formula", "variables", "method", "start", "x", "fun", "grad_norm", "nit", "converged", "message",
            "history"} <= set(doc)
    assert doc["variables"] == ["x", "y"] and doc["converged"] is True and doc["method"] == "gd"
    assert len(doc["history"]) == doc["nit"] + 1
    assert set(doc["history"][0]) >= {"iter", "x", "f", "grad_norm", "step"} and doc["history"][0]["x"] == doc["start"]
    assert abs(doc["x"]["x"]) < 1e-8


def test_cli_not_converged_and_bad_input():
    rc, out, _ = _cli("x^2 + 3*y^2", "--start", "x=1,y=1", "--method", "gd", "--lr", "0.5", "--max-iter", "500")
    assert rc == 1 and "lower the learning rate" in out
    for args, words in [(("x^2 + y", "--start", "x=1"), "no value for y"),
                        (("x^2", "--start", "x=1", "--method", "bfgs"), "invalid choice"),
                        (("x^2 +", "--start", "x=1"), "could not read the formula"),
                        (("x^2", "--start", "x=1", "--lr", "-1"), "--lr must be a positive number")]:
        rc, out, err = _cli(*args)
        assert rc == 2 and words in err and "Traceback" not in err, (args, err)
