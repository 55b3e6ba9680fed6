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
import dataclasses
import difflib
import os
import re
import warnings
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
    #: what the loader did that changes the columns (one-hot encoding, percentages,
    #: columns left out), one sentence each
    notes: list = field(default_factory=list, repr=False)

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
        if len(test) == 0 or len(test) == n:
            classes, counts = np.unique(y, return_counts=True)
            single = int(np.sum(counts == 1))
            part = "test" if len(test) == 0 else "training"
            if single:
                why = (f"{single} of its {len(classes)} classes have a single example, and a class with one "
                       "example cannot be split between training and testing. Drop the classes with a single "
                       "example (or merge rare classes) first; then, if the classes are small, a larger "
                       "test_size (--test-size on the command line) gives each of them a test example")
            else:
                why = (f"its {len(classes)} classes (the largest has {counts.max()} examples) are too small for "
                       f"test_size={test_size!r}. Change test_size (--test-size on the command line)")
            raise ValueError(f"train_test_split: a stratified split of {n} examples puts none in the {part} set "
                             f"(each class gives round(test_size x its count) examples to the test set): {why}")
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


#: a column of whole numbers strictly increasing down the rows, in a file of at least this many
#: rows, is taken for a row id by drop_uninformative
MIN_ID_ROWS = 5


def _looks_like_row_id(x):
    return len(x) >= MIN_ID_ROWS and bool(np.all(x == np.round(x))) and bool(np.all(np.diff(x) > 0))


def drop_uninformative(data, keep=()):
    """``data`` without the feature columns that cannot inform a model, each named in
    ``notes``: a constant column (the same value in every row: its effect cannot be
    told apart from the intercept), and a column that looks like a row id (whole
    numbers strictly increasing down the rows, such as 1, 2, 3, ...) unless it is in
    ``keep`` (a year in a yearly series looks like one).

    Call it before splitting: "increasing down the rows" is the file's order.

    Returns:
      A new ``Dataset`` (the arrays of the kept columns, its notes extended).

    Raises:
      ValueError: no feature would be left (the message names what was dropped).

    Examples:
      >>> from partiald import datasets
      >>> X = np.column_stack([np.arange(1.0, 7.0), np.ones(6), [3.0, 1, 4, 1, 5, 9]])
      >>> d = datasets.Dataset(X, np.zeros(6), ["id", "country", "size"], "price", "regression", "houses")
      >>> datasets.drop_uninformative(d).feature_names
      ['size']
      >>> datasets.drop_uninformative(d, keep=["id"]).feature_names
      ['id', 'size']
    """
    names = list(data.feature_names)
    keep = list(keep)
    for k in keep:
        if k not in names:
            raise ValueError(f"keep: no feature column {k!r}; the features are: {', '.join(names)}")
    X = np.asarray(data.X)
    kept, notes = [], []
    for j, name in enumerate(names):
        x = X[:, j]
        if len(x) and np.all(x == x[0]):
            notes.append(f"column {name!r} is {x[0]:g} in every row: left out (a constant has no effect to "
                         "measure)")
        elif name not in keep and _looks_like_row_id(x):
            notes.append(f"column {name!r} looks like a row id (whole numbers increasing down the rows: "
                         f"{x[0]:g}, {x[1]:g}, {x[2]:g}, ...): left out (--keep {name} to use it)")
        else:
            kept.append(j)
    if not kept:
        ids = [j for j, name in enumerate(names) if _looks_like_row_id(X[:, j]) and not np.all(X[:, j] == X[0, j])]
        if not ids:
            raise ValueError(f"{data.name or 'the data'}: no feature columns left: " + "; ".join(notes))
        # x = 0, 1, 2, ... as the only input (y = 2x + 1): an id would be meaningless, but so is nothing
        kept = ids
        notes = [n for n in notes if "row id" not in n]
        notes += [f"column {names[j]!r} looks like a row id (whole numbers increasing down the rows), but it is "
                  "the only feature: kept" for j in ids]
    if len(kept) == len(names):
        return data
    return dataclasses.replace(data, X=X[:, kept], feature_names=[names[j] for j in kept],
                               notes=[*data.notes, *notes])


# -- CSV files ----------------------------------------------------------------------------------

#: currency signs a number may carry, before or after it ("$642,080", "642 080 €")
CURRENCY = "$€£¥"
#: field separators that load_csv chooses among when none is given (ties go to the first)
DELIMITERS = (",", ";", "\t", "|")
#: a text feature with more distinct values than this, and more than half as many as rows, is free
#: text or an id, not categories
MAX_CATEGORIES = 50

# thousands separators that may group the digits, by decimal separator
_GROUPING = {".": ",' \u00a0\u202f", ",": ".' \u00a0\u202f"}
_NUMBER_RE = {
    dec: re.compile(r"(?P<int>\d+|[1-9]\d{0,2}(?P<sep>[" + re.escape(seps) + r"])\d{3}(?:(?P=sep)\d{3})*)?"
                    r"(?:" + re.escape(dec) + r"(?P<frac>\d*))?(?P<exp>[eE][-+]?\d+)?")
    for dec, seps in _GROUPING.items()}
#: what a cell's spelling used (flags of _parse)
_PERCENT, _COMMA_GROUPS = 1, 2


def _parse(text, decimal="."):
    """``(value, flags)`` of a stripped cell written as people write numbers: a sign, a
    currency sign before or after ($, €, £, ¥), digits grouped by thousands ("642,080";
    with a decimal comma "642.080" or "642 080"), the decimal separator ``decimal``, an
    exponent, a trailing % (divided by 100). ``(None, 0)`` when it is none of these."""
    s, neg, flags = text, False, 0
    if s.startswith(("-", "+")):
        neg, s = s[0] == "-", s[1:].lstrip()
    if s.endswith("%"):
        flags, s = _PERCENT, s[:-1].rstrip()
    if s[:1] and s[0] in CURRENCY:
        s = s[1:].lstrip()
        if not neg and s.startswith(("-", "+")):        # "$-5"
            neg, s = s[0] == "-", s[1:].lstrip()
    elif s[-1:] and s[-1] in CURRENCY:
        s = s[:-1].rstrip()
    m = _NUMBER_RE[decimal].fullmatch(s)
    if m is None or not (m["int"] or m["frac"]):
        return None, 0
    whole = m["int"] or "0"
    if m["sep"]:
        whole = whole.replace(m["sep"], "")
        if m["sep"] == ",":
            flags |= _COMMA_GROUPS
    v = float(f"{whole}.{m['frac'] or ''}{m['exp'] or ''}")
    if flags & _PERCENT:
        v /= 100.0
    return (-v if neg else v), flags


def _number(text, decimal="."):
    """The float in a cell, or None when it is not a number."""
    if decimal == "." or "." not in text:       # no decimal point to misread: Python's own reader first
        try:
            return float(text)
        except ValueError:
            pass
    return _parse(text.strip(), decimal)[0]


def _is_missing(text):
    return text.strip().lower() in MISSING


def _blank(row):
    return not row or all(not c.strip() for c in row)


def _sniff(path):
    """The field separator of a CSV file, from its first lines: the one of ``DELIMITERS``
    that splits the header into the most columns and every sampled row into as many."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(1 << 16)
    lines = sample.splitlines()
    if len(sample) == 1 << 16 and len(lines) > 1:
        lines = lines[:-1]                          # the last one may be cut
    lines = [ln for ln in lines if ln.strip()][:30]
    best, best_key = ",", None
    for rank, d in enumerate(DELIMITERS):
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        agree = sum(c == counts[0] for c in counts) / len(counts)
        key = (agree, counts[0], -rank)
        if best_key is None or key > best_key:
            best, best_key = d, key
    return best


#: names --delimiter accepts besides the character itself
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "space": " "}


def _check_format(delimiter, decimal):
    if delimiter is not None:
        delimiter = DELIMITER_NAMES.get(delimiter, delimiter)
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum():
            raise ValueError(f"delimiter must be one character such as ',', ';' or tab ('\\t'), got {delimiter!r}")
    if decimal not in (None, ".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    if decimal is not None and decimal == delimiter:
        raise ValueError(f"the decimal separator {decimal!r} cannot also be the field separator; numbers "
                         "that contain it would have to be quoted, and the delimiter is then another character")
    return delimiter, decimal


def load_csv(path, target, features=None, exclude=(), task="auto", delimiter=None, decimal=None,
             categorical="auto"):
    """Load a CSV file with a header row of column names.

    A file of plain numbers is parsed by NumPy's C reader straight into float64
    arrays (2 million rows of 11 columns, 237 MB: about 4 s, and a peak of about
    the data's float64 size); anything else (quoted fields, text, formatted
    numbers, a bad cell) goes through the ``csv`` module row by row into
    preallocated arrays. Line endings may be LF, CRLF or CR.

    Numbers may be written as people write them: ``$642,080``, ``"642,080"``,
    ``€1,200.50``, ``642 080 €``, ``12.5%`` (read as 0.125), ``-$5``; with
    ``decimal=","``, ``1.234,5`` and ``12,5``. Text is never evaluated.

    Args:
      path: the file.
      target: the column to predict.
      features: the input columns (default: every other column, minus ``exclude``).
      exclude: columns to leave out (ids, free text).
      task: ``"auto"`` (classification when the target holds text labels, or whole
        numbers with at most 10 distinct values, each seen twice on average),
        ``"classification"`` or ``"regression"``.
      delimiter: the field separator; default: sniffed from the first lines
        (comma, semicolon, tab or ``|``).
      decimal: the decimal separator, ``"."`` or ``","``. Default ``"."``, except
        that in a semicolon-separated file a number with a comma ("1,500") is
        refused as ambiguous until ``decimal`` is given.
      categorical: ``"auto"``: a feature column of text (city names) is one-hot
        encoded, one 0/1 column per category but the first in sorted order (the
        reference, all zeros), named ``column=category``; ``"none"``: refused.

    Returns:
      A ``Dataset``; for classification ``y`` holds indices into ``classes``;
      ``notes`` says what was encoded or left out.

    Raises:
      FileNotFoundError: no such file.
      ValueError: an empty file, a header without data rows, a missing column (the
        message lists the columns), a row with the wrong number of fields, an empty
        or NaN cell, or text in a numeric column (naming the line, data row, column
        and the text). Among several bad cells, the first one of the first bad
        column (features in order, then the target) is named.
    """
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    if categorical not in ("auto", "none"):
        raise ValueError(f"categorical must be 'auto' (one-hot encode text columns) or 'none', got {categorical!r}")
    delimiter, decimal = _check_format(delimiter, decimal)
    try:
        if delimiter is None:
            delimiter = _sniff(path)
        return _load_csv(path, target, features, exclude, task, delimiter, decimal, categorical)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file; save it as CSV (UTF-8)") from None


def _rows(reader, path):
    """The reader's rows; a malformed one (a NUL byte, a field over the csv module's
    size limit) is a ValueError naming its line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(f"{path}, line {reader.line_num}: cannot read it as CSV ({e})") from None
        yield row


def _load_csv(path, target, features, exclude, task, delimiter, decimal=None, categorical="auto"):
    name = os.path.basename(str(path))
    with open(path, encoding="utf-8-sig", newline="") as fh:      # newline="": LF, CRLF and CR lines
        reader = csv.reader(fh, delimiter=delimiter)
        header, before, first = None, 0, None
        for row in _rows(reader, path):
            if _blank(row):
                if header is None:
                    before = reader.line_num            # blank lines above the header
                continue
            if header is None:
                header = [c.strip() for c in row]
                header_lines = reader.line_num
                continue
            first = row                                 # the first data row
            break
    if header is None:
        raise ValueError(f"{path} is empty: a CSV file needs a header row of column names and at least one "
                         "data row")
    for j, h in enumerate(header):
        if not h:
            raise ValueError(f"{path}: column {j + 1} of the header has no name")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ValueError(f"{path}: the header names column(s) {', '.join(map(repr, dup))} more than once")
    if first is None:
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
    cols = [header.index(c) for c in features]
    # text class labels, judged by the first row (the careful reader decides on every row)
    dec = decimal or "."
    text_target = task != "regression" and len(first) == len(header) and not _is_missing(first[t]) \
        and _number(first[t], dec) is None
    got = None
    if header_lines == before + 1 and delimiter != '"' and dec == ".":
        got = _fast_csv(path, header_lines, len(header), cols, t, text_target, delimiter)
    notes = []
    if got is None:
        ambiguous = decimal is None and delimiter == ";"
        X, values, labels, feats, tcol = _careful_csv(path, header, cols, t, features, target, task, delimiter,
                                                      dec, ambiguous, categorical)
        for c, col_name in [*zip(feats, features), (tcol, target)]:
            if c.flags & _PERCENT:
                notes.append(f"column {col_name!r}: percentages read as fractions (12.5% is 0.125)")
        X, features = _encode(path, X, features, feats, categorical, notes, dec)
    else:
        X, values, labels = got
    if labels is not None:          # text class labels: classes in sorted order
        # many distinct texts, some repeated, are not class labels (all distinct: the split says why not)
        if task == "auto" and len(labels) > MAX_CATEGORIES and 2 * len(labels) > len(values) \
                and np.bincount(values).max() > 1:
            examples = ", ".join(repr(c) for c in list(labels)[:3])
            raise ValueError(f"{path}: target column {target!r} holds {len(labels)} different texts in "
                             f"{len(values)} rows ({examples}, ...): not class labels. If they are numbers, write "
                             "them as plain numbers (642080, $642,080 or 12.5% are read); to classify them anyway, "
                             "use task='classification' (--task classification)")
        classes = sorted(labels)
        new_index = np.empty(len(classes), np.int64)
        new_index[[labels[c] for c in classes]] = np.arange(len(classes))
        return Dataset(X, new_index[values], features, target, "classification", name, classes, notes=notes)
    y, classes, task = _numeric_target(path, values, target, task)
    return Dataset(X, y, features, target, task, name, classes, notes=notes)


def _encode(path, X, features, feats, categorical, notes, decimal="."):
    """``(X, feature names)`` with each text column replaced by its one-hot columns (all
    but the first category in sorted order, the reference), after the checks: the first
    bad cell of the first bad column is raised."""
    n = len(X)
    cats = {}
    for k, (c, col_name) in enumerate(zip(feats, features)):
        if c.first is None:
            continue
        if categorical == "auto" and c.labels and c.failures == n:      # text (or missing) in every row
            if c.first_missing is not None:
                raise _column_error(path, c, col_name, n, is_target=False, first=c.first_missing)
            line, r, cell, _ = c.first_text
            other = "," if decimal == "." else "."
            if other in cell and _parse(cell, other)[0] is not None:     # numbers with the other separator
                raise _cell_error(path, line, r, col_name, f"{cell!r} is not a number with the decimal separator "
                                  f"{decimal!r}; if {other!r} is the decimal separator, give decimal={other!r} "
                                  f"(--decimal {other} on the command line)")
            if len(c.labels) > MAX_CATEGORIES and 2 * len(c.labels) > n:
                examples = ", ".join(repr(t) for t in list(c.labels)[:3])
                raise ValueError(f"{path}: column {col_name!r} holds {len(c.labels)} different texts in {n} rows "
                                 f"({examples}, ...): free text or an id, not categories; leave it out with "
                                 f"exclude=[{col_name!r}] (--drop {col_name} on the command line)")
            cats[k] = c
            continue
        raise _column_error(path, c, col_name, n, is_target=False)
    if not cats:
        return X, list(features)
    blocks, names = [], []
    for k, col_name in enumerate(features):
        c = cats.get(k)
        if c is None:
            blocks.append(X[:, k:k + 1])
            names.append(col_name)
            continue
        order = sorted(c.labels)
        rank = np.empty(len(order), np.int64)
        rank[[c.labels[v] for v in order]] = np.arange(len(order))
        codes = rank[c.codes[:n]]
        if len(order) == 1:
            notes.append(f"column {col_name!r} holds one value ({order[0]!r}) in every row: left out")
            continue
        blocks.append((codes[:, None] == np.arange(1, len(order))[None, :]).astype(np.float64))
        new = [f"{col_name}={v}" for v in order[1:]]
        names.extend(new)
        shown = ", ".join(new[:4]) + (", ..." if len(new) > 4 else "")
        notes.append(f"column {col_name!r}: {len(order)} categories, one-hot encoded as {len(new)} 0/1 "
                     f"column(s) {shown} (the first, {order[0]!r}, is the reference: all 0)")
    if not names:
        raise ValueError(f"{path}: no feature columns left: {'; '.join(notes)}")
    return np.concatenate(blocks, axis=1), names


def _unused(text):
    return 0.0


def _fast_csv(path, skip, ncols, cols, t, text_target, delimiter):
    """``(X, target values or label codes, labels or None)`` by NumPy's C reader, or
    None when the file needs the careful reader (anything but finite numbers in the
    columns used, quotes it reads differently, rows of another length)."""
    converters = {j: _unused for j in range(ncols) if j != t and j not in cols}
    labels = {}
    if text_target:
        def label(text):
            text = text.strip()
            code = labels.get(text)
            if code is None:
                code = labels[text] = len(labels)
            return code
        converters[t] = label
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")             # "input contained no data": seen below
            data = np.loadtxt(path, dtype=np.float64, delimiter=delimiter, skiprows=skip, comments=None,
                              quotechar='"', ndmin=2, encoding="utf-8-sig", converters=converters or None)
    except UnicodeDecodeError:
        raise
    except (ValueError, TypeError, OverflowError):
        return None
    n = len(data)
    if n == 0 or data.shape[1] != ncols:
        return None
    step = max(1, (1 << 20) // ncols)                   # rows per finiteness check (bounded temporaries)
    for s in range(0, n, step):
        if not np.isfinite(data[s:s + step]).all():
            return None
    if text_target and any(_is_missing(c) or _number(c) is not None for c in labels):
        return None
    y = data[:, t].copy()
    if text_target:
        y = y.astype(np.int64)
    return _compact(data, cols), y, (labels if text_target else None)


def _compact(data, cols):
    """``data[:, cols]`` built in place over ``data``'s own buffer, a block of rows at a
    time (the columns move forward: row i goes where row i of the narrower array
    starts, never past a row still to be read), so no second full-size array."""
    n, m = data.shape
    d = len(cols)
    flat = data.reshape(-1)
    step = max(1, (1 << 20) // m)
    for s in range(0, n, step):
        e = min(n, s + step)
        flat[s * d:e * d] = data[s:e, cols].reshape(-1)       # the fancy index copies the block first
    return flat[:n * d].reshape(n, d)


def _count_lines(path):
    """An upper bound on the rows of a file: its line ends (LF, CRLF or CR), plus one."""
    lf = cr = crlf = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 24)
            if not block:
                break
            lf += block.count(b"\n")
            cr += block.count(b"\r")
            crlf += block.count(b"\r\n")
    return lf + cr - crlf + 1


class _Column:
    """What the careful reader learns about one column: its first bad cell, and for
    the messages, how many cells are not numbers and the first distinct texts; for
    a column of text, each row's category code."""

    __slots__ = ("first", "first_missing", "first_text", "failures", "texts", "flags", "labels", "codes")

    def __init__(self):
        self.first = None       # (line, data row, stripped cell, kind)
        self.first_missing = None
        self.first_text = None
        self.failures = 0
        self.texts = []
        self.flags = 0          # _PERCENT, _COMMA_GROUPS seen in the column
        self.labels = {}        # text -> code, in order of appearance
        self.codes = None

    def bad(self, line, r, cell, kind):
        if self.first is None:
            self.first = (line, r, cell, kind)
        if kind == "text" or kind == "missing" and _number(cell) is None:
            self.failures += 1          # not a number (a 'nan' cell is one, though a missing value)
        if kind == "missing" and self.first_missing is None:
            self.first_missing = (line, r, cell, kind)
        if kind == "text" and self.first_text is None:
            self.first_text = (line, r, cell, kind)
        if kind == "text" and len(self.texts) < 3 and cell not in self.texts:
            self.texts.append(cell)

    def code(self, r, cell, n_max):
        """Note a text cell of data row ``r`` as a category."""
        if self.codes is None:
            self.codes = np.zeros(n_max, np.int64)
        c = self.labels.get(cell)
        if c is None:
            c = self.labels[cell] = len(self.labels)
        self.codes[r - 1] = c


def _classify(cell, decimal=".", ambiguous=False):
    """``(kind, value, flags)`` of a stripped cell: kind ok, missing, text, nan, inf or
    ambiguous (a comma-grouped number where the comma may be the decimal separator)."""
    if cell.lower() in MISSING:
        return "missing", None, 0
    flags = 0
    v = None
    if decimal == "." or "." not in cell:
        try:
            v = float(cell)
        except ValueError:
            pass
    if v is None:
        v, flags = _parse(cell, decimal)
        if v is None:
            return "text", None, 0
        if ambiguous and flags & _COMMA_GROUPS:
            return "ambiguous", None, flags
    if v - v != 0:
        return ("nan" if v != v else "inf"), v, flags
    return "ok", v, flags


#: rows the careful reader converts to NumPy at a time
_CSV_BLOCK = 65536


def _careful_csv(path, header, cols, t, features, target, task, delimiter, decimal=".", ambiguous=False,
                 categorical="auto"):
    """The csv module, row by row, into preallocated arrays; every bad cell is noted in
    its column's ``_Column``. Returns ``(X, target values or label codes, labels or None,
    feature _Columns, target _Column)``; the target's first bad cell is raised here,
    the features' by ``_encode`` (a column of text may be categorical)."""
    n_max = _count_lines(path)
    d = len(cols)
    X = np.empty((n_max, d))
    values = np.empty(n_max)
    codes = np.empty(n_max, np.int64)
    labels = {}
    all_text = task != "regression"     # every target cell so far a text label
    feats = [_Column() for _ in cols]
    tcol = _Column()
    ncols = len(header)
    used = [*cols, t]
    plain = decimal == "."
    r = 0
    rows = []           # rows (features, then target) not yet copied into X and values
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for row in _rows(reader, path):       # up to the header
            if not _blank(row):
                break
        for row in _rows(reader, path):
            if not row or not row[0].strip() and _blank(row):
                continue
            if len(row) != ncols:
                raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, but the header has "
                                 f"{ncols} columns ({', '.join(header)})")
            r += 1
            if plain:
                try:                            # the common row: finite numbers in every used cell
                    xs = [float(row[j]) for j in used]
                    total = sum(xs)
                    if total - total == 0:      # else a NaN or an infinity (or an overflowing sum)
                        rows.append(xs)
                        if len(rows) == _CSV_BLOCK:
                            _store(X, values, rows, r)
                        all_text = False
                        continue
                except ValueError:
                    pass
            xs = []
            line = reader.line_num
            for k, j in enumerate(cols):
                cell = row[j].strip()
                kind, v, flags = _classify(cell, decimal, ambiguous)
                c = feats[k]
                c.flags |= flags
                if kind != "ok":
                    c.bad(line, r, cell, kind)
                    if kind == "text":
                        c.code(r, cell, n_max)
                xs.append(v if kind == "ok" else 0.0)
            cell = row[t].strip()
            kind, v, flags = _classify(cell, decimal, ambiguous)
            tcol.flags |= flags
            xs.append(v if kind == "ok" else 0.0)
            rows.append(xs)
            if len(rows) == _CSV_BLOCK:
                _store(X, values, rows, r)
            if kind == "ok":
                all_text = False
                continue
            tcol.bad(line, r, cell, kind)
            if kind != "text":
                all_text = False
            elif all_text:
                code = labels.get(cell)
                if code is None:
                    code = labels[cell] = len(labels)
                codes[r - 1] = code
    if rows:
        _store(X, values, rows, r)
    if r == 0:
        raise ValueError(f"{path} has a header ({', '.join(header)}) but no data rows")
    for c, col_name in zip(feats, features):        # a bad numeric feature is named before the target
        if c.first is not None and not (categorical == "auto" and c.labels and c.failures == r):
            raise _column_error(path, c, col_name, r, is_target=False)
    if all_text:
        return X[:r], codes[:r], labels, feats, tcol
    if tcol.first is not None:
        raise _column_error(path, tcol, target, r, is_target=True)
    return X[:r], values[:r], None, feats, tcol


def _store(X, values, rows, r):
    """Copy the pending ``rows`` (data rows ``r - len(rows) + 1 .. r``) into ``X`` and ``values``."""
    block = np.array(rows, dtype=np.float64)
    X[r - len(rows):r] = block[:, :-1]
    values[r - len(rows):r] = block[:, -1]
    rows.clear()


def _cell_error(path, line, row_number, column, message):
    return ValueError(f"{path}, line {line} (data row {row_number}), column {column!r}: {message}")


def _column_error(path, c, name, n_rows, is_target, first=None):
    """The error for a column's first bad cell, worded as the whole column warrants."""
    line, r, cell, kind = first or c.first
    if kind == "missing":
        what = "an empty cell" if not cell else f"a missing value ({cell!r})"
        return _cell_error(path, line, r, name, f"{what}; fill it in or drop the row"
                           + ("" if is_target else f" (or leave the column out with exclude=[{name!r}])"))
    if kind == "nan":
        return _cell_error(path, line, r, name, f"a missing value ({cell!r}); fill it in or drop the row")
    if kind == "inf":
        return _cell_error(path, line, r, name, f"{cell!r} is not a finite number")
    if kind == "ambiguous":
        return _cell_error(path, line, r, name, f"{cell!r} in a semicolon-separated file: is the comma a thousands "
                           "separator or the decimal comma? Say which: decimal=',' (--decimal , on the command "
                           "line) for a decimal comma, decimal='.' (--decimal .) for thousands")
    numbers = n_rows - c.failures
    if numbers == 0 and is_target:
        return ValueError(f"{path}: target column {name!r} holds text labels, so it cannot be a regression "
                          "target; use task='classification'")
    if numbers == 0:
        examples = ", ".join(repr(s) for s in c.texts)
        return ValueError(f"{path}: column {name!r} holds text ({examples}, ...; first at line {line}, data row "
                          f"{r}), a categorical column: encode it as numbers, e.g. one 0/1 column per category "
                          "(one-hot: categorical='auto', --categorical auto on the command line), "
                          f"or leave it out with exclude=[{name!r}] (--drop {name} on the command line)")
    hint = ""
    if re.fullmatch(r"[-+]?\d+,\d+", cell):
        hint = " (a decimal comma? give decimal=',', --decimal , on the command line)"
    elif re.fullmatch(r"[-+]?\d+(\.\d{3})+,\d*|[-+]?\d+\.\d+", cell) and "," in cell:
        hint = " (a decimal comma? give decimal=',', --decimal , on the command line)"
    return _cell_error(path, line, r, name, f"{cell!r} is not a number{hint}")


def _numeric_target(path, values, name, task):
    """``(y, classes, task)`` for a numeric target column."""
    whole = bool(np.all(values == np.round(values)))
    if task == "auto" and not whole:
        return values, None, "regression"
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
    classes = [int(v) for v in distinct]
    return np.searchsorted(distinct, values).astype(np.int64), classes, "classification"
