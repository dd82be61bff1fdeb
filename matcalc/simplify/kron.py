"""Kronecker-product and commutation-matrix rules."""

from __future__ import annotations

from .. import expr as E
from .core import _adjacent, parts


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
