"""``debug_nans``: stop at the first primitive that turns finite values into NaN or inf.

Forward evaluation is checked at every primitive. Inside derivative rules, the
local derivatives they compute may be inf or NaN on purpose where a zero
(co)tangent masks them, so checks there are suspended and the result of each
rule (each equation's tangent or cotangent) is checked instead, naming the
forward operation whose rule produced it.
"""
from __future__ import annotations

import os
import traceback

import numpy as np

#: STATE[0]: checking on; STATE[1]: suspension depth (inside derivative rules)
STATE = [False, 0]

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY = os.path.dirname(np.__file__)


def user_line():
    """``file:line: code`` of the innermost frame outside partiald and NumPy."""
    for frame in reversed(traceback.extract_stack()[:-1]):
        fn = os.path.abspath(frame.filename)
        if fn.startswith(_PKG) or fn.startswith(_NUMPY) or "contextlib" in fn:
            continue
        return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return "<unknown location>"


def _nonfinite(x):
    try:
        a = np.asarray(x)
    except Exception:
        return False
    return a.dtype.kind in "fc" and a.size > 0 and not np.isfinite(a).all()


def check(prim, args, out):
    """Raise if ``out`` has NaN/inf while every input was finite (forward evaluation)."""
    if STATE[1] or not _nonfinite(out):
        return
    if any(_nonfinite(a) for a in args):
        return
    raise FloatingPointError(
        f"debug_nans: primitive '{prim.name}' produced {_kind(out)} from finite inputs, at "
        f"{user_line()}")


def check_rule(value, inputs, what, info):
    """Raise if a derivative rule's result is NaN/inf while its (co)tangent inputs were finite."""
    if not STATE[0] or not _nonfinite(value) or any(_nonfinite(a) for a in inputs if a is not None):
        return
    where = f", from {info}" if info else ""
    raise FloatingPointError(f"debug_nans: {what} produced {_kind(value)}{where}")


def _kind(x):
    a = np.asarray(x)
    return "NaN" if np.isnan(a).any() else "inf"


class debug_nans:
    """Context manager: raise FloatingPointError at the first primitive, forward or
    backward, that makes a NaN or inf from finite values, naming it and your line.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> with pdx.debug_nans():
      ...     pdx.grad(lambda x: pnp.sum(pnp.log(x)))(np.array([1.0, -1.0]))
      Traceback (most recent call last):
      ...
      FloatingPointError: debug_nans: primitive 'log' produced NaN from finite inputs, at ...
    """

    def __enter__(self):
        self._prev = STATE[0]
        STATE[0] = True
        return self

    def __exit__(self, *exc):
        STATE[0] = self._prev
        return False

    def __call__(self, f):
        import functools

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            with debug_nans():
                return f(*args, **kwargs)
        return wrapped
