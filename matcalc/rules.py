"""Derivatives: one table of rules, one entry per node type.

The engine works in reverse mode on matrix expressions.  For a node
``y = f(a, b, ...)`` and an adjoint ``G`` (the gradient of the final scalar
with respect to ``y``, shaped like ``y``), the rule returns the adjoint
contribution of every child.  Summing the contributions that reach the
variable gives the gradient in denominator layout (the shape of the variable).

For a non-scalar output the seed is a symbolic adjoint ``G``; the result is
then a matrix expression linear in ``G``, and :func:`vec_coefficient` reads off
the matrix ``M`` with ``vec(result) = M vec(G)``, which is the
denominator-layout Jacobian ``d vec(Y) / d vec(X)`` (Kronecker form).

Every identity cites the Matrix Cookbook (Petersen & Pedersen, 2012) where it
has an equation number.
"""

from __future__ import annotations

from typing import Callable

from . import expr as E
from .budget import tick
from .errors import MatcalcError
from .functions import FUNCTIONS


class UnsupportedError(MatcalcError):
    """A construct the engine cannot differentiate; the message names it."""


Rule = Callable[[E.Expr, E.Expr], list]

RULES: dict[type, Rule] = {}


def rule(*types):
    def register(fn):
        for t in types:
            RULES[t] = fn
        return fn

    return register


def _inner(G: E.Expr, M: E.Expr) -> E.Expr:
    """<G, M> = sum(G .* M), a scalar."""
    if G.is_scalar and M.is_scalar:
        return E.matmul(G, M)
    return E.sum_(E.hadamard(G, M))


# -- leaves ------------------------------------------------------------------


@rule(E.Var, E.Const, E.Identity, E.Ones, E.Zero, E.Commutation)
def _leaf(node, G):
    """A leaf: no children."""
    return []


# -- the product rule, written once ----------------------------------------------
# A product node is multilinear in its factors; the adjoint of factor i is
# ``slot_adjoint(node, i, G)``.  Matrix, Hadamard and Kronecker products differ
# only in that adjoint.


def _matmul_slot(node: E.MatMul, i: int, G: E.Expr) -> E.Expr:
    """d<G, A B C>: adjoint of B is A' G C' (Cookbook 69-71, via tr(G' A dB C))."""
    fs = node.args
    f = fs[i]
    others = [g for j, g in enumerate(fs) if j != i]
    if f.is_scalar:
        # a scalar factor s: d(s M) = ds M, so the adjoint of s is <G, M>
        return _inner(G, E.matmul(*others) if others else E.ONE_S)
    scal = [g for g in others if g.is_scalar]
    left = [g for g in fs[:i] if not g.is_scalar]
    right = [g for g in fs[i + 1:] if not g.is_scalar]
    parts = list(scal)
    if left:
        parts.append(E.transpose(E.matmul(*left)))
    parts.append(G)
    if right:
        parts.append(E.transpose(E.matmul(*right)))
    return E.matmul(*parts)


def _hadamard_slot(node: E.Hadamard, i: int, G: E.Expr) -> E.Expr:
    """d<G, A .* B>: adjoint of A is G .* B (Cookbook 517-520 in vec form)."""
    others = [g for j, g in enumerate(node.args) if j != i]
    return E.hadamard(G, *others)


def _eye(n) -> E.Expr:
    return E.ONE_S if n == 1 else E.Identity(n)


def kron_permutation(A: E.Expr, B: E.Expr) -> E.Expr:
    """T with vec(A kron B) = T (vec(A) kron vec(B)): T = I_n kron K_{q,m} kron I_p for A m x n, B p x q
    (Magnus & Neudecker, Theorem 3.10)."""
    (m, n), (p, q) = A.shape, B.shape
    return E.kron(E.kron(_eye(n), E.commutation(q, m)), _eye(p))


def kron_slot_jacobian(A: E.Expr, B: E.Expr, i: int) -> E.Expr:
    """d vec(A kron B) / d vec(factor i)': T (I kron vec(B)) for A, T (vec(A) kron I) for B."""
    T = kron_permutation(A, B)
    if i == 0:
        return E.matmul(T, E.kron(_eye(A.rows * A.cols), E.vec(B)))
    return E.matmul(T, E.kron(E.vec(A), _eye(B.rows * B.cols)))


def _kron_slot(node: E.Kron, i: int, G: E.Expr) -> E.Expr:
    """d<G, A kron B>: adjoint of factor i is unvec(J_i' vec(G)), J_i = kron_slot_jacobian (vec form of Cookbook 520)."""
    f = node.args[i]
    J = kron_slot_jacobian(*node.args, i)
    return E.unvec(E.matmul(E.transpose(J), E.vec(G)), f.rows, f.cols)


SLOT_ADJOINT = {E.MatMul: _matmul_slot, E.Hadamard: _hadamard_slot, E.Kron: _kron_slot}


@rule(E.MatMul, E.Hadamard, E.Kron)
def _product_rule(node, G):
    slot = SLOT_ADJOINT[type(node)]
    return [slot(node, i, G) for i in range(len(node.args))]


# -- linear nodes: the adjoint is the transposed linear map ------------------------

LINEAR_ADJOINT: dict[type, Callable[[E.Expr, E.Expr], E.Expr]] = {
    E.Transpose: lambda node, G: E.transpose(G),
    # d tr(X) = tr(I dX)  (Cookbook 100)
    E.Trace: lambda node, G: E.matmul(G, E.Identity(node.arg.rows)),
    # d sum(X) = sum(dX) = tr(1 1' dX)
    E.Sum: lambda node, G: E.matmul(G, E.Ones(*node.arg.shape)),
    E.Diag: lambda node, G: E.diag_of(G),
    E.DiagOf: lambda node, G: E.Diag(G),
    # vec and unvec only rearrange entries: each is the other's adjoint
    E.Vec: lambda node, G: E.unvec(G, node.arg.rows, node.arg.cols),
    E.Unvec: lambda node, G: E.vec(G),
}


@rule(E.Add)
def _add_rule(node, G):
    """d(A + B) = dA + dB: every term receives the adjoint G."""
    return [G] * len(node.args)


@rule(*LINEAR_ADJOINT)
def _linear_rule(node, G):
    return [LINEAR_ADJOINT[type(node)](node, G)]


# -- nonlinear nodes -------------------------------------------------------------


@rule(E.Inverse)
def _inverse(node, G):
    """d X^{-1} = -X^{-1} dX X^{-1}  (Cookbook 59); adjoint -X^{-T} G X^{-T}."""
    invT = E.transpose(node)
    return [E.matmul(E.const(-1), invT, G, invT)]


@rule(E.Det)
def _det(node, G):
    """d det(X) = det(X) tr(X^{-1} dX)  (Cookbook 41, 49); adjoint G det(X) X^{-T}."""
    return [E.matmul(G, node, E.transpose(E.inverse(node.arg)))]


@rule(E.LogDet)
def _logdet(node, G):
    """d log det(X) = tr(X^{-1} dX)  (Cookbook 43, 57); adjoint G X^{-T}."""
    return [E.matmul(G, E.transpose(E.inverse(node.arg)))]


@rule(E.MatPow)
def _matpow(node, G):
    """d X^k = sum_r X^r dX X^{k-1-r}  (Cookbook 90-91); for a symbolic k only under a trace:
    d tr(X^k) = k tr(X^{k-1} dX), adjoint k (X^{k-1})'  (Cookbook 91 with A = I)."""
    X, k = node.args
    if not isinstance(k, int):
        return [_symbolic_matpow(node, G)]
    terms = [
        E.matmul(E.transpose(E.matpow(X, r)), G, E.transpose(E.matpow(X, k - 1 - r)))
        for r in range(k)
    ]
    return [E.add(*terms)]


def _symbolic_matpow(node: E.MatPow, G: E.Expr) -> E.Expr:
    X, k = node.args
    scal = list(G.args) if isinstance(G, E.MatMul) else [G]
    if not isinstance(scal[-1], E.Identity) or not all(f.is_scalar for f in scal[:-1]):
        what = str(node) if len(str(node)) <= 60 else str(node)[:57] + "..."
        raise UnsupportedError(
            f"{what}: a matrix power with a symbolic exponent has a matrix-form derivative only directly under a "
            "trace (d tr(X^k) = k tr(X^(k-1) dX), Cookbook 91); elsewhere d X^k is a sum of k terms "
            "X^r dX X^(k-1-r) with no closed matrix form"
        )
    return E.matmul(*scal[:-1], E.dim_scalar(k), E.transpose(E.matpow(X, k - 1)))


@rule(E.Power)
def _power(node, G):
    """Elementwise a^p: d = p a^(p-1) da + a^p log(a) dp."""
    a, p = node.args
    if not p.is_scalar:
        # an exponent of a's shape, entry by entry: adjoints G .* p .* a.^(p-1) and G .* a.^p .* log(a)
        return [E.hadamard(G, p, E.power(a, E.sub(p, E.Ones(*p.shape)))),
                E.hadamard(G, node, E.apply("log", a))]
    da = E.matmul(p, E.hadamard(G, E.power(a, E.add(p, E.const(-1)))))
    if isinstance(p, E.Const):
        return [da, E.ZERO_S]
    dp = _inner(G, E.hadamard(node, E.apply("log", a)))
    return [da, dp]


@rule(E.Apply)
def _apply(node, G):
    """Elementwise f(a): adjoint G .* f'(a) (Cookbook 2.8 in elementwise form)."""
    return [E.hadamard(G, FUNCTIONS[node.fname].derivative(node.arg))]


def _col_ones(k) -> E.Expr:
    return E.ONE_S if k == 1 else E.Ones(k, 1)


def _row_ones(k) -> E.Expr:
    return E.ONE_S if k == 1 else E.Ones(1, k)


@rule(E.Softmax)
def _softmax(node, G):
    """s = softmax(z): ds = (diag(s) - s s') dz, column by column; adjoint s .* (g - 1 (s' g))."""
    k = node.rows
    SG = E.hadamard(node, G)
    return [E.sub(SG, E.hadamard(node, E.matmul(_col_ones(k), _row_ones(k), SG)))]


@rule(E.LogSumExp)
def _logsumexp(node, G):
    """d logsumexp(z) = softmax(z)' dz, column by column; adjoint softmax(Z) .* (1 G)."""
    Z = node.arg
    return [E.hadamard(E.softmax(Z), E.matmul(_col_ones(Z.rows), G))]


@rule(E.Norm1)
def _norm1(node, G):
    """d ||x||_1 = sign(x)' dx, away from zeros of x."""
    return [E.matmul(G, E.apply("sign", node.arg))]


@rule(E.Norm2)
def _norm2(node, G):
    """d ||X||_2 = <X, dX> / ||X||_2  (Cookbook 129, entrywise/Frobenius)."""
    return [E.matmul(G, E.power(node, E.const(-1)), node.arg)]


# -- the reverse pass ------------------------------------------------------------


def _toposort(f: E.Expr, v: E.Expr) -> tuple[list, dict]:
    """Nodes that depend on v, children before parents (each distinct node once)."""
    order: list = []
    depends: dict = {}
    stack = [(f, False)]
    while stack:
        node, expanded = stack.pop()
        if node in depends and not expanded:
            continue
        if expanded:
            d = node == v or any(depends[c] for c in node.children)
            depends[node] = d
            if d:
                order.append(node)
            continue
        stack.append((node, True))
        for c in node.children:
            if c not in depends:
                stack.append((c, False))
    return order, depends


def adjoint(f: E.Expr, v: E.Var, seed: E.Expr, simplify=None) -> E.Expr:
    """The adjoint reaching ``v`` when ``f`` is seeded with ``seed``.

    For a scalar ``f`` and seed 1 this is the gradient in denominator layout.
    """
    order, depends = _toposort(f, v)
    if not depends.get(f):
        raise VariableAbsentError(v)
    adj: dict = {f: [seed]}
    for node in reversed(order):
        tick("differentiating")
        contribs = adj.pop(node, None)
        if contribs is None:
            continue
        G = E.add(*contribs) if len(contribs) > 1 else contribs[0]
        if simplify is not None:
            G = simplify(G)
        if node == v:
            return G
        try:
            rule_fn = RULES[type(node)]
        except KeyError:
            raise UnsupportedError(
                f"no derivative rule for {type(node).__name__} (in {node}) with respect to {v.name}"
            ) from None
        children = node.children
        for child, c in zip(children, rule_fn(node, G)):
            if depends.get(child):
                adj.setdefault(child, []).append(c)
    raise VariableAbsentError(v)  # pragma: no cover - v is a leaf reached above


class VariableAbsentError(MatcalcError):
    def __init__(self, v):
        super().__init__(f"the expression does not depend on {v.name}")
        self.var = v


# -- reading a Jacobian off an adjoint that is linear in G -------------------------


class NotLinearError(UnsupportedError):
    pass


def vec_coefficient(T: E.Expr, G: E.Var) -> E.Expr:
    """The matrix M with vec(T) = M vec(G), for T linear in G.

    vec(A U B) = (B' kron A) vec(U)  (Cookbook 520); vec(P .* U) = diag(vec P) vec(U);
    vec(U') = K vec(U) with K the commutation matrix.
    """
    if T == G:
        return E.Identity(G.rows * G.cols) if not G.is_scalar else E.ONE_S
    if E.is_zero(T):
        # an adjoint that vanishes identically: sign, step, x - x, the second derivative of abs or relu
        return E.zeros((T.rows * T.cols, G.rows * G.cols))
    if not E.contains(T, G):
        raise NotLinearError(f"{T} has a term that does not depend on the adjoint")
    if isinstance(T, E.Add):
        return E.add(*[vec_coefficient(t, G) for t in T.args])
    if isinstance(T, E.Transpose):
        U = T.args[0]
        return E.matmul(E.commutation(U.rows, U.cols), vec_coefficient(U, G))
    if isinstance(T, E.MatMul):
        return _vec_matmul(T, G)
    if isinstance(T, E.Hadamard):
        idx = _only_one(T, G)
        U = T.args[idx]
        P = E.hadamard(*[a for j, a in enumerate(T.args) if j != idx])
        return E.matmul(E.Diag(E.vec(P)) if not P.is_scalar else P, vec_coefficient(U, G))
    if isinstance(T, E.Trace):
        U = T.arg
        return E.matmul(E.transpose(E.vec(E.Identity(U.rows))), vec_coefficient(U, G))
    if isinstance(T, E.Sum):
        U = T.arg
        n = U.rows * U.cols
        return E.matmul(_row_ones(n), vec_coefficient(U, G))
    if isinstance(T, (E.Vec, E.Unvec)):
        return vec_coefficient(T.arg, G)
    if isinstance(T, E.Diag):
        # vec(diag(u)) = S u with S the selection matrix
        return E.matmul(diag_selector(T.rows), vec_coefficient(T.arg, G))
    if isinstance(T, E.DiagOf):
        # diag(U) = S' vec(U)
        return E.matmul(E.transpose(diag_selector(T.rows)), vec_coefficient(T.arg, G))
    if isinstance(T, E.Kron):
        i = _only_one(T, G)
        return E.matmul(kron_slot_jacobian(*T.args, i), vec_coefficient(T.args[i], G))
    raise UnsupportedError(f"{type(T).__name__}: no vec rule for reading off a Jacobian")


def diag_selector(n) -> E.Expr:
    """S (n^2 x n) with vec(diag(u)) = S u: S = diag(vec(I_n)) (1_n kron I_n); diag(U) = S' vec(U)."""
    return E.matmul(E.Diag(E.vec(E.Identity(n))), E.kron(E.Ones(n, 1), E.Identity(n)))


def _only_one(T, G) -> int:
    idx = [i for i, a in enumerate(T.args) if E.contains(a, G)]
    if len(idx) != 1:
        raise NotLinearError(f"{T} is not linear in the adjoint")
    return idx[0]


def _vec_matmul(T: E.MatMul, G: E.Var) -> E.Expr:
    fs = T.args
    i = _only_one(T, G)
    U = fs[i]
    if isinstance(U, E.Add):
        # A (U1 + U2) B: one Kronecker term per summand, so that each can simplify on its own
        return E.add(*[vec_coefficient(E.matmul(*fs[:i], t, *fs[i + 1:]), G) for t in U.args if E.contains(t, G)])
    others = [g for j, g in enumerate(fs) if j != i]
    if U.is_scalar:
        # vec(c M) = vec(M) c, with c = coef(c) vec(G)
        rest = E.matmul(*others) if others else E.ONE_S
        return E.matmul(E.vec(rest), vec_coefficient(U, G))
    scal = [g for g in others if g.is_scalar]
    left = [g for g in fs[:i] if not g.is_scalar]
    right = [g for g in fs[i + 1:] if not g.is_scalar]
    A = E.matmul(*left) if left else None
    B = E.matmul(*right) if right else None
    if A is None and B is None:
        K = None
    elif B is None:
        K = A if U.cols == 1 else E.kron(E.Identity(U.cols), A)
    elif A is None:
        Bt = E.transpose(B)
        K = Bt if U.rows == 1 else E.kron(Bt, E.Identity(U.rows))
    else:
        K = E.kron(E.transpose(B), A)
    parts = list(scal) + ([K] if K is not None else []) + [vec_coefficient(U, G)]
    return E.matmul(*parts)


ADJOINT_NAME = "G"


def adjoint_symbol(shape, taken: set) -> E.Var:
    return E.Var(E.fresh_name(ADJOINT_NAME, taken), shape[0], shape[1])
