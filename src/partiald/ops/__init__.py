"""The primitive records, grouped by kind. Importing this package registers them all."""
from . import elementwise, reduce, shape, linalg  # noqa: F401
