"""Argument helpers shared by the ``partiald`` subcommands (partiald.cli and the
``cli`` modules of optim/, plot/ and nn/): the usage error and ``--at`` points.

A module of its own so that the subcommands need not import the command line
that imports them.
"""
from __future__ import annotations

import numpy as np


class UsageError(ValueError):
    """Bad command-line input: reported in one paragraph, exit status 2."""


def variable_name(text, option):
    """A variable name as formulas spell it (``θ`` -> ``theta``); UsageError naming ``option``
    for text that is not one name."""
    from .core.errors import ParseError
    from .symbolic.parser import parse
    try:
        ast = parse(text)
    except ParseError:
        ast = None
    if ast is None or ast[0] != "name":
        raise UsageError(f"{option} expects variable names, got {text!r}")
    return ast[1]


def parse_point(text, variables, option="--at"):
    """``{"x": 1.0, "y": 2.0}`` from ``"x=1,y=2"``: one finite value (a number or a constant
    formula such as ``pi/2``) for each of ``variables``; UsageError naming ``option`` otherwise."""
    from .symbolic.expr import expr
    point = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"{option} expects name=value pairs separated by commas (e.g. x=1,y=2), got {item!r}")
        if name not in variables and not name.isascii():
            name = variable_name(name, option)      # θ=1 names the variable theta
        value_text = value.strip()
        v = expr(value_text)
        if v.variables:
            raise UsageError(f"{option} value for {name} must be a number, got {value_text!r}")
        number = float(v)
        if not np.isfinite(number):
            raise UsageError(f"{option} value for {name} is {number} ({value_text!r}): give a finite number")
        point[name] = number
    unknown = sorted(set(point) - set(variables))
    if unknown:
        raise UsageError(f"{option} names {', '.join(unknown)}, which the formula does not use "
                         f"(its variables: {', '.join(variables) or 'none'})")
    missing = [v for v in variables if v not in point]
    if missing:
        raise UsageError(f"{option} gives no value for {', '.join(missing)}; the formula uses "
                         f"{', '.join(variables)}")
    return point
