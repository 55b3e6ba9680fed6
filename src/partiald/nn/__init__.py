"""Neural-network numerics: activations and stable log-sum-exp family.

All are compositions of partiald.numpy functions, written to stay finite for
inputs of +-1e4 (and their gradients too).
"""
from __future__ import annotations

import numpy as np

from .. import numpy as pnp
from ..core.primitive import bind
from ..ops.elementwise import logistic_p


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


__all__ = ["sigmoid", "relu", "softplus", "logsumexp", "log_softmax", "softmax"]
del np
