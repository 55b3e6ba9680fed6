"""Workload 5, sparse-hessian: the Hessian of chained Rosenbrock, n = 2000 and n = 1e6.

    python -m bench.sparse_bench            # n = 2000 and n = 1,000,000
    python -m bench.sparse_bench --quick    # n = 2000 and n = 100,000, fewer repeats

Rows (each the median of several runs after a warm-up; peak memory is measured
in a separate run with tracemalloc, which sees NumPy and SciPy buffers but not
JAX's XLA buffers):

* NumPy hand-written: the analytic tridiagonal Hessian as a scipy.sparse matrix;
* partiald sparse_hessian: the first call makes the plan for the input
  signature (trace on shapes, detect the pattern, star-color it, compile the 3
  Hessian-vector products, precompute the CSR scatter; the time of each phase
  is printed below the table); later calls run the compiled products and one
  fancy index. Both are rows: "first call" uses a fresh function each run;
* partiald hessian (dense), n = 2000 only (n = 1e6 would need 8 TB);
* JAX jit(hessian) (dense), n = 2000 only, when ``jax`` is importable;
* JAX jit(hvp) x colors: JAX's HVPs with partiald's coloring, for reference.

The ratio column divides by partiald sparse_hessian at the same n. CPU time
(process time) is printed beside wall time: on a shared machine it is the
steadier figure.
"""
from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc

import numpy as np

import partiald as pdx
import partiald.numpy as pnp
from partiald.sparse import sparse_hessian
from partiald import coloring as C
from partiald.transforms import sparsity as S


def rosen(x):
    return pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_hessian_numpy(x):
    import scipy.sparse as sp
    d = np.zeros_like(x)
    d[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    d[1:] += 200.0
    off = -400.0 * x[:-1]
    return sp.diags([off, d, off], [-1, 0, 1], format="csr")


def measure(fn, repeat):
    """(median wall seconds, median CPU seconds) after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        gc.enable()
    return statistics.median(walls), statistics.median(cpus)


def peak_memory(fn):
    """Peak bytes allocated (tracemalloc) during one call."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def phases(x):
    """Seconds of each step of sparse_hessian's first call (the plan), and of a later
    call, for the breakdown line."""
    from partiald.sparse import _Call, _Fun, _scalar_out, _shape_trace
    out = {}
    t = time.perf_counter()
    call = _Call((x,), {}, 0, "sparse_hessian")
    graph, _ = _shape_trace(_scalar_out(_Fun(rosen, call), "sparse_hessian"), call.x(), [])
    out["shape trace"] = time.perf_counter() - t
    t = time.perf_counter()
    pattern = S.hessian_pattern(graph, wrt=1, strict=True)
    out["detect pattern"] = time.perf_counter() - t
    del graph
    t = time.perf_counter()
    colors, _ = C.star_coloring(pattern)
    out["star coloring"] = time.perf_counter() - t
    t = time.perf_counter()
    k = int(colors.max()) + 1
    C.star_recovery_index(pattern, colors, k, by_color=True)
    out["scatter index"] = time.perf_counter() - t
    sh = sparse_hessian(rosen)
    t = time.perf_counter()
    sh(x)
    first = time.perf_counter() - t
    out["whole first call"] = first
    t = time.perf_counter()
    sh(x)
    out[f"later call ({k} compiled HVPs + scatter)"] = time.perf_counter() - t
    return out


def _jax():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        return jax, jnp
    except Exception:
        return None, None


def run(sizes, repeat):
    rows = []          # (n, system, wall, cpu, peak bytes or None, ok)
    notes = []
    jax, jnp = _jax()
    for n in sizes:
        x = np.random.default_rng(0).uniform(-1, 1, n)
        r = repeat if n <= 100_000 else max(3, repeat // 2)
        ref = rosen_hessian_numpy(x)
        sh = sparse_hessian(rosen, return_info=True)
        H, info = sh(x)
        err = abs(H - ref).max() / abs(ref).max()
        assert err < 1e-12, err
        wall, cpu = measure(lambda: sh(x), r)
        rows.append((n, f"partiald sparse_hessian ({info.n_colors} colors, {info.method})", wall, cpu,
                     peak_memory(lambda: sh(x))))
        w, c = measure(lambda: sparse_hessian(rosen)(x), max(1, r // 2))
        rows.append((n, "partiald sparse_hessian, first call (makes the plan)", w, c,
                     peak_memory(lambda: sparse_hessian(rosen)(x))))
        w, c = measure(lambda: rosen_hessian_numpy(x), r)
        rows.append((n, "NumPy hand-written analytic (scipy.sparse)", w, c,
                     peak_memory(lambda: rosen_hessian_numpy(x))))
        if n <= 5000:
            hd = pdx.hessian(rosen)
            assert np.allclose(hd(x), ref.toarray(), rtol=1e-12, atol=1e-9)
            w, c = measure(lambda: hd(x), max(1, r // 2))
            rows.append((n, "partiald hessian (dense)", w, c, peak_memory(lambda: hd(x))))
        if jax is not None:
            def jrosen(v):
                return jnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)
            xj = jnp.asarray(x)
            if n <= 5000:
                jh = jax.jit(jax.hessian(jrosen))
                assert np.allclose(np.asarray(jh(xj)), ref.toarray(), rtol=1e-12, atol=1e-9)
                w, c = measure(lambda: jh(xj).block_until_ready(), r)
                rows.append((n, "JAX jit(hessian) (dense)", w, c, None))
            seeds = jnp.asarray(np.stack([(info.colors == k).astype(float) for k in range(info.n_colors)]))
            jhvp = jax.jit(jax.vmap(lambda v: jax.jvp(jax.grad(jrosen), (xj,), (v,))[1]))
            w, c = measure(lambda: jhvp(seeds).block_until_ready(), r)
            rows.append((n, f"JAX jit(vmap(hvp)) x {info.n_colors} (partiald's coloring)", w, c, None))
        else:
            notes.append("jax is not importable: JAX rows skipped")
    return rows, notes


def _fmt_t(t):
    return f"{t * 1e3:9.2f} ms" if t < 1 else f"{t:9.3f} s "


def _fmt_m(b):
    if b is None:
        return "      n/a"
    return f"{b / 2**20:8.1f} MB"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.sparse_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="n = 2000 and 100,000, fewer repeats")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per row (default 7, quick 3)")
    args = p.parse_args(argv)
    sizes = [2000, 100_000] if args.quick else [2000, 1_000_000]
    repeat = args.repeat or (3 if args.quick else 7)
    print(f"# sparse-hessian (chained Rosenbrock): partiald {pdx.__version__}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, {platform.machine()}")
    rows, notes = run(sizes, repeat)
    print(f"{'n':>9}  {'system':<56} {'wall':>12} {'cpu':>12} {'peak mem':>11} {'ratio':>9}")
    base = {n: wall for n, system, wall, _, _ in rows if system.startswith("partiald sparse_hessian (")}
    for n, system, wall, cpu, mem in rows:
        print(f"{n:>9}  {system:<56} {_fmt_t(wall):>12} {_fmt_t(cpu):>12} {_fmt_m(mem):>11} "
              f"{wall / base[n]:>8.2f}x")
    for n in sizes:
        x = np.random.default_rng(0).uniform(-1, 1, n)
        phases(x)
        ph = phases(x)
        steps = ", ".join(f"{k} {_fmt_t(v).strip()}" for k, v in ph.items())
        print(f"# partiald sparse_hessian n={n} phases: {steps}")
    for note in notes:
        print(f"# {note}")


if __name__ == "__main__":
    main()
