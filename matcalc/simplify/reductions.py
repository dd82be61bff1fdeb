"""Rules for trace, sum, diag and det."""

from __future__ import annotations

from .. import expr as E
from .core import _dim_scalar, parts


def sum_of_hadamard(e: E.Sum) -> E.Expr:
    """sum(a .* b) = a'b for column vectors; sum(c A) = c sum(A); sum(Y) = n for a one-hot k x n Y."""
    a = e.arg
    if isinstance(a, E.Var) and "onehot" in a.assume:
        return _dim_scalar(a.cols)
    if isinstance(a, E.Hadamard) and a.cols == 1 and len(a.args) == 2:
        return E.matmul(E.transpose(a.args[0]), a.args[1])
    c, scal, chain = parts(a)
    if isinstance(a, E.MatMul) and (c != 1 or scal):
        return E.matmul(E.const(c), *scal, E.sum_(E.matmul(*chain)))
    if isinstance(a, E.Ones):
        return E.matmul(_dim_scalar(a.rows), _dim_scalar(a.cols))
    return e


def trace_of_scaled(e: E.Trace) -> E.Expr:
    """tr(c A) = c tr(A); tr(A + B) = tr(A) + tr(B)."""
    a = e.arg
    if isinstance(a, E.Add):
        return E.add(*[E.trace(t) for t in a.args])
    c, scal, chain = parts(a)
    if isinstance(a, E.MatMul) and (c != 1 or scal):
        return E.matmul(E.const(c), *scal, E.trace(E.matmul(*chain)))
    return e


def diag_of_ones(e: E.Diag) -> E.Expr:
    """diag(1) = I."""
    if isinstance(e.arg, E.Ones):
        return E.Identity(e.rows)
    return e


def diag_of_outer(e: E.DiagOf) -> E.Expr:
    """diag(u v') = u .* v for column vectors u, v."""
    a = e.arg
    if isinstance(a, E.MatMul):
        c, scal, chain = parts(a)
        if len(chain) == 2 and chain[0].cols == 1 and chain[1].rows == 1:
            return E.matmul(E.const(c), *scal, E.hadamard(chain[0], E.transpose(chain[1])))
    if isinstance(a, E.Diag):
        return a.arg
    return e


def diag_of_scaled(e: E.Expr) -> E.Expr:
    c, scal, chain = parts(e.arg)
    if isinstance(e.arg, E.MatMul) and (c != 1 or scal) and chain:
        return E.matmul(E.const(c), *scal, type(e)(E.matmul(*chain)))
    return e


def diagonal_of_ones(e: E.DiagOf) -> E.Expr:
    """diag(1_{n x n}) = 1_n, the diagonal of the all-ones matrix."""
    if isinstance(e.arg, E.Ones):
        return E.Ones(e.rows, 1)
    return e


def logdet_of_power(e: E.LogDet) -> E.Expr:
    """logdet(X^k) = k logdet(X), also for an integer symbol k (log|det| of a product, Cookbook 18)."""
    a = e.arg
    if isinstance(a, E.MatPow):
        k = a.args[1]
        return E.matmul(E.const(k) if isinstance(k, int) else E.dim_scalar(k), E.logdet(a.args[0]))
    return e


def det_of_product(e: E.Det) -> E.Expr:
    """det(AB) = det(A) det(B) for square factors, det(A') = det(A), det(X^k) = det(X)^k (Cookbook 18, 19)."""
    a = e.arg
    if isinstance(a, E.Transpose):
        return E.det(a.args[0])
    if isinstance(a, E.MatPow):
        k = a.args[1]
        return E.power(E.det(a.args[0]), E.const(k) if isinstance(k, int) else E.dim_scalar(k))
    if isinstance(a, E.Inverse):
        return E.power(E.det(a.args[0]), E.const(-1))
    if isinstance(a, E.MatMul):
        c, scal, chain = parts(a)
        if len(chain) > 1 and all(f.rows == f.cols for f in chain):
            n = a.rows
            scale = [E.power(E.matmul(E.const(c), *scal), _dim_scalar(n))] if (c != 1 or scal) else []
            return E.matmul(*scale, *[E.det(f) for f in chain])
    return e
