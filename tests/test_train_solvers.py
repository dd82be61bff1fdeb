"""The solvers reach the regularised optimum, on derived and verified Hessian-vector products; faults are caught."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import matcalc
from matcalc.train import TrainingError
from matcalc.train.losses import smooth
from matcalc.train.problem import Problem
from matcalc.train.sources import source

sklearn = importlib.import_module("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture(autouse=True)
def one_blas_thread():
    """SciPy's L-BFGS-B calls BLAS on tiny vectors; a second BLAS thread on a busy machine makes it 40 times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    return StandardScaler().fit_transform(Xtr), ytr


def _objective(est, X, y, W):
    """matcalc's objective (loss + lam*||w||^2, bias free) at W, on unstandardized features."""
    classes, index = np.unique(y, return_inverse=True)
    T = index.reshape(-1, 1).astype(float) if est._binary else np.eye(len(classes))[index]
    p = X.shape[1]
    prob = Problem(est.objective(), source(X), T, mean=np.zeros(p), scale=np.ones(p))
    return prob.objective_value(W)


GAP_CASES = [  # (estimator, binary?, C)
    (matcalc.SoftmaxClassifier, False, 1.0),
    (matcalc.SoftmaxClassifier, False, 0.05),
    (matcalc.LogisticClassifier, True, 1.0),
    (matcalc.LogisticClassifier, True, 0.05),
]


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("cls,binary,C", GAP_CASES)
def test_the_optimum_of_scikit_learn_is_reached(digits, cls, binary, C, solver):
    """lam = 1/(2 C n) is LogisticRegression's C: the relative objective gap is at most 1e-8."""
    X, y = digits
    y = (y >= 5).astype(int) if binary else y
    n = len(y)
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=20000).fit(X, y)
    est = cls(solver=solver, lam=1 / (2 * C * n), tol=1e-10, max_iter=2000, standardize=False).fit(X, y)
    W_sk = np.c_[sk.coef_, sk.intercept_]
    W_sk = W_sk.T if binary else W_sk
    f_sk, f_ours = _objective(est, X, y, W_sk), _objective(est, X, y, est.W_)
    assert (f_ours - f_sk) / abs(f_sk) <= 1e-8
    assert np.allclose(est.coef_, sk.coef_, atol=1e-4 * np.abs(sk.coef_).max())


@pytest.mark.parametrize("reg,lam,alpha", [("l1", 0.01, 0.5), ("elasticnet", 0.02, 0.3)])
@pytest.mark.parametrize("cls", [matcalc.SoftmaxClassifier, matcalc.LogisticClassifier])
def test_l1_optimum_meets_its_optimality_conditions(digits, cls, reg, lam, alpha):
    """At the L1 optimum: g_j = -l1*sign(w_j) where w_j != 0 and |g_j| <= l1 where w_j = 0; the bias has g = 0."""
    X, y = digits
    y = (y >= 5).astype(int) if cls is matcalc.LogisticClassifier else y
    est = cls(reg=reg, lam=lam, alpha=alpha, tol=1e-9, max_iter=5000, standardize=False).fit(X, y)
    obj = est.objective()
    classes, index = np.unique(y, return_inverse=True)
    T = index.reshape(-1, 1).astype(float) if est._binary else np.eye(len(classes))[index]
    prob = Problem(obj, source(X), T, mean=np.zeros(X.shape[1]), scale=np.ones(X.shape[1]))
    W = est.W_
    _, g = prob.value_and_grad(W)
    M = obj.mask(W).astype(bool)
    l1 = obj.l1
    zero = (W == 0) & M
    assert zero.sum() > 0.1 * M.sum()  # L1 gives exact zeros
    assert np.all(np.abs(g[zero]) <= l1 + 1e-6)
    nonzero = (W != 0) & M
    assert np.allclose(g[nonzero], -l1 * np.sign(W[nonzero]), atol=1e-5)
    assert np.allclose(g[~M], 0, atol=1e-6)  # the bias is not regularised


HVP_CASES = [("softmax", False, True), ("softmax", True, False), ("logistic", False, True), ("logistic", True, True),
             ("squared_hinge", False, True)]


def _problem(loss, weighted, l2, rng, k=3, p=5, n=11):
    """A Problem on random non-square data, its weight in the bias trick's layout, a direction and the packed
    arrays of the documented formula (X with a last row of ones, the bias mask M)."""
    from matcalc.train.losses import Objective

    X = rng.normal(size=(n, p))
    if loss == "logistic":
        W, V, T = rng.normal(size=(p + 1, 1)), rng.normal(size=(p + 1, 1)), rng.integers(0, 2, (n, 1)) * 1.0
        packed = {"y": T}
    else:
        W, V = rng.normal(size=(k, p + 1)), rng.normal(size=(k, p + 1))
        T = np.eye(k)[rng.integers(0, k, n)]
        packed = {"Y": T.T}
    s = rng.uniform(0.5, 2, size=n) if weighted else None
    obj = Objective(loss, "l2" if l2 else "none", lam=0.3)
    prob = Problem(obj, source(X), T, weights=s, mean=np.zeros(p), scale=np.ones(p))
    packed.update(X=np.vstack([X.T, np.ones((1, n))]), **{obj.wrt: W})
    if weighted:
        packed["s"] = (s * (n / s.sum())).reshape(-1, 1)
    return prob, obj, W, V, packed


@pytest.mark.parametrize("loss,weighted,l2", HVP_CASES)
def test_hessian_vector_products_are_derived_and_match_differences_of_the_gradient(loss, weighted, l2):
    """H v by matcalc against (g(W + h v) - g(W - h v)) / 2h of the compiled gradient, at a random non-square shape."""
    rng = np.random.default_rng(len(loss) + weighted)
    prob, _, W, V, _ = _problem(loss, weighted, l2, rng)
    hv = prob.hvp(W, V)
    h = 1e-6
    numeric = (prob.value_and_grad(W + h * V)[1] - prob.value_and_grad(W - h * V)[1]) / (2 * h)
    assert hv.shape == W.shape
    assert np.linalg.norm(hv - numeric) <= 1e-6 * max(1.0, np.linalg.norm(numeric))
    at = prob.hvp_at(W)  # the curvature at W kept for conjugate gradients: the same products
    assert np.allclose(at(V), hv, rtol=1e-12, atol=1e-14) and np.allclose(at(2 * V), 2 * hv, rtol=1e-12, atol=1e-14)
    f = smooth(loss, weighted, l2)
    assert all(r.ok for r in f.reports) and len(f.reports) == 2  # the gradient and the HVP were both verified


SPLIT_CASES = [(loss, weighted, l2) for loss in ("softmax", "hinge", "squared_hinge", "perceptron", "logistic")
               for weighted, l2 in ((False, False), (True, True))]


@pytest.mark.parametrize("loss,weighted,l2", SPLIT_CASES)
def test_the_bias_apart_is_the_documented_objective(loss, weighted, l2):
    """The trainer evaluates the formulas with the bias apart (no row of ones); they are the documented ones
    (X = [X; 1'], M the bias mask): same value, same derived gradient, at random non-square shapes."""
    from matcalc.train.losses import LOSSES, WEIGHTED, compiled, regularizer

    rng = np.random.default_rng(7 * len(loss) + weighted)
    prob, obj, W, _, packed = _problem(loss, weighted, l2, rng, k=4, p=3, n=9)
    f = compiled((WEIGHTED if weighted else LOSSES)[loss])
    value, grad = float(f.value(**packed)), f.gradient(**packed)
    if l2:
        r = compiled(regularizer("l2", obj.wrt, f.formula.shapes[obj.wrt]))
        reg = {obj.wrt: W, "M": obj.mask(W), "lam": 0.3}
        value, grad = value + float(r.value(**reg)), grad + r.gradient(**reg)
    v, g = prob.value_and_grad(W)
    assert abs(v - value) <= 1e-12 * max(1.0, abs(value))
    assert g.shape == W.shape and np.allclose(g, grad, rtol=1e-12, atol=1e-13)


def test_newton_cg_refuses_what_has_no_hessian():
    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"solver='newton-cg' needs a smooth objective; reg='l1' has a kink"):
        matcalc.LogisticClassifier(solver="newton-cg", reg="l1").fit(X, y)
    with pytest.raises(ValueError, match=r"needs a loss with a Hessian; 'hinge' has none"):
        matcalc.MulticlassSVM(loss="hinge", solver="newton-cg").fit(X, y)


def test_a_learning_rate_that_is_too_large_is_caught_early():
    X, y = np.random.default_rng(1).normal(size=(2000, 5)), np.arange(2000) % 3
    seen = []
    with pytest.raises(TrainingError, match=r"^the learning rate is too large: loss grew from [0-9.]+ to [0-9.e+]+ "
                                            r"within epoch 1; try lr=100000 or less") as info:
        matcalc.SoftmaxClassifier(solver="sgd", lr=1e6, batch_size=64).fit(X, y, callback=lambda *a: seen.append(a))
    assert "\n" not in str(info.value) and seen == []  # stopped inside the first epoch


@pytest.mark.parametrize("size", [1e19, 1e30, 1e-30])
def test_standardization_of_huge_and_tiny_float32_features(size):
    """Values of 1e19 and more overflow a float32 sum of squares; the scaled moments do not, and the fit is right."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    X32 = (X * size).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow warning anywhere
        big = matcalc.LogisticClassifier().fit(X32, y)
    ref = matcalc.LogisticClassifier().fit(X.astype(np.float32), y)
    assert np.all(np.isfinite(big.W_)) and np.abs(big.W_).max() > 0.5
    assert np.allclose(big.W_, ref.W_, atol=1e-3)
    assert big.score(X32, y) == ref.score(X.astype(np.float32), y) >= 0.95


BAD_TARGETS = [
    ("continuous y", lambda X: np.linspace(0, 1, len(X)), r"^Unknown label type: y holds continuous values \(y\[1\]"),
    ("complex y", lambda X: np.arange(len(X)) % 2 + 1j, r"^Unknown label type: y is complex"),
    ("complex X", None, r"^Complex data not supported: X is complex128"),
]


@pytest.mark.parametrize("what,make_y,message", BAD_TARGETS, ids=[r[0] for r in BAD_TARGETS])
def test_continuous_or_complex_data_gets_one_line(what, make_y, message):
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.arange(10) % 2
    if make_y is None:
        X = X + 1j
    else:
        y = make_y(X)
    with pytest.raises(ValueError, match=message) as info:
        matcalc.SoftmaxClassifier().fit(X, y)
    assert "\n" not in str(info.value)
