"""The ``fused`` lowerings: the scalar expression a fused loop (compile/native.py,
compiled by numba) computes for one equation.

A form is ``lower(args, params, dtypes) -> str | None`` over the operands'
expressions ``args``; ``dtypes`` lists the operands' dtypes, then the output's.
It returns None where it has no form that rounds exactly as NumPy does (a
mixed-dtype operation, ``x**3``): the region then stays NumPy code. Only IEEE
``+ - * /``, ``sqrt``, selections and comparisons have such forms; anything calling
libm (``exp``, ``tanh``) has none.
"""
from __future__ import annotations

import numpy as np

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_DTYPES = _FLOATS + (np.dtype(np.bool_),)


def _const(value, dt):
    """A typed constant in loop source (for the forms' own 0, 1, -1)."""
    return f"np.{dt.name}({float(value)!r})"


def _same_float(dtypes):
    return dtypes[-1] in _FLOATS and all(d == dtypes[-1] for d in dtypes[:-1])


def binary(op):
    return lambda a, p, d: f"({a[0]} {op} {a[1]})" if _same_float(d) else None


def unary(fmt):
    return lambda a, p, d: fmt.format(*a) if _same_float(d) else None


def sign(a, p, d):
    if not _same_float(d):
        return None
    x, dt = a[0], d[-1]
    return (f"({_const(1, dt)} if {x} > 0 else ({_const(-1, dt)} if {x} < 0 else "
            f"({_const(0, dt)} if {x} == 0 else {x})))")


def safe_mul(a, p, d):
    if not _same_float(d):
        return None
    x, y = a
    return f"({_const(0, d[-1])} if (({x} * {y}) != ({x} * {y})) & (({x} == 0) | ({y} == 0)) else ({x} * {y}))"


def extreme(op):
    # NumPy: a NaN in either operand wins, a tie gives the second operand
    return lambda a, p, d: f"({a[0]} if ({a[0]} {op} {a[1]}) | ({a[0]} != {a[0]}) else {a[1]})" \
        if _same_float(d) else None


def integer_pow(a, p, d):
    if not _same_float(d) or p["n"] not in (1, 2):
        return None
    return a[0] if p["n"] == 1 else f"({a[0]} * {a[0]})"


_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_LOGIC = {"and": "&", "or": "|", "xor": "^"}


def compare(a, p, d):
    return f"({a[0]} {_CMP[p['op']]} {a[1]})" if d[0] == d[1] and d[0] in _DTYPES else None


def logical(a, p, d):
    return f"({a[0]} {_LOGIC[p['op']]} {a[1]})" if all(x == np.bool_ for x in d) else None


def select(a, p, d):
    return f"({a[1]} if {a[0]} else {a[2]})" if d[0] == np.bool_ and d[1] == d[2] == d[3] else None


def convert(a, p, d):
    if d[0] not in _DTYPES:
        return None
    if d[-1] == np.bool_:
        return f"({a[0]} != 0)"
    return f"np.{d[-1].name}({a[0]})" if d[-1] in _FLOATS else None


def logical_not(a, p, d):
    return f"(not {a[0]})" if d[0] == np.bool_ else None


def isfinite(a, p, d):
    return f"np.isfinite({a[0]})" if d[0] in _FLOATS else None
