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
    "ambiguous",
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
                if c is None or c == 0:  # a zero ratio is no factor
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
    magnitude = E.matmul(E.const(abs(c)), E.power(E.var(name), E.const(k)))
    return f"{'wrong sign and ' if c < 0 else ''}extra factor {to_text(magnitude)}"


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
        reps += _outer_diag_swaps(n)
        for r in reps:
            try:
                yield f"{to_text(r)} in place of {to_text(n)}", substitute(claim, {n: r})
            except (E.ShapeError, TypeError):
                continue


def _outer_diag_swaps(n: E.Expr) -> list:
    """u*v' (an outer product) for diag(u.*v), and diag(u.*(1 - v)) for diag(u) - u*v' (softmax's Jacobian)."""
    out = []
    try:
        if isinstance(n, E.MatMul) and len(n.args) == 2 and n.args[0].cols == 1 and \
                isinstance(n.args[1], E.Transpose) and n.args[1].rows == 1 and n.args[0].rows != 1:
            out.append(E.diag(E.hadamard(n.args[0], n.args[1].args[0])))
        if isinstance(n, E.Diag) and isinstance(n.arg, E.Hadamard) and len(n.arg.args) == 2:
            for a, b in (n.arg.args, n.arg.args[::-1]):
                parts = [E.diag(a) if isinstance(t, E.Ones) else E.matmul(a, E.transpose(t)) for t in terms(b)]
                out.append(E.add(*parts))
    except E.ShapeError:
        pass
    return out


def normalisation_candidates(expected: E.Expr):
    """(what was dropped, the expected result without it): softmax(u) as exp(u) (the 1/sum(exp(u)) of
    log-sum-exp dropped) and an indicator step(u) as ones (a hinge's indicator dropped)."""
    for n in dict.fromkeys(E.walk(expected)):
        try:
            if isinstance(n, E.Softmax):
                yield (f"the normalisation 1/sum(exp({to_text(n.arg)})) of softmax",
                       substitute(expected, {n: E.apply("exp", n.arg)}))
            elif isinstance(n, E.Apply) and n.fname == "step":
                yield f"the indicator {to_text(n)}", substitute(expected, {n: E.Ones(*n.shape)})
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
            # the outer function's derivative is often several scalar factors: s*(1 - s) for sigmoid
            scal = [a for a in args if a.is_scalar and not isinstance(a, E.Const)]
            keep = [a for a in args if not (a.is_scalar and not isinstance(a, E.Const))]
            if len(scal) > 1 and keep and isinstance(e, E.MatMul):
                try:
                    yield E.matmul(*scal), ctor(*keep)
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


# ---------------------------------------------------------------------------------
# Term by term: which addend of a sum is wrong
# ---------------------------------------------------------------------------------

MAX_TERMS = 10


def terms(e: E.Expr) -> list:
    """The addends of a sum (one term for anything else)."""
    if isinstance(e, E.Add):
        return [t for a in e.args for t in terms(a)]
    return [e]


def scaled_terms(e: E.Expr) -> list:
    """The addends with scalar factors carried in: c*(a + b) is c*a, c*b."""
    if isinstance(e, E.Add):
        return [t for a in e.args for t in scaled_terms(a)]
    if isinstance(e, E.MatMul):
        sums = [i for i, a in enumerate(e.args) if isinstance(a, E.Add)]
        if len(sums) == 1 and all(a.is_scalar for i, a in enumerate(e.args) if i != sums[0]):
            i = sums[0]
            try:
                return [E.matmul(*e.args[:i], t, *e.args[i + 1:]) for t in scaled_terms(e.args[i])]
            except E.ShapeError:
                return [e]
    return [e]


def expand(e: E.Expr) -> list:
    """The addends after multiplying out products and transposes of sums (at most MAX_TERMS, else [e])."""
    if isinstance(e, E.Add):
        out = [t for a in e.args for t in expand(a)]
    elif isinstance(e, (E.MatMul, E.Hadamard)):
        ctor = E.matmul if isinstance(e, E.MatMul) else E.hadamard
        out = [[]]
        for a in e.args:
            out = [prev + [t] for prev in out for t in expand(a)]
            if len(out) > MAX_TERMS:
                return [e]
        try:
            out = [ctor(*f) for f in out]
        except E.ShapeError:
            return [e]
    elif isinstance(e, E.Transpose):
        out = [E.transpose(t) for t in expand(e.args[0])]
    else:
        out = [e]
    return out if len(out) <= MAX_TERMS else [e]


def _short_reason(message: str) -> str:
    """'missing factor 2: claimed / expected = 1/2 ...' is 'missing factor 2'."""
    return message.split(": ")[0].split(" (")[0]


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
    def same_shape(self, target: E.Expr, by_terms: bool = True) -> Finding | None:
        """The first confirmed hypothesis; a sum is judged term by term before it is judged whole."""
        cv = self.points.values(self.claim)
        tv = self.points.values(target)
        f = ratio_finding(cv, tv, self.points, self.scalars, target, self.tol)
        if f:
            return f
        named = self.by_terms(target) if by_terms else None
        if named and named.tags != ["wrong"]:
            return named
        f = self.symmetric_part(target) or self.rewrites(target)
        return f or named

    def by_terms(self, target: E.Expr) -> Finding | None:
        """Match the claim's terms with the answer's; name the term(s) that differ, and how.

        One wrong term ('the term lam*w should be 2*lam*w: missing factor 2'), two at once, a missing
        term or an extra one.  The claim is right exactly when the named terms are replaced, since every
        other term agrees numerically with a term of the answer.
        """
        tried = set()
        for split in (terms, scaled_terms, expand):
            for tsplit in (terms, scaled_terms, expand):
                cs, ts = split(self.claim), tsplit(target)
                key = (tuple(cs), tuple(ts))
                if (len(cs) < 2 and len(ts) < 2) or key in tried:
                    continue
                tried.add(key)
                f = self._match_terms(cs, ts)
                if f:
                    return f
        return None

    def _match_terms(self, cs: list, ts: list) -> Finding | None:
        left = list(range(len(ts)))
        unmatched = []
        for c in cs:
            j = next((j for j in left if ts[j].shape == c.shape and self.agrees(c, ts[j])), None)
            if j is None:
                unmatched.append(c)
            else:
                left.remove(j)
        missing = [ts[j] for j in left]
        if not unmatched and len(missing) == 1:
            return Finding(["wrong"], f"the term {to_text(missing[0])} is missing; the other terms are right")
        if len(unmatched) == 1 and not missing:
            return Finding(["wrong"], f"the term {to_text(unmatched[0])} should not be there; the other terms "
                           f"are right")
        if len(unmatched) != len(missing) or not 1 <= len(unmatched) <= 2:
            return None
        for order in ([0, 1], [1, 0])[:len(missing)]:
            pairs = list(zip(unmatched, [missing[k] for k in order[:len(missing)]]))
            found = [self._term(c, t) for c, t in pairs]
            if all(found) or len(pairs) == 1:
                break
        if len(pairs) == 2 and not all(found):
            return None
        parts, tags, factor = [], [], None
        for (c, t), f in zip(pairs, found):
            why = f": {_short_reason(f.message)}" if f else ""
            parts.append(f"the term {to_text(c)} should be {to_text(t)}{why}")
            for tag in (f.tags if f else ["wrong"]):
                if tag not in tags:
                    tags.append(tag)
            factor = factor if factor is not None else (f.factor if f else None)
        if len(tags) > 1 and "wrong" in tags:
            tags.remove("wrong")
        rest = "; the other terms are right" if len(cs) > len(pairs) else ""
        head = "two mistakes: " if len(pairs) == 2 else ""
        return Finding(tags, head + "; and ".join(parts) + rest, factor if len(pairs) == 1 else None)

    def _term(self, c: E.Expr, t: E.Expr) -> Finding | None:
        if c.shape != t.shape:
            return None
        try:
            return Diagnoser(c, self.points, self.variables, self.wrt, self.tol).same_shape(t, by_terms=False)
        except MatcalcError:
            return None

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
        for dropped, cand in _limited(normalisation_candidates(target)):
            if cand.shape == self.claim.shape and self.agrees(self.claim, cand):
                return Finding(["dropped-chain-factor"],
                               f"a factor of the chain rule is missing: {dropped} is dropped", rewrite=dropped)
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


