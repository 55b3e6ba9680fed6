"""NumPy-compatible functions that partiald can differentiate.

Write ordinary NumPy code with ``import partiald.numpy as pnp``. On plain
arrays these functions compute what NumPy computes; on traced arrays they
record primitives. The list is explicit: a NumPy function that is not here
raises an error naming it when it meets a traced value.
"""
from __future__ import annotations

import difflib

from . import _methods  # noqa: F401  (installs operators on Tracer)
from . import linalg  # noqa: F401  (pnp.linalg)
from . import fft  # noqa: F401  (pnp.fft)
from ._core import *  # noqa: F401,F403  (the functions, listed in _core.__all__)
from ._complex import *  # noqa: F401,F403  (real, imag, conj, angle: complex numbers)
from ._complex import __all__ as _COMPLEX_NAMES
from ._logic import all, any  # noqa: F401,A004  (pnp.any, pnp.all)
from ._core import (FUNCTIONS, _arr, _axes, _dtype, _is_traced, _ndim, _shape,  # noqa: F401
                    _to_float, _unsupported)
from ._core import __all__ as _FUNCTION_NAMES

__all__ = list(_FUNCTION_NAMES) + list(_COMPLEX_NAMES) + ["any", "all"] + ["linalg", "fft"]


def __getattr__(name):
    close = difflib.get_close_matches(name, __all__, n=3)
    hint = f" Closest supported names: {', '.join('pnp.' + c for c in close)}." if close else ""
    raise AttributeError(f"partiald.numpy has no function {name!r}: numpy.{name} is not supported "
                         f"for differentiation.{hint}")
