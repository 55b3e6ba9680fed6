"""autograd.numpy -> partiald.numpy; names partiald.numpy does not define
(constants, dtypes, non-differentiable helpers) come from NumPy itself, so a
differentiable function partiald lacks fails on traced input with partiald's
own error."""
import numpy as _onp

import partiald.numpy as _pnp
from partiald.numpy import *  # noqa: F401,F403

from . import fft, linalg, random  # noqa: F401


def __getattr__(name):
    try:
        return getattr(_pnp, name)
    except AttributeError:
        return getattr(_onp, name)
