"""Linear classifiers trained on gradients that matcalc derived, verified and compiled.

The losses and regularizers are formulas in :mod:`matcalc.train.losses`;
:mod:`matcalc.train.solvers` (L-BFGS, Newton-CG) and :mod:`matcalc.train.optim` (SGD)
minimise their compiled value-and-gradient and Hessian-vector products over the
blocks of a :mod:`matcalc.train.sources` data source (:mod:`matcalc.train.problem`);
:mod:`matcalc.train.estimators` wraps them in scikit-learn's interface;
:mod:`matcalc.train.runner` is what ``matcalc train`` calls.
"""

from .data import DataError, Dataset, NotFittedError, TrainingWarning, load_dataset
from .estimators import LogisticClassifier, MulticlassSVM, SoftmaxClassifier
from .losses import LOSSES, REGULARIZERS, Objective
from .optim import TrainingError, sgd

__all__ = [
    "DataError",
    "NotFittedError",
    "TrainingWarning",
    "Dataset",
    "LOSSES",
    "LogisticClassifier",
    "MulticlassSVM",
    "Objective",
    "REGULARIZERS",
    "SoftmaxClassifier",
    "TrainingError",
    "load_dataset",
    "sgd",
]
