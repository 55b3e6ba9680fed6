"""``scipy.stats`` distributions whose densities ML code differentiates
(``partiald.scipy.stats``), with SciPy's signatures and values.

Namespaces, as in SciPy: ``norm`` (``pdf logpdf cdf logcdf sf logsf``), ``t`` (``pdf
logpdf cdf logcdf``), ``chi2``, ``gamma`` (``pdf logpdf cdf``), ``beta`` (``pdf logpdf cdf``),
``poisson`` (``pmf logpmf cdf``), ``dirichlet`` (``pdf logpdf``) and ``multivariate_normal``
(``pdf logpdf entropy``). Every function is a composition of partiald.numpy and
partiald.scipy.special functions, so it differentiates to any order, under ``jit`` and ``vmap``,
in every argument except the shape arguments of the CDFs: ``t.cdf``/``t.logcdf`` (``df``),
``chi2.cdf`` (``df``), ``gamma.cdf`` (``a``), ``beta.cdf`` (``a``, ``b``) use the regularized
incomplete gamma/beta functions, which differentiate in ``x`` only; a derivative with respect to
those shapes raises TypeError (pass them as constants). ``poisson.cdf`` differentiates in ``mu``.

    >>> import partiald as pdx
    >>> from partiald.scipy.stats import norm
    >>> round(float(pdx.grad(norm.logpdf)(1.0)), 12)      # d/dx of -x^2/2
    -1.0
"""
from __future__ import annotations

import math
from types import SimpleNamespace

from .. import numpy as _pnp
from . import special as _sp

__all__ = ["norm", "t", "chi2", "gamma", "beta", "poisson", "dirichlet", "multivariate_normal"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)


def _f(x):
    return _sp._f(x)


def _std(x, loc, scale):
    x, loc, scale = _f(x), _f(loc), _f(scale)
    return _pnp.divide(_pnp.subtract(x, loc), scale), scale


def _namespace(name, doc, **fns):
    for fname, fn in fns.items():
        fn.__name__ = fn.__qualname__ = fname
    ns = SimpleNamespace(**fns)
    ns.__doc__ = doc
    ns.__name__ = name
    return ns


def _exp_of(logf):
    def f(*args, **kwargs):
        return _pnp.exp(logf(*args, **kwargs))
    f.__doc__ = f"``exp`` of ``{logf.__name__}`` (same arguments)."
    return f


def _outside(cond, value):
    # value where cond is False, -inf where it holds (outside the support)
    return _pnp.where(cond, -_pnp.inf, value)


# -- the normal distribution --------------------------------------------------------------

def _norm_logpdf(x, loc=0.0, scale=1.0):
    """``log N(x; loc, scale^2)``."""
    z, scale = _std(x, loc, scale)
    return _pnp.subtract(_pnp.subtract(_pnp.multiply(-0.5, _pnp.square(z)), _LOG_SQRT_2PI), _pnp.log(scale))


def _ndtr(z):
    # Phi(z) = erfc(-z / sqrt 2) / 2 (accurate in the lower tail)
    return _pnp.multiply(0.5, _sp.erfc(_pnp.multiply(-_SQRT1_2, z)))


def _log_ndtr(z):
    # log Phi(z): log1p(-Phi(-z)) for z > 0 (no rounding to 0), log(Phi(z)) down to -20,
    # below the asymptotic series -z^2/2 - log(-z sqrt(2 pi)) + log(1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8)
    pos = _pnp.greater(z, 0.0)
    far = _pnp.less(z, -20.0)
    zp, zn = _pnp.where(pos, z, 1.0), _pnp.where(pos | far, -1.0, z)
    zf = _pnp.where(far, z, -30.0)
    w = _pnp.reciprocal(_pnp.square(zf))
    series = _pnp.add(1.0, _pnp.multiply(w, _pnp.add(-1.0, _pnp.multiply(w, _pnp.add(
        3.0, _pnp.multiply(w, _pnp.add(-15.0, _pnp.multiply(w, 105.0))))))))
    tail = _pnp.subtract(_pnp.subtract(_pnp.multiply(-0.5, _pnp.square(zf)), _pnp.log(_pnp.negative(zf))),
                         _LOG_SQRT_2PI)
    return _pnp.where(pos, _pnp.log1p(_pnp.negative(_ndtr(_pnp.negative(zp)))),
                      _pnp.where(far, _pnp.add(tail, _pnp.log(series)), _pnp.log(_ndtr(zn))))


def _norm_cdf(x, loc=0.0, scale=1.0):
    """The normal CDF ``Phi((x - loc) / scale)``."""
    return _ndtr(_std(x, loc, scale)[0])


def _norm_logcdf(x, loc=0.0, scale=1.0):
    """``log Phi((x - loc) / scale)``, accurate in both tails."""
    return _log_ndtr(_std(x, loc, scale)[0])


def _norm_sf(x, loc=0.0, scale=1.0):
    """The survival function ``1 - Phi((x - loc) / scale)``, accurate in the upper tail."""
    return _ndtr(_pnp.negative(_std(x, loc, scale)[0]))


def _norm_logsf(x, loc=0.0, scale=1.0):
    """``log(1 - Phi((x - loc) / scale))``."""
    return _log_ndtr(_pnp.negative(_std(x, loc, scale)[0]))


norm = _namespace("norm", "The normal distribution, like ``scipy.stats.norm``.",
                  logpdf=_norm_logpdf, pdf=_exp_of(_norm_logpdf), cdf=_norm_cdf, logcdf=_norm_logcdf,
                  sf=_norm_sf, logsf=_norm_logsf)


# -- Student's t ---------------------------------------------------------------------------

def _t_logpdf(x, df, loc=0.0, scale=1.0):
    """``log`` of Student's t density with ``df`` degrees of freedom."""
    z, scale = _std(x, loc, scale)
    df = _f(df)
    half = _pnp.multiply(0.5, _pnp.add(df, 1.0))
    out = _pnp.subtract(_sp.gammaln(half), _sp.gammaln(_pnp.multiply(0.5, df)))
    out = _pnp.subtract(out, _pnp.multiply(0.5, _pnp.log(_pnp.multiply(math.pi, df))))
    out = _pnp.subtract(out, _pnp.multiply(half, _pnp.log1p(_pnp.divide(_pnp.square(z), df))))
    return _pnp.subtract(out, _pnp.log(scale))


def _t_parts(x, df, loc, scale):
    # (z == 0, 0.5 + pdf(0) z, the lower tail 0.5 I_w(df/2, 1/2) with w = df / (df + z^2), z < 0)
    z = _std(x, loc, scale)[0]
    df = _sp._const(df)
    zero = _pnp.equal(z, 0.0)
    zs = _pnp.where(zero, 1.0, z)       # at z = 0 the tail's derivative is 0 * inf: the line below
    half = _pnp.multiply(0.5, df)
    pdf0 = _pnp.exp(_pnp.subtract(_pnp.subtract(_sp.gammaln(_pnp.add(half, 0.5)), _sp.gammaln(half)),
                                  _pnp.multiply(0.5, _pnp.log(_pnp.multiply(math.pi, df)))))
    line = _pnp.add(0.5, _pnp.multiply(pdf0, _pnp.where(zero, z, 0.0)))  # at 0: value, 1st, 2nd derivative
    w = _pnp.divide(df, _pnp.add(df, _pnp.square(zs)))
    tail = _pnp.multiply(0.5, _sp.betainc(half, 0.5, w))
    return zero, line, _pnp.less(zs, 0.0), tail


def _t_cdf(x, df, loc=0.0, scale=1.0):
    """Student's t CDF, ``I_w(df/2, 1/2) / 2`` for ``z = (x - loc)/scale < 0`` (one minus that
    for ``z > 0``, ``w = df / (df + z^2)``); differentiable in ``x``, ``loc``, ``scale``. ``df``
    is a constant: a derivative with respect to it raises TypeError."""
    zero, line, neg, tail = _t_parts(x, df, loc, scale)
    return _pnp.where(zero, line, _pnp.where(neg, tail, _pnp.subtract(1.0, tail)))


def _t_logcdf(x, df, loc=0.0, scale=1.0):
    """``log`` of Student's t CDF, accurate in both tails (``log1p`` of the upper tail)."""
    zero, line, neg, tail = _t_parts(x, df, loc, scale)
    return _pnp.where(zero, _pnp.log(line),
                      _pnp.where(neg, _pnp.log(tail), _pnp.log1p(_pnp.negative(tail))))


t = _namespace("t", "Student's t distribution, like ``scipy.stats.t``.", logpdf=_t_logpdf,
               pdf=_exp_of(_t_logpdf), cdf=_t_cdf, logcdf=_t_logcdf)


# -- gamma, chi2, beta -----------------------------------------------------------------------

def _gamma_logpdf(x, a, loc=0.0, scale=1.0):
    """``log`` of the gamma density with shape ``a`` (``-inf`` for ``x < loc``)."""
    z, scale = _std(x, loc, scale)
    a = _f(a)
    neg = _pnp.less(z, 0.0)
    zs = _pnp.where(neg, 1.0, z)
    val = _pnp.subtract(_pnp.subtract(_sp.xlogy(_pnp.subtract(a, 1.0), zs), zs), _sp.gammaln(a))
    return _outside(neg, _pnp.subtract(val, _pnp.log(scale)))


def _gamma_cdf(x, a, loc=0.0, scale=1.0):
    """The gamma CDF ``gammainc(a, (x - loc)/scale)`` (0 below ``loc``); ``a`` is a constant
    (a derivative with respect to it raises TypeError)."""
    z = _std(x, loc, scale)[0]
    neg = _pnp.less(z, 0.0)
    return _pnp.where(neg, 0.0, _sp.gammainc(_sp._const(a), _pnp.where(neg, 1.0, z)))


gamma = _namespace("gamma", "The gamma distribution, like ``scipy.stats.gamma``.",
                   logpdf=_gamma_logpdf, pdf=_exp_of(_gamma_logpdf), cdf=_gamma_cdf)


def _chi2_logpdf(x, df, loc=0.0, scale=1.0):
    """``log`` of the chi-squared density with ``df`` degrees of freedom."""
    z, scale = _std(x, loc, scale)
    df = _f(df)
    return _gamma_logpdf(_pnp.multiply(0.5, z), _pnp.multiply(0.5, df), 0.0, 1.0) - _pnp.log(
        _pnp.multiply(2.0, scale))


def _chi2_cdf(x, df, loc=0.0, scale=1.0):
    """The chi-squared CDF ``gammainc(df/2, (x - loc)/(2 scale))``; ``df`` is a constant."""
    z = _std(x, loc, scale)[0]
    return _gamma_cdf(_pnp.multiply(0.5, z), _pnp.multiply(0.5, _sp._const(df)))


chi2 = _namespace("chi2", "The chi-squared distribution, like ``scipy.stats.chi2``.",
                  logpdf=_chi2_logpdf, pdf=_exp_of(_chi2_logpdf), cdf=_chi2_cdf)


def _beta_logpdf(x, a, b, loc=0.0, scale=1.0):
    """``log`` of the beta density with shapes ``a``, ``b`` (``-inf`` outside ``[0, 1]``)."""
    z, scale = _std(x, loc, scale)
    a, b = _f(a), _f(b)
    out = _pnp.logical_or(_pnp.less(z, 0.0), _pnp.greater(z, 1.0))
    zs = _pnp.where(out, 0.5, z)
    val = _pnp.add(_sp.xlogy(_pnp.subtract(a, 1.0), zs), _sp.xlog1py(_pnp.subtract(b, 1.0), _pnp.negative(zs)))
    val = _pnp.subtract(_pnp.subtract(val, _sp.betaln(a, b)), _pnp.log(scale))
    return _outside(out, val)


def _beta_cdf(x, a, b, loc=0.0, scale=1.0):
    """The beta CDF ``betainc(a, b, (x - loc)/scale)`` (0 below, 1 above the support); ``a`` and
    ``b`` are constants (a derivative with respect to them raises TypeError)."""
    z = _std(x, loc, scale)[0]
    low, high = _pnp.less(z, 0.0), _pnp.greater(z, 1.0)
    zs = _pnp.where(_pnp.logical_or(low, high), 0.5, z)
    val = _sp.betainc(_sp._const(a), _sp._const(b), zs)
    return _pnp.where(low, 0.0, _pnp.where(high, 1.0, val))


beta = _namespace("beta", "The beta distribution, like ``scipy.stats.beta``.",
                  logpdf=_beta_logpdf, pdf=_exp_of(_beta_logpdf), cdf=_beta_cdf)


# -- Poisson, Dirichlet ------------------------------------------------------------------------

def _poisson_logpmf(k, mu, loc=0):
    """``log P(k; mu) = k log(mu) - mu - log(k!)`` (``-inf`` for ``k`` < 0 or not an integer);
    differentiable in ``mu``."""
    k, mu = _std(k, loc, 1.0)[0], _f(mu)
    bad = _pnp.logical_or(_pnp.less(k, 0.0), _pnp.not_equal(k, _pnp.floor(k)))
    ks = _pnp.where(bad, 0.0, k)
    val = _pnp.subtract(_pnp.subtract(_sp.xlogy(ks, mu), mu), _sp.gammaln(_pnp.add(ks, 1.0)))
    return _outside(bad, val)


def _poisson_cdf(k, mu, loc=0):
    """``P(K <= k) = gammaincc(floor(k) + 1, mu)`` (0 for ``k < 0``); differentiable in ``mu``
    (its derivative in ``k`` is 0: a step function)."""
    k, mu = _std(k, loc, 1.0)[0], _f(mu)
    kf = _pnp.floor(_pnp.stop_gradient(k) if _pnp._is_traced(k) else k)
    neg = _pnp.less(kf, 0.0)
    val = _sp.gammaincc(_pnp.add(_pnp.where(neg, 0.0, kf), 1.0), mu)
    return _pnp.where(neg, 0.0, val)


poisson = _namespace("poisson", "The Poisson distribution, like ``scipy.stats.poisson``.",
                     logpmf=_poisson_logpmf, pmf=_exp_of(_poisson_logpmf), cdf=_poisson_cdf)


def _dirichlet_logpdf(x, alpha):
    """``log Dir(x; alpha)``; the components lie along ``x``'s first axis (as in SciPy's
    implementation: ``x`` of shape ``(K,)`` or ``(K, N)``), ``alpha`` of shape ``(K,)``."""
    x, alpha = _f(x), _f(alpha)
    if _pnp.ndim(alpha) != 1:
        raise ValueError("dirichlet: parameter vector 'alpha' must be one dimensional, but "
                         f"alpha.shape = {_pnp.shape(alpha)}")
    if _pnp.shape(x)[0] not in (_pnp.shape(alpha)[0], _pnp.shape(alpha)[0] - 1):
        raise ValueError(f"dirichlet: x of shape {_pnp.shape(x)} does not match alpha of shape "
                         f"{_pnp.shape(alpha)} along the first axis")
    if _pnp.shape(x)[0] == _pnp.shape(alpha)[0] - 1:          # SciPy appends the last component
        rest = _pnp.subtract(1.0, _pnp.sum(x, axis=0, keepdims=True))
        x = _pnp.concatenate([x, rest], axis=0)
    a = _pnp.reshape(alpha, (-1,) + (1,) * (_pnp.ndim(x) - 1))
    lnb = _pnp.subtract(_pnp.sum(_sp.gammaln(alpha)), _sp.gammaln(_pnp.sum(alpha)))
    return _pnp.subtract(_pnp.sum(_sp.xlogy(_pnp.subtract(a, 1.0), x), axis=0), lnb)


dirichlet = _namespace("dirichlet", "The Dirichlet distribution, like ``scipy.stats.dirichlet``.",
                       logpdf=_dirichlet_logpdf, pdf=_exp_of(_dirichlet_logpdf))


# -- the multivariate normal ----------------------------------------------------------------------

def _mvn_parts(mean, cov, allow_singular):
    # (d, log pseudo-determinant, function diff -> Mahalanobis terms)
    mean, cov = _f(mean), _f(cov)
    if _pnp.ndim(cov) == 0:
        cov = _pnp.multiply(cov, _pnp.eye(_pnp.shape(mean)[-1] if _pnp.ndim(mean) else 1))
    elif _pnp.ndim(cov) == 1:
        cov = _pnp.diag(cov)
    d = _pnp.shape(cov)[-1]
    if not allow_singular:
        _, logdet = _pnp.linalg.slogdet(cov)

        def maha(diff):                                  # diff: (..., d)
            flat = _pnp.reshape(diff, (-1, d))
            sol = _pnp.linalg.solve(cov, _pnp.transpose(flat))
            m = _pnp.sum(_pnp.multiply(_pnp.transpose(flat), sol), axis=0)
            return _pnp.reshape(m, _pnp.shape(diff)[:-1])
        return mean, d, logdet, maha
    # the pseudo-inverse and pseudo-determinant over the eigenvalues above SciPy's cutoff
    w, v = _pnp.linalg.eigh(cov)
    wmax = _pnp.stop_gradient(_pnp.max(_pnp.abs(w)))
    keep = _pnp.greater(w, _pnp.multiply(wmax, 1e6 * 2.220446049250313e-16 * d))
    ws = _pnp.where(keep, w, 1.0)
    logdet = _pnp.sum(_pnp.where(keep, _pnp.log(ws), 0.0))
    rank = _pnp.sum(_pnp.where(keep, 1.0, 0.0))
    inv_w = _pnp.where(keep, _pnp.reciprocal(ws), 0.0)

    def maha(diff):
        proj = _pnp.matmul(diff, v)                       # (..., d) in the eigenbasis
        return _pnp.sum(_pnp.multiply(_pnp.square(proj), inv_w), axis=-1)
    return mean, rank, logdet, maha


def _mvn_logpdf(x, mean=None, cov=1, allow_singular=False):
    """``log N(x; mean, cov)``; ``x`` of shape ``(..., d)`` gives shape ``(...)`` (SciPy
    squeezes a single point to a scalar). ``allow_singular=True`` uses the pseudo-inverse
    and pseudo-determinant, as SciPy."""
    x = _f(x)
    if mean is None:
        mean = _pnp.zeros(_pnp.shape(x)[-1:])
    mean, d, logdet, maha = _mvn_parts(mean, cov, allow_singular)
    diff = _pnp.subtract(x, mean)
    if _pnp.ndim(diff) == 0:
        diff = _pnp.reshape(diff, (1,))
    out = _pnp.multiply(-0.5, _pnp.add(_pnp.add(_pnp.multiply(d, 2.0 * _LOG_SQRT_2PI), logdet), maha(diff)))
    return out


def _mvn_entropy(mean=None, cov=1, allow_singular=False):
    """The differential entropy ``(d (1 + log 2 pi) + log det cov) / 2``."""
    if mean is None:
        mean = _pnp.zeros(_pnp.shape(_f(cov))[-1:])
    _, d, logdet, _ = _mvn_parts(mean, cov, allow_singular)
    return _pnp.multiply(0.5, _pnp.add(_pnp.multiply(d, 1.0 + 2.0 * _LOG_SQRT_2PI), logdet))


multivariate_normal = _namespace(
    "multivariate_normal", "The multivariate normal distribution, like ``scipy.stats.multivariate_normal``.",
    logpdf=_mvn_logpdf, pdf=_exp_of(_mvn_logpdf), entropy=_mvn_entropy)
