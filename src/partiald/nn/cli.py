"""partiald train: fit a neural network to a bundled data set or a CSV file.

  partiald train --dataset digits --hidden 128 --epochs 20
  partiald train --csv houses.csv --target price --model linear
  partiald train --dataset diabetes --plot curve.png

Prints the progress of every epoch, the test metrics (accuracy for
classification; RMSE and R^2 for regression, in the target's units) and, for
regression, the partial derivative of the prediction with respect to each
feature, averaged over the test set: per unit of the feature (in the target's
units) and per standard deviation of the feature (what a change typical of the
data does), ranked by the latter. Features (and a regression target) are
standardized with the training set's statistics for training; the reported
figures undo that.

A CSV file may hold numbers as people write them ($642,080, "642,080", 12.5%,
a leading or trailing currency sign), be separated by commas, semicolons or tabs
(sniffed; --delimiter), use a decimal comma (--decimal ,). Text columns are
one-hot encoded (--categorical auto); a constant column, and one that looks like
a row id (whole numbers increasing down the rows), are left out with a note
(--keep NAME keeps the latter).

Exit status: 0 when training went well; 1 when it failed (the loss became NaN
or infinite, grew over the last epochs, data too large for float64, a test R^2
below -1), with a one-line diagnosis on stderr and no sensitivities; 2 for bad
input.
"""
from __future__ import annotations

import sys
import time

import numpy as np

HELP = "train a neural network on a data set or a CSV file"


def add_arguments(p):
    p.add_argument("--dataset", metavar="NAME", help="a bundled data set: digits, diabetes, breast_cancer")
    p.add_argument("--csv", metavar="FILE", help="or a CSV file with a header row of column names")
    p.add_argument("--target", metavar="COLUMN", help="the column to predict (with --csv)")
    p.add_argument("--drop", metavar="A,B", help="columns to leave out (with --csv), e.g. ids or free text")
    p.add_argument("--keep", metavar="A,B", help="columns to keep although they look like a row id (with --csv)")
    p.add_argument("--categorical", choices=("auto", "none"), default="auto",
                   help="auto (default): one-hot encode text columns (with --csv); none: refuse them")
    p.add_argument("--delimiter", metavar="CHAR",
                   help="field separator of the --csv file: , ; tab or |  (default: sniffed from the first lines)")
    p.add_argument("--decimal", choices=(".", ","), default=None,
                   help="decimal separator of the --csv file (default .; , for 12,5)")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="auto: classification for text labels or few whole-number values (with --csv)")
    p.add_argument("--model", choices=("mlp", "linear"), default="mlp", help="network (default mlp)")
    p.add_argument("--hidden", default="128", metavar="N[,N...]", help="hidden layer sizes (default 128)")
    p.add_argument("--activation", default="relu", help="relu (default), tanh, sigmoid, gelu, softplus")
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the training data (default 20 for mlp, 100 for linear)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 0.001 for mlp, 0.01 for linear)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="adam (default) or sgd (momentum 0.9)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step (default 32)")
    p.add_argument("--test-size", type=float, default=0.2, help="fraction held out for testing (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialization and shuffling")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="default float64")
    p.add_argument("--memory-budget", metavar="SIZE",
                   help="most memory training may allocate, e.g. 8GiB or 500MB, or inf (default: half of what "
                        "this process can still allocate); a larger model is refused before it is built")
    p.add_argument("--plot", metavar="FILE", help="save the loss curve (needs matplotlib; .png, .svg, .pdf, ...; "
                   "never the --csv file; an existing file is replaced)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")


def _check_args(args):
    if (args.dataset is None) == (args.csv is None):
        raise ValueError("give one data source: --dataset NAME (digits, diabetes, breast_cancer) or "
                         "--csv FILE --target COLUMN")
    if args.csv is not None and not args.target:
        raise ValueError("--csv needs --target COLUMN, the column to predict")
    if args.dataset is not None and (args.target or args.drop or args.keep or args.delimiter or args.decimal):
        raise ValueError("--target, --drop, --keep, --delimiter and --decimal go with --csv; a bundled data set "
                         "has its own target")
    # a linear model has few weights and a convex loss: a larger step and more passes
    if args.epochs is None:
        args.epochs = 100 if args.model == "linear" else 20
    if args.lr is None:
        args.lr = 1e-2 if args.model == "linear" else 1e-3
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not (args.lr > 0 and np.isfinite(args.lr)):
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if not 0 < args.test_size < 1:
        raise ValueError(f"--test-size must be a fraction between 0 and 1, got {args.test_size}")
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        raise ValueError(f"--hidden takes layer sizes separated by commas, e.g. 128 or 64,32; got {args.hidden!r}") \
            from None
    if any(h < 1 for h in hidden):
        raise ValueError(f"--hidden sizes must be positive, got {args.hidden!r}")
    return hidden


def _loss_curve_function(path, csv=None, draw=None):
    """``draw`` (partiald.plot.loss_curve, which the command line hands down: plot/ sits
    above nn/ in the layering) and the checked output (partiald._files: no folder, not
    the --csv input, a figure extension, an existing folder), before training so that a
    bad --plot fails fast. ``draw`` may be a string: why the drawing is not available."""
    from .._files import check_output
    dest = check_output(path, "--plot", inputs=(("--csv", csv),))
    try:
        import matplotlib  # noqa: F401  (plot draws with it, imported when a figure is made)
    except ImportError:
        raise ValueError('--plot needs matplotlib, which is not installed: pip install "partiald[plot]"') from None
    if not callable(draw):
        raise ValueError(f"--plot is not available: {draw or 'no loss-curve drawing was given'}")
    return draw, dest


def _load(args):
    from .. import datasets
    try:
        if args.dataset is not None:
            return datasets.load(args.dataset)
        drop = [c.strip() for c in (args.drop or "").split(",") if c.strip()]
        keep = [c.strip() for c in (args.keep or "").split(",") if c.strip()]
        data = datasets.load_csv(args.csv, args.target, exclude=drop, task=args.task, delimiter=args.delimiter,
                                 decimal=args.decimal, categorical=args.categorical)
        try:
            return datasets.drop_uninformative(data, keep=keep)
        except ValueError as e:
            msg = str(e)
            raise ValueError("--" + msg if msg.startswith("keep:") else msg) from None
    except ImportError as e:
        raise ValueError(str(e)) from None
    except OSError as e:
        raise ValueError(f"cannot read {args.csv}: {e.strerror or e}") from None


def _num(v):
    return f"{v:.6g}"


def _memory_budget(args):
    """``--memory-budget`` in bytes (None: the default budget)."""
    if args.memory_budget is None:
        return None
    from .memory import parse_bytes
    try:
        return parse_bytes(args.memory_budget)
    except ValueError as e:
        raise ValueError(f"--memory-budget: {e}") from None


def run(args, out):
    from .. import datasets
    from ..optim import adam, sgd
    from .training import fit, predict
    from .layers import MLP, Linear
    from .losses import accuracy
    from .sensitivities import sensitivity
    from .memory import check_training

    hidden = _check_args(args)
    budget = _memory_budget(args)
    loss_curve, plot_dest = (_loss_curve_function(args.plot, args.csv, getattr(args, "loss_curve", None))
                             if args.plot is not None else (None, None))
    data = _load(args)
    classification = data.task == "classification"
    if classification and data.n_classes < 2:
        raise ValueError(f"the target {data.target_name!r} has a single class; nothing to learn")
    n = len(data.X)
    if n < 4:
        raise ValueError(f"{data.name} has {n} examples; training and testing need at least 4")
    err = getattr(args, "stderr", None) or sys.stderr
    too_large = _too_large_for_float64(data, classification)
    if too_large:
        return _failed(err, too_large)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(data.X, data.y, test_size=args.test_size, seed=args.seed,
                                                       stratify=classification)
    X_tr, X_te, xs = datasets.standardize(X_tr, X_te)
    dtype = np.dtype(args.dtype)
    if classification:
        n_out, loss = data.n_classes, "cross_entropy"
        t_tr, t_te = y_tr, y_te
    else:
        n_out, loss = 1, "mse"
        ys = datasets.Standardizer.fit(y_tr)
        t_tr, t_te = ys.transform(y_tr), ys.transform(y_te)
    d = X_tr.shape[1]
    if args.model == "linear":
        model = Linear(d, n_out, dtype=dtype)
        desc = f"linear {d} -> {n_out}"
    else:
        model = MLP([d, *hidden, n_out], activation=args.activation, dtype=dtype)
        desc = f"MLP {'-'.join(map(str, model.sizes))} ({args.activation})"
    opt = adam(args.lr) if args.optimizer == "adam" else sgd(args.lr, momentum=0.9)
    # the memory of training, estimated before anything of the model is allocated (exit 2 if over)
    check_training(model, dtype, args.batch_size, len(X_tr), len(X_te), d, opt, budget, "train")
    params = model.init(seed=args.seed, memory_budget=budget)
    task = f"{data.n_classes} classes" if classification else f"regression of {data.target_name}"
    out.write(f"data: {data.name}, {n} examples, {d} features, {task}; {len(X_tr)} for training, "
              f"{len(X_te)} for testing (reported as val_* after each epoch)\n")
    for note in data.notes:
        out.write(f"note: {note}\n")
    out.write(f"model: {desc}, {model.num_params:,} parameters, {dtype.name}; {args.optimizer} lr={args.lr:g}, "
              f"batch {args.batch_size}, {args.epochs} epochs\n")
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        params, history = fit(model, params, X_tr, t_tr, loss=loss, optimizer=opt, epochs=args.epochs,
                              batch_size=args.batch_size, validation=(X_te, t_te), seed=args.seed,
                              verbose=not args.quiet, out=out, memory_budget=budget, on_failure="ignore")
    seconds = time.perf_counter() - t0
    out.write(f"trained in {seconds:.2f} s\n")
    if history.failed:
        return _failed(err, _training_failure(history, args), out, history, loss_curve, plot_dest, args)
    with np.errstate(all="ignore"):
        pred = predict(model, params, X_te)
    if classification:
        acc = accuracy(pred, y_te)
        out.write(f"test accuracy: {acc:.4f} ({int(round(acc * len(y_te)))}/{len(y_te)})\n")
    else:
        with np.errstate(all="ignore"):
            p = ys.inverse_transform(np.asarray(pred, np.float64).reshape(-1))
            rmse = float(np.sqrt(np.mean((p - y_te) ** 2)))
            ss_tot = float(np.sum((y_te - y_te.mean()) ** 2))
            r2 = 1.0 - float(np.sum((p - y_te) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
        out.write(f"test RMSE: {_num(rmse)} ({data.target_name} units)   test R^2: {r2:.4f}\n")
        if not np.isfinite(rmse):
            return _failed(err, f"diverging: the test predictions are {rmse}; lower --lr (it was {args.lr:g})",
                           out, history, loss_curve, plot_dest, args)
        if r2 < R2_FAILED:
            return _failed(err, f"test R^2 is {r2:.2f}: the model predicts {data.target_name} worse than its mean "
                           f"does; lower --lr (it was {args.lr:g}) or train longer (--epochs, it was "
                           f"{args.epochs})", out, history, loss_curve, plot_dest, args)
        s = sensitivity(model, params, X_te, feature_names=data.feature_names, x_scale=xs.scale,
                        y_scale=ys.scale, target_name=data.target_name, x_std=xs.scale)
        t = data.target_name
        out.write(f"\npartial derivatives of the predicted {t}, others held constant, mean over the test set: "
                  f"per unit of the feature (in units of {t}) and per standard deviation of the feature (a change "
                  "typical of the data), ranked by the latter:\n")
        out.write(s.table() + "\n")
    _save_curve(out, history, loss_curve, plot_dest, args)
    return 0


#: a test R^2 below this is a failed regression (errors larger than sqrt(2) standard deviations)
R2_FAILED = -1.0


def _save_curve(out, history, loss_curve, plot_dest, args):
    if loss_curve is not None:
        from .._files import replacing, save_figure
        fig = loss_curve(history)
        # written atomically: a temporary file in the same folder, moved into place
        note = replacing(save_figure(fig, plot_dest))
        out.write(f"loss curve saved to {args.plot}{note}\n")


def _failed(err, diagnosis, out=None, history=None, loss_curve=None, plot_dest=None, args=None):
    """Exit status 1: the loss curve (when asked for: it shows the failure), then the
    one-line diagnosis on stderr."""
    if history is not None and loss_curve is not None:
        try:
            _save_curve(out, history, loss_curve, plot_dest, args)
        except (ValueError, OSError):
            pass
    err.write(f"partiald: training failed: {diagnosis}\n")
    return 1


def _training_failure(history, args):
    """The diagnosis of a failed ``fit``, in the command line's terms."""
    losses = history["loss"]
    lower = f"lower --lr (it was {args.lr:g}; try {args.lr / 10:g})"
    if history.failure == "diverging":
        bad = [v for k in ("loss", "val_loss") for v in history.get(k, ())[-1:] if not np.isfinite(v)]
        return f"diverging: the loss became {bad[0] if bad else 'nan'} at epoch {len(losses)}; {lower}"
    if history.failure == "growing":
        return (f"diverging: the training loss grew over the last epochs ({losses[-4]:.4g} -> {losses[-1]:.4g}, best "
                f"{min(losses):.4g}); {lower}")
    return history.diagnosis.replace("lower the learning rate", lower)


def _too_large_for_float64(data, classification):
    """A diagnosis when values are so large that their squares overflow float64 (the
    standardization's variance, the loss), else None."""
    from .training import _SQUARE_OVERFLOW, _magnitude
    if not classification and len(data.y):
        big = float(np.max(np.abs(data.y)))
        if big > _SQUARE_OVERFLOW:
            return (f"targets around {_magnitude(big)} overflow float64 (their squares, in the variance and the "
                    f"loss, are inf): rescale {data.target_name!r}, e.g. to thousands or millions")
    if data.X.size:
        col = np.max(np.abs(data.X), axis=0)
        j = int(np.argmax(col))
        if col[j] > _SQUARE_OVERFLOW:
            return (f"feature {data.feature_names[j]!r} has values around {_magnitude(float(col[j]))}, which overflow "
                    "float64 when squared (its variance): rescale it")
    return None
