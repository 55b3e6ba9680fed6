"""Workload symbolic-family: partiald's Expr.diff against sympy.diff on a seeded family of
random formulas.

    python -m bench.symbolic_family                 # 20 formulas, seed 1
    python -m bench.symbolic_family --n 50 --seed 7 --texts out.txt

Each formula has 10 to 40 operations (exp, log, sin, cos, tan, tanh, sqrt, integer and
rational powers, sums, products, quotients) in 2 or 3 of the variables x, y, z. Both
systems compute every distinct partial derivative of order 1 to 4 (14 for two variables,
34 for three) and print each one:

* partiald: ``pdx.expr(text)``, ``f.diff(*vs)`` and ``str()`` of every result;
* SymPy: ``sympify(text)``, each partial as ``diff`` of the one a order below (the
  cheapest way for SymPy), and ``str()`` of every result (SymPy's cache cleared first).

The per-formula ratio is SymPy's time over partiald's (each the median of a few runs
after a warm-up; SymPy's run once per repeat, with its cache cleared). ``--texts`` writes
partiald's printed results, one a line, to compare two versions of partiald.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time

import numpy as np

import partiald as pdx

N_FORMULAS = 20
SEED = 1
MIN_OPS, MAX_OPS = 10, 40
MAX_ORDER = 4
MAX_NEST = 3
NAMES = ("x", "y", "z")
UNARY = ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt")
INT_POWERS = (-3, -2, -1, 2, 3, 4)
RATIONAL_POWERS = ("1/2", "3/2", "-1/2", "1/3", "2/3", "-3/2")
CONSTANTS = ("2", "3", "5", "1/2", "3/4", "7")


class _Gen:
    """Random formula text with exactly ``ops`` operations."""

    def __init__(self, rng, names):
        self.rng = rng
        self.names = names

    def leaf(self, allow_const=True):
        r = self.rng
        if allow_const and r.random() < 0.25:
            c = CONSTANTS[int(r.integers(len(CONSTANTS)))]
            return f"({c})" if "/" in c else c
        return self.names[int(r.integers(len(self.names)))]

    def text(self, ops, allow_const=True, nest=0):
        """``nest``: functions and powers above this point (at most MAX_NEST are nested,
        so that the fourth derivatives stay of a size SymPy finishes in seconds)."""
        r = self.rng
        if ops == 0:
            return self.leaf(allow_const)
        kind = r.random()
        if ops >= 2 and (kind < 0.6 or nest >= MAX_NEST) or ops == 1 and kind < 0.3:
            # binary: the remaining ops - 1 split between the operands, near evenly
            left = int(r.binomial(ops - 1, 0.5))
            a = self.text(left, nest=nest)
            b = self.text(ops - 1 - left, allow_const=left > 0 or not a[0].isdigit(), nest=nest)
            op = "+-*/"[int(r.integers(4))]
            return f"({a} {op} {b})"
        a = self.text(ops - 1, allow_const=False, nest=nest + 1)
        u = r.random()
        if u < 0.65:
            return f"{UNARY[int(r.integers(len(UNARY)))]}({a})"
        if u < 0.85:
            k = INT_POWERS[int(r.integers(len(INT_POWERS)))]
            return f"({a}^({k}))" if k < 0 else f"({a}^{k})"
        p = RATIONAL_POWERS[int(r.integers(len(RATIONAL_POWERS)))]
        return f"({a}^({p}))"


def formulas(n=N_FORMULAS, seed=SEED):
    """``n`` (text, variables, operation count) triples, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        nv = int(rng.integers(2, 4))
        names = tuple(sorted(rng.choice(NAMES, size=nv, replace=False).tolist()))
        ops = int(rng.integers(MIN_OPS, MAX_OPS + 1))
        text = _Gen(rng, names).text(ops)
        if not all(v in text for v in names):
            continue
        out.append((text, names, ops))
    return out


def partials(names, order=MAX_ORDER):
    """Every distinct partial of order 1..order, as sorted variable tuples."""
    return [seq for k in range(1, order + 1) for seq in itertools.combinations_with_replacement(names, k)]


def run_ours(text, names):
    f = pdx.expr(text)
    return [str(f.diff(*seq)) for seq in partials(names)]


def run_sympy(sp, text, names):
    sp.core.cache.clear_cache()
    f = sp.sympify(text.replace("^", "**"))
    syms = {v: sp.Symbol(v) for v in names}
    done = {(): f}
    out = []
    for seq in partials(names):
        d = done[seq] = sp.diff(done[seq[:-1]], syms[seq[-1]])
        out.append(str(d))
    return out


def _time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        gc.enable()
    return statistics.median(times)


def measure(n=N_FORMULAS, seed=SEED, quick=False, sympy=None, log=print):
    """Per formula (text, ops, #partials, partiald seconds, SymPy seconds or None)."""
    rows = []
    for i, (text, names, ops) in enumerate(formulas(n, seed)):
        ours = _time(lambda: run_ours(text, names), 1 if quick else 3)
        theirs = None
        if sympy is not None:
            gc.collect()
            t = time.perf_counter()
            run_sympy(sympy, text, names)   # once, cache cleared: no warm-up to gain from
            theirs = time.perf_counter() - t
        rows.append((text, ops, len(partials(names)), ours, theirs))
        if log:
            ratio = f"{theirs / ours:7.1f}x" if theirs else "   -   "
            log(f"#   formula {i:2d}: {ops:2d} ops, {len(names)} vars, {len(partials(names)):2d} partials, "
                f"partiald {ours * 1e3:8.2f} ms, sympy {theirs * 1e3 if theirs else float('nan'):9.1f} ms, "
                f"ratio {ratio}")
    return rows


def summary(rows):
    """(median ratio, worst ratio, index of the worst formula)."""
    ratios = [t / o for _, _, _, o, t in rows if t]
    if not ratios:
        return None
    worst = min(range(len(ratios)), key=ratios.__getitem__)
    return statistics.median(ratios), ratios[worst], worst


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.symbolic_family", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=N_FORMULAS, help="number of formulas")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-sympy", action="store_true", help="time partiald only")
    p.add_argument("--texts", help="write partiald's printed derivatives to this file and exit")
    a = p.parse_args(argv)
    if a.texts:
        with open(a.texts, "w") as fh:
            for text, names, _ in formulas(a.n, a.seed):
                fh.write(f"# {text}\n")
                for s in run_ours(text, names):
                    fh.write(s + "\n")
        return
    sp = None
    if not a.no_sympy:
        import sympy as sp
    rows = measure(a.n, a.seed, a.quick, sp)
    total = sum(r[3] for r in rows)
    print(f"partiald total {total * 1e3:.1f} ms")
    s = summary(rows)
    if s:
        print(f"sympy total {sum(r[4] for r in rows) * 1e3:.1f} ms; ratio median {s[0]:.1f}x, "
              f"worst {s[1]:.1f}x (formula {s[2]})")


if __name__ == "__main__":
    main()
