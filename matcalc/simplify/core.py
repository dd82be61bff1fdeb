"""The rewrite strategy and the helpers the rules share: coefficients, structural transposes, symmetry."""

from __future__ import annotations

import functools
from collections import Counter
from fractions import Fraction
from typing import Callable

from .. import expr as E
from ..budget import tick
from ..errors import MatcalcError


Rule = Callable[[E.Expr], E.Expr]

MAX_PASSES = 40
MAX_POLY_TERMS = 64


def split_coeff(t: E.Expr) -> tuple[Fraction, E.Expr]:
    """t = c * rest with c a number."""
    if isinstance(t, E.MatMul) and isinstance(t.args[0], E.Const) and isinstance(t.args[0].value, Fraction):
        rest = t.args[1:]
        return t.args[0].value, rest[0] if len(rest) == 1 else E.MatMul(*rest)
    if isinstance(t, E.Const) and isinstance(t.value, Fraction):
        return t.value, E.ONE_S
    return Fraction(1), t


def with_coeff(c: Fraction, rest: E.Expr) -> E.Expr:
    return E.matmul(E.const(c), rest)


def parts(t: E.Expr) -> tuple[Fraction, list, list]:
    """t = c * (scalar factors) * (chain)."""
    c, rest = split_coeff(t)
    if isinstance(rest, E.MatMul):
        fs = list(rest.args)
    else:
        fs = [rest]
    if rest == E.ONE_S:
        fs = []
    if t.is_scalar and not any(not f.is_scalar for f in fs):
        return c, fs, []
    scal = [f for f in fs if f.is_scalar]
    chain = [f for f in fs if not f.is_scalar]
    return c, scal, chain


@functools.lru_cache(maxsize=16384)
def flip(e: E.Expr) -> E.Expr:
    """The transpose of e with the transpose pushed in structurally."""
    if isinstance(e, E.Transpose):
        return e.args[0]
    if isinstance(e, E.MatMul):
        scal = [f for f in e.args if f.is_scalar]
        chain = [flip(f) for f in reversed([f for f in e.args if not f.is_scalar])]
        return E.matmul(*scal, *chain)
    if isinstance(e, E.Add):
        return E.add(*[flip(t) for t in e.args])
    if isinstance(e, E.Hadamard):
        return E.hadamard(*[flip(t) for t in e.args])
    if isinstance(e, E.Apply):
        return E.apply(e.fname, flip(e.arg))
    if isinstance(e, E.Power):
        p = e.args[1]
        return E.power(flip(e.args[0]), p if p.is_scalar else flip(p))
    if isinstance(e, E.Kron):
        return E.kron(flip(e.args[0]), flip(e.args[1]))
    if is_symmetric(e):
        return e
    return E.transpose(e)


@functools.lru_cache(maxsize=16384)
def is_symmetric(e: E.Expr) -> bool:
    if e.rows != e.cols:
        return False
    if e.is_scalar or isinstance(e, (E.Identity, E.Ones, E.Zero, E.Diag)):
        return True
    if isinstance(e, E.Var):
        return e.symmetric
    if isinstance(e, (E.Inverse, E.Apply, E.Power)):
        return all(is_symmetric(c) for c in e.children)
    if isinstance(e, E.MatPow):
        return is_symmetric(e.args[0])
    if isinstance(e, E.Hadamard):
        return all(is_symmetric(f) for f in e.args)
    if isinstance(e, E.Kron):
        return all(is_symmetric(f) for f in e.args)
    if isinstance(e, E.MatMul):
        chain = [f for f in e.args if not f.is_scalar]
        n = len(chain)
        for i in range(n // 2):
            if chain[i] != flip(chain[n - 1 - i]):
                return False
        return n % 2 == 0 or is_symmetric(chain[n // 2])
    if isinstance(e, E.Add):
        terms = Counter(e.args)
        return all(terms[flip(t)] == k for t, k in terms.items() if not is_symmetric(t)) or all(
            is_symmetric(t) for t in e.args
        )
    return False


def _base_exp(f: E.Expr) -> tuple[E.Expr, Fraction]:
    if isinstance(f, E.Power) and isinstance(f.args[1], E.Const) and isinstance(f.args[1].value, Fraction):
        return f.args[0], f.args[1].value
    return f, Fraction(1)


def _adjacent(e: E.MatMul, pair) -> E.Expr:
    """Rewrite the first pair of adjacent matrix factors (a, b) for which ``pair(a, b)`` gives a
    list of replacement factors; ``e`` itself when none does."""
    fs = list(e.args)
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        if a.is_scalar or b.is_scalar:
            continue
        new = pair(a, b)
        if new is not None:
            return E.matmul(*fs[:i], *new, *fs[i + 2:])
    return e


def _dim_scalar(k) -> E.Expr:
    import sympy

    if isinstance(k, sympy.Integer):
        return E.const(int(k))
    if isinstance(k, sympy.Symbol):
        return E.Var(str(k), 1, 1, frozenset({"dimension"}))
    if isinstance(k, sympy.Mul):  # a product of sizes, k*p
        return E.matmul(*[_dim_scalar(f) for f in k.args])
    if isinstance(k, sympy.Pow) and isinstance(k.exp, sympy.Integer) and k.exp > 0:
        return E.power(_dim_scalar(k.base), E.const(int(k.exp)))
    raise MatcalcError(f"cannot use the size {k} as a number in a result")


class _Budget:
    def __init__(self, n):
        self.n = n


def rewrite(e: E.Expr, rules: dict[type, list[Rule]], budget: int = 20000) -> E.Expr:
    """Apply ``rules`` bottom-up to a fixed point (bounded by ``budget`` rule firings)."""
    memo: dict = {}
    b = _Budget(budget)

    def go(node: E.Expr) -> E.Expr:
        hit = memo.get(node)
        if hit is not None:
            return hit
        tick("simplifying the result")
        cur = node.rebuild([go(c) for c in node.children]) if node.children else node
        for _ in range(MAX_PASSES):
            for r in rules.get(type(cur), ()):
                new = r(cur)
                if new != cur:
                    b.n -= 1
                    if b.n <= 0:
                        raise SimplifyBudgetError("simplification did not settle within its budget")
                    cur = go(new) if new not in memo else memo[new]
                    break
            else:
                break
        memo[node] = cur
        memo[cur] = cur
        return cur

    return go(e)


class SimplifyBudgetError(MatcalcError):
    pass
