"""SciPy's functions that machine-learning code differentiates (``partiald.scipy.special``)."""
from . import special  # noqa: F401
from . import stats  # noqa: F401,E402  (partiald.scipy.stats)
from . import linalg  # noqa: F401,E402
from . import signal  # noqa: F401,E402  (partiald.scipy.signal)
