"""LaTeX input: each formula parses to the same expression as its plain-text twin."""

from __future__ import annotations

import logging

import pytest
from lark import Lark, logger

from matcalc import ParseError, ShapeMismatchError, UnknownNameError
from matcalc.parse import parse, parse_latex
from matcalc.parse.grammar import MAX_DEPTH, MAX_LENGTH
from matcalc.parse.latex import GRAMMAR

W = {"W": "k x p"}  # non-square, so that W and W' cannot be confused
X = {"X": "N x p"}
AB = {"A": "m x n", "B": "m x n"}

# (LaTeX, plain-text twin, shapes, assumptions)
ROWS = [
    # transposes, bold and Greek names
    (r"\mathbf{v}^T A \mathbf{v}", "v'*A*v", {}, {}),
    (r"v^\top A v", "v'*A*v", {"A": "n x n"}, {}),
    (r"W^{\mathsf T} W", "W'*W", W, {}),
    (r"W^{T} z", "W'*z", W, {}),
    (r"W^\intercal z", "W'*z", W, {}),
    (r"X^{\top}X", "X'*X", X, {}),
    (r"\boldsymbol{\theta}^\top \bm{x}", "theta'*x", {}, {}),
    (r"x' A x", "x'*A*x", {}, {}),
    # products
    (r"A x", "A*x", {"A": "m x n"}, {}),
    (r"2 W", "2*W", W, {}),
    (r"\lambda W", "lambda*W", W, {}),
    (r"A \cdot B^T", "A*B'", AB, {}),
    (r"W \times x", "W*x", W, {}),
    (r"A \odot B", "A .* B", AB, {}),
    (r"y \circ X w", "y .* (X*w)", X, {}),
    (r"A \otimes B", "kron(A, B)", AB, {}),
    # functions
    (r"\operatorname{tr}(W^\top W)", "tr(W'*W)", W, {}),
    (r"\mathrm{Tr}\left(X^T A X\right)", "tr(X'*A*X)", X, {}),
    (r"\text{tr}(S)", "tr(S)", {}, {}),
    (r"\operatorname{tr} A^T B", "tr(A'*B)", AB, {}),
    (r"\operatorname{diag}(x)", "diag(x)", {}, {}),
    (r"\det X", "det(X)", {}, {}),
    (r"\log\det X", "logdet(X)", {}, {"X": "spd"}),
    (r"\log\det(X) - \operatorname{tr}(S X^{-1})", "logdet(X) - tr(S*inv(X))", {}, {}),
    (r"\exp(W x)", "exp(W*x)", W, {}),
    (r"\log x + \sqrt{x}", "log(x) + sqrt(x)", {}, {}),
    (r"\sin t \cos t", "sin(t)*cos(t)", {"t": "scalar"}, {}),
    (r"\tanh(W x)", "tanh(W*x)", W, {}),
    (r"\sigma(w^T x)", "sigmoid(w'*x)", {}, {}),
    (r"A + \sigma^2 I", "A + sigma^2*eye()", {"A": "n x n"}, {}),
    (r"\operatorname{softmax}(W x)", "softmax(W*x)", W, {}),
    (r"\mathrm{softplus}(z) + \operatorname{relu}(z)", "softplus(z) + relu(z)", {}, {}),
    (r"\mathrm{ReLU}(W x + b)", "relu(W*x + b)", W, {}),
    (r"\log \sum_i \exp(z_i)", "log(sum(exp(z)))", {}, {}),
    # norms and absolute values
    (r"\|W\|_F^2", "normF(W)^2", W, {}),
    (r"\lVert x \rVert_2", "norm2(x)", {}, {}),
    (r"\|x\|_1", "norm1(x)", {}, {}),
    (r"\left\| X\theta - y \right\|_2^2", "norm2(X*theta - y)^2", X, {}),
    (r"\|x\|", "norm2(x)", {}, {}),
    (r"||x||_2^2", "norm2(x)^2", {}, {}),
    (r"|x|", "abs(x)", {}, {}),
    (r"\| |x| - y \|_1", "norm1(abs(x) - y)", {}, {}),
    # fractions
    (r"\frac{\lambda}{m} W", "(lambda/m)*W", W, {}),
    (r"\frac{1}{2} x^T A x", "1/2*x'*A*x", {}, {}),
    (r"\tfrac12 \|w\|^2", "1/2*norm2(w)^2", {}, {}),
    (r"\dfrac{\lambda}{2m}\|W\|_F^2", "lambda/(2*m)*normF(W)^2", W, {}),
    (r"\frac{1}{N}\|y - X\theta\|^2", "(1/N)*norm2(y - X*theta)^2", X, {}),
    (r"\frac{1}{1 + e^{-w^T x}}", "1/(1 + exp(-w'*x))", {}, {}),
    # powers and inverses
    (r"X^{-1}", "inv(X)", {}, {}),
    (r"\alpha^{-1} W", "(1/alpha)*W", W, {}),
    (r"X^{-T} b", "inv(X)'*b", {}, {}),
    (r"X^{-\top}", "inv(X)'", {}, {}),
    (r"X^2 + X", "X^2 + X", {}, {}),
    (r"(X^T X)^{-1} X^T y", "inv(X'*X)*X'*y", X, {}),
    # constants sized from context
    (r"\mathbf{1}^T x", "vector(1)'*x", {}, {}),
    (r"A + I", "A + eye()", {"A": "n x n"}, {}),
    (r"W^T W + \lambda I_p", "W'*W + lambda*eye(p)", W, {}),
    (r"I_3 - A", "eye(3) - A", {}, {}),
    # sums of all entries
    (r"\sum_{i,j} W_{ij}", "sum(W)", W, {}),
    (r"\sum_{i} x_i", "sum(x)", {}, {}),
    (r"\sum_{i=1}^{n} x_i^2", "sum(x.^2)", {}, {}),
    (r"\sum_i w_i x_i", "sum(w .* x)", {}, {}),
    (r"\sum_i \sum_j W_{ij}^2", "sum(W.^2)", W, {}),
    (r"\sum_{i=1}^n \log(1 + e^{-y_i z_i})", "sum(log(1 + exp(-y.*z)))", {}, {}),
    (r"\frac{1}{n}\sum_{i=1}^{n} (y_i - \hat{y}_i)^2", "1/n*sum((y - yhat).^2)", {}, {}),
    # subscripted and decorated names
    (r"W_1 x + b_1", "W_1*x + b_1", {"W_1": "k x p"}, {}),
    (r"W^{[2]} a^{[1]}", "W_2*a_1", {"W_2": "k x p"}, {}),
    (r"\theta_0 + \theta^T x", "theta_0 + theta'*x", {"theta_0": "scalar"}, {}),
    (r"e^{x}", "e^x", {"e": "scalar", "x": "scalar"}, {}),  # a declared e is a name
    (r"I x", "I*x", {"I": "m x n"}, {}),  # and so is a declared I
    # delimiters, sizing and spacing
    (r"$x^T A x$.", "x'*A*x", {}, {}),
    (r"$$ \left( A + B \right)^T C $$", "(A + B)'*C", AB, {}),
    (r"\big( x \big)^T \Bigl[ A \Bigr] x,", "x'*A*x", {}, {}),
    (r"x^\top \! A \, x \; \quad", "x'*A*x", {}, {}),
    (r"{A + B}^T", "(A + B)'", AB, {}),
    (r"-\frac12 \log\det\Sigma - \frac12 x^T \Sigma^{-1} x", "-1/2*logdet(Sigma) - 1/2*x'*inv(Sigma)*x", {},
     {"Sigma": "spd"}),
]


@pytest.mark.parametrize("latex, text, shapes, assume", ROWS, ids=[r[0] for r in ROWS])
def test_latex_matches_plain_text(latex, text, shapes, assume):
    got = parse_latex(latex, shapes=shapes, assume=assume)
    want = parse(text, shapes=shapes, assume=assume)
    assert got.expr == want.expr
    assert got.shapes_note() == want.shapes_note()


# (input, error type, fragment of the one-line message)
BAD = [
    (r"\int_0^1 x", ParseError, r"unsupported LaTeX command \int at column 1"),
    (r"x + \partial y", ParseError, r"unsupported LaTeX command \partial at column 5"),
    (r"\pi r^2", ParseError, r"unsupported LaTeX command \pi at column 1"),
    (r"\|x\|_\infty", ParseError, r"unsupported LaTeX command \infty at column 7"),
    (r"\frac{a}", ParseError, r"\frac is missing an argument at column 9"),
    (r"\frac{a}{b", ParseError, "unbalanced braces: '{' is never closed at column 9"),
    (r"x^T A x}", ParseError, "unbalanced braces: '}' has no matching '{' at column 8"),
    (r"\left( x + y", ParseError, "unexpected end of input, expected ')' at column 13"),
    (r"x + y)", ParseError, "unexpected ')' at column 6"),
    (r"\sqrt[3]{x}", ParseError, r"unexpected '[' after \sqrt, expected an argument in braces at column 6"),
    (r"x \top", ParseError, r"unexpected '\top' at column 3"),
    (r"A x = b", ParseError, "unexpected '=' at column 5"),
    (r"x & y", ParseError, "unexpected character '&' at column 3"),
    (r"\operatorname{foo}(x)", ParseError, "unknown function 'foo'"),
    (r"\|x\|_3", ParseError, "unsupported norm subscript '3'; use _1, _2 or _F at column 1"),
    (r"(A x)_i", ParseError, "a subscript is only supported on a name, a norm, I or \\mathbf{1} at column 6"),
    (r"\hat{2}", ParseError, r"\hat is only supported on a name at column 1"),
    (r"\sum_i c", ParseError, r"the summand of \sum_{i} has no entry indexed by i"),
    (r"\sum_{i,j} x_i y_j", ParseError, "x_{i} must be indexed by all the indices of its sum, in order (i,j)"),
    (r"\sum_{i,j} A_{ij} B_{ji}", ParseError, "B_{ji} must be indexed by all the indices of its sum"),
    (r"\sum_{i,i} x_i", ParseError, "the index i is used twice at column 1"),
    (r"\sum_i \|x_i\|", ParseError, "norm2 of an indexed entry inside a sum is not supported"),
    (r"\sum_i x_i \sum_j W_{ij}", ParseError, "W_{ij} uses the index of an enclosing sum"),
    ("", ParseError, "the expression is empty"),
    ("$$ $$", ParseError, "the expression is empty"),
    (42, ParseError, "expected the expression as text, got int"),
    ("x" * (MAX_LENGTH + 1), ParseError, f"the limit is {MAX_LENGTH}"),
    ("{" * (MAX_DEPTH + 1) + "x" + "}" * (MAX_DEPTH + 1), ParseError, f"nested more than {MAX_DEPTH} levels deep"),
    (r"\|" * (MAX_DEPTH + 1) + "x" + r"\|" * (MAX_DEPTH + 1), ParseError, f"nested more than {MAX_DEPTH} levels deep"),
    (r"\sin x \cos x", ShapeMismatchError, r"matrix product: \sin x is nx1 but \cos x is nx1 at column 1"),
    (r"\operatorname{tr}(W)", ShapeMismatchError, "tr of a non-square matrix"),
    (r"x^T y + \lambda", UnknownNameError, "unknown name 'y' at column 5"),
]


@pytest.mark.parametrize("latex, error, fragment", BAD, ids=[str(r[0])[:40] for r in BAD])
def test_bad_latex(latex, error, fragment):
    shapes = {"W": "k x p"} if "W)" in str(latex) else None
    with pytest.raises(error) as info:
        parse_latex(latex, shapes=shapes, known={"x", "lambda"} if "lambda" in str(latex) else None)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_grammar_has_no_conflicts(caplog):
    """LALR conflicts would be resolved silently in favour of shifting; there must be none."""
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        Lark(GRAMMAR, parser="lalr", lexer="contextual", debug=True)
    assert "conflict" not in caplog.text.lower()
