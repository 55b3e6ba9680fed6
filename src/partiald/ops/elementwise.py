"""Elementwise primitives (NumPy broadcasting) and their derivative rules.

Conventions, identical in forward and reverse mode (tested exactly in
tests/test_special_values.py):

* A zero tangent or cotangent contributes exactly 0, even where the local
  derivative is inf or NaN (``safe_mul`` implements 0 * inf = 0). This is what
  keeps the branch that ``where`` did not take out of the gradient.
* Kinks: ``abs'(0) = sign(0) = 0``; ``maximum(x, y)`` is ``where(x > y, x, y)``
  and ``minimum(x, y)`` is ``where(x < y, x, y)``: at a tie the whole
  derivative goes to ``y``, so ``relu(x) = maximum(x, 0)`` has ``relu'(0) = 0``,
  the same as ``where(x > 0, x, 0)``.
* ``x ** y``: the derivative in x is ``safe_mul(y, x**(y-1))``, so it is 0 where
  y == 0 (also at x = 0, 0 * inf = 0), and the derivative in y is
  ``safe_mul(x**y, log x)``, so it is 0 where x == 0 and y > 0: ``x**1.875`` and
  ``0.0**y`` (y > 0) have zero derivatives at 0 instead of NaN.
* Guards keep higher orders: a rule never replaces an expression that carries a
  derivative by a constant at points where that expression is defined (the
  constant would delete the expression's own derivative there, and with it every
  higher-order derivative). A zero factor times inf/NaN is ``safe_mul``'s job;
  a ``select`` only patches a value that is genuinely undefined (logaddexp's
  ``a - b`` at ``a == b == +-inf``).
* ``fmax``/``fmin`` follow NumPy's NaN rule (the operand that is not NaN wins, and
  takes the derivative); otherwise they are ``maximum``/``minimum`` (ties: to ``y``).
  ``fabs`` is ``abs`` with a float result.
* ``sign``, ``floor``, ``ceil``, ``round``, comparisons and ``stop_gradient`` have
  derivative 0 everywhere.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import REGISTRY, Primitive, bind, is_undefined, register, zero_jvp
from . import batch_rules
from . import fused_forms as FF
from .common import (NUMPY_IMPL, bool_elementwise_aval, complex_dtype, elementwise_aval,
                     float_elementwise_aval, is_complex, real_dtype, shape_of)

# sparsity of elementwise primitives: the input pairs (i, j) whose mixed second
# derivative can be nonzero (transforms/sparsity.py reads them from the record)
LINEAR = ()                                   # linear or piecewise linear
UNARY = ((0, 0),)                             # f(x), nonlinear
PRODUCT = ((0, 1),)                           # x * y
QUOTIENT = ((0, 1), (1, 1))                   # x / y
BINARY = ((0, 0), (0, 1), (1, 1))             # any other nonlinear f(x, y)
ZERO = "zero"                                 # derivative zero by definition


def _python(template):
    """A ``python`` lowering from a template over the argument expressions."""
    def lower(args, params):
        return template.format(*args)
    return lower


def _prim(name, impl, aval_rule, jvp=None, transpose=None, linear=False, rule_name="", *,
          sparsity, numpy=None, python=None, fused=None, exact=False, symbol="", domain=""):
    """An elementwise record: NumPy broadcasting, batched by ``batch_rules.elementwise``.
    ``numpy``: the ufunc name generated code calls; ``python``: a template over the
    argument expressions (or a lowering function) for the float fast path."""
    lowerings = {}
    if numpy is not None:
        lowerings["numpy"] = numpy
    if python is not None:
        lowerings["python"] = _python(python) if isinstance(python, str) else python
    if fused is not None:
        lowerings["fused"] = fused
    return register(Primitive(name, impl, aval_rule, jvp=jvp, transpose=transpose,
                              linear=linear, batch=batch_rules.elementwise(name), sparsity=sparsity,
                              elementwise=True, exact=exact, lowerings=lowerings, symbol=symbol,
                              domain=domain, rule_name=rule_name))


# -- helpers used by the rules (they bind primitives, so rules can be traced) --

def add(x, y): return bind(add_p, x, y)
def sub(x, y): return bind(sub_p, x, y)
def mul(x, y): return bind(mul_p, x, y)
def div(x, y): return bind(div_p, x, y)
def neg(x): return bind(neg_p, x)
def safe_mul(x, y): return bind(safe_mul_p, x, y)
def select(c, x, y): return bind(select_p, c, x, y)
def compare(x, y, op): return bind(compare_p, x, y, op=op)
def integer_pow(x, n): return bind(integer_pow_p, x, n=n)


def unbroadcast(ct, shape):
    """Sum ``ct`` down to ``shape`` (the transpose of NumPy broadcasting)."""
    ct_shape = shape_of(ct)
    if ct_shape == tuple(shape):
        return ct
    lead = len(ct_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and ct_shape[lead + i] != 1)
    out = bind(REGISTRY["reduce_sum"], ct, axes=axes) if axes else ct
    return bind(REGISTRY["reshape"], out, shape=tuple(shape)) if shape_of(out) != tuple(shape) else out


def broadcast_tangent(t, shape):
    return t if shape_of(t) == tuple(shape) else bind(REGISTRY["broadcast_to"], t, shape=tuple(shape))


def _scale_jvp(coef):
    """JVP rule ``t * coef(ans, x)`` for a unary primitive, with 0 * inf = 0."""
    def rule(tangents, ans, x):
        return safe_mul(tangents[0], coef(ans, x))
    return rule


def _unary(name, impl, coef=None, rule_name="", *, numpy=None, python=None, fused=None, symbol=None, domain=""):
    """A unary float primitive ``impl`` with derivative ``coef(ans, x)`` (None: zero);
    by default its ufunc, its formula name and its math-module form are ``name``."""
    return _prim(name, impl, float_elementwise_aval,
                 jvp=_scale_jvp(coef) if coef is not None else zero_jvp,
                 rule_name=rule_name, sparsity=UNARY if coef is not None else ZERO,
                 numpy=numpy, python=python, fused=fused, symbol=name if symbol is None else symbol,
                 domain=domain)


# -- linear primitives --------------------------------------------------------

def _add_jvp(tangents, ans, x, y):
    tx, ty = tangents
    if tx is None:
        return broadcast_tangent(ty, shape_of(ans))
    if ty is None:
        return broadcast_tangent(tx, shape_of(ans))
    return add(tx, ty)


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, x.shape) if is_undefined(x) else None,
            unbroadcast(ct, y.shape) if is_undefined(y) else None]


def _sub_jvp(tangents, ans, x, y):
    tx, ty = tangents
    if ty is None:
        return broadcast_tangent(tx, shape_of(ans))
    if tx is None:
        return broadcast_tangent(neg(ty), shape_of(ans))
    return sub(tx, ty)


def _sub_transpose(ct, x, y):
    return [unbroadcast(ct, x.shape) if is_undefined(x) else None,
            unbroadcast(neg(ct), y.shape) if is_undefined(y) else None]


add_p = _prim("add", np.add, elementwise_aval, _add_jvp, _add_transpose, linear=True, rule_name="sum rule",
               sparsity=LINEAR, numpy="add", python="({0} + {1})", exact=True, fused=FF.binary("+"))
sub_p = _prim("sub", np.subtract, elementwise_aval, _sub_jvp, _sub_transpose, linear=True,
               rule_name="difference rule", sparsity=LINEAR, numpy="subtract", python="({0} - {1})", exact=True,
               fused=FF.binary("-"))
neg_p = _prim("neg", np.negative, elementwise_aval,
              lambda ts, ans, x: neg(ts[0]), lambda ct, x: [neg(ct)], linear=True,
              rule_name="constant multiple rule", sparsity=LINEAR, numpy="negative", python="(-{0})",
              exact=True, fused=FF.unary("(-{0})"))


def _select_jvp(tangents, ans, c, x, y):
    _, tx, ty = tangents
    dt = ans.dtype
    return select(c, tx if tx is not None else dt.type(0), ty if ty is not None else dt.type(0))


def _select_transpose(ct, c, x, y):
    zero = ct.dtype.type(0)
    return [None,
            unbroadcast(select(c, ct, zero), x.shape) if is_undefined(x) else None,
            unbroadcast(select(c, zero, ct), y.shape) if is_undefined(y) else None]


def _select_aval(c, x, y):
    aval = elementwise_aval(x, y)
    return ShapedArray(np.broadcast_shapes(shape_of(c), aval.shape), aval.dtype)


def _select_impl(c, x, y):
    # np.where promotes a Python scalar branch strongly (float32 vs 0.0 -> float64);
    # keep NumPy 2's weak-scalar rule, like every other elementwise primitive.
    out = np.where(c, x, y)
    dt = np.result_type(x if isinstance(x, (bool, int, float)) else np.asarray(x).dtype,
                        y if isinstance(y, (bool, int, float)) else np.asarray(y).dtype)
    if out.dtype != dt:
        out = out.astype(dt)
    return out[()] if out.ndim == 0 else out


select_p = _prim("select", _select_impl, _select_aval, _select_jvp, _select_transpose, linear=True,
                 rule_name="piecewise rule", sparsity="select", python="({1} if {0} else {2})", exact=True,
                 fused=FF.select)


def _convert_impl(x, dtype):
    if np.dtype(dtype).kind != "c" and np.iscomplexobj(x):
        x = np.real(x)          # complex -> real keeps the real part (the transpose of a promotion)
    return np.asarray(x).astype(dtype, copy=True) if np.ndim(x) else np.asarray(x, dtype=dtype)[()]


def _convert_jvp(tangents, ans, x, dtype):
    return bind(convert_p, tangents[0], dtype=dtype) if np.dtype(dtype).kind in "fc" else None


def _convert_transpose(ct, x, dtype):
    return [bind(convert_p, ct, dtype=x.dtype)]


def _convert_python(args, params):
    return f"float({args[0]})" if np.dtype(params["dtype"]) == np.float64 else None


convert_p = _prim("convert", _convert_impl, lambda x, dtype: ShapedArray(shape_of(x), dtype),
                  _convert_jvp, _convert_transpose, linear=True, sparsity="convert",
                  python=_convert_python, exact=True, fused=FF.convert)


# -- products -----------------------------------------------------------------

def has_nan(a) -> bool:
    """Whether the array or scalar ``a`` may hold a NaN, in one read pass: a NaN anywhere
    makes the sum NaN (so False is certain; True also for a sum of inf and -inf, where
    the caller's exact check then finds none)."""
    if np.ndim(a) == 0:
        return a != a
    return np.asarray(a).dtype.kind in "fc" and bool(np.isnan(np.add.reduce(a, axis=None)))


def _safe_mul_impl(x, y, out=None):
    """``x * y`` in which 0 * anything is 0: a zero (co)tangent contributes nothing,
    even times inf/NaN. ``out`` (generated code) is a fresh buffer, never ``x`` or ``y``."""
    with np.errstate(invalid="ignore"):
        r = np.multiply(x, y, out=out)
    if not has_nan(r):
        return r
    bad = np.isnan(r)
    zero = (np.asarray(x) == 0) | (np.asarray(y) == 0)
    if out is not None:
        np.copyto(out, 0, where=bad & zero)
        return out
    r = np.where(bad & zero, r.dtype.type(0), r)
    return r[()] if r.ndim == 0 else r


def _mul_jvp(tangents, ans, x, y):
    tx, ty = tangents
    terms = []
    if tx is not None:
        terms.append(safe_mul(tx, y))
    if ty is not None:
        terms.append(safe_mul(x, ty))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise NotImplementedError("internal error: mul is not linear in both arguments")
    if is_undefined(x):
        return [unbroadcast(safe_mul(ct, y), x.shape), None]
    return [None, unbroadcast(safe_mul(x, ct), y.shape)]


mul_p = _prim("mul", np.multiply, elementwise_aval, _mul_jvp, _mul_transpose, rule_name="product rule",
               sparsity=PRODUCT, numpy="multiply", python="({0} * {1})", exact=True, fused=FF.binary("*"))
safe_mul_p = _prim("safe_mul", _safe_mul_impl, elementwise_aval, _mul_jvp, _mul_transpose,
                   rule_name="product rule", sparsity=PRODUCT, python="_smul({0}, {1})", exact=True,
                   numpy=lambda args, params: (NUMPY_IMPL, args), fused=FF.safe_mul)


def _div_jvp(tangents, ans, x, y):
    tx, ty = tangents
    inv_y = div(1.0, y)
    terms = []
    if tx is not None:
        terms.append(safe_mul(tx, inv_y))
    if ty is not None:
        terms.append(neg(safe_mul(ty, mul(ans, inv_y))))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


div_p = _prim("div", np.true_divide, float_elementwise_aval, _div_jvp, rule_name="quotient rule",
               sparsity=QUOTIENT, numpy="true_divide", python="({0} / {1})", exact=True, fused=FF.binary("/"))


def _integer_pow_impl(x, n):
    if n == 0:
        return np.ones_like(x)
    if n == 1:
        out = np.array(x, copy=True)
        return out[()] if out.ndim == 0 else out
    if n == 2:
        return np.multiply(x, x)
    return np.power(x, n)


def _integer_pow_jvp(tangents, ans, x, n):
    # d/dx x^n = n x^(n-1)
    if n == 0:
        return None
    if n == 1:
        return tangents[0]
    return safe_mul(tangents[0], mul(x if n == 2 else integer_pow(x, n - 1), float(n)))


def _integer_pow_python(args, params):
    n = params["n"]
    if n == 2:
        return f"({args[0]} * {args[0]})"             # as _integer_pow_impl: one rounding
    return f"({args[0]} ** {n})" if n >= 0 else None


integer_pow_p = _prim("integer_pow", _integer_pow_impl, elementwise_aval, _integer_pow_jvp,
                      rule_name="power rule", sparsity="integer_pow", python=_integer_pow_python,
                      numpy=lambda args, params: ("multiply", [args[0], args[0]]) if params["n"] == 2 else None,
                      exact=lambda params: 0 <= params["n"] <= 2, fused=FF.integer_pow)


def _pow_impl(x, y):
    return np.power(x, y)


def _pow_jvp(tangents, ans, x, y):
    tx, ty = tangents
    terms = []
    if tx is not None:
        # d/dx x^y = y x^(y-1), and 0 where y == 0 (x**0 is the constant 1), also at
        # x = 0 where x^(y-1) is inf: safe_mul's 0 * inf = 0. No select: y's own
        # derivative (d/dy of this is x^(y-1) + ..., 1/x at y = 0) must survive.
        coef = safe_mul(y, bind(pow_p, x, sub(y, 1.0)))
        terms.append(safe_mul(tx, coef))
    if ty is not None:
        # d/dy x^y = x^y log x, and 0 where x == 0 and y > 0 (0**y is the constant 0):
        # 0 * -inf = 0 again; elsewhere at x = 0 it is the limit from x > 0, -inf.
        terms.append(safe_mul(ty, safe_mul(ans, log(x))))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


pow_p = _prim("pow", _pow_impl, float_elementwise_aval, _pow_jvp, rule_name="power rule", sparsity=BINARY,
               numpy="power")


def _maximum_jvp(tangents, ans, x, y, op="gt"):
    # maximum(x, y) = where(x > y, x, y): ties send the derivative to y.
    tx, ty = tangents
    zero = ans.dtype.type(0)
    c = compare(x, y, op)
    return broadcast_tangent(select(c, zero if tx is None else tx, zero if ty is None else ty), shape_of(ans))


maximum_p = _prim("maximum", np.maximum, elementwise_aval, _maximum_jvp, rule_name="piecewise rule",
                  sparsity=LINEAR, numpy="maximum", python="({0} if {0} > {1} or {0} != {0} else {1})", exact=True,
                  fused=FF.extreme(">"))
minimum_p = _prim("minimum", np.minimum, elementwise_aval,
                  lambda ts, ans, x, y: _maximum_jvp(ts, ans, x, y, op="lt"), rule_name="piecewise rule",
                  sparsity=LINEAR, numpy="minimum", python="({0} if {0} < {1} or {0} != {0} else {1})", exact=True,
                  fused=FF.extreme("<"))


def _fmax_jvp(tangents, ans, x, y, op="gt"):
    # fmax(x, y): NumPy's NaN rule, the operand that is not NaN wins, so the value is
    # where(x > y or y is NaN, x, y); ties send the derivative to y, as for maximum.
    tx, ty = tangents
    zero = ans.dtype.type(0)
    c = bind(logical_p, compare(x, y, op), compare(y, y, "ne"), op="or")
    return broadcast_tangent(select(c, zero if tx is None else tx, zero if ty is None else ty), shape_of(ans))


# (the values: NumPy's scalar fmax returns x at a tie, which matters for 0.0 vs -0.0
# only; the derivative's tie rule is the JVP's, above)
fmax_p = _prim("fmax", np.fmax, elementwise_aval, _fmax_jvp, rule_name="piecewise rule", sparsity=LINEAR,
               numpy="fmax", python="({0} if {0} >= {1} or {1} != {1} else {1})", exact=True)
fmin_p = _prim("fmin", np.fmin, elementwise_aval, lambda ts, ans, x, y: _fmax_jvp(ts, ans, x, y, op="lt"),
               rule_name="piecewise rule", sparsity=LINEAR, numpy="fmin",
               python="({0} if {0} <= {1} or {1} != {1} else {1})", exact=True)


def _arctan2_jvp(tangents, ans, y, x):
    # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
    ty, tx = tangents
    denom = add(mul(x, x), mul(y, y))
    terms = []
    if ty is not None:
        terms.append(safe_mul(ty, div(x, denom)))
    if tx is not None:
        terms.append(neg(safe_mul(tx, div(y, denom))))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


arctan2_p = _prim("arctan2", np.arctan2, float_elementwise_aval, _arctan2_jvp, rule_name="chain rule (atan2)",
                   sparsity=BINARY, numpy="arctan2")


def _rem_jvp(tangents, ans, x, y):
    # rem(x, y) = x - y * floor(x / y), with floor locally constant:
    # d rem = dx - floor(x / y) dy (undefined where x / y is an integer; this is the
    # one-sided value NumPy's result continues from)
    tx, ty = tangents
    out = tx
    if ty is not None:
        q = bind(floor_divide_p, x, y)
        term = neg(safe_mul(ty, q))
        out = term if tx is None else add(broadcast_tangent(tx, shape_of(ans)), term)
    return broadcast_tangent(out, shape_of(ans))


rem_p = _prim("rem", np.remainder, elementwise_aval, _rem_jvp, rule_name="remainder rule", sparsity=LINEAR,
              numpy="remainder")
floor_divide_p = _prim("floor_divide", np.floor_divide, elementwise_aval, zero_jvp, sparsity=ZERO,
                       numpy="floor_divide")


def _finite_constant(x) -> bool:
    """Whether ``x`` is a known value (no tracer, no formula) with no inf or NaN."""
    if getattr(x, "_builder", None) is not None:
        return False
    try:
        return bool(np.all(np.isfinite(x)))
    except TypeError:
        return False


def _logaddexp_weight(a, b, scale=None):
    # d/da log(e^a + e^b) = sigmoid(a - b). At a finite tie a - b is 0 already and
    # sigmoid(0) = 1/2; only where a and b are the same infinity is a - b NaN, and
    # there (only there) it is taken as 0, so the weight is 1/2 too. The guard patches
    # that value alone, so the derivative of a - b (the Hessian at a tie, 1/4) is
    # kept; and it is left out where a or b is a finite constant (softplus, a
    # logistic loss logaddexp(0, z)), so such programs carry no select at any order.
    # (logaddexp2: the weight is sigmoid((a - b) ln 2), ``scale`` = ln 2)
    d = sub(a, b)
    if _finite_constant(a) or _finite_constant(b):
        return logistic(d if scale is None else mul(d, scale))
    # NaN only where d is NaN and a == b (a NaN input keeps its NaN weight)
    dt = getattr(d, "dtype", np.dtype(np.float64))
    fill = select(compare(a, b, "eq"), dt.type(0), dt.type(np.nan))
    d = select(compare(d, d, "eq"), d, fill)
    return logistic(d if scale is None else mul(d, scale))


def _logaddexp_jvp(tangents, ans, a, b):
    ta, tb = tangents
    terms = []
    if ta is not None:
        terms.append(safe_mul(ta, _logaddexp_weight(a, b)))
    if tb is not None:
        terms.append(safe_mul(tb, _logaddexp_weight(b, a)))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


logaddexp_p = _prim("logaddexp", np.logaddexp, float_elementwise_aval, _logaddexp_jvp,
                    rule_name="chain rule (log-sum-exp)", sparsity=BINARY, numpy="logaddexp")


def _logaddexp2_jvp(tangents, ans, a, b):
    # d/da log2(2^a + 2^b) = 2^a / (2^a + 2^b) = sigmoid((a - b) ln 2), ties as logaddexp
    ta, tb = tangents
    terms = []
    if ta is not None:
        terms.append(safe_mul(ta, _logaddexp_weight(a, b, _LN2)))
    if tb is not None:
        terms.append(safe_mul(tb, _logaddexp_weight(b, a, _LN2)))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


logaddexp2_p = _prim("logaddexp2", np.logaddexp2, float_elementwise_aval, _logaddexp2_jvp,
                     rule_name="chain rule (log-sum-exp)", sparsity=BINARY, numpy="logaddexp2")


_COMPARE = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
            "eq": np.equal, "ne": np.not_equal}
_COMPARE_PY = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
compare_p = _prim("compare", lambda x, y, op: _COMPARE[op](x, y),
                  lambda x, y, op: bool_elementwise_aval(x, y), zero_jvp, sparsity=ZERO,
                  python=lambda args, params: f"({args[0]} {_COMPARE_PY[params['op']]} {args[1]})", exact=True,
                  fused=FF.compare)
_LOGICAL = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
logical_p = _prim("logical", lambda x, y, op: _LOGICAL[op](x, y),
                  lambda x, y, op: bool_elementwise_aval(x, y), zero_jvp, sparsity=ZERO, fused=FF.logical)
logical_not_p = _prim("logical_not", np.logical_not, bool_elementwise_aval, zero_jvp, sparsity=ZERO,
                      fused=FF.logical_not)
isfinite_p = _prim("isfinite", np.isfinite, bool_elementwise_aval, zero_jvp, sparsity=ZERO, fused=FF.isfinite)

# -- unary --------------------------------------------------------------------


def exp(x): return bind(exp_p, x)
def log(x): return bind(log_p, x)
def sin(x): return bind(sin_p, x)
def cos(x): return bind(cos_p, x)
def cosh(x): return bind(cosh_p, x)
def sinh(x): return bind(sinh_p, x)
def sqrt(x): return bind(sqrt_p, x)
def sign(x): return bind(sign_p, x)


def logistic(x): return bind(logistic_p, x)


def _logistic_impl(x):
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: no overflow, and
    # full relative accuracy in both tails.
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype if x.dtype.kind == "f" else np.float64)
    return out[()] if out.ndim == 0 else out


def _recip(x):
    return div(1.0, x)


exp_p = _unary("exp", np.exp, lambda ans, x: ans, rule_name="exponential rule",
               numpy="exp", python="_m.exp({0})")


def _log_coef(ans, u):
    # d/du log(u) = 1/u for u >= 0 (inf at 0, 0 at inf); outside the domain the
    # derivative is NaN, like the value: 0 * sign(log u) is NaN exactly there and 0
    # elsewhere. The marker multiplies, (1 + marker) / u, rather than being added to
    # 1/u, so the higher derivatives are NaN outside the domain too (an added marker
    # has derivative safe_mul(0, ...) = 0, which left log''(-1) = -1), and sign's
    # derivative is 0, so the marker adds nothing to the derivatives inside.
    return div(add(1.0, mul(0.0, sign(ans))), u)


log_p = _unary("log", np.log, lambda ans, x: _log_coef(ans, x), rule_name="logarithm rule",
               numpy="log", python="_m.log({0})", domain="log(u) is defined for u > 0")
log1p_p = _unary("log1p", np.log1p, lambda ans, x: _log_coef(ans, add(x, 1.0)), rule_name="logarithm rule",
                 numpy="log1p", python="_m.log1p({0})", symbol="")
expm1_p = _unary("expm1", np.expm1, lambda ans, x: add(ans, 1.0), rule_name="exponential rule",
                 numpy="expm1", python="_m.expm1({0})", symbol="")
sin_p = _unary("sin", np.sin, lambda ans, x: cos(x), rule_name="trig rule",
               numpy="sin", python="_m.sin({0})")
cos_p = _unary("cos", np.cos, lambda ans, x: neg(sin(x)), rule_name="trig rule",
               numpy="cos", python="_m.cos({0})")
tan_p = _unary("tan", np.tan, lambda ans, x: add(1.0, mul(ans, ans)), rule_name="trig rule",
               numpy="tan", python="_m.tan({0})", domain="tan(u) is undefined where cos(u) = 0")
tanh_p = _unary("tanh", np.tanh, lambda ans, x: sub(1.0, mul(ans, ans)), rule_name="hyperbolic rule",
                numpy="tanh", python="_m.tanh({0})")
sinh_p = _unary("sinh", np.sinh, lambda ans, x: cosh(x), rule_name="hyperbolic rule",
                numpy="sinh", python="_m.sinh({0})")
cosh_p = _unary("cosh", np.cosh, lambda ans, x: sinh(x), rule_name="hyperbolic rule",
                numpy="cosh", python="_m.cosh({0})")
arcsin_p = _unary("arcsin", np.arcsin, lambda ans, x: _recip(sqrt(sub(1.0, mul(x, x)))),
                  rule_name="inverse trig rule", numpy="arcsin", python="_m.asin({0})",
                  symbol="asin", domain="asin(u) is defined for -1 <= u <= 1 (derivative for |u| < 1)")
arccos_p = _unary("arccos", np.arccos, lambda ans, x: neg(_recip(sqrt(sub(1.0, mul(x, x))))),
                  rule_name="inverse trig rule", numpy="arccos", python="_m.acos({0})",
                  symbol="acos", domain="acos(u) is defined for -1 <= u <= 1 (derivative for |u| < 1)")
arctan_p = _unary("arctan", np.arctan, lambda ans, x: _recip(add(1.0, mul(x, x))),
                  rule_name="inverse trig rule",
                numpy="arctan", python="_m.atan({0})", symbol="atan")
logistic_p = _unary("logistic", _logistic_impl, lambda ans, x: mul(ans, sub(1.0, ans)),
                    rule_name="sigmoid rule", symbol="sigmoid")
sqrt_p = _unary("sqrt", np.sqrt, lambda ans, x: div(0.5, ans), rule_name="power rule",
                numpy="sqrt", python="_m.sqrt({0})", fused=FF.unary("np.sqrt({0})"))
def _real_aval(x):
    """The aval of a real-valued function of ``x`` (abs, real, imag)."""
    aval = elementwise_aval(x)
    return ShapedArray(aval.shape, real_dtype(aval.dtype))


def _abs_jvp(tangents, ans, x):
    # real x: sign(x) * t, with sign(0) = 0.  complex z: d|z| = Re(conj(z) dz) / |z|, taken
    # as 0 at z = 0 (the same convention).
    if not is_complex(x):
        return safe_mul(tangents[0], sign(x))
    zero = compare(ans, 0.0, "eq")
    coef = select(zero, 0.0, div(conj(x), select(zero, 1.0, ans)))
    return real(safe_mul(tangents[0], coef))


# -- complex numbers (JAX's convention: a cotangent pairs with a tangent by Re(sum(ct * t)),
# so holomorphic rules need no conjugation and the real-linear maps below transpose as shown)

def real(x): return bind(real_p, x)
def imag(x): return bind(imag_p, x)
def conj(x): return bind(conj_p, x)


def _real_transpose(ct, x):
    # Re(ct * Re(dz)) = Re(ct * dz) for real ct: the cotangent of z is ct itself, as complex
    return [bind(convert_p, ct, dtype=complex_dtype(x.aval.dtype))]


def _imag_transpose(ct, x):
    # ct * Im(dz) = Re(-i ct * dz)
    return [mul(bind(convert_p, ct, dtype=complex_dtype(x.aval.dtype)), -1j)]


def _conj_transpose(ct, x):
    # Re(ct * conj(dz)) = Re(conj(ct) * dz)
    return [conj(ct)]


def _part(fn):
    """``np.real``/``np.imag`` as a new array (NumPy returns a view of the input)."""
    def impl(x):
        r = fn(x)
        return r.copy() if isinstance(r, np.ndarray) else r
    return impl


real_p = _prim("real", _part(np.real), _real_aval, lambda t, ans, x: real(t[0]), _real_transpose, linear=True,
               rule_name="real part rule", sparsity=LINEAR)
imag_p = _prim("imag", _part(np.imag), _real_aval, lambda t, ans, x: imag(t[0]), _imag_transpose, linear=True,
               rule_name="imaginary part rule", sparsity=LINEAR)
conj_p = _prim("conj", np.conjugate, elementwise_aval, lambda t, ans, x: conj(t[0]), _conj_transpose,
               linear=True, rule_name="conjugate rule", sparsity=LINEAR)


abs_p = _prim("abs", np.abs, _real_aval, _abs_jvp,
              rule_name="absolute value rule", sparsity=LINEAR, numpy="abs", python="abs({0})", exact=True,
              symbol="abs", domain="at u = 0 the derivative is taken as 0 (partiald's convention, sign(0) = 0)",
              fused=FF.unary("abs({0})"))
def _sign_jvp(tangents, ans, x):
    # real x: piecewise constant (0 away from the jump).  complex z: sign(z) = z / |z| (NumPy 2)
    # moves with z: d(z/|z|) = (dz - sign(z) Re(conj(sign(z)) dz)) / |z|, taken as 0 at z = 0
    if not is_complex(x):
        return zero_jvp(tangents, ans, x)
    t = tangents[0]
    r = abs_(x)
    zero = compare(r, 0.0, "eq")
    inv = select(zero, 0.0, div(1.0, select(zero, 1.0, r)))
    return safe_mul(sub(t, mul(ans, real(mul(conj(ans), t)))), inv)


def abs_(x): return bind(abs_p, x)


sign_p = _prim("sign", np.sign, elementwise_aval, _sign_jvp, sparsity="sign", numpy="sign", symbol="sign",
               domain="sign(u) has derivative 0 (away from the jump at 0)", fused=FF.sign)
floor_p = _prim("floor", np.floor, float_elementwise_aval, zero_jvp, sparsity=ZERO, fused=FF.unary("np.floor({0})"))
ceil_p = _prim("ceil", np.ceil, float_elementwise_aval, zero_jvp, sparsity=ZERO, numpy="ceil",
               fused=FF.unary("np.ceil({0})"))
fabs_p = _prim("fabs", np.fabs, float_elementwise_aval, _scale_jvp(lambda ans, x: sign(x)),
               rule_name="absolute value rule", sparsity=LINEAR, numpy="fabs", python="_m.fabs({0})", exact=True,
               domain="at u = 0 the derivative is taken as 0 (partiald's convention, sign(0) = 0)",
               fused=FF.unary("abs({0})"))
round_p = _prim("round", np.round, float_elementwise_aval, zero_jvp, sparsity=ZERO)
# -- special functions and the remaining inverse hyperbolic / logarithm family ------

def _scipy_special():
    """``scipy.special`` when SciPy is installed (the optional ``sparse`` extra), else None;
    imported on first use, so importing partiald never pays for it."""
    try:
        import scipy.special as sp
    except ImportError:
        return None
    return sp


def _by_element(fn, x):
    """``fn`` (a math-module function) applied to every element of ``x``."""
    a = np.asarray(x)
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    out = np.array([fn(v) for v in a.astype(np.float64).ravel()], dtype=dt).reshape(a.shape)
    return out[()] if out.ndim == 0 else out


def _erf_impl(x):
    # scipy.special's erf (vectorized) or the math module's, element by element: both
    # are accurate to about 1 ulp
    sp = _scipy_special()
    if sp is None:
        return _by_element(math.erf, x)
    out = sp.erf(x)
    return out[()] if np.ndim(out) == 0 else out


def _erfc_impl(x):
    sp = _scipy_special()
    if sp is None:
        return _by_element(math.erfc, x)
    out = sp.erfc(x)
    return out[()] if np.ndim(out) == 0 else out


_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))

erf_p = _unary("erf", _erf_impl, lambda ans, x: mul(_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),
               rule_name="error function rule", python="_m.erf({0})")
erfc_p = _unary("erfc", _erfc_impl, lambda ans, x: mul(-_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),
                rule_name="error function rule", python="_m.erfc({0})")
# -- the log-gamma function and its derivatives, the polygamma functions --------

def _gammaln_scalar(v):
    # math.lgamma raises at the poles 0, -1, -2, ...: scipy.special.gammaln gives inf there
    if v == -math.inf:
        return -math.inf                    # as scipy.special.gammaln
    try:
        return math.lgamma(v)
    except ValueError:
        return math.inf


def _gammaln_impl(x):
    # log|Gamma(x)|: scipy.special's gammaln or math.lgamma element by element
    sp = _scipy_special()
    if sp is None:
        return _by_element(_gammaln_scalar, x)
    out = sp.gammaln(x)
    return out[()] if np.ndim(out) == 0 else out


def _digamma_scalar(v):
    # psi(x) = d/dx log Gamma(x): the reflection psi(1 - x) - pi / tan(pi x) for x < 0,
    # the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series
    # log x - 1/(2x) - sum B_2k / (2k x^2k) (error below 1e-16 there). As scipy.special:
    # NaN at the poles -1, -2, ... and at -inf, -inf at +0 and inf at -0, inf at inf.
    if math.isnan(v) or v == -math.inf:
        return math.nan
    if v == math.inf:
        return math.inf
    if v == 0.0:
        return -math.copysign(math.inf, v)
    if v < 0.0:
        if v == math.floor(v):
            return math.nan
        return _digamma_scalar(1.0 - v) - math.pi / math.tan(math.pi * v)
    acc = 0.0
    while v < 10.0:
        acc -= 1.0 / v
        v += 1.0
    z = 1.0 / (v * v)
    tail = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z * (1 / 132 - z * 691 / 32760)))))
    return acc + math.log(v) - 0.5 / v - tail


_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)                  # B_2, B_4, ..., B_20


def _polygamma_scalar(v, n):
    # psi^(n)(x) for n >= 1 and x > 0: the recurrence psi^(n)(x) = psi^(n)(x + 1) -
    # (-1)^n n! / x^(n+1) up to x >= n + 20, then the asymptotic series (-1)^(n+1) *
    # [(n-1)!/x^n + n!/(2 x^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! x^(2k+n))]. Negative
    # x (reflection needs derivatives of cot) is left to SciPy.
    if math.isnan(v):
        return math.nan
    sign = -1.0 if n % 2 == 0 else 1.0             # (-1)^(n+1)
    if v <= 0.0:
        if v == -math.inf or v == math.floor(v):  # the poles and -inf: as scipy.special
            return sign * math.inf
        raise NotImplementedError(f"polygamma(n = {n}, x = {v}) for x < 0 needs SciPy: pip install scipy")
    if v == math.inf:
        return sign * 0.0
    nfact = math.factorial(n)
    acc = 0.0
    while v < n + 20.0:
        acc += nfact / v ** (n + 1)
        v += 1.0
    total = math.factorial(n - 1) / v ** n + nfact / (2.0 * v ** (n + 1))
    for k, b in enumerate(_BERNOULLI, start=1):
        total += b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * v ** (2 * k + n))
    return sign * (total + acc)


def _polygamma_impl(x, n):
    # psi^(n)(x), the n-th derivative of digamma: scipy.special's; without SciPy the series
    # above (n = 0: every x; n >= 1: x > 0, else NotImplementedError naming SciPy)
    sp = _scipy_special()
    if sp is None:
        if n == 0:
            return _by_element(_digamma_scalar, x)
        return _by_element(lambda v: _polygamma_scalar(v, n), x)
    out = sp.digamma(x) if n == 0 else sp.polygamma(n, x)
    out = np.asarray(out, dtype=np.result_type(x, np.float64) if np.asarray(x).dtype.kind != "f"
                     else np.asarray(x).dtype)
    return out[()] if out.ndim == 0 else out


def polygamma(x, n): return bind(polygamma_p, x, n=n)


def _polygamma_jvp(tangents, ans, x, n):
    return safe_mul(tangents[0], polygamma(x, n + 1))


gammaln_p = _unary("gammaln", _gammaln_impl, lambda ans, x: polygamma(x, 0),
                   rule_name="gamma function rule", python="_m.lgamma({0})", symbol="",
                   domain="gammaln(u) = log|Gamma(u)| has poles at u = 0, -1, -2, ...")
polygamma_p = _prim("polygamma", _polygamma_impl, float_elementwise_aval, _polygamma_jvp,
                    rule_name="gamma function rule", sparsity=UNARY,
                    domain="polygamma(n, u) has poles at u = 0, -1, -2, ...")


log2_p = _unary("log2", np.log2, lambda ans, x: div(_log_coef(ans, x), _LN2), rule_name="logarithm rule",
                numpy="log2", python="_m.log2({0})", domain="log2(u) is defined for u > 0")
log10_p = _unary("log10", np.log10, lambda ans, x: div(_log_coef(ans, x), _LN10), rule_name="logarithm rule",
                 numpy="log10", python="_m.log10({0})", domain="log10(u) is defined for u > 0")
exp2_p = _unary("exp2", np.exp2, lambda ans, x: mul(ans, _LN2), rule_name="exponential rule",
                numpy="exp2", python="_m.exp2({0})")
cbrt_p = _unary("cbrt", np.cbrt, lambda ans, x: div(1.0 / 3.0, mul(ans, ans)), rule_name="power rule",
                numpy="cbrt", python="_m.cbrt({0})", domain="cbrt(u) has an infinite derivative at u = 0")
arcsinh_p = _unary("arcsinh", np.arcsinh, lambda ans, x: _recip(sqrt(add(mul(x, x), 1.0))),
                   rule_name="inverse hyperbolic rule", numpy="arcsinh", python="_m.asinh({0})", symbol="asinh")
arccosh_p = _unary("arccosh", np.arccosh,
                   lambda ans, x: _recip(mul(sqrt(sub(x, 1.0)), sqrt(add(x, 1.0)))),
                   rule_name="inverse hyperbolic rule", numpy="arccosh", python="_m.acosh({0})", symbol="acosh",
                   domain="acosh(u) is defined for u >= 1 (derivative for u > 1)")
arctanh_p = _unary("arctanh", np.arctanh, lambda ans, x: _recip(sub(1.0, mul(x, x))),
                   rule_name="inverse hyperbolic rule", numpy="arctanh", python="_m.atanh({0})", symbol="atanh",
                   domain="atanh(u) is defined for -1 < u < 1")


def _hypot_jvp(tangents, ans, x, y):
    # d hypot(x, y) = (x dx + y dy) / hypot(x, y); at x = y = 0, where it is undefined
    # (0/0), the weights are taken as 0, as for abs at 0 (sign(0) = 0): only the value
    # that is genuinely undefined is patched, so the derivative elsewhere keeps its own.
    tx, ty = tangents
    dt = getattr(ans, "dtype", np.dtype(np.float64))
    zero = compare(ans, dt.type(0), "eq")
    safe = select(zero, dt.type(1), ans)
    terms = []
    if tx is not None:
        terms.append(safe_mul(tx, select(zero, dt.type(0), div(x, safe))))
    if ty is not None:
        terms.append(safe_mul(ty, select(zero, dt.type(0), div(y, safe))))
    out = terms[0] if len(terms) == 1 else add(*terms)
    return broadcast_tangent(out, shape_of(ans))


hypot_p = _prim("hypot", np.hypot, float_elementwise_aval, _hypot_jvp, rule_name="chain rule (hypot)",
                sparsity=BINARY, numpy="hypot", python="_m.hypot({0}, {1})")


def _fresh(x):
    out = np.array(x, copy=True)
    return out[()] if out.ndim == 0 else out


stop_gradient_p = _prim("stop_gradient", _fresh, elementwise_aval, zero_jvp, sparsity=ZERO)

ANALYTIC = frozenset({"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                      "arcsin", "arccos", "arctan", "sqrt", "add", "sub", "neg", "mul", "safe_mul",
                      "div", "integer_pow", "pow", "logaddexp", "convert", "logistic", "log2", "log10",
                      "exp2", "arcsinh", "arccosh", "arctanh", "erf", "erfc"})
