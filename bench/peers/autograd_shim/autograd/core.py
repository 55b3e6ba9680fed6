"""autograd.core: only the differential operators have partiald
counterparts; vspace and the tracer internals do not."""
from . import make_jvp, make_vjp  # noqa: F401


def primitive(f):
    from .extend import primitive as p
    return p(f)


# autograd's table of VJP rules: partiald keeps its rules in its primitive
# records, so this table is empty and only lets test modules import.
primitive_vjps = {}
