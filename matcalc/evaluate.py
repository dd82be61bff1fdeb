"""What :mod:`matcalc.check` and :mod:`matcalc.explain` share: reading an expression, and numbers.

* **Reading**: an expression written as matcalc text, LaTeX, or with a few
  NumPy spellings (``np.sum(W)``, ``X.T``, ``A @ B``).
* **Substituting** nodes (or dimension symbols) of an expression.
* **Numbers**: random shapes and a point in a domain at each (:class:`Points`),
  and :func:`compare`, which calls two lists of values equal only when *every*
  trial (at least :data:`MIN_TRIALS`) is defined and agrees to
  :data:`TOLERANCE`.

The import graph is one-way: ``check -> explain -> evaluate`` and
``check -> evaluate``; this module imports neither of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy

from . import expr as E
from .api import MatcalcError, looks_latex, parse_input
from .emit.numpy import compile_expr
from .emit.text import to_text
from .parse import ParseError, Parsed, parse
from .verify import (SCALES, check_entries, DomainError, cover_kinks, dimension_symbols, draw_dims, draw_point, kink_regions,
                     sign_pattern)

substitute = E.substitute  # re-exported: the checker and explain rewrite claims with it

__all__ = ["Points", "Comparison", "compare", "rel_error", "finite", "substitute", "substitute_dims",
           "looks_latex", "parse_text", "parse_function", "TOLERANCE", "TRIALS", "MIN_TRIALS", "SCALE_FLOOR"]

# Float64 evaluation of two exact formulas for the same function agrees to a few ulps times the
# growth of the intermediate values; 1e-10 leaves room for that and nothing else (a claim that is
# 1.00000001 times the answer is wrong).
TOLERANCE = 1e-10  # ||claim - expected|| / max(||claim||, ||expected||, SCALE_FLOOR * scale)
SCALE_FLOOR = 1e-3  # the absolute floor, as a fraction of the largest ||expected|| over the trials
TRIALS = 4  # random shapes (and one point at each) for a numerical check
MIN_TRIALS = 3  # fewer usable trials never make a claim correct


# ---------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------

_NUMPY_FUNCS = {
    "np.linalg.inv": "inv", "np.linalg.det": "det", "np.sum": "sum", "np.trace": "tr", "np.exp": "exp",
    "np.log": "log", "np.sqrt": "sqrt", "np.abs": "abs", "np.tanh": "tanh", "np.sin": "sin", "np.cos": "cos",
    "np.sign": "sign", "np.diag": "diag", "np.tan": "tan", "np.arcsin": "arcsin", "np.arccos": "arccos",
    "np.arctan": "arctan",
}


def numpy_spelling(text: str) -> str:
    """Accept a few NumPy spellings people paste from code: np.sum(W) is sum(W), X.T is X', A @ B is A*B.

    Only these fixed tokens are rewritten; nothing is evaluated.
    """
    if "np." in text:
        for k in sorted(_NUMPY_FUNCS, key=len, reverse=True):
            text = re.sub(re.escape(k) + r"\s*\(", _NUMPY_FUNCS[k] + "(", text)
    text = re.sub(r"(?<=[\w)\]])\.T\b", "'", text)
    return text.replace("@", "*")


def parse_text(text: str, shapes=None, assume=None, known=None) -> Parsed:
    """Text in matcalc syntax (with NumPy spellings) or LaTeX."""
    if looks_latex(text):
        try:
            from .parse.latex import parse_latex
        except ImportError:
            raise ParseError("this looks like LaTeX, but the LaTeX reader (matcalc.parse.latex) is not "
                             "available; write it in plain text, e.g. 2*W'") from None
        return parse_latex(text, shapes=shapes, assume=assume, known=known)
    return parse(numpy_spelling(text), shapes=shapes, assume=assume, known=known)


def parse_function(expr, shapes, assume) -> Parsed:
    """The function to differentiate: anything ``derive`` takes, or LaTeX text."""
    if isinstance(expr, str) and looks_latex(expr):
        return parse_text(expr, shapes, assume)
    return parse_input(expr, shapes, assume)


# ---------------------------------------------------------------------------------
# Substituting
# ---------------------------------------------------------------------------------


def substitute_dims(e: E.Expr, values: dict) -> E.Expr:
    """e with the dimension symbols that are keys of ``values`` replaced in every leaf (ones, eye, variables)."""
    mapping = {}
    for n in E.walk(e):
        if n.children or n in mapping:
            continue
        if any(isinstance(a, sympy.Basic) and a.free_symbols & set(values) for a in n.args):
            mapping[n] = type(n)(*[a.subs(values) if isinstance(a, sympy.Basic) else a for a in n.args])
    return substitute(e, mapping) if mapping else e


def shape_symbols(e: E.Expr) -> set:
    """Every dimension symbol in the shapes of e's nodes."""
    return {s for n in E.walk(e) for d in n.shape for s in d.free_symbols}


def unify_dims(e: E.Expr, unknown: set, shapes: list) -> E.Expr | None:
    """e with the ``unknown`` dimension symbols solved so that its shape is one of ``shapes`` (tried in order).

    ``vector(1)`` alone is ``m x 1`` with m unknown; against a gradient of
    shape ``n x 1`` it becomes ``n x 1``.  None when no shape determines every
    unknown symbol.
    """
    unknown = set(unknown)
    for shape in shapes:
        eqs = [sympy.expand(a - b) for a, b in zip(e.shape, shape)]
        eqs = [q for q in eqs if q != 0]
        if not eqs:
            continue
        try:
            sols = sympy.solve(eqs, sorted(unknown, key=str), dict=True)
        except (NotImplementedError, ValueError, TypeError):
            continue
        for sol in sols:
            if set(sol) != unknown or any(v.free_symbols & unknown for v in sol.values()):
                continue
            if any(not (v.is_integer and v.is_positive) for v in sol.values()):
                continue
            out = substitute_dims(e, sol)
            if all(sympy.expand(a - b) == 0 for a, b in zip(out.shape, shape)) and not (shape_symbols(out) & unknown):
                return out
    return None


# ---------------------------------------------------------------------------------
# Numbers: random shapes and points, evaluation, comparison
# ---------------------------------------------------------------------------------


def _as2d(v):
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    return a


class Points:
    """Random shapes (``draw_dims``) and a point in the domain of ``domain`` at each (``draw_point``).

    The domain is that of the *function* (and the engine's result), never of
    the claim being judged: a claim must not pick the points where it happens
    to be right.  At least ``min_trials`` points are found, or MatcalcError.
    Points are drawn at several scales (``verify.SCALES``).

    Both sides of every kink of ``domain`` are reached where they can be
    (``verify.cover_kinks``): extra trials are added for the regions the
    random ones miss; ``reached`` and ``unreached`` list them.  With
    ``nonzero`` (the correct answer), a trial where it vanishes does not count
    towards ``n``: another is drawn, so that ``n`` trials can tell a claim from
    0; the flat ones are kept, as they test that a claim vanishes there too.

    ``values(e)`` compiles ``e`` and evaluates it at every point (cached; None
    where it cannot be evaluated).
    """

    def __init__(self, variables, domain: E.Expr | None, n: int = TRIALS, seed: int = 0,
                 fallback: E.Expr | None = None, trials: list | None = None, min_trials: int = MIN_TRIALS,
                 nonzero: E.Expr | None = None):
        self.variables = list(variables)
        self._cache: dict = {}
        self.reached: list = []
        self.unreached: list = []
        self.domain = domain
        if trials is not None:
            self.trials = trials
            return
        syms = dimension_symbols(self.variables, domain)
        rng = np.random.default_rng(seed)
        self.trials = []
        vanishes = _zero_test(nonzero, self.variables) if nonzero is not None else None
        flat = 0
        live = 0
        t = 0
        while live < n and t < 4 * n:
            dims = draw_dims(syms, rng, t)
            scale = SCALES[t % len(SCALES)]
            t += 1
            point = None
            for dom in (domain, fallback):
                if dom is None:
                    continue
                try:
                    point = draw_point(dom, self.variables, dims, rng, scale=scale)
                    break
                except DomainError:
                    continue
            if point is None:
                continue
            if vanishes is not None and vanishes(point):
                if flat < n:
                    flat += 1
                    self.trials.append((dims, point))
                continue
            live += 1
            self.trials.append((dims, point))
        if live < min(n, min_trials) and not (nonzero is not None and flat):
            raise MatcalcError(f"found {len(self.trials) or 'no'} point(s) in the domain of {to_text(domain)} to "
                               f"test at; {min(n, min_trials)} are needed")
        if domain is not None:
            extra, unreached = cover_kinks(domain, self.variables, syms, rng, [p for _, p in self.trials])
            self.trials += extra
            self.unreached = [str(r) for r in unreached]
            self.reached = [str(r) for r in kink_regions(domain) if r not in unreached]

    def region(self, k: int) -> str:
        """Where trial k lies relative to the kinks of the domain ("w'*x < 0"); "" without kinks."""
        if self.domain is None:
            return ""
        return sign_pattern(self.domain, self.variables, self.trials[k][1])

    def __len__(self):
        return len(self.trials)

    def values(self, e: E.Expr) -> list:
        hit = self._cache.get(e)
        if hit is not None:
            return hit
        try:
            fn = compile_expr(e, self.variables, "g")
        except (TypeError, KeyError) as err:  # a node without a NumPy emitter
            raise MatcalcError(f"cannot evaluate {to_text(e)} numerically: {err}") from None
        out = []
        for dims, point in self.trials:
            check_entries(e, dims)
            try:
                with np.errstate(all="ignore"):
                    out.append(_as2d(fn(**point)))
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, OverflowError):
                out.append(None)
        self._cache[e] = out
        return out

    def symmetrized(self, names) -> "Points":
        """The same shapes and points with the named square matrices replaced by their symmetric parts."""
        trials = []
        for dims, point in self.trials:
            p = dict(point)
            for nm in names:
                a = np.asarray(p[nm], dtype=float)
                p[nm] = (a + a.T) / 2
            trials.append((dims, p))
        return Points(self.variables, None, trials=trials)

    def scalar_values(self, name: str) -> list:
        """The value of a scalar variable or a dimension at each point."""
        out = []
        for dims, point in self.trials:
            if name in dims:
                out.append(float(dims[name]))
            else:
                out.append(float(np.asarray(point[name]).reshape(-1)[0]))
        return out

    def describe(self) -> str:
        shown = []
        for dims, _ in self.trials:
            shown.append("(" + ", ".join(f"{k}={v}" for k, v in sorted(dims.items())) + ")" if dims else "(scalars)")
        return ", ".join(shown)


ZERO = 1e-13  # below this everywhere, a value is 0 to rounding


def _zero_test(e: E.Expr, variables):
    """A test of whether e is 0 (to rounding) at a point, where a trial cannot tell a claim from 0."""
    try:
        fn = compile_expr(e, variables, "g")
    except (TypeError, KeyError, ValueError):
        return None

    def vanishes(point: dict) -> bool:
        try:
            with np.errstate(all="ignore"):
                v = np.asarray(fn(**point), dtype=float)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, OverflowError):
            return False
        return bool(np.all(np.isfinite(v))) and float(np.max(np.abs(v), initial=0.0)) <= ZERO

    return vanishes


def finite(a) -> bool:
    return a is not None and bool(np.all(np.isfinite(a)))


def norm(a) -> float:
    """The Frobenius norm without overflow: entries near 1e300 do not make it inf."""
    a = np.asarray(a)
    big = float(np.max(np.abs(a))) if a.size else 0.0
    if big == 0.0 or not np.isfinite(big):
        return big
    return big * float(np.linalg.norm(a / big))


def rel_error(a, b, floor: float = 0.0) -> float:
    """||a - b|| / max(||a||, ||b||, floor): relative, with an absolute floor for values near zero."""
    a, b = np.asarray(a), np.asarray(b)
    big = max(float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    if not np.isfinite(big):  # an infinite or undefined value agrees with nothing
        return float("inf")
    a, b = a / big, b / big  # scaled first, so that a - b and the norms cannot overflow
    den = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), floor / big, 1e-300 / big)
    return float(np.linalg.norm(a - b)) / den


@dataclass
class Comparison:
    equal: bool
    max_error: float
    worst: int | None  # the trial to show as a counterexample: failing, preferably without sizes of 1
    used: int  # trials where the expected value was defined
    undefined: list  # trials where the expected value is defined but the claim is not (nan, inf, an error)
    floor: float = 0.0  # the absolute floor of the relative error
    vacuous: list = None  # trials where the claim and the expected value are both 0: they prove nothing

    @property
    def live(self) -> int:
        """Usable trials that are not vacuous."""
        return self.used - len(self.vacuous or [])


def compare(claim_vals: list, expected_vals: list, tol: float = TOLERANCE, points: "Points | None" = None,
            min_trials: int = MIN_TRIALS) -> Comparison:
    """Claimed against expected values, trial by trial.

    ``equal`` only when the expected value is defined at every trial (at
    least ``min_trials`` of them), the claim is defined there too, and every
    relative error is at most ``tol``.  The relative error's floor is
    ``SCALE_FLOOR`` times the largest ``||expected||`` over the trials (or
    ``SCALE_FLOOR`` when every expected value is 0), so a trial where the
    answer is nearly 0 is not judged on rounding noise alone.  A trial where
    both are 0 to rounding agrees but is ``vacuous``: ``live`` does not count it.
    """
    usable = [i for i, b in enumerate(expected_vals) if finite(b)]
    if not usable:
        raise MatcalcError("the expected result could not be evaluated at any test point")
    scale = max(norm(expected_vals[i]) for i in usable)
    floor = SCALE_FLOOR * (scale if scale > 0 else 1.0)
    errs: dict = {}
    undefined = []
    vacuous = []
    for i in usable:
        a, b = claim_vals[i], expected_vals[i]
        if finite(a) and a.shape == b.shape and max(float(np.max(np.abs(a), initial=0.0)),
                                                    float(np.max(np.abs(b), initial=0.0))) <= ZERO:
            vacuous.append(i)
            errs[i] = 0.0  # both 0 to rounding: they agree, but the trial proves nothing
        elif a is None or a.shape != b.shape:
            errs[i] = float("inf")
            if a is None:
                undefined.append(i)
        elif not finite(a):
            errs[i] = float("inf")
            undefined.append(i)
        else:
            errs[i] = rel_error(a, b, floor)
    worst_err = max(errs.values())
    failing = [i for i, e in errs.items() if e > tol] or list(errs)

    def key(i):
        ones = bool(points) and any(v == 1 for v in points.trials[i][0].values())
        return (i not in undefined, ones, -errs[i])

    worst = min(failing, key=key)
    equal = worst_err <= tol and len(usable) == len(expected_vals) and len(usable) >= min_trials
    return Comparison(equal, worst_err, worst, len(usable), undefined, floor, vacuous)
