"""The primitive registry sweep (TESTING.md section 1), an OpInfo equivalent.

Every registered primitive has a sampler in ``PRIMITIVE_SPECS``
(tests/primitive_specs.py); one parametrized test runs each check over every
sample of one primitive, so a failure names the primitive, the check and the
sample. The checks and their thresholds:

* forward value vs the NumPy reference: ``rtol=1e-12, atol=1e-15*scale(f)``,
  equal NaN and inf positions; ``abstract_eval`` agrees with the output;
* JVP and VJP vs central differences (``h = 1e-6*max(1, |x|inf)``, 1.0 for
  linear primitives), fast mode (random unit direction, VJP as ``<u, J v>``)
  and slow mode (the full Jacobian for inputs of at most 20 elements):
  ``|AD - FD| <= 1e-6*scale(f) + 1e-6*|FD|`` (fast-mode VJP: the same bound
  summed with weights ``|u_i|``);
* complex step (analytic primitives): ``rel <= 1e-10``;
* transpose identity ``<u, J v> == <J^T u, v>`` to ``1e-12*sum|u_i (Jv)_i|``
  (floored at ``1e-15*sum|u_i|*|v|inf`` for derivatives that cancel to 0);
* linearity in the cotangent and the tangent: ``rel <= 1e-12``;
* a zero (co)tangent gives exactly 0.0, also at singular points;
* non-differentiable-by-definition primitives have exactly zero derivatives;
* float32 keeps its dtype; values agree with float64 to ``rtol 1e-5``,
  gradients to ``2e-3`` (section 4), no finite differences in float32; a
  float32 input meeting float64 constants still gets a float32 gradient;
* determinism (bitwise), no mutation of inputs or cotangents, no aliasing
  (gradients vs cotangent, inputs and each other; forward and JVP outputs vs
  inputs and tangents);
* second order through ``check_grads(order=2)`` on a few samples per
  primitive, third order (``atol = rtol = 1e-5``) for exp sin tanh mul pow log.

Multi-input primitives are also sampled one-sided (the other operands closed
over as constants), which reaches the ``None``-tangent branches of the rules.
Hypothesis adds fresh seeds per primitive family on top of the fixed ones.
The checker ``pdx.check_grads`` is itself mutation-tested at the end.
Engine bugs found here are listed in ``KNOWN_BUGS`` (strict xfail).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_specs import BINARY_SHAPES, PRIMITIVE_SPECS, SEEDS, SHAPES, Case

import partiald as pdx
from partiald.check import check_grads
from partiald.core.graph import ShapedArray
from partiald.core.primitive import REGISTRY, Primitive, bind
from partiald.ops.common import float_elementwise_aval
from partiald.ops.elementwise import ANALYTIC

CONVERT = REGISTRY["convert"]

FD_TOL = 1e-6                 # |AD - FD| <= FD_TOL * scale(f) + FD_TOL * |FD|
CS_TOL = 1e-10                # complex step
EXACT_TOL = 1e-12             # transpose identity, linearity
LOW_TOL = 1e-5                # the same identities when an output is float32
F32_VALUE_RTOL = 1e-5
F32_GRAD_RTOL = 2e-3
SLOW_MODE_MAX = 20

# Engine bugs found by this module: (primitive, check) -> reason. Marked
# xfail(strict=True) so they show up until src/ is fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {
}


# -- case preparation ------------------------------------------------------------------

_cache: dict[str, list] = {}


def cases_of(name) -> list[Case]:
    if name not in _cache:
        _cache[name] = PRIMITIVE_SPECS[name].cases()
    return _cache[name]


def _is_float(x):
    return np.result_type(x).kind == "f"


def dfn(case):
    """The case as a float-valued function (boolean/integer outputs converted to float64)."""
    out = case.fn(*case.primals)
    if _is_float(out):
        return case.fn
    return lambda *p: bind(CONVERT, case.fn(*p), dtype=np.dtype(np.float64))


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _eval(f, primals):
    return _f64(f(*primals))


def _scale(out):
    out = _f64(out)
    fin = np.abs(out[np.isfinite(out)])
    return max(1.0, float(fin.max())) if fin.size else 1.0


def _unit_direction(rng, primals):
    d = [rng.standard_normal(np.shape(p)) for p in primals]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in d))
    return [(v / norm if norm > 0 else v).astype(np.result_type(p)) for v, p in zip(d, primals)]


def _basis(primals, k):
    out, start = [], 0
    for p in primals:
        e = np.zeros(np.size(p), dtype=np.result_type(p))
        if start <= k < start + np.size(p):
            e[k - start] = 1
        out.append(e.reshape(np.shape(p)))
        start += np.size(p)
    return out


def _cotangent(rng, out):
    out = np.asarray(out)
    return rng.standard_normal(out.shape).astype(out.dtype)


def _jvp(f, primals, tangents):
    return np.asarray(pdx.jvp(f, tuple(primals), tuple(tangents))[1])


def _vjp(f, primals, ct):
    return [np.asarray(g) for g in pdx.vjp(f, *primals)[1](ct)]


def _dot(a, b):
    return sum(float(np.sum(_f64(x) * _f64(y))) for x, y in zip(a, b))


def _fd(f, primals, direction, linear):
    """Central difference along ``direction``, in float64; step 1.0 * scale for linear primitives."""
    xs = [_f64(p) for p in primals]
    mags = [np.abs(x[np.isfinite(x)]) for x in xs]
    h = (1.0 if linear else 1e-6) * max([1.0] + [float(m.max()) for m in mags if m.size])
    plus = _eval(f, [x + h * _f64(d) for x, d in zip(xs, direction)])
    minus = _eval(f, [x - h * _f64(d) for x, d in zip(xs, direction)])
    return (plus - minus) / (2 * h)


def _complex_step(ref, primals, direction):
    return np.imag(ref(*[_f64(p) + 1e-20j * _f64(d) for p, d in zip(primals, direction)])) * 1e20


def _fd_failure(ad, fd, scale, what):
    """None, or a message naming the worst component, when ``|AD - FD| > 1e-6 scale + 1e-6 |FD|``."""
    ad, fd = _f64(ad), _f64(fd)
    if ad.shape != fd.shape:
        return f"{what}: AD shape {ad.shape} != FD shape {fd.shape}"
    if ad.size == 0:
        return None
    err = np.abs(ad - fd)
    tol = FD_TOL * scale + FD_TOL * np.abs(fd)
    excess = np.where(np.isnan(err), np.inf, err - tol)
    k = int(np.argmax(excess))
    if excess.flat[k] > 0:
        idx = np.unravel_index(k, ad.shape) if ad.shape else ()
        return (f"{what}: worst index {tuple(map(int, idx))}: AD = {ad.flat[k]!r}, FD = {fd.flat[k]!r}, "
                f"|AD - FD| = {err.flat[k]:.3g} > {tol.flat[k]:.3g}")
    return None


def _bytes(xs):
    return [(np.asarray(x).dtype.str, np.shape(x), np.asarray(x).tobytes()) for x in xs]


# -- the checks: each takes a Case and raises AssertionError ---------------------------------

def check_forward(case):
    out = case.fn(*case.primals)
    expected = case.ref(*case.primals)
    assert np.shape(out) == np.shape(expected), f"shape {np.shape(out)} != reference {np.shape(expected)}"
    assert np.result_type(out) == np.result_type(expected), \
        f"dtype {np.result_type(out)} != reference {np.result_type(expected)}"
    assert isinstance(out, (np.ndarray, np.generic)), f"output of type {type(out).__name__}"
    if np.result_type(out).kind in "fc":
        np.testing.assert_array_equal(np.isnan(out), np.isnan(expected), err_msg="NaN positions differ")
        np.testing.assert_array_equal(np.isinf(out), np.isinf(expected), err_msg="inf positions differ")
        fin = np.isfinite(expected)
        np.testing.assert_allclose(np.asarray(out)[fin], np.asarray(expected)[fin], rtol=1e-12,
                                   atol=1e-15 * _scale(expected))
        inf = np.isinf(expected)
        np.testing.assert_array_equal(np.asarray(out)[inf], np.asarray(expected)[inf])
    else:
        np.testing.assert_array_equal(out, expected)


def _aval_arg(a):
    if isinstance(a, (bool, int, float, complex)):
        return a
    return ShapedArray(np.shape(a), np.result_type(a))


def check_abstract_eval(case):
    if case.call is None:
        return
    args, params = case.call
    prim = REGISTRY[case.prim]
    out = bind(prim, *args, **params)
    aval = prim.abstract_eval(*[_aval_arg(a) for a in args], **params)
    assert aval.shape == np.shape(out), f"abstract_eval shape {aval.shape} != actual {np.shape(out)}"
    assert aval.dtype == np.result_type(out), f"abstract_eval dtype {aval.dtype} != actual {np.result_type(out)}"


def _directions(case, rng):
    """The random unit direction (fast mode), then every basis vector if the input is small (slow mode)."""
    dirs = [("random unit direction", _unit_direction(rng, case.primals))]
    if case.size <= SLOW_MODE_MAX:
        dirs += [(f"basis vector {k}", _basis(case.primals, k)) for k in range(case.size)]
    return dirs


def check_jvp_fd(case):
    f = dfn(case)
    scale = _scale(_eval(f, case.primals))
    for label, v in _directions(case, np.random.default_rng(case.seed)):
        msg = _fd_failure(_jvp(f, case.primals, v), _fd(f, case.primals, v, case.linear), scale,
                          f"JVP vs FD along {label}")
        assert msg is None, msg


def check_vjp_fd(case):
    f = dfn(case)
    out = _eval(f, case.primals)
    scale = _scale(out)
    rng = np.random.default_rng(case.seed)
    # fast mode: <J^T u, v> vs <u, FD v>
    u = _cotangent(rng, f(*case.primals))
    v = _unit_direction(rng, case.primals)
    fd = _fd(f, case.primals, v, case.linear)
    lhs = _dot(_vjp(f, case.primals, u), v)
    rhs = _dot([u], [fd])
    tol = float(np.sum(np.abs(_f64(u)) * (FD_TOL * scale + FD_TOL * np.abs(fd))))
    assert abs(lhs - rhs) <= tol, \
        f"<J^T u, v> = {lhs!r} (AD) but <u, FD v> = {rhs!r}; diff {abs(lhs - rhs):.3g} > {tol:.3g}"
    # slow mode: every row of J from the VJP vs the FD Jacobian
    if case.size <= SLOW_MODE_MAX and out.size:
        jac_fd = np.zeros((out.size, case.size))
        for k in range(case.size):
            jac_fd[:, k] = _fd(f, case.primals, _basis(case.primals, k), case.linear).ravel()
        out_dtype = np.asarray(f(*case.primals)).dtype
        for i in range(out.size):
            e = np.zeros(out.size, dtype=out_dtype)
            e[i] = 1
            row = np.concatenate([g.ravel() for g in _vjp(f, case.primals, e.reshape(out.shape))] or [np.zeros(0)])
            msg = _fd_failure(row, jac_fd[i], scale, f"VJP row {i} vs FD Jacobian")
            assert msg is None, msg


def check_complex_step(case):
    if not case.analytic:
        return
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    for label, v in _directions(case, rng):
        ad = _f64(_jvp(f, case.primals, v))
        cs = _complex_step(case.ref, case.primals, v)
        rel = np.abs(ad - cs) / np.maximum(1.0, np.abs(cs))
        assert not rel.size or rel.max() <= CS_TOL, \
            f"JVP vs complex step along {label}: rel {rel.max():.3g}; AD {ad.ravel()[:6]}, CS {cs.ravel()[:6]}"
    u = _cotangent(rng, f(*case.primals))
    v = _unit_direction(rng, case.primals)
    cs = _complex_step(case.ref, case.primals, v)
    lhs, rhs = _dot(_vjp(f, case.primals, u), v), _dot([u], [cs])
    denom = max(1.0, float(np.sum(np.abs(_f64(u) * cs))))
    assert abs(lhs - rhs) <= CS_TOL * denom, f"<J^T u, v> = {lhs!r} but <u, CS v> = {rhs!r}"


def check_transpose(case):
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    u = _cotangent(rng, f(*case.primals))
    v = _unit_direction(rng, case.primals)
    jv = _jvp(f, case.primals, v)
    lhs = _dot([u], [jv])
    rhs = _dot(_vjp(f, case.primals, u), v)
    # 1e-12 * sum|u_i (Jv)_i|, floored at 1e-15 * sum|u_i| * |v|inf: where J v cancels to exactly 0
    # in one mode (adjugate of a 1x1 matrix), the other mode may leave a rounding residue.
    scale = max(float(np.sum(np.abs(_f64(u) * _f64(jv)))),
                1e-3 * float(np.sum(np.abs(_f64(u)))) * max([0.0] + [float(np.max(np.abs(x))) for x in v if x.size]))
    tol = (LOW_TOL if case.low_precision else EXACT_TOL) * scale
    assert abs(lhs - rhs) <= tol, f"<u, J v> = {lhs!r} but <J^T u, v> = {rhs!r}; diff {abs(lhs - rhs):.3g} > {tol:.3g}"


def _rel_close(got, want, tol, what):
    got, want = _f64(got), _f64(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.size:
        rel = np.abs(got - want) / np.maximum(1.0, np.abs(want))
        assert rel.max() <= tol, f"{what}: rel {rel.max():.3g} > {tol:g}"


def check_linearity(case):
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    tol = LOW_TOL if case.low_precision else EXACT_TOL
    a, b = 0.75, -1.25
    out = f(*case.primals)
    u1, u2 = _cotangent(rng, out), _cotangent(rng, out)
    g12 = _vjp(f, case.primals, (a * u1 + b * u2).astype(u1.dtype))
    g1, g2 = _vjp(f, case.primals, u1), _vjp(f, case.primals, u2)
    for i, (x, y1, y2) in enumerate(zip(g12, g1, g2)):
        _rel_close(x, a * _f64(y1) + b * _f64(y2), tol, f"VJP linearity in the cotangent, input {i}")
    v1, v2 = _unit_direction(rng, case.primals), _unit_direction(rng, case.primals)
    t12 = _jvp(f, case.primals, [(a * _f64(x) + b * _f64(y)).astype(x.dtype) for x, y in zip(v1, v2)])
    t1, t2 = _jvp(f, case.primals, v1), _jvp(f, case.primals, v2)
    _rel_close(t12, a * _f64(t1) + b * _f64(t2), tol, "JVP linearity in the tangent")


def _assert_exact_zero(arrays, what):
    for i, g in enumerate(arrays):
        g = np.asarray(g)
        assert np.all(g == 0), f"{what}, input {i}: not exactly 0: {g.ravel()[:8]}"


def _zero_policy(f, primals, what):
    out = np.asarray(f(*primals))
    _assert_exact_zero(_vjp(f, primals, np.zeros(out.shape, out.dtype)), f"VJP of a zero cotangent {what}")
    zeros = [np.zeros(np.shape(p), np.result_type(p)) for p in primals]
    _assert_exact_zero([_jvp(f, primals, zeros)], f"JVP of a zero tangent {what}")


def check_zero_cotangent(case):
    _zero_policy(dfn(case), case.primals, "")


def check_zero_derivative(case):
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    v = [np.where(d == 0, 1.0, d).astype(d.dtype) for d in _unit_direction(rng, case.primals)]
    _assert_exact_zero([_jvp(f, case.primals, v)], "JVP of a non-differentiable primitive")
    u = _cotangent(rng, f(*case.primals)) + 1.0
    grads = _vjp(f, case.primals, u.astype(np.asarray(f(*case.primals)).dtype))
    _assert_exact_zero(grads, "VJP of a non-differentiable primitive")
    for g, p in zip(grads, case.primals):
        assert g.dtype == np.result_type(p) and g.shape == np.shape(p)


def check_float32(case):
    """float32 in, float32 out (values and gradients), close to float64 at the same points."""
    c32 = case.astype(np.float32)
    c64 = c32.astype(np.float64)                    # the float32 points, evaluated in float64
    f32, f64 = dfn(c32), dfn(c64)
    p32, p64 = c32.primals, c64.primals
    out32 = c32.fn(*p32)
    expected_dtype = np.result_type(c32.ref(*p32))
    assert np.result_type(out32) == expected_dtype, f"float32 inputs: output dtype {np.result_type(out32)}, " \
                                                    f"NumPy gives {expected_dtype}"
    out64 = c64.fn(*p64)
    if np.result_type(out32).kind == "f":
        np.testing.assert_allclose(_f64(out32), _f64(out64), rtol=F32_VALUE_RTOL,
                                   atol=F32_VALUE_RTOL * _scale(out64), equal_nan=True,
                                   err_msg="float32 value vs float64")
    rng = np.random.default_rng(case.seed)
    fo32 = np.asarray(f32(*p32))
    u32 = _cotangent(rng, fo32)
    g32 = _vjp(f32, p32, u32)
    g64 = _vjp(f64, p64, _f64(u32).astype(np.asarray(f64(*p64)).dtype))
    _compare_low_precision_grads(g32, g64, p32)
    t32 = _jvp(f32, p32, _unit_direction(rng, p32))
    assert t32.dtype == fo32.dtype, f"JVP output dtype {t32.dtype} != output dtype {fo32.dtype}"


def _compare_low_precision_grads(g32, g64, p32):
    for i, (a, b) in enumerate(zip(g32, g64)):
        assert a.dtype == np.float32, f"gradient {i} of a float32 input has dtype {a.dtype}"
        assert a.shape == np.shape(p32[i]), f"gradient {i} shape {a.shape} != input shape {np.shape(p32[i])}"
        np.testing.assert_allclose(_f64(a), _f64(b), rtol=F32_GRAD_RTOL, atol=F32_GRAD_RTOL * _scale(b),
                                   equal_nan=True, err_msg=f"float32 gradient {i} vs float64")


def check_mixed_precision(case):
    """A float32 primal meeting float64 constants: the result promotes to float64, but the
    gradient of the float32 input is float32 (grad dtype == input dtype)."""
    if case.base is None:
        return
    p32 = tuple(np.asarray(p, dtype=np.float32) for p in case.primals)
    p64 = tuple(_f64(p) for p in p32)
    f = dfn(case)
    out = np.asarray(f(*p32))
    u = _cotangent(np.random.default_rng(case.seed), out)
    g32 = _vjp(f, p32, u)
    g64 = _vjp(f, p64, _f64(u).astype(np.asarray(f(*p64)).dtype))
    _compare_low_precision_grads(g32, g64, p32)


def check_structure(case):
    """Gradient shapes and dtypes equal the inputs'; a Python float in gives a float out."""
    f = dfn(case)
    out = np.asarray(f(*case.primals))
    grads = _vjp(f, case.primals, np.ones(out.shape, out.dtype))
    assert len(grads) == len(case.primals)
    for g, p in zip(grads, case.primals):
        assert g.shape == np.shape(p) and g.dtype == np.result_type(p), \
            f"gradient {g.dtype}{g.shape} for input {np.result_type(p)}{np.shape(p)}"
    if all(np.shape(p) == () for p in case.primals) and out.shape == ():
        py = [float(p) for p in case.primals]
        gs = pdx.vjp(f, *py)[1](1.0)
        assert all(isinstance(g, float) for g in gs), f"Python floats in, {[type(g) for g in gs]} out"


def check_determinism(case):
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    u = _cotangent(rng, f(*case.primals))
    _, back = pdx.vjp(f, *case.primals)
    first, second = back(u), back(u)
    third = pdx.vjp(f, *case.primals)[1](u)
    assert _bytes(first) == _bytes(second) == _bytes(third), "two backward passes differ"
    v = _unit_direction(rng, case.primals)
    assert _bytes([_jvp(f, case.primals, v)]) == _bytes([_jvp(f, case.primals, v)]), "two JVPs differ"


def _shares(a, b):
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.shares_memory(a, b)


def check_aliasing(case):
    """Inputs, tangents and cotangents are not mutated; gradients share memory with none of them."""
    f = dfn(case)
    rng = np.random.default_rng(case.seed)
    closed = list(case.call[0]) if case.call else []
    before = _bytes(list(case.primals) + closed)
    out = f(*case.primals)
    v = _unit_direction(rng, case.primals)
    v_before = _bytes(v)
    pdx.jvp(f, tuple(case.primals), tuple(v))
    assert _bytes(v) == v_before, "JVP mutated its tangent"
    u = _cotangent(rng, out)
    u_before = _bytes([u])
    grads = pdx.vjp(f, *case.primals)[1](u)
    assert _bytes([u]) == u_before, "VJP mutated its cotangent"
    assert _bytes(list(case.primals) + closed) == before, "an input was mutated"
    for i, g in enumerate(grads):
        assert not _shares(g, u), f"gradient {i} shares memory with the cotangent"
        assert not any(_shares(g, p) for p in case.primals), f"gradient {i} shares memory with an input"
        for j in range(i):
            assert not _shares(g, grads[j]), f"gradients {j} and {i} share memory"


def check_output_aliasing(case):
    """The forward output and the JVP output share no memory with the inputs or the tangents
    (a 0-d view is as mutable as any other)."""
    f = dfn(case)
    out = f(*case.primals)
    assert not any(_shares(out, p) for p in case.primals), "forward output aliases an input"
    v = _unit_direction(np.random.default_rng(case.seed), case.primals)
    _, t = pdx.jvp(f, tuple(case.primals), tuple(v))
    assert not any(_shares(t, x) for x in v), "JVP output aliases the input tangent"
    assert not any(_shares(t, p) for p in case.primals), "JVP output aliases an input"


CHECKS = {
    "forward": check_forward,
    "abstract_eval": check_abstract_eval,
    "jvp_fd": check_jvp_fd,
    "vjp_fd": check_vjp_fd,
    "complex_step": check_complex_step,
    "transpose": check_transpose,
    "linearity": check_linearity,
    "zero_cotangent": check_zero_cotangent,
    "zero_derivative": check_zero_derivative,
    "float32": check_float32,
    "mixed_precision": check_mixed_precision,
    "structure": check_structure,
    "determinism": check_determinism,
    "aliasing": check_aliasing,
    "output_aliasing": check_output_aliasing,
}


def _applies(spec, check):
    if check == "complex_step":
        return spec.analytic
    if check == "zero_derivative":
        return spec.nondiff
    return True


def _case_applies(case, check):
    if check in ("jvp_fd", "vjp_fd"):
        return case.fd
    if check == "mixed_precision":
        return case.base is not None
    return True


def _params():
    out = []
    for name in sorted(PRIMITIVE_SPECS):
        for check in CHECKS:
            if not _applies(PRIMITIVE_SPECS[name], check):
                continue
            if not any(_case_applies(c, check) for c in cases_of(name)):
                continue                            # e.g. stop_gradient: FD is not its oracle
            marks = []
            if (name, check) in KNOWN_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason="engine bug: " + KNOWN_BUGS[name, check]))
            out.append(pytest.param(name, check, marks=marks, id=f"{name}-{check}"))
    return out


def _run_over_cases(cases, check_fn):
    failures = []
    with np.errstate(all="ignore"):
        for case in cases:
            try:
                check_fn(case)
            except Exception as e:                      # reported below with the case id
                msg = str(e).split("\nassert ")[0]          # drop pytest's rewritten-assert detail
                failures.append(f"{case.id}: {type(e).__name__}: {msg}")
    if failures:
        shown = "\n".join(f[:600] for f in failures[:6])
        pytest.fail(f"{len(failures)} of {len(cases)} samples failed:\n{shown}", pytrace=False)


@pytest.mark.parametrize("name,check", _params())
def test_primitive(name, check):
    cases = [c for c in cases_of(name) if _case_applies(c, check)]
    assert cases, f"no samples for {name}"
    _run_over_cases(cases, CHECKS[check])


# -- Hypothesis on top of the fixed seeds: fresh seeds, any sample, per family ---------------------

FAMILIES = sorted({spec.family for spec in PRIMITIVE_SPECS.values()})
HYPOTHESIS_CHECKS = ["forward", "abstract_eval", "jvp_fd", "vjp_fd", "complex_step", "transpose",
                     "zero_cotangent", "zero_derivative", "float32", "mixed_precision"]


@pytest.mark.parametrize("family", FAMILIES)
def test_primitive_family_random_seeds(family):
    names = sorted(n for n, s in PRIMITIVE_SPECS.items() if s.family == family)

    @given(name=st.sampled_from(names), seed=st.integers(3, 2**31 - 1), pick=st.integers(0, 10**6))
    def run(name, seed, pick):
        cases = PRIMITIVE_SPECS[name].cases(seeds=(seed,))
        case = cases[pick % len(cases)]
        spec = PRIMITIVE_SPECS[name]
        with np.errstate(all="ignore"):
            for check in HYPOTHESIS_CHECKS:
                if _applies(spec, check) and _case_applies(case, check) and (name, check) not in KNOWN_BUGS:
                    CHECKS[check](case)
    run()


# -- the zero-(co)tangent policy at singular points -------------------------------------------

EDGE_PARAMS = [pytest.param(name, i, id=f"{name}-{i}") for name in sorted(PRIMITIVE_SPECS)
               for i in range(len(PRIMITIVE_SPECS[name].edges))]


@pytest.mark.parametrize("name,i", EDGE_PARAMS)
def test_zero_cotangent_at_singularities(name, i):
    """vjp(0) and jvp(0) are exactly 0 where the local derivative is inf or NaN (0 * inf = 0)."""
    primals, params = PRIMITIVE_SPECS[name].edges[i]
    with np.errstate(all="ignore"):
        _zero_policy(lambda *p: bind(REGISTRY[name], *p, **params), primals, f"at {primals}")


# -- second and third order -------------------------------------------------------------------

def _order2_cases(name):
    """Up to six small samples, seed 0: spread over the shape cases, plus broadcasting and
    one-sided ones where the primitive has them."""
    cands = [c for c in cases_of(name)
             if c.seed == 0 and c.fd and c.order2 and not c.low_precision and 0 < c.size <= 12]
    chosen = cands[::max(1, len(cands) // 3)][:3]
    chosen += [c for c in cands if len({np.shape(p) for p in c.primals}) > 1 and c not in chosen][:2]
    chosen += [c for c in cands if c.base is not None and c not in chosen][:1]
    return chosen


@pytest.mark.parametrize("name", sorted(PRIMITIVE_SPECS))
def test_second_order(name):
    cases = _order2_cases(name)
    if not cases:
        pytest.skip(f"{name}: FD is not an oracle for its derivative")

    def check(case):
        check_grads(dfn(case), tuple(case.primals), order=2, seed=case.seed)
    _run_over_cases(cases, check)


@pytest.mark.parametrize("n,rank", [(2, 1), (3, 2), (3, 1)])
def test_det_second_order_at_singular_matrices(n, rank):
    """det is a polynomial: its derivatives of every order exist at singular matrices too."""
    from primitive_specs import _singular
    a = _singular(np.random.default_rng(n * 10 + rank), n, rank)
    check_grads(lambda a: bind(REGISTRY["det"], a), (a,), order=2)


@pytest.mark.parametrize("n,rank", [(2, 1), (3, 2), (3, 1)])
def test_adjugate_first_order_at_singular_matrices(n, rank):
    """adj(A) is a polynomial in A's entries: its first derivative exists at singular matrices."""
    from primitive_specs import _singular
    a = _singular(np.random.default_rng(n * 10 + rank), n, rank)
    check_grads(lambda a: bind(REGISTRY["adjugate"], a), (a,), order=1)


THIRD_ORDER = ["exp", "sin", "tanh", "mul", "pow", "log"]


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_third_order(name):
    cases = [c for c in cases_of(name) if c.seed == 0 and c.group in ("(7,)", "(3,1),(1,4)", "(1,4),(3,4)")]
    assert cases

    def check(case):
        check_grads(dfn(case), tuple(case.primals), order=3, atol=1e-5, rtol=1e-5, seed=case.seed)
    _run_over_cases(cases, check)


# -- the table itself ---------------------------------------------------------------------------

def test_every_primitive_has_a_sampler():
    missing = sorted(set(REGISTRY) - set(PRIMITIVE_SPECS))
    assert not missing, f"registered primitives with no entry in PRIMITIVE_SPECS: {missing}"


def test_no_stale_samplers():
    stale = sorted(set(PRIMITIVE_SPECS) - set(REGISTRY))
    assert not stale, f"PRIMITIVE_SPECS entries for unregistered primitives: {stale}"


@pytest.mark.parametrize("name", sorted(PRIMITIVE_SPECS))
def test_spec_agrees_with_record(name):
    spec, prim = PRIMITIVE_SPECS[name], REGISTRY.get(name)
    assert prim is not None
    assert spec.linear == prim.linear, f"{name}: spec linear={spec.linear}, record linear={prim.linear}"
    if name in ANALYTIC:
        assert spec.analytic, f"{name} is in ANALYTIC but its samples skip the complex step"
    if spec.nondiff:
        assert prim.jvp is not None, f"{name}: a zero derivative must be declared (zero_jvp), not missing"
    lo, hi = spec.domain
    assert lo < hi and spec.margin >= 1e-2


@pytest.mark.parametrize("name", sorted(PRIMITIVE_SPECS))
def test_sampler_coverage(name):
    """At least 3 seeds per shape case; elementwise samplers cover every shape (pair)."""
    cases = cases_of(name)
    groups: dict[str, set] = {}
    for c in cases:
        groups.setdefault(c.group, set()).add(c.seed)
    for g, seeds in groups.items():
        assert len(seeds) >= 3, f"{name}[{g}] has seeds {sorted(seeds)}"
    assert set(SEEDS) <= set().union(*groups.values())
    shapes = {tuple(np.shape(p) for p in c.primals) for c in cases}
    spec = PRIMITIVE_SPECS[name]
    if spec.sampler.__qualname__.startswith("unary_sampler") or name in ("integer_pow", "convert", "isfinite",
                                                                          "logical_not"):
        assert {(s,) for s in SHAPES} <= shapes
    if spec.sampler.__qualname__.startswith("binary_sampler") or name in ("compare", "logical", "select"):
        assert set(BINARY_SHAPES) <= shapes
    for c in cases:
        if not c.zero:
            assert all(_is_float(p) and np.result_type(p) == np.float64 for p in c.primals)


@pytest.mark.parametrize("name", ["reduce_sum", "reduce_max", "reduce_prod"])
def test_reduction_axes_coverage(name):
    groups = {c.group for c in cases_of(name)}
    for shape in ["(3,4)", "(2,3,4)"]:
        for axes in ["(0, 1, 2)" if shape == "(2,3,4)" else "(0, 1)", "(0,)", "(1,)" if shape == "(3,4)" else "(2,)",
                     "(0, 1)"]:
            assert f"{shape},axes={axes}" in groups, (shape, axes)
        for axis in ["None", "0", "-1", "(0, 1)"]:
            for kd in (True, False):
                assert f"pnp,{shape},axis={axis},keepdims={kd}" in groups


def test_missing_derivative_is_declared():
    """A primitive without a JVP rule raises a clear error naming it, in both modes."""
    opaque = Primitive("opaque_sin", np.sin, float_elementwise_aval, jvp=None)
    x = np.array([0.1, 0.2])
    with pytest.raises(NotImplementedError, match="opaque_sin"):
        pdx.jvp(lambda x: bind(opaque, x), (x,), (x,))
    with pytest.raises(NotImplementedError, match="opaque_sin"):
        pdx.vjp(lambda x: bind(opaque, x), x)[1](x)


# -- the checker is tested too (mutation test, as autograd's tests/test_tests.py) ----------------

def _sin_like(name, jvp_rule):
    return Primitive(name, np.sin, float_elementwise_aval, jvp=jvp_rule)


def _bad_sin(delta, mask=None):
    """sin whose JVP rule is scaled by (1 + delta), optionally only where ``mask``."""
    sin_p, cos_p, mul_p = REGISTRY["sin"], REGISTRY["cos"], REGISTRY["mul"]
    factor = 1.0 + delta if mask is None else np.where(mask, 1.0 + delta, 1.0)

    def jvp(tangents, ans, x):
        return bind(mul_p, tangents[0], bind(mul_p, bind(cos_p, x), factor))
    del sin_p
    return _sin_like("bad_sin", jvp)


X_MUT = np.array([0.1, 0.5, -0.3, 0.2, -0.6])


def test_unregistered_primitives_stay_unregistered():
    before = set(REGISTRY)
    _bad_sin(1e-5)
    assert set(REGISTRY) == before


def test_checker_accepts_the_correct_rule():
    bad = _bad_sin(0.0)
    check_grads(lambda x: bind(bad, x), (X_MUT,), order=2)


@pytest.mark.parametrize("modes", [("fwd", "rev"), ("fwd",), ("rev",)])
def test_checker_catches_first_order_error(modes):
    bad = _bad_sin(1e-5)
    x = X_MUT if modes != ("rev",) else np.float64(0.3)   # rev alone sees one scalar <u, J v>
    with pytest.raises(AssertionError) as info:
        check_grads(lambda x: bind(bad, x), (x,), order=1, modes=modes)
    msg = str(info.value)
    assert "AD =" in msg and "FD =" in msg, msg


def test_checker_names_the_worst_component():
    mask = np.arange(X_MUT.size) == 2
    bad = _bad_sin(1e-5, mask)
    with pytest.raises(AssertionError) as info:
        check_grads(lambda x: bind(bad, x), (X_MUT,), order=1, modes=("fwd",))
    msg = str(info.value)
    assert "worst component" in msg and "index (2,)" in msg, msg
    assert "AD =" in msg and "FD =" in msg, msg


def _sin_with_bad_second_derivative(delta):
    """sin with a correct first derivative whose own derivative is scaled by (1 + delta)."""
    sin_p, mul_p, neg_p = REGISTRY["sin"], REGISTRY["mul"], REGISTRY["neg"]

    def cos_jvp(tangents, ans, x):
        return bind(mul_p, tangents[0], bind(mul_p, bind(neg_p, bind(sin_p, x)), 1.0 + delta))
    bad_cos = Primitive("bad_cos", np.cos, float_elementwise_aval, jvp=cos_jvp)

    def sin_jvp(tangents, ans, x):
        return bind(mul_p, tangents[0], bind(bad_cos, x))
    return _sin_like("bad_sin2", sin_jvp)


def test_checker_catches_second_order_error():
    bad = _sin_with_bad_second_derivative(1e-4)
    x = np.array([0.5, 1.0, -0.7])
    f = lambda x: bind(bad, x)                                   # noqa: E731
    check_grads(f, (x,), order=1)                               # the first derivative is right
    with pytest.raises(AssertionError) as info:
        check_grads(f, (x,), order=2)
    msg = str(info.value)
    assert "order 2" in msg and "AD =" in msg and "FD =" in msg, msg
    check_grads(lambda x: bind(_sin_with_bad_second_derivative(0.0), x), (x,), order=2)
