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
from ..ops import shape as _sh

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64
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
    if isinstance(x, (Tracer, bool, int, float)):
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


def where(condition, x=None, y=None):
    """Select ``x`` where ``condition`` holds, else ``y``.

    The branch not taken contributes exactly zero to derivatives, even where
    its own derivative is inf or NaN: ``where(x > 0, sqrt(x), 0)`` has
    gradient 0 at 0.
    """
    if x is None or y is None:
        raise TypeError("pnp.where needs three arguments (condition, x, y); "
                        "the one-argument form (indices) cannot be differentiated, use np.nonzero on values")
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
    return divide(sum(square(d), axes, keepdims), float(n - ddof) if n - ddof > 0 else _np.nan)


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


def moveaxis(x, source, destination):
    nd = _ndim(x)
    perm = [i for i in range(nd) if i != source % nd]
    perm.insert(destination % nd, source % nd)
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


def concatenate(arrays, axis=0):
    arrays = [_arr(a) if hasattr(_arr(a), "shape") else _np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
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


def stack(arrays, axis=0):
    arrays = [_arr(a) if hasattr(_arr(a), "shape") else _np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(arrays):
    arrays = [_arr(a) for a in arrays]
    return concatenate(arrays, axis=0 if _ndim(arrays[0]) == 1 else 1)


def vstack(arrays):
    return concatenate([reshape(a, (1, -1)) if _ndim(a) == 1 else a for a in arrays], axis=0)


# -- products ------------------------------------------------------------------------

_LETTERS = string.ascii_letters


def einsum(subscripts, *operands):
    """``numpy.einsum`` (explicit or implicit output, ``...`` broadcasting, repeated
    indices for diagonals and traces)."""
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


def trace(a):
    return einsum("ii->", a)


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


def diagonal(a):
    return einsum("ii->i", a)


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


# -- indexing (Tracer.__getitem__, and take: a traced index is enough) ----------------

def _index_spec(x, idx):
    """Normalize a NumPy index into (spec, arrays) for the gather primitive."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    # boolean masks become integer arrays (their values must be known)
    expanded = []
    for item in idx:
        if isinstance(item, (list,)):
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
