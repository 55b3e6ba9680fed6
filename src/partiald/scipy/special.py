"""``scipy.special`` functions as differentiable primitives.

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

from ..core.primitive import bind
from ..numpy import _to_float
from ..ops import elementwise as _ew

__all__ = ["erf", "erfc"]


def erf(x):
    """The error function, like ``scipy.special.erf``; its derivative is ``2/sqrt(pi) exp(-x^2)``."""
    return bind(_ew.erf_p, _to_float(x))


def erfc(x):
    """The complementary error function ``1 - erf(x)``, like ``scipy.special.erfc``."""
    return bind(_ew.erfc_p, _to_float(x))
