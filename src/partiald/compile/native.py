"""Fused loops for large elementwise regions, lowered to numba (optional: ``pip install partiald[fast]``).

The NumPy code that ``jit`` generates makes one pass over memory per operation;
tiling (``tiling.py``) keeps those passes in cache but still pays one NumPy call
per operation and tile. When numba is installed, an elementwise region of exactly
rounded arithmetic is instead written as one loop (a Python function numba
compiles) that reads each input once and writes each output once.

Only operations whose scalar form gives NumPy's result bit for bit are fused:
``+ - * /``, negation, ``abs``, ``sqrt``, ``floor``, ``sign``, ``maximum`` /
``minimum`` (NumPy's NaN and tie rules), ``x**2``, comparisons, logical
operations, ``where``, ``isfinite``, casts and ``safe_mul`` (``fused_expr``, the
one place that knows primitives). numba compiles without ``fastmath`` (so LLVM
contracts no multiply-add and keeps IEEE semantics) and with
``error_model='numpy'`` (a division by zero gives inf or NaN, not an exception).
A region with anything else (``exp``, ``tanh``, ``x**3``...) stays NumPy code.

Array lengths, offsets and the program's constants are arguments of the loop, not
text in it: one compiled loop serves every size and every constant. Indices are
unsigned (no negative-index wraparound: the loops vectorize).

A gradient's ``scatter_add`` of shifted slices (``g[:-1] += a; g[1:] += b``) is
written in gather form: element ``j`` of ``g`` sums the terms that land on it, in
the program's order, recomputing the region at each offset; the boundaries, where
fewer terms land, are peeled into loops of their own, so the main loop has no
branch. Every output element is computed on its own and the result equals the
NumPy code's (up to the sign of an exact zero).

Compiled loops are kept on disk (numba's cache of the loop's source file) in
``$PARTIALD_CACHE_DIR/kernels`` (default ``$XDG_CACHE_HOME/partiald`` or
``~/.cache/partiald``), used only when safe:

- the folders are created 0700 and refused (a one-time warning; loops are then
  compiled in memory, once per process) when not owned by the user, writable by
  group or others, or not folders;
- a loop's source file is named by the hash of its content and compared with the
  expected text before it is run; numba's files for it are listed, with their
  SHA-256, in a manifest signed with a random key of the folder (0600): a file
  that is missing from the manifest, differs from it, or is truncated is deleted
  (and the loop rebuilt, once) before numba reads anything;
- at most ``MAX_ENTRIES`` loops and ``MAX_BYTES`` bytes are kept (least recently
  used ones go first);
- locks are per loop and never held across a fork (``os.register_at_fork``); a
  child forked while another thread was compiling runs NumPy code for new loops.

Settings: ``PARTIALD_NATIVE=0`` turns fused loops off (any other value but ``1``
too, with a warning); ``PARTIALD_CACHE_DIR`` is where they are kept. The
generated source never contains user text: names are ``in<i>``, ``out<i>``,
``s<i>`` (scalar operands), ``c<i>`` (constants), ``v<i>_<j>``.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import math
import os
import stat
import threading
import warnings

import numpy as np

from ..core.graph import Lit, Var

#: regions with fewer elements than this stay NumPy code (compiling costs ~0.4 s once)
NATIVE_MIN = 1 << 16
#: numba's options: no fastmath (IEEE results, no contraction into fused multiply-add)
OPTIONS = {"error_model": "numpy", "nogil": True}
#: the disk cache keeps at most this many loops and bytes (least recently used go first)
MAX_ENTRIES = 128
MAX_BYTES = 64 << 20

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_DTYPES = _FLOATS + (np.dtype(np.bool_),)

_lock = threading.Lock()      # guards the two dicts below only; never held while compiling
_locks: dict = {}             # loop key -> its lock
_loaded: dict = {}            # loop key -> compiled dispatcher
_state: dict = {"error": None, "numba": None, "no_compile": None, "disk": {}, "secret": {}}
_warned: set = set()


def _after_fork_in_child():
    """A forked child has only the forking thread: locks another thread held stay
    held forever in the child, so it gets fresh ones; and if numba's compiler lock
    was held (another thread compiling), the child compiles nothing new."""
    global _lock
    _lock = threading.Lock()
    _locks.clear()
    _pool_state["pool"], _pool_state["workers"] = None, 0     # its threads are not in the child
    nb = _state["numba"]
    if nb is not None:
        lock = nb.core.compiler_lock.global_compiler_lock._lock
        if lock.acquire(blocking=False):
            lock.release()
        else:
            _state["no_compile"] = "forked while another thread was compiling"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _warn(message):
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


class forced:
    """Use fused loops for every eligible region, however small (for tests)."""

    def __enter__(self):
        global NATIVE_MIN
        self.saved = NATIVE_MIN
        NATIVE_MIN = 1
        return self

    def __exit__(self, *exc):
        global NATIVE_MIN
        NATIVE_MIN = self.saved


def _setting():
    value = os.environ.get("PARTIALD_NATIVE", "1").strip()
    if value in ("0", "1", ""):
        return value != "0"
    _warn(f"PARTIALD_NATIVE={value!r} is neither 0 nor 1: fused loops are off (NumPy code runs)")
    return False


def enabled():
    """Whether fused loops may be tried (not turned off, numba not known missing);
    does not import numba."""
    return _setting() and _state["error"] is None


def _numba():
    if _state["numba"] is None and _state["error"] is None:
        try:
            import numba
            import numba.core.compiler_lock  # noqa: F401  (used after a fork)
        except Exception as e:          # missing, or broken (built for another NumPy...)
            _state["error"] = f"numba cannot be imported ({type(e).__name__}: {e}): pip install 'partiald[fast]'"
            return None
        _state["numba"] = numba
    return _state["numba"]


def available():
    """Whether fused loops can be used here (numba importable, not turned off)."""
    return enabled() and _numba() is not None


def error():
    """Why fused loops are off, or None."""
    if not _setting():
        return f"PARTIALD_NATIVE={os.environ.get('PARTIALD_NATIVE')}"
    return _state["error"]


def compiler():
    """What compiles the loops (``"numba <version>"``), or None when nothing can."""
    nb = _numba() if enabled() else None
    return f"numba {nb.__version__}" if nb is not None else None


# --- the per-primitive scalar forms: each record's ``lowerings["fused"]`` (ops/fused_forms.py)

def fused_expr(eqn, args, dtypes):
    """The fused-loop expression of one equation (its primitive's ``lowerings["fused"]``),
    or None if it has no exact form."""
    lower = eqn.prim.lowerings.get("fused")
    return lower(args, eqn.params, dtypes) if lower is not None else None


# --- planning a loop -----------------------------------------------------------------

class _Unsupported(Exception):
    pass


class Kernel:
    """The loop source for a region and how to call it: ``kernel(part, parts, *ints,
    *arrays, *outputs, *scalars, *constants)`` computes share ``part`` of ``parts`` of
    the elements; ``ints`` are the lengths (and offsets) of this call, ``constants``
    the program's literals as values of their dtypes. :func:`runner` calls it."""

    def __init__(self, r, shape, arrays, scalars, constants, ints, source, signature):
        self.region, self.shape, self.arrays, self.scalars = r, shape, arrays, scalars
        self.constants, self.ints, self.source, self.signature = constants, ints, source, signature
        self.key = hashlib.sha256(source.encode()).hexdigest()[:32]
        self.outputs = list(r.kept) + ([r.root] if r.chain else [])


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


def plan(r):
    """A ``Kernel`` for the tiled region ``r`` of tiling.py, or None if some value or
    operation has no exact fused form (then the NumPy tiles run)."""
    shape = r.eqns[0].outvar.aval.shape
    if any(e.outvar.aval.shape != shape for e in r.eqns) or math.prod(shape) < NATIVE_MIN:
        return None
    if any(np.dtype(e.outvar.aval.dtype) not in _DTYPES for e in r.eqns):
        return None
    rows = math.prod(shape[1:])
    arrays, scalars, others = [], [], set()       # inputs read per element / once / broadcast
    for v in r.inputs:
        if np.dtype(v.aval.dtype) not in _DTYPES:
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
    outer, unit = r.length * rows, 1
    if others:
        # broadcast operands: the kept values' loop runs over rows and columns of a
        # split of the shape (a gradient's gather loop reads full operands only)
        split = _split(shape, others) if not r.chain else None
        if split is None:
            return None
        m, modes = split
        outer, unit = math.prod(shape[:m]), math.prod(shape[m:])
        for v in arrays:
            s = tuple(v.aval.shape)
            if s != shape:
                index[v] = "c" if modes[s] == "inner" else "r"
    ints, names = [], []                          # the integer arguments and their names
    if r.kept:
        ints += [outer, unit] if others else [outer]
        names += ["nk", "unit"] if others else ["nk"]
    if r.chain:
        offsets = sorted({off * rows for _, off in r.chain})
        L = r.length * rows
        if offsets[-1] - offsets[0] > L:        # tiny arrays: the boundaries overlap
            return None
        ints += [r.extent * rows, L] + offsets
        names += ["N", "L"] + [f"o{i}" for i in range(len(offsets))]
    lines = [f"    {p} = _u({p})" for p in ["part", "parts"] + names]
    outs = list(r.kept) + ([r.root] if r.chain else [])
    try:
        body = _Body(r.eqns, arrays, scalars, index)
        if r.kept:
            # the region's values read after the loop: one pass
            # this call's share of the rows: [nk * part / parts, nk * (part + 1) / parts)
            lines.append("    klo = (nk * part) // parts")
            lines.append("    khi = (nk * (part + _u(1))) // parts")
            if not others:
                lines.append("    for k in range(klo, khi):")
                ind = "        "
            else:
                lines.append("    for r in range(klo, khi):")
                lines.append("        for c in range(_u(0), unit):")
                lines.append("            k = r * unit + c")
                ind = "            "
            lines += body.lines([(v, f"out{i}[k]") for i, v in enumerate(r.kept)], "k", "", ind)
        if r.chain:
            lines += _gather(r, body, offsets, len(r.kept))
    except _Unsupported:
        return None
    consts = body.constants
    params = ["part", "parts"] + names + [f"in{i}" for i in range(len(arrays))]
    params += [f"out{i}" for i in range(len(outs))]
    params += [f"s{i}" for i in range(len(scalars))] + [f"c{i}" for i in range(len(consts))]
    signature = [("int", None)] * (2 + len(ints)) + [("in", np.dtype(v.aval.dtype)) for v in arrays]
    signature += [("out", np.dtype(v.aval.dtype)) for v in outs]
    signature += [("scalar", np.dtype(v.aval.dtype)) for v in scalars] + [("scalar", dt) for _, dt in consts]
    described = ", ".join(kind if dt is None else f"{kind} {dt.name}" for kind, dt in signature)
    source = "\n".join([
        "# partiald fused loop (generated: no user text; sizes and constants are arguments)",
        f"# arguments: {described}",
        "import numpy as np",
        "from numba import uint64 as _u",
        "",
        "",
        f"def kernel({', '.join(params)}):",
        *lines,
    ]) + "\n"
    return Kernel(r, shape, arrays, scalars, [dt.type(v) for v, dt in consts], ints, source, signature)


class _Body:
    """Statements computing region values at one index."""

    def __init__(self, eqns, arrays, scalars, index):
        self.eqns = eqns
        self.arrays = {v: i for i, v in enumerate(arrays)}
        self.index = index              # a broadcast operand's index: "r" or "c" (else the loop's)
        self.scalars = {v: i for i, v in enumerate(scalars)}
        self.producer = {e.outvar: e for e in eqns}
        self.constants: list = []       # [(value, dtype)]: the loop's arguments c<i>
        self._seen: dict = {}
        local = {e.outvar: f"v{i}" for i, e in enumerate(eqns)}
        for e in eqns:                  # fail early on anything without a fused form
            self._rhs(e, local, "k")

    def _const(self, e, i, value, dt):
        # one argument per literal of the program (not per value: a loop's source
        # must not depend on which constants happen to be equal)
        key = (id(e), i)
        if key not in self._seen:
            self._seen[key] = f"c{len(self.constants)}"
            self.constants.append((value, dt))
        return self._seen[key]

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
                if dt not in _DTYPES:
                    raise _Unsupported("literal dtype")
                args[i], dts[i] = self._const(e, i, args[i], dt), dt
        expr = fused_expr(e, args, dts + [out])
        if expr is None:
            raise _Unsupported(e.prim.name)
        return expr

    def lines(self, targets, idx, suffix, indent):
        """Statements computing the values ``targets`` ([(var, lvalue)]) at index
        ``idx``; only the equations they depend on (locals named ``v<i><suffix>``)."""
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
                name = f"v{i}{suffix}"
                out.append(f"{indent}{name} = {self._rhs(e, local, idx)}")
                local[e.outvar] = name
        out += [f"{indent}{lv} = {self._ref(v, local, idx)}" for v, lv in targets]
        return out


def _gather(r, body, offsets, first_out):
    """Lines setting ``out[first_out][j]`` for j in [0, N): the sum, in chain order, of
    the terms ``scatter_add`` puts on element j (a term is a region value at j - its
    offset). The offsets o0 < o1 < ... (arguments) are at most L apart, so the loops
    are: zeros before o0; the terms started so far up to the last offset; all terms
    (the main loop, branch-free); the terms not yet ended; zeros after."""
    rows = math.prod(r.eqns[0].outvar.aval.shape[1:])
    terms = [(e.inputs[0], offsets.index(off * rows)) for e, off in r.chain]
    m = len(offsets)
    segments = [("_u(0)", "o0", [])]
    segments += [(f"o{i}", f"o{i + 1}", [t for t, (_, o) in enumerate(terms) if o <= i]) for i in range(m - 1)]
    segments.append((f"o{m - 1}", "o0 + L", list(range(len(terms)))))
    segments += [(f"o{i} + L", f"o{i + 1} + L", [t for t, (_, o) in enumerate(terms) if o > i]) for i in range(m - 1)]
    segments.append((f"o{m - 1} + L", "N", []))
    # this call's share of [0, N): [N * part / parts, N * (part + 1) / parts), each
    # segment clipped to it (an empty clip is range(a, a): unsigned, so never negative)
    out = ["    jlo = (N * part) // parts", "    jhi = (N * (part + _u(1))) // parts"]
    for lo, hi, active in segments:
        out.append(f"    a = max({lo}, jlo)")
        out.append(f"    for j in range(a, max(a, min({hi}, jhi))):")
        if not active:
            out.append(f"        out{first_out}[j] = 0")
            continue
        for o in sorted({terms[t][1] for t in active}):
            out.append(f"        k{o} = j - o{o}")
            out += body.lines([(terms[t][0], f"t{t}") for t in active if terms[t][1] == o], f"k{o}", f"_{o}",
                              "        ")
        out.append(f"        out{first_out}[j] = " + " + ".join(f"t{t}" for t in active))
    return out


# --- running a loop on several cores ----------------------------------------------------

#: loops over fewer elements run on one thread (a thread's hand-off costs ~20 us)
PARALLEL_MIN = 1 << 18
MAX_THREADS = 8
_pool_state: dict = {"pool": None, "workers": 0}


def threads():
    """How many threads a long loop is split over: ``PARTIALD_NUM_THREADS`` (a
    positive integer), else the cores this process may use, at most MAX_THREADS."""
    raw = os.environ.get("PARTIALD_NUM_THREADS")
    if raw is not None:
        try:
            n = int(raw)
            if n >= 1:
                return n
        except ValueError:
            pass
        _warn(f"PARTIALD_NUM_THREADS={raw!r} is not a positive integer: using the available cores")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_THREADS))


def _pool(workers):
    """The process's worker threads (numba loops release the GIL while they run)."""
    with _lock:
        pool = _pool_state["pool"]
        if pool is None or _pool_state["workers"] < workers:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = _pool_state["pool"] = concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix="partiald-loop")
            _pool_state["workers"] = workers
        return pool


def runner(fn, total):
    """``call(*args)`` running the compiled loop ``fn`` over ``total`` elements: split
    into one share per thread when it is long (each thread writes its own elements,
    so the result is the same bits for any split), in the calling thread otherwise."""
    def call(*args):
        n = threads() if total >= PARALLEL_MIN else 1
        if n == 1:
            fn(0, 1, *args)
            return
        futures = [_pool(n - 1).submit(fn, p, n, *args) for p in range(1, n)]
        fn(0, n, *args)
        for f in futures:
            f.result()
    return call


# --- compiling and the disk cache ------------------------------------------------------

class _Unsafe(Exception):
    pass


def flat(x, dtype):
    """An operand as the loop reads it: C-contiguous, 1-D, of ``dtype`` (a view when it
    already is)."""
    return np.ascontiguousarray(x, dtype).reshape(-1)


def scalar(x, dtype):
    """A size-1 operand as a value of ``dtype`` (read once)."""
    return np.asarray(x, dtype).reshape(-1)[0]


def _types(nb, signature):
    t = nb.types
    num = {np.dtype(np.float64): t.float64, np.dtype(np.float32): t.float32, np.dtype(np.bool_): t.boolean}
    out = []
    for kind, dt in signature:
        if kind == "int":
            out.append(t.int64)
        elif kind == "in":           # read-only and unaligned also match writable, aligned arrays
            out.append(t.Array(num[dt], 1, "C", readonly=True, aligned=False))
        elif kind == "out":
            out.append(t.Array(num[dt], 1, "C"))
        else:
            out.append(num[dt])
    return tuple(out)


def _key_lock(key):
    with _lock:
        return _locks.setdefault(key, threading.Lock())


def function(kernel):
    """The compiled loop of ``kernel`` (a numba dispatcher), or None if it cannot be
    had (numba missing or failing: the NumPy code runs)."""
    fn = _loaded.get(kernel.key)
    if fn is not None or not enabled():
        return fn
    nb = _numba()
    if nb is None:
        return None
    with _key_lock(kernel.key):
        fn = _loaded.get(kernel.key)
        if fn is None:
            if _state["no_compile"]:
                return None
            fn = _build(nb, kernel)
            if fn is not None:
                _loaded[kernel.key] = fn
    return fn


def _exec(source, filename):
    """The function ``kernel`` defined by generated ``source`` (no user text)."""
    code = compile(source, filename, "exec")
    # the module name numba records (and imports when loading from its cache): this one
    ns = {"__name__": __name__}
    exec(code, ns)
    return ns["kernel"]


def _build(nb, kernel):
    sig = _types(nb, kernel.signature)
    d = _folder()
    if d is not None and nb.config.CACHE_DIR:
        _warn("partiald: NUMBA_CACHE_DIR is set, and numba would keep fused loops there, where partiald "
              "checks nothing: they are compiled in memory")
        d = None
    if d is not None:
        for attempt in (1, 2):
            try:
                return _build_cached(nb, d, kernel, sig)
            except Exception as e:        # numba's or the file system's: never a crash
                _remove_entry(d, kernel.key)
                if isinstance(e, nb.core.errors.NumbaError):
                    break                  # the loop does not compile: not the cache's fault
                if attempt == 2:
                    _warn(f"partiald: the fused-loop cache in {d} failed twice ({type(e).__name__}: {e}); "
                          "loops are compiled in memory in this process")
                    for root, folder in list(_state["disk"].items()):
                        if folder == d:
                            _state["disk"][root] = None
    try:
        fn = nb.njit(cache=False, **OPTIONS)(_exec(kernel.source, "<partiald fused loop>"))
        fn.compile(sig)
        fn.disable_compile()
        return fn
    except Exception as e:
        _warn(f"partiald: numba could not compile a fused loop ({type(e).__name__}: {e}); NumPy code runs")
        return None


def _build_cached(nb, d, kernel, sig):
    key = kernel.key
    path = os.path.join(d, f"k{key}.py")
    data = kernel.source.encode()
    if _read(path) != data:               # missing, truncated or planted: never run
        _remove_entry(d, key)
        _write(path, data)
    elif not _manifest_ok(d, key):         # numba's files unlisted or changed: never read
        _remove_entry(d, key, keep_source=True)
    fn = nb.njit(cache=True, **OPTIONS)(_exec(kernel.source, path))
    if os.path.realpath(fn.stats.cache_path) != os.path.realpath(os.path.join(d, "__pycache__")):
        raise _Unsafe(f"numba caches in {fn.stats.cache_path}, not in {d}")
    fn.compile(sig)
    fn.disable_compile()
    if fn.stats.cache_misses:              # numba wrote its files: list them
        _write_manifest(d, key)
        _evict(d, key)
    else:
        try:
            os.utime(_manifest(d, key))    # most recently used
        except OSError:                    # evicted meanwhile by another process
            pass
    return fn


def _folder():
    """The checked folder of the disk cache, or None (no disk cache: a one-time warning)."""
    root = os.environ.get("PARTIALD_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "partiald")
    if root in _state["disk"]:
        return _state["disk"][root]
    d = os.path.join(root, "kernels")
    try:
        if not os.path.isabs(root):
            raise _Unsafe("not an absolute path")
        for p in (root, d, os.path.join(d, "__pycache__")):
            _safe_folder(p)
        _state["secret"][d] = _secret(d)
    except (_Unsafe, OSError) as e:
        _warn(f"partiald: not caching fused loops in {root!r} ({e}); they are compiled in memory")
        d = None
    _state["disk"][root] = d
    return d


def _safe_folder(p):
    """Create ``p`` (0700), or check that it is a folder of this user that no one else
    can write to."""
    try:
        os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
        os.mkdir(p, 0o700)
        os.chmod(p, 0o700)
    except FileExistsError:
        pass
    st = os.stat(p)
    if not stat.S_ISDIR(st.st_mode):
        raise _Unsafe(f"{p} is not a folder")
    if os.name == "posix" and st.st_uid != os.getuid():
        raise _Unsafe(f"{p} belongs to another user")
    if os.name == "posix" and st.st_mode & 0o022:
        raise _Unsafe(f"{p} is writable by group or others")


def _secret(d):
    """The folder's random key (32 bytes, 0600) that signs manifests."""
    path = os.path.join(d, "secret")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        try:
            os.link(tmp, path)             # atomic, and never replaces another process's key
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) or os.name == "posix" and (st.st_uid != os.getuid() or st.st_mode & 0o077):
        raise _Unsafe(f"{path} is not a private file of this user")
    key = _read(path)
    if key is None or len(key) != 32:
        raise _Unsafe(f"{path} is not a key")
    return key


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _write(path, data):
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _manifest(d, key):
    return os.path.join(d, f"k{key}.sum")


def _numba_files(d, key):
    cache = os.path.join(d, "__pycache__")
    try:
        return sorted(n for n in os.listdir(cache) if n.startswith(f"k{key}."))
    except OSError:
        return []


def _listing(d, key):
    cache = os.path.join(d, "__pycache__")
    lines = []
    for n in _numba_files(d, key):
        data = _read(os.path.join(cache, n))
        if data is None:
            return None
        lines.append(f"{hashlib.sha256(data).hexdigest()} {n}\n")
    return "".join(lines).encode()


def _signed(d, listing):
    return hmac.new(_state["secret"][d], listing, hashlib.sha256).hexdigest().encode() + b"\n"


def _write_manifest(d, key):
    listing = _listing(d, key)
    if listing:
        _write(_manifest(d, key), _signed(d, listing) + listing)


def _manifest_ok(d, key):
    text = _read(_manifest(d, key))
    listing = _listing(d, key)
    if text is None or not listing:
        return False
    mac, _, rest = text.partition(b"\n")
    return hmac.compare_digest(mac + b"\n", _signed(d, rest)) and rest == listing


def _remove_entry(d, key, keep_source=False):
    cache = os.path.join(d, "__pycache__")
    paths = [os.path.join(cache, n) for n in _numba_files(d, key)] + [_manifest(d, key)]
    if not keep_source:
        paths.append(os.path.join(d, f"k{key}.py"))
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def _evict(d, keep):
    """Remove the least recently used loops beyond ``MAX_ENTRIES`` or ``MAX_BYTES``."""
    entries: dict = {}                  # key -> [bytes, last use]
    for folder in (d, os.path.join(d, "__pycache__")):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for n in names:
            if n.startswith("k") and len(n) > 33 and n[33] == ".":
                try:
                    st = os.stat(os.path.join(folder, n))
                except OSError:
                    continue
                e = entries.setdefault(n[1:33], [0, 0.0])
                e[0] += st.st_size
                e[1] = max(e[1], st.st_mtime)
    total = sum(e[0] for e in entries.values())
    for key, (size, _) in sorted(entries.items(), key=lambda kv: kv[1][1]):
        if len(entries) <= MAX_ENTRIES and total <= MAX_BYTES:
            break
        if key != keep:
            _remove_entry(d, key)
            del entries[key]
            total -= size
