"""``optim.scipy``: partiald's derivatives as the callables ``scipy.optimize.minimize`` expects.

SciPy passes flat float64 vectors; pytree parameters are flattened with the
structure of an example ``x0`` and rebuilt for ``f``. SciPy usually asks for
``fun`` and ``jac`` at the same point, and for many ``hessp`` products at one
point, so the last value-and-gradient and the last linearization are cached.
SciPy itself is imported only by :meth:`ScipyObjective.minimize`.
"""
from __future__ import annotations

import numpy as np

from .problem import FlatProblem

#: SciPy methods that use a Hessian-vector product, and those that use the dense Hessian
_HESSP_METHODS = ("newton-cg", "trust-ncg", "trust-krylov", "trust-constr")
_HESS_METHODS = ("dogleg", "trust-exact")


class ScipyObjective:
    """``fun``, ``jac``, ``hess`` and ``hessp`` of ``f`` on flat float64 vectors.

    Args:
      f: scalar function of a pytree (or of a flat vector when ``x0`` is None).
      x0: an example (starting) pytree giving the structure, shapes and dtypes;
        ``self.x0`` is its flat float64 vector and ``self.unravel(v)`` rebuilds it.
    """

    def __init__(self, f, x0=None):
        if not callable(f):
            raise TypeError(f"optim.scipy: f must be a function, got {type(f).__name__}")
        self.f = f
        self._prob = FlatProblem(f, x0, "optim.scipy") if x0 is not None else None
        self.x0 = self._prob.x0.copy() if self._prob is not None else None
        self._vg = None      # (x, f, g)
        self._lin = None     # (x, f, g, hvp)

    def __repr__(self):
        n = "?" if self._prob is None else self._prob.n
        return f"ScipyObjective({getattr(self.f, '__name__', 'f')}, n={n})"

    def _problem(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"optim.scipy: expected a flat vector, got shape {x.shape}")
        if self._prob is None or (self.x0 is None and self._prob.n != x.size):
            self._prob = FlatProblem(self.f, np.zeros(x.size), "optim.scipy")
        elif x.size != self._prob.n:
            raise ValueError(f"optim.scipy: expected a vector of length {self._prob.n} (the size of x0), "
                             f"got {x.size}")
        return self._prob, x

    def unravel(self, v):
        """The pytree (structured like ``x0``) of a flat vector, e.g. ``res.x``."""
        prob, v = self._problem(v)
        return prob.unravel(v)

    def _value_and_grad(self, x):
        prob, x = self._problem(x)
        for cache in (self._lin, self._vg):
            if cache is not None and np.array_equal(cache[0], x):
                return cache[1], cache[2]
        f, g = prob.value_and_grad(x)
        self._vg = (x.copy(), f, g)
        return f, g

    def fun(self, x):
        """f(x) as a float."""
        return self._value_and_grad(x)[0]

    def jac(self, x):
        """The gradient at x, a new float64 vector."""
        return self._value_and_grad(x)[1].copy()

    def hess(self, x):
        """The dense Hessian at x, ``(n, n)`` float64 (forms H: small problems only)."""
        prob, x = self._problem(x)
        return prob.hessian(x)

    def hessp(self, x, p):
        """``H(x) @ p`` without forming H; the linearization at x is reused across calls."""
        prob, x = self._problem(x)
        if self._lin is None or not np.array_equal(self._lin[0], x):
            f, g, hvp = prob.linearize(x)
            self._lin = (x.copy(), f, g, hvp)
        return self._lin[3](np.asarray(p, dtype=np.float64).reshape(x.shape))

    @property
    def nfev(self):
        """Evaluations so far: ``(f, gradient, Hessian or linearization)``."""
        p = self._prob
        return (0, 0, 0) if p is None else (p.nfev, p.ngev, p.nhev)

    def minimize(self, method="L-BFGS-B", x0=None, **kwargs):
        """Run ``scipy.optimize.minimize`` with these derivatives (``hessp`` or ``hess`` when
        the method uses them).

        Args:
          method: a SciPy method name.
          x0: a flat starting vector (default ``self.x0``).
          **kwargs: passed to ``scipy.optimize.minimize`` (``tol``, ``options``, ...).

        Returns:
          SciPy's ``OptimizeResult`` (flat ``x``; ``self.unravel(res.x)`` gives the pytree).
        """
        from scipy import optimize      # optional dependency, imported only here
        start = self.x0 if x0 is None else np.asarray(x0, dtype=np.float64)
        if start is None:
            raise ValueError("optim.scipy(f).minimize: give x0 (here or to optim.scipy(f, x0))")
        m = method.lower()
        if m in _HESSP_METHODS and "hessp" not in kwargs and "hess" not in kwargs:
            kwargs["hessp"] = self.hessp
        if m in _HESS_METHODS and "hess" not in kwargs:
            kwargs["hess"] = self.hess
        return optimize.minimize(self.fun, start, jac=self.jac, method=method, **kwargs)


def scipy(f, x0=None):
    """Callables for ``scipy.optimize.minimize`` from a partiald-differentiable ``f``.

    Args:
      f: scalar function of a pytree (or of a flat float64 vector).
      x0: an example pytree for its structure (needed when ``f`` takes a pytree).

    Returns:
      A :class:`ScipyObjective` with ``fun``, ``jac``, ``hess``, ``hessp``, ``x0`` and
      ``unravel``.

    Examples:
      >>> import numpy as np, scipy.optimize
      >>> from partiald import optim
      >>> rosen = lambda x: (1 - x[0])**2 + 100 * (x[1] - x[0]**2)**2
      >>> p = optim.scipy(rosen)
      >>> res = scipy.optimize.minimize(p.fun, np.array([-1.2, 1.0]), jac=p.jac, hessp=p.hessp,
      ...                               method="Newton-CG")
      >>> np.round(res.x, 4)
      array([1., 1.])
    """
    return ScipyObjective(f, x0)
