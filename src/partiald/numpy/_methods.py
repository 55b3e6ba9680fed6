"""NumPy-style operators and methods on Tracer, and dispatch of raw NumPy calls.

``np.sin(t)`` on a traced ``t`` reaches ``Tracer.__array_ufunc__`` and
``np.linalg.norm(t)`` reaches ``Tracer.__array_function__``; both dispatch to
the partiald.numpy function of the same name, or raise naming the function.
"""
from __future__ import annotations

import numpy as _np

from ..core.primitive import bind
from ..core.trace import Tracer
from ..ops import elementwise as _ew
from ..ops import shape as _sh
from . import _core as pnp
from . import _logic
from ._core import _getitem, _index_spec
from . import linalg as _linalg
from . import fft as _fft


# -- indexing ---------------------------------------------------------------------

class _AtIndexer:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _At(self.x, idx)


class _At:
    """Functional updates: ``x.at[idx].set(v)`` and ``x.at[idx].add(v)`` return new arrays."""

    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def _scatter(self, v):
        x = self.x
        spec, arrays = _index_spec(x, self.idx)
        target = _sh.gather(pnp.zeros(x.shape, x.dtype), spec, *arrays)
        v = pnp.broadcast_to(pnp.astype(pnp.asarray(v) if not isinstance(v, Tracer) else v, x.dtype), target.shape)
        return spec, arrays, v

    def add(self, v):
        spec, arrays, v = self._scatter(v)
        return pnp.add(self.x, bind(_sh.scatter_add_p, v, *arrays, spec=spec, shape=self.x.shape))

    def set(self, v):
        """Replace the indexed elements by ``v`` (with repeated indices, their values add up)."""
        spec, arrays, v = self._scatter(v)
        ones = _np.ones(_np.shape(v), dtype=self.x.dtype)
        mask = pnp.greater(bind(_sh.scatter_add_p, ones, *arrays, spec=spec, shape=self.x.shape), 0)
        return pnp.where(mask, bind(_sh.scatter_add_p, v, *arrays, spec=spec, shape=self.x.shape), self.x)


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    name = _UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__)
    if method != "__call__" or kwargs.get("out") is not None:
        raise TypeError(f"numpy.{ufunc.__name__}.{method} (or out=) is not supported on traced arrays; "
                        f"use pnp.{name} functionally")
    numpy_own = vars(_np).get(ufunc.__name__) is ufunc
    f = pnp.FUNCTIONS.get(name) if numpy_own else None
    if f is None:
        if not numpy_own:                                       # a SciPy (or other) ufunc
            raise TypeError(f"the ufunc {ufunc.__name__} (not NumPy's; e.g. scipy.special.{ufunc.__name__}) "
                            "is not supported on traced arrays: partiald cannot differentiate it. Use "
                            "partiald.scipy.special's function of that name where one exists.")
        raise pnp._unsupported(ufunc.__name__)
    return f(*inputs)


_UFUNC_NAMES = {"absolute": "abs", "true_divide": "divide", "rint": "round"}


def _array_function(self, func, types, args, kwargs):
    mod = getattr(func, "__module__", "") or ""
    name = func.__name__
    ns = _linalg if mod.endswith("linalg") else _fft if mod.endswith(".fft") else \
        pnp if mod in ("numpy", "numpy._core.fromnumeric") or \
        mod.startswith("numpy._core") or mod.startswith("numpy.lib") else None
    f = ns.FUNCTIONS.get(name) if ns is not None else None
    if f is None:
        sub = mod.split(".")[1] if mod.count(".") and not mod.split(".")[1].startswith("_") else ""
        raise pnp._unsupported((sub + "." if sub and sub != "lib" else "") + name)
    return f(*args, **kwargs)


_DIRECT = (Tracer, float, int, complex)


def _binary_ops(prim, slow):
    """``x op y`` and ``y op x`` for a tracer ``x``: straight to ``bind`` when the other
    operand is a tracer or a Python number (what ``pnp``'s function would pass on
    unchanged), through the ``pnp`` function otherwise."""
    def op(s, o):
        return bind(prim, s, o) if type(o) in _DIRECT else slow(s, o)

    def rop(s, o):
        return bind(prim, o, s) if type(o) in _DIRECT else slow(o, s)
    return op, rop


def _pow(s, o):
    if type(o) is int and o >= 0:
        return bind(_ew.integer_pow_p, s, n=o)     # as pnp.power does for a plain int exponent
    return pnp.power(s, o)


def _install():
    T = Tracer
    T.__add__, T.__radd__ = _binary_ops(_ew.add_p, pnp.add)
    T.__sub__, T.__rsub__ = _binary_ops(_ew.sub_p, pnp.subtract)
    T.__mul__, T.__rmul__ = _binary_ops(_ew.mul_p, pnp.multiply)
    T.__truediv__, T.__rtruediv__ = _binary_ops(_ew.div_p, pnp.divide)
    T.__mod__ = lambda s, o: pnp.remainder(s, o)
    T.__rmod__ = lambda s, o: pnp.remainder(o, s)
    T.__floordiv__ = lambda s, o: pnp.floor_divide(s, o)
    T.__rfloordiv__ = lambda s, o: pnp.floor_divide(o, s)
    T.__divmod__ = lambda s, o: (pnp.floor_divide(s, o), pnp.remainder(s, o))
    T.__rdivmod__ = lambda s, o: (pnp.floor_divide(o, s), pnp.remainder(o, s))
    T.__pow__ = _pow
    T.__rpow__ = lambda s, o: pnp.power(o, s)
    T.__matmul__ = lambda s, o: pnp.matmul(s, o)
    T.__rmatmul__ = lambda s, o: pnp.matmul(o, s)
    T.__neg__ = lambda s: pnp.negative(s)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: pnp.abs(s)
    T.__lt__ = lambda s, o: pnp.less(s, o)
    T.__le__ = lambda s, o: pnp.less_equal(s, o)
    T.__gt__ = lambda s, o: pnp.greater(s, o)
    T.__ge__ = lambda s, o: pnp.greater_equal(s, o)
    T.__eq__ = lambda s, o: pnp.equal(s, o)
    T.__ne__ = lambda s, o: pnp.not_equal(s, o)
    T.__and__ = lambda s, o: pnp.logical_and(s, o)
    T.__or__ = lambda s, o: pnp.logical_or(s, o)
    T.__xor__ = lambda s, o: pnp.logical_xor(s, o)
    T.__invert__ = lambda s: pnp.logical_not(s)
    T.__getitem__ = _getitem
    T.__array_ufunc__ = _array_ufunc
    T.__array_function__ = _array_function
    T.T = property(lambda s: pnp.transpose(s))
    T.at = property(lambda s: _AtIndexer(s))
    T.sum = lambda s, axis=None, keepdims=False: pnp.sum(s, axis, keepdims)
    T.mean = lambda s, axis=None, keepdims=False: pnp.mean(s, axis, keepdims)
    T.max = lambda s, axis=None, keepdims=False: pnp.max(s, axis, keepdims)
    T.min = lambda s, axis=None, keepdims=False: pnp.min(s, axis, keepdims)
    T.prod = lambda s, axis=None, keepdims=False: pnp.prod(s, axis, keepdims)
    T.var = lambda s, axis=None, ddof=0, keepdims=False: pnp.var(s, axis, ddof, keepdims)
    T.std = lambda s, axis=None, ddof=0, keepdims=False: pnp.std(s, axis, ddof, keepdims)
    T.argmax = lambda s, axis=None: pnp.argmax(s, axis)
    T.argmin = lambda s, axis=None: pnp.argmin(s, axis)
    T.reshape = lambda s, *shape: pnp.reshape(s, shape[0] if len(shape) == 1 else shape)
    T.transpose = lambda s, *axes: pnp.transpose(s, (axes[0] if len(axes) == 1 else axes) or None)
    T.astype = lambda s, dtype: pnp.astype(s, dtype)
    T.dot = lambda s, o: pnp.dot(s, o)
    T.squeeze = lambda s, axis=None: pnp.squeeze(s, axis)
    T.ravel = lambda s: pnp.ravel(s)
    T.flatten = lambda s: pnp.ravel(s)
    T.clip = lambda s, a_min=None, a_max=None: pnp.clip(s, a_min, a_max)
    T.copy = lambda s: s
    T.item = lambda s, *args: _np.asarray(s.exit_value("item()")).item(*args)
    T.tolist = lambda s: _np.asarray(s.exit_value("tolist()")).tolist()
    # round(x) and math.floor(x) stay traced (derivative 0, like pnp.round and pnp.floor)
    T.__round__ = lambda s, ndigits=None: pnp.round(s, 0 if ndigits is None else ndigits)
    T.__floor__ = lambda s: pnp.floor(s)
    T.__ceil__ = lambda s: pnp.negative(pnp.floor(pnp.negative(s)))
    T.__trunc__ = lambda s: pnp.where(pnp.less(s, 0), pnp.negative(pnp.floor(pnp.negative(s))), pnp.floor(s))
    # the rest of ndarray's methods that have a functional form
    T.any = lambda s, axis=None, keepdims=False: _logic.any(s, axis, keepdims)
    T.all = lambda s, axis=None, keepdims=False: _logic.all(s, axis, keepdims)
    T.cumsum = lambda s, axis=None: pnp.cumsum(s, axis)
    T.cumprod = lambda s, axis=None: pnp.cumprod(s, axis)
    T.round = lambda s, decimals=0: pnp.round(s, decimals)
    T.swapaxes = lambda s, axis1, axis2: pnp.swapaxes(s, axis1, axis2)
    T.argsort = lambda s, axis=-1: pnp.argsort(s, axis)
    T.trace = lambda s, offset=0, axis1=0, axis2=1: pnp.trace(s, offset, axis1, axis2)
    T.diagonal = lambda s, offset=0, axis1=0, axis2=1: pnp.diagonal(s, offset, axis1, axis2)
    T.nonzero = lambda s: pnp.nonzero(s)
    T.repeat = lambda s, repeats, axis=None: pnp.repeat(s, repeats, axis)
    T.take = lambda s, indices, axis=None: pnp.take(s, indices, axis)
    T.mT = property(lambda s: pnp.swapaxes(s, -1, -2))
    T.itemsize = property(lambda s: s.dtype.itemsize)
    T.nbytes = property(lambda s: s.size * s.dtype.itemsize)
    T.sort = _sort_in_place
    T.fill = lambda s, value: _immutable("fill", "pnp.full_like(x, value)")


def _immutable(method, fix):
    raise TypeError(f"x.{method}(...) modifies the array in place, but a traced array is immutable; "
                    f"use {fix}, which returns a new array")


def _sort_in_place(s, axis=-1, kind=None, order=None):
    _immutable("sort", "pnp.sort(x)")


_install()
