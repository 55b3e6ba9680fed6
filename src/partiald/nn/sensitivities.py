"""Feature sensitivities: the partial derivative of a model's prediction with
respect to each input feature, for every example at once."""
from __future__ import annotations

import numpy as np

from .. import numpy as pnp
from ..api import grad
from ..compile.jit import jit
from .training import _param_dtype

_CHUNK = 4096


class Sensitivity:
    """Partial derivatives of a prediction with respect to the input features.

    Attributes:
      per_example: ``(n, d)`` array, ``d prediction / d feature_j`` at example ``i``
        (other features held constant).
      mean: ``(d,)`` mean of the partials over the examples (signed): the effect of
        one unit of the feature.
      mean_abs: ``(d,)`` mean absolute partial.
      std: ``(d,)`` standard deviation of each feature, in the feature's units.
      per_std: ``(d,)`` ``mean * std``: the effect of a change of one standard
        deviation, a change typical of the data. Units differ between features (a
        price per square metre against a price per year of age); per standard
        deviation they do not, so the ranking uses it.
      mean_abs_per_std: ``(d,)`` ``mean_abs * std``, the ranking key.
      feature_names: ``d`` names (``x0, x1, ...`` when none were given).
      output: the model output the partials are of.
    """

    def __init__(self, per_example, feature_names=None, output=0, target_name="prediction", std=None):
        self.per_example = per_example
        self.mean = per_example.mean(axis=0)
        self.mean_abs = np.abs(per_example).mean(axis=0)
        d = per_example.shape[1]
        self.std = np.ones(d) if std is None else np.asarray(std, dtype=np.float64).reshape(d)
        self.per_std = self.mean * self.std
        self.mean_abs_per_std = self.mean_abs * self.std
        self.feature_names = tuple(feature_names) if feature_names is not None else tuple(f"x{j}" for j in range(d))
        self.output = output
        self.target_name = target_name

    def ranking(self):
        """Feature indices, largest mean absolute effect per standard deviation first (ties
        keep the feature order)."""
        return np.argsort(-self.mean_abs_per_std, kind="stable")

    def as_dict(self):
        """``{feature name: mean partial}`` (per unit), in the order of ``ranking()``."""
        return {self.feature_names[j]: float(self.mean[j]) for j in self.ranking()}

    def table(self, top=None):
        """A text table, ranked by the effect per standard deviation: the mean partial per
        unit of the feature, per standard deviation, and the standard deviation."""
        order = self.ranking()[:top]
        t = self.target_name
        # a non-monotone effect (an MLP's partial changes sign): its mean understates it, so
        # the mean absolute effect, the ranking key, gets a column
        both = not np.allclose(np.abs(self.mean), self.mean_abs, rtol=1e-9, atol=0)
        heads = ["feature", f"d {t}/d feature, per unit", "per std", *(["mean |per std|"] if both else []),
                 "std of feature"]
        rows = []
        for j in order:
            r = [self.feature_names[j], f"{self.mean[j]:.6g}", f"{self.per_std[j]:.6g}"]
            if both:
                r.append(f"{self.mean_abs_per_std[j]:.6g}")
            rows.append([*r, f"{self.std[j]:.4g}"])
        w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]
        lines = ["  ".join([f"{heads[0]:<{w[0]}}", *(f"{h:>{w[i]}}" for i, h in enumerate(heads) if i)])]
        lines += ["  ".join([f"{r[0]:<{w[0]}}", *(f"{c:>{w[i]}}" for i, c in enumerate(r) if i)]) for r in rows]
        return "\n".join(lines)

    __str__ = table

    def __repr__(self):
        return f"Sensitivity(n={self.per_example.shape[0]}, features={list(self.feature_names)})"


def sensitivity(model, params, X, feature_names=None, output=None, x_scale=None, y_scale=None,
                target_name="prediction", x_std=None):
    """``d prediction / d feature`` for every example and feature: "how much does the
    prediction change per unit of this feature, the other features held constant".

    One reverse pass gives every example's input gradient: the gradient of
    ``sum_i model(params, X)[i, k]`` with respect to ``X`` has row ``i`` equal to the
    gradient of example ``i``'s prediction alone, because examples do not interact
    (true for ``nn.MLP``/``nn.Linear`` and any model without batch statistics).

    Args:
      model: a callable ``model(params, X)``.
      params: its parameters.
      X: inputs ``(n, d)`` at which to differentiate.
      feature_names: optional ``d`` names for the table.
      output: which output column to differentiate (needed when the model has
        several outputs, e.g. class logits).
      x_scale, y_scale: undo a standardization: if the model sees
        ``(x - mean) / x_scale`` and predicts ``(y - mean) / y_scale``, the partials
        are multiplied by ``y_scale / x_scale`` to come out in units of ``y`` per
        unit of ``x``.
      target_name: the prediction's name in the table.
      x_std: each feature's standard deviation in its own units, for the effect
        per standard deviation (default: that of ``X``, times ``x_scale``).

    Returns:
      A ``Sensitivity`` with ``.per_example (n, d)``, ``.mean``, ``.mean_abs (d,)``,
      ``.per_std``, ``.std``, ``.feature_names`` and ``.table()`` (ranked by the
      effect per standard deviation).

    Examples:
      >>> from partiald import nn
      >>> model = nn.Linear(2, 1)
      >>> params = {"W": np.array([[3.0], [-1.0]]), "b": np.zeros(1)}
      >>> s = nn.sensitivity(model, params, np.ones((4, 2)), feature_names=["size", "age"])
      >>> s.per_example.shape, s.mean_abs.tolist()
      ((4, 2), [3.0, 1.0])
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(f"sensitivity: X must be a numeric array of shape (n, d), got shape {X.shape} "
                         f"and dtype {X.dtype}")
    X = X.astype(_param_dtype(params), copy=False)
    n, d = X.shape
    if feature_names is not None and len(feature_names) != d:
        raise ValueError(f"sensitivity: {len(feature_names)} feature names for {d} features")
    shape = pnp._shape(model(params, X[:1]))
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        if output not in (None, 0):
            raise ValueError(f"sensitivity: the model has one output, so output must be 0 or None, got {output!r}")
        k = None
        output = 0
    elif len(shape) == 2:
        if output is None:
            raise ValueError(f"sensitivity: the model has {shape[1]} outputs; pass output=k to choose the one "
                             "to differentiate (e.g. a class's logit)")
        if not isinstance(output, (int, np.integer)) or not 0 <= output < shape[1]:
            raise ValueError(f"sensitivity: output must be an integer in 0..{shape[1] - 1}, got {output!r}")
        k = int(output)
    else:
        raise ValueError(f"sensitivity: model outputs must have shape (n,) or (n, k), got {shape}")

    def total(Xb, p):
        pred = model(p, Xb)
        return pnp.sum(pred if k is None else pred[:, k])

    g = jit(grad(total))
    per_example = np.concatenate([np.asarray(g(X[s:s + _CHUNK], params)) for s in range(0, n, _CHUNK)]) \
        if n else np.zeros((0, d), X.dtype)
    if x_scale is not None or y_scale is not None:
        # y = y_mean + y_scale * f((x - x_mean) / x_scale)  =>  dy/dx_j = y_scale / x_scale_j * df/dz_j
        xs = np.ones(d) if x_scale is None else np.asarray(x_scale, dtype=np.float64).reshape(-1)
        ys = np.ones(1) if y_scale is None else np.asarray(y_scale, dtype=np.float64).reshape(-1)
        if xs.shape != (d,) or ys.shape != (1,):
            raise ValueError(f"sensitivity: x_scale must have {d} entries (one per feature) and y_scale one, "
                             f"got {xs.size} and {ys.size}")
        per_example = per_example * (ys[0] / xs)
    if x_std is None:
        x_std = X.std(axis=0) if n else np.zeros(d)
        if x_scale is not None:
            x_std = x_std * np.asarray(x_scale, dtype=np.float64).reshape(-1)
    else:
        x_std = np.asarray(x_std, dtype=np.float64).reshape(-1)
        if x_std.shape != (d,):
            raise ValueError(f"sensitivity: x_std must have {d} entries (one per feature), got {x_std.size}")
    return Sensitivity(per_example, feature_names, output, target_name, std=x_std)
