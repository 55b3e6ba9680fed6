"""The function transformations of API.md section 2, as thin compositions.

Every transformation traces the function into a Graph (``_stage``), then
either linearizes it (``linearize_graph``) and evaluates the linear Graph
forwards (forward mode) or transposes it (reverse mode). Derivatives are
Graphs of primitives again, so transformations nest to any depth.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from . import numpy as pnp
from .core.results import finalize, unaliased
from .core.errors import MemoryBudgetError
from .core.graph import F64_SCALAR, Graph, aval_of
from .core.interpret import interpret
from .core.pytree import tree_flatten, tree_structure, tree_unflatten
from .core.debug import STATE as _DEBUG
from .core.debug import enabled as _debug_enabled
from .core.trace import Builder, Tracer
from .transforms.forward import jvp_graph_eval
from .compile import staged as _staged
from .compile.staged import backward_program, programs_enabled, repeated_program, replay_plans
from .compile.staged import float_op as _float_op
from .transforms.reverse import linearize_graph, transpose_eval
from .transforms.simplify import dce
from .transforms.jacobian import jacobian_blocks, tangent_bytes

_F64 = np.float64

#: The memory budget of a dense Jacobian or Hessian, in bytes: the result plus what
#: computing it holds at once (a chunk of the basis and the batched intermediates of
#: that chunk). The chunk size is chosen to fit (``chunk_size=`` is an upper bound);
#: a result, or a single (co)tangent's pass, over the budget raises MemoryBudgetError
#: before anything is allocated. ``memory_budget=`` overrides it per call.
MEMORY_BUDGET = 1 << 30


# -- argument handling ------------------------------------------------------------

def _prepare(x, fname):
    """A leaf to differentiate with respect to: float arrays (a Python float becomes a
    float64 scalar); Python ints are promoted."""
    if type(x) is float:
        return np.float64(x)
    if isinstance(x, Tracer):
        if x.dtype.kind not in "fc":
            raise TypeError(f"{fname}: cannot differentiate with respect to an array of dtype {x.dtype}; "
                            "derivatives need floating-point (float64, float32) or complex inputs")
        return x
    if isinstance(x, bool) or isinstance(x, np.bool_):
        raise TypeError(f"{fname}: cannot differentiate with respect to a bool; pass a float (float64)")
    if isinstance(x, int):
        return np.asarray(float(x))
    if isinstance(x, float):
        return np.asarray(x, dtype=np.float64)
    try:
        a = np.asarray(x)
    except Exception:
        a = None
    if a is None or a.dtype == object:
        raise TypeError(f"{fname}: argument of type {type(x).__name__} is not an array; "
                        "pass NumPy arrays, Python floats, or pytrees (tuple/list/dict) of them")
    if a.dtype.kind in "biu":
        raise TypeError(f"{fname}: cannot differentiate with respect to an integer array (dtype {a.dtype}); "
                        f"convert it first, e.g. x.astype(np.float64) (or np.float32)")
    if a.dtype.kind not in "fc":
        raise TypeError(f"{fname}: inputs of dtype {a.dtype} are not supported; use float64, float32, "
                        "complex128 or complex64")
    return a


def _floats(xs) -> bool:
    """Whether ``xs`` is a tuple of Python floats."""
    if type(xs) is not tuple:
        return False
    for x in xs:
        if type(x) is not float:
            return False
    return True


def _zeros_like(x):
    z = np.zeros(np.shape(x), dtype=x.dtype)
    return z[()] if z.ndim == 0 else z


def _argnums(argnums, nargs, fname):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"{fname}: argnums must not be empty")
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{fname}: argnums={argnums!r} but the function was called with "
                             f"{nargs} positional argument(s)")
    return tuple(i % nargs for i in nums)


def _partial_args(f, args, nums, kwargs):
    def g(*dyn):
        full = list(args)
        for i, v in zip(nums, dyn):
            full[i] = v
        return f(*full, **kwargs)
    return g


class _Staged:
    """A function traced on concrete inputs: its Graph and every intermediate value."""

    def __init__(self, f, primals: tuple, fname: str, has_aux=False, last=None):
        b = Builder(fname, _float_op)
        if last is not None:
            b.replay(last.graph, last.plans)     # (``_Last``: the last trace of a grad function)
        tracers = self._inputs(b, primals, fname)
        out = f(*tree_unflatten(self.in_tree, tracers))
        self._outputs(b, tracers, out, fname, has_aux)

    def _inputs(self, b, primals, fname):
        """Set ``in_tree`` and ``flat`` (the prepared leaves); return their tracers."""
        if _floats(primals):
            # the common call on Python floats: float64 scalars, no pytree to build
            self.in_tree = tree_structure(primals)
            self.flat = [np.float64(x) for x in primals]
            return [b.new_arg(F64_SCALAR, x) for x in self.flat]
        flat, self.in_tree = tree_flatten(primals)
        self.flat = [_prepare(x, fname) for x in flat]
        return [b.new_arg(aval_of(x), x) for x in self.flat]

    def _outputs(self, b, tracers, out, fname, has_aux, graph=None):
        """Record what ``f`` returned (``graph``: the trace, if already finished)."""
        self.aux = None
        if has_aux:
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError(f"{fname}(has_aux=True) requires the function to return a pair "
                                f"(output, auxiliary data), got {type(out).__name__}")
            out, aux = out
            aux_flat, aux_tree = tree_flatten(aux)
            self.aux = tree_unflatten(aux_tree, [finalize(b.value_of(a._var)) if isinstance(a, Tracer)
                                                 and a._builder is b else a for a in aux_flat])
        out_flat, self.out_tree = tree_flatten(out)
        for o in out_flat:
            if not isinstance(o, (Tracer, np.ndarray, np.generic, int, float)):
                raise TypeError(f"{fname}: the function returned a {type(o).__name__}; "
                                "outputs must be arrays, numbers, or pytrees of them")
        self.graph: Graph = graph or b.finish([t._var for t in tracers], out_flat)
        self.builder = b
        self.program = None     # the cached backward program used by vjp_flat
        self.out_flat = []
        for v in self.graph.outvars:
            o = None if v is None else b.value_of(v)
            # a Python number (a constant output) becomes an array: it has a dtype then
            self.out_flat.append(np.asarray(o) if type(o) in (bool, int, float) else o)
        self._lin = None

    @property
    def lin(self) -> Graph:
        if self._lin is None:
            self._lin = linearize_graph(self.graph, self.builder.values)
        return self._lin

    def out(self):
        return tree_unflatten(self.out_tree, [finalize(o) for o in self.out_flat])

    def jvp_flat(self, tangents_flat):
        return jvp_graph_eval(dce(self.graph), self.builder.values, tangents_flat)

    def lin_jvp_flat(self, tangents_flat):
        """Forward mode through the linearized Graph (cheap to repeat)."""
        lin = self.lin
        ins = [t for t, m in zip(tangents_flat, lin.in_mask) if m]
        return interpret(lin, *ins)

    def vjp_flat(self, cts_flat, repeated=None):
        """Input cotangents; ``repeated``: the program of the Graph this trace
        replayed (``Builder.replay``), used if it repeated it whole."""
        prog = None
        if self._lin is None:
            graph, values = self.graph, self.builder.values
            if self.builder.repeated:
                prog = repeated_program(repeated, graph, values, cts_flat)
            if prog is None:
                prog = backward_program(graph, values, cts_flat)
        if prog is not None:
            # the backward program of this structure, run on this trace's values
            self.program = prog
            in_cts, in_mask = prog.run(self.graph, self.builder.values, cts_flat)
        else:
            in_cts, in_mask = transpose_eval(self.lin, cts_flat), self.lin.in_mask
        cts = iter(in_cts)
        out = []
        for x, m in zip(self.flat, in_mask):
            c = next(cts) if m else None
            out.append(_zeros_like(x) if c is None else c)
        return unaliased(out, [*cts_flat, *self.flat])


def _check_like(name, given, expected_flat, expected_tree, what):
    flat, tree = tree_flatten(given)
    if tree != expected_tree:
        raise ValueError(f"{name}: {what} has structure {tree}, expected {expected_tree}")
    out = []
    for g, e in zip(flat, expected_flat):
        gs, es = np.shape(g), np.shape(e)
        if gs != es:
            raise ValueError(f"{name}: {what} has shape {gs}, but the value it pairs with has shape {es}")
        edt = np.dtype(e.dtype) if hasattr(e, "dtype") else np.result_type(e)
        if isinstance(g, (int, float)) and not isinstance(g, bool):
            g = np.asarray(g, dtype=edt)
        gdt = np.dtype(g.dtype) if hasattr(g, "dtype") else np.result_type(g)
        if gdt != edt and edt.kind == "f":
            raise ValueError(f"{name}: {what} has dtype {gdt}, but the value it pairs with has dtype {edt}; "
                             f"pass a {edt} {what}")
        out.append(g)
    return out


# -- forward and reverse mode ----------------------------------------------------------

def jvp(f: Callable, primals: Sequence, tangents: Sequence):
    """Forward mode: ``(f(*primals), J @ tangents)``.

    Args:
      f: a function of arrays (or pytrees of arrays).
      primals: tuple of arguments to ``f``.
      tangents: tuple of the same structure, shapes and dtypes.

    Returns:
      ``(out, out_tangent)`` with ``out_tangent`` structured like ``out``.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> pdx.jvp(pnp.sin, (0.0,), (2.0,))
      (0.0, 2.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents): primals and tangents must be tuples, "
                        "e.g. jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    st = _Staged(f, tuple(primals), "jvp")
    t_flat = _check_like("jvp", tuple(tangents), st.flat, st.in_tree, "tangent")
    t_out = st.jvp_flat(t_flat)
    t_out = [_zeros_like(o) if t is None else t for t, o in zip(t_out, st.out_flat)]
    t_out = unaliased(t_out, t_flat + st.flat + st.out_flat)
    return st.out(), tree_unflatten(st.out_tree, [finalize(t) for t in t_out])


def linearize(f: Callable, *primals):
    """``(f(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the JVP at ``primals``.

    The linear map is a Graph built once; calling ``f_jvp`` repeatedly is cheap.
    """
    st = _Staged(f, primals, "linearize")

    def f_jvp(*tangents):
        t_flat = _check_like("linearize", tangents, st.flat, st.in_tree, "tangent")
        outs = st.lin_jvp_flat(t_flat)
        outs = [_zeros_like(o) if t is None else t for t, o in zip(outs, st.out_flat)]
        outs = unaliased(outs, t_flat + st.flat)
        return tree_unflatten(st.out_tree, [finalize(t) for t in outs])
    f_jvp.graph = st.lin
    return st.out(), f_jvp


def vjp(f: Callable, *primals, has_aux: bool = False):
    """Reverse mode: ``(f(*primals), vjp_fn)`` with ``vjp_fn(ct) -> tuple of J^T ct``.

    ``vjp_fn`` returns one cotangent per primal, structured like the primals.
    With ``has_aux=True``, ``f`` returns ``(out, aux)`` and the result is
    ``(out, vjp_fn, aux)``.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> y, back = pdx.vjp(lambda x: x * x, 3.0)
      >>> back(1.0)
      (6.0,)
    """
    st = _Staged(f, primals, "vjp", has_aux=has_aux)

    def vjp_fn(ct):
        ct_flat = _check_like("vjp_fn", ct, st.out_flat, st.out_tree, "cotangent")
        grads = st.vjp_flat(ct_flat)
        return tuple(_finalize_tree(tree_unflatten(st.in_tree, grads)))
    vjp_fn.graph = lambda: st.lin
    if has_aux:
        return st.out(), vjp_fn, st.aux
    return st.out(), vjp_fn


def _finalize_tree(tree):
    flat, t = tree_flatten(tree)
    return tree_unflatten(t, [finalize(x) for x in flat])


class _GradState:
    """What a grad function keeps between calls: the normalized argnums per arity, the
    arity whose argnums are all the arguments in order (at most one), and its last
    trace (``_Last``)."""

    __slots__ = ("nums", "every_n", "last")

    def __init__(self):
        self.nums = {}
        self.every_n = None
        self.last = None


class _Last:
    """A grad function's last trace: its structure (without its values) and its replay
    plans (``Builder.replay``), its backward program, the forward variables the program
    reads, the program's Python-float code for grad's seed where it has one, and for
    ``_repeat_call``: the input variables when they are all float64 scalars (else None)
    and the single output variable."""

    __slots__ = ("graph", "plans", "prog", "needed", "read", "seeded", "invars", "outvar")

    def __init__(self, graph, prog):
        fvars = graph.invars + [e.outvar for e in graph.eqns]
        self.graph = Graph(graph.invars, graph.constvars, graph.consts, graph.eqns, graph.outvars)
        self.plans = replay_plans(self.graph)
        self.prog = prog
        self.needed = [fvars[i] for i in prog.needed]
        # the values of ``needed`` from a trace's values, as a tuple
        self.read = operator.itemgetter(*self.needed) if len(self.needed) > 1 else \
            lambda values, vs=tuple(self.needed): tuple(values[v] for v in vs)
        self.seeded = prog.seeded()
        scalar_ins = all(v.aval is F64_SCALAR for v in graph.invars)
        self.invars = tuple(graph.invars) if scalar_ins and prog.ct_sig == _staged.SEED_SIG else None
        self.outvar = graph.outvars[0] if len(graph.outvars) == 1 else None


def _repeat_call(f, state, args):
    """The common call: on Python floats, every argument differentiated, no keywords
    or aux, of a grad function whose last trace had float64 scalar inputs. Traces
    ``f`` replaying the last trace and returns ``(value, gradient tuple)`` when the
    trace repeated it whole, so that the last trace's backward program applies as is
    (no Graph to build); else the ``_Staged`` trace, to finish as any other (``f``
    runs once either way). None (``f`` not run) if the call is not one."""
    last = state.last
    if last is None or len(args) != state.every_n or _staged.CACHE_SIZE <= 0 \
            or (_DEBUG[0] and _debug_enabled()):       # (what ``programs_enabled`` checks)
        return None
    invars = last.invars
    if invars is None or len(invars) != len(args):
        return None
    for x in args:
        if type(x) is not float:
            return None
    b = Builder("grad", _float_op)
    tracers = b.replay(last.graph, last.plans, tuple(map(_F64, args)))
    out = f(*tracers)
    if b.repeated_output(out):
        # the whole trace repeated the last one: run its program on this trace's values
        # (its variables are the last trace's)
        values = b.values
        value = values[last.outvar]
        if type(value) is _F64:
            if last.seeded is not None:
                grads = last.seeded(*last.read(values))
                if grads is not None:
                    return float(value), grads
            in_cts, _ = last.prog.run(last.graph, values, _SEED)
            return float(value), tuple(0.0 if c is None else c if type(c) is float else finalize(c)
                                       for c in in_cts)
    st = _Staged.__new__(_Staged)
    st.in_tree = tree_structure(args)
    st.flat = [t._val for t in tracers]
    st._outputs(b, tracers, out, "grad", False)
    return st


def _grad_call(f, argnums, has_aux, state, args, kwargs, st=None, holomorphic=False):
    """Trace ``f`` on ``args`` (unless ``st``: that trace, from ``_repeat_call``);
    return its value, its auxiliary data and its gradient (structured like the
    ``argnums`` arguments). ``state``: the grad function's ``_GradState``; a new trace
    that repeats its last trace exactly runs that trace's program, without looking it
    up."""
    last = state.last if programs_enabled() else None
    if st is None:
        n = len(args)
        nums_of = state.nums
        if n not in nums_of:
            nums = _argnums(argnums, n, "grad")
            nums_of[n] = nums, nums == tuple(range(n))
            if nums_of[n][1]:
                state.every_n = n
        nums, every = nums_of[n]
        if every and not kwargs:
            st = _Staged(f, args, "grad", has_aux=has_aux, last=last)
        else:
            st = _Staged(_partial_args(f, args, nums, kwargs), tuple(args[i] for i in nums), "grad",
                         has_aux=has_aux, last=last)
    if st.out_tree.kind != "leaf":
        raise TypeError("grad requires the function to return a single scalar, but it returned a "
                        f"{st.out_tree}; use has_aux=True to return (loss, aux), or pdx.jacobian / "
                        "pdx.vjp for several outputs")
    out = st.out_flat[0]
    one = _ONES.get(type(out))          # a float64 (or float32) scalar: checked by its type
    if one is None:
        shape = np.shape(out)
        if shape != ():
            raise TypeError(f"grad requires a scalar output, but the function returned shape {shape}. "
                            "For a non-scalar output use pdx.jacobian (jacrev/jacfwd) or pdx.vjp "
                            "with a cotangent, or reduce it (e.g. pnp.sum) first.")
        dt = np.dtype(out.dtype) if hasattr(out, "dtype") else np.result_type(out)
        if holomorphic:
            _check_holomorphic(dt, st)
        elif dt.kind == "c":
            raise TypeError(f"grad requires a real-valued output, got dtype {dt}. Differentiate a real "
                            "function of it (pnp.real, pnp.abs), or pass holomorphic=True for the complex "
                            "derivative f'(z) of a holomorphic function")
        elif dt.kind != "f":
            raise TypeError(f"grad requires a floating-point output, got dtype {dt}")
        one = np.ones((), dtype=dt)[()]
    elif holomorphic:
        _check_holomorphic(np.dtype(type(out)), st)
    grads = tree_unflatten(st.in_tree, [finalize(x) for x in st.vjp_flat([one], last and last.prog)])
    prog = st.program
    if prog is not None and prog.repeatable and not st.builder.repeated:
        state.last = _Last(st.graph, prog)
    return st.out(), st.aux, grads[0] if isinstance(argnums, int) else grads


def _check_holomorphic(out_dtype, st):
    """holomorphic=True (JAX's meaning): complex inputs and a complex output; the gradient
    is then f'(z), the cotangent of the seed 1 + 0j, not conjugated."""
    if out_dtype.kind != "c":
        raise TypeError(f"grad(holomorphic=True) requires a complex output, got dtype {out_dtype}; "
                        "for a real-valued function drop holomorphic=True")
    for x in st.flat:
        dt = np.dtype(x.dtype) if hasattr(x, "dtype") else np.result_type(x)
        if dt.kind != "c":
            raise TypeError(f"grad(holomorphic=True) requires complex inputs, got dtype {dt}; "
                            "convert them first, e.g. x.astype(np.complex128)")


#: the seed cotangent of grad for a scalar output of these types (NumPy scalars are immutable)
_ONES = {np.float64: np.float64(1.0), np.float32: np.float32(1.0)}
_SEED = [_ONES[np.float64]]


def value_and_grad(f: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """``f`` and its gradient with respect to the ``argnums`` arguments, in one pass.

    Returns a function giving ``(value, grad)`` (``((value, aux), grad)`` with
    ``has_aux``); ``grad`` has the structure of the differentiated argument
    (a tuple of them when ``argnums`` is a tuple).
    """
    state = _GradState()
    single = isinstance(argnums, int)

    @functools.wraps(f)
    def vg(*args, **kwargs):
        st = None
        if not kwargs and not has_aux and not holomorphic:
            st = _repeat_call(f, state, args)
            if type(st) is tuple:
                value, grads = st
                return value, grads[0] if single else grads
        value, aux, grads = _grad_call(f, argnums, has_aux, state, args, kwargs, st, holomorphic)
        return ((value, aux) if has_aux else value), grads
    return vg


def grad(f: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The gradient of a scalar function with respect to argument ``argnums``.

    Complex inputs follow JAX: for a real-valued ``f`` of complex ``z = x + iy`` the
    gradient is ``df/dx - i df/dy`` (so a descent step is ``z - lr * conj(g)``); with
    ``holomorphic=True`` a complex-valued holomorphic ``f`` gives ``f'(z)``.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> pdx.grad(lambda x, y: x**2 + 3*x*y)(1.0, 2.0)
      8.0
      >>> pdx.grad(pdx.grad(pnp.sin))(0.0)
      -0.0
    """
    state = _GradState()
    single = isinstance(argnums, int)

    @functools.wraps(f)
    def g(*args, **kwargs):
        st = None
        if not kwargs and not has_aux and not holomorphic:
            st = _repeat_call(f, state, args)
            if type(st) is tuple:
                return st[1][0] if single else st[1]
        _, aux, grads = _grad_call(f, argnums, has_aux, state, args, kwargs, st, holomorphic)
        return (grads, aux) if has_aux else grads
    return g


# -- Jacobians -------------------------------------------------------------------------

def _size(x):
    return int(np.prod(np.shape(x), dtype=np.int64))


def _fmt_bytes(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bytes"


#: what a MemoryBudgetError of a dense Jacobian or Hessian suggests instead
_DENSE_ALTERNATIVES = (
    "Instead of the dense matrix, use products: pdx.hvp (Hessian-vector), pdx.jvp/pdx.vjp "
    "(Jacobian-vector), pdx.hessian_diag; pdx.sparse_hessian / pdx.sparse_jacobian if it is sparse; "
    "or raise memory_budget=<bytes>")


def _check_budget(n_out, n_in, dtype, fname, budget):
    nbytes = n_out * n_in * np.dtype(dtype).itemsize
    if nbytes > budget:
        raise MemoryBudgetError(
            f"{fname}: the dense result would take {_fmt_bytes(nbytes)} ({n_out} x {n_in} entries of "
            f"{np.dtype(dtype).name}), over the memory budget of {_fmt_bytes(budget)}. " + _DENSE_ALTERNATIVES
            + ". (chunk_size=<n> bounds the intermediates, and is already lowered to fit the budget, but not "
            "the result itself.)")


def _chunk_for_budget(lin, mode, n_tangents, result_bytes, chunk_size, fname, budget):
    """The chunk size of a dense Jacobian's passes: ``chunk_size`` (default: every
    (co)tangent in one pass), lowered so that the result plus one chunk's basis and
    batched intermediates stay within ``budget``; MemoryBudgetError when even one
    (co)tangent at a time would not."""
    if n_tangents <= 0:
        return chunk_size
    k = n_tangents if chunk_size is None else min(chunk_size, n_tangents)
    per = tangent_bytes(lin)
    room = budget - result_bytes
    if k * per <= room:
        return chunk_size
    if per <= room:
        return max(1, room // per)
    what = "tangent" if mode == "fwd" else "cotangent"
    raise MemoryBudgetError(
        f"{fname}: the dense result takes {_fmt_bytes(result_bytes)}, and computing it pushes {n_tangents} "
        f"{what}s through the derivative program, each holding another {_fmt_bytes(per)} (its basis row "
        f"and intermediates): even one at a time (chunk_size=1) the peak would be "
        f"{_fmt_bytes(result_bytes + per)}, over the memory budget of {_fmt_bytes(budget)}. "
        + _DENSE_ALTERNATIVES + ".")


def _basis(flat, k):
    """The k-th unit vector over the concatenation of the leaves in ``flat``."""
    out, start = [], 0
    for x in flat:
        n = _size(x)
        e = np.zeros(n, dtype=x.dtype)
        if start <= k < start + n:
            e[k - start] = 1
        out.append(e.reshape(np.shape(x)))
        start += n
    return out


def _check_chunk(chunk_size, fname):
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool)
                                   or chunk_size < 1):
        raise ValueError(f"{fname}: chunk_size must be a positive integer or None, got {chunk_size!r}")


def _complex_mode(mode, ins, outs, holomorphic, fname):
    """The mode a Jacobian with complex values can use (JAX's rules, and the choice
    JAX leaves to the user made here): a complex output needs forward mode, a complex
    input reverse mode; both, or holomorphic=True, need a holomorphic function."""
    c_in = any(np.dtype(x.dtype).kind == "c" for x in ins)
    c_out = any(np.dtype(getattr(o, "dtype", np.float64)).kind == "c" for o in outs)
    if holomorphic:
        if not (c_in and c_out and all(np.dtype(x.dtype).kind == "c" for x in ins)):
            raise TypeError(f"{fname}(holomorphic=True) requires complex inputs and complex outputs; "
                            "convert real inputs with x.astype(np.complex128), or drop holomorphic=True")
        return mode
    hint = (" For a holomorphic function pass holomorphic=True; otherwise differentiate with respect "
            "to the real and imaginary parts (f(x + 1j*y)) or use pdx.jvp / pdx.vjp directly.")
    if c_in and c_out:
        raise TypeError(f"{fname}: the function maps complex inputs to complex outputs, where a complex "
                        f"Jacobian exists only for holomorphic functions.{hint}")
    if c_out:
        if mode == "rev":
            raise TypeError(f"{fname}: a complex output needs forward mode (jacfwd); reverse mode "
                            f"requires real-valued outputs.{hint}")
        return "fwd"
    if c_in:
        if mode == "fwd":
            raise TypeError(f"{fname}: complex inputs need reverse mode (jacrev), which gives "
                            f"df/dx - i df/dy per output; forward mode requires real inputs.{hint}")
        return "rev"
    return mode


def _jacobian(f, argnums, has_aux, mode, fname, memory_budget, chunk_size=None, holomorphic=False):
    _check_chunk(chunk_size, fname)
    def jac(*args, **kwargs):
        nums = _argnums(argnums, len(args), fname)
        g = _partial_args(f, args, nums, kwargs)
        st = _Staged(g, tuple(args[i] for i in nums), fname, has_aux=has_aux)
        ins, outs = st.flat, st.out_flat
        n_in = sum(_size(x) for x in ins)
        n_out = sum(_size(o) for o in outs)
        out_dtypes = [np.dtype(getattr(o, "dtype", np.float64)) for o in outs]
        dt = np.result_type(*[x.dtype for x in ins], *out_dtypes) if ins else np.float64
        mode_ = _complex_mode(mode, ins, outs, holomorphic, fname) if holomorphic or np.dtype(dt).kind == "c" \
            else mode
        budget = memory_budget or MEMORY_BUDGET
        _check_budget(n_out, n_in, dt, fname, budget)
        m = mode_ if mode_ != "auto" else ("rev" if n_out < n_in else "fwd")
        if m not in ("fwd", "rev"):
            raise ValueError(f"{fname}: mode must be 'auto', 'fwd' or 'rev', got {mode!r}")
        # one batched pass over the basis (a chunk at a time, the chunk sized so that the
        # result and one chunk's intermediates fit the budget), not a Python loop
        chunk = _chunk_for_budget(st.lin, m, n_in if m == "fwd" else n_out, n_out * n_in * np.dtype(dt).itemsize,
                                  chunk_size, fname, budget)
        blocks = jacobian_blocks(st.lin, ins, outs, m, chunk)
        per_out = []
        for i in range(len(outs)):
            tree = tree_unflatten(st.in_tree, [finalize(b) for b in blocks[i]])
            per_out.append(tree[0] if isinstance(argnums, int) else tree)
        res = tree_unflatten(st.out_tree, per_out)
        return (res, st.aux) if has_aux else res
    return functools.wraps(f)(jac)


def jacfwd(f, argnums=0, has_aux=False, *, chunk_size=None, memory_budget=None, holomorphic=False):
    """Jacobian by forward mode: one JVP per input element.

    ``jacfwd(f)(x).shape == f(x).shape + x.shape``; pytrees nest like JAX
    (output structure outside, input structure inside). Complex values follow JAX:
    real inputs (outputs may be complex), or ``holomorphic=True``.
    """
    return _jacobian(f, argnums, has_aux, "fwd", "jacfwd", memory_budget, chunk_size, holomorphic)


def jacrev(f, argnums=0, has_aux=False, *, chunk_size=None, memory_budget=None, holomorphic=False):
    """Jacobian by reverse mode: one VJP per output element. Complex values follow JAX:
    real outputs (inputs may be complex: rows df/dx - i df/dy), or ``holomorphic=True``."""
    return _jacobian(f, argnums, has_aux, "rev", "jacrev", memory_budget, chunk_size, holomorphic)


def jacobian(f, argnums=0, has_aux=False, *, mode="auto", chunk_size=None, memory_budget=None,
             holomorphic=False):
    """Jacobian; ``mode="auto"`` uses reverse mode when there are fewer outputs than inputs
    (and the mode complex values allow: forward for complex outputs, reverse for complex
    inputs; both complex needs ``holomorphic=True``)."""
    return _jacobian(f, argnums, has_aux, mode, "jacobian", memory_budget, chunk_size, holomorphic)


def hessian(f, argnums=0, has_aux=False, *, chunk_size=None, memory_budget=None, holomorphic=False):
    """Hessian by forward-over-reverse: ``hessian(f)(x).shape == f(x).shape + x.shape + x.shape``.

    Examples:
      >>> import numpy as np, partiald as pdx, partiald.numpy as pnp
      >>> A = np.array([[1.0, 2.0], [0.0, 3.0]])
      >>> pdx.hessian(lambda x: x @ A @ x)(np.ones(2))
      array([[2., 2.],
             [2., 6.]])
    """
    _check_chunk(chunk_size, "hessian")
    inner = _jacobian(jacrev(f, argnums, has_aux=has_aux, chunk_size=chunk_size, memory_budget=memory_budget,
                             holomorphic=holomorphic),
                      argnums, has_aux, "fwd", "hessian", memory_budget, chunk_size, holomorphic)

    def hess(*args, **kwargs):
        # check the whole Hessian against the budget before computing any of it
        nums = _argnums(argnums, len(args), "hessian")
        n_in = sum(_size(x) for x in tree_flatten(tuple(args[i] for i in nums))[0])
        # the output's size from a trace of f (a forward pass; traced-only methods such as
        # x.at[i].set work in it), before any derivative is formed
        st = _Staged(_partial_args(f, args, nums, kwargs), tuple(args[i] for i in nums), "hessian",
                     has_aux=has_aux)
        outs = st.out_flat
        if not holomorphic and any(np.dtype(x.dtype).kind == "c" for x in st.flat):
            raise TypeError("hessian: complex inputs. The Hessian of a real function of complex z is a "
                            "real matrix over the real and imaginary parts: compute it as "
                            "pdx.hessian(lambda x, y: f(x + 1j*y), argnums=(0, 1)), or pass "
                            "holomorphic=True for f''(z) of a holomorphic f")
        n_out = sum(_size(o) for o in outs)
        dt = np.result_type(*[getattr(o, "dtype", np.float64) for o in outs]) if outs else np.float64
        _check_budget(n_out * n_in, n_in, dt, "hessian", memory_budget or MEMORY_BUDGET)
        return inner(*args, **kwargs)
    return functools.wraps(f)(hess)


def hvp(f, primals, tangents):
    """Hessian-vector product ``H(primals) @ tangents`` without forming H (forward over reverse).

    ``primals`` and ``tangents`` are tuples; the result is structured like the
    single primal, or a tuple when there are several.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("hvp(f, primals, tangents): primals and tangents must be tuples, e.g. hvp(f, (x,), (v,))")
    nums = tuple(range(len(primals)))
    g = grad(f, argnums=nums[0] if len(nums) == 1 else nums)
    return jvp(g, tuple(primals), tuple(tangents))[1]


def hessian_diag(f, argnums=0):
    """The diagonal of the Hessian of a scalar ``f`` (structured like the argument),
    from one linearization of the gradient, without forming H."""
    def diag(*args, **kwargs):
        nums = _argnums(argnums, len(args), "hessian_diag")
        g = grad(_partial_args(f, args, nums, kwargs), argnums=tuple(range(len(nums))))
        st = _Staged(g, tuple(args[i] for i in nums), "hessian_diag")
        ins = st.flat
        out = [np.zeros(_size(x), dtype=x.dtype) for x in ins]
        parts = [[] for _ in ins]
        start = 0
        offsets = []
        for x in ins:
            offsets.append(start)
            start += _size(x)
        for k in range(start):
            col = st.lin_jvp_flat(_basis(ins, k))
            j = max(i for i, o in enumerate(offsets) if o <= k)
            c = col[j]
            parts[j].append(pnp.reshape(c, (-1,))[k - offsets[j]] if c is not None else ins[j].dtype.type(0))
        res = []
        for j, x in enumerate(ins):
            vals = pnp.stack(parts[j]) if parts[j] else out[j]
            res.append(finalize(pnp.reshape(vals, np.shape(x))))
        tree = tree_unflatten(st.in_tree, res)
        return tree[0] if isinstance(argnums, int) else tree
    return functools.wraps(f)(diag)


def laplacian(f, argnums=0):
    """The trace of the Hessian (sum of unmixed second partials), without forming H."""
    def lap(*args, **kwargs):
        d = hessian_diag(f, argnums)(*args, **kwargs)
        leaves, _ = tree_flatten(d)
        total = leaves[0].sum() if hasattr(leaves[0], "sum") else leaves[0]
        for leaf in leaves[1:]:
            total = total + pnp.sum(leaf)
        return finalize(pnp.sum(total) if hasattr(total, "shape") and np.shape(total) else total)
    return functools.wraps(f)(lap)


# -- the traced program ------------------------------------------------------------------

def make_graph(f: Callable, static_argnums: Sequence[int] = ()):
    """A function returning the Graph that ``f`` records on the given arguments.

    Traced on concrete values, so Python control flow works and the printed
    Graph shows each variable's value. Python ``int`` and ``bool`` arguments,
    and those in ``static_argnums``, are treated as constants.

    Examples:
      >>> import partiald as pdx
      >>> print(pdx.make_graph(lambda x, y: x**2 + 3*x*y)(1.0, 2.0))
      graph(a:f64[], b:f64[]) {
        c:f64[] = integer_pow[n=2] a                   # 1.0
        d:f64[] = mul 3 a                              # 3.0
        e:f64[] = mul d b                              # 6.0
        f:f64[] = add c e                              # 7.0
        return f
      }
    """
    static = set(static_argnums)

    def make(*args, **kwargs):
        b = Builder("make_graph")
        invars = []

        def lift(x):
            if isinstance(x, (bool, int)) or isinstance(x, str) or x is None:
                return x
            a = np.asarray(x, dtype=np.float64) if isinstance(x, float) else np.asarray(x)
            if a.dtype == object:
                raise TypeError(f"make_graph: argument of type {type(x).__name__} is not an array; pass "
                                "NumPy arrays or numbers (or list its position in static_argnums)")
            t = b.new_arg(aval_of(a), a)
            invars.append(t._var)
            return t
        new_args = []
        for i, a in enumerate(args):
            if i in static:
                new_args.append(a)
            else:
                flat, tree = tree_flatten(a)
                new_args.append(tree_unflatten(tree, [lift(x) for x in flat]))
        out = f(*new_args, **kwargs)
        out_flat, _ = tree_flatten(out)
        return b.finish(invars, out_flat)
    return make


def stop_gradient(x: Any):
    """The value of ``x`` (a pytree), treated as a constant by every derivative."""
    flat, tree = tree_flatten(x)
    for v in flat:
        if not isinstance(v, (Tracer, np.ndarray, np.generic, int, float)):
            raise TypeError(f"stop_gradient: leaves must be arrays or numbers, got {type(v).__name__}")
    return tree_unflatten(tree, [pnp.stop_gradient(v) for v in flat])


def ravel_pytree(tree):
    """Flatten a pytree of arrays into one 1-D array.

    Returns ``(flat, unravel)`` where ``unravel(flat)`` rebuilds the tree with
    the original shapes and dtypes. Works on traced values too.
    """
    leaves, treedef = tree_flatten(tree)
    for x in leaves:
        if not isinstance(x, (Tracer, np.ndarray, np.generic, int, float, complex)):
            raise TypeError(f"ravel_pytree: leaves must be arrays or numbers, got {type(x).__name__} ({x!r:.40})")
    shapes = [np.shape(x) for x in leaves]
    dtypes = [x.dtype if hasattr(x, "dtype") else np.result_type(x) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    if leaves:
        flat = pnp.concatenate([pnp.reshape(x, (-1,)) for x in leaves])
    else:
        flat = np.zeros((0,))

    def unravel(v):
        if np.shape(v) != (sum(sizes),):
            raise ValueError(f"unravel expects shape {(sum(sizes),)}, got {np.shape(v)}")
        out, start = [], 0
        for shape, size, dt in zip(shapes, sizes, dtypes):
            piece = pnp.reshape(v[start:start + size], shape)
            if np.dtype(piece.dtype).kind == "c" and np.dtype(dt).kind != "c":
                piece = pnp.real(piece)          # a real leaf of a complex flat vector
            out.append(piece.astype(dt) if piece.dtype != dt else piece)
            start += size
        return tree_unflatten(treedef, out)
    return flat, unravel
