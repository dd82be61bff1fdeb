"""The check of a derivative: central differences at random shapes, and SymPy's scalar diff of explicit entries."""

from __future__ import annotations

import numpy as np
import sympy

from .. import expr as E
from ..budget import tick
from ..errors import TooLargeError
from .points import (
    SCALES,
    _compiled,
    _size,
    cover_kinks,
    dimension_symbols,
    draw_dims,
    draw_point,
    kink_regions,
    regions_at,
    sign_pattern,
)
from .report import (
    MAX_ENTRIES,
    VACUOUS_REDRAWS,
    DomainError,
    Report,
    Trial,
    VerificationError,
)
from .steps import (
    CONDITION,
    REDRAW_SCALE,
    REDRAWS,
    STEP,
    central,
    intermediate_ratio,
    ridders,
    scale_of,
    stable,
)


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


def _compare(ana: np.ndarray, units: list, f_at, x0, scale: float, tiny: float, tol: float):
    """``ana`` against the finite differences of ``f_at`` along ``units`` (one column each when ``ana`` is a
    matrix): (numeric, error, how), ``how`` False when one central difference at STEP agreed, True when
    Ridders' estimate judged it, None when even that estimate is unsteady (its own error above STABLE * tol)."""
    def stack(cols):
        return np.stack(cols, axis=1) if np.ndim(ana) == 2 else cols[0]

    cols = []
    for U in units:
        tick("verifying")
        cols.append(central(f_at, x0, U, STEP * scale))
    num = stack(cols)
    err = _rel(ana, num, tiny)
    if err <= tol:
        return num, err, False
    ests = []
    for U in units:
        tick("verifying")
        ests.append(ridders(f_at, x0, U, scale))
    num = stack([e.value for e in ests])
    error = float(np.sqrt(sum(e.error ** 2 for e in ests)))
    return num, _rel(ana, num, tiny), (True if stable(error, num, tiny, tol) else None)


def _redraw(f, variables, dims: dict, rng, scale: float, need: set, judged=()) -> dict | None:
    """A new point at ``scale`` in (at least) the kink regions ``need`` where ``f`` and the expressions ``judged``
    are well conditioned (steps.intermediate_ratio), or None when four draws find none."""
    for _ in range(4):
        try:
            p = draw_point(f, variables, dims, rng, scale=scale)
        except DomainError:
            return None
        if need <= regions_at(f, variables, p) and all(
                intermediate_ratio(e, variables, p) <= CONDITION for e in (f, *judged)):
            return p
    return None


# -- the check ------------------------------------------------------------------------


def check_entries(e: E.Expr, dims: dict) -> None:
    """Raise TooLargeError when e has more than MAX_ENTRIES entries at the sizes ``dims``."""
    from ..emit.text import to_text

    values = {sympy.Symbol(k, integer=True, positive=True): v for k, v in dims.items()}
    n = 1
    for d in e.shape:
        n *= int(d.subs(values)) if getattr(d, "free_symbols", None) else int(d)
    if n > MAX_ENTRIES:
        sizes = ", ".join(f"{k}={v}" for k, v in sorted(dims.items())) or "the declared sizes"
        raise TooLargeError(f"{to_text(e)} has {n:,} entries at {sizes}; matcalc evaluates at most "
                            f"{MAX_ENTRIES:,}: declare smaller sizes")


@np.errstate(all="ignore")  # overflow at extreme points is judged from the values, never printed
def verify_derivative(d, shapes: int = 3, directions: int = 3, tol: float = 1e-5, seed: int = 0,
                      explicit: bool = True, raise_on_failure: bool = True) -> Report:
    """Check a :class:`matcalc.api.Derivative` numerically; see the module docstring."""
    from ..emit.text import to_text

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
    refined = redrawn = unsteady = 0  # checks Ridders judged, points drawn again, trials no step could judge
    vacuous = []  # points of vacuous trials: not counted, but they show where the result vanishes

    def measure(dims, point) -> dict:
        """One trial's checks at ``point``, not yet recorded: ``why`` says why finite differences cannot judge
        a disagreement there ("" when they can), ``weight`` how large the derivative is against the floor."""
        check_entries(d.result, dims)
        check_entries(target, dims)
        x0 = np.asarray(point[x.name], dtype=float)
        fx = np.asarray(fn(**point), dtype=float)
        tiny = 1e-4 * (1.0 + float(np.max(np.abs(fx))) if fx.size else 1.0)
        zero = 1e-12 * (1.0 + float(np.max(np.abs(fx))) if fx.size else 1.0)
        scale = scale_of(x0)
        J = analytic_vec_jacobian(dfn(**point), d.layout, target, x, d.kind)

        def f_at(xv):
            p = dict(point)
            p[x.name] = xv
            return vec(fn(**p))

        m = {"checks": [], "found": [], "big": 0.0, "steady": True, "refined": 0}

        def judged(name, ana, units, what):
            num, err, how = _compare(ana, units, f_at, x0, scale, tiny, tol)
            m["steady"] &= how is not None
            m["refined"] += how is not False
            m["big"] = max(m["big"], float(np.linalg.norm(ana)), float(np.linalg.norm(num)))
            m["checks"].append((name if how is False else f"{name} (Ridders)", err))
            if not err <= tol:
                m["found"].append((ana, num, what))

        shape_x = np.shape(x0)
        for _ in range(directions):
            V = rng.normal(size=shape_x) if shape_x else float(rng.normal())
            judged("direction", J @ vec(V), [V], "directional derivative")
        nx = int(np.size(x0))
        if nx <= 64 and J.size <= 4096:
            units = []
            for j in range(nx):
                E_j = np.zeros(nx)
                E_j[j] = 1.0
                units.append(E_j.reshape(shape_x, order="F") if shape_x else 1.0)
            judged("entrywise", J, units, "vec-Jacobian, numerator layout")
        m["live"] = not np.isfinite(m["big"]) or m["big"] > zero
        m["weight"] = m["big"] / tiny if np.isfinite(m["big"]) else float("inf")
        m["why"] = ""
        if m["found"] and not m["steady"]:
            m["why"] = "no two steps of the finite differences agreed at this point"
        elif m["found"] and intermediate_ratio(target, variables, point) > CONDITION:
            m["why"] = f"an intermediate value of the function is over {CONDITION:g} times its value at this point"
        return m

    def record(dims, point, m):
        """Count the trial ``m`` at ``point``; None when it is vacuous (both sides 0 in every check)."""
        nonlocal counter, refined, unsteady
        refined += m["refined"]
        unsteady += bool(m["why"])
        if not m["live"]:
            vacuous.append(point)
            return None
        if m["found"] and counter is None:
            counter = _counterexample(dims, point, *m["found"][0])
            where = sign_pattern(f, variables, point)
            if where:
                counter["region"] = where
            if m["why"]:
                counter["unsteady"] = m["why"]
        trials.append(Trial(dims, max(e for _, e in m["checks"]), m["checks"], point))
        return trials[-1]

    def run_steady(dims, point, scale):
        """One trial; where finite differences cannot judge its disagreement, the point is drawn again at
        smaller scales (well conditioned, in the same kink regions), and the first new point they can judge,
        with a derivative at least as large against the floor (so no weaker a test), is counted instead (a
        vacuous one is drawn again at new shapes, as any).  Without one, the first point is counted as it is."""
        nonlocal redrawn
        m = measure(dims, point)
        if not m["why"]:
            return record(dims, point, m)
        need = regions_at(f, variables, point)
        for r in range(1, REDRAWS + 1):
            new = _redraw(f, variables, dims, rng, scale * REDRAW_SCALE ** r, need, (target,))
            if new is None:
                continue
            m2 = measure(dims, new)
            if not m2["why"] and (not m2["live"] or m2["weight"] >= min(1.0, m["weight"])):  # vacuous: drawn again
                redrawn += 1
                return record(dims, new, m2)
        return record(dims, point, m)

    for t in range(shapes):
        for k in range(VACUOUS_REDRAWS):  # a vacuous trial is drawn again, at new shapes
            tt = t if k == 0 else 2 + t
            dims, point = _dims_and_point(f, variables, syms, rng, tt, (d.result,))
            if run_steady(dims, point, SCALES[tt % len(SCALES)]) is not None:
                break
    extra, unreached = cover_kinks(f, variables, syms, rng, [tr.point for tr in trials] + vacuous)
    for dims, point in extra:
        run_steady(dims, point, 1.0)
    note = _explicit_check(d, target, variables, syms, rng, tol) if explicit else "not run"
    ok = counter is None and not note.startswith("DISAGREES")
    reached = [str(r) for r in kink_regions(f) if r not in unreached]
    report = Report(to_text(f), x.name, d.layout, d.kind, tol, trials, note, ok, [str(r) for r in unreached],
                    len(vacuous), reached, refined, redrawn, unsteady)
    if not ok and raise_on_failure:
        if counter is None:
            counter = {"explicit": note}
        why = (f"disagrees with finite differences (max relative error {report.max_rel_error:.2e} > {tol:g})"
               if report.max_rel_error > tol else f"agrees with finite differences but {note}")
        if counter.get("region"):
            why += f", where {counter['region']}"
        if counter.get("unsteady"):
            why += f" ({counter['unsteady']}, at any scale tried)"
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
    out = _explicit_error(d, target, variables, dims, point)
    if isinstance(out, str):
        return out
    (err, weight), again = out, ""
    if not err <= tol and intermediate_ratio(target, variables, point) > CONDITION:
        # badly conditioned: the first well-conditioned point at a smaller scale where the derivative is at
        # least as large against the floor (no weaker a test) judges instead; without one, the first does
        for r in range(1, REDRAWS + 1):
            new = _redraw(d.function, variables, dims, rng, REDRAW_SCALE ** r, set(), (target,))
            out = _explicit_error(d, target, variables, dims, new) if new is not None else "none"
            if not isinstance(out, str) and out[1] >= min(1.0, weight):
                err = out[0]
                again = f" at a point drawn again at {REDRAW_SCALE ** r:g} the scale (the first was badly conditioned)"
                break
    shown = ", ".join(f"{k}={v}" for k, v in sorted(dims.items()))
    verdict = "agrees" if err <= tol else "DISAGREES"
    return (f"{verdict} with SymPy's diff of the explicit entries at {shown or 'scalars'}{again} "
            f"(relative error {err:.1e})")


def _explicit_error(d, target, variables, dims: dict, point: dict) -> tuple[float, float] | str:
    """The relative error of the derivative against SymPy's diff of the explicit entries at ``point``, and the
    larger side's norm against the floor (the reason, when they cannot be formed)."""
    from ..emit.explicit import evaluate

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
    tiny = 1e-4 * (1 + float(np.max(np.abs(Jsym))) if Jsym.size else 1.0)
    return _rel(ana, Jsym, tiny), max(float(np.linalg.norm(ana)), float(np.linalg.norm(Jsym))) / tiny


# -- compiled value-and-gradient and Hessian-vector products ---------------------------------
