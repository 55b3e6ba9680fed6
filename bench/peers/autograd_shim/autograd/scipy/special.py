import importlib as _il

import scipy.special as _s

_p = None
try:
    _p = _il.import_module("partiald.scipy.special")
except ImportError:  # partiald has no such module
    pass


def __getattr__(name):
    """partiald's function where it has one; otherwise SciPy's, which fails on traced
    values with partiald's 'not supported' error."""
    if _p is not None and hasattr(_p, name):
        return getattr(_p, name)
    return getattr(_s, name)
