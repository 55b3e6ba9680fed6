"""The primitive records, grouped by kind. Importing this package registers them all."""
from . import elementwise, reduce, shape, linalg  # noqa: F401

elementwise._STRUCT.update(reduce_sum=reduce.reduce_sum_p, reshape=shape.reshape_p,
                           broadcast_to=shape.broadcast_to_p)
