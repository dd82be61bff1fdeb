"""Expanding and collecting entrywise polynomials when that makes the expression smaller."""

from __future__ import annotations

import functools
from fractions import Fraction

from .. import expr as E
from .core import MAX_POLY_TERMS, _base_exp, parts


@functools.lru_cache(maxsize=8192)
def _poly(e: E.Expr, shape) -> dict | None:
    """e as {monomial: coefficient}; a monomial is a sorted tuple of (atom, exponent).
    Memoised: each ancestor of a node asks again.  Callers never modify the dict they get."""
    if isinstance(e, E.Add):
        out: dict = {}
        for t in e.args:
            p = _poly(t, shape)
            if p is None:
                return None
            for m, c in p.items():
                out[m] = out.get(m, Fraction(0)) + c
        return {m: c for m, c in out.items() if c != 0}
    if isinstance(e, (E.Hadamard, E.MatMul)):
        if isinstance(e, E.MatMul):
            c, scal, chain = parts(e)
            if len(chain) > 1:
                return _mono([*scal, E.matmul(*chain)], c, shape)
            factors = [*scal, *chain]
        else:
            c, factors = Fraction(1), list(e.args)
        acc: dict = {(): c}
        for f in factors:
            p = _poly(f, shape) if (f.shape == shape or f.is_scalar) else None
            if p is None:
                p = {((f, Fraction(1)),): Fraction(1)}
            acc = _mul(acc, p)
            if acc is None or len(acc) > MAX_POLY_TERMS:
                return None
        return acc
    if isinstance(e, E.Const) and isinstance(e.value, Fraction):
        return {(): e.value} if e.value != 0 else {}
    if isinstance(e, E.Ones) and e.shape == shape:
        return {(): Fraction(1)}
    b, p = _base_exp(e)
    return {((b, p),): Fraction(1)}


def _mono(factors, c, shape):
    acc: dict = {(): c}
    for f in factors:
        acc = _mul(acc, {((f, Fraction(1)),): Fraction(1)})
    return acc


def _mul(p: dict, q: dict) -> dict | None:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            exps: dict = dict(m1)
            for a, k in m2:
                exps[a] = exps.get(a, Fraction(0)) + k
            m = tuple(sorted(((a, k) for a, k in exps.items() if k != 0), key=lambda ak: repr(ak[0])))
            out[m] = out.get(m, Fraction(0)) + c1 * c2
    return {m: c for m, c in out.items() if c != 0}


def _unpoly(p: dict, shape) -> E.Expr:
    terms = []
    for m, c in p.items():
        scal = [E.power(a, E.const(k)) for a, k in m if a.is_scalar]
        arr = [E.power(a, E.const(k)) for a, k in m if not a.is_scalar]
        if shape == (1, 1):
            terms.append(E.matmul(E.const(c), *scal))
        else:
            body = E.hadamard(*arr) if arr else E.Ones(*shape)
            terms.append(E.matmul(E.const(c), *scal, body))
    return E.add(*terms) if terms else E.zeros(shape)


def expand_elementwise(e: E.Expr) -> E.Expr:
    """Expand and collect entrywise polynomials when that makes the expression smaller:
    y .* (1 - s) - (1 - y) .* s = y - s."""
    p = _poly(e, e.shape)
    if p is None or len(p) > _terms(e):
        return e
    if sum(E.size(a) for m in p for a, _ in m) >= E.size(e):  # the atoms alone are no smaller: keep e
        return e
    new = _unpoly(p, e.shape)
    # accept only when it is smaller and has no more terms: (1 - a)*2*W stays factored
    if E.size(new) < E.size(e) and _terms(new) <= _terms(e):
        return new
    return e


def _terms(e: E.Expr) -> int:
    return len(e.args) if isinstance(e, E.Add) else 1
