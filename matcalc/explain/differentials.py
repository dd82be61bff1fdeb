"""The table of differential rules (one entry per node type) and the rewrites into trace form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import expr as E
from ..functions import FUNCTIONS
from ..rules import UnsupportedError


@dataclass(frozen=True)
class DiffRule:
    """d(node) from the node and the differentials of its children (None for a constant child)."""

    text: str
    latex: str
    apply: Callable[[E.Expr, list], E.Expr]


def _product(ctor):
    def rule(node, ds):
        terms = []
        for i, d in enumerate(ds):
            if d is None:
                continue
            args = list(node.args)
            args[i] = d
            terms.append(ctor(*args))
        return E.add(*terms)

    return rule


def _unary(ctor):
    return lambda node, ds: ctor(ds[0])


def _power_rule(node, ds):
    a, p = node.args
    da, dp = ds
    terms = []
    if not p.is_scalar:  # an exponent matrix, entry by entry: d U.^P = P .* U.^(P-1) .* dU + U.^P .* log(U) .* dP
        if da is not None:
            terms.append(E.hadamard(p, E.power(a, E.sub(p, E.Ones(*p.shape))), da))
        if dp is not None:
            terms.append(E.hadamard(node, E.apply("log", a), dp))
        return E.add(*terms)
    if da is not None:
        pm1 = E.power(a, E.add(p, E.const(-1)))
        terms.append(E.matmul(p, pm1, da) if a.is_scalar else E.matmul(p, E.hadamard(pm1, da)))
    if dp is not None:
        terms.append(E.matmul(dp, E.hadamard(node, E.apply("log", a))) if not a.is_scalar
                     else E.matmul(node, E.apply("log", a), dp))
    return E.add(*terms)


def _apply_rule(node, ds):
    fprime = FUNCTIONS[node.fname].derivative(node.arg)
    return E.hadamard(fprime, ds[0]) if not node.is_scalar else E.matmul(fprime, ds[0])


def _softmax_rule(node, ds):
    k = node.rows
    sd = E.hadamard(node, ds[0])
    ones = E.matmul(E.Ones(k, 1), E.Ones(1, k)) if k != 1 else E.ONE_S
    return E.sub(sd, E.hadamard(node, E.matmul(ones, sd)))


def _lse_rule(node, ds):
    Z = node.arg
    row = E.Ones(1, Z.rows) if Z.rows != 1 else E.ONE_S
    return E.matmul(row, E.hadamard(E.softmax(Z), ds[0]))


def _norm2_rule(node, ds):
    X, d = node.arg, ds[0]
    inner = E.matmul(E.transpose(X), d) if X.cols == 1 else E.trace(E.matmul(E.transpose(X), d))
    return E.matmul(E.power(node, E.const(-1)), inner)


def _matpow_rule(node, ds):
    X, k = node.args
    if not isinstance(k, int):
        raise UnsupportedError(f"{node}: the differential of a matrix power with a symbolic exponent is a sum of "
                               f"{E.fmt_dim(k)} terms; it is not written out step by step")
    return E.add(*[E.matmul(E.matpow(X, r), ds[0], E.matpow(X, k - 1 - r)) for r in range(k)])


DIFFERENTIALS: dict[type, DiffRule] = {
    E.Add: DiffRule("d(A + B) = dA + dB", r"d(A + B) = dA + dB",
                    lambda node, ds: E.add(*[d for d in ds if d is not None])),
    E.MatMul: DiffRule("product rule: d(AB) = dA B + A dB", r"d(AB) = dA\,B + A\,dB", _product(E.matmul)),
    E.Hadamard: DiffRule("product rule: d(A .* B) = dA .* B + A .* dB",
                         r"d(A \odot B) = dA \odot B + A \odot dB", _product(E.hadamard)),
    E.Kron: DiffRule("product rule: d(A kron B) = dA kron B + A kron dB",
                     r"d(A \otimes B) = dA \otimes B + A \otimes dB", _product(E.kron)),
    E.Transpose: DiffRule("d(A') = (dA)'", r"d(A^{\top}) = (dA)^{\top}", _unary(E.transpose)),
    E.Trace: DiffRule("d tr(A) = tr(dA)", r"d \operatorname{tr}(A) = \operatorname{tr}(dA)",
                      _unary(lambda d: E.Trace(d))),
    E.Sum: DiffRule("d sum(A) = sum(dA)", r"d \operatorname{sum}(A) = \operatorname{sum}(dA)", _unary(E.sum_)),
    E.Diag: DiffRule("d diag(u) = diag(du)", r"d \operatorname{diag}(u) = \operatorname{diag}(du)",
                     _unary(lambda d: E.Diag(d))),
    E.DiagOf: DiffRule("d diag(A) = diag(dA)", r"d \operatorname{diag}(A) = \operatorname{diag}(dA)",
                       _unary(E.diag_of)),
    E.Vec: DiffRule("d vec(A) = vec(dA)", r"d \operatorname{vec}(A) = \operatorname{vec}(dA)", _unary(E.vec)),
    E.Inverse: DiffRule("d inv(X) = -inv(X) dX inv(X)", r"d X^{-1} = -X^{-1}\,dX\,X^{-1}",
                        lambda node, ds: E.matmul(E.const(-1), node, ds[0], node)),
    E.Det: DiffRule("d det(X) = det(X) tr(inv(X) dX)",
                    r"d \det X = \det X \operatorname{tr}(X^{-1} dX)",
                    lambda node, ds: E.matmul(node, E.trace(E.matmul(E.inverse(node.arg), ds[0])))),
    E.LogDet: DiffRule("d logdet(X) = tr(inv(X) dX)", r"d \log\det X = \operatorname{tr}(X^{-1} dX)",
                       lambda node, ds: E.trace(E.matmul(E.inverse(node.arg), ds[0]))),
    E.MatPow: DiffRule("d X^k = sum_r X^r dX X^(k-1-r)", r"d X^k = \sum_r X^r\,dX\,X^{k-1-r}", _matpow_rule),
    E.Power: DiffRule("d U.^p = p U.^(p-1) .* dU", r"d U^{\circ p} = p\,U^{\circ (p-1)} \odot dU", _power_rule),
    E.Apply: DiffRule("chain rule for elementwise functions: d f(U) = f'(U) .* dU",
                      r"d f(U) = f'(U) \odot dU", _apply_rule),
    E.Softmax: DiffRule("d softmax(z) = (diag(s) - s s') dz, s = softmax(z)",
                        r"d \operatorname{softmax}(z) = (\operatorname{diag}(s) - s s^{\top})\,dz", _softmax_rule),
    E.LogSumExp: DiffRule("d logsumexp(z) = softmax(z)' dz",
                          r"d \operatorname{logsumexp}(z) = \operatorname{softmax}(z)^{\top} dz", _lse_rule),
    E.Norm1: DiffRule("d norm1(x) = sum(sign(x) .* dx)", r"d \lVert x \rVert_1 = \operatorname{sign}(x)^{\top} dx",
                      lambda node, ds: E.sum_(E.hadamard(E.apply("sign", node.arg), ds[0]))
                      if not node.arg.is_scalar else E.matmul(E.apply("sign", node.arg), ds[0])),
    E.Norm2: DiffRule("d ||X|| = tr(X' dX) / ||X||", r"d \lVert X \rVert = \operatorname{tr}(X^{\top} dX) / \lVert X \rVert",
                      _norm2_rule),
}


# -- rewriting the function into trace form ----------------------------------------


def _squared_norm(e: E.Expr):
    if isinstance(e, E.Power) and isinstance(e.args[0], E.Norm2) and isinstance(e.args[1], E.Const) \
            and e.args[1].value == 2:
        U = e.args[0].arg
        if U.cols == 1:
            return E.matmul(E.transpose(U), U), "||u||^2 = u'u", r"\lVert u \rVert^2 = u^{\top} u"
        return E.trace(E.matmul(E.transpose(U), U)), "||U||_F^2 = tr(U'U)", \
            r"\lVert U \rVert_F^2 = \operatorname{tr}(U^{\top} U)"
    return None


TRACE_FORMS = [_squared_norm]


def trace_form(f: E.Expr) -> tuple[E.Expr, list]:
    """f with the rewrites of TRACE_FORMS applied everywhere, and the identities used."""
    used: list = []

    def go(n):
        kids = n.children
        if kids:
            new = [go(c) for c in kids]
            if any(a is not b for a, b in zip(new, kids)):
                n = n.rebuild(new)
        for rw in TRACE_FORMS:
            r = rw(n)
            if r is not None:
                if (r[1], r[2]) not in used:
                    used.append((r[1], r[2]))
                return r[0]
        return n

    return go(f), used
