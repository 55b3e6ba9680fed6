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
* ``sign``, ``floor``, ``round``, comparisons and ``stop_gradient`` have
  derivative 0 everywhere.
"""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, register, zero_jvp
from .common import (bool_elementwise_aval, elementwise_aval, float_elementwise_aval,
                     shape_of)


def _prim(name, impl, aval_rule, jvp=None, transpose=None, linear=False, rule_name=""):
    return register(Primitive(name, impl, aval_rule, jvp=jvp, transpose=transpose,
                              linear=linear, rule_name=rule_name))


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
    out = bind(_STRUCT["reduce_sum"], ct, axes=axes) if axes else ct
    return bind(_STRUCT["reshape"], out, shape=tuple(shape)) if shape_of(out) != tuple(shape) else out


def broadcast_tangent(t, shape):
    return t if shape_of(t) == tuple(shape) else bind(_STRUCT["broadcast_to"], t, shape=tuple(shape))


#: structural primitives defined in ops/reduce.py and ops/shape.py, looked up by the
#: rules above (ops/__init__.py fills it once every module is loaded)
_STRUCT: dict = {}


def _scale_jvp(coef):
    """JVP rule ``t * coef(ans, x)`` for a unary primitive, with 0 * inf = 0."""
    def rule(tangents, ans, x):
        return safe_mul(tangents[0], coef(ans, x))
    return rule


def _unary(name, impl, coef=None, rule_name=""):
    return _prim(name, impl, float_elementwise_aval,
                 jvp=_scale_jvp(coef) if coef is not None else zero_jvp,
                 rule_name=rule_name)


# -- linear primitives --------------------------------------------------------

def _add_jvp(tangents, ans, x, y):
    tx, ty = tangents
    if tx is None:
        return broadcast_tangent(ty, shape_of(ans))
    if ty is None:
        return broadcast_tangent(tx, shape_of(ans))
    return add(tx, ty)


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, x.shape) if _undef(x) else None,
            unbroadcast(ct, y.shape) if _undef(y) else None]


def _sub_jvp(tangents, ans, x, y):
    tx, ty = tangents
    if ty is None:
        return broadcast_tangent(tx, shape_of(ans))
    if tx is None:
        return broadcast_tangent(neg(ty), shape_of(ans))
    return sub(tx, ty)


def _sub_transpose(ct, x, y):
    return [unbroadcast(ct, x.shape) if _undef(x) else None,
            unbroadcast(neg(ct), y.shape) if _undef(y) else None]


def _undef(x):
    return type(x).__name__ == "UndefinedPrimal"


add_p = _prim("add", np.add, elementwise_aval, _add_jvp, _add_transpose, linear=True, rule_name="sum rule")
sub_p = _prim("sub", np.subtract, elementwise_aval, _sub_jvp, _sub_transpose, linear=True, rule_name="difference rule")
neg_p = _prim("neg", np.negative, elementwise_aval,
              lambda ts, ans, x: neg(ts[0]), lambda ct, x: [neg(ct)], linear=True,
              rule_name="constant multiple rule")


def _select_jvp(tangents, ans, c, x, y):
    _, tx, ty = tangents
    dt = ans.dtype
    return select(c, tx if tx is not None else dt.type(0), ty if ty is not None else dt.type(0))


def _select_transpose(ct, c, x, y):
    zero = ct.dtype.type(0)
    return [None,
            unbroadcast(select(c, ct, zero), x.shape) if _undef(x) else None,
            unbroadcast(select(c, zero, ct), y.shape) if _undef(y) else None]


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
                 rule_name="piecewise rule")


def _convert_impl(x, dtype):
    return np.asarray(x).astype(dtype, copy=True) if np.ndim(x) else np.asarray(x, dtype=dtype)[()]


def _convert_jvp(tangents, ans, x, dtype):
    return bind(convert_p, tangents[0], dtype=dtype) if np.dtype(dtype).kind in "fc" else None


def _convert_transpose(ct, x, dtype):
    return [bind(convert_p, ct, dtype=x.dtype)]


convert_p = _prim("convert", _convert_impl, lambda x, dtype: ShapedArray(shape_of(x), dtype),
                  _convert_jvp, _convert_transpose, linear=True)


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
    if _undef(x) and _undef(y):
        raise NotImplementedError("internal error: mul is not linear in both arguments")
    if _undef(x):
        return [unbroadcast(safe_mul(ct, y), x.shape), None]
    return [None, unbroadcast(safe_mul(x, ct), y.shape)]


mul_p = _prim("mul", np.multiply, elementwise_aval, _mul_jvp, _mul_transpose, rule_name="product rule")
safe_mul_p = _prim("safe_mul", _safe_mul_impl, elementwise_aval, _mul_jvp, _mul_transpose,
                   rule_name="product rule")


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


div_p = _prim("div", np.true_divide, float_elementwise_aval, _div_jvp, rule_name="quotient rule")


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


integer_pow_p = _prim("integer_pow", _integer_pow_impl, elementwise_aval, _integer_pow_jvp,
                      rule_name="power rule")


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


pow_p = _prim("pow", _pow_impl, float_elementwise_aval, _pow_jvp, rule_name="power rule")


def _maximum_jvp(tangents, ans, x, y, op="gt"):
    # maximum(x, y) = where(x > y, x, y): ties send the derivative to y.
    tx, ty = tangents
    zero = ans.dtype.type(0)
    c = compare(x, y, op)
    return broadcast_tangent(select(c, zero if tx is None else tx, zero if ty is None else ty), shape_of(ans))


maximum_p = _prim("maximum", np.maximum, elementwise_aval, _maximum_jvp, rule_name="piecewise rule")
minimum_p = _prim("minimum", np.minimum, elementwise_aval,
                  lambda ts, ans, x, y: _maximum_jvp(ts, ans, x, y, op="lt"), rule_name="piecewise rule")


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


arctan2_p = _prim("arctan2", np.arctan2, float_elementwise_aval, _arctan2_jvp, rule_name="chain rule (atan2)")


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


rem_p = _prim("rem", np.remainder, elementwise_aval, _rem_jvp, rule_name="remainder rule")
floor_divide_p = _prim("floor_divide", np.floor_divide, elementwise_aval, zero_jvp)


def _finite_constant(x) -> bool:
    """Whether ``x`` is a known value (no tracer, no formula) with no inf or NaN."""
    if getattr(x, "_builder", None) is not None:
        return False
    try:
        return bool(np.all(np.isfinite(x)))
    except TypeError:
        return False


def _logaddexp_weight(a, b):
    # d/da log(e^a + e^b) = sigmoid(a - b). At a finite tie a - b is 0 already and
    # sigmoid(0) = 1/2; only where a and b are the same infinity is a - b NaN, and
    # there (only there) it is taken as 0, so the weight is 1/2 too. The guard patches
    # that value alone, so the derivative of a - b (the Hessian at a tie, 1/4) is
    # kept; and it is left out where a or b is a finite constant (softplus, a
    # logistic loss logaddexp(0, z)), so such programs carry no select at any order.
    d = sub(a, b)
    if _finite_constant(a) or _finite_constant(b):
        return logistic(d)
    # NaN only where d is NaN and a == b (a NaN input keeps its NaN weight)
    dt = getattr(d, "dtype", np.dtype(np.float64))
    fill = select(compare(a, b, "eq"), dt.type(0), dt.type(np.nan))
    return logistic(select(compare(d, d, "eq"), d, fill))


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
                    rule_name="chain rule (log-sum-exp)")


_COMPARE = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
            "eq": np.equal, "ne": np.not_equal}
compare_p = _prim("compare", lambda x, y, op: _COMPARE[op](x, y),
                  lambda x, y, op: bool_elementwise_aval(x, y), zero_jvp)
_LOGICAL = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
logical_p = _prim("logical", lambda x, y, op: _LOGICAL[op](x, y),
                  lambda x, y, op: bool_elementwise_aval(x, y), zero_jvp)
logical_not_p = _prim("logical_not", np.logical_not, bool_elementwise_aval, zero_jvp)
isfinite_p = _prim("isfinite", np.isfinite, bool_elementwise_aval, zero_jvp)

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


exp_p = _unary("exp", np.exp, lambda ans, x: ans, rule_name="exponential rule")
def _log_coef(ans, u):
    # d/du log(u) = 1/u for u >= 0 (inf at 0, 0 at inf); outside the domain the
    # derivative is NaN, like the value: 0 * sign(log u) is NaN exactly there and 0
    # elsewhere. The marker multiplies, (1 + marker) / u, rather than being added to
    # 1/u, so the higher derivatives are NaN outside the domain too (an added marker
    # has derivative safe_mul(0, ...) = 0, which left log''(-1) = -1), and sign's
    # derivative is 0, so the marker adds nothing to the derivatives inside.
    return div(add(1.0, mul(0.0, sign(ans))), u)


log_p = _unary("log", np.log, lambda ans, x: _log_coef(ans, x), rule_name="logarithm rule")
log1p_p = _unary("log1p", np.log1p, lambda ans, x: _log_coef(ans, add(x, 1.0)), rule_name="logarithm rule")
expm1_p = _unary("expm1", np.expm1, lambda ans, x: add(ans, 1.0), rule_name="exponential rule")
sin_p = _unary("sin", np.sin, lambda ans, x: cos(x), rule_name="trig rule")
cos_p = _unary("cos", np.cos, lambda ans, x: neg(sin(x)), rule_name="trig rule")
tan_p = _unary("tan", np.tan, lambda ans, x: add(1.0, mul(ans, ans)), rule_name="trig rule")
tanh_p = _unary("tanh", np.tanh, lambda ans, x: sub(1.0, mul(ans, ans)), rule_name="hyperbolic rule")
sinh_p = _unary("sinh", np.sinh, lambda ans, x: cosh(x), rule_name="hyperbolic rule")
cosh_p = _unary("cosh", np.cosh, lambda ans, x: sinh(x), rule_name="hyperbolic rule")
arcsin_p = _unary("arcsin", np.arcsin, lambda ans, x: _recip(sqrt(sub(1.0, mul(x, x)))),
                  rule_name="inverse trig rule")
arccos_p = _unary("arccos", np.arccos, lambda ans, x: neg(_recip(sqrt(sub(1.0, mul(x, x))))),
                  rule_name="inverse trig rule")
arctan_p = _unary("arctan", np.arctan, lambda ans, x: _recip(add(1.0, mul(x, x))),
                  rule_name="inverse trig rule")
logistic_p = _unary("logistic", _logistic_impl, lambda ans, x: mul(ans, sub(1.0, ans)),
                    rule_name="sigmoid rule")
sqrt_p = _unary("sqrt", np.sqrt, lambda ans, x: div(0.5, ans), rule_name="power rule")
abs_p = _prim("abs", np.abs, elementwise_aval, _scale_jvp(lambda ans, x: sign(x)),
              rule_name="absolute value rule")
sign_p = _prim("sign", np.sign, elementwise_aval, zero_jvp)
floor_p = _prim("floor", np.floor, float_elementwise_aval, zero_jvp)
round_p = _prim("round", np.round, float_elementwise_aval, zero_jvp)
def _fresh(x):
    out = np.array(x, copy=True)
    return out[()] if out.ndim == 0 else out


stop_gradient_p = _prim("stop_gradient", _fresh,
                        elementwise_aval, zero_jvp)

ANALYTIC = frozenset({"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                      "arcsin", "arccos", "arctan", "sqrt", "add", "sub", "neg", "mul", "safe_mul",
                      "div", "integer_pow", "pow", "logaddexp", "convert", "logistic"})
