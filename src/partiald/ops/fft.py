"""The discrete Fourier transform: one linear record, ``fft``, over the trailing axes.

As JAX's ``fft_p``: ``fft_type`` is one of

* ``"FFT"``: complex -> complex, unnormalized (``np.fft.fftn``);
* ``"IFFT"``: complex -> complex, scaled by 1/N (``np.fft.ifftn``);
* ``"RFFT"``: real -> complex, the half spectrum (``np.fft.rfftn``): the last
  axis has ``n // 2 + 1`` entries;
* ``"IRFFT"``: complex half spectrum -> real (``np.fft.irfftn``), whose last
  input axis has ``n // 2 + 1`` entries;

and ``fft_lengths`` the lengths of the trailing ``len(fft_lengths)`` axes of the
real-or-complex signal (the output of IRFFT, the input of the others). Padding,
truncation, other axes and normalizations are partiald.numpy.fft's business.

Cotangents pair with tangents by ``Re(sum(ct * t))`` (no conjugation), so the
transposes are the plain transposes of the matrices: the DFT matrix is
symmetric, so FFT and IFFT are their own transposes. RFFT keeps the first
``n // 2 + 1`` rows of the DFT matrix, and its transpose is
``Re(sum_k ct_k exp(-2 pi i j k / n))``, i.e. ``N * irfft(conj(ct) / w)`` with
``w`` = 2 on the bins whose mirror image was dropped and 1 on the DC and (for
even ``n``) Nyquist bins, which irfft counts once. IRFFT counts every non-edge
bin twice, so its transpose is ``conj(rfft(ct)) * w / N``.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.graph import ShapedArray
from ..core.primitive import Primitive, bind, register
from . import batch_rules
from . import elementwise as ew
from .common import shape_of

FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")


def fft(x, fft_type, fft_lengths):
    """The transform ``fft_type`` of ``x`` over its last ``len(fft_lengths)`` axes."""
    return bind(fft_p, x, fft_type=str(fft_type), fft_lengths=tuple(int(n) for n in fft_lengths))


def complex_dtype(dt):
    """The complex dtype NumPy's FFT computes in (complex64 for float16/float32, else complex128)."""
    dt = np.dtype(dt)
    if dt in (np.float16, np.float32, np.complex64):
        return np.dtype(np.complex64)
    return np.dtype(np.complex128)


def real_dtype(dt):
    return np.dtype(np.float32) if complex_dtype(dt) == np.complex64 else np.dtype(np.float64)


def _out_shape(shape, fft_type, fft_lengths):
    k = len(fft_lengths)
    lead = tuple(shape[:len(shape) - k])
    if fft_type == "RFFT":
        return lead + tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
    if fft_type == "IRFFT":
        return lead + tuple(fft_lengths)
    return tuple(shape)


def _fft_aval(x, fft_type, fft_lengths):
    shape, k = shape_of(x), len(fft_lengths)
    if fft_type not in FFT_TYPES:
        raise ValueError(f"fft: fft_type must be one of {FFT_TYPES}, got {fft_type!r}")
    if k == 0 or k > len(shape) or min(fft_lengths) < 1:
        raise ValueError(f"fft: fft_lengths {fft_lengths} must be 1 to {len(shape)} positive lengths "
                         f"(input shape {shape})")
    dt = np.dtype(x.dtype)
    if fft_type == "IRFFT":
        want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
    else:
        want = tuple(fft_lengths)
    if tuple(shape[-k:]) != want:
        raise ValueError(f"fft: {fft_type} of shape {shape} needs trailing axes {want} for lengths {fft_lengths}")
    if fft_type == "RFFT":
        if dt.kind != "f":
            raise TypeError(f"fft: RFFT needs real input, got {dt}")
        return ShapedArray(_out_shape(shape, fft_type, fft_lengths), complex_dtype(dt))
    if dt.kind != "c":
        raise TypeError(f"fft: {fft_type} needs complex input, got {dt}")
    if fft_type == "IRFFT":
        return ShapedArray(_out_shape(shape, fft_type, fft_lengths), real_dtype(dt))
    return ShapedArray(shape, dt)


def _fft_impl(x, fft_type, fft_lengths):
    x = np.asarray(x)
    axes = tuple(range(-len(fft_lengths), 0))
    if fft_type == "FFT":
        out = np.fft.fftn(x, axes=axes)
    elif fft_type == "IFFT":
        out = np.fft.ifftn(x, axes=axes)
    elif fft_type == "RFFT":
        out = np.fft.rfftn(x, axes=axes)
    else:
        out = np.fft.irfftn(x, s=fft_lengths, axes=axes)
    want = _fft_aval(x, fft_type, fft_lengths).dtype
    return out if out.dtype == want else out.astype(want)


def _edge_weights(fft_lengths, dtype):
    """1 / w along the half-spectrum axis: 1 on DC (and Nyquist for even n), 1/2 elsewhere."""
    n = fft_lengths[-1]
    w = np.full(n // 2 + 1, 0.5, dtype=dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _fft_transpose(ct, x, fft_type, fft_lengths):
    n_total = float(math.prod(fft_lengths))
    if fft_type in ("FFT", "IFFT"):
        return [fft(ct, fft_type, fft_lengths)]
    if fft_type == "RFFT":
        rdt = real_dtype(ct.dtype)
        half = ew.mul(ew.conj(ct), _edge_weights(fft_lengths, rdt))
        return [ew.mul(fft(half, "IRFFT", fft_lengths), n_total)]
    # IRFFT: ct is real; its cotangent is conj(rfft(ct)) * w / N
    spec = fft(ct, "RFFT", fft_lengths)
    rdt = real_dtype(spec.dtype)
    scale = (1.0 / _edge_weights(fft_lengths, np.float64) / n_total).astype(rdt)
    return [ew.conj(ew.mul(spec, scale))]


def _fft_batch(args, dims, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    return fft(batch_rules.moveaxis(x, d, 0), fft_type, fft_lengths), 0


# linear: the tangent is the transform of the tangent; dense along the transformed axes
fft_p = register(Primitive(
    "fft", _fft_impl, _fft_aval,
    jvp=lambda ts, ans, x, fft_type, fft_lengths: fft(ts[0], fft_type, fft_lengths),
    transpose=_fft_transpose, linear=True, batch=_fft_batch, sparsity="fft",
    rule_name="linearity (discrete Fourier transform)"))
