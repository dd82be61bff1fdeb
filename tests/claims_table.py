"""The table of claimed derivatives that ``tests/test_check.py`` judges and ``benchmarks/bench_check.py`` times.

One row per claim: the function, the variable, the claimed answer (as a person
would write it), the layout asked for (None: either), shapes and assumptions,
and the expected verdict and tag.  Correct rows are written differently from
the engine's own form on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

import matcalc
from matcalc.emit.numpy import compile_expr
from matcalc.verify import dimension_symbols, draw_dims, draw_point


@dataclass(frozen=True)
class Claim:
    id: str
    expr: str
    wrt: str
    claimed: object
    correct: bool
    tag: str | None = None  # the expected main tag of a wrong claim
    layout: str | None = None  # the layout asked for; None accepts either
    shapes: dict | None = None
    assume: dict | None = None
    order: int = 1
    factor: object = None  # for factor rows: claimed / expected
    answer_layout: str | None = None  # for correct rows with layout=None: the layout the answer is in


SQ = {"X": "n x n", "A": "n x n", "B": "n x n"}
SYM = {"A": "symmetric"}
REG = "(lam/(2*m))*normF(W)^2"
THREAD = "lambd*normF(W1)^2/(2*m)"  # the seed-000 forum thread: (lambda / 2m) ||W1||_F^2
LS = "(1/N)*norm2(y - X*theta)^2"  # seed 002, section 4
LOGIT = "-sum(y.*log(sigmoid(X*w)) + (1-y).*log(1-sigmoid(X*w)))"
QF = "x'*A*x"
HALF_SQ = "x'*x/2"  # gradient x: claims right only for positive x must fail

_n = sympy.Symbol("n")
_A = sympy.MatrixSymbol("A", _n, _n)
_x = sympy.MatrixSymbol("x", _n, 1)

CLAIMS = [
    # ---- the seed-000 thread ---------------------------------------------------------------
    Claim("thread-student", THREAD, "W1", "lambd*sum(W1)/m", False, "sum-instead-of-matrix", "denominator"),
    Claim("thread-student-numpy", THREAD, "W1", "(lambd * np.sum(W1)) / m", False, "sum-instead-of-matrix"),
    Claim("thread-answer", THREAD, "W1", "lambd * W1 / m", True, layout="denominator"),
    Claim("thread-answer-numpy", THREAD, "W1", "(lambd * W1) / m", True),
    # ---- correct answers written differently -------------------------------------------------
    Claim("reg-den", REG, "W", "lam*W/m", True, layout="denominator"),
    Claim("reg-num", REG, "W", "(lam/m)*W'", True, layout="numerator"),
    Claim("reg-either-num", REG, "W", "lam/m*W'", True, answer_layout="numerator"),
    Claim("reg-either-den", REG, "W", "W*lam/m", True, answer_layout="denominator"),
    Claim("qf-sum-of-terms", QF, "x", "A'*x + A*x", True, answer_layout="denominator"),
    Claim("qf-factored", QF, "x", "(A + A')*x", True, layout="denominator"),
    Claim("qf-numerator", QF, "x", "x'*A' + x'*A", True, layout="numerator"),
    Claim("qf-halves", QF, "x", "2*((A + A')/2)*x", True),
    Claim("qf-sym-2Ax", QF, "x", "2*A*x", True, assume=SYM),
    Claim("qf-sym-num", QF, "x", "2*x'*A", True, layout="numerator", assume=SYM),
    Claim("qf-sym-spelled", QF, "x", "A*x + A'*x", True, assume=SYM),
    Claim("det-inv-transpose", "det(X)", "X", "det(X)*inv(X')", True, layout="denominator"),
    Claim("det-transpose-inv", "det(X)", "X", "det(X)*inv(X)'", True, layout="denominator"),
    Claim("det-num", "det(X)", "X", "det(X)*inv(X)", True, layout="numerator"),
    Claim("logdet", "logdet(X)", "X", "inv(X')", True, layout="denominator"),
    Claim("ls-seed", LS, "theta", "(2/N)*(X'*X*theta - X'*y)", True, layout="denominator"),
    Claim("ls-negated", LS, "theta", "-(2/N)*X'*(y - X*theta)", True),
    Claim("ls-over-N", LS, "theta", "2*X'*(X*theta - y)/N", True),
    Claim("ls-dims", LS, "theta", "(2/N)*(X'*X*theta - X'*y)", True, shapes={"X": "N x p"}),
    Claim("sigmoid", "sigmoid(w'*x)", "w", "sigmoid(w'*x)*(1 - sigmoid(w'*x))*x", True),
    Claim("sigmoid-num", "sigmoid(w'*x)", "w", "x'*sigmoid(x'*w)*(1 - sigmoid(x'*w))", True, layout="numerator"),
    Claim("Wz-den", "W*z", "z", "W'", True, layout="denominator"),
    Claim("Wz-num", "W*z", "z", "W", True, layout="numerator"),
    Claim("trAXB", "tr(A*X*B)", "X", "(B*A)'", True, layout="denominator"),
    Claim("aXb", "a'*X*b", "X", "a*b'", True),
    Claim("sum-exp", "sum(exp(x))", "x", "exp(x)", True),
    Claim("lse", "log(sum(exp(x)))", "x", "exp(x)/sum(exp(x))", True),
    Claim("uv", "u'*v", "u", "v", True),
    Claim("xx", "x'*x", "x", "x + x", True),
    Claim("normF", "normF(W)^2", "W", "2*W", True, layout="denominator"),
    Claim("relu", "sum(relu(W*x))", "W", "step(W*x)*x'", True),
    Claim("logistic", LOGIT, "w", "X'*(sigmoid(X*w) - y)", True),
    Claim("hadamard-square", "sum(X.*X.*A)", "X", "2*X.*A", True, shapes=SQ),
    Claim("lsq-matrix", "normF(A*X - B)^2", "X", "2*A'*(A*X - B)", True),
    Claim("tanh", "sum(tanh(W*x))", "W", "(1 - tanh(W*x).^2)*x'", True),
    Claim("scalar-wrt", "c*x'*x", "c", "x'*x", True, shapes={"c": "scalar"}),
    Claim("hess-qf", QF, "x", "A + A'", True, order=2),
    Claim("hess-qf-sym", QF, "x", "2*A", True, order=2, assume=SYM),
    Claim("hess-ls", LS, "theta", "(2/N)*X'*X", True, order=2),
    Claim("latex-qf", QF, "x", r"(A + A^\top) x", True, layout="denominator"),
    Claim("latex-qf-num", QF, "x", r"x^{\top}(A^{\top} + A)", True, layout="numerator"),
    Claim("sympy-qf", QF, "x", (_A + _A.T) * _x, True),
    # the engine's own printed answers, whose sizes only the expected shape gives
    Claim("sum-ones", "sum(x)", "x", "vector(1)", True, answer_layout="denominator"),
    Claim("sum-ones-num", "sum(x)", "x", "vector(1)'", True, layout="numerator"),
    Claim("sum-matrix-ones", "sum(W)", "W", "matrix(1)", True, layout="denominator"),
    Claim("sum-Wx-ones", "sum(W*x)", "W", "vector(1)*x'", True, layout="denominator"),
    # ---- layout mix-ups ------------------------------------------------------------------------
    Claim("reg-layout", REG, "W", "lam/m*W'", False, "layout", "denominator"),
    Claim("qf-layout", QF, "x", "x'*(A + A')", False, "layout", "denominator"),
    Claim("qf-layout-num", QF, "x", "(A + A')*x", False, "layout", "numerator"),
    Claim("Wz-layout", "W*z", "z", "W", False, "layout", "denominator"),
    Claim("det-layout", "det(X)", "X", "det(X)*inv(X)", False, "layout", "denominator"),
    Claim("trAXB-layout", "tr(A*X*B)", "X", "B*A", False, "layout", "denominator"),
    Claim("aXb-layout", "a'*X*b", "X", "b*a'", False, "layout", "denominator"),
    Claim("sigmoid-layout", "sigmoid(w'*x)", "w", "sigmoid(w'*x)*(1 - sigmoid(w'*x))*x'", False, "layout",
          "denominator"),
    Claim("logdet-layout", "logdet(X)", "X", "inv(X)", False, "layout", "denominator"),
    Claim("latex-layout", QF, "x", r"x^{\top}(A + A^{\top})", False, "layout", "denominator"),
    # ---- sign -----------------------------------------------------------------------------------
    Claim("qf-sign", QF, "x", "-(A + A')*x", False, "sign"),
    Claim("ls-sign", LS, "theta", "(2/N)*X'*(y - X*theta)", False, "sign"),
    Claim("logistic-sign", LOGIT, "w", "X'*(y - sigmoid(X*w))", False, "sign"),
    Claim("logdet-sign", "logdet(X)", "X", "-inv(X)'", False, "sign"),
    Claim("inv-sign", "tr(inv(X)*A)", "X", "inv(X)'*A'*inv(X)'", False, "sign"),
    # ---- factor ---------------------------------------------------------------------------------
    Claim("reg-half", REG, "W", "lam*W/(2*m)", False, "factor", factor=Fraction(1, 2)),
    Claim("reg-double", REG, "W", "2*lam*W/m", False, "factor", factor=2),
    Claim("normF-half", "normF(W)^2", "W", "W", False, "factor", factor=Fraction(1, 2)),
    Claim("xx-half", "x'*x", "x", "x", False, "factor", factor=Fraction(1, 2)),
    Claim("ls-half", LS, "theta", "(1/N)*X'*(X*theta - y)", False, "factor", factor=Fraction(1, 2)),
    Claim("reg-missing-1/m", REG, "W", "lam*W", False, "factor", factor="m"),
    Claim("reg-extra-1/m", REG, "W", "lam*W/m^2", False, "factor", factor="1/m"),
    Claim("ls-missing-1/N", LS, "theta", "2*X'*(X*theta - y)", False, "factor", factor="N"),
    Claim("scalar-wrt-double", "c*x'*x", "c", "2*x'*x", False, "factor", shapes={"c": "scalar"}, factor=2),
    Claim("hess-ls-half", LS, "theta", "X'*X/N", False, "factor", order=2, factor=Fraction(1, 2)),
    # ---- missing symmetric part -----------------------------------------------------------------
    Claim("qf-2Ax", QF, "x", "2*A*x", False, "missing-symmetric-part"),
    Claim("qf-2xA-num", QF, "x", "2*x'*A", False, "missing-symmetric-part", "numerator"),
    Claim("qf-Ax", QF, "x", "A*x", False, "missing-symmetric-part"),
    Claim("trXAX", "tr(X'*A*X)", "X", "2*A*X", False, "missing-symmetric-part"),
    Claim("hess-qf-2A", QF, "x", "2*A", False, "missing-symmetric-part", order=2),
    Claim("sympy-2Ax", QF, "x", 2 * _A * _x, False, "missing-symmetric-part"),
    # ---- sum instead of matrix ------------------------------------------------------------------
    Claim("reg-sum", REG, "W", "lam/m*sum(W)", False, "sum-instead-of-matrix", "denominator"),
    Claim("normF-sum", "normF(W)^2", "W", "2*sum(W)", False, "sum-instead-of-matrix"),
    Claim("xx-sum", "x'*x", "x", "2*sum(x)", False, "sum-instead-of-matrix"),
    Claim("sumAX-sum", "sum(A.*X)", "X", "sum(A)", False, "sum-instead-of-matrix"),
    Claim("trXX-trace", "tr(X'*X)", "X", "2*tr(X)", False, "sum-instead-of-matrix", shapes={"X": "n x n"}),
    Claim("sumAX-ones", "sum(A.*X)", "X", "vector(1)'*A*vector(1)", False, "sum-instead-of-matrix"),
    # ---- elementwise vs matrix product ----------------------------------------------------------
    Claim("hadamard-as-matmul", "sum(X.*X.*A)", "X", "2*X*A", False, "elementwise-vs-matrix-product", shapes=SQ),
    Claim("matmul-as-hadamard", "sum((A*X).*B)", "X", "A'.*B", False, "elementwise-vs-matrix-product", shapes=SQ),
    Claim("trAXB-hadamard", "tr(A*X*B)", "X", "A'.*B'", False, "elementwise-vs-matrix-product", shapes=SQ),
    Claim("power-as-matpow", "sum(X.^3)", "X", "3*X^2", False, "elementwise-vs-matrix-product", shapes=SQ),
    # ---- dropped chain factor -------------------------------------------------------------------
    Claim("sigmoid-no-x", "sigmoid(w'*x)", "w", "sigmoid(w'*x)*(1 - sigmoid(w'*x))", False, "dropped-chain-factor"),
    Claim("logistic-no-X", LOGIT, "w", "sigmoid(X*w) - y", False, "dropped-chain-factor"),
    Claim("exp-no-A", "sum(exp(A*x))", "x", "exp(A*x)", False, "dropped-chain-factor"),
    Claim("tanh-no-x", "sum(tanh(W*x))", "W", "1 - tanh(W*x).^2", False, "dropped-chain-factor"),
    Claim("ls-no-X", LS, "theta", "(2/N)*(X*theta - y)", False, "dropped-chain-factor"),
    Claim("relu-no-x", "sum(relu(W*x))", "W", "step(W*x)", False, "dropped-chain-factor"),
    Claim("lsq-no-A", "normF(A*X - B)^2", "X", "2*(A*X - B)", False, "dropped-chain-factor"),
    # ---- wrong shape ----------------------------------------------------------------------------
    Claim("qf-scalar", QF, "x", "x'*A*x", False, "wrong-shape"),
    Claim("uv-outer", "u'*v", "u", "v*v'", False, "wrong-shape"),
    Claim("sigmoid-outer", "sigmoid(w'*x)", "w", "x*x'", False, "wrong-shape"),
    Claim("Wz-vecjac", "W*z", "W", "z'", False, "wrong-shape"),
    Claim("reg-wrong-shape", REG, "W", "lam/m*W'*W", False, "wrong-shape", "denominator"),
    # ---- two readings that type-check and differ ----------------------------------------------
    Claim("ab-ambiguous", "ab'*x + a*b", "x", "ab", False, "ambiguous", shapes={"a": (), "b": ()}),
    # ---- no known pattern -----------------------------------------------------------------------
    Claim("ls-one-sign", LS, "theta", "(2/N)*(X'*X*theta + X'*y)", False, "sign"),
    Claim("qf-plus-x", QF, "x", "A*x + x", False, "dropped-chain-factor"),
    Claim("det-X", "det(X)", "X", "det(X)*X", False, "wrong"),
    Claim("lse-exp", "log(sum(exp(x)))", "x", "exp(x)", False, "dropped-chain-factor"),
    Claim("relu-ones", "sum(relu(x))", "x", "vector(1)", False, "dropped-chain-factor"),
    # right only where x > 0: the claim must not choose the test points (its own domain is x > 0, or
    # it agrees there), and a claim that is undefined where the function is defined is wrong
    Claim("half-sq-sqrt", HALF_SQ, "x", "sqrt(x.^2)", False, "wrong"),
    Claim("half-sq-power", HALF_SQ, "x", "(x.^2).^(1/2)", False, "wrong"),
    Claim("half-sq-log-exp", HALF_SQ, "x", "abs(x) + log(exp(x)) - x", False, "wrong"),
    Claim("half-sq-exp-log", HALF_SQ, "x", "abs(x).*exp(log(x))./x", False, "wrong"),
    Claim("half-sq-log", HALF_SQ, "x", "x + log(x) - log(x)", False, "wrong"),
    # off by far less than any formula's rounding error is still wrong
    Claim("half-sq-1e-8", HALF_SQ, "x", "1.00000001*x", False, "factor", factor=1.00000001),
    Claim("half-sq-plus-1e-8", HALF_SQ, "x", "x + 0.00000001*vector(1)", False, "wrong"),
]


def evaluates_like(text: str, reference, seeds=(0, 1)) -> bool:
    """Does the printed formula ``text``, read back, equal ``reference(**point)`` at random points?

    Tests compare what the code prints with a textbook formula by value, not
    letter by letter, so that a change of printing style does not break them.
    ``reference`` takes the variables (and dimensions) as keyword arguments;
    a 2-D reference must have the formula's shape exactly.
    """
    p = matcalc.parse(text)
    variables = list(p.variables.values())
    fn = compile_expr(p.expr, variables)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        point = draw_point(p.expr, variables, draw_dims(dimension_symbols(variables), rng, seed), rng)
        got = np.asarray(fn(**point), dtype=float)
        want = np.asarray(reference(**point), dtype=float)
        if got.size != want.size or (want.ndim == 2 and got.shape != want.shape):
            return False
        if not np.allclose(got.reshape(-1), want.reshape(-1), rtol=1e-12, atol=0):
            return False
    return True
