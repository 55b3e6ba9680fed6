"""NumPy-compatible functions that partiald can differentiate.

Write ordinary NumPy code with ``import partiald.numpy as pnp``. On plain
arrays these functions compute what NumPy computes; on traced arrays they
record primitives. The list is explicit: a NumPy function that is not here
raises an error naming it when it meets a traced value.
"""
from __future__ import annotations

import difflib
import string

import numpy as _np

from ..core.primitive import bind
from ..core.trace import Tracer
from ..ops import elementwise as _ew
from ..ops import reduce as _red
from ..ops import shape as _sh
from . import linalg  # noqa: F401  (pnp.linalg)

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


def log2(x):
    return divide(log(x), float(_np.log(2.0)))


def log10(x):
    return divide(log(x), float(_np.log(10.0)))


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
    from ._methods import _getitem        # works on NumPy arrays too: a traced index is enough
    return _getitem(a, (slice(None),) * (axis % nd) + (idx,))


def diagonal(a):
    return einsum("ii->i", a)


# -- creation (constants) ---------------------------------------------------------------

zeros = _np.zeros
ones = _np.ones
empty = _np.zeros
full = _np.full
eye = _np.eye
identity = _np.identity
arange = _np.arange
linspace = _np.linspace


def zeros_like(x, dtype=None):
    return _np.zeros(_shape(x), dtype=dtype or _dtype(x))


def ones_like(x, dtype=None):
    return _np.ones(_shape(x), dtype=dtype or _dtype(x))


def full_like(x, fill_value, dtype=None):
    return _np.full(_shape(x), fill_value, dtype=dtype or _dtype(x))


def shape(x):
    return _shape(x)


def ndim(x):
    return _ndim(x)


def size(x):
    return int(_np.prod(_shape(x), dtype=_np.int64))


# -- the explicit list of what is supported ----------------------------------------------

__all__ = sorted(name for name, v in dict(globals()).items()
                 if not name.startswith("_") and name not in ("annotations", "difflib", "string", "bind",
                                                              "Tracer"))


#: name -> function, the lookup table for NumPy calls that meet a traced value
FUNCTIONS = {name: globals()[name] for name in __all__ if callable(globals()[name])}


def __getattr__(name):
    close = difflib.get_close_matches(name, __all__, n=3)
    hint = f" Closest supported names: {', '.join('pnp.' + c for c in close)}." if close else ""
    raise AttributeError(f"partiald.numpy has no function {name!r}: numpy.{name} is not supported "
                         f"for differentiation.{hint}")


def _unsupported(name):
    close = difflib.get_close_matches(name, __all__, n=2)
    hint = f" Closest supported: {', '.join('pnp.' + c for c in close)}." if close else ""
    return TypeError(f"numpy.{name} is not supported on traced arrays: partiald cannot differentiate it. "
                     f"Use the partiald.numpy equivalent (import partiald.numpy as pnp) where one exists.{hint}")


from . import _methods  # noqa: E402,F401  (installs operators on Tracer)
