"""SciPy's convolution and correlation, differentiable in both inputs (``partiald.scipy.signal``).

``convolve``, ``correlate``, ``convolve2d``, ``correlate2d`` and ``fftconvolve`` with
``scipy.signal``'s signatures, modes and output shapes: 'full' (``n + m - 1``), 'same'
(the shape of ``in1``, centered as SciPy centers it) and 'valid' (``|n - m| + 1``, which
needs one input at least as large as the other in every dimension). ``correlate``
conjugates ``in2`` for complex input. Real inputs give real outputs.

Everything is a composition of partiald.numpy functions, so grad, jit, vmap and higher
orders apply. Methods: 'direct' gathers every window of the zero-padded input with one
integer-array index and contracts it with the flipped kernel (exact; memory is output
size * kernel size); 'fft' multiplies FFTs (``pnp.fft.rfftn``/``irfftn`` for real input).
``method='auto'`` (the default) is direct for integer and bool input and whenever the
gathered windows have at most ``2**22`` elements (about 4 million), else fft: SciPy's own
choice is by measured timings, so results agree to rounding, not bit for bit.
"""
from __future__ import annotations

import numpy as _np

from .. import numpy as pnp
from ..numpy import _core

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve"]

_MODES = ("full", "valid", "same")


def _check_mode(mode):
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"Acceptable mode flags are 'valid', 'same', or 'full', not mode={mode!r}")


def _check_method(method):
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"Acceptable method flags are 'auto', 'direct', or 'fft' (got {method!r}).")


def _inputs(in1, in2, name):
    in1, in2 = pnp.asarray(in1), pnp.asarray(in2)
    if in1.ndim != in2.ndim:
        raise ValueError(f"{name}: in1 and in2 should have the same dimensionality "
                         f"(got shapes {tuple(in1.shape)} and {tuple(in2.shape)})")
    return in1, in2


def _valid_ok(s1, s2):
    return all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2))


def _valid_error(s1, s2):
    return ValueError("For 'valid' mode, one must be at least as large as the other in every "
                      f"dimension (got shapes {tuple(s1)} and {tuple(s2)})")


def _region(s1, s2, mode):
    """(starts, lens) of the mode's block inside the full convolution."""
    if mode == "full":
        return tuple(0 for _ in s1), tuple(a + b - 1 for a, b in zip(s1, s2))
    if mode == "same":      # SciPy's _centered(full, s1): start (full - n) // 2 = (m - 1) // 2
        return tuple((b - 1) // 2 for b in s2), tuple(s1)
    if not _valid_ok(s1, s2):
        raise _valid_error(s1, s2)
    return (tuple(min(a, b) - 1 for a, b in zip(s1, s2)),
            tuple(abs(a - b) + 1 for a, b in zip(s1, s2)))


def _empty(in1, in2):
    return _np.zeros(0, _np.result_type(pnp._dtype(in1), pnp._dtype(in2)))


def _conj(x):
    return pnp.conj(x) if pnp._dtype(x).kind == "c" else x


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve``: N-D convolution of two arrays of the same ndim,
    differentiable in both. ``method`` is 'auto', 'direct' or 'fft' (see the module)."""
    _check_mode(mode)
    _check_method(method)
    in1, in2 = _inputs(in1, in2, "convolve")
    if in1.ndim == 0:
        return in1 * in2
    if in1.size == 0 or in2.size == 0:
        return _empty(in1, in2)
    starts, lens = _region(tuple(in1.shape), tuple(in2.shape), mode)
    return _core._conv_region(in1, in2, starts, lens, method)


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate``: ``z[k] = sum_l in1[l] * conj(in2[l - k + m - 1])``,
    the convolution of ``in1`` with ``in2`` reversed and conjugated; differentiable in both."""
    _check_mode(mode)
    _check_method(method)
    in1, in2 = _inputs(in1, in2, "correlate")
    if in1.ndim == 0:
        return in1 * _conj(in2)
    if in1.size == 0 or in2.size == 0:
        return _empty(in1, in2)
    starts, lens = _region(tuple(in1.shape), tuple(in2.shape), mode)
    return _core._conv_region(in1, pnp.flip(_conj(in2)), starts, lens, method)


_BOUNDARIES = ("fill", "pad", "wrap", "circular", "symm", "symmetric")


def _inputs2d(in1, in2, mode, boundary, fillvalue, name):
    _check_mode(mode)
    if boundary not in _BOUNDARIES:
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                         f"'symmetric' (or 'symm') (got {boundary!r}).")
    if boundary not in ("fill", "pad"):
        raise NotImplementedError(
            f"partiald.scipy.signal.{name}: boundary={boundary!r} is not implemented; only "
            "boundary='fill' with fillvalue=0 is (not 'wrap'/'circular' or 'symm'/'symmetric'). "
            "Pad the input yourself with pnp.pad(x, ..., mode='wrap' or 'symmetric') and use mode='valid'.")
    if pnp._is_traced(fillvalue) or _np.any(_np.asarray(fillvalue) != 0):
        raise NotImplementedError(
            f"partiald.scipy.signal.{name}: only fillvalue=0 is implemented (got {fillvalue!r}); "
            "pad the input yourself with pnp.pad(x, ..., constant_values=c) and use mode='valid'.")
    in1, in2 = pnp.asarray(in1), pnp.asarray(in2)
    if in1.ndim != 2 or in2.ndim != 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays (got shapes "
                         f"{tuple(in1.shape)} and {tuple(in2.shape)})")
    if mode == "valid" and not _valid_ok(tuple(in1.shape), tuple(in2.shape)):
        raise _valid_error(in1.shape, in2.shape)
    return in1, in2


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """``scipy.signal.convolve2d`` with ``boundary='fill'`` and ``fillvalue=0`` (the
    defaults); other boundaries raise NotImplementedError. Differentiable in both inputs."""
    in1, in2 = _inputs2d(in1, in2, mode, boundary, fillvalue, "convolve2d")
    return convolve(in1, in2, mode, method="direct")


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """``scipy.signal.correlate2d`` with ``boundary='fill'`` and ``fillvalue=0``; ``in2`` is
    conjugated for complex input. When 'valid' mode has ``in2`` larger than ``in1``, SciPy
    swaps the inputs and reverses the output, which for complex input conjugates the
    result compared with ``correlate``; this follows SciPy."""
    in1, in2 = _inputs2d(in1, in2, mode, boundary, fillvalue, "correlate2d")
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    if mode == "valid" and s1 != s2 and all(b >= a for a, b in zip(s1, s2)):
        out = correlate(in2, in1, mode, method="direct")      # SciPy's swap, then reversal
        return pnp.flip(out)
    if mode != "same":
        return correlate(in1, in2, mode, method="direct")
    if in1.size == 0 or in2.size == 0:
        return _empty(in1, in2)
    # SciPy's correlate2d centers 'same' at m // 2, where correlate centers at (m - 1) // 2
    return _core._conv_region(in1, pnp.flip(_conj(in2)), tuple(b // 2 for b in s2), s1, "direct")


def _centered(arr, newshape):
    shape = tuple(arr.shape)
    start = [(c - n) // 2 for c, n in zip(shape, newshape)]
    return arr[tuple(slice(s, s + n) for s, n in zip(start, newshape))]


def fftconvolve(in1, in2, mode="full", axes=None):
    """``scipy.signal.fftconvolve``: convolution by FFT over ``axes`` (all by default);
    the other axes broadcast (their lengths must be equal or 1). Differentiable in both."""
    _check_mode(mode)
    in1, in2 = _inputs(in1, in2, "fftconvolve")
    if in1.ndim == 0:
        return in1 * in2
    if in1.size == 0 or in2.size == 0:
        return _empty(in1, in2)
    nd = in1.ndim
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    if axes is None:
        ax = list(range(nd))
    else:
        ax = [axes] if isinstance(axes, (int, _np.integer)) else list(axes)
        if not ax:
            raise ValueError("axes cannot be empty")
        if any(not -nd <= a < nd for a in ax):
            raise ValueError(f"axes exceeds dimensionality of input (axes={axes!r}, ndim={nd})")
        ax = [a % nd for a in ax]
        if len(set(ax)) != len(ax):
            raise ValueError("all axes must be unique")
    ax = [a for a in ax if s1[a] != 1 and s2[a] != 1]            # as SciPy: length-1 axes just multiply
    for a in range(nd):
        if a not in ax and s1[a] != s2[a] and s1[a] != 1 and s2[a] != 1:
            raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    if mode == "valid" and not _valid_ok([s1[a] for a in ax], [s2[a] for a in ax]):
        raise _valid_error(s1, s2)
    if mode == "valid" and not all(s1[a] >= s2[a] for a in ax):
        in1, in2, s1, s2 = in2, in1, s2, s1                      # SciPy's swap (convolution commutes)
    if not ax:
        ret = in1 * in2
    else:
        fshape = [s1[a] + s2[a] - 1 for a in ax]
        if pnp._dtype(in1).kind == "c" or pnp._dtype(in2).kind == "c":
            ret = pnp.fft.ifftn(pnp.fft.fftn(in1, fshape, ax) * pnp.fft.fftn(in2, fshape, ax), fshape, ax)
        else:
            f1 = in1 if pnp._dtype(in1).kind == "f" else pnp.astype(in1, _np.float64)
            f2 = in2 if pnp._dtype(in2).kind == "f" else pnp.astype(in2, _np.float64)
            ret = pnp.fft.irfftn(pnp.fft.rfftn(f1, fshape, ax) * pnp.fft.rfftn(f2, fshape, ax), fshape, ax)
    if mode == "full":
        return ret
    if mode == "same":
        return _centered(ret, s1)
    return _centered(ret, [tuple(ret.shape)[a] if a not in ax else s1[a] - s2[a] + 1 for a in range(nd)])
