"""Linear classifiers with scikit-learn's interface, trained on matcalc's derived gradients.

* :class:`SoftmaxClassifier`: cross-entropy of the softmax of the scores.
* :class:`MulticlassSVM`: the multiclass hinge loss (margin 1), or the squared
  hinge, or the perceptron loss (margin 0).
* :class:`LogisticClassifier`: binary logistic regression.

Each objective is a formula in :mod:`matcalc.train.losses`; its gradient is
derived by matcalc, verified against finite differences once per process,
compiled to NumPy and handed to :func:`matcalc.train.optim.sgd`.  Nothing here
writes a gradient by hand.

The interface is scikit-learn's (rows of ``X`` are samples), so the
estimators work in pipelines, ``clone`` and ``cross_val_score``, without
importing scikit-learn: ``__init__`` only stores its arguments, and
``get_params``/``set_params`` read the ``__init__`` signature.  Internally the
lecture's conventions hold: samples are columns, the bias is appended as a row
of ones to ``X`` and becomes the last column of ``W`` (``W_``, ``k x (p+1)``;
``(p+1) x 1`` for logistic regression).  The regularizer never touches the bias.

>>> import numpy as np
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 3.0], [3.0, 4.0]])
>>> clf = SoftmaxClassifier(epochs=50, batch_size=None).fit(X, ["no", "no", "yes", "yes"])
>>> clf.predict([[0.0, 0.5], [3.0, 3.5]]).tolist(), clf.classes_.tolist()
(['no', 'yes'], ['no', 'yes'])
"""

from __future__ import annotations

import inspect
import numbers
from typing import Callable, Optional

import numpy as np

from ..errors import MatcalcError

from .data import check_features, check_labels
from .losses import REGULARIZERS, Objective, probabilities
from .optim import SCHEDULES, sgd

DTYPES = {None: None, "float32": np.float32, "float64": np.float64}
SVM_LOSSES = ("hinge", "squared_hinge", "perceptron")


def _number(v) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and bool(np.isfinite(v))


def _integer(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _one_of(options) -> tuple:
    return (lambda v: isinstance(v, (str, type(None))) and v in options,
            "one of " + ", ".join(map(repr, options)))


# The hyperparameters every estimator checks at fit: name -> (test, the allowed values in words).
PARAMETER_RULES: dict = {
    "loss": _one_of(SVM_LOSSES),
    "reg": _one_of(tuple(REGULARIZERS)),
    "lam": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "alpha": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "epochs": (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v is None or (_integer(v) and v >= 1), "None (full batch) or an integer >= 1"),
    "lr": (lambda v: _number(v) and v > 0, "a number > 0"),
    "lr_schedule": _one_of(SCHEDULES),
    "power_t": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "momentum": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "tol": (lambda v: v is None or (_number(v) and v >= 0), "None (never stop early) or a number >= 0"),
    "n_iter_no_change": (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    "standardize": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "dtype": _one_of(tuple(DTYPES)),
    "seed": (lambda v: v is None or (_integer(v) and v >= 0), "None or an integer >= 0"),
}


class _Params:
    """get_params/set_params from the ``__init__`` signature, as scikit-learn's BaseEstimator does."""

    def _store(self, args: dict) -> None:
        """Keep every constructor argument as given (call as ``self._store(locals())``)."""
        for name in self._param_names():
            setattr(self, name, args[name])

    @classmethod
    def _param_names(cls) -> list:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, by name."""
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
        return out

    def set_params(self, **params):
        """Set constructor arguments by name; returns the estimator."""
        names = self._param_names()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in names:
                raise MatcalcError(f"{type(self).__name__} has no parameter {name!r}; its parameters are: "
                                 f"{', '.join(names)}")
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Raise a one-line ValueError naming the first hyperparameter outside its allowed range."""
        for name, value in self.get_params(deep=False).items():
            rule = PARAMETER_RULES.get(name)
            if rule is not None and not rule[0](value):
                raise MatcalcError(f"{name} must be {rule[1]}, got {value!r}")

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        shown = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                 if sig.parameters[k].default is inspect.Parameter.empty or v != sig.parameters[k].default]
        return f"{type(self).__name__}({', '.join(shown)})"


class _LinearClassifier(_Params):
    """Shared fitting and prediction; subclasses choose the loss."""

    _estimator_type = "classifier"  # scikit-learn < 1.6
    _binary = False

    def _loss_name(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must name its loss (a key of matcalc.train.losses.LOSSES)")

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so scikit-learn is importable here; matcalc never imports it itself.
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=not self._binary))

    # -- the objective ---------------------------------------------------------------
    def objective(self) -> Objective:
        """The loss plus regularizer being minimised, with its derived and verified gradient."""
        return Objective(self._loss_name(), self.reg, self.lam, self.alpha)

    def gradient_latex(self) -> str:
        """The gradient matcalc derived for this model's objective, in LaTeX.

        ``M`` is the bias mask (ones, zero on the bias entries).
        """
        return self.objective().latex()

    # -- fitting ---------------------------------------------------------------------
    def _dtype(self, X: np.ndarray):
        if self.dtype not in DTYPES:
            raise MatcalcError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        dt = DTYPES[self.dtype]
        if dt is None:
            dt = np.float32 if X.dtype == np.float32 else np.float64
        return np.dtype(dt)

    def fit(self, X, y, callback: Optional[Callable] = None):
        """Train on ``X`` (n samples x p features) and labels ``y`` (any type).

        ``callback(epoch, epochs, loss)`` is called after every epoch.
        """
        self._validate_params()
        X = check_features(X)
        dt = self._dtype(X)
        X = X.astype(dt, copy=False)
        n, p = X.shape
        name = type(self).__name__
        classes, index = check_labels(y, n, max_classes=2 if self._binary else None, model=name)
        if self.standardize:
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
            scale[scale == 0] = 1
        else:
            mean = np.zeros(p, dtype=dt)
            scale = np.ones(p, dtype=dt)
        # The bias trick: rows are samples here; the compiled functions see the transpose, (p+1) x batch.
        Xb = np.empty((n, p + 1), dtype=dt)
        np.divide(X - mean, scale, out=Xb[:, :p])
        Xb[:, p] = 1
        k = len(classes)
        if self._binary:
            T = index.astype(dt)
            shape = (p + 1, 1)
        else:
            T = np.zeros((n, k), dtype=dt)
            T[np.arange(n), index] = 1
            shape = (k, p + 1)
        objective = self.objective()
        rng = np.random.default_rng(self.seed)
        W0 = (0.01 * rng.standard_normal(shape)).astype(dt)
        mask = objective.mask(W0)

        def gradient(W, idx):
            return objective.gradient(W, Xb[idx].T, T[idx].T, mask)

        def loss(W):
            return objective.value(W, Xb.T, T.T, mask)

        W, hist = sgd(gradient, loss, W0, n, batch_size=self.batch_size, epochs=self.epochs, lr=self.lr,
                      lr_schedule=self.lr_schedule, power_t=self.power_t, momentum=self.momentum, tol=self.tol,
                      n_iter_no_change=self.n_iter_no_change, rng=rng, callback=callback)
        self.W_ = W
        Wt = W.T if self._binary else W  # k x (p+1), bias last
        self.coef_ = (Wt[:, :p] / scale).astype(dt)  # in the units of the input features
        self.intercept_ = (Wt[:, p] - self.coef_ @ mean).astype(dt)
        self.classes_ = classes
        self.n_features_in_ = p
        self.loss_curve_ = hist.losses
        self.n_iter_ = hist.n_iter
        self.stop_reason_ = hist.message
        self.mean_, self.scale_ = mean.astype(dt), scale.astype(dt)
        return self

    # -- prediction ------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def decision_function(self, X) -> np.ndarray:
        """Scores ``X @ coef_.T + intercept_``: n x k, or length n for a binary model (positive: ``classes_[1]``)."""
        self._check_fitted()
        X = check_features(X, self.n_features_in_, dtype=self.coef_.dtype)
        S = X @ self.coef_.T + self.intercept_
        return S[:, 0] if self._binary else S

    def predict(self, X) -> np.ndarray:
        """The class of each row of ``X``, from ``classes_``."""
        S = self.decision_function(X)
        return self.classes_[(S > 0).astype(int)] if self._binary else self.classes_[np.argmax(S, axis=1)]

    def score(self, X, y) -> float:
        """Mean accuracy on ``X`` and ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y).reshape(-1)))


class SoftmaxClassifier(_LinearClassifier):
    """Multiclass softmax (multinomial logistic) regression by minibatch SGD.

    Minimises ``-(1/n) sum(Y .* log(softmax(W X))) + R(W)`` with ``R`` one of
    ``reg="none"``, ``"l2"`` (``lam * sum(w^2)``), ``"l1"`` (``lam * sum|w|``)
    or ``"elasticnet"`` (``lam * (alpha sum|w| + (1 - alpha) sum(w^2))``), on
    the weights only.  At the kink of ``|w|`` the subgradient 0 is used.

    Parameters: ``epochs`` passes over the data in minibatches of
    ``batch_size`` (``None``: full-batch gradient descent), reshuffled each
    epoch; step ``lr``, constant or ``lr / (1 + t/100) ** power_t`` at update
    ``t`` (``lr_schedule="invscaling"``); heavy-ball ``momentum``; early
    stopping when the training objective has not improved on its best value by
    a fraction ``tol`` for ``n_iter_no_change`` epochs (``tol=None``: never);
    ``standardize`` scales each feature to mean 0 and variance 1 first
    (``coef_`` and ``intercept_`` are still in the input's units; ``W_`` is
    the trained matrix in standardized units); ``dtype`` ``None`` keeps
    float32 input in float32 (else float64), or force ``"float32"`` or
    ``"float64"``; ``seed`` fixes the initial weights and the shuffling.

    Fitted attributes: ``classes_``, ``coef_`` (k x p), ``intercept_`` (k),
    ``W_``, ``loss_curve_`` (the objective after each epoch), ``n_iter_``
    (epochs run), ``stop_reason_``, ``n_features_in_``.
    """

    def __init__(self, reg="l2", lam=1e-3, alpha=0.5, epochs=100, batch_size=512, lr=0.2, lr_schedule="invscaling",
                 power_t=0.5, momentum=0.9, tol=1e-3, n_iter_no_change=3, standardize=True, dtype=None, seed=0):
        self._store(locals())

    def _loss_name(self) -> str:
        return "softmax"

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n x k, columns in the order of ``classes_``), by a shifted, overflow-free softmax."""
        S = self.decision_function(X)
        return probabilities("softmax")(Z=S.T).T


class MulticlassSVM(_LinearClassifier):
    """The multiclass SVM of the lecture: ``(1/n) sum_i sum_{j != y_i} max(0, z_j - z_{y_i} + 1)``.

    ``loss="squared_hinge"`` squares each term; ``loss="perceptron"`` uses
    margin 0.  At a kink (a term exactly at its margin) the subgradient is 0
    (``step(0) = 0``).  Regularizers and optimiser parameters are those of
    :class:`SoftmaxClassifier`, except the smaller default ``lr``: a hinge
    gradient sums up to k - 1 terms per sample.  No ``predict_proba``: hinge
    scores are not probabilities.
    """

    LOSSES = SVM_LOSSES

    def __init__(self, loss="hinge", reg="l2", lam=1e-3, alpha=0.5, epochs=100, batch_size=512, lr=0.01,
                 lr_schedule="invscaling", power_t=0.5, momentum=0.9, tol=1e-3, n_iter_no_change=3,
                 standardize=True, dtype=None, seed=0):
        self._store(locals())

    def _loss_name(self) -> str:
        if self.loss not in self.LOSSES:
            raise MatcalcError(f"loss must be one of {', '.join(map(repr, self.LOSSES))}, got {self.loss!r}")
        return self.loss


class LogisticClassifier(_LinearClassifier):
    """Binary logistic regression: ``(1/n) sum(softplus(X' w) - y .* (X' w)) + R(w)``.

    Its gradient, derived by matcalc, is the lecture's ``(1/n) X (sigmoid(X' w) - y)``.
    ``y`` must have exactly two classes; ``classes_[1]`` is the positive one.
    Parameters are those of :class:`SoftmaxClassifier`.
    """

    _binary = True

    def __init__(self, reg="l2", lam=1e-3, alpha=0.5, epochs=100, batch_size=512, lr=0.2, lr_schedule="invscaling",
                 power_t=0.5, momentum=0.9, tol=1e-3, n_iter_no_change=3, standardize=True, dtype=None, seed=0):
        self._store(locals())

    def _loss_name(self) -> str:
        return "logistic"

    def predict_proba(self, X) -> np.ndarray:
        """``[P(classes_[0]), P(classes_[1])]`` per row, by an overflow-free sigmoid."""
        s = self.decision_function(X)
        p1 = probabilities("logistic")(z=s).reshape(-1)
        return np.stack([1 - p1, p1], axis=1)
