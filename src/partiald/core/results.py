"""How results leave partiald: the conventions every transformation's output follows."""
from __future__ import annotations

import numpy as np


def finalize(x):
    """Results leave as NumPy arrays; a 0-d float64 result is a Python float (float in,
    float out, as ``grad`` returns), a 0-d complex128 one a Python complex, other 0-d
    results NumPy scalars (a float32 stays float32)."""
    if isinstance(x, (np.ndarray, np.generic)) and x.ndim == 0:
        if x.dtype == np.float64:
            return float(x)
        return complex(x) if x.dtype == np.complex128 else x[()]
    return x


def unaliased(results, others):
    """``results`` with a copy of any array that may share memory with another result or
    with one of ``others`` (inputs, tangents, cotangents): results are new arrays the
    caller may modify freely. ``np.may_share_memory`` only compares bounds: cheap."""
    for r in results:
        if isinstance(r, np.ndarray):
            break
    else:
        return list(results)
    out = []
    seen = [o for o in others if isinstance(o, np.ndarray)]
    for r in results:
        if isinstance(r, np.ndarray) and any(np.may_share_memory(r, o) for o in seen):
            r = r.copy()
        out.append(r)
        if isinstance(r, np.ndarray):
            seen.append(r)
    return out
