"""Special values and conventions, tested exactly in both modes (TESTING.md sections 3 and 4).

The anchors (torch, jax, autograd) disagree at these points (TESTING.md appendix
A1), so the table below *is* the specification: every row is checked with
``==`` (or both NaN), in forward mode (``pdx.jvp``) and in reverse mode
(``pdx.grad``), together with the value. The conventions are the ones README.md
("Conventions where the math has a choice") documents:

* a zero tangent or cotangent contributes exactly 0, even times inf or NaN;
* ``abs'(0) = 0``, ``relu'(0) = 0``; ``maximum(x, y)`` is ``where(x > y, x, y)``
  (a tie sends the whole derivative to ``y``), ``minimum`` likewise;
  ``clip`` passes the derivative at its bounds; tied maxima of ``pnp.max`` share it;
* ``sign``, ``floor``, ``round``, comparisons and ``argmax`` have derivative 0;
* ``x**1.875`` and ``x**0`` have derivative 0 at 0, ``0.0**y`` has derivative 0 in
  ``y`` for ``y > 0``; ``sqrt'(0)`` and ``log'(0)`` are inf;
* ``linalg.norm`` has gradient 0 at 0; ``logsumexp`` of an all ``-inf`` slice has
  gradient 0; ``softplus``, ``sigmoid``, ``log_softmax`` are exact at +-1e4.

Section 4 follows: forward values against NumPy on PyTorch's reference value
sets, outside-the-domain behaviour, empty and 0-d inputs, and float32.
"""
import math
import warnings

import numpy as np
import pytest

import partiald as pdx
import partiald.nn as nn
import partiald.numpy as pnp
from partiald.scipy.special import digamma, erf, erfc, gammaln
from partiald.scipy.special import erfcinv, erfinv, i0, i1
from partiald.scipy import special as sps
from partiald.scipy.special import gamma as sgamma

# Overflow at exp(710), log(0), sqrt of negatives... are NumPy RuntimeWarnings by design.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

PI = np.pi


# -- helpers --------------------------------------------------------------------------

def _same(actual, expected):
    """Exact equality: same shape, ``==`` elementwise, NaN where NaN, inf of the same sign."""
    a = np.asarray(actual)
    e = np.asarray(expected, dtype=np.float64)
    return a.shape == e.shape and bool(np.array_equal(a, e, equal_nan=True))


def _basis(x):
    x = np.asarray(x, dtype=np.float64)
    return [e.reshape(x.shape) for e in np.eye(x.size)]


def _forward(f, x):
    """(value, derivative) by forward mode: one JVP per input element (scalar: tangent 1.0)."""
    if np.ndim(x) == 0:
        return pdx.jvp(f, (x,), (1.0,))
    x = np.asarray(x, dtype=np.float64)
    value, cols = None, []
    for e in _basis(x):
        value, t = pdx.jvp(f, (x,), (e,))
        cols.append(t)
    return value, np.array(cols).reshape(x.shape)


def _reverse(f, x):
    """(value, derivative) by reverse mode."""
    if np.ndim(x) != 0:
        x = np.asarray(x, dtype=np.float64)
    return pdx.value_and_grad(f)(x)


def _fmt(x):
    return repr(x) if np.ndim(x) == 0 else f"array{np.asarray(x).tolist()}"


_TRACED_ONLY = set()   # ids of rows whose function needs traced input (``x.at[...]``)


def _row(name, f, x, value, deriv, traced_only=False, deriv_xfail=None):
    id = f"{name}@{_fmt(x)}"
    if traced_only:
        _TRACED_ONLY.add(id)
    # deriv_xfail: the engine gets this derivative wrong (the plain-call test still runs the row)
    marks = pytest.mark.xfail(strict=True, reason=deriv_xfail) if deriv_xfail else ()
    return pytest.param(f, x, value, deriv, id=id, marks=marks)


def _real_of_complex(x):
    return pnp.real(x * (1.0 + 2.0j))


def _imag_of_complex(x):
    return pnp.imag(x * (1.0 + 2.0j))


def _conj_of_complex(x):
    return pnp.imag(pnp.conj(x * (1.0 + 2.0j)))


def _fft_of_pair(x):
    return pnp.real(pnp.fft.fft(pnp.stack([x, 2.0 * x])))[0]


def _triangular(x):
    """[[x, 1], [0, 2]]: eigenvalues x and 2, the eigenvector of 2 is (1, 2 - x) / norm."""
    return pnp.stack([pnp.stack([x, 1.0 + 0.0 * x]), pnp.stack([0.0 * x, 2.0 + 0.0 * x])])


def _eigval_of_triangular(x):
    return pnp.real(pnp.linalg.eigvals(_triangular(x))[0])


def _eigvec_of_triangular(x):
    return pnp.real(pnp.linalg.eig(_triangular(x))[1][0, 1])


def _sqrtm_of_diagonal(x):
    """sqrtm([[x, 0], [0, 4]])[0, 0] = sqrt(x) (principal branch)."""
    from partiald.scipy.linalg import sqrtm
    return pnp.real(sqrtm(pnp.stack([pnp.stack([x, 0.0 * x]), pnp.stack([0.0 * x, 4.0 + 0.0 * x])]))[0, 0])


def _maximum_x(x):
    return pnp.maximum(x, 1.0)


def _maximum_y(y):
    return pnp.maximum(1.0, y)


def _minimum_x(x):
    return pnp.minimum(x, 1.0)


def _minimum_y(y):
    return pnp.minimum(1.0, y)


def _adjugate(a):
    from partiald.core.primitive import REGISTRY, bind
    return bind(REGISTRY["adjugate"], a)


def _float(b):
    return pnp.astype(b, np.float64)


# -- THE table: (function, point, value, derivative), exact in both modes ------------------

_SIN_COS_POINTS = [0.0, PI / 2, PI / 4, PI]
_ZEROS3 = np.zeros(3)
_NEG_INF3 = np.full(3, -np.inf)

TABLE = [
    # JAX's special-value list (TESTING.md section 3)
    _row("sinh", pnp.sinh, 0.0, 0.0, 1.0),
    _row("cosh", pnp.cosh, 0.0, 1.0, 0.0),
    _row("tan", pnp.tan, 0.0, 0.0, 1.0),
    _row("arcsin", pnp.arcsin, 0.0, 0.0, 1.0),
    _row("arccos", pnp.arccos, 0.0, PI / 2, -1.0),
    *[_row("sin", pnp.sin, p, np.sin(p), np.cos(p)) for p in _SIN_COS_POINTS],
    *[_row("cos", pnp.cos, p, np.cos(p), -np.sin(p)) for p in _SIN_COS_POINTS],
    _row("tanh", pnp.tanh, 1000.0, 1.0, 0.0),              # 1 - tanh^2 = 0 exactly, not NaN
    _row("tanh", pnp.tanh, -1000.0, -1.0, 0.0),
    # arctan'(1000) = 1/(1 + 1e6) is about 1e-6: not 0, but it must be that exact float and not NaN
    _row("arctan", pnp.arctan, 1000.0, np.arctan(1000.0), 1.0 / (1.0 + 1000.0 * 1000.0)),
    _row("arctan", pnp.arctan, -1000.0, np.arctan(-1000.0), 1.0 / (1.0 + 1000.0 * 1000.0)),
    _row("exp", pnp.exp, 710.0, np.inf, np.inf),           # overflow: inf, not NaN
    _row("exp", pnp.exp, -1000.0, 0.0, 0.0),
    # appendix A1: the kinks and singular points where the anchors disagree
    _row("abs", pnp.abs, 0.0, 0.0, 0.0),
    _row("abs", pnp.abs, -0.0, 0.0, 0.0),
    _row("sqrt", pnp.sqrt, 0.0, 0.0, np.inf),
    _row("relu", nn.relu, 0.0, 0.0, 0.0),
    _row("maximum(x,0.0)", lambda x: pnp.maximum(x, 0.0), 0.0, 0.0, 0.0),
    _row("where(x>0,x,0.0)", lambda x: pnp.where(x > 0, x, 0.0), 0.0, 0.0, 0.0),
    _row("maximum(x,1.0)[dx]", _maximum_x, 1.0, 1.0, 0.0),     # tie: nothing to x ...
    _row("maximum(1.0,y)[dy]", _maximum_y, 1.0, 1.0, 1.0),     # ... everything to y
    _row("minimum(x,1.0)[dx]", _minimum_x, 1.0, 1.0, 0.0),
    _row("minimum(1.0,y)[dy]", _minimum_y, 1.0, 1.0, 1.0),
    _row("maximum(x,x)", lambda x: pnp.maximum(x, x), 1.0, 1.0, 1.0),
    _row("minimum(x,x)", lambda x: pnp.minimum(x, x), 1.0, 1.0, 1.0),
    _row("x**0.0", lambda x: x ** 0.0, 0.0, 1.0, 0.0),
    _row("x**0", lambda x: x ** 0, 0.0, 1.0, 0.0),
    _row("x**2.0", lambda x: x ** 2.0, 0.0, 0.0, 0.0),
    _row("x**2", lambda x: x ** 2, 0.0, 0.0, 0.0),
    _row("x**1.875", lambda x: x ** 1.875, 0.0, 0.0, 0.0),
    _row("0.0**y", lambda y: 0.0 ** y, 2.0, 0.0, 0.0),
    _row("power(zeros,y)", lambda y: pnp.power(np.zeros(()), y), 2.0, 0.0, 0.0),
    _row("0.0**y", lambda y: 0.0 ** y, 0.5, 0.0, 0.0),
    _row("where(x>0,sqrt(x),0.0)", lambda x: pnp.where(x > 0, pnp.sqrt(x), 0.0), 0.0, 0.0, 0.0),
    _row("log", pnp.log, 0.0, -np.inf, np.inf),
    # the domain boundaries themselves: the gradient is inf (with its sign), not NaN
    _row("log1p", pnp.log1p, -1.0, -np.inf, np.inf),
    _row("log2", pnp.log2, 0.0, -np.inf, np.inf),
    _row("log10", pnp.log10, 0.0, -np.inf, np.inf),
    _row("cbrt", pnp.cbrt, 0.0, 0.0, np.inf),
    _row("arccosh", pnp.arccosh, 1.0, 0.0, np.inf),
    _row("arctanh", pnp.arctanh, 1.0, np.inf, np.inf),
    _row("arctanh", pnp.arctanh, -1.0, -np.inf, np.inf),
    _row("exp2", pnp.exp2, 1100.0, np.inf, np.inf),
    _row("arcsinh", pnp.arcsinh, 0.0, 0.0, 1.0),
    _row("erf", erf, 0.0, 0.0, 2.0 / np.sqrt(PI)),
    _row("erf", erf, 30.0, 1.0, 0.0),                      # exp(-900) underflows to 0: not NaN
    _row("erfc", erfc, 30.0, 0.0, 0.0),
    _row("gammaln", gammaln, 2.0, 0.0, 0.42278433509846713),           # d = digamma(2) = 1 - euler_gamma
    _row("gammaln", gammaln, 0.0, np.inf, -np.inf),                    # the pole: digamma(+0) = -inf
    _row("polygamma", digamma, np.inf, np.inf, 0.0),                   # n = 0; d = polygamma(1, inf) = 0
    _row("polygamma", digamma, 0.0, -np.inf, np.inf),
    _row("erfinv", erfinv, 0.0, 0.0, np.sqrt(PI) / 2.0),
    _row("erfinv", erfinv, 1.0, np.inf, np.inf),                       # the end of the domain
    _row("erfcinv", erfcinv, 1.0, 0.0, -np.sqrt(PI) / 2.0),
    _row("erfcinv", erfcinv, 0.0, np.inf, -np.inf),
    _row("gamma", sgamma, 1.0, 1.0, -0.5772156649015329),              # d = -euler_gamma
    _row("gamma", sgamma, 0.0, np.inf, -np.inf),                       # the pole at +0
    _row("i0", i0, 0.0, 1.0, 0.0),
    _row("i1", i1, 0.0, 0.0, 0.5),                                     # the limit of i0 - i1/x
    # Bessel functions (order constant) and the incomplete gamma / beta functions (in x)
    _row("j0", sps.j0, 0.0, 1.0, 0.0),                                 # d = -j1(0)
    _row("j1", sps.j1, 0.0, 0.0, 0.5),                                 # (j0(0) - jv(2, 0)) / 2
    _row("y0", sps.y0, 0.0, -np.inf, np.inf),                          # -y1(+0) = inf
    _row("y1", sps.y1, 0.0, -np.inf, np.inf),                          # the limit (recurrence: inf - inf)
    _row("jv(2,x)", lambda x: sps.jv(2, x), 0.0, 0.0, 0.0),
    _row("yv(1.5,x)", lambda x: sps.yv(1.5, x), 0.0, -np.inf, np.inf),
    _row("iv(1,x)", lambda x: sps.iv(1, x), 0.0, 0.0, 0.5),            # (i0(0) + i2(0)) / 2
    _row("ive(0,x)", lambda x: sps.ive(0, x), 0.0, 1.0, 0.0),          # the kink of exp(-|x|): sign(0) = 0
    _row("kv(0,x)", lambda x: sps.kv(0, x), np.inf, 0.0, 0.0),
    _row("kve(1,x)", lambda x: sps.kve(1, x), 0.0, np.inf, -np.inf),
    _row("gammainc(1,x)", lambda x: sps.gammainc(1, x), 0.0, 0.0, 1.0),     # d = e^-x
    _row("gammaincc(1,x)", lambda x: sps.gammaincc(1, x), 0.0, 1.0, -1.0),
    _row("betainc(1,1,x)", lambda x: sps.betainc(1, 1, x), 0.0, 0.0, 1.0),  # d = 1 (a = b = 1: no 0 * log 0)
    _row("betainc(2,3,x)", lambda x: sps.betainc(2, 3, x), 1.0, 1.0, 0.0),  # d = 12 x (1 - x)^2
    _row("hypot(x,0)", lambda x: pnp.hypot(x, 0.0), 0.0, 0.0, 0.0),   # the cone's tip: 0 (as abs at 0)
    _row("hypot(x,0)", lambda x: pnp.hypot(x, 0.0), -2.0, 2.0, -1.0),
    _row("arcsin", pnp.arcsin, 1.0, PI / 2, np.inf),
    _row("arcsin", pnp.arcsin, -1.0, -PI / 2, np.inf),
    _row("arccos", pnp.arccos, 1.0, 0.0, -np.inf),
    _row("arccos", pnp.arccos, -1.0, PI, -np.inf),
    # NaN safety (API.md section 2)
    _row("linalg.norm", pnp.linalg.norm, _ZEROS3, 0.0, _ZEROS3),
    _row("linalg.norm(fro)", lambda x: pnp.linalg.norm(pnp.reshape(x, (2, 2)), "fro"), np.zeros(4), 0.0,
         np.zeros(4)),
    _row("linalg.norm(axis=0)", lambda x: pnp.sum(pnp.linalg.norm(pnp.reshape(x, (2, 2)), axis=0)),
         np.zeros(4), 0.0, np.zeros(4)),
    _row("logsumexp", nn.logsumexp, _NEG_INF3, -np.inf, _ZEROS3),
    _row("logsumexp", nn.logsumexp, np.array([1e4, -1e4]), 1e4, [1.0, 0.0]),
    _row("logsumexp", nn.logsumexp, np.array([1e4, 1e4]), 1e4 + math.log(2.0), [0.5, 0.5]),
    _row("softplus", nn.softplus, 1e4, 1e4, 1.0),
    _row("softplus", nn.softplus, -1e4, 0.0, 0.0),
    _row("sigmoid", nn.sigmoid, 1e4, 1.0, 0.0),
    _row("sigmoid", nn.sigmoid, -1e4, 0.0, 0.0),
    _row("sigmoid", nn.sigmoid, 0.0, 0.5, 0.25),
    _row("log_softmax[0]", lambda x: nn.log_softmax(x)[0], np.array([1e4, -1e4]), 0.0, [0.0, 0.0]),
    _row("log_softmax[1]", lambda x: nn.log_softmax(x)[1], np.array([1e4, -1e4]), -2e4, [-1.0, 1.0]),
    _row("softmax[0]", lambda x: nn.softmax(x)[0], np.array([1e4, -1e4]), 1.0, [0.0, 0.0]),
    # clip passes the derivative at its bounds
    _row("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), 0.0, 0.0, 1.0),
    _row("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), 1.0, 1.0, 1.0),
    _row("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), 0.5, 0.5, 1.0),
    _row("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), -0.5, 0.0, 0.0),
    _row("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), 1.5, 1.0, 0.0),
    # piecewise-constant functions have derivative 0 (not the identity's 1)
    _row("sign", pnp.sign, 0.0, 0.0, 0.0),
    _row("sign", pnp.sign, 0.5, 1.0, 0.0),
    _row("sign", pnp.sign, -2.0, -1.0, 0.0),
    _row("floor", pnp.floor, 0.5, 0.0, 0.0),
    _row("floor", pnp.floor, 2.0, 2.0, 0.0),
    _row("ceil", pnp.ceil, 0.5, 1.0, 0.0),
    _row("ceil", pnp.ceil, 2.0, 2.0, 0.0),
    _row("fabs", pnp.fabs, 0.0, 0.0, 0.0),
    _row("fabs", pnp.fabs, -0.0, 0.0, 0.0),
    _row("fabs", pnp.fabs, -2.0, 2.0, -1.0),
    # complex parts on real input (complex inputs: tests/test_complex.py)
    _row("real", _real_of_complex, -2.0, -2.0, 1.0),
    _row("real", _real_of_complex, 0.0, 0.0, 1.0),
    _row("imag", _imag_of_complex, 1.5, 3.0, 2.0),
    _row("imag", _imag_of_complex, -0.0, -0.0, 2.0),
    _row("conj", _conj_of_complex, 3.0, -6.0, -2.0),
    _row("fft", _fft_of_pair, 1.5, 4.5, 3.0),
    _row("fft", _fft_of_pair, np.inf, np.inf, 3.0),
    _row("sqrtm", _sqrtm_of_diagonal, 2.25, 1.5, 1 / 3),
    _row("sqrtm", _sqrtm_of_diagonal, 9.0, 3.0, 1 / 6),
    _row("eig_w", _eigval_of_triangular, 0.5, 0.5, 1.0),
    _row("eig_w", _eigval_of_triangular, -3.0, -3.0, 1.0),
    # 1 / sqrt(1 + (2 - x)^2) and its derivative (2 - x) / (1 + (2 - x)^2)^1.5
    _row("eig_v", _eigvec_of_triangular, 0.5, 1 / math.sqrt(3.25), 1.5 / 3.25 ** 1.5),
    # fmax/fmin: NumPy's NaN rule (the operand that is not NaN wins, derivative included);
    # otherwise maximum/minimum, a tie giving everything to y
    _row("fmax(x,nan)", lambda x: pnp.fmax(x, np.nan), 1.0, 1.0, 1.0),
    _row("fmax(nan,y)", lambda y: pnp.fmax(np.nan, y), 1.0, 1.0, 1.0),
    _row("fmax(x,1.0)[dx]", lambda x: pnp.fmax(x, 1.0), 1.0, 1.0, 0.0),
    _row("fmax(1.0,y)[dy]", lambda y: pnp.fmax(1.0, y), 1.0, 1.0, 1.0),
    _row("fmin(x,nan)", lambda x: pnp.fmin(x, np.nan), 1.0, 1.0, 1.0),
    _row("fmin(nan,y)", lambda y: pnp.fmin(np.nan, y), 1.0, 1.0, 1.0),
    _row("fmin(x,1.0)[dx]", lambda x: pnp.fmin(x, 1.0), 1.0, 1.0, 0.0),
    _row("fmin(1.0,y)[dy]", lambda y: pnp.fmin(1.0, y), 1.0, 1.0, 1.0),
    # compositions: sinc's removable singularity, nan_to_num's replaced elements
    _row("sinc", pnp.sinc, 0.0, 1.0, 0.0),
    _row("sinc", pnp.sinc, 1.0, np.sinc(1.0), -1.0),
    _row("nan_to_num", pnp.nan_to_num, np.nan, 0.0, 0.0),
    _row("nan_to_num", pnp.nan_to_num, np.inf, np.finfo(np.float64).max, 0.0),
    _row("nan_to_num", pnp.nan_to_num, -np.inf, -np.finfo(np.float64).max, 0.0),
    _row("nan_to_num", pnp.nan_to_num, 1.5, 1.5, 1.0),
    _row("logaddexp2(x,x)", lambda x: pnp.logaddexp2(x, x), 0.0, 1.0, 1.0),
    _row("logaddexp2(x,-inf)", lambda x: pnp.logaddexp2(x, -np.inf), -np.inf, -np.inf, 0.5),  # tie: 1/2
    _row("deg2rad", pnp.deg2rad, 180.0, PI, PI / 180.0),
    # scans and orderings: cumsum's transpose is the running sum from the end; argsort has
    # derivative 0; sort moves each derivative with its value (ties keep the stable order)
    _row("sum(cumsum)", lambda x: pnp.sum(pnp.cumsum(x)), np.array([1.0, 2.0, 3.0]), 10.0, [3.0, 2.0, 1.0]),
    _row("sum(cumsum)", lambda x: pnp.sum(pnp.cumsum(x)), np.array([1.0, np.inf, 2.0]), np.inf, [3.0, 2.0, 1.0]),
    _row("argsort", lambda x: pnp.sum(pnp.argsort(x) * np.array([1.0, 10.0, 100.0])), np.array([3.0, 1.0, 2.0]),
         21.0, _ZEROS3),
    _row("sort", lambda x: pnp.sum(pnp.sort(x) * np.array([1.0, 2.0, 3.0])), np.array([1.0, 1.0, 0.0]),
         5.0, [2.0, 3.0, 1.0]),
    _row("round", pnp.round, 0.4, 0.0, 0.0),
    _row("round", pnp.round, 2.5, 2.0, 0.0),
    # remainder: slope 1 in x, -floor(x / y) in y; at a jump, the side NumPy's value continues
    _row("x%2", lambda x: x % 2.0, 5.5, 1.5, 1.0),
    _row("x%2", lambda x: x % 2.0, 4.0, 0.0, 1.0),
    _row("x%2", lambda x: x % 2.0, -1.0, 1.0, 1.0),
    _row("x%-2", lambda x: pnp.remainder(x, -2.0), 3.0, -1.0, 1.0),
    _row("x%inf", lambda x: pnp.mod(x, np.inf), 5.0, 5.0, 1.0),
    _row("7%y", lambda y: 7.0 % y, 2.0, 1.0, -3.0),
    _row("-7%y", lambda y: -7.0 % y, 2.0, 1.0, 4.0),
    _row("x//2", lambda x: x // 2.0, 5.5, 2.0, 0.0),
    _row("x//2", lambda x: pnp.floor_divide(x, 2.0), -1.0, -1.0, 0.0),
    _row("x>0", lambda x: _float(x > 0.0), 0.5, 1.0, 0.0),
    _row("x<0", lambda x: _float(pnp.less(x, 0.0)), 0.0, 0.0, 0.0),
    _row("x==1", lambda x: _float(pnp.equal(x, 1.0)), 1.0, 1.0, 0.0),
    _row("argmax", lambda x: pnp.argmax(x) * 1.0, np.array([1.0, 3.0, 2.0]), 1.0, _ZEROS3),
    _row("stop_gradient", pdx.stop_gradient, 0.5, 0.5, 0.0),
    # tied maxima of pnp.max share the derivative
    _row("max", pnp.max, np.array([1.0, 1.0, 0.0]), 1.0, [0.5, 0.5, 0.0]),
    _row("min", pnp.min, np.array([0.0, 2.0, 0.0]), 0.0, [0.5, 0.0, 0.5]),
    # the other primitives at their special points (every primitive has a row: see the coverage test)
    _row("expm1", pnp.expm1, 0.0, 0.0, 1.0),
    _row("expm1", pnp.expm1, 710.0, np.inf, np.inf),
    _row("expm1", pnp.expm1, -1000.0, -1.0, 0.0),
    _row("negative", pnp.negative, 0.0, -0.0, -1.0),
    _row("1/x", lambda x: 1.0 / x, 0.0, np.inf, -np.inf),
    _row("1/x", lambda x: 1.0 / x, -0.0, -np.inf, -np.inf),
    _row("reciprocal", pnp.reciprocal, 0.0, np.inf, -np.inf),
    _row("x-x", lambda x: x - x, np.inf, np.nan, 0.0),        # the value is NaN, the derivative is not
    _row("x+x", lambda x: x + x, np.inf, np.inf, 2.0),
    _row("x*x", lambda x: x * x, np.inf, np.inf, np.inf),
    _row("x*0.0", lambda x: x * 0.0, np.inf, np.nan, 0.0),
    _row("arctan2(y,1.0)", lambda y: pnp.arctan2(y, 1.0), 0.0, 0.0, 1.0),
    _row("arctan2(1.0,x)", lambda x: pnp.arctan2(1.0, x), 0.0, PI / 2, -1.0),
    _row("arctan2(y,0.0)", lambda y: pnp.arctan2(y, 0.0), 0.0, 0.0, np.nan),   # undefined at the origin
    _row("logaddexp(x,-inf)", lambda x: pnp.logaddexp(x, -np.inf), 0.0, 0.0, 1.0),
    _row("logaddexp(x,-inf)", lambda x: pnp.logaddexp(x, -np.inf), -np.inf, -np.inf, 0.5),  # tie: 1/2
    _row("logaddexp(x,x)", lambda x: pnp.logaddexp(x, x), 0.0, math.log(2.0), 1.0),
    _row("logaddexp(x,inf)", lambda x: pnp.logaddexp(x, np.inf), 0.0, np.inf, 0.0),
    _row("dot(x,[2,3])", lambda x: pnp.dot(x, np.array([2.0, 3.0])), np.array([np.inf, np.nan]), np.nan,
         [2.0, 3.0]),
    _row("prod", pnp.prod, np.array([0.0, 3.0, 2.0]), 0.0, [6.0, 0.0, 0.0]),    # exact at a zero
    _row("prod", pnp.prod, np.array([0.0, 0.0, 2.0]), 0.0, [0.0, 0.0, 0.0]),
    _row("solve(A,x)[0]", lambda x: pnp.linalg.solve(np.array([[2.0, 0.0], [0.0, 4.0]]), x)[0],
         np.array([1.0, np.nan]), np.nan, [0.5, 0.0]),
    _row("det", lambda x: pnp.linalg.det(pnp.reshape(x, (2, 2))), np.array([1.0, 0.0, 0.0, 1.0]), 1.0,
         [1.0, 0.0, 0.0, 1.0]),
    _row("det", lambda x: pnp.linalg.det(pnp.reshape(x, (2, 2))), np.zeros(4), 0.0, np.zeros(4)),
    _row("adjugate[0,0]", lambda x: _adjugate(pnp.reshape(x, (2, 2)))[0, 0], np.array([2.0, 0.0, 0.0, 4.0]),
         4.0, [0.0, 0.0, 0.0, 1.0]),
    _row("det", lambda x: pnp.linalg.det(pnp.reshape(x, (2, 2))), np.array([1.0, 2.0, 2.0, 4.0]), 0.0,
         [4.0, -2.0, -2.0, 1.0]),
    # cholesky and eigh read the lower triangle: the upper entry x[1] has derivative 0
    _row("cholesky[1,1]", lambda x: pnp.linalg.cholesky(pnp.reshape(x, (2, 2)))[1, 1],
         np.array([1.0, 0.0, 0.0, 1.0]), 1.0, [0.0, 0.0, 0.0, 0.5]),
    _row("slogdet[1]", lambda x: pnp.linalg.slogdet(pnp.reshape(x, (2, 2)))[1], np.array([1.0, 0.0, 0.0, 1.0]),
         0.0, [1.0, 0.0, 0.0, 1.0]),
    _row("slogdet[0]", lambda x: pnp.linalg.slogdet(pnp.reshape(x, (2, 2)))[0], np.array([-1.0, 0.0, 0.0, 1.0]),
         -1.0, np.zeros(4)),
    _row("eigvalsh[1]", lambda x: pnp.linalg.eigvalsh(pnp.reshape(x, (2, 2)))[1], np.array([1.0, 0.0, 0.0, 2.0]),
         2.0, [0.0, 0.0, 0.0, 1.0]),
    _row("eigh[1][1,0]", lambda x: pnp.linalg.eigh(pnp.reshape(x, (2, 2)))[1][1, 0],
         np.array([1.0, 0.0, 0.0, 2.0]), 0.0, [0.0, 0.0, -1.0, 0.0]),
    # svd at a diagonal matrix: dS = diag(dA), dU[1,0] = (s1 dA01 + s0 dA10) / (s0^2 - s1^2)
    _row("svd[1][0]", lambda x: pnp.linalg.svd(pnp.reshape(x, (2, 2)))[1][0], np.array([3.0, 0.0, 0.0, 1.0]),
         3.0, [1.0, 0.0, 0.0, 0.0]),
    _row("svd[0][1,0]", lambda x: pnp.linalg.svd(pnp.reshape(x, (2, 2)))[0][1, 0],
         np.array([3.0, 0.0, 0.0, 1.0]), 0.0, [0.0, 0.125, 0.375, 0.0]),
    _row("svd[2][0,1]", lambda x: pnp.linalg.svd(pnp.reshape(x, (2, 2)))[2][0, 1],
         np.array([3.0, 0.0, 0.0, 1.0]), 0.0, [0.0, 0.375, 0.125, 0.0]),
    # qr of an exactly triangular matrix: LAPACK keeps R's diagonal positive there only (a
    # nonzero subdiagonal flips it), so NumPy's QR jumps; the derivative is that of the
    # smooth branch through the point (Q = I, R = I)
    _row("qr[0][1,0]", lambda x: pnp.linalg.qr(pnp.reshape(x, (2, 2)))[0][1, 0], np.array([1.0, 0.0, 0.0, 1.0]),
         0.0, [0.0, 0.0, 1.0, 0.0]),
    _row("qr[1][0,1]", lambda x: pnp.linalg.qr(pnp.reshape(x, (2, 2)))[1][0, 1], np.array([1.0, 0.0, 0.0, 1.0]),
         0.0, [0.0, 1.0, 1.0, 0.0]),
    _row("pinv[0,1]", lambda x: pnp.linalg.pinv(pnp.reshape(x, (2, 2)))[0, 1], np.array([1.0, 0.0, 0.0, 1.0]),
         0.0, [0.0, -1.0, 0.0, 0.0]),
    _row("transpose(reshape(x))[0,1]", lambda x: pnp.transpose(pnp.reshape(x, (2, 1)))[0, 1],
         np.array([np.inf, np.nan]), np.nan, [0.0, 1.0]),
    _row("concatenate([x,x])[2]", lambda x: pnp.concatenate([x, x])[2], np.array([np.inf, np.nan]), np.inf,
         [1.0, 0.0]),
    _row("sum(broadcast_to(x,(3,)))", lambda x: pnp.sum(pnp.broadcast_to(x, (3,))), np.inf, np.inf, 3.0),
    _row("x.at[0].set(inf)[1]", lambda x: x.at[0].set(np.inf)[1], np.array([1.0, np.nan]), np.nan, [0.0, 1.0],
         traced_only=True),
    _row("x.at[0].add(x[1])[0]", lambda x: x.at[0].add(x[1])[0], np.array([1.0, 2.0]), 3.0, [1.0, 1.0],
         traced_only=True),
    _row("0<x<1", lambda x: _float(pnp.logical_and(x > 0.0, x < 1.0)), 0.5, 1.0, 0.0),
    _row("not(x>0)", lambda x: _float(pnp.logical_not(x > 0.0)), 0.5, 0.0, 0.0),
    _row("isfinite", lambda x: _float(pnp.isfinite(x)), np.inf, 0.0, 0.0),
]


@pytest.mark.parametrize("f, x, value, deriv", TABLE)
def test_special_value_reverse(f, x, value, deriv):
    v, g = _reverse(f, x)
    assert _same(v, value), f"value {v!r}, expected {value!r}"
    assert _same(g, deriv), f"reverse-mode derivative {g!r}, expected {deriv!r}"
    assert np.shape(g) == np.shape(x)


@pytest.mark.parametrize("f, x, value, deriv", TABLE)
def test_special_value_forward(f, x, value, deriv):
    v, t = _forward(f, x)
    assert _same(v, value), f"value {v!r}, expected {value!r}"
    assert _same(t, deriv), f"forward-mode derivative {t!r}, expected {deriv!r}"


PLAIN_TABLE = [pytest.param(*p.values, id=p.id) for p in TABLE if p.id not in _TRACED_ONLY]


@pytest.mark.parametrize("f, x, value, deriv", PLAIN_TABLE)
def test_special_value_plain_call(f, x, value, deriv):
    """The function itself, called on plain NumPy values (no tracing), gives the same value."""
    assert _same(f(np.asarray(x, dtype=np.float64)), value)


@pytest.mark.parametrize("f, x, value, deriv", TABLE)
def test_special_value_zero_tangent_and_cotangent(f, x, value, deriv):
    """A zero tangent / cotangent gives exactly 0 even where the derivative is inf (0 * inf = 0)."""
    x = np.asarray(x, dtype=np.float64)
    _, t = pdx.jvp(f, (x,), (np.zeros_like(x),))
    assert _same(t, 0.0), t
    _, back = pdx.vjp(f, x)
    (ct,) = back(0.0)
    assert _same(ct, np.zeros_like(x)), ct


def _primitives(graph):
    return {e.prim.name for e in graph.eqns}


def test_every_primitive_has_a_special_value_row():
    """TESTING.md section 1: every registered primitive appears in some row of the table
    (in the traced program or in its linearization)."""
    from partiald.core.primitive import REGISTRY

    covered = set()
    for p in TABLE:
        f, x = p.values[0], p.values[1]
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            covered |= _primitives(pdx.make_graph(f)(x))
            try:
                covered |= _primitives(pdx.linearize(f, x)[1].graph)
            except Exception:   # rows marked xfail may fail here; they count through make_graph
                pass
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"primitives without a special-value row: {missing}"


_INF_CONST = np.array([[np.inf, 1.0], [2.0, np.nan]])


def _dot_inf(x):
    return pnp.dot(x, np.array([np.inf, 1.0]))


def test_dot_with_inf_constant_reverse():
    """d/dx (x . c) = c exactly, inf included."""
    assert _same(pdx.grad(_dot_inf)(np.ones(2)), [np.inf, 1.0])
    assert _same(pdx.jacrev(_dot_inf)(np.ones(2)), [np.inf, 1.0])


def test_dot_with_inf_constant_forward():
    assert _same(pdx.jacfwd(_dot_inf)(np.ones(2)), [np.inf, 1.0])
    assert _same(pdx.jvp(_dot_inf, (np.ones(2),), (np.array([0.0, 1.0]),))[1], 1.0)


@pytest.mark.parametrize("f", [
    pytest.param(lambda x: x * _INF_CONST, id="multiply"),
    pytest.param(lambda x: x / _INF_CONST, id="divide"),
    pytest.param(lambda x: pnp.where(_INF_CONST > 1.5, x, _INF_CONST), id="where"),
    pytest.param(lambda x: x @ _INF_CONST, id="matmul"),
    pytest.param(lambda x: pnp.einsum("ij,jk->ik", _INF_CONST, x), id="einsum"),
    pytest.param(lambda x: pnp.tensordot(x, _INF_CONST, 2), id="tensordot"),
])
def test_zero_tangent_and_cotangent_times_inf_is_zero(f):
    x = np.ones((2, 2))
    with np.errstate(all="ignore"):
        _, t = pdx.jvp(f, (x,), (np.zeros_like(x),))
        out, back = pdx.vjp(f, x)
        (ct,) = back(np.zeros_like(out))
    assert _same(t, np.zeros(np.shape(t))), t
    assert _same(ct, np.zeros_like(x)), ct


# -- two-argument conventions (both arguments traced) ---------------------------------------

@pytest.mark.parametrize("fn", [pnp.maximum, pnp.minimum], ids=["maximum", "minimum"])
def test_tie_sends_derivative_to_second_argument(fn):
    gx, gy = pdx.grad(fn, argnums=(0, 1))(1.0, 1.0)
    assert (gx, gy) == (0.0, 1.0)
    assert pdx.jvp(fn, (1.0, 1.0), (1.0, 0.0))[1] == 0.0
    assert pdx.jvp(fn, (1.0, 1.0), (0.0, 1.0))[1] == 1.0
    assert pdx.jvp(fn, (1.0, 1.0), (1.0, 1.0))[1] == 1.0
    # arrays: ties elementwise
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 2.5, 2.0])
    gx, gy = pdx.grad(lambda a, b: pnp.sum(fn(a, b)), argnums=(0, 1))(x, y)
    win_x = (x > y) if fn is pnp.maximum else (x < y)
    assert _same(gx, win_x.astype(float)) and _same(gy, (~win_x).astype(float))


def test_relu_forms_agree_everywhere():
    """relu, maximum(x, 0.0) and where(x > 0, x, 0.0) are the same function with the same derivative."""
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    forms = [nn.relu, lambda t: pnp.maximum(t, 0.0), lambda t: pnp.where(t > 0, t, 0.0)]
    grads = [pdx.grad(lambda t, f=f: pnp.sum(f(t)))(x) for f in forms]
    tangents = [pdx.jvp(f, (x,), (np.ones_like(x),))[1] for f in forms]
    for g, t in zip(grads, tangents):
        assert _same(g, [0.0, 0.0, 0.0, 1.0, 1.0])
        assert _same(t, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_power_partials_at_zero_base():
    gx, gy = pdx.grad(lambda x, y: x ** y, argnums=(0, 1))(0.0, 2.0)
    assert (gx, gy) == (0.0, 0.0)
    assert pdx.jvp(lambda x, y: x ** y, (0.0, 2.0), (0.0, 1.0))[1] == 0.0
    assert pdx.jvp(lambda x, y: x ** y, (0.0, 2.0), (1.0, 0.0))[1] == 0.0
    # x**0 is the constant 1: derivative 0 in x everywhere, including at 0
    gx, _ = pdx.grad(lambda x, y: x ** y, argnums=(0, 1))(0.0, 0.0)
    assert gx == 0.0


def test_logsumexp_all_neg_inf_row_has_zero_gradient():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, 2.0]])
    g = pdx.grad(lambda t: pnp.sum(nn.logsumexp(t, axis=1)))(x)
    e = np.exp(x[1] - 2.0)
    assert _same(g[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g[1], e / e.sum(), rtol=1e-15)
    for jac in (pdx.jacfwd, pdx.jacrev):
        j = jac(lambda t: nn.logsumexp(t, axis=1))(x)
        assert j.shape == (2, 2, 3)
        assert _same(j[0], np.zeros((2, 3)))       # the all -inf row: exactly 0, not NaN
        assert np.isfinite(j).all()


@pytest.mark.parametrize("jac", [pdx.jacfwd, pdx.jacrev], ids=["jacfwd", "jacrev"])
def test_stable_nn_functions_at_1e4_full_jacobians(jac):
    x = np.array([1e4, -1e4])
    assert _same(nn.log_softmax(x), [0.0, -2e4])
    assert _same(jac(nn.log_softmax)(x), [[0.0, 0.0], [-1.0, 1.0]])
    assert _same(nn.softmax(x), [1.0, 0.0])
    assert _same(jac(nn.softmax)(x), [[0.0, 0.0], [0.0, 0.0]])
    assert _same(nn.sigmoid(x), [1.0, 0.0])
    assert _same(jac(nn.sigmoid)(x), [[0.0, 0.0], [0.0, 0.0]])
    assert _same(nn.softplus(x), [1e4, 0.0])
    assert _same(jac(nn.softplus)(x), [[1.0, 0.0], [0.0, 0.0]])


# -- kinks: the central difference equals the convention only where it is the average -------

def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("h", [1e-3, 1e-6, 1e-9])
def test_abs_kink_central_difference_is_the_convention(h):
    """As autograd tests: at a symmetric kink the central FD is the mean of the one-sided slopes.

    For abs that mean is (1 + -1)/2 = 0 = abs'(0), the documented convention. (For relu
    the mean would be 0.5, which is *not* the convention relu'(0) = 0, so relu is covered
    by the table only.)"""
    right = (pnp.abs(h) - pnp.abs(0.0)) / h
    left = (pnp.abs(0.0) - pnp.abs(-h)) / h
    assert (right, left) == (1.0, -1.0)
    fd = _central(pnp.abs, 0.0, h)
    assert fd == (right + left) / 2 == 0.0
    assert pdx.grad(pnp.abs)(0.0) == fd
    assert pdx.jvp(pnp.abs, (0.0,), (1.0,))[1] == fd


@pytest.mark.parametrize("h", [1e-3, 1e-6])
def test_max_tie_central_difference_is_the_convention(h):
    """Tied maxima share the derivative: the central FD along each tied coordinate is 1/2."""
    x = np.array([1.0, 1.0, 0.0])
    g = pdx.grad(pnp.max)(x)
    for i, e in enumerate(_basis(x)):
        fd = (pnp.max(x + h * e) - pnp.max(x - h * e)) / (2 * h)
        assert abs(fd - g[i]) <= 1e-9
        assert pdx.jvp(pnp.max, (x,), (e,))[1] == g[i]


# -- section 4: forward values against NumPy on PyTorch's reference value sets --------------

_SMALL = [0.0, -0.0, 0.001, -0.001, 0.25, -0.25, 1.0, -1.0, PI / 2, -PI / 2, PI - 1e-5, -(PI - 1e-5),
          PI, -PI, PI + 1e-5, -(PI + 1e-5)]
_LARGE = [501.0, -501.0, 1001.2, -1001.2, 13437.7, -13437.7, 4988429.2, -4988429.2, 1e20, -1e20]
_EXTREMAL = [np.inf, -np.inf, np.nan]
VALUES = np.array(_SMALL + _LARGE + _EXTREMAL)

#: every unary function of partiald.numpy, with its NumPy reference
UNARY = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "log2": np.log2, "log10": np.log10,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sqrt": np.sqrt, "square": np.square,
    "reciprocal": np.reciprocal, "abs": np.abs, "absolute": np.absolute, "sign": np.sign,
    "negative": np.negative, "positive": np.positive, "floor": np.floor, "round": np.round,
    "around": np.round, "exp2": np.exp2, "cbrt": np.cbrt, "arcsinh": np.arcsinh, "arccosh": np.arccosh,
    "arctanh": np.arctanh, "ceil": np.ceil, "fabs": np.fabs, "deg2rad": np.deg2rad, "rad2deg": np.rad2deg,
    "radians": np.radians, "degrees": np.degrees, "real": np.real, "imag": np.imag, "conj": np.conj,
    "conjugate": np.conjugate, "angle": np.angle, "rint": np.rint, "trunc": np.trunc,
}
#: unary functions with a boolean result (values only)
UNARY_BOOL = {"isfinite": np.isfinite, "isnan": np.isnan, "logical_not": np.logical_not, "isinf": np.isinf,
              "signbit": np.signbit}
#: unary functions with two results
UNARY_TWO = {"modf": np.modf}
#: binary functions, checked on the cross product of the value sets
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide, "power": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2, "logaddexp": np.logaddexp,
    "hypot": np.hypot, "fmax": np.fmax, "fmin": np.fmin, "logaddexp2": np.logaddexp2,
}
BINARY_BOOL = {"less": np.less, "less_equal": np.less_equal, "greater": np.greater,
               "greater_equal": np.greater_equal, "equal": np.equal, "not_equal": np.not_equal}
#: the unary functions with a derivative (the others are boolean)
DIFFERENTIABLE_UNARY = sorted(UNARY)


def test_unary_list_is_complete():
    """Every unary NumPy ufunc that partiald.numpy exports is covered by this module."""
    exported = {n for n in pnp.__all__
                if isinstance(getattr(np, n, None), np.ufunc) and getattr(np, n).nin == 1
                and callable(getattr(pnp, n))}
    missing = exported - set(UNARY) - set(UNARY_BOOL) - set(UNARY_TWO)
    assert not missing, f"unary functions without special-value coverage: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(UNARY_TWO))
def test_two_result_unary_values_and_derivatives_on_reference_sets(name):
    f, ref = getattr(pnp, name), UNARY_TWO[name]
    with np.errstate(all="ignore"):
        for got, want in zip(f(VALUES), ref(VALUES)):
            _assert_matches_numpy(got, want)
        for k in range(2):
            traced, t = pdx.jvp(lambda x, k=k: f(x)[k], (VALUES,), (np.ones_like(VALUES),))
            _assert_matches_numpy(traced, ref(VALUES)[k])
            g = pdx.grad(lambda x, k=k: pnp.sum(f(x)[k]))(VALUES)
            assert np.array_equal(t, g, equal_nan=True)


def _assert_matches_numpy(actual, expected):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    if expected.dtype == bool:
        assert actual.dtype == bool
        np.testing.assert_array_equal(actual, expected)
        return
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0, equal_nan=True)
    # equal inf positions with the same sign are implied by assert_allclose; also the zero sign
    zero = expected == 0
    np.testing.assert_array_equal(np.signbit(actual[zero]), np.signbit(expected[zero]))


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(UNARY_BOOL))
def test_unary_values_match_numpy_on_reference_sets(name):
    f, ref = getattr(pnp, name), {**UNARY, **UNARY_BOOL}[name]
    with np.errstate(all="ignore"):
        expected = ref(VALUES)
        _assert_matches_numpy(f(VALUES), expected)                     # plain call
        for x, e in zip(VALUES, expected):                                # Python-float scalars
            _assert_matches_numpy(f(float(x)), np.asarray(e))
        if name in UNARY:
            traced, _ = pdx.jvp(f, (VALUES,), (np.ones_like(VALUES),))    # the traced program
            _assert_matches_numpy(traced, expected)
            _, back = pdx.vjp(f, VALUES)
            assert back(np.ones_like(VALUES))[0].shape == VALUES.shape


@pytest.mark.parametrize("name", DIFFERENTIABLE_UNARY)
def test_unary_derivatives_never_raise_and_modes_agree_on_reference_sets(name):
    """At every reference value (extremal ones included) forward and reverse agree bit for bit."""
    f = getattr(pnp, name)
    with np.errstate(all="ignore"):
        _, t = pdx.jvp(f, (VALUES,), (np.ones_like(VALUES),))
        g = pdx.grad(lambda x: pnp.sum(f(x)))(VALUES)
    assert t.dtype == g.dtype == np.float64
    assert np.array_equal(t, g, equal_nan=True), np.stack([VALUES, t, g])


@pytest.mark.parametrize("name", sorted(BINARY) + sorted(BINARY_BOOL))
def test_binary_values_match_numpy_on_cross_product(name):
    f, ref = getattr(pnp, name), {**BINARY, **BINARY_BOOL}[name]
    x, y = (a.ravel() for a in np.meshgrid(VALUES, VALUES, indexing="ij"))
    with np.errstate(all="ignore"):
        expected = ref(x, y)
        _assert_matches_numpy(f(x, y), expected)
        if name in BINARY:
            traced, tx = pdx.jvp(f, (x, y), (np.ones_like(x), np.zeros_like(y)))
            _, ty = pdx.jvp(f, (x, y), (np.zeros_like(x), np.ones_like(y)))
            _assert_matches_numpy(traced, expected)
            gx, gy = pdx.grad(lambda a, b: pnp.sum(f(a, b)), argnums=(0, 1))(x, y)
            assert np.array_equal(tx, gx, equal_nan=True)
            assert np.array_equal(ty, gy, equal_nan=True)


def _nan_every_third():
    x = np.random.default_rng(0).uniform(-3.0, 3.0, (128, 128))
    x.flat[::3] = np.nan
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_on_128x128_nan_every_third(name):
    """Values match NumPy; NaN inputs do not leak into the derivatives of other elements."""
    f, ref = getattr(pnp, name), UNARY[name]
    x = _nan_every_third()
    nan = np.isnan(x)
    clean = np.where(nan, 0.5, x)
    with np.errstate(all="ignore"):
        _assert_matches_numpy(f(x), ref(x))
        v, t = pdx.jvp(f, (x,), (np.ones_like(x),))
        _assert_matches_numpy(v, ref(x))
        g = pdx.grad(lambda a: pnp.sum(f(a)))(x)
        g_clean = pdx.grad(lambda a: pnp.sum(f(a)))(clean)
    assert g.shape == x.shape and t.shape == x.shape
    assert np.array_equal(g[~nan], g_clean[~nan], equal_nan=True)
    assert np.array_equal(t, g, equal_nan=True)


EMPTY_SHAPES = [(0,), (0, 3, 3), (1, 0, 5), (6, 0, 0, 0)]


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_on_empty_arrays(name, shape):
    f, ref = getattr(pnp, name), UNARY[name]
    x = np.zeros(shape)
    out = f(x)
    assert out.shape == shape and out.dtype == ref(x).dtype
    v, t = pdx.jvp(f, (x,), (x,))
    assert np.shape(v) == shape and np.shape(t) == shape
    g = pdx.grad(lambda a: pnp.sum(f(a)))(x)
    assert g.shape == shape and g.dtype == np.float64


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
def test_reductions_and_nn_on_empty_arrays(shape):
    x = np.zeros(shape)
    for f in [pnp.sum, lambda a: pnp.sum(a * a), lambda a: pnp.sum(nn.sigmoid(a)),
              lambda a: pnp.linalg.norm(a), lambda a: pnp.sum(pnp.exp(a), axis=0).sum()]:
        v, g = pdx.value_and_grad(f)(x)
        assert v == 0.0 and g.shape == shape
        assert pdx.jvp(f, (x,), (x,))[1] == 0.0
    assert pdx.jacobian(lambda a: a * 2.0)(x).shape == shape + shape


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_on_0d_inputs(name):
    """0-d arrays, NumPy scalars and Python floats give 0-d results equal to NumPy's."""
    f, ref = getattr(pnp, name), UNARY[name]
    for x in [np.array(0.5), np.float64(0.5), 0.5, np.array(-0.75)]:
        with np.errstate(all="ignore"):
            expected = np.asarray(ref(x))
        out = f(x)
        assert np.ndim(out) == 0
        _assert_matches_numpy(out, expected)
        v, t = pdx.jvp(f, (x,), (1.0,))
        assert np.ndim(v) == 0 and np.ndim(t) == 0
        _assert_matches_numpy(v, expected)
        g = pdx.grad(f)(x)
        assert np.ndim(g) == 0 and _same(g, t)


# -- outside the domain: NaN value, never an exception -------------------------------------

OFFSETS = np.array([1e-5, 1e-3, 0.1, 1.0, 2.0, 10.0, 20.0, 50.0, 100.0])

#: (function, points beyond the domain boundary)
OUTSIDE = [
    pytest.param("log", -OFFSETS, id="log(x<0)"),
    pytest.param("log1p", -1.0 - OFFSETS, id="log1p(x<-1)"),
    pytest.param("sqrt", -OFFSETS, id="sqrt(x<0)"),
    pytest.param("arcsin", 1.0 + OFFSETS, id="arcsin(x>1)"),
    pytest.param("arcsin", -1.0 - OFFSETS, id="arcsin(x<-1)"),
    pytest.param("arccos", 1.0 + OFFSETS, id="arccos(x>1)"),
    pytest.param("arccos", -1.0 - OFFSETS, id="arccos(x<-1)"),
]


def _calls(f, p):
    out = [f(p), pdx.jvp(f, (p,), (np.ones_like(p),)), pdx.grad(lambda x: pnp.sum(f(x)))(p)]
    out += [pdx.grad(f)(float(q)) for q in p]
    return out


@pytest.mark.parametrize("name, points", OUTSIDE)
def test_outside_domain_value_is_nan_and_nothing_raises(name, points):
    f = getattr(pnp, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, (primal, _), _, *_ = _calls(f, points)
    assert np.isnan(value).all() and np.isnan(primal).all()
    assert all(issubclass(w.category, RuntimeWarning) for w in caught), [str(w.message) for w in caught]
    for q in points:   # Python floats too
        with np.errstate(all="ignore"):
            assert math.isnan(f(float(q)))



@pytest.mark.parametrize("name, points", OUTSIDE)
def test_outside_domain_gradient_is_nan_in_both_modes(name, points):
    """Where the value is NaN the derivative is NaN too (forward and reverse, arrays and scalars)."""
    f = getattr(pnp, name)
    with np.errstate(all="ignore"):
        _, (_, tangent), grad_arr, *grad_scalars = _calls(f, points)
    assert np.isnan(tangent).all(), tangent
    assert np.isnan(grad_arr).all(), grad_arr
    assert all(math.isnan(g) for g in grad_scalars), grad_scalars


# -- integers and float32 -----------------------------------------------------------------

def test_python_int_is_promoted():
    assert pdx.grad(lambda x: x * x)(3) == 6.0
    assert isinstance(pdx.grad(lambda x: x * x)(3), float)
    assert pdx.jvp(lambda x: x * x, (3,), (1.0,)) == (9.0, 6.0)


def test_integer_array_raises_naming_float64():
    with pytest.raises(TypeError, match="float64"):
        pdx.grad(lambda x: pnp.sum(x * x))(np.arange(3))


_F32_POINTS = np.array([0.1, 0.3, 0.7, 0.9])       # inside every unary domain
_F32_VALUE_ONLY = {"log2", "log10"}

def _f32_case(name, f, marks=()):
    return pytest.param(f, id=name, marks=marks)


def _xf(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


FLOAT32_CASES = [
    *[_f32_case(n, getattr(pnp, n), )
      for n in sorted(UNARY)],
    _f32_case("sigmoid", nn.sigmoid),
    _f32_case("relu", nn.relu),
    _f32_case("softplus", nn.softplus),
    _f32_case("logsumexp", nn.logsumexp),
    _f32_case("log_softmax", nn.log_softmax),
    _f32_case("softmax", nn.softmax),
    _f32_case("x**3", lambda t: t ** 3),
    _f32_case("x**2.5", lambda t: t ** 2.5),
    _f32_case("x/3.0", lambda t: t / 3.0),
    _f32_case("1/(1+x)", lambda t: 1.0 / (1.0 + t)),
    _f32_case("mean", lambda t: pnp.mean(t * t)),
    _f32_case("var", pnp.var),
    _f32_case("std", pnp.std),
    _f32_case("logaddexp", lambda t: pnp.logaddexp(t, 0.3)),
    _f32_case("arctan2", lambda t: pnp.arctan2(t, 0.5)),
    _f32_case("maximum", lambda t: pnp.maximum(t, 0.5)),
    _f32_case("where", lambda t: pnp.where(t > 0.5, t, 2.0 * t)),
    _f32_case("clip", lambda t: pnp.clip(t, 0.2, 0.8)),
    _f32_case("norm", pnp.linalg.norm),
    _f32_case("max", pnp.max),
    _f32_case("prod", pnp.prod),
    _f32_case("outer", lambda t: pnp.outer(t, t)),
    _f32_case("einsum", lambda t: pnp.einsum("i,i->", t, t)),
    _f32_case("matmul", lambda t: t @ np.ones((4, 2), np.float32)),
    _f32_case("det", lambda t: pnp.linalg.det(pnp.reshape(t, (2, 2)))),
    _f32_case("solve", lambda t: pnp.linalg.solve(np.array([[2.0, 1.0], [0.0, 3.0]], np.float32),
                                                  pnp.reshape(t, (2, 2)))),
]


@pytest.mark.parametrize("f", FLOAT32_CASES)
def test_float32_end_to_end(f):
    """float32 in, float32 out (value, JVP, gradient); values near the float64 computation."""
    x32 = _F32_POINTS.astype(np.float32)
    x64 = _F32_POINTS

    def loss(t):
        return pnp.sum(f(t))

    v32 = f(x32)
    assert np.result_type(v32) == np.float32
    np.testing.assert_allclose(v32, f(x64), rtol=1e-5, atol=1e-6)
    pv, t32 = pdx.jvp(f, (x32,), (np.ones(4, np.float32),))
    assert np.result_type(pv) == np.float32 and np.result_type(t32) == np.float32
    _, t64 = pdx.jvp(f, (x64,), (np.ones(4),))
    np.testing.assert_allclose(t32, t64, rtol=2e-3, atol=1e-6)
    g32 = pdx.grad(loss)(x32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, pdx.grad(loss)(x64), rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("name", [pytest.param(n, )
                                  for n in sorted(UNARY)])
def test_float32_scalars_stay_float32(name):
    f = getattr(pnp, name)
    x0 = 1.3 if name == "arccosh" else 0.3            # inside every function's domain
    for x in [np.float32(x0), np.array(x0, np.float32)]:
        assert np.result_type(f(x)) == np.float32
        v, t = pdx.jvp(f, (x,), (np.float32(1.0),))
        assert np.result_type(v) == np.float32 and np.result_type(t) == np.float32
        g = pdx.grad(f)(x)
        assert np.result_type(g) == np.float32
        assert g == t


def test_float32_gradient_keeps_input_dtype_when_output_is_promoted():
    g = pdx.grad(lambda t: pnp.sum(t * np.float64(2.0)))(np.ones(3, np.float32))
    assert g.dtype == np.float32
