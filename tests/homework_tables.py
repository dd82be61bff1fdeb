"""Claims written the way students write homework (issue 8), as tables of rows.

``ISSUE``: every example of issue 8 (answer, verdict, tag).  ``LATEX_SPELLINGS``: correct answers
typed in LaTeX (and LaTeX-like text) in many spellings; every row must be read and judged correct.
``ONE_TERM_WRONG``: sums with exactly one wrong term; the message must name that term.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    expr: str
    wrt: str
    claimed: str
    correct: bool
    tag: str | None = None
    layout: str | None = None
    shapes: dict | None = None
    assume: dict | None = None
    says: tuple = ()  # phrases the message must contain


SQ = {"A": "n x n", "X": "n x n"}
SYM = {"A": "symmetric"}
SCAL = {"a": (), "b": (), "s": (), "t": ()}
QF = "x'*A*x"
LS = "norm2(X*w - y)^2"
REG = "(lam/(2*m))*normF(W)^2"
THREAD = "lambd*normF(W1)^2/(2*m)"
RIDGE = "norm2(X*w - y)^2 + lam*norm2(w)^2"

ISSUE = [
    # math notation without a backslash
    Row(QF, "x", "(A+A^T)x", True),
    Row(QF, "x", "x^T(A+A^T)", True, layout="numerator"),
    Row("normF(X)^2", "X", "2X", True),
    Row("tr(X*A*X')", "X", "2XA", True, assume=SYM),
    Row("tr(A*X*B)", "X", "BA", True, layout="numerator"),
    Row("x^3/3", "x", "xx", True, shapes={"x": ()}),
    Row("-y*x'*x/2", "x", "-yx", True, shapes={"y": ()}),
    Row("tr(A*X*B)", "X", "A^TB^T", True, layout="denominator"),
    Row("s*a'*b", "s", "a^Tb", True, shapes={"s": ()}),
    Row("tr(X*A*X')", "X", "XA^T + XA", True),
    Row(LS, "w", "2 X^T (X w - y)", True),
    Row("normF(A*X - B)^2", "X", "2(AX-B)^TA", True, layout="numerator"),
    Row("(a'*x)^2", "x", "2 a a^T x", True),
    Row(QF, "x", "(A + A')x", True),
    # two readings that type-check and differ: ambiguous, both shown
    Row("ab'*x + a*b", "x", "ab", False, "ambiguous", shapes={"a": (), "b": ()},
        says=("read as text, it is ab (correct)", "read as LaTeX, it is a*b")),
    # left-hand sides and wrappers
    Row("normF(W)^2", "W", r"\nabla_W = 2W", True),
    Row(QF, "x", r"\nabla f(\mathbf{x}) = (A + A^T)\mathbf{x}", True),
    Row("normF(W)^2", "W", r"\frac{\partial f}{\partial W} = 2W", True),
    Row(QF, "x", "= (A + A')*x", True),
    Row("normF(W)^2", "W", "$2W$", True),
    Row(QF, "x", r"$$\nabla_{\mathbf{x}} f = \left(A + A^\top\right)\mathbf{x}$$", True),
    # |X| of a square matrix is the determinant; |s| of a number its absolute value
    Row("det(X)", "X", r"|X| X^{-T}", True),
    Row("det(X)", "X", r"\left|X\right| \left(X^{-1}\right)^T", True),
    Row("det(X)", "X", r"|X| X^{-1}", True, layout="numerator"),
    Row("abs(s)*t", "t", "|s|", True, shapes=SCAL),
    # Greek names and their aliases
    Row("lam*norm2(w)^2", "w", r"2\lambda w", True),
    Row("lam*norm2(w)^2", "w", "2λw", True),
    Row("lam*norm2(w)^2", "w", "2*lambda*w", True),
    Row("lam*norm2(w)^2", "w", "2*lambd*w", True),
    Row("lambda*norm2(w)^2", "w", "2*lam*w", True),
    Row("lambd*norm2(w)^2", "w", r"2 \lambda \mathbf{w}", True),
    Row("alpha*sum(x)", "x", r"\alpha \mathbf{1}", True),
    Row("eta*x'*x", "x", r"2\eta x", True),
    # notation
    Row("sum(tanh(x))", "x", r"1 - \tanh^2(x)", True),
    Row("sum(tanh(x))", "x", r"\operatorname{sech}^2(x)", True),
    Row("sum(sigmoid(x))", "x", r"\sigma'(x)", True),
    Row("sigmoid(w'*x)", "w", r"\sigma'(w^T x) x", True),
    Row(QF, "x", r"(A + A^{\prime})x", True),
    Row("logdet(X)", "X", r"X^{-1^T}", True),
    Row(QF, "x", r"({\bf A} + {\bf A}^T){\bf x}", True),
    Row(THREAD, "W1", r"\frac{\lambda}{m} W^{[1]}", True),
    Row(THREAD, "W1", r"\frac{\lambda}{m} \sum W^{[1]}", False, "sum-instead-of-matrix"),
    Row("sum(relu(x))", "x", r"\mathbb{1}[x > 0]", True),
    Row("sum(relu(x))", "x", r"\mathbb{1}\{x > 0\}", True),
    Row("sum(relu(x))", "x", r"\mathbf{1}(x > 0)", True),
    Row("sum(relu(x))", "x", r"H(x)", True),
    Row("sum(relu(W*x))", "x", r"W^T \mathbb{1}[Wx \geq 0]", True),
    Row("sum(W)^2/2", "W", r"\sum W \, \mathbf{1}\mathbf{1}^T", True),
    Row("sum(W)^2/2", "W", r"\sum_i\sum_j W_{ij}\mathbf{1}\mathbf{1}^T", True),
    Row(REG, "W", r"\frac{\lambda}{m}\sum_i\sum_j W_{ij}", False, "sum-instead-of-matrix"),
    # an answer of the wrong shape gets a verdict, both shapes named, the text quoted whole
    Row(QF, "x", "A*x*x", False, "wrong-shape", says=("'A*x*x' does not type-check", "nx1")),
    Row("norm2(X*theta - y)^2/N", "theta", r"\frac{2}{N} X (X\theta - y)", False, "wrong-shape",
        says=(r"'\frac{2}{N} X (X\theta - y)'", "mx1 (denominator layout)")),
    Row(QF, "x", "x*x'", False, "wrong-shape", layout="denominator", says=("the claim is nxn", "nx1")),
    # stronger tags
    Row("sigmoid(x)", "x", "sigmoid(x)*(1-sigmoid(x))'", False, "elementwise-vs-matrix-product"),
    Row("softmax(x)", "x", "diag(softmax(x).*(1-softmax(x)))", False, "elementwise-vs-matrix-product"),
    Row("sigmoid(w'*x)", "w", "x", False, "dropped-chain-factor", says=("sigmoid(w'*x)*(1 - sigmoid(w'*x))",)),
    Row("logsumexp(x)", "x", "exp(x)", False, "dropped-chain-factor", says=("1/sum(exp(x))",)),
    Row("sum(relu(1 + W*x))", "W", "vector(1)*x'", False, "dropped-chain-factor", says=("indicator",)),
    # the wrong term named; two mistakes at once
    Row(RIDGE, "w", "2*X'*(X*w - y) + lam*w", False, "factor",
        says=("the term lam*w should be 2*lam*w: missing factor 2", "the other terms are right")),
    Row(RIDGE, "w", "2*X'*(X*w - y) - 2*lam*w", False, "sign", says=("the term -2*lam*w should be 2*lam*w",)),
    Row(RIDGE, "w", "X'*(X*w - y) - 2*lam*w", False, "factor", says=("two mistakes", "missing factor 2",
                                                                   "wrong sign")),
    Row("x'*A*x + b'*x", "x", "2*A*x + b", False, "missing-symmetric-part", says=("the term 2*A*x",)),
]
