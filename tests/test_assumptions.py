"""Assumptions are facts about the point, never constraints on the perturbation (issue 7, item 1).

Each row was answered wrongly when an assumption rewrote the function before it was
differentiated (S' = S for a symmetric S).  The test compares matcalc's result, in both
layouts, with central differences of the *function* along unrestricted random directions at
a point that satisfies the assumption; nothing here asks matcalc's own verifier.
"""

from __future__ import annotations

import numpy as np
import pytest
from _identity_helpers import Row, as2d, draw_point, vec

import matcalc
from matcalc import expr as E
from matcalc.emit.numpy import compile_expr

SYM, SPD = "symmetric", "spd"

# (kind, expr, wrt, assume, shapes)
CASES = [
    ("jacobian", "S'", "S", {"S": SYM}, {"S": ("k", "k")}),
    ("hessian", "logdet(S)", "S", {"S": SPD}, None),
    ("hessian", "det(S)", "S", {"S": SPD}, {"S": (3, 3)}),
    ("derive", "x'*S'*y", "S", {"S": SYM}, None),
    ("derive", "sum(S*S')", "S", {"S": SYM}, None),
    ("derive", "tr(cos(S*S'))", "S", {"S": SYM}, None),
    ("derive", "sum((S*S' + eye(n))^(-2))", "S", {"S": SYM}, None),
    ("derive", "x'*A'*x + tr(A*B)", "A", {"A": SPD}, {"B": ("n", "n")}),
    ("hessian", "tr(S*S')", "S", {"S": SYM}, None),
    ("hessian", "tr(S*A*S)", "S", {"S": SYM}, {"A": ("n", "n")}),
    ("hessian", "x'*S*S*x", "S", {"S": SPD}, None),
    ("jacobian", "S*x", "S", {"S": SYM}, None),
    ("jacobian", "inv(S)'", "S", {"S": SPD}, None),
    ("derive", "sum(Y'*W)", "Y", {"Y": "onehot"}, {"W": ("k", "p")}),
    ("derive", "sum(Y)", "Y", {"Y": "onehot"}, None),
]


def _ids(c):
    return f"{c[0]} {c[1]} / d{c[2]} ({', '.join(f'{k} {v}' for k, v in c[3].items())})"


def _numerator_jacobian(d, point) -> np.ndarray:
    """d vec(target) / d vec(x)' from d's denominator-layout result (for a Hessian: of the gradient)."""
    D = as2d(np.asarray(d.in_layout("denominator").to_numpy()(**point), dtype=float))
    if d.order == 2:
        return D
    return vec(D).reshape(1, -1) if d.function.is_scalar else D.T


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_derivative_of_the_function_as_written(case):
    kind, expr, wrt, assume, shapes = case
    d = getattr(matcalc, kind)(expr, wrt=wrt, assume=assume, shapes=shapes)
    p = matcalc.parse(expr, shapes=shapes, assume=assume)
    variables = list(p.variables.values())
    f = compile_expr(p.expr, variables, fname="function")
    row = Row(expr, wrt, "", shapes=shapes or {}, assume=assume)
    for seed in (1, 2):
        _, point = draw_point(row, variables, seed, (f,))
        x0 = np.asarray(point[wrt], dtype=float)

        def f_at(xv):
            q = dict(point)
            q[wrt] = xv
            if kind == "hessian":  # the Hessian is the Jacobian of the gradient: difference f twice
                return _fd_gradient(f, q, wrt)
            return vec(f(**{k: q[k] for k in f.names}))

        J = _numerator_jacobian(d, point)
        rng = np.random.default_rng(seed)
        h = 1e-4 if kind == "hessian" else 1e-5
        for _ in range(3):
            V = rng.normal(size=x0.shape)  # unrestricted: not symmetric, not one-hot
            num = (f_at(x0 + h * V) - f_at(x0 - h * V)) / (2 * h)
            ana = J @ vec(V)
            err = np.linalg.norm(ana - num) / max(np.linalg.norm(num), 1e-8)
            assert err < 1e-4, f"{_ids(case)}: {d} disagrees with differences of the function ({err:.2e})"


def _fd_gradient(f, point, wrt, h=1e-5):
    """The gradient of scalar f at point by central differences, entry by entry, as a vec."""
    x0 = np.asarray(point[wrt], dtype=float)
    out = np.zeros(x0.size)
    for j in range(x0.size):
        e = np.zeros(x0.size)
        e[j] = h
        q1, q2 = dict(point), dict(point)
        q1[wrt] = x0 + e.reshape(x0.shape, order="F")
        q2[wrt] = x0 - e.reshape(x0.shape, order="F")
        out[j] = (float(f(**{k: q1[k] for k in f.names})) - float(f(**{k: q2[k] for k in f.names}))) / (2 * h)
    return out


def test_parsing_keeps_a_transpose_of_a_symmetric_matrix():
    p = matcalc.parse("x'*S'*y", assume={"S": SYM})
    assert any(isinstance(n, E.Transpose) and n.args[0].name == "S" for n in E.walk(p.expr))


# (expr, wrt, assume, textbook form): assumptions still simplify results to what a textbook prints
COMPACT = [
    ("x'*A*x", "x", {"A": SYM}, "2*A*x"),
    ("logdet(X)", "X", {"X": SPD}, "inv(X)"),
    ("x'*S'*y", "S", {"S": SYM}, "y*x'"),
    ("-(1/n)*sum(Y.*log(softmax(W*X)))", "W", {"Y": "onehot"}, "(1/n)*(softmax(W*X) - Y)*X'"),
]


@pytest.mark.parametrize("expr,wrt,assume,textbook", COMPACT)
def test_assumptions_still_simplify_the_result(expr, wrt, assume, textbook):
    shapes = {"X": ("p", "n")} if "softmax" in expr else None
    assert str(matcalc.derive(expr, wrt=wrt, assume=assume, shapes=shapes)) == textbook


def test_every_result_states_the_convention():
    d = matcalc.derive("x'*S'*y", wrt="S", assume={"S": SYM})
    assert any("every entry of S is an independent variable" in n and "only simplify" in n for n in d.notes)
    assert any("independent" in n for n in matcalc.hessian("x'*x", wrt="x").notes)
