"""autograd.numpy -> partiald.numpy; names partiald.numpy does not define
(constants, dtypes, non-differentiable helpers) come from NumPy itself, so a
differentiable function partiald lacks fails on traced input with partiald's
own error."""
import importlib as _il

from partiald.numpy import *  # noqa: F401,F403

from .._forward import forwarding

# this package's own submodules (the star import above bound partiald's linalg and fft)
fft = _il.import_module(__name__ + ".fft")
linalg = _il.import_module(__name__ + ".linalg")
random = _il.import_module(__name__ + ".random")


__getattr__ = forwarding("partiald.numpy", "numpy")
