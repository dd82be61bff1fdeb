"""matcalc.check: claimed derivatives judged against the engine's verified result (issue 3)."""

from __future__ import annotations

import importlib
import json
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import matcalc
from matcalc import cli, serialize
from matcalc.check import TAGS, Verdict
from matcalc.emit.text import to_text
from matcalc.evaluate import MIN_TRIALS, TOLERANCE, compare
from matcalc.verify import dimension_symbols, draw_dims, draw_point

from claims_table import CLAIMS, HALF_SQ, LS, QF, REG, THREAD, Claim, evaluates_like

verdict_module = importlib.import_module("matcalc.check.verdict")  # where check() calls prove_equal


def _check(c: Claim) -> Verdict:
    return matcalc.check(c.expr, wrt=c.wrt, claimed=c.claimed, layout=c.layout, order=c.order,
                         shapes=c.shapes, assume=c.assume)


# -- the table ---------------------------------------------------------------------------------


def test_the_table_is_big_and_covers_every_tag():
    assert len(CLAIMS) >= 65
    assert len({c.id for c in CLAIMS}) == len(CLAIMS)
    wrong_tags = {c.tag for c in CLAIMS if not c.correct}
    assert wrong_tags == set(TAGS)
    assert sum(c.correct for c in CLAIMS) >= 30
    assert any(c.correct and c.assume for c in CLAIMS)  # right only under an assumption
    assert any(c.order == 2 for c in CLAIMS)


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim(c: Claim):
    v = _check(c)
    assert v.correct is c.correct, v.summary
    if c.correct:
        assert v.mistake is None and v.mistakes == [] and v.counterexample is None
        assert v.method == "proved" or re.fullmatch(r"numerically checked at \d+ shapes", v.method)
        if c.answer_layout:
            assert v.layout == c.answer_layout
        elif c.layout:
            assert v.layout in (c.layout, "either")
    else:
        assert v.mistake == c.tag, v.summary
        assert v.mistakes[0] == c.tag
        assert v.message
        assert not bool(v)
    if c.factor is not None:
        assert str(v.factor) == str(c.factor)


def test_no_wrong_claim_passes():
    wrong = [c for c in CLAIMS if not c.correct]
    assert len(wrong) >= 40
    assert not any(_check(c).correct for c in wrong)


# -- the seed-000 thread -------------------------------------------------------------------------


def _textbook_thread(lambd, m, W1, **_):
    return lambd * W1 / m  # d/dW1 of (lambda/2m) ||W1||_F^2


def test_thread_student_answer_is_sum_instead_of_matrix_with_the_trace_form_explanation():
    v = matcalc.check(THREAD, wrt="W1", claimed="lambd*sum(W1)/m", layout="denominator")
    assert not v.correct and v.mistake == "sum-instead-of-matrix"
    assert "sum(W1) by W1" in v.message
    text = v.explain()
    # the trace-form steps the seed-000 thread asks for
    assert "tr(W1'*W1)" in text  # ||W1||_F^2 = tr(W1'W1)
    assert "2*tr(W1'*dW1)" in text  # d tr(W1'W1) = 2 tr(W1' dW1)
    # it ends with the correct answer, lambda W1 / m: read back and compared by value
    assert evaluates_like(text.rstrip().splitlines()[-1].split("=")[-1], _textbook_thread)
    assert evaluates_like(v.expected.text(), _textbook_thread)
    ce = v.counterexample
    assert ce["claimed_shape"] == [1, 1] and ce["expected_shape"][0] > 1
    latex = v.explain("latex")
    assert r"\operatorname{tr}" in latex and "dW_{1}" in latex and v.expected.latex() in latex


def test_thread_answer_is_correct_and_proved():
    v = matcalc.check(THREAD, wrt="W1", claimed="lambd * W1 / m", layout="denominator")
    assert v.correct and v.method == "proved" and v.layout == "denominator"
    assert "Correct" in v.explain()


def test_numpy_spelling_of_the_thread():
    assert matcalc.check(THREAD, wrt="W1", claimed="lambd * np.sum(W1) / m").mistake == "sum-instead-of-matrix"
    assert matcalc.check(THREAD, wrt="W1", claimed="(lambd * W1.T) / m", layout="numerator").correct


def test_issue_example():
    v = matcalc.check(REG, wrt="W", claimed="lam/m*sum(W)", layout="denominator")
    assert v.correct is False and v.mistake == "sum-instead-of-matrix"
    assert isinstance(v.expected, matcalc.Derivative) and v.expected.layout == "denominator"
    ce = v.counterexample
    assert set(ce) >= {"dims", "point", "expected_shape", "claimed_shape"}
    assert set(ce["point"]) == {"lam", "m", "W"}
    assert np.shape(ce["expected_value"]) == tuple(ce["expected_shape"])


# -- what a verdict says ----------------------------------------------------------------------------


def test_counterexample_names_an_entry_where_claim_and_truth_differ():
    v = matcalc.check(LS, wrt="theta", claimed="(2/N)*(X'*X*theta + X'*y)")
    ce = v.counterexample
    i, j = ce["entry"]
    assert ce["expected_value"][i][j] == pytest.approx(ce["expected"])
    assert ce["claimed_value"][i][j] == pytest.approx(ce["claimed"])
    assert abs(ce["expected"] - ce["claimed"]) > 1e-6
    assert all(v > 1 for v in ce["dims"].values())  # a counterexample without sizes of 1 when there is one


def test_numerical_method_is_reported_when_no_proof():
    v = matcalc.check("log(sum(exp(x)))", wrt="x", claimed="exp(x)/sum(exp(x))")
    m = re.fullmatch(r"numerically checked at (\d+) shapes", v.method)
    assert v.correct and m and int(m.group(1)) >= MIN_TRIALS
    assert int(m.group(1)) == v.shapes_checked.count("(")
    assert "max relative error" in v.proof


def test_layout_is_reported_when_not_requested():
    assert matcalc.check(QF, wrt="x", claimed="(A + A')*x").layout == "denominator"
    assert matcalc.check(QF, wrt="x", claimed="x'*(A + A')").layout == "numerator"
    assert matcalc.check("x'*x", wrt="x", claimed="2*x").layout == "denominator"
    # a symmetric result is the same in both layouts
    assert matcalc.check("normF(X)^2", wrt="X", claimed="2*X", shapes={"X": "n x n"},
                         assume={"X": "symmetric"}).layout == "either"


def test_factor_is_tested_not_guessed():
    v = matcalc.check(REG, wrt="W", claimed="lam*W/(2*m)")
    assert v.factor == Fraction(1, 2) and "missing factor 2" in v.message
    v = matcalc.check(REG, wrt="W", claimed="lam*W/m^2")
    assert v.factor == "1/m" and "extra factor 1/m" in v.message
    # claim = 2 * truth only at symmetric points: not a factor error
    assert matcalc.check(QF, wrt="x", claimed="2*A*x").mistake == "missing-symmetric-part"


def test_claim_as_matcalc_expression_and_derivative():
    d = matcalc.derive(QF, wrt="x")
    assert matcalc.check(QF, wrt="x", claimed=d.result).correct
    assert matcalc.check(QF, wrt="x", claimed=d).correct
    assert matcalc.check(QF, wrt="x", claimed=d.other, layout="denominator").mistake == "layout"


def test_claim_as_sympy_object():
    n = sympy.Symbol("n")
    A, x = sympy.MatrixSymbol("A", n, n), sympy.MatrixSymbol("x", n, 1)
    assert matcalc.check(QF, wrt="x", claimed=A.T * x + A * x).correct
    assert matcalc.check(QF, wrt="x", claimed=-(A + A.T) * x).mistake == "sign"


def test_claim_in_latex():
    assert matcalc.check("normF(W)^2", wrt="W", claimed=r"2 W^{\top}", layout="numerator").correct
    assert matcalc.check(QF, wrt="x", claimed=r"\frac{1}{2}(A + A^\top) x").factor == Fraction(1, 2)


def test_explain_text_and_latex_of_a_wrong_answer():
    v = matcalc.check(QF, wrt="x", claimed="2*A*x")
    t = v.explain()
    assert "missing-symmetric-part" in t and "symmetric" in t and v.expected.text() in t
    assert evaluates_like(v.expected.text(), lambda A, x, **_: (A + A.T) @ x)
    assert "Counterexample" in t
    lt = v.explain("latex")
    assert v.expected.latex() in lt
    d = v.to_dict()
    assert json.loads(json.dumps(d))["mistake"] == "missing-symmetric-part"


def test_wrong_shape_is_diagnosed_before_numbers():
    v = matcalc.check("u'*v", wrt="u", claimed="v*v'")
    assert v.mistake == "wrong-shape" and v.method == "shapes compared before numbers"
    assert "nxn" in v.message and "nx1" in v.message


# -- properties over the engine's own results -------------------------------------------------

EXPRS = [
    ("x'*A*x", "x", None), ("x'*A*x", "A", None), ("a'*X*b", "X", None), ("tr(A*X*B)", "X", None),
    ("normF(W)^2", "W", None), (LS, "theta", None), ("sigmoid(w'*x)", "w", None), ("W*z", "z", None),
    ("A*x", "x", None), ("sum(exp(A*x))", "x", None), ("log(sum(exp(x)))", "x", None), ("det(X)", "X", None),
    ("logdet(X)", "X", None), ("tr(inv(X)*A)", "X", None), ("sum(relu(W*x))", "W", None),
    ("-sum(y.*log(sigmoid(X*w)) + (1-y).*log(1-sigmoid(X*w)))", "w", None), ("sum(tanh(W*x))", "W", None),
    ("norm2(x)", "x", None), ("u'*v", "u", None), ("sum(A.*X)", "X", None), ("tr(X'*A*X)", "X", None),
    ("sum(softplus(X*w))", "w", None), ("exp(a'*x)", "x", None), ("tanh(W*x)", "x", None),
    ("normF(A*X - B)^2", "X", None), (REG, "W", None), ("W*z", "W", None),
]


def _layouts_differ(d: matcalc.Derivative) -> bool:
    """Do the two layouts of d differ as functions (checked at one non-square point)?"""
    if d.result.shape != d.other.shape:
        return True
    variables = list(d.variables.values())
    rng = np.random.default_rng(7)
    dims = draw_dims(dimension_symbols(variables), rng, 0)
    point = draw_point(d.function, variables, dims, rng)
    a = np.asarray(d.to_numpy()(**point), dtype=float)
    b = np.asarray(d.in_layout("numerator" if d.layout == "denominator" else "denominator").to_numpy()(**point))
    return not np.allclose(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(EXPRS), st.sampled_from(["denominator", "numerator"]))
def test_engine_results_pass_and_their_corruptions_fail(row, layout):
    expr, wrt, shapes = row
    d = matcalc.derive(expr, wrt=wrt, layout=layout, shapes=shapes)
    v = matcalc.check(expr, wrt=wrt, claimed=d.text(), layout=layout, shapes=shapes)
    assert v.correct and v.method == "proved"
    t = matcalc.check(expr, wrt=wrt, claimed=to_text(d.other), layout=layout, shapes=shapes)
    if _layouts_differ(d):
        assert not t.correct and t.mistake == "layout", t.summary
    else:
        assert t.correct
    f = matcalc.check(expr, wrt=wrt, claimed=f"2*({d.text()})", layout=layout, shapes=shapes)
    assert not f.correct and f.mistake == "factor" and f.factor == 2 and "extra factor 2" in f.message


EXTRA_EXPRS = [("sum(x)", "x", None), ("sum(W)", "W", None), ("sum(A*x)", "x", None), ("sum(W*x)", "W", None),
               ("sum(relu(x))", "x", None), ("x'*x/2", "x", None)]


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("row", EXPRS + EXTRA_EXPRS, ids=[r[0] + " d/d" + r[1] for r in EXPRS + EXTRA_EXPRS])
def test_the_engines_printed_answer_is_a_correct_claim(row, layout):
    """What ``derive`` prints (``vector(1)`` and all) is accepted as a claim, in both layouts."""
    expr, wrt, shapes = row
    printed = str(matcalc.derive(expr, wrt=wrt, layout=layout, shapes=shapes))
    v = matcalc.check(expr, wrt=wrt, claimed=printed, layout=layout, shapes=shapes)
    assert v.correct, f"{printed}: {v.summary}"
    assert v.max_error <= TOLERANCE


# -- the decision is sound: a claim never chooses its own test points -------------------------


def test_a_claim_undefined_where_the_function_is_defined_is_wrong():
    v = matcalc.check(HALF_SQ, wrt="x", claimed="abs(x).*exp(log(x))./x")
    assert not v.correct and v.mistake == "wrong"
    assert "the claim is undefined" in v.message
    i, j = v.counterexample["entry"]
    assert np.isnan(v.counterexample["claimed"]) and v.counterexample["point"]["x"][i][j] < 0


def test_a_proof_never_stands_against_the_numbers(monkeypatch):
    """Even if the simplifier "proves" a wrong claim (an unsound rule), the numbers decide."""
    monkeypatch.setattr(verdict_module, "prove_equal", lambda claim, expected: "a bogus proof")
    v = matcalc.check(HALF_SQ, wrt="x", claimed="sqrt(x.^2)")
    assert not v.correct and v.method != "proved"
    assert any("numbers disagree" in n for n in v.notes)
    assert matcalc.check(HALF_SQ, wrt="x", claimed="x").method == "proved"  # a right claim keeps its proof


def test_compare_needs_every_trial_defined_and_at_least_three():
    x = np.ones((2, 1))
    assert compare([x, x, x], [x, x, x]).equal
    assert not compare([x, x, x], [x, None, None]).equal  # one usable trial is not enough
    assert not compare([x, x, x], [x, x, np.full((2, 1), np.nan)]).equal
    assert not compare([x, x], [x, x]).equal  # too few trials
    c = compare([x, None, x], [x, x, x])
    assert not c.equal and c.undefined == [1] and c.worst == 1


def test_the_tolerance_is_tight_and_scaled():
    x = np.arange(1.0, 4.0).reshape(-1, 1)
    assert not compare([x * (1 + 1e-8)] * 3, [x] * 3).equal
    assert compare([x * (1 + 1e-14)] * 3, [x] * 3).equal
    # a trial where the answer is nearly 0 is judged against the scale of the others, not on rounding noise
    tiny = np.full((3, 1), 1e-17)
    assert compare([x, x, tiny], [x, x, np.zeros((3, 1))]).equal
    assert not compare([x, x, tiny + 1e-6], [x, x, np.zeros((3, 1))]).equal


DELICATE = [c for c in CLAIMS if c.correct and any(f in c.expr + str(c.claimed) for f in ("inv", "det", "exp"))]


@pytest.mark.parametrize("seed", range(4))
def test_correct_claims_with_inv_det_and_exp_pass_at_other_seeds(seed):
    assert len(DELICATE) >= 5
    for c in DELICATE:
        v = matcalc.check(c.expr, wrt=c.wrt, claimed=c.claimed, layout=c.layout, order=c.order, shapes=c.shapes,
                          assume=c.assume, seed=seed)
        assert v.correct and v.max_error < TOLERANCE / 100, (c.id, v.summary)


# -- bad input: one line each -----------------------------------------------------------------------

BAD = [
    (matcalc.check, dict(expr=REG, wrt="W", claimed=r"\frac{\lambda}{m W"), matcalc.ParseError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed=r"\frob{W}"), matcalc.ParseError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="lam/m*Q"), matcalc.UnknownNameError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed=r"\frac{1}{q} W"), matcalc.UnknownNameError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="vector(1)'*vector(1)"), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="2*vector(1)"), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="lam*W/m", trials=2), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed=""), matcalc.ParseError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="2*sum(W) +"), matcalc.ParseError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed=["W"]), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="W", layout="rows"), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="W", claimed="W", order=3), matcalc.MatcalcError),
    (matcalc.check, dict(expr=REG, wrt="V", claimed="W"), matcalc.MatcalcError),
    (matcalc.check, dict(expr="A*x", wrt="x", claimed="A", order=2), matcalc.MatcalcError),
    (matcalc.check_steps, dict(lines=["J = x'*A*x", "= x'*B*x"]), matcalc.UnknownNameError),
    (matcalc.check_steps, dict(lines=["J = x'*A*x", "d/dz J = A*x"]), matcalc.UnknownNameError),
    (matcalc.check_steps, dict(lines=["J = x'*A*x", "= (x'*A*x"]), matcalc.ParseError),
    (matcalc.check_steps, dict(lines=["# nothing", ""]), matcalc.MatcalcError),
    (matcalc.check_steps, dict(lines=["J = x'*A*x", "grad(J) = 2*x"]), matcalc.MatcalcError),
    (matcalc.explain, dict(expr=QF, wrt="x", layout="rows"), matcalc.MatcalcError),
    (matcalc.explain, dict(expr=QF, wrt="y"), matcalc.MatcalcError),
]


@pytest.mark.parametrize("call, kwargs, exc", BAD, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_bad_input(call, kwargs, exc):
    with pytest.raises(exc) as info:
        call(**kwargs)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert msg and "\n" not in msg


# -- the command line ---------------------------------------------------------------------------------


def test_cli_check_exit_codes(capsys):
    assert cli.main(["check", "--expr", REG, "--wrt", "W", "--claimed", "lam/m*W"]) == 0
    assert "Correct" in capsys.readouterr().out
    assert cli.main(["check", "--expr", REG, "--wrt", "W", "--claimed", "lam/m*sum(W)",
                     "--layout", "denominator"]) == 1
    assert "sum-instead-of-matrix" in capsys.readouterr().out
    assert cli.main(["check", "--expr", REG, "--wrt", "W", "--claimed", "lam/m*Q"]) == 2
    assert "unknown name" in capsys.readouterr().err


def test_cli_check_json_hessian_shape_assume(capsys):
    assert cli.main(["check", "--expr", QF, "--wrt", "x", "--claimed", "2*A", "--order", "2",
                     "--assume", "A=symmetric", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["correct"] is True and out["method"] == "proved"
    assert cli.main(["check", "--expr", LS, "--wrt", "theta", "--claimed", "(2/N)*X'*(X*theta - y)",
                     "--shape", "X=N,p", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["layout"] == "denominator"


def test_cli_steps_and_explain(tmp_path, capsys):
    good = tmp_path / "good.txt"
    good.write_text("J = x'*A*x\nd/dx J = A*x + A'*x\n= (A + A')*x\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("J = x'*A*x\nd/dx J = A*x + A'*x\n= 2*A*x\n")
    assert cli.main(["steps", str(good)]) == 0
    capsys.readouterr()
    assert cli.main(["steps", str(bad)]) == 1
    assert "line 3" in capsys.readouterr().out
    assert cli.main(["steps", str(tmp_path / "missing.txt")]) == 2
    capsys.readouterr()
    assert cli.main(["explain", "normF(W)^2", "--wrt", "W"]) == 0
    out = capsys.readouterr().out
    assert "tr(W'*W)" in out
    assert evaluates_like(out.rstrip().splitlines()[-1].split("=")[-1], lambda W, **_: 2 * W)
    assert cli.main(["explain", "normF(W)^2", "--wrt", "W", "--format", "latex"]) == 0
    assert r"\begin{aligned}" in capsys.readouterr().out


# -- to_dict() counts entries from 1, as serialize (the CLI and the web page) and the text do ---

ONE_BASED = [
    ("check", lambda: matcalc.check(QF, wrt="x", claimed="2*A*x"),
     lambda v: v.counterexample, lambda v: v.to_dict()["counterexample"],
     lambda v: serialize.verdict_to_dict(v)["counterexample"], lambda v: v.explain()),
    ("check, a Hessian", lambda: matcalc.check(QF, wrt="x", claimed="2*A", order=2),
     lambda v: v.counterexample, lambda v: v.to_dict()["counterexample"],
     lambda v: serialize.verdict_to_dict(v)["counterexample"], lambda v: v.explain()),
    ("check_steps", lambda: matcalc.check_steps("f = x'*A*x\nd/dx f = (A + A')*x\n= -(A + A')*x"),
     lambda r: r.first_wrong.counterexample, lambda r: r.to_dict()["steps"][-1]["counterexample"],
     lambda r: serialize.steps_to_dict(r)["steps"][-1]["counterexample"], lambda r: r.explain()),
]


@pytest.mark.parametrize("make, internal, own, printed, text", [r[1:] for r in ONE_BASED],
                         ids=[r[0] for r in ONE_BASED])
def test_to_dict_entry_is_one_based_like_the_printed_json(make, internal, own, printed, text):
    obj = make()
    i, j = internal(obj)["entry"]
    assert own(obj)["entry"] == printed(obj)["entry"] == [i + 1, j + 1]
    assert f"entry ({i + 1},{j + 1})" in text(obj)
    assert internal(obj)["entry"] == [i, j]  # to_dict leaves the object's own (0-based, NumPy) index alone
