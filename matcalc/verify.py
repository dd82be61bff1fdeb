"""Numerical verification of derivatives (``docs/conventions.md``, "Numerical checks").

A derivative is compiled to NumPy and compared, in float64, with central
finite differences of the compiled function:

* along several random directions, at several random shapes (1 to 8 per
  dimension, never only square; one draw includes 1s),
* entry by entry (the full vec-Jacobian) when the shapes are small,
* and, as an independent second opinion, against SymPy's scalar ``diff`` of the
  explicit entries at small explicit shapes.

Points respect the domain: positive entries under log and sqrt, well
conditioned matrices under det, logdet and inv, symmetric or positive
definite matrices where assumed, one-hot columns where assumed, and points
away from the kinks of abs, relu, step, sign and the 1-norm.

Both sides of every kink are tested: for each argument of relu, step, abs,
sign or norm1 (so every hinge max(0, .)), the trials include a point where it
is positive and one where it is negative, and, for an argument with several
entries, one where it has entries of both signs (a batch hinge with active and
inactive samples).  Points are drawn at several scales.  A region that no
draw reaches is named in the report (``unreached``).

A trial where both sides are 0 (the derivative and the finite differences)
proves nothing: it is drawn again and never counted (``vacuous``); it only
shows that the result vanishes in a kink region where the function is flat.

The error is ``||analytic - numeric|| / max(||numeric||, tiny)`` with
``tiny = 1e-4 (1 + |f|)``, compared with ``tol`` (1e-5 by default).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import sympy

from . import expr as E
from .budget import tick
from .errors import MatcalcError, TooLargeError
from .emit.numpy import Compiled, compile_expr
from .functions import FUNCTIONS

MAX_DRAWS = 40
MAX_ENTRIES = 20_000_000  # entries of one evaluated value (160 MB in float64) at a trial's sizes
VACUOUS_REDRAWS = 8  # draws of a trial whose both sides are 0 before it is given up


@dataclass
class Trial:
    dims: dict
    max_rel_error: float
    checks: list  # (method, error)
    point: dict = field(repr=False, default_factory=dict)


@dataclass
class Report:
    """What was checked, where, and how well it agreed."""

    function: str
    wrt: str
    layout: str
    kind: str
    tolerance: float
    trials: list
    explicit: str
    ok: bool
    unreached: list = field(default_factory=list)  # kink regions no draw reached (text)
    vacuous: int = 0  # trials where both sides were 0: drawn again, not counted
    reached: list = field(default_factory=list)  # kink regions the trials reached (text)

    @property
    def complete(self) -> bool:
        """Every kink region was reached and at least one trial counted."""
        return not self.unreached and bool(self.trials)

    @property
    def max_rel_error(self) -> float:
        return max((t.max_rel_error for t in self.trials), default=0.0)

    @property
    def method(self) -> str:
        return "central differences along random directions and entry by entry, float64"

    def __str__(self) -> str:
        head = ("verified" if self.complete else "agrees where tested, but not verified everywhere") \
            if self.ok else "FAILED"
        lines = [
            f"{head}: {self.kind} of {self.function} wrt {self.wrt} ({self.layout} layout)",
            f"  method: {self.method}; tolerance {self.tolerance:g} on ||analytic - numeric|| / max(||numeric||, tiny)",
        ]
        for t in self.trials:
            dims = ", ".join(f"{k}={v}" for k, v in sorted(t.dims.items())) or "no dimensions"
            checks = ", ".join(f"{m}: {err:.1e}" for m, err in t.checks)
            lines.append(f"  shapes {dims}: {checks}")
        lines.append(f"  max relative error {self.max_rel_error:.2e}")
        if self.vacuous:
            lines.append(f"  {self.vacuous} vacuous trial(s) (both sides 0) drawn again and not counted")
        if not self.trials:
            lines.append("  no trial counted: the derivative and the finite differences were 0 at every point drawn")
        if self.reached:
            lines.append(f"  both sides of each kink: points where {'; '.join(self.reached)}")
        for r in self.unreached:
            lines.append(f"  NOT TESTED: no point where {r} was found")
        lines.append(f"  symbolic second opinion: {self.explicit}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "method": self.method,
            "tolerance": self.tolerance,
            "max_rel_error": self.max_rel_error,
            "trials": [{"dims": t.dims, "max_rel_error": t.max_rel_error, "checks": t.checks} for t in self.trials],
            "explicit": self.explicit,
            "unreached": list(self.unreached),
            "vacuous": self.vacuous,
            "reached": list(self.reached),
        }


class VerificationError(AssertionError):
    """The derivative disagrees with finite differences; carries a counterexample."""

    def __init__(self, message: str, report: Report, counterexample: dict):
        super().__init__(message)
        self.report = report
        self.counterexample = counterexample


class DomainError(MatcalcError):
    pass


# -- shapes and points ----------------------------------------------------------------


def dimension_symbols(variables, f: E.Expr | None = None) -> list:
    """The dimension symbols to draw: those of the variables and any other the function's shapes use."""
    syms = {s for n in E.walk(f) for d in n.shape for s in d.free_symbols} if f is not None else set()
    for v in variables:
        for d in v.shape:
            syms |= d.free_symbols
        if "dimension" in v.assume:
            syms.add(sympy.Symbol(v.name, integer=True, positive=True))
    return sorted(syms, key=str)


def draw_dims(symbols, rng: np.random.Generator, trial: int) -> dict:
    """Random sizes: trial 0 distinct sizes 2..7; trial 1 with some 1s; later 1..8."""
    names = [str(s) for s in symbols]
    if not names:
        return {}
    if trial == 0:
        pool = list(range(2, 8))
        rng.shuffle(pool)
        vals = [pool[i % len(pool)] for i in range(len(names))]
    elif trial == 1:
        vals = [int(v) for v in rng.integers(2, 7, size=len(names))]
        ones = rng.random(len(names)) < 0.5
        if not ones.any():
            ones[rng.integers(len(names))] = True
        vals = [1 if o else v for o, v in zip(ones, vals)]
    else:
        vals = [int(v) for v in rng.integers(1, 9, size=len(names))]
    return dict(zip(names, vals))


def _size(d, dims) -> int:
    return int(d.subs({sympy.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}))


def _domain_sets(f: E.Expr):
    positive, conditioned, kinks, positive_args, det_args = set(), set(), [], [], []
    small, inside_args = set(), []  # variables drawn small, (argument, predicate) of the catalogue's `inside`
    for n in E.walk(f):
        if isinstance(n, E.Apply):
            fn = FUNCTIONS[n.fname]
            if fn.inside is not None:
                small |= E.free_vars(n.arg)
                inside_args.append((n.arg, fn.inside))
            if fn.domain == "positive":
                positive |= E.free_vars(n.arg)
                positive_args.append(n.arg)
            if fn.kink:
                kinks.append(n.arg)
        elif isinstance(n, E.Power):
            p = n.args[1]
            if not (isinstance(p, E.Const) and p.value == int(p.value) and p.value > 0):
                positive |= E.free_vars(n.args[0])
                positive_args.append(n.args[0])
        elif isinstance(n, (E.Det, E.LogDet, E.Inverse)):
            conditioned |= E.free_vars(n.children[0])
            det_args.append((n.children[0], isinstance(n, E.LogDet)))
        elif isinstance(n, E.Norm1):
            kinks.append(n.arg)
        elif isinstance(n, E.Norm2):
            positive_args.append(E.Norm2(n.arg))
    return positive, conditioned, kinks, positive_args, det_args, small, inside_args


def _draw_var(v: E.Var, dims: dict, rng, positive: bool, conditioned: bool, scale: float = 1.0,
              small: bool = False):
    r, c = _size(v.rows, dims), _size(v.cols, dims)
    a = v.assume
    if "dimension" in a:
        return None
    if small and not a:  # under arcsin or tan: entries in (-0.5, 0.5), scaled down with the size
        s = min(scale, 1.0)
        if v.is_scalar:
            return s * float(rng.uniform(-0.5, 0.5))
        return s * rng.uniform(-0.5, 0.5, size=(r, c)) / max(1.0, np.sqrt(max(r, c)))
    if "onehot" in a:
        m = np.zeros((r, c))
        m[rng.integers(r, size=c), np.arange(c)] = 1.0
        return m
    return scale * _draw_unit(v, r, c, rng, positive, conditioned)


def _draw_unit(v: E.Var, r: int, c: int, rng, positive: bool, conditioned: bool):
    a = v.assume
    if v.is_scalar:
        return float(rng.uniform(0.5, 2.0)) if positive or "positive" in a else float(rng.normal())
    if "spd" in a:
        b = rng.normal(size=(r, r))
        return b @ b.T / r + np.eye(r)
    if "symmetric" in a:
        b = rng.normal(size=(r, r))
        m = (b + b.T) / 2
        if conditioned or positive:
            m = m + (r + 1) * np.eye(r)
        return m
    if positive or "positive" in a:
        return rng.uniform(0.5, 1.5, size=(r, c))
    if (conditioned or "invertible" in a) and r == c:
        return r * np.eye(r) * 0.5 + np.eye(r) + 0.3 * rng.normal(size=(r, r))
    return rng.normal(size=(r, c))


@functools.lru_cache(maxsize=256)
def _compiled_cached(e: E.Expr, variables: tuple):
    return compile_expr(e, list(variables), "f")


def _compiled(e: E.Expr, variables) -> Compiled:
    """``e`` compiled once for all the trials of a check (draw_point runs once per trial)."""
    return _compiled_cached(e, tuple(variables))


# -- kinks: both sides of each ---------------------------------------------------------

SCALES = (1.0, 1.0, 0.5, 2.0)  # the scale of the points of trial t is SCALES[t % 4]
SEARCH_SCALES = (1.0, 0.3, 3.0, 0.1, 10.0)  # tried in turn when a kink region is looked for
KINK_SEARCH = 8  # shape draws per kink region looked for


@dataclass(frozen=True)
class Region:
    """One side of a kink: where ``argument`` is positive, negative, or (entry by entry) of both signs."""

    argument: E.Expr
    sign: str  # "positive", "negative" or "mixed"

    def __str__(self) -> str:
        from .emit.text import to_text

        a = to_text(self.argument)
        if self.sign == "mixed":
            return f"{a} has entries of both signs"
        many = "" if self.argument.is_scalar else " (an entry)"
        return f"{a}{many} {'>' if self.sign == 'positive' else '<'} 0"


def kink_arguments(f: E.Expr) -> list:
    """The arguments of relu, step, abs, sign and norm1 in ``f`` that depend on a variable, once each."""
    out = []
    for n in E.walk(f):
        if (isinstance(n, E.Apply) and FUNCTIONS[n.fname].kink) or isinstance(n, E.Norm1):
            a = n.children[0]
            if a not in out and E.free_vars(a):
                out.append(a)
    return out


def kink_regions(f: E.Expr) -> list:
    """Every region the trials must reach: both signs of each kink argument, and both in one trial."""
    return [Region(a, s) for a in kink_arguments(f)
            for s in (("positive", "negative") if a.is_scalar else ("positive", "negative", "mixed"))]


def regions_at(f: E.Expr, variables, point: dict) -> set:
    """The kink regions of ``f`` that ``point`` lies in (an exact 0 is structural and counts for none)."""
    out = set()
    for a in kink_arguments(f):
        with np.errstate(all="ignore"):
            x = np.asarray(_compiled(a, variables)(**point), dtype=float)
        pos, neg = bool(np.any(x > 0)), bool(np.any(x < 0))
        out |= {Region(a, s) for s, hit in (("positive", pos), ("negative", neg), ("mixed", pos and neg)) if hit}
    return out


def sign_pattern(f: E.Expr, variables, point: dict) -> str:
    """Where ``point`` lies relative to the kinks of ``f``: "w'*x < 0", "1 - y.*(X'*w) has entries of both signs"."""
    from .emit.text import to_text

    parts = []
    for a in kink_arguments(f):
        with np.errstate(all="ignore"):
            x = np.asarray(_compiled(a, variables)(**point), dtype=float).reshape(-1)
        x = x[x != 0]
        if not x.size:
            continue
        t = to_text(a)
        if x.size == 1 or np.all(x > 0) or np.all(x < 0):
            every = "" if a.is_scalar else " (every entry)"
            parts.append(f"{t}{every} {'>' if x[0] > 0 else '<'} 0")
        else:
            parts.append(f"{t} has entries of both signs")
    return ", ".join(parts)


def cover_kinks(f: E.Expr, variables, syms, rng, points: list, search: int = KINK_SEARCH) -> tuple[list, list]:
    """Extra (dims, point) trials reaching the kink regions of ``f`` that ``points`` miss, and those none reaches.

    A mixed region is looked for at shapes with no size 1; the others at any.
    """
    missing = [r for r in kink_regions(f)]
    for p in points:
        reached = regions_at(f, variables, p)
        missing = [r for r in missing if r not in reached]
    extra, unreached = [], []
    while missing:
        r = missing.pop(0)
        found = None
        for attempt in range(search):
            dims = draw_dims(syms, rng, 0 if r.sign == "mixed" or attempt % 2 == 0 else 2)
            try:
                found = draw_point(f, variables, dims, rng, region=r)
                break
            except DomainError:
                continue
        if found is None:
            unreached.append(r)
            continue
        extra.append((dims, found))
        reached = regions_at(f, variables, found)
        missing = [m for m in missing if m not in reached]
    return extra, unreached


def draw_point(f: E.Expr, variables, dims: dict, rng, scale: float = 1.0, region: Region | None = None) -> dict:
    """A point in the domain of ``f``, away from kinks (raises DomainError if none is found).

    With ``region``, only a point in that kink region will do; the scale then
    varies over :data:`SEARCH_SCALES`.
    """
    positive, conditioned, kinks, positive_args, det_args, small, inside_args = _domain_sets(f)
    vars_ = [v for v in variables if "dimension" not in v.assume]
    checks = [(_compiled(k, variables), "kink") for k in kinks]
    checks += [(_compiled(a, variables), pred) for a, pred in inside_args]
    checks += [(_compiled(a, variables), "positive") for a in positive_args]
    checks += [(_compiled(E.Det(a), variables), "positive" if log else "nonsingular") for a, log in det_args
               if not a.is_scalar]
    fn = _compiled(f, variables)
    target = _compiled(region.argument, variables) if region is not None else None
    for attempt in range(MAX_DRAWS):
        tick("verifying")
        # unrestricted points first: positive draws only where the domain demands them, so that a
        # result right only for positive entries ((x.^2).^(1/2) = x) is caught
        restrict = attempt >= MAX_DRAWS // 4
        s = SEARCH_SCALES[attempt % len(SEARCH_SCALES)] if region is not None else scale
        point = {v.name: _draw_var(v, dims, rng, restrict and v in positive, v in conditioned, s,
                                   restrict and v in small) for v in vars_}
        point.update({k: val for k, val in dims.items() if k not in point})  # sizes no array carries
        try:
            with np.errstate(all="ignore"):
                val = np.asarray(fn(**point), dtype=float)
                if not np.all(np.isfinite(val)):
                    continue
                if target is not None and not _in_region(np.asarray(target(**point), dtype=float), region.sign):
                    continue
                ok = True
                for c, kind in checks:
                    x = np.asarray(c(**point), dtype=float)
                    # near a kink, finite differences straddle it; an exact 0 is structural (a margin
                    # that is 0 by construction, masked away) and random points never land on one by chance
                    near = np.abs(x)[x != 0]
                    if kind == "kink" and near.size and np.min(near) < 1e-3:
                        ok = False
                    if kind == "positive" and not np.all(x > 1e-3):
                        ok = False
                    if kind == "nonsingular" and not np.all(np.abs(x) > 1e-3):
                        ok = False
                    if callable(kind) and not np.all(kind(x)):
                        ok = False
                if ok:
                    return point
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError, OverflowError):
            continue
    where = f" where {region}" if region is not None else ""
    raise DomainError(f"found no point in the domain of {f}{where} at shapes {dims} after {MAX_DRAWS} draws")


def _in_region(x: np.ndarray, sign: str) -> bool:
    if sign == "positive":
        return bool(np.any(x > 0))
    if sign == "negative":
        return bool(np.any(x < 0))
    return bool(np.any(x > 0) and np.any(x < 0))


# -- Jacobians ------------------------------------------------------------------------


def vec(a) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1, order="F") if np.ndim(a) else np.asarray([float(a)])


def analytic_vec_jacobian(value, layout: str, f: E.Expr, x: E.Var, kind: str) -> np.ndarray:
    """The numerator-layout vec-Jacobian d vec(f) / d vec(x)' from a result in ``layout``."""
    v = np.asarray(value, dtype=float)
    if v.ndim == 0:
        v = v.reshape(1, 1)
    if kind == "hessian":
        return v if layout == "denominator" else v.T
    if f.is_scalar:
        D = v if layout == "denominator" else v.T  # shaped like x
        return vec(D).reshape(1, -1)
    if x.is_scalar:
        D = v if layout == "numerator" else v.T  # shaped like f
        return vec(D).reshape(-1, 1)
    return v if layout == "numerator" else v.T


def _rel(a: np.ndarray, n: np.ndarray, tiny: float) -> float:
    """||a - n|| / max(||n||, tiny), scaled first so that entries near 1e300 do not overflow the norms."""
    big = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(n), initial=0.0)), tiny, 1e-300)
    if not np.isfinite(big):
        return float("inf")
    return float(np.linalg.norm((a - n) / big) / max(np.linalg.norm(n / big), tiny / big))


# -- the check ------------------------------------------------------------------------


def check_entries(e: E.Expr, dims: dict) -> None:
    """Raise TooLargeError when e has more than MAX_ENTRIES entries at the sizes ``dims``."""
    from .emit.text import to_text

    values = {sympy.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}
    n = 1
    for d in e.shape:
        n *= int(d.subs(values)) if getattr(d, "free_symbols", None) else int(d)
    if n > MAX_ENTRIES:
        sizes = ", ".join(f"{k}={v}" for k, v in sorted(dims.items())) or "the declared sizes"
        raise TooLargeError(f"{to_text(e)} has {n:,} entries at {sizes}; matcalc evaluates at most "
                            f"{MAX_ENTRIES:,}: declare smaller sizes")


def verify_derivative(d, shapes: int = 3, directions: int = 3, tol: float = 1e-5, seed: int = 0,
                      explicit: bool = True, raise_on_failure: bool = True) -> Report:
    """Check a :class:`matcalc.api.Derivative` numerically; see the module docstring."""
    from .emit.text import to_text

    variables = list(d.variables.values())
    f = d.function
    x = d.wrt
    target = d.target if d.target is not None else f  # a Hessian is the Jacobian of the gradient
    rng = np.random.default_rng(seed)
    fn = _compiled(target, variables)
    dfn = d.to_numpy()
    syms = dimension_symbols(variables, target)
    trials = []
    counter = None
    vacuous = []  # points of vacuous trials: not counted, but they show where the result vanishes

    def run_trial(dims, point):
        """One trial's checks; None when it is vacuous (both sides 0 in every check)."""
        nonlocal counter
        check_entries(d.result, dims)
        check_entries(target, dims)
        x0 = np.asarray(point[x.name], dtype=float)
        fx = np.asarray(fn(**point), dtype=float)
        tiny = 1e-4 * (1.0 + float(np.max(np.abs(fx))) if fx.size else 1.0)
        zero = 1e-12 * (1.0 + float(np.max(np.abs(fx))) if fx.size else 1.0)
        scale = max(1.0, float(np.max(np.abs(x0)))) if np.ndim(x0) else max(1.0, abs(float(x0)))
        h = 1e-5 * scale
        J = analytic_vec_jacobian(dfn(**point), d.layout, target, x, d.kind)

        def f_at(xv):
            p = dict(point)
            p[x.name] = xv
            return vec(fn(**p))

        checks, found, live = [], [], False
        shape_x = np.shape(x0)
        for _ in range(directions):
            V = rng.normal(size=shape_x) if shape_x else float(rng.normal())
            num = (f_at(x0 + h * V) - f_at(x0 - h * V)) / (2 * h)
            ana = J @ vec(V)
            live |= max(float(np.linalg.norm(ana)), float(np.linalg.norm(num))) > zero
            err = _rel(ana, num, tiny)
            checks.append(("direction", err))
            if err > tol:
                found.append((ana, num, "directional derivative"))
        nx = int(np.size(x0))
        if nx <= 64 and J.size <= 4096:
            cols = []
            for j in range(nx):
                tick("verifying")
                E_j = np.zeros(nx)
                E_j[j] = 1.0
                Ej = E_j.reshape(shape_x, order="F") if shape_x else 1.0
                cols.append((f_at(x0 + h * Ej) - f_at(x0 - h * Ej)) / (2 * h))
            Jn = np.stack(cols, axis=1)
            live |= max(float(np.linalg.norm(J)), float(np.linalg.norm(Jn))) > zero
            err = _rel(J, Jn, tiny)
            checks.append(("entrywise", err))
            if err > tol:
                found.append((J, Jn, "vec-Jacobian, numerator layout"))
        if not live:
            vacuous.append(point)
            return None
        if found and counter is None:
            counter = _counterexample(dims, point, *found[0])
            where = sign_pattern(f, variables, point)
            if where:
                counter["region"] = where
        trials.append(Trial(dims, max(e for _, e in checks), checks, point))
        return trials[-1]

    for t in range(shapes):
        for k in range(VACUOUS_REDRAWS):  # a vacuous trial is drawn again, at new shapes
            dims, point = _dims_and_point(f, variables, syms, rng, t if k == 0 else 2 + t, (d.result,))
            if run_trial(dims, point) is not None:
                break
    extra, unreached = cover_kinks(f, variables, syms, rng, [tr.point for tr in trials] + vacuous)
    for dims, point in extra:
        run_trial(dims, point)
    note = _explicit_check(d, target, variables, syms, rng, tol) if explicit else "not run"
    ok = counter is None and not note.startswith("DISAGREES")
    reached = [str(r) for r in kink_regions(f) if r not in unreached]
    report = Report(to_text(f), x.name, d.layout, d.kind, tol, trials, note, ok, [str(r) for r in unreached],
                    len(vacuous), reached)
    if not ok and raise_on_failure:
        if counter is None:
            counter = {"explicit": note}
        why = (f"disagrees with finite differences (max relative error {report.max_rel_error:.2e} > {tol:g})"
               if report.max_rel_error > tol else f"agrees with finite differences but {note}")
        if counter.get("region"):
            why += f", where {counter['region']}"
        raise VerificationError(
            f"{d.kind} of {to_text(f)} wrt {x.name} {why}",
            report,
            counter,
        )
    return report


VERIFY_ENTRIES = 250_000  # entries of the checked Jacobian at a trial's sizes; larger draws are scaled down


def _small_enough(dims: dict, within) -> dict:
    """``dims`` with its largest sizes halved until every expression of ``within`` has at most
    VERIFY_ENTRIES entries (a vec-Jacobian of a product of four sizes grows as their square)."""
    def entries():
        return max((_size(e.rows, dims) * _size(e.cols, dims) for e in within), default=0)

    dims = dict(dims)
    while entries() > VERIFY_ENTRIES and any(v > 1 for v in dims.values()):
        big = max(dims, key=dims.get)
        dims[big] = max(1, dims[big] // 2)
    return dims


def _dims_and_point(f, variables, syms, rng, t, within=()):
    """Shapes and a point in the domain at trial t's scale; new shapes when these have none (X'X singular
    for a wide X).  The sizes keep the expressions ``within`` (the result) at most VERIFY_ENTRIES big."""
    err = None
    for attempt in range(6):
        dims = _small_enough(draw_dims(syms, rng, t if attempt < 3 else 2), within)
        try:
            return dims, draw_point(f, variables, dims, rng, scale=SCALES[t % len(SCALES)])
        except DomainError as e:
            err = e
    raise err


def _counterexample(dims, point, analytic, numeric, what) -> dict:
    i = int(np.argmax(np.abs(np.ravel(analytic) - np.ravel(numeric))))
    return {
        "dims": dims,
        "point": {k: np.asarray(v).tolist() for k, v in point.items()},
        "what": what,
        "entry": i,
        "analytic": float(np.ravel(analytic)[i]),
        "numeric": float(np.ravel(numeric)[i]),
    }


EXPLICIT_MAX_ENTRIES = 36
EXPLICIT_MAX_SIZE = 3
EXPLICIT_MAX_NODES = 400  # nodes of the differentiated function, counting X^k as k^2


def _explicit_check(d, target, variables, syms, rng, tol) -> str:
    """Differentiate the explicit entries with SymPy's scalar diff and compare at a point."""
    from .emit.explicit import evaluate

    dims = {str(s): (2 + i % 2) for i, s in enumerate(syms)}
    sizes = [_size(d, dims) for v in variables for d in v.shape]
    if max(sizes, default=1) > EXPLICIT_MAX_SIZE:
        return f"skipped (a declared size above {EXPLICIT_MAX_SIZE} makes symbolic entries too slow)"
    work = sum(n.args[1] ** 2 if isinstance(n, E.MatPow) and isinstance(n.args[1], int) else 1 for n in E.walk(target))
    if work > EXPLICIT_MAX_NODES:
        return "skipped (the function is too large for symbolic entries)"
    try:
        point = draw_point(d.function, variables, dims, rng)
    except DomainError as e:
        return f"skipped ({e})"
    x = d.wrt
    env = {}
    subs = {}
    for v in variables:
        if "dimension" in v.assume:
            continue
        r, c = _size(v.rows, dims), _size(v.cols, dims)
        if v.name == x.name:
            M = sympy.Matrix(r, c, lambda i, j: sympy.Symbol(f"{v.name}_{i}_{j}", real=True))
            for i in range(r):
                for j in range(c):
                    val = np.asarray(point[v.name], dtype=float).reshape(r, c)[i, j] if r * c > 1 else float(np.asarray(point[v.name]).reshape(-1)[0])
                    subs[M[i, j]] = sympy.Float(val, 17)
            env[v.name] = M
        else:
            val = np.asarray(point[v.name], dtype=float).reshape(r, c)
            env[v.name] = sympy.Matrix(val.tolist()).applyfunc(lambda q: sympy.Float(q, 17))
    xs = [env[x.name][i, j] for j in range(env[x.name].shape[1]) for i in range(env[x.name].shape[0])]
    if len(xs) * max(1, _size(target.rows, dims) * _size(target.cols, dims)) > EXPLICIT_MAX_ENTRIES * 4:
        return "skipped (too many entries)"
    try:
        F = evaluate(target, env, dims)
        fv = [F[i, j] for j in range(F.shape[1]) for i in range(F.shape[0])]
        Jsym = np.array([[float(sympy.diff(fi, xj).xreplace(subs).evalf()) for xj in xs] for fi in fv])
    except (TypeError, ValueError, ZeroDivisionError) as e:
        return f"skipped ({type(e).__name__}: {e})"
    ana = analytic_vec_jacobian(d.to_numpy()(**point), d.layout, target, x, d.kind)
    err = _rel(ana, Jsym, 1e-4 * (1 + float(np.max(np.abs(Jsym))) if Jsym.size else 1.0))
    shown = ", ".join(f"{k}={v}" for k, v in sorted(dims.items()))
    verdict = "agrees" if err <= tol else "DISAGREES"
    return f"{verdict} with SymPy's diff of the explicit entries at {shown or 'scalars'} (relative error {err:.1e})"


# -- compiled value-and-gradient and Hessian-vector products ---------------------------------


def _check_directions(rng, shape_x, directions, exact, numeric, tiny, what, dims, point, found):
    """Compare ``exact(V)`` with ``numeric(V)`` along random directions; the first failure goes to ``found``."""
    out = []
    for _ in range(directions):
        V = rng.normal(size=shape_x) if shape_x else float(rng.normal())
        ana, num = exact(V), numeric(V)
        err = _rel(ana, num, tiny)
        out.append((what, err))
        if not err <= found["tol"] and found["counter"] is None:
            found["counter"] = _counterexample(dims, point, ana, num, what)
    return out


def _unit(j, nx, shape_x):
    e = np.zeros(nx)
    e[j] = 1.0
    return e.reshape(shape_x, order="F") if shape_x else 1.0


def _check_compiled(kind: str, f: E.Expr, x: E.Var, variables, trial, shapes, tol, seed) -> Report:
    """The shared loop of the checks below: random non-square shapes, points in the domain, float64.

    ``trial(point, rng, dims, found)`` returns the (method, error) pairs of one point."""
    from .emit.text import to_text

    variables = list(variables)
    rng = np.random.default_rng(seed)
    syms = dimension_symbols(variables, f)
    found = {"tol": tol, "counter": None}
    trials = []
    for t in range(shapes):
        dims, point = _dims_and_point(f, variables, syms, rng, t)
        checks = trial(point, rng, dims, found)
        trials.append(Trial(dims, max(e for _, e in checks), checks, point))
    ok = found["counter"] is None
    report = Report(to_text(f), x.name, "denominator", kind, tol, trials, "not run (compiled form)", ok)
    if not ok:
        raise VerificationError(f"{kind} of {to_text(f)} wrt {x.name} disagrees with finite differences "
                                f"(max relative error {report.max_rel_error:.2e} > {tol:g})", report, found["counter"])
    return report


def _fd_setup(point, x, fx):
    x0 = np.asarray(point[x.name], dtype=float)
    tiny = 1e-4 * (1.0 + float(np.max(np.abs(fx)))) if np.size(fx) else 1e-4
    scale = max(1.0, float(np.max(np.abs(x0)))) if np.ndim(x0) else max(1.0, abs(float(x0)))
    return x0, tiny, 1e-5 * scale


def verify_value_and_grad(fn, f: E.Expr, x: E.Var, variables, shapes: int = 3, directions: int = 3,
                          tol: float = 1e-5, seed: int = 0) -> Report:
    """Check a compiled value-and-gradient: the value against the function compiled alone, the gradient
    against central differences of the value (along random directions; entry by entry on small shapes)."""
    alone = _compiled(f, list(variables))

    def trial(point, rng, dims, found):
        val, grad = fn(**point)
        ref = alone(**point)
        x0, tiny, h = _fd_setup(point, x, ref)
        err = _rel(vec(val), vec(ref), tiny)
        checks = [("value", err)]
        if not err <= tol and found["counter"] is None:
            found["counter"] = _counterexample(dims, point, vec(val), vec(ref), "value")

        def value_at(xv):
            return float(np.asarray(fn(**{**point, x.name: xv})[0], dtype=float))

        def numeric(V):
            return np.array([(value_at(x0 + h * V) - value_at(x0 - h * V)) / (2 * h)])

        def exact(V):
            return np.array([float(vec(grad) @ vec(V))])

        checks += _check_directions(rng, np.shape(x0), directions, exact, numeric, tiny, "directional derivative",
                                    dims, point, found)
        nx = int(np.size(x0))
        if nx <= 64:
            num = np.array([numeric(_unit(j, nx, np.shape(x0)))[0] for j in range(nx)])
            err = _rel(vec(grad), num, tiny)
            checks.append(("entrywise", err))
            if not err <= tol and found["counter"] is None:
                found["counter"] = _counterexample(dims, point, vec(grad), num, "gradient, entry by entry")
        return checks

    return _check_compiled("value and gradient", f, x, variables, trial, shapes, tol, seed)


def verify_hvp(fn, f: E.Expr, gradient: E.Expr, x: E.Var, variables, shapes: int = 3, directions: int = 3,
               tol: float = 1e-5, seed: int = 0) -> Report:
    """Check a compiled Hessian-vector product against central differences of the gradient (along random
    directions; every column of the Hessian on small shapes), and the gradient against those of f."""
    gfn = _compiled(gradient, list(variables))
    ffn = _compiled(f, list(variables))

    def trial(point, rng, dims, found):
        gx = gfn(**point)
        x0, tiny, h = _fd_setup(point, x, gx)
        shape_x = np.shape(x0)

        def grad_at(xv):
            return vec(gfn(**{**point, x.name: xv}))

        def numeric(V):
            return (grad_at(x0 + h * V) - grad_at(x0 - h * V)) / (2 * h)

        def exact(V):
            return vec(fn(V, **point))

        checks = _check_directions(rng, shape_x, directions, exact, numeric, tiny, "Hessian-vector product",
                                   dims, point, found)
        nx = int(np.size(x0))
        if nx <= 64:
            Hn = np.stack([numeric(_unit(j, nx, shape_x)) for j in range(nx)], axis=1)
            Ha = np.stack([exact(_unit(j, nx, shape_x)) for j in range(nx)], axis=1)
            err = _rel(Ha, Hn, tiny)
            checks.append(("entrywise", err))
            if not err <= tol and found["counter"] is None:
                found["counter"] = _counterexample(dims, point, Ha, Hn, "Hessian, column by column")
        fx = float(np.asarray(ffn(**point), dtype=float))
        ftiny = 1e-4 * (1.0 + abs(fx))

        def f_numeric(V):
            fp = float(np.asarray(ffn(**{**point, x.name: x0 + h * V}), dtype=float))
            fm = float(np.asarray(ffn(**{**point, x.name: x0 - h * V}), dtype=float))
            return np.array([(fp - fm) / (2 * h)])

        checks += _check_directions(rng, shape_x, 1, lambda V: np.array([float(vec(gx) @ vec(V))]), f_numeric,
                                    ftiny, "gradient", dims, point, found)
        return checks

    return _check_compiled("Hessian-vector product", f, x, variables, trial, shapes, tol, seed)
