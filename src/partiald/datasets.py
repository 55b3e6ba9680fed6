"""Data for training: scikit-learn's bundled data sets and your own CSV files.

    from partiald import datasets
    data = datasets.load_digits()                  # X (1797, 64), y (1797,), 10 classes
    X_train, X_test, y_train, y_test = datasets.train_test_split(data.X, data.y, test_size=0.2, seed=0)
    X_train, X_test, scaler = datasets.standardize(X_train, X_test)   # statistics of the training set
    houses = datasets.load_csv("houses.csv", target="price")

The bundled sets (digits, diabetes, breast_cancer) are files inside
scikit-learn (the optional extra ``data``: ``pip install "partiald[data]"``);
nothing is downloaded. ``load_csv`` needs only NumPy and reports a bad file by
its line and column.
"""
from __future__ import annotations

import csv
import difflib
import io
import os
from dataclasses import dataclass, field

import numpy as np

#: cell texts read as a missing value (compared case-insensitively)
MISSING = ("", "nan", "na", "n/a", "null", "none", "?", "-")
#: an integer-valued target with at most this many distinct values (and at most half as many as rows)
#: is a class label (task="auto")
MAX_AUTO_CLASSES = 10


@dataclass
class Dataset:
    """Inputs, targets and their names.

    ``X`` is a float64 ``(n, d)`` array. ``y`` holds class indices ``0..k-1``
    (int64) for classification, with ``classes`` their original values, or
    float64 values for regression. ``X, y = dataset`` unpacks the arrays.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    task: str
    name: str = ""
    classes: list | None = None
    description: str = field(default="", repr=False)

    @property
    def n_classes(self):
        return len(self.classes) if self.classes is not None else 0

    def __iter__(self):
        return iter((self.X, self.y))

    def summary(self):
        """One line: name, size, features and the task."""
        n, d = self.X.shape
        task = f"{self.n_classes} classes" if self.task == "classification" else f"regression of {self.target_name}"
        return f"{self.name}: {n} examples, {d} features, {task}"


# -- bundled data sets ---------------------------------------------------------------------------

def _sklearn_datasets():
    try:
        from sklearn import datasets as skd
    except ImportError:
        raise ImportError('the bundled data sets come with scikit-learn, which is not installed: '
                          'pip install "partiald[data]" (or load your own file with datasets.load_csv)') from None
    return skd


def load_digits():
    """8x8 images of handwritten digits: 1797 examples, 64 pixel features (0..16), 10 classes."""
    b = _sklearn_datasets().load_digits()
    return Dataset(np.asarray(b.data, np.float64), np.asarray(b.target, np.int64), list(b.feature_names),
                   "digit", "classification", "digits", [int(c) for c in b.target_names], b.DESCR)


def load_diabetes():
    """Disease progression one year after baseline: 442 patients, 10 features in their
    original units (age in years, bmi, blood pressure, six blood serum measurements)."""
    b = _sklearn_datasets().load_diabetes(scaled=False)
    return Dataset(np.asarray(b.data, np.float64), np.asarray(b.target, np.float64), list(b.feature_names),
                   "progression", "regression", "diabetes", None, b.DESCR)


def load_breast_cancer():
    """Breast tumours: 569 examples, 30 features, 2 classes (0 malignant, 1 benign)."""
    b = _sklearn_datasets().load_breast_cancer()
    return Dataset(np.asarray(b.data, np.float64), np.asarray(b.target, np.int64), [str(f) for f in b.feature_names],
                   "diagnosis", "classification", "breast_cancer", [str(c) for c in b.target_names], b.DESCR)


#: name -> loader, for ``load(name)`` and ``partiald train --dataset``
BUNDLED = {"digits": load_digits, "diabetes": load_diabetes, "breast_cancer": load_breast_cancer}


def load(name):
    """A bundled data set by name: ``"digits"``, ``"diabetes"`` or ``"breast_cancer"``."""
    key = str(name).lower().replace("-", "_")
    if key not in BUNDLED:
        raise ValueError(f"unknown data set {name!r}; the bundled ones are {', '.join(BUNDLED)} "
                         "(for a CSV file use load_csv(path, target))")
    return BUNDLED[key]()


# -- splitting and scaling ----------------------------------------------------------------------

def train_test_split(X, y, test_size=0.2, seed=0, stratify=False):
    """Shuffle with ``seed`` and split into ``X_train, X_test, y_train, y_test``.

    Args:
      test_size: a fraction in (0, 1) or a number of test examples.
      stratify: keep each class's share in both parts (``y`` holds class labels).
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split: X has {n} rows but y has {len(y)}")
    if isinstance(test_size, float) and 0 < test_size < 1:
        n_test = int(round(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool) and 0 < test_size < n:
        n_test = int(test_size)
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count in 1..{n - 1}, got {test_size!r}")
    if n_test < 1 or n_test > n - 1:
        raise ValueError(f"test_size={test_size!r} leaves {n_test} of {n} examples for testing; "
                         "both parts need at least one")
    rng = np.random.default_rng(seed)
    if stratify:
        test = []
        for c in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == c))
            test.append(members[:int(round(len(members) * n_test / n))])
        test = np.sort(np.concatenate(test))
        mask = np.zeros(n, bool)
        mask[test] = True
        test_idx = rng.permutation(np.flatnonzero(mask))
        train_idx = rng.permutation(np.flatnonzero(~mask))
    else:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


class Standardizer:
    """``(x - mean) / scale`` per column, with the statistics of the data it was fit on.

    A constant column gets ``scale = 1`` (it becomes 0, not NaN).
    """

    def __init__(self, mean, scale):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, X):
        X = np.asarray(X, dtype=np.float64)
        if X.size == 0:
            raise ValueError("Standardizer.fit: no data")
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, X):
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale

    def inverse_transform(self, Z):
        return np.asarray(Z, dtype=np.float64) * self.scale + self.mean

    def __repr__(self):
        return f"Standardizer(mean={self.mean!r}, scale={self.scale!r})"


def standardize(X_train, *others):
    """Standardize ``X_train`` and any ``others`` with ``X_train``'s mean and standard
    deviation; returns ``(X_train_std, *others_std, scaler)``."""
    scaler = Standardizer.fit(X_train)
    return (scaler.transform(X_train), *(scaler.transform(o) for o in others), scaler)


# -- CSV files ----------------------------------------------------------------------------------

def _number(text):
    """The float in a cell, or None when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def _is_missing(text):
    return text.strip().lower() in MISSING


def load_csv(path, target, features=None, exclude=(), task="auto", delimiter=","):
    """Load a CSV file with a header row of column names.

    Args:
      path: the file.
      target: the column to predict.
      features: the input columns (default: every other column, minus ``exclude``).
      exclude: columns to leave out (ids, free text).
      task: ``"auto"`` (classification when the target holds text labels, or whole
        numbers with at most 10 distinct values, each seen twice on average),
        ``"classification"`` or ``"regression"``.
      delimiter: the field separator.

    Returns:
      A ``Dataset``; for classification ``y`` holds indices into ``classes``.

    Raises:
      FileNotFoundError: no such file.
      ValueError: an empty file, a header without data rows, a missing column (the
        message lists the columns), a row with the wrong number of fields, an empty
        or NaN cell, or text in a numeric column (naming the line and column); a
        column of text is categorical and must be encoded as numbers first.
    """
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    name = os.path.basename(str(path))
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file; save it as CSV (UTF-8)") from None
    if not text.strip():
        raise ValueError(f"{path} is empty: a CSV file needs a header row of column names and at least one "
                         "data row")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header, rows = None, []
    for row in reader:
        if not row or all(not c.strip() for c in row):
            continue                                  # blank lines
        if header is None:
            header = [c.strip() for c in row]
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, but the header has "
                             f"{len(header)} columns ({', '.join(header)})")
        rows.append((reader.line_num, row))
    for j, h in enumerate(header):
        if not h:
            raise ValueError(f"{path}: column {j + 1} of the header has no name")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ValueError(f"{path}: the header names column(s) {', '.join(map(repr, dup))} more than once")
    if not rows:
        raise ValueError(f"{path} has a header ({', '.join(header)}) but no data rows")

    def col(c, role):
        if c not in header:
            close = difflib.get_close_matches(c, header, n=1) or [h for h in header if h.lower() == c.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{role} column {c!r} not found in {path}; its columns are: {', '.join(header)}.{hint}")
        return header.index(c)

    t = col(target, "target")
    for c in exclude:
        col(c, "excluded")
    if features is None:
        features = [h for h in header if h != target and h not in exclude]
    else:
        features = list(features)
        for c in features:
            col(c, "feature")
        if target in features:
            raise ValueError(f"the target column {target!r} cannot also be a feature")
    if not features:
        raise ValueError(f"{path}: no feature columns left besides the target {target!r}")
    X = np.empty((len(rows), len(features)))
    for j, c in enumerate(features):
        X[:, j] = _numeric_column(path, rows, header.index(c), c, is_target=False)
    y, classes, task = _target_column(path, rows, t, target, task)
    return Dataset(X, y, features, target, task, name, classes)


def _cell_error(path, line, row_number, column, message):
    return ValueError(f"{path}, line {line} (data row {row_number}), column {column!r}: {message}")


def _numeric_column(path, rows, j, name, is_target):
    values = np.empty(len(rows))
    for r, (line, row) in enumerate(rows):
        cell = row[j].strip()
        if _is_missing(cell):
            what = "an empty cell" if not cell else f"a missing value ({cell!r})"
            raise _cell_error(path, line, r + 1, name, f"{what}; fill it in or drop the row"
                              + ("" if is_target else f" (or leave the column out with exclude=[{name!r}])"))
        v = _number(cell)
        if v is None:
            texts = [row[j].strip() for _, row in rows if not _is_missing(row[j]) and _number(row[j]) is None]
            numbers = sum(1 for _, row in rows if _number(row[j]) is not None)
            if numbers == 0 and is_target:
                raise ValueError(f"{path}: target column {name!r} holds text labels, so it cannot be a regression "
                                 "target; use task='classification'")
            if numbers == 0:
                examples = ", ".join(repr(s) for s in list(dict.fromkeys(texts))[:3])
                raise ValueError(f"{path}: column {name!r} holds text ({examples}, ...), a categorical column: "
                                 "encode it as numbers first, e.g. one 0/1 column per category (one-hot), "
                                 f"or leave it out with exclude=[{name!r}] (--drop {name} on the command line)")
            raise _cell_error(path, line, r + 1, name, f"{cell!r} is not a number")
        if not np.isfinite(v):
            if np.isnan(v):
                raise _cell_error(path, line, r + 1, name, f"a missing value ({cell!r}); fill it in or drop the row")
            raise _cell_error(path, line, r + 1, name, f"{cell!r} is not a finite number")
        values[r] = v
    return values


def _target_column(path, rows, j, name, task):
    cells = [row[j].strip() for _, row in rows]
    all_text = all(not _is_missing(c) and _number(c) is None for c in cells)
    if all_text and task != "regression":     # text class labels, e.g. "setosa"
        classes = sorted(set(cells))
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[c] for c in cells], dtype=np.int64), classes, "classification"
    values = _numeric_column(path, rows, j, name, is_target=True)
    whole = bool(np.all(values == np.round(values)))
    distinct = np.unique(values)
    if task == "auto":
        # a few whole-number values, each seen at least twice on average: class labels
        few = len(distinct) <= MAX_AUTO_CLASSES and 2 * len(distinct) <= len(values)
        task = "classification" if whole and few else "regression"
    if task == "regression":
        return values, None, "regression"
    if not whole:
        raise ValueError(f"{path}: target column {name!r} has fractional values, so it cannot be a class label; "
                         "use task='regression'")
    index = {v: i for i, v in enumerate(distinct)}
    classes = [int(v) for v in distinct]
    return np.array([index[v] for v in values], dtype=np.int64), classes, "classification"
