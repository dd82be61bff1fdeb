"""Evaluate an expression on explicit SymPy matrices (for the entry-by-entry check).

One evaluator per node type; an unknown node raises.  Values are
``sympy.Matrix`` objects (1x1 for scalars).
"""

from __future__ import annotations

from fractions import Fraction

import sympy

from .. import expr as E
from ..functions import FUNCTIONS
from .text import PrinterError


def _s(m: sympy.Matrix):
    return m[0, 0]


def _mat(x) -> sympy.Matrix:
    return sympy.Matrix([[x]])


def _matmul(e, ev):
    vals = [ev(f) for f in e.args]
    scal = sympy.Integer(1)
    chain = None
    for f, v in zip(e.args, vals):
        if f.is_scalar:
            scal = scal * _s(v)
        else:
            chain = v if chain is None else chain * v
    if chain is None:
        return _mat(scal)
    return chain * scal


def _hadamard(e, ev):
    vals = [ev(f) for f in e.args]
    out = vals[0]
    for v in vals[1:]:
        out = out.multiply_elementwise(v)
    return out


def _power(e, ev):
    b, p = ev(e.args[0]), ev(e.args[1])
    if not e.args[1].is_scalar:  # an exponent matrix: entry by entry
        return sympy.Matrix(b.rows, b.cols, lambda i, j: b[i, j] ** p[i, j])
    p = _s(p)
    return b.applyfunc(lambda x: x ** p)


def _softmax(m: sympy.Matrix) -> sympy.Matrix:
    out = sympy.zeros(*m.shape)
    for j in range(m.shape[1]):
        col = [sympy.exp(m[i, j]) for i in range(m.shape[0])]
        tot = sum(col)
        for i in range(m.shape[0]):
            out[i, j] = col[i] / tot
    return out


def _logsumexp(m: sympy.Matrix) -> sympy.Matrix:
    return sympy.Matrix([[sympy.log(sum(sympy.exp(m[i, j]) for i in range(m.shape[0]))) for j in range(m.shape[1])]])


def _commutation(m, n):
    K = sympy.zeros(m * n, m * n)
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1
    return K


def _vec(m: sympy.Matrix) -> sympy.Matrix:
    return sympy.Matrix([m[i, j] for j in range(m.shape[1]) for i in range(m.shape[0])])


def _const(e, ev):
    v = e.value
    return _mat(sympy.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) else sympy.Float(v))


def evaluate(e: E.Expr, env: dict, dims: dict) -> sympy.Matrix:
    """``e`` with each Var replaced by ``env[name]`` and each dimension by ``dims[name]``."""
    memo: dict = {}

    def d(x) -> int:
        return int(x.subs({sympy.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}))

    def ev(node: E.Expr):
        if node in memo:
            return memo[node]
        if type(node) is E.Var:
            memo[node] = out = var(node)
            return out
        try:
            fn = EVALUATORS[type(node)]
        except KeyError:
            raise PrinterError(f"no explicit evaluator for {type(node).__name__}") from None
        out = fn(node, ev) if type(node) not in _NEEDS_DIMS else fn(node, ev, d)
        memo[node] = out
        return out

    def var(node):
        if "dimension" in node.assume:
            return _mat(sympy.Integer(dims[node.name]))
        return env[node.name]

    return ev(e)


EVALUATORS = {
    E.Const: _const,
    E.Identity: lambda e, ev, d: sympy.eye(d(e.rows)),
    E.Ones: lambda e, ev, d: sympy.ones(d(e.rows), d(e.cols)),
    E.Zero: lambda e, ev, d: sympy.zeros(d(e.rows), d(e.cols)),
    E.Commutation: lambda e, ev, d: _commutation(d(e.args[0]), d(e.args[1])),
    E.Add: lambda e, ev: _add([ev(t) for t in e.args], e),
    E.MatMul: _matmul,
    E.Hadamard: _hadamard,
    E.Kron: lambda e, ev: sympy.kronecker_product(ev(e.args[0]), ev(e.args[1])),
    E.Transpose: lambda e, ev: ev(e.args[0]).T,
    E.Inverse: lambda e, ev: ev(e.args[0]).inv(),
    E.MatPow: lambda e, ev, d: ev(e.args[0]) ** (e.args[1] if isinstance(e.args[1], int) else d(e.args[1])),
    E.Power: _power,
    E.Apply: lambda e, ev: ev(e.arg).applyfunc(FUNCTIONS[e.fname].sympy),
    E.Det: lambda e, ev: _mat(ev(e.arg).det()),
    E.LogDet: lambda e, ev: _mat(sympy.log(ev(e.arg).det())),
    E.Trace: lambda e, ev: _mat(ev(e.arg).trace()),
    E.Sum: lambda e, ev: _mat(sum(ev(e.arg))),
    E.Norm1: lambda e, ev: _mat(sum(sympy.Abs(x) for x in ev(e.arg))),
    E.Norm2: lambda e, ev: _mat(sympy.sqrt(sum(x**2 for x in ev(e.arg)))),
    E.Diag: lambda e, ev: sympy.diag(*list(ev(e.arg))),
    E.DiagOf: lambda e, ev: sympy.Matrix(ev(e.arg).diagonal()).reshape(e.rows and ev(e.arg).shape[0], 1),
    E.Vec: lambda e, ev: _vec(ev(e.arg)),
    E.Unvec: lambda e, ev, d: ev(e.arg).reshape(d(e.cols), d(e.rows)).T,
    E.Softmax: lambda e, ev: _softmax(ev(e.arg)),
    E.LogSumExp: lambda e, ev: _logsumexp(ev(e.arg)),
}
_NEEDS_DIMS = {E.Identity, E.Ones, E.Zero, E.Commutation, E.Unvec, E.MatPow}


def _add(vals, e):
    out = vals[0]
    for v in vals[1:]:
        out = out + v
    return out
