"""What ``matcalc train`` does: read, split, train with a progress bar, report, save atomically.

The command line only parses its options and calls :func:`train_file`; all
the work and every message is here.

>>> import io
>>> result = train_file(epochs=5, progress=io.StringIO())
>>> result.n_train, result.n_test, result.model.classes_.tolist()
(114, 36, ['setosa', 'versicolor', 'virginica'])
"""

from __future__ import annotations

import json
import numbers
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

import numpy as np

from .data import DataError, Dataset, check_labels, load_dataset
from .estimators import LogisticClassifier, MulticlassSVM, SoftmaxClassifier

MODELS = {"softmax": SoftmaxClassifier, "svm": MulticlassSVM, "logistic": LogisticClassifier}


class ProgressBar:
    """``epoch  12/100 [######..............] loss 0.123456``, one line per epoch (redrawn in place on a terminal)."""

    def __init__(self, stream: Optional[TextIO] = None, width: int = 24):
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.inplace = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = False

    def __call__(self, epoch: int, epochs: int, loss: float) -> None:
        done = int(round(self.width * epoch / epochs))
        digits = len(str(epochs))
        line = f"epoch {epoch:>{digits}}/{epochs} [{'#' * done}{'.' * (self.width - done)}] loss {loss:.6f}"
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
            f"training: {m.n_iter_} epochs, {m.stop_reason_}; final loss {m.loss_curve_[-1]:.6f}",
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
    if "loss" in given and model != "svm":
        raise DataError(f"--loss applies to --model svm only (the {model} model has one loss)")
    est.set_params(**given)
    return est


def train_file(path=None, target: Optional[str] = None, model: str = "softmax", test_size: float = 0.25,
               seed: int = 0, out=None, progress: Optional[TextIO] = None, **options) -> TrainResult:
    """Train ``model`` on a data file (the bundled Iris data when ``path`` is None) and save it under ``out``.

    ``options`` are estimator parameters (``reg``, ``lam``, ``alpha``, ``epochs``,
    ``batch_size``, ``lr``, ``momentum``, ``loss``, ...); ``None`` keeps the default.
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


# -- saving ---------------------------------------------------------------------------------


def _metadata(result: TrainResult) -> dict:
    m = result.model
    obj = m.objective()
    return {
        "format": "matcalc-linear-classifier/1",
        "model": type(m).__name__,
        "params": {k: v for k, v in m.get_params(deep=False).items()},
        "objective": obj.formula(),
        "gradient_latex": obj.latex(),
        "verification": [{"function": r.function, "max_rel_error": r.max_rel_error, "tolerance": r.tolerance}
                         for r in obj.reports()],
        "dataset": str(result.dataset.source),
        "features": list(result.dataset.feature_names),
        "target": result.dataset.target_name,
        "classes": [c.item() if hasattr(c, "item") else c for c in m.classes_],
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "n_train": result.n_train,
        "n_test": result.n_test,
        "epochs_run": m.n_iter_,
        "stop_reason": m.stop_reason_,
        "loss_curve": [float(v) for v in m.loss_curve_],
        "arrays": "model.npz: W (trained, standardized units, bias last), coef, intercept (input units), mean, scale, classes",
    }


def _plot(losses: list, path: Path, title: str) -> bool:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(5, 3.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(range(1, len(losses) + 1), losses, marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training objective")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return True


def save_model(result: TrainResult, out: Path) -> list:
    """Write ``model.npz``, ``model.json`` and (with matplotlib) ``loss_curve.png`` into ``out``.

    Everything is written into a temporary folder next to ``out`` first and moved
    into place only when all files are complete, so a failure leaves nothing behind.
    """
    m = result.model
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the saved folder is an ordinary one
    except OSError as e:
        raise DataError(f"cannot save the model in {out}: {e}") from None
    try:
        classes = np.asarray(m.classes_)
        if classes.dtype == object:
            classes = classes.astype(str)
        with open(tmp / "model.npz", "wb") as fh:
            np.savez(fh, W=m.W_, coef=m.coef_, intercept=m.intercept_, mean=m.mean_, scale=m.scale_, classes=classes)
        with open(tmp / "model.json", "w", encoding="utf-8") as fh:
            json.dump(_metadata(result), fh, indent=2, default=_json_default)
            fh.write("\n")
        names = ["model.npz", "model.json"]
        if _plot(m.loss_curve_, tmp / "loss_curve.png", f"{type(m).__name__}: training objective"):
            names.append("loss_curve.png")
        if not out.exists():
            os.replace(tmp, out)
        else:
            for name in names:
                os.replace(tmp / name, out / name)
            tmp.rmdir()
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot save the model in {out}: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in names]


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot write {type(v).__name__} to JSON")


def load_model(folder):
    """The estimator saved by ``matcalc train --out folder``, ready to predict.

    >>> import io, tempfile
    >>> d = tempfile.mkdtemp()
    >>> r = train_file(epochs=3, out=d, progress=io.StringIO())
    >>> m = load_model(d)
    >>> bool((m.predict(r.dataset.X) == r.model.predict(r.dataset.X)).all())
    True
    >>> import shutil; shutil.rmtree(d)
    """
    folder = Path(folder)
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    cls = {c.__name__: c for c in MODELS.values()}[meta["model"]]
    est = cls(**meta["params"])
    with np.load(folder / "model.npz", allow_pickle=False) as z:
        est.W_, est.coef_, est.intercept_ = z["W"], z["coef"], z["intercept"]
        est.mean_, est.scale_, est.classes_ = z["mean"], z["scale"], z["classes"]
    est.n_features_in_ = est.coef_.shape[1]
    est.loss_curve_ = meta["loss_curve"]
    est.n_iter_ = meta["epochs_run"]
    est.stop_reason_ = meta["stop_reason"]
    return est
