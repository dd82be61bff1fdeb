"""Front ends a newcomer can use (issue 9): the command line, its JSON, the input rules, notebooks.

Every row is one thing a newcomer tried.  CLI rows run ``matcalc.cli.main`` in
process (``python -m matcalc`` is run once as a subprocess).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import matcalc
from matcalc import cli, serialize
from matcalc.parse import parse

ROOT = Path(__file__).resolve().parents[1]


def run(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- basics -------------------------------------------------------------------------------


def test_version_is_the_packages(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"matcalc {version}" == f"matcalc {matcalc.__version__}"


def test_python_dash_m_matcalc_runs_the_cli():
    r = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x'*x", "--wrt", "x", "--no-verify",
                        "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == "2*x"


def _all_actions(parser, path=()):
    import argparse

    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _all_actions(sub, path + (name,))
        elif not isinstance(a, argparse._HelpAction):
            yield path, a


@pytest.mark.parametrize("path, action", list(_all_actions(cli.build_parser())),
                         ids=lambda x: " ".join(x) if isinstance(x, tuple) else "/".join(x.option_strings or [x.dest]))
def test_every_option_has_help(path, action):
    assert action.help and len(action.help) > 8, f"matcalc {' '.join(path)} {action.option_strings or action.dest}"
    if "--format" in action.option_strings:  # each format is explained
        for choice in action.choices:
            assert f"{choice}:" in action.help


# -- the same input everywhere ------------------------------------------------------------

# (argv, stdin, expected exit code, a line the output must contain)
INPUT_ROWS = [
    (["derive", r"x^\top A x", "--wrt", "x", "--no-verify"], None, 0, "(A + A')*x"),
    (["hessian", r"\|W\|_F^2", "--wrt", "W", "--no-verify"], None, 0, "2*kron(eye("),
    (["explain", r"\operatorname{tr}(W^\top W)", "--wrt", "W"], None, 0, "df/dW = 2*W"),
    (["derive", "-", "--wrt", "x", "--no-verify"], "x'*A*x\n", 0, "(A + A')*x"),
    (["derive", "--file", "-", "--wrt", "x", "--no-verify"], "# a comment\nx'*A*x\n", 0, "(A + A')*x"),
    (["check", "tr(W'*W)", "--wrt", "W", "--claimed", "2*W"], None, 0, "Correct"),
    (["check", "--expr", "tr(W'*W)", "--wrt", "W", "--claimed", "W"], None, 1, "missing factor 2"),
    (["check", "-", "--wrt", "W", "--claimed", "2*W"], r"\operatorname{tr}(W^\top W)", 0, "Correct"),
    (["check", "tr(W'*W)", "--wrt", "W", "--claimed", r"2 W^\top", "--layout", "denominator"], None, 1, "Wrong"),
    (["steps", "-", "--wrt", "W"], "tr(W'*W)\n= 3*tr(W'*W)\n", 1, "line 2"),
]


@pytest.mark.parametrize("argv, stdin, code, line", INPUT_ROWS, ids=[" ".join(r[0][:2]) + (" <stdin" if r[1] else "")
                                                                     for r in INPUT_ROWS])
def test_input_is_text_or_latex_from_the_line_a_file_or_stdin(argv, stdin, code, line, capsys, monkeypatch):
    got, out, err = run(argv, capsys, stdin if stdin is not None else None, monkeypatch)
    assert got == code, err
    assert line in out


def test_expression_from_a_file(tmp_path, capsys):
    f = tmp_path / "f.txt"
    f.write_text("-(1/n)*sum(Y.*log(softmax(W*X)))\n")
    code, out, err = run(["derive", "--file", str(f), "--wrt", "W", "--assume", "Y=onehot", "--shape", "X=p,n",
                          "--no-verify"], capsys)
    assert code == 0, err
    assert "(1/n)*(softmax(W*X) - Y)*X'" in out


# (argv, stdin, the one-line error)
INPUT_ERROR_ROWS = [
    (["derive", "--wrt", "x"], None, "no expression"),
    (["derive", "x'*x", "--file", "-", "--wrt", "x"], "x'*x", "give the expression once"),
    (["check", "x'*x", "--expr", "x'*x", "--wrt", "x", "--claimed", "2*x"], None, "give the expression once"),
    (["derive", "--file", "/nonexistent/f.txt", "--wrt", "x"], None, "cannot read /nonexistent/f.txt"),
    (["derive", "-", "--wrt", "x"], "# only a comment\n", "stdin holds no expression"),
]


@pytest.mark.parametrize("argv, stdin, message", INPUT_ERROR_ROWS, ids=[r[2] for r in INPUT_ERROR_ROWS])
def test_bad_input_source_is_one_line(argv, stdin, message, capsys, monkeypatch):
    code, out, err = run(argv, capsys, stdin, monkeypatch)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


# -- output options and JSON ------------------------------------------------------------------


def test_layout_both_labels_each_layout(capsys):
    code, out, _ = run(["derive", "x'*A*x", "--wrt", "x", "--layout", "both", "--no-verify"], capsys)
    assert code == 0
    assert re.search(r"denominator:\s+\(A \+ A'\)\*x", out) and re.search(r"numerator:\s+x'\*\(A \+ A'\)", out)
    code, out, _ = run(["derive", "x'*A*x", "--wrt", "x", "--layout", "both", "--format", "json", "--no-verify"], capsys)
    both = json.loads(out)
    assert both["denominator"]["shape"] == ["n", 1] and both["numerator"]["shape"] == [1, "n"]
    assert both["numerator"]["layout"] == "numerator"


def _json(argv, capsys):
    code, out, err = run(argv + ["--format", "json"], capsys)
    assert code in (0, 1), err
    return json.loads(out)


# (argv, a path into the JSON, what it must be)
JSON_ROWS = [
    (["derive", "X*y", "--wrt", "X", "--no-verify"], ("shape",), ["m*n", "n"]),
    (["derive", "x'*A*x", "--wrt", "x", "--shape", "A=3,3"], ("variables", "A", "shape"), [3, 3]),
    (["derive", "lam*x'*x", "--wrt", "x", "--no-verify"], ("variables", "lam", "shape"), []),
    (["derive", "x'*A*x", "--wrt", "x"], ("verification", "trials", 0, "checks", 0, "method"), "direction"),
    (["hessian", "x'*A*x", "--wrt", "x", "--no-verify"], ("order",), 2),
    (["explain", "normF(W)^2", "--wrt", "W"], ("result", "result"), "2*W"),
    (["explain", "normF(W)^2", "--wrt", "W"], ("lines", 0, "text"), "f = normF(W)^2"),
    (["check", "tr(W'*W)", "--wrt", "W", "--claimed", "W"], ("expected", "shape"), ["n", "m"]),
    (["check", "tr(W'*W)", "--wrt", "W", "--claimed", "W"], ("mistake",), "factor"),
]


@pytest.mark.parametrize("argv, path, value", JSON_ROWS, ids=[f"{r[0][0]} {r[0][1]} {'.'.join(map(str, r[1]))}"
                                                             for r in JSON_ROWS])
def test_json_is_typed(argv, path, value, capsys):
    out = _json(argv, capsys)
    for k in path:
        out = out[k]
    assert out == value


def test_json_counterexample_entry_is_one_based_as_in_the_text(capsys):
    """The JSON entry is the text's "(i,j)" and indexes the expected value 1-based."""
    argv = ["check", "x'*A*x", "--wrt", "x", "--claimed", "2*A*x"]
    v = _json(argv, capsys)
    ce = v["counterexample"]
    i, j = ce["entry"]
    assert i >= 1 and j >= 1
    assert ce["expected_value"][i - 1][j - 1] == ce["expected"]
    code, text, _ = run(argv, capsys)
    assert f"entry ({i},{j})" in text


@pytest.mark.parametrize("fn, args", [
    (serialize.derivative_to_dict, lambda: (matcalc.derive("sum(exp(x))", wrt="x"), None)),
    (serialize.verdict_to_dict, lambda: (matcalc.check("x'*x", wrt="x", claimed="x"),)),
    (serialize.steps_to_dict, lambda: (matcalc.check_steps("tr(W'*W)\n= 2*tr(W'*W)"),)),
    (serialize.explanation_to_dict, lambda: (matcalc.explain("x'*x", wrt="x"),)),
    (serialize.report_to_dict, lambda: (matcalc.derive("sum(exp(x))", wrt="x").verify(),)),
])
def test_every_dict_is_plain_json(fn, args):
    out = fn(*args())
    assert json.loads(json.dumps(out)) == out  # no tuples, numpy scalars or objects


# -- shapes from case, with a hint ----------------------------------------------------------

# (expression, shapes, a text the error or the note must contain)
HINT_ROWS = [
    ("(y - w'*x)^2", None, "--shape y=scalar"),
    ("w'*x + z", None, "--shape z=scalar"),
    ("(y - w'*x)*A", {"A": ("n", "n")}, "--shape y=scalar"),
]


@pytest.mark.parametrize("expr, shapes, hint", HINT_ROWS, ids=[r[0] for r in HINT_ROWS])
def test_a_scalar_reading_that_type_checks_is_suggested(expr, shapes, hint):
    try:
        d = matcalc.derive(expr, wrt="w" if "w" in expr else "x", shapes=shapes)
    except matcalc.ShapeMismatchError as e:
        assert hint in str(e) and "\n" not in str(e)
        name = hint.split("=")[0].split()[-1]
        fixed = matcalc.derive(expr, wrt="w" if "w" in expr else "x", shapes={**(shapes or {}), name: ()})
        assert fixed.verify().ok
        return
    assert any(hint in n for n in d.notes), d.notes


def test_no_hint_when_no_scalar_reading_fits():
    with pytest.raises(matcalc.ShapeMismatchError) as e:
        matcalc.derive("A*x + B", wrt="x", shapes={"A": ("n", "m"), "B": ("n", "p")})
    assert "--shape" not in str(e.value)


# -- paste compatibility with matrixcalculus.org ----------------------------------------------

# (expression, wrt, the shape of each variable as read, the derivative's kind)
PASTE_ROWS = [
    ("0.5*x'*A*x", "x", {"x": "nx1", "A": "nxn"}, "gradient"),
    ("A*exp(x)", "x", {"A": "nxm", "x": "mx1"}, "jacobian"),
    ("(y.*v)'*x", "x", {"x": "nx1", "y": "nx1", "v": "nx1"}, "gradient"),
    ("a^b", "a", {"a": "scalar", "b": "scalar"}, "derivative"),
    ("norm1(A*x-y)", "x", {"A": "nxm", "x": "mx1"}, "gradient"),
    ("norm2(A*x-y)^2", "x", {"A": "nxm", "x": "mx1"}, "gradient"),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", {"X": "nxm", "w": "mx1"}, "gradient"),
    ("tr(A*X'*B*X*C)", "X", {"X": "pxm", "B": "pxp"}, "gradient"),
    ("log(det(inv(X)))", "X", {"X": "nxn"}, "gradient"),
    ("sin(x)'*y", "x", {"x": "nx1"}, "gradient"),
    ("c*x", "x", {"c": "scalar"}, "jacobian"),
    ("a*x'*x", "x", {"a": "scalar"}, "gradient"),
    # the Matrix Cookbook's a-g vectors: transposed, added to an array, or right of an array
    ("a'*X*b", "X", {"a": "nx1", "b": "mx1"}, "gradient"),
    ("x'*a", "x", {"a": "nx1"}, "gradient"),
    ("(B*x + b)'*C*(D*x + d)", "x", {"b": "nx1", "d": "px1"}, "gradient"),
    ("(X*b + c)'*D*(X*b + c)", "X", {"b": "mx1", "c": "nx1"}, "gradient"),
    ("c*a'*X*b", "X", {"c": "scalar", "a": "nx1"}, "gradient"),
    ("w'*x + b", "w", {"b": "scalar"}, "gradient"),
]


@pytest.mark.parametrize("expr, wrt, shapes, kind", PASTE_ROWS, ids=[r[0] for r in PASTE_ROWS])
def test_paste_from_matrixcalculus_org(expr, wrt, shapes, kind):
    d = matcalc.derive(expr, wrt=wrt)
    note = dict(item.split(": ") for item in d.shapes_note().split(", "))
    for name, shape in shapes.items():
        assert note[name] == shape, d.shapes_note()
    assert d.kind == kind
    assert d.verify().ok


# -- the elementwise functions matrixcalculus.org has ------------------------------------------

# (expression, wrt, shapes, SciPy-free reference derivative of sum(f(x)) as a NumPy function of x)
FUNCTION_ROWS = [
    ("tan", lambda x: 1 / np.cos(x) ** 2),
    ("arcsin", lambda x: 1 / np.sqrt(1 - x ** 2)),
    ("arccos", lambda x: -1 / np.sqrt(1 - x ** 2)),
    ("arctan", lambda x: 1 / (1 + x ** 2)),
]


@pytest.mark.parametrize("name, reference", FUNCTION_ROWS, ids=[r[0] for r in FUNCTION_ROWS])
def test_new_elementwise_function(name, reference):
    d = matcalc.derive(f"sum({name}(A*x))", wrt="x", shapes={"A": ("n", "m")})
    assert d.verify().ok  # finite differences at random non-square shapes
    rng = np.random.default_rng(1)
    A, x = rng.uniform(-0.3, 0.3, (4, 3)), rng.uniform(-0.3, 0.3, (3, 1))
    np.testing.assert_allclose(d.to_numpy()(A=A, x=x), A.T @ reference(A @ x), rtol=1e-12)
    # LaTeX in, text out, and the text parses back
    assert parse(str(d), shapes={"A": ("n", "m")}).expr == d.result
    latex = matcalc.parse_latex(rf"\{name}(x)").expr
    assert str(latex) == f"{name}(x)"


# -- the logistic loss compacts -----------------------------------------------------------

# (expression, wrt, functions the result must use, and must not)
LOGISTIC_ROWS = [
    ("sum(log(1 + exp(-y.*(X*w))))", "w", {"sigmoid"}, {"exp", "softplus"}),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", {"sigmoid"}, {"exp"}),
    ("log(1 + exp(w'*x))", "w", {"sigmoid"}, {"exp"}),
    ("sum(vector(1)./(vector(1) + exp(-x)))", "x", {"sigmoid"}, {"exp"}),
]


@pytest.mark.parametrize("expr, wrt, uses, avoids", LOGISTIC_ROWS, ids=[r[0] for r in LOGISTIC_ROWS])
def test_logistic_forms_compact_to_sigmoid(expr, wrt, uses, avoids):
    from matcalc import expr as E

    d = matcalc.derive(expr, wrt=wrt)
    names = {n.fname for n in E.walk(d.result) if isinstance(n, E.Apply)}
    assert uses <= names and not (avoids & names), str(d)
    assert d.verify().ok


def test_logistic_loss_is_the_sigma_form():
    """-X'*(y.*sigmoid(-y.*(X*w))), up to the order of the elementwise factors."""
    from matcalc import expr as E

    d = matcalc.derive("sum(log(1 + exp(-y.*(X*w))))", wrt="w")
    r = d.result
    assert isinstance(r, E.MatMul) and r.args[0] == E.const(-1) and str(r.args[1]) == "X'"
    h = r.args[2]
    assert isinstance(h, E.Hadamard) and {str(f) for f in h.args} == {"y", "sigmoid(-(y.*(X*w)))"}


# -- notebooks ---------------------------------------------------------------------------

NOTEBOOK_ROWS = [
    ("Verdict", lambda: matcalc.check("(lambd/(2*m))*normF(W1)^2", wrt="W1", claimed="lambd*sum(W1)/m"),
     "_repr_html_", "sum-instead-of-matrix"),
    ("Verdict correct", lambda: matcalc.check("x'*x", wrt="x", claimed="2*x"), "_repr_html_", "correct"),
    ("Report", lambda: matcalc.derive("x'*A*x", wrt="x").verify(), "_repr_html_", "verified"),
    ("StepsReport", lambda: matcalc.check_steps((ROOT / "examples" / "least_squares_wrong_step.txt").read_text(),
                                                wrt="theta"), "_repr_html_", "does not follow"),
    ("Explanation", lambda: matcalc.explain("normF(W)^2", wrt="W"), "_repr_latex_", r"\begin{aligned}"),
]


@pytest.mark.parametrize("what, make, method, content", NOTEBOOK_ROWS, ids=[r[0] for r in NOTEBOOK_ROWS])
def test_results_display_compactly_in_a_notebook(what, make, method, content):
    obj = make()
    r = repr(obj)
    assert r.startswith(f"<{what.split()[0]} ") and "\n" not in r and len(r) <= 250, r
    view = getattr(obj, method)()
    assert content in view and len(view) < 2500
    if method == "_repr_html_":
        assert "<table>" in view and "&lt;" not in r
    else:
        assert view.startswith("$$") and view.endswith("$$")


def test_html_escapes_the_users_text():
    r = matcalc.check_steps("x'*x\n= 2*x'*x")  # a wrong step: its text is shown
    html = r._repr_html_()
    assert "x&#x27;*x" in html and "x'*x" not in html
