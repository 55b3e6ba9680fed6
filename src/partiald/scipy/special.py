"""``scipy.special`` functions, differentiable, with SciPy's signatures and values.

Records of their own: ``erf``, ``erfc``, ``gammaln`` and ``polygamma`` (``digamma`` is
``polygamma(0, x)``); compositions of partiald.numpy functions: ``expit``, ``logit``,
``logsumexp``, ``softmax``, ``log_softmax``, ``xlogy``, ``xlog1py``, ``entr``, ``rel_entr``.

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

from .. import numpy as _pnp
from ..core.primitive import bind
from ..numpy import _to_float
from ..ops import elementwise as _ew

__all__ = ["erf", "erfc", "gammaln", "digamma", "psi", "polygamma", "expit", "logit", "logsumexp",
           "softmax", "log_softmax", "xlogy", "xlog1py", "entr", "rel_entr"]


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
