"""Bounds on the cost of formula work: a CPU-time budget for reading, simplifying and
differentiating formulas, and the environment variables that set the limits.

Every limit on formulas raises :class:`partiald.ExpressionTooLarge` (a ``ValueError``)
quickly instead of running for minutes or exhausting memory. They are module-level
constants, read when a formula operation starts (so assigning a new value takes effect at
once); the two below can also be set by an environment variable before partiald is
imported:

====================================  =====================  ===============================
limit                                 where                  default (environment variable)
====================================  =====================  ===============================
text length, characters               ``parser.MAX_TEXT``    1,000,000
nesting depth                         ``parser.MAX_DEPTH``   500
distinct subexpressions               ``canonical.MAX_NODES``  200,000
bits of an exact number               ``canonical.MAX_INT_BITS``  4096
derivative order                      ``expr.MAX_ORDER``     1000
printed characters                    ``printing.MAX_PRINTED_CHARS``  10,000,000
                                                             (``PARTIALD_MAX_PRINTED_CHARS``)
CPU seconds per operation             ``limits.MAX_SECONDS``  10 (``PARTIALD_MAX_SECONDS``)
====================================  =====================  ===============================

The CPU budget (``MAX_SECONDS``) covers one public operation: ``expr(text)``, one
``Expr.diff`` call (all its orders), ``gradient()``, ``hessian()``, ``explain()``, and,
on the command line, each command's derivatives. It is CPU time of the process
(``time.process_time``), checked in the loops that visit nodes, so a derivative that
grows too large stops with a message naming the work and how to allow more, and the
formula and its derivative caches stay usable. ``0`` or ``inf`` turns it off.
"""
from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager

from ..core.errors import ExpressionTooLarge


def env_number(name, default, kind=float):
    """The value of the environment variable ``name`` as a positive ``kind`` (``inf`` and
    ``0`` allowed for floats), or ``default`` when it is unset; ValueError when it is not
    a number."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = kind(text.strip())
    except ValueError:
        raise ValueError(f"the environment variable {name}={text!r} must be a number") from None
    if value < 0 or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"the environment variable {name}={text!r} must be a non-negative number")
    return value


#: CPU seconds one formula operation may take (0 or inf: no limit)
MAX_SECONDS = env_number("PARTIALD_MAX_SECONDS", 10.0)
#: the clock is read once per this many ticks (a tick is one node visited)
CHECK_EVERY = 256


class _Budget(threading.local):
    expires = None      # process_time() at which work stops, or None: no budget running
    seconds = 0.0
    what = ""
    count = 0


_BUDGET = _Budget()


@contextmanager
def deadline(what, seconds=None):
    """Run the body under a CPU-time budget of ``seconds`` (default :data:`MAX_SECONDS`).

    ``what`` names the work in the message (``"differentiating d/dx"``). Budgets nest: inside
    a running one, the outer budget (and its description) holds.
    """
    b = _BUDGET
    if b.expires is not None:
        yield
        return
    seconds = MAX_SECONDS if seconds is None else seconds
    if not seconds or seconds == math.inf:
        yield
        return
    b.expires = time.process_time() + seconds
    b.seconds, b.what, b.count = seconds, what, 0
    try:
        yield
    finally:
        b.expires = None


def tick():
    """Count one unit of work; raise ExpressionTooLarge once the running budget is spent."""
    b = _BUDGET
    if b.expires is None:
        return
    b.count += 1
    if b.count >= CHECK_EVERY:
        b.count = 0
        if time.process_time() > b.expires:
            seconds = b.seconds
            b.expires = None
            raise ExpressionTooLarge(
                f"{b.what} took more than {seconds:g} s of CPU time, the limit; the result grows too large. "
                f"To allow more, set the environment variable PARTIALD_MAX_SECONDS (e.g. "
                f"PARTIALD_MAX_SECONDS={max(60, int(seconds * 6))}) or partiald.symbolic.limits.MAX_SECONDS")
