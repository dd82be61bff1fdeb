"""Elementwise rules: Hadamard products, powers, sign/relu/sigmoid/exp identities."""

from __future__ import annotations

from fractions import Fraction

from .. import expr as E
from .core import _base_exp, parts, split_coeff


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
