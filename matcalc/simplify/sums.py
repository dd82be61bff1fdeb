"""Rules for sums: like terms, common factors, a canonical term order."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from .. import expr as E
from .core import parts, split_coeff, with_coeff


def collect_like_terms(e: E.Add) -> E.Expr:
    """c1 T + c2 T = (c1 + c2) T."""
    groups: dict = {}
    for t in e.args:
        c, rest = split_coeff(t)
        groups[rest] = groups.get(rest, Fraction(0)) + c
    if len(groups) == len(e.args):
        return e
    return E.add(*[with_coeff(c, r) for r, c in groups.items() if c != 0] or [E.zeros(e.shape)])


def factor_common_scalar(e: E.Add) -> E.Expr:
    """c a + c b = c (a + b), for a common scalar factor or a common coefficient."""
    ps = [parts(t) for t in e.args]
    common = Counter(ps[0][1])
    for _, scal, _ in ps[1:]:
        common &= Counter(scal)
    coeffs = [abs(c) for c, _, _ in ps]
    cc = coeffs[0] if all(x == coeffs[0] for x in coeffs) and coeffs[0] != 1 else Fraction(1)
    if not common and cc == 1:
        return e
    cl = list(common.elements())
    new_terms = []
    for c, scal, chain in ps:
        rest = Counter(scal) - common
        new_terms.append(E.matmul(E.const(c / cc), *rest.elements(), *chain) if (rest or chain) else E.const(c / cc))
    inner = E.add(*new_terms)
    if inner.shape != e.shape:
        inner = E.matmul(inner, E.Ones(*e.shape))
    return E.matmul(E.const(cc), *cl, inner)


def factor_common_chain(e: E.Add) -> E.Expr:
    """A C + B C = (A + B) C and C A + C B = C (A + B)  (e.g. A x + A' x = (A + A') x)."""
    ps = [parts(t) for t in e.args]
    for side in (-1, 0):
        counts = Counter(chain[side] for _, _, chain in ps if len(chain) >= 2)
        if not counts:
            continue
        f, k = counts.most_common(1)[0]
        if k < 2:
            continue
        group, others = [], []
        for t, (c, scal, chain) in zip(e.args, ps):
            if len(chain) >= 2 and chain[side] == f:
                rest = chain[:-1] if side == -1 else chain[1:]
                group.append(E.matmul(E.const(c), *scal, *rest))
            else:
                others.append(t)
        inner = E.add(*group)
        new = E.matmul(inner, f) if side == -1 else E.matmul(f, inner)
        return E.add(new, *others)
    return e


def _sort_key(t: E.Expr):
    c, rest = split_coeff(t)
    return (c < 0, isinstance(rest, E.Const), _type_rank(rest), repr(rest))


def _type_rank(e: E.Expr) -> int:
    return {E.Var: 0, E.MatMul: 1, E.Transpose: 2}.get(type(e), 3)


def sort_terms(e: E.Add) -> E.Expr:
    """A canonical order: positive terms first, then by their text."""
    terms = sorted(e.args, key=_sort_key)
    if list(terms) == list(e.args):
        return e
    return E.Add(*terms)
