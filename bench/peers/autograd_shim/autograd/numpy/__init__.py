"""autograd.numpy -> partiald.numpy; names partiald.numpy does not define
(constants, dtypes, non-differentiable helpers) come from NumPy itself, so a
differentiable function partiald lacks fails on traced input with partiald's
own error."""
import importlib as _il

import numpy as _onp

import partiald.numpy as _pnp
from partiald.numpy import *  # noqa: F401,F403

# this package's own submodules (the star import above bound partiald's linalg and fft)
fft = _il.import_module(__name__ + ".fft")
linalg = _il.import_module(__name__ + ".linalg")
random = _il.import_module(__name__ + ".random")


def __getattr__(name):
    try:
        return getattr(_pnp, name)
    except AttributeError:
        return getattr(_onp, name)
