"""Fused native loops for large elementwise regions (optional: needs a C compiler).

The NumPy code that ``jit`` generates makes one pass over memory per operation;
tiling (``tiling.py``) keeps those passes in cache but still pays one NumPy call
per operation and tile. When a C compiler is present, an elementwise region of
exactly rounded arithmetic is instead written as one C loop that reads each input
once and writes each output once, compiled once and cached on disk.

Only operations whose C form gives NumPy's result bit for bit are fused:
``+ - * /``, negation, ``abs``, ``sqrt``, ``floor``, ``sign``, ``maximum`` /
``minimum`` (NumPy's NaN and tie rules), ``x**2``, comparisons, logical
operations, ``where``, ``isfinite``, casts and ``safe_mul``. The compiler runs
with ``-ffp-contract=off`` (no fused multiply-add) and without ``-ffast-math``.
A region with anything else (``exp``, ``tanh``, ``x**3``...) stays NumPy code.

A gradient's ``scatter_add`` of shifted slices (``g[:-1] += a; g[1:] += b``) is
written in gather form: element ``j`` of ``g`` sums the terms that land on it, in
the program's order, recomputing the region at each offset. So every output
element is computed on its own, the loop vectorizes, and the result equals the
NumPy code's (up to the sign of an exact zero).

Settings: ``PARTIALD_NATIVE=0`` turns the backend off; ``PARTIALD_CC`` names the
compiler (default: the one Python was built with, else ``cc``);
``PARTIALD_CACHE_DIR`` is where kernels are kept (default
``$XDG_CACHE_HOME/partiald`` or ``~/.cache/partiald``). The generated C never
contains user text: names are ``in<i>``, ``out<i>``, ``v<i>``; literals are
hexadecimal floats.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import queue
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import threading

import numpy as np

from ..core.graph import Lit, Var

#: regions with fewer elements than this stay NumPy code (compiling costs ~0.1 s once)
NATIVE_MIN = 1 << 16
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-std=c99", "-shared", "-fPIC"]

_CTYPE = {np.dtype(np.float64): "double", np.dtype(np.float32): "float", np.dtype(np.bool_): "unsigned char"}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_LOGIC = {"and": "({0} && {1})", "or": "({0} || {1})", "xor": "(!{0} != !{1})"}

_lock = threading.Lock()
_loaded: dict = {}
_state = {"error": None, "cc": None}


class forced:
    """Use native loops for every eligible region, however small (for tests)."""

    def __enter__(self):
        global NATIVE_MIN
        self.saved = NATIVE_MIN
        NATIVE_MIN = 1
        return self

    def __exit__(self, *exc):
        global NATIVE_MIN
        NATIVE_MIN = self.saved


def enabled():
    return os.environ.get("PARTIALD_NATIVE", "1") != "0" and _state["error"] is None


def compiler():
    """The C compiler command (a list): ``PARTIALD_CC`` if set, else the one Python
    was built with, else ``cc``, ``gcc`` or ``clang``; None if there is none."""
    chosen = os.environ.get("PARTIALD_CC")
    if chosen:
        cmd = shlex.split(chosen)
        return cmd if cmd and shutil.which(cmd[0]) else None
    cmd = shlex.split(sysconfig.get_config_var("CC") or "")
    if cmd and shutil.which(cmd[0]):
        return cmd
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return [name]
    return None


def available():
    """Whether fused native loops can be used here (a working C compiler, not turned off)."""
    if not enabled():
        return False
    return _load(_PROBE) is not None


def error():
    """Why the native backend is off, or None."""
    if os.environ.get("PARTIALD_NATIVE", "1") == "0":
        return "PARTIALD_NATIVE=0"
    return _state["error"]


def _cache_dir():
    d = os.environ.get("PARTIALD_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "partiald")
    return os.path.join(d, "native")


@functools.lru_cache(maxsize=None)
def _machine_tag():
    """What a kernel built with -march=native depends on besides its source."""
    tag = platform.machine() + platform.python_implementation()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "model name")):
                    tag += line
                if line.strip() == "":
                    break
    except OSError:
        pass
    return tag


def _load(source):
    """Compile ``source`` (or reuse the cached library) and return the loaded library;
    None (and the backend turned off) if compiling fails."""
    with _lock:
        if _state["error"] is not None:
            return None
        cmd = _state["cc"] or compiler()
        if cmd is None:
            cc = os.environ.get("PARTIALD_CC")
            _state["error"] = f"PARTIALD_CC={cc!r} is not a program found on PATH" if cc else \
                "no C compiler found (install one, or name it in PARTIALD_CC)"
            return None
        _state["cc"] = cmd
        key = hashlib.sha256("\0".join([source, " ".join(cmd + FLAGS), _machine_tag()]).encode()).hexdigest()[:32]
        lib = _loaded.get(key)
        if lib is None:
            d = _cache_dir()
            path = os.path.join(d, f"k{key}.so")
            try:
                if not os.path.exists(path):
                    os.makedirs(d, exist_ok=True)
                    with tempfile.TemporaryDirectory(dir=d) as tmp:
                        src = os.path.join(tmp, "k.c")
                        with open(src, "w") as f:
                            f.write(source)
                        out = os.path.join(tmp, "k.so")
                        res = subprocess.run(cmd + FLAGS + ["-o", out, src, "-lm"], capture_output=True,
                                             text=True, timeout=120)
                        if res.returncode != 0:
                            raise OSError(f"{' '.join(cmd)} failed: {res.stderr.strip()[:500]}")
                        os.replace(out, path)
                lib = ctypes.CDLL(path)
            except (OSError, subprocess.SubprocessError) as e:
                _state["error"] = str(e)
                return None
            _loaded[key] = lib
        return lib


_PROBE = "int partiald_probe(int x) { return x + 1; }\n"


def _c_literal(v, dt):
    """A C literal of value ``v`` in dtype ``dt`` (exact: hexadecimal floats)."""
    ct = _CTYPE[dt]
    if dt == np.bool_:
        return "1" if v else "0"
    x = float(dt.type(v))
    if math.isnan(x):
        text = "NAN"
    elif math.isinf(x):
        text = "INFINITY" if x > 0 else "(-INFINITY)"
    else:
        text = x.hex()
    return f"(({ct}){text})"


class _Unsupported(Exception):
    pass


def _expr(eqn, args, dts):
    """C expression of one equation given its operands' C text and dtypes."""
    name, out = eqn.prim.name, np.dtype(eqn.outvar.aval.dtype)
    fl = out.kind == "f"
    suffix = "f" if out == np.float32 else ""
    same = all(d == out for d in dts)
    if name in _ARITH and fl and same:
        return f"({args[0]} {_ARITH[name]} {args[1]})"
    if name == "safe_mul" and fl and same:
        return f"smul{suffix}({args[0]}, {args[1]})"
    if name == "neg" and fl and same:
        return f"(-{args[0]})"
    if name in ("abs", "sqrt", "floor") and fl and same:
        return f"{'fabs' if name == 'abs' else name}{suffix}({args[0]})"
    if name == "sign" and fl and same:
        a, t = args[0], _CTYPE[out]
        return f"({a} > 0 ? ({t})1 : ({a} < 0 ? ({t})-1 : ({a} == 0 ? ({t})0 : {a})))"
    if name in ("maximum", "minimum") and fl and same:
        op = ">" if name == "maximum" else "<"
        a, b = args
        return f"(({a} {op} {b} || {a} != {a}) ? {a} : {b})"     # NumPy: NaN wins, a tie gives b
    if name == "integer_pow" and fl and same and eqn.params["n"] in (1, 2):
        return args[0] if eqn.params["n"] == 1 else f"({args[0]} * {args[0]})"
    if name == "compare" and dts[0] == dts[1]:
        return f"({args[0]} {_CMP[eqn.params['op']]} {args[1]})"
    if name == "logical" and all(d == np.bool_ for d in dts):
        return _LOGIC[eqn.params["op"]].format(*args)
    if name == "logical_not" and dts[0] == np.bool_:
        return f"(!{args[0]})"
    if name == "isfinite" and dts[0].kind == "f":
        return f"(isfinite({args[0]}) != 0)"
    if name == "select" and dts[0] == np.bool_ and dts[1] == out and dts[2] == out:
        return f"({args[0]} ? {args[1]} : {args[2]})"
    if name == "convert" and dts[0] in _CTYPE:
        if out == np.bool_:
            return f"({args[0]} != 0)"
        if fl:
            return f"(({_CTYPE[out]}){args[0]})"
    raise _Unsupported(name)


_HEADER = """#include <stdint.h>
#include <math.h>
static inline double smul(double a, double b) { double r = a * b; return (r != r && (a == 0 || b == 0)) ? 0.0 : r; }
static inline float smulf(float a, float b) { float r = a * b; return (r != r && (a == 0 || b == 0)) ? 0.0f : r; }
"""


class Kernel:
    """The C source for a region and how to call it (see ``plan``): the kept values'
    loop runs over ``kept_total`` units of ``unit`` elements."""

    def __init__(self, r, symbol, shape, arrays, scalars, source, rows, kept_total, unit):
        self.region, self.symbol, self.shape, self.arrays, self.scalars = r, symbol, shape, arrays, scalars
        self.source, self.rows, self.kept_total, self.unit = source, rows, kept_total, unit


def _split(shape, others):
    """The axis m splitting ``shape`` so that each broadcast operand shape in ``others``
    varies along ``shape[m:]`` only (a row: read at the inner index) or ``shape[:m]``
    only (a column: read at the outer index): ``(m, {shape: 'inner'|'outer'})``, or
    None if no one m serves them all."""
    nd = len(shape)
    for m in range(1, nd):
        modes = {}
        for s in others:
            p = (1,) * (nd - len(s)) + tuple(s)
            if all(d == 1 for d in p[:m]) and p[m:] == shape[m:]:
                modes[s] = "inner"
            elif p[:m] == shape[:m] and all(d == 1 for d in p[m:]):
                modes[s] = "outer"
            else:
                break
        else:
            return m, modes
    return None


def plan(r, symbol):
    """A ``Kernel`` for the tiled region ``r`` of tiling.py, or None if some value or
    operation has no exact C form (then the NumPy tiles run)."""
    shape = r.eqns[0].outvar.aval.shape
    if any(e.outvar.aval.shape != shape for e in r.eqns) or math.prod(shape) < NATIVE_MIN:
        return None
    if any(np.dtype(e.outvar.aval.dtype) not in _CTYPE for e in r.eqns):
        return None
    rows = math.prod(shape[1:])
    arrays, scalars, others = [], [], set()       # inputs read per element / once / broadcast
    for v in r.inputs:
        if np.dtype(v.aval.dtype) not in _CTYPE:
            return None
        if v.aval.shape == shape:
            arrays.append(v)
        elif math.prod(v.aval.shape) == 1:
            scalars.append(v)
        elif len(v.aval.shape) <= len(shape):
            arrays.append(v)
            others.add(tuple(v.aval.shape))
        else:
            return None
    index = {v: "k" for v in arrays}
    kept_total, unit = r.length * rows, 1
    if others:
        # broadcast operands: the kept values' loop runs over rows and columns of a
        # split of the shape (a gradient's gather loop reads full operands only)
        split = _split(shape, others) if not r.chain else None
        if split is None:
            return None
        m, modes = split
        kept_total, unit = math.prod(shape[:m]), math.prod(shape[m:])
        for v in arrays:
            s = tuple(v.aval.shape)
            if s != shape:
                index[v] = "c" if modes[s] == "inner" else "r"
    try:
        body = _Body(r.eqns, arrays, scalars, index)
        params = ["int64_t lo", "int64_t hi"]
        params += [f"const {_CTYPE[np.dtype(v.aval.dtype)]}* restrict in{i}" for i, v in enumerate(arrays)]
        outs = list(r.kept) + ([r.root] if r.root is not None else [])
        params += [f"{_CTYPE[np.dtype(v.aval.dtype)]}* restrict out{i}" for i, v in enumerate(outs)]
        params += [f"{_CTYPE[np.dtype(v.aval.dtype)]} s{i}" for i, v in enumerate(scalars)]
        sig = ", ".join(params)
        src = [_HEADER]
        if r.kept:
            # the region's values read after the loop: one pass
            src.append(f"void {symbol}_kept({sig}) {{")
            if unit == 1:
                src.append("    for (int64_t k = lo; k < hi; k++) {")
            else:
                src.append("    for (int64_t r = lo; r < hi; r++) {")
                src.append(f"    for (int64_t c = 0; c < {unit}; c++) {{")
                src.append(f"        const int64_t k = r * {unit} + c;")
            src += body.lines([(v, f"out{i}[k]") for i, v in enumerate(r.kept)], "k", "        ")
            src.append("    }" if unit == 1 else "    }}")
            src.append("}")
        if r.chain:
            src += _gather(r, symbol, sig, body, rows, len(r.kept))
    except _Unsupported:
        return None
    return Kernel(r, symbol, shape, arrays, scalars, "\n".join(src) + "\n", rows, kept_total, unit)


class _Body:
    """C statements computing region values at one index."""

    def __init__(self, eqns, arrays, scalars, index):
        self.eqns = eqns
        self.arrays = {v: i for i, v in enumerate(arrays)}
        self.index = index              # a broadcast operand's index: "r" or "c" (else the loop's)
        self.scalars = {v: i for i, v in enumerate(scalars)}
        self.producer = {e.outvar: e for e in eqns}
        local = {e.outvar: f"v{i}" for i, e in enumerate(eqns)}
        for e in eqns:                  # fail early on anything without a C form
            self._rhs(e, local, "k")

    def _ref(self, v, local, idx):
        if v in local:
            return local[v]
        if v in self.arrays:
            i = self.index[v]
            return f"in{self.arrays[v]}[{idx if i == 'k' else i}]"
        return f"s{self.scalars[v]}"

    def _rhs(self, e, local, idx):
        args, dts = [], []
        for x in e.inputs:
            if isinstance(x, Lit):
                if np.ndim(x.val) != 0:
                    raise _Unsupported("array literal")
                dts.append(None)
                args.append(x.val)
            else:
                dts.append(np.dtype(x.aval.dtype))
                args.append(self._ref(x, local, idx))
        out = np.dtype(e.outvar.aval.dtype)
        # a literal takes the dtype NumPy computes it in: for a comparison its array
        # operand's (a weak scalar), for where its branch's, else the output's
        known = [d for d in dts if d is not None]
        for i, d in enumerate(dts):
            if d is None:
                dt = known[0] if e.prim.name == "compare" and known else \
                    np.dtype(np.bool_) if e.prim.name == "select" and i == 0 else out
                if dt not in _CTYPE:
                    raise _Unsupported("literal dtype")
                args[i], dts[i] = _c_literal(args[i], dt), dt
        return _expr(e, args, dts)

    def lines(self, targets, idx, indent):
        """Statements computing the values ``targets`` ([(var, C lvalue)]) at index
        ``idx``; only the equations they depend on."""
        need, stack = set(), [v for v, _ in targets]
        while stack:
            v = stack.pop()
            e = self.producer.get(v)
            if e is None or v in need:
                continue
            need.add(v)
            stack += [x for x in e.inputs if isinstance(x, Var)]
        local, out = {}, []
        for i, e in enumerate(self.eqns):
            if e.outvar in need:
                c = f"v{i}_{idx}"
                out.append(f"{indent}const {_CTYPE[np.dtype(e.outvar.aval.dtype)]} {c} = {self._rhs(e, local, idx)};")
                local[e.outvar] = c
        out += [f"{indent}{lv} = {self._ref(v, local, idx)};" for v, lv in targets]
        return out


def _gather(r, symbol, sig, body, rows, first_out):
    """``out[first_out][j]`` for j in [lo, hi): the sum, in chain order, of the terms
    ``scatter_add`` puts on element j (each term is a region value at j - offset)."""
    L, N = r.length * rows, r.extent * rows
    terms = [(e.inputs[0], off * rows) for e, off in r.chain]
    cuts = sorted({0, N} | {min(max(o, 0), N) for _, o in terms} | {min(max(o + L, 0), N) for _, o in terms})
    ct = _CTYPE[np.dtype(r.root.aval.dtype)]
    src = [f"void {symbol}_acc({sig}) {{"]
    for a, b in zip(cuts, cuts[1:]):
        if a >= b:
            continue
        active = [t for t, (_, o) in enumerate(terms) if o <= a and b <= o + L]
        src.append(f"    for (int64_t j = lo > {a} ? lo : {a}; j < (hi < {b} ? hi : {b}); j++) {{")
        offsets = sorted({terms[t][1] for t in active})
        for o in offsets:
            idx = f"k{o}"
            src.append(f"        const int64_t {idx} = j - {o};")
            src += body.lines([(terms[t][0], f"{ct} t{t}") for t in active if terms[t][1] == o], idx,
                              "        ")
        if active:
            src.append(f"        {ct} acc = t{active[0]};")
            src += [f"        acc = acc + t{t};" for t in active[1:]]
            src.append(f"        out{first_out}[j] = acc;")
        else:
            src.append(f"        out{first_out}[j] = 0;")
        src.append("    }")
    src.append("}")
    return src


#: a loop over at least this many elements is split among threads
PARALLEL_MIN = 1 << 18
_workers: list = []          # the queues of the worker threads
if hasattr(os, "register_at_fork"):      # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_workers.clear)


def _threads():
    n = os.environ.get("PARTIALD_NUM_THREADS")
    if n and n.isdigit() and int(n) > 0:
        return int(n)
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:           # not on Linux
        return max(1, min(os.cpu_count() or 1, 8))


def _worker(q):
    while True:
        fn, args, done = q.get()
        try:
            fn(*args)
        finally:
            done.release()


def run(fn, total, *args, unit=1):
    """``fn(lo, hi, *args)`` over [0, total) (units of ``unit`` elements), split among
    threads when that is long: each element is computed on its own, so the split does
    not change any result. A C function called through ctypes releases the GIL."""
    elems = total * unit
    # (a few long rows split unevenly: at least 4 rows a thread)
    n = min(_threads(), total // 4 if unit > 1 else total, elems // (PARALLEL_MIN // 2)) \
        if elems >= PARALLEL_MIN else 1
    if n <= 1:
        fn(0, total, *args)
        return
    with _lock:
        while len(_workers) < n - 1:
            q = queue.SimpleQueue()
            threading.Thread(target=_worker, args=(q,), daemon=True, name="partiald-native").start()
            _workers.append(q)
    step = -(-total // n)
    locks = []
    for i in range(1, n):
        done = threading.Lock()
        done.acquire()
        _workers[i - 1].put((fn, (i * step, min(total, (i + 1) * step)) + args, done))
        locks.append(done)
    fn(0, step, *args)
    for done in locks:
        done.acquire()


def function(kernel):
    """The compiled ``(kept, acc)`` C functions of ``kernel`` (None where the region
    has no such part) with their ctypes signatures, or None if compiling failed."""
    ctype = {"double": ctypes.c_double, "float": ctypes.c_float, "unsigned char": ctypes.c_ubyte}
    r = kernel.region
    argtypes = [ctypes.c_int64, ctypes.c_int64]
    argtypes += [ctypes.c_void_p] * (len(kernel.arrays) + len(r.kept) + (1 if r.chain else 0))
    argtypes += [ctype[_CTYPE[np.dtype(v.aval.dtype)]] for v in kernel.scalars]
    lib = _load(kernel.source)
    if lib is None:
        return None
    fns = []
    for part, wanted in (("_kept", r.kept), ("_acc", r.chain)):
        f = lib[kernel.symbol + part] if wanted else None
        if f is not None:
            f.argtypes, f.restype = argtypes, None
        fns.append(f)
    return tuple(fns)
