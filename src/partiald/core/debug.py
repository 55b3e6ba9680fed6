"""``debug_nans``: stop at the first primitive that turns finite values into NaN or inf.

Forward evaluation is checked at every primitive. Inside derivative rules, the
local derivatives they compute may be inf or NaN on purpose where a zero
(co)tangent masks them, so checks there are suspended and the result of each
rule (each equation's tangent or cotangent) is checked instead, naming the
forward operation whose rule produced it.

The setting belongs to the context that turned it on (a thread, an asyncio task:
``contextvars``), so one thread debugging never changes what another computes.
Hot paths read ``STATE[0]`` first: True while *some* context has checking on (a
list index, as cheap as before when nobody debugs); only then they ask
``enabled()`` (the ContextVar) for this context's answer. Threads and tasks
started inside a ``with debug_nans():`` block inherit its context only where
their context is copied from it (``asyncio`` tasks, ``contextvars.copy_context``),
and check while the block is open.
"""
from __future__ import annotations

import contextvars
import os
import threading
import traceback

import numpy as np

#: STATE[0]: True while any context has checking on (a fast pre-test: ``STATE[0] and
#: enabled()`` is this context's answer). STATE[1]: kept at 0 for old readers; the
#: suspension depth is per context (``suspend`` / ``resume``).
STATE = [False, 0]

#: this context's ``with debug_nans():`` nesting depth (checking is on when > 0)
_DEPTH = contextvars.ContextVar("partiald_debug_nans_depth", default=0)
#: this context's depth of derivative rules being evaluated (checks suspended when > 0)
_SUSPENDED = contextvars.ContextVar("partiald_debug_nans_suspended", default=0)
_LOCK = threading.Lock()
_ACTIVE = [0]       # open ``debug_nans`` blocks over all contexts


def enabled():
    """Whether checking is on in this context (thread, task)."""
    return _DEPTH.get() > 0


def suspend():
    """Suspend forward checks in this context while a derivative rule runs; returns
    the token for ``resume``, or None when no context is checking (nothing to do)."""
    if not STATE[0]:
        return None
    return _SUSPENDED.set(_SUSPENDED.get() + 1)


def resume(token):
    """Undo ``suspend`` (``token`` its result)."""
    if token is not None:
        _SUSPENDED.reset(token)


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
    """Raise if ``out`` has NaN/inf while every input was finite (forward evaluation), in a
    context that is checking (callers test ``STATE[0]`` first)."""
    if _DEPTH.get() <= 0 or _SUSPENDED.get() or not _nonfinite(out):
        return
    if any(_nonfinite(a) for a in args):
        return
    raise FloatingPointError(
        f"debug_nans: primitive '{prim.name}' produced {_kind(out)} from finite inputs, at "
        f"{user_line()}")


def check_rule(value, inputs, what, info):
    """Raise if a derivative rule's result is NaN/inf while its (co)tangent inputs were finite."""
    if not (STATE[0] and _DEPTH.get() > 0) or not _nonfinite(value):
        return
    if any(_nonfinite(a) for a in inputs if a is not None):
        return
    where = f", from {info}" if info else ""
    raise FloatingPointError(f"debug_nans: {what} produced {_kind(value)}{where}")


def _kind(x):
    a = np.asarray(x)
    return "NaN" if np.isnan(a).any() else "inf"


class debug_nans:
    """Context manager: raise FloatingPointError at the first primitive, forward or
    backward, that makes a NaN or inf from finite values, naming it and your line.

    The setting is this thread's (this asyncio task's): other threads compute as
    without it, and one instance may be entered by several threads at once.

    Examples:
      >>> import partiald as pdx, partiald.numpy as pnp
      >>> with pdx.debug_nans():
      ...     pdx.grad(lambda x: pnp.sum(pnp.log(x)))(np.array([1.0, -1.0]))
      Traceback (most recent call last):
      ...
      FloatingPointError: debug_nans: primitive 'log' produced NaN from finite inputs, at ...
    """

    # the depth lives in the context, not in the instance: one instance may be entered
    # by several threads at once
    def __enter__(self):
        _DEPTH.set(_DEPTH.get() + 1)
        with _LOCK:
            _ACTIVE[0] += 1
            STATE[0] = True
        return self

    def __exit__(self, *exc):
        _DEPTH.set(max(_DEPTH.get() - 1, 0))
        with _LOCK:
            _ACTIVE[0] -= 1
            STATE[0] = _ACTIVE[0] > 0
        return False

    def __call__(self, f):
        import functools

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            with debug_nans():
                return f(*args, **kwargs)
        return wrapped
