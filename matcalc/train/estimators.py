"""Linear classifiers with scikit-learn's interface, trained on matcalc's derived gradients.

* :class:`SoftmaxClassifier`: cross-entropy of the softmax of the scores.
* :class:`MulticlassSVM`: the multiclass hinge loss (margin 1), or the squared
  hinge, or the perceptron loss (margin 0).
* :class:`LogisticClassifier`: binary logistic regression.

Each objective is a formula in :mod:`matcalc.train.losses`; its gradient and
Hessian-vector product are derived by matcalc, verified against finite
differences once per process and compiled.  The solvers
(:mod:`matcalc.train.solvers`, :mod:`matcalc.train.optim`) only ever see
those compiled functions: nothing here writes a gradient by hand.

Solvers: ``"lbfgs"`` (the default; SciPy's L-BFGS-B, L1 exactly through the
split ``w = u - v``), ``"newton-cg"`` (truncated Newton on the derived
Hessian-vector products; smooth objectives only) and ``"sgd"`` (minibatch SGD
with momentum, a proximal step for L1, early stopping on a validation
fraction; the solver of ``partial_fit`` and streams).

The interface is scikit-learn's (rows of ``X`` are samples), without
importing scikit-learn.  ``lam`` against scikit-learn's ``C``: matcalc
minimises ``mean(loss) + lam * ||w||^2``, scikit-learn
``C * sum(loss) + ||w||^2 / 2``; the two agree for ``lam = 1 / (2 * C * n)``
(``n`` the number of samples, or the sum of the sample weights).  With L1,
``lam = 1 / (C * n)``.

>>> import numpy as np
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 3.0], [3.0, 4.0]])
>>> clf = SoftmaxClassifier().fit(X, ["no", "no", "yes", "yes"])
>>> clf.predict([[0.0, 0.5], [3.0, 3.5]]).tolist(), clf.classes_.tolist()
(['no', 'yes'], ['no', 'yes'])
"""

from __future__ import annotations

from ..errors import MatcalcError

import sys
from typing import Callable, Optional

import numpy as np

from .data import DataError, check_features, check_labels, not_fitted, warn
from .losses import TWICE_DIFFERENTIABLE, Objective, probabilities
from .optim import sgd
from .params import SVM_LOSSES, Params
from .problem import Problem
from .solvers import lbfgs, newton_cg
from .sources import InMemory, is_dask, is_sparse, source

__all__ = ["LogisticClassifier", "MulticlassSVM", "SoftmaxClassifier"]


def _check_X(X, n_features: Optional[int] = None, dtype=None, model: str = "the model"):
    """A Dask array, a sparse matrix or a memmap as it is (checked block by block later); else a checked array."""
    if is_sparse(X):
        X = X.tocsr()
    if is_dask(X) or is_sparse(X) or (isinstance(X, np.memmap) and getattr(X, "_mmap", None) is not None):
        if np.dtype(X.dtype).kind == "c":
            raise DataError(f"Complex data not supported: X is {X.dtype}; give the real features")
        if len(X.shape) != 2:
            raise DataError(f"X must be a 2-D array (samples x features), got {len(X.shape)} dimension(s)")
        if 0 in X.shape:
            raise DataError(f"X is empty (shape={X.shape}) while a minimum of 1 sample and 1 feature is required")
        if is_sparse(X) and not np.isfinite(X.data).all():
            raise DataError("X holds values that are not finite numbers (drop or impute those rows)")
        if n_features is not None and X.shape[1] != n_features:
            raise DataError(f"X has {X.shape[1]} features, but {model} is expecting {n_features} features as input")
        return X
    return check_features(X, n_features, dtype=dtype, model=model)


def _sample_weights(sample_weight, class_weight, classes, index, n: int) -> Optional[np.ndarray]:
    """One weight per sample from ``sample_weight`` and ``class_weight``; None when all are 1."""
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(n, float(w))
        w = w.reshape(-1) if w.ndim == 2 and 1 in w.shape else w
        if w.ndim != 1 or len(w) != n:
            raise DataError(f"sample_weight must be a 1-D array of {n} weights (one per sample), got shape "
                            f"{np.shape(sample_weight)}")
        if not np.isfinite(w).all() or (w < 0).any():
            i = int(np.argwhere(~np.isfinite(w) | (w < 0))[0][0])
            raise DataError(f"sample_weight[{i}] is {w[i]}: weights must be finite and >= 0")
        if not w.sum() > 0:
            raise DataError("sample_weight: all weights are zero; at least one sample needs a positive weight")
    if class_weight is not None:
        if isinstance(class_weight, str) and class_weight == "balanced":
            counts = np.bincount(index, weights=w, minlength=len(classes))
            per_class = counts.sum() / (len(classes) * np.where(counts > 0, counts, 1))
        elif isinstance(class_weight, dict):
            unknown = [c for c in class_weight if c not in set(classes.tolist())]
            if unknown:
                raise DataError(f"class_weight names the class {unknown[0]!r}, which is not in y")
            per_class = np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
        else:
            raise DataError(f"class_weight must be None, 'balanced' or a dict of class -> weight, got {class_weight!r}")
        cw = per_class[index]
        w = cw if w is None else w * cw
    return w


class _LinearClassifier(Params):
    """Shared fitting and prediction; subclasses choose the loss."""

    _estimator_type = "classifier"  # scikit-learn < 1.6
    _binary = False

    def _loss_name(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must name its loss (a key of matcalc.train.losses.LOSSES)")

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so scikit-learn is importable here; matcalc never imports it itself.
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=not self._binary),
                    input_tags=InputTags(sparse=True))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

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
    def _dtype(self, X):
        dt = {None: None, "float32": np.float32, "float64": np.float64}[self.dtype]
        if dt is None:
            dt = np.float32 if np.dtype(X.dtype) == np.float32 else np.float64
        return np.dtype(dt)

    def _targets(self, index: np.ndarray, k: int, dt) -> np.ndarray:
        """n x k one-hot rows, or n x 1 of 0/1 for the binary model."""
        if self._binary:
            return index.astype(dt).reshape(-1, 1)
        T = np.zeros((len(index), k), dtype=dt)
        T[np.arange(len(index)), index] = 1
        return T

    def _initial(self, shape, dt, mean, scale, rng, random: bool) -> np.ndarray:
        """Zeros (small random numbers for SGD and the perceptron), or with warm_start the fitted weights."""
        if self.warm_start and hasattr(self, "coef_") and self._weight_shape_of_fit() == shape:
            # re-express the fitted rule (input units) in the units of this standardization
            coef, intercept = self.coef_.astype(np.float64), self.intercept_.astype(np.float64)
            Wt = np.hstack([coef * scale, (intercept + coef @ mean)[:, None]])
            return (Wt.T if self._binary else Wt).astype(dt)
        if random:
            return (0.01 * rng.standard_normal(shape)).astype(dt)
        return np.zeros(shape, dtype=dt)

    def _weight_shape_of_fit(self) -> tuple:
        k, p = self.coef_.shape
        return (p + 1, 1) if self._binary else (k, p + 1)

    def _prepare(self, X, y, sample_weight, classes=None, moments=None):
        """Check everything and build the :class:`Problem`: (problem, classes, index)."""
        self._validate_params()
        name = type(self).__name__
        X = _check_X(X)
        if self.solver == "newton-cg" and self._loss_name() not in TWICE_DIFFERENTIABLE:
            raise DataError(f"solver='newton-cg' needs a loss with a Hessian; {self._loss_name()!r} has none "
                            f"(use solver='lbfgs' or 'sgd')")
        if self.solver == "newton-cg" and self.reg in ("l1", "elasticnet"):
            raise DataError(f"solver='newton-cg' needs a smooth objective; reg={self.reg!r} has a kink "
                            f"(use solver='lbfgs', which handles L1 exactly, or 'sgd')")
        if self.early_stopping and self.solver != "sgd":
            raise DataError(f"early_stopping applies to solver='sgd' only (got solver={self.solver!r})")
        n, p = X.shape
        labels, index = check_labels(y, n, max_classes=2 if self._binary else None, model=name)
        if classes is not None:
            classes = np.asarray(classes)
            pos = {c: i for i, c in enumerate(classes.tolist())}
            missing = [c for c in labels.tolist() if c not in pos]
            if missing:
                raise DataError(f"y holds the class {missing[0]!r}, which is not in classes_ {classes.tolist()}")
            index = np.array([pos[c] for c in labels.tolist()])[index]
        else:
            classes = labels
        weights = _sample_weights(sample_weight, self.class_weight, classes, index, n)
        dt = self._dtype(X)
        src = source(X, client=self.client)
        objective = self.objective()
        T = self._targets(index, len(classes), dt)
        if moments is not None:
            mean, scale = moments
        elif self.standardize:
            mean = scale = None  # computed by the Problem, weighted, block by block
        else:
            mean, scale = np.zeros(p), np.ones(p)
        problem = Problem(objective, src, T, weights, mean, scale, dtype=dt)
        return problem, classes, index

    def fit(self, X, y, sample_weight=None, callback: Optional[Callable] = None):
        """Train on ``X`` (n samples x p features) and labels ``y`` (any type).

        ``X`` may be a NumPy array, an ``np.memmap`` (read in blocks), a SciPy
        sparse matrix or a Dask array chunked along the samples.
        ``sample_weight`` weights each sample's loss.  ``callback(iteration,
        max_iter, loss)`` is called after every iteration (an epoch for SGD).
        """
        problem, classes, index = self._prepare(X, y, sample_weight)
        dt = problem.dtype
        rng = np.random.default_rng(self.random_state)
        shape = problem.weight_shape(len(classes))
        W0 = self._initial(shape, dt, problem.mean, problem.scale, rng,
                           random=self.solver == "sgd" or self._loss_name() == "perceptron")
        report = self._reporter(callback)
        if self.solver == "sgd":
            W, losses, n_iter, message, converged = self._fit_sgd(problem, W0, index, rng, report)
        else:
            W, losses, n_iter, message, converged = self._fit_full_batch(problem, W0, report)
        self._set_fitted(W, problem, classes, losses, n_iter, message, converged, X)
        if not converged:
            warn(f"{type(self).__name__}: {message}")
        return self

    def _reporter(self, callback):
        verbose = self.verbose

        def report(it, total, loss):
            if verbose:
                print(f"iteration {it}/{total}: objective {loss:.8g}", file=sys.stdout, flush=True)
            if callback is not None:
                callback(it, total, loss)

        return report if (verbose or callback is not None) else None

    def _fit_full_batch(self, problem: Problem, W0, report):
        obj = problem.objective
        mask = obj.mask(W0)
        cb = None if report is None else (lambda it, v: report(it, self.max_iter, v))
        if self.solver == "lbfgs":
            r = lbfgs(problem.value_and_grad, W0, l1=obj.l1,
                      l1_gradient=obj.l1_split_gradient(mask) if obj.l1 > 0 else None, tol=self.tol or 0.0,
                      max_iter=self.max_iter, callback=cb)
        else:
            r = newton_cg(problem.value_and_grad, problem.hvp, W0, hvp_at=problem.hvp_at,
                          tol=self.tol or 0.0, max_iter=self.max_iter, callback=cb)
        # with L1, L-BFGS's objective is on the split w = u - v and already holds the L1 term
        return np.asarray(r.w, dtype=problem.dtype), list(r.losses), max(1, r.n_iter), r.message, r.converged

    def _sgd_options(self) -> dict:
        return dict(batch_size=self.batch_size, lr=self.lr, lr_schedule=self.lr_schedule, power_t=self.power_t,
                    momentum=self.momentum, tol=self.tol, n_iter_no_change=self.n_iter_no_change)

    def _prox(self, obj: Objective, mask):
        """The proximal step of the L1 part: shrink each weight by ``step * l1 * M`` (its derived gradient on u)."""
        if obj.l1 == 0:
            return None
        shrink = obj.l1_split_gradient(mask)

        def prox(W, step):
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - step * shrink, 0))

        return prox

    def _fit_sgd(self, problem: Problem, W0, index, rng, report, epochs=None, state=None):
        obj = problem.objective
        mask = obj.mask(W0)
        n = problem.n_samples
        score = None
        train = np.arange(n)
        if self.early_stopping:
            if problem.Xb is None:
                raise DataError("early_stopping needs X in memory (not a memmap, sparse or Dask array)")
            train, held = _validation_split(index, self.validation_fraction, rng)

            def held_out_accuracy(W):
                S = problem.scores(W, held)
                pred = (S[0] > 0).astype(int) if self._binary else np.argmax(S, axis=0)
                return float(np.mean(pred == index[held]))

            score = held_out_accuracy

        def objective(W):
            return problem.value_and_grad(W)[0] + problem.l1_value(W, mask)

        if problem.Xb is not None:
            def gradient(W, idx):
                return problem.batch_value_and_grad(W, train[idx])
            batches = None
        else:
            gradient, batches = self._stream_batches(problem)
        W, hist = sgd(gradient, objective, W0, len(train), epochs=epochs or self.max_iter, rng=rng,
                      callback=report, prox=self._prox(obj, mask), score=score, batches=batches, state=state,
                      **self._sgd_options())
        converged = hist.stopped_early or epochs is not None or self.tol is None  # tol=None: all epochs, as asked
        message = hist.message
        if not converged:
            message = f"SGD ran all {hist.n_iter} epochs without meeting tol={self.tol}; raise max_iter or lr"
        return W, hist.losses, hist.n_iter, message, converged

    def _stream_batches(self, problem: Problem):
        """Batches of a stream: its blocks in a random order, minibatches within each block."""
        src, size = problem.src, self.batch_size

        def batches(rng):
            for j in rng.permutation(len(src.ranges())):
                a, b = src.ranges()[j]
                block = src.read(a, b)
                rows = rng.permutation(b - a)
                step = len(rows) if size is None else size
                for i in range(0, len(rows), step):
                    r = rows[i:i + step]
                    yield block[r], a + r

        def gradient(W, item):
            block, idx = item
            s = problem.weights[idx] if problem.weighted else None
            return problem.block_value_and_grad(W, block, problem.T[idx], s)

        return gradient, batches

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One SGD epoch on this batch of samples, continuing from the last call (a stream of minibatches).

        The first call needs ``classes`` (all the labels the stream will hold),
        unless this batch holds them all.  With ``standardize``, the mean and
        scale of the features are taken from the first batch and kept.
        """
        first = not hasattr(self, "_sgd_state") or not hasattr(self, "coef_")
        if first:
            known = np.unique(np.asarray(y).reshape(-1)) if classes is None else classes
            problem, classes, index = self._prepare(X, y, sample_weight, classes=known)
            state = {"rng": np.random.default_rng(self.random_state)}
            W0 = (0.01 * state["rng"].standard_normal(problem.weight_shape(len(classes)))).astype(problem.dtype)
        else:
            _check_X(X, self.n_features_in_, model=type(self).__name__)
            problem, classes, index = self._prepare(X, y, sample_weight, classes=self.classes_,
                                                    moments=(self.mean_.astype(np.float64),
                                                             self.scale_.astype(np.float64)))
            state = self._sgd_state
            W0 = self.W_.astype(problem.dtype)
        W, losses, _, _, _ = self._fit_sgd(problem, W0, index, state["rng"], self._reporter(None), epochs=1,
                                           state=state)
        curve = [] if first else list(self.loss_curve_)
        calls = 1 if first else self.n_iter_ + 1
        self._set_fitted(W, problem, classes, curve + losses, calls, f"partial_fit: {calls} SGD epoch(s), one per call",
                         True, X)
        self._sgd_state = state
        return self

    def _set_fitted(self, W, problem: Problem, classes, losses, n_iter, message, converged, X) -> None:
        dt = problem.dtype
        p = problem.src.n_features
        self.W_ = np.asarray(W, dtype=dt)
        Wt = self.W_.T if self._binary else self.W_  # k x (p+1), bias last
        scale, mean = problem.scale, problem.mean
        self.coef_ = (Wt[:, :p] / scale).astype(dt)  # in the units of the input features
        self.intercept_ = (Wt[:, p] - (Wt[:, :p] / scale) @ mean).astype(dt)
        self.classes_ = classes
        self.n_features_in_ = p
        names = getattr(X, "columns", None)
        if names is not None and all(isinstance(c, str) for c in names):
            self.feature_names_in_ = np.asarray(list(names), dtype=object)
        self.loss_curve_ = [float(v) for v in losses]
        self.n_iter_ = int(n_iter)
        self.stop_reason_ = message
        self.converged_ = bool(converged)
        self.mean_, self.scale_ = mean.astype(dt), scale.astype(dt)

    # -- prediction ------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise not_fitted(type(self).__name__)

    def _scores(self, X) -> np.ndarray:
        """n x k scores ``X @ coef_.T + intercept_`` (block by block for a memmap, sparse or Dask ``X``)."""
        self._check_fitted()
        X = _check_X(X, self.n_features_in_, dtype=self.coef_.dtype, model=type(self).__name__)
        if isinstance(X, np.ndarray) and not isinstance(X, np.memmap):
            return X @ self.coef_.T + self.intercept_
        src = source(X, client=getattr(self, "client", None))
        if isinstance(src, InMemory):
            return np.asarray(X) @ self.coef_.T + self.intercept_
        return np.vstack([src.read(a, b) @ self.coef_.T + self.intercept_ for a, b in src.ranges()])

    def decision_function(self, X) -> np.ndarray:
        """Scores: n x k, or length n with two classes (positive: ``classes_[1]``)."""
        S = self._scores(X)
        if S.shape[1] == 1:
            return S[:, 0]
        return S[:, 1] - S[:, 0] if S.shape[1] == 2 else S

    def predict(self, X) -> np.ndarray:
        """The class of each row of ``X``, from ``classes_``."""
        S = self.decision_function(X)
        return self.classes_[(S > 0).astype(int)] if S.ndim == 1 else self.classes_[np.argmax(S, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on ``X`` and ``y`` (weighted by ``sample_weight``)."""
        hit = (self.predict(X) == np.asarray(y).reshape(-1)).astype(float)
        return float(np.average(hit, weights=None if sample_weight is None else np.asarray(sample_weight).reshape(-1)))


def _validation_split(index: np.ndarray, fraction: float, rng) -> tuple:
    """Training and held-out positions, each class split in the ratio ``fraction`` (every class keeps a row)."""
    train, held = [], []
    for c in np.unique(index):
        rows = rng.permutation(np.flatnonzero(index == c))
        k = min(max(1, int(round(fraction * len(rows)))), len(rows) - 1)
        held.extend(rows[:k])
        train.extend(rows[k:])
    if not held:
        raise DataError(f"validation_fraction={fraction} leaves no sample to validate on")
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(held, dtype=int))


_SGD_DOC = """
    Solvers (``solver``): ``"lbfgs"`` (default), ``"newton-cg"`` (derived
    Hessian-vector products; softmax, squared hinge and logistic losses with
    ``reg`` "none" or "l2") and ``"sgd"``.  ``max_iter`` counts solver
    iterations (epochs for SGD); ``tol`` is the largest gradient entry at which
    L-BFGS and Newton-CG stop, and for SGD the relative improvement of the
    objective (or the rise of the validation accuracy with
    ``early_stopping``) below which ``n_iter_no_change`` epochs in a row stop it.
    SGD: minibatches of ``batch_size`` (``None``: full batch), step ``lr``
    (constant, or ``lr / (1 + t/100) ** power_t``), heavy-ball ``momentum``,
    ``early_stopping`` on a stratified ``validation_fraction``.
    ``class_weight`` (``None``, ``"balanced"`` or a dict) and ``sample_weight``
    weight the samples; ``warm_start`` starts from the last fit;
    ``standardize`` scales each feature to mean 0 and variance 1 first
    (``coef_`` and ``intercept_`` are in the input's units; ``W_`` is the
    trained matrix in standardized units); ``dtype`` ``None`` keeps float32
    in float32; ``random_state`` fixes SGD's shuffling and start; ``verbose``
    prints the objective each iteration; ``client`` is a
    ``distributed.Client`` for a Dask ``X`` (``None``: Dask's default scheduler).

    Fitted attributes: ``classes_``, ``coef_``, ``intercept_``, ``W_``,
    ``loss_curve_``, ``n_iter_``, ``stop_reason_``, ``converged_``,
    ``n_features_in_``, ``mean_``, ``scale_``.
"""


class SoftmaxClassifier(_LinearClassifier):
    __doc__ = """Multiclass softmax (multinomial logistic) regression.

    Minimises ``-(1/n) sum(Y .* log(softmax(W X))) + R(W)`` with ``R`` one of
    ``reg="none"``, ``"l2"`` (``lam * sum(w^2)``), ``"l1"`` (``lam * sum|w|``)
    or ``"elasticnet"`` (``lam * (alpha sum|w| + (1 - alpha) sum(w^2))``), on
    the weights only.
    """ + _SGD_DOC

    def __init__(self, solver="lbfgs", reg="l2", lam=1e-3, alpha=0.5, max_iter=100, tol=1e-4, batch_size=512,
                 lr=0.2, lr_schedule="invscaling", power_t=0.5, momentum=0.9, n_iter_no_change=3,
                 early_stopping=False, validation_fraction=0.1, class_weight=None, warm_start=False,
                 standardize=True, dtype=None, random_state=0, verbose=0, client=None):
        self._store(locals())

    def _loss_name(self) -> str:
        return "softmax"

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n x k, columns in the order of ``classes_``), by a shifted, overflow-free softmax."""
        return probabilities("softmax")(Z=self._scores(X).T).T

    def predict_log_proba(self, X) -> np.ndarray:
        """The logarithms of :meth:`predict_proba`, by a log-softmax (finite where the probability underflows)."""
        return probabilities("log_softmax")(Z=self._scores(X).T).T


class MulticlassSVM(_LinearClassifier):
    __doc__ = """The multiclass SVM of the lecture: ``(1/n) sum_i sum_{j != y_i} max(0, z_j - z_{y_i} + 1)``.

    ``loss="squared_hinge"`` (the default, as scikit-learn's ``LinearSVC``)
    squares each term, which makes the objective smooth: L-BFGS and Newton-CG
    reach its optimum.  ``loss="hinge"`` is the lecture's; it is not
    differentiable at its kink, so L-BFGS stops near, not at, the optimum
    (SGD uses the subgradient ``step(0) = 0``).  ``loss="perceptron"`` uses
    margin 0.  No ``predict_proba``: hinge scores are not probabilities.
    """ + _SGD_DOC

    LOSSES = SVM_LOSSES

    def __init__(self, loss="squared_hinge", solver="lbfgs", reg="l2", lam=1e-3, alpha=0.5, max_iter=100, tol=1e-4,
                 batch_size=512, lr=0.01, lr_schedule="invscaling", power_t=0.5, momentum=0.9, n_iter_no_change=3,
                 early_stopping=False, validation_fraction=0.1, class_weight=None, warm_start=False,
                 standardize=True, dtype=None, random_state=0, verbose=0, client=None):
        self._store(locals())

    def _loss_name(self) -> str:
        if self.loss not in self.LOSSES:
            raise MatcalcError(f"loss must be one of {', '.join(map(repr, self.LOSSES))}, got {self.loss!r}")
        return self.loss


class LogisticClassifier(_LinearClassifier):
    __doc__ = """Binary logistic regression: ``(1/n) sum(softplus(X' w) - y .* (X' w)) + R(w)``.

    Its gradient, derived by matcalc, is the lecture's ``(1/n) X (sigmoid(X' w) - y)``.
    ``y`` must have exactly two classes; ``classes_[1]`` is the positive one.
    """ + _SGD_DOC

    _binary = True

    def __init__(self, solver="lbfgs", reg="l2", lam=1e-3, alpha=0.5, max_iter=100, tol=1e-4, batch_size=512,
                 lr=0.2, lr_schedule="invscaling", power_t=0.5, momentum=0.9, n_iter_no_change=3,
                 early_stopping=False, validation_fraction=0.1, class_weight=None, warm_start=False,
                 standardize=True, dtype=None, random_state=0, verbose=0, client=None):
        self._store(locals())

    def _loss_name(self) -> str:
        return "logistic"

    def predict_proba(self, X) -> np.ndarray:
        """``[P(classes_[0]), P(classes_[1])]`` per row, by an overflow-free sigmoid."""
        s = self.decision_function(X)
        p1 = probabilities("logistic")(z=s).reshape(-1)
        return np.stack([1 - p1, p1], axis=1)

    def predict_log_proba(self, X) -> np.ndarray:
        """``[log P(classes_[0]), log P(classes_[1])]`` per row: ``log sigmoid(-s)``, ``log sigmoid(s)``."""
        s = self.decision_function(X)
        f = probabilities("log_logistic")
        return np.stack([f(z=-s).reshape(-1), f(z=s).reshape(-1)], axis=1)
