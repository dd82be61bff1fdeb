"""The checks of compiled value-and-gradient functions and Hessian-vector products."""

from __future__ import annotations

import numpy as np

from .. import expr as E
from .derivative import _compare, _counterexample, _dims_and_point, _redraw, _rel, vec
from .points import SCALES, _compiled, dimension_symbols, regions_at
from .report import Report, Trial, VerificationError
from .steps import CONDITION, REDRAW_SCALE, REDRAWS, intermediate_ratio, scale_of


def _judged(found, ana, units, f_at, x0, scale, tiny, name, what, dims, point):
    """One finite-difference check of ``ana`` (steps.py) as (name, error); its failure goes to ``found``."""
    num, err, how = _compare(ana, units, f_at, x0, scale, tiny, found["tol"])
    found["refined"] += how is not False
    found["weight"] = max(found["weight"], float(np.linalg.norm(ana)) / tiny, float(np.linalg.norm(num)) / tiny)
    if not err <= found["tol"]:
        found["unsteady"] |= how is None
        if found["counter"] is None:
            found["counter"] = _counterexample(dims, point, ana, num, what)
    return (name if how is False else f"{name} (Ridders)", err)


def _unit(j, nx):
    e = np.zeros(nx)
    e[j] = 1.0
    return e


def _as_list(xs) -> list:
    return list(xs) if isinstance(xs, (list, tuple)) else [xs]


class _Packed:
    """The variables differentiated, seen as one vector: the column-major vec of each, one after the other.

    A check of a function of several variables is then the check of a function of one."""

    def __init__(self, xs: list, point: dict):
        self.xs = xs
        self.shapes = [np.shape(point[x.name]) for x in xs]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.x0 = np.concatenate([vec(point[x.name]) for x in xs])

    def split(self, flat) -> list:
        """The arrays (floats for scalars) shaped like each variable."""
        out, i = [], 0
        for shape, n in zip(self.shapes, self.sizes):
            part = np.asarray(flat[i:i + n], dtype=float)
            i += n
            out.append(part.reshape(shape, order="F") if shape else float(part[0]))
        return out

    def at(self, point: dict, flat) -> dict:
        return {**point, **{x.name: a for x, a in zip(self.xs, self.split(flat))}}

    def blocks(self) -> list:
        """(label suffix, slice) of each variable in the packed vector: a wrong gradient of a variable whose
        entries are small beside another's is judged against its own size, not drowned in the other's."""
        out, i = [], 0
        for x, n in zip(self.xs, self.sizes):
            out.append(("" if len(self.xs) == 1 else f" in {x.name}", slice(i, i + n)))
            i += n
        return out

    def embed(self, part: slice, V) -> np.ndarray:
        """A packed direction that is ``V`` on ``part`` and zero elsewhere."""
        full = np.zeros(self.x0.size)
        full[part] = V
        return full

    def scale(self) -> float:
        return scale_of(self.x0) if self.x0.size else 1.0


def _tiny(fx) -> float:
    return 1e-4 * (1.0 + float(np.max(np.abs(fx)))) if np.size(fx) else 1e-4


def _check_compiled(kind: str, f: E.Expr, xs: list, variables, trial, shapes, tol, seed, judged=()) -> Report:
    """The shared loop of the checks below: random non-square shapes, points in the domain, float64.

    ``trial(point, rng, dims, found)`` returns the (method, error) pairs of one point.  Where a finite-difference
    check disagrees and no step is steady, or ``f`` or an expression of ``judged`` is badly conditioned
    (steps.py), the first point drawn again at a smaller scale that finite differences can judge, with a
    derivative at least as large against the floor, is counted instead; without one, the first point is."""
    from ..emit.text import to_text

    variables = list(variables)
    rng = np.random.default_rng(seed)
    syms = dimension_symbols(variables, f)
    counter, trials, refined, redrawn, unsteady = None, [], 0, 0, 0

    def run(point, dims):
        found = {"tol": tol, "counter": None, "refined": 0, "weight": 0.0, "unsteady": False, "hard": False}
        return trial(point, rng, dims, found), found

    for t in range(shapes):
        dims, point = _dims_and_point(f, variables, syms, rng, t)
        checks, found = run(point, dims)
        bad = found["counter"] is not None and not found["hard"] and (
            found["unsteady"] or max(intermediate_ratio(e, variables, point) for e in (f, *judged)) > CONDITION)
        for r in range(1, REDRAWS + 1 if bad else 1):
            new = _redraw(f, variables, dims, rng, SCALES[t % len(SCALES)] * REDRAW_SCALE ** r,
                          regions_at(f, variables, point), judged)
            if new is None:
                continue
            checks2, found2 = run(new, dims)
            if not (found2["counter"] is not None and (found2["hard"] or found2["unsteady"])) \
                    and found2["weight"] >= min(1.0, found["weight"]):
                point, checks, found, bad, redrawn = new, checks2, found2, False, redrawn + 1
                break
        counter = counter or found["counter"]
        refined, unsteady = refined + found["refined"], unsteady + bad
        trials.append(Trial(dims, max(e for _, e in checks), checks, point))
    ok = counter is None
    names = ", ".join(x.name for x in xs)
    report = Report(to_text(f), names, "denominator", kind, tol, trials, "not run (compiled form)", ok,
                    refined=refined, redrawn=redrawn, unsteady=unsteady)
    if not ok:
        raise VerificationError(f"{kind} of {to_text(f)} wrt {names} disagrees with finite differences "
                                f"(max relative error {report.max_rel_error:.2e} > {tol:g})", report, counter)
    return report


@np.errstate(all="ignore")  # overflow at extreme points is judged from the values, never printed
def verify_value_and_grad(fn, f: E.Expr, x, variables, shapes: int = 3, directions: int = 3,
                          tol: float = 1e-5, seed: int = 0) -> Report:
    """Check a compiled value-and-gradient: the value against the function compiled alone, the gradient
    against central differences of the value (along random directions; entry by entry on small shapes).

    ``x`` is the variable, or a list of them: then ``fn`` returns the value and one gradient per variable."""
    xs = _as_list(x)
    alone = _compiled(f, list(variables))

    def trial(point, rng, dims, found):
        val, *grads = fn(**point)
        ref = alone(**point)
        packed = _Packed(xs, point)
        tiny, scale, nx = _tiny(ref), packed.scale(), packed.x0.size
        grad = np.concatenate([vec(g) for g in grads])
        err = _rel(vec(val), vec(ref), tiny)
        checks = [("value", err)]
        if not err <= tol:
            found["hard"] = True  # not a finite difference: no point drawn again excuses it
            if found["counter"] is None:
                found["counter"] = _counterexample(dims, point, vec(val), vec(ref), "value")

        def value_at(flat):
            return np.array([float(np.asarray(fn(**packed.at(point, flat))[0], dtype=float))])

        def exact(V):
            return np.array([float(grad @ V)])

        for label, part in packed.blocks():  # each variable along its own directions, judged against its own size
            n = part.stop - part.start
            for _ in range(directions):
                V = packed.embed(part, rng.normal(size=n))
                what = "directional derivative" + label
                checks.append(_judged(found, exact(V), [V], value_at, packed.x0, scale, tiny, what, what, dims, point))
        if nx <= 64:
            for label, part in packed.blocks():
                units = [_unit(j, nx) for j in range(part.start, part.stop)]
                checks.append(_judged(found, grad[part].reshape(1, -1), units, value_at, packed.x0, scale, tiny,
                                      "entrywise" + label, "gradient" + label + ", entry by entry", dims, point))
        return checks

    return _check_compiled("value and gradient", f, xs, variables, trial, shapes, tol, seed)


@np.errstate(all="ignore")  # overflow at extreme points is judged from the values, never printed
def verify_hvp(fn, f: E.Expr, gradient, x, variables, shapes: int = 3, directions: int = 3,
               tol: float = 1e-5, seed: int = 0) -> Report:
    """Check a compiled Hessian-vector product against central differences of the gradient (along random
    directions; every column of the Hessian on small shapes), and the gradient against those of f.

    ``x`` is the variable, or a list of them; then ``gradient`` is the list of the gradients in each, and
    ``fn`` takes one direction per variable and returns one product per variable."""
    xs = _as_list(x)
    gfns = [_compiled(g, list(variables)) for g in _as_list(gradient)]
    ffn = _compiled(f, list(variables))

    def trial(point, rng, dims, found):
        packed = _Packed(xs, point)
        gx = np.concatenate([vec(g(**point)) for g in gfns])
        tiny, scale, nx = _tiny(gx), packed.scale(), packed.x0.size

        def grad_at(flat):
            at = packed.at(point, flat)
            return np.concatenate([vec(g(**at)) for g in gfns])

        def exact(V):
            out = fn(*packed.split(V), **point)
            # one product per variable; a single one (wrt=("W",) too) comes back bare, not as a 1-tuple
            return np.concatenate([vec(o) for o in (out if isinstance(out, tuple) else [out])])

        def part_at(part):
            return lambda flat: grad_at(flat)[part]

        checks = []
        for label, part in packed.blocks():  # each variable's product, judged against its own size
            for _ in range(directions):
                V = rng.normal(size=nx)
                what = "Hessian-vector product" + label
                checks.append(_judged(found, exact(V)[part], [V], part_at(part), packed.x0, scale, tiny, what, what,
                                      dims, point))
        if nx <= 64:
            units = [_unit(j, nx) for j in range(nx)]
            Ha = np.stack([exact(U) for U in units], axis=1)
            for label, part in packed.blocks():
                checks.append(_judged(found, Ha[part], units, part_at(part), packed.x0, scale, tiny,
                                      "entrywise" + label, "Hessian" + label + ", column by column", dims, point))
        fx = float(np.asarray(ffn(**point), dtype=float))

        def f_at(flat):
            return np.array([float(np.asarray(ffn(**packed.at(point, flat)), dtype=float))])

        for label, part in packed.blocks():
            V = packed.embed(part, rng.normal(size=part.stop - part.start))
            what = "gradient" + label
            checks.append(_judged(found, np.array([float(gx @ V)]), [V], f_at, packed.x0, scale,
                                  1e-4 * (1.0 + abs(fx)), what, what, dims, point))
        return checks

    return _check_compiled("Hessian-vector product", f, xs, variables, trial, shapes, tol, seed,
                           tuple(_as_list(gradient)))
