"""Saving and loading trained models, atomically.

A saved model is **one file**, ``model.npz``: the arrays (``W``, ``coef``,
``intercept``, ``mean``, ``scale``, ``classes``) and the metadata as JSON, in
one NumPy archive.  It is written into an unnamed temporary file in the
target folder (Linux ``O_TMPFILE``: a killed save leaves no file behind),
flushed to disk, then named ``.matcalc-save-*`` and moved over
``model.npz`` by an atomic ``os.replace``; so an interrupted save leaves the
previous model as it was.  Only a kill in the microseconds between naming and
moving (or, where ``O_TMPFILE`` is not available, during the write) leaves a
``.matcalc-save-*`` file; the next save into that folder removes it.

Beside it, ``model.json`` (a readable copy of the metadata, tagged with the
same ``save_id``) and, with matplotlib, ``loss_curve.png`` are written the
same way, after the model.  :func:`load_model` reads ``model.npz`` alone and
refuses weights that do not fit the stored model type, classes and features.

>>> import io, tempfile, shutil
>>> from matcalc.train.runner import train_file
>>> d = tempfile.mkdtemp()
>>> r = train_file(epochs=3, out=d, progress=io.StringIO())
>>> m = load_model(d)
>>> bool((m.predict(r.dataset.X) == r.model.predict(r.dataset.X)).all())
True
>>> shutil.rmtree(d)
"""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path

import numpy as np

from .data import DataError
from .estimators import LogisticClassifier, MulticlassSVM, SoftmaxClassifier

FORMAT = "matcalc-linear-classifier/2"
CLASSES = {c.__name__: c for c in (SoftmaxClassifier, MulticlassSVM, LogisticClassifier)}
_TMP_PREFIX = ".matcalc-save-"


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot write {type(v).__name__} to JSON")


def metadata(result) -> dict:
    """What ``model.npz`` records about a :class:`~matcalc.train.runner.TrainResult` besides its arrays."""
    m = result.model
    obj = m.objective()
    params = {k: v for k, v in m.get_params(deep=False).items() if k != "client"}
    return {
        "format": FORMAT,
        "model": type(m).__name__,
        "params": params,
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
        "arrays": "W (trained, standardized units, bias last), coef, intercept (input units), mean, scale, classes",
    }


def _sweep(folder: Path) -> None:
    """Remove named temporary files that a killed save left (only where O_TMPFILE was not available)."""
    for p in folder.glob(_TMP_PREFIX + "*"):
        try:
            p.unlink()
        except OSError:
            pass


def _link_open_file(fd: int, name: Path) -> None:
    """Give the unnamed (``O_TMPFILE``) file open as ``fd`` the name ``name``: ``linkat(..., AT_SYMLINK_FOLLOW)``."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, os.fsencode(name), at_symlink_follow) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(name))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either its old content or all of ``data``."""
    folder = path.parent
    tmpfile = getattr(os, "O_TMPFILE", 0)
    fd, named = None, None
    if tmpfile:
        try:
            fd = os.open(folder, tmpfile | os.O_WRONLY, 0o644)
        except OSError:
            fd = None
    if fd is None:
        named = folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        fd = os.open(named, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        if named is None:
            # give the unnamed file a temporary name, then move it over the target in one step
            named = folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            _link_open_file(fd, named)
        os.replace(named, path)
        named = None
    finally:
        os.close(fd)
        if named is not None:
            try:
                os.unlink(named)
            except OSError:
                pass


def _plot(losses: list, title: str):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(5, 3.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(range(1, len(losses) + 1), losses, marker="o", markersize=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training objective")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def model_bytes(model, meta: dict) -> bytes:
    """The whole model as the bytes of one ``.npz`` archive."""
    classes = np.asarray(model.classes_)
    if classes.dtype == object:
        classes = classes.astype(str)
    buf = io.BytesIO()
    np.savez(buf, W=model.W_, coef=model.coef_, intercept=model.intercept_, mean=model.mean_, scale=model.scale_,
             classes=classes, metadata=np.array(json.dumps(meta, default=_json_default)))
    return buf.getvalue()


def save_model(result, out) -> list:
    """Save into the folder ``out``: ``model.npz`` (the model), then ``model.json`` and ``loss_curve.png``."""
    m = result.model
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    meta = dict(metadata(result), save_id=uuid.uuid4().hex)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _sweep(out)
        write_atomically(out / "model.npz", model_bytes(m, meta))
        files = [out / "model.npz"]
        write_atomically(out / "model.json", (json.dumps(meta, indent=2, default=_json_default) + "\n").encode())
        files.append(out / "model.json")
        png = _plot(m.loss_curve_, f"{type(m).__name__}: training objective")
        if png is not None:
            write_atomically(out / "loss_curve.png", png)
            files.append(out / "loss_curve.png")
    except OSError as e:
        raise DataError(f"cannot save the model in {out}: {e}") from None
    return files


def _expect(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise DataError(f"{where}: {message}; it was not saved by this version of matcalc, or it was altered")


def load_model(folder):
    """The estimator saved by ``matcalc train --out folder`` (or the ``model.npz`` path itself), ready to predict.

    Refuses, with a one-line :class:`DataError`, an archive whose weights do
    not fit the stored model type, number of classes and number of features.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / "model.npz"
    where = str(path)
    if not path.is_file():
        raise DataError(f"no saved model at {where}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{where} is not a matcalc model: {e}") from None
    need = ("W", "coef", "intercept", "mean", "scale", "classes", "metadata")
    missing = [k for k in need if k not in arrays]
    _expect(not missing, where, f"the array {missing[0] if missing else ''!r} is missing")
    try:
        meta = json.loads(str(arrays["metadata"]))
    except ValueError:
        raise DataError(f"{where}: its metadata is not JSON") from None
    _expect(meta.get("format") == FORMAT, where, f"the format is {meta.get('format')!r}, not {FORMAT!r}")
    cls = CLASSES.get(meta.get("model"))
    _expect(cls is not None, where, f"the model type {meta.get('model')!r} is unknown")
    W, coef, intercept = arrays["W"], arrays["coef"], arrays["intercept"]
    classes = arrays["classes"]
    k, p = len(classes), len(arrays["mean"])
    binary = cls is LogisticClassifier
    rows = 1 if binary else k
    want = {"W": (p + 1, 1) if binary else (k, p + 1), "coef": (rows, p), "intercept": (rows,), "scale": (p,)}
    for name, shape in want.items():
        _expect(arrays[name].shape == shape, where,
                f"{name} has shape {arrays[name].shape}, but a {cls.__name__} with {k} classes and {p} features "
                f"needs {shape}")
    for name in ("W", "coef", "intercept", "mean", "scale"):
        _expect(arrays[name].dtype.kind == "f", where, f"{name} is {arrays[name].dtype}, not floating point")
    _expect(len(meta.get("classes", [])) == k, where, f"the metadata lists {len(meta.get('classes', []))} classes "
            f"but the arrays hold {k}")
    est = cls(**meta["params"])
    est.W_, est.coef_, est.intercept_ = W, coef, intercept
    est.mean_, est.scale_, est.classes_ = arrays["mean"], arrays["scale"], classes
    est.n_features_in_ = p
    est.loss_curve_ = meta["loss_curve"]
    est.n_iter_ = meta["epochs_run"]
    est.stop_reason_ = meta["stop_reason"]
    est.converged_ = True
    return est
