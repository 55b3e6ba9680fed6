"""SciPy's functions that machine-learning code differentiates (``partiald.scipy.special``)."""
from . import special  # noqa: F401
