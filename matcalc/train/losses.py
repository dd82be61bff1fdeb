"""The losses and regularizers of the linear classifiers, each written once.

Every objective is a formula in matcalc's input syntax.  The trainer never
sees a hand-written gradient: the first time a formula is needed it is
derived by :func:`matcalc.derive`, **verified** against central finite
differences (:meth:`matcalc.Derivative.verify`, random non-square shapes),
compiled to NumPy, and cached for the rest of the process.

Conventions (the lecture's, ``docs/conventions.md``): samples are columns.
After the bias trick ``X`` is ``(p+1) x n`` with a last row of ones, so the
bias is the last column of ``W`` (``k x (p+1)``), or the last entry of ``w``
(``(p+1) x 1``) for binary logistic regression.  ``Y`` is ``k x n`` with
one-hot columns, ``y`` an ``n x 1`` vector of 0/1 labels.

The regularizers act on the weights, never on the bias.  They are written
with a constant mask ``M`` of the weight's shape: ones everywhere except a
zero on the bias entries, so ``M.*W`` is ``W`` with its bias zeroed.

Subgradients: at the kinks the compiled code uses ``step(0) = 0`` and
``sign(0) = 0`` (``np.heaviside(z, 0)``, ``np.sign``).  So a hinge term that
sits exactly on its margin contributes nothing, and an L1 weight that is
exactly 0 gets the subgradient 0, a valid choice from ``[-lam, lam]``.

>>> f = LOSSES["softmax"]
>>> print(f.text)
-(1/n)*sum(Y.*log(softmax(W*X)))
>>> print(compiled(f).derivative)
(1/n)*(softmax(W*X) - Y)*X'
"""

from __future__ import annotations

from ..errors import MatcalcError

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..api import Derivative, derive, hvp, value_and_grad
from ..emit.numpy import Compiled, compile_expr
from ..parse import parse
from ..verify import Report

MULTICLASS = {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}
BINARY = {"w": ("p", 1), "X": ("p", "n"), "y": ("n", 1)}


@dataclass(frozen=True)
class Formula:
    """One objective term: its text, the variable it is minimised over, shapes and assumptions."""

    name: str
    text: str
    wrt: str
    shapes: dict
    assume: dict = field(default_factory=dict)
    doc: str = ""

    @property
    def key(self) -> tuple:
        return (self.text, self.wrt, tuple(sorted(self.shapes.items())), tuple(sorted(self.assume.items())))


# The correct-class score z_{y_i} of each sample: the row vector(1)'*(Y.*(W*X)) (1 x n),
# repeated down each column by vector(1)* so that it lines up with W*X (k x n).
_CORRECT = "vector(1)*(vector(1)'*(Y.*(W*X)))"

LOSSES: dict[str, Formula] = {
    f.name: f
    for f in [
        Formula("softmax", "-(1/n)*sum(Y.*log(softmax(W*X)))", "W", MULTICLASS, {"Y": "onehot"},
                "cross-entropy of the column-wise softmax of the scores W*X"),
        # (matrix(1) - Y) drops j = y_i from the sum; there the argument is exactly 1.
        Formula("hinge", f"(1/n)*sum((matrix(1) - Y).*relu(W*X - {_CORRECT} + 1))", "W", MULTICLASS,
                {"Y": "onehot"}, "multiclass SVM: sum over j != y_i of max(0, z_j - z_{y_i} + 1), margin 1"),
        Formula("squared_hinge", f"(1/n)*sum((matrix(1) - Y).*relu(W*X - {_CORRECT} + 1).^2)", "W", MULTICLASS,
                {"Y": "onehot"}, "multiclass SVM: sum over j != y_i of max(0, z_j - z_{y_i} + 1)^2"),
        # Margin 0: the "- Y" puts the correct class at relu(-1) = 0, which drops j = y_i
        # from the sum without leaving a term that sits on its kink.
        Formula("perceptron", f"(1/n)*sum(relu(W*X - {_CORRECT} - Y))", "W", MULTICLASS, {"Y": "onehot"},
                "multiclass perceptron: sum over j != y_i of max(0, z_j - z_{y_i})"),
        Formula("logistic", "(1/n)*sum(softplus(X'*w) - y.*(X'*w))", "w", BINARY, {},
                "binary cross-entropy -[y log sigmoid(z) + (1-y) log(1 - sigmoid(z))], z = X'*w"),
    ]
}

# The same losses with a weight per sample, s (n x 1, mean 1): sample i's term is multiplied by s_i.
# The multiclass sums weight each column of the k x n terms by s through the matrix product with s.
WEIGHTED: dict[str, Formula] = {
    f.name: f
    for f in [
        Formula("softmax", "-(1/n)*sum((Y.*log(softmax(W*X)))*s)", "W", {**MULTICLASS, "s": ("n", 1)},
                {"Y": "onehot"}, "weighted cross-entropy"),
        Formula("hinge", f"(1/n)*sum(((matrix(1) - Y).*relu(W*X - {_CORRECT} + 1))*s)", "W",
                {**MULTICLASS, "s": ("n", 1)}, {"Y": "onehot"}, "weighted multiclass hinge"),
        Formula("squared_hinge", f"(1/n)*sum(((matrix(1) - Y).*relu(W*X - {_CORRECT} + 1).^2)*s)", "W",
                {**MULTICLASS, "s": ("n", 1)}, {"Y": "onehot"}, "weighted multiclass squared hinge"),
        Formula("perceptron", f"(1/n)*sum(relu(W*X - {_CORRECT} - Y)*s)", "W", {**MULTICLASS, "s": ("n", 1)},
                {"Y": "onehot"}, "weighted multiclass perceptron"),
        Formula("logistic", "(1/n)*sum(s.*(softplus(X'*w) - y.*(X'*w)))", "w", {**BINARY, "s": ("n", 1)}, {},
                "weighted binary cross-entropy"),
    ]
}

# The same functions with the bias apart from the weights, as the trainer evaluates them: X is p x n
# (no row of ones, so the data are never copied to append one), the scores are W*X + b*vector(1)'
# (b k x 1) or X'*w + b (b a scalar).  W = [W b] and X = [X; 1'] make them the formulas above, which
# stay the documented model; tests/test_train.py checks that both give the same value and gradient.
SPLIT_SCORES = {"W*X": "W*X + b*vector(1)'", "X'*w": "X'*w + b"}
BIAS_SHAPES = {"W": ("k", 1), "w": "scalar"}


def split_bias(f: Formula) -> Formula:
    """``f`` with its scores written with a separate bias ``b``: a function of (weight, b) and X (p x n)."""
    text = f.text
    for packed, split in SPLIT_SCORES.items():
        # every score opens a parenthesis (softmax(W*X), y.*(X'*w), relu(W*X - ...)): the sum stays one term
        assert all(text[i - 1] == "(" for i in range(len(text)) if text.startswith(packed, i)), text
        text = text.replace(packed, split)
    return Formula(f.name, text, f.wrt, {**f.shapes, "b": BIAS_SHAPES[f.wrt]}, f.assume, f.doc)


# Losses whose Hessian exists (almost everywhere) and is not zero: newton-cg needs one.
TWICE_DIFFERENTIABLE = ("softmax", "squared_hinge", "logistic")

REGULARIZERS: dict[str, str | None] = {
    "none": None,
    "l2": "lam*normF(M.*W)^2",
    "l1": "lam*norm1(M.*W)",
    "elasticnet": "lam*(alpha*norm1(M.*W) + (1 - alpha)*normF(M.*W)^2)",
}

# With W = U - V, U, V >= 0 (the bias free), norm1(M.*W) = sum(M.*(U + V)) at the optimum: a smooth
# term under bounds, which L-BFGS-B handles exactly, kink included.
L1_SPLIT = Formula("l1-split", "lam*sum(M.*U)", "U", {"U": ("k", "p"), "M": ("k", "p"), "lam": "scalar"}, {},
                   "the L1 term on one part of W = U - V")

# Scores (k x n, or an n-vector for the binary model) turned into probabilities by the
# same emitter that compiles the losses, so they share its overflow-free softmax and sigmoid.
PROBABILITIES: dict[str, tuple] = {"softmax": ("softmax(Z)", {"Z": ("k", "n")}),
                                   "logistic": ("sigmoid(z)", {"z": ("n", 1)}),
                                   "log_softmax": ("log(softmax(Z))", {"Z": ("k", "n")}),
                                   "log_logistic": ("log(sigmoid(z))", {"z": ("n", 1)})}


def regularizer(name: str, weight: str = "W", weight_shape: tuple = ("k", "p")) -> Formula | None:
    """The regularizer ``name`` on the weight called ``weight`` (``None`` for ``"none"``).

    The table writes every regularizer on ``W``; a model whose weight has
    another name (``w`` for logistic regression) gets the same text with the name swapped.

    >>> print(regularizer("l1", "w", ("p", 1)).text)
    lam*norm1(M.*w)
    """
    if name not in REGULARIZERS:
        raise MatcalcError(f"reg must be one of {', '.join(map(repr, REGULARIZERS))}, got {name!r}")
    text = REGULARIZERS[name]
    if text is None:
        return None
    text = re.sub(r"\bW\b", weight, text)
    shapes = {weight: weight_shape, "M": weight_shape, "lam": "scalar"}
    if "alpha" in text:
        shapes["alpha"] = "scalar"
    return Formula(name, text, weight, shapes, {}, "on the weights only: M zeroes the bias entries")


@dataclass
class CompiledFormula:
    """A formula with its derived, verified and compiled gradient."""

    formula: Formula
    derivative: Derivative
    gradient: Compiled
    value: Compiled
    report: Report

    def latex(self) -> str:
        return self.derivative.latex()


_CACHE: dict[tuple, CompiledFormula] = {}
_PROB_CACHE: dict[str, Compiled] = {}


def compiled(formula: Formula) -> CompiledFormula:
    """Derive, verify (the first time only) and compile ``formula``; cached by its text and shapes.

    Raises :class:`matcalc.VerificationError` if the derived gradient disagrees
    with finite differences.
    """
    hit = _CACHE.get(formula.key)
    if hit is not None:
        return hit
    d = derive(formula.text, wrt=formula.wrt, shapes=formula.shapes, assume=formula.assume)
    report = d.verify()
    out = CompiledFormula(formula, d, d.to_numpy(), d.function_numpy(), report)
    _CACHE[formula.key] = out
    return out


def probabilities(model: str) -> Compiled:
    """The compiled map from scores to probabilities of ``model`` (``"softmax"`` or ``"logistic"``)."""
    hit = _PROB_CACHE.get(model)
    if hit is None:
        text, shapes = PROBABILITIES[model]
        p = parse(text, shapes=shapes)
        hit = _PROB_CACHE[model] = compile_expr(p.expr, list(p.variables.values()), fname="probabilities")
    return hit


def bias_mask(formula: Formula, weight_shape: tuple, dtype) -> np.ndarray:
    """Ones of ``weight_shape`` with zeros on the bias: the entries that multiply X's row of ones.

    That is the last column of ``W`` (``k x (p+1)``) and the last entry of ``w`` (``(p+1) x 1``).
    """
    m = np.ones(weight_shape, dtype=dtype)
    if formula.shapes[formula.wrt].index("p") == 1:
        m[:, -1] = 0
    else:
        m[-1, :] = 0
    return m


@dataclass
class Smooth:
    """The differentiable part of an objective, compiled: a loss (weighted or not) plus an optional L2 term.

    It is a function of the weight and the bias ``b`` apart (:func:`split_bias`),
    and the L2 term ``lam*normF(W)^2`` is on the weight alone, so its ``lam``
    is the L2 share of the regularizer.  ``value_and_grad(**arrays)`` is
    :func:`matcalc.value_and_grad` of the text over ``(W, b)``: one compiled
    call that returns the value and both derived gradients, sharing their
    work.  :meth:`hvp` is :func:`matcalc.hvp` over ``(W, b)``, the derived
    Hessian applied to a direction (one part per variable), compiled the first
    time it is asked for.  Each is verified against finite differences when it
    is compiled (``reports``).
    """

    text: str
    wrt: str
    shapes: dict
    assume: dict
    value_and_grad: object
    derivative: Derivative
    reports: list
    _hvp: object = None

    def _hvp_fn(self):
        with _HVP_LOCK:  # derived and verified once, also when several threads (Dask blocks) ask at once
            if self._hvp is None:
                fn = hvp(self.text, (self.wrt, "b"), shapes=self.shapes, assume=self.assume)
                self.reports.append(fn.verify())
                self._hvp = fn
        return self._hvp

    def hvp(self, direction, direction_b, **arrays):
        """The Hessian of the smooth objective at ``arrays`` applied to ``(direction, direction_b)``: two parts."""
        return self._hvp_fn()(direction, direction_b, **arrays)

    def hvp_at(self, **arrays):
        """The Hessian at ``arrays`` as a function of ``(direction, direction_b)``; the curvature is computed once."""
        return self._hvp_fn().at(**arrays)


_SMOOTH_CACHE: dict[tuple, Smooth] = {}
_HVP_LOCK = threading.Lock()


def smooth(loss: str, weighted: bool = False, l2: bool = False) -> Smooth:
    """The compiled smooth objective ``loss`` (+ ``lam*normF(W)^2`` when ``l2``), the bias apart, derived and verified once.

    >>> f = smooth("logistic", l2=True)
    >>> print(f.text)
    (1/n)*sum(softplus(X'*w + b) - y.*(X'*w + b)) + lam*normF(w)^2
    >>> print(f.derivative)
    (1/n)*X*(sigmoid(X'*w + b*ones(n, 1)) - y) + 2*lam*w
    >>> all(r.ok for r in f.reports)      # verified against finite differences when compiled
    True
    """
    key = (loss, bool(weighted), bool(l2))
    hit = _SMOOTH_CACHE.get(key)
    if hit is not None:
        return hit
    f = split_bias((WEIGHTED if weighted else LOSSES)[loss])
    text, shapes = f.text, dict(f.shapes)
    if l2:
        text = f"{text} + lam*normF({f.wrt})^2"
        shapes["lam"] = "scalar"
    fn = value_and_grad(text, (f.wrt, "b"), shapes=shapes, assume=f.assume)
    out = Smooth(text, f.wrt, shapes, dict(f.assume), fn, derive(text, wrt=f.wrt, shapes=shapes, assume=f.assume),
                 [fn.verify()])
    _SMOOTH_CACHE[key] = out
    return out


class Objective:
    """A loss plus a regularizer, as compiled functions of the weight and a batch of data.

    ``value`` and ``gradient`` take the weight, ``X`` ((p+1) x b, samples are
    columns, last row ones) and the targets (``Y`` k x b one-hot, or ``y``).

    >>> obj = Objective("softmax", "l2", lam=0.1)
    >>> print(obj.formula())
    -(1/n)*sum(Y.*log(softmax(W*X))) + lam*normF(M.*W)^2
    """

    def __init__(self, loss: str, reg: str = "none", lam: float = 0.0, alpha: float = 0.5):
        if loss not in LOSSES:
            raise MatcalcError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
        self.loss_formula = LOSSES[loss]
        f = self.loss_formula
        self.wrt = f.wrt
        self.target = next(k for k in f.shapes if k not in (f.wrt, "X"))
        self.reg_formula = regularizer(reg, f.wrt, f.shapes[f.wrt])
        self.lam = float(lam)
        self.alpha = float(alpha)
        if not self.lam >= 0:
            raise MatcalcError(f"lam must be a number >= 0, got {lam!r}")
        if not 0 <= self.alpha <= 1:
            raise MatcalcError(f"alpha (the elastic-net L1 share) must be in [0, 1], got {alpha!r}")
        self._reg_args = {"lam": self.lam}
        if self.reg_formula is not None and "alpha" in self.reg_formula.shapes:
            self._reg_args["alpha"] = self.alpha

    # the documented forms (bias trick), derived and verified when first asked for: training evaluates
    # the same functions with the bias apart (smooth), so a fit does not need these
    @cached_property
    def loss(self) -> CompiledFormula:
        """The loss, derived, verified and compiled in the documented form (X with a row of ones)."""
        return compiled(self.loss_formula)

    @cached_property
    def reg(self) -> CompiledFormula | None:
        """The regularizer, derived, verified and compiled (``None`` for ``reg="none"``)."""
        return compiled(self.reg_formula) if self.reg_formula is not None else None

    @property
    def l1(self) -> float:
        """The strength of the L1 part (handled at its kink by the solvers, not by a subgradient)."""
        name = self.reg_formula.name if self.reg_formula else "none"
        return {"l1": self.lam, "elasticnet": self.lam * self.alpha}.get(name, 0.0)

    @property
    def l2(self) -> float:
        """The strength of the smooth L2 part ``lam*normF(M.*W)^2``."""
        name = self.reg_formula.name if self.reg_formula else "none"
        return {"l2": self.lam, "elasticnet": self.lam * (1 - self.alpha)}.get(name, 0.0)

    def smooth(self, weighted: bool = False) -> Smooth:
        """The loss plus the L2 part, with compiled value-and-gradient and Hessian-vector products."""
        return smooth(self.loss_formula.name, weighted, self.l2 > 0)

    def l1_split_gradient(self, mask) -> np.ndarray:
        """The derived gradient of ``lam*sum(M.*U)`` in ``U``: the L1 term on the positive (or negative) part."""
        return compiled(L1_SPLIT).gradient(U=mask, M=mask, lam=self.l1)

    def formula(self) -> str:
        """The whole objective as text."""
        parts = [self.loss_formula.text] + ([self.reg_formula.text] if self.reg_formula else [])
        return " + ".join(parts)

    def mask(self, weight: np.ndarray) -> np.ndarray:
        """The constant M of the regularizer: ones shaped like ``weight``, zeros on the bias."""
        return bias_mask(self.loss_formula, weight.shape, weight.dtype)

    def _data(self, weight, X, T) -> dict:
        return {self.wrt: weight, "X": X, self.target: T}

    def value(self, weight, X, T, mask=None) -> float:
        """Loss plus regularizer at ``weight`` on the samples (columns) of ``X``."""
        return float(self.loss.value(**self._data(weight, X, T))) + self.penalty(weight, mask)

    def gradient(self, weight, X, T, mask=None) -> np.ndarray:
        """The derived gradient of loss plus regularizer, shaped like ``weight`` (denominator layout)."""
        g = self.loss.gradient(**self._data(weight, X, T))
        if self.reg is not None and self.lam != 0.0:
            pg = self.penalty_gradient(weight, mask)
            # the loss gradient is a fresh array: add in place (once per SGD step), unless it is an input
            if g.flags.writeable and not any(np.may_share_memory(g, a) for a in (weight, X, T)):
                g += pg
            else:
                g = g + pg
        return g

    def penalty(self, weight, mask=None) -> float:
        """The regularizer alone (0 for ``reg="none"``); ``mask`` defaults to :meth:`mask`."""
        if self.reg is None or self.lam == 0.0:
            return 0.0
        m = self.mask(weight) if mask is None else mask
        return float(self.reg.value(**{self.wrt: weight}, M=m, **self._reg_args))

    def penalty_gradient(self, weight, mask=None) -> np.ndarray:
        """The regularizer's derived gradient alone (zeros for ``reg="none"``)."""
        if self.reg is None or self.lam == 0.0:
            return np.zeros_like(weight)
        m = self.mask(weight) if mask is None else mask
        return self.reg.gradient(**{self.wrt: weight}, M=m, **self._reg_args)

    def latex(self) -> str:
        """The derived gradient of the whole objective, in LaTeX (denominator layout)."""
        w = self.wrt
        body = self.loss.latex()
        if self.reg is not None:
            body += " + " + self.reg.latex()
        return rf"\nabla_{{{w}}} = {body}"

    def reports(self) -> list:
        """The finite-difference verification reports of the loss and the regularizer."""
        return [self.loss.report] + ([self.reg.report] if self.reg is not None else [])
