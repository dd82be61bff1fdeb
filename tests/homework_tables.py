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


def _spellings(expr: str, wrt: str, answers: list, **kw) -> list:
    return [Row(expr, wrt, a, True, **kw) for a in answers]


LOGIT = "sum(log(1 + exp(X*w))) - y'*X*w"
SOFTMAX_CE = "-(1/n)*sum(Y.*log(softmax(W*X)))"

# Correct answers typed in LaTeX (or LaTeX-like text), as students type them: every one is read and correct.
LATEX_SPELLINGS = [
    *_spellings(QF, "x", [
        r"(A + A^T)x", r"(A+A^\top)x", r"(A + A^{T}) x", r"(A^T + A)\mathbf{x}", r"A x + A^T x",
        r"A\mathbf{x} + A^{\top}\mathbf{x}", r"\left(A + A^T\right) x", r"\left( A^\top + A \right)\mathbf{x}",
        r"(\mathbf{A} + \mathbf{A}^T)\mathbf{x}", r"({\bf A} + {\bf A}^T){\bf x}", r"Ax+A^Tx", r"A^Tx + Ax",
        r"(A + A')x", r"\nabla_x f = (A + A^T)x", r"\nabla_{\mathbf{x}} f(\mathbf{x}) = (A + A^T)\mathbf{x}",
        r"\frac{\partial f}{\partial \mathbf{x}} = (A + A^T)\mathbf{x}", r"$(A + A^T)x$", r"= (A + A^T)x",
        r"2 \cdot \frac{A + A^T}{2} x", r"(A + A^{\prime})x", r"(A+A^\intercal)x",
    ]),
    *_spellings(QF, "x", [r"x^T(A + A^T)", r"\mathbf{x}^\top (A + A^\top)", r"x^TA + x^TA^T"], layout="numerator"),
    *_spellings(QF, "x", [r"2Ax", r"2 A \mathbf{x}", r"2\mathbf{A}\mathbf{x}", r"A x + A^T x"], assume=SYM),
    *_spellings("normF(X)^2", "X", [r"2X", r"2 X", r"2\mathbf{X}", r"X + X", r"\frac{4X}{2}", r"$2X$",
                                    r"\nabla_X \|X\|_F^2 = 2X", r"2 \cdot X"]),
    *_spellings(REG, "W", [r"\frac{\lambda}{m} W", r"\frac{\lambda W}{m}", r"\lambda W / m", r"\frac{1}{m}\lambda W",
                           r"\tfrac{\lambda}{m} W", r"\dfrac{\lambda}{m}\mathbf{W}", r"\frac{\lambda}{2m} \cdot 2W",
                           r"\lambda \frac{W}{m}", r"\frac{λ}{m} W", r"lambda*W/m", r"lambd*W/m"]),
    *_spellings(THREAD, "W1", [r"\frac{\lambda}{m} W^{[1]}", r"\frac{\lambda}{m} W_1", r"\frac{\lambda}{m} W_{1}",
                               r"\frac{\lambda}{m} W^{(1)}", r"\frac{\lambda W^{[1]}}{m}", r"lambda*W1/m",
                               r"\frac{\lambda}{2m} 2 W^{[1]}", r"\lambda W^{[1]}/m"]),
    *_spellings("logdet(X)", "X", [r"X^{-T}", r"X^{-\top}", r"(X^{-1})^T", r"(X^T)^{-1}", r"\left(X^{-1}\right)^\top",
                                   r"X^{-1^T}", r"{\bf X}^{-T}", r"(X^{\top})^{-1}", r"\nabla_X \log\det X = X^{-T}",
                                   r"\frac{\partial}{\partial X}\log|X| = X^{-T}"], shapes=SQ),
    *_spellings("det(X)", "X", [r"\det(X) X^{-T}", r"|X| X^{-T}", r"\det(X) \, X^{-\top}", r"\left|X\right| (X^{-1})^T",
                                r"\det(X) (X^T)^{-1}", r"|X|X^{-T}"], shapes=SQ),
    *_spellings("tr(A*X*B)", "X", [r"A^T B^T", r"A^TB^T", r"(BA)^T", r"A^\top B^\top", r"\left(B A\right)^{T}",
                                   r"\mathbf{A}^T\mathbf{B}^T"]),
    *_spellings("tr(A*X*B)", "X", [r"BA", r"B A", r"\mathbf{B}\mathbf{A}"], layout="numerator"),
    *_spellings("tr(X*A*X')", "X", [r"X(A + A^T)", r"XA^T + XA", r"X A + X A^\top", r"X\left(A^T + A\right)"]),
    *_spellings(LS, "w", [r"2X^T(Xw - y)", r"2 X^T (X w - y)", r"2X^\top(X\mathbf{w} - \mathbf{y})",
                          r"-2X^T(y - Xw)", r"2X^TXw - 2X^Ty", r"2(X^TXw - X^Ty)", r"2 \mathbf{X}^T \mathbf{X} \mathbf{w} - 2\mathbf{X}^T\mathbf{y}",
                          r"\nabla_w \|Xw - y\|^2 = 2X^T(Xw - y)", r"2X^{T}(Xw-y)", r"2X'(Xw - y)"]),
    *_spellings(LS, "w", [r"2(Xw - y)^TX", r"2(X\mathbf{w} - \mathbf{y})^\top X"], layout="numerator"),
    *_spellings("norm2(y - X*theta)^2/N", "theta", [
        r"\frac{2}{N}(X^TX\theta - X^Ty)", r"\frac{2}{N} X^T (X\theta - y)", r"-\frac{2}{N} X^T (y - X\theta)",
        r"\frac{2}{N}\left(X^\top X \boldsymbol{\theta} - X^\top \mathbf{y}\right)", r"\frac{2X^T(X\theta - y)}{N}",
        r"2 X^T (X \theta - y) / N", r"\frac{1}{N}(2X^TX\theta - 2X^Ty)"]),
    *_spellings("normF(A*X - B)^2", "X", [r"2A^T(AX - B)", r"2A^\top(A X - B)", r"2(A^TAX - A^TB)",
                                          r"-2A^T(B - AX)"]),
    *_spellings("normF(A*X - B)^2", "X", [r"2(AX-B)^TA", r"2(AX - B)^\top A"], layout="numerator"),
    *_spellings("(a'*x)^2", "x", [r"2aa^Tx", r"2 a a^T x", r"2(a^Tx)a", r"2 \mathbf{a}\mathbf{a}^\top\mathbf{x}",
                                  r"2 a (a^T x)", r"2(x^Ta)a"]),
    *_spellings("a'*x", "x", [r"a", r"\mathbf{a}", r"{\bf a}"]),
    *_spellings("a'*x", "x", [r"a^T", r"\mathbf{a}^\top"], layout="numerator"),
    *_spellings("x'*x", "x", [r"2x", r"2\mathbf{x}", r"x + x", r"2 \mathbf{x}"]),
    *_spellings("lam*norm2(w)^2", "w", [r"2\lambda w", r"2λw", r"2\lambda\mathbf{w}", r"2 \lambda \boldsymbol{w}",
                                        r"\lambda \cdot 2w", r"2*lambda*w", r"2*lambd*w"]),
    *_spellings("sigmoid(w'*x)", "w", [
        r"\sigma(w^Tx)(1 - \sigma(w^Tx))x", r"\sigma(\mathbf{w}^T\mathbf{x})\left(1 - \sigma(\mathbf{w}^T\mathbf{x})\right)\mathbf{x}",
        r"\sigma'(w^T x) x", r"\sigma^{\prime}(w^\top x)\, x", r"x \sigma(w^Tx)(1-\sigma(w^Tx))",
        r"\frac{e^{-w^Tx}}{(1 + e^{-w^Tx})^2} x"]),
    *_spellings("sum(tanh(x))", "x", [r"1 - \tanh^2(x)", r"1 - \tanh(x)^2", r"\operatorname{sech}^2(x)",
                                      r"\mathbf{1} - \tanh^2(\mathbf{x})", r"1-\tanh^{2}(x)"]),
    *_spellings("sum(relu(x))", "x", [r"\mathbb{1}[x > 0]", r"\mathbb{1}\{x > 0\}", r"\mathbf{1}(x > 0)", r"H(x)",
                                      r"\mathbb{1}[x \geq 0]", r"\mathbb{1}[0 < x]", r"\operatorname{step}(x)"]),
    *_spellings("sum(relu(W*x))", "x", [r"W^T \mathbb{1}[Wx > 0]", r"W^\top H(Wx)"]),
    *_spellings("sum(exp(x))", "x", [r"e^x", r"\exp(x)", r"e^{\mathbf{x}}", r"\exp(\mathbf{x})"]),
    *_spellings("log(x)", "x", [r"\frac{1}{x}", r"1/x", r"x^{-1}"], shapes={"x": ()}),
    *_spellings("sum(W)", "W", [r"\mathbf{1}\mathbf{1}^T", r"\mathbf{1}\mathbf{1}^\top"]),
    *_spellings("sum(W)^2/2", "W", [r"\sum_i\sum_j W_{ij}\mathbf{1}\mathbf{1}^T", r"\sum W \, \mathbf{1}\mathbf{1}^T",
                                    r"\left(\sum_{i,j} W_{ij}\right) \mathbf{1}\mathbf{1}^T"]),
    *_spellings("u'*v", "u", [r"v", r"\mathbf{v}"]),
    *_spellings("W*z", "z", [r"W^T", r"W^\top", r"\mathbf{W}^T"]),
    *_spellings("W*z", "z", [r"W", r"\mathbf{W}"], layout="numerator"),
    *_spellings("alpha*sum(x)", "x", [r"\alpha \mathbf{1}", r"α\mathbf{1}"]),
    *_spellings("logsumexp(x)", "x", [r"\frac{e^x}{\sum e^x}", r"\operatorname{softmax}(x)", r"\frac{\exp(x)}{\mathbf{1}^T\exp(x)}"]),
    *_spellings(LOGIT, "w", [r"X^T(\sigma(Xw) - y)", r"X^\top\left(\sigma(X\mathbf{w}) - \mathbf{y}\right)",
                             r"X^T\sigma(Xw) - X^Ty"]),
    *_spellings(SOFTMAX_CE, "W", [r"\frac{1}{n}(\operatorname{softmax}(WX) - Y)X^T",
                                  r"\frac{1}{n}\left(\mathrm{softmax}(W X) - Y\right) X^\top"],
                assume={"Y": "onehot"}),
    *_spellings("x'*x/2 + b'*x", "x", [r"x + b", r"\mathbf{x} + \mathbf{b}", r"b + x"]),
    *_spellings("tr(W'*W)", "W", [r"2W", r"W + W", r"2\mathbf{W}"]),
    *_spellings("abs(s)*t", "t", [r"|s|", r"\left|s\right|", r"\lvert s \rvert"], shapes=SCAL),
]


# (function, variable, the correct answer's terms, shapes, assumptions): each term is planted wrong in turn
_SUMS = [
    (RIDGE, "w", ["2*X'*(X*w - y)", "2*lam*w"], None, None),
    ("x'*A*x + b'*x", "x", ["(A + A')*x", "b"], None, None),
    ("x'*A*x + b'*x + c'*x", "x", ["(A + A')*x", "b", "c"], None, None),
    (LOGIT + " + lam*norm2(w)^2", "w", ["X'*sigmoid(X*w)", "-X'*y", "2*lam*w"], None, None),
    ("tr(X'*A*X) + normF(X)^2", "X", ["(A + A')*X", "2*X"], None, None),
    ("normF(A*X - B)^2 + mu*tr(X)", "X", ["2*A'*(A*X - B)", "mu*eye(n)"], {"X": "n x n", "mu": ()}, None),
    ("a'*x + x'*x + sum(exp(x))", "x", ["a", "2*x", "exp(x)"], None, None),
    ("sum(log(1 + exp(X*w))) + (lam/2)*norm2(w)^2", "w", ["X'*sigmoid(X*w)", "lam*w"], None, None),
    ("norm2(y - X*theta)^2/N + lam*norm2(theta)^2", "theta", ["(2/N)*X'*(X*theta - y)", "2*lam*theta"], None, None),
    ("tr(A*X*B) + tr(C*X)", "X", ["A'*B'", "C'"], None, None),
    ("u'*W*v + sum(W)", "W", ["u*v'", "vector(1)*vector(1)'"], None, None),
    ("x'*A*x + lam*x'*x", "x", ["(A + A')*x", "2*lam*x"], None, None),
]


def _mutations(term: str) -> list:
    """(the planted term, the tag it must get): a factor 2 dropped or added, the sign flipped."""
    return [(f"3*({term})", "factor"), (f"(-1)*({term})", "sign")]


ONE_TERM_WRONG = [
    Row(expr, wrt, " + ".join(planted if k == i else t for k, t in enumerate(terms)), False, tag, shapes=shapes,
        assume=assume, says=(planted,))
    for expr, wrt, terms, shapes, assume in _SUMS
    for i, term in enumerate(terms)
    for planted, tag in _mutations(term)
]
