"""Higher orders at special points (TESTING.md section 3b).

A guard inside a derivative rule (``select``, a compare-based mask, ``safe_mul``
on a condition, ``stop_gradient`` of a max) replaces values at the points it is
about. If it replaces an expression that carries a derivative, the gradient
there can still be right while every higher derivative is silently wrong:
``grad(grad(softplus))(0.0)`` was 0 instead of 1/4, and the Hessian of
``x**y`` at ``y == 0`` lost its mixed entry. This file is the campaign that
catches that class of bug: for every primitive whose rule has a guard, and the
``partiald.nn`` / ``partiald.numpy`` composites built from them, the first,
second and third derivatives at the guarded points (ties ``a == b``, zero
exponents and bases, 0 for softplus- and relu-like functions, +-inf where the
function is defined there), each in

* forward mode (``jacfwd`` nests, and nested ``jvp`` for scalar functions),
* reverse mode (``jacrev`` nests, and nested ``grad`` for scalar functions),
* mixes (``jacfwd(jacrev)``, ``jacrev(jacfwd)``, ``hessian``, ``hvp``,
  ``jit(hessian)``, ``jacfwd(hessian)``, ...),

against an oracle that shares no code with the engine:

* ``exact``: SymPy's derivative of the same formula, evaluated at the point
  (exact rationals for the float inputs, 40 digits), where the function is smooth;
* ``limit``: SymPy's one-sided limit of that derivative, at domain boundaries
  (``sqrt``, ``log`` and ``x**1.875`` at 0, ``x**y`` at ``x = 0``) and at +-inf;
* ``convention``: the documented value where the math has a choice (README
  "Conventions where the math has a choice": ``abs'(0) = 0`` and piecewise-linear
  functions have all higher derivatives 0, a ``maximum`` tie sends the derivative
  to ``y``, ``x**0`` and ``0.0**y`` (y > 0) are constants, ``norm`` and an all
  ``-inf`` ``logsumexp`` have derivative 0 at their guards, NaN outside the domain).

Every Hessian and third-derivative tensor must also be symmetric to 1e-12.

Tolerances: ``rel(a, e) = |a - e| / max(1, |e|) <= 1e-12`` against ``exact``
oracles (every value here is a closed form of a few exactly rounded operations,
logistic included: measured errors are a few ulp); ``limit`` and ``convention``
values (0, +-inf, NaN, 1/2, small integers) must be equal exactly.
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import sympy as sp

import partiald as pdx
import partiald.nn as nn
import partiald.numpy as pnp

# log(0), 0 * inf, sqrt(-1) ... are NumPy RuntimeWarnings by design at these points.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

REL = 1e-12

# SymPy variables: real for exact derivatives at a point, positive where a one-sided
# limit at 0 needs the sign (x**y, sqrt, log at x -> 0+).
X, Y, Z = sp.symbols("x y z", real=True)
XP = sp.Symbol("x", positive=True)
SYMS = (X, Y, Z)


def _sym(v):
    """A float input as the exact number it is (0.4 is its binary value), inf as oo."""
    if np.isposinf(v):
        return sp.oo
    if np.isneginf(v):
        return -sp.oo
    return sp.Rational(float(v))


# -- the modes ----------------------------------------------------------------------------

F, R = pdx.jacfwd, pdx.jacrev


def _hvp_hessian(f):
    """The Hessian column by column from ``hvp`` (forward over reverse, one tangent each)."""
    def h(v):
        cols = [pdx.hvp(f, (v,), (e,)) for e in np.eye(v.size)]
        return np.stack(cols, axis=-1)
    return h


#: order -> mode name -> f -> (v -> derivative tensor of shape (n,) * order)
MODES = {
    1: {
        "jacfwd": F,
        "jacrev": R,
        "grad": pdx.grad,
        "jit(grad)": lambda f: pdx.jit(pdx.grad(f)),
    },
    2: {
        "jacfwd(jacfwd)": lambda f: F(F(f)),
        "jacrev(jacrev)": lambda f: R(R(f)),
        "jacfwd(jacrev)": lambda f: F(R(f)),
        "jacrev(jacfwd)": lambda f: R(F(f)),
        "hessian": pdx.hessian,
        "hvp": _hvp_hessian,
        "jit(hessian)": lambda f: pdx.jit(pdx.hessian(f)),
    },
    3: {
        "jacfwd^3": lambda f: F(F(F(f))),
        "jacrev^3": lambda f: R(R(R(f))),
        "jacfwd(jacrev(jacrev))": lambda f: F(R(R(f))),
        "jacrev(jacfwd(jacfwd))": lambda f: R(F(F(f))),
        "jacrev(jacfwd(jacrev))": lambda f: R(F(R(f))),
        "jacfwd(hessian)": lambda f: F(pdx.hessian(f)),
        "jit(jacrev(hessian))": lambda f: pdx.jit(R(pdx.hessian(f))),
    },
}


def _nest(op, k):
    def build(f):
        for _ in range(k):
            f = op(f)
        return f
    return build


def _d_jvp(f):
    return lambda x: pdx.jvp(f, (x,), (1.0,))[1]


#: the same for a function of one float: nested ``grad`` (reverse) and nested ``jvp`` (forward)
SCALAR_MODES = {k: {f"grad^{k}": _nest(pdx.grad, k), f"jvp^{k}": _nest(_d_jvp, k)} for k in (1, 2, 3)}


# -- the cases ------------------------------------------------------------------------------

@dataclass
class Case:
    """``f`` at ``point``: a function of one float (``len(point) == 1``, also run on a
    1-vector) or of a vector. ``expr`` is the SymPy formula of ``f`` in ``x, y, z``
    (``exact`` and ``limit`` oracles); ``expected`` maps order -> tensor (``convention``)."""
    name: str
    f: object
    point: tuple
    oracle: str                       # "exact", "limit" or "convention"
    guards: tuple                     # the guarded primitives (or composites) the case is about
    expr: object = None
    limit: tuple = None               # (variable index, target, direction) for "limit"
    expected: dict = field(default_factory=dict)
    orders: tuple = (1, 2, 3)
    why: str = ""

    @property
    def n(self):
        return len(self.point)

    def vector_f(self):
        if self.n == 1:
            g = self.f
            return lambda v: g(v[0])
        return self.f

    @property
    def id(self):
        return f"{self.name}@{','.join(repr(float(p)) for p in self.point)}"


def _zeros(n, k):
    return np.zeros((n,) * k)


def _const(n, k, c):
    return np.full((n,) * k, c)


def _conv(name, f, point, guards, d1, d2=None, d3=None, why="", orders=(1, 2, 3)):
    """A convention: ``d1`` the gradient; higher orders 0 unless given."""
    n = len(point)
    d1 = np.asarray(d1, dtype=float).reshape((n,))
    exp = {1: d1, 2: _zeros(n, 2) if d2 is None else np.asarray(d2, float).reshape((n,) * 2),
           3: _zeros(n, 3) if d3 is None else np.asarray(d3, float).reshape((n,) * 3)}
    return Case(name, f, tuple(point), "convention", guards, expected=exp, why=why, orders=orders)


def _exact(name, f, point, guards, expr, why="", orders=(1, 2, 3)):
    return Case(name, f, tuple(point), "exact", guards, expr=expr, why=why, orders=orders)


def _limit(name, f, point, guards, expr, var, target, direction="+", why="", orders=(1, 2, 3)):
    return Case(name, f, tuple(point), "limit", guards, expr=expr, limit=(var, target, direction),
                why=why, orders=orders)


def softplus_s(x):
    return sp.log(1 + sp.exp(x))


def sigmoid_s(x):
    return 1 / (1 + sp.exp(-x))


def lse_s(*xs):
    return sp.log(sum(sp.exp(x) for x in xs))


_GELU_C = sp.sqrt(2 / sp.pi)

# a small logistic-regression problem; at w = 0 every logit ties with logaddexp's constant 0
_XD = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0], [-2.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, -0.5, 3.0]])
_YD = np.array([1.0, 0.0, 1.0, 0.0, 1.0])


def _logistic_loss_s():
    rows = [sum(sp.Rational(a) * s for a, s in zip(row, SYMS)) for row in _XD]
    return sum(softplus_s(z) - sp.Rational(t) * z for z, t in zip(rows, _YD)) / len(rows)


def loss_logaddexp(w):       # the benchmark's spelling
    z = _XD @ w
    return pnp.mean(pnp.logaddexp(0.0, z) - _YD * z)


def loss_softplus(w):
    z = _XD @ w
    return pnp.mean(nn.softplus(z) - _YD * z)


def loss_bce(w):
    return nn.binary_cross_entropy(_XD @ w, _YD)


INF = np.inf
_NAN3 = {1: np.full(1, np.nan), 2: np.full((1, 1), np.nan), 3: np.full((1, 1, 1), np.nan)}

CASES = [
    # -- logaddexp: a tie a == b is smooth (the Hessian is 1/4 there); only a tie of two
    #    equal infinities is guarded, with weight 1/2 and higher derivatives 0
    _exact("softplus", nn.softplus, (0.0,), ("logaddexp",), softplus_s(X)),
    _exact("softplus", nn.softplus, (1e4,), ("logaddexp",), softplus_s(X)),
    _exact("softplus", nn.softplus, (-1e4,), ("logaddexp",), softplus_s(X)),
    _exact("softplus", nn.softplus, (-30.0,), ("logaddexp",), softplus_s(X)),
    _limit("softplus", nn.softplus, (INF,), ("logaddexp",), softplus_s(X), 0, sp.oo, None),
    _limit("softplus", nn.softplus, (-INF,), ("logaddexp",), softplus_s(X), 0, -sp.oo, None),
    _exact("logaddexp(x,0.4)", lambda x: pnp.logaddexp(x, 0.4), (0.4,), ("logaddexp",),
           lse_s(X, sp.Rational(0.4))),
    _exact("logaddexp(0.0,x)", lambda x: pnp.logaddexp(0.0, x), (0.0,), ("logaddexp",), lse_s(0, X)),
    _exact("logaddexp(x,x)", lambda x: pnp.logaddexp(x, x), (0.0,), ("logaddexp",), lse_s(X, X)),
    _exact("logaddexp(x,x)", lambda x: pnp.logaddexp(x, x), (-3.0,), ("logaddexp",), lse_s(X, X)),
    _exact("logaddexp(x,-inf)", lambda x: pnp.logaddexp(x, -INF), (0.0,), ("logaddexp",), X),
    _conv("logaddexp(x,-inf)", lambda x: pnp.logaddexp(x, -INF), (-INF,), ("logaddexp",), [0.5],
          why="tie of two -inf: weight 1/2 (test_special_values), a constant there"),
    _conv("logaddexp(x,inf)", lambda x: pnp.logaddexp(x, INF), (0.0,), ("logaddexp",), [0.0],
          why="the limit as y -> inf of every x-derivative of log(e^x + e^y) is 0"),
    *[_exact("logaddexp(x,y)", lambda v: pnp.logaddexp(v[0], v[1]), p, ("logaddexp",), lse_s(X, Y))
      for p in [(0.4, 0.4), (0.0, 0.0), (-3.0, -3.0), (1.0, -2.0), (700.0, 700.0)]],
    *[_conv("logaddexp(x,y)", lambda v: pnp.logaddexp(v[0], v[1]), p, ("logaddexp",), [0.5, 0.5],
            why="tie of two equal infinities: weights 1/2, constants there")
      for p in [(-INF, -INF), (INF, INF)]],
    _exact("sigmoid", nn.sigmoid, (0.0,), ("logistic",), sigmoid_s(X)),
    _exact("sigmoid", nn.sigmoid, (1e4,), ("logistic",), sigmoid_s(X)),
    _exact("sigmoid", nn.sigmoid, (-1e4,), ("logistic",), sigmoid_s(X)),
    _limit("sigmoid", nn.sigmoid, (INF,), ("logistic",), sigmoid_s(X), 0, sp.oo, None),
    _limit("sigmoid", nn.sigmoid, (-INF,), ("logistic",), sigmoid_s(X), 0, -sp.oo, None),
    # the logistic loss of the benchmark, three spellings, where the logits tie with 0
    *[_exact(name, f, w, ("logaddexp",), _logistic_loss_s())
      for name, f in [("loss(logaddexp)", loss_logaddexp), ("loss(softplus)", loss_softplus),
                      ("loss(binary_cross_entropy)", loss_bce)]
      for w in [(0.0, 0.0, 0.0), (1.0, 0.5, 0.0)]],

    # -- pow: x**0 is the constant 1 (derivative 0 in x everywhere), 0**y the constant 0
    #    for y > 0; elsewhere at x = 0 the derivatives are the limits from x > 0
    *[_exact("x**y", lambda v: v[0] ** v[1], p, ("pow",), X ** Y)
      for p in [(1.7, 0.0), (0.5, 0.0), (1.0, 0.0), (1.7, 1.0), (2.0, 2.0), (1.7, -1.5)]],
    *[_limit("x**y", lambda v: v[0] ** v[1], (0.0, y), ("pow",), XP ** Y, 0, 0, "+")
      for y in (0.0, 2.0, 3.0, 2.5)],
    # (0, 1): order 3 adds +inf and -inf terms (NaN in some modes) at this singular point
    _limit("x**y", lambda v: v[0] ** v[1], (0.0, 1.0), ("pow",), XP ** Y, 0, 0, "+", orders=(1, 2)),
    _exact("x**0.0", lambda x: x ** 0.0, (1.7,), ("pow",), sp.Integer(1)),
    _conv("x**0.0", lambda x: x ** 0.0, (0.0,), ("pow",), [0.0], why="x**0 is the constant 1"),
    _conv("x**0", lambda x: x ** 0, (0.0,), ("integer_pow",), [0.0], why="x**0 is the constant 1"),
    _exact("x**2.0", lambda x: x ** 2.0, (0.0,), ("pow",), X ** 2),
    _exact("x**3.0", lambda x: x ** 3.0, (0.0,), ("pow",), X ** 3),
    _exact("x**3", lambda x: x ** 3, (0.0,), ("integer_pow",), X ** 3),
    _limit("x**1.875", lambda x: x ** 1.875, (0.0,), ("pow",), XP ** sp.Rational(15, 8), 0, 0, "+"),
    _limit("x**0.5", lambda x: x ** 0.5, (0.0,), ("pow",), sp.sqrt(XP), 0, 0, "+"),
    *[_conv("0.0**y", lambda y: 0.0 ** y, (y,), ("pow",), [0.0], why="0**y is the constant 0 for y > 0")
      for y in (2.0, 0.5)],
    _conv("power(zeros,y)", lambda y: pnp.power(np.zeros(()), y), (2.0,), ("pow",), [0.0],
          why="0**y is the constant 0 for y > 0"),

    # -- kinks and ties: piecewise linear, so every higher derivative is 0
    _conv("abs", pnp.abs, (0.0,), ("abs",), [0.0], why="abs'(0) = 0"),
    _conv("abs", pnp.abs, (-0.0,), ("abs",), [0.0], why="abs'(0) = 0"),
    _conv("relu", nn.relu, (0.0,), ("maximum",), [0.0], why="relu'(0) = 0"),
    _conv("where(x>0,x,0)", lambda x: pnp.where(x > 0, x, 0.0), (0.0,), ("select",), [0.0],
          why="relu'(0) = 0"),
    _conv("maximum(x,y)", lambda v: pnp.maximum(v[0], v[1]), (1.0, 1.0), ("maximum",), [0.0, 1.0],
          why="a tie sends the derivative to y"),
    _conv("minimum(x,y)", lambda v: pnp.minimum(v[0], v[1]), (1.0, 1.0), ("minimum",), [0.0, 1.0],
          why="a tie sends the derivative to y"),
    _exact("maximum(x,y)**2", lambda v: pnp.maximum(v[0], v[1]) ** 2, (1.0, 1.0), ("maximum",), Y ** 2,
           why="at a tie maximum(x, y) is y, to every order"),
    _exact("maximum(x,x)", lambda x: pnp.maximum(x, x), (1.0,), ("maximum",), X),
    _exact("minimum(x,x)", lambda x: pnp.minimum(x, x), (1.0,), ("minimum",), X),
    _conv("max", pnp.max, (1.0, 1.0, 0.0), ("reduce_max",), [0.5, 0.5, 0.0],
          why="tied maxima share the derivative"),
    _exact("max**2", lambda v: pnp.max(v) ** 2, (1.0, 1.0, 0.0), ("reduce_max",), ((X + Y) / 2) ** 2,
           why="tied maxima share the derivative: max is (x + y)/2 to every order at the tie"),
    _conv("min", pnp.min, (0.0, 2.0, 0.0), ("reduce_max",), [0.5, 0.0, 0.5],
          why="tied minima share the derivative"),
    _exact("clip(x**3,0,1)", lambda x: pnp.clip(x ** 3, 0.0, 1.0), (1.0,), ("select",), X ** 3,
           why="clip passes the derivative at its bounds, to every order"),
    _exact("clip(x**3,0,1)", lambda x: pnp.clip(x ** 3, 0.0, 1.0), (0.0,), ("select",), X ** 3,
           why="clip passes the derivative at its bounds, to every order"),
    _conv("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), (0.0,), ("select",), [1.0]),
    _conv("clip(x,0,1)", lambda x: pnp.clip(x, 0.0, 1.0), (1.0,), ("select",), [1.0]),
    _conv("where(x>0,sqrt(x),0)", lambda x: pnp.where(x > 0, pnp.sqrt(x), 0.0), (0.0,), ("select", "sqrt"),
          [0.0], why="the branch not taken contributes exactly 0, to every order"),
    _exact("x%2", lambda x: x % 2.0, (5.5,), ("rem",), X - 4),
    _conv("x%2", lambda x: x % 2.0, (4.0,), ("rem",), [1.0], why="slope 1 at a jump; rem is piecewise linear"),
    _exact("x%y", lambda v: pnp.remainder(v[0], v[1]), (5.5, 2.0), ("rem",), X - 2 * Y),
    _conv("x%y", lambda v: pnp.remainder(v[0], v[1]), (4.0, 2.0), ("rem",), [1.0, -2.0],
          why="at a jump, the side NumPy's value continues: -floor(x/y) in y"),
    _exact("prod", pnp.prod, (0.0, 3.0, 2.0), ("reduce_prod",), X * Y * Z),
    _exact("prod", pnp.prod, (0.0, 0.0, 2.0), ("reduce_prod",), X * Y * Z),

    # -- domain boundaries: one-sided limits; outside the domain NaN at every order
    _limit("sqrt", pnp.sqrt, (0.0,), ("sqrt",), sp.sqrt(XP), 0, 0, "+"),
    _exact("sqrt", pnp.sqrt, (1e-6,), ("sqrt",), sp.sqrt(X)),
    Case("sqrt", pnp.sqrt, (-1.0,), "convention", ("sqrt",), expected=_NAN3, why="outside the domain"),
    _limit("log", pnp.log, (0.0,), ("log",), sp.log(XP), 0, 0, "+"),
    _exact("log", pnp.log, (1e-6,), ("log",), sp.log(X)),
    _limit("log", pnp.log, (INF,), ("log",), sp.log(XP), 0, sp.oo, None),
    Case("log", pnp.log, (-1.0,), "convention", ("log",), expected=_NAN3, why="outside the domain"),
    _limit("log1p", pnp.log1p, (-1.0,), ("log1p",), sp.log(1 + X), 0, -1, "+"),
    _exact("log1p", pnp.log1p, (0.0,), ("log1p",), sp.log(1 + X)),
    Case("log1p", pnp.log1p, (-2.0,), "convention", ("log1p",), expected=_NAN3, why="outside the domain"),

    # -- composites with guards on primal values only (stop_gradient of a max, isfinite)
    *[_exact("logsumexp", nn.logsumexp, p, ("logsumexp",), lse_s(X, Y, Z))
      for p in [(0.0, 0.0, 0.0), (0.4, 0.4, -1.0), (1e4, -1e4, 1e4), (-INF, 0.0, 0.0)]],
    _conv("logsumexp", nn.logsumexp, (-INF, -INF, -INF), ("logsumexp",), [0.0, 0.0, 0.0],
          why="an all -inf slice has gradient 0 (and a constant 0 beyond)"),
    *[_exact("log_softmax[0]", lambda v: nn.log_softmax(v)[0], p, ("logsumexp",), X - lse_s(X, Y, Z))
      for p in [(0.0, 0.0, 0.0), (0.4, 0.4, -1.0)]],
    _exact("log_softmax[1]", lambda v: nn.log_softmax(v)[1], (1e4, -1e4), ("logsumexp",), Y - lse_s(X, Y)),
    *[_exact("softmax[0]", lambda v: nn.softmax(v)[0], p, ("softmax",), sp.exp(X) / sum(sp.exp(s) for s in SYMS))
      for p in [(0.0, 0.0, 0.0), (0.4, 0.4, -1.0)]],
    _exact("softmax[1]", lambda v: nn.softmax(v)[1], (1e4, -1e4), ("softmax",), sp.exp(Y) / (sp.exp(X) + sp.exp(Y))),
    _exact("gelu", nn.gelu, (0.0,), ("gelu",), X / 2 * (1 + sp.erf(X / sp.sqrt(2)))),
    _exact("gelu(approximate=True)", lambda x: nn.gelu(x, approximate=True), (0.0,), ("gelu",),
           X / 2 * (1 + sp.tanh(_GELU_C * (X + sp.Rational(0.044715) * X ** 3)))),
    _conv("linalg.norm", pnp.linalg.norm, (0.0, 0.0, 0.0), ("norm",), [0.0, 0.0, 0.0],
          why="norm has gradient 0 at 0 (and a constant 0 beyond)"),
    _exact("linalg.norm", pnp.linalg.norm, (1e-3, -2e-3, 2e-3), ("norm",), sp.sqrt(X ** 2 + Y ** 2 + Z ** 2)),
    _exact("linalg.norm", pnp.linalg.norm, (3.0, 0.0, 0.0), ("norm",), sp.sqrt(X ** 2 + Y ** 2 + Z ** 2)),
]


# -- oracles ------------------------------------------------------------------------------------

def _to_float(v):
    v = sp.sympify(v)
    if v in (sp.oo, -sp.oo):
        return float(v)
    if v is sp.nan or v is sp.zoo:
        return np.nan
    return float(sp.N(v, 40))


def _oracle(case_index, order):
    """The derivative tensor of order ``order`` that case ``case_index`` must give."""
    case = CASES[case_index]
    if case.oracle == "convention":
        return case.expected[order]
    syms = ((XP,) if XP in sp.sympify(case.expr).free_symbols else (X,)) + SYMS[1:case.n]
    return _sympy_tensor(sp.sympify(case.expr), syms, tuple(case.point), case.limit, order)


@functools.lru_cache(maxsize=None)
def _sympy_tensor(expr, syms, point, limit, order):
    """SymPy's derivative tensor of ``expr`` at ``point`` (or its limit there), symmetric by
    construction: one SymPy derivative per sorted index tuple."""
    n = len(syms)
    out = np.empty((n,) * order)
    for idx in itertools.combinations_with_replacement(range(n), order):
        d = sp.diff(expr, *[syms[i] for i in idx])
        if limit is None:
            val = d.subs({s: _sym(p) for s, p in zip(syms, point)})
        else:
            var, target, direction = limit
            others = {s: _sym(p) for i, (s, p) in enumerate(zip(syms, point)) if i != var}
            val = sp.limit(d.subs(others), syms[var], target, direction) if direction else \
                sp.limit(d.subs(others), syms[var], target)
        v = _to_float(val)
        for perm in set(itertools.permutations(idx)):
            out[perm] = v
    return out


# -- checks -----------------------------------------------------------------------------------------

def _mismatch(actual, expected, exact):
    """Where ``actual`` differs from ``expected``: NaN and inf (with its sign) must sit in
    the same places; finite entries agree exactly or to rel 1e-12."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return f"shape {a.shape}, expected {e.shape}"
    bad = np.isnan(a) != np.isnan(e)
    inf = np.isinf(e) | np.isinf(a)
    bad |= inf & (a != e) & ~np.isnan(e)
    fin = np.isfinite(e) & np.isfinite(a)
    if exact:
        bad |= fin & (a != e)
    else:
        bad |= fin & (np.abs(a - e) > REL * np.maximum(1.0, np.abs(e)))
    if bad.any():
        return f"differs at {np.argwhere(bad).tolist()}:\nactual\n{a}\nexpected\n{e}"
    return None


def _symmetric(t):
    """A derivative tensor of a scalar function equals each of its transposes (to 1e-12)."""
    t = np.asarray(t, dtype=np.float64)
    for perm in itertools.permutations(range(t.ndim)):
        msg = _mismatch(t, np.transpose(t, perm), exact=False)
        if msg:
            return f"not symmetric under {perm}: {msg}"
    return None


PARAMS = [pytest.param(i, k, id=f"{c.id}-order{k}")
          for i, c in enumerate(CASES) for k in c.orders]


@pytest.mark.parametrize("index, order", PARAMS)
def test_higher_order_at_special_point(index, order):
    case = CASES[index]
    expected = _oracle(index, order)
    exact = case.oracle != "exact"
    failures = []
    v = np.array(case.point, dtype=np.float64)
    f = case.vector_f()
    for name, build in MODES[order].items():
        got = np.asarray(build(f)(v))
        msg = _mismatch(got, expected, exact) or (_symmetric(got) if order > 1 else None)
        if msg:
            failures.append(f"{name}: {msg}")
    if case.n == 1:
        for name, build in SCALAR_MODES[order].items():
            got = build(case.f)(float(case.point[0]))
            assert np.ndim(got) == 0, name
            msg = _mismatch(np.reshape(got, (1,) * order), expected, exact)
            if msg:
                failures.append(f"{name}: {msg}")
    assert not failures, f"{case.id} ({case.oracle}{': ' + case.why if case.why else ''}), order {order}:\n" \
        + "\n".join(failures)


# -- the reported examples, verbatim ------------------------------------------------------------

def test_issue_examples():
    assert pdx.grad(pdx.grad(nn.softplus))(0.0) == 0.25
    assert pdx.grad(pdx.grad(lambda x: pnp.logaddexp(x, 0.4)))(0.4) == 0.25
    h = pdx.hessian(lambda v: v[0] ** v[1])(np.array([1.7, 0.0]))
    np.testing.assert_allclose(h, [[0.0, 1 / 1.7], [1 / 1.7, math.log(1.7) ** 2]], rtol=REL, atol=0)


def test_logistic_loss_hessian_has_no_select():
    """With one argument a finite constant (logaddexp(0, z), softplus), the logaddexp rule
    needs no guard: the Hessian program of the benchmark's loss carries no select (a select
    whose branches carry tangents is a full-size masked copy of the tangent basis)."""
    w = np.zeros(3)
    for loss in (loss_logaddexp, loss_softplus):
        graph = pdx.make_graph(pdx.hessian(loss))(w)
        names = [e.prim.name for e in graph.eqns]
        assert "select" not in names, names


# -- the campaign's size ----------------------------------------------------------------------------

#: every primitive (or composite) whose derivative rule carries a guard, as named in CASES
GUARDED = {"logaddexp", "pow", "integer_pow", "maximum", "minimum", "select", "abs", "sqrt", "log",
           "log1p", "logistic", "rem", "reduce_max", "reduce_prod", "logsumexp", "softmax", "norm", "gelu"}


def campaign_figures():
    """The table's size: guarded primitives/composites x special points x orders, and the
    derivative tensors compared (one per mode)."""
    points = len(CASES)
    checks = sum(len(MODES[k]) + (len(SCALAR_MODES[k]) if c.n == 1 else 0) for c in CASES for k in c.orders)
    return {
        "guarded": len({g for c in CASES for g in c.guards}),
        "points": points,
        "point_orders": len(PARAMS),
        "tensors_compared": checks,
        "entries_compared": sum((len(MODES[k]) + (len(SCALAR_MODES[k]) if c.n == 1 else 0)) * c.n ** k
                                for c in CASES for k in c.orders),
        "by_oracle": {o: sum(c.oracle == o for c in CASES) for o in ("exact", "limit", "convention")},
    }


def test_campaign_covers_every_guarded_rule():
    covered = {g for c in CASES for g in c.guards}
    assert covered == GUARDED, sorted(covered ^ GUARDED)
    fig = campaign_figures()
    assert fig["points"] >= 80 and fig["point_orders"] >= 3 * 80 - 10 and fig["tensors_compared"] >= 1500
