"""``scipy.special`` functions, differentiable, with SciPy's signatures and values.

Records of their own: ``erf``, ``erfc``, ``gammaln`` and ``polygamma`` (``digamma`` is
``polygamma(0, x)``), and (in ``partiald/ops/special.py``) ``erfinv``, ``erfcinv``,
``gamma``, ``i0``, ``i1``, the Bessel functions ``j0 j1 y0 y1 jv yv iv ive kv kve`` (``jn``,
``yn``, ``kn``: integer orders) and the regularized incomplete gamma and beta functions
``gammainc``, ``gammaincc``, ``betainc`` (differentiable in ``x``; the order ``v`` and the shapes
``a``, ``b`` are constants: a derivative with respect to them raises TypeError); compositions
of partiald.numpy functions: ``expit``, ``logit``,
``logsumexp``, ``softmax``, ``log_softmax``, ``xlogy``, ``xlog1py``, ``entr``, ``rel_entr``,
``rgamma``, ``gammasgn``, ``betaln``, ``beta``, ``multigammaln``, ``i0e``, ``i1e``.

``erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt`` and ``erfc(x) = 1 - erf(x)``
(computed directly, so the tail keeps its relative accuracy). Values come from
``scipy.special`` when SciPy is installed, else from the math module; both agree
to about 1 ulp.

    >>> import partiald as pdx
    >>> from partiald.scipy.special import erf
    >>> round(float(pdx.grad(erf)(0.0)), 12)        # 2/sqrt(pi)
    1.128379167096
"""
from __future__ import annotations

import math

import numpy as _np

from .. import numpy as _pnp
from ..core.primitive import bind
from ..numpy import _to_float
from ..numpy._core import _value_or_none
from ..ops import elementwise as _ew
from ..ops import special as _sp

__all__ = ["erf", "erfc", "erfinv", "erfcinv", "gammaln", "gamma", "rgamma", "gammasgn", "digamma", "psi",
           "polygamma", "betaln", "beta", "multigammaln", "i0", "i1", "i0e", "i1e", "expit", "logit",
           "logsumexp", "softmax", "log_softmax", "xlogy", "xlog1py", "entr", "rel_entr",
           "j0", "j1", "y0", "y1", "jv", "jn", "yv", "yn", "iv", "ive", "kv", "kve", "kn",
           "gammainc", "gammaincc", "betainc"]


def erf(x):
    """The error function, like ``scipy.special.erf``; its derivative is ``2/sqrt(pi) exp(-x^2)``."""
    return bind(_ew.erf_p, _to_float(x))


def erfc(x):
    """The complementary error function ``1 - erf(x)``, like ``scipy.special.erfc``."""
    return bind(_ew.erfc_p, _to_float(x))


def gammaln(x):
    """``log|Gamma(x)|``, like ``scipy.special.gammaln`` (``inf`` at the poles 0, -1, -2, ...);
    its derivative is ``digamma(x)``. Without SciPy the values come from ``math.lgamma``."""
    return bind(_ew.gammaln_p, _to_float(x))


def digamma(x):
    """``psi(x) = d/dx log Gamma(x)``, like ``scipy.special.digamma`` (NaN at -1, -2, ...,
    ``-inf`` at +0); its derivative is ``polygamma(1, x)``. Without SciPy the values come
    from partiald's own series (asymptotic expansion, recurrence and reflection)."""
    return bind(_ew.polygamma_p, _to_float(x), n=0)


psi = digamma


def polygamma(n, x):
    """``psi^(n)(x)``, the ``n``-th derivative of ``digamma`` (``n = 0``: digamma itself),
    like ``scipy.special.polygamma`` for a single integer ``n >= 0``; its derivative is
    ``polygamma(n + 1, x)``, so every order differentiates. ``n >= 1`` needs SciPy (the
    evaluation raises ``NotImplementedError`` naming it otherwise).

        >>> import partiald as pdx
        >>> round(float(pdx.grad(pdx.grad(gammaln))(1.0)), 12)    # polygamma(1, 1) = pi^2/6
        1.644934066848
    """
    if isinstance(n, bool) or _pnp._is_traced(n) or _pnp.ndim(n) != 0 or not float(n).is_integer() \
            or float(n) < 0:
        raise ValueError(f"polygamma: n must be one integer >= 0, got {n!r}")
    return bind(_ew.polygamma_p, _to_float(x), n=int(n))


def erfinv(y):
    """The inverse error function, like ``scipy.special.erfinv`` (``+-inf`` at ``+-1``, NaN
    outside ``[-1, 1]``); its derivative is ``sqrt(pi)/2 exp(erfinv(y)^2)``."""
    return bind(_sp.erfinv_p, _to_float(y))


def erfcinv(y):
    """The inverse complementary error function, like ``scipy.special.erfcinv``
    (``erfcinv(y) = erfinv(1 - y)`` on ``[0, 2]``, accurate near both ends); its derivative
    is ``-sqrt(pi)/2 exp(erfcinv(y)^2)``."""
    return bind(_sp.erfcinv_p, _to_float(y))


def gamma(x):
    """The gamma function, like ``scipy.special.gamma`` (``+-inf`` at ``+-0``, NaN at the
    negative integers, ``inf`` past 171.6); its derivative is ``gamma(x) digamma(x)``."""
    return bind(_sp.gamma_p, _to_float(x))


def i0(x):
    """The modified Bessel function of the first kind of order 0, like ``scipy.special.i0``;
    its derivative is ``i1(x)``."""
    return bind(_sp.i0_p, _to_float(x))


def i1(x):
    """The modified Bessel function of the first kind of order 1, like ``scipy.special.i1``;
    its derivative is ``i0(x) - i1(x)/x`` (1/2 at 0)."""
    return bind(_sp.i1_p, _to_float(x))


# -- Bessel functions and the regularized incomplete gamma / beta functions -------------------
# (records in partiald/ops/special.py; values from SciPy, ImportError without it)

def _const(v):
    # an order or shape: a float operand of the record (traced values pass through; the record's
    # JVP rule raises TypeError if a derivative reaches them)
    if _pnp._is_traced(v):
        return _to_float(v)
    v = _np.asarray(v)
    return float(v) if v.ndim == 0 else v.astype(_np.float64)


def _integer_order(n):
    # yn / kn: SciPy truncates a float order to an integer (a step function of n)
    if _pnp._is_traced(n):
        n = _to_float(n)
        return _pnp.where(_pnp.less(n, 0.0), _pnp.ceil(n), _pnp.floor(n))
    return _const(_np.trunc(_np.asarray(n, dtype=_np.float64)))


def j0(x):
    """The Bessel function of the first kind of order 0, like ``scipy.special.j0``; its
    derivative is ``-j1(x)``."""
    return bind(_sp.j0_p, _to_float(x))


def j1(x):
    """The Bessel function of the first kind of order 1, like ``scipy.special.j1``; its
    derivative is ``(j0(x) - jv(2, x)) / 2``."""
    return bind(_sp.j1_p, _to_float(x))


def y0(x):
    """The Bessel function of the second kind of order 0, like ``scipy.special.y0`` (``-inf``
    at 0, NaN for x < 0); its derivative is ``-y1(x)``."""
    return bind(_sp.y0_p, _to_float(x))


def y1(x):
    """The Bessel function of the second kind of order 1, like ``scipy.special.y1``; its
    derivative is ``(y0(x) - yv(2, x)) / 2``."""
    return bind(_sp.y1_p, _to_float(x))


def jv(v, x):
    """The Bessel function of the first kind of real order ``v``, like ``scipy.special.jv``
    (``v`` broadcasts against ``x``). Differentiable in ``x``, every order:
    ``d/dx jv(v, x) = (jv(v-1, x) - jv(v+1, x)) / 2``. The order is a constant: a derivative
    with respect to ``v`` raises TypeError.

        >>> import partiald as pdx
        >>> round(float(pdx.grad(lambda x: jv(0, x))(1.0)), 12)     # -j1(1)
        -0.440050585745
    """
    return bind(_sp.jv_p, _const(v), _to_float(x))


def jn(n, x):
    """``jv`` under its integer-order name, like ``scipy.special.jn`` (which is ``jv`` itself)."""
    return jv(n, x)


def yv(v, x):
    """The Bessel function of the second kind of real order ``v``, like ``scipy.special.yv``;
    ``d/dx yv(v, x) = (yv(v-1, x) - yv(v+1, x)) / 2``. The order is a constant (TypeError for
    a derivative with respect to it)."""
    return bind(_sp.yv_p, _const(v), _to_float(x))


def yn(n, x):
    """``yv`` for an integer order ``n`` (SciPy truncates a float ``n``), like ``scipy.special.yn``."""
    return bind(_sp.yv_p, _integer_order(n), _to_float(x))


def iv(v, x):
    """The modified Bessel function of the first kind of real order ``v``, like
    ``scipy.special.iv``; ``d/dx iv(v, x) = (iv(v-1, x) + iv(v+1, x)) / 2``. The order is a
    constant (TypeError for a derivative with respect to it)."""
    return bind(_sp.iv_p, _const(v), _to_float(x))


def ive(v, x):
    """The exponentially scaled ``iv(v, x) exp(-|x|)``, like ``scipy.special.ive``;
    ``d/dx ive(v, x) = (ive(v-1, x) + ive(v+1, x)) / 2 - sign(x) ive(v, x)``."""
    return bind(_sp.ive_p, _const(v), _to_float(x))


def kv(v, x):
    """The modified Bessel function of the second kind of real order ``v``, like
    ``scipy.special.kv``; ``d/dx kv(v, x) = -(kv(v-1, x) + kv(v+1, x)) / 2``."""
    return bind(_sp.kv_p, _const(v), _to_float(x))


def kn(n, x):
    """``kv`` for an integer order ``n`` (SciPy truncates a float ``n``), like ``scipy.special.kn``."""
    return bind(_sp.kv_p, _integer_order(n), _to_float(x))


def kve(v, x):
    """The exponentially scaled ``kv(v, x) exp(x)``, like ``scipy.special.kve``;
    ``d/dx kve(v, x) = -(kve(v-1, x) + kve(v+1, x)) / 2 + kve(v, x)``."""
    return bind(_sp.kve_p, _const(v), _to_float(x))


def gammainc(a, x):
    """The regularized lower incomplete gamma function ``P(a, x)``, like
    ``scipy.special.gammainc``; ``d/dx = x^(a-1) e^-x / Gamma(a)`` (computed in log space).
    ``a`` is a constant: a derivative with respect to it raises TypeError."""
    return bind(_sp.gammainc_p, _const(a), _to_float(x))


def gammaincc(a, x):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, like
    ``scipy.special.gammaincc`` (accurate in the upper tail); ``d/dx = -x^(a-1) e^-x / Gamma(a)``."""
    return bind(_sp.gammaincc_p, _const(a), _to_float(x))


def betainc(a, b, x):
    """The regularized incomplete beta function ``I_x(a, b)``, like ``scipy.special.betainc``;
    ``d/dx = x^(a-1) (1-x)^(b-1) / B(a, b)``. ``a`` and ``b`` are constants: a derivative with
    respect to them raises TypeError."""
    return bind(_sp.betainc_p, _const(a), _const(b), _to_float(x))


# The functions below are compositions of partiald.numpy functions (no records of their
# own). Where a value is defined by a convention (0 * log 0 = 0, ...), the branch that is
# not taken is fed a harmless argument, so that its derivative never turns a 0 cotangent
# into NaN.

def _f(x):
    return _to_float(x if _pnp._is_traced(x) else _pnp.asarray(x))


def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, like ``scipy.special.expit``; accurate
    in both tails, its derivative is ``expit(x) * (1 - expit(x))``."""
    return bind(_ew.logistic_p, _f(x))


def logit(x):
    """``log(x / (1 - x))``, the inverse of ``expit``, like ``scipy.special.logit``:
    ``-inf`` at 0, ``inf`` at 1, NaN outside ``[0, 1]``; derivative ``1 / (x (1 - x))``.
    Near ``x = 1/2`` it is computed as ``log1p((2x - 1) / (1 - x))`` to keep its relative
    accuracy."""
    x = _f(x)
    mid = _pnp.less(_pnp.abs(_pnp.subtract(x, 0.5)), 0.25)
    xm = _pnp.where(mid, x, 0.5)                        # harmless argument for each branch
    xo = _pnp.where(mid, 0.1, x)
    near = _pnp.log1p(_pnp.divide(_pnp.subtract(_pnp.multiply(2.0, xm), 1.0), _pnp.subtract(1.0, xm)))
    far = _pnp.log(_pnp.divide(xo, _pnp.subtract(1.0, xo)))
    return _pnp.where(mid, near, far)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis`` (all axes by default) without overflow, like
    ``scipy.special.logsumexp``. ``b`` (broadcast against ``a``) weights the terms; with
    ``return_sign=True`` the result is ``(log|s|, sign(s))``, else a negative sum gives
    NaN. An all ``-inf`` slice gives ``-inf`` (gradient 0); differentiable in ``a`` and ``b``
    to any order."""
    a = _f(a)
    if b is not None:
        b = _f(b)
        a = _pnp.add(a, _pnp.zeros_like(b))             # broadcast a against b
        b = _pnp.add(b, _pnp.zeros_like(a))
    axes = _pnp._axes(a, axis)
    m = _pnp.stop_gradient(_pnp.max(a, axes, keepdims=True))
    m = _pnp.where(_pnp.isfinite(m), m, 0.0)
    e = _pnp.exp(_pnp.subtract(a, m))
    if b is not None:
        e = _pnp.multiply(b, e)
    s = _pnp.sum(e, axes, keepdims=True)
    if return_sign:
        sgn = _pnp.sign(s)
        s = _pnp.abs(s)
    out = _pnp.add(_pnp.log(s), m)
    if not keepdims:
        shape = tuple(d for i, d in enumerate(_pnp._shape(a)) if i not in axes)
        out = _pnp.reshape(out, shape)
        if return_sign:
            sgn = _pnp.reshape(sgn, shape)
    return (out, sgn) if return_sign else out


def softmax(x, axis=None):
    """``exp(x) / sum(exp(x))`` over ``axis`` (all axes by default), like
    ``scipy.special.softmax``; stable for large inputs."""
    x = _f(x)
    axes = _pnp._axes(x, axis)
    m = _pnp.stop_gradient(_pnp.max(x, axes, keepdims=True))
    e = _pnp.exp(_pnp.subtract(x, _pnp.where(_pnp.isfinite(m), m, 0.0)))
    return _pnp.divide(e, _pnp.sum(e, axes, keepdims=True))


def log_softmax(x, axis=None):
    """``x - logsumexp(x, axis, keepdims=True)`` (all axes by default), like
    ``scipy.special.log_softmax``; stable for large inputs."""
    x = _f(x)
    axes = _pnp._axes(x, axis)
    m = _pnp.stop_gradient(_pnp.max(x, axes, keepdims=True))
    m = _pnp.where(_pnp.isfinite(m), m, 0.0)
    d = _pnp.subtract(x, m)                              # (x - m) - log(sum(exp(x - m))):
    return _pnp.subtract(d, _pnp.log(_pnp.sum(_pnp.exp(d), axes, keepdims=True)))  # no cancellation


def _xlog(x, y, log, bad, safe):
    # x * log(y) with the value 0 where x == 0 (unless y is NaN). Where x == 0 and log(y)
    # is not finite (``bad``), y is replaced by ``safe`` (log(safe) = 0): the value is then 0 * 0 and the
    # derivatives are finite (d/dx = 0, d/dy = 0) instead of 0 * inf = NaN.
    x, y = _f(x), _f(y)
    ys = _pnp.where(_pnp.logical_and(_pnp.equal(x, 0.0), bad(y)), safe, y)
    return _pnp.multiply(x, log(ys))


def xlogy(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (also for ``y`` = 0, negative or ``inf``; NaN
    stays NaN), like ``scipy.special.xlogy``. Derivatives: ``d/dx = log(y)`` and
    ``d/dy = x / y``, except at ``x == 0`` with ``log(y)`` not finite, where both are 0."""
    return _xlog(x, y, _pnp.log,
                 lambda y: _pnp.logical_or(_pnp.less_equal(y, 0.0), _pnp.equal(y, _pnp.inf)), 1.0)


def xlog1py(x, y):
    """``x * log1p(y)``, 0 where ``x == 0`` (also for ``y <= -1`` or ``inf``; NaN stays
    NaN), like ``scipy.special.xlog1py``. Derivatives: ``d/dx = log1p(y)``,
    ``d/dy = x / (1 + y)``, except at ``x == 0`` with ``log1p(y)`` not finite (both 0)."""
    return _xlog(x, y, _pnp.log1p,
                 lambda y: _pnp.logical_or(_pnp.less_equal(y, -1.0), _pnp.equal(y, _pnp.inf)), 0.0)


def entr(x):
    """The elementwise entropy ``-x log(x)`` for ``x > 0``, 0 at 0 and ``-inf`` for
    ``x < 0`` (NaN stays NaN), like ``scipy.special.entr``. Derivative ``-(log(x) + 1)``
    for ``x > 0``; 0 at ``x <= 0`` (the constant branches)."""
    x = _f(x)
    pos = _pnp.greater(x, 0.0)
    xs = _pnp.where(pos, x, 1.0)
    val = _pnp.negative(_pnp.multiply(xs, _pnp.log(xs)))
    rest = _pnp.where(_pnp.equal(x, 0.0), 0.0, _pnp.where(_pnp.isnan(x), _pnp.nan, -_pnp.inf))
    return _pnp.where(pos, val, rest)


def rel_entr(x, y):
    """``x log(x / y)`` for ``x > 0, y > 0``; 0 for ``x == 0, y >= 0``; ``inf`` otherwise
    (NaN if either is NaN), like ``scipy.special.rel_entr``. Derivatives
    ``d/dx = log(x / y) + 1``, ``d/dy = -x / y`` where both are positive, else 0."""
    x, y = _f(x), _f(y)
    ok = _pnp.logical_and(_pnp.greater(x, 0.0), _pnp.greater(y, 0.0))
    xs, ys = _pnp.where(ok, x, 1.0), _pnp.where(ok, y, 1.0)
    r = _pnp.divide(xs, ys)                             # log(x / y), or log x - log y where
    fine = _pnp.logical_and(_pnp.isfinite(r), _pnp.greater(r, 1e-300))   # x / y over/underflows
    rs = _pnp.where(fine, r, 1.0)
    lr = _pnp.where(fine, _pnp.log(rs), _pnp.subtract(_pnp.log(xs), _pnp.log(ys)))
    val = _pnp.multiply(xs, lr)
    zero = _pnp.logical_and(_pnp.equal(x, 0.0), _pnp.greater_equal(y, 0.0))
    nan = _pnp.logical_or(_pnp.isnan(x), _pnp.isnan(y))
    rest = _pnp.where(zero, 0.0, _pnp.where(nan, _pnp.nan, _pnp.inf))
    return _pnp.where(ok, val, rest)


def gammasgn(x):
    """The sign of the gamma function, like ``scipy.special.gammasgn`` (+1 or -1; NaN at
    NaN; derivative 0)."""
    x = _f(x)
    g = _pnp.stop_gradient(gamma(x))
    # at the poles scipy gives the sign of the side it approaches from: gamma(+-0) = +-inf
    return _pnp.where(_pnp.isnan(x), _pnp.nan, _pnp.where(_pnp.less(g, 0.0), -1.0, 1.0))


def rgamma(x):
    """``1 / gamma(x)``, like ``scipy.special.rgamma`` (0 at the poles 0, -1, -2, ...
    of ``gamma``); its derivative is ``-rgamma(x) digamma(x)``, and at ``x = -n`` its
    limit ``(-1)^n n!`` (first order; higher orders are not exact at those points)."""
    x = _f(x)
    pole = _pnp.logical_and(_pnp.less_equal(x, 0.0), _pnp.equal(x, _pnp.floor(x)))
    xs = _pnp.where(pole, 1.0, x)                        # harmless argument at the poles
    n = _pnp.stop_gradient(_pnp.negative(_pnp.where(pole, x, 0.0)))
    odd = _pnp.not_equal(_pnp.subtract(n, _pnp.multiply(2.0, _pnp.floor(_pnp.multiply(0.5, n)))), 0.0)
    slope = _pnp.multiply(_pnp.where(odd, -1.0, 1.0), gamma(_pnp.add(n, 1.0)))
    at_pole = _pnp.add(_pnp.multiply(slope, _pnp.subtract(x, _pnp.stop_gradient(x))), 0.0)  # +0, slope (-1)^n n!
    return _pnp.where(pole, at_pole, _pnp.reciprocal(gamma(xs)))


def betaln(a, b):
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``, like
    ``scipy.special.betaln``; derivatives ``digamma(a) - digamma(a + b)`` and likewise in
    ``b``."""
    a, b = _f(a), _f(b)
    return _pnp.subtract(_pnp.add(gammaln(a), gammaln(b)), gammaln(_pnp.add(a, b)))


def beta(a, b):
    """The beta function ``B(a, b) = gamma(a) gamma(b) / gamma(a + b)``, like
    ``scipy.special.beta``, computed as ``sign * exp(betaln(a, b))`` (no overflow for large
    arguments); derivative ``B(a, b) (digamma(a) - digamma(a + b))`` in ``a``."""
    a, b = _f(a), _f(b)
    sign = _pnp.multiply(_pnp.multiply(gammasgn(a), gammasgn(b)), gammasgn(_pnp.add(a, b)))
    return _pnp.multiply(sign, _pnp.exp(betaln(a, b)))


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension ``d`` (a positive integer),
    like ``scipy.special.multigammaln``: ``d(d-1)/4 log(pi) + sum_j gammaln(a - j/2)``,
    ``j = 0..d-1``. SciPy requires ``a > (d - 1)/2``; so does this (checked where the value
    is known)."""
    if isinstance(d, bool) or _pnp._is_traced(d) or _pnp.ndim(d) != 0 or not float(d).is_integer() \
            or int(d) < 1:
        raise ValueError(f"multigammaln: d must be a positive integer, got {d!r}")
    d = int(d)
    a = _f(a)
    v = _value_or_none(a) if _pnp._is_traced(a) else a
    if v is not None and _np.any(_np.asarray(v) <= 0.5 * (d - 1)):
        raise ValueError(f"multigammaln: condition a ({float(_np.min(v))}) > 0.5 * (d-1) ({0.5 * (d - 1)}) not met")
    total = 0.25 * d * (d - 1) * math.log(math.pi)
    out = None
    for j in range(d):
        term = gammaln(_pnp.subtract(a, 0.5 * j))
        out = term if out is None else _pnp.add(out, term)
    return _pnp.add(out, total)


def i0e(x):
    """The exponentially scaled ``i0(x) exp(-|x|)``, like ``scipy.special.i0e`` (for
    ``|x| < 700``: past that ``i0`` overflows)."""
    x = _f(x)
    return _pnp.multiply(i0(x), _pnp.exp(_pnp.negative(_pnp.abs(x))))


def i1e(x):
    """The exponentially scaled ``i1(x) exp(-|x|)``, like ``scipy.special.i1e`` (for
    ``|x| < 700``)."""
    x = _f(x)
    return _pnp.multiply(i1(x), _pnp.exp(_pnp.negative(_pnp.abs(x))))
