"""matcalc.explain: derivations by differentials that end with the engine's verified gradient (issue 3)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys

import pytest

import matcalc
from matcalc.explain import DIFFERENTIALS
from matcalc import expr as E

from claims_table import evaluates_like


def _last_line(text: str, layout: str = "denominator", wrt: str = "W") -> str:
    """The formula on the last line, which must read 'In <layout> layout: df/d<wrt> = <formula>'."""
    head, _, formula = text.rstrip().splitlines()[-1].partition(" = ")
    assert head == f"In {layout} layout: df/d{wrt}"
    return formula


def test_frobenius_thread_reproduces_the_trace_argument():
    ex = matcalc.explain("normF(W)^2", wrt="W")
    text = ex.text()
    assert "tr(W'*W)" in text  # ||W||_F^2 = tr(W'W)
    assert "2*tr(W'*dW)" in text  # d tr(W'W) = 2 tr(W' dW)
    assert evaluates_like(_last_line(text), lambda W, **_: 2 * W)
    assert ex.agrees and ex.fallback == ""
    latex = ex.latex()
    assert r"\operatorname{tr}" in latex and "dW" in latex
    assert latex.rstrip().endswith(f"&= {ex.result.latex()} && \\text{{(denominator layout)}}\n\\end{{aligned}}")


def test_regularizer_of_the_thread_keeps_the_constant_in_front():
    ex = matcalc.explain("lambd/(2*m)*normF(W1)^2", wrt="W1")
    text = ex.text()
    assert "tr(W1'*W1)" in text
    # the constant stays in front of the differential: lambd/(2*m) times 2 tr(W1' dW1), on one line
    assert any("2*tr(W1'*dW1)" in ln and "lambd" in ln and "2*m" in ln for ln in text.splitlines())
    assert evaluates_like(_last_line(text, wrt="W1"), lambda lambd, m, W1, **_: lambd * W1 / m)
    assert ex.result.latex() in ex.latex()


def test_numerator_layout_is_the_transpose():
    ex = matcalc.explain("normF(W)^2", wrt="W", layout="numerator")
    assert "transpose" in ex.text()
    assert evaluates_like(_last_line(ex.text(), "numerator"), lambda W, **_: 2 * W.T)


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


def test_explain_and_check_import_each_other_one_way_only():
    """check uses explain (a verdict ends with the derivation); explain never imports check."""
    stages = [f"matcalc.explain.{m.name}" for m in pkgutil.iter_modules(sys.modules["matcalc.explain"].__path__)]
    assert stages  # explain is a package of stages: each of them is checked too
    for name in ("matcalc.explain", *stages, "matcalc.evaluate"):
        tree = ast.parse(inspect.getsource(importlib.import_module(name)))
        imported = {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m.split(".")[-1] == "check"}, (name, imported)
        if name == "matcalc.evaluate":
            assert not {m for m in imported if m.split(".")[-1] == "explain"}


# -- explanations as issue 8 asks for them -------------------------------------------------------

LONG = [
    ("-(1/n)*sum(Y.*log(softmax(W*X)))", "W", {"Y": "onehot"}),
    ("(1/N)*norm2(y - X*theta)^2", "theta", None),
    ("norm2(X*w - y)^2 + lam*norm2(w)^2", "w", None),
    ("sum(log(1 + exp(X*w))) - y'*X*w", "w", None),
    ("-sum(y.*log(sigmoid(X*w)) + (1-y).*log(1-sigmoid(X*w)))", "w", None),
]


@pytest.mark.parametrize("expr, wrt, assume", LONG)
def test_text_lines_stay_under_100_characters(expr, wrt, assume):
    text = matcalc.explain(expr, wrt, assume=assume).text()
    assert max(len(line) for line in text.splitlines()) <= 100, text


def test_softmax_cross_entropy_states_the_one_hot_step():
    text = matcalc.explain(LONG[0][0], "W", assume={"Y": "onehot"}).text()
    assert "the columns of Y sum to 1" in text
    assert "let u = softmax(W*X)" in text


def test_a_transpose_step_is_labelled_as_one():
    text = matcalc.explain("(1/N)*norm2(y - X*theta)^2", "theta").text()
    assert "[transpose of a product: (AB)' = B'A']" in text


def test_differentials_are_spaced_in_latex():
    tex = matcalc.explain("tr(A*X*B)", "X").latex()
    assert r"A\,dX\,B" in tex and "A dX B" not in tex


def test_a_hessian_verdict_comes_with_its_derivation():
    v = matcalc.check("x'*A*x", wrt="x", claimed="2*A", order=2)
    text = v.explain()
    assert "Derivation:" in text and "G = (A + A')*x" in text
    assert "The Hessian is the Jacobian of this gradient" in text and text.startswith("Claim: d^2/dx^2")


def test_the_expected_answer_is_shown_in_the_layout_asked_for():
    v = matcalc.check("x'*A*x", wrt="x", claimed="x'*(A + A')", layout="denominator")
    assert v.mistake == "layout"
    assert "The correct gradient (denominator layout) is (A + A')*x." in v.explain()
    v = matcalc.check("x'*A*x", wrt="x", claimed="(A + A')*x", layout="numerator")
    assert "The correct gradient (numerator layout) is x'*(A + A')." in v.explain()
