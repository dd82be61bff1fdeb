"""Rules for matrix products: scalar powers, ones, inverses, matrix powers, signs."""

from __future__ import annotations

from fractions import Fraction

from .. import expr as E
from .core import _adjacent, _base_exp, _dim_scalar, parts, split_coeff


def collect_scalar_powers(e: E.MatMul) -> E.Expr:
    """s^p s^q = s^(p+q) among the scalar factors: ||W|| ||W||^-1 = 1, det(X)/det(X) = 1."""
    scal = [f for f in e.args if f.is_scalar and not isinstance(f, E.Const)]
    if len(scal) < 2:
        return e
    exps: dict = {}
    for f in scal:
        b, p = _base_exp(f)
        exps[b] = exps.get(b, Fraction(0)) + p
    if len(exps) == len(scal):
        return e
    new_scal = [E.power(b, E.const(p)) for b, p in exps.items() if p != 0]
    consts = [f for f in e.args if isinstance(f, E.Const)]
    chain = [f for f in e.args if not f.is_scalar]
    return E.matmul(*consts, *new_scal, *chain)


def scalar_chain_factor(e: E.MatMul) -> E.Expr:
    """Move 1x1 stretches of a chain out as scalar factors: u (v'w) x' = (v'w) u x'."""
    chain = [f for f in e.args if not f.is_scalar]
    if len(chain) < 3:
        return e
    for i in range(1, len(chain) - 1):
        for j in range(i + 2, len(chain)):
            seg = chain[i:j]
            if seg[0].rows == 1 and seg[-1].cols == 1 and chain[i - 1].cols == 1:
                s = E.matmul(*seg)
                rest = chain[:i] + chain[j:]
                scal = [f for f in e.args if f.is_scalar]
                return E.matmul(*scal, s, *rest)
    return e


def ones_product(e: E.MatMul) -> E.Expr:
    """1_{a x b} 1_{b x c} = b 1_{a x c}; 1' Y = 1' for a one-hot Y (its columns sum to 1)."""

    def pair(a, b):
        if isinstance(a, E.Ones) and isinstance(b, E.Ones):
            ones = E.Ones(a.rows, b.cols) if (a.rows, b.cols) != (1, 1) else E.ONE_S
            return [_dim_scalar(a.cols), ones]
        if isinstance(a, E.Ones) and a.rows == 1 and isinstance(b, E.Var) and "onehot" in b.assume:
            return [E.Ones(1, b.cols) if b.cols != 1 else E.ONE_S]
        return None

    return _adjacent(e, pair)


def _inverse_pair(a: E.Expr, b: E.Expr) -> bool:
    """b = inv(a), also for a' and inv(a)'."""
    if a.rows != a.cols:
        return False
    for x, y in ((a, b), (b, a)):
        if isinstance(y, E.Inverse) and y.args[0] == x:
            return True
        if isinstance(x, E.Transpose) and isinstance(y, E.Transpose) and isinstance(y.args[0], E.Inverse) and y.args[0].args[0] == x.args[0]:
            return True
    return False


def diag_ones(e: E.MatMul) -> E.Expr:
    """diag(a) 1_{n x m} = a 1_m' and 1_{n x m} diag(b) = 1_n b' (so diag(s) 1 1' diag(s) = s s')."""

    def pair(a, b):
        if isinstance(a, E.Diag) and isinstance(b, E.Ones):
            return [a.arg] + ([E.Ones(1, b.cols)] if b.cols != 1 else [])
        if isinstance(a, E.Ones) and isinstance(b, E.Diag):
            return ([E.Ones(a.rows, 1)] if a.rows != 1 else []) + [E.transpose(b.arg)]
        return None

    return _adjacent(e, pair)


def _pow_base(f: E.Expr) -> tuple[E.Expr, int]:
    if isinstance(f, E.MatPow):
        return f.args[0], f.args[1]
    if isinstance(f, E.Transpose) and isinstance(f.args[0], E.MatPow):
        return E.transpose(f.args[0].args[0]), f.args[0].args[1]
    return f, 1


def merge_powers(e: E.MatMul) -> E.Expr:
    """X X = X^2, X^a X^b = X^(a+b), X' X' = (X^2)'."""

    def pair(a, b):
        (ba, ka), (bb, kb) = _pow_base(a), _pow_base(b)
        if a.rows == a.cols and ba == bb:
            return [matpow_canonical(E.matpow(ba, ka + kb))]
        return None

    return _adjacent(e, pair)


def matpow_canonical(e: E.Expr) -> E.Expr:
    """(X')^k = (X^k)'."""
    if isinstance(e, E.MatPow) and isinstance(e.args[0], E.Transpose):
        return E.transpose(E.matpow(e.args[0].args[0], e.args[1]))
    return e


def inverse_cancel(e: E.MatMul) -> E.Expr:
    """X inv(X) = I and inv(X) X = I, also transposed."""
    return _adjacent(e, lambda a, b: [E.Identity(a.rows)] if _inverse_pair(a, b) else None)


def negate_difference(e: E.MatMul) -> E.Expr:
    """-c (a - b) = c (b - a), when that removes the leading minus."""
    c, scal, chain = parts(e)
    if c >= 0:
        return e
    fs = list(e.args)
    for i, f in enumerate(fs):
        if isinstance(f, E.Add) and any(split_coeff(t)[0] > 0 for t in f.args) and any(
            split_coeff(t)[0] < 0 for t in f.args
        ):
            flipped = E.add(*[E.neg(t) for t in f.args])
            fs[i] = flipped
            fs = [E.const(-1)] + fs
            return E.matmul(*fs)
    return e
