"""Every printed result parses back to the same expression (issue 9).

The rows are the identity table (both layouts) and the softmax / log-sum-exp
cases whose Jacobians and Hessians hold a ones matrix inside a Kronecker
product: there its size cannot come from the context, so the printer writes
``ones(m, n)``.  The text is parsed with the variables' shapes (as the result
reports them); it must give the same expression: equal as built, equal after
simplification, or (for a form the parser builds another way) equal in value at
a random point with distinct sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_identities import ROWS

import matcalc
from matcalc import expr as E
from matcalc.emit.numpy import compile_expr
from matcalc.parse import parse
from matcalc.simplify import simplify

# (function, wrt, shapes, hessian)
SOFTMAX_ROWS = [
    ("softmax(x)", "x", {}, False),
    ("softmax(X)", "X", {"X": ("k", "n")}, False),
    ("logsumexp(x)", "x", {}, False),
    ("logsumexp(X)", "X", {"X": ("k", "n")}, False),
    ("logsumexp(W*X)", "W", {"W": ("k", "p"), "X": ("p", "n")}, False),
    ("logsumexp(x)", "x", {}, True),
    ("sum(logsumexp(X))", "X", {"X": ("k", "n")}, True),
    ("sum(logsumexp(W*X))", "W", {"W": ("k", "p"), "X": ("p", "n")}, True),
    ("-sum(Y.*log(softmax(W*X)))", "W", {"W": ("k", "p"), "X": ("p", "n")}, True),
    ("-sum(y.*log(softmax(W*x)))", "W", {"W": ("k", "p")}, True),
    ("sum(X)", "X", {"X": ("k", "n")}, True),  # a zero Hessian: 0*kron(ones(k, k), ones(n, n))
    ("sum(x)", "x", {}, False),  # vector(1) alone: its size is printed
]


def _cases():
    for r in ROWS:
        yield pytest.param(r.expr, r.wrt, r.shapes, r.assume, r.hessian, id=r.id)
    for f, w, s, h in SOFTMAX_ROWS:
        yield pytest.param(f, w, s, {}, h, id=("hess " if h else "d ") + f + " / d" + w)


def _parse_back(d):
    used = {v.name for v in E.free_vars(d.result)}
    shapes = {k: tuple(str(x) for x in v.shape) for k, v in d.variables.items()
              if k in used and "dimension" not in v.assume and all(x.is_Integer or x.is_Symbol for x in v.shape)}
    assume = {k: sorted(v.assume) for k, v in d.variables.items() if k in used and v.assume and "dimension" not in v.assume}
    return parse(str(d), shapes=shapes, assume=assume).expr


def _values_agree(a: E.Expr, b: E.Expr, d) -> bool:
    rng = np.random.default_rng(0)
    syms = sorted({s for v in d.variables.values() for x in v.shape for s in x.free_symbols}
                  | {s for x in a.shape for s in x.free_symbols}, key=str)
    dims = {s: int(v) for s, v in zip(syms, rng.permutation(np.arange(2, 2 + len(syms))))}
    variables = [v for v in d.variables.values() if "dimension" not in v.assume]
    point = {}
    for v in variables:
        shape = tuple(int(x.subs(dims)) for x in v.shape)
        m = rng.uniform(0.5, 1.5, size=shape)
        point[v.name] = m @ m.T + shape[0] * np.eye(shape[0]) if shape[0] == shape[1] and v.assume else m
    fa = compile_expr(a, variables, fname="a")
    fb = compile_expr(b, variables, fname="b")
    return np.allclose(fa(**point), fb(**point), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
@pytest.mark.parametrize("expr, wrt, shapes, assume, hessian", list(_cases()))
def test_printed_result_parses_back(expr, wrt, shapes, assume, hessian, layout):
    fn = matcalc.hessian if hessian else matcalc.derive
    d = fn(expr, wrt=wrt, shapes=shapes or None, assume=assume or None, layout=layout)
    back = _parse_back(d)
    assert back.shape == d.result.shape, f"{d}: parses back as {E.fmt_shape(back.shape)}"
    assert back == d.result or simplify(back) == simplify(d.result) or _values_agree(back, d.result, d), str(d)


# where each spelling is used: (function, wrt, shapes, hessian, a spelling printed, a spelling not printed)
SIZED_ROWS = [
    ("logsumexp(X)", "X", {"X": ("k", "n")}, False, "kron(eye(n), ones(k, 1))", "vector(1)"),
    ("sum(logsumexp(X))", "X", {"X": ("k", "n")}, True, "kron(eye(n), ones(k, k))", "matrix(1)"),
    ("sum(X)", "X", {"X": ("k", "n")}, False, "ones(k, n)", "matrix(1)"),
    ("sum(x)", "x", {"x": ("n",)}, False, "ones(n, 1)", "vector(1)"),
    ("sum(X)", "X", {"X": ("k", "n")}, True, "0*kron(ones(k, k), ones(n, n))", "matrix(0)"),
    # sized by the factors on both sides: the short spelling
    ("sum(A*X*B)", "X", {"A": ("p", "k"), "X": ("k", "n"), "B": ("n", "q")}, False, "A'*matrix(1)*B'", "ones("),
    # sized by the other term of the sum
    ("sum(x) + x'*x", "x", {"x": ("n",)}, False, "vector(1)", "ones("),
]


@pytest.mark.parametrize("expr, wrt, shapes, hessian, printed, not_printed", SIZED_ROWS,
                         ids=[f"{r[0]}:{r[4]}" for r in SIZED_ROWS])
def test_ones_is_sized_where_the_context_cannot_size_it(expr, wrt, shapes, hessian, printed, not_printed):
    fn = matcalc.hessian if hessian else matcalc.derive
    text = str(fn(expr, wrt=wrt, shapes=shapes))
    assert printed in text and not_printed not in text, text


# ones(m, n) in the input: (text, shapes, the shape of the result)
ONES_INPUT_ROWS = [
    ("ones(n, m)", {}, ("n", "m")),
    ("ones(3, 2)", {}, (3, 2)),
    ("A*ones(m, 1)", {"A": ("n", "m")}, ("n", 1)),
    ("kron(eye(j), ones(n, n))*x", {}, ("j*n", 1)),
    ("x'*ones(n, 1)", {"x": ("n",)}, (1, 1)),
]


@pytest.mark.parametrize("text, shapes, shape", ONES_INPUT_ROWS, ids=[r[0] for r in ONES_INPUT_ROWS])
def test_ones_parses_with_its_size(text, shapes, shape):
    e = parse(text, shapes=shapes).expr
    assert tuple(str(x) if not x.is_Integer else int(x) for x in e.shape) == tuple(
        str(x) if isinstance(x, str) else x for x in shape)


@pytest.mark.parametrize("text, message", [
    ("ones(n)", "ones takes 2 arguments, got 1"),
    ("ones(0, 2)", "takes positive integers or dimension names"),
    ("ones(x'*x, 2)", "takes positive integers or dimension names"),
    ("A*ones(3, 2)*x", "matrix product"),
])
def test_ones_with_a_bad_size_is_one_line(text, message):
    with pytest.raises((matcalc.ParseError, matcalc.ShapeMismatchError), match=message.replace("(", r"\(")):
        parse(text, shapes={"x": ("n",), "A": ("n", "m")} if "A" in text else None)
