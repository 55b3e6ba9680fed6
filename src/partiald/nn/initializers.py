"""Weight initializers: ``init(rng, fan_in, fan_out) -> float64 array (fan_in, fan_out)``.

Glorot (Xavier) keeps the variance of activations and gradients about equal
across layers for tanh and sigmoid networks; He doubles the variance to make up
for ReLU zeroing half its inputs. Values are drawn in float64 from a NumPy
Generator and cast by the layer, so a float32 model starts from the rounded
float64 weights.
"""
from __future__ import annotations

import numpy as np


def glorot_uniform(rng, fan_in, fan_out):
    """``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio, 2010)."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def glorot_normal(rng, fan_in, fan_out):
    """``N(0, 2 / (fan_in + fan_out))``."""
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def he_uniform(rng, fan_in, fan_out):
    """``U(-a, a)`` with ``a = sqrt(6 / fan_in)`` (He et al., 2015)."""
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def he_normal(rng, fan_in, fan_out):
    """``N(0, 2 / fan_in)`` (He et al., 2015), for ReLU-like activations."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def zeros(rng, fan_in, fan_out):
    """All zeros (a linear model's usual start)."""
    return np.zeros((fan_in, fan_out))


#: initializer name -> function; "glorot" and "he" name the uniform and normal defaults
INITIALIZERS = {"glorot": glorot_uniform, "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
                "xavier": glorot_uniform, "he": he_normal, "he_normal": he_normal, "he_uniform": he_uniform,
                "zeros": zeros}


def get_initializer(init):
    """The initializer for a name in ``INITIALIZERS`` or a callable ``(rng, fan_in, fan_out)``."""
    if callable(init):
        return init
    if isinstance(init, str) and init.lower() in INITIALIZERS:
        return INITIALIZERS[init.lower()]
    raise ValueError(f"unknown initializer {init!r}; choose one of {', '.join(sorted(INITIALIZERS))} "
                     "or pass a function (rng, fan_in, fan_out) -> array")


def default_for(activation):
    """He for ReLU-like activations, Glorot otherwise."""
    return "he" if isinstance(activation, str) and activation.lower() in ("relu", "gelu", "softplus") else "glorot"
