import numpy.linalg as _o

import partiald.numpy as _pnp
import partiald.numpy.linalg as _p


def _dot(a, b):
    """autograd.numpy.linalg's private batched matrix product."""
    return _pnp.matmul(a, b)


def T(x):
    """autograd.numpy.linalg's private transpose of the last two axes."""
    return _pnp.swapaxes(x, -1, -2)


def __getattr__(name):
    try:
        return getattr(_p, name)
    except AttributeError:
        return getattr(_o, name)
