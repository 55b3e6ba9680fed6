"""Optimization: ``minimize`` (gd to Newton, over pytrees), step optimizers for
training loops (``sgd``, ``adam``), learning-rate schedules, and ``scipy`` to
feed partiald's derivatives to ``scipy.optimize``.

    from partiald import optim
    res = optim.minimize(f, x0, method="newton", tol=1e-8)
    res.x, res.fun, res.converged, res.message, res.history
"""
from .bridge import ScipyObjective, scipy
from .solvers import DEFAULT_TOL, METHODS, minimize
from .result import OptimizeResult
from .steps import Adam, SGD, adam, cosine_decay, exponential_decay, linear_warmup, sgd

__all__ = ["minimize", "OptimizeResult", "METHODS", "DEFAULT_TOL", "sgd", "adam", "SGD", "Adam", "scipy",
           "ScipyObjective", "exponential_decay", "cosine_decay", "linear_warmup"]
