"""The SymPy bridge: round trips, SymPy input to derive, SymPy output checked numerically.

Tables, one row per case.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy.matrices.expressions.matexpr import MatrixExpr

import matcalc
from matcalc import expr as E
from matcalc import parse
from matcalc.sympy_bridge import (
    CommutationMatrix,
    EntrySum,
    LogSumExp,
    Norm1,
    Norm2,
    Softmax,
    SympyConversionError,
    Vec,
    from_sympy,
    relu,
    sigmoid,
    softplus,
    to_sympy,
)

# -- round trip: text -> matcalc -> SymPy -> matcalc -----------------------------------

MN = {"A": ("n", "m"), "X": ("m", "p"), "B": ("p", "n")}

ROUND_TRIP = [
    # (text, shapes, assume)
    ("x'*A*x", None, None),
    ("tr(A*X*B)", MN, None),
    ("det(X)", None, None),
    ("logdet(X)", None, None),
    ("inv(X) + X'", None, None),
    ("X^3 - 2*X", None, None),
    ("normF(A*X - B)^2", {"A": ("n", "m"), "X": ("m", "p")}, None),
    ("norm2(x) + norm1(x)", None, None),
    ("sum(exp(A*x))", {"A": ("n", "m")}, None),
    ("A.*B + A./B", None, None),
    ("X.^3", None, None),
    ("sigmoid(A*x) - softplus(y)", {"A": ("n", "m")}, None),
    ("relu(W*x) + step(W*x)", {"W": ("n", "m")}, None),
    ("sqrt(x) .* tanh(x) + abs(x) .* sign(x)", None, None),
    ("sin(X) + cos(X)", None, None),
    ("softmax(W*X)", {"W": ("k", "p"), "X": ("p", "n")}, None),
    ("-(1/n)*sum(Y.*log(softmax(W*X)))", {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}, {"Y": "onehot"}),
    ("logsumexp(x) + sum(logsumexp(X))", None, None),
    ("vec(X)", {"X": ("n", "m")}, None),
    ("commutation(m, n)*vec(X)", {"X": ("m", "n")}, None),
    ("kron(A, B)", {"A": ("n", "m"), "B": ("p", "q")}, None),
    ("diag(x)*A + diag(diag(A))", None, None),
    ("tr(eye(n)*X) + alpha^2*lam", {"X": ("n", "n")}, None),
    ("exp(alpha)*x + vector(1)/lam", None, None),
    ("(x'*A*x)*B + tr(B)*A", {"A": ("n", "n"), "B": ("n", "n")}, None),
    ("x'*S*x", None, {"S": "symmetric"}),
    ("logdet(S) - tr(S*C)", None, {"S": "spd"}),
    ("1.5*x + 2*y", None, None),
    ("matrix(0) + X", None, None),
    ("log(alpha) + exp(lam)/alpha", None, None),
]


@pytest.mark.parametrize("text, shapes, assume", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_round_trip(text, shapes, assume):
    p = parse(text, shapes=shapes, assume=assume)
    s = to_sympy(p.expr)
    q = from_sympy(s, assume=assume)
    assert q.expr == p.expr, f"{text}: came back as {q.text} from {s}"
    assert q.variables == {k: v for k, v in p.variables.items()}
    assert isinstance(s, MatrixExpr) != p.expr.is_scalar, f"{text}: {type(s).__name__} for shape {p.expr.shape}"


SCALAR_NODES = [
    ("tr(X)", sympy.Trace),
    ("det(X)", sympy.Determinant),
    ("logdet(X)", sympy.log),
    ("sum(X)", EntrySum),
    ("norm1(X)", Norm1),
    ("normF(X)", Norm2),
    ("x'*A*x", sympy.Trace),
    ("logsumexp(x)", sympy.Trace),
]


@pytest.mark.parametrize("text, cls", SCALAR_NODES, ids=[r[0] for r in SCALAR_NODES])
def test_scalar_nodes_are_sympy_scalars(text, cls):
    s = to_sympy(parse(text).expr)
    assert isinstance(s, cls) and not isinstance(s, MatrixExpr)
    assert s.is_commutative


def test_custom_classes_print_and_rebuild():
    n, m = sympy.symbols("n m", integer=True, positive=True)
    X = sympy.MatrixSymbol("X", n, m)
    for obj, text in [(Softmax(X), "softmax(X)"), (LogSumExp(X), "logsumexp(X)"), (Vec(X), "vec(X)"),
                      (CommutationMatrix(n, m), "commutation(n, m)"), (EntrySum(X), "sum(X)"),
                      (Norm1(X), "norm1(X)"), (Norm2(X), "norm2(X)")]:
        assert str(obj) == text
        assert obj.func(*obj.args) == obj
        assert sympy.latex(obj)
    assert Vec(X).shape == (n * m, 1) and LogSumExp(X).shape == (1, m) and CommutationMatrix(n, m).shape == (n * m, n * m)


def test_custom_classes_evaluate_explicitly():
    M = sympy.ImmutableMatrix([[1, 2, 0], [3, -4, 5]])
    assert Vec(M).doit() == sympy.ImmutableMatrix([1, 3, 2, -4, 0, 5])
    assert EntrySum(M).doit() == 7 and Norm1(M).doit() == 15 and Norm2(M).doit() == sympy.sqrt(55)
    K = CommutationMatrix(2, 3).doit()
    assert K * Vec(M).doit() == Vec(M.T).doit()
    sm = np.array(Softmax(M).doit().evalf(), dtype=float)
    np.testing.assert_allclose(sm.sum(axis=0), 1.0)
    lse = np.array(LogSumExp(M).doit().evalf(), dtype=float)
    np.testing.assert_allclose(lse, np.log(np.exp(np.array(M, dtype=float)).sum(axis=0, keepdims=True)))


ELEMENTWISE = [
    (sigmoid, lambda x: 1 / (1 + sympy.exp(-x)), lambda x: sigmoid(x) * (1 - sigmoid(x))),
    (softplus, lambda x: sympy.log(1 + sympy.exp(x)), sigmoid),
    (relu, lambda x: sympy.Max(x, 0), lambda x: sympy.Heaviside(x, 0)),
]


@pytest.mark.parametrize("fn, formula, derivative", ELEMENTWISE, ids=[r[0].__name__ for r in ELEMENTWISE])
def test_elementwise_sympy_functions(fn, formula, derivative):
    x = sympy.Symbol("x")
    assert fn(x).diff(x) == derivative(x)
    for v in (-1.5, 0.25, 2.0):
        assert abs(float(fn(sympy.Float(v))) - float(formula(sympy.Float(v)))) < 1e-12


# -- derive(SymPy) equals derive(text) --------------------------------------------------

n, m, p = sympy.symbols("n m p")
_A, _B = sympy.MatrixSymbol("A", n, m), sympy.MatrixSymbol("B", p, n)
_X, _S = sympy.MatrixSymbol("X", m, p), sympy.MatrixSymbol("S", n, n)
_x, _b = sympy.MatrixSymbol("x", m, 1), sympy.MatrixSymbol("b", n, 1)
_v = sympy.MatrixSymbol("v", n, 1)
_c = sympy.Symbol("c")

DERIVE = [
    # (SymPy expression, SymPy wrt, text, shapes, assume)
    (_v.T * _S * _v, _v, "v'*S*v", {"v": ("n", 1), "S": ("n", "n")}, None),
    (_v.T * _S * _v, _v, "v'*S*v", {"v": ("n", 1), "S": ("n", "n")}, {"S": "symmetric"}),
    (sympy.Trace(_A * _X * _B), _X, "tr(A*X*B)", {"A": ("n", "m"), "X": ("m", "p"), "B": ("p", "n")}, None),
    (sympy.log(sympy.Determinant(_S)), _S, "logdet(S)", {"S": ("n", "n")}, None),
    (sympy.Determinant(_S), _S, "det(S)", {"S": ("n", "n")}, None),
    (sympy.Trace(sympy.Inverse(_S) * _S.T * _S), _S, "tr(inv(S)*S'*S)", {"S": ("n", "n")}, None),
    ((_A * _x - _b).T * (_A * _x - _b), _x, "(A*x - b)'*(A*x - b)", {"A": ("n", "m"), "x": ("m", 1), "b": ("n", 1)}, None),
    (_A * _x, _x, "A*x", {"A": ("n", "m"), "x": ("m", 1)}, None),
    (_c**2 * sympy.Trace(_S), _c, "c^2*tr(S)", {"c": (), "S": ("n", "n")}, None),
    (EntrySum((_A * _x).applyfunc(sympy.exp)), _x, "sum(exp(A*x))", {"A": ("n", "m"), "x": ("m", 1)}, None),
    (sympy.Trace(_S**3), _S, "tr(S^3)", {"S": ("n", "n")}, None),
    (sympy.Trace(sympy.HadamardProduct(_A, _A).T * _A), _A, "tr((A.*A)'*A)", {"A": ("n", "m")}, None),
    (Norm2(_A * _x - _b) ** 2, _x, "norm2(A*x - b)^2", {"A": ("n", "m"), "x": ("m", 1), "b": ("n", 1)}, None),
    (sigmoid(_c) * sympy.Trace(_S), _c, "sigmoid(c)*tr(S)", {"c": (), "S": ("n", "n")}, None),
]


@pytest.mark.parametrize("expr, wrt, text, shapes, assume", DERIVE, ids=[f"{r[2]}-{r[4]}" for r in DERIVE])
def test_derive_sympy_equals_text(expr, wrt, text, shapes, assume):
    d_sym = matcalc.derive(expr, wrt=wrt, assume=assume)
    d_txt = matcalc.derive(text, wrt=str(wrt), shapes=shapes, assume=assume)
    assert d_sym.result == d_txt.result, f"{expr}: {d_sym} from SymPy, {d_txt} from text"
    assert d_sym.kind == d_txt.kind
    d_sym.verify()


def test_derive_the_brief_example():
    n = sympy.Symbol("n")
    v, A = sympy.MatrixSymbol("v", n, 1), sympy.MatrixSymbol("A", n, n)
    d = matcalc.derive(v.T * A * v, wrt=v)
    assert str(d) == "(A + A')*v"
    assert d.expr == to_sympy(parse("(A + A')*v").expr)
    assert not d.expr.has(A)  # matcalc's dimensions are positive integers: A here is n x n with another n
    # with the user's own symbols, the result combines with their SymPy objects
    mine = to_sympy(d.result, like=v.T * A * v)
    assert mine == (A + A.T) * v
    assert (mine - (A.T * v + A * v)).expand().doit() == sympy.ZeroMatrix(n, 1)


# -- d.expr is SymPy and agrees numerically with d.to_numpy() ---------------------------------


def _evaluate(s, dims: dict, values: dict) -> np.ndarray:
    """Substitute dimensions, expand with ``as_explicit``, substitute values, evaluate."""
    dim_sub = {}
    for node in sympy.preorder_traversal(s):
        if isinstance(node, sympy.MatrixSymbol):
            for d in node.shape:
                dim_sub.update({sym: dims[sym.name] for sym in d.free_symbols})
    s = s.xreplace(dim_sub)
    explicit = s.as_explicit() if isinstance(s, MatrixExpr) else s
    vals = {}
    for node in sympy.preorder_traversal(s):
        if isinstance(node, sympy.MatrixSymbol):
            vals[node] = sympy.ImmutableMatrix(values[node.name])
        elif isinstance(node, sympy.Symbol) and node.name in values:
            vals[node] = sympy.Float(values[node.name])
    out = explicit.xreplace(vals).doit()
    return np.array(sympy.N(out), dtype=float)


def _spd(k, rng):
    a = rng.normal(size=(k, k))
    return a @ a.T + k * np.eye(k)


EXPLICIT = [
    # (text, wrt, shapes, assume, dims)
    ("tr(A*X*B)", "X", {"A": ("n", "m"), "X": ("m", "p"), "B": ("p", "n")}, None, {"n": 2, "m": 3, "p": 4}),
    ("x'*A*x", "x", {"x": ("n", 1), "A": ("n", "n")}, None, {"n": 3}),
    ("normF(A*X - B)^2", "X", {"A": ("n", "m"), "X": ("m", "p"), "B": ("n", "p")}, None, {"n": 4, "m": 2, "p": 3}),
    ("logdet(S) + det(S)", "S", {"S": ("n", "n")}, None, {"n": 3}),
    ("sum(exp(A*x))/norm2(x)", "x", {"A": ("n", "m"), "x": ("m", 1)}, None, {"n": 3, "m": 2}),
    ("-(1/n)*sum(Y.*log(softmax(W*X)))", "W", {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")},
     {"Y": "onehot"}, {"k": 3, "p": 2, "n": 4}),
    ("sigmoid(A*x)", "x", {"A": ("n", "m"), "x": ("m", 1)}, None, {"n": 3, "m": 2}),
    ("A*X*B", "X", {"A": ("n", "m"), "X": ("m", "p"), "B": ("p", "q")}, None, {"n": 2, "m": 3, "p": 2, "q": 3}),
    ("alpha^2*tr(A'*A)", "alpha", {"A": ("n", "m"), "alpha": ()}, None, {"n": 2, "m": 3}),
]


@pytest.mark.parametrize("text, wrt, shapes, assume, dims", EXPLICIT, ids=[r[0] for r in EXPLICIT])
def test_expr_explicit_agrees_with_numpy(text, wrt, shapes, assume, dims):
    d = matcalc.derive(text, wrt=wrt, shapes=shapes, assume=assume)
    s = d.expr
    assert isinstance(s, MatrixExpr) if not d.result.is_scalar else isinstance(s, sympy.Expr)
    rng = np.random.default_rng(0)
    values = {}
    for name, v in d.variables.items():
        if "dimension" in v.assume:
            continue
        shape = tuple(int(x.subs({sympy.Symbol(k, integer=True, positive=True): dims[k] for k in dims})) for x in v.shape)
        if "onehot" in v.assume:
            values[name] = np.eye(shape[0])[:, rng.integers(0, shape[0], size=shape[1])]
        elif name == "S":
            values[name] = _spd(shape[0], rng)
        elif shape == (1, 1):
            values[name] = float(rng.normal())
        else:
            values[name] = rng.normal(size=shape)
    expected = np.asarray(d.to_numpy()(**values), dtype=float)
    got = _evaluate(s, dims, values | {k: dims[k] for k in dims if k in d.variables})
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-9, atol=1e-12)


# -- unsupported SymPy input raises, naming the construct --------------------------------------

_n = sympy.Symbol("n")
_M = sympy.MatrixSymbol("M", _n, _n)
_y = sympy.Symbol("y")

UNSUPPORTED = [
    # (object, words the message must contain)
    (sympy.exp(_M), "a function of a whole matrix"),
    (_M[0, 1], "matrix entry"),
    (sympy.ImmutableMatrix([[1, 2], [3, 4]]), "ImmutableDenseMatrix"),
    (sympy.Max(_y, sympy.Symbol("z")), "Max"),
    (sympy.Adjoint(_M), "Adjoint"),
    (sympy.MatPow(_M, sympy.Rational(1, 2)), "integer exponent"),
    (sympy.I * _y, "ImaginaryUnit"),
    (sympy.Integral(_y, _y), "Integral"),
    (sympy.Piecewise((_y, _y > 0), (0, True)), "Piecewise"),
    (sympy.MatrixSymbol("M", _n + 1, _n), "dimension n + 1"),
    (sympy.Trace(_M) + sympy.Symbol("M"), "M is used as"),
    (sympy.Dummy("u") * sympy.Trace(_M), "dummy"),
    ("x'*A*x", "matcalc text"),
    (sympy.Derivative(sympy.Function("f")(_y), _y), "Derivative"),
]


@pytest.mark.parametrize("obj, words", UNSUPPORTED, ids=[r[1] for r in UNSUPPORTED])
def test_unsupported_raises_naming_the_construct(obj, words):
    with pytest.raises(SympyConversionError, match=words.replace("(", r"\(").replace("+", r"\+")):
        from_sympy(obj)


def test_derive_of_unsupported_sympy_raises():
    with pytest.raises(ValueError, match="Adjoint"):
        matcalc.derive(sympy.Trace(sympy.Adjoint(_M) * _M), wrt="M")


def test_unknown_node_names_its_type():
    class Mystery(E._Unary):
        __slots__ = ()
        out_shape = staticmethod(lambda a: a.shape)

    with pytest.raises(SympyConversionError, match="Mystery"):
        to_sympy(Mystery(E.var("X", "n", "n")))


def test_bad_assumptions():
    with pytest.raises(matcalc.UnknownNameError, match="Q"):
        from_sympy(sympy.Trace(_M), assume={"Q": "symmetric"})
    A = sympy.MatrixSymbol("A", _n, sympy.Symbol("m"))
    with pytest.raises(matcalc.ShapeMismatchError, match="symmetric"):
        from_sympy(sympy.Trace(A * A.T), assume={"A": "symmetric"})


def test_dimension_symbols():
    k = sympy.Symbol("k")
    W = sympy.MatrixSymbol("W", k, 3)
    q = from_sympy(EntrySum(W) / k)
    assert q.variables["k"].assume == {"dimension"}
    assert q.variables["W"].shape == (E.dim("k"), 3)
    assert from_sympy(sympy.KroneckerProduct(W, W)).expr.shape == (E.dim("k") ** 2, 9)


def test_elementwise_lambda_bodies():
    A = sympy.MatrixSymbol("A", _n, _n)
    cases = [
        (A.applyfunc(sympy.exp), "exp(A)"),
        (A.applyfunc(lambda t: t**2 + 1), "matrix(1) + A.^2"),
        (A.applyfunc(lambda t: 2 * sympy.sin(t) * sympy.cos(t)), "2*(cos(A).*sin(A))"),
        (A.applyfunc(lambda t: sympy.Max(t, 0)), "relu(A)"),
        (A.applyfunc(sympy.sqrt), "sqrt(A)"),
        (sympy.HadamardPower(A, sympy.S.Half), "sqrt(A)"),
    ]
    for obj, text in cases:
        assert from_sympy(obj).text == text
