"""Matrix chains in generated code: structure applied, never built, and the cheapest order.

A chain ``F1 F2 ... Fm`` is planned by dynamic programming over its intervals (the classic
matrix-chain order), with structured factors applied to their dense neighbour instead of being
materialised.  Each structure is one named rule in ``STRUCTURES``:

* ``diag``: ``diag(v) M`` is ``v .* M`` and ``M diag(v)`` is ``M .* v'`` (so ``diag(vec(S)) vec(V)``
  is the Hadamard product ``vec(S .* V)``);
* ``kron``: ``kron(A, B) M`` is the reshape-and-multiply identity ``vec(B X A') = kron(A, B) vec(X)``,
  with identity factors skipped;
* ``commutation``: ``K(m, n) M`` is a transpose of each column of M read as an m x n matrix;
* ``identity``: nothing to do;
* ``ones``: ``1 M`` is a column sum, ``M 1`` a row sum.

and ``X diag(v) X'`` is computed once, exactly symmetric (``_xdxt``).  A structured factor is
materialised only when no dense neighbour exists (a product of structures alone).  Sizes are
estimated with every dimension symbol taken as large (``SYMBOL_SIZE``), so an n x 1 vector at the end
of a chain is applied first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import expr as E

SYMBOL_SIZE = 1000


@dataclass(frozen=True)
class Structure:
    """A structured factor: how to apply it from the left (``op @ m``) or the right (``m @ op``)."""

    name: str
    node: E.Expr  # normalised: transposes pushed inside
    parts: tuple  # the dense pieces (v of diag(v), A and B of kron(A, B), the sizes of K(m, n))


def structure(f: E.Expr) -> Structure | None:
    """The structure of a chain factor, or None for a dense one."""
    t = isinstance(f, E.Transpose)
    g = f.args[0] if t else f
    if isinstance(g, E.Diag):
        return Structure("diag", g, (g.arg,))
    if isinstance(g, E.Kron):
        a, b = g.args
        return Structure("kron", f, (E.transpose(a), E.transpose(b)) if t else (a, b))
    if isinstance(g, E.Commutation):
        m, n = g.args
        return Structure("commutation", f, (n, m) if t else (m, n))
    if isinstance(g, E.Identity):
        return Structure("identity", g, ())
    if isinstance(g, E.Ones):
        return Structure("ones", f, ())
    return None


class Sizes:
    """Estimated sizes of dimensions: integers as they are, symbols as ``SYMBOL_SIZE``."""

    def __init__(self):
        self.cache: dict = {}

    def __call__(self, d) -> float:
        if d not in self.cache:
            self.cache[d] = float(d.subs({s: SYMBOL_SIZE for s in d.free_symbols}))
        return self.cache[d]


def _apply_cost(s: Structure, side: str, shape: tuple, est: Sizes) -> float:
    """Estimated work of applying structure ``s`` to a dense r x c operand (``side``: where s stands)."""
    r, c = (est(shape[0]), est(shape[1]))
    size = r * c
    if s.name == "identity":
        return 0.0
    if s.name != "kron":
        return size
    a, b = s.parts
    (ma, na), (mb, nb) = (est(a.rows), est(a.cols)), (est(b.rows), est(b.cols))
    other = c if side == "left" else r
    if side == "right":  # m @ kron(A, B) = (kron(A', B') m')'
        ma, na, mb, nb = na, ma, nb, mb
    cost = size
    if not isinstance(b, E.Identity):
        cost += na * mb * nb * other
    if not isinstance(a, E.Identity):
        cost += ma * na * mb * other
    return cost


def _materialise_cost(s: Structure, est: Sizes) -> float:
    """Its size, weighted by how much of it is pure structure (an identity or ones factor of a kron, a
    diagonal): when sizes tie, kron(X, I) is built before kron(I, ones), which is mostly zeros."""
    n = s.node
    size = est(n.rows) * est(n.cols)
    empty = sum(isinstance(p, (E.Identity, E.Ones)) for p in s.parts) if s.name == "kron" else 2
    return size * (1 + empty)


def _is_xdxt(chain, i) -> bool:
    """F diag(v) F' at chain[i:i+3] (F dense)."""
    if i + 2 >= len(chain):
        return False
    f, d, g = chain[i:i + 3]
    return isinstance(d, E.Diag) and structure(f) is None and g == E.transpose(f)


def plan(chain: list, est: Sizes) -> dict:
    """The cheapest way to evaluate every interval of the chain: {(i, j): (cost, how)}."""
    m = len(chain)
    st = [structure(f) for f in chain]
    best: dict = {}
    for i in range(m):
        best[(i, i)] = (0.0, "leaf")
    for length in range(2, m + 1):
        for i in range(m - length + 1):
            j = i + length - 1
            rows, cols = chain[i].rows, chain[j].cols
            options = []
            if length == 3 and _is_xdxt(chain, i):
                r, n = est(chain[i].rows), est(chain[i].cols)
                options.append((r * n * r / 2 + r * n, "xdxt"))
            for k in range(i, j):
                lc, rc = best[(i, k)][0], best[(k + 1, j)][0]
                ls = st[i] if k == i else None
                rs = st[j] if k + 1 == j else None
                mid = chain[k].cols
                if ls is None and rs is None:
                    cost = est(rows) * est(mid) * est(cols)
                    options.append((lc + rc + cost, ("dense", k)))
                elif ls is not None and rs is None:
                    options.append((rc + _apply_cost(ls, "left", (mid, cols), est), ("left", k)))
                elif ls is None:
                    options.append((lc + _apply_cost(rs, "right", (rows, mid), est), ("right", k)))
                else:  # two structures: materialise one, apply the other to it
                    options.append((_materialise_cost(ls, est) + _apply_cost(rs, "right", (rows, mid), est),
                                    ("right", k)))
                    options.append((_materialise_cost(rs, est) + _apply_cost(ls, "left", (mid, cols), est),
                                    ("left", k)))
            best[(i, j)] = min(options, key=lambda o: o[0])
    return best


def _left(s: Structure, m: str, rows, cols, c: Callable) -> str:
    """Code for ``s @ m`` (m dense, of cols columns; rows are those of s)."""
    dim = c.names.dim
    if s.name == "identity":
        return m
    if s.name == "diag":
        return f"({c(s.parts[0])} * {m})"
    if s.name == "commutation":
        return f"_commutation_apply(xp, {dim(s.parts[0])}, {dim(s.parts[1])}, {m})"
    if s.name == "ones":
        out = f"xp.sum({m}, axis=0, keepdims=True)"
        return out if rows == 1 else f"xp.broadcast_to({out}, ({dim(rows)}, {dim(cols)}))"
    a, b = s.parts
    ca = "None" if isinstance(a, E.Identity) else c(a)
    cb = "None" if isinstance(b, E.Identity) else c(b)
    return f"_kron_apply(xp, {ca}, {cb}, {dim(a.cols)}, {dim(b.cols)}, {m})"


def _right(s: Structure, m: str, rows, cols, c: Callable) -> str:
    """Code for ``m @ s`` (m dense, of rows rows; cols are those of s)."""
    dim = c.names.dim
    if s.name == "identity":
        return m
    if s.name == "diag":
        return f"({m} * {c(s.parts[0])}.T)"
    if s.name == "commutation":
        return f"_commutation_apply(xp, {dim(s.parts[1])}, {dim(s.parts[0])}, {m}.T).T"
    if s.name == "ones":
        out = f"xp.sum({m}, axis=1, keepdims=True)"
        return out if cols == 1 else f"xp.broadcast_to({out}, ({dim(rows)}, {dim(cols)}))"
    a, b = s.parts
    at, bt = E.transpose(a), E.transpose(b)
    ca = "None" if isinstance(at, E.Identity) else c(at)
    cb = "None" if isinstance(bt, E.Identity) else c(bt)
    return f"_kron_apply(xp, {ca}, {cb}, {dim(a.rows)}, {dim(b.rows)}, ({m}).T).T"


def _materialise(s: Structure, c: Callable) -> str:
    """The structure built as a dense array (its node's own emitter: shared with any other use of it)."""
    return c(s.node)


def emit_chain(chain: list, c: Callable) -> str:
    """Code for the product of ``chain`` (non-scalar factors), by the cheapest plan."""
    best = plan(chain, c.sizes)
    st = [structure(f) for f in chain]

    def gen(i: int, j: int) -> str:
        how = best[(i, j)][1]
        if how == "leaf":
            return c(chain[i]) if st[i] is None else _materialise(st[i], c)
        if how == "xdxt":
            return f"_xdxt(xp, {c(chain[i])}, {c(chain[i + 1].arg)})"
        side, k = how
        rows, mid, cols = chain[i].rows, chain[k].cols, chain[j].cols
        if side == "left" and k == i and st[i] is not None:
            return _left(st[i], gen(k + 1, j), rows, cols, c)
        if side == "right" and k + 1 == j and st[j] is not None:
            return _right(st[j], gen(i, k), rows, cols, c)
        return f"({gen(i, k)} @ {gen(k + 1, j)})"

    return gen(0, len(chain) - 1)

