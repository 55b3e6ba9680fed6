"""Neural-network benchmarks: partiald against PyTorch (eager) and hand-written NumPy.

    python -m bench.nn_bench            # both workloads
    python -m bench.nn_bench --quick    # fewer repeats

Workloads:
  mlp-step      one training step (loss + gradients, then an SGD update) of a
                784-1024-1024-10 tanh MLP with softmax cross-entropy, batch 512,
                float32 (DESIGN.md workload 3, here written with ``nn.MLP`` and
                ``nn.cross_entropy``).
  digits-epoch  one epoch of digits training (1438 examples, 64-128-10 tanh
                MLP, batch 32, Adam 1e-3, float64): ``nn.fit`` against the same
                loop in PyTorch.

Each row is the median of several timed runs after a warm-up, the systems
timed in turn within each round (so a change in load hits all rows alike); the
ratio divides by the first row of the workload. PyTorch rows are skipped when
torch is missing. BLAS and PyTorch thread counts are printed (set them with
OPENBLAS_NUM_THREADS and BENCH_TORCH_THREADS): on a busy machine multithreaded
BLAS can be several times slower than one thread for these small matrices, so
compare rows from one run only.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time

import numpy as np

import partiald as pdx
from partiald import nn, optim


def _interleaved(systems, rounds):
    """Median seconds per call of each ``(name, fn, scale)``: after one warm-up call each,
    every round times every system once, in turn, so that a change in the machine's
    load hits all rows alike. ``scale`` divides the time (calls doing several units)."""
    for _, fn, _ in systems:
        fn()
    times = {name: [] for name, _, _ in systems}
    for _ in range(rounds):
        for name, fn, scale in systems:
            gc.disable()
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) / scale)
            gc.enable()
    return [(name, statistics.median(times[name])) for name, _, _ in systems]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", min(2, os.cpu_count() or 1))))
    return torch


# -- mlp-step -----------------------------------------------------------------------------------------

def _numpy_step(params, X, labels, lr):
    """Hand-written forward and backward pass for a tanh MLP with softmax cross-entropy, then SGD."""
    hs = [X]
    for layer in params[:-1]:
        hs.append(np.tanh(hs[-1] @ layer["W"] + layer["b"]))
    logits = hs[-1] @ params[-1]["W"] + params[-1]["b"]
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    p = e / e.sum(axis=1, keepdims=True)
    n = len(X)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    g = p
    g[np.arange(n), labels] -= 1
    g /= n
    new = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        gW, gb = hs[i].T @ g, g.sum(axis=0)
        if i:
            g = (g @ params[i]["W"].T) * (1 - hs[i] ** 2)
        new[i] = {"W": params[i]["W"] - lr * gW, "b": params[i]["b"] - lr * gb}
    return loss, new


def mlp_step(quick):
    sizes, batch, lr = [784, 1024, 1024, 10], 512, 0.01
    rng = np.random.default_rng(0)
    model = nn.MLP(sizes, activation="tanh", dtype=np.float32)
    params = model.init(seed=0)
    X = rng.normal(size=(batch, 784)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    r = 3 if quick else 11
    opt = optim.sgd(lr)
    state = opt.init(params)

    systems = [("NumPy hand-written step", lambda: _numpy_step(params, X, labels, lr), 1)]
    vg = pdx.jit(pdx.value_and_grad(lambda p, X, y: nn.cross_entropy(model(p, X), y)))
    loss_ref, new_ref = _numpy_step(params, X, labels, lr)
    loss, grads = vg(params, X, labels)
    new, _ = opt.update(grads, state, params)
    assert abs(float(loss) - loss_ref) < 1e-4 and np.allclose(new[0]["W"], new_ref[0]["W"], atol=1e-6)

    def pstep():
        loss, grads = vg(params, X, labels)
        return opt.update(grads, state, params)
    systems.append(("partiald jit(value_and_grad) + optim.sgd", pstep, 1))
    torch = _torch()
    if torch:
        tmodel = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.Tanh(), torch.nn.Linear(1024, 1024),
                                     torch.nn.Tanh(), torch.nn.Linear(1024, 10))
        with torch.no_grad():
            for lin, p in zip([m for m in tmodel if isinstance(m, torch.nn.Linear)], params):
                lin.weight.copy_(torch.tensor(p["W"].T))
                lin.bias.copy_(torch.tensor(p["b"]))
        topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
        Xt, yt = torch.tensor(X), torch.tensor(labels)
        lossf = torch.nn.CrossEntropyLoss()

        def tstep():
            topt.zero_grad()
            loss = lossf(tmodel(Xt), yt)
            loss.backward()
            topt.step()
            return loss
        with torch.no_grad():
            assert abs(float(lossf(tmodel(Xt), yt)) - loss_ref) < 1e-4
        systems.append(("PyTorch eager (nn.Sequential, SGD)", tstep, 1))
    return _interleaved(systems, r)


# -- digits-epoch ---------------------------------------------------------------------------------------

def _digits():
    from partiald import datasets
    data = datasets.load_digits()
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(data.X, data.y, test_size=0.2, seed=0)
    X_tr, X_te, _ = datasets.standardize(X_tr, X_te)
    return X_tr, y_tr


def digits_epoch(quick):
    try:
        X, y = _digits()
    except ImportError as e:
        print(f"digits-epoch skipped: {e}", file=sys.stderr)
        return []
    sizes, batch, lr = [64, 128, 10], 32, 1e-3
    model = nn.MLP(sizes, activation="tanh")
    params = model.init(seed=0)
    r = 3 if quick else 9

    def pfit(epochs):
        return nn.fit(model, params, X, y, optimizer=optim.adam(lr), epochs=epochs, batch_size=batch,
                      verbose=False)
    systems = [("partiald nn.fit, per epoch of a 5-epoch fit", lambda: pfit(5), 5)]
    # every fit call makes a new jit: tracing the step (two batch shapes) is included here
    systems.append(("partiald nn.fit, 1 epoch (tracing included)", lambda: pfit(1), 1))
    # the same loop with the compiled step reused, tracing excluded
    vg = pdx.jit(pdx.value_and_grad(lambda p, X, y: nn.cross_entropy(model(p, X), y)))

    def ploop():
        opt = optim.adam(lr)
        p, state = params, opt.init(params)
        order = np.random.default_rng(0).permutation(len(X))
        for s in range(0, len(X), batch):
            idx = order[s:s + batch]
            _, g = vg(p, X[idx], y[idx])
            p, state = opt.update(g, state, p)
        return p
    systems.append(("partiald jit step + optim.adam loop, 1 epoch", ploop, 1))
    torch = _torch()
    if torch:
        Xt, yt = torch.tensor(X), torch.tensor(y)

        def tepoch():
            torch.manual_seed(0)
            tmodel = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(),
                                         torch.nn.Linear(128, 10)).double()
            topt = torch.optim.Adam(tmodel.parameters(), lr=lr)
            lossf = torch.nn.CrossEntropyLoss()
            order = torch.randperm(len(Xt))
            for s in range(0, len(Xt), batch):
                idx = order[s:s + batch]
                topt.zero_grad()
                loss = lossf(tmodel(Xt[idx]), yt[idx])
                loss.backward()
                topt.step()
            return tmodel
        systems.append(("PyTorch eager, 1 epoch", tepoch, 1))
    return _interleaved(systems, r)


WORKLOADS = {"mlp-step": mlp_step, "digits-epoch": digits_epoch}


def _threads():
    parts = [f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}"]
    torch = _torch()
    if torch:
        parts.append(f"torch {torch.__version__} threads={torch.get_num_threads()}")
    return ", ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"{', '.join(WORKLOADS)} (default: all)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    names = args.workloads or list(WORKLOADS)
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    print(f"# partiald nn benchmarks: Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {_threads()}")
    print(f"{'workload':<14} {'system':<42} {'time':>12} {'ratio':>8}")
    for name in names:
        rows = WORKLOADS[name](args.quick)
        if not rows:
            continue
        ref = rows[0][1]
        for system, t in rows:
            shown = f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"
            print(f"{name:<14} {system:<42} {shown:>12} {t / ref:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
