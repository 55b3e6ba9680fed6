"""The result of :func:`partiald.optim.minimize`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class OptimizeResult:
    """What a minimization found, and whether it can be trusted.

    Attributes:
      x: the solution, structured like ``x0`` (the best finite iterate when
        ``converged`` is False).
      fun: ``f(x)``.
      grad_norm: the 2-norm of the gradient at ``x``.
      nit: iterations (steps) taken.
      converged: True only when a stopping test was met; False after
        non-finite values, a failed line search, an unbounded objective,
        divergence, a callback stop or ``max_iter``.
      message: why the optimizer stopped, in words.
      history: one dict per iterate, the start first: ``x``, ``f``,
        ``grad_norm``, ``step`` (length of the step that led there), plus
        ``alpha`` (line-search step), ``damping`` (newton), ``cg_iter``
        (newton-cg), ``direction`` and ``update_skipped`` (lbfgs) where they
        apply.
      method: the method used.
      nfev, ngev, nhev: evaluations of f, of its gradient, and of Hessians or
        Hessian linearizations.
    """

    x: Any
    fun: float
    grad_norm: float
    nit: int
    converged: bool
    message: str
    history: list = field(default_factory=list)
    method: str = ""
    nfev: int = 0
    ngev: int = 0
    nhev: int = 0

    @property
    def path(self):
        """The iterates ``x`` from ``history`` (the start first), for plotting."""
        return [h["x"] for h in self.history if "x" in h]

    def __repr__(self):
        with np.printoptions(precision=6, threshold=8, edgeitems=3):
            x = repr(self.x)
        if len(x) > 300:
            x = x[:297] + "..."
        return (f"OptimizeResult(method={self.method!r}, converged={self.converged}, nit={self.nit},\n"
                f"               fun={self.fun:.10g}, grad_norm={self.grad_norm:.3e},\n"
                f"               message={self.message!r},\n"
                f"               x={x},\n"
                f"               nfev={self.nfev}, ngev={self.ngev}, nhev={self.nhev}, "
                f"history=<{len(self.history)} records>)")
