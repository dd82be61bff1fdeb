"""What ``matcalc train`` does: read, split, train with a progress bar, report, save atomically.

The command line only parses its options and calls :func:`train_file`; all
the work and every message is here.

>>> import io
>>> result = train_file(epochs=5, progress=io.StringIO())
>>> result.n_train, result.n_test, result.model.classes_.tolist()
(114, 36, ['setosa', 'versicolor', 'virginica'])
"""

from __future__ import annotations

import numbers
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

import numpy as np

from .data import DataError, Dataset, check_labels, load_dataset
from .estimators import LogisticClassifier, MulticlassSVM, SoftmaxClassifier
from .persist import load_model, save_model  # noqa: F401 - load_model is re-exported for the CLI and tests

MODELS = {"softmax": SoftmaxClassifier, "svm": MulticlassSVM, "logistic": LogisticClassifier}
SGD_OPTIONS = ("batch_size", "lr", "lr_schedule", "momentum", "power_t", "early_stopping")


class ProgressBar:
    """``iteration  12/100 [######..............] loss 0.123456``, one line per epoch (redrawn in place on a terminal)."""

    def __init__(self, stream: Optional[TextIO] = None, width: int = 24):
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.inplace = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = False

    def __call__(self, epoch: int, epochs: int, loss: float) -> None:
        done = min(self.width, int(round(self.width * epoch / epochs)))
        digits = len(str(epochs))
        line = f"iteration {epoch:>{digits}}/{epochs} [{'#' * done}{'.' * (self.width - done)}] loss {loss:.6f}"
        if self.inplace:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.drawn = True

    def close(self, message: str = "") -> None:
        if self.inplace and self.drawn:
            self.stream.write("\n")
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()


def check_test_size(test_size) -> None:
    """The held-out fraction must be a number in (0, 1)."""
    if not (isinstance(test_size, numbers.Real) and not isinstance(test_size, bool) and 0.0 < test_size < 1.0):
        raise DataError(f"--test-size must be a number in (0, 1), got {test_size!r}")


def stratified_split(index: np.ndarray, test_size: float, seed: int) -> tuple:
    """Train and test row numbers, each class split in the ratio ``test_size`` (every class keeps a training row)."""
    check_test_size(test_size)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(index):
        rows = rng.permutation(np.flatnonzero(index == c))
        k = min(int(round(test_size * len(rows))), len(rows) - 1)
        test.extend(rows[:k])
        train.extend(rows[k:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


@dataclass
class TrainResult:
    """A trained model, its accuracies and where it was saved."""

    model: object
    dataset: Dataset
    train_accuracy: float
    test_accuracy: Optional[float]
    n_train: int
    n_test: int
    files: list = field(default_factory=list)

    def summary(self) -> str:
        m = self.model
        lines = [
            f"model: {type(m).__name__} on {Path(self.dataset.source).name} "
            f"({self.n_train} training rows, {self.n_test} held out; {len(self.dataset.feature_names)} features; "
            f"target {self.dataset.target_name!r}, classes {', '.join(map(str, m.classes_.tolist()))})",
            f"objective: {m.objective().formula()}",
            f"training: solver {m.solver}, {m.n_iter_} iterations; {m.stop_reason_}; final loss {m.loss_curve_[-1]:.6f}",
            f"train accuracy: {self.train_accuracy:.4f}",
            "held-out accuracy: " + (f"{self.test_accuracy:.4f}" if self.test_accuracy is not None else "n/a (no rows held out)"),
        ]
        if self.files:
            lines.append("saved: " + ", ".join(str(f) for f in self.files))
        else:
            lines.append("not saved (pass --out DIR to save the model)")
        return "\n".join(lines)


def build_model(model: str, options: dict):
    """An estimator for ``model`` ("softmax", "svm" or "logistic"); options left as None keep its defaults."""
    if model not in MODELS:
        raise DataError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    cls = MODELS[model]
    est = cls()
    given = {k: v for k, v in options.items() if v is not None}
    if "epochs" in given:  # the command line's name for max_iter
        given["max_iter"] = given.pop("epochs")
    if "seed" in given:
        given["random_state"] = given.pop("seed")
    if given.get("batch_size") == "full":
        given["batch_size"] = None  # full-batch gradient descent, as asked (not the default minibatch)
    if "loss" in given and model != "svm":
        raise DataError(f"--loss applies to --model svm only (the {model} model has one loss)")
    sgd_only = [k for k in SGD_OPTIONS if k in given]
    if sgd_only and given.get("solver", "sgd") != "sgd":
        raise DataError(f"--{sgd_only[0].replace('_', '-')} applies to --solver sgd only "
                        f"(got --solver {given['solver']})")
    if sgd_only:
        given["solver"] = "sgd"  # a minibatch size or a learning rate asks for SGD
    est.set_params(**given)
    return est


def train_file(path=None, target: Optional[str] = None, model: str = "softmax", test_size: float = 0.25,
               seed: int = 0, out=None, progress: Optional[TextIO] = None, **options) -> TrainResult:
    """Train ``model`` on a data file (the bundled Iris data when ``path`` is None) and save it under ``out``.

    ``options`` are estimator parameters (``solver``, ``reg``, ``lam``, ``alpha``, ``epochs``
    (``max_iter``), ``batch_size`` (``"full"``: full batch), ``lr``, ``momentum``, ``loss``, ...);
    ``None`` keeps the default.  An SGD option (a batch size, a learning rate) chooses ``solver="sgd"``.
    Nothing is written unless training succeeds, and then atomically.
    """
    est = build_model(model, dict(options, seed=seed))
    est._validate_params()  # bad options fail before any data is read
    check_test_size(test_size)
    ds = load_dataset(path, target)
    source = Path(ds.source).name
    try:
        _, index = check_labels(ds.y, len(ds.y), max_classes=2 if model == "logistic" else None,
                                model="the logistic model", what=f"the target column {ds.target_name!r}")
    except DataError as e:
        raise DataError(f"{source}: {e}") from None
    train, test = stratified_split(index, test_size, seed)
    bar = ProgressBar(progress)
    try:
        est.fit(ds.X[train], ds.y[train], callback=bar)
    except BaseException:
        bar.close()
        raise
    bar.close(est.stop_reason_)
    result = TrainResult(est, ds, est.score(ds.X[train], ds.y[train]),
                         est.score(ds.X[test], ds.y[test]) if len(test) else None, len(train), len(test))
    if out is not None:
        result.files = save_model(result, Path(out))
    return result


