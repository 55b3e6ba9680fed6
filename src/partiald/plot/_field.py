"""A function to plot, whatever form it came in, with its partial derivatives.

``Field`` wraps an Expr, a formula string or a Python function of scalars
(written with ``partiald.numpy``) behind one vectorized interface: values and
first partials on whole grids at once. For an Expr the partials are the exact
derivative formulas, compiled; for a Python function they come from one
reverse-mode pass of ``sum(f(X, Y))`` over the grid (each grid point is
independent, so the gradient of the sum is every point's gradient).
Never finite differences, never a Python loop over points.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from .. import numpy as pnp
from ..api import value_and_grad
from ..symbolic.expr import Expr, expr


def fmt(v):
    """A number for a label: ``8``, ``-0.5``, ``1.234e-05``, ``nan``."""
    v = float(v)
    if np.isfinite(v) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def short_list(items, keep=4):
    """``a, b, c`` for a few items; ``a, b, c, d, … (+296 more)`` for many (labels of
    functions of hundreds of variables stay one line)."""
    items = list(items)
    if len(items) <= keep + 2:
        return ", ".join(items)
    return ", ".join(items[:keep]) + f", … (+{len(items) - keep} more)"


def partial_label(name):
    """``∂f/∂x``."""
    return f"∂f/∂{name}"


class Field:
    """``f`` as a vectorized function of named scalar variables, with its partials.

    Args:
      f: an Expr, formula text, or a Python function of scalars.
      extra: variable names the plot needs even if an Expr does not use them
        (``"x^2"`` plotted over x and y is constant along y).
    """

    def __init__(self, f, extra=()):
        if isinstance(f, (str, Expr)):
            e = expr(f)
            names = tuple(sorted(set(e.variables) | set(extra)))
            self.expr = Expr(e.node, names) if names != e.variables else e
            self.names = names
            self.fn = None
        elif callable(f):
            self.expr = None
            self.fn = f
            self.names = _parameter_names(f)
            unknown = [v for v in extra if v not in self.names]
            if unknown:
                raise ValueError(f"the function's parameters are {', '.join(self.names)}; it has no "
                                 f"{', '.join(unknown)}")
        else:
            raise TypeError(f"cannot plot a {type(f).__name__}: pass an Expr, formula text such as "
                            f"'x^2 + 3*x*y', or a Python function of scalars")
        if not self.names:
            raise ValueError(f"{self.text()} has no variables to plot against")

    # -- labels -------------------------------------------------------------------
    def signature(self, fixed=None):
        """``f(x, y)``, or ``f(x; y=2)`` with some variables held fixed."""
        fixed = fixed or {}
        free = [v for v in self.names if v not in fixed]
        held = [f"{v}={fmt(fixed[v])}" for v in self.names if v in fixed]
        return f"f({short_list(free)}" + (f"; {short_list(held)}" if held else "") + ")"

    def text(self):
        """``f(x, y) = x² + 3x⋅y`` for a formula, ``f(x, y)`` for a function."""
        if self.expr is None:
            name = self.fn.__name__ if self.fn.__name__ != "<lambda>" else "f"
            return f"{name}({', '.join(self.names)})"
        return f"{self.signature()} = {self.expr.unicode()}"

    def title(self):
        """The formula typeset by mathtext where possible (``text()`` otherwise)."""
        from ._mpl import math_or_text
        text = self.text()
        if self.expr is None:
            return text
        latex = f"f({', '.join(self.names)}) = {self.expr.latex()}"
        return math_or_text(latex, text)

    def partial_text(self, name):
        """The formula of ∂f/∂name (unicode), or None for a Python function."""
        if self.expr is None:
            return None
        return self.expr.diff(name).unicode()

    # -- numbers ------------------------------------------------------------------
    def _args(self, values):
        missing = [v for v in self.names if v not in values]
        if missing:
            raise ValueError(f"no value for {', '.join(missing)}; f has variables {', '.join(self.names)}")
        arrays = np.broadcast_arrays(*[np.asarray(values[v], dtype=np.float64) for v in self.names])
        return [np.array(a) for a in arrays]

    def value(self, values):
        """f on arrays: ``values`` maps every variable name to an array (they broadcast)."""
        args = self._args(values)
        with _quiet():
            if self.expr is not None:
                out = self.expr.compile()(*args)
            else:
                out = _call(self.fn, args)
        return _shaped(out, args[0].shape)

    def value_and_partials(self, values, wrt):
        """``(f, {v: ∂f/∂v for v in wrt})`` on arrays, in one vectorized pass."""
        args = self._args(values)
        shape = args[0].shape
        with _quiet():
            if self.expr is not None:
                val = self.expr.compile()(*args)
                parts = {v: self.expr.diff(v).compile()(*args) for v in wrt}
            else:
                idx = tuple(self.names.index(v) for v in wrt)
                fn = self.fn

                def total(*a):
                    return pnp.sum(_call(fn, a))
                val = _call(fn, args)
                _, grads = value_and_grad(total, argnums=idx)(*args)
                parts = dict(zip(wrt, grads))
        return _shaped(val, shape), {v: _shaped(p, shape) for v, p in parts.items()}

    def at(self, point, wrt):
        """Value and partials (floats) at one point; ValueError where f is undefined."""
        val, parts = self.value_and_partials(point, wrt)
        val = float(val)
        parts = {v: float(p) for v, p in parts.items()}
        where = short_list(f"{v}={fmt(point[v])}" for v in self.names)
        if not np.isfinite(val):
            raise ValueError(f"f is not defined at {where} (its value there is {val}); choose another point")
        bad = [v for v, p in parts.items() if not np.isfinite(p)]
        if bad:
            raise ValueError(f"{', '.join(partial_label(v) for v in bad)} is not defined at {where}; "
                             "choose another point")
        return val, parts


def as_field(f, extra=()):
    return f if isinstance(f, Field) else Field(f, extra)


def _parameter_names(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise TypeError("cannot read the parameters of f; pass an Expr or formula text instead") from None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise TypeError("f must take named scalar parameters such as f(x, y), not *args or **kwargs")
    return tuple(p.name for p in params if p.default is p.empty)


def _call(fn, args):
    try:
        return fn(*args)
    except TypeError as e:
        raise TypeError(f"f must work on NumPy arrays elementwise (write it with partiald.numpy, "
                        f"e.g. pnp.sin(x) rather than math.sin(x)): {e}") from e


def _shaped(out, shape):
    a = np.asarray(out, dtype=np.float64)
    if a.shape != shape:
        try:
            a = np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"f returned shape {a.shape} for inputs of shape {shape}: it must work "
                             "elementwise on arrays (one output per point)") from None
    return np.array(a) if a.ndim else float(a)


class _quiet:
    """No warnings from NumPy where f is undefined: those points are masked in the picture."""

    def __enter__(self):
        self._err = np.seterr(all="ignore")
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._warn.__exit__(*exc)
        np.seterr(**self._err)
        return False
