"""Transpose and inverse rules: push transposes in or pull them out, one spelling for X^{-T}."""

from __future__ import annotations

from .. import expr as E
from .core import flip, is_symmetric, parts


def transpose_symmetric(e: E.Transpose) -> E.Expr:
    """A' = A for a symmetric A (declared, or symmetric by structure: A + A', X'X, diag(s) - s s')."""
    a = e.args[0]
    return a if is_symmetric(a) else e


def transpose_commutation(e: E.Transpose) -> E.Expr:
    """K_{m,n}' = K_{n,m}: the commutation matrix is a permutation, its transpose is its inverse."""
    a = e.args[0]
    return E.Commutation(a.args[1], a.args[0]) if isinstance(a, E.Commutation) else e


def count_transposes(e: E.Expr) -> int:
    return E.stats(e)[1]


def transpose_push(e: E.Transpose) -> E.Expr:
    """(AB)' = B'A', (A + B)' = A' + B', f(A)' = f(A'), (A .* B)' = A' .* B'  (Cookbook 4-6),
    when that adds no transposes."""
    a = e.args[0]
    if isinstance(a, (E.MatMul, E.Add, E.Hadamard, E.Apply, E.Power, E.Kron)):
        new = flip(a)
        if count_transposes(new) <= count_transposes(e):
            return new
    return e


def transpose_out_of_sum(e: E.Add) -> E.Expr:
    """A'B' + C'D' = (BA + DC)': one transpose instead of many (Cookbook 122: (AX^2 + XAX + X^2A)')."""
    if e.is_scalar or count_transposes(e) < 2:
        return e
    flipped = E.add(*[flip(t) for t in e.args])
    if 1 + count_transposes(flipped) < count_transposes(e):
        return E.Transpose(flipped)
    return e


def inverse_of_transpose(e: E.Inverse) -> E.Expr:
    """inv(A') = inv(A)'  (Cookbook 3), so that X^{-T} has one spelling."""
    a = e.args[0]
    if isinstance(a, E.Transpose):
        return E.transpose(E.inverse(a.args[0]))
    return e


def inverse_of_scaled(e: E.Inverse) -> E.Expr:
    """inv(c A) = (1/c) inv(A) for a scalar c."""
    c, scal, chain = parts(e.args[0])
    if (c != 1 or scal) and len(chain) == 1:
        inv_scal = [E.power(s, E.const(-1)) for s in scal]
        return E.matmul(E.const(1 / c), *inv_scal, E.inverse(chain[0]))
    return e
