"""Why a wrong answer is wrong: each hypothesis is a concrete rewrite tested at the same points."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .. import expr as E
from ..api import MatcalcError
from ..emit.text import to_text
from ..evaluate import TOLERANCE, Points, compare, finite, rel_error, substitute
from ..simplify import SimplifyBudgetError, simplify
from ..verify import dimension_symbols

MAX_CANDIDATES = 80  # rewrites tried per hypothesis

TAGS = (
    "layout",
    "sign",
    "factor",
    "missing-symmetric-part",
    "sum-instead-of-matrix",
    "elementwise-vs-matrix-product",
    "dropped-chain-factor",
    "wrong-shape",
    "wrong",
)



# ---------------------------------------------------------------------------------
# Proof
# ---------------------------------------------------------------------------------


def prove_equal(claim: E.Expr, expected: E.Expr) -> str | None:
    """A one-line reason why claim == expected symbolically, or None."""
    if claim.shape != expected.shape:
        return None
    try:
        sc = simplify(claim)
        if sc == expected or sc == simplify(expected):
            return "simplify(claim) is the engine's result, node for node"
        if E.is_zero(simplify(E.sub(claim, expected))):
            return "simplify(claim - expected) = 0"
    except (SimplifyBudgetError, E.ShapeError, RecursionError):
        return None
    return None


# ---------------------------------------------------------------------------------
# Diagnosis: each hypothesis is a rewrite tested at the same points
# ---------------------------------------------------------------------------------


@dataclass
class Finding:
    tags: list
    message: str
    factor: object = None  # Fraction or text for factor errors
    rewrite: str = ""  # the rewrite that confirmed it (text)


def _fraction(r: float):
    f = Fraction(r).limit_denominator(96)
    if abs(float(f) - r) <= 1e-9 * max(1.0, abs(r)):
        return f
    return None


def _fmt_frac(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def describe_factor(r: Fraction) -> str:
    """claimed / expected = r as words: 1/2 -> 'missing factor 2', 2 -> 'extra factor 2'."""
    a = abs(r)
    if a.numerator == 1 and a.denominator > 1:
        words = f"missing factor {a.denominator}"
    else:
        words = f"extra factor {_fmt_frac(a)}"
    return ("wrong sign and " + words) if r < 0 else words


def _ratios(claim_vals, target_vals, tol) -> list | None:
    """Per trial, r with claim = r * target (None when not proportional)."""
    rs = []
    for a, b in zip(claim_vals, target_vals):
        if not finite(b):
            continue
        if not finite(a) or a.shape != b.shape:
            return None
        bb = float(np.vdot(b, b))
        if bb < 1e-20:
            return None
        r = float(np.vdot(a, b)) / bb
        if rel_error(a, r * b) > tol:
            return None
        rs.append(r)
    return rs or None


def _constant(xs, tol=1e-9) -> bool:
    return all(abs(x - xs[0]) <= tol * max(1.0, abs(xs[0])) for x in xs)


def ratio_finding(claim_vals, target_vals, points: Points, scalars: list, expected: E.Expr,
                  tol: float = TOLERANCE) -> Finding | None:
    """sign / factor: claim = c * expected, or c * s^k for a scalar s (a variable or a dimension)."""
    rs = _ratios(claim_vals, target_vals, tol)
    if rs is None:
        return None
    if _constant(rs):
        r = _fraction(rs[0])
        if r is None or r == 1:
            if r is None or abs(rs[0] - 1) > 1e-13:
                # a constant that is no simple fraction, or 1 + a little: reported as it is, never rounded to 1
                return Finding(["factor"], f"the claim is {rs[0]:.12g} times the correct answer", rs[0])
            return None
        if r == -1:
            return Finding(["sign"], "wrong sign: the claim is -1 times the correct answer", r)
        tags = ["factor", "sign"] if r < 0 else ["factor"]
        return Finding(tags, f"{describe_factor(r)}: claimed / expected = {_fmt_frac(r)} at every test point", r)
    for name in scalars:
        s = points.scalar_values(name)
        if len({round(x, 12) for x in s}) < 2:
            continue
        for k in (1, -1, 2, -2):
            try:
                cs = [r / (x ** k) for r, x in zip(rs, s)]
            except ZeroDivisionError:
                continue
            if _constant(cs, 1e-6):
                c = _fraction(cs[0])
                if c is None:
                    continue
                sym = E.var(name)
                fac = E.matmul(E.const(c), E.power(sym, E.const(k)))
                words = _symbolic_factor_words(fac, name, k, c, expected)
                tags = ["factor", "sign"] if c < 0 else ["factor"]
                return Finding(tags, f"{words}: claimed / expected = {to_text(fac)} at every test point",
                               to_text(fac))
    return None


def _symbolic_factor_words(fac, name, k, c, expected) -> str:
    has_inverse = any(isinstance(n, E.Power) and isinstance(n.args[0], E.Var) and n.args[0].name == name
                      and isinstance(n.args[1], E.Const) and n.args[1].value < 0 for n in E.walk(expected))
    if k > 0 and c == 1 and has_inverse:
        inv = E.power(E.var(name), E.const(-k))
        return f"missing factor {to_text(inv)}"
    if c == 1:
        return f"extra factor {to_text(fac)}"
    return f"{'wrong sign and ' if c < 0 else ''}extra factor {to_text(E.matmul(E.const(abs(c)), fac.args[-1]))}"


def _limited(it, n=MAX_CANDIDATES):
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


def unsum_candidates(claim: E.Expr):
    """The claim with sum(M) (or tr(M)) replaced by M: one at a time, then all at once."""
    nodes = list(dict.fromkeys(n for n in E.walk(claim) if isinstance(n, (E.Sum, E.Trace))))
    for n in nodes:
        try:
            yield f"{to_text(n)} by {to_text(n.arg)}", substitute(claim, {n: n.arg})
        except (E.ShapeError, TypeError):
            continue
    if len(nodes) > 1:
        try:
            yield "every sum(M) and tr(M) by M", substitute(claim, {n: n.arg for n in nodes})
        except (E.ShapeError, TypeError):
            pass


def swap_candidates(claim: E.Expr):
    """The claim with one elementwise product made a matrix product, or the other way round."""
    for n in dict.fromkeys(E.walk(claim)):
        reps = []
        if isinstance(n, E.Hadamard):
            a = list(n.args)
            for i in range(len(a) - 1):
                try:
                    pair = E.matmul(a[i], a[i + 1])
                    reps.append(E.hadamard(*a[:i], pair, *a[i + 2:]) if len(a) > 2 else pair)
                except E.ShapeError:
                    pass
        elif isinstance(n, E.MatMul):
            scal = [f for f in n.args if f.is_scalar]
            chain = [f for f in n.args if not f.is_scalar]
            for i in range(len(chain) - 1):
                if chain[i].shape == chain[i + 1].shape:
                    try:
                        reps.append(E.matmul(*scal, *chain[:i], E.hadamard(chain[i], chain[i + 1]), *chain[i + 2:]))
                    except E.ShapeError:
                        pass
        elif isinstance(n, E.Power) and not n.args[0].is_scalar and isinstance(n.args[1], E.Const):
            v = n.args[1].value
            if isinstance(v, Fraction) and v.denominator == 1 and v >= 2 and n.args[0].rows == n.args[0].cols:
                reps.append(E.matpow(n.args[0], int(v)))
        elif isinstance(n, E.MatPow) and isinstance(n.args[1], int):
            reps.append(E.power(n.args[0], E.const(n.args[1])))
        for r in reps:
            try:
                yield f"{to_text(r)} in place of {to_text(n)}", substitute(claim, {n: r})
            except (E.ShapeError, TypeError):
                continue


def drop_candidates(expected: E.Expr, depth: int = 3):
    """The expected result with one factor of one product removed (constants excepted)."""

    def go(e, d):
        if d == 0:
            return
        if isinstance(e, (E.MatMul, E.Hadamard)):
            ctor = E.matmul if isinstance(e, E.MatMul) else E.hadamard
            args = list(e.args)
            for i, a in enumerate(args):
                if isinstance(a, E.Const):
                    continue
                rest = args[:i] + args[i + 1:]
                if rest:
                    try:
                        yield a, ctor(*rest)
                    except E.ShapeError:
                        pass
            for i, a in enumerate(args):
                for dropped, sub in go(a, d - 1):
                    try:
                        yield dropped, ctor(*args[:i], sub, *args[i + 1:])
                    except E.ShapeError:
                        continue
        elif isinstance(e, (E.Transpose, E.Add)):
            for i, a in enumerate(e.children):
                kids = list(e.children)
                for dropped, sub in go(a, d - 1):
                    kids2 = kids[:i] + [sub] + kids[i + 1:]
                    try:
                        yield dropped, e.rebuild(kids2)
                    except E.ShapeError:
                        continue

    seen = set()
    for dropped, cand in go(expected, depth):
        if cand in seen:
            continue
        seen.add(cand)
        yield dropped, cand


def symmetric_candidates(variables: dict, wrt: E.Var):
    """Square matrices without a symmetry assumption: each alone, then all together."""
    names = [v.name for v in variables.values()
             if not v.is_scalar and v.rows == v.cols and not v.symmetric and "onehot" not in v.assume
             and v.name != wrt.name]
    for n in names:
        yield [n]
    if len(names) > 1:
        yield names


class Diagnoser:
    """Runs the hypotheses of the module docstring against one claim and its possible targets."""

    def __init__(self, claim: E.Expr, points: Points, variables: dict, wrt: E.Var, tol: float = TOLERANCE):
        self.claim = claim
        self.points = points
        self.variables = variables
        self.wrt = wrt
        self.tol = tol
        self.scalars = [n for n, v in variables.items() if v.is_scalar and n != wrt.name]
        self.scalars += sorted(str(s) for s in dimension_symbols(list(variables.values()))
                               if str(s) not in self.scalars)

    def agrees(self, a: E.Expr, b: E.Expr) -> bool:
        try:
            return compare(self.points.values(a), self.points.values(b), self.tol).equal
        except MatcalcError:
            return False

    def _agrees_candidate(self, cand: E.Expr, target: E.Expr) -> bool:
        if cand.shape != target.shape or cand == self.claim:
            return False
        try:
            return self.agrees(cand, target)
        except Exception:  # a rewrite that cannot be compiled or evaluated is simply not a match
            return False

    # hypotheses that keep the claim's shape ---------------------------------------------
    def same_shape(self, target: E.Expr) -> Finding | None:
        cv = self.points.values(self.claim)
        tv = self.points.values(target)
        f = ratio_finding(cv, tv, self.points, self.scalars, target, self.tol)
        if f:
            return f
        f = self.symmetric_part(target)
        if f:
            return f
        return self.rewrites(target)

    def symmetric_part(self, target: E.Expr) -> Finding | None:
        for names in symmetric_candidates(self.variables, self.wrt):
            sp = self.points.symmetrized(names)
            cv, tv = sp.values(self.claim), sp.values(target)
            who = " and ".join(names)
            try:
                if compare(cv, tv, self.tol).equal:
                    return Finding(["missing-symmetric-part"],
                                   f"correct only when {who} is symmetric: it agrees at test points where {who} "
                                   f"is replaced by a symmetric matrix, but not otherwise")
            except MatcalcError:
                continue
            rs = _ratios(cv, tv, self.tol)
            if rs and _constant(rs):
                r = _fraction(rs[0])
                if r is not None and r not in (0, 1):
                    return Finding(["missing-symmetric-part", "factor"],
                                   f"even for a symmetric {who} it is off by a constant ({describe_factor(r)}): "
                                   f"the claim keeps only one of the terms {who} and {who}' contribute", r)
        return None

    def rewrites(self, target: E.Expr) -> Finding | None:
        for what, cand in _limited(unsum_candidates(self.claim)):
            if self._agrees_candidate(cand, target):
                return Finding(["sum-instead-of-matrix"],
                               f"the claim sums the entries of a matrix where the matrix itself belongs: "
                               f"replacing {what} makes it right", rewrite=what)
        if self.claim.is_scalar and not target.is_scalar:
            f = self.summed_target(target)
            if f:
                return f
        for what, cand in _limited(swap_candidates(self.claim)):
            if self._agrees_candidate(cand, target):
                return Finding(["elementwise-vs-matrix-product"],
                               f"elementwise and matrix products are mixed up: writing {what} makes it right",
                               rewrite=what)
        for dropped, cand in _limited(drop_candidates(target)):
            if cand.shape == self.claim.shape:
                try:
                    if compare(self.points.values(self.claim), self.points.values(cand), self.tol).equal:
                        return Finding(["dropped-chain-factor"],
                                       f"a factor of the chain rule is missing: the correct answer also has the "
                                       f"factor {to_text(dropped)}", rewrite=to_text(dropped))
                except Exception:
                    continue
        return None

    def summed_target(self, target: E.Expr) -> Finding | None:
        cands = [("sum", E.sum_(target))]
        if target.rows == target.cols:
            cands.append(("tr", E.trace(target)))
        for name, cand in cands:
            try:
                if compare(self.points.values(self.claim), self.points.values(cand), self.tol).equal:
                    return Finding(["sum-instead-of-matrix"],
                                   f"the claim is {name}(correct answer), a single number, where the answer is "
                                   f"a {E.fmt_shape(target.shape)} matrix", rewrite=f"{name}(expected)")
            except Exception:
                continue
        return None


