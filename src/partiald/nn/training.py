"""``nn.fit``: minibatch training with a jit-compiled step and a progress display."""
from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np

from .. import numpy as pnp
from ..api import value_and_grad
from ..compile.jit import jit
from ..core.pytree import tree_flatten, tree_leaves, tree_unflatten
from .losses import _check_class_labels, accuracy, cross_entropy, get_loss, mse
from . import memory as _memory

#: validation data is evaluated in chunks of this many rows (bounded memory)
_EVAL_CHUNK = 4096


def _param_dtype(params):
    for leaf in tree_leaves(params):
        dt = pnp._dtype(leaf)
        if dt.kind == "f":
            return dt
    return np.dtype(np.float64)


def _inputs(X, dtype, what):
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"fit: {what} must be a numeric array, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"fit: {what} must have shape (n_examples, n_features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"fit: {what} has no rows")
    X = X.astype(dtype, copy=False)
    step = max(1, (1 << 20) // max(X.shape[1], 1))      # rows per check: no full-size mask
    for s in range(0, len(X), step):
        bad = ~np.isfinite(X[s:s + step])
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"fit: {what} has a non-finite value ({X[s + i, j]}) at row {s + i}, column {j}; "
                             "clean the data first")
    return X


def _targets(y, n, loss_fn, dtype, what):
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(f"fit: {what} has {n} rows but its targets have {len(y)}; they must match")
    if loss_fn is cross_entropy and y.ndim == 1:
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError(f"fit: cross_entropy needs integer class labels, but the {what} targets "
                                 "have fractional values; use loss='mse' for regression")
        return y.astype(np.int64)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"fit: targets must be numeric, got dtype {y.dtype}")
    y = y.astype(dtype, copy=False)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"fit: the {what} targets contain NaN or inf; clean the data first")
    return y


class _Progress:
    """One line per epoch; on a terminal, also a live bar redrawn at most 10 times a second."""

    def __init__(self, out, epochs, n_batches, verbose):
        try:
            tty = bool(out.isatty())
        except (AttributeError, ValueError):
            tty = False
        self.out = out
        self.lines = tty if verbose is None else bool(verbose)
        self.live = self.lines and tty
        self.epochs = epochs
        self.n_batches = n_batches
        self.width = len(str(epochs))
        self._last = 0.0

    def batch(self, epoch, b, loss_sum, seen):
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and b < self.n_batches:
            return
        self._last = now
        filled = int(24 * b / self.n_batches)
        bar = "=" * filled + (">" if filled < 24 else "") + " " * (23 - filled)
        self.out.write(f"\repoch {epoch:>{self.width}}/{self.epochs} [{bar}] {b}/{self.n_batches}"
                       f"  loss {loss_sum / max(seen, 1):.4f}")
        self.out.flush()

    def epoch(self, epoch, logs, seconds):
        if not self.lines:
            return
        parts = [f"epoch {epoch:>{self.width}}/{self.epochs}"]
        parts += [f"{k} {v:.4f}" for k, v in logs.items()]
        self.out.write(("\r\033[K" if self.live else "") + "  ".join(parts) + f"  ({seconds:.2f} s)\n")
        self.out.flush()


class TrainingFailedWarning(RuntimeWarning):
    """``nn.fit`` ended with a model not worth using (``history.failure`` says how)."""


class History(dict):
    """``nn.fit``'s history: a dict of per-epoch lists (``loss``, ``val_loss``, ...) that
    also says whether training failed.

    Attributes:
      failure: ``None`` when training went well, else one of ``"diverging"`` (the loss
        became NaN or infinite; training stopped there), ``"overflow"`` (the same,
        caused by data too large for float64), ``"growing"`` (the loss grew over the
        last epochs), ``"stalled"`` (a regression no better than predicting the
        targets' mean, on unscaled targets) and ``"worse_than_mean"`` (training
        R^2 below -1).
      diagnosis: one line saying what happened and what to change, or ``None``.
      failed: ``failure is not None``.
    """

    failure = None
    diagnosis = None

    @property
    def failed(self):
        return self.failure is not None


def _magnitude(v):
    """``'1e300'`` for values around 1e300."""
    return f"1e{int(math.floor(math.log10(v)))}" if v > 0 and math.isfinite(v) else f"{v:g}"


#: values above this overflow float64 when squared (a loss, a variance)
_SQUARE_OVERFLOW = 1e150


def _nonfinite_diagnosis(what, value, X, y, loss_fn):
    """``(failure, diagnosis)`` for a loss that became NaN or infinite."""
    if loss_fn is mse and y.size:
        big = float(np.max(np.abs(y)))
        if big > _SQUARE_OVERFLOW:
            return "overflow", (f"targets around {_magnitude(big)} overflow float64 (their squares in the loss are "
                                f"inf: {what} became {value}): rescale them, e.g. with datasets.Standardizer")
    big = float(np.max(np.abs(X))) if X.size else 0.0
    if big > _SQUARE_OVERFLOW:
        return "overflow", (f"inputs around {_magnitude(big)} overflow float64 ({what} became {value}): rescale them, "
                            "e.g. datasets.standardize")
    return "diverging", (f"diverging: {what} became {value}; lower the learning rate (or standardize the inputs "
                         "and targets)")


def _after_training(losses, y, loss_fn):
    """``(failure, diagnosis)`` from the per-epoch training losses, or ``(None, None)``."""
    if len(losses) >= 4 and losses[-1] > losses[-2] > losses[-3] > losses[-4]:
        best = min(losses)
        if losses[-1] > 1.5 * best and losses[-1] - best > 1e-3 * max(losses[0], losses[-1]):
            return "growing", (f"the training loss grew over the last epochs ({losses[-4]:.4g} -> {losses[-1]:.4g}; "
                               f"best {best:.4g}): lower the learning rate")
    if loss_fn is mse and losses and len(y) > 1:
        yy = np.asarray(y, np.float64).reshape(len(y), -1)
        var = float(np.mean(yy.var(axis=0)))
        final = losses[-1]
        if var > 0 and final >= var:
            mean, std = float(np.mean(yy)), math.sqrt(var)
            if std > 100 or abs(mean) > 100 * max(std, 1.0):
                return "stalled", (f"stalled: the training loss {final:.4g} is no better than predicting the mean "
                                   f"(the targets' variance is {var:.4g}): the targets are unscaled (mean {mean:.4g}, "
                                   f"std {std:.4g}); standardize them (ys = datasets.Standardizer.fit(y); fit on "
                                   "ys.transform(y), report ys.inverse_transform(prediction))")
            if final > 2 * var:
                return "worse_than_mean", (f"the model predicts worse than the targets' mean (training loss "
                                           f"{final:.4g}, R^2 {1 - final / var:.2f}): lower the learning rate or "
                                           "train longer")
    return None, None


def _working_copy(params):
    """A copy of ``params`` that training may overwrite, or None when a leaf is not a
    float array (Python floats, NumPy scalars)."""
    leaves, tree = tree_flatten(params)
    if not all(isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in leaves):
        return None
    return tree_unflatten(tree, [np.array(x, copy=True) for x in leaves])


def _check_memory(model, params, X, validation, dtype, batch_size, optimizer, memory_budget):
    """MemoryBudgetError before training allocates more than the budget."""
    leaves = [int(np.size(x)) for x in tree_leaves(params)]
    shapes = _memory.model_shapes(model)
    widths = shapes[1] if shapes is not None else None
    n, n_val, data = 1, 0, 0
    pair = isinstance(validation, (tuple, list)) and len(validation) == 2
    for A in ([X, validation[0]] if pair else [X]):
        if hasattr(A, "dtype") and len(getattr(A, "shape", ())) == 2:
            if A is X:
                n = A.shape[0]
            else:
                n_val = A.shape[0]
            if A.dtype != dtype:            # converted to the parameters' dtype: a copy
                data += A.shape[0] * A.shape[1] * dtype.itemsize
    parts = _memory.fit_estimate(leaves, dtype.itemsize, widths, min(int(batch_size), max(n, 1)),
                                 optimizer, n_val, data)
    if memory_budget is None and sum(b for _, b in parts) <= _memory.SMALL:
        return
    budget, how = _memory.resolve_budget(memory_budget, "fit")
    _memory.check(parts, budget, how, "fit", sum(leaves), dtype)


def fit(model, params, X, y, loss="cross_entropy", optimizer=None, epochs=10, batch_size=32,
        validation=None, seed=0, verbose=None, out=None, shuffle=True, memory_budget=None, on_failure="warn"):
    """Train ``model`` by minibatch gradient descent; return ``(params, history)``.

    Each epoch visits the training examples in a new random order (from ``seed``)
    in batches of ``batch_size`` (the last one may be smaller). The step, the loss
    and its gradient with respect to the parameters, is one ``pdx.jit``-compiled
    function, traced once per batch shape; the optimizer then updates the
    parameters. The same seed, data and initial parameters give a bitwise-identical
    history.

    Args:
      model: a callable ``model(params, X)`` (``nn.MLP``, ``nn.Linear``, or your own).
      params: the initial parameters (a pytree, e.g. from ``model.init(seed)``).
      X, y: training inputs ``(n, d)`` and targets: integer class labels ``(n,)``
        for ``"cross_entropy"``, 0/1 labels for ``"binary_cross_entropy"``, values
        ``(n,)`` or ``(n, k)`` for ``"mse"``.
      loss: ``"cross_entropy"`` (default), ``"binary_cross_entropy"``, ``"mse"``,
        or a function ``(predictions, targets) -> scalar`` written with ``pnp``.
      optimizer: a step optimizer with ``init(params)`` and
        ``update(grads, state, params) -> (params, state)``; default
        ``optim.adam(1e-3)``.
      epochs: passes over the training data.
      batch_size: examples per step.
      validation: optional ``(X_val, y_val)`` evaluated after every epoch.
      seed: seed of the shuffling.
      verbose: ``None`` (default) prints progress only when ``out`` is a terminal,
        ``True`` always prints one line per epoch (plus a live bar on a terminal),
        ``False`` prints nothing.
      out: stream for the progress (default ``sys.stdout``).
      shuffle: ``False`` keeps the data order.
      memory_budget: bytes that training may allocate besides the data and the
        given parameters (a number, a size such as ``"8GiB"``, or
        ``float("inf")``); default ``nn.memory.MEMORY_FRACTION`` of the memory
        this process can still allocate. The working copy of the parameters,
        the gradients, the optimizer's state, the update's temporaries and the
        activations of a batch are added up before anything is allocated.
      on_failure: what a failed training does (see Returns): ``"warn"`` (default)
        a ``TrainingFailedWarning`` with the diagnosis, ``"raise"`` a
        FloatingPointError with it, ``"ignore"`` nothing but the history's flag.

    Training holds one working copy of the parameters, which an optimizer with
    ``update_in_place`` (``optim.adam``, ``optim.sgd``) updates in place, and
    one set of gradients at a time.

    Returns:
      ``(params, history)``: the trained parameters, and a ``History``, a dict of
      per-epoch lists of floats: ``loss`` (mean training loss over the epoch's
      batches), and ``val_loss`` with ``validation``; classification losses add
      ``accuracy`` (on the training batches as they were seen) and
      ``val_accuracy``. ``history.failed`` is True, ``history.failure`` names
      how and ``history.diagnosis`` says what to change when the loss became NaN
      or infinite (training stops at that batch; that epoch's entries are NaN or
      inf), grew over the last 4 epochs to 1.5 times its best, or, for ``"mse"``,
      ended no better than predicting the targets' mean on unscaled targets
      ("stalled": standardize them) or twice as bad (R^2 below -1).

    Raises:
      ValueError: mismatched or malformed data, labels out of range.
      partiald.MemoryBudgetError: the estimate is over ``memory_budget`` (the
        message lists its parts and what to change).
      FloatingPointError: with ``on_failure="raise"``, a failed training.

    Examples:
      >>> from partiald import nn, optim
      >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
      >>> model = nn.MLP([3, 8, 2])
      >>> params, hist = nn.fit(model, model.init(0), X, y, optimizer=optim.adam(1e-2), epochs=3, verbose=False)
      >>> sorted(hist), len(hist["loss"])
      (['accuracy', 'loss'], 3)
    """
    loss_fn, classification = get_loss(loss)
    if optimizer is None:
        from ..optim import adam
        optimizer = adam(1e-3)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError("fit: optimizer must have init(params) and update(grads, state, params), "
                        f"like optim.adam(1e-3); got {type(optimizer).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
    if on_failure not in ("warn", "raise", "ignore"):
        raise ValueError(f"fit: on_failure must be 'warn', 'raise' or 'ignore', got {on_failure!r}")
    dtype = _param_dtype(params)
    _check_memory(model, params, X, validation, dtype, batch_size, optimizer, memory_budget)
    X = _inputs(X, dtype, "X")
    n = len(X)
    y = _targets(y, n, loss_fn, dtype, "training")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError("fit: validation must be a pair (X_val, y_val)")
        Xv = _inputs(validation[0], dtype, "X_val")
        yv = _targets(validation[1], len(Xv), loss_fn, dtype, "validation")
    if loss_fn is cross_entropy:          # labels against the model's outputs, before any training
        k = pnp._shape(model(params, X[:1]))[-1]
        _check_class_labels(y, k, "fit")
        if validation is not None:
            _check_class_labels(yv, k, "fit (validation)")
    out = sys.stdout if out is None else out

    def objective(p, Xb, yb):
        pred = model(p, Xb)
        return loss_fn(pred, yb), pred

    step = jit(value_and_grad(objective, has_aux=True))
    evaluate = jit(objective)
    in_place = getattr(optimizer, "update_in_place", None)
    if in_place is not None:
        work = _working_copy(params)
        if work is None:            # leaves that are not float arrays: the functional update
            in_place = None
        else:
            params = work
    state = optimizer.init(params)
    rng = np.random.default_rng(seed)
    batch_size = min(int(batch_size), n)
    n_batches = -(-n // batch_size)
    history = History(loss=[])
    if classification:
        history["accuracy"] = []
    if validation is not None:
        history["val_loss"] = []
        if classification:
            history["val_accuracy"] = []
    progress = _Progress(out, epochs, n_batches, verbose)
    failure = diagnosis = None
    # a diverging run overflows: the loss check below diagnoses it, so no NumPy warnings
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum, correct = 0.0, 0.0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                yb = y[idx]
                (value, pred), grads = step(params, X[idx], yb)
                value = float(value)
                if not math.isfinite(value):
                    failure, diagnosis = _nonfinite_diagnosis(f"the loss at epoch {epoch}, batch {b + 1}", value,
                                                              X, y, loss_fn)
                    loss_sum = value * n
                    break
                loss_sum += value * len(idx)
                if classification:
                    correct += accuracy(pred, yb) * len(idx)
                pred = None
                if in_place is not None:
                    in_place(grads, state, params)
                else:
                    params, state = optimizer.update(grads, state, params)
                grads = None            # one set of gradients at a time: the next step makes its own
                progress.batch(epoch, b + 1, loss_sum, min((b + 1) * batch_size, n))
            logs = {"loss": loss_sum / n}
            if classification:
                logs["accuracy"] = correct / n if failure is None else math.nan
            if validation is not None:
                if failure is None:
                    logs["val_loss"], acc = _evaluate(evaluate, params, Xv, yv, classification)
                    if not math.isfinite(logs["val_loss"]):
                        failure, diagnosis = _nonfinite_diagnosis(f"the validation loss at epoch {epoch}",
                                                                  logs["val_loss"], Xv, yv, loss_fn)
                else:
                    logs["val_loss"], acc = math.nan, math.nan
                if classification:
                    logs["val_accuracy"] = acc
            for k, v in logs.items():
                history[k].append(float(v))
            progress.epoch(epoch, logs, time.perf_counter() - t0)
            if failure is not None:
                break
    if failure is None:
        failure, diagnosis = _after_training(history["loss"], y, loss_fn)
    if failure is not None:
        history.failure, history.diagnosis = failure, diagnosis
        if on_failure == "raise":
            raise FloatingPointError(f"fit: {diagnosis}")
        if on_failure == "warn":
            warnings.warn(f"fit: training failed: {diagnosis}", TrainingFailedWarning, stacklevel=2)
    return params, history


def _evaluate(evaluate, params, X, y, classification):
    """Mean loss (and accuracy) over ``X`` in chunks."""
    total, correct = 0.0, 0.0
    for s in range(0, len(X), _EVAL_CHUNK):
        value, pred = evaluate(params, X[s:s + _EVAL_CHUNK], y[s:s + _EVAL_CHUNK])
        m = len(pred)
        total += float(value) * m
        if classification:
            correct += accuracy(pred, y[s:s + _EVAL_CHUNK]) * m
    return total / len(X), (correct / len(X) if classification else None)


def predict(model, params, X, batch_size=_EVAL_CHUNK):
    """``model(params, X)`` computed in chunks of ``batch_size`` rows, as one NumPy array."""
    X = np.asarray(X)
    if X.dtype.kind in "biuf":
        X = X.astype(_param_dtype(params), copy=False)
    fwd = jit(lambda p, Xb: model(p, Xb))
    return np.concatenate([np.asarray(fwd(params, X[s:s + batch_size])) for s in range(0, len(X), batch_size)])

