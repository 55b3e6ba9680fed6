"""The partiald benchmark suite: every system on the same workload, in one run.

    python -m bench              # all workloads
    python -m bench --quick      # fewer repeats, smaller sizes where noted
    python -m bench scalar-grad rosen-grad

Workloads (DESIGN.md, "Performance"): scalar-grad, rosen-grad, mlp-step,
hessian (the logistic loss spelled three ways: softplus, logaddexp, sigmoid; and
hessian-tall, the same on 3000 x 150 data), sparse-hessian, symbolic, symbolic-family
(random formulas, bench/symbolic_family.py; per-formula lines start with '#'), checkpoint. Each row is the median of
several timed runs after a warm-up; the ratio column divides by the first row
of the workload (the reference). The checkpoint workload reports peak memory
(MiB, measured with tracemalloc, which sees NumPy's buffers) instead of time.
Systems that are not installed are skipped. Timings are never part of the
test suite.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

import partiald as pdx
import partiald.numpy as pnp
from partiald import nn
from partiald.compile import native


def _timeit(fn, repeat, number=1):
    fn()                                   # warm-up (compilation, caches)
    times = []
    for _ in range(repeat):
        gc.disable()
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
        gc.enable()
    return statistics.median(times)


def _peak_mib(fn, repeat):
    """Median peak memory of one call, in MiB, after a warm-up: what tracemalloc sees
    allocated (NumPy registers its buffers) while ``fn`` runs, its result included."""
    fn()
    peaks = []
    for _ in range(repeat):
        gc.collect()
        tracemalloc.start()
        try:
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] / 2 ** 20)
        finally:
            tracemalloc.stop()
    return statistics.median(peaks)


def _optional(name):
    try:
        if name == "torch":
            import torch
            torch.set_num_threads(2)
            return torch
        if name == "jax":
            import jax
            jax.config.update("jax_enable_x64", True)
            return jax
        if name == "autograd":
            import autograd
            return autograd
        if name == "micrograd":
            from micrograd import engine
            return engine
        if name == "sympy":
            import sympy
            return sympy
    except Exception:
        return None
    return None


# -- workloads: each returns [(system, seconds)], the reference first ------------------------------

def scalar_grad(quick):
    n = 2000 if quick else 20000
    rows = []

    def f(x, y):
        return x ** 2 + 3 * x * y
    g = pdx.grad(f, argnums=(0, 1))
    gj = pdx.jit(pdx.grad(f, argnums=(0, 1)))
    rows.append(("partiald jit(grad)", _timeit(lambda: gj(1.0, 2.0), 5, n)))
    rows.append(("partiald grad (eager)", _timeit(lambda: g(1.0, 2.0), 5, max(n // 20, 50))))
    jax = _optional("jax")
    if jax:
        jg = jax.jit(jax.grad(f, argnums=(0, 1)))
        rows.append(("jax jit(grad)", _timeit(lambda: jax.block_until_ready(jg(1.0, 2.0)), 5, n // 4)))
    torch = _optional("torch")
    if torch:
        def tg():
            x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
            y = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
            return torch.autograd.grad(f(x, y), (x, y))
        rows.append(("torch autograd (eager)", _timeit(tg, 5, n // 10)))
    ag = _optional("autograd")
    if ag:
        agg = ag.grad(f, (0, 1))
        rows.append(("autograd", _timeit(lambda: agg(1.0, 2.0), 5, n // 10)))
    mg = _optional("micrograd")
    if mg:
        def mgg():
            x, y = mg.Value(1.0), mg.Value(2.0)
            out = f(x, y)
            out.backward()
            return x.grad, y.grad
        rows.append(("micrograd", _timeit(mgg, 5, n // 10)))
    return rows


def _rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosen_grad_numpy(x):
    d = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def _native_note():
    return ", fused numba loop" if native.available() else ""


@contextlib.contextmanager
def _numpy_code():
    """jit without the native backend (compile/native.py): generated NumPy code only."""
    old = os.environ.get("PARTIALD_NATIVE")
    os.environ["PARTIALD_NATIVE"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["PARTIALD_NATIVE"]
        else:
            os.environ["PARTIALD_NATIVE"] = old


def rosen_grad(quick):
    n = 100_000 if quick else 1_000_000
    x = np.random.default_rng(0).uniform(-1, 1, n)
    r = 3 if quick else 7
    rows = [("NumPy hand-written gradient", _timeit(lambda: _rosen_grad_numpy(x), r))]
    gj = pdx.jit(pdx.grad(_rosen))
    assert np.allclose(gj(x), _rosen_grad_numpy(x))
    rows.append(("partiald jit(grad)" + _native_note(), _timeit(lambda: gj(x), r)))
    if native.available():
        with _numpy_code():
            gn = pdx.jit(pdx.grad(_rosen))
            rows.append(("partiald jit(grad), NumPy code only", _timeit(lambda: gn(x), r)))
    rows.append(("partiald grad (eager)", _timeit(lambda: pdx.grad(_rosen)(x), r)))
    torch = _optional("torch")
    if torch:
        xt = torch.tensor(x)

        def tg():
            v = xt.clone().requires_grad_(True)
            f = torch.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)
            return torch.autograd.grad(f, v)[0]
        rows.append(("torch autograd (eager)", _timeit(tg, r)))
    jax = _optional("jax")
    if jax:
        import jax.numpy as jnp
        xj = jnp.asarray(x)
        jg = jax.jit(jax.grad(lambda v: jnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)))
        rows.append(("jax jit(grad)", _timeit(lambda: jg(xj).block_until_ready(), r)))
    return rows


def _mlp_params(sizes, rng, dtype):
    params = []
    for m, n in zip(sizes[:-1], sizes[1:]):
        params.append({"W": (rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype), "b": np.zeros(n, dtype)})
    return params


def _mlp_loss(params, X, labels_onehot):
    h = X
    for layer in params[:-1]:
        h = pnp.tanh(h @ layer["W"] + layer["b"])
    logits = h @ params[-1]["W"] + params[-1]["b"]
    return -pnp.mean(pnp.sum(nn.log_softmax(logits) * labels_onehot, axis=1))


def _mlp_numpy(params, X, Y):
    hs = [X]
    for layer in params[:-1]:
        hs.append(np.tanh(hs[-1] @ layer["W"] + layer["b"]))
    logits = hs[-1] @ params[-1]["W"] + params[-1]["b"]
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    p = e / e.sum(axis=1, keepdims=True)
    n = X.shape[0]
    g = (p - Y) / n
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = {"W": hs[i].T @ g, "b": g.sum(axis=0)}
        if i:
            g = (g @ params[i]["W"].T) * (1 - hs[i] ** 2)
    return grads


def mlp_step(quick):
    rng = np.random.default_rng(0)
    sizes = [784, 1024, 1024, 10]
    batch = 512
    f32 = np.float32
    params = _mlp_params(sizes, rng, f32)
    X = rng.normal(size=(batch, 784)).astype(f32)
    Y = np.eye(10, dtype=f32)[rng.integers(0, 10, batch)]
    r = 3 if quick else 7
    rows = [("NumPy hand-written backprop", _timeit(lambda: _mlp_numpy(params, X, Y), r))]
    vg = pdx.jit(pdx.value_and_grad(_mlp_loss))
    g_ref = _mlp_numpy(params, X, Y)
    g_ours = vg(params, X, Y)[1]
    assert np.allclose(g_ours[0]["W"], g_ref[0]["W"], rtol=1e-3, atol=1e-5)
    rows.append(("partiald jit(value_and_grad)", _timeit(lambda: vg(params, X, Y), r)))
    rows.append(("partiald value_and_grad (eager)", _timeit(lambda: pdx.value_and_grad(_mlp_loss)(params, X, Y), r)))
    torch = _optional("torch")
    if torch:
        tp = [{k: torch.tensor(v, requires_grad=True) for k, v in layer.items()} for layer in params]
        Xt, Yt = torch.tensor(X), torch.tensor(Y)

        def tstep():
            h = Xt
            for layer in tp[:-1]:
                h = torch.tanh(h @ layer["W"] + layer["b"])
            logits = h @ tp[-1]["W"] + tp[-1]["b"]
            loss = -(torch.log_softmax(logits, dim=1) * Yt).sum(dim=1).mean()
            return torch.autograd.grad(loss, [t for layer in tp for t in layer.values()])
        rows.append(("torch autograd (eager)", _timeit(tstep, r)))
    jax = _optional("jax")
    if jax:
        import jax.numpy as jnp

        def jloss(p, X, Y):
            h = X
            for layer in p[:-1]:
                h = jnp.tanh(h @ layer["W"] + layer["b"])
            logits = h @ p[-1]["W"] + p[-1]["b"]
            return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * Y, axis=1))
        jp = jax.tree_util.tree_map(jnp.asarray, params)
        jvg = jax.jit(jax.value_and_grad(jloss))
        rows.append(("jax jit(value_and_grad)",
                     _timeit(lambda: jax.block_until_ready(jvg(jp, jnp.asarray(X), jnp.asarray(Y))), r)))
    return rows


def _logistic(w, X, y):
    z = X @ w
    return pnp.mean(nn.softplus(z) - y * z)


def _logistic_logaddexp(w, X, y):
    return pnp.mean(pnp.logaddexp(0.0, X @ w) - y * (X @ w))


def _logistic_sigmoid(w, X, y):
    p = nn.sigmoid(X @ w)
    return -pnp.mean(y * pnp.log(p) + (1 - y) * pnp.log(1 - p))


#: the logistic loss spelled three ways (issue: speed that holds for one spelling only is
#: not speed): partiald's, JAX's and torch's version of each
LOGISTIC_SPELLINGS = ("softplus", "logaddexp", "sigmoid")


def hessian(quick, n=2000, d=200):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (rng.uniform(size=n) < 0.5).astype(float)
    w = rng.normal(size=d) * 0.1
    r = 3 if quick else 7

    def analytic():
        p = 1 / (1 + np.exp(-(X @ w)))
        return (X * (p * (1 - p))[:, None]).T @ X / n
    rows = [("NumPy analytic Hessian", _timeit(analytic, r))]
    want = analytic()
    ours = dict(zip(LOGISTIC_SPELLINGS, (_logistic, _logistic_logaddexp, _logistic_sigmoid)))
    for name, f in ours.items():
        hj = pdx.jit(pdx.hessian(f))
        assert np.allclose(hj(w, X, y), want, atol=1e-12), name
        rows.append((f"partiald jit(hessian) {name}", _timeit(lambda: hj(w, X, y), r)))
    rows.append(("partiald hessian (eager) softplus", _timeit(lambda: pdx.hessian(_logistic)(w, X, y),
                                                              1 if quick else 3)))
    jax = _optional("jax")
    if jax:
        import jax.numpy as jnp

        def j_sigmoid(w, X, y):
            p = jax.nn.sigmoid(X @ w)
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
        theirs = {"softplus": lambda w, X, y: jnp.mean(jax.nn.softplus(X @ w) - y * (X @ w)),
                  "logaddexp": lambda w, X, y: jnp.mean(jnp.logaddexp(0.0, X @ w) - y * (X @ w)),
                  "sigmoid": j_sigmoid}
        args = (jnp.asarray(w), jnp.asarray(X), jnp.asarray(y))
        for name in LOGISTIC_SPELLINGS:
            jh = jax.jit(jax.hessian(theirs[name]))
            rows.append((f"jax jit(hessian) {name}", _timeit(lambda: jh(*args).block_until_ready(), r)))
    torch = _optional("torch")
    if torch:
        from torch.func import hessian as thess
        Xt, yt, wt = torch.tensor(X), torch.tensor(y), torch.tensor(w)
        th = thess(lambda w: torch.mean(torch.nn.functional.softplus(Xt @ w) - yt * (Xt @ w)))
        rows.append(("torch.func.hessian softplus", _timeit(lambda: th(wt), r)))
    return rows


def sparse_hessian(quick):
    if not hasattr(pdx, "sparse_hessian"):
        return []
    rows = []
    for n in ([2000] if quick else [2000, 1_000_000]):
        x = np.random.default_rng(0).uniform(-1, 1, n)
        sh = pdx.sparse_hessian(_rosen)
        rows.append((f"partiald sparse_hessian n={n}", _timeit(lambda: sh(x), 1 if n > 10**5 else 3)))
    x = np.random.default_rng(0).uniform(-1, 1, 2000)
    jax = _optional("jax")
    if jax:
        import jax.numpy as jnp
        jh = jax.jit(jax.hessian(lambda v: jnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)))
        xj = jnp.asarray(x)
        rows.append(("jax jit(hessian) dense n=2000", _timeit(lambda: jh(xj).block_until_ready(), 3)))
    return rows


def symbolic(quick):
    text = "exp(x*y)*sin(x + y^2)/(1 + x^2)"
    orders = [(a, b, c, d) for a in "xy" for b in "xy" for c in "xy" for d in "xy"]

    def ours():
        f = pdx.expr(text)                 # a fresh formula each time: no warm cache
        return [f.diff(*o) for o in orders]
    rows = [("partiald Expr.diff (16 fourth-order partials)", _timeit(ours, 3 if quick else 5))]
    sp = _optional("sympy")
    if sp:
        x, y = sp.symbols("x y")

        def theirs():
            sp.core.cache.clear_cache()
            f = sp.exp(x * y) * sp.sin(x + y ** 2) / (1 + x ** 2)
            return [sp.diff(f, *[{"x": x, "y": y}[v] for v in o]) for o in orders]
        rows.append(("sympy diff", _timeit(theirs, 3 if quick else 5)))
    return rows


def symbolic_family(quick):
    """Expr.diff against sympy.diff on a seeded family of random formulas (bench/symbolic_family.py):
    every partial of order 1-4 of each, printed. One row per system with the total time;
    then the per-formula ratio SymPy / partiald, median and worst (time: that formula's partiald's)."""
    from . import symbolic_family as F
    sp = _optional("sympy")
    per = F.measure(F.N_FORMULAS // 2 if quick else F.N_FORMULAS, F.SEED, quick, sp)
    n = len(per)
    rows = [(f"partiald parse+diff+str, {n} formulas", sum(r[3] for r in per))]
    if sp:
        rows.append(("sympy sympify+diff+str, same formulas", sum(r[4] for r in per)))
        ratios = sorted((r[4] / r[3], i) for i, r in enumerate(per))
        med, worst = ratios[len(ratios) // 2], ratios[0]
        rows.append((f"per formula sympy/partiald: median (#{med[1]})", per[med[1]][3], med[0]))
        rows.append((f"per formula sympy/partiald: worst (#{worst[1]})", per[worst[1]][3], worst[0]))
    return rows


_W = np.random.default_rng(1).normal(size=(100, 100)) / 10


def _layer(x):
    return pnp.tanh(x @ _W) + 0.5 * x


def _deep_chain(x, layers=64):
    for _ in range(layers):
        x = _layer(x)
    return pnp.sum(x * x)


def _checkpointed_chain(every, layers=64):
    def segment(x):
        for _ in range(every):
            x = _layer(x)
        return x
    seg = pdx.checkpoint(segment)

    def f(x):
        for _ in range(layers // every):
            x = seg(x)
        return pnp.sum(x * x)
    return f


def _deep_chain_numpy(x, layers=64):
    """Hand-written backprop: stores each layer's input, nothing else."""
    xs = []
    for _ in range(layers):
        xs.append(x)
        x = np.tanh(x @ _W) + 0.5 * x
    g = 2.0 * x
    for xi in reversed(xs):
        t = np.tanh(xi @ _W)
        g = (g * (1.0 - t * t)) @ _W.T + 0.5 * g
    return g


def checkpoint(quick):
    """Peak memory of the gradient of a 64-layer chain x <- tanh(x @ W) + x/2 (x is
    n x 100), with and without ``pdx.checkpoint`` on segments (the gradients must be
    identical), eager and under jit."""
    n = 1000 if quick else 2000
    x = np.random.default_rng(0).uniform(-1, 1, (n, 100))
    r = 1 if quick else 3
    plain = pdx.grad(_deep_chain)
    g_ref = plain(x)
    assert np.allclose(g_ref, _deep_chain_numpy(x), rtol=1e-12, atol=1e-300)
    rows = [("partiald grad, no checkpoint", _peak_mib(lambda: plain(x), r))]
    for every in (8, 1):
        g = pdx.grad(_checkpointed_chain(every))
        assert np.array_equal(g(x), g_ref), "checkpoint changed the gradient"
        label = "every layer" if every == 1 else f"every {every} layers"
        rows.append((f"partiald grad, checkpoint {label}", _peak_mib(lambda: g(x), r)))
    rows.append(("NumPy hand-written backprop (stores layer inputs)", _peak_mib(lambda: _deep_chain_numpy(x), r)))
    for name, f in (("no checkpoint", _deep_chain), ("checkpoint every 8 layers", _checkpointed_chain(8))):
        gj = pdx.jit(pdx.grad(f))
        assert np.allclose(gj(x), g_ref, rtol=1e-12, atol=1e-300)
        rows.append((f"partiald jit(grad), {name}", _peak_mib(lambda: gj(x), r)))
    return rows


checkpoint.unit = "MiB"


def hessian_tall(quick):
    """The hessian workload on 3000 x 150 data (another shape of the same problem)."""
    return hessian(quick, 3000, 150)


WORKLOADS = {"scalar-grad": scalar_grad, "rosen-grad": rosen_grad, "mlp-step": mlp_step,
             "hessian": hessian, "hessian-tall": hessian_tall, "sparse-hessian": sparse_hessian, "symbolic": symbolic,
             "symbolic-family": symbolic_family, "checkpoint": checkpoint}


def _fmt(t, unit="s"):
    if unit == "MiB":
        return f"{t:9.1f} MiB"
    if t < 1e-3:
        return f"{t * 1e6:9.1f} us"
    if t < 1:
        return f"{t * 1e3:9.2f} ms"
    return f"{t:9.3f} s "


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workloads", nargs="*", choices=[[], *WORKLOADS], help="default: all")
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    args = p.parse_args(argv)
    names = args.workloads or list(WORKLOADS)
    print(f"# partiald {pdx.__version__} benchmarks: Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or platform.system()}")
    print("# fused loops (compile/native.py): " + (native.compiler() if native.available()
                                                     else f"off ({native.error()})"))
    print(f"{'workload':<16} {'system':<48} {'median':>12} {'ratio':>8}")
    for name in names:
        rows = WORKLOADS[name](args.quick)
        if not rows:
            print(f"{name:<16} (skipped: not available)")
            continue
        ref = rows[0][1]
        unit = getattr(WORKLOADS[name], "unit", "s")
        for system, t, *ratio in rows:     # a row may give its own ratio
            r = ratio[0] if ratio else t / ref
            print(f"{name:<16} {system:<48} {_fmt(t, unit):>12} {r:>7.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
