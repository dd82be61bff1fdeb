"""Rewrites applied before differentiation: standard identities whose derivatives are compact and
evaluate without overflow (log softmax, log sigmoid, softplus, logdet, logsumexp)."""

from __future__ import annotations

from .. import expr as E
from .core import split_coeff, with_coeff


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
