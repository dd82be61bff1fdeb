"""matcalc: matrix calculus you can trust.

Derive gradients, Jacobians and Hessians of matrix expressions in numerator
or denominator layout, as compact textbook formulas; compile them to NumPy;
verify them against finite differences.

>>> import matcalc
>>> d = matcalc.derive("x'*A*x", wrt="x")
>>> print(d)
(A + A')*x
>>> print(d.latex())
\\left(A + A^{\\top}\\right) x
"""

from .api import Derivative, MatcalcError, derive, hessian, hvp, jacobian, value_and_grad
from .emit.numpy import Compiled
from .errors import TooLargeError
from .rules import UnsupportedError
from .parse import ParseError, ShapeMismatchError, UnknownNameError, parse, parse_latex
from .verify import Report, VerificationError
from .train import LogisticClassifier, MulticlassSVM, SoftmaxClassifier
from .check import Step, StepsReport, Verdict, check, check_steps
from .explain import Explanation, explain
from . import display as _display  # noqa: F401  (compact reprs and notebook views of the results)

__version__ = "0.1.0"

__all__ = [
    "Compiled",
    "Derivative",
    "MatcalcError",
    "ParseError",
    "Report",
    "ShapeMismatchError",
    "TooLargeError",
    "UnknownNameError",
    "UnsupportedError",
    "VerificationError",
    "SoftmaxClassifier",
    "MulticlassSVM",
    "LogisticClassifier",
    "Verdict",
    "Step",
    "StepsReport",
    "Explanation",
    "check",
    "check_steps",
    "explain",
    "derive",
    "hessian",
    "jacobian",
    "hvp",
    "value_and_grad",
    "parse",
    "parse_latex",
]
