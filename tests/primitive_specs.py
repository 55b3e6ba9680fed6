"""PRIMITIVE_SPECS: one sampler per registered primitive (TESTING.md section 1).

Each :class:`Spec` declares the input domain, the margin kept from
singularities, the points to avoid (kinks, ties, jumps, branch cuts), whether
the primitive is analytic (the complex step applies), linear (checked with a
finite-difference step of 1.0) or non-differentiable by definition (zero
derivative), and a sampler returning :class:`Case` objects.

A Case is a function of float64 ``primals`` (the differentiated inputs) that
applies the primitive once through ``bind``; integer, boolean and dtype
operands are closed over. ``ref`` is the NumPy reference of the same function
(complex-capable when the case is analytic), and ``call`` records the raw
primitive call for the forward and abstract-evaluation checks.

Shapes follow TESTING.md: every elementwise primitive sees ``()``, ``(1,)``,
``(7,)``, ``(3,4)``, ``(2,3,4)``, ``(0,)`` and ``(1,0,3)``; binary ones the
broadcasting pairs of JAX's groups; reductions every axis choice; each shape
case is drawn with at least three fixed seeds.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

import math

import partiald.numpy as pnp
from partiald.core.primitive import REGISTRY, bind

SEEDS = (0, 1, 2)
MARGIN = 1e-2
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4), (0,), (1, 0, 3)]
_GROUP1 = [(), (3, 4), (3, 1), (1, 4)]
_GROUP2 = [(2, 3, 4), (2, 1, 4)]
BINARY_SHAPES = (list(itertools.product(_GROUP1, _GROUP1)) + list(itertools.product(_GROUP2, _GROUP2))
                 + [((1,), (1,)), ((7,), (7,)), ((0,), (0,)), ((0,), ()), ((1, 0, 3), (1, 0, 3))])


def _scipy_special(name):
    """``scipy.special.<name>`` for the complex step (None without SciPy: no complex step)."""
    try:
        import scipy.special as sp
    except ImportError:
        return None
    return getattr(sp, name)


@dataclass
class Case:
    """One sample: ``fn(*primals)`` applies the primitive; ``ref(*primals)`` is NumPy's answer."""

    prim: str
    group: str                      # the shape/parameter case; several seeds share it
    seed: int
    primals: tuple                  # float64 arrays, the differentiated inputs
    fn: Callable                    # traced function of the primals
    ref: Callable                   # NumPy reference of the same function
    call: tuple | None = None       # (args, params) of the raw bind, for forward/aval checks
    analytic: bool = False          # complex step applies (ref accepts complex input)
    linear: bool = False            # FD step 1.0
    zero: bool = False              # derivative exactly zero by definition
    fd: bool = True                 # central differences are a valid oracle
    low_precision: bool = False     # output is float32 although the primals are float64
    order2: bool = True             # in the second-order subset (singular det: a separate test)
    base: "Case | None" = None      # for a one-sided case: the case it closes over
    wrt: tuple = ()                 # ... and the primals of ``base`` it keeps

    @property
    def id(self):
        return f"{self.prim}[{self.group}]#{self.seed}"

    @property
    def size(self):
        return sum(int(np.size(p)) for p in self.primals)

    def astype(self, dtype):
        """The same case with every float input, primal or closed-over constant, cast to ``dtype``."""
        if self.base is not None:
            return partial_case(self.base.astype(dtype), self.wrt)
        return replace(self, primals=tuple(np.asarray(p, dtype=dtype) for p in self.primals))


@dataclass
class Spec:
    """How to sample one primitive."""

    name: str
    sampler: Callable[["Spec"], list]
    domain: tuple = (-3.0, 3.0)
    margin: float = MARGIN
    avoid: str = ""                 # the points kept at least ``margin`` away, in words
    analytic: bool = False
    linear: bool = False
    nondiff: bool = False           # derivative zero by definition
    edges: tuple = ()               # ((primals, params), ...) at singularities: zero-(co)tangent policy
    family: str = "other"           # unary, binary, reduction, structure, linalg, predicate
    extra: dict = field(default_factory=dict)

    def cases(self, seeds=SEEDS):
        """The samples; for several primals, also one-sided ones (the others closed over)."""
        out = self.sampler(self, seeds)
        groups = [c.group for c in out if len(c.primals) > 1]
        groups = list(dict.fromkeys(groups))
        chosen = set(groups[::max(1, len(groups) // 4)][:4])
        for c in list(out):
            if c.group in chosen:
                out += [partial_case(c, (i,)) for i in range(len(c.primals))]
        return out


def partial_case(case, wrt):
    """``case`` differentiated only with respect to the primals ``wrt``; the others are constants.

    This exercises the ``None``-tangent branches of the JVP rules and the
    transposes with constant operands."""
    full = case.primals

    def merge(p):
        args = list(full)
        for i, v in zip(wrt, p):
            args[i] = v
        return args
    return Case(case.prim, f"{case.group},wrt={wrt}", case.seed, tuple(full[i] for i in wrt),
                lambda *p: case.fn(*merge(p)), lambda *p: case.ref(*merge(p)), call=case.call,
                analytic=case.analytic, linear=case.linear, zero=case.zero, fd=case.fd,
                low_precision=case.low_precision, order2=case.order2, base=case, wrt=tuple(wrt))


# -- sampling helpers ----------------------------------------------------------------

def _rng(name, group, seed):
    key = sum(map(ord, f"{name}|{group}")) * 1000 + seed
    return np.random.default_rng(key)


def uniform(rng, shape, domain, margin=MARGIN, avoid=None):
    """Uniform on ``[low + margin, high - margin]``, redrawing entries where ``avoid(x)``."""
    lo, hi = domain[0] + margin, domain[1] - margin
    x = np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float64)
    if avoid is not None:
        for _ in range(1000):
            bad = np.asarray(avoid(x))
            if not bad.any():
                break
            x = np.where(bad, rng.uniform(lo, hi, size=shape), x)
        else:
            raise RuntimeError("sampler could not avoid the excluded points")
    return x


def near(points, margin=MARGIN):
    pts = np.asarray(points, dtype=np.float64)
    return lambda x: np.any(np.abs(np.asarray(x)[..., None] - pts) < margin, axis=-1)


def near_integers(offset=0.0, margin=MARGIN):
    def bad(x):
        y = np.asarray(x) - offset
        return np.abs(y - np.round(y)) < margin
    return bad


def distinct(rng, shape, domain=(-3.0, 3.0)):
    """Values with no two closer than about 0.4 * range / size (no ties for max/argmax)."""
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.zeros(shape)
    lo, hi = domain
    v = (rng.permutation(n) + rng.uniform(0.3, 0.7, size=n)) * ((hi - lo) / n) + lo
    return v.reshape(shape)


def _shape_str(*shapes):
    return ",".join(str(tuple(s)).replace(" ", "") for s in shapes)


def _apply(name, params):
    prim = REGISTRY[name]
    return lambda *xs: bind(prim, *xs, **params)


def _reduce_to(mask, shape):
    """``any`` of a broadcast mask over the axes that ``shape`` broadcasts along."""
    lead = mask.ndim - len(shape)
    m = mask.any(axis=tuple(range(lead))) if lead else mask
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and m.shape[i] != 1)
    return m.any(axis=axes, keepdims=True) if axes else m


# -- elementwise ------------------------------------------------------------------------

def unary_sampler(ref, cref=None, domain_fn=None, params=None, **flags):
    params = params or {}

    def sample(spec, seeds=SEEDS):
        out = []
        for shape in SHAPES:
            for seed in seeds:
                rng = _rng(spec.name, shape, seed)
                x = domain_fn(rng, shape) if domain_fn else uniform(rng, shape, spec.domain, spec.margin,
                                                                    spec.extra.get("avoid_fn"))
                out.append(Case(spec.name, _shape_str(shape), seed, (x,), _apply(spec.name, params),
                                ref, call=((x,), params), analytic=spec.analytic, linear=spec.linear,
                                zero=spec.nondiff, fd=flags.get("fd", True)))
        if cref is not None:
            for c in out:
                c.ref = cref
        return out
    return sample


def binary_sampler(ref, domains=None, avoid_fns=(None, None), pair_avoid=None, **flags):
    def sample(spec, seeds=SEEDS):
        out = []
        doms = domains or (spec.domain, spec.domain)
        for sx, sy in BINARY_SHAPES:
            for seed in seeds:
                rng = _rng(spec.name, (sx, sy), seed)
                x = uniform(rng, sx, doms[0], spec.margin, avoid_fns[0])
                y = uniform(rng, sy, doms[1], spec.margin, avoid_fns[1])
                if pair_avoid is not None:
                    for _ in range(1000):
                        bad = _reduce_to(np.asarray(pair_avoid(*np.broadcast_arrays(x, y))), sx)
                        if not bad.any():
                            break
                        x = np.where(bad, uniform(rng, sx, doms[0], spec.margin, avoid_fns[0]), x)
                    else:
                        raise RuntimeError("sampler could not avoid ties")
                out.append(Case(spec.name, _shape_str(sx, sy), seed, (x, y), _apply(spec.name, {}), ref,
                                call=((x, y), {}), analytic=spec.analytic, linear=spec.linear,
                                zero=spec.nondiff, **flags))
        return out
    return sample


def _logaddexp2_ref(a, b):
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        return _logaddexp_ref(a * np.log(2.0), b * np.log(2.0)) / np.log(2.0)
    return np.logaddexp2(a, b)


def _logaddexp_ref(a, b):
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        m = np.maximum(np.real(a), np.real(b))
        return m + np.log(np.exp(a - m) + np.exp(b - m))
    return np.logaddexp(a, b)


def integer_pow_sampler(spec, seeds=SEEDS):
    out = []
    for n in (0, 1, 2, 3, -2):
        for shape in SHAPES:
            for seed in seeds:
                rng = _rng(spec.name, (n, shape), seed)
                x = uniform(rng, shape, spec.domain, spec.margin, near([0.0], 0.1) if n < 0 else None)
                params = {"n": n}
                out.append(Case(spec.name, f"n={n},{_shape_str(shape)}", seed, (x,), _apply(spec.name, params),
                                lambda x, n=n: x ** n if n else np.ones_like(x), call=((x,), params),
                                analytic=True))
    return out


def convert_sampler(spec, seeds=SEEDS):
    out = []
    for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        for shape in SHAPES:
            for seed in seeds:
                rng = _rng(spec.name, (dtype.name, shape), seed)
                x = uniform(rng, shape, spec.domain)
                params = {"dtype": dtype}
                low = dtype == np.float32
                out.append(Case(spec.name, f"{dtype.name},{_shape_str(shape)}", seed, (x,),
                                _apply(spec.name, params),
                                (lambda x, d=dtype: np.asarray(x).astype(d)) if low
                                else (lambda x: np.asarray(x).astype(np.result_type(x, np.float64))),
                                call=((x,), params), analytic=not low, linear=True, low_precision=low))
    return out


def select_sampler(spec, seeds=SEEDS):
    out = []
    shapes = [(sc, sx, sy) for sx, sy in BINARY_SHAPES for sc in [np.broadcast_shapes(sx, sy)]]
    shapes += [((3, 1), (1, 4), ()), ((), (3, 4), (3, 4)), ((2, 1, 4), (3, 1), (2, 3, 4))]
    for sc, sx, sy in shapes:
        for seed in seeds:
            rng = _rng(spec.name, (sc, sx, sy), seed)
            c = rng.uniform(size=sc) < 0.5
            x, y = uniform(rng, sx, spec.domain), uniform(rng, sy, spec.domain)
            out.append(Case(spec.name, _shape_str(sc, sx, sy), seed, (x, y),
                            lambda x, y, c=c: bind(REGISTRY["select"], c, x, y),
                            lambda x, y, c=c: np.where(c, x, y), call=((c, x, y), {}),
                            analytic=True, linear=True))
    return out


_COMPARE_OPS = ("lt", "le", "gt", "ge", "eq", "ne")
_COMPARE_REF = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                "eq": np.equal, "ne": np.not_equal}


def compare_sampler(spec, seeds=SEEDS):
    # Seed 0 draws small integers, so ties (where eq/le/ge matter) occur; the
    # derivative is zero everywhere, also at ties, but central differences
    # are no oracle there. Other seeds draw continuous values.
    out = []
    for i, (sx, sy) in enumerate(BINARY_SHAPES):
        ops = _COMPARE_OPS if (sx, sy) == ((3, 4), (3, 4)) else (_COMPARE_OPS[i % 6],)
        for op in ops:
            for seed in seeds:
                rng = _rng(spec.name, (op, sx, sy), seed)
                if seed == 0:
                    x = rng.integers(-2, 3, size=sx).astype(np.float64)
                    y = rng.integers(-2, 3, size=sy).astype(np.float64)
                else:
                    x, y = uniform(rng, sx, spec.domain), uniform(rng, sy, spec.domain)
                ties = bool(np.any(np.abs(np.subtract(x, y)) < spec.margin))
                params = {"op": op}
                out.append(Case(spec.name, f"{op},{_shape_str(sx, sy)}", seed, (x, y), _apply(spec.name, params),
                                lambda x, y, op=op: _COMPARE_REF[op](x, y), call=((x, y), params), zero=True,
                                fd=not ties))
    return out


_LOGICAL_REF = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}


def logical_sampler(spec, seeds=SEEDS):
    # Boolean operands come from comparisons of float primals (away from the
    # threshold), so the derivative of the whole case is defined and zero.
    out = []
    cmp = REGISTRY["compare"]
    for i, (sx, sy) in enumerate(BINARY_SHAPES):
        ops = ("and", "or", "xor") if (sx, sy) == ((3, 4), (3, 4)) else (("and", "or", "xor")[i % 3],)
        for op in ops:
            for seed in seeds:
                rng = _rng(spec.name, (op, sx, sy), seed)
                x = uniform(rng, sx, spec.domain, avoid=near([0.0]))
                y = uniform(rng, sy, spec.domain, avoid=near([0.0]))
                params = {"op": op}

                def fn(x, y, op=op):
                    return bind(REGISTRY["logical"], bind(cmp, x, 0.0, op="gt"), bind(cmp, y, 0.0, op="gt"), op=op)
                out.append(Case(spec.name, f"{op},{_shape_str(sx, sy)}", seed, (x, y), fn,
                                lambda x, y, op=op: _LOGICAL_REF[op](x > 0, y > 0),
                                call=((x > 0, y > 0), params), zero=True))
    return out


def logical_not_sampler(spec, seeds=SEEDS):
    out = []
    for shape in SHAPES:
        for seed in seeds:
            rng = _rng(spec.name, shape, seed)
            x = uniform(rng, shape, spec.domain, avoid=near([0.0]))
            out.append(Case(spec.name, _shape_str(shape), seed, (x,),
                            lambda x: bind(REGISTRY["logical_not"], bind(REGISTRY["compare"], x, 0.0, op="gt")),
                            lambda x: np.logical_not(x > 0), call=((x > 0,), {}), zero=True))
    return out


def isfinite_sampler(spec, seeds=SEEDS):
    out = []
    specials = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e308])
    for shape in SHAPES:
        for seed in seeds:
            rng = _rng(spec.name, shape, seed)
            x = uniform(rng, shape, spec.domain)
            pick = rng.uniform(size=shape) < 0.4
            x = np.where(pick, specials[rng.integers(0, len(specials), size=shape)], x)
            out.append(Case(spec.name, _shape_str(shape), seed, (x,), _apply(spec.name, {}), np.isfinite,
                            call=((x,), {}), zero=True))
    return out


# -- reductions ----------------------------------------------------------------------------

def _axes_choices(ndim):
    """all, (0,), (-1 normalized,), (0, 1); normalized and sorted, duplicates removed."""
    out = [tuple(range(ndim))]
    if ndim >= 1:
        out += [(0,), (ndim - 1,)]
    if ndim >= 2:
        out.append((0, 1))
    seen = []
    for a in out:
        if a not in seen:
            seen.append(a)
    return seen


_PNP_REDUCE = {"reduce_sum": (pnp.sum, np.sum), "reduce_max": (pnp.max, np.max), "reduce_prod": (pnp.prod, np.prod)}


def reduce_sampler(spec, seeds=SEEDS):
    name = spec.name
    pnp_fn, np_fn = _PNP_REDUCE[name]
    is_max = name == "reduce_max"
    out = []

    def draw(rng, shape):
        return distinct(rng, shape) if is_max else uniform(rng, shape, spec.domain, spec.margin)

    for shape in SHAPES:
        for axes in _axes_choices(len(shape)):
            if is_max and any(shape[a] == 0 for a in axes):
                continue                            # no identity: NumPy raises
            for seed in seeds:
                x = draw(_rng(name, (shape, axes), seed), shape)
                params = {"axes": axes}
                out.append(Case(name, f"{_shape_str(shape)},axes={axes}", seed, (x,), _apply(name, params),
                                lambda x, axes=axes: np_fn(x, axis=axes), call=((x,), params),
                                analytic=spec.analytic, linear=spec.linear))
    # keepdims (and unnormalized axes) go through partiald.numpy's wrapper (reduce + reshape).
    for shape in [(7,), (3, 4), (2, 3, 4)]:
        for axis in (None, 0, -1, (0, 1)):
            if axis == (0, 1) and len(shape) < 2:
                continue
            for keepdims in (True, False):
                for seed in seeds:
                    x = draw(_rng(name, (shape, axis, keepdims), seed), shape)
                    out.append(Case(name, f"pnp,{_shape_str(shape)},axis={axis},keepdims={keepdims}", seed, (x,),
                                    lambda x, a=axis, k=keepdims: pnp_fn(x, axis=a, keepdims=k),
                                    lambda x, a=axis, k=keepdims: np_fn(x, axis=a, keepdims=k),
                                    analytic=spec.analytic, linear=spec.linear))
    return out


def argmax_sampler(spec, seeds=SEEDS):
    out = []
    for shape in SHAPES[1:]:
        for axis in sorted({0, len(shape) - 1}):
            if shape[axis] == 0:
                continue
            for seed in seeds:
                x = distinct(_rng(spec.name, (shape, axis), seed), shape)
                params = {"axis": axis}
                out.append(Case(spec.name, f"{_shape_str(shape)},axis={axis}", seed, (x,), _apply(spec.name, params),
                                lambda x, axis=axis: np.argmax(x, axis=axis), call=((x,), params), zero=True))
    return out


def cumsum_sampler(spec, seeds=SEEDS):
    """Every axis of the non-scalar shapes, forwards and reversed, plus pnp.cumsum (axis None)."""
    out = []
    for shape in SHAPES[1:]:
        for axis in range(len(shape)):
            for reverse in (False, True):
                for seed in seeds:
                    x = uniform(_rng(spec.name, (shape, axis, reverse), seed), shape, spec.domain, spec.margin)
                    params = {"axis": axis, "reverse": reverse}
                    ref = ((lambda x, axis=axis: np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)) if reverse
                           else (lambda x, axis=axis: np.cumsum(x, axis=axis)))
                    out.append(Case(spec.name, f"{_shape_str(shape)},axis={axis},reverse={reverse}", seed, (x,),
                                    _apply(spec.name, params), ref, call=((x,), params), analytic=True,
                                    linear=True))
    for shape in [(), (7,), (3, 4)]:
        for seed in seeds:
            x = uniform(_rng(spec.name, ("pnp", shape), seed), shape, spec.domain, spec.margin)
            out.append(Case(spec.name, f"pnp,{_shape_str(shape)},axis=None", seed, (x,),
                            lambda x: pnp.cumsum(x), lambda x: np.cumsum(x), analytic=True, linear=True))
    return out


def argsort_sampler(spec, seeds=SEEDS):
    out = []
    for shape in SHAPES[1:]:
        for axis in sorted({0, len(shape) - 1}):
            for seed in seeds:
                x = distinct(_rng(spec.name, (shape, axis), seed), shape)
                params = {"axis": axis}
                out.append(Case(spec.name, f"{_shape_str(shape)},axis={axis}", seed, (x,), _apply(spec.name, params),
                                lambda x, axis=axis: np.argsort(x, axis=axis, kind="stable"), call=((x,), params),
                                zero=True))
    return out


# -- the Fourier transform ------------------------------------------------------------------

def _complex_of(re, im):
    """``re + 1j im`` in the complex dtype of the pair (complex64 for float32 parts)."""
    dt = np.result_type(pnp._dtype(re), pnp._dtype(im), np.complex64)
    return pnp.astype(re, dt) + pnp.astype(im, dt) * np.asarray(1j, dt)


def _re_im(y):
    return pnp.stack([pnp.real(y), pnp.imag(y)])


_FFTS = [("FFT", (7,), (7,)), ("FFT", (3, 4), (4,)), ("FFT", (2, 3, 4), (3, 4)), ("FFT", (1,), (1,)),
         ("FFT", (0, 3), (3,)), ("IFFT", (6,), (6,)), ("IFFT", (3, 5), (3, 5)),
         ("RFFT", (8,), (8,)), ("RFFT", (7,), (7,)), ("RFFT", (3, 4), (4,)), ("RFFT", (3, 5), (3, 5)),
         ("RFFT", (2, 3, 4), (3, 4)), ("RFFT", (1,), (1,)), ("RFFT", (2,), (2,)),
         ("IRFFT", (5,), (8,)), ("IRFFT", (4,), (7,)), ("IRFFT", (3, 3), (4,)), ("IRFFT", (3, 3), (3, 5)),
         ("IRFFT", (2, 3, 3), (3, 4)), ("IRFFT", (1,), (1,)), ("IRFFT", (2,), (2,))]


def _fft_case(spec, row, seed, rng):
    """Real primals only: a complex input is built from two real ones, a complex output is
    returned as its real and imaginary parts stacked (the record's own call is kept for the
    forward and abstract-evaluation checks)."""
    kind, shape, lengths = row
    prim = REGISTRY[spec.name]
    params = {"fft_type": kind, "fft_lengths": lengths}
    axes = tuple(range(-len(lengths), 0))
    group = f"{kind},{_shape_str(shape)},lengths={lengths}"
    if kind == "RFFT":
        x = uniform(rng, shape, spec.domain, spec.margin)
        return Case(spec.name, group, seed, (x,), lambda x: _re_im(bind(prim, x, **params)),
                    lambda x: np.stack([np.real(np.fft.rfftn(x, axes=axes)), np.imag(np.fft.rfftn(x, axes=axes))]),
                    call=((x,), params), linear=True)
    re, im = uniform(rng, shape, spec.domain, spec.margin), uniform(rng, shape, spec.domain, spec.margin)
    z = re + 1j * im
    if kind == "IRFFT":
        return Case(spec.name, group, seed, (re, im), lambda a, b: bind(prim, _complex_of(a, b), **params),
                    lambda a, b: np.fft.irfftn(a + np.asarray(1j, np.result_type(a, b, np.complex64)) * b,
                                               s=lengths, axes=axes),
                    call=((z,), params), linear=True)
    ref = np.fft.fftn if kind == "FFT" else np.fft.ifftn

    def ref_fn(a, b):
        y = ref(a + np.asarray(1j, np.result_type(a, b, np.complex64)) * b, axes=axes)
        return np.stack([np.real(y), np.imag(y)])
    return Case(spec.name, group, seed, (re, im), lambda a, b: _re_im(bind(prim, _complex_of(a, b), **params)),
                ref_fn, call=((z,), params), linear=True)


# -- structure ------------------------------------------------------------------------------

def _structural(rows, make):
    """A sampler over ``rows`` (one shape/parameter case each) times SEEDS."""
    def sample(spec, seeds=SEEDS):
        out = []
        for row in rows:
            for seed in seeds:
                out.append(make(spec, row, seed, _rng(spec.name, repr(row), seed)))
        return out
    return sample


_RESHAPES = [((), (1,)), ((), (1, 1)), ((1,), ()), ((7,), (7, 1)), ((7,), (1, 7)), ((3, 4), (12,)),
             ((3, 4), (4, 3)), ((3, 4), (2, 6)), ((2, 3, 4), (6, 4)), ((2, 3, 4), (24,)), ((2, 3, 4), (4, 3, 2)),
             ((0,), (0, 1)), ((0,), (3, 0)), ((1, 0, 3), (0,)), ((1, 0, 3), (3, 0, 1))]


def _reshape_case(spec, row, seed, rng):
    src, dst = row
    x = uniform(rng, src, spec.domain)
    params = {"shape": dst}
    return Case(spec.name, f"{_shape_str(src)}->{_shape_str(dst)}", seed, (x,), _apply(spec.name, params),
                lambda x: np.reshape(x, dst), call=((x,), params), analytic=True, linear=True)


_BROADCASTS = [((), ()), ((), (3, 4)), ((1,), (5,)), ((1,), (0,)), ((7,), (2, 7)), ((3, 1), (3, 4)),
               ((1, 4), (2, 3, 4)), ((3, 4), (2, 3, 4)), ((2, 1, 4), (2, 3, 4)), ((0,), (2, 0)), ((1, 0, 3), (2, 0, 3))]


def _broadcast_case(spec, row, seed, rng):
    src, dst = row
    x = uniform(rng, src, spec.domain)
    params = {"shape": dst}
    return Case(spec.name, f"{_shape_str(src)}->{_shape_str(dst)}", seed, (x,), _apply(spec.name, params),
                lambda x: np.broadcast_to(x, dst).copy(), call=((x,), params), analytic=True, linear=True)


_TRANSPOSES = [((), ()), ((1,), (0,)), ((7,), (0,)), ((3, 4), (1, 0)), ((3, 4), (0, 1)), ((2, 3, 4), (2, 0, 1)),
               ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (0, 2, 1)), ((2, 3, 4), (2, 1, 0)), ((0,), (0,)),
               ((1, 0, 3), (2, 0, 1))]


def _transpose_case(spec, row, seed, rng):
    src, perm = row
    x = uniform(rng, src, spec.domain)
    params = {"perm": perm}
    return Case(spec.name, f"{_shape_str(src)},perm={perm}", seed, (x,), _apply(spec.name, params),
                lambda x: np.transpose(x, perm).copy(), call=((x,), params), analytic=True, linear=True)


_CONCATS = [([(7,)], 0), ([(3,), (4,)], 0), ([(2, 3), (4, 3)], 0), ([(3, 1), (3, 4), (3, 2)], 1),
            ([(2, 3, 4), (2, 1, 4)], 1), ([(2, 3, 4), (2, 3, 1)], 2), ([(0,), (3,)], 0), ([(0,), (0,)], 0),
            ([(1, 0, 3), (1, 2, 3)], 1), ([(1, 0, 3), (1, 0, 3)], 0)]


def _concat_ref(*xs, axis):
    # Independent of np.concatenate: place each block in a preallocated result.
    shape = list(np.shape(xs[0]))
    shape[axis] = sum(np.shape(x)[axis] for x in xs)
    out = np.zeros(shape, dtype=np.result_type(*xs))
    start = 0
    for x in xs:
        idx = [slice(None)] * len(shape)
        idx[axis] = slice(start, start + np.shape(x)[axis])
        out[tuple(idx)] = x
        start += np.shape(x)[axis]
    return out


def _concat_case(spec, row, seed, rng):
    shapes, axis = row
    xs = tuple(uniform(rng, s, spec.domain) for s in shapes)
    params = {"axis": axis}
    return Case(spec.name, f"{_shape_str(*shapes)},axis={axis}", seed, xs, _apply(spec.name, params),
                lambda *xs: _concat_ref(*xs, axis=axis), call=(xs, params), analytic=True, linear=True)


def _ar(*v):
    return np.array(v, dtype=np.int64)


# (x shape, index spec, index arrays). Index entries: ("int", i) | ("slice", start, stop, step) |
# ("none",) | ("array", k), k numbering the integer-array operands after x.
_GATHERS = [
    ((7,), (("int", 3),), ()),
    ((7,), (("int", -1),), ()),
    ((7,), (("slice", 1, 6, 2),), ()),
    ((7,), (("slice", None, None, -1),), ()),
    ((7,), (("array", 0),), (_ar(0, 2, 2, 6, -1),)),                     # repeated and negative indices
    ((7,), (("array", 0),), (np.zeros(0, np.int64),)),                   # empty result
    ((), (("none",),), ()),
    ((3, 4), (("slice", None, None, None), ("array", 0)), (_ar(3, 0, 3),)),
    ((3, 4), (("array", 0), ("array", 1)), (_ar(0, 2).reshape(2, 1), _ar(1, 3, 3))),  # broadcast index arrays
    ((3, 4), (("none",), ("int", 1), ("slice", None, None, None)), ()),
    ((2, 3, 4), (("int", 1), ("slice", 0, 2, None), ("array", 0)), (_ar(0, 3, 3),)),  # split advanced: dims first
    ((2, 3, 4), (("slice", None, None, None), ("array", 0), ("array", 1)), (_ar(0, 2), _ar(1, 1))),
    ((0,), (("slice", None, None, None),), ()),
    ((1, 0, 3), (("int", 0), ("slice", None, None, None), ("array", 0)), (_ar(2, 2),)),
]


def _np_index(spec, arrays):
    out = []
    for e in spec:
        if e[0] == "int":
            out.append(e[1])
        elif e[0] == "slice":
            out.append(slice(*e[1:]))
        elif e[0] == "none":
            out.append(None)
        else:
            out.append(arrays[e[1]])
    return tuple(out)


def _gather_case(spec_, row, seed, rng):
    shape, spec, arrays = row
    x = uniform(rng, shape, spec_.domain)
    idx = _np_index(spec, arrays)
    params = {"spec": spec}
    return Case(spec_.name, f"{_shape_str(shape)},{spec}", seed, (x,),
                lambda x: bind(REGISTRY["gather"], x, *arrays, spec=spec),
                lambda x: np.asarray(x)[idx].copy(), call=((x, *arrays), params), analytic=True, linear=True)


def _scatter_ref(ct, shape, idx):
    # Independent of np.add.at: map each cotangent slot to its flat target and sum.
    size = int(np.prod(shape, dtype=np.int64))
    target = np.arange(size).reshape(shape)[idx]
    out = np.zeros(size, dtype=np.result_type(ct))
    for t, v in zip(np.ravel(target), np.ravel(np.broadcast_to(ct, np.shape(target)))):
        out[t] += v
    return out.reshape(shape)


def _scatter_case(spec_, row, seed, rng):
    shape, spec, arrays = row
    idx = _np_index(spec, arrays)
    ct_shape = np.shape(np.zeros(shape)[idx])
    ct = uniform(rng, ct_shape, spec_.domain)
    params = {"spec": spec, "shape": shape}
    return Case(spec_.name, f"{_shape_str(shape)},{spec}", seed, (ct,),
                lambda ct: bind(REGISTRY["scatter_add"], ct, *arrays, **params),
                lambda ct: _scatter_ref(ct, shape, idx), call=((ct, *arrays), params), analytic=True, linear=True)


_EINSUMS = [("ij,jk->ik", [(3, 4), (4, 2)]), ("ij,j->i", [(3, 4), (4,)]), ("i,i->", [(7,), (7,)]),
            ("ij->ji", [(3, 4)]), ("ij->", [(3, 4)]), ("ijk,ikl->ijl", [(2, 3, 4), (2, 4, 2)]),
            ("i,j->ij", [(3,), (4,)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
            ("ij,k->k", [(2, 3), (4,)]), ("ij,jk->ik", [(3, 0), (0, 2)]), (",->", [(), ()]),
            (",i->i", [(), (4,)]), ("ij,ij->ij", [(3, 4), (3, 4)]),
            # safe=True: 0 * inf = 0 (derivative rules use it); on finite inputs, the same einsum
            ("ij,jk->ik", [(3, 4), (4, 2)], True), ("ij->ji", [(3, 4)], True), ("i,j->ij", [(3,), (4,)], True)]


def _einsum_case(spec_, row, seed, rng):
    spec, shapes, *safe = row
    xs = tuple(uniform(rng, s, spec_.domain) for s in shapes)
    params = {"spec": spec, **({"safe": True} if safe else {})}
    label = f"{spec},{_shape_str(*shapes)}" + (",safe" if safe else "")
    return Case(spec_.name, label, seed, xs, _apply(spec_.name, params),
                lambda *xs: np.einsum(spec, *xs), call=(xs, params), analytic=True)


def _well_conditioned(rng, n):
    return rng.uniform(-1.0, 1.0, size=(n, n)) + 2.0 * np.eye(n)


def _solve_case(spec, row, seed, rng):
    n, bshape = row
    a = _well_conditioned(rng, n)
    b = uniform(rng, bshape, spec.domain)
    return Case(spec.name, f"n={n},b={_shape_str(bshape)}", seed, (a, b), _apply(spec.name, {}),
                np.linalg.solve, call=((a, b), {}), analytic=True)


def _singular(rng, n, rank):
    """A random n x n matrix of the given rank (det and its first derivative stay defined)."""
    u = rng.uniform(-1.0, 1.0, size=(n, rank))
    v = rng.uniform(-1.0, 1.0, size=(rank, n))
    return u @ v


def _det_case(spec, row, seed, rng):
    n, rank = row
    a = _well_conditioned(rng, n) if rank == n else _singular(rng, n, rank)
    return Case(spec.name, f"n={n},rank={rank}", seed, (a,), _apply(spec.name, {}), np.linalg.det,
                call=((a,), {}), analytic=True, order2=rank == n)


def _adjugate_ref(a):
    # adj(A) = det(A) inv(A) for invertible A (complex-capable, for the complex step)
    a = np.asarray(a)
    if a.shape[0] == 0:
        return a.copy()
    return np.linalg.det(a) * np.linalg.inv(a)


def _adjugate_case(spec, n, seed, rng):
    a = _well_conditioned(rng, n)
    return Case(spec.name, f"n={n}", seed, (a,), _apply(spec.name, {}), _adjugate_ref, call=((a,), {}),
                analytic=True)



def _spd(rng, n):
    """A well-conditioned symmetric positive definite n x n matrix."""
    b = rng.uniform(-1.0, 1.0, size=(n, n))
    return b @ b.T / max(n, 1) + np.eye(n)


def _sym_distinct(rng, n):
    """A symmetric n x n matrix with eigenvalues at least 0.7 apart."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = np.arange(n) - (n - 1) / 2 + rng.uniform(-0.15, 0.15, size=n)
    a = (q * w) @ q.T
    return (a + a.T) / 2


def _cholesky_case(spec, n, seed, rng):
    a = _spd(rng, n)
    return Case(spec.name, f"n={n}", seed, (a,), _apply(spec.name, {}), np.linalg.cholesky, call=((a,), {}))


def _logabsdet_case(spec, n, seed, rng):
    a = _well_conditioned(rng, n)
    return Case(spec.name, f"n={n}", seed, (a,), _apply(spec.name, {}), lambda a: np.linalg.slogdet(a)[1],
                call=((a,), {}))


def _slogdet_sign_case(spec, n, seed, rng):
    a = _well_conditioned(rng, n) * np.where(np.arange(n) == 0, -1.0, 1.0)[:, None]
    return Case(spec.name, f"n={n}", seed, (a,), _apply(spec.name, {}), lambda a: np.linalg.slogdet(a)[0],
                call=((a,), {}), zero=True)


def _eigh_v_ref(a):
    w, v = np.linalg.eigh(a)
    if v.shape[-1] == 0:
        return v
    idx = np.argmax(np.abs(v), axis=0)
    return v * np.where(v[idx, np.arange(v.shape[1])] < 0, -1.0, 1.0).astype(v.dtype)


def _eigh_case(spec, n, seed, rng):
    a = _sym_distinct(rng, n)
    ref = (lambda a: np.linalg.eigh(a)[0]) if spec.name == "eigh_w" else _eigh_v_ref
    return Case(spec.name, f"n={n}", seed, (a,), _apply(spec.name, {}), ref, call=((a,), {}))


def _eig_distinct(rng, shape):
    """A (stack of) real non-symmetric matrices S diag(w) S^-1 with real eigenvalues at least
    0.7 apart and a well-conditioned S."""
    *batch, n, _ = shape
    s = np.eye(n) + 0.3 * rng.normal(size=tuple(batch) + (n, n))
    w = np.arange(n) - (n - 1) / 2 + rng.uniform(-0.15, 0.15, size=tuple(batch) + (n,))
    return np.linalg.solve(np.swapaxes(s, -1, -2), np.swapaxes(s * w[..., None, :], -1, -2)).swapaxes(-1, -2)


def _eig_ref(name):
    """NumPy's eig with partiald's conventions: complex, each eigenvector's largest component
    (the first such) real and positive; as real and imaginary parts stacked."""
    def ref(a):
        w, v = np.linalg.eig(a)
        ct = np.result_type(a.dtype, np.complex64)
        v = v.astype(ct)
        if name == "eig_w" or v.size == 0:
            y = (w if name == "eig_w" else v).astype(ct)
        else:
            piv = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
            y = v * (np.conj(piv) / np.abs(piv)).astype(ct)
        return np.stack([np.real(y), np.imag(y)])
    return ref


def _eig_case(spec, row, seed, rng):
    shape, cplx = row
    prim = REGISTRY[spec.name]
    a = _eig_distinct(rng, shape)
    ref = _eig_ref(spec.name)
    if not cplx:
        return Case(spec.name, f"{_shape_str(shape)}", seed, (a,), lambda a: _re_im(bind(prim, a)), ref,
                    call=((a,), {}))
    im = 0.2 * rng.normal(size=shape)                  # a complex matrix near the real one
    return Case(spec.name, f"{_shape_str(shape)},complex", seed, (a, im),
                lambda a, b: _re_im(bind(prim, _complex_of(a, b))), lambda a, b: ref(a + 1j * b),
                call=((a + 1j * im,), {}))


def _sqrtm_ref(a):
    import scipy.linalg as sla
    ct = np.result_type(a.dtype, np.complex64)
    if a.size == 0:
        return np.zeros((2,) + a.shape, np.empty(0, ct).real.dtype)
    flat = a.reshape((-1,) + a.shape[-2:])
    y = np.array([sla.sqrtm(m) for m in flat], dtype=ct).reshape(a.shape)
    return np.stack([np.real(y), np.imag(y)])


def _sqrtm_case(spec, shape, seed, rng):
    """Symmetric matrices with eigenvalues in [0.5, 2.5] and [-2.5, -0.5] (a complex root)."""
    *batch, n, _ = shape
    q, _ = np.linalg.qr(rng.normal(size=tuple(batch) + (n, n)))
    w = rng.uniform(0.5, 2.5, size=tuple(batch) + (n,)) * np.where(np.arange(n) % 2, -1.0, 1.0)
    a = (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)
    prim = REGISTRY[spec.name]
    return Case(spec.name, _shape_str(shape), seed, (a,), lambda a: _re_im(bind(prim, a)), _sqrtm_ref,
                call=((a,), {}))


def _distinct_sv(rng, shape):
    """A (stack of) matrices of ``shape`` with singular values >= 1 and at least 0.5 apart."""
    *batch, m, n = shape
    k = min(m, n)
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        u, _ = np.linalg.qr(rng.normal(size=(m, k)))
        v, _ = np.linalg.qr(rng.normal(size=(n, k)))
        s = 1.0 + 0.7 * np.arange(k)[::-1] + rng.uniform(-0.1, 0.1, size=k)
        out[idx] = (u * s) @ v.T
    return out


def _svd_ref(which, full):
    def ref(a):
        u, s, vh = np.linalg.svd(a, full_matrices=full)
        if which == "s":
            return s
        if u.shape[-1] and u.shape[-2]:
            idx = np.argmax(np.abs(u), axis=-2)[..., None, :]
            sg = np.where(np.take_along_axis(u, idx, axis=-2) < 0, -1.0, 1.0).astype(u.dtype)
            u = u * sg
            k = min(u.shape[-1], vh.shape[-2])
            vh = np.concatenate([vh[..., :k, :] * sg[..., 0, :k, None], vh[..., k:, :]], axis=-2)
        return u if which == "u" else vh
    return ref


def _svd_case(spec, row, seed, rng):
    shape, full = row
    a = _distinct_sv(rng, shape)
    which = spec.name[4:]
    params = {} if which == "s" else {"full_matrices": full}
    return Case(spec.name, f"{_shape_str(shape)},full={full}", seed, (a,), _apply(spec.name, params),
                _svd_ref(which, full), call=((a,), params))


def _qr_case(spec, shape, seed, rng):
    a = _distinct_sv(rng, shape)
    k = 0 if spec.name == "qr_q" else 1
    return Case(spec.name, _shape_str(shape), seed, (a,), _apply(spec.name, {}),
                lambda a: np.linalg.qr(a)[k], call=((a,), {}))


def _pinv_case(spec, shape, seed, rng):
    a = _distinct_sv(rng, shape)
    params = {"rcond": 1e-12}
    return Case(spec.name, _shape_str(shape), seed, (a,), _apply(spec.name, params),
                lambda a: np.linalg.pinv(a, rcond=1e-12), call=((a,), params))


def _stacked_case(make_one):
    """A case of a stacked record: a batch of the matrices ``make_one(rng, n)`` draws."""
    def case(spec, row, seed, rng):
        batch, n = row
        a = np.stack([make_one(rng, n) for _ in range(int(np.prod(batch)))]).reshape(batch + (n, n))
        base = {"cholesky": np.linalg.cholesky, "logabsdet": lambda a: np.linalg.slogdet(a)[1],
                "eigh_w": lambda a: np.linalg.eigh(a)[0]}
        ref = base.get(spec.name)
        if spec.name == "eigh_v":
            def ref(a):
                v = np.linalg.eigh(a)[1]
                idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
                return v * np.where(np.take_along_axis(v, idx, axis=-2) < 0, -1.0, 1.0).astype(v.dtype)
        return Case(spec.name, f"stack={batch},n={n}", seed, (a,), _apply(spec.name, {}), ref,
                    call=((a,), {}))
    return case


def _solve_stacked_case(spec, row, seed, rng):
    batch, n, k = row
    a = np.stack([_well_conditioned(rng, n) for _ in range(int(np.prod(batch)))]).reshape(batch + (n, n))
    b = rng.uniform(-1.0, 1.0, size=batch + (n, k))
    return Case(spec.name, f"stack={batch},n={n},k={k}", seed, (a, b), _apply(spec.name, {}),
                np.linalg.solve, call=((a, b), {}), analytic=True)


def _stack_of(make, batch, n):
    """A stack ``batch + (n, n)`` of the matrices ``make()`` draws (empty batches too)."""
    mats = [make() for _ in range(int(np.prod(batch)))]
    return (np.stack(mats) if mats else np.zeros((0, n, n))).reshape(batch + (n, n))


def _det_stacked_case(spec, row, seed, rng):
    batch, n, rank = row
    make = (lambda: _well_conditioned(rng, n)) if rank == n else (lambda: _singular(rng, n, rank))
    a = _stack_of(make, batch, n)
    return Case(spec.name, f"stack={batch},n={n},rank={rank}", seed, (a,), _apply(spec.name, {}),
                np.linalg.det, call=((a,), {}), analytic=True, order2=rank == n)


def _adjugate_stacked_ref(a):
    # adj(A) = det(A) inv(A) per matrix (invertible matrices, complex-capable)
    a = np.asarray(a)
    if a.size == 0:
        return a.copy()
    return np.linalg.det(a)[..., None, None] * np.linalg.inv(a)


def _adjugate_stacked_case(spec, row, seed, rng):
    batch, n = row
    a = _stack_of(lambda: _well_conditioned(rng, n), batch, n)
    return Case(spec.name, f"stack={batch},n={n}", seed, (a,), _apply(spec.name, {}), _adjugate_stacked_ref,
                call=((a,), {}), analytic=True)


def _scipy_ref(name):
    """``scipy.special.<name>`` as the reference (imported when a case runs)."""
    import scipy.special as sp
    return getattr(sp, name)


# records with constant leading operands (the Bessel order v, the shapes a and b of
# gammainc / gammaincc / betainc): the constants are closed over, x is the primal; scalar
# constants on every shape, then constant arrays broadcasting against x
_CONST_GROUPS = [((3, 1), (4,)), ((4,), (3, 4)), ((2, 1, 4), (3, 1))]


def const_sampler(consts, **flags):
    """``consts``: tuples of scalar constants; the array groups draw them from the same values."""
    def sample(spec, seeds=SEEDS):
        out = []
        prim = REGISTRY[spec.name]
        rows = [(c, shape) for c in consts for shape in SHAPES]
        for cshape, xshape in _CONST_GROUPS:
            rows.append((tuple(np.resize(np.asarray([k[i] for k in consts], dtype=np.float64), cshape)
                               for i in range(len(consts[0]))), xshape))
        for c, shape in rows:
            label = ",".join(str(np.shape(k)) if np.ndim(k) else f"{k:g}" for k in c)
            for seed in seeds:
                rng = _rng(spec.name, (label, shape), seed)
                x = uniform(rng, shape, spec.domain, spec.margin)

                def ref(x, c=c):
                    out = np.asarray(_scipy_ref(spec.name)(*c, x))
                    return out.astype(np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.float64)
                out.append(Case(spec.name, f"{label},{_shape_str(shape)}", seed, (x,),
                                lambda x, c=c: bind(prim, *c, x), ref, call=(tuple(c) + (x,), {}), **flags))
        return out
    return sample


def _const_spec(name, consts, domain, avoid):
    return Spec(name, const_sampler(consts), domain=domain, family="binary", avoid=avoid)


def _lgamma(x):
    # math.lgamma element by element, in x's float dtype
    return np.vectorize(math.lgamma, otypes=[float])(x).astype(np.asarray(x).dtype)


def _trigamma(x):
    # sum_k 1/(x+k)^2: the first 1000 terms, then the Euler-Maclaurin tail (error ~ 1e-17),
    # in x's float dtype
    dt = np.asarray(x).dtype
    x = np.asarray(x, dtype=float)
    k = np.arange(1000.0).reshape((-1,) + (1,) * x.ndim)
    t = x + 1000.0
    out = np.sum(1.0 / (x + k) ** 2, axis=0) + 1.0 / t + 0.5 / t**2 + 1.0 / (6.0 * t**3)
    return out.astype(dt)


# -- the table --------------------------------------------------------------------------------

def _unary(name, ref, domain=(-3.0, 3.0), cref=None, **kw):
    analytic = kw.pop("analytic", True)
    fd = kw.pop("fd", True)
    avoid_fn = kw.pop("avoid_fn", None)
    spec = Spec(name, None, domain=domain, analytic=analytic, extra={"avoid_fn": avoid_fn}, family="unary", **kw)
    spec.sampler = unary_sampler(ref, cref, fd=fd)
    return spec


def _binary(name, ref, **kw):
    sampler_kw = {k: kw.pop(k) for k in ("domains", "avoid_fns", "pair_avoid") if k in kw}
    spec = Spec(name, None, family="binary", **kw)
    spec.sampler = binary_sampler(ref, **sampler_kw)
    return spec


def _edge(*primals, **params):
    return (tuple(np.array(p, dtype=np.float64) for p in primals), params)


_DIAG_DOMINANT = "singular matrices (diagonally dominant samples)"

PRIMITIVE_SPECS: dict[str, Spec] = {s.name: s for s in [
    # linear elementwise
    _binary("add", np.add, analytic=True, linear=True),
    _binary("sub", np.subtract, analytic=True, linear=True),
    _unary("neg", np.negative, linear=True),
    Spec("select", select_sampler, family="binary", analytic=True, linear=True,
         avoid="none: the condition is a constant"),
    Spec("convert", convert_sampler, family="unary", analytic=True, linear=True),
    # products and other binary primitives
    _binary("mul", np.multiply, analytic=True),
    _binary("safe_mul", np.multiply, analytic=True),
    _binary("div", np.true_divide, analytic=True, avoid="y = 0", avoid_fns=(None, near([0.0])),
            edges=(_edge([1.0, -2.0, 0.0], [0.0, 0.0, 0.0]),)),
    Spec("integer_pow", integer_pow_sampler, family="unary", analytic=True, avoid="x = 0 for n < 0 (margin 0.1)",
         edges=(_edge([0.0, -0.0], n=-2), _edge([0.0, -0.0], n=0))),
    _binary("pow", np.power, analytic=True, domains=((0.0, 3.0), (-2.0, 2.0)),
            avoid="x <= 0 (x**y is complex for x < 0, singular at 0)",
            edges=(_edge([0.0, 0.0, 0.0, 2.0, -1.0], [0.5, 0.0, -1.0, 0.0, 0.5]),)),
    _binary("maximum", np.maximum, avoid="ties x = y", pair_avoid=lambda x, y: np.abs(x - y) < MARGIN),
    _binary("minimum", np.minimum, avoid="ties x = y", pair_avoid=lambda x, y: np.abs(x - y) < MARGIN),
    _binary("fmax", np.fmax, avoid="ties x = y (NaN operands: the edge cases)",
            pair_avoid=lambda x, y: np.abs(x - y) < MARGIN,
            edges=(_edge([np.nan, 1.0, np.nan], [1.0, np.nan, np.nan]),)),
    _binary("fmin", np.fmin, avoid="ties x = y (NaN operands: the edge cases)",
            pair_avoid=lambda x, y: np.abs(x - y) < MARGIN,
            edges=(_edge([np.nan, 1.0, np.nan], [1.0, np.nan, np.nan]),)),
    _binary("arctan2", np.arctan2, avoid="y = 0 (branch cut for x < 0) and x = 0",
            avoid_fns=(near([0.0]), near([0.0])), edges=(_edge([0.0], [0.0]),)),
    _binary("rem", np.remainder, avoid="the jumps where x / y is an integer, and y = 0",
            avoid_fns=(None, near([0.0], 0.5)), pair_avoid=lambda x, y: np.abs(x - y * np.round(x / y)) < MARGIN),
    _binary("floor_divide", np.floor_divide, nondiff=True, avoid="the jumps where x / y is an integer, and y = 0",
            avoid_fns=(None, near([0.0], 0.5)), pair_avoid=lambda x, y: np.abs(x - y * np.round(x / y)) < MARGIN),
    _binary("logaddexp", _logaddexp_ref, analytic=True,
            edges=(_edge([-np.inf, np.inf, 0.0], [-np.inf, np.inf, -np.inf]),)),
    _binary("logaddexp2", _logaddexp2_ref, analytic=True,
            edges=(_edge([-np.inf, np.inf, 0.0], [-np.inf, np.inf, -np.inf]),)),
    # predicates: boolean or integer outputs, zero derivative
    Spec("compare", compare_sampler, family="predicate", nondiff=True, avoid="none: ties are sampled on purpose"),
    Spec("logical", logical_sampler, family="predicate", nondiff=True,
         avoid="the threshold 0 of the comparisons feeding it"),
    Spec("logical_not", logical_not_sampler, family="predicate", nondiff=True,
         avoid="the threshold 0 of the comparison feeding it"),
    Spec("isfinite", isfinite_sampler, family="predicate", nondiff=True,
         avoid="none: inf and nan are sampled on purpose"),
    # unary
    _unary("exp", np.exp, edges=(_edge([710.0, 1000.0, -1000.0]),)),
    _unary("log", np.log, domain=(0.0, 5.0), avoid="x <= 0", edges=(_edge([0.0, -1.0]),)),
    _unary("log1p", np.log1p, domain=(-1.0, 4.0), avoid="x <= -1", edges=(_edge([-1.0, -2.0]),)),
    _unary("expm1", np.expm1),
    _unary("sin", np.sin, domain=(-4.0, 4.0)),
    _unary("cos", np.cos, domain=(-4.0, 4.0)),
    _unary("tan", np.tan, domain=(-np.pi / 2, np.pi / 2), avoid="poles at +-pi/2"),
    _unary("tanh", np.tanh),
    _unary("sinh", np.sinh, edges=(_edge([1000.0, -1000.0]),)),
    _unary("cosh", np.cosh, edges=(_edge([1000.0, -1000.0]),)),
    _unary("arcsin", np.arcsin, domain=(-1.0, 1.0), avoid="|x| >= 1", edges=(_edge([1.0, -1.0, 2.0]),)),
    _unary("arccos", np.arccos, domain=(-1.0, 1.0), avoid="|x| >= 1", edges=(_edge([1.0, -1.0, 2.0]),)),
    _unary("arctan", np.arctan, domain=(-4.0, 4.0)),
    # erf and erfc: scipy.special's (complex-capable: the complex step checks the derivative);
    # test_records.py checks the values against the math module as well
    _unary("erf", np.vectorize(math.erf, otypes=[float]), cref=_scipy_special("erf")),
    _unary("erfc", np.vectorize(math.erfc, otypes=[float]), cref=_scipy_special("erfc")),
    # gammaln and polygamma (n = 1, trigamma, by its own series: the derivative runs n = 2)
    _unary("gammaln", _lgamma, domain=(0.0, 5.0), avoid="x <= 0 (poles)",
           analytic=False),
    Spec("polygamma", unary_sampler(_trigamma, params={"n": 1}), domain=(0.0, 5.0), family="unary",
         analytic=False, avoid="x <= 0 (poles)"),
    # partiald/ops/special.py: inverse error functions, gamma, modified Bessel i0/i1 (references:
    # scipy.special, or math.gamma / np.i0)
    _unary("erfinv", lambda x: _scipy_ref("erfinv")(x), domain=(-1.0, 1.0), avoid="|x| >= 1",
           analytic=False, edges=(_edge([1.0, -1.0]),)),
    _unary("erfcinv", lambda x: _scipy_ref("erfcinv")(x), domain=(0.0, 2.0), avoid="x <= 0, x >= 2",
           analytic=False, edges=(_edge([0.0, 2.0]),)),
    _unary("gamma", lambda x: np.vectorize(math.gamma, otypes=[float])(x).astype(np.asarray(x).dtype),
           domain=(0.0, 5.0), avoid="x <= 0 (poles)",
           analytic=False),
    _unary("i0", lambda x: np.i0(x), analytic=False),
    _unary("i1", lambda x: _scipy_ref("i1")(x), analytic=False),
    # Bessel functions and the incomplete gamma/beta functions (partiald/ops/special.py),
    # differentiable in x; the orders / shapes are closed-over constants
    _unary("j0", lambda x: _scipy_ref("j0")(x), domain=(-4.0, 4.0), analytic=False),
    _unary("j1", lambda x: _scipy_ref("j1")(x), domain=(-4.0, 4.0), analytic=False),
    _unary("y0", lambda x: _scipy_ref("y0")(x), domain=(0.2, 4.0), avoid="x <= 0", analytic=False),
    _unary("y1", lambda x: _scipy_ref("y1")(x), domain=(0.2, 4.0), avoid="x <= 0", analytic=False),
    _const_spec("jv", [(0.0,), (1.0,), (2.5,), (-1.5,)], (0.2, 4.0), "x <= 0 (complex for non-integer v)"),
    _const_spec("yv", [(0.0,), (2.0,), (1.5,)], (0.2, 4.0), "x <= 0"),
    _const_spec("iv", [(0.0,), (1.0,), (2.5,)], (0.2, 4.0), "x <= 0 (complex for non-integer v)"),
    _const_spec("ive", [(0.0,), (3.0,), (0.5,)], (0.2, 4.0), "x <= 0 (complex for non-integer v)"),
    _const_spec("kv", [(0.0,), (2.0,), (0.5,)], (0.2, 4.0), "x <= 0"),
    _const_spec("kve", [(0.0,), (1.0,), (2.5,)], (0.2, 4.0), "x <= 0"),
    _const_spec("gammainc", [(1.0,), (2.5,), (0.7,)], (0.1, 5.0), "x <= 0"),
    _const_spec("gammaincc", [(1.0,), (3.0,), (0.7,)], (0.1, 5.0), "x <= 0"),
    _const_spec("betainc", [(2.0, 3.0), (0.8, 1.5), (1.0, 1.0)], (0.0, 1.0), "x <= 0, x >= 1"),
    _unary("log2", np.log2, domain=(0.0, 5.0), avoid="x <= 0"),
    _unary("log10", np.log10, domain=(0.0, 5.0), avoid="x <= 0"),
    _unary("exp2", np.exp2),
    _unary("cbrt", np.cbrt, analytic=False, avoid="x = 0 (infinite derivative)",
           avoid_fn=near([0.0], 0.1)),
    _unary("arcsinh", np.arcsinh),
    _unary("arccosh", np.arccosh, domain=(1.0, 4.0), avoid="x <= 1"),
    _unary("arctanh", np.arctanh, domain=(-1.0, 1.0), avoid="|x| >= 1"),
    _binary("hypot", np.hypot, analytic=False, avoid="x = y = 0 (a cone's tip)",
            pair_avoid=lambda x, y: np.hypot(x, y) < 0.1),
    _unary("logistic", lambda x: 1.0 / (1.0 + np.exp(-x)), domain=(-6.0, 6.0),
           edges=(_edge([1000.0, -1000.0, np.inf, -np.inf]),)),
    _unary("sqrt", np.sqrt, domain=(0.0, 5.0), avoid="x <= 0", edges=(_edge([0.0, -0.0, -1.0]),)),
    _unary("abs", np.abs, analytic=False, avoid="the kink at 0", avoid_fn=near([0.0])),
    _unary("sign", np.sign, analytic=False, nondiff=True, avoid="the jump at 0", avoid_fn=near([0.0])),
    _unary("floor", np.floor, analytic=False, nondiff=True, avoid="integers", avoid_fn=near_integers()),
    _unary("ceil", np.ceil, analytic=False, nondiff=True, avoid="integers", avoid_fn=near_integers()),
    _unary("fabs", np.fabs, analytic=False, avoid="the kink at 0", avoid_fn=near([0.0])),
    # complex parts, on the sweep's real inputs (complex inputs: tests/test_complex.py)
    _unary("real", np.real, linear=True, analytic=False),
    _unary("imag", np.imag, linear=True, analytic=False),
    _unary("conj", np.conjugate, linear=True, analytic=False),
    _unary("round", np.round, analytic=False, nondiff=True, avoid="half-integers", avoid_fn=near_integers(0.5)),
    _unary("stop_gradient", lambda x: np.array(x, copy=True), analytic=False, nondiff=True, fd=False,
           avoid="none: FD is not its oracle (its derivative is zero by definition)"),
    # reductions
    Spec("reduce_sum", reduce_sampler, family="reduction", analytic=True, linear=True),
    Spec("reduce_max", reduce_sampler, family="reduction", avoid="ties within a reduced group (distinct values)"),
    Spec("reduce_prod", reduce_sampler, family="reduction", domain=(-1.5, 1.5), analytic=True),
    Spec("argmax", argmax_sampler, family="predicate", nondiff=True, avoid="ties (distinct values)"),
    # scans and orderings along one axis
    Spec("cumsum", cumsum_sampler, family="reduction", analytic=True, linear=True),
    Spec("argsort", argsort_sampler, family="predicate", nondiff=True, avoid="ties (distinct values)"),
    # structure
    Spec("reshape", _structural(_RESHAPES, _reshape_case), family="structure", analytic=True, linear=True),
    Spec("broadcast_to", _structural(_BROADCASTS, _broadcast_case), family="structure", analytic=True, linear=True),
    Spec("transpose", _structural(_TRANSPOSES, _transpose_case), family="structure", analytic=True, linear=True),
    Spec("concatenate", _structural(_CONCATS, _concat_case), family="structure", analytic=True, linear=True),
    Spec("gather", _structural(_GATHERS, _gather_case), family="structure", analytic=True, linear=True),
    Spec("scatter_add", _structural(_GATHERS, _scatter_case), family="structure", analytic=True, linear=True),
    Spec("einsum", _structural(_EINSUMS, _einsum_case), family="structure", analytic=True),
    Spec("fft", _structural(_FFTS, _fft_case), family="structure", linear=True,
         avoid="none: linear (complex inputs as two real primals, complex outputs as real and imaginary parts)"),
    # linear algebra
    Spec("solve", _structural([(1, (1,)), (3, (3,)), (4, (4,)), (3, (3, 2)), (0, (0,)), (2, (2, 0))], _solve_case),
         family="linalg", analytic=True, avoid=_DIAG_DOMINANT),
    Spec("det", _structural([(1, 1), (2, 2), (3, 3), (4, 4), (0, 0), (3, 2), (2, 1), (3, 1)], _det_case),
         family="linalg", analytic=True, avoid="none: singular matrices are sampled on purpose (det is a polynomial)"),
    Spec("adjugate", _structural([1, 2, 3, 4, 0], _adjugate_case), family="linalg", analytic=True,
         avoid=_DIAG_DOMINANT + "; its derivative at singular matrices is a separate test"),
    Spec("cholesky", _structural([1, 2, 3, 4, 0], _cholesky_case), family="linalg",
         avoid="non-SPD matrices (b b^T / n + I); the lower triangle is read"),
    Spec("logabsdet", _structural([1, 2, 3, 4, 0], _logabsdet_case), family="linalg", avoid=_DIAG_DOMINANT),
    Spec("slogdet_sign", _structural([1, 2, 3, 0], _slogdet_sign_case), family="linalg", nondiff=True,
         avoid="singular matrices (the sign jumps there)"),
    Spec("eigh_w", _structural([1, 2, 3, 4, 0], _eigh_case), family="linalg",
         avoid="repeated eigenvalues (gaps >= 0.7); the lower triangle is read"),
    Spec("eigh_v", _structural([1, 2, 3, 4, 0], _eigh_case), family="linalg",
         avoid="repeated eigenvalues (gaps >= 0.7) and ties of the largest |component| (sign rule)"),
    Spec("sqrtm", _structural([(1, 1), (2, 2), (3, 3), (2, 3, 3), (0, 0)], _sqrtm_case), family="linalg",
         avoid="zero eigenvalues and eigenvalue pairs with roots summing to 0 (|w| >= 0.5)"),
    Spec("eig_w", _structural([((1, 1), False), ((3, 3), False), ((2, 3, 3), False), ((3, 3), True),
                               ((0, 0), False)], _eig_case), family="linalg",
         avoid="repeated eigenvalues (gaps >= 0.7, well-conditioned eigenvectors)"),
    Spec("eig_v", _structural([((1, 1), False), ((3, 3), False), ((2, 3, 3), False), ((3, 3), True),
                               ((0, 0), False)], _eig_case), family="linalg",
         avoid="repeated eigenvalues (gaps >= 0.7) and ties of the largest |component| (phase rule)"),
    # svd / qr / pinv (stacked rows for the older linalg records: see _STACKED_LINALG below)
    Spec("svd_s", _structural([((3, 3), False), ((4, 2), False), ((2, 4), False), ((1, 1), False),
                               ((2, 3, 3), False), ((0, 0), False)], _svd_case), family="linalg",
         avoid="repeated singular values (gaps >= 0.5)"),
    Spec("svd_u", _structural([((3, 3), False), ((3, 3), True), ((4, 2), False), ((2, 4), False),
                               ((2, 3, 2), False), ((0, 0), False)], _svd_case), family="linalg",
         avoid="repeated or zero singular values (gaps >= 0.5, s >= 0.8) and sign-rule ties"),
    Spec("svd_vh", _structural([((3, 3), False), ((3, 3), True), ((4, 2), False), ((2, 4), False),
                                ((2, 3, 2), False), ((0, 0), False)], _svd_case), family="linalg",
         avoid="repeated or zero singular values (gaps >= 0.5, s >= 0.8) and sign-rule ties"),
    Spec("qr_q", _structural([(3, 3), (4, 2), (2, 4), (2, 3, 2), (0, 0)], _qr_case), family="linalg",
         avoid="rank-deficient matrices (singular values >= 0.8)"),
    Spec("qr_r", _structural([(3, 3), (4, 2), (2, 4), (2, 3, 2), (0, 0)], _qr_case), family="linalg",
         avoid="rank-deficient matrices (singular values >= 0.8)"),
    Spec("pinv", _structural([(3, 3), (4, 2), (2, 4), (2, 3, 2), (0, 0)], _pinv_case), family="linalg",
         avoid="rank changes (singular values >= 0.8)"),
]}


# stacked (..., n, n) rows for the linear-algebra records that take stacks: the same
# records, sampled on batches (vmap of these then batches a stack)
def _chain_samplers(first, second):
    def sample(spec, seeds=SEEDS):
        return first(spec, seeds) + second(spec, seeds)
    return sample


_STACKED_LINALG = {
    "solve": _structural([((2,), 3, 2), ((2, 1), 2, 1)], _solve_stacked_case),
    "cholesky": _structural([((2,), 3), ((1, 2), 2)], _stacked_case(_spd)),
    "logabsdet": _structural([((2,), 3)], _stacked_case(_well_conditioned)),
    "eigh_w": _structural([((2,), 3)], _stacked_case(_sym_distinct)),
    "eigh_v": _structural([((2,), 3)], _stacked_case(_sym_distinct)),
    "det": _structural([((2,), 2, 2), ((2,), 3, 3), ((2, 1), 4, 4), ((2,), 3, 2), ((3,), 4, 2), ((2,), 1, 1),
                        ((0,), 3, 3), ((2,), 0, 0)], _det_stacked_case),
    "adjugate": _structural([((2,), 1), ((2,), 2), ((2,), 3), ((2, 1), 4), ((2,), 5), ((0,), 3)],
                            _adjugate_stacked_case),
}
for _name, _sampler in _STACKED_LINALG.items():
    PRIMITIVE_SPECS[_name].sampler = _chain_samplers(PRIMITIVE_SPECS[_name].sampler, _sampler)
