"""Matrix chains in generated code: structure applied, never built, and the cheapest order.

A chain ``F1 F2 ... Fm`` is planned by dynamic programming over its intervals (the classic
matrix-chain order), with structured factors applied to their dense neighbour instead of being
materialised.  Each structure is one rule in the table ``STRUCTURES``:

* ``diag``: ``diag(v) M`` is ``v .* M`` and ``M diag(v)`` is ``M .* v'`` (so ``diag(vec(S)) vec(V)``
  is the Hadamard product ``vec(S .* V)``);
* ``kron``: ``kron(A, B) M`` is the reshape-and-multiply identity ``vec(B X A') = kron(A, B) vec(X)``,
  with identity factors skipped;
* ``commutation``: ``K(m, n) M`` is a transpose of each column of M read as an m x n matrix;
* ``identity``: nothing to do;
* ``ones``: ``1 M`` is a column sum, ``M 1`` a row sum.

and ``X diag(v) X'`` is computed once, exactly symmetric (``_xdxt``).  Two sandwiches that the
Hessians of column-wise functions (softmax) produce are applied block by block, never as the
(pk) x (nk) Kronecker products they are written with:

* ``kron(A, I) diag(vec(S)) kron(B, I)``: block (i, i) is ``A diag(S[i, :]) B``, the others 0
  (and ``kron(I, A) diag(vec(S)) kron(I, B)`` is block diagonal with blocks ``A diag(S[:, j]) B``);
* ``kron(A, I) diag(vec(S)) kron(I, 1) diag(vec(T)) kron(B, I)``: one product of the face-splitting
  matrices ``[A[c, :] .* S[i, :]]`` and ``[B[:, d] .* T[j, :]']``.

Before planning, :func:`lower` pushes transposes into sums and products that hold structure and
distributes a product over such a sum, so that each chain shows its structure.  A structured factor is
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


# -- the structures: how each applies to a dense neighbour, and at what cost ----------------------


@dataclass(frozen=True)
class Rule:
    """One structure: code for ``s @ m`` and ``m @ s`` (m dense code, rows x cols the product's shape),
    and the estimated work of either on a dense operand of ``shape``."""

    left: Callable
    right: Callable
    cost: Callable = lambda s, side, shape, est: est(shape[0]) * est(shape[1])


def _kron_codes(a: E.Expr, b: E.Expr, c: Callable) -> tuple:
    return tuple("None" if isinstance(x, E.Identity) else c(x) for x in (a, b))


def _kron_left(s, m, rows, cols, c):
    """kron(A, B) M: vec(B X A') column by column (identity factors skipped)."""
    a, b = s.parts
    ca, cb = _kron_codes(a, b, c)
    return f"_kron_apply(xp, {ca}, {cb}, {c.names.dim(a.cols)}, {c.names.dim(b.cols)}, {m})"


def _kron_right(s, m, rows, cols, c):
    """M kron(A, B) = (kron(A', B') M')'."""
    a, b = s.parts
    ca, cb = _kron_codes(E.transpose(a), E.transpose(b), c)
    return f"_kron_apply(xp, {ca}, {cb}, {c.names.dim(a.rows)}, {c.names.dim(b.rows)}, ({m}).T).T"


def _kron_cost(s, side, shape, est) -> float:
    """A copy of the operand and the two small products (none for an identity factor)."""
    r, cl = est(shape[0]), est(shape[1])
    a, b = s.parts
    (ma, na), (mb, nb) = (est(a.rows), est(a.cols)), (est(b.rows), est(b.cols))
    other = cl if side == "left" else r
    if side == "right":  # m @ kron(A, B) = (kron(A', B') m')'
        ma, na, mb, nb = na, ma, nb, mb
    cost = r * cl
    if not isinstance(b, E.Identity):
        cost += na * mb * nb * other
    if not isinstance(a, E.Identity):
        cost += ma * na * mb * other
    return cost


def _ones_left(s, m, rows, cols, c):
    """1 M: the column sums, broadcast to the rows of 1."""
    out = f"xp.sum({m}, axis=0, keepdims=True)"
    return out if rows == 1 else f"xp.broadcast_to({out}, ({c.names.dim(rows)}, {c.names.dim(cols)}))"


def _ones_right(s, m, rows, cols, c):
    """M 1: the row sums, broadcast to the columns of 1."""
    out = f"xp.sum({m}, axis=1, keepdims=True)"
    return out if cols == 1 else f"xp.broadcast_to({out}, ({c.names.dim(rows)}, {c.names.dim(cols)}))"


STRUCTURES: dict[str, Rule] = {
    "diag": Rule(lambda s, m, rows, cols, c: f"({c(s.parts[0])} * {m})",
                 lambda s, m, rows, cols, c: f"({m} * {c(s.parts[0])}.T)"),
    "kron": Rule(_kron_left, _kron_right, _kron_cost),
    "commutation": Rule(
        lambda s, m, rows, cols, c: f"_commutation_apply(xp, {c.names.dim(s.parts[0])}, {c.names.dim(s.parts[1])}, {m})",
        lambda s, m, rows, cols, c: f"_commutation_apply(xp, {c.names.dim(s.parts[1])}, {c.names.dim(s.parts[0])}, {m}.T).T"),
    "identity": Rule(lambda s, m, rows, cols, c: m, lambda s, m, rows, cols, c: m, lambda s, side, shape, est: 0.0),
    "ones": Rule(_ones_left, _ones_right),
}


def _apply_cost(s: Structure, side: str, shape: tuple, est: Sizes) -> float:
    return STRUCTURES[s.name].cost(s, side, shape, est)


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


def _kron_eye(s: Structure | None):
    """A of a structure kron(A, I_k) (A not an identity), with k; else None."""
    if s is None or s.name != "kron":
        return None
    a, b = s.parts
    if isinstance(b, E.Identity) and not isinstance(a, E.Identity):
        return a, b.rows
    return None


def _eye_kron(s: Structure | None):
    """A of a structure kron(I_k, A) (A not an identity), with k; else None."""
    if s is None or s.name != "kron":
        return None
    a, b = s.parts
    if isinstance(a, E.Identity) and not isinstance(b, E.Identity):
        return b, a.rows
    return None


def _sandwich(chain, st, i, length) -> tuple | None:
    """("diag", A, v, B) for kron(A, I) diag(v) kron(B, I) at chain[i:i+3]; ("blocks", A, v, B) for
    kron(I, A) diag(v) kron(I, B); ("rank", A, v, w, B) for kron(A, I) diag(v) kron(I, 1) diag(w)
    kron(B, I) at chain[i:i+5]; else None."""
    left = _kron_eye(st[i])
    if left is None:
        eleft = _eye_kron(st[i])
        if length != 3 or eleft is None or st[i + 1] is None or st[i + 1].name != "diag" or i + 2 >= len(chain):
            return None
        eright = _eye_kron(st[i + 2])
        if eright is None or eright[1] != eleft[1]:
            return None
        return "blocks", eleft[0], st[i + 1].parts[0], eright[0]
    j = i + length - 1
    if length not in (3, 5) or j >= len(chain) or any(x is None or x.name != "diag" for x in st[i + 1:j:2]):
        return None
    right = _kron_eye(st[j])
    if right is None or right[1] != left[1]:
        return None
    if length == 3:
        return "diag", left[0], st[i + 1].parts[0], right[0]
    mid = st[i + 2]
    if (mid is not None and mid.name == "kron" and isinstance(mid.parts[0], E.Identity)
            and isinstance(mid.parts[1], E.Ones) and mid.parts[1].rows == left[1] == mid.parts[1].cols):
        return "rank", left[0], st[i + 1].parts[0], st[i + 3].parts[0], right[0]
    return None


def _sandwich_cost(sw, est: Sizes) -> float:
    a, b = sw[1], sw[-1]
    p, n, q, k = est(a.rows), est(a.cols), est(b.cols), est(sw[2].rows) / est(a.cols)
    return k * p * n * q if sw[0] != "rank" else 2 * p * k * n * q * k


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
            sw = _sandwich(chain, st, i, length)
            if sw is not None:
                options.append((_sandwich_cost(sw, est), "sandwich"))
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


def _materialise(s: Structure, c: Callable) -> str:
    """The structure built as a dense array (its node's own emitter: shared with any other use of it)."""
    return c(s.node)


def _unvec(v: E.Expr, k, c: Callable) -> str:
    """S with vec(S) = v, S of k rows."""
    if isinstance(v, E.Vec):
        return c(v.arg)
    return f"xp.reshape({c(v)}, ({c.names.dim(v.rows / k)}, {c.names.dim(k)})).T"


def _emit_sandwich(sw, c: Callable) -> str:
    a, b = sw[1], sw[-1]
    k = sw[2].rows / a.cols
    sym = b == E.transpose(a) and (sw[0] != "rank" or sw[2] == sw[3])
    if sw[0] == "diag":
        return f"_kron_diag_sandwich(xp, {c(a)}, {_unvec(sw[2], k, c)}, {c(b)}, {sym})"
    if sw[0] == "blocks":
        return f"_eye_kron_sandwich(xp, {c(a)}, {_unvec(sw[2], a.cols, c)}, {c(b)}, {sym})"
    return f"_kron_rank_sandwich(xp, {c(a)}, {_unvec(sw[2], k, c)}, {_unvec(sw[3], k, c)}, {c(b)}, {sym})"


def _structured(e: E.Expr) -> bool:
    """Does e hold structure that a product could apply (a kron, diag or commutation in a chain)?"""
    s = structure(e)
    if s is not None:
        return s.name in ("diag", "kron", "commutation")
    if isinstance(e, (E.MatMul, E.Add)):
        return any(_structured(f) for f in e.args)
    if isinstance(e, E.Transpose):
        return _structured(e.args[0])
    return False


MAX_TERMS = 8


def lower(e: E.Expr, memo: dict | None = None) -> E.Expr:
    """Push transposes into sums and products that hold structure, and distribute products over sums
    that hold structure (at most ``MAX_TERMS`` terms), so that every chain shows its structure.

    >>> from matcalc.emit.text import to_text
    >>> A, B, C, M = E.var("A", 2, 3), E.var("B", 4, 5), E.var("C", 8, 15), E.var("M", 10, 15)
    >>> print(to_text(lower(E.matmul(M, E.transpose(E.add(E.kron(A, B), C))))))
    M*kron(A, B)' + M*C'
    """
    memo = {} if memo is None else memo
    if e in memo:
        return memo[e]
    out = e
    kids = e.children
    if kids:
        new = [lower(k, memo) for k in kids]
        if any(a is not b for a, b in zip(new, kids)):
            out = e.rebuild(new)
    if isinstance(out, E.Transpose) and isinstance(out.args[0], (E.Add, E.MatMul)) and _structured(out.args[0]):
        inner = out.args[0]
        if isinstance(inner, E.Add):
            out = E.add(*[lower(E.transpose(t), memo) for t in inner.args])
        else:
            out = E.matmul(*[lower(E.transpose(f), memo) for f in reversed(inner.args)])
    if isinstance(out, E.MatMul):
        for i, f in enumerate(out.args):
            if isinstance(f, E.Add) and _structured(f) and len(f.args) <= MAX_TERMS:
                before, after = out.args[:i], out.args[i + 1:]
                out = E.add(*[lower(E.matmul(*before, t, *after), memo) for t in f.args])
                break
    memo[e] = out
    return out


def emit_chain(chain: list, c: Callable) -> str:
    """Code for the product of ``chain`` (non-scalar factors), by the cheapest plan; ``c`` emits a node
    and carries ``c.names`` (the compiled function's names) and ``c.sizes`` (a :class:`Sizes`)."""
    best = plan(chain, c.sizes)
    st = [structure(f) for f in chain]

    def gen(i: int, j: int) -> str:
        how = best[(i, j)][1]
        if how == "leaf":
            return c(chain[i]) if st[i] is None else _materialise(st[i], c)
        if how == "xdxt":
            return f"_xdxt(xp, {c(chain[i])}, {c(chain[i + 1].arg)})"
        if how == "sandwich":
            return _emit_sandwich(_sandwich(chain, st, i, j - i + 1), c)
        side, k = how
        rows, cols = chain[i].rows, chain[j].cols
        if side == "left" and k == i and st[i] is not None:
            return STRUCTURES[st[i].name].left(st[i], gen(k + 1, j), rows, cols, c)
        if side == "right" and k + 1 == j and st[j] is not None:
            return STRUCTURES[st[j].name].right(st[j], gen(i, k), rows, cols, c)
        return f"({gen(i, k)} @ {gen(k + 1, j)})"

    return gen(0, len(chain) - 1)

