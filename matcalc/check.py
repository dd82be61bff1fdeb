"""Checking a person's own answer: one claimed derivative, or a chain of steps.

``check(expr, wrt, claimed)`` judges a claimed derivative against the engine's
verified result and says *why* a wrong answer is wrong.

The decision is sound in one direction by construction: an answer is called
correct only when its numbers agree with the engine's result at every one of
several (at least ``MIN_TRIALS``) random shapes and points: non-square shapes,
non-symmetric matrices unless assumed, points in the domain of the *function*
and of the engine's result, away from their kinks
(``matcalc.verify.draw_dims`` / ``draw_point``), relative error at most
``TOLERANCE`` (1e-10) in float64.  It is then

* **proved** when, in addition, ``simplify(claim)`` is the engine's result
  node for node or ``simplify(claim - expected)`` is zero (a "proof" the
  numbers contradict is dropped, with a note), or
* **numerically checked** otherwise.

The claim never chooses the test points: a claim that is undefined (nan, inf)
at a point where the function and its derivative are defined is wrong there.
Shapes are compared first: an answer of the wrong shape is never compared
entry by entry.  Sizes a claim leaves to context (``vector(1)`` alone) are
taken from the shape the answer must have.

A wrong answer gets a *tested* diagnosis: each hypothesis is a concrete
rewrite (of the claim or of the expected result) that is evaluated at the same
points, and a tag is reported only when the rewrite agrees numerically.

==========================  ============================================================
tag                         hypothesis that was confirmed numerically
==========================  ============================================================
``layout``                  the claim equals the derivative in the *other* layout (its
                            transpose), while the requested layout differs from it
``sign``                    claim = -expected
``factor``                  claim = c * expected for a constant c, or c * s^k for a
                            scalar variable or dimension s ("missing factor 2",
                            "extra factor 1/m")
``missing-symmetric-part``  claim = c * expected at points where a square matrix A is
                            replaced by a symmetric one, but not at general points
``sum-instead-of-matrix``   replacing sum(M) or tr(M) in the claim by M makes it right,
                            or claim = sum(expected) (or tr(expected))
``elementwise-vs-matrix-    swapping one ``.*`` for ``*`` (or ``*`` for ``.*``, ``.^k``
product``                   for ``^k``) in the claim makes it right
``dropped-chain-factor``    removing one factor of a product in the expected result
                            gives the claim
``wrong-shape``             the claim's shape fits neither layout and nothing above
                            explains it
``wrong``                   no known pattern: a counterexample is given
==========================  ============================================================

>>> v = check("(lam/(2*m))*normF(W)^2", wrt="W", claimed="lam/m*sum(W)", layout="denominator")
>>> v.correct, v.mistake
(False, 'sum-instead-of-matrix')
>>> check("x'*A*x", wrt="x", claimed="A'*x + A*x").method
'proved'

``check_steps(lines)`` checks a derivation line by line; see its docstring for
the line format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy

from . import expr as E
from .api import LAYOUTS, Derivative, MatcalcError, check_layout, derive, hessian
from .emit.latex import to_latex
from .emit.text import to_text
from .evaluate import (MIN_TRIALS, TOLERANCE, TRIALS, Points, compare, finite, looks_latex,
                       parse_function, parse_text, rel_error, shape_symbols, substitute, unify_dims)
from .explain import explain
from .parse import ParseError, Parsed, UnknownNameError
from .parse.text import normalize_assume
from .simplify import SimplifyBudgetError, simplify
from .verify import dimension_symbols

__all__ = ["check", "check_steps", "Verdict", "StepsReport", "Step", "TAGS", "TOLERANCE"]

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
# Reading a claim
# ---------------------------------------------------------------------------------


def _dim_spec(d):
    return int(d) if d.is_Integer else str(d)


def _declared_shapes(variables: dict) -> dict:
    """Shapes to declare when parsing a claim about a function with these variables."""
    out = {}
    carried = {str(s) for v in variables.values() if "dimension" not in v.assume for d in v.shape for s in d.free_symbols}
    for name, v in variables.items():
        if "dimension" in v.assume:
            if name not in carried:  # a size only eye(p) gives: a scalar in the claim, bound to the size
                out[name] = (1, 1)
            continue
        if all(d.is_Integer or d.is_Symbol for d in v.shape):
            out[name] = (_dim_spec(v.rows), _dim_spec(v.cols))
    return out


def _dims_of(variables) -> set:
    """The names of the dimension symbols the variables use."""
    return {str(s) for s in dimension_symbols(list(variables))}


def _fresh_dims(p: Parsed, shapes: dict) -> set:
    """The dimension symbols the parser made up for sizes that only context gives (``vector(1)``, ``eye()``)."""
    given = {str(d) for sh in shapes.values() for d in sh} | set(p.variables)
    return {s for s in shape_symbols(p.expr) if str(s) not in given}


def _sized(e: E.Expr, fresh: set, targets: list, what: str, dims: set) -> E.Expr:
    """e with its made-up sizes fixed by the shape it must have (one of ``targets``, in order of preference).

    Raises when a size stays unknown: a claim is never evaluated with a size the function does not fix.
    """
    if fresh:
        sized = unify_dims(e, fresh, targets)
        if sized is not None:
            e = sized
    for n in E.walk(e):
        extra = {s for d in n.shape for s in d.free_symbols if s in fresh or str(s) not in dims}
        if extra:
            raise MatcalcError(f"cannot infer the shape of {to_text(n)} in {what} from the function's "
                               f"variables; write it with them (e.g. eye(n) with a size they use)")
    return e


def _bind(e: E.Expr, variables: dict, what: str) -> E.Expr:
    """Replace the variables of a parsed claim by the function's own (with their assumptions)."""
    mapping = {}
    for v in E.free_vars(e):
        w = variables.get(v.name)
        if w is None:
            raise UnknownNameError(f"{what} uses {v.name!r}, which is not a variable of the function")
        if w.shape != v.shape:
            raise MatcalcError(f"{what} uses {v.name} as {E.fmt_shape(v.shape)}, but it is {E.fmt_shape(w.shape)}")
        if w is not v:
            mapping[v] = w
    return substitute(e, mapping) if mapping else e


def read_claim(claimed, variables: dict, what: str = "the claim", targets: list = ()) -> E.Expr:
    """The claimed answer as a matcalc expression over the function's variables.

    ``targets``: the shapes the answer may have (the requested layout's first).
    A size that only context gives (``vector(1)`` alone) is taken from them.
    """
    if isinstance(claimed, Derivative):
        claimed = claimed.result
    fresh: set = set()
    if isinstance(claimed, E.Expr):
        e = _bind(claimed, variables, what)
    elif isinstance(claimed, str):
        if not claimed.strip():
            raise ParseError(f"{what} is empty")
        known = set(variables) | _dims_of(variables.values())
        shapes = _declared_shapes(variables)
        p = parse_text(claimed, shapes=shapes, known=known)
        fresh = _fresh_dims(p, shapes)
        e = _bind(p.expr, variables, what)
    elif isinstance(claimed, sympy.Basic):
        from .sympy_bridge import from_sympy

        # through text, so that the claim's dimensions are unified with the function's
        return read_claim(to_text(from_sympy(claimed).expr), variables, what, targets)
    else:
        raise MatcalcError(f"{what} must be text, LaTeX, a SymPy expression or a matcalc expression, "
                           f"got {type(claimed).__name__}")
    return _sized(e, fresh, list(targets), what, _dims_of(variables.values()))


def _entry(i: int, shape) -> tuple:
    r, c = shape
    return (i // c, i % c)


def counterexample(points: Points, k: int, claim_vals: list, expected_vals: list) -> dict:
    """Shapes, point, and the entry where claimed and expected differ most, at trial k."""
    dims, point = points.trials[k]
    a, b = claim_vals[k], expected_vals[k]
    out = {
        "dims": dict(dims),
        "point": {n: np.asarray(v).tolist() for n, v in point.items() if n not in dims},
        "expected_shape": list(b.shape) if b is not None else None,
        "claimed_shape": list(a.shape) if a is not None else None,
    }
    if a is not None and b is not None and a.shape == b.shape:
        diff = np.abs(a - b)
        diff[~np.isfinite(diff)] = np.inf
        i = int(np.argmax(diff))
        ij = _entry(i, a.shape)
        out.update({"entry": list(ij), "expected": float(b[ij]), "claimed": float(a[ij])})
    if b is not None and b.size <= 36:
        out["expected_value"] = b.tolist()
    if a is not None and a.size <= 36:
        out["claimed_value"] = a.tolist()
    return out


def _fmt_counterexample(ce: dict) -> str:
    if not ce:
        return ""
    dims = ", ".join(f"{k}={v}" for k, v in sorted(ce["dims"].items())) or "scalars"
    if "entry" in ce:
        i, j = ce["entry"]
        return (f"at shapes {dims}, entry ({i + 1},{j + 1}): expected {ce['expected']:.6g}, "
                f"claimed {ce['claimed']:.6g}")
    return f"at shapes {dims}: expected shape {ce.get('expected_shape')}, claimed shape {ce.get('claimed_shape')}"


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


# ---------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------

TAG_WHY = {
    "layout": ("In denominator layout a derivative has as many rows as the denominator (a gradient has the "
               "shape of the variable); in numerator layout it is the transpose."),
    "sign": "Check the sign of each term of the differential (d(-A) = -dA, d(y - Xt) = -X dt).",
    "factor": ("The structure is right but a constant is off: e.g. d(x'x) = 2 x'dx gives 2x, and the 1/(2m) "
               "of a penalty (lam/(2m))*||W||^2 cancels the 2 to leave (lam/m)*W."),
    "missing-symmetric-part": ("Without a symmetry assumption d(x'Ax) = dx'Ax + x'A dx = x'(A + A')dx: both A "
                               "and A' appear. 2Ax is right only for a symmetric A (say so with "
                               "assume={'A': 'symmetric'})."),
    "sum-instead-of-matrix": ("A derivative with respect to a matrix has one entry per entry of the matrix "
                              "(df/dW_ij at (i,j)), so it is a matrix, not the sum of one. Writing the function "
                              "in trace form shows this: ||W||_F^2 = tr(W'W), d tr(W'W) = 2 tr(W' dW), so the "
                              "gradient is 2W."),
    "elementwise-vs-matrix-product": ("An elementwise function or product differentiates to an elementwise (.*) "
                                      "factor; a linear map differentiates to a matrix (*) factor."),
    "dropped-chain-factor": ("The chain rule multiplies the outer derivative by the derivative of the inner "
                             "function: d f(w'x) = f'(w'x) x'dw, so the gradient keeps the factor x."),
    "wrong-shape": ("Rule of thumb: in denominator layout the result has as many rows as the denominator has "
                    "entries; in numerator layout as many as the numerator."),
    "wrong": "No known pattern explains the difference; the counterexample shows where it fails.",
}


@dataclass
class Verdict:
    """The judgement of one claimed derivative.

    ``correct``; ``mistake`` (the main tag, None when correct) and ``mistakes``
    (all confirmed tags); ``layout`` (the layout the answer is in: 'denominator',
    'numerator', or 'either' when the two coincide); ``method`` ('proved' or
    'numerically checked at N shapes'); ``counterexample`` (dims, point, the
    entry, expected vs claimed) for a wrong answer; ``expected`` (the engine's
    :class:`~matcalc.api.Derivative`).
    """

    correct: bool
    mistake: str | None
    mistakes: list
    message: str
    expected: Derivative
    claimed: E.Expr
    layout: str | None
    requested_layout: str | None
    method: str
    proof: str = ""
    counterexample: dict | None = None
    factor: object = None
    shapes_checked: str = ""
    tolerance: float = TOLERANCE
    max_error: float = 0.0
    notes: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.correct

    @property
    def summary(self) -> str:
        if self.correct:
            where = "" if self.layout in (None, "either") else f" ({self.layout} layout)"
            if self.layout == "either":
                where = " (both layouts coincide here)"
            return f"correct{where}: {self.method}"
        return f"wrong ({self.mistake}): {self.message}"

    def __str__(self) -> str:
        return self.summary

    def explain(self, format: str = "text") -> str:
        """What is wrong and why (or why it is right), with the derivation of the correct answer."""
        if format not in ("text", "latex"):
            raise MatcalcError(f"format must be 'text' or 'latex', got {format!r}")
        d = self.expected
        fn = to_text(d.function)
        lay = d.layout
        lines = []
        if format == "text":
            lines.append(f"Claim: d/d{d.wrt.name} {fn} = {to_text(self.claimed)}")
            if self.correct:
                lines.append(f"Correct{'' if self.layout == 'either' else f' in {self.layout} layout'}: it equals "
                             f"the engine's result {d.text()} ({self.method}; {self.proof}).")
                for n in self.notes:
                    lines.append(f"Note: {n}")
                return "\n".join(lines)
            lines.append(f"Wrong [{', '.join(self.mistakes)}]: {self.message}.")
            for t in self.mistakes:
                lines.append(f"Why: {TAG_WHY[t]}")
            if self.counterexample:
                lines.append(f"Counterexample: {_fmt_counterexample(self.counterexample)}.")
            lines.append(f"The correct {d.kind} ({lay} layout) is {d.text()}.")
            for n in self.notes:
                lines.append(f"Note: {n}")
            ex = self._derivation("text")
            if ex:
                lines += ["", "Derivation:", ex]
            return "\n".join(lines)
        # LaTeX
        var = to_latex(d.wrt)
        head = rf"\frac{{\partial}}{{\partial {var}}}\left({to_latex(d.function)}\right) \stackrel{{?}}{{=}} {to_latex(self.claimed)}"
        lines.append(head)
        if self.correct:
            lines.append(rf"\text{{Correct ({self.method}).}}\quad {to_latex(self.claimed)} = {d.latex()}")
            return "\n\n".join(lines)
        lines.append(rf"\text{{Wrong ({', '.join(self.mistakes)}): {_latex_text(self.message)}.}}")
        for t in self.mistakes:
            lines.append(rf"\text{{{_latex_text(TAG_WHY[t])}}}")
        if self.counterexample:
            lines.append(rf"\text{{Counterexample: {_latex_text(_fmt_counterexample(self.counterexample))}.}}")
        lines.append(rf"\text{{Correct ({lay} layout): }} {d.latex(equation=True)}")
        ex = self._derivation("latex")
        if ex:
            lines.append(ex)
        return "\n\n".join(lines)

    def _derivation(self, format: str) -> str:
        d = self.expected
        if d.order != 1 or not d.function.is_scalar:
            return ""
        try:
            ex = explain(d.function, d.wrt.name, layout=d.layout)
        except (MatcalcError, ValueError):
            return ""
        return ex.text() if format == "text" else ex.latex()

    def to_dict(self) -> dict:
        return {
            "correct": self.correct,
            "mistake": self.mistake,
            "mistakes": list(self.mistakes),
            "message": self.message,
            "layout": self.layout,
            "requested_layout": self.requested_layout,
            "method": self.method,
            "proof": self.proof,
            "claimed": to_text(self.claimed),
            "expected": self.expected.text(),
            "expected_layout": self.expected.layout,
            "factor": None if self.factor is None else str(self.factor),
            "counterexample": self.counterexample,
            "shapes_checked": self.shapes_checked,
            "tolerance": self.tolerance,
            "max_error": self.max_error,
            "notes": list(self.notes),
        }


def _latex_text(s: str) -> str:
    return (s.replace("\\", r"\textbackslash ").replace("_", r"\_").replace("^", r"\^{}").replace("&", r"\&")
            .replace("%", r"\%").replace("#", r"\#").replace("{", r"\{").replace("}", r"\}"))


# ---------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------


_VERIFIED: dict = {}


def _verified(d: Derivative) -> None:
    """Verify the engine's result once per (function, variable, order, layout, shapes)."""
    key = (to_text(d.function), d.wrt.name, d.order, d.layout,
           tuple(sorted((n, str(v.shape), tuple(sorted(v.assume))) for n, v in d.variables.items())))
    if key in _VERIFIED:
        return
    try:
        d.verify(shapes=2, directions=2, explicit=False)
    except AssertionError as e:
        raise MatcalcError(f"the engine's own result failed verification, so the claim cannot be judged: {e}") from None
    if len(_VERIFIED) > 512:
        _VERIFIED.clear()
    _VERIFIED[key] = True


def check(expr, wrt, claimed, layout: str | None = None, order: int = 1, shapes=None, assume=None,
          *, trials: int = TRIALS, seed: int = 0, tol: float = TOLERANCE) -> Verdict:
    """Judge a claimed derivative of ``expr`` with respect to ``wrt``.

    ``claimed`` is text (matcalc syntax, a few NumPy spellings such as
    ``np.sum(W)`` and ``X.T``), LaTeX, a SymPy matrix expression or a matcalc
    expression, over the function's variables.  ``layout=None`` accepts either
    layout and reports which one the answer is in; a given layout makes an
    answer in the other layout wrong (tag ``layout``).  ``order=2`` checks a
    Hessian.

    >>> v = check("x'*A*x", wrt="x", claimed="2*A*x")
    >>> v.correct, v.mistake
    (False, 'missing-symmetric-part')
    >>> check("x'*A*x", wrt="x", claimed="2*A*x", assume={"A": "symmetric"}).correct
    True
    >>> check("lambd*normF(W1)^2/(2*m)", wrt="W1", claimed="lambd*W1/m").correct
    True
    """
    if layout is not None:
        check_layout(layout)
    if order not in (1, 2):
        raise MatcalcError(f"order must be 1 (a derivative) or 2 (a Hessian), got {order!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < MIN_TRIALS:
        raise MatcalcError(f"trials must be an integer >= {MIN_TRIALS}, got {trials!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise MatcalcError(f"tol must be a number in (0, 1), got {tol!r}")
    p = parse_function(expr, shapes, assume)
    d = (hessian if order == 2 else derive)(p, wrt, layout=layout or "denominator")
    _verified(d)
    order_ = [layout or "denominator"] + [L for L in LAYOUTS if L != (layout or "denominator")]
    claim = read_claim(claimed, d.variables, targets=[d.in_layout(L).result.shape for L in order_])
    return _judge(d, claim, layout, trials, seed, tol)


def judging_points(function: E.Expr, expected: E.Expr, variables, trials: int = TRIALS, seed: int = 0) -> Points:
    """Points in the domain of the function and of the correct answer: never chosen by the claim."""
    try:
        return Points(variables, E.add(E.sum_(function), E.sum_(expected)), trials, seed, fallback=function)
    except (MatcalcError, E.ShapeError):
        return Points(variables, function, trials, seed)


def undefined_message(points: Points, k: int, what: str = "the claim",
                      defined: str = "the function and its derivative are") -> str:
    """'the claim is undefined (nan, ...) at shapes ..., x=..., where ... defined', for trial k."""
    dims, point = points.trials[k]
    shown = ", ".join(f"{n}={_short(v)}" for n, v in point.items() if n not in dims)
    where = ", ".join(f"{n}={v}" for n, v in sorted(dims.items()))
    return (f"{what} is undefined (nan, inf or not computable) at {('shapes ' + where + ', ') if where else ''}"
            f"{shown}, where {defined} defined")


def _short(v) -> str:
    a = np.asarray(v, dtype=float)
    if a.size <= 6:
        return np.array2string(a.reshape(-1) if a.ndim > 1 and 1 in a.shape else a, precision=3,
                               separator=", ").replace("\n", "")
    return f"a {'x'.join(map(str, a.shape))} array"


def _judge(d: Derivative, claim: E.Expr, layout: str | None, trials: int, seed: int, tol: float) -> Verdict:
    targets = {"denominator": d.denominator, "numerator": d.numerator}
    layouts = [layout] if layout else list(LAYOUTS)
    fitting = [L for L in layouts if claim.shape == targets[L].shape]

    def verdict(correct, L, mistakes=(), message="", method="", proof="", ce=None, factor=None, err=0.0):
        exp_layout = L if L in LAYOUTS else (layout or "denominator")
        return Verdict(correct, (list(mistakes) or [None])[0], list(mistakes), message, d.in_layout(exp_layout),
                       claim, L, layout, method, proof, ce, factor, points.describe(), tol, err, list(notes))

    variables = list(d.variables.values())
    points = judging_points(d.function, d.denominator, variables, trials, seed)
    checked = f"numerically checked at {len(points)} shapes"

    # 1. the claim has a layout's shape: prove, or compare numbers (a proof never stands against the numbers)
    proofs = {L: prove_equal(claim, targets[L]) for L in fitting}
    matches = {}
    for L in fitting:
        cmp = compare(points.values(claim), points.values(targets[L]), tol)
        matches[L] = cmp
    good = [L for L in fitting if matches[L].equal]
    notes = []
    for L in fitting:
        if proofs[L] and not matches[L].equal:
            notes.append(f"the simplifier called the claim equal to the {L}-layout result but the numbers "
                         "disagree; the numbers win (please report this engine bug)")
            proofs[L] = None
    if good:
        L = good[0]
        same = compare(points.values(targets["denominator"]), points.values(targets["numerator"]), tol).equal \
            if targets["denominator"].shape == targets["numerator"].shape else False
        which = "either" if (layout is None and len(good) == 2 and same) else L
        proof = proofs.get(L)
        method = "proved" if proof else checked
        detail = proof or (f"max relative error {matches[L].max_error:.1e} <= {tol:g} at shapes {points.describe()}")
        return verdict(True, which, method=method, proof=detail, err=matches[L].max_error)

    # a claim that is undefined where the function and its derivative are defined is wrong there
    for L in LAYOUTS:
        if claim.shape == targets[L].shape:
            cmp = matches.get(L) or compare(points.values(claim), points.values(targets[L]), tol)
            if cmp.undefined:
                k = cmp.undefined[0]
                ce = counterexample(points, k, points.values(claim), points.values(targets[L]))
                return verdict(False, None, ["wrong"], undefined_message(points, k), checked, ce=ce,
                               err=float("inf"))

    # 2. wrong: find out why
    diag = Diagnoser(claim, points, d.variables, d.wrt, tol)
    requested = layout or "denominator"
    other = "numerator" if requested == "denominator" else "denominator"
    T, O = targets[requested], targets[other]
    differ = T.shape != O.shape or not compare(points.values(T), points.values(O), tol).equal

    def ce_against(target):
        cv, tv = points.values(claim), points.values(target)
        cmp = compare(cv, tv, tol, points)
        k = cmp.worst if cmp.worst is not None else 0
        return counterexample(points, k, cv, tv), cmp.max_error

    if layout is not None and differ and claim.shape == O.shape:
        ce, err = ce_against(T)
        if diag.agrees(claim, O):
            return verdict(False, other, ["layout"],
                           f"layout mix-up: the claim is the {other}-layout result {to_text(O)} (the transpose), "
                           f"but {requested} layout was asked for", checked, ce=ce, err=err)
        f = diag.same_shape(O)
        if f:
            return verdict(False, other, ["layout"] + f.tags,
                           f"layout mix-up (the claim has the shape of the {other}-layout result) and, "
                           f"in that layout, {f.message}", checked, ce=ce, factor=f.factor, err=err)

    for L in fitting:
        f = diag.same_shape(targets[L])
        if f:
            ce, err = ce_against(targets[L])
            return verdict(False, L if layout is None else layout, f.tags, f.message, checked, ce=ce,
                           factor=f.factor, err=err)

    if fitting:
        ce, err = ce_against(targets[fitting[0]])
        return verdict(False, None, ["wrong"], "no known pattern: the claim differs from the correct answer "
                       + _fmt_counterexample(ce), checked, ce=ce, err=err)

    # 3. the shape fits no (requested) layout: shape-changing hypotheses, else wrong-shape
    cands = [requested] if layout else [L for L in LAYOUTS if L == "denominator" or differ]
    for L in cands:
        f = diag.rewrites(targets[L])
        if f:
            ce = counterexample(points, 0, points.values(claim), points.values(targets[L]))
            return verdict(False, layout, f.tags, f.message, checked, ce=ce, factor=f.factor)
    exp_shapes = " or ".join(f"{E.fmt_shape(targets[L].shape)} ({L} layout)"
                             for L in ([requested, other] if layout is None else [requested]))
    extra = ""
    if layout is not None and claim.shape == O.shape:
        extra = f"; that is the shape of the {other}-layout result, but its values differ too"
    ce = counterexample(points, 0, points.values(claim), points.values(T))
    return verdict(False, None, ["wrong-shape"],
                   f"wrong shape: the claim is {E.fmt_shape(claim.shape)} but the {d.kind} is {exp_shapes}{extra}",
                   "shapes compared before numbers", ce=ce)


# ---------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------

_NAME = r"\\?[A-Za-z][A-Za-z0-9_]*"
_LEAD_PLAIN = [
    re.compile(r"^(?:d|∂)\s*/\s*(?:d|∂)\s*(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\b\s*(?P<rest>.*)$", re.S),
    re.compile(r"^(?:grad|nabla|∇)_(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\b\s*(?P<rest>.*)$", re.S),
    re.compile(r"^(?:grad|nabla|∇)(?P<wrt>)\s*(?P<rest>\(.*)$", re.S),
    re.compile(r"^∇(?P<wrt>)\s*(?P<rest>.*)$", re.S),
]
_LATEX_WRT = r"(?:\\mathbf\{(?P<a>\\?[A-Za-z]\w*)\}|\\boldsymbol\{(?P<b>\\?[A-Za-z]\w*)\}|(?P<c>\\?[A-Za-z]\w*))"
_LEAD_LATEX = [
    re.compile(r"^\\frac\{\s*\\partial\s*(?P<num>[^{}]*)\}\{\s*\\partial\s*" + _LATEX_WRT + r"\s*\}\s*(?P<rest>.*)$", re.S),
    re.compile(r"^\\nabla_\{?\s*" + _LATEX_WRT + r"\s*\}?\s*(?P<rest>.*)$", re.S),
]
_EMBEDDED = re.compile(r"(?:(?<![A-Za-z0-9_])d\s*/\s*d|grad_|nabla_)(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\s*\(")
_LABEL = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*(?:\((?P<args>[^()]*)\))?$")
_LATEX_LABEL = re.compile(r"^(?P<name>[A-Za-z])\s*(?:\\left)?\(\s*[^()]*(?:\\right)?\)$|^(?P<bare>[A-Za-z])$")


def _latex_name(s: str) -> str:
    return s.lstrip("\\")


def _split_top(line: str, sep: str = "=") -> list:
    """Split at top-level '=' (outside parentheses, brackets and braces)."""
    out, depth, cur = [], 0, []
    for ch in line:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _matching_paren(s: str, i: int) -> int:
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise ParseError("unbalanced parentheses", s, i + 1)


@dataclass
class Step:
    """One item of a derivation: a line, or one side of a line with several '='."""

    line: int
    text: str
    kind: str  # 'function' or 'derivative'
    status: str  # 'start', 'label', 'ok' or 'wrong'
    value: E.Expr | None = None
    method: str = ""
    message: str = ""
    mistake: str | None = None
    counterexample: dict | None = None

    def __str__(self) -> str:
        mark = {"ok": "ok", "wrong": "WRONG", "start": "start", "label": "label"}[self.status]
        tail = f"  ({self.message})" if self.message else ""
        return f"line {self.line}: {mark:5s} {self.text.strip()}{tail}"


@dataclass
class StepsReport:
    """The result of :func:`check_steps`: every step, and the first one that does not follow."""

    steps: list
    variables: dict

    @property
    def ok(self) -> bool:
        return all(s.status != "wrong" for s in self.steps)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def first_wrong(self) -> Step | None:
        return next((s for s in self.steps if s.status == "wrong"), None)

    @property
    def line(self) -> int | None:
        """The line number (1-based) of the first wrong step, or None."""
        s = self.first_wrong
        return s.line if s else None

    def __str__(self) -> str:
        head = "all steps follow" if self.ok else f"line {self.line} does not follow from the line before"
        return "\n".join([head] + [str(s) for s in self.steps])

    def explain(self) -> str:
        s = self.first_wrong
        if s is None:
            return f"Every step follows from the one before ({len(self.steps)} steps checked)."
        out = [f"Line {s.line} does not follow from the step before it: {s.text.strip()}", f"  {s.message}"]
        if s.counterexample and _fmt_counterexample(s.counterexample) not in s.message:
            out.append(f"  counterexample: {_fmt_counterexample(s.counterexample)}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "first_wrong_line": self.line,
            "steps": [{"line": s.line, "text": s.text.strip(), "kind": s.kind, "status": s.status,
                       "method": s.method, "message": s.message, "mistake": s.mistake,
                       "value": to_text(s.value) if s.value is not None else None,
                       "counterexample": s.counterexample} for s in self.steps],
        }


class _Steps:
    def __init__(self, wrt, shapes, assume, layout, seed, tol):
        self.default_wrt = wrt
        self.user_shapes = dict(shapes or {})
        self.assume = normalize_assume(assume)
        self.layout = check_layout(layout)
        self.seed = seed
        self.tol = tol
        self.vars: dict = {}
        self.labels: dict = {}
        self.counter = 0
        self.lineno = 0
        self.fresh: dict = {}  # expression -> the sizes its line left to context (vector(1) alone)

    # parsing -------------------------------------------------------------------------
    def fail(self, msg: str, cls=ParseError):
        raise cls(f"line {self.lineno}: {msg}")

    def read_expression(self, text: str) -> E.Expr:
        """An expression; ``d/dx(...)`` and ``grad_x(...)`` inside it are the engine's derivatives."""
        text = text.strip()
        if not text:
            self.fail("an empty expression")
        subs = {}
        latex = looks_latex(text)
        if not latex:
            while True:
                m = _EMBEDDED.search(text)
                if not m:
                    break
                j = _matching_paren(text, m.end() - 1)
                inner = text[m.end():j]
                name = f"_dv{self.counter}"
                self.counter += 1
                subs[name] = self.derivative(m.group("wrt"), inner)
                text = text[:m.start()] + name + text[j + 1:]
        placeholders = {**{k: v for k, v in self.labels.items()}, **subs}
        shapes = dict(self.user_shapes)
        shapes.update(_declared_shapes(self.vars))
        for k, v in placeholders.items():
            if not all(dd.is_Integer or dd.is_Symbol for dd in v.shape):
                self.fail(f"{k} has a shape ({E.fmt_shape(v.shape)}) that cannot be used inside an expression")
            shapes[k] = (_dim_spec(v.rows), _dim_spec(v.cols))
        first = not self.vars
        known = None if first else set(self.vars) | _dims_of(self.vars.values()) | set(placeholders) | set(self.user_shapes)
        try:
            p = parse_text(text, shapes=shapes, known=known)
        except (ParseError, UnknownNameError) as e:
            raise type(e)(f"line {self.lineno}: {e}") from None
        except ValueError as e:
            raise MatcalcError(f"line {self.lineno}: {e}") from None
        mapping = {}
        for name, v in p.variables.items():
            if name in placeholders:
                mapping[v] = placeholders[name]
            elif name in self.vars:
                w = self.vars[name]
                if w.shape != v.shape:
                    self.fail(f"{name} is used as {E.fmt_shape(v.shape)} but it is {E.fmt_shape(w.shape)}",
                              MatcalcError)
                mapping[v] = w
            else:
                a = self.assume.get(name, frozenset())
                if "dimension" in v.assume:
                    a = v.assume
                w = E.Var(name, v.rows, v.cols, a)
                self.vars[name] = w
                mapping[v] = w
        out = substitute(p.expr, mapping)
        if not first:
            given = {str(s) for e in list(self.vars.values()) + list(placeholders.values())
                     for d in e.shape for s in d.free_symbols} | set(p.variables)
            fresh = {s for s in shape_symbols(out) if str(s) not in given}
            if fresh:
                self.fresh[out] = fresh
        return out

    def fit(self, e: E.Expr, like: E.Expr) -> E.Expr:
        """e with the sizes its line left to context taken from the step it is compared with."""
        fresh = self.fresh.get(e)
        if not fresh:
            return e
        try:
            return _sized(e, fresh, [like.shape], "this step", _dims_of(self.vars.values()))
        except MatcalcError as err:
            raise MatcalcError(f"line {self.lineno}: {err}") from None

    def derivative(self, wrt: str, inner: str) -> E.Expr:
        f = self.read_expression(inner)
        return self.derive_value(f, wrt)

    def derive_value(self, f: E.Expr, wrt: str) -> E.Expr:
        wrt = wrt or self.default_wrt
        if not wrt:
            self.fail("a derivative needs a variable: write d/dx, grad_x(...) or pass wrt=", MatcalcError)
        v = self.vars.get(wrt)
        if v is None:
            self.fail(f"the derivative is taken with respect to {wrt!r}, which is not a variable here",
                      UnknownNameError)
        if not E.contains(f, v):
            if f.is_scalar:
                return E.zeros(v.shape if self.layout == "denominator" else (v.cols, v.rows))
            self.fail(f"{to_text(f)} does not depend on {wrt}", MatcalcError)
        vars_ = {n: w for n, w in self.vars.items() if E.contains(f, w) or n == wrt}
        d = derive(Parsed(f, vars_, to_text(f)), wrt, layout=self.layout)
        return d.result

    def item(self, text: str, first_on_line: bool, more: bool):
        """(kind, value, inner) where inner is the differentiated function for a derivative item."""
        t = text.strip()
        is_derivative = any(rx.match(t) for rx in (_LEAD_LATEX if looks_latex(t) else _LEAD_PLAIN))
        if first_on_line and more and not is_derivative:
            m = _LABEL.match(t) if not looks_latex(t) else _LATEX_LABEL.match(t)
            if m:
                name = m.group("name") or m.group("bare")
                if name not in self.vars and name not in self.labels:
                    return "label", name, None
        for rx in _LEAD_LATEX if looks_latex(t) else _LEAD_PLAIN:
            m = rx.match(t)
            if m:
                gd = m.groupdict()
                wrt = _latex_name(gd.get("a") or gd.get("b") or gd.get("c") or gd.get("wrt") or "")
                rest = gd.get("rest", "").strip()
                num = (gd.get("num") or "").strip()
                if num and rest:
                    self.fail("write either \\frac{\\partial f}{\\partial x} or \\frac{\\partial}{\\partial x} f")
                body = num or rest
                if not body:
                    self.fail("a derivative of nothing")
                f = self.read_expression(body)
                return "derivative", self.derive_value(f, wrt), f
        return "expr", self.read_expression(t), None

    # comparing -----------------------------------------------------------------------
    def compare(self, new: E.Expr, old: E.Expr):
        """(equal, method, message, mistake, counterexample): new against the step before it.

        The points come from the domain of the step before (the function, as far as this step is
        concerned); where new is undefined there, it does not follow.
        """
        if new.shape != old.shape:
            return (False, "shapes compared", f"shape {E.fmt_shape(new.shape)} but the step before is "
                    f"{E.fmt_shape(old.shape)}", "wrong-shape", None)
        proof = prove_equal(new, old)
        variables = list(self.vars.values())
        pts = Points(variables, old, TRIALS, self.seed)
        nv, ov = pts.values(new), pts.values(old)
        cmp = compare(nv, ov, self.tol, pts)
        checked = f"numerically checked at {len(pts)} shapes"
        if cmp.equal:
            return (True, "proved" if proof else checked, proof or "", None, None)
        if cmp.undefined:
            k = cmp.undefined[0]
            return (False, checked, undefined_message(pts, k, "it", "the step before is"), "wrong",
                    counterexample(pts, k, nv, ov))
        k = cmp.worst if cmp.worst is not None else 0
        ce = counterexample(pts, k, nv, ov)
        scalars = [n for n, v in self.vars.items() if v.is_scalar]
        f = ratio_finding(nv, ov, pts, scalars, old, self.tol)
        if f is None and new.rows == old.cols and new.cols == old.rows and not new.is_scalar:
            if compare(nv, pts.values(E.transpose(old)), self.tol).equal:
                f = Finding(["layout"], "it is the transpose of the step before")
        msg = f"differs from the step before: {f.message}" if f else \
            f"differs from the step before ({_fmt_counterexample(ce)})"
        return (False, checked, msg, f.tags[0] if f else "wrong", ce)


def check_steps(lines, wrt: str | None = None, shapes=None, assume=None, layout: str = "denominator",
                *, seed: int = 0, tol: float = TOLERANCE) -> StepsReport:
    """Check a derivation: every step must equal the one before it.

    ``lines`` is a string (one step per line) or a list of lines.  The format:

    * Each line is one or more *items* separated by ``=``; a line may start
      with ``=`` (a continuation).  Blank lines and lines starting with ``#``
      are skipped; LaTeX alignment (``&=``, a trailing ``\\\\``) is ignored.
    * An item is an expression in matcalc's syntax (or LaTeX), or a
      *derivative item* ``d/dtheta EXPR``, ``grad_theta EXPR``,
      ``grad(EXPR)`` (with ``wrt=``), ``\\frac{\\partial}{\\partial \\theta} EXPR``
      or ``\\nabla_{\\theta} EXPR``, whose value is the engine's derivative of
      EXPR (in ``layout``).  Inside an expression, ``d/dtheta(EXPR)`` and
      ``grad_theta(EXPR)`` (with parentheses) stand for the engine's derivative.
    * The first item of a line may be a *label*, a new name such as ``J`` or
      ``J(theta)``: it names the value of the next item and can be used later,
      e.g. ``grad_theta J = ...``.
    * Each item is compared with the item before it, as functions of the
      same variables (numerically at random shapes and points, or proved by the
      simplifier).  A derivative item that follows a function compares its
      EXPR with that function; after it, items are compared with the derivative.
    * The first expression fixes the variables and their shapes (``shapes=``
      and ``assume=`` as in ``derive``); later lines may not add names.

    >>> r = check_steps(["J = x'*A*x", "d/dx J = A*x + A'*x", "= (A + A')*x"])
    >>> r.ok
    True
    >>> check_steps(["J = x'*A*x", "d/dx J = 2*A*x"]).line
    2
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    st = _Steps(wrt, shapes, assume, layout, seed, tol)
    steps: list = []
    prev = None  # (kind, value)
    for lineno, raw in enumerate(lines, start=1):
        st.lineno = lineno
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.replace("&=", "=").replace("&", " ")
        line = re.sub(r"\\\\\s*$", "", line).strip()
        line = re.sub(r"[.,;]\s*$", "", line)
        items = _split_top(line)
        label = None
        for idx, text in enumerate(items):
            if not text.strip():
                if idx == 0:
                    continue
                st.fail("an empty side of '='")
            more = idx + 1 < len(items)
            kind, value, inner = st.item(text, idx == 0, more)
            if kind == "label":
                label = value
                steps.append(Step(lineno, text, "function", "label", None, message=f"names {value}"))
                continue
            if kind == "derivative":
                if prev is None:
                    step = Step(lineno, text, "derivative", "start", value)
                elif prev[0] == "function":
                    inner = st.fit(inner, prev[1])
                    eq, method, msg, tag, ce = st.compare(inner, prev[1])
                    step = Step(lineno, text, "derivative", "ok" if eq else "wrong", value, method,
                                "" if eq else f"the function differentiated here {msg}", tag, ce)
                else:
                    value = st.fit(value, prev[1])
                    eq, method, msg, tag, ce = st.compare(value, prev[1])
                    step = Step(lineno, text, "derivative", "ok" if eq else "wrong", value, method,
                                "" if eq else msg, tag, ce)
                prev = ("derivative", value)
            else:
                k = prev[0] if prev else "function"
                if prev is None:
                    step = Step(lineno, text, k, "start", value)
                else:
                    value = st.fit(value, prev[1])
                    eq, method, msg, tag, ce = st.compare(value, prev[1])
                    step = Step(lineno, text, k, "ok" if eq else "wrong", value, method, "" if eq else msg,
                                tag, ce)
                prev = (k, value)
            steps.append(step)
            if label is not None:
                st.labels[label] = value
                label = None
    if not any(s.status in ("start", "ok", "wrong") for s in steps):
        raise MatcalcError("no steps to check: give at least one expression")
    return StepsReport(steps, dict(st.vars))
