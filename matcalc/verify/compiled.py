"""The checks of compiled value-and-gradient functions and Hessian-vector products."""

from __future__ import annotations

import numpy as np

from .. import expr as E
from .derivative import _counterexample, _dims_and_point, _rel, vec
from .points import _compiled, dimension_symbols
from .report import Report, Trial, VerificationError


def _check_directions(rng, nx, directions, exact, numeric, tiny, what, dims, point, found):
    """Compare ``exact(V)`` with ``numeric(V)`` along random directions (flat, ``nx`` entries); the first
    failure goes to ``found``."""
    out = []
    for _ in range(directions):
        V = rng.normal(size=nx)
        ana, num = exact(V), numeric(V)
        err = _rel(ana, num, tiny)
        out.append((what, err))
        if not err <= found["tol"] and found["counter"] is None:
            found["counter"] = _counterexample(dims, point, ana, num, what)
    return out


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

    def step(self) -> float:
        return 1e-5 * max(1.0, float(np.max(np.abs(self.x0)))) if self.x0.size else 1e-5


def _tiny(fx) -> float:
    return 1e-4 * (1.0 + float(np.max(np.abs(fx)))) if np.size(fx) else 1e-4


def _check_compiled(kind: str, f: E.Expr, xs: list, variables, trial, shapes, tol, seed) -> Report:
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
    names = ", ".join(x.name for x in xs)
    report = Report(to_text(f), names, "denominator", kind, tol, trials, "not run (compiled form)", ok)
    if not ok:
        raise VerificationError(f"{kind} of {to_text(f)} wrt {names} disagrees with finite differences "
                                f"(max relative error {report.max_rel_error:.2e} > {tol:g})", report, found["counter"])
    return report


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
        tiny, h, nx = _tiny(ref), packed.step(), packed.x0.size
        grad = np.concatenate([vec(g) for g in grads])
        err = _rel(vec(val), vec(ref), tiny)
        checks = [("value", err)]
        if not err <= tol and found["counter"] is None:
            found["counter"] = _counterexample(dims, point, vec(val), vec(ref), "value")

        def value_at(flat):
            return float(np.asarray(fn(**packed.at(point, flat))[0], dtype=float))

        def numeric(V):
            return np.array([(value_at(packed.x0 + h * V) - value_at(packed.x0 - h * V)) / (2 * h)])

        def exact(V):
            return np.array([float(grad @ V)])

        for label, part in packed.blocks():  # each variable along its own directions
            n = part.stop - part.start
            checks += _check_directions(rng, n, directions, lambda V: exact(packed.embed(part, V)),
                                        lambda V: numeric(packed.embed(part, V)), tiny,
                                        "directional derivative" + label, dims, point, found)
        if nx <= 64:
            num = np.array([numeric(_unit(j, nx))[0] for j in range(nx)])
            for label, part in packed.blocks():
                err = _rel(grad[part], num[part], tiny)
                checks.append(("entrywise" + label, err))
                if not err <= tol and found["counter"] is None:
                    found["counter"] = _counterexample(dims, point, grad[part], num[part],
                                                       "gradient" + label + ", entry by entry")
        return checks

    return _check_compiled("value and gradient", f, xs, variables, trial, shapes, tol, seed)


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
        tiny, h, nx = _tiny(gx), packed.step(), packed.x0.size

        def grad_at(flat):
            at = packed.at(point, flat)
            return np.concatenate([vec(g(**at)) for g in gfns])

        def numeric(V):
            return (grad_at(packed.x0 + h * V) - grad_at(packed.x0 - h * V)) / (2 * h)

        def exact(V):
            out = fn(*packed.split(V), **point)
            # one product per variable; a single one (wrt=("W",) too) comes back bare, not as a 1-tuple
            return np.concatenate([vec(o) for o in (out if isinstance(out, tuple) else [out])])

        checks = []
        for label, part in packed.blocks():  # each variable's product, judged against its own size
            checks += _check_directions(rng, nx, directions, lambda V: exact(V)[part], lambda V: numeric(V)[part],
                                        tiny, "Hessian-vector product" + label, dims, point, found)
        if nx <= 64:
            Hn = np.stack([numeric(_unit(j, nx)) for j in range(nx)], axis=1)
            Ha = np.stack([exact(_unit(j, nx)) for j in range(nx)], axis=1)
            for label, part in packed.blocks():
                err = _rel(Ha[part], Hn[part], tiny)
                checks.append(("entrywise" + label, err))
                if not err <= tol and found["counter"] is None:
                    found["counter"] = _counterexample(dims, point, Ha[part], Hn[part],
                                                       "Hessian" + label + ", column by column")
        fx = float(np.asarray(ffn(**point), dtype=float))

        def f_at(flat):
            return float(np.asarray(ffn(**packed.at(point, flat)), dtype=float))

        def f_numeric(V):
            return np.array([(f_at(packed.x0 + h * V) - f_at(packed.x0 - h * V)) / (2 * h)])

        for label, part in packed.blocks():
            n = part.stop - part.start
            checks += _check_directions(rng, n, 1, lambda V: np.array([float(gx @ packed.embed(part, V))]),
                                        lambda V: f_numeric(packed.embed(part, V)), 1e-4 * (1.0 + abs(fx)),
                                        "gradient" + label, dims, point, found)
        return checks

    return _check_compiled("Hessian-vector product", f, xs, variables, trial, shapes, tol, seed)
