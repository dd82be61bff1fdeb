"""Answers that used to be refusals or crashes (issue 7), one row each.

Every row is derived, then checked two ways:

* ``test_verifies``: ``d.verify()`` in both layouts (random non-square shapes,
  central differences of matcalc's compiled function);
* ``test_matches_finite_differences``: the derivative at a point with distinct
  sizes 2..5 against central differences of the *function* alone (first
  differences for a first derivative, second differences for a Hessian), with
  the point drawn here, so that nothing of matcalc's derivative code or of its
  verifier takes part.

``ERRORS`` lists inputs with no answer: each must give one line of matcalc's own
error that names the construct.
"""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc.emit.numpy import compile_expr
from matcalc.expr import size

KINDS = {"derive": matcalc.derive, "jacobian": matcalc.jacobian, "hessian": matcalc.hessian}
RTOL = 1e-5
# name, expression, wrt, kind, shapes, positive (variables drawn with positive entries)
ROWS = [
    # an adjoint that vanishes identically is a zero derivative (almost everywhere at kinks)
    ("jacobian of sign", "sign(x)", "x", "jacobian", {}, ()),
    ("jacobian of step", "step(x)", "x", "jacobian", {}, ()),
    ("jacobian of x - x", "x - x", "x", "jacobian", {}, ()),
    ("derivative of alpha*(x - x)", "alpha*(x - x)", "alpha", "derive", {}, ()),
    ("hessian of norm1", "norm1(x)", "x", "hessian", {}, ()),
    ("hessian of sum abs", "sum(abs(x))", "x", "hessian", {}, ()),
    ("hessian of sum relu", "sum(relu(x))", "x", "hessian", {}, ()),
    ("hessian of relu of a product", "sum(relu(A*x))", "x", "hessian", {"A": "m,n"}, ()),
    # a size only eye(p) carries is an input of the compiled function
    ("eye(p) only under a trace", "tr(kron(S, eye(p)))", "S", "derive", {}, ()),
    ("tr(eye(k)) as a factor", "sum(S)*tr(eye(k))", "S", "derive", {"S": "n,m"}, ()),
    ("tr(eye(k)) beside a scalar", "tr(eye(k)) - 2/softplus(alpha)", "alpha", "derive", {}, ()),
    # 1*n sizes reduce
    ("kron with a scalar under diag", "sum(diag(kron(2, x)))", "x", "derive", {}, ()),
    ("kron(x, x) inner product", "1/(kron(x,x)'*kron(x,x))", "x", "derive", {}, ()),
    # diag in either direction: vec(diag(u)) = S u
    ("jacobian of diag(X)", "diag(X)", "X", "jacobian", {}, ()),
    ("jacobian of diag(A*X)", "diag(A*X)", "X", "jacobian", {"A": "n,m", "X": "m,n"}, ()),
    ("jacobian of diag(x)*A*diag(x)", "diag(x)*A*diag(x)", "x", "jacobian", {}, ()),
    ("jacobian of diag(x)", "diag(x)", "x", "jacobian", {}, ()),
    ("hessian of sum(diag(X).^2)", "sum(diag(X).^2)", "X", "hessian", {}, ()),
    ("hessian of x'*diag(x)*A*x", "x'*diag(x)*A*x", "x", "hessian", {}, ()),
    ("hessian of sum(exp(diag(X)))", "sum(exp(diag(X)))", "X", "hessian", {}, ()),
    # the Kronecker product of the variable: vec(A kron X) = T (vec(A) kron vec(X))
    ("jacobian of kron(A, X)", "kron(A, X)", "X", "jacobian", {"A": "n,m", "X": "p,q"}, ()),
    ("jacobian of kron(X, A)", "kron(X, A)", "X", "jacobian", {"A": "n,m", "X": "p,q"}, ()),
    ("jacobian of kron(X, X)", "kron(X, X)", "X", "jacobian", {"X": "n,m"}, ()),
    ("jacobian of kron(x, y)", "kron(x, y)", "y", "jacobian", {"x": "n", "y": "m"}, ()),
    ("gradient of sum(kron(A, X))", "sum(kron(A, X))", "X", "derive", {"A": "n,m", "X": "p,q"}, ()),
    ("gradient of u'*kron(A, X)*v", "u'*kron(A, X)*v", "X", "derive", {"A": "n,m", "X": "p,q"}, ()),
    ("hessian of normF(kron(A, X))^2", "normF(kron(A, X))^2", "X", "hessian", {"A": "n,m", "X": "p,q"}, ()),
    ("hessian of u'*kron(x, x)", "u'*kron(x, x)", "x", "hessian", {}, ()),
    # a matrix power with an integer symbol under a trace (Cookbook 91)
    ("gradient of tr(X^k)", "tr(X^k)", "X", "derive", {}, ()),
    ("gradient of tr(X^(k+1))*alpha", "tr(X^(k+1))*alpha", "X", "derive", {}, ()),
    ("gradient of tr(X^k)^2", "tr(X^k)^2", "X", "derive", {}, ()),
    ("gradient of logdet(X^k)", "logdet(X^k)", "X", "derive", {}, ()),
    # an elementwise power with an exponent of the base's shape, entry by entry
    ("gradient of sum(a.^x) wrt x", "sum(a.^x)", "x", "derive", {"a": "n", "x": "n"}, ("a",)),
    ("gradient of sum(a.^x) wrt a", "sum(a.^x)", "a", "derive", {"a": "n", "x": "n"}, ("a",)),
    ("jacobian of a.^x", "a.^x", "x", "jacobian", {"a": "n", "x": "n"}, ("a",)),
    ("hessian of sum(a.^x)", "sum(a.^x)", "x", "hessian", {"a": "n", "x": "n"}, ("a",)),
    ("hessian of sum(x.^x)", "sum(x.^x)", "x", "hessian", {"x": "n"}, ("x",)),
    ("gradient of u'*(A.^B)*v", "u'*(A.^B)*v", "B", "derive", {"A": "n,m", "B": "n,m"}, ("A",)),
    ("gradient of sum(2.^x)", "sum(2.^x)", "x", "derive", {"x": "n"}, ()),
    # vec and its inverse are linear
    ("jacobian of vec(A*X)", "vec(A*X)", "X", "jacobian", {"A": "n,m", "X": "m,p"}, ()),
    ("jacobian of unvec(x, n, m)", "unvec(x, n, m)", "x", "jacobian", {}, ()),
    ("gradient of a'*vec(X)", "a'*vec(X)", "X", "derive", {"X": "n,m"}, ()),
    ("hessian of normF(unvec(x, n, m)*B)^2", "normF(unvec(x, n, m)*B)^2", "x", "hessian", {"B": "m,p"}, ()),
    # the depth-5 Hessian that took seconds (issue 7, item 7): still right after the speed-ups
    ("depth-5 hessian of the issue", "logsumexp(softmax((sigmoid(x) - x*k).*softmax(sigmoid(x))))", "x", "hessian",
     {"k": ()}, ()),
]
IDS = [r[0] for r in ROWS]

ERRORS = [
    # the shapes have no solution (n = n*m needs m = 1, and inferred sizes are never 1)
    ("X'*vec(X)", "X", matcalc.ShapeMismatchError, "matrix product"),
    ("kron(y,Y)-Y", "Y", matcalc.ShapeMismatchError, "sum"),
    ("x-kron(x,Y)+Y", "x", matcalc.ShapeMismatchError, "sum"),
    # d X^k with a symbolic k is a sum of k terms: no closed matrix form outside tr(X^k)
    ("tr(A*X^k)", "X", matcalc.UnsupportedError, "X^k: a matrix power with a symbolic exponent"),
    ("sum(X^k)", "X", matcalc.UnsupportedError, "X^k: a matrix power with a symbolic exponent"),
]

_CACHE: dict = {}


def _derived(row):
    name, expr, wrt, kind, shapes, _ = row
    if name not in _CACHE:
        _CACHE[name] = KINDS[kind](expr, wrt=wrt, shapes=shapes or None)
    return _CACHE[name]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_verifies(row):
    d = _derived(row)
    # SymPy's entry-by-entry second opinion only where it is quick: the finite-difference test below is the
    # independent check of the large Hessians
    explicit = size(d.result) < 200
    for layout in ("numerator", "denominator"):
        assert d.in_layout(layout).verify(explicit=explicit).ok


def _size(d, sizes) -> int:
    return int(d.subs({s: sizes[str(s)] for s in d.free_symbols}))


def _point(variables, sizes, rng, positive):
    point = {}
    for v in variables.values():
        if "dimension" in v.assume:
            continue
        r, c = _size(v.rows, sizes), _size(v.cols, sizes)
        # entries away from 0 by at least 0.3: a kink at 0 stays far outside the difference steps
        x = rng.uniform(0.3, 1.3, size=(r, c))
        point[v.name] = x if v.name in positive else x * rng.choice([-1.0, 1.0], size=(r, c))
    return point


def _vec(a) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1, order="F")


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_matches_finite_differences(row):
    name, expr, wrt, kind, shapes, positive = row
    d = _derived(row)
    p = matcalc.parse(expr, shapes=shapes or None)
    names = sorted({str(s) for v in p.variables.values() for x in v.shape for s in x.free_symbols}
                   | {v.name for v in p.variables.values() if "dimension" in v.assume})
    rng = np.random.default_rng(sum(map(ord, name)))
    sizes = {n: int(k) for n, k in zip(names, rng.permutation(np.arange(2, 6)))}
    point = _point(p.variables, sizes, rng, positive)
    f = compile_expr(p.expr, list(p.variables.values()), fname="f")
    x0 = point[wrt]

    def f_at(xv):
        return _vec(f(**{**point, wrt: xv.reshape(x0.shape, order="F")}, **sizes))

    xs = _vec(x0)
    n = xs.size
    analytic = {lay: np.asarray(d.in_layout(lay).to_numpy()(**point, **sizes), dtype=float)
                for lay in ("numerator", "denominator")}
    if kind == "hessian":
        h = 1e-3
        E = np.eye(n) * h
        num = np.array([[(f_at(xs + E[i] + E[j]) - f_at(xs + E[i] - E[j]) - f_at(xs - E[i] + E[j])
                          + f_at(xs - E[i] - E[j]))[0] / (4 * h * h) for j in range(n)] for i in range(n)])
        got = analytic["denominator"].reshape(n, n)
        assert np.allclose(analytic["numerator"].reshape(n, n), got.T, rtol=1e-9, atol=1e-12)
        tol = 1e-4
    else:
        h = 1e-6
        num = np.stack([(f_at(xs + h * e) - f_at(xs - h * e)) / (2 * h) for e in np.eye(n)], axis=1)
        den = analytic["denominator"]
        # the numerator-layout Jacobian d vec(f) / d vec(x)': a gradient is shaped like x in denominator layout
        got = _vec(den)[None, :] if num.shape[0] == 1 else analytic["numerator"].reshape(num.shape, order="F")
        if num.shape[0] != 1 and n != 1:
            assert np.allclose(den.reshape(n, -1), got.T, rtol=1e-9, atol=1e-12), "layouts are not transposes"
        tol = RTOL
    scale = max(1.0, float(np.max(np.abs(num))))
    assert np.max(np.abs(got.reshape(num.shape) - num)) <= tol * scale, f"{expr}: off from finite differences"


@pytest.mark.parametrize("expr, wrt, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_clear_error(expr, wrt, error, message):
    with pytest.raises(error) as info:
        matcalc.derive(expr, wrt=wrt)
    text = str(info.value)
    assert message in text and "\n" not in text


# -- claims about the new answers: a right one is correct, a wrong one is not ---------------------------
CLAIMS = [
    ("tr(kron(S, eye(p)))", "S", "p*eye(n)", True),
    ("tr(kron(S, eye(p)))", "S", "eye(n)", False),
    ("sum(S)*tr(eye(k))", "S", "k*matrix(1)", True),
    ("sum(S)*tr(eye(k))", "S", "matrix(1)", False),
    ("tr(X^k)", "X", "k*(X^(k-1))'", True),
    ("tr(X^k)", "X", "(k-1)*(X^(k-1))'", False),
    ("tr(X^k)", "X", "k*(X^k)'", False),
    ("sum(a.^x)", "x", "a.^x.*log(a)", True),
    ("sum(a.^x)", "x", "x.*a.^(x - vector(1))", False),
    ("sum(kron(A, X))", "X", "sum(A)*matrix(1)", True),
    ("sum(kron(A, X))", "X", "A", False),
    ("sum(relu(x))", "x", "step(x)", True),
]


@pytest.mark.parametrize("expr, wrt, claimed, correct", CLAIMS, ids=[f"{c[0]} | {c[2]}" for c in CLAIMS])
def test_claims(expr, wrt, claimed, correct):
    shapes = {"a": "n", "x": "n"} if "a.^x" in expr else ({"A": "n,m", "X": "p,q"} if "kron(A" in expr else None)
    assert matcalc.check(expr, wrt=wrt, claimed=claimed, shapes=shapes).correct is correct


# -- SymPy input that indexes a 1x1 product: SymPy writes it as a sum over indices ------------------

def _sympy_rows():
    import sympy

    n, m = (sympy.Symbol(s, integer=True, positive=True) for s in "nm")
    x, a = sympy.MatrixSymbol("x", n, 1), sympy.MatrixSymbol("a", n, 1)
    b, X = sympy.MatrixSymbol("b", m, 1), sympy.MatrixSymbol("X", n, m)
    Y, A = sympy.MatrixSymbol("Y", m, n), sympy.MatrixSymbol("A", n, n)
    i, j = sympy.symbols("i j", integer=True)
    k = sympy.Symbol("k", integer=True, positive=True)
    return [
        ("tr(A**k)", sympy.Trace(A**k), "A", "tr(A^k)"),
        ("(x.T*a)[0, 0]", (x.T * a)[0, 0], "x", "a'*x"),
        ("(a.T*X*b)[0, 0]", (a.T * X * b)[0, 0], "X", "a'*X*b"),
        ("(b.T*X.T*a)[0, 0]", (b.T * X.T * a)[0, 0], "X", "a'*X*b"),
        ("(x.T*A*x)[0, 0]", (x.T * A * x)[0, 0], "x", "x'*A*x"),
        ("3*(a.T*X*Y*a)[0, 0]", 3 * (a.T * X * Y * a)[0, 0], "X", "3*(a'*X*Y*a)"),
        ("sum_ij X[i,j]*Y[j,i]", sympy.Sum(X[i, j] * Y[j, i], (i, 0, n - 1), (j, 0, m - 1)), "X", "tr(X*Y)"),
    ]


SYMPY_ROWS = _sympy_rows()


@pytest.mark.parametrize("name, obj, wrt, text", SYMPY_ROWS, ids=[r[0] for r in SYMPY_ROWS])
def test_sympy_indexed_product(name, obj, wrt, text):
    d = matcalc.derive(obj, wrt=wrt)
    shapes = {v.name: (str(v.rows), str(v.cols)) for v in d.variables.values()}
    assert d.function == matcalc.parse(text, shapes=shapes).expr
    for layout in ("numerator", "denominator"):
        assert d.in_layout(layout).verify().ok


def test_sympy_entry_of_a_larger_product_is_refused():
    import sympy

    n, m = (sympy.Symbol(s, integer=True, positive=True) for s in "nm")
    X, Y = sympy.MatrixSymbol("X", n, m), sympy.MatrixSymbol("Y", m, n)
    from matcalc.sympy_bridge import SympyConversionError

    with pytest.raises(SympyConversionError) as info:
        matcalc.derive((X * Y)[1, 1], wrt=X)
    assert "matrix entry X[1, _i_1]" in str(info.value)
