"""Reading optimization histories and training logs into arrays.

Accepted forms (the optimizer's ``res.history`` and ``nn.fit``'s history among them):

* a path: a list of records ``{"x": params, "f": ..., "grad_norm": ..., "step": ...}``
  where params is a 1-D array, a dict ``{"x": .., "y": ..}`` or any pytree; a list
  of points; an ``(n, 2)`` array; an object with a ``history`` attribute;
* several paths: a dict ``name -> path`` or a list of paths;
* a training log: a dict of lists ``{"loss": [...], "val_loss": [...]}`` or a list
  of per-epoch dicts ``[{"epoch": 1, "loss": .., "val_loss": ..}, ...]``.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.pytree import tree_leaves


def _history_of(obj):
    """``obj.history`` for a result object, else None."""
    if isinstance(obj, (Mapping, list, tuple, np.ndarray)):
        return None
    return getattr(obj, "history", None)


def _method_of(obj):
    name = getattr(obj, "method", None)
    return name if isinstance(name, str) else None


def _is_single_path(obj):
    """A list of records or points (rather than a list of paths)."""
    if isinstance(obj, np.ndarray):
        return True
    if not isinstance(obj, (list, tuple)) or not obj:
        return False
    first = obj[0]
    if isinstance(first, Mapping) or np.isscalar(first):
        return True
    if isinstance(first, np.ndarray):
        return first.ndim <= 1
    if isinstance(first, (list, tuple)):
        return all(np.isscalar(v) for v in first)
    return False


def named_runs(obj, what="path"):
    """``[(label or None, run), ...]`` from one run, a list of runs or a dict name -> run."""
    if obj is None or (isinstance(obj, (list, tuple)) and not obj):
        return []
    if isinstance(obj, Mapping):
        if "x" in obj or "grad_norm" in obj or "loss" in obj:
            return [(None, obj)]     # one record-like run (columns), not a dict of runs
        return [(str(k), _history_of(v) if _history_of(v) is not None else v) for k, v in obj.items()]
    h = _history_of(obj)
    if h is not None:
        return [(_method_of(obj), h)]
    if _is_single_path(obj):
        return [(None, obj)]
    if isinstance(obj, (list, tuple)) and obj:
        out = []
        for v in obj:
            hv = _history_of(v)
            out.append((_method_of(v), hv) if hv is not None else (None, v))
        return out
    raise TypeError(f"cannot read a {what} from a {type(obj).__name__}: pass a list of records with an "
                    "'x' entry, an (n, 2) array, or a dict name -> history")


def _vector(params, names, axes):
    """The two plotted coordinates of one parameter point."""
    if isinstance(params, Mapping) and all(v in params for v in axes):
        return [float(np.asarray(params[v])) for v in axes]
    flat = np.concatenate([np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in tree_leaves(params)]) \
        if not np.isscalar(params) else np.asarray([params], dtype=np.float64)
    if flat.size == 2:
        return list(flat)
    if names is not None and flat.size == len(names):
        return [flat[names.index(v)] for v in axes]
    raise ValueError(f"a path point has {flat.size} coordinate(s); expected 2 (the plotted variables "
                     f"{', '.join(axes)}) or one per variable of f")


def path_points(path, names, axes):
    """An ``(n, 2)`` float array of the path's points on the plotted ``axes``."""
    if isinstance(path, Mapping):        # columns: {"x": [...], "y": [...]}
        if all(v in path for v in axes):
            return np.column_stack([np.asarray(path[v], dtype=np.float64).ravel() for v in axes])
        if "x" in path:
            path = path["x"]
    if isinstance(path, np.ndarray) or (isinstance(path, (list, tuple)) and path
                                        and not isinstance(path[0], Mapping)):
        try:
            arr = np.asarray(path, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.ndim == 2:
            if arr.shape[1] == 2:
                return arr
            if names is not None and arr.shape[1] == len(names):
                return arr[:, [names.index(v) for v in axes]]
            raise ValueError(f"a path array has shape {arr.shape}; expected (n, 2)")
    if not isinstance(path, (list, tuple, np.ndarray)) or len(path) == 0:
        raise ValueError("a path needs at least one point: a list of records with an 'x' entry, "
                         "or an (n, 2) array")
    pts = []
    for i, rec in enumerate(path):
        if isinstance(rec, Mapping):
            if "x" in rec and not all(v in rec for v in axes):
                rec = rec["x"]
            elif not all(v in rec for v in axes):
                raise ValueError(f"path record {i} has no 'x' entry (keys: {', '.join(map(str, rec))})")
        pts.append(_vector(rec, names, axes))
    return np.asarray(pts, dtype=np.float64)


def grad_norms(history):
    """|grad| per iteration from records with ``grad_norm`` (or ``grad``), a dict of
    lists, or a plain sequence of numbers."""
    if isinstance(history, Mapping):
        if "grad_norm" not in history:
            raise ValueError("a convergence history needs 'grad_norm' values")
        return np.asarray([np.nan if v is None else v for v in history["grad_norm"]], dtype=np.float64)
    if isinstance(history, np.ndarray):
        return np.asarray(history, dtype=np.float64).ravel()
    out = []
    for i, rec in enumerate(history):
        if isinstance(rec, Mapping):
            if rec.get("grad_norm") is not None:
                out.append(float(rec["grad_norm"]))
            elif rec.get("grad") is not None:
                leaves = tree_leaves(rec["grad"])
                out.append(float(np.sqrt(sum(np.sum(np.square(np.asarray(g, dtype=np.float64)))
                                             for g in leaves))))
            else:
                raise ValueError(f"history record {i} has no 'grad_norm' (keys: {', '.join(map(str, rec))})")
        elif rec is None:
            out.append(np.nan)
        else:
            out.append(float(rec))
    return np.asarray(out, dtype=np.float64)


#: keys of a training log that are not metrics
_NOT_METRICS = {"epoch", "epochs", "step", "steps", "iteration", "time", "lr", "learning_rate"}


def training_log(history):
    """``(epochs, {metric: values})`` from a dict of lists, a list of per-epoch dicts,
    a list of numbers (one loss per epoch) or an object with a ``history`` attribute."""
    h = _history_of(history)
    if h is not None:
        history = h
    if isinstance(history, Mapping):
        cols = {str(k): v for k, v in history.items()}
    elif isinstance(history, (list, tuple, np.ndarray)):
        if len(history) and all(isinstance(r, Mapping) for r in history):
            keys = []
            for r in history:
                keys.extend(k for k in r if k not in keys)
            cols = {str(k): [r.get(k) for r in history] for k in keys}
        else:
            cols = {"loss": list(history)}
    else:
        raise TypeError(f"cannot read a training history from a {type(history).__name__}: pass a dict of "
                        "lists like {'loss': [...], 'val_loss': [...]} or a list of per-epoch dicts")
    metrics = {}
    for k, v in cols.items():
        if k in _NOT_METRICS or np.isscalar(v) or v is None:
            continue
        try:
            arr = np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)
        except (TypeError, ValueError):
            continue            # not numbers (names, notes): not a curve
        if arr.ndim == 1 and arr.size:
            metrics[k] = arr
    if not metrics:
        raise ValueError("the training history has no numeric metrics (expected e.g. 'loss' and 'val_loss')")
    n = max(len(a) for a in metrics.values())
    epochs = np.arange(1, n + 1, dtype=np.float64)
    if "epoch" in cols and not np.isscalar(cols["epoch"]):
        e = np.asarray(cols["epoch"], dtype=np.float64)
        if e.shape == (n,) and np.all(np.isfinite(e)):
            epochs = e
    return epochs, metrics
