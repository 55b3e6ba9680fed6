"""autograd.scipy.stats -> partiald.scipy.stats: each distribution is a module here
whose names come from partiald's namespace of that name (SciPy's for the rest)."""
import importlib as _il

try:
    _p = _il.import_module("partiald.scipy.stats")
except ImportError:  # partiald has no such module
    _p = None

from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t  # noqa: E402,F401
