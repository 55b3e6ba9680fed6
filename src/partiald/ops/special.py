"""Records of special functions beyond those in ``elementwise.py``: the inverse error
functions ``erfinv``/``erfcinv``, the gamma function ``gamma`` and the modified Bessel
functions ``i0``/``i1`` (``partiald.scipy.special`` binds them).

Values come from ``scipy.special`` when SciPy is installed; without it, ``erfinv``,
``erfcinv`` and ``gamma`` use partiald's own evaluation (Newton steps on ``math.erf`` /
``math.erfc``, ``math.gamma``), ``i0`` NumPy's ``np.i0`` and ``i1`` its power series.
Each JVP rule binds records, so every order differentiates:

    erfinv'(y)  =  sqrt(pi)/2 * exp(erfinv(y)^2)
    erfcinv'(y) = -sqrt(pi)/2 * exp(erfcinv(y)^2)
    gamma'(x)   =  gamma(x) * digamma(x)
    i0'(x)      =  i1(x)
    i1'(x)      =  i0(x) - i1(x) / x            (1/2 at x = 0)
"""
from __future__ import annotations

import math

import numpy as np

from . import batch_rules
from .elementwise import (_by_element, _scipy_special, _unary, add, compare, div, exp, mul, polygamma,
                          select, sub)
from ..core.primitive import Primitive, bind, register

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


def _out(out, x):
    a = np.asarray(x)
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    out = np.asarray(out, dtype=dt)
    return out[()] if out.ndim == 0 else out


# -- inverse error functions --------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _inv_erf_small(y):
    # erf(x) = y for |y| <= 1/2 (well conditioned): Newton from the linear term
    x = y / _TWO_OVER_SQRT_PI
    for _ in range(50):
        step = (math.erf(x) - y) / (_TWO_OVER_SQRT_PI * math.exp(-x * x))
        x -= step
        if abs(step) <= 1e-17 * abs(x) or step == 0.0:
            break
    return x


def _inv_erfc_pos(q):
    # erfc(x) = q for 0 < q <= 1, x >= 0: Newton on log(erfc(x)) = log(q), kept inside a
    # shrinking bracket (bisection when a step leaves it)
    if q == 1.0:
        return 0.0
    lq = math.log(q)
    x = math.sqrt(-lq) if q < 0.5 else (1.0 - q) / _TWO_OVER_SQRT_PI
    lo, hi = 0.0, 27.3
    for _ in range(200):
        e = math.erfc(x)
        if e <= 0.0:
            hi, x = x, 0.5 * (lo + x)
            continue
        g = math.log(e) - lq
        if g > 0.0:
            lo = x
        elif g < 0.0:
            hi = x
        else:
            return x
        xn = x + g * e / (_TWO_OVER_SQRT_PI * math.exp(-x * x)) if x * x < 700.0 else 0.5 * (lo + hi)
        if not lo <= xn <= hi:
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-16 * x:
            return xn
        x = xn
    return x


def _erfinv_scalar(y):
    # erfinv: +-inf at +-1, NaN outside [-1, 1], as scipy.special
    if math.isnan(y) or abs(y) > 1.0:
        return math.nan
    if abs(y) == 1.0:
        return math.copysign(math.inf, y)
    if abs(y) <= 0.5:
        return _inv_erf_small(y)
    return math.copysign(_inv_erfc_pos(1.0 - abs(y)), y)


def _erfcinv_scalar(z):
    # erfcinv(z) = erfinv(1 - z), computed without cancellation near z = 0 and z = 2
    if math.isnan(z) or z < 0.0 or z > 2.0:
        return math.nan
    if z == 0.0:
        return math.inf
    if z == 2.0:
        return -math.inf
    if 0.5 <= z <= 1.5:
        return _inv_erf_small(1.0 - z)
    return _inv_erfc_pos(z) if z < 0.5 else -_inv_erfc_pos(2.0 - z)


def _erfinv_impl(y):
    sp = _scipy_special()
    if sp is None:
        return _by_element(_erfinv_scalar, y)
    return _out(sp.erfinv(y), y)


def _erfcinv_impl(y):
    sp = _scipy_special()
    if sp is None:
        return _by_element(_erfcinv_scalar, y)
    return _out(sp.erfcinv(y), y)


erfinv_p = _unary("erfinv", _erfinv_impl,
                  lambda ans, y: mul(_SQRT_PI_OVER_2, exp(mul(ans, ans))),
                  rule_name="inverse function rule", symbol="",
                  domain="erfinv(u) is defined for -1 <= u <= 1 (infinite at the ends)")
erfcinv_p = _unary("erfcinv", _erfcinv_impl,
                   lambda ans, y: mul(-_SQRT_PI_OVER_2, exp(mul(ans, ans))),
                   rule_name="inverse function rule", symbol="",
                   domain="erfcinv(u) is defined for 0 <= u <= 2 (infinite at the ends)")


# -- the gamma function ------------------------------------------------------------------

def _gamma_scalar(v):
    # math.gamma raises at the poles and overflows past 171.6: scipy.special's values
    if math.isnan(v) or v == -math.inf:
        return math.nan
    if v == 0.0:
        return math.copysign(math.inf, v)
    if v < 0 and v == math.floor(v):
        return math.nan
    try:
        return math.gamma(v)
    except OverflowError:
        return math.inf


def _gamma_impl(x):
    sp = _scipy_special()
    if sp is None:
        return _by_element(_gamma_scalar, x)
    return _out(sp.gamma(x), x)


gamma_p = _unary("gamma", _gamma_impl, lambda ans, x: mul(ans, polygamma(x, 0)),
                 rule_name="gamma function rule", symbol="",
                 domain="gamma(u) has poles at u = 0, -1, -2, ...")


# -- modified Bessel functions of the first kind, orders 0 and 1 -----------------------------

def _i1_scalar(v):
    # the power series sum (x/2)^(2k+1) / (k! (k+1)!), fine up to |x| ~ 700
    if math.isnan(v):
        return math.nan
    if math.isinf(v):
        return v
    h = v / 2.0
    term = h
    total = term
    k = 0
    while abs(term) > 1e-17 * abs(total):
        k += 1
        term *= h * h / (k * (k + 1))
        total += term
        if not math.isfinite(total):
            return math.copysign(math.inf, v)
    return total


def _i0_impl(x):
    sp = _scipy_special()
    if sp is None:
        return _out(np.i0(np.asarray(x, dtype=np.float64)), x)
    return _out(sp.i0(x), x)


def _i1_impl(x):
    sp = _scipy_special()
    if sp is None:
        return _by_element(_i1_scalar, x)
    return _out(sp.i1(x), x)


def _i1_coef(ans, x):
    # i0(x) - i1(x)/x, with its limit 1/2 at x = 0 (x replaced by 1 there, then selected away)
    zero = compare(x, 0.0, "eq")
    safe = select(zero, 1.0, x)
    return select(zero, 0.5, sub(bind(i0_p, x), div(ans, safe)))


i0_p = _unary("i0", _i0_impl, lambda ans, x: bind(i1_p, x), rule_name="Bessel function rule", symbol="")
i1_p = _unary("i1", _i1_impl, _i1_coef, rule_name="Bessel function rule", symbol="")



# -- Bessel functions of real order, and the regularized incomplete gamma and beta functions --
#
# Records with constant first operands: the order ``v`` of the Bessel functions, the shapes
# ``a`` (and ``b``) of gammainc / gammaincc / betainc. They are operands (not parameters), so
# they broadcast against ``x`` as in SciPy and vmap / jit treat them like any constant;
# derivatives are taken in ``x`` only. The JVP rules raise TypeError when a tangent reaches
# an order or a shape (partiald never drops a derivative silently):
#
#     jv'  = (jv(v-1) - jv(v+1)) / 2          yv' likewise
#     iv'  = (iv(v-1) + iv(v+1)) / 2          ive' = (ive(v-1) + ive(v+1)) / 2 - sign(x) ive(v)
#     kv'  = -(kv(v-1) + kv(v+1)) / 2         kve' = -(kve(v-1) + kve(v+1)) / 2 + kve(v)
#     j0' = -j1,  j1' = (j0 - jv(2)) / 2,  y0' = -y1,  y1' = (y0 - yv(2)) / 2
#     gammainc'  = x^(a-1) e^-x / Gamma(a)    (in log space, via gammaln)   gammaincc' = -gammainc'
#     betainc'   = x^(a-1) (1-x)^(b-1) / B(a, b)
#
# Values come from scipy.special; without SciPy these records raise ImportError.

from . import elementwise as _ew  # noqa: E402
from .common import ShapedArray, dtype_of, shape_of  # noqa: E402


def _need_scipy(name):
    sp = _scipy_special()
    if sp is None:
        raise ImportError(f"partiald.scipy.special.{name} takes its values from SciPy, which is not "
                          "installed: pip install scipy")
    return sp


def _x_dtype(x):
    dt = dtype_of(x)
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _const_aval(*args, **params):
    # NumPy broadcasting of all operands; the float dtype of x (the last operand) alone,
    # so a float64 (or integer) order keeps a float32 x float32
    return ShapedArray(np.broadcast_shapes(*[shape_of(a) for a in args]), _x_dtype(args[-1]))


def _const_impl(name, fn):
    # fn(scipy.special) -> the SciPy function
    def impl(*args):
        sp = _need_scipy(name)
        x = args[-1]
        with np.errstate(all="ignore"):
            out = fn(sp)(*args)
        out = np.asarray(out, dtype=_x_dtype(x))
        return out[()] if out.ndim == 0 else out
    return impl


def _no_derivative(name, what, tangents):
    if any(t is not None for t in tangents):
        raise TypeError(f"{name}: the derivative with respect to {what} is not supported (partiald "
                        f"differentiates in x only); pass {what} as constants (Python numbers or "
                        "NumPy arrays), or wrap them in stop_gradient")


def _const_jvp(name, what, coef):
    def rule(tangents, ans, *args):
        _no_derivative(name, what, tangents[:-1])
        if tangents[-1] is None:
            return None
        return _ew.safe_mul(_ew.broadcast_tangent(tangents[-1], shape_of(ans)), coef(ans, *args))
    return rule


def _const_record(name, fn, what, coef, nconst=1, domain=""):
    pairs = ((nconst, nconst),)          # nonlinear in x alone (the constants carry no derivative)
    return register(Primitive(name, _const_impl(name, fn), _const_aval, jvp=_const_jvp(name, what, coef),
                              batch=batch_rules.elementwise(name), sparsity=pairs, elementwise=True,
                              rule_name="Bessel function rule" if "order" in what else
                              "incomplete gamma/beta rule", domain=domain))


def _half(x):
    return mul(0.5, x)


jv_p = _const_record("jv", lambda sp: sp.jv, "the order v", lambda ans, v, x: _half(
    sub(bind(jv_p, sub(v, 1.0), x), bind(jv_p, add(v, 1.0), x))),
    domain="jv(v, x) is real for x >= 0 (and for integer v at x < 0)")
def _at_zero(x, value, coef, where=None):
    # the limit at x = +-0, where the recurrence gives inf - inf (genuinely undefined there)
    zero = compare(x, 0.0, "eq")
    return select(zero, value if where is None else select(where, value, coef), coef)


yv_p = _const_record("yv", lambda sp: sp.yv, "the order v", lambda ans, v, x: _at_zero(x, math.inf, _half(
    sub(bind(yv_p, sub(v, 1.0), x), bind(yv_p, add(v, 1.0), x))), compare(v, 0.0, "ge")),
    domain="yv(v, x) is defined for x > 0 (-inf at 0)")
iv_p = _const_record("iv", lambda sp: sp.iv, "the order v", lambda ans, v, x: _half(
    add(bind(iv_p, sub(v, 1.0), x), bind(iv_p, add(v, 1.0), x))),
    domain="iv(v, x) is real for x >= 0 (and for integer v at x < 0)")
ive_p = _const_record("ive", lambda sp: sp.ive, "the order v", lambda ans, v, x: sub(_half(
    add(bind(ive_p, sub(v, 1.0), x), bind(ive_p, add(v, 1.0), x))), mul(_ew.sign(x), ans)),
    domain="ive(v, x) is real for x >= 0 (and for integer v at x < 0)")
kv_p = _const_record("kv", lambda sp: sp.kv, "the order v", lambda ans, v, x: _half(
    _ew.neg(add(bind(kv_p, sub(v, 1.0), x), bind(kv_p, add(v, 1.0), x)))),
    domain="kv(v, x) is defined for x > 0 (inf at 0)")
kve_p = _const_record("kve", lambda sp: sp.kve, "the order v", lambda ans, v, x: _at_zero(x, -math.inf, add(_half(
    _ew.neg(add(bind(kve_p, sub(v, 1.0), x), bind(kve_p, add(v, 1.0), x)))), ans)),
    domain="kve(v, x) is defined for x > 0 (inf at 0)")


def _bessel_unary(name, fn, coef):
    return _unary(name, _const_impl(name, fn), coef, rule_name="Bessel function rule", symbol="")


j0_p = _bessel_unary("j0", lambda sp: sp.j0, lambda ans, x: _ew.neg(bind(j1_p, x)))
j1_p = _bessel_unary("j1", lambda sp: sp.j1, lambda ans, x: _half(sub(bind(j0_p, x), bind(jv_p, 2.0, x))))
y0_p = _bessel_unary("y0", lambda sp: sp.y0, lambda ans, x: _ew.neg(bind(y1_p, x)))
y1_p = _bessel_unary("y1", lambda sp: sp.y1,
                     lambda ans, x: _at_zero(x, math.inf, _half(sub(bind(y0_p, x), bind(yv_p, 2.0, x)))))


def _xlog_const(c, logx, x):
    # c * log(x), 0 where c == 0 (x is then replaced by 1: no log(0) = -inf, no 0 * inf)
    zero = compare(c, 0.0, "eq")
    xs = select(zero, 1.0, x)
    return select(zero, 0.0, mul(c, logx(xs)))


def _gammainc_coef(ans, a, x):
    # x^(a-1) e^-x / Gamma(a) = exp((a-1) log x - x - gammaln(a))
    log_pdf = sub(sub(_xlog_const(sub(a, 1.0), _ew.log, x), x), bind(_ew.gammaln_p, a))
    return exp(log_pdf)


def _betainc_coef(ans, a, b, x):
    # x^(a-1) (1-x)^(b-1) / B(a, b), in log space (betaln by gammaln)
    betaln = sub(add(bind(_ew.gammaln_p, a), bind(_ew.gammaln_p, b)), bind(_ew.gammaln_p, add(a, b)))
    log_pdf = add(_xlog_const(sub(a, 1.0), _ew.log, x),
                  _xlog_const(sub(b, 1.0), lambda u: bind(_ew.log1p_p, _ew.neg(u)), x))
    return exp(sub(log_pdf, betaln))


gammainc_p = _const_record("gammainc", lambda sp: sp.gammainc, "the shape a", _gammainc_coef,
                           domain="gammainc(a, x) is defined for a > 0, x >= 0")
gammaincc_p = _const_record("gammaincc", lambda sp: sp.gammaincc, "the shape a",
                            lambda ans, a, x: _ew.neg(_gammainc_coef(ans, a, x)),
                            domain="gammaincc(a, x) is defined for a > 0, x >= 0")
betainc_p = _const_record("betainc", lambda sp: sp.betainc, "the shapes a and b", _betainc_coef, nconst=2,
                          domain="betainc(a, b, x) is defined for a, b > 0, 0 <= x <= 1")

__all__ = ["erfinv_p", "erfcinv_p", "gamma_p", "i0_p", "i1_p", "jv_p", "yv_p", "iv_p", "ive_p", "kv_p",
           "kve_p", "j0_p", "j1_p", "y0_p", "y1_p", "gammainc_p", "gammaincc_p", "betainc_p"]
