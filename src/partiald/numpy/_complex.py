"""Complex numbers in partiald.numpy: real, imag, conj, angle, with JAX's
conventions (see ops/elementwise.py: a cotangent pairs with a tangent by
``Re(sum(ct * t))``; ``grad`` of a real function of complex ``z`` is
``df/dx - i df/dy``; ``grad(..., holomorphic=True)`` is ``f'(z)``)."""
from __future__ import annotations

import numpy as _np

from ..core.primitive import bind
from ..core.trace import Tracer
from ..ops import elementwise as _ew
from ..ops.common import real_dtype
from . import _core as pnp

__all__ = ["real", "imag", "conj", "conjugate", "angle", "real_if_close"]


def real(x):
    """The real part, like ``np.real`` (a real input is returned as it is)."""
    x = pnp._arr(x)
    if not pnp._is_traced(x):
        return _np.real(x)
    return bind(_ew.real_p, x) if x.dtype.kind == "c" else x


def imag(x):
    """The imaginary part, like ``np.imag`` (zeros for a real input, derivative 0)."""
    x = pnp._arr(x)
    if not pnp._is_traced(x):
        return _np.imag(x)
    return bind(_ew.imag_p, x) if x.dtype.kind == "c" else pnp.zeros_like(x)


def conj(x):
    """The complex conjugate, like ``np.conj`` (the identity on real input)."""
    x = pnp._arr(x)
    if not pnp._is_traced(x):
        return _np.conjugate(x)
    return bind(_ew.conj_p, x) if x.dtype.kind == "c" else x


conjugate = conj


def angle(z, deg=False):
    """The argument of ``z``, like ``np.angle``: ``arctan2(imag(z), real(z))``."""
    z = pnp._arr(z)
    if not pnp._is_traced(z):
        return _np.angle(z, deg=deg)
    a = pnp.arctan2(imag(z), real(z)) if z.dtype.kind == "c" else pnp.arctan2(pnp.zeros_like(z), z)
    return a * (180.0 / _np.pi) if deg else a


def real_if_close(a, tol=100):
    """``np.real_if_close``: the real part when every imaginary part is within
    ``tol`` machine epsilons of 0 (decided on the value, as NumPy does)."""
    a = pnp._arr(a)
    if not pnp._is_traced(a):
        return _np.real_if_close(a, tol=tol)
    if a.dtype.kind != "c":
        return a
    eps = _np.finfo(real_dtype(a.dtype)).eps
    limit = tol * eps if tol > 1 else tol
    return real(a) if bool(_np.all(_np.abs(_np.imag(a.concrete_value("pnp.real_if_close"))) < limit)) else a


# the ndarray attributes
Tracer.real = property(real)
Tracer.imag = property(imag)
Tracer.conj = conj
Tracer.conjugate = conj

# raw NumPy calls on tracers (np.real(t), np.conj(t)) dispatch here
pnp.FUNCTIONS.update({name: globals()[name] for name in __all__})
