"""Losses (means over the batch) and the accuracy metric.

Classification losses take logits, not probabilities: ``log_softmax`` and
``softplus`` of logits stay finite and accurate where ``log(softmax(z))`` would
round to ``log(0)``.
"""
from __future__ import annotations

import numpy as np

from .. import numpy as pnp
from .activations import log_softmax, softplus


def _concrete_labels_to(x, dtype):
    if pnp._is_traced(x):
        return x
    x = np.asarray(x)
    return x.astype(dtype) if x.dtype != dtype else x


def _match_shapes(pred, target, who):
    """Targets of shape (n,) for predictions of shape (n, 1) (and the reverse) are
    reshaped instead of broadcast to (n, n), the classic silent bug."""
    ps, ts = pnp._shape(pred), pnp._shape(target)
    if ps == ts:
        return target
    if len(ps) == 2 and ps[1] == 1 and ts == ps[:1]:
        return pnp.reshape(target, ps)
    if len(ts) == 2 and ts[1] == 1 and ps == ts[:1]:
        return pnp.reshape(target, ps)
    raise ValueError(f"{who}: predictions have shape {ps} but targets have shape {ts}; they must match "
                     "(an (n, 1) prediction also accepts (n,) targets)")


def mse(pred, target):
    """Mean squared error ``mean((pred - target)^2)``.

    Examples:
      >>> from partiald import nn
      >>> nn.mse(np.array([[1.0], [2.0]]), np.array([1.0, 4.0]))
      2.0
    """
    target = _concrete_labels_to(target, pnp._dtype(pred) if pnp._dtype(pred).kind == "f" else np.float64)
    target = _match_shapes(pred, target, "mse")
    d = pnp.subtract(pred, target)
    return _scalar(pnp.mean(pnp.multiply(d, d)))


def _scalar(x):
    """A 0-d float64 NumPy result leaves as a Python float, like ``grad``'s results."""
    if isinstance(x, (np.ndarray, np.generic)) and x.ndim == 0:
        return float(x) if x.dtype == np.float64 else x[()]
    return x


def _check_class_labels(labels, k, who):
    """Concrete labels: integer class indices in [0, k); float arrays of whole numbers are accepted."""
    if pnp._is_traced(labels):
        if pnp._dtype(labels).kind not in "iu":
            raise TypeError(f"{who}: labels must be integer class indices, got dtype {pnp._dtype(labels)}")
        return labels
    y = np.asarray(labels)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{who}: labels must be integer class indices 0..{k - 1}; got non-integer values "
                             "(for probabilities per class pass an (n, k) array)")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"{who}: labels must be integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= k):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise ValueError(f"{who}: label {bad} is out of range: with {k} logits per example labels must be "
                         f"in 0..{k - 1}")
    return y


def cross_entropy(logits, labels):
    """Softmax cross-entropy from logits, averaged over the batch.

    Args:
      logits: shape ``(n, k)``, unnormalized class scores.
      labels: integer class indices of shape ``(n,)``, or class probabilities
        (for example one-hot rows) of shape ``(n, k)``.

    Returns:
      ``-mean(log_softmax(logits)[i, labels[i]])``.

    Examples:
      >>> from partiald import nn
      >>> round(nn.cross_entropy(np.zeros((2, 4)), np.array([0, 3])), 6)    # log(4)
      1.386294
    """
    ls = pnp._shape(logits)
    if len(ls) != 2:
        raise ValueError(f"cross_entropy: logits must have shape (n, k), got {ls}")
    n, k = ls
    logp = log_softmax(logits, axis=-1)
    if len(pnp._shape(labels)) == 2:        # probabilities per class
        if pnp._shape(labels) != ls:
            raise ValueError(f"cross_entropy: probability labels have shape {pnp._shape(labels)}, "
                             f"logits {ls}; they must match")
        labels = _concrete_labels_to(labels, pnp._dtype(logits))
        return _scalar(pnp.negative(pnp.mean(pnp.sum(pnp.multiply(labels, logp), axis=1))))
    if pnp._shape(labels) != (n,):
        raise ValueError(f"cross_entropy: labels have shape {pnp._shape(labels)}, expected ({n},): one "
                         f"class index per row of the logits {ls}")
    labels = _check_class_labels(labels, k, "cross_entropy")
    return _scalar(pnp.negative(pnp.mean(logp[np.arange(n), labels])))


def binary_cross_entropy(logits, labels):
    """Sigmoid cross-entropy from logits, averaged over the batch.

    ``-[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = softplus(z) - y z``,
    finite for any logit. ``logits`` has shape ``(n,)`` or ``(n, 1)``; labels are 0/1
    (or probabilities) of shape ``(n,)``.

    Examples:
      >>> from partiald import nn
      >>> round(nn.binary_cross_entropy(np.zeros(3), np.array([0, 1, 1])), 6)   # log(2)
      0.693147
    """
    dt = pnp._dtype(logits)
    labels = _concrete_labels_to(labels, dt)
    if not pnp._is_traced(labels) and labels.size and (labels.min() < 0 or labels.max() > 1):
        raise ValueError("binary_cross_entropy: labels must be 0 or 1 (or probabilities in [0, 1]), "
                         f"got values in [{labels.min():g}, {labels.max():g}]")
    labels = _match_shapes(logits, labels, "binary_cross_entropy")
    return _scalar(pnp.mean(pnp.subtract(softplus(logits), pnp.multiply(labels, logits))))


def accuracy(logits, labels):
    """The fraction of rows whose predicted class equals the label (a float in [0, 1]).

    ``(n, k)`` logits predict ``argmax``; ``(n,)`` or ``(n, 1)`` logits of a binary
    classifier predict ``logit > 0``.
    """
    z = np.asarray(logits)
    y = np.asarray(labels)
    if z.ndim == 2 and z.shape[1] > 1:
        pred = np.argmax(z, axis=1)
    else:
        pred = (z.reshape(len(z)) > 0).astype(np.int64)
    y = y.reshape(len(y))
    return float(np.mean(pred == y)) if len(y) else float("nan")


#: loss name -> (function, is_classification)
LOSSES = {"mse": (mse, False), "cross_entropy": (cross_entropy, True),
          "binary_cross_entropy": (binary_cross_entropy, True)}


def get_loss(loss):
    """``(loss_fn, is_classification)`` for a name in ``LOSSES`` or a function ``(pred, target) -> scalar``."""
    if isinstance(loss, str):
        if loss.lower() not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a function "
                             "(predictions, targets) -> scalar")
        return LOSSES[loss.lower()]
    if callable(loss):
        for fn, cls in LOSSES.values():
            if loss is fn:
                return fn, cls
        return loss, False
    raise TypeError(f"loss must be a name ({', '.join(LOSSES)}) or a function, got {type(loss).__name__}")
