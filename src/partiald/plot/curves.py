"""Curves over iterations: training and validation loss per epoch, and the
gradient norm per iteration of one or several optimizers."""
from __future__ import annotations

import numpy as np

from ._field import fmt
from ._history import grad_norms, named_runs, training_log
from ._mpl import new_figure, require

_PREFIXES = ("val_", "validation_", "valid_", "test_", "train_", "training_")


def _split(name):
    """``("loss", "validation")`` for ``val_loss``; ``("loss", "training")`` for ``loss``."""
    for p in _PREFIXES:
        if name.startswith(p) and len(name) > len(p):
            kind = "training" if p.startswith("train") else "test" if p == "test_" else "validation"
            return name[len(p):], kind
    return name, "training"


def _higher_is_better(metric):
    return any(k in metric.lower() for k in ("acc", "auc", "precision", "recall", "f1", "r2", "score"))


def loss_curve(history, *, logy=False, figsize=None, title=None):
    """Training (solid) and validation (dashed) curves per epoch, one panel per metric.

    Args:
      history: a dict of lists ``{"loss": [...], "val_loss": [...]}``, a list of
        per-epoch dicts ``[{"epoch": 1, "loss": .., "val_loss": ..}, ...]``, a list
        of numbers (one loss per epoch) or an object with a ``history`` attribute.
        ``val_``/``validation_`` prefixes pair a validation curve with its training one;
        every other numeric key (``accuracy``, ...) gets its own panel.
      logy: log scale for the loss axes.

    Returns:
      A matplotlib Figure. The best validation epoch is marked.

    Examples:
      >>> from partiald import plot
      >>> fig = plot.loss_curve({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]})
      >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
      ['training loss', 'validation loss']
    """
    require()
    from matplotlib.ticker import MaxNLocator
    epochs, metrics = training_log(history)
    groups = {}
    for name, values in metrics.items():
        base, kind = _split(name)
        groups.setdefault(base, []).append((kind, name, values))
    order = sorted(groups, key=lambda b: (b != "loss", "loss" not in b))
    ncols = min(len(order), 3)
    nrows = -(-len(order) // ncols)
    fig = new_figure(figsize or (5.6 * ncols, 4.2 * nrows), layout="constrained")
    axs = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axs[len(order):]:
        ax.set_visible(False)
    styles = {"training": ("#1f77b4", "-"), "validation": ("#ff7f0e", "--"), "test": ("#2ca02c", ":")}
    for ax, base in zip(axs, order):
        higher = _higher_is_better(base)
        for kind, name, values in sorted(groups[base], key=lambda g: list(styles).index(g[0])):
            color, ls = styles[kind]
            x = epochs[: len(values)] if len(values) <= len(epochs) else np.arange(1, len(values) + 1)
            ax.plot(x, values, ls, color=color, lw=2, marker="o" if len(values) <= 30 else None, ms=4,
                    label=f"{kind} {base}", gid=f"metric:{name}")
            if kind != "training" and np.isfinite(values).any():
                i = int(np.nanargmax(values) if higher else np.nanargmin(values))
                ax.plot([x[i]], [values[i]], "*", ms=14, color=color, mec="black", mew=0.7, zorder=5,
                        label=f"best {kind} {base}: {fmt(values[i])} (epoch {fmt(x[i])})", gid=f"best:{name}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(base)
        finite = np.concatenate([v[np.isfinite(v)] for _, _, v in groups[base]])
        if logy and not higher and finite.size and (finite > 0).all():
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, framealpha=0.9)
        ax.set_title(f"{base} per epoch", fontsize=11)
    if title:
        fig.suptitle(title)
    return fig


def convergence(results_or_histories, *, tol=None, labels=None, figsize=None, title=None, values="auto"):
    """|∇f| per iteration on a log scale, and f per iteration, one line per optimizer run.

    Args:
      results_or_histories: an optimization result (with ``.history``), a history
        (records with ``"grad_norm"``), a list of numbers, or several of these as a
        dict ``name -> run`` or a list (named by ``labels`` or the result's ``method``).
      tol: draw the tolerance as a horizontal line.
      values: a second panel with f per iteration (log scale where f > 0 and it spans
        decades); ``"auto"``: when the histories have ``"f"`` values.

    Returns:
      A matplotlib Figure: ``axes[0]`` |∇f|, ``axes[1]`` f (when drawn).

    Examples:
      >>> from partiald import plot
      >>> fig = plot.convergence({"gd": [1.0, 0.5, 0.25], "newton": [1.0, 1e-3, 1e-9]})
      >>> fig.axes[0].get_yscale()
      'log'
    """
    require()
    from matplotlib.ticker import MaxNLocator
    runs = named_runs(results_or_histories, "history")
    if not runs:
        raise ValueError("convergence() needs at least one history")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(runs):
            raise ValueError(f"labels= has {len(labels)} name(s) for {len(runs)} run(s)")
        runs = [(lab, run) for lab, (_, run) in zip(labels, runs)]
    fvals = [_f_values(run) for _, run in runs]
    with_f = any(v is not None for v in fvals) if values == "auto" else bool(values)
    if with_f and all(v is None for v in fvals):
        raise ValueError("values=True needs histories with 'f' values (records from optim.minimize)")
    fig = new_figure(figsize or ((12.5, 5.0) if with_f else (7.5, 5.0)), layout="constrained")
    ax = fig.add_subplot(1, 2 if with_f else 1, 1)
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    markers = ("o", "s", "^", "D", "v", "P", "X", "h")
    any_positive = False
    names = []
    for i, (label, run) in enumerate(runs):
        gn = grad_norms(run)
        name = label if label is not None else (f"run {i + 1}" if len(runs) > 1 else "|∇f|")
        names.append(name)
        it = np.arange(len(gn))
        shown = np.where(gn > 0, gn, np.nan)     # log scale: an exact zero ends the line
        any_positive |= bool(np.isfinite(shown).any())
        final = gn[np.isfinite(gn)][-1] if np.isfinite(gn).any() else np.nan
        iters = f"{len(gn) - 1} iteration{'s' if len(gn) != 2 else ''}"
        ax.plot(it, shown, "-", color=colors[i % len(colors)], lw=2,
                marker=markers[i % len(markers)] if len(gn) <= 40 else None,
                ms=4.5, label=f"{name}: {iters}, final |∇f| = {fmt(final)}", gid=f"run:{name}")
    if tol is not None:
        ax.axhline(float(tol), color="#555555", ls=":", lw=1.2, label=f"tolerance {fmt(tol)}", gid="tol")
    if any_positive:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("|∇f|  (gradient norm, log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9, framealpha=0.9)
    ax.set_title("convergence: |∇f| per iteration", fontsize=11)
    if with_f:
        _values_panel(fig.add_subplot(1, 2, 2), fvals, names, colors, markers)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _f_values(run):
    """f per iteration from records with an ``"f"`` entry, or None."""
    if isinstance(run, dict):
        return np.asarray(run["f"], dtype=np.float64) if "f" in run else None
    if isinstance(run, (list, tuple)) and run and all(isinstance(r, dict) for r in run):
        if all(r.get("f") is not None for r in run):
            return np.asarray([r["f"] for r in run], dtype=np.float64)
    return None


def _values_panel(ax, fvals, names, colors, markers):
    """f per iteration: log scale where every value is positive and they span decades."""
    from matplotlib.ticker import MaxNLocator
    finite = np.concatenate([v[np.isfinite(v)] for v in fvals if v is not None] or [np.zeros(0)])
    pos = finite[finite > 0]
    # log where f >= 0 and its positive values span decades (an exact 0 ends the line there)
    log = bool(pos.size and finite.min() >= 0 and pos.max() > 100 * pos.min())
    for i, (v, name) in enumerate(zip(fvals, names)):
        if v is None:
            continue
        final = v[np.isfinite(v)][-1] if np.isfinite(v).any() else np.nan
        ax.plot(np.arange(len(v)), np.where(v > 0, v, np.nan) if log else v, "-", color=colors[i % len(colors)], lw=2,
                marker=markers[i % len(markers)] if len(v) <= 40 else None, ms=3.5,
                label=f"{name}: final f = {fmt(final)}", gid=f"f:{name}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("f" + ("  (log scale)" if log else ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9, framealpha=0.9)
    ax.set_title("f per iteration", fontsize=11)
