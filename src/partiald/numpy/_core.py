"""The functions of ``partiald.numpy`` (the package re-exports them; ``linalg.py`` and
``_methods.py`` import this module, never the package, so no import circle remains)."""
from __future__ import annotations

import builtins as _builtins
import difflib
import operator as _operator
import string

import numpy as _np

from ..core.errors import TracerConversionError as _TracerConversionError
from ..core.primitive import bind
from ..core.trace import Tracer
from ..ops import elementwise as _ew
from ..ops import reduce as _red
from ..ops import scan as _scan
from ..ops import shape as _sh

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None


class _ScalarTypeMeta(type):
    # A stand-in for a NumPy scalar type (as JAX's ``jnp.int64``): usable wherever a
    # dtype is (its ``dtype`` attribute), equal to and hashing like the NumPy type,
    # ``isinstance`` checks against it; called on a traced value it converts inside the
    # trace (``astype``), else it is the NumPy type itself.
    def __instancecheck__(cls, inst):
        return isinstance(inst, cls.numpy_type)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.numpy_type)

    def __eq__(cls, other):
        return other is cls or other == cls.numpy_type

    def __hash__(cls):
        return hash(cls.numpy_type)

    def __repr__(cls):
        return f"pnp.{cls.__name__}"

    def __call__(cls, x=0):
        if _contains_tracer(x):
            return astype(asarray(x), cls.dtype)
        return cls.numpy_type(x)


def _scalar_type(t):
    return _ScalarTypeMeta(t.__name__, (), {
        "numpy_type": t, "dtype": _np.dtype(t),
        "__doc__": f"``numpy.{t.__name__}``; on a traced array, ``astype(x, {t.__name__})`` (stays traced; "
                   "a conversion to an integer or bool dtype has derivative 0)."})


# the float and bool types are NumPy's own (``x.dtype.type is pnp.float32`` holds); the
# integer ones are stand-ins so that ``pnp.int64(t)`` casts a traced array to integer
# indices inside the trace (derivative 0), as ``jnp.int64`` does
float32 = _np.float32
float64 = _np.float64
int32 = _scalar_type(_np.int32)
int64 = _scalar_type(_np.int64)
bool_ = _np.bool_
ndarray = _np.ndarray
dtype = _np.dtype


def _is_traced(x):
    return isinstance(x, Tracer)


def asarray(x, dtype=None):
    """Like ``np.asarray``; traced values (and lists containing them) stay traced."""
    if isinstance(x, Tracer):
        return x if dtype is None or _np.dtype(dtype) == x.dtype else astype(x, dtype)
    if isinstance(x, (list, tuple)) and any(_contains_tracer(i) for i in x):
        out = stack([asarray(i) for i in x])
        return out if dtype is None else astype(out, dtype)
    return _np.asarray(x, dtype=dtype)


array = asarray


def _contains_tracer(x):
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_contains_tracer(i) for i in x)
    return False


def _arr(x):
    """Operand for a primitive: tracers and Python scalars as they are, the rest as arrays."""
    if isinstance(x, (Tracer, bool, int, float, complex)):
        return x
    return asarray(x)


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)


def _ndim(x):
    return len(_shape(x))


def _dtype(x):
    if isinstance(x, (bool, int, float, complex)):
        return _np.result_type(type(x))
    return _np.dtype(x.dtype) if hasattr(x, "dtype") else _np.result_type(x)


def _to_float(x):
    """Integer and bool inputs of transcendental functions are computed in float64."""
    x = _arr(x)
    if isinstance(x, (bool, int)):
        return float(x)
    if isinstance(x, float):
        return x
    if _dtype(x).kind in "biu":
        return astype(x, _np.float64)
    return x


def astype(x, dtype):
    dtype = _np.dtype(dtype)
    x = _arr(x)
    if _dtype(x) == dtype and not isinstance(x, (int, float, bool)):
        return x
    return bind(_ew.convert_p, x if not isinstance(x, (int, float, bool)) else _np.asarray(x), dtype=dtype)


# -- elementwise ------------------------------------------------------------------

def _unary(prim, name, to_float=True):
    def f(x):
        return bind(prim, _to_float(x) if to_float else _arr(x))
    f.__name__ = name
    f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}``, like ``numpy.{name}``."
    return f


exp = _unary(_ew.exp_p, "exp")
log = _unary(_ew.log_p, "log")
log1p = _unary(_ew.log1p_p, "log1p")
expm1 = _unary(_ew.expm1_p, "expm1")
sin = _unary(_ew.sin_p, "sin")
cos = _unary(_ew.cos_p, "cos")
tan = _unary(_ew.tan_p, "tan")
tanh = _unary(_ew.tanh_p, "tanh")
sinh = _unary(_ew.sinh_p, "sinh")
cosh = _unary(_ew.cosh_p, "cosh")
arcsin = _unary(_ew.arcsin_p, "arcsin")
arccos = _unary(_ew.arccos_p, "arccos")
arctan = _unary(_ew.arctan_p, "arctan")
arcsinh = _unary(_ew.arcsinh_p, "arcsinh")
arccosh = _unary(_ew.arccosh_p, "arccosh")
arctanh = _unary(_ew.arctanh_p, "arctanh")
log2 = _unary(_ew.log2_p, "log2")
log10 = _unary(_ew.log10_p, "log10")
exp2 = _unary(_ew.exp2_p, "exp2")
cbrt = _unary(_ew.cbrt_p, "cbrt")
sqrt = _unary(_ew.sqrt_p, "sqrt")
floor = _unary(_ew.floor_p, "floor")
ceil = _unary(_ew.ceil_p, "ceil")
fabs = _unary(_ew.fabs_p, "fabs")
abs = _unary(_ew.abs_p, "abs", to_float=False)
absolute = abs
sign = _unary(_ew.sign_p, "sign", to_float=False)
negative = _unary(_ew.neg_p, "negative", to_float=False)


def round(x, decimals=0):
    """``numpy.round``; its derivative is 0."""
    if decimals:
        scale = 10.0 ** decimals
        return divide(bind(_ew.round_p, multiply(_to_float(x), scale)), scale)
    return bind(_ew.round_p, _to_float(x))


around = round


def positive(x):
    return _arr(x)


def deg2rad(x):
    """``numpy.deg2rad``: ``x * (pi / 180)`` (NumPy's own formula, so the values agree)."""
    return multiply(_to_float(x), _np.pi / 180.0)


def rad2deg(x):
    """``numpy.rad2deg``: ``x * (180 / pi)``."""
    return multiply(_to_float(x), 180.0 / _np.pi)


radians, degrees = deg2rad, rad2deg


def sinc(x):
    """``numpy.sinc``: ``sin(pi x) / (pi x)``, and 1 at 0. Near 0 (``|pi x| < 0.01``) it
    is the Taylor polynomial to ``(pi x)**8`` (exact to rounding there), so every
    derivative at 0 is the series' own: 0, then ``-pi**2 / 3``, ... (a constant 1 at 0
    would delete them); the quotient's branch divides by 1 there, so it has no 0/0."""
    x = _to_float(x)
    y = multiply(x, _np.pi)
    small = less(abs(y), 0.01)
    y2 = square(y)
    series = add(1.0, multiply(y2, add(-1.0 / 6, multiply(y2, add(1.0 / 120, multiply(
        y2, add(-1.0 / 5040, multiply(y2, 1.0 / 362880))))))))
    ys = where(small, 1.0, y)
    return where(small, series, divide(sin(ys), ys))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: NaN, +inf and -inf replaced by ``nan``, ``posinf`` and
    ``neginf`` (by default 0 and the largest finite numbers of the dtype). The
    derivative is 1 where ``x`` is finite and 0 at the replaced elements."""
    x = _arr(x)
    if not _is_traced(x):
        return _np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)
    dt = _dtype(x)
    if dt.kind not in "fc":
        return x
    big = float(_np.finfo(dt).max)
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    out = where(equal(x, _np.inf), posinf, x)
    out = where(equal(x, -_np.inf), neginf, out)
    return where(not_equal(x, x), nan, out)


def add(x, y):
    return bind(_ew.add_p, _arr(x), _arr(y))


def subtract(x, y):
    return bind(_ew.sub_p, _arr(x), _arr(y))


def multiply(x, y):
    return bind(_ew.mul_p, _arr(x), _arr(y))


def divide(x, y):
    return bind(_ew.div_p, _arr(x), _arr(y))


true_divide = divide


def remainder(x, y):
    """``numpy.remainder`` (``%``, the sign of the divisor): derivative 1 in ``x`` and
    ``-floor_divide(x, y)`` in ``y``, away from the jumps at integer ``x / y``."""
    return bind(_ew.rem_p, _arr(x), _arr(y))


mod = remainder


def floor_divide(x, y):
    """``numpy.floor_divide`` (``//``): piecewise constant, derivative 0."""
    return bind(_ew.floor_divide_p, _arr(x), _arr(y))


def _int_exponent(y):
    if isinstance(y, bool):
        return None
    if isinstance(y, (int, _np.integer)):
        return int(y)
    return None


def power(x, y):
    """``x ** y``. An integer exponent uses repeated multiplication (exact for negative x)."""
    n = _int_exponent(y)
    x = _arr(x)
    if n is not None and not _is_traced(y):
        if n < 0 and (isinstance(x, int) or _dtype(x).kind in "biu"):
            x = _to_float(x)
        return bind(_ew.integer_pow_p, x, n=n)
    return bind(_ew.pow_p, _to_float(x), _to_float(y))


def square(x):
    return bind(_ew.integer_pow_p, _arr(x), n=2)


def reciprocal(x):
    return divide(1.0, _to_float(x))


def maximum(x, y):
    """Elementwise maximum; at a tie the derivative goes to ``y`` (``maximum(x, 0)`` is relu)."""
    return bind(_ew.maximum_p, _arr(x), _arr(y))


def minimum(x, y):
    """Elementwise minimum; at a tie the derivative goes to ``y``."""
    return bind(_ew.minimum_p, _arr(x), _arr(y))


def arctan2(y, x):
    return bind(_ew.arctan2_p, _to_float(y), _to_float(x))


def hypot(x, y):
    """``sqrt(x**2 + y**2)`` without overflow; at ``x = y = 0`` the derivative is taken as 0."""
    return bind(_ew.hypot_p, _to_float(x), _to_float(y))


def logaddexp(x, y):
    """``log(exp(x) + exp(y))`` without overflow."""
    return bind(_ew.logaddexp_p, _to_float(x), _to_float(y))


def logaddexp2(x, y):
    """``log2(2**x + 2**y)`` without overflow; ties (equal infinities included) split the
    derivative 1/2 : 1/2, as for ``logaddexp``."""
    return bind(_ew.logaddexp2_p, _to_float(x), _to_float(y))


def fmax(x, y):
    """``numpy.fmax``: the maximum, with NumPy's NaN rule (the operand that is not NaN
    wins and takes the derivative); at a tie the derivative goes to ``y``."""
    return bind(_ew.fmax_p, _arr(x), _arr(y))


def fmin(x, y):
    """``numpy.fmin``: the minimum, with NumPy's NaN rule; at a tie the derivative goes to ``y``."""
    return bind(_ew.fmin_p, _arr(x), _arr(y))


def where(condition, x=None, y=None):
    """Select ``x`` where ``condition`` holds, else ``y``. With ``condition`` alone it is
    ``nonzero(condition)`` (integer indices computed from the condition's value).

    The branch not taken contributes exactly zero to derivatives, even where
    its own derivative is inf or NaN: ``where(x > 0, sqrt(x), 0)`` has
    gradient 0 at 0.
    """
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("pnp.where: either both or neither of x and y should be given")
    c = _arr(condition)
    if _dtype(c) != _np.bool_:
        c = not_equal(c, 0)
    return bind(_ew.select_p, c, _arr(x), _arr(y))


def clip(x, a_min=None, a_max=None):
    """Limit values to ``[a_min, a_max]``; the derivative passes at the bounds themselves."""
    x = _arr(x)
    if a_min is not None:
        x = where(less(x, a_min), a_min, x)
    if a_max is not None:
        x = where(greater(x, a_max), a_max, x)
    return x


def _cmp(op, name):
    def f(x, y):
        return bind(_ew.compare_p, _arr(x), _arr(y), op=op)
    f.__name__ = name
    f.__doc__ = f"Elementwise comparison ``numpy.{name}``; boolean result with zero derivative."
    return f


less = _cmp("lt", "less")
less_equal = _cmp("le", "less_equal")
greater = _cmp("gt", "greater")
greater_equal = _cmp("ge", "greater_equal")
equal = _cmp("eq", "equal")
not_equal = _cmp("ne", "not_equal")


def logical_and(x, y):
    return bind(_ew.logical_p, _arr(x), _arr(y), op="and")


def logical_or(x, y):
    return bind(_ew.logical_p, _arr(x), _arr(y), op="or")


def logical_xor(x, y):
    return bind(_ew.logical_p, _arr(x), _arr(y), op="xor")


def logical_not(x):
    return bind(_ew.logical_not_p, _arr(x))


def isfinite(x):
    return bind(_ew.isfinite_p, _arr(x))


def isnan(x):
    return not_equal(x, x)


def stop_gradient(x):
    """The value of ``x``, treated as a constant by every derivative."""
    return bind(_ew.stop_gradient_p, _arr(x))


# -- reductions ---------------------------------------------------------------------

def _axes(x, axis):
    nd = _ndim(x)
    if axis is None:
        return tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -nd <= a < nd:
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {nd} (shape {_shape(x)})")
        out.append(a % nd)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def _keep(x, out, axes, keepdims):
    if keepdims:
        return reshape(out, tuple(1 if i in axes else d for i, d in enumerate(_shape(x))))
    return out


def sum(x, axis=None, keepdims=False, dtype=None):
    """``numpy.sum`` with ``axis`` and ``keepdims``."""
    x = _arr(x)
    if not _is_traced(x) and not hasattr(x, "shape"):
        x = _np.asarray(x)
    if dtype is not None:
        x = astype(x, dtype)
    elif _dtype(x) == _np.bool_:
        x = astype(x, _np.int64)
    axes = _axes(x, axis)
    return _keep(x, _red.reduce_sum(x, axes), axes, keepdims)


def mean(x, axis=None, keepdims=False):
    x = _to_float(_np.asarray(x) if isinstance(x, (list, tuple)) and not _contains_tracer(x) else x)
    if isinstance(x, float):
        x = _np.asarray(x)
    axes = _axes(x, axis)
    n = int(_np.prod([_shape(x)[a] for a in axes], dtype=_np.int64))
    return divide(sum(x, axes, keepdims), float(n) if n else _np.nan)


def _check_nonempty(x, axes, name):
    if any(_shape(x)[a] == 0 for a in axes):
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity "
                         f"(shape {_shape(x)}, axis {axes})")


def max(x, axis=None, keepdims=False):
    """``numpy.max``. Tied maxima share the derivative equally."""
    x = asarray(x) if not _is_traced(x) else x
    axes = _axes(x, axis)
    _check_nonempty(x, axes, "maximum")
    return _keep(x, _red.reduce_max(x, axes), axes, keepdims)


def min(x, axis=None, keepdims=False):
    """``numpy.min``. Tied minima share the derivative equally."""
    return negative(max(negative(asarray(x) if not _is_traced(x) else x), axis, keepdims))


amax, amin = max, min


def ptp(a, axis=None, keepdims=False):
    """``numpy.ptp``: ``max - min`` along ``axis`` (differentiable as max and min are)."""
    return subtract(max(a, axis, keepdims), min(a, axis, keepdims))


def prod(x, axis=None, keepdims=False):
    """``numpy.prod``; the derivative is exact at zeros (no division)."""
    x = asarray(x) if not _is_traced(x) else x
    axes = _axes(x, axis)
    return _keep(x, _red.reduce_prod(x, axes), axes, keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    x = _to_float(asarray(x) if not _is_traced(x) else x)
    axes = _axes(x, axis)
    n = int(_np.prod([_shape(x)[a] for a in axes], dtype=_np.int64))
    d = subtract(x, mean(x, axes, keepdims=True))
    if _dtype(x).kind == "c":        # |d|^2, real, as NumPy's var of complex values
        sq = add(square(bind(_ew.real_p, d)), square(bind(_ew.imag_p, d)))
    else:
        sq = square(d)
    return divide(sum(sq, axes, keepdims), float(n - ddof) if n - ddof > 0 else _np.nan)


def std(x, axis=None, ddof=0, keepdims=False):
    return sqrt(var(x, axis, ddof, keepdims))


def argmax(x, axis=None):
    """Index of the maximum (integer result, derivative 0)."""
    x = asarray(x) if not _is_traced(x) else x
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return bind(_red.argmax_p, x, axis=_axes(x, axis)[0])


def argmin(x, axis=None):
    return argmax(negative(asarray(x) if not _is_traced(x) else x), axis)


def cumsum(a, axis=None):
    """``numpy.cumsum`` (of the flattened array when ``axis`` is None); linear, its
    transpose is the running sum from the other end."""
    a = asarray(a) if not _is_traced(a) else a
    if _dtype(a) == _np.bool_:
        a = astype(a, _np.int64)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    return _scan.cumsum(a, _axes(a, axis)[0])


def cumprod(a, axis=None):
    """``numpy.cumprod``: running products along ``axis``, one multiplication per
    element as NumPy computes them (exact at zeros: no division)."""
    a = asarray(a) if not _is_traced(a) else a
    if _dtype(a) == _np.bool_:
        a = astype(a, _np.int64)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axes(a, axis)[0]
    n = _shape(a)[axis]
    if n <= 1:
        return a if _is_traced(a) else _np.cumprod(a, axis=axis)
    pre = (slice(None),) * axis
    parts = [_getitem(a, pre + (slice(0, 1),))]
    for i in range(1, n):
        parts.append(multiply(parts[-1], _getitem(a, pre + (slice(i, i + 1),))))
    return concatenate(parts, axis=axis)


def argsort(a, axis=-1):
    """``numpy.argsort`` (stable: ties keep their order); integer result, derivative 0."""
    a = asarray(a) if not _is_traced(a) else a
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    return _scan.argsort(a, _axes(a, axis)[0])


def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``: a gather, so the derivative with respect to ``arr``
    scatters back (repeated indices accumulate)."""
    arr = asarray(arr) if not _is_traced(arr) else arr
    idx = indices if _is_traced(indices) else _np.asarray(indices)
    if _np.dtype(_dtype(idx)).kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got {_dtype(idx)}")
    if axis is None:
        arr, axis = reshape(arr, (-1,)), 0
    nd = _ndim(arr)
    if _ndim(idx) != nd:
        raise ValueError("take_along_axis: indices and arr must have the same number of dimensions")
    axis = _axes(arr, axis)[0]
    key = []
    for i in range(nd):
        if i == axis:
            key.append(idx)
        else:
            key.append(_np.arange(_shape(arr)[i]).reshape((-1,) + (1,) * (nd - 1 - i)))
    return _getitem(arr, tuple(key))


def sort(a, axis=-1):
    """``numpy.sort``: ``take_along_axis(a, argsort(a, axis), axis)``, so each element's
    derivative moves with its value (ties keep NumPy's stable order)."""
    a = asarray(a) if not _is_traced(a) else a
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    if not _is_traced(a):
        return _np.sort(a, axis=axis)
    if _ndim(a) == 0:
        raise ValueError("sort: axis out of bounds for a 0-d array")
    return take_along_axis(a, argsort(a, axis), axis)


# -- shapes ---------------------------------------------------------------------------

def reshape(x, shape, order="C"):
    if order != "C":
        raise NotImplementedError("pnp.reshape supports order='C' only")
    x = _arr(x)
    if not hasattr(x, "shape"):
        x = _np.asarray(x)
    shape = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(int(d) for d in shape)
    size = int(_np.prod(_shape(x), dtype=_np.int64))
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1) in reshape")
    if -1 in shape:
        known = int(_np.prod([d for d in shape if d != -1], dtype=_np.int64))
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of shape {_shape(x)} (size {size}) into shape {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if int(_np.prod(shape, dtype=_np.int64)) != size:
        raise ValueError(f"cannot reshape array of shape {_shape(x)} (size {size}) into shape {shape}")
    if shape == _shape(x):
        return x
    return _sh.reshape(x, shape)


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = _arr(x)
    nd = _ndim(x)
    perm = tuple(reversed(range(nd))) if axes is None else tuple(int(a) % nd for a in axes)
    if sorted(perm) != list(range(nd)):
        raise ValueError(f"axes {axes} don't match array of dimension {nd}")
    if perm == tuple(range(nd)):
        return x
    return _sh.transpose(x, perm)


def swapaxes(x, axis1, axis2):
    nd = _ndim(x)
    perm = list(range(nd))
    a, b = axis1 % nd, axis2 % nd
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def expand_dims(x, axis):
    x = _arr(x)
    shape = list(_shape(x))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = len(shape) + len(axes)
    for a in sorted(a % nd for a in axes):
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    x = _arr(x)
    shape = _shape(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = _axes(x, axis)
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one "
                                 f"(axis {a}, shape {shape})")
    return reshape(x, tuple(d for i, d in enumerate(shape) if i not in axes))


def broadcast_to(x, shape):
    x = _arr(x)
    if not hasattr(x, "shape"):
        x = _np.asarray(x)
    shape = tuple(shape)
    _np.broadcast_shapes(_shape(x), shape)   # raises ValueError naming both shapes
    if len(shape) < _ndim(x):
        raise ValueError(f"cannot broadcast shape {_shape(x)} to the smaller shape {shape}")
    if _np.broadcast_shapes(_shape(x), shape) != shape:
        raise ValueError(f"cannot broadcast shape {_shape(x)} to shape {shape}: a dimension of the "
                         "array is neither 1 nor the target's")
    if _shape(x) == shape:
        return x
    return _sh.broadcast_to(x, shape)


def _cast_for_join(arrays, dtype, casting, fname):
    # NumPy's ``dtype=``/``casting=`` keywords of the joining functions
    if dtype is None:
        return arrays
    dtype = _np.dtype(dtype)
    for a in arrays:
        if not _np.can_cast(_dtype(a), dtype, casting=casting):
            raise TypeError(f"pnp.{fname}: cannot cast array data from {_dtype(a)!r} to {dtype!r} "
                            f"according to the rule {casting!r}")
    return [astype(a, dtype) for a in arrays]


def _join_items(arrays):
    # the operands of a joining function: a traced array is a sequence of its rows
    if _is_traced(arrays) or isinstance(arrays, _np.ndarray):
        if _ndim(arrays) == 0:
            raise TypeError("arrays to stack must be passed as a sequence, not a 0-d array")
        return [arrays[i] for i in range(_shape(arrays)[0])]
    return list(arrays)


def _no_out(out, fname):
    if out is not None:
        raise NotImplementedError(f"pnp.{fname}: out= is not supported (arrays are immutable "
                                  "in partiald); use the returned value")


def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """``numpy.concatenate`` (``axis=None`` joins the flattened arrays; ``dtype=`` and
    ``casting=`` as in NumPy)."""
    _no_out(out, "concatenate")
    arrays = [_arr(a) if hasattr(_arr(a), "shape") else _np.asarray(a) for a in _join_items(arrays)]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    arrays = _cast_for_join(arrays, dtype, casting, "concatenate")
    nd = _ndim(arrays[0])
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = int(axis) % nd
    for a in arrays[1:]:
        sa, s0 = _shape(a), _shape(arrays[0])
        if len(sa) != nd or any(i != axis and sa[i] != s0[i] for i in range(nd)):
            raise ValueError(f"concatenate: shapes {s0} and {sa} differ outside axis {axis}")
    if not any(_is_traced(a) for a in arrays):
        return _np.concatenate(arrays, axis=axis)
    dt = _np.result_type(*[_dtype(a) for a in arrays])
    arrays = [astype(a, dt) if _dtype(a) != dt else a for a in arrays]
    return _sh.concatenate(arrays, axis)


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """``numpy.stack``: join along a new axis (``dtype=``/``casting=`` as in NumPy)."""
    _no_out(out, "stack")
    arrays = [_arr(a) if hasattr(_arr(a), "shape") else _np.asarray(a) for a in _join_items(arrays)]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    arrays = _cast_for_join(arrays, dtype, casting, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup, *, dtype=None, casting="same_kind"):
    """``numpy.hstack``: join along the first axis of 1-D operands, else the second
    (a single array is a sequence of its rows, as in NumPy)."""
    arrays = atleast_1d(*_join_items(tup))
    arrays = list(arrays) if isinstance(arrays, (list, tuple)) else [arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    return concatenate(arrays, axis=0 if _ndim(arrays[0]) == 1 else 1, dtype=dtype, casting=casting)


def vstack(tup, *, dtype=None, casting="same_kind"):
    """``numpy.vstack``: join along the first axis, 1-D operands becoming rows (a single
    array is a sequence of its rows, as in NumPy)."""
    arrays = atleast_2d(*_join_items(tup))
    arrays = list(arrays) if isinstance(arrays, (list, tuple)) else [arrays]
    return concatenate(arrays, axis=0, dtype=dtype, casting=casting)


row_stack = vstack


# -- products ------------------------------------------------------------------------

_LETTERS = string.ascii_letters


def _sublist_letters(sub):
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
        else:
            i = _operator.index(s)
            if not 0 <= i < len(_LETTERS):
                raise ValueError(f"einsum: subscript {i} in sublist form is not within [0, {len(_LETTERS)})")
            out.append(_LETTERS[i])
    return "".join(out)


def _einsum_from_sublists(args):
    # einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) -> subscripts, operands
    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None
    ops, subs = args[0::2], args[1::2]
    spec = ",".join(_sublist_letters(s) for s in subs)
    if out is not None:
        spec += "->" + _sublist_letters(out)
    return spec, ops


def einsum(subscripts, *operands, optimize=False):
    """``numpy.einsum`` (explicit or implicit output, ``...`` broadcasting, repeated
    indices for diagonals and traces), also in NumPy's sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. ``optimize`` is accepted and ignored."""
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_from_sublists((subscripts,) + operands)
    ops = [_arr(o) if hasattr(_arr(o), "shape") else _np.asarray(o) for o in operands]
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins, out = spec, None
    ins = ins.split(",")
    if len(ins) != len(ops):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(ops)} operands")
    used = set(c for s in ins for c in s if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    # expand '...' into explicit letters, broadcasting size-1 dimensions
    n_ell = 0
    for s, o in zip(ins, ops):
        if "..." in s:
            n_ell = _imax(n_ell, _ndim(o) - (len(s) - 3))
    ell = "".join(free[:n_ell])
    ell_shape = []
    new_ins = []
    for s, o in zip(ins, ops):
        if "..." in s:
            k = _ndim(o) - (len(s) - 3)
            new_ins.append(s.replace("...", ell[n_ell - k:] if k else ""))
            pos = s.index("...")
            ell_shape.append((1,) * (n_ell - k) + tuple(_shape(o)[pos:pos + k]))
        else:
            new_ins.append(s)
    bshape = _np.broadcast_shapes(*ell_shape) if ell_shape else ()
    fixed_ops = []
    for s, o in zip(ins, ops):
        if "..." in s:
            k = _ndim(o) - (len(s) - 3)
            pos = s.index("...")
            target = tuple(_shape(o)[:pos]) + bshape[n_ell - k:] + tuple(_shape(o)[pos + k:])
            if target != _shape(o):
                o = broadcast_to(o, target)
        fixed_ops.append(o)
    ins, ops = new_ins, fixed_ops
    for s, o in zip(ins, ops):
        if len(s) != _ndim(o):
            raise ValueError(f"einsum: subscripts '{s}' do not match operand of shape {_shape(o)}")
    if out is None:
        counts = {}
        for s in ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    sizes = {}
    for s, o in zip(ins, ops):
        for c, d in zip(s, _shape(o)):
            if sizes.setdefault(c, d) != d:
                raise ValueError(f"einsum: index '{c}' has sizes {sizes[c]} and {d} "
                                 f"(operand shapes {[_shape(q) for q in ops]})")
    # repeated index within one operand: take the diagonal first
    ins = list(ins)
    for i, (s, o) in enumerate(zip(ins, ops)):
        while len(set(s)) != len(s):
            c = next(ch for ch in s if s.count(ch) > 1)
            p, q = s.index(c), s.index(c, s.index(c) + 1)
            perm = [p, q] + [j for j in range(len(s)) if j not in (p, q)]
            o = transpose(o, perm)
            n = _shape(o)[0]
            ar = _np.arange(n)
            o = _sh.gather(o, (("array", 0), ("array", 0)) + (("slice", None, None, None),) * (len(s) - 2), ar)
            s = c + "".join(s[j] for j in perm[2:])
        ins[i], ops[i] = s, o
    full = ",".join(ins) + "->" + out
    if not any(_is_traced(o) for o in ops):
        return _np.einsum(full, *ops)
    dt = _np.result_type(*[_dtype(o) for o in ops])
    ops = [astype(o, dt) if _dtype(o) != dt else o for o in ops]
    return _sh.einsum(full, *ops)


def _imax(a, b):
    return a if a >= b else b


def matmul(a, b):
    """``a @ b`` with NumPy's rules for 1-D operands and batch broadcasting."""
    a, b = _arr(a), _arr(b)
    sa, sb = _shape(a), _shape(b)
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (use * for scalars)")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        dim_b = 0 if len(sb) == 1 else len(sb) - 2
        raise ValueError(f"matmul: shapes {sa} and {sb} are not aligned: "
                         f"{ka} (last dim of the first) != {kb} (dim {dim_b} of the second)")
    if len(sa) == 1 and len(sb) == 1:
        return einsum("i,i->", a, b)
    if len(sa) == 1:
        return einsum("i,...ij->...j", a, b)
    if len(sb) == 1:
        return einsum("...ij,j->...i", a, b)
    return einsum("...ij,...jk->...ik", a, b)


def dot(a, b):
    """``numpy.dot``."""
    a, b = _arr(a), _arr(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    if _ndim(b) <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))


def vdot(a, b):
    return dot(ravel(a), ravel(b))


def inner(a, b):
    a, b = _arr(a), _arr(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def tensordot(a, b, axes=2):
    a, b = _arr(a), _arr(b)
    na, nb = _ndim(a), _ndim(b)
    if isinstance(axes, (int, _np.integer)):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [x % na for x in ax_a]
    ax_b = [x % nb for x in ax_b]
    if len(ax_a) != len(ax_b) or any(_shape(a)[i] != _shape(b)[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape mismatch for sum: {_shape(a)} axes {ax_a} vs {_shape(b)} axes {ax_b}")
    la = list(_LETTERS[:na])
    lb = list(_LETTERS[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in ax_a] + [c for j, c in enumerate(lb) if j not in ax_b]
    return einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


def outer(a, b):
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def take(a, indices, axis=None):
    """``numpy.take``: elements of ``a`` at integer ``indices`` along ``axis`` (of the
    flattened array when ``axis`` is None). Either may be traced, so a NumPy data
    array can be indexed by a traced row index (``take(X, i, axis=0)``) under vmap or jit;
    the gradient with respect to ``a`` scatters back, repeated indices accumulating."""
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    nd = len(_shape(a))
    if not -nd <= axis < nd:
        raise ValueError(f"take: axis {axis} is out of bounds for an array of dimension {nd}")
    idx = indices if _is_traced(indices) else _np.asarray(indices)
    if _np.dtype(_dtype(idx)).kind not in "iu":
        raise TypeError(f"take: indices must be integers, got {_dtype(idx)}")
    return _getitem(a, (slice(None),) * (axis % nd) + (idx,))


# -- creation -------------------------------------------------------------------------
#
# Shapes, lengths and counts must be known while tracing: a traced value there is
# converted only where the trace has it and it is an integer (the size of a mask, under
# grad), else it raises TracerConversionError saying why. Values may be traced: the
# fill value of full/full_like and the endpoints of linspace/logspace/geomspace are
# differentiable. With nothing traced, each function is NumPy's own call.

def _np_kw(**kw):
    """NumPy keyword arguments given (not None): ``device`` is NumPy 2 only."""
    return {k: v for k, v in kw.items() if v is not None}


def _static_int(x, fname, what):
    """``x`` (a dimension, a length or a count) as NumPy needs it: a traced integer with
    a concrete value becomes that int, any other traced value raises; other values are
    returned as they are, for NumPy to check."""
    if not isinstance(x, Tracer):
        return x
    if _np.dtype(x.dtype).kind not in "iu":
        raise _TracerConversionError(
            f"pnp.{fname}: the {what} is a traced {x.aval} value, but a {what} must be an integer "
            "known while tracing (array shapes cannot depend on traced values). To fill an array "
            "with a traced value use a fixed shape, pnp.full(shape, t); for evenly spaced values "
            "between traced endpoints use pnp.linspace(start, stop, n).")
    try:
        v = x.concrete_value(f"pnp.{fname}")
    except _TracerConversionError:
        raise _TracerConversionError(
            f"pnp.{fname}: the {what} depends on a traced value ({x.aval}) that has no concrete "
            "value here: inside jit and vmap only shapes and dtypes are known, and array shapes "
            "must be known while tracing. Pass a Python int (for example x.shape[0]), or make "
            "the argument static (jit's static_argnums).") from None
    v = _np.asarray(v)
    return int(v) if v.ndim == 0 else tuple(int(d) for d in v.ravel())


def _static_shape(shape, fname):
    """A shape argument with its traced entries made concrete (``_static_int``)."""
    if isinstance(shape, Tracer):
        return _static_int(shape, fname, "shape")
    if isinstance(shape, (list, tuple)) and any(isinstance(d, Tracer) for d in shape):
        return tuple(_static_int(d, fname, "shape") for d in shape)
    return shape


def _check_device(device, fname):
    if device is not None and device != "cpu":
        raise ValueError(f"pnp.{fname}: device={device!r} is not supported for traced values "
                         "(NumPy arrays live on the 'cpu')")


def zeros(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.zeros``; the shape must be known while tracing."""
    return _np.zeros(_static_shape(shape, "zeros"), dtype, order, **_np_kw(device=device, like=like))


def ones(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.ones``; the shape must be known while tracing."""
    return _np.ones(_static_shape(shape, "ones"), dtype, order, **_np_kw(device=device, like=like))


def empty(shape, dtype=None, order="C", *, device=None, like=None):
    """``numpy.empty``, filled with zeros (a traced program never reads garbage)."""
    return _np.zeros(_static_shape(shape, "empty"), dtype, order, **_np_kw(device=device, like=like))


def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """``numpy.full``. A traced ``fill_value`` (a scalar, or an array broadcasting to
    ``shape``) is differentiable: each element's derivative is the fill value's."""
    shape = _static_shape(shape, "full")
    if not _contains_tracer(fill_value):
        return _np.full(shape, fill_value, dtype, order, **_np_kw(device=device, like=like))
    _check_device(device, "full")
    x = asarray(fill_value)
    if dtype is not None:
        x = astype(x, dtype)            # (an unsafe cast, as NumPy's: float -> int truncates)
    shape = (_operator.index(shape),) if not isinstance(shape, (list, tuple)) else \
        tuple(_operator.index(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimensions are not allowed (shape {shape})")
    return broadcast_to(x, shape)


def _like(fname, x, dtype, shape):
    """The shape and dtype of a ``*_like`` result."""
    x = _arr(x)
    shape = _shape(x) if shape is None else _static_shape(shape, fname)
    return shape, _dtype(x) if dtype is None else dtype


def zeros_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.zeros_like``; of a traced array, a constant of its shape and dtype."""
    if not _contains_tracer(a):
        return _np.zeros_like(a, dtype, order, subok, _static_shape(shape, "zeros_like"),
                              **_np_kw(device=device))
    return _np.zeros(*_like("zeros_like", a, dtype, shape))


def ones_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.ones_like``; of a traced array, a constant of its shape and dtype."""
    if not _contains_tracer(a):
        return _np.ones_like(a, dtype, order, subok, _static_shape(shape, "ones_like"),
                             **_np_kw(device=device))
    return _np.ones(*_like("ones_like", a, dtype, shape))


def empty_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.empty_like``, filled with zeros (as ``pnp.empty``)."""
    return zeros_like(a, dtype, order, subok, shape, device=device)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.full_like``: a traced ``fill_value`` is differentiable (as in ``pnp.full``),
    converted to the dtype of ``a`` unless ``dtype`` is given, as NumPy does."""
    if not _contains_tracer(a) and not _contains_tracer(fill_value):
        return _np.full_like(a, fill_value, dtype, order, subok, _static_shape(shape, "full_like"),
                             **_np_kw(device=device))
    shape, dtype = _like("full_like", a, dtype, shape)
    return full(shape, fill_value, dtype)


def eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    """``numpy.eye``; ``N``, ``M`` and ``k`` must be known while tracing."""
    N, M, k = (_static_int(v, "eye", w) for v, w in ((N, "number of rows N"), (M, "number of columns M"),
                                                      (k, "diagonal offset k")))
    return _np.eye(N, M, k, dtype, order, **_np_kw(device=device, like=like))


def identity(n, dtype=None, *, like=None):
    """``numpy.identity``; ``n`` must be known while tracing."""
    return _np.identity(_static_int(n, "identity", "size n"), dtype, **_np_kw(like=like))


def tri(N, M=None, k=0, dtype=float, *, like=None):
    """``numpy.tri``; ``N``, ``M`` and ``k`` must be known while tracing."""
    N, M, k = (_static_int(v, "tri", w) for v, w in ((N, "number of rows N"), (M, "number of columns M"),
                                                      (k, "diagonal offset k")))
    return _np.tri(N, M, k, dtype, **_np_kw(like=like))


def arange(start, stop=None, step=None, dtype=None, *, device=None, like=None):
    """``numpy.arange``. Its length depends on the values of its arguments, so they
    must be known while tracing: traced integers with a concrete value are used as
    such, other traced values raise TracerConversionError. For values that depend on a
    traced ``t``, build them from a fixed length: ``t * pnp.arange(n)``, or
    ``pnp.linspace(start, stop, n)``."""
    args = []
    names = ("start", "stop", "step") if stop is not None else ("stop", "", "step")
    for name, v in zip(names, (start, stop, step)):
        if isinstance(v, Tracer):
            integer = _np.dtype(v.dtype).kind in "iu" and v.shape == ()
            known = _value_or_none(v) if integer else None
            if known is None:
                why = "Inside jit and vmap only shapes and dtypes are known: pass a Python int, or " \
                    "make the argument static (jit's static_argnums)." if integer else \
                    "Pass Python numbers, or build the values from a fixed length, which is " \
                    "differentiable in the traced values: start + step * pnp.arange(n), or " \
                    "pnp.linspace(start, stop, n)."
                raise _TracerConversionError(
                    f"pnp.arange: its length depends on a traced value ({name}: {v.aval}), and array "
                    f"shapes must be known while tracing. {why}")
            v = int(known)
        args.append(v)
    return _np.arange(*args, dtype=dtype, **_np_kw(device=device, like=like))


def _inexact_dtype(*xs):
    """The dtype NumPy's linspace computes in: that of the arguments (Python numbers
    weakly typed), at least floating point."""
    return _np.result_type(*[x if isinstance(x, (bool, int, float, complex)) else _dtype(x) for x in xs], 0.0)


def _move_first(y, axis):
    nd = _ndim(y)
    axis = _operator.index(axis)
    if not -nd <= axis < nd:
        raise _np.exceptions.AxisError(axis, nd)
    return moveaxis(y, 0, axis) if axis % nd else y


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """``numpy.linspace``, differentiable in ``start`` and ``stop`` (scalars or arrays):
    ``y[k] = start + k * (stop - start) / div``, with ``div = num - 1`` (``endpoint``) or
    ``num``, and the last value ``stop`` itself when ``endpoint``. ``num`` must be known
    while tracing. With nothing traced it is NumPy's call."""
    num = _static_int(num, "linspace", "number of samples num")
    if not (_contains_tracer(start) or _contains_tracer(stop)):
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis, **_np_kw(device=device))
    _check_device(device, "linspace")
    num = _operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = num - 1 if endpoint else num
    start, stop = _arr(start), _arr(stop)
    dt = _inexact_dtype(start, stop)            # (before Python numbers become arrays)
    start, stop = astype(start, dt), astype(stop, dt)
    delta = subtract(stop, start)
    k = _np.arange(0, num, dtype=dt).reshape((-1,) + (1,) * _ndim(delta))
    # (as NumPy: k * step, then + start)
    step = divide(delta, div) if div > 0 else _np.nan
    y = add(multiply(k, step if div > 0 else delta), start)
    if endpoint and num > 1:
        # the last sample is stop itself (exactly, and with stop's derivative)
        last = broadcast_to(stop, _shape(delta))
        y = concatenate([y[:-1], reshape(last, (1,) + _shape(delta))], axis=0)
    y = _move_first(y, axis)
    if dtype is not None:
        if _np.issubdtype(dtype, _np.integer):
            y = floor(y)
        y = astype(y, dtype)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: ``base ** linspace(start, stop, num)``, differentiable in
    ``start``, ``stop`` and ``base``."""
    num = _static_int(num, "logspace", "number of samples num")
    if not (_contains_tracer(start) or _contains_tracer(stop) or _contains_tracer(base)):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    if not isinstance(base, (float, int)) and _ndim(_arr(base)):
        # an array base broadcasts with the endpoints, then takes the sample axis
        start, stop, base = (_arr(a) for a in (start, stop, base))
        nd = len(_np.broadcast_shapes(*[_shape(a) for a in (start, stop, base)]))
        start, stop, base = (reshape(a, (1,) * (nd - _ndim(a)) + _shape(a)) for a in (start, stop, base))
        base = expand_dims(base, axis)
    y = power(base, linspace(start, stop, num, endpoint, axis=axis))
    return y if dtype is None else astype(y, dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` for real values, differentiable in ``start`` and ``stop``
    (which must not be zero, and share a sign for real results)."""
    num = _static_int(num, "geomspace", "number of samples num")
    if not (_contains_tracer(start) or _contains_tracer(stop)):
        return _np.geomspace(start, stop, num, endpoint, dtype, axis)
    num = _operator.index(num)
    start, stop = asarray(start), asarray(stop)
    for v in (start, stop):
        known = _value_or_none(v) if _is_traced(v) else v
        if known is not None and _np.any(_np.asarray(known) == 0):
            raise ValueError("Geometric sequence cannot include zero")
    dt = _np.result_type(_dtype(start), _dtype(stop), float(num), _np.zeros((), dtype).dtype)
    if dt.kind not in "f":
        raise TypeError(f"pnp.geomspace supports real floating-point values on traced arguments, got {dt}")
    start, stop = astype(start, dt), astype(stop, dt)
    # as NumPy: rotate start to positive, space the logarithms, rotate back
    sign_ = sign(start)
    start, stop = divide(start, sign_), divide(stop, sign_)
    y = logspace(log10(start), log10(stop), num, endpoint, base=10.0, dtype=dt)
    if num > 0:
        # the endpoints are start and stop themselves (10 ** log10(x) may differ from x)
        shape = _shape(y)[1:]
        ends = [reshape(broadcast_to(start, shape), (1,) + shape)]
        if num > 1 and endpoint:
            ends = [ends[0], y[1:-1], reshape(broadcast_to(stop, shape), (1,) + shape)]
        else:
            ends = [ends[0], y[1:]]
        y = concatenate(ends, axis=0)
    y = multiply(y, sign_)
    y = _move_first(y, axis)
    return astype(y, dt if dtype is None else dtype)


def _value_or_none(t):
    """The concrete value of a tracer, or None inside jit and vmap."""
    try:
        return t.concrete_value("pnp")
    except _TracerConversionError:
        return None


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid``; traced coordinate vectors are differentiable."""
    if not any(_contains_tracer(x) for x in xi):
        return _np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    n = len(xi)
    shapes = [[1] * n for _ in xi]
    for i in range(n):
        shapes[i][i] = -1
    if indexing == "xy" and n > 1:
        shapes[0][:2], shapes[1][:2] = [1, -1], [-1, 1]
    out = [reshape(asarray(x), s) for x, s in zip(xi, shapes)]
    if not sparse:
        full_shape = _np.broadcast_shapes(*[_shape(o) for o in out])
        out = [broadcast_to(o, full_shape) for o in out]
    return tuple(out)


def shape(x):
    return _shape(x)


def ndim(x):
    return _ndim(x)


def size(x):
    return int(_np.prod(_shape(x), dtype=_np.int64))


# -- shapes and rearrangements (compositions of the primitives above) -----------------
#
# Each function is built from reshape, transpose, broadcast_to, concatenate, gather
# (indexing and take), select (where) and einsum, so it is differentiable (these are
# linear maps: the gradient is the transpose) and works under jit and vmap. Counts,
# offsets, shifts and split points decide shapes, so they must be known while tracing.

def _norm_axis(axis, nd, fname):
    """``axis`` in ``range(nd)``, or NumPy's AxisError naming the function."""
    try:
        a = _operator.index(axis)
    except TypeError:
        raise TypeError(f"pnp.{fname}: axis must be an integer, got {axis!r}") from None
    if not -nd <= a < nd:
        raise _np.exceptions.AxisError(a, nd, f"pnp.{fname}")
    return a % nd


def _norm_axes(axis, nd, fname):
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = tuple(_norm_axis(a, nd, fname) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"pnp.{fname}: repeated axis in {axis!r}")
    return out


def _concrete_ints(x, fname, what):
    """A concrete integer (array) argument: traced values need a known value."""
    if isinstance(x, Tracer) or (isinstance(x, (list, tuple)) and _contains_tracer(x)):
        if isinstance(x, (list, tuple)):
            x = [_concrete_ints(i, fname, what) for i in x]
        else:
            v = _value_or_none(x)
            if v is None:
                raise _TracerConversionError(
                    f"pnp.{fname}: the {what} is a traced value ({x.aval}) without a concrete value "
                    "here; it decides the shape of the result, so it must be known while tracing "
                    "(pass NumPy values or Python ints, or make the argument static).")
            x = v
    x = _np.asarray(x)
    if x.dtype.kind not in "biu" and not (x.size == 0 and x.dtype.kind == "f"):
        raise TypeError(f"pnp.{fname}: the {what} must be integers, got {x.dtype} ({x.tolist()!r})")
    return x.astype(_np.int64)


def _along(x, axis, index):
    """``x[..., index, ...]`` with ``index`` at ``axis``."""
    return _getitem(x, (slice(None),) * axis + (index,))


def _zero_of(x):
    return _np.zeros((), _dtype(x))


def tril(m, k=0):
    """``numpy.tril``: zeros above the ``k``-th diagonal of the last two axes."""
    m = asarray(m)
    if _ndim(m) == 0:
        raise ValueError("pnp.tril: the input must be at least 1-d (a matrix or a stack of matrices)")
    k = _operator.index(_static_int(k, "tril", "diagonal offset k"))
    mask = _np.tri(*_shape(m)[-2:], k=k, dtype=bool)
    return where(mask, m, _zero_of(m))


def triu(m, k=0):
    """``numpy.triu``: zeros below the ``k``-th diagonal of the last two axes."""
    m = asarray(m)
    if _ndim(m) == 0:
        raise ValueError("pnp.triu: the input must be at least 1-d (a matrix or a stack of matrices)")
    k = _operator.index(_static_int(k, "triu", "diagonal offset k"))
    mask = _np.tri(*_shape(m)[-2:], k=k - 1, dtype=bool)
    return where(mask, _zero_of(m), m)


def repeat(a, repeats, axis=None):
    """``numpy.repeat``; ``repeats`` (an int, or one per element) must be known while tracing."""
    a = asarray(a)
    reps = _concrete_ints(repeats, "repeat", "repeats")
    if _np.any(reps < 0):
        raise ValueError(f"pnp.repeat: repeats may not contain negative values, got {reps.tolist()}")
    if axis is None:
        a, axis = ravel(a), 0
    else:
        axis = _norm_axis(axis, _ndim(a), "repeat")
    n = _shape(a)[axis]
    if reps.ndim > 1 or (reps.ndim == 1 and reps.size not in (1, n)):
        raise ValueError(f"pnp.repeat: repeats of shape {reps.shape} do not match axis {axis} "
                         f"of length {n} (shape {_shape(a)})")
    return _along(a, axis, _np.repeat(_np.arange(n), reps))


def roll(a, shift, axis=None):
    """``numpy.roll``: elements shifted along ``axis`` (of the flattened array when None)."""
    a = asarray(a)
    shift = _concrete_ints(shift, "roll", "shift")
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), _shape(a))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    axes = [_norm_axis(ax, _ndim(a), "roll") for ax in axes]
    try:
        pairs = _np.broadcast(shift, _np.asarray(axes, dtype=_np.int64))
    except ValueError:
        raise ValueError(f"pnp.roll: 'shift' {shift.tolist()} and 'axis' {axis!r} should be scalars "
                         "or 1D sequences of the same length") from None
    total = {}
    for s, ax in pairs:
        total[int(ax)] = total.get(int(ax), 0) + int(s)
    for ax, s in total.items():
        n = _shape(a)[ax]
        if n and s % n:
            a = _along(a, ax, (_np.arange(n) - s) % n)
    return a


def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal``: the ``offset`` diagonal of the ``axis1``/``axis2`` planes,
    as a last axis."""
    a = asarray(a)
    nd = _ndim(a)
    if nd < 2:
        raise ValueError(f"pnp.diagonal: the input must have at least two dimensions, got shape {_shape(a)}")
    offset = _operator.index(_static_int(offset, "diagonal", "offset"))
    ax1, ax2 = _norm_axis(axis1, nd, "diagonal"), _norm_axis(axis2, nd, "diagonal")
    if ax1 == ax2:
        raise ValueError(f"pnp.diagonal: axis1 and axis2 cannot be the same (both are axis {ax1})")
    x = transpose(a, [i for i in range(nd) if i not in (ax1, ax2)] + [ax1, ax2])
    n1, n2 = _shape(x)[-2:]
    length = _builtins.max(0, _builtins.min(n1, n2 - offset) if offset >= 0 else _builtins.min(n1 + offset, n2))
    rows = _np.arange(length) + _builtins.max(0, -offset)
    cols = _np.arange(length) + _builtins.max(0, offset)
    return _getitem(x, (Ellipsis, rows, cols))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``numpy.trace``: the sum of the ``offset`` diagonal (over ``axis1``, ``axis2``)."""
    _no_out(out, "trace")
    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """``numpy.diag``: a 1-D ``v`` becomes a matrix with ``v`` on its ``k``-th diagonal;
    of a 2-D ``v``, the ``k``-th diagonal."""
    v = asarray(v)
    k = _operator.index(_static_int(k, "diag", "diagonal offset k"))
    if _ndim(v) == 2:
        return diagonal(v, k)
    if _ndim(v) != 1:
        raise ValueError(f"pnp.diag: the input must be 1-d or 2-d, got shape {_shape(v)}")
    n = _shape(v)[0]
    size = n + abs(k)
    # position 0 of the padded vector holds the zero, position i + 1 holds v[i]
    index = _np.zeros((size, size), _np.int64)
    i = _np.arange(n)
    index[i + _builtins.max(0, -k), i + _builtins.max(0, k)] = i + 1
    padded = concatenate([_np.zeros(1, _dtype(v)), v])
    return _along(padded, 0, index)


def flip(m, axis=None):
    """``numpy.flip``: the order of elements reversed along ``axis`` (all axes when None)."""
    m = asarray(m)
    nd = _ndim(m)
    axes = tuple(range(nd)) if axis is None else _norm_axes(axis, nd, "flip")
    if not axes:
        return m
    return _getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(nd)))


def flipud(m):
    """``numpy.flipud``: ``flip(m, 0)``."""
    m = asarray(m)
    if _ndim(m) < 1:
        raise ValueError("pnp.flipud: the input must be >= 1-d")
    return flip(m, 0)


def fliplr(m):
    """``numpy.fliplr``: ``flip(m, 1)``."""
    m = asarray(m)
    if _ndim(m) < 2:
        raise ValueError(f"pnp.fliplr: the input must be >= 2-d, got shape {_shape(m)}")
    return flip(m, 1)


def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``: rotated by 90 degrees ``k`` times, from the first of ``axes``
    towards the second."""
    m = asarray(m)
    nd = _ndim(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"pnp.rot90: len(axes) must be 2, got axes={axes}")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError(f"pnp.rot90: the axes must be different, got axes={axes}")
    if not (-nd <= axes[0] < nd and -nd <= axes[1] < nd):
        raise ValueError(f"pnp.rot90: axes={axes} out of range for an array of ndim={nd}")
    a0, a1 = axes[0] % nd, axes[1] % nd
    k = _operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), perm)
    return flip(transpose(m, perm), a1)


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``: a list of sub-arrays along ``axis``; a number of sections
    need not divide the axis."""
    ary = asarray(ary)
    nd = _ndim(ary)
    if nd == 0:
        raise ValueError("pnp.array_split: cannot split a 0-d array")
    axis = _norm_axis(axis, nd, "array_split")
    n = _shape(ary)[axis]
    spec = _concrete_ints(indices_or_sections, "array_split", "indices_or_sections")
    if spec.ndim == 0:
        sections = int(spec)
        if sections <= 0:
            raise ValueError(f"pnp.array_split: the number of sections must be larger than 0, got {sections}")
        each, extra = divmod(n, sections)
        sizes = [0] + extra * [each + 1] + (sections - extra) * [each]
        points = _np.cumsum(sizes).tolist()
    else:
        points = [0] + spec.ravel().tolist() + [n]
    out = []
    for start, stop in zip(points[:-1], points[1:]):
        out.append(_getitem(ary, (slice(None),) * axis + (slice(start, stop),)))
    return out


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``: as ``array_split``, but a number of sections must divide the axis."""
    ary = asarray(ary)
    spec = _concrete_ints(indices_or_sections, "split", "indices_or_sections")
    if spec.ndim == 0 and _ndim(ary):
        n = _shape(ary)[_norm_axis(axis, _ndim(ary), "split")]
        if int(spec) > 0 and n % int(spec):
            raise ValueError(f"pnp.split: array split does not result in an equal division "
                             f"({n} elements along axis {axis} into {int(spec)} sections)")
    return array_split(ary, spec, axis)


def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``: ``split`` along axis 0 of an array of 2 or more dimensions."""
    ary = asarray(ary)
    if _ndim(ary) < 2:
        raise ValueError("pnp.vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``: ``split`` along axis 1 (axis 0 of a 1-d array)."""
    ary = asarray(ary)
    if _ndim(ary) == 0:
        raise ValueError("pnp.hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim(ary) > 1 else 0)


def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``: ``split`` along axis 2 of an array of 3 or more dimensions."""
    ary = asarray(ary)
    if _ndim(ary) < 3:
        raise ValueError("pnp.dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


def append(arr, values, axis=None):
    """``numpy.append``: ``values`` after ``arr`` (both flattened when ``axis`` is None)."""
    arr, values = asarray(arr), asarray(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    nd = _ndim(arr)
    if _ndim(values) != nd:
        raise ValueError(f"pnp.append: arr and values must have the same number of dimensions, got "
                         f"shapes {_shape(arr)} and {_shape(values)}")
    return concatenate([arr, values], axis=_norm_axis(axis, nd, "append"))


def column_stack(tup):
    """``numpy.column_stack``: 1-d arrays become columns, then stacked along axis 1."""
    arrays = []
    for a in tup:
        a = asarray(a)
        arrays.append(reshape(a, (-1, 1)) if _ndim(a) < 2 else a)
    return concatenate(arrays, axis=1)


def _atleast(arys, shape_of):
    out = []
    for a in arys:
        a = asarray(a)
        out.append(reshape(a, shape_of(_shape(a))))
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys):
    """``numpy.atleast_1d``."""
    return _atleast(arys, lambda s: s if len(s) >= 1 else (1,))


def atleast_2d(*arys):
    """``numpy.atleast_2d``: a 1-d array becomes a row."""
    return _atleast(arys, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arys):
    """``numpy.atleast_3d``: shape ``(N,)`` becomes ``(1, N, 1)``, ``(M, N)`` becomes ``(M, N, 1)``."""
    return _atleast(arys, lambda s: s if len(s) >= 3 else {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)])


def moveaxis(x, source, destination):
    """``numpy.moveaxis``: axes moved to new positions, the others keep their order."""
    x = _arr(x)
    nd = _ndim(x)
    src = _norm_axes(source, nd, "moveaxis")
    dst = _norm_axes(destination, nd, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("pnp.moveaxis: `source` and `destination` arguments must have the same number "
                         f"of elements, got {source!r} and {destination!r}")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis``: ``axis`` moved to lie before ``start``."""
    a = asarray(a)
    n = _ndim(a)
    axis = _norm_axis(axis, n, "rollaxis")
    start = _operator.index(start)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise _np.exceptions.AxisError(f"pnp.rollaxis: 'start' arg requires {-n} <= start < {n + 1}")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    axes = [i for i in range(n) if i != axis]
    axes.insert(start, axis)
    return transpose(a, axes)


def tile(A, reps):
    """``numpy.tile``: ``A`` repeated ``reps`` times along each axis."""
    A = asarray(A)
    reps = _concrete_ints(reps, "tile", "reps")
    reps = tuple(reps.ravel().tolist()) if reps.ndim else (int(reps),)
    if any(r < 0 for r in reps):
        raise ValueError(f"pnp.tile: reps may not contain negative values, got {reps}")
    d = _builtins.max(len(reps), _ndim(A))
    shape = (1,) * (d - _ndim(A)) + _shape(A)
    reps = (1,) * (d - len(reps)) + reps
    spread = reshape(A, tuple(v for s in shape for v in (1, s)))
    spread = broadcast_to(spread, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(spread, tuple(r * s for r, s in zip(reps, shape)))


def kron(a, b):
    """``numpy.kron``: the Kronecker product (blocks ``a[i] * b``)."""
    a, b = asarray(a), asarray(b)
    d = _builtins.max(_ndim(a), _ndim(b))
    sa = (1,) * (d - _ndim(a)) + _shape(a)
    sb = (1,) * (d - _ndim(b)) + _shape(b)
    prod_ = multiply(reshape(a, tuple(v for s in sa for v in (s, 1))),
                     reshape(b, tuple(v for s in sb for v in (1, s))))
    return reshape(prod_, tuple(x * y for x, y in zip(sa, sb)))


def _diff_end(v, a, axis):
    v = asarray(v)
    if _ndim(v) == 0:
        v = broadcast_to(v, _shape(a)[:axis] + (1,) + _shape(a)[axis + 1:])
    return v


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """``numpy.diff``: the ``n``-th differences along ``axis`` (``prepend``/``append``
    values are joined to ``a`` first)."""
    a = asarray(a)
    n = _operator.index(n)
    if n < 0:
        raise ValueError(f"pnp.diff: order must be non-negative but got {n}")
    nd = _ndim(a)
    if nd == 0:
        raise ValueError("pnp.diff requires input that is at least one dimensional")
    axis = _norm_axis(axis, nd, "diff")
    parts = [a]
    if prepend is not None:
        parts.insert(0, _diff_end(prepend, a, axis))
    if append is not None:
        parts.append(_diff_end(append, a, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    for _ in range(n):
        hi, lo = _along(a, axis, slice(1, None)), _along(a, axis, slice(None, -1))
        a = not_equal(hi, lo) if _dtype(a) == _np.bool_ else subtract(hi, lo)
    return a


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (along ``axisa``/``axisb``, broadcasting the rest); a
    2-vector has z = 0, and two 2-vectors give the z component alone (as NumPy)."""
    a, b = asarray(a), asarray(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, _norm_axis(axisa, _ndim(a), "cross"), -1) if _ndim(a) else a
    b = moveaxis(b, _norm_axis(axisb, _ndim(b), "cross"), -1) if _ndim(b) else b
    if not (_ndim(a) and _ndim(b) and _shape(a)[-1] in (2, 3) and _shape(b)[-1] in (2, 3)):
        raise ValueError(f"pnp.cross: incompatible dimensions for cross product (the vector axes must "
                         f"have length 2 or 3; got shapes {_shape(a)} and {_shape(b)})")
    if _shape(a)[-1] == 2 and _shape(b)[-1] == 2:
        # 2-vectors: the z component of the cross product, a scalar per pair (as NumPy)
        a0, a1 = (_getitem(a, (Ellipsis, i)) for i in range(2))
        b0, b1 = (_getitem(b, (Ellipsis, i)) for i in range(2))
        return subtract(multiply(a0, b1), multiply(a1, b0))
    a0, a1 = (_getitem(a, (Ellipsis, i)) for i in range(2))
    b0, b1 = (_getitem(b, (Ellipsis, i)) for i in range(2))
    a2 = _getitem(a, (Ellipsis, 2)) if _shape(a)[-1] == 3 else zeros_like(a0)   # a 2-vector has z = 0
    b2 = _getitem(b, (Ellipsis, 2)) if _shape(b)[-1] == 3 else zeros_like(b0)
    c = stack([subtract(multiply(a1, b2), multiply(a2, b1)),
               subtract(multiply(a2, b0), multiply(a0, b2)),
               subtract(multiply(a0, b1), multiply(a1, b0))], axis=-1)
    return moveaxis(c, -1, _norm_axis(axisc, _ndim(c), "cross"))


_PAD_MODES = ("edge", "linear_ramp", "maximum", "mean", "median", "minimum", "reflect",
              "symmetric", "wrap", "empty")


_PAD_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(array, pad_width, mode="constant", constant_values=0, *, reflect_type="even"):
    """``numpy.pad`` in the modes ``"constant"`` (differentiable in ``array`` and in
    ``constant_values``: a scalar, or ``(before, after)`` pairs per axis), ``"edge"``,
    ``"reflect"``, ``"symmetric"`` and ``"wrap"`` (``reflect_type="even"``): the latter
    copy elements of ``array``, so their derivatives accumulate back onto them."""
    supported = ("constant",) + _PAD_INDEX_MODES
    if mode not in supported:
        if mode in _PAD_MODES:
            raise NotImplementedError(f"pnp.pad: mode {mode!r} is not supported; supported modes: "
                                      f"{', '.join(repr(m) for m in supported)}")
        raise ValueError(f"pnp.pad: mode {mode!r} is not supported (NumPy's modes: 'constant', "
                         f"{', '.join(repr(m) for m in _PAD_MODES)}; pnp supports "
                         f"{', '.join(repr(m) for m in supported)})")
    x = asarray(array)
    nd = _ndim(x)
    widths = _concrete_ints(pad_width, "pad", "pad_width")
    try:
        widths = _np.broadcast_to(widths, (nd, 2))
    except ValueError:
        raise ValueError(f"pnp.pad: pad_width of shape {widths.shape} cannot be broadcast to "
                         f"({nd}, 2) for an array of shape {_shape(x)}") from None
    if _np.any(widths < 0):
        raise ValueError(f"pnp.pad: pad_width can't contain negative values, got {widths.tolist()}")
    if mode != "constant":
        if reflect_type != "even":
            raise NotImplementedError("pnp.pad: only reflect_type='even' is supported")
        if not _is_traced(x):
            return _np.pad(x, widths, mode=mode)
        for i in range(nd):
            if widths[i].any():
                # NumPy's own padding of the positions 0..n-1 says where each output comes from
                src = _np.pad(_np.arange(_shape(x)[i]), widths[i], mode=mode)
                x = _along(x, i, src)
        return x
    values = asarray(constant_values)
    if _ndim(values) and nd:
        values = broadcast_to(values, (nd, 2)) if _is_traced(values) else _np.broadcast_to(values, (nd, 2))
    for i in range(nd):
        parts = []
        for j, w in enumerate(widths[i].tolist()):
            if w:
                v = _getitem(values, (i, j)) if _ndim(values) else values
                shape_ = _shape(x)[:i] + (w,) + _shape(x)[i + 1:]
                parts.append(full(shape_, v, _dtype(x)) if _is_traced(v) else
                             _np.full(shape_, _np.asarray(v), _dtype(x)))
            if j == 0:
                parts.append(x)
        x = concatenate(parts, axis=i) if len(parts) > 1 else x
    return x


def select(condlist, choicelist, default=0):
    """``numpy.select``: from the first choice whose condition holds, else ``default``."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"pnp.select: list of cases must be same length as list of conditions "
                         f"({len(choicelist)} choices, {len(condlist)} conditions)")
    if not condlist:
        raise ValueError("pnp.select with an empty condition list is not possible")
    conds = [asarray(c) for c in condlist]
    for i, c in enumerate(conds):
        if _dtype(c) != _np.bool_:
            raise TypeError(f"pnp.select: invalid entry {i} in condlist: should be boolean, got {_dtype(c)}")
    choices = [asarray(c) for c in choicelist] + [asarray(default)]
    # (a Python number as default is weakly typed, as in NumPy)
    weak = default if isinstance(default, (bool, int, float, complex)) else _dtype(choices[-1])
    dt = _np.result_type(*[_dtype(c) for c in choices[:-1]], weak)
    choices = [astype(c, dt) for c in choices]
    shape_ = _np.broadcast_shapes(*[_shape(c) for c in conds + choices])
    out = broadcast_to(choices[-1], shape_)
    for c, v in zip(reversed(conds), reversed(choices[:-1])):
        out = where(c, v, out)
    return out


# -- value-only functions: results computed from the concrete value ----------------------

_VALUE_ONLY_HINT = (" Its result is a plain NumPy value computed from the array's values, which exist "
                    "outside jit/vmap only; inside jit, compute it on the inputs before the call, or use "
                    "pnp.isclose / comparisons, which stay traced.")


def _concrete(x, fname):
    """The NumPy value of ``x`` (a tracer's concrete value; raises naming ``fname``
    inside jit and vmap, where values are unknown)."""
    if _is_traced(x):
        return _np.asarray(x.concrete_value(f"pnp.{fname}", _VALUE_ONLY_HINT))
    if isinstance(x, (list, tuple)) and _contains_tracer(x):
        return _np.asarray([_concrete(i, fname) for i in x])
    return x


def nonzero(a):
    """``numpy.nonzero``: the tuple of index arrays where ``a`` is nonzero. The indices
    are integers computed from ``a``'s value (no derivative; not available inside jit)."""
    return _np.nonzero(_np.asarray(_concrete(a, "nonzero")))


def flatnonzero(a):
    """``numpy.flatnonzero``: indices of the nonzero elements of ``ravel(a)`` (from ``a``'s value)."""
    return _np.flatnonzero(_concrete(a, "flatnonzero"))


def argwhere(a):
    """``numpy.argwhere``: the indices of the nonzero elements, one row each (from ``a``'s value)."""
    return _np.argwhere(_concrete(a, "argwhere"))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.isclose``: ``|a - b| <= atol + rtol * |b|`` elementwise (infinities are
    close only to themselves); a boolean array, traced like the comparisons (derivative 0)."""
    if not (_contains_tracer(a) or _contains_tracer(b)):
        return _np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    a, b = asarray(a), asarray(b)
    a, b = stop_gradient(a), stop_gradient(b)
    fin = logical_and(isfinite(a), isfinite(b))
    near = less_equal(abs(subtract(where(fin, a, 0.0), where(fin, b, 0.0))),
                      add(atol, multiply(rtol, abs(where(fin, b, 0.0)))))
    out = logical_or(logical_and(fin, near), equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.allclose``: a Python bool computed from the values (outside jit; inside
    jit it raises naming ``pnp.isclose``, which stays traced)."""
    return bool(_np.allclose(_concrete(a, "allclose"), _concrete(b, "allclose"), rtol=rtol, atol=atol,
                             equal_nan=equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """``numpy.array_equal``: a Python bool computed from the values (outside jit)."""
    return bool(_np.array_equal(_concrete(a1, "array_equal"), _concrete(a2, "array_equal"),
                                equal_nan=equal_nan))


def array_equiv(a1, a2):
    """``numpy.array_equiv``: a Python bool computed from the values (outside jit)."""
    return bool(_np.array_equiv(_concrete(a1, "array_equiv"), _concrete(a2, "array_equiv")))


def iscomplexobj(x):
    """``numpy.iscomplexobj``: whether ``x``'s dtype is complex (from the dtype alone)."""
    return _is_traced(x) and _dtype(x).kind == "c" or (not _is_traced(x) and _np.iscomplexobj(x))


def isrealobj(x):
    """``numpy.isrealobj``: ``not iscomplexobj(x)``."""
    return not iscomplexobj(x)


def iscomplex(x):
    """``numpy.iscomplex``: elementwise, whether the imaginary part is nonzero. For a
    real dtype it is all False (from the dtype alone); for a complex traced array it is
    traced like the comparisons."""
    if not _is_traced(x):
        return _np.iscomplex(_concrete(x, "iscomplex"))
    if _dtype(x).kind != "c":
        out = _np.zeros(_shape(x), _np.bool_)
        return out[()] if out.ndim == 0 else out
    return not_equal(bind(_ew.imag_p, x), 0.0)


def isreal(x):
    """``numpy.isreal``: elementwise, whether the imaginary part is zero."""
    out = iscomplex(x)
    return logical_not(out) if _is_traced(out) else _np.logical_not(out)


# -- NumPy's index tricks r_ and c_ ---------------------------------------------------------

class _AxisConcatenator:
    """``pnp.r_`` / ``pnp.c_``: NumPy's index tricks, also for traced arrays. Items are
    arrays (traced or not), scalars, slices (``a:b:step`` -> ``arange``, ``a:b:nj`` ->
    ``linspace``) and, first, a string directive: ``"axis"``, ``"axis,ndmin"``,
    ``"axis,ndmin,trans1d"``, or ``"r"``/``"c"`` (a row / a column; partiald returns a
    2-d array where NumPy returns ``np.matrix``)."""

    def __init__(self, name, numpy_version, axis, ndmin, trans1d):
        self._name, self._numpy, self._axis, self._ndmin, self._trans1d = name, numpy_version, axis, ndmin, trans1d

    def __repr__(self):
        return f"pnp.{self._name}"

    def __len__(self):
        return 0

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not _contains_tracer(list(items)):
            return self._numpy[key]
        axis, ndmin, trans1d, matrix = self._axis, self._ndmin, self._trans1d, None
        objs, weak, is_weak = [], [], []
        for k, item in enumerate(items):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError(f"pnp.{self._name}: a string directive must be the first item, "
                                     f"got {item!r} at position {k}")
                if item in ("r", "c"):
                    matrix = item
                    continue
                try:
                    vec = [int(v) for v in item.split(",")]
                except ValueError:
                    raise ValueError(f"pnp.{self._name}: unknown string directive {item!r} (supported: "
                                     "'r', 'c', 'axis', 'axis,ndmin', 'axis,ndmin,trans1d')") from None
                if not 1 <= len(vec) <= 3:
                    raise ValueError(f"pnp.{self._name}: too many numbers in directive {item!r}")
                axis = vec[0]
                if len(vec) > 1:
                    ndmin = vec[1]
                if len(vec) > 2:
                    trans1d = vec[2]
                continue
            if isinstance(item, slice):
                if _contains_tracer([item.start, item.stop, item.step]):
                    raise TypeError(f"pnp.{self._name}: slice bounds must be concrete numbers, got a traced "
                                    "value; use pnp.arange/pnp.linspace")
                start = 0 if item.start is None else item.start
                step = 1 if item.step is None else item.step
                if isinstance(step, (complex, _np.complexfloating)):
                    obj = _np.linspace(start, item.stop, num=int(abs(step)))
                else:
                    obj = _np.arange(start, item.stop, step)
                if ndmin > 1:
                    obj = _np.array(obj, ndmin=ndmin)
                    if trans1d != -1:
                        obj = obj.swapaxes(-1, trans1d)
            elif isinstance(item, (bool, int, float, complex)):
                weak.append(item)
                obj = _np.array(item, ndmin=ndmin)
                is_weak.append(True)
                objs.append(obj)
                continue
            elif _is_traced(item) or isinstance(item, (list, tuple, _np.ndarray, _np.generic)):
                obj = asarray(item)
                nd = _ndim(obj)
                if nd < ndmin:
                    obj = reshape(obj, (1,) * (ndmin - nd) + _shape(obj))
                    if trans1d != -1:
                        k2, k1 = ndmin - nd, trans1d
                        if k1 < 0:
                            k1 += k2 + 1
                        order = list(range(ndmin))
                        obj = transpose(obj, order[:k1] + order[k2:] + order[k1:k2])
            else:
                raise TypeError(f"pnp.{self._name}: unsupported item {item!r} of type {type(item).__name__} "
                                "(use arrays, numbers, slices or a leading string directive)")
            objs.append(obj)
            is_weak.append(False)
        if not objs:
            raise ValueError(f"pnp.{self._name}[...] needs at least one array")
        # Python numbers are weakly typed, as in NumPy: r_[x32, 1.0] stays float32
        dt = _np.result_type(*[_dtype(o) for o, w in zip(objs, is_weak) if not w], *weak)
        objs = [astype(o, dt) if _dtype(o) != dt else o for o in objs]
        out = concatenate(objs, axis=axis)
        if matrix is not None:
            if _ndim(out) > 2:
                raise ValueError(f"pnp.{self._name}['{matrix}', ...]: the result must be at most 2-d")
            n = int(_np.prod(_shape(out)))
            if _ndim(out) < 2:
                out = reshape(out, (1, n) if matrix == "r" else (n, 1))
        return out


r_ = _AxisConcatenator("r_", _np.r_, 0, 1, -1)
c_ = _AxisConcatenator("c_", _np.c_, -1, 2, 0)


# -- numerical gradient, partition -------------------------------------------------------

def _gradient_along(f, axis, h, edge_order):
    n = _shape(f)[axis]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "(edge_order + 1) elements are required.")

    def at(i, j=None):
        return _along(f, axis, slice(i, j))

    def bshape(v):
        # a per-position coefficient (1-d along axis) broadcast against f
        return reshape(v, tuple(-1 if i == axis else 1 for i in range(_ndim(f))))

    if _ndim(h) == 0:
        interior = divide(subtract(at(2), at(0, -2)), multiply(2.0, h))
        if edge_order == 1:
            first = divide(subtract(at(1, 2), at(0, 1)), h)
            last = divide(subtract(at(-1), at(-2, -1)), h)
        else:
            first = divide(add(add(multiply(-1.5, at(0, 1)), multiply(2.0, at(1, 2))), multiply(-0.5, at(2, 3))), h)
            last = divide(add(add(multiply(0.5, at(-3, -2)), multiply(-2.0, at(-2, -1))), multiply(1.5, at(-1))), h)
    else:
        if _ndim(h) != 1 or _shape(h)[0] != n:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        h = _to_float(h)
        dx = subtract(h[1:], h[:-1])
        dx1, dx2 = dx[:-1], dx[1:]
        a = divide(negative(dx2), multiply(dx1, add(dx1, dx2)))
        b = divide(subtract(dx2, dx1), multiply(dx1, dx2))
        c = divide(dx1, multiply(dx2, add(dx1, dx2)))
        interior = add(add(multiply(bshape(a), at(0, -2)), multiply(bshape(b), at(1, -1))),
                       multiply(bshape(c), at(2)))
        if edge_order == 1:
            first = divide(subtract(at(1, 2), at(0, 1)), dx[0])
            last = divide(subtract(at(-1), at(-2, -1)), dx[-1])
        else:
            d1, d2 = dx[0], dx[1]
            a0 = negative(divide(add(multiply(2.0, d1), d2), multiply(d1, add(d1, d2))))
            b0 = divide(add(d1, d2), multiply(d1, d2))
            c0 = negative(divide(d1, multiply(d2, add(d1, d2))))
            first = add(add(multiply(a0, at(0, 1)), multiply(b0, at(1, 2))), multiply(c0, at(2, 3)))
            d1, d2 = dx[-2], dx[-1]
            a1 = divide(d2, multiply(d1, add(d1, d2)))
            b1 = negative(divide(add(d2, d1), multiply(d1, d2)))
            c1 = divide(add(multiply(2.0, d2), d1), multiply(d2, add(d1, d2)))
            last = add(add(multiply(a1, at(-3, -2)), multiply(b1, at(-2, -1))), multiply(c1, at(-1)))
    return concatenate([first, interior, last], axis=axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """``numpy.gradient``: second-order central differences inside, first- or second-order
    (``edge_order``) one-sided differences at the boundaries, along ``axis`` (all axes by
    default). ``varargs``: nothing (spacing 1), one scalar for all axes, or one scalar or
    coordinate array per axis. One axis gives an array, several a tuple. A composition of
    slices, so differentiable in ``f`` and in the spacings."""
    if not (_contains_tracer(f) or _contains_tracer(list(varargs))):
        return _np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    f = _to_float(asarray(f))
    nd = _ndim(f)
    axes = _axes(f, axis)
    if len(set(axes)) != len(axes):
        raise ValueError("pnp.gradient: repeated axis")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and _ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if nd == 0:
        raise ValueError("pnp.gradient: the input must have at least one dimension")
    outs = [_gradient_along(f, ax, asarray(h) if not isinstance(h, (int, float)) else float(h), edge_order)
            for ax, h in zip(axes, spacings)]
    return outs[0] if len(outs) == 1 else tuple(outs)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.partition``: the ``kth`` element(s) in their sorted places, smaller ones
    before, larger after. NumPy leaves the order inside each part unspecified; partiald's
    traced version sorts (so each element's derivative moves with its value)."""
    if order is not None:
        raise NotImplementedError("pnp.partition: order= (structured arrays) is not supported")
    if not _is_traced(a):
        return _np.partition(a, kth, axis=axis, kind=kind)
    n = _shape(a)[_axes(a, axis)[0]] if axis is not None else int(_np.prod(_shape(a)))
    for k in _np.atleast_1d(_np.asarray(kth)).tolist():
        if not -n <= int(k) < n:
            raise ValueError(f"kth(={k}) out of bounds ({n})")
    return sort(a, axis=axis)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.argpartition``: indices that partition ``a`` (see ``partition``; the
    traced version returns ``argsort``, a valid partitioning)."""
    if order is not None:
        raise NotImplementedError("pnp.argpartition: order= (structured arrays) is not supported")
    if not _is_traced(a):
        return _np.argpartition(a, kth, axis=axis, kind=kind)
    return argsort(a, axis=axis)


# -- indexing (Tracer.__getitem__, and take: a traced index is enough) ----------------

def _index_spec(x, idx):
    """Normalize a NumPy index into (spec, arrays) for the gather primitive."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    # boolean masks become integer arrays (their values must be known)
    expanded = []
    for item in idx:
        if isinstance(item, (list, tuple)):
            item = asarray(item)
        if hasattr(item, "dtype") and _np.dtype(item.dtype) == _np.bool_:
            if isinstance(item, Tracer):
                item = _np.asarray(item.concrete_value("indexing with a boolean mask"))
            item = _np.asarray(item)
            expanded.extend(_np.nonzero(item))
            continue
        expanded.append(item)
    n_real = _builtins.sum(1 for i in expanded if i is not None and i is not Ellipsis)
    if n_real > x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, but {n_real} were indexed")
    spec, arrays = [], []
    dim = 0
    for item in expanded:
        if item is Ellipsis:
            for _ in range(x.ndim - n_real):
                spec.append(("slice", None, None, None))
                dim += 1
        elif item is None:
            spec.append(("none",))
        elif isinstance(item, slice):
            spec.append(("slice", *(None if v is None else int(_np.asarray(v)) if not isinstance(v, Tracer) else int(v)
                                    for v in (item.start, item.stop, item.step))))
            dim += 1
        elif isinstance(item, (int, _np.integer)) and not isinstance(item, bool):
            n = x.shape[dim]
            if not -n <= int(item) < n:
                raise IndexError(f"index {int(item)} is out of bounds for axis {dim} with size {n}")
            spec.append(("int", int(item)))
            dim += 1
        elif hasattr(item, "dtype") or isinstance(item, _np.ndarray):
            if _np.dtype(item.dtype).kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, got {item.dtype}")
            if not isinstance(item, Tracer):
                item = _np.asarray(item)
                n = x.shape[dim]
                if item.size and (item.max() >= n or item.min() < -n):
                    raise IndexError(f"index array has values out of bounds for axis {dim} with size {n}")
            spec.append(("array", len(arrays)))
            arrays.append(item)
            dim += 1
        else:
            raise IndexError(f"unsupported index {item!r}: use integers, slices, None, ..., "
                             "or integer/boolean arrays")
    return tuple(spec), arrays


def _getitem(self, idx):
    spec, arrays = _index_spec(self, idx)
    return _sh.gather(self, spec, *arrays)


# -- convolution and correlation ------------------------------------------------------
#
# One engine, ``_conv_region``, computes a block of the full N-D convolution; numpy's
# convolve/correlate here and partiald.scipy.signal only choose the block (the mode) and
# the kernel (flipped and conjugated for correlation). Compositions of traced functions
# (pad, one integer-array gather, einsum; or pnp.fft), so every transformation applies.

#: 'auto' uses the FFT when the direct method would gather more window elements
#: (output size * kernel size) than this, and the dtype is inexact
_CONV_DIRECT_MAX = 1 << 22


def _conv_region(x, k, starts, lens, method="auto"):
    """The block ``full[starts[d]:starts[d] + lens[d]]`` of the full N-D convolution
    ``full[i] = sum_j x[i - j] k[j]`` (shape ``n + m - 1``) of same-ndim ``x`` and ``k``.

    'direct' zero-pads the larger operand, gathers every window it needs with one
    integer-array index (index arrays built with NumPy from the shapes) and contracts
    them with the flipped smaller operand by einsum: exact, output size * kernel size
    memory. 'fft' multiplies FFTs of size ``n + m - 1`` (rfftn/irfftn for real input, so
    the output is real; integer results are rounded, as SciPy does). 'auto' is direct
    for integer and bool input and whenever the gathered windows have at most
    ``_CONV_DIRECT_MAX`` elements, else fft."""
    x, k = asarray(x), asarray(k)
    dt = _np.result_type(_dtype(x), _dtype(k))
    n, m = _shape(x), _shape(k)
    nd = len(n)
    if nd == 0 or 0 in n or 0 in m:
        raise ValueError("convolution of empty or 0-d operands has no region")
    out_size = int(_np.prod(lens))
    if _np.prod(m) > _np.prod(n):     # convolution commutes: gather windows of the larger one
        x, k, n, m = k, x, m, n
    if method == "auto":
        inexact = dt.kind in "fc"
        method = "fft" if inexact and out_size * int(_np.prod(m)) > _CONV_DIRECT_MAX else "direct"
    if method == "fft":
        from ..ops import fft as _fftops     # the FFT records themselves (pnp.fft imports this module)
        s = [a + b - 1 for a, b in zip(n, m)]
        kinds = ("FFT", "IFFT", _fftops.complex_dtype(dt)) if dt.kind == "c" else \
            ("RFFT", "IRFFT", _fftops.real_dtype(dt))

        def spectrum(z):
            z = pad(z, [(0, a - b) for a, b in zip(s, _shape(z))])
            return _fftops.fft(z if _dtype(z) == kinds[2] else astype(z, kinds[2]), kinds[0], s)
        y = _fftops.fft(spectrum(x) * spectrum(k), kinds[1], s)
        y = y[tuple(slice(a, a + b) for a, b in zip(starts, lens))]
        if dt.kind in "biu":
            y = round(y)
        return y if _dtype(y) == dt else astype(y, dt)
    # direct: full[i] = sum_j xz[i + j] kf[j], xz = x with m - 1 zeros on each side
    xz = pad(x, [(b - 1, b - 1) for b in m])
    idx = []
    for d in range(nd):
        i = starts[d] + _np.arange(lens[d])[:, None] + _np.arange(m[d])[None, :]
        shp = [1] * (2 * nd)
        shp[2 * d], shp[2 * d + 1] = lens[d], m[d]
        idx.append(i.reshape(shp))
    windows = xz[tuple(idx)]
    o, j = _LETTERS[:nd], _LETTERS[nd:2 * nd]
    y = einsum("".join(a + b for a, b in zip(o, j)) + "," + j + "->" + o, windows, flip(k))
    return y if _dtype(y) == dt else astype(y, dt)


def _np_conv_args(a, v, mode, name):
    modes = {0: "valid", 1: "same", 2: "full", "valid": "valid", "same": "same", "full": "full"}
    if not isinstance(mode, (str, int, _np.integer)) or isinstance(mode, bool) or mode not in modes:
        raise ValueError(f"pnp.{name}: mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    a, v = asarray(a), asarray(v)
    for arr, nm in ((a, "a"), (v, "v")):
        if _ndim(arr) > 1:
            raise ValueError(f"pnp.{name}: {nm} must be 1-D (got shape {_shape(arr)}); for N-D "
                             "input use partiald.scipy.signal")
    a, v = (reshape(a, (1,)) if _ndim(a) == 0 else a), (reshape(v, (1,)) if _ndim(v) == 0 else v)
    if _shape(a)[0] == 0:
        raise ValueError("a cannot be empty")
    if _shape(v)[0] == 0:
        raise ValueError("v cannot be empty")
    return a, v, modes[mode]


def convolve(a, v, mode="full"):
    """``numpy.convolve``: the discrete linear convolution of two 1-D sequences,
    differentiable in both. Modes 'full' (length n + m - 1), 'same' (length max(n, m),
    NumPy's centering) and 'valid' (length max(n, m) - min(n, m) + 1); NumPy's order
    (the inputs are swapped when v is longer). Direct (exact) for small inputs, FFT when
    output size * kernel size exceeds ``_CONV_DIRECT_MAX`` and the dtype is inexact."""
    a, v, mode = _np_conv_args(a, v, mode, "convolve")
    n, m = _shape(a)[0], _shape(v)[0]
    lo, hi = _builtins.min(n, m), _builtins.max(n, m)
    start, length = {"full": (0, n + m - 1), "same": ((lo - 1) // 2, hi), "valid": (lo - 1, hi - lo + 1)}[mode]
    return _conv_region(a, v, (start,), (length,))


def correlate(a, v, mode="valid"):
    """``numpy.correlate``: ``c[k] = sum_n a[n + k] * conj(v[n])`` of two 1-D sequences,
    differentiable in both (v is conjugated for complex input). Modes as numpy: 'valid'
    (the default), 'same' (length max(n, m), NumPy's centering, which differs when v is
    the longer one) and 'full'."""
    a, v, mode = _np_conv_args(a, v, mode, "correlate")
    n, m = _shape(a)[0], _shape(v)[0]
    if _dtype(v).kind == "c":     # conjugate (pnp.conj lives in _complex, which imports this module)
        v = bind(_ew.conj_p, v) if _is_traced(v) else _np.conjugate(v)
    lo, hi = _builtins.min(n, m), _builtins.max(n, m)
    same = ((lo - 1) // 2 if m <= n else lo // 2, hi)
    start, length = {"full": (0, n + m - 1), "same": same, "valid": (lo - 1, hi - lo + 1)}[mode]
    return _conv_region(a, flip(v), (start,), (length,))


# -- more NumPy functions: NaN-aware reductions, order statistics, misc ------------------
#
# Compositions of the traced functions above (where on isnan masks, sort and
# take_along_axis, einsum-free sums, comparisons), so they differentiate to any order
# and work under jit and vmap. With nothing traced each is NumPy's own call.

_select = where


def _plain(*xs):
    """True when none of ``xs`` holds a traced value (then NumPy's own function runs)."""
    return not _builtins.any(_contains_tracer(x) for x in xs)


def _inexact(x):
    return _dtype(x).kind in "fc"


def _nan_mask(a):
    return isnan(a) if _inexact(a) else _np.zeros(_shape(a), bool)


def _ref_dtype(f, dt, *args, **kw):
    """The dtype NumPy's ``f`` gives for a small input of dtype ``dt`` (warnings off)."""
    with _np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _np.asarray(f(_np.ones((2,), dt), *args, **kw)).dtype


def _count(mask, axis, keepdims):
    return sum(logical_not(mask), axis, keepdims)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nansum``: NaNs count as 0 (derivative 0 there)."""
    if _plain(a, initial):
        kw = {} if where is None else {"where": where}
        return _np.nansum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                          **({} if initial is None else {"initial": initial}), **kw)
    _no_out(out, "nansum")
    if where is not None:
        raise NotImplementedError("pnp.nansum: where= is not supported on traced arrays (use pnp.where first)")
    a = asarray(a)
    out = sum(_select(_nan_mask(a), 0, a), axis, keepdims, dtype)
    return out if initial is None else add(out, initial)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanprod``: NaNs count as 1 (derivative 0 there)."""
    if _plain(a, initial):
        kw = {} if where is None else {"where": where}
        return _np.nanprod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                           **({} if initial is None else {"initial": initial}), **kw)
    _no_out(out, "nanprod")
    if where is not None:
        raise NotImplementedError("pnp.nanprod: where= is not supported on traced arrays")
    a = asarray(a)
    if dtype is not None:
        a = astype(a, dtype)
    elif _dtype(a) == _np.bool_:
        a = astype(a, _np.int64)
    out = prod(_select(_nan_mask(a), 1, a), axis, keepdims)
    return out if initial is None else multiply(out, initial)


def _safe_div(num, cnt):
    """``num / cnt`` with NaN where ``cnt`` is 0 (and no inf reaching derivatives)."""
    zero = equal(cnt, 0)
    return _select(zero, _np.nan, divide(num, _select(zero, 1, cnt)))


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``numpy.nanmean``: the mean of the non-NaN elements (NaN for an all-NaN slice);
    NaN entries get derivative 0."""
    if _plain(a):
        kw = {} if where is None else {"where": where}
        return _np.nanmean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)
    _no_out(out, "nanmean")
    if where is not None:
        raise NotImplementedError("pnp.nanmean: where= is not supported on traced arrays")
    a = asarray(a)
    if not _inexact(a):
        return mean(a if dtype is None else astype(a, dtype), axis, keepdims)
    a = a if dtype is None else astype(a, dtype)
    m = isnan(a)
    return _safe_div(sum(_select(m, 0, a), axis, keepdims), astype(_count(m, axis, keepdims), _dtype(a)))


def _nan_extreme(a, axis, keepdims, fname, big):
    a = asarray(a)
    if not _inexact(a):
        return (max if big < 0 else min)(a, axis, keepdims)
    m = isnan(a)
    axes = _axes(a, axis)
    _check_nonempty(a, axes, fname)
    filled = _select(m, big, a)
    r = max(filled, axes, keepdims) if big < 0 else min(filled, axes, keepdims)
    return _select(equal(_count(m, axes, keepdims), 0), _np.nan, r)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanmax``: the maximum ignoring NaNs (NaN for an all-NaN slice)."""
    if _plain(a):
        kw = {k: v for k, v in (("initial", initial), ("where", where)) if v is not None}
        return _np.nanmax(a, axis=axis, out=out, keepdims=keepdims, **kw)
    _no_out(out, "nanmax")
    if initial is not None or where is not None:
        raise NotImplementedError("pnp.nanmax: initial= and where= are not supported on traced arrays")
    return _nan_extreme(a, axis, keepdims, "fmax", -_np.inf)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.nanmin``: the minimum ignoring NaNs (NaN for an all-NaN slice)."""
    if _plain(a):
        kw = {k: v for k, v in (("initial", initial), ("where", where)) if v is not None}
        return _np.nanmin(a, axis=axis, out=out, keepdims=keepdims, **kw)
    _no_out(out, "nanmin")
    if initial is not None or where is not None:
        raise NotImplementedError("pnp.nanmin: initial= and where= are not supported on traced arrays")
    return _nan_extreme(a, axis, keepdims, "fmin", _np.inf)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
           correction=None):
    """``numpy.nanvar``: the variance of the non-NaN elements, divided by ``count - ddof``
    (NaN where that is <= 0); NaN entries get derivative 0."""
    if _plain(a, mean):
        kw = {k: v for k, v in (("where", where), ("mean", mean), ("correction", correction)) if v is not None}
        return _np.nanvar(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)
    _no_out(out, "nanvar")
    if where is not None or mean is not None:
        raise NotImplementedError("pnp.nanvar: where= and mean= are not supported on traced arrays")
    if correction is not None:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    a = _to_float(asarray(a))
    if dtype is not None:
        a = astype(a, dtype)
    m = _nan_mask(a)
    w = _select
    fdt = _np.empty(0, _dtype(a)).real.dtype
    cnt = astype(_count(m, axis, True), fdt)
    mu = _safe_div(sum(w(m, 0, a), axis, True), cnt)
    d = w(m, 0, subtract(a, w(m, 0, mu)))
    if _dtype(a).kind == "c":
        sq = add(square(bind(_ew.real_p, d)), square(bind(_ew.imag_p, d)))
    else:
        sq = square(d)
    den = subtract(_count(m, axis, keepdims), ddof)
    den = w(less_equal(den, 0), 0, den)
    r = _safe_div(sum(sq, axis, keepdims), astype(den, fdt))
    return astype(r, _dtype(sq)) if _dtype(r) != _dtype(sq) else r


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
           correction=None):
    """``numpy.nanstd``: ``sqrt(nanvar(...))``."""
    if _plain(a, mean):
        kw = {k: v for k, v in (("where", where), ("mean", mean), ("correction", correction)) if v is not None}
        return _np.nanstd(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)
    return sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


def nancumsum(a, axis=None, dtype=None, out=None):
    """``numpy.nancumsum``: running sums with NaNs counted as 0."""
    if _plain(a):
        return _np.nancumsum(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "nancumsum")
    a = asarray(a)
    a = a if dtype is None else astype(a, dtype)
    return cumsum(_select(_nan_mask(a), 0, a), axis)


def nancumprod(a, axis=None, dtype=None, out=None):
    """``numpy.nancumprod``: running products with NaNs counted as 1."""
    if _plain(a):
        return _np.nancumprod(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "nancumprod")
    a = asarray(a)
    a = a if dtype is None else astype(a, dtype)
    return cumprod(_select(_nan_mask(a), 1, a), axis)


def _nanarg(a, axis, keepdims, fname, big):
    a = asarray(a)
    m = _nan_mask(a)
    if _inexact(a):
        v = _value_or_none(a)
        if v is not None and _np.isnan(v).all(axis=axis).any():
            raise ValueError("All-NaN slice encountered")
        a = _select(m, big, a)
    r = argmax(a, axis) if big < 0 else argmin(a, axis)
    if keepdims:
        r = reshape(r, (1,) * _ndim(a) if axis is None else
                    tuple(1 if i == _axes(a, axis)[0] else d for i, d in enumerate(_shape(a))))
    return r


def nanargmax(a, axis=None, out=None, *, keepdims=False):
    """``numpy.nanargmax``: index of the maximum ignoring NaNs (integer, derivative 0).
    An all-NaN slice raises ValueError where the values are known (outside jit)."""
    if _plain(a):
        return _np.nanargmax(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "nanargmax")
    return _nanarg(a, axis, keepdims, "nanargmax", -_np.inf)


def nanargmin(a, axis=None, out=None, *, keepdims=False):
    """``numpy.nanargmin``: index of the minimum ignoring NaNs (integer, derivative 0)."""
    if _plain(a):
        return _np.nanargmin(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "nanargmin")
    return _nanarg(a, axis, keepdims, "nanargmin", _np.inf)


# -- order statistics ----------------------------------------------------------------------

_Q_CONTINUOUS = {"interpolated_inverted_cdf": (0, 1), "hazen": (0.5, 0.5), "weibull": (0, 0),
                 "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}
_Q_DISCRETE = ("inverted_cdf", "closest_observation", "lower", "higher", "nearest")
_Q_METHODS = ("linear", "midpoint", "averaged_inverted_cdf", *_Q_CONTINUOUS, *_Q_DISCRETE)


def _q_index(method, n, q):
    """(previous index, next index, gamma) of NumPy's quantile ``method`` for ``n`` values
    (an int, or a traced count per slice); gamma None for the discrete methods."""
    w = _select
    nm1 = subtract(n, 1)
    if method in _Q_DISCRETE:
        if method in ("lower", "higher", "nearest"):
            vi = multiply(nm1, q)
            idx = {"lower": floor, "higher": ceil, "nearest": round}[method](vi)
        else:
            index = subtract(multiply(n, q), 1) if method == "inverted_cdf" else \
                subtract(subtract(multiply(n, q), 1), 0.5)
            prev = floor(index)
            g0 = equal(subtract(index, prev), 0)
            cond = g0 if method == "inverted_cdf" else logical_and(g0, equal(remainder(prev, 2), 1))
            idx = w(cond, prev, add(prev, 1))
        idx = w(less(idx, 0), 0, idx)
        return idx, idx, None
    if method == "linear":
        vi = multiply(nm1, q)
    elif method == "midpoint":
        t = multiply(nm1, q)
        vi = multiply(0.5, add(floor(t), ceil(t)))
    elif method == "averaged_inverted_cdf":
        vi = subtract(multiply(n, q), 1)
    else:
        al, be = _Q_CONTINUOUS[method]
        vi = subtract(add(multiply(n, q), add(al, multiply(q, 1 - al - be))), 1)
    prev = floor(vi)
    above, below = greater_equal(vi, nm1), less(vi, 0)
    prev = w(above, -1.0, w(below, 0.0, prev))
    nxt = w(above, -1.0, w(below, 0.0, add(prev, 1)))
    gamma = subtract(vi, prev)
    if method == "midpoint":
        gamma = w(equal(remainder(vi, 1), 0), 0.0, 0.5)
    elif method == "averaged_inverted_cdf":
        gamma = w(equal(gamma, 0), 0.5, 1.0)
    # -1 means the last valid value
    prev = w(equal(prev, -1), nm1, prev)
    nxt = w(equal(nxt, -1), nm1, nxt)
    return prev, nxt, gamma


def _lerp(a, b, t):
    d = subtract(b, a)
    return _select(greater_equal(t, 0.5), subtract(b, multiply(d, subtract(1, t))),
                              add(a, multiply(d, t)))


def _to_last(a, axis):
    """``a`` with the reduced axes merged into one last axis: (array, axes, batch shape)."""
    axes = _axes(a, axis)
    keep = [i for i in range(_ndim(a)) if i not in axes]
    batch = tuple(_shape(a)[i] for i in keep)
    n = int(_np.prod([_shape(a)[i] for i in axes], dtype=_np.int64))
    x = reshape(transpose(a, keep + list(axes)), batch + (n,))
    return x, axes, batch


def _bcast(x, shape):
    return broadcast_to(x, shape) if _is_traced(x) else _np.broadcast_to(_np.asarray(x), shape)


def _quantile_impl(fname, a, q, axis, method, keepdims, nan):
    if method not in _Q_METHODS:
        raise ValueError(f"{method!r} is not a valid method. Use one of: {_Q_METHODS}")
    a = asarray(a)
    qv = _value_or_none(q) if _is_traced(q) else _np.asarray(q)
    npf = _np.nanquantile if nan else _np.quantile
    qref = q if not _is_traced(q) else qv if qv is not None else _np.full(_shape(q), 0.5, _dtype(q))
    if qv is not None and not _np.all((qv >= 0) & (qv <= 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    out_dt = _ref_dtype(npf, _dtype(a), qref, method=method)
    x, axes, batch = _to_last(a, axis)
    n = _shape(x)[-1]
    if n == 0:
        with _np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return npf(_np.zeros(_shape(a), _dtype(a)), qref, axis=axis, method=method, keepdims=keepdims)
    if method not in _Q_DISCRETE or nan:
        x = _to_float(x)
    s = sort(x, -1)
    qa = asarray(q)
    qshape = _shape(qa)
    qb = reshape(qa, qshape + (1,) * len(batch))
    m = _nan_mask(x)
    if nan and _inexact(x):
        cnt = reshape(_count(m, -1, False), (1,) * len(qshape) + batch)
    else:
        cnt = n
    prev, nxt, gamma = _q_index(method, cnt, qb)
    full = qshape + batch
    last = subtract(cnt, 1)

    def gather(idx):
        idx = maximum(minimum(idx, last), 0)
        idx = _bcast(astype(idx, _np.int64), full)
        k = int(_np.prod(qshape, dtype=_np.int64))
        perm = list(range(len(qshape), len(full))) + list(range(len(qshape)))
        idx = reshape(transpose(idx, perm), batch + (k,))
        r = take_along_axis(s, idx, -1)
        r = reshape(r, batch + qshape)
        return transpose(r, list(range(len(batch), len(full))) + list(range(len(batch))))

    lo = gather(prev)
    if gamma is None:
        r = lo
    else:
        g = _bcast(gamma, full)
        if out_dt.kind == "f":
            g = astype(g, out_dt)
        r = _lerp(lo, gather(nxt), g)
    if _inexact(x):
        bad = equal(cnt, 0) if nan else isnan(_along(s, len(batch), -1))
        r = _select(bad, _np.nan, r)
    if keepdims:
        r = reshape(r, qshape + tuple(1 if i in axes else d for i, d in enumerate(_shape(a))))
    return astype(r, out_dt) if _dtype(r) != out_dt else r


_NUMPY_QUANTILES = {"quantile": _np.quantile, "percentile": _np.percentile, "nanquantile": _np.nanquantile,
                    "nanpercentile": _np.nanpercentile}


def _quantile_call(name, a, q, axis, out, overwrite_input, method, keepdims, weights, interpolation):
    """quantile, percentile and their nan versions: NumPy's own on plain values; on traced
    ones the sorted values interpolated (``q`` in percent for the percentile pair)."""
    if interpolation is not None:
        method = interpolation
    if _plain(a, q):
        return _NUMPY_QUANTILES[name](a, q, axis=axis, out=out, overwrite_input=overwrite_input, method=method,
                                      keepdims=keepdims, weights=weights)
    _no_out(out, name)
    if weights is not None:
        raise NotImplementedError(f"pnp.{name}: weights= is not supported on traced arrays")
    if name.endswith("percentile"):
        _check_percents(q)
        q = divide(q, 100)
    nan = name.startswith("nan")
    return _quantile_impl("nanquantile" if nan else "quantile", a, q, axis, method, keepdims, nan)


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
             weights=None, interpolation=None):
    """``numpy.quantile`` (all of NumPy's methods, unweighted): the sorted values
    interpolated, so derivatives move with the sorted values and the interpolation
    weights; a traced ``q`` is differentiable too (linear-type methods)."""
    return _quantile_call("quantile", a, q, axis, out, overwrite_input, method, keepdims, weights, interpolation)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
               weights=None, interpolation=None):
    """``numpy.percentile``: ``quantile(a, q / 100)``."""
    return _quantile_call("percentile", a, q, axis, out, overwrite_input, method, keepdims, weights,
                          interpolation)


def _check_percents(q):
    qv = _value_or_none(q) if _is_traced(q) else _np.asarray(q)
    if qv is not None and not _np.all((qv >= 0) & (qv <= 100)):
        raise ValueError("Percentiles must be in the range [0, 100]")


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None, interpolation=None):
    """``numpy.nanquantile``: quantiles of the non-NaN values of each slice (NaN where a
    slice is all NaN); the count per slice is traced, so it works under jit and vmap."""
    return _quantile_call("nanquantile", a, q, axis, out, overwrite_input, method, keepdims, weights,
                          interpolation)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                  weights=None, interpolation=None):
    """``numpy.nanpercentile``: ``nanquantile(a, q / 100)``."""
    return _quantile_call("nanpercentile", a, q, axis, out, overwrite_input, method, keepdims, weights,
                          interpolation)


def _median_impl(a, axis, keepdims, nan):
    a = asarray(a)
    npf = _np.nanmedian if nan else _np.median
    out_dt = _ref_dtype(npf, _dtype(a))
    x, axes, batch = _to_last(a, axis)
    n = _shape(x)[-1]
    if n == 0:
        import warnings
        with _np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return npf(_np.zeros(_shape(a), _dtype(a)), axis=axis, keepdims=keepdims)
    x = _to_float(x)
    s = sort(x, -1)
    w = _select
    if nan and _inexact(x):
        cnt = _count(isnan(x), -1, False)
        lo = maximum(floor_divide(subtract(cnt, 1), 2), 0)
        hi = maximum(minimum(floor_divide(cnt, 2), subtract(cnt, 1)), 0)
        a_lo = reshape(take_along_axis(s, expand_dims(lo, -1), -1), batch)
        a_hi = reshape(take_along_axis(s, expand_dims(hi, -1), -1), batch)
        r = w(equal(cnt, 0), _np.nan, divide(add(a_lo, a_hi), 2.0))
    else:
        k = n // 2
        r = _along(s, len(batch), k)
        if n % 2 == 0:
            r = divide(add(_along(s, len(batch), k - 1), r), 2.0)
        if _inexact(x):
            r = w(isnan(_along(s, len(batch), -1)), _np.nan, r)
    if keepdims:
        r = reshape(r, tuple(1 if i in axes else d for i, d in enumerate(_shape(a))))
    return astype(r, out_dt) if _dtype(r) != out_dt else r


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.median``: the middle sorted value (the mean of the two middle ones for an
    even count); derivatives move with the sorted values. NaN if a slice has a NaN."""
    if _plain(a):
        return _np.median(a, axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    _no_out(out, "median")
    return _median_impl(a, axis, keepdims, False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.nanmedian``: the median of the non-NaN values (NaN for an all-NaN slice)."""
    if _plain(a):
        return _np.nanmedian(a, axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    _no_out(out, "nanmedian")
    return _median_impl(a, axis, keepdims, True)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``numpy.average``: the (weighted) mean; ``returned=True`` also gives the sum of
    the weights. Differentiable in ``a`` and ``weights``."""
    if _plain(a, weights):
        return _np.average(a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)
    a = asarray(a)
    if weights is None:
        avg = mean(a, axis, keepdims)
        scl = _np.asarray(int(_np.prod(_shape(a))) / _builtins.max(int(_np.prod(_shape(avg))), 1),
                          dtype=_dtype(avg))
    else:
        wgt = asarray(weights)
        if _dtype(a).kind in "biu":
            rdt = _np.result_type(_dtype(a), _dtype(wgt), "f8")
        else:
            rdt = _np.result_type(_dtype(a), _dtype(wgt))
        if _shape(a) != _shape(wgt):
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            axes = _norm_axes(axis, _ndim(a), "average")
            if _ndim(wgt) != len(axes):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            if _shape(wgt) != tuple(_shape(a)[ax] for ax in axes):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            wgt = transpose(wgt, [int(i) for i in _np.argsort(axes)])
            wgt = reshape(wgt, tuple(s if ax in axes else 1 for ax, s in enumerate(_shape(a))))
            axis = axes
        scl = sum(astype(wgt, rdt), axis, keepdims)
        sv = _value_or_none(scl) if _is_traced(scl) else scl
        if sv is not None and _np.any(sv == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = divide(sum(multiply(astype(a, rdt), astype(wgt, rdt)), axis, keepdims), scl)
    if returned:
        if _shape(scl) != _shape(avg):
            scl = _bcast(scl, _shape(avg))
        return avg, scl
    return avg


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """``numpy.cov`` (``rowvar``, ``bias``, ``ddof``, ``fweights``, ``aweights``, ``dtype``),
    NumPy's own algorithm on traced values: differentiable in the data and the weights."""
    if _plain(m, y, fweights, aweights):
        return _np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    m = asarray(m)
    if _ndim(m) > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None:
        y = asarray(y)
        if _ndim(y) > 2:
            raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = _np.result_type(_dtype(m), *([] if y is None else [_dtype(y)]), _np.float64)
    X = atleast_2d(astype(m, dtype))
    if not rowvar and _shape(X)[0] != 1:
        X = transpose(X)
    if _shape(X)[0] == 0:
        return _np.array([]).reshape(0, 0)
    if y is not None:
        y = atleast_2d(astype(y, dtype))
        if not rowvar and _shape(y)[0] != 1:
            y = transpose(y)
        X = concatenate((X, y), axis=0)
    if ddof is None:
        ddof = 1 if not bias else 0
    n_obs = _shape(X)[1]
    w = None
    for name, wv in (("fweights", fweights), ("aweights", aweights)):
        if wv is None:
            continue
        wv = asarray(wv, dtype=_np.float64)
        conc = _value_or_none(wv) if _is_traced(wv) else wv
        if name == "fweights" and conc is not None and not _np.all(conc == _np.around(conc)):
            raise TypeError("fweights must be integer")
        if _ndim(wv) > 1:
            raise RuntimeError(f"cannot handle multidimensional {name}")
        if _shape(wv)[0] != n_obs:
            raise RuntimeError(f"incompatible numbers of samples and {name}")
        if conc is not None and _np.any(conc < 0):
            raise ValueError(f"{name} cannot be negative")
        w = wv if w is None else multiply(w, wv)
        if name == "aweights":
            aweights = wv
    avg, w_sum = average(X, axis=1, weights=w, returned=True)
    w_sum = _getitem(w_sum, 0) if _is_traced(w_sum) else w_sum[0]
    if w is None:
        fact = float(n_obs - ddof)
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = subtract(w_sum, ddof)
    else:
        fact = subtract(w_sum, divide(multiply(ddof, sum(multiply(w, aweights))), w_sum))
    if isinstance(fact, float):
        fact = _builtins.max(fact, 0.0)
    else:
        fact = _select(less_equal(fact, 0), 0.0, fact)
    X = subtract(X, reshape(avg, (-1, 1)))
    X_T = transpose(X) if w is None else transpose(multiply(X, w))
    if _dtype(X).kind == "c":
        X_T = bind(_ew.conj_p, X_T) if _is_traced(X_T) else _np.conjugate(X_T)
    with _np.errstate(divide="ignore"):
        c = multiply(dot(X, X_T), divide(1.0, fact))
    return squeeze(c)


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``numpy.corrcoef``: ``cov`` normalized by the standard deviations, clipped to [-1, 1]."""
    if _plain(x, y):
        return _np.corrcoef(x, y, rowvar, dtype=dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if _ndim(c) == 0:
        return divide(c, c)
    d = diagonal(c)
    if _dtype(d).kind == "c":
        d = bind(_ew.real_p, d)
    sd = sqrt(d)
    c = divide(c, reshape(sd, (-1, 1)))
    c = divide(c, reshape(sd, (1, -1)))
    if _dtype(c).kind == "c":
        raise NotImplementedError("pnp.corrcoef: complex input is not supported on traced arrays")
    return clip(c, -1, 1)


# -- elementwise ---------------------------------------------------------------------------

def isinf(x):
    """``numpy.isinf`` (bool, derivative 0)."""
    x = _arr(x)
    return logical_not(logical_or(isfinite(x), isnan(x)))


def isposinf(x, out=None):
    """``numpy.isposinf``: ``x == +inf``."""
    if _plain(x):
        return _np.isposinf(x, out=out)
    return equal(x, _np.inf)


def isneginf(x, out=None):
    """``numpy.isneginf``: ``x == -inf``."""
    if _plain(x):
        return _np.isneginf(x, out=out)
    return equal(x, -_np.inf)


def signbit(x):
    """``numpy.signbit``: True where the sign bit is set (``-0.0`` included, via
    ``arctan2(x, -1) < 0``). For a traced NaN it is False whatever its sign bit."""
    x = _arr(x)
    if _plain(x):
        return _np.signbit(x)
    if not _inexact(x):
        return less(x, 0)
    return less(arctan2(x, astype(_np.asarray(-1.0), _dtype(x))), 0)


def trunc(x):
    """``numpy.trunc``: rounds toward 0 (derivative 0); integers stay integers."""
    x = _arr(x)
    if _plain(x):
        return _np.trunc(x)
    if not _inexact(x):
        return x
    return where(less(x, 0), ceil(x), floor(x))


def fix(x, out=None):
    """``numpy.fix``: rounds toward 0 (``trunc``)."""
    if _plain(x):
        return _np.fix(x, out=out)
    _no_out(out, "fix")
    return trunc(x)


def rint(x):
    """``numpy.rint``: round half to even (derivative 0)."""
    x = _arr(x)
    if _plain(x):
        return _np.rint(x)
    if _dtype(x) == _np.bool_:
        return astype(x, _np.float16)
    return round(x)


def copysign(x1, x2):
    """``numpy.copysign``: ``|x1|`` with the sign (bit) of ``x2``; derivative
    ``sign(x1) * sign(x2)`` in ``x1`` (0 at ``x1 = 0``), 0 in ``x2``."""
    if _plain(x1, x2):
        return _np.copysign(x1, x2)
    x1, x2 = _to_float(x1), _to_float(x2)
    ax = abs(x1)
    return where(signbit(x2), negative(ax), ax)


def heaviside(x1, x2):
    """``numpy.heaviside``: 0 for ``x1 < 0``, ``x2`` at 0, 1 for ``x1 > 0`` (NaN for NaN);
    derivative 0 in ``x1``, 1 in ``x2`` where ``x1 == 0``."""
    if _plain(x1, x2):
        return _np.heaviside(x1, x2)
    x1, x2 = _to_float(x1), _to_float(x2)
    dt = _np.result_type(_dtype(x1) if not isinstance(x1, float) else _np.float64,
                         _dtype(x2) if not isinstance(x2, float) else _np.float64)
    out = where(less(x1, 0), 0.0, where(greater(x1, 0), 1.0, x2))
    out = where(isnan(x1), _np.nan, out)
    return astype(out, dt) if _dtype(out) != dt else out


def float_power(x1, x2):
    """``numpy.float_power``: ``x1 ** x2`` computed in float64 (complex128 for complex)."""
    if _plain(x1, x2):
        return _np.float_power(x1, x2)

    def up(v):
        v = _arr(v)
        kind = "c" if (isinstance(v, complex) or (not isinstance(v, (int, float, bool)) and _dtype(v).kind == "c")) \
            else "f"
        return astype(v, _np.complex128 if kind == "c" else _np.float64)
    return power(up(x1), up(x2))


def fmod(x1, x2):
    """``numpy.fmod``: the C remainder (the sign of the dividend): ``remainder`` moved by
    ``x2`` where the signs differ; derivative 1 in ``x1``, ``-trunc(x1 / x2)`` in ``x2``."""
    if _plain(x1, x2):
        return _np.fmod(x1, x2)
    r = remainder(x1, x2)
    fixup = logical_and(not_equal(r, 0), not_equal(less(r, 0), less(x1, 0)))
    return where(fixup, subtract(r, x2), r)


def modf(x):
    """``numpy.modf``: ``(fractional part, integral part)``, both with ``x``'s sign;
    derivative 1 and 0."""
    if _plain(x):
        return _np.modf(x)
    x = _to_float(x)
    ip = trunc(x)
    fr = subtract(x, ip)
    neg = signbit(x)
    fr = where(equal(fr, 0), where(neg, -0.0, 0.0), fr)
    fr = where(isinf(x), where(neg, -0.0, 0.0), fr)
    return fr, ip


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: the trapezoidal rule along ``axis``; differentiable in ``y``,
    ``x`` and ``dx``."""
    if _plain(y, x, dx):
        return _np.trapezoid(y, x, dx, axis)
    y = asarray(y)
    nd = _ndim(y)
    axis = _norm_axis(axis, nd, "trapezoid")
    if x is None:
        d = dx
    else:
        x = asarray(x)
        if _ndim(x) == 1:
            d = diff(x)
            d = reshape(d, tuple(-1 if i == axis else 1 for i in range(nd)))
        else:
            d = diff(x, axis=axis)
    n = _shape(y)[axis]
    pre = (slice(None),) * axis
    s1, s2 = _getitem(y, pre + (slice(1, None),)), _getitem(y, pre + (slice(None, n - 1 if n else 0),))
    return sum(divide(multiply(d, add(s1, s2)), 2.0), axis)


def _cumulative(f, npf, x, axis, dtype, out, include_initial, fname, ident):
    if _plain(x):
        return npf(x, axis=axis, dtype=dtype, out=out, include_initial=include_initial)
    _no_out(out, fname)
    x = asarray(x)
    if _ndim(x) == 0:
        raise ValueError(f"pnp.{fname}: the input must be at least 1-d (NumPy needs it too)")
    if axis is None:
        if _ndim(x) > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` argument is required.")
        axis = 0
    axis = _norm_axis(axis, _ndim(x), fname)
    if dtype is not None:
        x = astype(x, dtype)
    r = f(x, axis)
    if include_initial:
        shp = tuple(1 if i == axis else d for i, d in enumerate(_shape(x)))
        r = concatenate([_np.full(shp, ident, _dtype(r)), r], axis=axis)
    return r


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """``numpy.cumulative_sum`` (NumPy 2): ``cumsum`` with ``include_initial``."""
    return _cumulative(cumsum, _np.cumulative_sum, x, axis, dtype, out, include_initial, "cumulative_sum", 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """``numpy.cumulative_prod`` (NumPy 2): ``cumprod`` with ``include_initial``."""
    return _cumulative(cumprod, _np.cumulative_prod, x, axis, dtype, out, include_initial, "cumulative_prod", 1)


def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array, with optional ends."""
    if _plain(ary, to_end, to_begin):
        return _np.ediff1d(ary, to_end, to_begin)
    a = ravel(asarray(ary))
    dt = _dtype(a)
    parts = []
    for v in (to_begin,):
        if v is not None:
            parts.append(astype(ravel(asarray(v)), dt))
    parts.append(subtract(_getitem(a, (slice(1, None),)), _getitem(a, (slice(None, -1),))))
    if to_end is not None:
        parts.append(astype(ravel(asarray(to_end)), dt))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def _count_before(a, v, side):
    """``searchsorted(a, v, side)`` for a sorted 1-D ``a`` by counting comparisons (traced,
    works under jit and vmap; NaNs sort last as in NumPy)."""
    v = asarray(v)
    a_ = reshape(asarray(a), (1,) * _ndim(v) + (-1,))
    v_ = expand_dims(v, -1)
    if side == "left":
        c = less(a_, v_)
        if _inexact(v) or _inexact(a_):
            c = logical_or(c, logical_and(isnan(v_), logical_not(isnan(a_))))
    else:
        c = less_equal(a_, v_)
        if _inexact(v) or _inexact(a_):
            c = logical_or(c, isnan(v_))
    return sum(c, -1)


def searchsorted(a, v, side="left", sorter=None):
    """``numpy.searchsorted``: integer results (derivative 0). Outside jit they come
    from the values (NumPy's own call); inside jit/vmap by counting comparisons."""
    if _plain(a, v, sorter):
        return _np.searchsorted(a, v, side=side, sorter=sorter)
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    av = _value_or_none(a) if _is_traced(a) else _np.asarray(a)
    vv = _value_or_none(v) if _contains_tracer(v) else _np.asarray(v)
    sv = _value_or_none(sorter) if _is_traced(sorter) else sorter
    if av is not None and vv is not None and (sorter is None or sv is not None):
        return _np.searchsorted(_np.asarray(av), _np.asarray(vv), side=side, sorter=sv)
    if _ndim(a) != 1:
        raise ValueError("object too deep for desired array")
    if sorter is not None:
        a = take(a, sorter)
    return _count_before(a, v, side)


def digitize(x, bins, right=False):
    """``numpy.digitize``: bin indices (integers, derivative 0), from the values outside
    jit, by comparisons inside (``bins`` monotonic, increasing or decreasing)."""
    if _plain(x, bins):
        return _np.digitize(x, bins, right)
    xv = _value_or_none(x) if _is_traced(x) else _np.asarray(x)
    bv = _value_or_none(bins) if _is_traced(bins) else _np.asarray(bins)
    if xv is not None and bv is not None:
        return _np.digitize(xv, bv, right)
    if bv is None:
        raise _TracerConversionError("pnp.digitize: bins must be known (not traced inside jit/vmap) "
                                     "to tell increasing from decreasing bins")
    bv = _np.asarray(bv)
    if bv.ndim != 1:
        raise ValueError("object too deep for desired array")
    inc = bv.size < 2 or bool(_np.all(bv[1:] >= bv[:-1]))
    if not inc and not _np.all(bv[1:] <= bv[:-1]):
        raise ValueError("bins must be monotonically increasing or decreasing")
    side = "left" if right else "right"
    if inc:
        return _count_before(bins, x, side)
    return subtract(len(bv), _count_before(flip(asarray(bins)), x, side))


def interp(x, xp, fp, left=None, right=None, period=None):
    """``numpy.interp``: piecewise-linear interpolation (NumPy's formula, its edge rules).
    Differentiable in ``x``, ``fp`` and ``xp`` (the interval index is piecewise constant,
    derivative 0); ``xp`` must be increasing. Works under jit and vmap."""
    if _plain(x, xp, fp, left, right, period):
        return _np.interp(x, xp, fp, left, right, period)
    x, xp, fp = asarray(x), asarray(xp), asarray(fp)
    if _ndim(xp) != 1 or _ndim(fp) != 1:
        raise ValueError("object too deep for desired array" if _ndim(xp) > 1 else "object of too small depth "
                         "for desired array")
    if _shape(xp)[0] != _shape(fp)[0]:
        raise ValueError("fp and xp are not of the same length.")
    if _shape(xp)[0] == 0:
        raise ValueError("array of sample points is empty")
    if _dtype(fp).kind == "c":
        raise NotImplementedError("pnp.interp: complex fp is not supported on traced arrays")
    x, xp, fp = astype(x, _np.float64), astype(xp, _np.float64), astype(fp, _np.float64)
    if period is not None:
        if period == 0:
            raise ValueError("period must be a non-zero value")
        period = _builtins.abs(period) if not _contains_tracer(period) else abs(period)
        left = right = None
        x = remainder(x, period)
        xp = remainder(xp, period)
        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([subtract(_getitem(xp, slice(-1, None)), period), xp,
                          add(_getitem(xp, slice(0, 1)), period)])
        fp = concatenate([_getitem(fp, slice(-1, None)), fp, _getitem(fp, slice(0, 1))])
    n = _shape(xp)[0]
    w = _select
    f0, fl = _getitem(fp, 0), _getitem(fp, n - 1)
    lval = f0 if left is None else left
    rval = fl if right is None else right
    x0, xl = _getitem(xp, 0), _getitem(xp, n - 1)
    if n == 1:
        mid = w(equal(x, x0), f0, _np.nan)
    else:
        j = subtract(_count_before(xp, x, "right"), 1)
        jc = maximum(minimum(j, n - 2), 0)
        xa, xb, fa, fb = take(xp, jc), take(xp, add(jc, 1)), take(fp, jc), take(fp, add(jc, 1))
        same = equal(x, xa)
        dxs = subtract(xb, xa)
        slope = divide(subtract(fb, fa), w(equal(dxs, 0), 1.0, dxs))
        slope = w(equal(dxs, 0), divide(subtract(fb, fa), dxs), slope)
        y = add(multiply(slope, subtract(x, w(same, x, xa))), fa)
        y2 = add(multiply(slope, subtract(x, xb)), fb)
        y = w(isnan(y), w(logical_and(isnan(y2), equal(fa, fb)), fa, y2), y)
        mid = w(same, fa, w(equal(j, n - 1), fl, y))
    out = w(greater(x, xl), rval, w(less(x, x0), lval, mid))
    return w(isnan(x), _np.nan, out)


def polyval(p, x):
    """``numpy.polyval`` by Horner's rule (NumPy's loop); differentiable in ``p`` and ``x``."""
    if _plain(p, x):
        return _np.polyval(p, x)
    p, x = asarray(p), asarray(x)
    y = _np.zeros(_shape(x), _dtype(x))
    for i in range(_shape(p)[0]):
        y = add(multiply(y, x), _getitem(p, i))
    return y


# -- rearrangements by an index map computed with NumPy -------------------------------------
#
# NumPy's own function runs on an array of element ids; the result gathers those ids from
# the traced array (a linear map: derivatives follow the elements).

def _ids(a):
    return _np.arange(int(_np.prod(_shape(a), dtype=_np.int64))).reshape(_shape(a))


def _from_ids(a, ids):
    a = asarray(a)
    if ids.size == 0 or _np.prod(_shape(a)) == 0:
        return _np.zeros(ids.shape, _dtype(a))
    return take(ravel(a), ids)


def delete(arr, obj, axis=None):
    """``numpy.delete`` (``obj`` must be known while tracing)."""
    if _plain(arr, obj):
        return _np.delete(arr, obj, axis)
    obj = _concrete_ints(obj, "delete", "obj") if _contains_tracer(obj) else obj
    return _from_ids(arr, _np.delete(_ids(arr), obj, axis))


def insert(arr, obj, values, axis=None):
    """``numpy.insert`` (``obj`` must be known while tracing); ``values`` are cast to
    ``arr``'s dtype and differentiable."""
    if _plain(arr, obj, values):
        return _np.insert(arr, obj, values, axis)
    obj = _concrete_ints(obj, "insert", "obj") if _contains_tracer(obj) else obj
    arr, values = asarray(arr), asarray(values)
    ids = _np.insert(_ids(arr) + 1, obj, -(_ids(values) + 1), axis)
    values = astype(values, _dtype(arr))
    if _np.prod(_shape(values)) == 0:
        return _from_ids(arr, ids - 1)
    if _np.prod(_shape(arr)) == 0:
        return _from_ids(values, -ids - 1)
    return where(ids > 0, _from_ids(arr, _np.maximum(ids - 1, 0)), _from_ids(values, _np.maximum(-ids - 1, 0)))


def resize(a, new_shape):
    """``numpy.resize``: the flattened ``a`` repeated to fill ``new_shape``."""
    if _plain(a):
        return _np.resize(a, new_shape)
    a = asarray(a)
    if _np.prod(_shape(a)) == 0:
        return _np.zeros(new_shape, _dtype(a))
    return _from_ids(a, _np.resize(_ids(a), new_shape))


def compress(condition, a, axis=None, out=None):
    """``numpy.compress`` (the condition's values must be known: outside jit)."""
    if _plain(condition, a):
        return _np.compress(condition, a, axis, out)
    _no_out(out, "compress")
    cond = _concrete(condition, "compress")
    return _from_ids(a, _np.compress(cond, _ids(a), axis))


def extract(condition, arr):
    """``numpy.extract``: ``ravel(arr)[ravel(condition) != 0]`` (condition known: outside jit)."""
    if _plain(condition, arr):
        return _np.extract(condition, arr)
    cond = _concrete(condition, "extract")
    return _from_ids(arr, _np.extract(cond, _ids(arr)))


def choose(a, choices, out=None, mode="raise"):
    """``numpy.choose``: ``choices[a[i]][i]`` elementwise (broadcast); ``a`` may be traced
    (integer), the choices are differentiable."""
    if _plain(a, choices):
        return _np.choose(a, choices, out=out, mode=mode)
    _no_out(out, "choose")
    choices = [asarray(c) for c in choices] if isinstance(choices, (list, tuple)) else \
        [_getitem(asarray(choices), i) for i in range(_shape(choices)[0])]
    n = len(choices)
    a = asarray(a)
    if _dtype(a).kind not in "biu":
        raise TypeError(f"pnp.choose: the index array must be integers, got {_dtype(a)}")
    if mode == "wrap":
        a = remainder(a, n)
    elif mode == "clip":
        a = clip(a, 0, n - 1)
    elif mode == "raise":
        av = _value_or_none(a) if _is_traced(a) else _np.asarray(a)
        if av is not None and _np.size(av) and (av.min() < 0 or av.max() >= n):
            raise ValueError("invalid entry in choice array")
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    dt = _np.result_type(*[_dtype(c) for c in choices])
    shp = _np.broadcast_shapes(_shape(a), *[_shape(c) for c in choices])
    out = broadcast_to(astype(choices[-1], dt), shp)
    for i in range(n - 2, -1, -1):
        out = where(equal(a, i), astype(choices[i], dt), out)
    return out


def dstack(tup):
    """``numpy.dstack``: concatenate along the third axis (after ``atleast_3d``)."""
    if _plain(list(tup)):
        return _np.dstack(tup)
    return concatenate([atleast_3d(t) for t in tup], axis=2)


def block(arrays):
    """``numpy.block``: assemble nested lists of arrays (the innermost list joins along
    the last axis)."""
    def leaves(x, depth):
        if isinstance(x, list):
            if not x:
                raise ValueError("List at arrays[...] cannot be empty")
            ds = [leaves(i, depth + 1) for i in x]
            if len({d for d, _ in ds}) != 1:
                raise ValueError("List depths are mismatched")
            return ds[0][0], _builtins.max(nd for _, nd in ds)
        if isinstance(x, tuple):
            raise TypeError("arrays is a tuple. Only lists can be used to arrange blocks, and np.block does "
                            "not allow implicit conversion from tuple to ndarray.")
        return depth, _ndim(x)

    if not (isinstance(arrays, list) and _contains_tracer(arrays)) and not _is_traced(arrays):
        return _np.block(arrays)
    depth, nd = leaves(arrays, 0)
    nd = _builtins.max(nd, depth)

    def rec(x, level):
        if isinstance(x, list):
            return concatenate([rec(i, level + 1) for i in x], axis=-(depth - level))
        x = asarray(x)
        return reshape(x, (1,) * (nd - _ndim(x)) + _shape(x))
    return rec(arrays, 0)


def _conj(x):
    if _dtype(x).kind != "c":
        return x
    return bind(_ew.conj_p, x) if _is_traced(x) else _np.conjugate(x)


def vecdot(x1, x2, /, *, axis=-1):
    """``numpy.vecdot`` (NumPy 2): ``sum(conj(x1) * x2, axis)``, broadcasting."""
    if _plain(x1, x2):
        return _np.vecdot(x1, x2, axis=axis)
    x1, x2 = asarray(x1), asarray(x2)
    if _shape(x1)[axis] != _shape(x2)[axis]:
        raise ValueError(f"vecdot: the lengths along axis {axis} differ ({_shape(x1)[axis]} vs {_shape(x2)[axis]})")
    return sum(multiply(_conj(x1), x2), axis)


def matvec(x1, x2, /):
    """``numpy.matvec`` (NumPy 2): matrix (..., m, n) times vector (..., n)."""
    if _plain(x1, x2):
        return _np.matvec(x1, x2)
    return squeeze(matmul(asarray(x1), expand_dims(asarray(x2), -1)), -1)


def vecmat(x1, x2, /):
    """``numpy.vecmat`` (NumPy 2): conj(vector) (..., n) times matrix (..., n, m)."""
    if _plain(x1, x2):
        return _np.vecmat(x1, x2)
    return squeeze(matmul(expand_dims(_conj(asarray(x1)), -2), asarray(x2)), -2)


def unwrap(p, discont=None, axis=-1, *, period=2 * _np.pi):
    """``numpy.unwrap`` (NumPy's algorithm): derivative 1 in ``p`` (the corrections are
    piecewise constant)."""
    if _plain(p, discont, period):
        return _np.unwrap(p, discont, axis, period=period)
    p = asarray(p)
    nd = _ndim(p)
    axis = _norm_axis(axis, nd, "unwrap")
    dd = diff(p, axis=axis)
    if discont is None:
        discont = period / 2
    dt = _np.result_type(_dtype(dd), _np.asarray(period).dtype)
    if dt.kind in "iu":
        interval_high, rem = divmod(period, 2)
        ambiguous = rem == 0
    else:
        interval_high, ambiguous = period / 2, True
    interval_low = -interval_high
    ddmod = add(remainder(subtract(dd, interval_low), period), interval_low)
    if ambiguous:
        ddmod = where(logical_and(equal(ddmod, interval_low), greater(dd, 0)), interval_high, ddmod)
    corr = stop_gradient(subtract(ddmod, dd))
    corr = where(less(abs(dd), discont), 0, corr)
    p = astype(p, dt)
    pre = (slice(None),) * axis
    head = _getitem(p, pre + (slice(0, 1),))
    rest = add(_getitem(p, pre + (slice(1, None),)), cumsum(astype(corr, dt), axis))
    return concatenate([head, astype(rest, dt)], axis=axis)


# -- NumPy's index helpers (no traced inputs) and in-place functions -------------------------

tril_indices = _np.tril_indices
triu_indices = _np.triu_indices
diag_indices = _np.diag_indices
indices = _np.indices
mgrid = _np.mgrid
ogrid = _np.ogrid


def _in_place(npf, alternative):
    name = npf.__name__

    def f(*args, **kwargs):
        if not _plain(list(args), list(kwargs.values())):
            raise TypeError(f"numpy.{name} writes into an array in place, which a traced array cannot do "
                            f"(traced values are immutable). Use the functional form instead: {alternative}, "
                            "which returns a new array.")
        return npf(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``numpy.{name}`` on NumPy arrays; on a traced array a TypeError naming {alternative}."
    return f


fill_diagonal = _in_place(_np.fill_diagonal, "x.at[pnp.diag_indices(n)].set(val)")
put = _in_place(_np.put, "x.ravel().at[ind].set(v).reshape(x.shape)")
put_along_axis = _in_place(_np.put_along_axis, "x.at[idx].set(values) (idx built as take_along_axis would)")
place = _in_place(_np.place, "x.at[mask].set(vals) or pnp.where(mask, vals, x)")
copyto = _in_place(_np.copyto, "dst = pnp.where(where, src, dst) (or dst.at[idx].set(src))")


# -- the explicit list of what is supported ----------------------------------------------

__all__ = sorted(name for name, v in dict(globals()).items()
                 if not name.startswith("_") and name not in ("annotations", "difflib", "string", "bind",
                                                              "Tracer"))


#: name -> function, the lookup table for NumPy calls that meet a traced value
FUNCTIONS = {name: globals()[name] for name in __all__ if callable(globals()[name])}


def _unsupported(name):
    close = difflib.get_close_matches(name, __all__, n=2)
    hint = f" Closest supported: {', '.join('pnp.' + c for c in close)}." if close else ""
    return TypeError(f"numpy.{name} is not supported on traced arrays: partiald cannot differentiate it. "
                     f"Use the partiald.numpy equivalent (import partiald.numpy as pnp) where one exists.{hint}")
