"""Line searches along a descent direction p from x: choose a step a > 0 for x + a p.

With phi(a) = f(x + a p), phi(0) = f0 and phi'(0) = d0 = g.p < 0:

* Armijo (sufficient decrease):  phi(a) <= f0 + c1 a d0
* strong Wolfe adds curvature:   |phi'(a)| <= c2 |d0|

Both searches treat a non-finite phi(a) as "too far" (off the domain of f, or
overflow) and shrink the step. Near an optimum the decrease c1 a d0 can fall
below the rounding error of f; a trial whose model decrease |a d0| is at the
rounding level of f, whose f has not risen above rounding, and whose gradient
is smaller than at the start is then accepted with status ``"roundoff"``
(``eps`` is the rounding unit of f's values: 2.2e-16 for float64, 1.2e-7 for float32).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def norm(v):
    """The 2-norm, rescaled when squaring the entries would overflow (|v| near 1e154 and up)."""
    n = float(np.linalg.norm(v))
    if n == math.inf and np.all(np.isfinite(v)):
        m = float(np.max(np.abs(v)))
        n = m * float(np.linalg.norm(v / m))
    return n


def _at_roundoff(f, f0, model_decrease, eps):
    """Whether a trial is indistinguishable from f0 at rounding: the predicted decrease
    |a d0| is below ~1e3 ulps of f0 and f rose by at most ~1e2 ulps."""
    scale = max(abs(f0), 1e-300)
    return abs(model_decrease) <= 1e3 * eps * scale and f <= f0 + 1e2 * eps * scale


def backtracking(phi, f0, d0, alpha0=1.0, c1=1e-4, max_steps=60, grad_decreases=None, eps=EPS):
    """Backtracking Armijo search (Nocedal & Wright, Algorithm 3.1, with quadratic interpolation).

    Args:
      phi: ``a -> f(x + a p)`` as a float (may be non-finite).
      f0, d0: ``f(x)`` and the directional derivative ``g.p`` (negative).
      alpha0: the first trial step.
      c1: the sufficient-decrease constant.
      max_steps: trials before giving up.
      grad_decreases: optional ``a -> bool``, whether ``|g(x + a p)| < |g(x)|``; enables
        the roundoff acceptance of the first trial.
      eps: the rounding unit of f's values.

    Returns:
      ``(a, f(x + a p), trials, status)`` with status ``"armijo"``, ``"roundoff"`` or
      ``"unbounded"`` (f = -inf there), or ``(None, None, trials, "failed")``.
    """
    a = alpha0
    for i in range(max_steps):
        f = phi(a)
        if f == -math.inf:
            return a, f, i + 1, "unbounded"
        # f < f0 too: once c1 a d0 is below the rounding of f0, Armijo alone would accept f == f0
        if math.isfinite(f) and f <= f0 + c1 * a * d0 and f < f0:
            return a, f, i + 1, "armijo"
        if (i == 0 and grad_decreases is not None and math.isfinite(f) and _at_roundoff(f, f0, a * d0, eps)
                and grad_decreases(a)):
            return a, f, 1, "roundoff"
        if math.isfinite(f):
            # minimizer of the quadratic q with q(0) = f0, q'(0) = d0, q(a) = f:
            #   a* = -d0 a^2 / (2 (f - f0 - d0 a)), kept in [0.1 a, 0.5 a]
            denom = 2.0 * (f - f0 - d0 * a)
            a_new = -d0 * a * a / denom if denom > 0 else 0.5 * a
            a = min(max(a_new, 0.1 * a), 0.5 * a)
        else:
            a = 0.5 * a       # off the domain (inf/nan): halve towards x
    return None, None, max_steps, "failed"


class WolfeResult(NamedTuple):
    """The outcome of :func:`strong_wolfe`; ``status`` is ``"wolfe"`` (both conditions),
    ``"armijo"`` (sufficient decrease only), ``"roundoff"``, ``"unbounded"`` (f fell below
    ``f_lower``, or still decreased at ``alpha_max``) or ``"failed"``."""
    alpha: Optional[float]
    f: Optional[float]
    g: Optional[np.ndarray]
    status: str
    evals: int


def _cubic_min(a0, f0, d0, a1, f1, d1):
    """Minimizer of the cubic through (a0, f0, d0), (a1, f1, d1) (N&W eq. 3.59), or None."""
    d1p = d0 + d1 - 3.0 * (f0 - f1) / (a0 - a1)
    disc = d1p * d1p - d0 * d1
    if not (disc >= 0 and math.isfinite(disc)):
        return None
    d2 = math.copysign(math.sqrt(disc), a1 - a0)
    den = d1 - d0 + 2.0 * d2
    if den == 0:
        return None
    a = a1 - (a1 - a0) * (d1 + d2 - d1p) / den
    return a if math.isfinite(a) else None


def _quad_min(a0, f0, d0, a1, f1):
    """Minimizer of the quadratic through (a0, f0, d0) and (a1, f1), or None."""
    h = a1 - a0
    den = 2.0 * (f1 - f0 - d0 * h)
    if not (den > 0 and math.isfinite(den)):
        return None
    return a0 - d0 * h * h / den


def strong_wolfe(phi, f0, d0, g0_norm, alpha0=1.0, c1=1e-4, c2=0.9, alpha_max=1e10, max_evals=40,
                 f_lower=-math.inf, eps=EPS):
    """Line search for the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6).

    Args:
      phi: ``a -> (f, g, d)`` at ``x + a p``: value, gradient vector and ``d = g.p``.
      f0, d0, g0_norm: ``f(x)``, ``g(x).p < 0`` and ``|g(x)|``.
      alpha0: first trial step; later trials double it until a bracket is found.
      c1, c2: the Wolfe constants, ``0 < c1 < c2 < 1``.
      alpha_max: the largest step tried; still decreasing there means unbounded.
      max_evals: evaluations of ``phi`` before giving up.
      f_lower: a trial below this value (-inf included) stops the search as ``"unbounded"``.
      eps: the rounding unit of f's values.

    Returns:
      A :class:`WolfeResult`.
    """
    evals = 0
    roundoff = None

    def trial(a):
        nonlocal evals, roundoff
        f, g, d = phi(a)
        evals += 1
        ok = math.isfinite(f) and math.isfinite(d) and bool(np.all(np.isfinite(g)))
        if ok and roundoff is None and _at_roundoff(f, f0, a * d0, eps) and norm(g) < g0_norm:
            roundoff = (a, f, g)
        return f, g, d, ok

    # bracketing phase: grow the step until phi rises, stops decreasing, or turns upwards
    lo = (0.0, f0, d0, None)
    a = min(alpha0, alpha_max)
    first = True
    while evals < max_evals:
        f, g, d, ok = trial(a)
        if f < f_lower:
            return WolfeResult(a, f, g, "unbounded", evals)
        if first and roundoff is not None and not (ok and f <= f0 + c1 * a * d0):
            return WolfeResult(*roundoff, "roundoff", evals)
        first = False
        if not ok or f > f0 + c1 * a * d0 or (lo[0] > 0 and f >= lo[1]):
            return _zoom(trial, lo, (a, f, d if ok else math.nan), f0, d0, c1, c2, max_evals,
                         lambda: evals, lambda: roundoff, f_lower)
        if abs(d) <= -c2 * d0:
            return WolfeResult(a, f, g, "wolfe", evals)
        if d >= 0:
            return _zoom(trial, (a, f, d, g), (lo[0], lo[1], lo[2]), f0, d0, c1, c2, max_evals,
                         lambda: evals, lambda: roundoff, f_lower)
        if a >= alpha_max:
            return WolfeResult(a, f, g, "unbounded", evals)
        lo = (a, f, d, g)
        a = min(2.0 * a, alpha_max)
    return _give_up(lo, roundoff, evals)


def _give_up(lo, roundoff, evals):
    if lo[0] > 0:                 # a point with sufficient decrease, curvature not met
        return WolfeResult(lo[0], lo[1], lo[3], "armijo", evals)
    if roundoff is not None:
        return WolfeResult(*roundoff, "roundoff", evals)
    return WolfeResult(None, None, None, "failed", evals)


def _zoom(trial, lo, hi, f0, d0, c1, c2, max_evals, n_evals, roundoff, f_lower):
    """Shrink [lo, hi] (lo: lowest f with sufficient decrease; hi: the other end) to a
    strong Wolfe point. ``lo = (a, f, d, g)``, ``hi = (a, f, d)`` where f or d may be nan."""
    while n_evals() < max_evals:
        a_lo, f_lo, d_lo, _ = lo
        a_hi, f_hi, d_hi = hi
        width = abs(a_hi - a_lo)
        if width <= 1e-14 * max(abs(a_lo), abs(a_hi)):
            break
        a = None
        if math.isfinite(f_hi) and math.isfinite(d_hi):
            a = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
        if a is None and math.isfinite(f_hi):
            a = _quad_min(a_lo, f_lo, d_lo, a_hi, f_hi)
        left, right = min(a_lo, a_hi), max(a_lo, a_hi)
        # safeguard: stay inside the middle 80% of the bracket, else bisect
        if a is None or not (left + 0.1 * width <= a <= right - 0.1 * width):
            a = 0.5 * (a_lo + a_hi)
        f, g, d, ok = trial(a)
        if f < f_lower:
            return WolfeResult(a, f, g, "unbounded", n_evals())
        if not ok or f > f0 + c1 * a * d0 or f >= f_lo:
            hi = (a, f, d if ok else math.nan)
        else:
            if abs(d) <= -c2 * d0:
                return WolfeResult(a, f, g, "wolfe", n_evals())
            if d * (a_hi - a_lo) >= 0:
                hi = (a_lo, f_lo, d_lo)
            lo = (a, f, d, g)
    return _give_up(lo, roundoff(), n_evals())
