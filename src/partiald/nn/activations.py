"""Activation functions and the stable log-sum-exp family.

All are compositions of partiald.numpy functions, written to stay finite for
inputs of +-1e4 (and their gradients too). ``ACTIVATIONS`` maps the names
that ``nn.MLP(..., activation=name)`` accepts to these functions.
"""
from __future__ import annotations

import math

from .. import numpy as pnp
from ..core.primitive import bind
from ..ops.elementwise import logistic_p
from ..scipy.special import erf


def sigmoid(x):
    """``1 / (1 + exp(-x))``, accurate in both tails (no overflow, no cancellation);
    its derivative is ``sigmoid(x) * (1 - sigmoid(x))``."""
    return bind(logistic_p, pnp._to_float(x))


def relu(x):
    """``maximum(x, 0)``; ``relu'(0) = 0``."""
    return pnp.maximum(x, 0.0)


def softplus(x):
    """``log(1 + exp(x))`` computed as ``logaddexp(x, 0)``; its derivative is ``sigmoid(x)``."""
    return pnp.logaddexp(x, 0.0)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` without overflow; finite gradient (0) for an all ``-inf`` slice."""
    x = pnp._to_float(pnp.asarray(x) if not pnp._is_traced(x) else x)
    axes = pnp._axes(x, axis)
    m = pnp.stop_gradient(pnp.max(x, axes, keepdims=True))
    m = pnp.where(pnp.isfinite(m), m, 0.0)
    s = pnp.sum(pnp.exp(pnp.subtract(x, m)), axes, keepdims=True)
    out = pnp.add(pnp.log(s), m)
    return out if keepdims else pnp.reshape(out, tuple(d for i, d in enumerate(pnp._shape(x)) if i not in axes))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)``, stable for large inputs."""
    return pnp.subtract(x, logsumexp(x, axis, keepdims=True))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for large inputs."""
    x = pnp._to_float(pnp.asarray(x) if not pnp._is_traced(x) else x)
    m = pnp.stop_gradient(pnp.max(x, axis, keepdims=True))
    m = pnp.where(pnp.isfinite(m), m, 0.0)
    e = pnp.exp(pnp.subtract(x, m))
    return pnp.divide(e, pnp.sum(e, axis, keepdims=True))


def tanh(x):
    """The hyperbolic tangent, ``pnp.tanh``; its derivative is ``1 - tanh(x)^2``."""
    return pnp.tanh(x)


_GELU_C = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def gelu(x, approximate=False):
    """Gaussian error linear unit, ``x * Phi(x)`` with ``Phi`` the standard normal CDF:
    ``0.5 * x * (1 + erf(x / sqrt(2)))`` (as ``torch.nn.GELU()`` and
    ``jax.nn.gelu(x, approximate=False)``). ``approximate=True`` gives the tanh form
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` (``jax.nn.gelu``'s
    default, ``torch.nn.GELU(approximate="tanh")``), within 1e-3 of the exact one."""
    x = pnp._to_float(x)
    if approximate:
        inner = pnp.multiply(_GELU_C, pnp.add(x, pnp.multiply(0.044715, pnp.power(x, 3))))
        return pnp.multiply(pnp.multiply(0.5, x), pnp.add(1.0, pnp.tanh(inner)))
    return pnp.multiply(pnp.multiply(0.5, x), pnp.add(1.0, erf(pnp.multiply(x, _SQRT_HALF))))


def identity(x):
    """``x`` unchanged (a linear layer's output)."""
    return x


#: activation name -> function, for ``MLP(sizes, activation=name)``
ACTIVATIONS = {"tanh": tanh, "relu": relu, "sigmoid": sigmoid, "gelu": gelu, "softmax": softmax,
               "softplus": softplus, "identity": identity, "linear": identity}


def get_activation(activation):
    """The activation function for a name in ``ACTIVATIONS`` or a callable (returned as is).

    Raises:
      ValueError: an unknown name, listing the known ones.
    """
    if callable(activation):
        return activation
    if activation is None:
        return identity
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]
    raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(sorted(ACTIVATIONS))} "
                     "or pass a function of one array")
