"""Shape/dtype rules and helpers shared by the primitive records."""
from __future__ import annotations

import numpy as np

from ..core.graph import ShapedArray


#: what a ``numpy`` lowering function names to have generated code call the record's own
#: ``impl`` with an output buffer (``out=``, always a fresh one, never an input's)
NUMPY_IMPL = "impl"


def shape_of(x):
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def dtype_of(x):
    if isinstance(x, (bool, int, float, complex)):
        return np.result_type(type(x))
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.result_type(x)


def is_complex(x) -> bool:
    return dtype_of(x).kind == "c"


def real_dtype(dt):
    """The real dtype of the same precision (complex128 -> float64, complex64 -> float32)."""
    dt = np.dtype(dt)
    return np.empty(0, dt).real.dtype if dt.kind == "c" else dt


def complex_dtype(dt):
    """The complex dtype a value of dtype ``dt`` promotes to (float32 -> complex64)."""
    return np.result_type(dt, np.complex64)


def _dtype_arg(x):
    # Python scalars stay weakly typed (NEP 50): float32 + 2.0 is float32.
    return x if isinstance(x, (bool, int, float, complex)) else x.dtype


def elementwise_aval(*args, **params):
    shape = np.broadcast_shapes(*[shape_of(a) for a in args])
    return ShapedArray(shape, np.result_type(*[_dtype_arg(a) for a in args]))


def float_elementwise_aval(*args, **params):
    aval = elementwise_aval(*args)
    dt = aval.dtype if aval.dtype.kind in "fc" else np.dtype(np.float64)
    return ShapedArray(aval.shape, dt)


def bool_elementwise_aval(*args, **params):
    return ShapedArray(np.broadcast_shapes(*[shape_of(a) for a in args]), np.bool_)


def reduced_shape(shape, axes, keepdims=False):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)
