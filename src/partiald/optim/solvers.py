"""``minimize``: first-order methods, Newton, Newton-CG and L-BFGS over pytrees.

Every method works on the flat float64 vector of the parameters
(:class:`~partiald.optim.problem.FlatProblem`), records one history entry per
iterate, and stops honestly: ``converged`` is True only when the gradient norm
reaches ``tol`` or the relative change of f falls below ``ftol``, at a point
where the Hessian is positive definite (checked for up to 100 parameters).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from .linesearch import backtracking, norm, strong_wolfe
from .problem import FlatProblem
from .result import OptimizeResult
from .steps import Adam, SGD

METHODS = ("gd", "momentum", "nesterov", "adam", "newton", "newton-cg", "lbfgs")
FIRST_ORDER = ("gd", "momentum", "nesterov", "adam")
#: default learning rate (first-order methods) or first trial step (line-search methods)
DEFAULT_LR = {"gd": 1e-2, "momentum": 1e-2, "nesterov": 1e-2, "adam": 1e-3,
              "newton": 1.0, "newton-cg": 1.0, "lbfgs": 1.0}
#: a fixed-step method has diverged once f > f0 + DIVERGENCE_FACTOR * max(1, |f0|)
DIVERGENCE_FACTOR = 1e6
#: the objective looks unbounded below once f < f0 - UNBOUNDED_FACTOR * max(1, |f0|)
UNBOUNDED_FACTOR = 1e10
#: the default gradient tolerance, of ``minimize`` and of ``partiald minimize --tol``
DEFAULT_TOL = 1e-8
#: the most parameters for which a converged point is checked with the dense Hessian
#: (``check_minimum=True``): two Hessians at the end of the run
CHECK_MINIMUM_MAX_N = 100
#: a stationary point is degenerate when an eigenvalue of the Hessian shrinks below this
#: fraction of itself over one Newton step (to the predicted stationary point); at a
#: non-degenerate minimum it stays the same to first order in the (tiny) step
CURVATURE_KEPT = 0.75


def minimize(f, x0, method="lbfgs", *, lr=None, tol=DEFAULT_TOL, ftol=None, max_iter=1000, callback=None,
             momentum=0.9, memory=10, cg_max_iter=None, record_x=True, check_minimum=True):
    """Minimize a scalar function of a pytree of float arrays.

    Args:
      f: the objective, ``f(x) -> scalar``, written with ``partiald.numpy``; its
        gradient (and Hessian products) come from partiald.
      x0: the starting point: an array, a number, or a pytree (tuple/list/dict)
        of them. ``res.x`` has the same structure and dtypes.
      method: ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adam"`` (fixed
        learning rate), ``"newton"`` (dense Hessian, Levenberg damping when it
        is not positive definite, Armijo backtracking), ``"newton-cg"``
        (Hessian-free truncated CG on Hessian-vector products, Armijo
        backtracking) or ``"lbfgs"`` (two-loop recursion, strong Wolfe search).
      lr: learning rate of the first-order methods (defaults: 1e-2, adam
        1e-3), or the first trial step of the line searches (default 1).
      tol: stop when the 2-norm of the gradient is ``<= tol`` (default 1e-8, the
        command line's default too).
      ftol: stop when ``|f_prev - f| <= ftol * max(|f_prev|, |f|)``. Default
        1e-12 for newton, newton-cg and lbfgs, and off (0) for the fixed-step
        methods, whose small changes in f mean small steps, not an optimum.
      max_iter: the most iterations; reaching it gives ``converged=False``.
      callback: called after every iterate with its history record (a dict with
        ``x``, ``f``, ``grad_norm``, ``step``, ...); returning True stops the run.
      momentum: the coefficient of ``"momentum"`` and ``"nesterov"``.
      memory: pairs (s, y) kept by ``"lbfgs"``.
      cg_max_iter: CG iterations per Newton-CG step (default ``min(20 n, 1000)``).
      record_x: keep each iterate's ``x`` in ``history`` (turn off for large problems).
      check_minimum: before claiming convergence, check the point with the Hessian
        (problems of up to 100 parameters): a point where it has a negative
        eigenvalue (a saddle) or an eigenvalue that vanishes at the stationary point
        (``x^3`` at 0) is not reported as converged.

    Returns:
      An :class:`OptimizeResult`. ``converged=True`` means |grad| <= tol (or the
      ftol test) at a point that is a minimum as far as the Hessian can tell:
      positive definite there, and staying so one Newton step on (checked for up
      to 100 parameters). Newton leaves saddle points along negative curvature;
      the other methods stop at them with ``converged=False`` and a message
      that names the negative eigenvalue. When
      ``converged`` is False, ``x`` is the best finite iterate and ``message``
      says what went wrong: f or the gradient became non-finite, divergence
      (lower the learning rate), an objective that looks unbounded below, a
      failed line search, a callback stop, or max_iter.

    Raises:
      ValueError: an unknown method or an invalid option.
      TypeError: ``x0`` is not a pytree of float arrays, or ``f`` is not scalar.

    Examples:
      >>> import numpy as np, partiald.numpy as pnp
      >>> from partiald import optim
      >>> rosen = lambda x: (1 - x[0])**2 + 100 * (x[1] - x[0]**2)**2
      >>> res = optim.minimize(rosen, np.array([-1.2, 1.0]), method="newton", tol=1e-10)
      >>> res.converged, np.round(res.x, 8), res.nit < 50
      (True, array([1., 1.]), True)
    """
    if method not in METHODS:
        raise ValueError(f"minimize: unknown method {method!r}; choose one of {', '.join(METHODS)}")
    lr = DEFAULT_LR[method] if lr is None else lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not (0 < lr < math.inf):
        raise ValueError(f"minimize: lr must be a positive number, got {lr!r}")
    if not (tol >= 0):
        raise ValueError(f"minimize: tol must be >= 0, got {tol!r}")
    ftol = (0.0 if method in FIRST_ORDER else 1e-12) if ftol is None else ftol
    if not (ftol >= 0):
        raise ValueError(f"minimize: ftol must be >= 0, got {ftol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"minimize: max_iter must be an integer >= 0, got {max_iter!r}")
    if callback is not None and not callable(callback):
        raise TypeError("minimize: callback must be a function of the iteration record")
    if not (0 <= momentum < 1) and method in ("momentum", "nesterov"):
        raise ValueError(f"minimize: momentum must be in [0, 1), got {momentum!r}")
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < 1:
        raise ValueError(f"minimize: memory must be a positive integer, got {memory!r}")
    if cg_max_iter is not None and (isinstance(cg_max_iter, bool) or not isinstance(cg_max_iter, int)
                                    or cg_max_iter < 1):
        raise ValueError(f"minimize: cg_max_iter must be a positive integer, got {cg_max_iter!r}")
    prob = FlatProblem(f, x0, "minimize")
    run = _Run(prob, method, float(lr), float(tol), float(ftol), int(max_iter), callback, record_x,
               bool(check_minimum) and prob.n <= CHECK_MINIMUM_MAX_N)
    if method in FIRST_ORDER:
        step = {"gd": lambda: SGD(lr), "momentum": lambda: SGD(lr, momentum),
                "nesterov": lambda: SGD(lr, momentum, nesterov=True), "adam": lambda: Adam(lr)}[method]()
        return _fixed_step(prob, run, step)
    if method == "newton":
        return _newton(prob, run)
    if method == "newton-cg":
        cg_max = cg_max_iter if cg_max_iter is not None else min(20 * prob.n, 1000)
        return _newton_cg(prob, run, int(cg_max))
    return _lbfgs(prob, run, memory)


class _Stop(Exception):
    """Raised inside a method loop to end it with a result."""

    def __init__(self, result):
        super().__init__(result.message)
        self.result = result


class _Run:
    """Book-keeping shared by the methods: history, callback, best iterate, stopping tests."""

    def __init__(self, prob, method, lr, tol, ftol, max_iter, callback, record_x, check_minimum=False):
        self.prob, self.method, self.lr = prob, method, lr
        self.check_minimum = check_minimum
        self.tol, self.ftol, self.max_iter = tol, ftol, max_iter
        self.callback, self.record_x = callback, record_x
        self.history = []
        self.nit = 0
        self.best = None                # (f, x, |g|) of the lowest finite iterate
        self.f_low, self.f_high = -math.inf, math.inf

    def result(self, converged, message, x=None, f=None, gnorm=None):
        """The result at ``x`` (converged) or at the best finite iterate (not converged)."""
        if x is None or not converged:
            if self.best is not None:
                f, x, gnorm = self.best
            elif x is None:
                x, f, gnorm = self.prob.x0, math.nan, math.nan
        return OptimizeResult(x=self.prob.unravel(x), fun=float(f), grad_norm=float(gnorm), nit=self.nit,
                              converged=bool(converged), message=message, history=self.history,
                              method=self.method, nfev=self.prob.nfev, ngev=self.prob.ngev,
                              nhev=self.prob.nhev)

    def stop(self, converged, message, x=None, f=None, gnorm=None):
        raise _Stop(self.result(converged, message, x, f, gnorm))

    def start(self, x, f, g, second_order_ok=True, **extra):
        """Check and record the starting point (iteration 0)."""
        if not math.isfinite(f):
            self.stop(False, f"f(x0) = {f}: the objective is not finite at the starting point; start "
                             "where f is defined and finite", x, f, math.nan)
        if not np.all(np.isfinite(g)):
            self.stop(False, f"the gradient at x0 is not finite ({_first_bad(g)}) although f(x0) = {f:.6g}; "
                             "start where f is differentiable", x, f, math.nan)
        scale = max(1.0, abs(f))
        self.f_low = f - UNBOUNDED_FACTOR * scale
        if self.method in FIRST_ORDER:
            self.f_high = f + DIVERGENCE_FACTOR * scale
        self.step(0, x, f, g, None, 0.0, second_order_ok, **extra)

    def step(self, k, x, f, g, f_prev, step, second_order_ok=True, **extra):
        """Record iterate ``k`` (finite f and g) and apply the stopping tests."""
        gnorm = float(norm(g))
        self.nit = k
        record = {"iter": k, "x": self.prob.unravel(x), "f": f, "grad_norm": gnorm, "step": float(step), **extra}
        self.history.append(record if self.record_x else {a: b for a, b in record.items() if a != "x"})
        if self.best is None or f < self.best[0]:
            self.best = (f, x.copy(), gnorm)
        if f < self.f_low:
            self.stop(False, f"the objective looks unbounded below: f fell from {self.history[0]['f']:.6g} to "
                             f"{f:.6g} in {k} iterations", x, f, gnorm)
        if f > self.f_high:
            self.stop(False, f"diverging: f grew from {self.history[0]['f']:.6g} to {f:.6g} in {k} iterations; "
                             f"lower the learning rate (lr = {self.lr:g})", x, f, gnorm)
        if gnorm <= self.tol and second_order_ok:
            self.converge(x, f, g, gnorm, f"converged: |grad| = {gnorm:.3g} <= tol = {self.tol:g}",
                          f"|grad| = {gnorm:.3g} <= tol = {self.tol:g}")
        if (self.ftol > 0 and f_prev is not None and second_order_ok
                and abs(f_prev - f) <= self.ftol * max(abs(f_prev), abs(f))):
            rel = abs(f_prev - f) / max(abs(f_prev), abs(f), 1e-300)
            self.converge(x, f, g, gnorm, f"converged: relative change in f ({rel:.2g}) <= ftol = {self.ftol:g}; "
                                          f"|grad| = {gnorm:.3g}",
                          f"f stopped changing (relative change {rel:.2g} <= ftol = {self.ftol:g}; "
                          f"|grad| = {gnorm:.3g})")
        if self.callback is not None and self.callback(record) is True:
            self.stop(False, f"stopped by the callback at iteration {k}")
        if k >= self.max_iter:
            why = (f"|grad| = {gnorm:.3g} > tol = {self.tol:g}" if gnorm > self.tol else
                   f"|grad| = {gnorm:.3g} <= tol, but the Hessian has a negative eigenvalue (a saddle point)")
            self.stop(False, f"maximum number of iterations ({self.max_iter}) reached; {why}")

    def converge(self, x, f, g, gnorm, message, why):
        """Stop: converged, unless the Hessian shows that ``x`` is not a minimum."""
        verdict = _not_a_minimum(self.prob, x, g) if self.check_minimum else None
        if verdict is not None:
            self.stop(False, f"stopped at a stationary point where the Hessian is not positive definite: {why}, "
                             f"but {verdict}", x, f, gnorm)
        self.stop(True, message, x, f, gnorm)

    def unbounded(self, f, alpha, direction):
        self.stop(False, f"the objective looks unbounded below: f = {f:.6g} at a step of {alpha:.3g} along the "
                         f"{direction}")

    def line_search_failed(self, k, gnorm, what="the search direction"):
        self.stop(False, f"line search failed at iteration {k}: no step along {what} decreased f "
                         f"(|grad| = {gnorm:.3g}). The gradient may not match f (check it with "
                         "pdx.check_grads), f may not be smooth here, or tol may be below what the "
                         "floating-point precision of f can resolve")


def _not_a_minimum(prob, x, g):
    """Why the stationary point near ``x`` is not a (strict) minimum, or None when the
    Hessian says it is one (or cannot be had).

    A negative eigenvalue makes ``x`` a saddle. Otherwise the Hessian is evaluated again
    one Newton step on, at the predicted stationary point ``x + p``: near a minimum with
    a positive definite Hessian each curvature ``v.H v`` stays what it was (the step is
    tiny), while near a degenerate point such as ``x^3`` at 0 it shrinks with the
    distance (to half, for x^3), so the Hessian is singular at the point itself.
    """
    try:
        H = prob.hessian(x)
        if not np.all(np.isfinite(H)):
            return None
        w, V = np.linalg.eigh(0.5 * (H + H.T))
    except (ValueError, TypeError, NotImplementedError, ArithmeticError, np.linalg.LinAlgError):
        return None     # no Hessian here (e.g. a custom rule without one): the gradient test stands
    scale = max(1.0, float(np.max(np.abs(w))))
    if w[0] < -1e-8 * scale:
        return (f"the Hessian has a negative eigenvalue ({w[0]:.3g}): f decreases along its eigenvector, "
                f"so this is a saddle point, not a minimum")
    tiny = 64 * np.finfo(np.float64).eps * scale
    if w[0] <= tiny:
        return (f"the Hessian is singular there (smallest eigenvalue {w[0]:.3g}), so the second-derivative test "
                "cannot confirm a minimum (x^3 has an inflection point at 0, x^4 a flat minimum)")
    p = -V @ ((V.T @ g) / w)
    try:
        H2 = prob.hessian(x + p)
    except (ValueError, TypeError, NotImplementedError, ArithmeticError):
        return None
    if not np.all(np.isfinite(H2)):
        return None
    kept = np.einsum("ij,jk,ki->i", V.T, 0.5 * (H2 + H2.T), V) / w
    i = int(np.argmin(kept))
    if kept[i] < CURVATURE_KEPT:
        return (f"an eigenvalue of the Hessian, {w[i]:.3g} here, falls to {w[i] * kept[i]:.3g} one Newton step "
                "on, toward the stationary point: the Hessian is singular there, so the second-derivative test "
                "cannot confirm a minimum (x^3 has an inflection point at 0, x^4 a flat minimum)")
    return None


def _first_bad(a):
    a = np.asarray(a)
    return "nan" if np.isnan(a).any() else "inf"


def _run(loop, prob, run, *args):
    try:
        # overflow and nan in the optimizer's own arithmetic are detected and reported, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            loop(prob, run, *args)
    except _Stop as s:
        return s.result
    raise AssertionError("an optimizer loop ended without a result")   # pragma: no cover


# -- fixed learning rate: gd, momentum, nesterov, adam -------------------------------------

def _fixed_step(prob, run, opt):
    return _run(_fixed_step_loop, prob, run, opt)


def _fixed_step_loop(prob, run, opt):
    x = prob.x0.copy()
    f, g = prob.value_and_grad(x)
    run.start(x, f, g, lr=run.lr)
    state = opt.init(x)
    for k in range(1, run.max_iter + 1):
        x_new, state = opt.update(g, state, x)
        f_new, g_new = prob.value_and_grad(x_new)
        if math.isnan(f_new) or f_new == math.inf:
            run.stop(False, f"f became {f_new} at iteration {k}: the iteration diverged or left the domain "
                            f"of f; lower the learning rate (lr = {run.lr:g})")
        if f_new == -math.inf:
            run.stop(False, f"the objective looks unbounded below: f became -inf at iteration {k}")
        if not np.all(np.isfinite(g_new)):
            run.stop(False, f"the gradient became non-finite ({_first_bad(g_new)}) at iteration {k} "
                            f"(f = {f_new:.6g}); lower the learning rate (lr = {run.lr:g})")
        step = float(norm(x_new - x))
        x, f_prev, f, g = x_new, f, f_new, g_new
        run.step(k, x, f, g, f_prev, step, lr=run.lr)


# -- Newton with Levenberg damping -----------------------------------------------------------

class _Factor:
    """H + damping I, made positive definite (a Cholesky factorization is the test).

    When H is not positive definite, damping = 2 |lambda_min| (+ a tiny floor), so the
    damped matrix has smallest eigenvalue |lambda_min|: the negative curvature is mirrored
    rather than almost cancelled, which keeps the step length on the scale of H.
    """

    def __init__(self, H):
        self.ok = bool(np.all(np.isfinite(H)))
        self.damping, self.psd, self.lam_min, self.v_min = 0.0, True, None, None
        if not self.ok:
            return
        H = 0.5 * (H + H.T)
        self.M = H
        try:
            np.linalg.cholesky(H)           # succeeds exactly when H is positive definite
            return
        except np.linalg.LinAlgError:
            pass
        w, V = np.linalg.eigh(H)
        scale = max(1.0, float(np.max(np.abs(w))))
        self.lam_min, self.v_min = float(w[0]), V[:, 0]
        self.psd = self.lam_min >= -1e-8 * scale
        tau = max(-2.0 * self.lam_min, 0.0) + 1e-8 * scale
        for _ in range(20):
            try:
                np.linalg.cholesky(H + tau * np.eye(len(H)))
                self.M, self.damping = H + tau * np.eye(len(H)), tau
                return
            except np.linalg.LinAlgError:
                tau *= 10.0
        self.ok = False                                          # pragma: no cover

    def solve(self, b):
        """(H + damping I)^{-1} b."""
        return np.linalg.solve(self.M, b)


def _newton(prob, run):
    return _run(_newton_loop, prob, run)


def _newton_loop(prob, run):
    x = prob.x0.copy()
    f, g = prob.value_and_grad(x)
    if not (math.isfinite(f) and np.all(np.isfinite(g))):
        run.start(x, f, g)                          # stops: not finite at x0
    fac = _Factor(prob.hessian(x))
    run.start(x, f, g, second_order_ok=fac.psd, damping=fac.damping)
    for k in range(1, run.max_iter + 1):
        gnorm = float(norm(g))
        direction = "newton"
        if gnorm <= run.tol and not fac.psd:
            # a saddle: g ~ 0 but H has a negative eigenvalue; move along its eigenvector v,
            # signed so g.v <= 0. Along a v: f ~ f + a g.v + a^2 lambda_min / 2 < f.
            direction = "negative curvature"
            p = fac.v_min if float(g @ fac.v_min) <= 0 else -fac.v_min
            a, f_new = _curvature_search(prob, x, p, f, float(g @ p), fac.lam_min, run.lr)
        else:
            p = fac.solve(-g) if fac.ok else -g
            gp = float(g @ p)
            # the damped Newton step must descend; otherwise take the gradient step
            if not fac.ok or not (gp < -1e-14 * gnorm * norm(p)) or not np.all(np.isfinite(p)):
                p, gp, direction = -g, -gnorm * gnorm, "gradient"
            a, f_new = _armijo_step(prob, run, x, p, f, gp, gnorm, direction)
        if a is None:
            run.line_search_failed(k, gnorm, f"the {direction} direction")
        x_new = x + a * p
        f_new, g_new = prob.value_and_grad(x_new)
        if not np.all(np.isfinite(g_new)):
            run.stop(False, f"the gradient became non-finite ({_first_bad(g_new)}) at iteration {k} "
                            f"(f = {f_new:.6g})")
        fac = _Factor(prob.hessian(x_new))
        step = float(norm(x_new - x))
        x, f_prev, f, g = x_new, f, f_new, g_new
        run.step(k, x, f, g, f_prev, step, second_order_ok=fac.psd, alpha=a, damping=fac.damping,
                 direction=direction)


def _armijo_step(prob, run, x, p, f, gp, gnorm, direction):
    """Backtracking Armijo search along ``p`` from ``x`` (slope ``gp``); stops the run
    if f is unbounded below along it. Returns ``(step, f at the step)``, step None on failure."""
    a, f_new, _, status = backtracking(lambda a: prob.value(x + a * p), f, gp, run.lr,
                                       grad_decreases=lambda a: _grad_norm(prob, x + a * p) < gnorm,
                                       eps=prob.eps)
    if status == "unbounded":
        run.unbounded(f_new, a, f"{direction} direction")
    return a, f_new


def _grad_norm(prob, x):
    _, g = prob.value_and_grad(x)
    return float(norm(g)) if np.all(np.isfinite(g)) else math.inf


def _curvature_search(prob, x, p, f0, d0, lam, a0, c1=1e-4, max_steps=60):
    """Backtracking along a direction of negative curvature: accept a when
    f(x + a p) <= f0 + c1 (a d0 + a^2 lam / 2)  (lam < 0: the quadratic model's decrease)."""
    a = a0
    for _ in range(max_steps):
        fa = prob.value(x + a * p)
        if math.isfinite(fa) and fa <= f0 + c1 * (a * d0 + 0.5 * a * a * lam) and fa < f0:
            return a, fa
        a *= 0.5
    return None, None


# -- Newton-CG: truncated conjugate gradients on Hessian-vector products ----------------------

def _truncated_cg(hvp, g, max_iter):
    """Approximately solve H p = -g by CG (Nocedal & Wright, Algorithm 7.1).

    Stops when |r| <= eta |g| with the forcing term eta = min(0.5, sqrt(|g|)) (superlinear
    convergence), or on negative curvature d.Hd <= 0: then the iterate so far, or -g on the
    first CG iteration, is returned.

    Returns:
      ``(p, cg_iterations, negative_curvature)``.
    """
    gnorm = float(norm(g))
    tol = min(0.5, math.sqrt(gnorm)) * gnorm
    z = np.zeros_like(g)
    r = g.copy()                     # r = H z + g
    d = -r
    rr = float(r @ r)
    for j in range(max_iter):
        Hd = hvp(d)
        dHd = float(d @ Hd)
        if not (dHd > 0) or not math.isfinite(dHd):
            return (-g if j == 0 else z), j + 1, True
        alpha = rr / dHd
        z = z + alpha * d
        r = r + alpha * Hd
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= tol:
            return z, j + 1, False
        d = -r + (rr_new / rr) * d
        rr = rr_new
    return z, max_iter, False


def _newton_cg(prob, run, cg_max):
    return _run(_newton_cg_loop, prob, run, cg_max)


def _newton_cg_loop(prob, run, cg_max):
    x = prob.x0.copy()
    f, g, hvp = prob.linearize(x)
    run.start(x, f, g, cg_iter=0)
    for k in range(1, run.max_iter + 1):
        gnorm = float(norm(g))
        p, cg_iter, negative = _truncated_cg(hvp, g, cg_max)
        gp = float(g @ p)
        direction = "newton-cg"
        if not (gp < 0) or not np.all(np.isfinite(p)):
            p, gp, direction = -g, -gnorm * gnorm, "gradient"
        a, f_new = _armijo_step(prob, run, x, p, f, gp, gnorm, direction)
        if a is None:
            run.line_search_failed(k, gnorm, f"the {direction} direction")
        x_new = x + a * p
        f_new, g_new, hvp = prob.linearize(x_new)
        if not np.all(np.isfinite(g_new)):
            run.stop(False, f"the gradient became non-finite ({_first_bad(g_new)}) at iteration {k} "
                            f"(f = {f_new:.6g})")
        step = float(norm(x_new - x))
        x, f_prev, f, g = x_new, f, f_new, g_new
        run.step(k, x, f, g, f_prev, step, alpha=a, cg_iter=cg_iter, negative_curvature=negative)


# -- L-BFGS -------------------------------------------------------------------------------

def _two_loop(g, S, Y, rho):
    """H_k g by the L-BFGS two-loop recursion (Nocedal & Wright, Algorithm 7.4),
    with H_0 = gamma I, gamma = s.y / y.y of the newest pair."""
    q = g.copy()
    alphas = []
    for s, y, r in zip(reversed(S), reversed(Y), reversed(rho)):
        a = r * float(s @ q)
        q -= a * y
        alphas.append(a)
    gamma = float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
    q *= gamma
    for (s, y, r), a in zip(zip(S, Y, rho), reversed(alphas)):
        b = r * float(y @ q)
        q += (a - b) * s
    return q


def _clear(*memories):
    for m in memories:
        m.clear()


def _lbfgs(prob, run, memory):
    return _run(_lbfgs_loop, prob, run, memory)


def _lbfgs_loop(prob, run, memory):
    x = prob.x0.copy()
    f, g = prob.value_and_grad(x)
    run.start(x, f, g)
    S, Y, rho = deque(maxlen=memory), deque(maxlen=memory), deque(maxlen=memory)
    for k in range(1, run.max_iter + 1):
        gnorm = float(norm(g))
        while True:
            direction = "lbfgs" if S else "gradient"
            p = -_two_loop(g, S, Y, rho) if S else -g
            gp = float(g @ p)
            if not (gp < 0) or not np.all(np.isfinite(p)):
                _clear(S, Y, rho)
                direction, p, gp = "gradient", -g, -gnorm * gnorm
            # without curvature pairs, scale the first step to length lr
            a0 = run.lr if S else run.lr * min(1.0, 1.0 / gnorm)

            def phi(a, p=p):
                fa, ga = prob.value_and_grad(x + a * p)
                return fa, ga, float(ga @ p) if np.all(np.isfinite(ga)) else math.nan
            ls = strong_wolfe(phi, f, gp, gnorm, a0, f_lower=run.f_low, eps=prob.eps)
            if ls.status != "failed" or not S:
                break
            _clear(S, Y, rho)                       # retry once along -g with the memory reset
        if ls.status == "failed":
            run.line_search_failed(k, gnorm, f"the {direction} direction")
        x_new = x + ls.alpha * p
        f_new, g_new = ls.f, ls.g
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        # keep the pair only with positive curvature s.y > 0 (else H_k would not stay positive definite)
        skipped = not (sy > 0 and math.isfinite(sy))
        if not skipped:
            S.append(s)
            Y.append(y)
            rho.append(1.0 / sy)
        step = float(norm(s))
        x, f_prev, f, g = x_new, f, f_new, g_new
        if ls.status == "unbounded":
            if math.isfinite(f) and np.all(np.isfinite(g)):
                run.step(k, x, f, g, f_prev, step, alpha=ls.alpha, direction=direction, update_skipped=skipped)
            run.unbounded(f, ls.alpha, f"{direction} direction")
        run.step(k, x, f, g, f_prev, step, alpha=ls.alpha, direction=direction, update_skipped=skipped)
