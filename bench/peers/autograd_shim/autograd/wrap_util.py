from . import _nary as unary_to_nary  # noqa: F401
