"""``partiald.numpy.fft``: NumPy's discrete Fourier transforms, differentiable.

fft, ifft, rfft, irfft, hfft, ihfft, fft2, ifft2, rfft2, irfft2, fftn, ifftn,
rfftn, irfftn with NumPy's signatures (``n``/``s``, ``axis``/``axes``, ``norm``
in None, 'backward', 'ortho', 'forward'), fftshift and ifftshift; fftfreq and
rfftfreq are NumPy's own (they take no array to differentiate).

On plain arrays these are NumPy's functions. On traced arrays every transform
is one ``fft`` record (ops/fft.py) over the trailing axes: ``n``/``s`` pad with
zeros or truncate first, the axes are moved to the end and back, and ``norm``
is a scaling. Real input to the complex transforms is promoted as NumPy does
(float32 -> complex64, float64 and integers -> complex128). Complex values
follow JAX's convention (a cotangent pairs with a tangent by ``Re(sum(ct * t))``).
"""
from __future__ import annotations

import math as _math
import operator as _operator

import numpy as _np

from ..ops import fft as _fft
from . import _core as pnp
from ._complex import conj as _conj

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "fftn", "ifftn", "rfftn", "irfftn", "fftshift", "ifftshift", "fftfreq", "rfftfreq"]

fftfreq = _np.fft.fftfreq
rfftfreq = _np.fft.rfftfreq

_NORMS = (None, "backward", "ortho", "forward")


def _check_norm(norm, name):
    if norm not in _NORMS:
        raise ValueError(f'pnp.fft.{name}: invalid norm value {norm!r}; should be "backward", "ortho" or "forward"')


def _scale(norm, n, inverse):
    """The factor applied after the record (FFT/RFFT unscaled, IFFT/IRFFT scaled by 1/n)."""
    if norm in (None, "backward"):
        return 1.0
    if norm == "ortho":
        return _math.sqrt(n) if inverse else 1.0 / _math.sqrt(n)
    return float(n) if inverse else 1.0 / n          # "forward"


_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _as_complex(x):
    dt = pnp._dtype(x)
    want = _fft.complex_dtype(dt)
    return x if dt == want else pnp.astype(x, want)


def _as_real(x, name):
    dt = pnp._dtype(x)
    if dt.kind == "c":
        raise TypeError(f"pnp.fft.{name}: the input must be real (NumPy's {name} rejects complex input)")
    want = _fft.real_dtype(dt)
    return x if dt == want else pnp.astype(x, want)


def _resize(x, axis, n):
    """``x`` zero-padded or truncated to length ``n`` along ``axis``."""
    m = pnp._shape(x)[axis]
    if n == m:
        return x
    if n < m:
        index = [slice(None)] * pnp._ndim(x)
        index[axis] = slice(0, n)
        return x[tuple(index)]
    widths = [(0, 0)] * pnp._ndim(x)
    widths[axis] = (0, n - m)
    return pnp.pad(x, widths)


def _norm_axes(x, axes, name):
    nd = pnp._ndim(x)
    out = []
    for a in axes:
        a = _operator.index(a)
        if not -nd <= a < nd:
            raise ValueError(f"pnp.fft.{name}: axis {a} is out of bounds for an array of dimension {nd}")
        out.append(a % nd)
    return out


def _cook(x, s, axes, name, invreal=False):
    """NumPy's ``_cook_nd_args``: the lengths and (normalized) axes of an n-D transform."""
    shape = pnp._shape(x)
    if s is None:
        axes = list(range(len(shape))) if axes is None else list(axes)
        axes = _norm_axes(x, axes, name)
        s = [shape[a] for a in axes]
        if invreal and s:
            s[-1] = (shape[axes[-1]] - 1) * 2
    else:
        s = list(s)
        axes = list(range(-len(s), 0)) if axes is None else list(axes)
        if len(s) != len(axes):
            raise ValueError("Shape and axes have different lengths.")
        axes = _norm_axes(x, axes, name)
        # -1: the whole input length; None (deprecated in NumPy 2): the 1-D transform's default
        s = [shape[a] if v is None and not (invreal and i == len(s) - 1) or v is not None and v == -1
             else (shape[a] - 1) * 2 if v is None else _operator.index(v)
             for i, (v, a) in enumerate(zip(s, axes))]
    for v in s:
        if v < 1:
            raise ValueError(f"pnp.fft.{name}: invalid number of data points ({v}) specified")
    return s, axes


def _transform(x, fft_type, s, axes, norm, inverse):
    """The record over ``axes`` (distinct) with signal lengths ``s``: resize, move, bind, move back."""
    k = len(axes)
    if fft_type == "IRFFT":
        sizes = list(s[:-1]) + [s[-1] // 2 + 1]
    else:
        sizes = list(s)
    for a, n in zip(axes, sizes):
        x = _resize(x, a, n)
    nd = pnp._ndim(x)
    dst = list(range(nd - k, nd))
    x = pnp.moveaxis(x, axes, dst)
    y = _fft.fft(x, fft_type, s)
    y = pnp.moveaxis(y, dst, axes)
    c = _scale(norm, _math.prod(s), inverse)
    return y if c == 1.0 else y * c


def _c2c_nd(a, s, axes, norm, inverse, name):
    a = pnp.asarray(a)
    _check_norm(norm, name)
    a = _as_complex(a)
    s, axes = _cook(a, s, axes, name)
    if not axes:
        return a
    if len(set(axes)) != len(axes):        # repeated axes: NumPy transforms them one at a time, last first
        for n, ax in reversed(list(zip(s, axes))):
            a = _transform(a, "IFFT" if inverse else "FFT", [n], [ax], norm, inverse)
        return a
    return _transform(a, "IFFT" if inverse else "FFT", s, axes, norm, inverse)


def _no_out(out, name):
    if out is not None:
        raise TypeError(f"pnp.fft.{name}: out= is not supported on traced arrays (they are immutable); "
                        "use the returned value")


def _plain(x):
    return not pnp._is_traced(x) and not (isinstance(x, (list, tuple)) and pnp._contains_tracer(x))


# -- one-dimensional ------------------------------------------------------------------------

def fft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.fft``: the one-dimensional discrete Fourier transform."""
    if _plain(a):
        return _np.fft.fft(a, n, axis, norm, out=out)
    _no_out(out, "fft")
    return _c2c_nd(a, None if n is None else [n], [axis], norm, False, "fft")


def ifft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.ifft``: the one-dimensional inverse discrete Fourier transform."""
    if _plain(a):
        return _np.fft.ifft(a, n, axis, norm, out=out)
    _no_out(out, "ifft")
    return _c2c_nd(a, None if n is None else [n], [axis], norm, True, "ifft")


def rfft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.rfft``: the transform of real input, the ``n // 2 + 1`` non-negative frequencies."""
    if _plain(a):
        return _np.fft.rfft(a, n, axis, norm, out=out)
    _no_out(out, "rfft")
    return rfftn(a, None if n is None else [n], [axis], norm)


def irfft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.irfft``: the inverse of rfft, real output of length ``n`` (default ``2 (m - 1)``)."""
    if _plain(a):
        return _np.fft.irfft(a, n, axis, norm, out=out)
    _no_out(out, "irfft")
    return irfftn(a, None if n is None else [n], [axis], norm)


def hfft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.hfft``: the transform of a Hermitian-symmetric signal (real spectrum)."""
    if _plain(a):
        return _np.fft.hfft(a, n, axis, norm, out=out)
    _no_out(out, "hfft")
    _check_norm(norm, "hfft")
    return irfft(_conj(_as_complex(pnp.asarray(a))), n, axis, _SWAP[norm])


def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """``numpy.fft.ihfft``: the inverse of hfft, for real input."""
    if _plain(a):
        return _np.fft.ihfft(a, n, axis, norm, out=out)
    _no_out(out, "ihfft")
    _check_norm(norm, "ihfft")
    return _conj(rfft(a, n, axis, _SWAP[norm]))


# -- n-dimensional --------------------------------------------------------------------------

def fftn(a, s=None, axes=None, norm=None, out=None):
    """``numpy.fft.fftn``: the n-dimensional discrete Fourier transform."""
    if _plain(a):
        return _np.fft.fftn(a, s, axes, norm, out=out)
    _no_out(out, "fftn")
    return _c2c_nd(a, s, axes, norm, False, "fftn")


def ifftn(a, s=None, axes=None, norm=None, out=None):
    """``numpy.fft.ifftn``: the n-dimensional inverse discrete Fourier transform."""
    if _plain(a):
        return _np.fft.ifftn(a, s, axes, norm, out=out)
    _no_out(out, "ifftn")
    return _c2c_nd(a, s, axes, norm, True, "ifftn")


def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``numpy.fft.fft2``: the transform over two axes (the last two by default)."""
    if _plain(a):
        return _np.fft.fft2(a, s, axes, norm, out=out)
    _no_out(out, "fft2")
    return _c2c_nd(a, s, axes, norm, False, "fft2")


def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``numpy.fft.ifft2``: the inverse transform over two axes (the last two by default)."""
    if _plain(a):
        return _np.fft.ifft2(a, s, axes, norm, out=out)
    _no_out(out, "ifft2")
    return _c2c_nd(a, s, axes, norm, True, "ifft2")


def rfftn(a, s=None, axes=None, norm=None, out=None):
    """``numpy.fft.rfftn``: the n-dimensional transform of real input (half spectrum on the last axis)."""
    if _plain(a):
        return _np.fft.rfftn(a, s, axes, norm, out=out)
    _no_out(out, "rfftn")
    a = pnp.asarray(a)
    _check_norm(norm, "rfftn")
    a = _as_real(a, "rfftn")
    s, axes = _cook(a, s, axes, "rfftn")
    if not axes:
        raise ValueError("pnp.fft.rfftn: at least one axis must be transformed")
    if len(set(axes)) != len(axes):
        a = rfftn(a, s[-1:], axes[-1:], norm)
        return _c2c_nd(a, s[:-1], axes[:-1], norm, False, "rfftn") if len(axes) > 1 else a
    return _transform(a, "RFFT", s, axes, norm, False)


def irfftn(a, s=None, axes=None, norm=None, out=None):
    """``numpy.fft.irfftn``: the inverse of rfftn (real output; ``s[-1]`` defaults to ``2 (m - 1)``)."""
    if _plain(a):
        return _np.fft.irfftn(a, s, axes, norm, out=out)
    _no_out(out, "irfftn")
    a = pnp.asarray(a)
    _check_norm(norm, "irfftn")
    a = _as_complex(a)
    s, axes = _cook(a, s, axes, "irfftn", invreal=True)
    if not axes:
        raise ValueError("pnp.fft.irfftn: at least one axis must be transformed")
    if len(set(axes)) != len(axes):
        if len(axes) > 1:
            a = _c2c_nd(a, s[:-1], axes[:-1], norm, True, "irfftn")
        return _transform(a, "IRFFT", s[-1:], axes[-1:], norm, True)
    return _transform(a, "IRFFT", s, axes, norm, True)


def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``numpy.fft.rfft2``: rfftn over two axes (the last two by default)."""
    if _plain(a):
        return _np.fft.rfft2(a, s, axes, norm, out=out)
    _no_out(out, "rfft2")
    return rfftn(a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """``numpy.fft.irfft2``: irfftn over two axes (the last two by default)."""
    if _plain(a):
        return _np.fft.irfft2(a, s, axes, norm, out=out)
    _no_out(out, "irfft2")
    return irfftn(a, s, axes, norm)


# -- shifts -------------------------------------------------------------------------------

def _shift(x, axes, sign, name):
    x = pnp.asarray(x)
    shape = pnp._shape(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, (int, _np.integer)):
        axes = (int(axes),)
    axes = _norm_axes(x, axes, name)
    if not axes:
        return x
    return pnp.roll(x, [sign * (shape[a] // 2) for a in axes], axes)


def fftshift(x, axes=None):
    """``numpy.fft.fftshift``: the zero frequency moved to the center (a roll)."""
    if _plain(x):
        return _np.fft.fftshift(x, axes)
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """``numpy.fft.ifftshift``: the inverse of fftshift."""
    if _plain(x):
        return _np.fft.ifftshift(x, axes)
    return _shift(x, axes, -1, "ifftshift")


FUNCTIONS = {name: globals()[name] for name in __all__}
