"""Checking and loading training data, with one-line errors that name the row and column.

Arrays given to the estimators are checked by :func:`check_features` and
:func:`check_labels` (rows and columns counted from 0, as NumPy does).  Files
given to ``matcalc train`` are read by :func:`load_dataset`: CSV with a header
row, ``.npy`` (a 2-D numeric array, the target in its last column unless
``target`` is a column index) or ``.npz`` (arrays ``X`` and ``y``).  In file
messages, CSV rows are counted from 1 after the header, and the file line is given too.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import MatcalcError

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "iris.csv"


class DataError(MatcalcError):
    """Training data that cannot be used; the message is one line and names the place."""


class FeatureTypeError(DataError, TypeError):
    """A feature that is not a number nor text (a dict, a list): a TypeError as well."""


class NotFittedError(ValueError, AttributeError):
    """A model was asked to predict before it was fitted."""


class TrainingWarning(UserWarning):
    """Training finished, but not as asked (it did not converge, or y was reshaped)."""


def _with_sklearn(ours: type, sklearn_name: str) -> type:
    """``ours``, or when scikit-learn is already imported, a subclass of ``ours`` and its class of that name.

    matcalc never imports scikit-learn; when it is loaded (a user runs its
    estimator checks), errors and warnings are also scikit-learn's own kinds.
    """
    import sys

    module = sys.modules.get("sklearn.exceptions")
    theirs = getattr(module, sklearn_name, None) if module is not None else None
    if theirs is None:
        return ours
    key = (ours, theirs)
    hit = _MIXED.get(key)
    if hit is None:
        hit = _MIXED[key] = type(theirs.__name__, (ours, theirs), {"__module__": ours.__module__})
    return hit


_MIXED: dict = {}


def not_fitted(model: str) -> NotFittedError:
    """The error for a model used before ``fit``."""
    return _with_sklearn(NotFittedError, "NotFittedError")(
        f"this {model} is not fitted yet; call fit(X, y) first")


def warn(message: str, kind: str = "ConvergenceWarning") -> None:
    """Warn with a :class:`TrainingWarning` (also scikit-learn's ``kind`` when scikit-learn is loaded)."""
    import warnings

    warnings.warn(message, _with_sklearn(TrainingWarning, kind), stacklevel=3)


def _show(v) -> str:
    """repr of a value as Python writes it: 'a', not np.str_('a')."""
    return repr(v.item() if isinstance(v, np.generic) else v)


# -- arrays ---------------------------------------------------------------------------


def _first_bad_number(X: np.ndarray):
    for (i, j), v in np.ndenumerate(X):
        try:
            float(v)
        except (TypeError, ValueError):
            return i, j, v
    return None


def check_features(X, n_features: Optional[int] = None, dtype=None, model: str = "the model") -> np.ndarray:
    """``X`` as a 2-D finite float array (n samples x p features), or a :class:`DataError`.

    >>> check_features([[1, 2], [3, float("nan")]])
    Traceback (most recent call last):
    ...
    matcalc.train.data.DataError: X[1, 1] is NaN: every feature must be a finite number (drop or impute that row)
    """
    A = np.asarray(X)
    if A.dtype.kind == "c":
        raise DataError(f"Complex data not supported: X is {A.dtype}; give the real features (for example "
                        f"the real and imaginary parts as separate columns)")
    if A.ndim != 2:
        raise DataError(f"X must be a 2-D array (samples x features), got {A.ndim} dimension(s) of shape {A.shape}; "
                        f"Reshape your data with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample")
    if A.shape[0] == 0 or A.shape[1] == 0:
        what = f"{A.shape[1]} feature(s)" if A.shape[1] == 0 else f"{A.shape[0]} sample(s)"
        raise DataError(f"X is empty: found {what} (shape={A.shape}) while a minimum of 1 is required.")
    if not (np.issubdtype(A.dtype, np.floating) or np.issubdtype(A.dtype, np.integer) or A.dtype == bool):
        bad = _first_bad_number(A)
        if bad is not None:
            i, j, v = bad
            if isinstance(v, (str, bytes, np.str_)):
                raise DataError(f"X[{i}, {j}] = {_show(v)} is not a number: every feature must be numeric")
            raise FeatureTypeError(f"X[{i}, {j}] = {_show(v)} is not a number: the argument must be a string or a "
                                   f"number, not {type(v).__name__}")
        A = A.astype(np.float64)
    if dtype is not None:
        A = A.astype(dtype, copy=False)
    elif not np.issubdtype(A.dtype, np.floating):
        A = A.astype(np.float64)
    finite = np.isfinite(A)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        what = "NaN" if np.isnan(A[i, j]) else f"{A[i, j]} (infinity, inf)"
        raise DataError(f"X[{i}, {j}] is {what}: every feature must be a finite number (drop or impute that row)")
    if n_features is not None and A.shape[1] != n_features:
        raise DataError(f"X has {A.shape[1]} features, but {model} is expecting {n_features} features as input")
    return A


def check_labels(y, n_samples: int, max_classes: Optional[int] = None, model: str = "this model",
                 what: str = "y") -> tuple:
    """``(classes, index of each label in classes)``; at least two classes, at most ``max_classes``.

    >>> check_labels(["b", "a", "b"], 3)[0].tolist()
    ['a', 'b']
    """
    if y is None:
        raise DataError(f"{model} requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warn("A column-vector y was passed when a 1d array was expected; it was flattened with y.ravel()",
             "DataConversionWarning")
        y = y.ravel()
    elif y.ndim == 2 and y.shape[0] == 1 and n_samples != 1:
        y = y.ravel()
    if y.ndim != 1:
        raise DataError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if len(y) != n_samples:
        raise DataError(f"X has {n_samples} samples but y has {len(y)} labels")
    if y.dtype.kind == "c":
        raise DataError(f"Unknown label type: y is complex ({y.dtype}); a classifier needs class labels")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        i = int(np.argwhere(~np.isfinite(y))[0][0])
        raise DataError(f"Input y contains NaN or infinity: y[{i}] is {y[i]}; every label must be a class")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        i = int(np.argwhere(y != np.round(y))[0][0])
        raise DataError(f"Unknown label type: y holds continuous values (y[{i}] = {y[i]:g}); a classifier needs "
                        f"class labels, not a regression target")
    try:
        classes, index = np.unique(y, return_inverse=True)
    except TypeError as e:
        raise DataError(f"the labels in {what} cannot be compared with each other ({e}); use labels of one type") from None
    if len(classes) < 2:
        raise DataError(f"{what} has only one class ({_show(classes[0])}); a classifier needs at least two")
    if max_classes is not None and len(classes) > max_classes:
        shown = ", ".join(repr(c) for c in classes[:6].tolist()) + (", ..." if len(classes) > 6 else "")
        raise DataError(f"Only binary classification is supported: {model} is binary but {what} has "
                        f"{len(classes)} classes ({shown}); "
                        f"use the softmax classifier or the multiclass SVM for more than two")
    return classes, index.reshape(-1)


# -- files ----------------------------------------------------------------------------


@dataclass
class Dataset:
    """Features (n x p, float64), labels, and names, as read from a file."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    source: str


def _number(cell: str) -> float:
    return float(cell.strip())


def _read_csv(path: Path, target: Optional[str]) -> Dataset:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh)]
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise DataError(f"{path.name} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise DataError(f"{path.name} has a header but no data rows")
    if target is None:
        t = len(header) - 1
    elif target in header:
        t = header.index(target)
    elif target.lstrip("-").isdigit() and -len(header) <= int(target) < len(header):
        t = int(target) % len(header)
    else:
        raise DataError(f"{path.name} has no column {target!r}; available columns: {', '.join(header)}")
    names = [h for j, h in enumerate(header) if j != t]
    X = np.empty((len(body), len(header) - 1))
    labels = []
    for r, row in enumerate(body, start=1):
        where = f"{path.name} row {r} (line {r + 1})"
        if len(row) != len(header):
            raise DataError(f"{where} has {len(row)} fields but the header has {len(header)}")
        label = row[t].strip()
        if not label:
            raise DataError(f"{where}: the target column {header[t]!r} is empty")
        labels.append(label)
        for k, (j, cell) in enumerate((j, c) for j, c in enumerate(row) if j != t):
            try:
                v = _number(cell)
            except ValueError:
                raise DataError(f"{where}, column {header[j]!r}: {cell.strip()!r} is not a number"
                                + (" (a missing value)" if not cell.strip() else "")) from None
            if not math.isfinite(v):
                raise DataError(f"{where}, column {header[j]!r}: {v} is not a finite number (drop or impute that row)")
            X[r - 1, k] = v
    return Dataset(X, _tidy_labels(np.array(labels, dtype=object)), names, header[t], str(path))


def _tidy_labels(y: np.ndarray) -> np.ndarray:
    """Integral numbers become ints (so 0.0 and "0" print as 0); other labels stay strings."""
    try:
        f = np.array([float(v) for v in y])
    except (TypeError, ValueError):
        return np.array([str(v) for v in y])
    if np.all(np.isfinite(f)) and np.all(f == np.round(f)):
        return f.astype(np.int64)
    return np.array([str(v) for v in y])


def _finite_or_error(X: np.ndarray, names: Sequence[str], source: str) -> None:
    finite = np.isfinite(X)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise DataError(f"{source} row {i + 1}, column {names[j]!r}: {X[i, j]} is not a finite number "
                        f"(drop or impute that row)")


def _numeric(A: np.ndarray, source: str, what: str) -> np.ndarray:
    if np.issubdtype(A.dtype, np.number) or A.dtype == bool:
        return A.astype(np.float64)
    bad = _first_bad_number(A if A.ndim == 2 else A.reshape(-1, 1))
    if bad is not None:
        i, j, v = bad
        raise DataError(f"{source}: {what} row {i + 1}, column {j}: {_show(v)} is not a number")
    return A.astype(np.float64)


def _read_npy(path: Path, target: Optional[str]) -> Dataset:
    A = np.load(path, allow_pickle=False)
    if A.ndim != 2 or A.shape[1] < 2:
        raise DataError(f"{path.name} must hold a 2-D array with at least two columns (features, then the target); "
                        f"got shape {A.shape}")
    p = A.shape[1]
    if target is None:
        t = p - 1
    elif target.lstrip("-").isdigit() and -p <= int(target) < p:
        t = int(target) % p
    else:
        raise DataError(f"{path.name} has no column {target!r}; available columns: 0 to {p - 1} (by index)")
    names = [f"column {j}" for j in range(p) if j != t]
    A = _numeric(A, path.name, "array")
    X = np.delete(A, t, axis=1)
    _finite_or_error(X, names, path.name)
    return Dataset(X, _tidy_labels(A[:, t]), names, f"column {t}", str(path))


def _read_npz(path: Path, target: Optional[str]) -> Dataset:
    key = target or "y"
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        if "X" not in keys or key not in keys:
            raise DataError(f"{path.name} must hold arrays 'X' and {key!r}; it has: {', '.join(keys) or 'none'}")
        X, y = z["X"], z[key]
    if X.ndim != 2:
        raise DataError(f"{path.name}: X must be 2-D (samples x features), got shape {X.shape}")
    names = [f"column {j}" for j in range(X.shape[1])]
    X = _numeric(X, path.name, "X")
    _finite_or_error(X, names, path.name)
    y = np.asarray(y).reshape(-1)
    if len(y) != len(X):
        raise DataError(f"{path.name}: X has {len(X)} rows but {key} has {len(y)} labels")
    return Dataset(X, _tidy_labels(y), names, key, str(path))


READERS = {".csv": _read_csv, ".npy": _read_npy, ".npz": _read_npz}


def load_dataset(path=None, target: Optional[str] = None) -> Dataset:
    """Read a dataset; with no path, the bundled Iris data (150 flowers, 4 features, 3 species).

    >>> ds = load_dataset()
    >>> ds.X.shape, ds.target_name, sorted(set(ds.y.tolist()))
    ((150, 4), 'species', ['setosa', 'versicolor', 'virginica'])
    """
    path = BUNDLED if path is None else Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path.name}: unknown file type {path.suffix!r}; use .csv, .npy or .npz")
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    try:
        return reader(path, target)
    except UnicodeDecodeError as e:
        raise DataError(f"cannot read {path}: it is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                        f"{e.start})") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    except ValueError as e:
        if isinstance(e, DataError):
            raise
        what = "not a NumPy array file (or one holding Python objects, which matcalc does not load)" \
            if path.suffix.lower() in (".npy", ".npz") else str(e)
        raise DataError(f"cannot read {path}: {what}") from None
