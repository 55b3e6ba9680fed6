"""Layers as pure functions of plain parameter pytrees.

A model is a description (sizes, activation, dtype); its parameters live in a
plain pytree that ``model.init(seed)`` returns and that ``pdx.grad``, ``jit``
and the optimizers take as they are. ``model(params, X)`` (also
``model.apply``) computes the output for a batch ``X`` of shape ``(n, d)``.
"""
from __future__ import annotations

import numpy as np

from .. import numpy as pnp
from ..core.pytree import tree_leaves
from .activations import get_activation
from .initializers import default_for, get_initializer
from .memory import check_params, model_shapes


def _dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _prepare_input(X, dtype, n_in, who):
    """A concrete input becomes an array of the parameters' dtype (ints and other floats
    are converted); a traced one is left alone. The feature count is checked either way."""
    if not pnp._is_traced(X):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{who}: inputs must be numeric arrays, got dtype {X.dtype}")
        if X.dtype != dtype:
            X = X.astype(dtype)
    shape = pnp._shape(X)
    if len(shape) not in (1, 2) or shape[-1] != n_in:
        raise ValueError(f"{who} expects inputs of shape (n, {n_in}) ({n_in} features), got shape {shape}")
    return X


def _check_init(model, memory_budget, who):
    """MemoryBudgetError before ``model.init`` allocates parameters over the budget (the
    initializers draw float64 values: a float32 model also holds one layer's float64 draw)."""
    leaves, _ = model_shapes(model)
    extra = 8 * max(leaves) if model.dtype != np.float64 else 0
    check_params(sum(leaves), model.dtype.itemsize, extra, memory_budget, who)


class Linear:
    """A dense layer ``X @ W + b`` with ``W`` of shape ``(in_features, out_features)``.

    Args:
      in_features, out_features: sizes.
      bias: whether to add ``b``.
      init: weight initializer name (``"glorot"``, ``"he"``, ``"zeros"``, ...) or
        a function ``(rng, fan_in, fan_out) -> array``; biases start at 0.
      dtype: float64 (default) or float32.

    Examples:
      >>> from partiald import nn
      >>> layer = nn.Linear(3, 2)
      >>> p = layer.init(seed=0)
      >>> sorted(p), p["W"].shape, layer(p, np.ones((5, 3))).shape
      (['W', 'b'], (3, 2), (5, 2))
    """

    def __init__(self, in_features, out_features, bias=True, init="glorot", dtype=np.float64):
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.init_fn = get_initializer(init)
        self.dtype = _dtype(dtype)

    def init(self, seed=0, memory_budget=None):
        """Fresh parameters ``{"W": (in, out), "b": (out,)}`` from ``seed`` (an int or a NumPy Generator).

        Raises ``partiald.MemoryBudgetError`` before allocating parameters over
        ``memory_budget`` bytes (default: see ``partiald.nn.memory``)."""
        _check_init(self, memory_budget, repr(self) + ".init")
        return self._init(_rng(seed))

    def _init(self, rng):
        W = np.asarray(self.init_fn(rng, self.in_features, self.out_features), dtype=self.dtype)
        if W.shape != (self.in_features, self.out_features):
            raise ValueError(f"Linear: the initializer returned shape {W.shape}, expected "
                             f"{(self.in_features, self.out_features)}")
        params = {"W": W}
        if self.bias:
            params["b"] = np.zeros(self.out_features, dtype=self.dtype)
        return params

    def apply(self, params, X):
        """``X @ W + b`` for a batch ``X`` of shape ``(n, in_features)``."""
        X = _prepare_input(X, pnp._dtype(params["W"]), self.in_features, repr(self))
        out = pnp.matmul(X, params["W"])
        return pnp.add(out, params["b"]) if self.bias else out

    __call__ = apply

    @property
    def n_inputs(self):
        return self.in_features

    @property
    def n_outputs(self):
        return self.out_features

    @property
    def num_params(self):
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class MLP:
    """A multilayer perceptron: dense layers of ``sizes`` with ``activation`` between them.

    The last layer is linear (``output_activation=None``): it returns logits for
    ``nn.cross_entropy`` / ``nn.binary_cross_entropy`` or values for ``nn.mse``.
    Parameters are a list with one ``{"W", "b"}`` dict per layer.

    Args:
      sizes: ``[n_inputs, hidden..., n_outputs]``, at least two entries.
      activation: ``"tanh"`` (default), ``"relu"``, ``"sigmoid"``, ``"gelu"``,
        ``"softmax"``, ``"softplus"`` or a function of one array.
      init: weight initializer; default He for relu/gelu/softplus, Glorot otherwise.
      dtype: float64 (default) or float32, for parameters and computation.
      output_activation: applied to the last layer's output (default none).

    Examples:
      >>> from partiald import nn
      >>> model = nn.MLP([4, 8, 3], activation="relu")
      >>> params = model.init(seed=0)
      >>> [p["W"].shape for p in params], model.num_params
      ([(4, 8), (8, 3)], 67)
      >>> model(params, np.zeros((2, 4))).shape
      (2, 3)
    """

    def __init__(self, sizes, activation="tanh", init=None, dtype=np.float64, output_activation=None):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        self.sizes = sizes
        self.activation_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "f")
        self.activation = get_activation(activation)
        self.output_activation = get_activation(output_activation)
        self.dtype = _dtype(dtype)
        init = default_for(activation) if init is None else init
        self.layers = [Linear(m, n, init=init, dtype=self.dtype) for m, n in zip(sizes[:-1], sizes[1:])]

    def init(self, seed=0, memory_budget=None):
        """Fresh parameters, a list of ``{"W", "b"}`` dicts, from ``seed`` (an int or a NumPy Generator).

        Raises ``partiald.MemoryBudgetError`` before allocating parameters over
        ``memory_budget`` bytes (default: see ``partiald.nn.memory``)."""
        _check_init(self, memory_budget, "MLP.init")
        rng = _rng(seed)
        return [layer._init(rng) for layer in self.layers]

    def apply(self, params, X):
        """The network's output for a batch ``X`` of shape ``(n, sizes[0])``: shape ``(n, sizes[-1])``."""
        if not isinstance(params, (list, tuple)) or len(params) != len(self.layers):
            raise ValueError(f"{self!r} takes a list of {len(self.layers)} layer parameter dicts (from "
                             f"model.init), got {type(params).__name__}"
                             + (f" of length {len(params)}" if isinstance(params, (list, tuple)) else ""))
        h = X
        last = len(self.layers) - 1
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            h = layer(p, h)
            h = self.activation(h) if i < last else self.output_activation(h)
        return h

    __call__ = apply

    @property
    def n_inputs(self):
        return self.sizes[0]

    @property
    def n_outputs(self):
        return self.sizes[-1]

    @property
    def num_params(self):
        return sum(layer.num_params for layer in self.layers)

    def __repr__(self):
        return f"MLP({self.sizes}, activation={self.activation_name!r})"


def count_params(params):
    """The number of scalars in a parameter pytree."""
    return int(sum(np.size(p) for p in tree_leaves(params)))
