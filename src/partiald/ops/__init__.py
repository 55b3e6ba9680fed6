"""The primitive records, grouped by kind. Importing this package registers them all.

A rule that needs a primitive of another module (elementwise rules reduce a
broadcast cotangent with ``reduce_sum``) looks it up in the registry when it runs.
"""
from . import elementwise, reduce, shape, linalg, scan  # noqa: F401
from . import fft  # noqa: F401
