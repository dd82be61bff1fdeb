"""matcalc.explain: derivations by differentials that end with the engine's verified gradient (issue 3)."""

from __future__ import annotations

import pytest

import matcalc
from matcalc.explain import DIFFERENTIALS
from matcalc import expr as E


def test_frobenius_thread_reproduces_the_trace_argument():
    ex = matcalc.explain("normF(W)^2", wrt="W")
    text = ex.text()
    assert "tr(W'*W)" in text  # ||W||_F^2 = tr(W'W)
    assert "2*tr(W'*dW)" in text  # d tr(W'W) = 2 tr(W' dW)
    assert text.splitlines()[-1] == "In denominator layout: df/dW = 2*W"
    assert ex.agrees and ex.fallback == ""
    latex = ex.latex()
    assert r"\operatorname{tr}\left(W^{\top} W\right)" in latex
    assert r"2 \operatorname{tr}\left(W^{\top} dW\right)" in latex
    assert latex.rstrip().endswith(r"&= 2 W && \text{(denominator layout)}" + "\n" + r"\end{aligned}")


def test_regularizer_of_the_thread_keeps_the_constant_in_front():
    ex = matcalc.explain("lambd/(2*m)*normF(W1)^2", wrt="W1")
    text = ex.text()
    assert "tr(W1'*W1)" in text
    assert "(lambd/(2*m))*2*tr(W1'*dW1)" in text
    assert text.rstrip().endswith("(lambd/m)*W1")
    assert r"\frac{\lambda}{m} W_{1}" in ex.latex()


def test_numerator_layout_is_the_transpose():
    ex = matcalc.explain("normF(W)^2", wrt="W", layout="numerator")
    assert "transpose" in ex.text()
    assert ex.text().rstrip().endswith("In numerator layout: df/dW = 2*W'")


STANDARD = [
    ("x'*A*x", "x", "product rule"),
    ("a'*X*b", "X", "a scalar equals its own trace"),
    ("tr(A*X*B)", "X", "cyclic"),
    ("(1/N)*norm2(y - X*theta)^2", "theta", "||u||^2 = u'u"),
    ("logdet(X)", "X", "d logdet(X) = tr(inv(X) dX)"),
    ("det(X)", "X", "d det(X) = det(X) tr(inv(X) dX)"),
    ("tr(inv(X)*A)", "X", "d inv(X) = -inv(X) dX inv(X)"),
    ("sum(exp(x))", "x", "d f(U) = f'(U) .* dU"),
    ("sum(relu(W*x))", "W", "d f(U) = f'(U) .* dU"),
    ("-sum(y.*log(sigmoid(X*w)) + (1-y).*log(1-sigmoid(X*w)))", "w", "trace trick"),
    ("log(sum(exp(x)))", "x", "d sum(A) = sum(dA)"),
    ("-sum(Y.*log(softmax(W*X)))/n", "W", "d softmax(z)"),
    ("sum(logsumexp(W*X))", "W", "d logsumexp(z)"),
    ("tr(X^3)", "X", "d X^k"),
    ("norm2(x)", "x", "d ||X||"),
    ("lam*x'*x", "lam", "collect the terms in dlam"),
]


@pytest.mark.parametrize("expr, wrt, rule", STANDARD, ids=[s[0] for s in STANDARD])
def test_standard_functions_end_with_the_engines_gradient(expr, wrt, rule):
    ex = matcalc.explain(expr, wrt=wrt)
    d = matcalc.derive(expr, wrt=wrt)
    text = ex.text()
    assert text.splitlines()[-1] == f"In denominator layout: df/d{wrt} = {d.text()}"
    assert ex.agrees, text  # the narrated G matched the engine numerically
    assert rule in text
    assert "d" + wrt in text
    assert d.latex() in ex.latex().splitlines()[-2]


def test_a_function_the_narration_cannot_finish_states_the_engines_result():
    ex = matcalc.explain("A*x", wrt="x")  # not a scalar: no tr(G' dX) form
    assert not ex.agrees and ex.fallback
    assert "the engine's verified result follows" in ex.text()
    assert ex.text().splitlines()[-1] == f"In denominator layout: df/dx = {matcalc.derive('A*x', wrt='x').text()}"


def test_one_differential_rule_per_node_type():
    nodes = {E.Add, E.MatMul, E.Hadamard, E.Kron, E.Transpose, E.Trace, E.Sum, E.Inverse, E.Det, E.LogDet,
             E.MatPow, E.Power, E.Apply, E.Softmax, E.LogSumExp, E.Norm1, E.Norm2, E.Diag, E.DiagOf, E.Vec}
    assert nodes <= set(DIFFERENTIALS)
    assert all(r.text and r.latex for r in DIFFERENTIALS.values())
