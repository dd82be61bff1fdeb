"""Engine tests as tables: simplification rules, printers, NumPy code, bad input, verification."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import expr as E
from matcalc import simplify as S
from matcalc.api import Derivative
from matcalc.cli import main
from matcalc.emit.latex import to_latex
from matcalc.emit.numpy import compile_expr
from matcalc.emit.text import to_text
from matcalc.parse import parse

RNG = np.random.default_rng(7)
SIZES = {"n": 4, "m": 3, "p": 5, "q": 2, "k": 6, "r": 7, "N": 8}


def _point(p, sizes=SIZES, positive=False):
    """Random arrays for the variables of a parsed expression at distinct sizes."""
    vals = {}
    for name, v in p.variables.items():
        if "dimension" in v.assume:
            continue
        r = int(v.rows.subs({s: sizes[str(s)] for s in v.rows.free_symbols}))
        c = int(v.cols.subs({s: sizes[str(s)] for s in v.cols.free_symbols}))
        if v.is_scalar:
            vals[name] = float(RNG.uniform(0.5, 2))
        elif "onehot" in v.assume:
            m = np.zeros((r, c))
            m[RNG.integers(r, size=c), np.arange(c)] = 1
            vals[name] = m
        elif "symmetric" in v.assume:
            b = RNG.normal(size=(r, r))
            vals[name] = b + b.T + 2 * r * np.eye(r)
        elif positive:
            vals[name] = RNG.uniform(0.5, 1.5, size=(r, c)) + (2 * r * np.eye(r) if r == c else 0)
        else:
            vals[name] = RNG.normal(size=(r, c)) + (2 * r * np.eye(r) if r == c else 0)
    return vals


def _value(e, p, point):
    sizes = {k: v for k, v in SIZES.items() if k not in point}  # sizes that no input array carries
    return compile_expr(e, list(p.variables.values()))(**point, **sizes)


# -- simplification rules: each row fires the rule, and the rewrite keeps the value ------------

RULE_ROWS = [
    # (rule, input, shapes, assume, expected after the rule)
    (S.transpose_push, "(A*B')'", {"A": "n,m", "B": "p,m"}, {}, "B*A'"),
    (S.transpose_push, "(A' + B')'", {"A": "n,m", "B": "n,m"}, {}, "A + B"),
    (S.transpose_push, "exp(A)'", {"A": "n,m"}, {}, "exp(A')"),
    (S.transpose_push, "(A'.*B)'", {"A": "n,m", "B": "m,n"}, {}, "A.*B'"),
    (S.transpose_out_of_sum, "A'*B' + C'", {"A": "n,m", "B": "p,n", "C": "p,m"}, {}, "(B*A + C)'"),
    (S.sign_times_self, "sign(x).*x", {"x": "n"}, {}, "abs(x)"),
    (S.relu_times_step, "relu(x).*step(x)", {"x": "n"}, {}, "relu(x)"),
    (S.kron_mixed_product, "kron(A, B)*kron(C, D)", {"A": "n,m", "B": "p,q", "C": "m,k", "D": "q,r"}, {}, "kron(A*C, B*D)"),
    (S.kron_commutation, "kron(a', B)*commutation(n, m)", {"a": "n", "B": "p,m"}, {}, "kron(B, a')"),
    (S.kron_of_vectors, "kron(u', v)", {"u": "n", "v": "m"}, {}, "v*u'"),
    (S.factor_common_kron, "kron(a, B) - 2*kron(a, C)", {"a": "n", "B": "m,p", "C": "m,p"}, {}, "kron(a, B - 2*C)"),
    (S.trace_of_kron, "tr(kron(A, B))", {"A": "n,n", "B": "m,m"}, {}, "tr(A)*tr(B)"),
    (S.det_of_product, "det(A*X*B)", {"A": "n,n", "X": "n,n", "B": "n,n"}, {}, "det(A)*det(X)*det(B)"),
    (S.det_of_product, "det(X^3)", {"X": "n,n"}, {}, "det(X)^3"),
    (S.transpose_symmetric, "(A + A')'", {"A": "n,n"}, {}, "A + A'"),
    (S.transpose_symmetric, "(X'*X)'", {"X": "n,m"}, {}, "X'*X"),
    (S.inverse_of_transpose, "inv(X')", {"X": "n,n"}, {}, "inv(X)'"),
    (S.inverse_of_scaled, "inv(2*X)", {"X": "n,n"}, {}, "(1/2)*inv(X)"),
    (S.collect_scalar_powers, "normF(W)*(1/normF(W))*W", {"W": "n,m"}, {}, "W"),
    (S.collect_scalar_powers, "det(X)*det(X)*A", {"X": "n,n", "A": "n,m"}, {}, "det(X)^2*A"),
    (S.ones_product, "vector(1)*vector(1)'*A", {"A": "n,m"}, {}, "matrix(1)*A"),
    (S.diag_ones, "diag(s)*matrix(1)*diag(s)", {"s": "n"}, {}, "s*vector(1)'*diag(s)"),
    (S.inverse_cancel, "A*X*inv(X)", {"A": "m,n", "X": "n,n"}, {}, "A"),
    (S.merge_powers, "X*X*X", {"X": "n,n"}, {}, "X^3"),
    (S.negate_difference, "-2*(a - b)", {"a": "n", "b": "n"}, {}, "2*(b - a)"),
    (S.hadamard_pull_scalars, "A.*(3*B)", {"A": "n,m", "B": "n,m"}, {}, "3*(A.*B)"),
    (S.hadamard_powers, "A.*A", {"A": "n,m"}, {}, "A.^2"),
    (S.sum_of_hadamard, "sum(a.*b)", {"a": "n", "b": "n"}, {}, "a'*b"),
    (S.trace_of_scaled, "tr(2*X + Y)", {"X": "n,n", "Y": "n,n"}, {}, "2*tr(X) + tr(Y)"),
    (S.power_of_sqrt, "sqrt(s)^2", {"s": ()}, {}, "s"),
    (S.power_of_sqrt, "(x.^2).^(1/2)", {"x": "n"}, {}, "abs(x)"),
    (S.power_of_sqrt, "(x.^(1/2)).^4", {"x": "n"}, {}, "x.^2"),
    (S.sigmoid_complement, "y.*sigmoid(-z) - sigmoid(z)", {"z": "n"}, {}, "y.*(vector(1) - sigmoid(z)) - sigmoid(z)"),
    (S.log_of_one_plus_exp, "log(vector(1) + exp(-z))", {"z": "n"}, {}, "softplus(-z)"),
    (S.log_of_one_plus_exp, "log(exp(z) + vector(1))", {"z": "n"}, {}, "softplus(z)"),
    (S.log_of_one_plus_exp, "log(1 + exp(x'*z))", {"z": "n"}, {}, "softplus(x'*z)"),
    (S.sigmoid_of_exp, "(vector(1) + exp(-z)).^(-1)", {"z": "n"}, {}, "sigmoid(z)"),
    (S.sigmoid_of_exp, "(exp(z) + vector(1)).^(-1)", {"z": "n"}, {}, "sigmoid(-z)"),
    (S.sigmoid_of_exp, "exp(z).*sigmoid(-z)", {"z": "n"}, {}, "sigmoid(z)"),
    (S.sigmoid_of_exp, "y.*exp(-z).*sigmoid(z)", {"z": "n"}, {}, "y.*sigmoid(-z)"),
    (S.exp_log, "exp(log(x))", {"x": "n"}, {}, "x"),
    (S.collect_like_terms, "A + 2*A", {"A": "n,m"}, {}, "3*A"),
    (S.factor_common_scalar, "lam*A + lam*B", {"A": "n,m", "B": "n,m"}, {}, "lam*(A + B)"),
    (S.factor_common_chain, "A*x + B*x", {"A": "n,n", "B": "n,n", "x": "n"}, {}, "(A + B)*x"),
    (S.factor_common_chain, "X*a + X*b", {"X": "n,m", "a": "m", "b": "m"}, {}, "X*(a + b)"),
    (S.expand_elementwise, "y.*(vector(1) - s) - (vector(1) - y).*s", {"y": "n", "s": "n"}, {}, "y - s"),
    (S.diag_of_ones, "diag(vector(1))", {}, {}, "eye(n)"),
    (S.diag_of_outer, "diag(u*v')", {"u": "n", "v": "n"}, {}, "u.*v"),
    (S.log_of_softmax, "log(softmax(Z))", {"Z": "k,n"}, {}, "Z - vector(1)*logsumexp(Z)"),
    (S.log_of_sigmoid, "log(sigmoid(z))", {"z": "n"}, {}, "-softplus(-z)"),
    (S.log_of_sigmoid, "log(vector(1) - sigmoid(z))", {"z": "n"}, {}, "-softplus(z)"),
    (S.log_of_det, "log(det(X))", {"X": "n,n"}, {}, "logdet(X)"),
    (S.log_of_exp_sum, "log(sum(exp(z)))", {"z": "n"}, {}, "logsumexp(z)"),
]


def _find(e, cls):
    return next(n for n in E.walk(e) if isinstance(n, cls))


@pytest.mark.parametrize("rule, text, shapes, assume, expected", RULE_ROWS,
                         ids=[f"{r[0].__name__}:{r[1]}" for r in RULE_ROWS])
def test_rule(rule, text, shapes, assume, expected):
    p = parse(text, shapes=shapes, assume=assume)
    types = [t for table in (S.RULES, S.PREPARE) for t, rules in table.items() if rule in rules]
    node_type = type(p.expr) if type(p.expr) in types else types[0]
    target = _find(p.expr, node_type)
    out = rule(target)
    assert out != target, "the rule did not fire"
    rewritten = out if target is p.expr else _replace(p.expr, target, out)
    exp = parse(expected, shapes={**shapes, **{k: tuple(map(str, v.shape)) for k, v in p.variables.items() if "dimension" not in v.assume}}, assume=assume)
    # the rewrite keeps the value at a random non-square point
    # unrestricted entries unless the expression needs positive ones: a rule right only for x > 0 must fail here
    pt = _point(p)
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(_value(p.expr, p, pt))):
            pt = _point(p, positive=True)
    np.testing.assert_allclose(_value(rewritten, p, pt), _value(p.expr, p, pt), rtol=1e-9, atol=1e-9)
    # and it is the documented identity
    assert S.simplify(rewritten) == S.simplify(exp.expr)


def _replace(e, old, new):
    if e == old:
        return new
    if not e.children:
        return e
    return e.rebuild([_replace(c, old, new) for c in e.children])


# -- printers ------------------------------------------------------------------------------

ROUND_TRIP = [
    ("x'*A*x", {}), ("(A + A')*x", {}), ("(1/n)*(softmax(W*X) - Y)*X'", {"X": "p,n"}),
    ("lam/m*W", {}), ("(2/N)*X'*(X*theta - y)", {"X": "N,p"}), ("inv(X)'", {}), ("det(X)*inv(X)'", {}),
    ("sigmoid(w'*x)*(1 - sigmoid(w'*x))*x", {}), ("diag(s) - s*s'", {}), ("kron(B, A')", {}),
    ("x/norm2(x)", {}), ("A.*B - 2*C", {}), ("X.^2 + exp(-X)", {}), ("-(A*x)", {}), ("tr(X)^2*eye(n)", {"X": "n,n"}),
    ("logsumexp(Z)", {}), ("sum(x)*vector(1)", {}), ("(x'*y)*A", {}), ("1/(x'*x)", {}), ("X^3 - 2*X", {}),
    ("relu(W*X + matrix(1))", {}), ("2*kron(eye(m), eye(n)) + kron(A, B)", {"A": "m,m", "B": "n,n"}), ("norm1(x) + normF(W)", {}), ("logdet(S)", {}), ("commutation(n, m)", {}),
]


@pytest.mark.parametrize("text, shapes", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_text_round_trip(text, shapes):
    p = parse(text, shapes=shapes)
    printed = to_text(p.expr)
    declared = {k: tuple(map(str, v.shape)) for k, v in p.variables.items() if "dimension" not in v.assume}
    q = parse(printed, shapes=declared)
    assert S.simplify(q.expr) == S.simplify(p.expr), printed
    if not any(isinstance(n, E.Commutation) for n in E.walk(p.expr)):
        pt = _point(p, positive=True)
        np.testing.assert_allclose(_value(q.expr, q, pt), _value(p.expr, p, pt), rtol=1e-9)


LATEX_ROWS = [
    ("x'*A*x", "x^{\\top} A x"),
    ("inv(X)'", "X^{-\\top}"),
    ("A.*B", "A \\odot B"),
    ("kron(A, B)", "A \\otimes B"),
    ("tr(W'*W)", "\\operatorname{tr}\\left(W^{\\top} W\\right)"),
    ("sigmoid(z)", "\\sigma\\left(z\\right)"),
    ("softmax(z)", "\\operatorname{softmax}\\left(z\\right)"),
    ("diag(x)", "\\operatorname{diag}\\left(x\\right)"),
    ("normF(W)", "\\left\\lVert W \\right\\rVert_{F}"),
    ("norm2(x)", "\\left\\lVert x \\right\\rVert_{2}"),
    ("(lam/m)*W", "\\frac{\\lambda}{m} W"),
    ("logdet(X)", "\\log\\det\\left(X\\right)"),
    ("X.^2", "X^{\\circ 2}"),
    ("theta'*x", "\\theta^{\\top} x"),
]


@pytest.mark.parametrize("text, latex", LATEX_ROWS, ids=[r[0] for r in LATEX_ROWS])
def test_latex(text, latex):
    assert to_latex(parse(text).expr) == latex


class _Unknown(E.Expr):
    def __init__(self):
        super().__init__((), (E.ONE, E.ONE))


@pytest.mark.parametrize("printer", [to_text, to_latex, lambda e: compile_expr(e, [])])
def test_printers_fail_loudly_on_unknown_nodes(printer):
    with pytest.raises(TypeError, match="_Unknown"):
        printer(_Unknown())


# -- NumPy code ------------------------------------------------------------------------------

def test_float32_stays_float32():
    d = matcalc.derive("-(1/n)*sum(Y.*log(softmax(W*X)))", wrt="W", shapes={"X": ("p", "n")}, assume={"Y": "onehot"})
    g = d.to_numpy()
    W = RNG.normal(size=(3, 5)).astype(np.float32)
    X = RNG.normal(size=(5, 7)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[:, RNG.integers(3, size=7)]
    out = g(W=W, X=X, Y=Y)
    assert out.dtype == np.float32 and out.shape == (3, 5)
    ref = g(W=W.astype(np.float64), X=X.astype(np.float64), Y=Y.astype(np.float64))
    assert ref.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)


def test_logits_of_1e4_do_not_overflow():
    d = matcalc.derive("-(1/n)*sum(Y.*log(softmax(W*X)))", wrt="W", shapes={"X": ("p", "n")}, assume={"Y": "onehot"})
    W = np.array([[1e4, 0.0], [0.0, 1e4], [-1e4, 0.0]])
    X = np.eye(2)
    Y = np.eye(3)[:, [1, 0]]
    loss = d.function_numpy()(W=W, X=X, Y=Y)
    grad = d.to_numpy()(W=W, X=X, Y=Y)
    assert np.isfinite(loss) and loss > 1e3
    assert np.all(np.isfinite(grad))


def test_vectors_may_be_one_dimensional_and_source_is_readable():
    d = matcalc.derive("x'*A*x", wrt="x")
    g = d.to_numpy()
    A = RNG.normal(size=(4, 4))
    x = RNG.normal(size=4)
    np.testing.assert_allclose(g(x=x, A=A), ((A + A.T) @ x).reshape(4, 1))
    assert "def derivative(" in g.source and "@" in g.source


def test_compiled_function_checks_shapes():
    g = matcalc.derive("a'*X*b", wrt="X").to_numpy()
    with pytest.raises(ValueError, match="expected shape"):
        g(a=np.ones(3), X=np.ones((3, 4)), b=np.ones(5))


# -- bad input: one table, one body ------------------------------------------------------------

BAD = [
    ("syntax: dangling operator", lambda: matcalc.derive("x'*A*", wrt="x"), matcalc.ParseError, "unexpected end of input at column 6"),
    ("syntax: unbalanced", lambda: matcalc.derive("(x'*A*x", wrt="x"), matcalc.ParseError, "unexpected end of input"),
    ("syntax: bad character", lambda: matcalc.derive("x'*A#x", wrt="x"), matcalc.ParseError, "unexpected character '#' at column 5"),
    ("syntax: empty", lambda: matcalc.derive("  ", wrt="x"), matcalc.ParseError, "empty"),
    ("unknown function", lambda: matcalc.derive("foo(x)", wrt="x"), matcalc.ParseError, "unknown function 'foo' at column 1"),
    ("function without call", lambda: matcalc.derive("exp*x", wrt="x"), matcalc.ParseError, "'exp' is a function"),
    ("wrong arity", lambda: matcalc.derive("tr(A, B)", wrt="A"), matcalc.ParseError, "tr takes 1 argument, got 2"),
    ("x*A with x n x 1", lambda: matcalc.derive("x*A", wrt="x", shapes={"x": ("n", 1)}), matcalc.ShapeMismatchError,
     "matrix product: x is nx1 but A is"),
    ("sum of mismatched shapes", lambda: matcalc.derive("A + B", wrt="A", shapes={"A": "n,m", "B": "m,n"}),
     matcalc.ShapeMismatchError, "sum: A is nxm but B is mxn"),
    ("trace of a non-square", lambda: matcalc.derive("tr(A)", wrt="A", shapes={"A": "n,m"}), matcalc.ShapeMismatchError,
     "tr of a non-square matrix: A is nxm"),
    ("division by a matrix", lambda: matcalc.derive("x/A", wrt="x", shapes={"A": "n,n"}), matcalc.ShapeMismatchError,
     "division by a non-scalar"),
    ("absent variable", lambda: matcalc.derive("x'*A*x", wrt="y"), matcalc.MatcalcError, "does not depend on y"),
    ("wrt an integer exponent", lambda: matcalc.derive("tr(X^k)", wrt="k"), matcalc.MatcalcError,
     "cannot differentiate with respect to k: it is an integer exponent or a dimension"),
    ("wrt a dimension", lambda: matcalc.derive("sum(ones(m, n))", wrt="m"), matcalc.MatcalcError,
     "cannot differentiate with respect to m: it is an integer exponent or a dimension"),
    ("bad layout", lambda: matcalc.derive("x'*x", wrt="x", layout="row"), matcalc.MatcalcError, "layout must be"),
    ("bad assumption", lambda: matcalc.derive("x'*A*x", wrt="x", assume={"A": "hermitian"}), ValueError, "unknown assumption 'hermitian'"),
    ("symmetric non-square", lambda: matcalc.derive("x'*A*y", wrt="x", shapes={"A": "n,m"}, assume={"A": "symmetric"}),
     matcalc.ShapeMismatchError, "A is assumed symmetric"),
    ("100 KB long", lambda: matcalc.derive("+".join(["x"] * 50_000), wrt="x"), matcalc.ParseError, "characters long; the limit is"),
    ("nested 1000 deep", lambda: matcalc.derive("(" * 1000 + "x" + ")" * 1000, wrt="x"), matcalc.ParseError,
     "nested 1000 levels deep"),
    ("deep unary chain", lambda: matcalc.derive("-" * 5000 + "x", wrt="x"), matcalc.ParseError, "nested more than"),
    ("hessian of a vector", lambda: matcalc.hessian("A*x", wrt="x"), matcalc.MatcalcError, "needs a scalar function"),
    ("huge matrix power", lambda: matcalc.derive("X^100000", wrt="X"), matcalc.ShapeMismatchError,
     "the matrix power 100000 is too large"),
    ("number out of range", lambda: matcalc.derive("1e999*x'*x", wrt="x"), matcalc.ParseError, "outside the range of a float"),
    ("shape of the wrong type", lambda: matcalc.derive("x'*x", wrt="x", shapes={"x": 3.5}), matcalc.ShapeMismatchError,
     "a shape is a tuple"),
    ("shapes not a dict", lambda: matcalc.derive("x'*x", wrt="x", shapes=[1, 2]), matcalc.ShapeMismatchError,
     "shapes is a dict"),
    ("assumption of the wrong type", lambda: matcalc.derive("x'*x", wrt="x", assume={"x": 5}), ValueError,
     "the assumptions of x are names"),
    ("commutation of a fraction", lambda: matcalc.derive("tr(commutation(1.5, 2))", wrt="x"), matcalc.ShapeMismatchError,
     "takes positive integers or dimension names, got 1.5"),
]


@pytest.mark.parametrize("call, error, message", [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_bad_input(call, error, message):
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert message in text
    assert "\n" not in text


# -- verification catches wrong derivatives ---------------------------------------------------

WRONG = [
    ("x'*A*x", "x", {}, "A*x"),  # missing symmetric part
    ("tr(W'*W)", "W", {}, "W"),  # missing factor 2
    ("a'*X*b", "X", {}, "b*a'"),  # transposed
    ("log(det(X))", "X", {}, "inv(X)"),  # inverse not transposed
]


@pytest.mark.parametrize("text, wrt, shapes, wrong", WRONG, ids=[f"{r[0]}~{r[3]}" for r in WRONG])
def test_verify_rejects_a_wrong_result(text, wrt, shapes, wrong):
    d = matcalc.derive(text, wrt=wrt, shapes=shapes)
    bad = parse(wrong, shapes={k: tuple(map(str, v.shape)) for k, v in d.variables.items()}).expr
    fake = Derivative(d.function, d.wrt, "denominator", bad, d.other, d.variables, d.kind)
    with pytest.raises(matcalc.VerificationError) as info:
        fake.verify()
    ce = info.value.counterexample
    assert set(ce) >= {"dims", "point", "analytic", "numeric"}
    assert abs(ce["analytic"] - ce["numeric"]) > 1e-3
    assert not info.value.report.ok


def test_report_states_what_was_checked():
    r = matcalc.derive("a'*X*b", wrt="X").verify()
    assert r.ok and r.max_rel_error < 1e-6 and r.tolerance == 1e-5
    assert len(r.trials) == 3 and any(1 in t.dims.values() for t in r.trials)
    assert any(len(set(t.dims.values())) > 1 for t in r.trials)  # non-square
    assert "agrees with SymPy" in r.explicit
    assert "central differences" in str(r)


# -- the CLI -----------------------------------------------------------------------------------

def test_cli_derive(capsys):
    assert main(["derive", "x'*A*x", "--wrt", "x", "--assume", "A=symmetric"]) == 0
    out = capsys.readouterr().out
    assert "2*A*x" in out and "verified" in out


def test_cli_numerator_latex(capsys):
    assert main(["derive", "x'*A*x", "--wrt", "x", "--layout", "numerator", "--format", "latex", "--no-verify"]) == 0
    assert "x^{\\top} \\left(A + A^{\\top}\\right)" in capsys.readouterr().out


def test_cli_expression_starting_with_minus(capsys):
    assert main(["derive", "-(1/n)*sum(Y.*log(softmax(W*X)))", "--wrt", "W", "--assume", "Y=onehot",
                 "--shape", "X=p,n", "--format", "json", "--no-verify"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "(1/n)*(softmax(W*X) - Y)*X'" and out["layout"] == "denominator"


def test_cli_parse_error_has_a_caret(capsys):
    assert main(["derive", "x'*A*(x", "--wrt", "x"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "matcalc: error: unexpected end of input at column 8"
    assert err[2].index("^") == 2 + 7


def test_cli_shape_error_is_one_line(capsys):
    assert main(["derive", "x*A", "--wrt", "x", "--shape", "x=n,1"]) == 2
    err = capsys.readouterr().err
    assert "x is nx1 but A is" in err


def test_docs_rules_are_current():
    import pathlib
    import runpy

    root = pathlib.Path(__file__).resolve().parents[1]
    render = runpy.run_path(str(root / "docs" / "make_rules.py"))["render"]
    assert (root / "docs" / "rules.md").read_text() == render(), "run python docs/make_rules.py"


# -- results that are right only for positive entries must not pass ----------------------------

SIGN_TRAPS = [
    # (function, variable, textbook derivative valid for every real entry)
    ("sum((x.^2).^(1/2))", "x", "sign(x)"),
    ("sum((x.^2).^(3/2))", "x", "3*abs(x).*x"),
    ("sum(abs(x).^3)", "x", "3*abs(x).*x"),
    ("(x'*x)^(1/2)", "x", "x/norm2(x)"),
]


@pytest.mark.parametrize("text, wrt, expected", SIGN_TRAPS, ids=[r[0] for r in SIGN_TRAPS])
def test_no_positive_only_answers(text, wrt, expected):
    d = matcalc.derive(text, wrt=wrt)
    assert d.verify().ok
    p = parse(expected, shapes={k: tuple(map(str, v.shape)) for k, v in d.variables.items()})
    x = -np.abs(RNG.normal(size=(5, 1))) - 0.1  # negative entries
    got = compile_expr(d.result, list(d.variables.values()))(x=x)
    np.testing.assert_allclose(got, compile_expr(p.expr, list(p.variables.values()))(x=x), rtol=1e-10)


def test_elementwise_division_of_a_number():
    # 1./x is 1 ./ x (MATLAB), not the number 1. divided by x
    p = parse("1./x")
    assert p.variables["x"].shape == (E.dim("n"), E.ONE)
    assert p.expr == E.power(p.variables["x"], E.const(-1))


@pytest.mark.parametrize("names", [{"_d_n": (), "x": ("n_", 1)}, {"np": (), "np_": ()}, {"dims": (), "dims_": ()},
                                   {"lambda": (), "lambda_": ()}, {"if": (), "if_": ()}])
def test_generated_code_names_never_collide(names):
    scalars = [k for k, v in names.items() if v == ()]
    text = f"{scalars[0]}*x'*x + " + (f"{scalars[1]}*sum(x)" if len(scalars) > 1 else "sum(x)")
    d = matcalc.derive(text, wrt="x", shapes=names)
    args = {k: float(i + 2) for i, k in enumerate(scalars)}
    x = RNG.normal(size=(4, 1))
    g = d.to_numpy()(x=x, **args)
    c = args.get(scalars[1], 1.0) if len(scalars) > 1 else 1.0
    np.testing.assert_allclose(g, 2 * args[scalars[0]] * x + c)


def test_a_sum_of_many_terms_compiles():
    text = " + ".join(f"x'*A{i}*x" for i in range(400))
    g = matcalc.derive(text, wrt="x").to_numpy()
    As = {f"A{i}": RNG.normal(size=(3, 3)) for i in range(400)}
    x = RNG.normal(size=(3, 1))
    np.testing.assert_allclose(g(x=x, **As), sum((A + A.T) @ x for A in As.values()), rtol=1e-10)


def test_integer_inputs_take_the_float_dtype_of_the_others():
    g = matcalc.derive("-(1/n)*sum(Y.*log(softmax(W*X)))", wrt="W", shapes={"X": ("p", "n")},
                       assume={"Y": "onehot"}).to_numpy()
    W = RNG.normal(size=(3, 4)).astype(np.float32)
    X = RNG.normal(size=(4, 5)).astype(np.float32)
    Y = np.eye(3, dtype=np.int8)[:, [0, 1, 2, 0, 1]]
    assert g(W=W, X=X, Y=Y).dtype == np.float32
    assert g(W=W.astype(np.float64), X=X, Y=Y).dtype == np.float64


KINK_NOTES = [
    ("sum(relu(x))", "relu is not differentiable at 0"),
    ("norm1(x)", "norm1 is not differentiable at 0"),
    ("sum(relu(x)) + sum(abs(x))", "abs and relu are not differentiable at 0"),
    ("norm1(x) + sum(relu(x)) + sum(abs(x))", "abs, norm1 and relu are not differentiable at 0"),
]


@pytest.mark.parametrize("text,note", KINK_NOTES)
def test_kink_notes_read_naturally(text, note):
    assert f"holds almost everywhere: {note}" in matcalc.derive(text, wrt="x").notes
