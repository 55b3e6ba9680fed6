"""Neural networks: activations, layers, losses, training and feature sensitivities.

    from partiald import nn, optim
    model = nn.MLP([64, 128, 10], activation="tanh")
    params = model.init(seed=0)                      # a list of {"W", "b"} dicts
    logits = model(params, X)                        # also model.apply(params, X)
    params, history = nn.fit(model, params, X, y, loss="cross_entropy",
                             optimizer=optim.adam(1e-3), epochs=20, batch_size=64,
                             validation=(Xv, yv))
    nn.sensitivity(model, params, X).mean_abs        # d prediction / d feature

Parameters are plain pytrees, so ``pdx.grad``, ``pdx.jit`` and the optimizers
take them as they are. Everything is float64 unless the model is built with
``dtype=np.float32``, which then holds end to end. The activation helpers
(``sigmoid relu softplus softmax log_softmax logsumexp``) are compositions of
partiald.numpy functions that stay finite for inputs of +-1e4, gradients too.
"""
from __future__ import annotations

from .activations import (ACTIVATIONS, gelu, get_activation, identity, log_softmax, logsumexp, relu, sigmoid,
                          softmax, softplus, tanh)
from .training import History, TrainingFailedWarning, fit, predict
from .initializers import INITIALIZERS, glorot_normal, glorot_uniform, he_normal, he_uniform
from .layers import MLP, Linear, count_params
from .losses import LOSSES, accuracy, binary_cross_entropy, cross_entropy, mse
from .sensitivities import Sensitivity, sensitivity

__all__ = [
    "sigmoid", "relu", "softplus", "logsumexp", "log_softmax", "softmax", "tanh", "gelu", "identity",
    "ACTIVATIONS", "get_activation",
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "INITIALIZERS",
    "Linear", "MLP", "count_params",
    "mse", "cross_entropy", "binary_cross_entropy", "accuracy", "LOSSES",
    "fit", "predict", "History", "TrainingFailedWarning", "sensitivity", "Sensitivity",
]
