"""Linear classifiers trained on gradients that matcalc derived, verified and compiled.

The losses and regularizers are formulas in :mod:`matcalc.train.losses`;
:mod:`matcalc.train.optim` runs minibatch SGD on their compiled gradients;
:mod:`matcalc.train.estimators` wraps them in scikit-learn's interface;
:mod:`matcalc.train.runner` is what ``matcalc train`` calls.
"""

from .data import DataError, Dataset, load_dataset
from .estimators import LogisticClassifier, MulticlassSVM, SoftmaxClassifier
from .losses import LOSSES, REGULARIZERS, Objective
from .optim import TrainingError, sgd

__all__ = [
    "DataError",
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
