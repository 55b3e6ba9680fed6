"""autograd.core: only the differential operators have partiald
counterparts; vspace and the tracer internals do not."""
# autograd.core's make_vjp/make_jvp are the unary forms (fun, x); the package-level ones
# take argnum and the function's arguments
from . import _make_jvp as make_jvp  # noqa: F401
from . import _make_vjp as make_vjp  # noqa: F401


def primitive(f):
    from .extend import primitive as p
    return p(f)


# autograd's table of VJP rules: partiald keeps its rules in its primitive
# records, so this table is empty and only lets test modules import.
primitive_vjps = {}
