"""Simplification: small named rewrite rules plus one strategy.

Every rule is a pure function ``Expr -> Expr`` that returns its input unchanged
when it does not apply.  ``RULES`` lists the rules tried on each node type, in
order; :func:`simplify` applies them bottom-up until nothing changes.

``PREPARE`` holds the rewrites applied to a function *before* it is
differentiated: standard identities (log softmax(z) = z - logsumexp(z),
log sigmoid(z) = -softplus(-z)) whose derivatives come out in textbook form
and evaluate without overflow.
"""

from __future__ import annotations

import functools
from collections import Counter
from fractions import Fraction
from typing import Callable

from . import expr as E
from .budget import tick
from .errors import MatcalcError

Rule = Callable[[E.Expr], E.Expr]

MAX_PASSES = 40
MAX_POLY_TERMS = 64


# -- helpers ------------------------------------------------------------------


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


# -- transpose rules ----------------------------------------------------------


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


# -- product rules ------------------------------------------------------------


def _base_exp(f: E.Expr) -> tuple[E.Expr, Fraction]:
    if isinstance(f, E.Power) and isinstance(f.args[1], E.Const) and isinstance(f.args[1].value, Fraction):
        return f.args[0], f.args[1].value
    return f, Fraction(1)


def _sign_pairs(factors: list) -> list | None:
    """Replace a pair sign(u), u by abs(u); None when there is none."""
    for i, f in enumerate(factors):
        if isinstance(f, E.Apply) and f.fname == "sign" and f.arg in factors:
            j = factors.index(f.arg)
            rest = [g for k, g in enumerate(factors) if k not in (i, j)]
            return rest + [E.apply("abs", f.arg)]
    return None


def sign_times_self(e: E.Expr) -> E.Expr:
    """sign(u) u = |u|, for scalar factors and in elementwise products."""
    if isinstance(e, E.MatMul):
        scal = [f for f in e.args if f.is_scalar]
        new = _sign_pairs(scal)
        if new is None:
            return e
        return E.matmul(*new, *[f for f in e.args if not f.is_scalar])
    new = _sign_pairs(list(e.args))
    return e if new is None else E.hadamard(*new)


def relu_times_step(e: E.Hadamard) -> E.Expr:
    """relu(z) .* step(z) = relu(z)."""
    fs = list(e.args)
    for f in fs:
        if isinstance(f, E.Apply) and f.fname == "relu":
            st = E.apply("step", f.arg)
            if st in fs:
                fs.remove(st)
                return E.hadamard(*fs)
    return e


def kron_mixed_product(e: E.MatMul) -> E.Expr:
    """(A kron B)(C kron D) = AC kron BD (Cookbook 511); (a kron B) M = a kron (B M) for a column a,
    M (a' kron B) = a' kron (M B) for a row a'."""

    def pair(a, b):
        if isinstance(a, E.Kron) and isinstance(b, E.Kron):
            (A, B), (C, D) = a.args, b.args
            if A.cols == C.rows and B.cols == D.rows:
                return [E.kron(E.matmul(A, C), E.matmul(B, D))]
        elif isinstance(a, E.Kron) and a.args[0].cols == 1 and a.args[1].cols == b.rows:
            return [E.kron(a.args[0], E.matmul(a.args[1], b))]
        elif isinstance(b, E.Kron) and b.args[0].rows == 1 and a.cols == b.args[1].rows:
            return [E.kron(b.args[0], E.matmul(a, b.args[1]))]
        return None

    return _adjacent(e, pair)


def kron_commutation(e: E.MatMul) -> E.Expr:
    """(a' kron B) K_{n,q} = B kron a' for a row a' (1 x n) and B p x q (K (A kron B) K = B kron A)."""

    def pair(a, k):
        if isinstance(a, E.Kron) and isinstance(k, E.Commutation):
            A, B = a.args
            if A.rows == 1 and k.args == (A.cols, B.cols):
                return [E.kron(B, A)]
        return None

    return _adjacent(e, pair)


def commutation_inverse(e: E.MatMul) -> E.Expr:
    """K_{m,n} K_{n,m} = I  (vec(A')' = vec(A))."""

    def pair(a, b):
        if isinstance(a, E.Commutation) and isinstance(b, E.Commutation) and a.args == (b.args[1], b.args[0]):
            return [E.Identity(a.rows)]
        return None

    return _adjacent(e, pair)


def _is_diag_mask(f: E.Expr):
    """n when f is diag(vec(I_n)), the 0/1 mask of the diagonal positions of vec of an n x n matrix."""
    if isinstance(f, E.Diag) and isinstance(f.arg, E.Vec) and isinstance(f.arg.arg, E.Identity):
        return f.arg.arg.rows
    return None


def diagonal_selection(e: E.MatMul) -> E.Expr:
    """S S' = diag(vec(I_n)) for the selection matrix S = diag(vec(I_n)) (1_n kron I_n) of vec(diag(u)) = S u:
    diag(vec(I)) (1 1' kron I) diag(vec(I)) = diag(vec(I)), and diag(vec(I)) diag(vec(I)) = diag(vec(I))."""
    fs = list(e.args)
    for i in range(len(fs) - 1):
        n = _is_diag_mask(fs[i])
        if n is None:
            continue
        if fs[i + 1] == fs[i]:
            return E.matmul(*fs[:i + 1], *fs[i + 2:])
        if i + 2 < len(fs) and fs[i + 2] == fs[i] and fs[i + 1] == E.kron(E.Ones(n, n), E.Identity(n)):
            return E.matmul(*fs[:i + 1], *fs[i + 3:])
    return e


def kron_of_identities(e: E.Kron) -> E.Expr:
    """I_m kron I_n = I_{mn}."""
    a, b = e.args
    if isinstance(a, E.Identity) and isinstance(b, E.Identity):
        return E.Identity(a.rows * b.rows)
    return e


def kron_of_vectors(e: E.Kron) -> E.Expr:
    """u' kron v = v u' and u kron v' = u v' for column vectors u, v; a kron (b kron C) = (a kron b) kron C
    when a kron b is such an outer product."""
    a, b = e.args
    if a.rows == 1 and b.cols == 1:
        return E.matmul(b, a)
    if a.cols == 1 and b.rows == 1:
        return E.matmul(a, b)
    if isinstance(b, E.Kron):
        inner = kron_of_vectors(E.Kron(a, b.args[0]))
        if not isinstance(inner, E.Kron):
            return E.kron(inner, b.args[1])
    return e


def factor_common_kron(e: E.Add) -> E.Expr:
    """c1 (a kron B) + c2 (a kron C) = a kron (c1 B + c2 C), and likewise on the right."""
    ps = [parts(t) for t in e.args]
    if not all(len(ch) == 1 and isinstance(ch[0], E.Kron) for _, _, ch in ps):
        return e
    for side in (0, 1):
        firsts = {ch[0].args[side] for _, _, ch in ps}
        if len(firsts) == 1:
            common = firsts.pop()
            rest = [E.matmul(E.const(c), *scal, ch[0].args[1 - side]) for c, scal, ch in ps]
            inner = E.add(*rest)
            return E.kron(common, inner) if side == 0 else E.kron(inner, common)
    return e


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


def _dim_scalar(k) -> E.Expr:
    import sympy

    if isinstance(k, sympy.Integer):
        return E.const(int(k))
    if isinstance(k, sympy.Symbol):
        return E.Var(str(k), 1, 1, frozenset({"dimension"}))
    raise ValueError(f"cannot turn dimension {k} into a scalar")


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


# -- elementwise rules ----------------------------------------------------------


def hadamard_pull_scalars(e: E.Hadamard) -> E.Expr:
    """A .* (c B) = c (A .* B) for a scalar c."""
    scal: list = []
    new: list = []
    changed = False
    for f in e.args:
        c, s, chain = parts(f)
        if isinstance(f, E.MatMul) and (c != 1 or s) and len(chain) == 1:
            scal.extend(([E.const(c)] if c != 1 else []) + s)
            new.append(chain[0])
            changed = True
        elif isinstance(f, E.MatMul) and (c != 1 or s) and len(chain) > 1:
            scal.extend(([E.const(c)] if c != 1 else []) + s)
            new.append(E.matmul(*chain))
            changed = True
        else:
            new.append(f)
    if not changed:
        return e
    return E.matmul(*scal, E.hadamard(*new))


def hadamard_powers(e: E.Hadamard) -> E.Expr:
    """A .* A = A.^2 and A .* A.^-1 = 1 (entrywise, on the domain of the expression)."""
    exps: dict = {}
    for f in e.args:
        b, p = _base_exp(f)
        exps[b] = exps.get(b, Fraction(0)) + p
    if len(exps) == len(e.args):
        return e
    return E.hadamard(*[E.power(b, E.const(p)) for b, p in exps.items()] or [E.Ones(*e.shape)])


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


def power_of_sqrt(e: E.Power) -> E.Expr:
    """sqrt(a)^(2k) = a^k;  (a^p)^q = a^(pq) for an integer q;  (a^(2k))^(1/2) = |a|^k.

    (a^p)^q = a^(pq) is false in general: ((-1)^2)^(1/2) = 1, not -1.
    """
    b, p = e.args
    if not (isinstance(p, E.Const) and isinstance(p.value, Fraction)):
        return e
    q = p.value
    if isinstance(b, E.Apply) and b.fname == "sqrt" and q.denominator == 1 and q % 2 == 0:
        return E.power(b.arg, E.const(q / 2))
    if isinstance(b, E.Power) and isinstance(b.args[1], E.Const) and isinstance(b.args[1].value, Fraction):
        r = b.args[1].value
        if q.denominator == 1:
            return E.power(b.args[0], E.const(r * q))
        if q == Fraction(1, 2) and r.denominator == 1 and r % 2 == 0:
            return E.power(E.apply("abs", b.args[0]), E.const(r / 2))
    return e


def power_of_product(e: E.Power) -> E.Expr:
    """(c s)^p = c^p s^p for scalars with an integer exponent."""
    b, p = e.args
    if b.is_scalar and isinstance(b, E.MatMul) and isinstance(p, E.Const) and isinstance(p.value, Fraction) and p.value.denominator == 1:
        if all(f.is_scalar for f in b.args):
            return E.matmul(*[E.power(f, p) for f in b.args])
    return e


def sigmoid_of_negative(e: E.Apply) -> E.Expr:
    """sigmoid(-z) = 1 - sigmoid(z)."""
    if e.fname == "sigmoid":
        c, rest = split_coeff(e.arg)
        if c == -1:
            one = E.ONE_S if e.is_scalar else E.Ones(*e.shape)
            return E.sub(one, E.apply("sigmoid", rest))
    return e


def _replace_node(e: E.Expr, old: E.Expr, new: E.Expr) -> E.Expr:
    if e == old:
        return new
    if not e.children:
        return e
    return e.rebuild([_replace_node(c, old, new) for c in e.children])


def sigmoid_complement(e: E.Add) -> E.Expr:
    """sigmoid(-z) = 1 - sigmoid(z) in a sum that also holds sigmoid(z), so that the terms can cancel.

    A lone sigmoid(-z) stays: the logistic loss's gradient is -X'*(y.*sigmoid(-y.*(X*w))).
    """
    found = [n for n in E.walk(e) if isinstance(n, E.Apply) and n.fname == "sigmoid"]
    plain = {n.arg for n in found}
    for n in found:
        c, rest = split_coeff(n.arg)
        if c == -1 and rest in plain:
            return _replace_node(e, n, sigmoid_of_negative(n))
    return e


def exp_log(e: E.Apply) -> E.Expr:
    """exp(log a) = a, log(exp a) = a."""
    a = e.arg
    if isinstance(a, E.Apply) and {e.fname, a.fname} == {"exp", "log"}:
        return a.arg
    return e


# -- sums ----------------------------------------------------------------------


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


# -- elementwise polynomials -------------------------------------------------------


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


# -- rewrites before differentiation ---------------------------------------------


def log_of_softmax(e: E.Apply) -> E.Expr:
    """log softmax(Z) = Z - 1 logsumexp(Z), column by column."""
    if e.fname == "log" and isinstance(e.arg, E.Softmax):
        Z = e.arg.arg
        ones = E.ONE_S if Z.rows == 1 else E.Ones(Z.rows, 1)
        return E.sub(Z, E.matmul(ones, E.logsumexp(Z)))
    return e


def log_of_sigmoid(e: E.Apply) -> E.Expr:
    """log sigmoid(z) = -softplus(-z);  log(1 - sigmoid(z)) = -softplus(z)."""
    if e.fname != "log":
        return e
    a = e.arg
    if isinstance(a, E.Apply) and a.fname == "sigmoid":
        return E.neg(E.apply("softplus", E.neg(a.arg)))
    if isinstance(a, E.Add) and len(a.args) == 2:
        one, other = a.args
        if isinstance(one, (E.Ones, E.Const)) and (not isinstance(one, E.Const) or one.value == 1):
            c, rest = split_coeff(other)
            if c == -1 and isinstance(rest, E.Apply) and rest.fname == "sigmoid":
                return E.neg(E.apply("softplus", rest.arg))
    return e


def _is_one_like(e: E.Expr, shape) -> bool:
    """A ones matrix of ``shape``, or the number 1 for a scalar."""
    if isinstance(e, E.Ones):
        return e.shape == shape
    return isinstance(e, E.Const) and e.value == 1 and shape == (E.ONE, E.ONE)


def _exp_plus_one(e: E.Expr) -> E.Expr | None:
    """u when ``e`` is 1 + exp(u) (either order, 1 a ones matrix of the same shape); None otherwise."""
    if isinstance(e, E.Add) and len(e.args) == 2:
        for one, other in (e.args, e.args[::-1]):
            if isinstance(other, E.Apply) and other.fname == "exp" and _is_one_like(one, e.shape):
                return other.arg
    return None


def log_of_one_plus_exp(e: E.Apply) -> E.Expr:
    """log(1 + exp(u)) = softplus(u), elementwise (the logistic loss log(1 + exp(-y.*(X*w))))."""
    if e.fname == "log":
        u = _exp_plus_one(e.arg)
        if u is not None:
            return E.apply("softplus", u)
    return e


def _negated(u: E.Expr) -> E.Expr:
    c, rest = split_coeff(u)
    return with_coeff(-c, rest)


def sigmoid_of_exp(e: E.Expr) -> E.Expr:
    """1 ./ (1 + exp(u)) = sigmoid(-u);  exp(u) .* sigmoid(-u) = exp(u) ./ (1 + exp(u)) = sigmoid(u), elementwise."""
    if isinstance(e, E.Power):
        base, p = e.args
        u = _exp_plus_one(base)
        if u is not None and isinstance(p, E.Const) and p.value == -1:
            return E.apply("sigmoid", _negated(u))
    if isinstance(e, E.Hadamard):
        fs = list(e.args)
        for i, f in enumerate(fs):
            if isinstance(f, E.Apply) and f.fname == "sigmoid":
                u = _negated(f.arg)
                j = next((j for j, g in enumerate(fs) if j != i and g == E.apply("exp", u)), None)
                if j is not None:
                    out = [E.apply("sigmoid", u) if k == j else g for k, g in enumerate(fs) if k != i]
                    return E.hadamard(*out) if len(out) > 1 else out[0]
    return e


def log_of_det(e: E.Apply) -> E.Expr:
    """log det(X) = logdet(X)."""
    if e.fname == "log" and isinstance(e.arg, E.Det):
        return E.logdet(e.arg.arg)
    return e


def log_of_exp_sum(e: E.Apply) -> E.Expr:
    """log(sum(exp(z))) = logsumexp(z) for a column vector z."""
    if e.fname == "log" and isinstance(e.arg, E.Sum):
        inner = e.arg.arg
        if isinstance(inner, E.Apply) and inner.fname == "exp" and inner.arg.cols == 1:
            return E.logsumexp(inner.arg)
    return e


def trace_of_kron(e: E.Trace) -> E.Expr:
    """tr(A kron B) = tr(A) tr(B)  (Cookbook 513)."""
    if isinstance(e.arg, E.Kron):
        A, B = e.arg.args
        if A.rows == A.cols and B.rows == B.cols:
            return E.matmul(E.trace(A), E.trace(B))
    return e


def sum_of_kron(e: E.Sum) -> E.Expr:
    """sum(A kron B) = sum(A) sum(B): every product of an entry of A and an entry of B once."""
    if isinstance(e.arg, E.Kron):
        A, B = e.arg.args
        return E.matmul(E.sum_(A), E.sum_(B))
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


# -- the tables and the strategy ---------------------------------------------------

RULES: dict[type, list[Rule]] = {
    E.Transpose: [transpose_symmetric, transpose_commutation, transpose_push],
    E.Inverse: [inverse_of_transpose, inverse_of_scaled],
    E.MatMul: [collect_scalar_powers, sign_times_self, ones_product, diag_ones, inverse_cancel, merge_powers,
               kron_mixed_product, kron_commutation, commutation_inverse, diagonal_selection, scalar_chain_factor, negate_difference],
    E.MatPow: [matpow_canonical],
    E.Hadamard: [hadamard_pull_scalars, hadamard_powers, sign_times_self, relu_times_step, sigmoid_of_exp,
                 expand_elementwise],
    E.Add: [collect_like_terms, sigmoid_complement, expand_elementwise, factor_common_chain, factor_common_scalar,
            factor_common_kron, transpose_out_of_sum, sort_terms],
    E.Kron: [kron_of_identities, kron_of_vectors],
    E.Sum: [sum_of_hadamard],
    E.Trace: [trace_of_scaled],
    E.Diag: [diag_of_ones, diag_of_scaled],
    E.DiagOf: [diag_of_outer, diag_of_scaled, diagonal_of_ones],
    E.Power: [power_of_sqrt, power_of_product, sigmoid_of_exp],
    E.Apply: [exp_log],
}

PREPARE: dict[type, list[Rule]] = {
    E.Apply: [log_of_softmax, log_of_sigmoid, log_of_one_plus_exp, log_of_det, log_of_exp_sum, exp_log],
    E.Power: [sigmoid_of_exp],
    E.Hadamard: [sigmoid_of_exp],
    E.Trace: [trace_of_kron],
    E.Sum: [sum_of_kron],
    E.Det: [det_of_product],
    E.LogDet: [logdet_of_power],
}


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


def simplify(e: E.Expr) -> E.Expr:
    """The compact form of ``e``."""
    return rewrite(e, RULES)


def prepare(e: E.Expr) -> E.Expr:
    """``e`` rewritten into forms whose derivatives are compact and stable."""
    return rewrite(e, PREPARE)
