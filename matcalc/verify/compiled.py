"""The checks of compiled value-and-gradient functions and Hessian-vector products."""

from __future__ import annotations

import numpy as np

from .. import expr as E
from .derivative import _counterexample, _dims_and_point, _rel, vec
from .points import _compiled, dimension_symbols
from .report import Report, Trial, VerificationError


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
    from ..emit.text import to_text

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
