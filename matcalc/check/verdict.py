"""The verdict on one claimed derivative, and ``check`` itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import expr as E
from ..budget import guarded
from ..api import LAYOUTS, Derivative, MatcalcError, check_layout, derive, hessian
from ..emit.latex import to_latex
from ..emit.text import to_text
from ..evaluate import MIN_TRIALS, TOLERANCE, TRIALS, Points, compare, parse_function
from ..explain import explain
from ..parse import ShapeMismatchError
from .claims import counterexample, counterexample_one_based, format_counterexample, read_claims
from .diagnose import Diagnoser, prove_equal

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
    "unconfirmed": ("A claim is called correct only when it is proved, or agrees at enough points that can tell "
                    "it apart, on both sides of every kink; here some side was never reached, or both the claim "
                    "and the answer were 0 at every point drawn."),
    "ambiguous": ("The text can be read in two ways that type-check and differ; write products with * and "
                  "transposes with ' (or \\top) so that only one reading remains."),
}


@dataclass
class Verdict:
    """The judgement of one claimed derivative.

    ``correct``; ``mistake`` (the main tag, None when correct) and ``mistakes``
    (all confirmed tags); ``layout`` (the layout the answer is in: 'denominator',
    'numerator', or 'either' when the two coincide); ``method`` ('proved' or
    'numerically checked at N shapes'); ``counterexample`` (dims, point, the
    entry, expected vs claimed) for a wrong answer, its entry a NumPy (0-based)
    index; ``to_dict()`` counts it from 1, as the text and the JSON output do;
    ``expected`` (the engine's :class:`~matcalc.api.Derivative`).
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
    claimed_text: str = ""  # the student's own text, quoted whole
    readings: list = field(default_factory=list)  # for an ambiguous claim: (reader, expression, correct)

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

    @property
    def shown_claim(self) -> str:
        """The claim as the student wrote it (whole), or as text when it was not given as text."""
        if self.claimed is None:
            return self.claimed_text
        ours = to_text(self.claimed)
        if self.claimed_text and self.claimed_text.strip() != ours:
            return f"{self.claimed_text.strip()}  (read as {ours})"
        return ours

    @property
    def shown_claim_latex(self) -> str:
        if self.claimed is None:
            return rf"\text{{{_latex_text(self.claimed_text)}}}"
        return to_latex(self.claimed)

    def explain(self, format: str = "text") -> str:
        """What is wrong and why (or why it is right), with the derivation of the correct answer."""
        if format not in ("text", "latex"):
            raise MatcalcError(f"format must be 'text' or 'latex', got {format!r}")
        d = self.expected
        fn = to_text(d.function)
        lay = d.layout
        lines = []
        if format == "text":
            op = f"d^2/d{d.wrt.name}^2" if d.order == 2 else f"d/d{d.wrt.name}"
            lines.append(f"Claim: {op} {fn} = {self.shown_claim}")
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
                lines.append(f"Counterexample: {format_counterexample(self.counterexample)}.")
            lines.append(f"The correct {d.kind} ({lay} layout) is {d.text()}.")
            for n in self.notes:
                lines.append(f"Note: {n}")
            ex = self._derivation("text")
            if ex:
                lines += ["", "Derivation:", ex]
            return "\n".join(lines)
        # LaTeX
        var = to_latex(d.wrt)
        head = rf"\frac{{\partial}}{{\partial {var}}}\left({to_latex(d.function)}\right) \stackrel{{?}}{{=}} {self.shown_claim_latex}"
        lines.append(head)
        if self.correct:
            lines.append(rf"\text{{Correct ({self.method}).}}\quad {to_latex(self.claimed)} = {d.latex()}")
            return "\n\n".join(lines)
        lines.append(rf"\text{{Wrong ({', '.join(self.mistakes)}): {_latex_text(self.message)}.}}")
        for t in self.mistakes:
            lines.append(rf"\text{{{_latex_text(TAG_WHY[t])}}}")
        if self.counterexample:
            lines.append(rf"\text{{Counterexample: {_latex_text(format_counterexample(self.counterexample))}.}}")
        lines.append(rf"\text{{Correct ({lay} layout): }} {d.latex(equation=True)}")
        ex = self._derivation("latex")
        if ex:
            lines.append(ex)
        return "\n\n".join(lines)

    def _derivation(self, format: str) -> str:
        """The derivation of the expected answer; for a Hessian, the gradient's and then its Jacobian."""
        d = self.expected
        if d.order not in (1, 2) or not d.function.is_scalar:
            return ""
        try:
            ex = explain(d.function, d.wrt.name, layout="denominator" if d.order == 2 else d.layout)
        except (MatcalcError, ValueError):
            return ""
        out = ex.text() if format == "text" else ex.latex()
        if d.order == 2:
            x = d.wrt.name
            if format == "text":
                out += (f"\nThe Hessian is the Jacobian of this gradient g: dg = H d{x}, so "
                        f"H = dg/d{x}' = {d.text()}")
            else:
                out += (rf"\n\n\text{{The Hessian is the Jacobian of the gradient }} g:\ dg = H\,d{to_latex(d.wrt)},"
                        rf"\quad H = {d.latex()}")
        return out

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
            "claimed": to_text(self.claimed) if self.claimed is not None else None,
            "claimed_text": self.claimed_text,
            "readings": [list(r) for r in self.readings],
            "expected": self.expected.text(),
            "expected_layout": self.expected.layout,
            "factor": None if self.factor is None else str(self.factor),
            "counterexample": counterexample_one_based(self.counterexample),
            "shapes_checked": self.shapes_checked,
            "tolerance": self.tolerance,
            "max_error": self.max_error,
            "notes": list(self.notes),
        }


def _region_note(points: Points, claim: E.Expr, target: E.Expr, tol: float, ce: dict | None) -> str:
    """"; it fails where w'*x < 0 and agrees where w'*x > 0": the sides of the kinks where a claim fails."""
    if not points.reached or claim.shape != target.shape:
        return ""
    cv, tv = points.values(claim), points.values(target)
    fails, holds = [], []
    for k in range(len(points)):
        where = points.region(k)
        if not where or tv[k] is None:
            continue
        bad = compare([cv[k]], [tv[k]], tol, min_trials=1).max_error > tol
        (fails if bad else holds).append(where)
        if bad and ce is not None and ce.get("dims") == points.trials[k][0] and "region" not in ce:
            ce["region"] = where
    fails = list(dict.fromkeys(fails))
    holds = [h for h in dict.fromkeys(holds) if h not in fails]
    if not fails:
        return ""
    note = f"; it fails where {' / '.join(fails)}"
    return note + (f", and agrees where {' / '.join(holds)}" if holds else "")


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


@guarded
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
    order_ = [layout or "denominator"] + [L for L in LAYOUTS if L != (layout or "denominator")]
    targets = [d.in_layout(L).result.shape for L in order_]
    try:  # the claim is read first: a claim that cannot be read costs no verification
        readings = read_claims(claimed, d.variables, targets=targets)
    except (ShapeMismatchError, E.ShapeError) as err:
        _verified(d)
        return _untyped(d, claimed, layout, err, tol)
    _verified(d)
    verdicts = [_judge(d, r.expr, layout, trials, seed, tol, r.dropped) for r in readings]
    for v in verdicts:
        v.claimed_text = claimed if isinstance(claimed, str) else ""
    if len(readings) > 1:
        return _ambiguous(d, readings, verdicts, trials, seed, tol) or verdicts[0]
    return verdicts[0]


def _untyped(d: Derivative, claimed, layout, err: Exception, tol: float) -> Verdict:
    """A claim that does not type-check is wrong: tag wrong-shape, naming the shapes involved."""
    want = " or ".join(f"{E.fmt_shape(d.in_layout(L).result.shape)} ({L} layout)"
                       for L in ([layout] if layout else list(LAYOUTS)))
    what = str(err).split(" at column")[0]
    msg = f"wrong shape: the claim '{claimed}' does not type-check ({what}); the {d.kind} is {want}"
    return Verdict(False, "wrong-shape", ["wrong-shape"], msg, d.in_layout(layout or "denominator"), None, None,
                   layout, "shapes compared before numbers", tolerance=tol,
                   claimed_text=claimed if isinstance(claimed, str) else "")


def _ambiguous(d: Derivative, readings: list, verdicts: list, trials: int, seed: int, tol: float) -> Verdict | None:
    """Two readings that type-check and differ: the claim is ambiguous, and both are shown (None if they agree)."""
    points = judging_points(d.function, d.denominator, list(d.variables.values()), trials, seed)
    first = readings[0].expr
    if all(r.expr.shape == first.shape and compare(points.values(r.expr), points.values(first), tol).equal
           for r in readings[1:]):
        return None
    shown = "; ".join(f"read as {r.reader}, it is {to_text(r.expr)} ({'correct' if v.correct else 'wrong: ' + v.message})"
                      for r, v in zip(readings, verdicts))
    v = verdicts[0]
    v.correct, v.mistake, v.mistakes = False, "ambiguous", ["ambiguous"]
    v.message = f"ambiguous: {shown}; write it with explicit operators (* and ')"
    v.readings = [(r.reader, to_text(r.expr), w.correct) for r, w in zip(readings, verdicts)]
    return v


def judging_points(function: E.Expr, expected: E.Expr, variables, trials: int = TRIALS, seed: int = 0) -> Points:
    """Points in the domain of the function and of the correct answer: never chosen by the claim."""
    try:
        return Points(variables, E.add(E.sum_(function), E.sum_(expected)), trials, seed, fallback=function,
                      nonzero=expected)
    except (MatcalcError, E.ShapeError):
        return Points(variables, function, trials, seed, nonzero=expected)


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


def _judge(d: Derivative, claim: E.Expr, layout: str | None, trials: int, seed: int, tol: float,
           dropped: list = ()) -> Verdict:
    targets = {"denominator": d.denominator, "numerator": d.numerator}
    layouts = [layout] if layout else list(LAYOUTS)
    fitting = [L for L in layouts if claim.shape == targets[L].shape]

    def verdict(correct, L, mistakes=(), message="", method="", proof="", ce=None, factor=None, err=0.0):
        exp_layout = layout or (L if L in LAYOUTS else "denominator")  # shown in the layout asked for
        if not correct and mistakes and mistakes[0] != "unconfirmed":
            message += _region_note(points, claim, targets[L if L in LAYOUTS else exp_layout], tol, ce)
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
    good = [L for L in fitting if matches[L].equal and matches[L].live >= MIN_TRIALS]
    notes = []
    for L in fitting:
        if proofs[L] and not matches[L].equal:
            notes.append(f"the simplifier called the claim equal to the {L}-layout result but the numbers "
                         "disagree; the numbers win (please report this engine bug)")
            proofs[L] = None
    for w in dropped:  # written in the claim, lost when it was built: undefined there, the claim is undefined
        bad = [k for k, v in enumerate(points.values(w)) if v is None or not np.all(np.isfinite(v))]
        if bad:
            k, L = bad[0], (fitting or [layout or "denominator"])[0]
            msg = undefined_message(points, k, f"the claim's term {to_text(w)}")
            ce = counterexample(points, k, points.values(claim), points.values(targets[L])) \
                if claim.shape == targets[L].shape else None
            return verdict(False, None, ["wrong"], msg, checked, ce=ce, err=float("inf"))
    # agreement that proves nothing: both 0 everywhere, or a side of a kink never reached
    agree = good or [L for L in fitting if matches[L].equal]
    if agree and not proofs.get(agree[0]) and (points.unreached or not good):
        L = agree[0]
        if not good:
            why = (f"the claim and the answer are both 0 at every point drawn ({matches[L].used} points), so the "
                   "numbers cannot tell it from a wrong claim")
        else:
            why = (f"it agrees where {'; '.join(points.reached) or 'tested'}, but no point where "
                   f"{'; '.join(points.unreached)} was found, and a claim is not called correct on the sides "
                   "tested alone")
        return verdict(False, L, ["unconfirmed"], f"cannot be confirmed: {why}", checked, err=matches[L].max_error)
    if agree:
        L = agree[0]
        same = compare(points.values(targets["denominator"]), points.values(targets["numerator"]), tol).equal \
            if targets["denominator"].shape == targets["numerator"].shape else False
        which = "either" if (layout is None and len(agree) == 2 and same) else L
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
                       + format_counterexample(ce), checked, ce=ce, err=err)

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


