"""The hyperparameters of the estimators: scikit-learn's ``get_params``/``set_params`` and one table of checks.

``__init__`` only stores its arguments (as scikit-learn requires); every value
is checked at ``fit`` against :data:`PARAMETER_RULES`, with a one-line
``MatcalcError`` (a ``ValueError``) naming the first one out of range.

>>> class Toy(Params):
...     def __init__(self, lam=0.1, max_iter=10):
...         self._store(locals())
>>> Toy(lam=2.0).get_params()
{'lam': 2.0, 'max_iter': 10}
>>> Toy(max_iter=0)._validate_params()
Traceback (most recent call last):
...
matcalc.errors.MatcalcError: max_iter must be an integer >= 1, got 0
"""

from __future__ import annotations

from ..errors import MatcalcError

import inspect
import numbers

import numpy as np

from .losses import REGULARIZERS
from .optim import SCHEDULES

SVM_LOSSES = ("hinge", "squared_hinge", "perceptron")
SOLVERS = ("lbfgs", "newton-cg", "sgd")


def _number(v) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and bool(np.isfinite(v))


def _integer(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _one_of(options) -> tuple:
    return (lambda v: isinstance(v, (str, type(None))) and v in options,
            "one of " + ", ".join(map(repr, options)))


def _class_weight(v) -> bool:
    return v is None or (isinstance(v, str) and v == "balanced") or isinstance(v, dict)


# The hyperparameters every estimator checks at fit: name -> (test, the allowed values in words).
PARAMETER_RULES: dict = {
    "loss": _one_of(SVM_LOSSES),
    "solver": _one_of(SOLVERS),
    "reg": _one_of(tuple(REGULARIZERS)),
    "lam": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "alpha": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "max_iter": (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v is None or (_integer(v) and v >= 1), "None (full batch) or an integer >= 1"),
    "lr": (lambda v: _number(v) and v > 0, "a number > 0"),
    "lr_schedule": _one_of(SCHEDULES),
    "power_t": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "momentum": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "tol": (lambda v: v is None or (_number(v) and v >= 0), "None (never stop early) or a number >= 0"),
    "n_iter_no_change": (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    "early_stopping": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "validation_fraction": (lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    "class_weight": (_class_weight, "None, 'balanced' or a dict of class -> weight"),
    "warm_start": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "standardize": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "dtype": _one_of((None, "float32", "float64")),
    "random_state": (lambda v: v is None or (_integer(v) and v >= 0), "None or an integer >= 0"),
    "verbose": (lambda v: _integer(v) and v >= 0 or isinstance(v, bool), "an integer >= 0"),
}


class Params:
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
        shown = []
        for k, v in self.get_params(deep=False).items():
            default = sig.parameters[k].default
            try:
                same = default is not inspect.Parameter.empty and bool(v == default)
            except (TypeError, ValueError):
                same = False
            if not same:
                shown.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"
