"""autograd.scipy.stats -> partiald.scipy.stats: each distribution is a module here
whose names come from partiald's namespace of that name (SciPy's for the rest)."""
from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t  # noqa: F401
