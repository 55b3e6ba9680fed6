"""``pnp.any`` and ``pnp.all`` (kept apart from _core, whose code uses Python's own
``any``/``all``)."""
from __future__ import annotations

import numpy as _np

from . import _core as pnp

__all__ = ["any", "all"]


def any(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.any``: whether some element along ``axis`` is nonzero. A bool result
    (derivative 0), traced, so it also works under jit."""
    if not pnp._is_traced(a):
        return _np.any(a, axis=axis, keepdims=keepdims)
    axes = pnp._axes(a, axis)
    if _np.prod([pnp._shape(a)[k] for k in axes], dtype=_np.int64) == 0:    # an empty reduction: False
        shape = tuple(1 if k in axes else d for k, d in enumerate(pnp._shape(a)) if keepdims or k not in axes)
        return _np.zeros(shape, bool)[()] if not shape else _np.zeros(shape, bool)
    nonzero = pnp.astype(pnp.not_equal(a, 0), _np.float64)
    return pnp.greater(pnp.max(nonzero, axes, keepdims), 0.5)


def all(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.all``: whether every element along ``axis`` is nonzero (bool, derivative 0)."""
    if not pnp._is_traced(a):
        return _np.all(a, axis=axis, keepdims=keepdims)
    return pnp.logical_not(any(pnp.logical_not(a), axis, keepdims))


pnp.FUNCTIONS.update({"any": any, "all": all})
