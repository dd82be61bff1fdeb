"""The identity table (issue 2): textbook derivatives, one row each.

Every row is ``d expr / d wrt = expected`` with the expected form written as a
textbook prints it, in matcalc's plain-text syntax and in denominator layout
(``docs/conventions.md``).  The ``eq`` column is the equation number in The
Matrix Cookbook (Petersen & Pedersen, 2012 edition) where there is one; ML
rows without one are the worked examples of docs/conventions.md or standard losses.

Each row is checked by one shared test body per check:

* ``test_verifies``: ``d.verify()`` in both layouts (central finite
  differences at random non-square shapes plus SymPy's entry-by-entry diff);
* ``test_layouts_are_transposes``: numerator == denominator' at a point with
  distinct sizes 2..7, and the denominator result has the shape the layout
  table of docs/conventions.md prescribes;
* ``test_matches_expected_form``: the derived result equals the textbook form
  numerically at a random point with distinct sizes 2..7;
* ``test_is_compact``: the derived result has at most ``SLACK`` (3) more nodes
  than the textbook form, and no vec/kron/commutation node unless the
  textbook form has one;
* ``test_expected_form_is_right``: the table itself: the textbook form agrees
  with central differences of the function (so a disagreement in the checks
  above is the engine's, not the table's).

Shapes are declared non-square wherever the identity allows.  A few rows fix
small integer sizes (``X: 3 x 2``) where the identity needs full column rank,
such as det(X'AX) with X not square; random sizes could make X'AX singular.
They are small because the SymPy second opinion in ``verify`` grows quickly
with the size of an inverse or determinant.
"""

from __future__ import annotations

import numpy as np
import pytest
from _identity_helpers import (
    FD_RTOL,
    SLACK,
    VALUE_RTOL,
    VEC_NODES,
    Row,
    as2d,
    compiled_expected,
    derived,
    denominator_shape,
    draw_point,
    fd_check_expected,
    rel_err,
)

from matcalc import expr as E

SYM = "symmetric"
ONEHOT = "onehot"


def R(expr, wrt, expected, eq="", shapes=None, assume=None, positive=(), name="", hessian=False):
    """A first-derivative row; ``positive`` names variables drawn with positive entries."""
    positive = (positive,) if isinstance(positive, str) else tuple(positive)
    return Row(expr, wrt, expected, eq, shapes or {}, assume or {}, positive, hessian, name)


def H(*args, **kwargs):
    """A Hessian row: ``matcalc.hessian`` instead of ``matcalc.derive``."""
    return R(*args, hessian=True, **kwargs)


# Frequently used shape declarations (distinct names, so nothing is forced square).
X_NM = {"X": ("n", "m")}
LOGREG = {"X": ("p", "n")}  # samples are the columns of X
RANK = {"X": (3, 2)}  # X'*A*X invertible needs X of full column rank

LOGISTIC_SOFTPLUS = "sum(softplus(X'*w) - y.*(X'*w))/n"
LOGISTIC_LOG = "-(1/n)*sum(y.*log(sigmoid(X'*w)) + (vector(1) - y).*log(vector(1) - sigmoid(X'*w)))"
LOGISTIC_GRAD = "(1/n)*X*(sigmoid(X'*w) - y)"
LOGISTIC_HESS = "(1/n)*X*diag(sigmoid(X'*w).*(vector(1) - sigmoid(X'*w)))*X'"
BATCH_CE = "-(1/n)*sum(Y.*log(softmax(W*X)))"
HINGE_MARGINS = "W*X - vector(1)*(vector(1)'*(Y.*(W*X))) + matrix(1)"
MULTICLASS_HINGE = f"(1/n)*sum((matrix(1) - Y).*relu({HINGE_MARGINS}))"
# G = (1 - Y) .* step(margins); dL/dW = (1/n) (G - Y .* (1 1' G)) X'
_G = f"(matrix(1) - Y).*step({HINGE_MARGINS})"
MULTICLASS_HINGE_GRAD = f"(1/n)*({_G} - Y.*(vector(1)*(vector(1)'*({_G}))))*X'"

ROWS = [
    # -- linear forms (Cookbook 2.4.1) -------------------------------------------------
    R("x'*a", "x", "a", "69"),
    R("a'*x", "x", "a", "69"),
    R("a'*X*b", "X", "a*b'", "70", {"a": ("n", 1), "X": ("n", "m"), "b": ("m", 1)}),
    R("a'*X'*b", "X", "b*a'", "71", {"a": ("m", 1), "X": ("n", "m"), "b": ("n", 1)}),
    R("a'*X*a", "X", "a*a'", "72"),
    R("a'*X'*a", "X", "a*a'", "72"),
    R("x'*A*y", "x", "A*y", "70", {"x": ("n", 1), "A": ("n", "m"), "y": ("m", 1)}),
    R("x'*A*y", "y", "A'*x", "70", {"x": ("n", 1), "A": ("n", "m"), "y": ("m", 1)}),
    R("x'*A*y", "A", "x*y'", "70", {"x": ("n", 1), "A": ("n", "m"), "y": ("m", 1)}),
    R("sum(A*X*B)", "X", "A'*vector(1)*vector(1)'*B'", "", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q")}),
    R("sum(A.*X)", "X", "A", "", {"X": ("n", "m")}),
    # -- quadratic forms (2.4.2) ---------------------------------------------------
    R("b'*X'*X*c", "X", "X*(b*c' + c*b')", "77", {"X": ("n", "m")}),
    R("b'*X'*X*b", "X", "2*X*b*b'", "77", {"X": ("n", "m")}),
    R("(B*x + b)'*C*(D*x + d)", "x", "B'*C*(D*x + d) + D'*C'*(B*x + b)", "78",
      {"x": ("n", 1), "B": ("m", "n"), "b": ("m", 1), "C": ("m", "p"), "D": ("p", "n"), "d": ("p", 1)}),
    R("x'*B*x", "x", "(B + B')*x", "81"),
    R("b'*X'*D*X*c", "X", "D'*X*b*c' + D*X*c*b'", "82", {"X": ("n", "m"), "D": ("n", "n")}),
    R("(X*b + c)'*D*(X*b + c)", "X", "(D + D')*(X*b + c)*b'", "83", {"X": ("n", "m"), "D": ("n", "n")}),
    R("(x - A*s)'*W*(x - A*s)", "s", "-2*A'*W*(x - A*s)", "84", {"A": ("n", "m")}, {"W": SYM}),
    R("(x - s)'*W*(x - s)", "x", "2*W*(x - s)", "85", assume={"W": SYM}),
    R("(x - s)'*W*(x - s)", "s", "-2*W*(x - s)", "86", assume={"W": SYM}),
    R("(x - A*s)'*W*(x - A*s)", "x", "2*W*(x - A*s)", "87", {"A": ("n", "m")}, {"W": SYM}),
    R("(x - A*s)'*W*(x - A*s)", "A", "-2*W*(x - A*s)*s'", "88", {"A": ("n", "m")}, {"W": SYM}),
    R("x'*A*x + b'*x", "x", "(A + A')*x + b", "97"),
    R("x'*A*x", "x", "2*A*x", "81", assume={"A": SYM}, name="(81) d x'*A*x / dx, A symmetric"),
    R("(A*x + b)'*(A*x + b)", "x", "2*A'*(A*x + b)", "", {"A": ("m", "n")}),
    R("x'*inv(A)*x", "x", "(inv(A) + inv(A)')*x", "81"),
    # -- higher order and matrix powers (2.4.3) ----------------------------------------
    R("a'*X^2*b", "X", "X'*a*b' + a*b'*X'", "91"),
    R("a'*X^3*b", "X", "a*b'*(X^2)' + X'*a*b'*X' + (X^2)'*a*b'", "91"),
    R("normF(X^2)^2", "X", "2*(X^2*X' + X'*X^2)", ""),
    # -- determinants (2.1) --------------------------------------------------------
    R("det(X)", "X", "det(X)*inv(X)'", "49"),
    R("det(A*X*B)", "X", "det(A*X*B)*inv(X)'", "51", {"X": ("n", "n"), "A": ("n", "n"), "B": ("n", "n")}),
    R("det(A*X*B)", "X", "det(A*X*B)*A'*inv(A*X*B)'*B'", "46", {"A": (2, 3), "X": (3, 4), "B": (4, 2)},
      name="(46) d det(A*X*B) / dX, A 2x3, X 3x4, B 4x2"),
    R("det(X'*A*X)", "X", "2*det(X'*A*X)*inv(X)'", "52", {"X": ("n", "n"), "A": ("n", "n")}),
    R("det(X'*A*X)", "X", "2*det(X'*A*X)*A*X*inv(X'*A*X)", "53", RANK, {"A": SYM},
      name="(53) d det(X'*A*X) / dX, X 3x2, A symmetric"),
    R("det(X'*A*X)", "X", "det(X'*A*X)*(A*X*inv(X'*A*X) + A'*X*inv(X'*A'*X))", "54", RANK,
      name="(54) d det(X'*A*X) / dX, X 3x2"),
    R("logdet(X'*X)", "X", "2*X*inv(X'*X)", "55", RANK, name="(55) d logdet(X'*X) / dX, X 3x2"),
    R("log(abs(det(X)))", "X", "inv(X)'", "57"),
    R("logdet(X)", "X", "inv(X)'", "57"),
    R("logdet(X)", "X", "inv(X)", "57", assume={"X": "spd"}, name="(57) d logdet(X) / dX, X spd"),
    R("det(X^3)", "X", "3*det(X^3)*inv(X)'", "58"),
    R("det(X^2)", "X", "2*det(X^2)*inv(X)'", "58"),
    R("det(inv(X))", "X", "-det(inv(X))*inv(X)'", "62"),
    R("det(X + A)", "X", "det(X + A)*inv(X + A)'", "46"),
    R("logdet(A*X*B)", "X", "A'*inv(A*X*B)'*B'", "43", {"A": (2, 3), "X": (3, 4), "B": (4, 2)},
      name="(43) d logdet(A*X*B) / dX, A 2x3, X 3x4, B 4x2"),
    R("lam*logdet(X) - tr(S*X)", "X", "lam*inv(X)' - S'", "57, 100"),
    # -- inverses (2.2) ------------------------------------------------------------
    R("a'*inv(X)*b", "X", "-inv(X)'*a*b'*inv(X)'", "61"),
    R("tr(A*inv(X)*B)", "X", "-inv(X)'*A'*B'*inv(X)'", "63, 124", {"A": ("m", "n"), "X": ("n", "n"), "B": ("n", "m")}),
    R("tr(inv(X + A))", "X", "-(inv(X + A)*inv(X + A))'", "64"),
    R("tr(inv(X))", "X", "-(inv(X)*inv(X))'", "64"),
    R("sum(inv(X))", "X", "-inv(X)'*vector(1)*vector(1)'*inv(X)'", "61"),
    # -- traces, first order (2.5.1) -----------------------------------------------
    R("tr(X)", "X", "eye(n)", "99", {"X": ("n", "n")}),
    R("tr(X*A)", "X", "A'", "100", {"X": ("n", "m"), "A": ("m", "n")}),
    R("tr(A*X*B)", "X", "A'*B'", "101", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "p")}),
    R("tr(A*X'*B)", "X", "B*A", "102", {"A": ("p", "m"), "X": ("n", "m"), "B": ("n", "p")}),
    R("tr(X'*A)", "X", "A", "103", {"X": ("n", "m"), "A": ("n", "m")}),
    R("tr(A*X')", "X", "A", "104", {"X": ("n", "m"), "A": ("n", "m")}),
    R("tr(kron(A, X))", "X", "tr(A)*eye(n)", "105", {"A": ("m", "m"), "X": ("n", "n")}),
    # -- traces, second order (2.5.2) ----------------------------------------------
    R("tr(X^2)", "X", "2*X'", "106"),
    R("tr(X^2*B)", "X", "(X*B + B*X)'", "107"),
    R("tr(X'*B*X)", "X", "B*X + B'*X", "108", {"X": ("n", "m"), "B": ("n", "n")}),
    R("tr(B*X*X')", "X", "B*X + B'*X", "109", {"X": ("n", "m"), "B": ("n", "n")}),
    R("tr(X*X'*B)", "X", "B*X + B'*X", "110", {"X": ("n", "m"), "B": ("n", "n")}),
    R("tr(X*B*X')", "X", "X*B' + X*B", "111", {"X": ("n", "m"), "B": ("m", "m")}),
    R("tr(B*X'*X)", "X", "X*B' + X*B", "112", {"X": ("n", "m"), "B": ("m", "m")}),
    R("tr(X'*X*B)", "X", "X*B' + X*B", "113", {"X": ("n", "m"), "B": ("m", "m")}),
    R("tr(A*X*B*X)", "X", "A'*X'*B' + B'*X'*A'", "114", {"A": ("m", "n"), "X": ("n", "m"), "B": ("m", "n")}),
    R("tr(X'*X)", "X", "2*X", "115", X_NM),
    R("tr(X*X')", "X", "2*X", "115", X_NM),
    R("tr(B'*X'*C*X*B)", "X", "C'*X*B*B' + C*X*B*B'", "116", {"X": ("n", "m"), "C": ("n", "n"), "B": ("m", "p")}),
    R("tr(X'*B*X*C)", "X", "B*X*C + B'*X*C'", "117", {"X": ("n", "m"), "B": ("n", "n"), "C": ("m", "m")}),
    R("tr(A*X*B*X'*C)", "X", "A'*C'*X*B' + C*A*X*B", "118",
      {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "m"), "C": ("n", "p")}),
    R("tr((A*X*B + C)*(A*X*B + C)')", "X", "2*A'*(A*X*B + C)*B'", "119",
      {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q"), "C": ("p", "q")}),
    R("tr(kron(X, X))", "X", "2*tr(X)*eye(n)", "120", {"X": ("n", "n")}),
    R("tr(X)*tr(X)", "X", "2*tr(X)*eye(n)", "120", {"X": ("n", "n")}),
    R("tr(X)^2", "X", "2*tr(X)*eye(n)", "120", {"X": ("n", "n")}),
    # -- traces, higher order (2.5.3) and other (2.5.4) -----------------------------
    R("tr(X^3)", "X", "3*(X^2)'", "121"),
    R("tr(X^4)", "X", "4*(X^3)'", "121"),
    R("tr(A*X^2)", "X", "(A*X)' + (X*A)'", "122"),
    R("tr(A*X^3)", "X", "(A*X^2)' + (X*A*X)' + (X^2*A)'", "122"),
    R("tr(B'*X'*C*X*X'*C*X*B)", "X",
      "C*X*X'*C*X*B*B' + C'*X*B*B'*X'*C'*X + C*X*B*B'*X'*C*X + C'*X*X'*C'*X*B*B'", "123",
      {"X": ("n", "m"), "C": ("n", "n"), "B": ("m", "p")}),
    R("tr(inv(X'*C*X)*A)", "X", "-C*X*inv(X'*C*X)*(A + A')*inv(X'*C*X)", "125", RANK, {"C": SYM},
      name="(125) d tr(inv(X'*C*X)*A) / dX, X 3x2, C symmetric"),
    R("tr(inv(X'*C*X)*(X'*B*X))", "X",
      "-2*C*X*inv(X'*C*X)*X'*B*X*inv(X'*C*X) + 2*B*X*inv(X'*C*X)", "126", RANK, {"B": SYM, "C": SYM},
      name="(126) d tr(inv(X'*C*X)*(X'*B*X)) / dX, X 3x2, B C symmetric"),
    R("tr(inv(A + X'*C*X)*(X'*B*X))", "X",
      "-2*C*X*inv(A + X'*C*X)*X'*B*X*inv(A + X'*C*X) + 2*B*X*inv(A + X'*C*X)", "127", X_NM,
      {"A": "spd", "B": SYM, "C": SYM}),
    # -- vector and matrix norms (2.6, 2.7) -------------------------------------------
    R("norm2(x - a)", "x", "(x - a)/norm2(x - a)", "129"),
    R("(x - a)/norm2(x - a)", "x", "eye(n)/norm2(x - a) - (x - a)*(x - a)'/norm2(x - a)^3", "130", {"x": ("n", 1)}),
    R("x/norm2(x)", "x", "eye(n)/norm2(x) - x*x'/norm2(x)^3", "130", {"x": ("n", 1)}),
    R("norm2(x)^2", "x", "2*x", "131"),
    R("x'*x", "x", "2*x", "131"),
    R("normF(X)^2", "X", "2*X", "132", X_NM),
    R("normF(X)", "X", "X/normF(X)", "132", X_NM),
    R("norm2(X)", "X", "X/norm2(X)", "132", X_NM),
    R("norm1(x)", "x", "sign(x)", ""),
    R("norm2(A*x - b)", "x", "A'*(A*x - b)/norm2(A*x - b)", "129", {"A": ("m", "n")}),
    R("norm2(x)^3", "x", "3*norm2(x)*x", "131"),
    R("normF(A*X*B - C)^2", "X", "2*A'*(A*X*B - C)*B'", "119, 132",
      {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q"), "C": ("p", "q")}),
    R("normF(X - A)^2", "X", "2*(X - A)", "132", X_NM),
    # -- docs/conventions.md worked examples -------------------------------------------
    R("v'*A*v", "v", "(A + A')*v", "81"),
    R("v'*A*v", "v", "2*A*v", "81", assume={"A": SYM}, name="(81) d v'*A*v / dv, A symmetric"),
    R("W*z", "z", "W'", "", {"W": ("k", "p")}),
    R("normF(W)^2", "W", "2*W", "132", {"W": ("k", "p")}),
    R("tr(W'*W)", "W", "2*W", "115", {"W": ("k", "p")}),
    R("(lam/(2*m))*normF(W)^2", "W", "(lam/m)*W", "", {"W": ("k", "p"), "m": ()}),
    R("(1/N)*norm2(y - X*theta)^2", "theta", "(2/N)*(X'*X*theta - X'*y)", "", {"X": ("N", "p")}),
    R("1/(1 + exp(-w'*x))", "w", "sigmoid(w'*x)*(1 - sigmoid(w'*x))*x", ""),
    R(BATCH_CE, "W", "(1/n)*(softmax(W*X) - Y)*X'", "", {"X": ("p", "n")}, {"Y": ONEHOT}, name="batch softmax CE / dW"),
    R(LOGISTIC_SOFTPLUS, "w", LOGISTIC_GRAD, "", LOGREG, name="logistic loss (softplus form) / dw"),
    # -- machine-learning losses --------------------------------------------------
    R("norm2(X*w - y)^2", "w", "2*X'*(X*w - y)", "", {"X": ("n", "p")}),
    R("(1/2)*norm2(X*w - y)^2", "w", "X'*(X*w - y)", "", {"X": ("n", "p")}),
    R("norm2(X*w - y)^2", "X", "2*(X*w - y)*w'", "", {"X": ("n", "p")}),
    R("normF(X*W - Y)^2", "W", "2*X'*(X*W - Y)", "", {"X": ("n", "p"), "W": ("p", "k")}),
    R("norm2(X*w - y)^2 + lam*norm2(w)^2", "w", "2*X'*(X*w - y) + 2*lam*w", "", {"X": ("n", "p")}, name="ridge / dw"),
    R("(1/2)*norm2(X*w - y)^2 + (lam/2)*w'*w", "w", "X'*(X*w - y) + lam*w", "", {"X": ("n", "p")},
      name="ridge (halved) / dw"),
    R(LOGISTIC_LOG, "w", LOGISTIC_GRAD, "", LOGREG, name="logistic loss (log form) / dw"),
    R("sum(softplus(-y.*(X'*w)))", "w", "-X*(y.*sigmoid(-y.*(X'*w)))", "", LOGREG, name="logistic loss, labels +-1 / dw"),
    R("-y'*log(softmax(W*x))", "W", "(softmax(W*x) - y)*x'", "", {"W": ("k", "p")}, {"y": ONEHOT},
      name="softmax CE single sample / dW"),
    R("-y'*log(softmax(W*x))", "x", "W'*(softmax(W*x) - y)", "", {"W": ("k", "p")}, {"y": ONEHOT},
      name="softmax CE single sample / dx"),
    R(BATCH_CE, "X", "(1/n)*W'*(softmax(W*X) - Y)", "", {"X": ("p", "n")}, {"Y": ONEHOT}, name="batch softmax CE / dX"),
    R("-(1/n)*sum(Y.*log(softmax(W*X + b*vector(1)')))", "b", "(1/n)*(softmax(W*X + b*vector(1)') - Y)*vector(1)", "",
      {"X": ("p", "n"), "W": ("k", "p")}, {"Y": ONEHOT}, name="batch softmax CE with bias / db"),
    R(MULTICLASS_HINGE, "W", MULTICLASS_HINGE_GRAD, "", {"X": ("p", "n"), "W": ("k", "p")}, {"Y": ONEHOT},
      name="multiclass hinge / dW"),
    R("sum(relu(vector(1) - y.*(X'*w)))", "w", "-X*(y.*step(vector(1) - y.*(X'*w)))", "", LOGREG, name="hinge / dw"),
    R("sum(relu(vector(1) - y.*(X'*w)).^2)", "w", "-2*X*(y.*relu(vector(1) - y.*(X'*w)))", "", LOGREG,
      name="squared hinge / dw"),
    R("sum(relu(-y.*(X'*w)))", "w", "-X*(y.*step(-y.*(X'*w)))", "", LOGREG, name="perceptron loss / dw"),
    R("(lam/2)*norm2(w)^2 + sum(relu(vector(1) - y.*(X'*w)))/n", "w",
      "lam*w - (1/n)*X*(y.*step(vector(1) - y.*(X'*w)))", "", LOGREG, name="linear SVM primal / dw"),
    R("lam*norm1(W)", "W", "lam*sign(W)", "", {"W": ("k", "p")}, name="L1 penalty / dW"),
    R("lam*normF(W)^2", "W", "2*lam*W", "", {"W": ("k", "p")}, name="L2 penalty / dW"),
    R("norm2(X*w - y)^2 + lam*norm1(w) + alpha*norm2(w)^2", "w", "2*X'*(X*w - y) + lam*sign(w) + 2*alpha*w", "",
      {"X": ("n", "p")}, name="elastic net / dw"),
    R("sum(exp(X'*w) - y.*(X'*w))", "w", "X*(exp(X'*w) - y)", "", LOGREG, name="Poisson regression / dw"),
    R("norm2(V*tanh(W*x) - y)^2", "W", "2*((V'*(V*tanh(W*x) - y)).*(vector(1) - tanh(W*x).^2))*x'", "",
      {"V": ("k", "h"), "W": ("h", "p")}, name="two-layer tanh net, squared error / dW"),
    # -- elementwise functions ----------------------------------------------------
    R("sum(exp(x))", "x", "exp(x)"),
    R("sum(log(x))", "x", "vector(1)./x", positive="x"),
    R("sum(sqrt(x))", "x", "(1/2)*vector(1)./sqrt(x)", positive="x"),
    R("sum(abs(x))", "x", "sign(x)"),
    R("sum(sign(x))", "x", "0*x"),
    R("sum(sin(x))", "x", "cos(x)"),
    R("sum(cos(x))", "x", "-sin(x)"),
    R("sum(tanh(x))", "x", "vector(1) - tanh(x).^2"),
    R("sum(sigmoid(x))", "x", "sigmoid(x).*(vector(1) - sigmoid(x))"),
    R("sum(softplus(x))", "x", "sigmoid(x)"),
    R("sum(relu(x))", "x", "step(x)"),
    R("sum(step(x))", "x", "0*x"),
    R("a'*exp(A*x)", "x", "A'*(a.*exp(A*x))", "", {"A": ("m", "n")}),
    R("a'*log(x)", "x", "a./x", positive="x"),
    R("a'*tanh(A*x)", "x", "A'*(a.*(vector(1) - tanh(A*x).^2))", "", {"A": ("m", "n")}),
    R("sum(A.*exp(X))", "X", "A.*exp(X)", "", X_NM),
    R("sum(exp(X))", "X", "exp(X)", "", X_NM),
    R("sum(log(X))", "X", "matrix(1)./X", "", X_NM, positive="X"),
    R("tr(exp(X))", "X", "eye(n).*exp(X)", "", {"X": ("n", "n")}),
    R("sum(X.^3)", "X", "3*X.^2", "", X_NM),
    R("a'*(x.*x)", "x", "2*a.*x"),
    R("sum(a./x)", "x", "-a./(x.^2)", positive="x"),
    R("a'*(x./y)", "y", "-a.*x./(y.^2)", positive="y"),
    R("sum(x.*y)", "x", "y"),
    R("sum(relu(W*x + b))", "W", "step(W*x + b)*x'", "", {"W": ("k", "p")}),
    R("sigmoid(w'*x)", "w", "sigmoid(w'*x)*(1 - sigmoid(w'*x))*x"),
    R("log(sigmoid(w'*x))", "w", "(1 - sigmoid(w'*x))*x"),
    R("softplus(w'*x)", "w", "sigmoid(w'*x)*x"),
    R("exp(a'*x)", "x", "exp(a'*x)*a"),
    R("sin(a'*x)", "x", "cos(a'*x)*a"),
    R("(a'*x)^3", "x", "3*(a'*x)^2*a"),
    R("log(x'*A*x)", "x", "(A + A')*x/(x'*A*x)", "", assume={"A": "spd"}),
    # -- softmax and log-sum-exp --------------------------------------------------
    R("logsumexp(z)", "z", "softmax(z)"),
    R("log(sum(exp(z)))", "z", "exp(z)/sum(exp(z))"),
    R("logsumexp(W*x)", "x", "W'*softmax(W*x)", "", {"W": ("k", "p")}),
    R("sum(logsumexp(Z))", "Z", "softmax(Z)", "", {"Z": ("k", "n")}),
    R("logsumexp(W*X)*vector(1)", "W", "softmax(W*X)*X'", "", {"W": ("k", "p"), "X": ("p", "n")}),
    R("y'*log(softmax(z))", "z", "y - sum(y)*softmax(z)"),
    R("a'*softmax(z)", "z", "softmax(z).*a - softmax(z)*(softmax(z)'*a)"),
    R("sum(A.*softmax(Z))", "Z", "softmax(Z).*(A - vector(1)*(vector(1)'*(softmax(Z).*A)))", "", {"Z": ("k", "n")}),
    # -- diag ---------------------------------------------------------------------
    R("a'*diag(X)", "X", "diag(a)"),
    R("x'*diag(a)*x", "x", "2*a.*x"),
    R("tr(diag(x)*A)", "x", "diag(A)"),
    R("sum(diag(x)*A)", "x", "A*vector(1)", "", {"A": ("n", "m")}),
    R("norm2(diag(a)*x - b)^2", "x", "2*diag(a)*(diag(a)*x - b)"),
    R("sum(diag(X).^2)", "X", "2*diag(diag(X))"),
    # -- Kronecker products of constants ------------------------------------------
    R("a'*kron(A, B)*x", "x", "kron(A', B')*a", "", {"A": ("n", "p"), "B": ("m", "q")}),
    R("tr(kron(A, B)*X)", "X", "kron(A, B)'", "", {"A": ("n", "p"), "B": ("m", "q")}),
    R("x'*kron(A, B)*x", "x", "(kron(A, B) + kron(A, B)')*x", "", {"A": ("n", "n"), "B": ("m", "m")}),
    R("norm2(kron(A, B)*x - y)^2", "x", "2*kron(A, B)'*(kron(A, B)*x - y)", "", {"A": ("n", "p"), "B": ("m", "q")}),
    # -- Jacobians: vector by vector, vector by scalar ---------------------------------
    R("W*x", "x", "W'", "", {"W": ("k", "p")}),
    R("A*x + b", "x", "A'", "", {"A": ("m", "n")}),
    R("x", "x", "eye(n)", "", {"x": ("n", 1)}),
    R("sigmoid(W*x)", "x", "W'*diag(sigmoid(W*x).*(vector(1) - sigmoid(W*x)))", "", {"W": ("k", "p")}),
    R("tanh(W*x + b)", "x", "W'*diag(vector(1) - tanh(W*x + b).^2)", "", {"W": ("k", "p")}),
    R("relu(W*x)", "x", "W'*diag(step(W*x))", "", {"W": ("k", "p")}),
    R("exp(x)", "x", "diag(exp(x))"),
    R("x.*y", "x", "diag(y)"),
    R("diag(x)*a", "x", "diag(a)"),
    R("softmax(z)", "z", "diag(softmax(z)) - softmax(z)*softmax(z)'"),
    R("softmax(W*x)", "x", "W'*(diag(softmax(W*x)) - softmax(W*x)*softmax(W*x)')", "", {"W": ("k", "p")}),
    R("b*(a'*x)", "x", "a*b'", "", {"a": ("n", 1), "b": ("m", 1)}),
    R("exp(t*a)", "t", "(a.*exp(t*a))'", "", {"t": ()}),
    R("t*A", "t", "A'", "", {"t": (), "A": ("n", "m")}),
    # -- vec-Jacobians: matrix (or vector) by matrix, d vec(Y) / d vec(X) ---------------
    R("A*X*B", "X", "kron(B, A')", "", {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q")}),
    R("X'", "X", "commutation(n, m)'", "", X_NM),
    R("X*X", "X", "kron(X, eye(n)) + kron(eye(n), X')", "90", {"X": ("n", "n")}),
    R("inv(X)", "X", "-kron(inv(X), inv(X)')", "59, 60", {"X": ("n", "n")}),
    R("A*X", "X", "kron(eye(m), A')", "", {"A": ("p", "n"), "X": ("n", "m")}),
    R("X*B", "X", "kron(B, eye(n))", "", {"X": ("n", "m"), "B": ("m", "q")}),
    R("X'*X", "X", "commutation(n, m)'*kron(X, eye(m)) + kron(eye(m), X)", "", X_NM),
    R("A*X'*B", "X", "commutation(n, m)'*kron(B, A')", "", {"A": ("p", "m"), "X": ("n", "m"), "B": ("n", "q")}),
    R("X.*A", "X", "diag(vec(A))", "", X_NM),
    R("exp(X)", "X", "diag(vec(exp(X)))", "", X_NM),
    R("A*x", "A", "kron(x, eye(m))", "", {"A": ("m", "n")}),
    R("X*a", "X", "kron(a, eye(n))", "", X_NM),
    R("x*x'", "x", "kron(x', eye(n)) + kron(eye(n), x')", "", {"x": ("n", 1)}),
    # -- Hessians -------------------------------------------------------------------
    H("x'*A*x", "x", "A + A'", "98"),
    H("x'*A*x + b'*x", "x", "A + A'", "98"),
    H("x'*A*x", "x", "2*A", "98", assume={"A": SYM}, name="(98) hess x'*A*x / dx, A symmetric"),
    H("(1/2)*x'*A*x - b'*x", "x", "(1/2)*(A + A')", "98"),
    H("norm2(x)^2", "x", "2*eye(n)", "", {"x": ("n", 1)}),
    H("norm2(A*x - b)^2", "x", "2*A'*A", "", {"A": ("m", "n")}),
    H("(1/N)*norm2(y - X*theta)^2", "theta", "(2/N)*X'*X", "", {"X": ("N", "p")}),
    H("norm2(X*w - y)^2 + lam*norm2(w)^2", "w", "2*X'*X + 2*lam*eye(p)", "", {"X": ("n", "p")}, name="hess ridge / dw"),
    H(LOGISTIC_SOFTPLUS, "w", LOGISTIC_HESS, "", LOGREG, name="hess logistic loss (softplus form) / dw"),
    H(LOGISTIC_LOG, "w", LOGISTIC_HESS, "", LOGREG, name="hess logistic loss (log form) / dw"),
    H("logsumexp(x)", "x", "diag(softmax(x)) - softmax(x)*softmax(x)'"),
    H("logsumexp(A*x)", "x", "A'*(diag(softmax(A*x)) - softmax(A*x)*softmax(A*x)')*A", "", {"A": ("m", "n")}),
    H("sum(exp(x))", "x", "diag(exp(x))"),
    H("normF(W)^2", "W", "2*kron(eye(p), eye(k))", "", {"W": ("k", "p")}),
    H("tr(W'*W)", "W", "2*kron(eye(p), eye(k))", "", {"W": ("k", "p")}),
    H("(lam/2)*normF(W)^2", "W", "lam*kron(eye(p), eye(k))", "", {"W": ("k", "p")}),
    H("normF(A*X*B - C)^2", "X", "2*kron(B*B', A'*A)", "",
      {"A": ("p", "n"), "X": ("n", "m"), "B": ("m", "q"), "C": ("p", "q")}),
    H("normF(X*W - Y)^2", "W", "2*kron(eye(k), X'*X)", "", {"X": ("n", "p"), "W": ("p", "k")}),
    H("tr(X'*A*X)", "X", "kron(eye(m), A + A')", "", {"X": ("n", "m"), "A": ("n", "n")}),
    H("-y'*log(softmax(W*x))", "W", "kron(x*x', diag(softmax(W*x)) - softmax(W*x)*softmax(W*x)')", "",
      {"W": ("k", "p")}, {"y": ONEHOT}, name="hess softmax CE single sample / dW"),
    # -- assumptions are facts about the point: every entry is still differentiated as independent,
    #    so these are the general derivatives, only simplified where the assumption makes them equal
    R("x'*S'*y", "S", "y*x'", "70", assume={"S": SYM}, name="(70) d x'*S'*y / dS, S symmetric"),
    R("x'*S*y", "S", "x*y'", "69", assume={"S": SYM}, name="(69) d x'*S*y / dS, S symmetric"),
    R("x'*S*S'*y", "S", "(x*y' + y*x')*S", "", assume={"S": SYM}, name="d x'*S*S'*y / dS, S symmetric"),
    R("tr(cos(S*S'))", "S", "-2*(eye(n).*sin(S*S'))*S", "", assume={"S": SYM},
      name="d tr(cos(S*S')) / dS, S symmetric"),
    R("tr(S*A)", "S", "A'", "100", {"A": ("n", "n")}, {"S": "spd"}, name="(100) d tr(S*A) / dS, S spd"),
    R("S'", "S", "commutation(n, n)", "", {"S": ("n", "n")}, {"S": SYM}, name="d S' / dS, S symmetric"),
    H("logdet(S)", "S", "-commutation(n, n)*kron(inv(S), inv(S))", "", assume={"S": "spd"},
      name="hess logdet(S) / dS, S spd"),
    H("det(S)", "S", "det(S)*(vec(inv(S))*vec(inv(S))' - commutation(3, 3)*kron(inv(S), inv(S)))", "",
      {"S": (3, 3)}, {"S": "spd"}, name="hess det(S) / dS, S spd"),
    H("tr(S*S)", "S", "2*commutation(n, n)", "", assume={"S": SYM}, name="hess tr(S*S) / dS, S symmetric"),
    H("x'*S'*S*x", "x", "2*S'*S", "", assume={"S": SYM}, name="hess x'*S'*S*x / dx, S symmetric"),
]

IDS = [r.id for r in ROWS]
assert len(set(IDS)) == len(IDS), "row ids must be unique"


def _vars(d):
    return list(d.variables.values())


def _point(row, d, seed, *fns):
    return draw_point(row, _vars(d), seed, fns)


# -- the checks ------------------------------------------------------------------------


def test_table_size():
    assert len(ROWS) >= 130


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_verifies(row, layout):
    """Finite differences at random non-square shapes and SymPy's entry-by-entry diff."""
    d = derived(row).in_layout(layout)
    report = d.verify(shapes=2)
    assert report.ok, str(report)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_layouts_are_transposes(row):
    d = derived(row)
    den_fn = d.to_numpy()
    num_fn = d.in_layout("numerator").to_numpy()
    f_fn = d.function_numpy()
    sizes, point = _point(row, d, 11, den_fn, num_fn, f_fn)
    den, num = as2d(den_fn(**point)), as2d(num_fn(**point))
    fval = np.asarray(f_fn(**point), dtype=float)
    x = np.asarray(point[row.wrt], dtype=float)
    want = denominator_shape(row.hessian, fval, x)
    assert den.shape == want, f"denominator result has shape {den.shape}, docs/conventions.md needs {want} at {sizes}"
    assert num.shape == den.T.shape
    assert np.all(np.isfinite(den))
    assert rel_err(num, den.T) <= VALUE_RTOL, f"numerator != denominator' at sizes {sizes}"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_matches_expected_form(row):
    d = derived(row)
    got_fn = d.to_numpy()
    _, want_fn = compiled_expected(row, d.variables)
    sizes, point = _point(row, d, 23, got_fn, want_fn)
    got = as2d(got_fn(**point))
    want = as2d(want_fn(**{k: point[k] for k in want_fn.names}))
    assert got.shape == want.shape, f"{d} has shape {got.shape}, {row.expected} has {want.shape} at {sizes}"
    err = rel_err(got, want)
    assert err <= VALUE_RTOL, f"{d} != {row.expected} at sizes {sizes}: relative error {err:.2e}"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_is_compact(row):
    d = derived(row)
    expected, _ = compiled_expected(row, d.variables)
    got_size, want_size = E.size(d.result), E.size(expected.expr)
    assert got_size <= want_size + SLACK, (
        f"{d} has {got_size} nodes; the textbook form {row.expected} has {want_size} (slack {SLACK})"
    )
    for node_type in VEC_NODES:
        if not any(isinstance(n, node_type) for n in E.walk(expected.expr)):
            assert not any(isinstance(n, node_type) for n in E.walk(d.result)), (
                f"{d} uses {node_type.__name__}; the textbook form {row.expected} does not"
            )


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_expected_form_is_right(row):
    """The table itself: the textbook form against central differences of the function."""
    err = fd_check_expected(row)
    assert err <= FD_RTOL, f"the expected form {row.expected} disagrees with finite differences ({err:.1e})"
