import scipy.stats as _sps

from . import _p


def __getattr__(name):
    """partiald's function where it has one; otherwise SciPy's (random sampling and
    other helpers; SciPy's functions fail on traced values with partiald's error)."""
    ns = getattr(_p, "t", None) if _p is not None else None
    if ns is not None and hasattr(ns, name):
        return getattr(ns, name)
    return getattr(_sps.t, name)
