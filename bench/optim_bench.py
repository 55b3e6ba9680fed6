"""Optimizer benchmark: partiald's Newton-CG and L-BFGS against SciPy's, side by side.

    python -m bench.optim_bench            # 20,000 x 1,000 logistic regression + 1e5-weight Newton-CG
    python -m bench.optim_bench --quick    # smaller sizes (a smoke run)

1. L2-regularized logistic regression, 20,000 examples x 1,000 dense features
   (column scales spread over two decades, so the problem is not trivially
   conditioned). Every row minimizes the same loss from w = 0:

   - partiald ``optim.minimize(method="newton-cg")`` and ``method="lbfgs"``;
   - SciPy ``Newton-CG`` fed with partiald's ``jac`` and ``hessp``
     (``optim.scipy``), and SciPy ``L-BFGS-B`` fed with partiald's ``jac``;
   - SciPy ``L-BFGS-B`` with a hand-written NumPy gradient, the floor for
     what automatic differentiation could cost.

   The ratio column divides each time by that of the SciPy row of the same
   algorithm, using CPU time (process_time: robust on a shared machine; BLAS
   runs one thread, see below); wall-clock seconds are shown too. One run each
   (each takes seconds), after a warm-up evaluation.

2. Newton-CG on 1e5 weights with sparse-ish features (each example touches 20
   weights through an index array, ``w[idx]``): the dense Hessian would take
   80 GB; tracemalloc's peak shows that no Hessian is ever formed.

Timings are never part of the test suite.
"""
from __future__ import annotations

import os

# NumPy and SciPy each bundle an OpenBLAS with its own thread pool; when calls alternate between
# them (SciPy's L-BFGS-B between NumPy gradient evaluations) the two pools spin against each other
# and L-BFGS-B ran ~100x slower on a 2-CPU machine. One BLAS thread for every row keeps the
# comparison fair; set OPENBLAS_NUM_THREADS yourself to override (before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import platform
import sys
import time
import tracemalloc

import numpy as np

import partiald.numpy as pnp
from partiald import optim


def logistic_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.logspace(-1.0, 1.0, d) / np.sqrt(d)
    X = rng.standard_normal((n, d)) * scales
    w_true = rng.standard_normal(d) / scales / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w_true)))).astype(np.float64)
    return X, y


def logistic_losses(X, y, lam):
    n = X.shape[0]

    def loss(w):                       # partiald: mean log-loss + L2
        z = X @ w
        return pnp.mean(pnp.logaddexp(0.0, z) - y * z) + 0.5 * lam * pnp.sum(w * w)

    def np_loss(w):                    # the same in NumPy, for the hand-written baseline
        z = X @ w
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * (w @ w))

    def np_grad(w):
        p = 0.5 * (1.0 + np.tanh(0.5 * (X @ w)))      # sigmoid, overflow-free
        return X.T @ (p - y) / n + lam * w
    return loss, np_loss, np_grad


def _row(name, times, nit, nfev, njev, nhvp, f, gnorm, ok, ref_times):
    wall, cpu = times
    ratio = f"{cpu / ref_times[1]:6.2f}" if ref_times else "   ref"
    print(f"{name:<44} {wall:7.2f} {cpu:7.2f} {ratio:>6} {nit:>5} {nfev:>5} {njev:>5} {nhvp:>5} {f:>18.14f} "
          f"{gnorm:>9.2e} {'yes' if ok else 'NO':>4}")


def bench_logistic(n, d, lam, tol):
    from scipy import optimize

    X, y = logistic_data(n, d)
    loss, np_loss, np_grad = logistic_losses(X, y, lam)
    w0 = np.zeros(d)
    print(f"\n1. logistic regression, {n:,} examples x {d:,} weights, lam = {lam:g}; stop at |grad| <= {tol:g}")
    obj = optim.scipy(loss)
    obj.fun(w0)                                        # warm-up (first trace)
    results = {}

    def timed(fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        return out, (time.perf_counter() - t, time.process_time() - c)

    # SciPy's tests: L-BFGS-B stops on max|g_i| <= gtol (an inf-norm); Newton-CG on a small relative step
    obj = optim.scipy(loss)
    res, t = timed(lambda: optimize.minimize(obj.fun, w0, jac=obj.jac, hessp=obj.hessp, method="Newton-CG",
                                             options={"xtol": 1e-10, "maxiter": 200}))
    results["scipy-ncg"] = (res, t, obj.nfev)
    obj = optim.scipy(loss)
    res, t = timed(lambda: optimize.minimize(obj.fun, w0, jac=obj.jac, method="L-BFGS-B",
                                             options={"gtol": tol / np.sqrt(d), "ftol": 1e-15, "maxiter": 5000}))
    results["scipy-lbfgs"] = (res, t, obj.nfev)
    res, t = timed(lambda: optimize.minimize(np_loss, w0, jac=np_grad, method="L-BFGS-B",
                                             options={"gtol": tol / np.sqrt(d), "ftol": 1e-15, "maxiter": 5000}))
    results["numpy-lbfgs"] = (res, t, None)
    res, t = timed(lambda: optim.minimize(loss, w0, method="newton-cg", tol=tol, ftol=0, record_x=False))
    results["pdx-ncg"] = (res, t, None)
    res, t = timed(lambda: optim.minimize(loss, w0, method="lbfgs", tol=tol, ftol=0, max_iter=5000,
                                          record_x=False))
    results["pdx-lbfgs"] = (res, t, None)

    print(f"{'system':<44} {'wall s':>7} {'cpu s':>7} {'ratio':>6} {'iter':>5} {'f':>5} {'grad':>5} {'H.v':>5} "
          f"{'final f':>18} {'|grad|':>9} {'conv':>4}")
    for key, name, ref in [("scipy-ncg", "SciPy Newton-CG (partiald jac + hessp)", None),
                           ("pdx-ncg", "partiald optim newton-cg", "scipy-ncg"),
                           ("scipy-lbfgs", "SciPy L-BFGS-B (partiald jac)", None),
                           ("pdx-lbfgs", "partiald optim lbfgs", "scipy-lbfgs"),
                           ("numpy-lbfgs", "SciPy L-BFGS-B (hand-written NumPy gradient)", "scipy-lbfgs")]:
        res, t, counts = results[key]
        ref_t = results[ref][1] if ref else None
        gnorm = float(np.linalg.norm(np_grad(res.x)))
        if key.startswith("pdx"):
            nhvp = sum(h.get("cg_iter", 0) for h in res.history)
            _row(name, t, res.nit, res.nfev, res.ngev, nhvp, res.fun, gnorm, res.converged, ref_t)
        else:
            nfev, ngev, nlin = counts if counts else (res.nfev, res.njev, 0)
            nhvp = getattr(res, "nhev", 0)
            _row(name, t, res.nit, nfev, ngev, nhvp, float(res.fun), gnorm, res.success, ref_t)
    best = min(float(r[0].fun) for r in results.values())
    print(f"(all rows reach f within {max(float(r[0].fun) for r in results.values()) - best:.1e} of the best; "
          "ratio = cpu time / cpu time of the SciPy row of the same algorithm; f, grad, H.v count evaluations "
          "of f, of the gradient, and Hessian-vector products; |grad| is the closed-form NumPy gradient at the "
          "result)")


def sparse_problem(n, d, k, lam, seed=1):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d, size=(n, k))
    val = rng.standard_normal((n, k))
    w_true = rng.standard_normal(d)
    z = np.sum(val * w_true[idx], axis=1)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)

    def loss(w):
        z = pnp.sum(val * w[idx], axis=1)          # each example reads k of the d weights
        return pnp.mean(pnp.logaddexp(0.0, z) - y * z) + 0.5 * lam * pnp.sum(w * w)
    return loss


def bench_sparse(n, d, k, lam, tol):
    loss = sparse_problem(n, d, k, lam)
    w0 = np.zeros(d)
    print(f"\n2. newton-cg, {d:,} weights, {n:,} examples with {k} nonzero features each, lam = {lam:g}")
    dense = d * d * 8
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    t, c = time.perf_counter(), time.process_time()
    res = optim.minimize(loss, w0, method="newton-cg", tol=tol, record_x=False)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nhvp = sum(h.get("cg_iter", 0) for h in res.history)
    print(f"time {seconds:.2f} s wall ({cpu:.2f} s cpu, under tracemalloc), {res.nit} iterations, "
          f"{nhvp} Hessian-vector products, converged={res.converged} ({res.message})")
    print(f"peak traced memory {(peak - base) / 2**20:.1f} MiB; the dense Hessian alone would take "
          f"{dense / 2**30:,.1f} GiB ({(peak - base) / dense:.1e} of it); one weight vector is {d * 8 / 2**20:.2f} MiB")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = p.parse_args(argv)
    import scipy
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    if args.quick:
        bench_logistic(2000, 100, 1e-4, 1e-6)
        bench_sparse(5000, 10_000, 20, 1e-4, 1e-6)
    else:
        bench_logistic(20_000, 1_000, 1e-4, 1e-6)
        bench_sparse(20_000, 100_000, 20, 1e-4, 1e-6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
