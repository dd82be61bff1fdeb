"""matcalc.train: linear classifiers on derived, verified, compiled gradients.

Conventions under test (the lecture's): samples are columns of X, which has a
last row of ones (the bias trick), so the bias is the last column of W
(k x (p+1)) or the last entry of w ((p+1) x 1); the regularizer never touches it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import matcalc
from matcalc import cli
from matcalc.train import DataError, load_dataset
from matcalc.train.losses import LOSSES, REGULARIZERS, Objective, compiled
from matcalc.train.runner import load_model, train_file

MULTICLASS_LOSSES = ["softmax", "hinge", "squared_hinge", "perceptron"]


# -- a small random problem: non-square, with the bias row -------------------------------------


def problem(loss: str, seed: int = 0, p: int = 4, n: int = 7, k: int = 3):
    """(weight, X, targets): X is (p+1) x n with a last row of ones; W is k x (p+1), or w (p+1) x 1."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(p, n)), np.ones((1, n))])
    if loss == "logistic":
        return rng.normal(size=(p + 1, 1)), X, rng.integers(0, 2, size=(n, 1)).astype(float)
    Y = np.zeros((k, n))
    Y[rng.integers(0, k, size=n), np.arange(n)] = 1
    return rng.normal(size=(k, p + 1)), X, Y


def numeric_gradient(f, W, h=1e-6):
    G = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        G[idx] = (f(W + E) - f(W - E)) / (2 * h)
    return G


CASES = [(loss, "none") for loss in LOSSES] + [(loss, reg) for loss in ("softmax", "logistic")
                                               for reg in REGULARIZERS if reg != "none"]


@pytest.mark.parametrize("loss,reg", CASES)
def test_gradient_matches_finite_differences(loss, reg):
    """The trainer's own compiled gradient against central differences of its own compiled objective."""
    obj = Objective(loss, reg, lam=0.3, alpha=0.25)
    W, X, T = problem(loss, seed=len(loss) + len(reg))
    mask = obj.mask(W)
    analytic = obj.gradient(W, X, T, mask)
    numeric = numeric_gradient(lambda V: obj.value(V, X, T, mask), W)
    assert analytic.shape == W.shape
    err = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
    assert err < 1e-6, f"{loss}+{reg}: relative error {err:.2e}"


@pytest.mark.parametrize("reg", [r for r in REGULARIZERS if r != "none"])
@pytest.mark.parametrize("loss", ["softmax", "logistic"])
def test_regularizer_never_touches_the_bias(loss, reg):
    obj = Objective(loss, reg, lam=1.0, alpha=0.5)
    W, X, T = problem(loss)
    bias = (slice(None), -1) if loss == "softmax" else (-1, slice(None))
    on_bias = np.zeros(W.shape, dtype=bool)
    on_bias[bias] = True
    assert np.array_equal(obj.mask(W) == 0, on_bias)
    shifted = W.copy()
    shifted[bias] += 5.0
    assert obj.penalty(shifted) == obj.penalty(W) > 0
    G_reg = obj.penalty_gradient(W)
    assert np.all(G_reg[on_bias] == 0) and np.all(G_reg[~on_bias] != 0)


def test_subgradient_conventions_at_kinks():
    """step(0) = 0 and sign(0) = 0, as documented: W = 0 puts every perceptron term on its kink."""
    W, X, Y = problem("softmax")
    assert np.all(Objective("perceptron").gradient(np.zeros_like(W), X, Y) == 0)
    W[0, 0] = 0.0
    G_reg = Objective("softmax", "l1", lam=1.0).penalty_gradient(W)
    assert G_reg[0, 0] == 0 and abs(G_reg[0, 1]) == 1.0


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=0))
    return E / E.sum(axis=0)


def test_formulas_are_derived_verified_and_cached():
    first = compiled(LOSSES["softmax"])
    assert compiled(LOSSES["softmax"]) is first
    assert first.report.ok and first.report.max_rel_error < 1e-6
    # the derived gradients are the lecture's formulas, compared by value (not as printed text)
    W, X, Y = problem("softmax")
    n = X.shape[1]
    assert np.allclose(first.gradient(W=W, X=X, Y=Y), (_softmax(W @ X) - Y) @ X.T / n, rtol=1e-12, atol=0)
    w, X, y = problem("logistic")
    sigmoid = 1 / (1 + np.exp(-(X.T @ w)))
    assert np.allclose(compiled(LOSSES["logistic"]).gradient(w=w, X=X, y=y), X @ (sigmoid - y) / n,
                       rtol=1e-12, atol=0)
    tex = matcalc.SoftmaxClassifier(reg="l2").gradient_latex()
    assert r"\operatorname{softmax}" in tex and r"X^{\top}" in tex and r"\lambda" in tex


# -- training -----------------------------------------------------------------------------


def blobs(n_per_class: int, k: int, spread: float, seed: int, p: int = 3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, p)) * 4
    X = np.vstack([c + spread * rng.normal(size=(n_per_class, p)) for c in centres])
    y = np.repeat(np.arange(k), n_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


MODELS = [
    (matcalc.SoftmaxClassifier, {}),
    (matcalc.MulticlassSVM, {"loss": "hinge"}),
    (matcalc.MulticlassSVM, {"loss": "squared_hinge"}),
    (matcalc.MulticlassSVM, {"loss": "perceptron", "reg": "none", "tol": None, "solver": "sgd"}),  # its loss has no scale
    (matcalc.SoftmaxClassifier, {"reg": "l1", "solver": "sgd", "batch_size": None, "max_iter": 300, "lr": 0.5}),
    (matcalc.SoftmaxClassifier, {"reg": "elasticnet", "solver": "sgd", "momentum": 0.0, "lr_schedule": "constant",
                                "batch_size": 16}),
    (matcalc.SoftmaxClassifier, {"reg": "l1", "solver": "lbfgs"}),
    (matcalc.SoftmaxClassifier, {"solver": "newton-cg"}),
    (matcalc.MulticlassSVM, {"loss": "squared_hinge", "solver": "newton-cg"}),
]


@pytest.mark.parametrize("cls,params", MODELS)
def test_separable_data_is_learned_exactly(cls, params):
    X, y = blobs(60, 4, spread=0.3, seed=1)
    clf = cls(random_state=0, **params).fit(X, y)
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("cls,params", MODELS[:4])
def test_noisy_data_reaches_a_known_accuracy(cls, params):
    """Overlapping blobs: the held-out accuracy of a linear rule is about 0.85 here; ask for 0.8."""
    X, y = blobs(200, 3, spread=2.5, seed=3, p=2)
    clf = cls(random_state=0, **params).fit(X[:450], y[:450])
    assert clf.score(X[450:], y[450:]) >= 0.8


def test_logistic_regression_binary():
    X, y = blobs(60, 2, spread=0.3, seed=2)
    labels = np.where(y == 1, "spam", "ham")
    clf = matcalc.LogisticClassifier().fit(X, labels)
    assert clf.score(X, labels) == 1.0
    assert clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    assert clf.decision_function(X).shape == (120,)
    P = clf.predict_proba(X)
    assert P.shape == (120, 2) and np.allclose(P.sum(axis=1), 1)
    assert (clf.classes_[P.argmax(axis=1)] == clf.predict(X)).all()
    Xn, yn = blobs(200, 2, spread=3.0, seed=5, p=2)
    noisy = matcalc.LogisticClassifier().fit(Xn[:300], yn[:300])
    assert noisy.score(Xn[300:], yn[300:]) >= 0.8


def test_seed_makes_runs_reproducible_and_early_stopping_works():
    X, y = blobs(100, 3, spread=1.5, seed=4)
    a = matcalc.SoftmaxClassifier(solver="sgd", random_state=7, batch_size=32, tol=1e-3).fit(X, y)
    b = matcalc.SoftmaxClassifier(solver="sgd", random_state=7, batch_size=32, tol=1e-3).fit(X, y)
    c = matcalc.SoftmaxClassifier(solver="sgd", random_state=8, batch_size=32, tol=1e-3).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_ and np.array_equal(a.W_, b.W_)
    assert a.loss_curve_ != c.loss_curve_
    assert a.n_iter_ < 100 and "stopped after" in a.stop_reason_
    full = matcalc.SoftmaxClassifier(solver="sgd", batch_size=None, max_iter=40, tol=None).fit(X, y)
    assert full.n_iter_ == 40 and len(full.loss_curve_) == 40
    assert full.loss_curve_[-1] < full.loss_curve_[0]


# -- the estimator contract ---------------------------------------------------------------


def clone(est):
    """scikit-learn's clone: a new, unfitted instance built from get_params(deep=False)."""
    params = est.get_params(deep=False)
    new = type(est)(**params)
    assert all(new.get_params(deep=False)[k] is v for k, v in params.items())
    return new


@pytest.mark.parametrize("cls", [matcalc.SoftmaxClassifier, matcalc.MulticlassSVM, matcalc.LogisticClassifier])
def test_estimator_contract(cls):
    X, y = blobs(30, 2, spread=0.5, seed=0)
    labels = np.array(["cat", "dog"])[y]
    est = cls(lam=0.01, max_iter=30)
    est.fit(X, labels)
    copy = clone(est)
    assert not hasattr(copy, "coef_") and copy.get_params() == est.get_params()
    assert copy.set_params(lam=0.5, random_state=3) is copy
    assert copy.get_params()["lam"] == 0.5 and est.get_params()["lam"] == 0.01
    assert type(copy)(**copy.get_params()).get_params() == copy.get_params()
    assert est.classes_.tolist() == ["cat", "dog"]
    assert set(est.predict(X).tolist()) <= {"cat", "dog"}
    assert 0.0 <= est.score(X, labels) <= 1.0
    assert "lam=0.01" in repr(est)
    with pytest.raises(ValueError, match="no parameter 'C'"):
        est.set_params(C=1.0)
    with pytest.raises(AttributeError, match="not fitted"):
        cls().predict(X)


def test_multiclass_outputs_and_string_labels():
    ds = load_dataset()
    clf = matcalc.SoftmaxClassifier().fit(ds.X, ds.y)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.decision_function(ds.X).shape == (150, 3)
    P = clf.predict_proba(ds.X)
    assert np.allclose(P.sum(axis=1), 1) and (clf.classes_[P.argmax(axis=1)] == clf.predict(ds.X)).all()
    assert clf.score(ds.X, ds.y) > 0.95
    assert not hasattr(matcalc.MulticlassSVM(), "predict_proba")


def test_float32_stays_float32():
    X, y = blobs(50, 3, spread=1.0, seed=6)
    X32 = X.astype(np.float32)
    clf = matcalc.SoftmaxClassifier(max_iter=5).fit(X32, y)
    for a in (clf.W_, clf.coef_, clf.intercept_, clf.decision_function(X32), clf.predict_proba(X32)):
        assert a.dtype == np.float32
    obj = Objective("hinge", "elasticnet", lam=0.1)
    W, Xb, Y = (a.astype(np.float32) for a in problem("hinge"))
    assert obj.gradient(W, Xb, Y).dtype == np.float32
    assert matcalc.LogisticClassifier(max_iter=3).fit(X32, y % 2).W_.dtype == np.float32
    assert matcalc.SoftmaxClassifier(max_iter=3).fit(X, y).W_.dtype == np.float64
    assert matcalc.SoftmaxClassifier(max_iter=3, dtype="float32").fit(X, y).W_.dtype == np.float32


def test_logits_of_1e4_do_not_overflow():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])  # sample 0 is class 0, sample 1 class 1
    X = np.array([[1.0, 1.0], [1.0, 1.0]])  # (p+1) x n: one feature plus the bias row
    W = np.array([[1e4, 0.0], [0.0, 0.0]])  # scores: class 0 gets 1e4 on both samples
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for dt in (np.float64, np.float32):
            obj = Objective("softmax")
            v = obj.value(W.astype(dt), X.astype(dt), Y.astype(dt))
            g = obj.gradient(W.astype(dt), X.astype(dt), Y.astype(dt))
            assert v == pytest.approx(1e4 / 2, rel=1e-6)  # sample 1 pays 1e4, sample 0 nothing
            assert np.all(np.isfinite(g)) and np.allclose(g, [[0.5, 0.5], [-0.5, -0.5]])
        w = np.array([[1e4], [0.0]])
        lg = Objective("logistic")
        assert lg.value(w, X, np.array([0.0, 1.0])) == pytest.approx(1e4 / 2, rel=1e-6)
        assert np.all(np.isfinite(lg.gradient(w, X, np.array([0.0, 1.0]))))
        clf = matcalc.SoftmaxClassifier(max_iter=2).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        clf.coef_ = np.array([[-1e4], [1e4]])
        P = clf.predict_proba([[3.0], [-3.0]])
        assert np.all(np.isfinite(P)) and np.allclose(P, [[0, 1], [1, 0]])


# -- bad data: one table, one body ------------------------------------------------------------


def _csv(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


GOOD = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"

BAD_DATA = [
    ("NaN in a CSV", lambda t: train_file(_csv(t, GOOD.replace("3,4", "3,nan")), target="label"),
     r"data\.csv row 2 \(line 3\), column 'b': nan is not a finite number"),
    ("inf in a CSV", lambda t: train_file(_csv(t, GOOD.replace("5,6", "inf,6")), target="label"),
     r"row 3 \(line 4\), column 'a': inf is not a finite number"),
    ("a single class", lambda t: train_file(_csv(t, "a,label\n1,x\n2,x\n3,x\n"), target="label"),
     r"target column 'label' has only one class \('x'\)"),
    ("a missing target column", lambda t: train_file(_csv(t, GOOD), target="species"),
     r"no column 'species'; available columns: a, b, label"),
    ("a non-numeric feature", lambda t: train_file(_csv(t, GOOD.replace("7,8", "7,eight")), target="label"),
     r"row 4 \(line 5\), column 'b': 'eight' is not a number"),
    ("an empty feature cell", lambda t: train_file(_csv(t, GOOD.replace("1,2", "1,")), target="label"),
     r"row 1 \(line 2\), column 'b': '' is not a number \(a missing value\)"),
    ("logistic with three classes", lambda t: train_file(_csv(t, GOOD + "9,9,z\n"), target="label", model="logistic"),
     r"logistic model is binary but the target column 'label' has 3 classes \('x', 'y', 'z'\)"),
    ("NaN in a .npy", lambda t: (np.save(t / "d.npy", np.array([[1.0, 0], [np.nan, 1], [2, 0]])),
                                 train_file(t / "d.npy")),
     r"d\.npy row 2, column 'column 0': nan"),
    ("X with NaN", lambda t: matcalc.SoftmaxClassifier().fit([[1.0, 2.0], [3.0, np.nan]], [0, 1]),
     r"X\[1, 1\] is NaN"),
    ("X with a string", lambda t: matcalc.SoftmaxClassifier().fit(np.array([["1", "a"], ["2", "3"]]), [0, 1]),
     r"X\[0, 1\] = 'a' is not a number"),
    ("one class in y", lambda t: matcalc.MulticlassSVM().fit([[1.0], [2.0]], ["a", "a"]),
     r"y has only one class \('a'\)"),
    ("logistic given three classes", lambda t: matcalc.LogisticClassifier().fit([[1.0], [2.0], [3.0]], [0, 1, 2]),
     r"Only binary classification is supported: LogisticClassifier is binary but y has 3 classes"),
    ("labels and rows disagree", lambda t: matcalc.SoftmaxClassifier().fit([[1.0], [2.0]], [0, 1, 1]),
     r"X has 2 samples but y has 3 labels"),
]


@pytest.mark.parametrize("what,call,message", BAD_DATA, ids=[row[0] for row in BAD_DATA])
def test_bad_data_gives_a_clear_one_line_error(tmp_path, what, call, message):
    with pytest.raises(DataError, match=message) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)


# -- bad hyperparameters: one table, one body -------------------------------------------------

BAD_PARAMS = [
    (matcalc.SoftmaxClassifier, "lr", -1, r"lr must be a number > 0, got -1"),
    (matcalc.SoftmaxClassifier, "lr", 0.0, r"lr must be a number > 0"),
    (matcalc.SoftmaxClassifier, "lr", float("nan"), r"lr must be a number > 0"),
    (matcalc.SoftmaxClassifier, "lr", "0.1", r"lr must be a number > 0, got '0.1'"),
    (matcalc.SoftmaxClassifier, "max_iter", 0, r"max_iter must be an integer >= 1, got 0"),
    (matcalc.SoftmaxClassifier, "max_iter", 2.5, r"max_iter must be an integer >= 1"),
    (matcalc.SoftmaxClassifier, "lam", -0.1, r"lam must be a number >= 0"),
    (matcalc.SoftmaxClassifier, "alpha", 1.5, r"alpha must be a number in \[0, 1\]"),
    (matcalc.LogisticClassifier, "alpha", -0.1, r"alpha must be a number in \[0, 1\]"),
    (matcalc.SoftmaxClassifier, "batch_size", 0, r"batch_size must be None \(full batch\) or an integer >= 1"),
    (matcalc.SoftmaxClassifier, "batch_size", True, r"batch_size must be None"),
    (matcalc.SoftmaxClassifier, "momentum", 1.0, r"momentum must be a number in \[0, 1\)"),
    (matcalc.MulticlassSVM, "momentum", -0.5, r"momentum must be a number in \[0, 1\)"),
    (matcalc.SoftmaxClassifier, "tol", -1e-3, r"tol must be None \(never stop early\) or a number >= 0"),
    (matcalc.SoftmaxClassifier, "reg", "l3", r"reg must be one of 'none', 'l2', 'l1', 'elasticnet', got 'l3'"),
    (matcalc.MulticlassSVM, "loss", "log", r"loss must be one of 'hinge', 'squared_hinge', 'perceptron'"),
    (matcalc.SoftmaxClassifier, "lr_schedule", "cosine", r"lr_schedule must be one of 'constant', 'invscaling'"),
    (matcalc.SoftmaxClassifier, "power_t", -1, r"power_t must be a number >= 0"),
    (matcalc.SoftmaxClassifier, "n_iter_no_change", 0, r"n_iter_no_change must be an integer >= 1"),
    (matcalc.SoftmaxClassifier, "dtype", "float16", r"dtype must be one of None, 'float32', 'float64'"),
    (matcalc.LogisticClassifier, "standardize", "yes", r"standardize must be True or False"),
]


@pytest.mark.parametrize("cls,name,value,message", BAD_PARAMS,
                         ids=[f"{c.__name__}-{n}={v!r}" for c, n, v, _ in BAD_PARAMS])
def test_bad_hyperparameters_are_rejected_at_fit(cls, name, value, message):
    X, y = blobs(5, 2, spread=0.5, seed=0)
    est = cls(**{name: value})  # __init__ only stores, as scikit-learn requires
    with pytest.raises(ValueError, match=message) as info:
        est.fit(X, y)
    assert "\n" not in str(info.value) and not hasattr(est, "coef_")


def test_hyperparameters_at_the_ends_of_their_ranges_are_accepted():
    X, y = blobs(5, 2, spread=0.5, seed=0)
    for params in ({"alpha": 0.0, "reg": "elasticnet"}, {"alpha": 1, "reg": "elasticnet"}, {"momentum": 0},
                   {"lam": 0, "tol": None, "batch_size": None, "power_t": 0}, {"max_iter": 1, "lr": 1e-9},
                   {"solver": "sgd", "max_iter": 1, "lr": 1e-9}):
        assert matcalc.SoftmaxClassifier(**params).fit(X, y).n_iter_ >= 1


def test_sgd_rejects_a_step_that_climbs():
    from matcalc.train import sgd

    with pytest.raises(ValueError, match=r"lr must be a number > 0, got -0.1"):
        sgd(lambda w, idx: w, lambda w: 0.0, np.zeros(2), n_samples=2, lr=-0.1)


@pytest.mark.parametrize("option", [["--lr", "-1"], ["--max-iter", "0"], ["--momentum", "1"], ["--alpha", "2"],
                                    ["--test-size", "0"], ["--test-size", "1"], ["--lam", "-1"]])
def test_cli_rejects_bad_options_in_one_line(tmp_path, capsys, option):
    out = tmp_path / "never"
    assert cli.main(["train", "--out", str(out)] + option) == 2
    err = capsys.readouterr().err
    assert err.startswith("matcalc: error: ") and err.count("\n") == 1 and option[0].lstrip("-").split("-")[0] in err
    assert not out.exists()


# -- the command line ---------------------------------------------------------------------


def test_cli_trains_on_the_bundled_dataset_and_saves(tmp_path, capsys):
    out = tmp_path / "model"
    assert cli.main(["train", "--epochs", "60", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "iteration  1/60 [" in captured.err and "loss " in captured.err
    assert "train accuracy: " in captured.out and "held-out accuracy: " in captured.out
    held_out = float(captured.out.split("held-out accuracy: ")[1].split()[0])
    assert held_out >= 0.85
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "SoftmaxClassifier" and meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert len(meta["loss_curve"]) == meta["epochs_run"] and meta["test_accuracy"] == pytest.approx(held_out, abs=1e-4)
    with np.load(out / "model.npz") as z:
        assert z["W"].shape == (3, 5) and z["coef"].shape == (3, 4)
        assert json.loads(str(z["metadata"]))["save_id"] == meta["save_id"]
    ds = load_dataset()
    assert load_model(out).score(ds.X, ds.y) > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left behind


def test_cli_on_a_csv_npy_and_npz(tmp_path, capsys):
    X, y = blobs(40, 3, spread=0.4, seed=9, p=2)
    names = np.array(["red", "green", "blue"])[y]
    csv = tmp_path / "points.csv"
    csv.write_text("kind,x1,x2\n" + "".join(f"{n},{a},{b}\n" for n, (a, b) in zip(names, X)))
    out = tmp_path / "svm"
    args = ["train", str(csv), "--target", "kind", "--model", "svm", "--reg", "l1", "--lam", "0.001",
            "--epochs", "50", "--batch-size", "16", "--lr", "0.02", "--test-size", "0.3", "--seed", "1",
            "--out", str(out)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "MulticlassSVM on points.csv (84 training rows, 36 held out" in text
    assert float(text.split("held-out accuracy: ")[1].split()[0]) >= 0.95
    params = json.loads((out / "model.json").read_text())["params"]
    assert params["reg"] == "l1" and params["solver"] == "sgd" and params["batch_size"] == 16
    assert cli.main(args) == 0  # saving again over an existing folder replaces its files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv", "svm"]
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    assert cli.main(["train", str(tmp_path / "d.npy"), "--epochs", "20"]) == 0
    np.savez(tmp_path / "d.npz", X=X, y=names)
    assert cli.main(["train", str(tmp_path / "d.npz"), "--epochs", "20", "--batch-size", "full"]) == 0
    assert "classes blue, green, red" in capsys.readouterr().out


def test_cli_failure_leaves_nothing_behind(tmp_path, capsys):
    csv = _csv(tmp_path, GOOD.replace("3,4", "3,nan"))
    out = tmp_path / "never"
    assert cli.main(["train", str(csv), "--target", "label", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("matcalc: error: data.csv row 2 (line 3), column 'b'") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
    assert cli.main(["train", "--model", "logistic", "--out", str(out)]) == 2
    assert "has 3 classes" in capsys.readouterr().err
    assert not out.exists()
