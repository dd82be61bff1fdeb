"""Helpers for ``tests/test_identities.py``: the row type, test points, and
independent numerical checks.

Nothing here asks matcalc what the answer is: points are drawn here (not with
``matcalc.verify``), expected forms are parsed from the textbook text in the
table, and the check that an expected form is itself right uses central finite
differences of the compiled *function*, never of the derivative under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import matcalc
from matcalc import expr as E
from matcalc.emit.numpy import compile_expr

# The derived result may have at most SLACK more nodes than the textbook form.
# Three nodes allow an extra transpose, a regrouped scalar factor or a
# Const(-1) written as a negation, but not a repeated subexpression or an
# unfused sum (each of which costs at least four nodes in these rows).
SLACK = 3

# Nodes that a compact answer may only use when the textbook form does.
VEC_NODES = (E.Vec, E.Kron, E.Commutation)

# Relative tolerance of the value comparisons (derived against expected,
# numerator against denominator): both sides are exact formulas, float64.
VALUE_RTOL = 1e-8
# Relative tolerance of the finite-difference check of the expected forms.
FD_RTOL = 1e-5


@dataclass(frozen=True)
class Row:
    """One identity: d expr / d wrt = expected (denominator layout)."""

    expr: str
    wrt: str
    expected: str
    eq: str = ""  # Matrix Cookbook (2012 edition) equation number(s)
    shapes: dict = field(default_factory=dict, hash=False, compare=False)
    assume: dict = field(default_factory=dict, hash=False, compare=False)
    positive: tuple = ()  # variables to draw with positive entries (log, sqrt, ./)
    hessian: bool = False
    name: str = ""  # overrides the generated test id

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        kind = "hess" if self.hessian else "d"
        head = f"({self.eq}) " if self.eq else ""
        return f"{head}{kind} {self.expr} / d{self.wrt}"


_DERIVED: dict = {}


def derived(row: Row):
    """matcalc's derivative (or Hessian) of a row, computed once per session."""
    key = row.id
    if key not in _DERIVED:
        fn = matcalc.hessian if row.hessian else matcalc.derive
        try:
            _DERIVED[key] = fn(row.expr, wrt=row.wrt, shapes=row.shapes or None, assume=row.assume or None)
        except Exception as e:  # re-raised in every test of the row
            _DERIVED[key] = e
    d = _DERIVED[key]
    if isinstance(d, Exception):
        raise d
    return d


_EXPECTED: dict = {}


def _dim_text(d):
    s = str(d)
    return int(s) if s.isdigit() else s


def parsed_function(row: Row):
    """The row's function, parsed (independently of the derivative)."""
    return matcalc.parse(row.expr, shapes=row.shapes or None, assume=row.assume or None)


def expected_parsed(row: Row, variables: dict):
    """The textbook form parsed with the same variables (shapes and assumptions) as the function."""
    key = row.id
    if key in _EXPECTED:
        return _EXPECTED[key]
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", row.expected))
    shapes = {}
    for v in variables.values():
        if "dimension" in v.assume:
            continue
        r, c = _dim_text(v.rows), _dim_text(v.cols)
        if all(isinstance(x, int) or x.isidentifier() for x in (r, c)):
            shapes[v.name] = (r, c)
        elif v.name in row.shapes:
            shapes[v.name] = row.shapes[v.name]
    assume = {k: a for k, a in (row.assume or {}).items() if k in names}
    p = matcalc.parse(row.expected, shapes=shapes, assume=assume)
    _EXPECTED[key] = p
    return p


def compiled_expected(row: Row, variables: dict):
    p = expected_parsed(row, variables)
    variables = dict(variables)
    variables.update(p.variables)  # also lets dimension sizes be read from any array
    return p, compile_expr(p.expr, list(variables.values()), fname="expected")


# -- points --------------------------------------------------------------------------


def dimension_names(variables) -> list:
    names = set()
    for v in variables:
        for d in v.shape:
            names |= {str(s) for s in d.free_symbols}
        if "dimension" in v.assume:
            names.add(v.name)
    return sorted(names)


def draw_sizes(variables, rng) -> dict:
    """Distinct sizes 2..7, one per dimension symbol (never all square)."""
    names = dimension_names(variables)
    assert len(names) <= 6, f"too many dimension symbols for distinct sizes: {names}"
    pool = rng.permutation(np.arange(2, 8))
    return {n: int(pool[i]) for i, n in enumerate(names)}


def _size(d, sizes) -> int:
    return int(d.subs({s: sizes[str(s)] for s in d.free_symbols}))


def _draw(v, sizes, rng, positive: bool):
    if v.is_scalar:
        return float(rng.uniform(0.5, 2.0))
    r, c = _size(v.rows, sizes), _size(v.cols, sizes)
    a = v.assume
    if "onehot" in a:
        m = np.zeros((r, c))
        m[rng.integers(r, size=c), np.arange(c)] = 1.0
        return m
    if "spd" in a:
        b = rng.normal(size=(r, r))
        return b @ b.T / r + np.eye(r)
    if "symmetric" in a:
        b = rng.normal(size=(r, r))
        return (b + b.T) / 2 + (r + 1) * np.eye(r)
    if positive or "positive" in a:
        return rng.uniform(0.5, 1.5, size=(r, c))
    if r == c and r > 1:  # well conditioned, positive determinant, not symmetric
        return np.eye(r) + 0.3 * rng.normal(size=(r, r)) / np.sqrt(r)
    return rng.normal(size=(r, c))


def _call(fn, point):
    return np.asarray(fn(**{k: point[k] for k in fn.names}), dtype=float)


def draw_point(row: Row, variables, seed: int, check=()):
    """(sizes, point) with every compiled function in ``check`` finite there."""
    rng = np.random.default_rng(seed)
    sizes = draw_sizes(variables, rng)
    arrays = [v for v in variables if "dimension" not in v.assume]
    for _ in range(30):
        point = {v.name: _draw(v, sizes, rng, v.name in row.positive) for v in arrays}
        with np.errstate(all="ignore"):
            if all(np.all(np.isfinite(_call(fn, point))) for fn in check):
                return sizes, point
    raise AssertionError(f"no point with finite values found for {row.id} at sizes {sizes}")


def as2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(1, 1) if a.ndim == 0 else a


def rel_err(a, b) -> float:
    a, b = as2d(a), as2d(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


def vec(a) -> np.ndarray:
    return as2d(a).reshape(-1, order="F")


def denominator_shape(hessian: bool, fval, x) -> tuple:
    """The shape docs/conventions.md prescribes for a denominator-layout result (as a 2-d array)."""
    fval, x = np.asarray(fval), np.asarray(x)
    if hessian:
        return (x.size, x.size)
    if fval.size == 1:
        return as2d(x).shape
    if x.ndim == 0:
        return as2d(fval).T.shape
    return (x.size, fval.size)


# -- finite differences of the function (for checking the table itself) ----------------


def fd_check_expected(row: Row, seed: int = 1) -> float:
    """Largest relative error of the expected form against central differences of f.

    First order: directional derivatives J @ vec(V) along random directions, where
    J is the numerator-layout vec-Jacobian implied by the denominator-layout
    expected form.  Hessians: bilinear forms u' H v from second differences.
    """
    fp = parsed_function(row)
    f = compile_expr(fp.expr, list(fp.variables.values()), fname="function")
    _, g = compiled_expected(row, fp.variables)
    sizes, point = draw_point(row, list(fp.variables.values()), seed, (f, g))
    x0 = np.asarray(point[row.wrt], dtype=float)
    rng = np.random.default_rng(seed + 100)
    D = as2d(_call(g, point))
    fx = as2d(_call(f, point))

    def f_at(xv):
        p = dict(point)
        p[row.wrt] = xv
        return vec(_call(f, p))

    shape_x = np.shape(x0)
    want = denominator_shape(row.hessian, fx, x0)
    assert D.shape == want, f"the expected form {row.expected} has shape {D.shape}; denominator layout needs {want}"
    errs = []
    if row.hessian:
        h = 1e-4 * max(1.0, float(np.max(np.abs(x0))))
        for _ in range(4):
            u, w = rng.normal(size=shape_x), rng.normal(size=shape_x)
            num = (f_at(x0 + h * u + h * w) - f_at(x0 + h * u - h * w)
                   - f_at(x0 - h * u + h * w) + f_at(x0 - h * u - h * w)) / (4 * h * h)
            ana = vec(u) @ D @ vec(w)
            errs.append(abs(float(num[0]) - ana) / max(abs(ana), abs(float(num[0])), 1e-6 * (1 + abs(float(fx.flat[0])))))
        return max(errs)
    if fx.size == 1:
        J = vec(D).reshape(1, -1)
    elif x0.size == 1 and not shape_x:
        J = vec(D.T).reshape(-1, 1)
    else:
        J = D.T
    h = 1e-6 * max(1.0, float(np.max(np.abs(x0))) if shape_x else abs(float(x0)))
    for _ in range(3):
        V = rng.normal(size=shape_x) if shape_x else float(rng.normal())
        num = (f_at(x0 + h * V) - f_at(x0 - h * V)) / (2 * h)
        ana = J @ vec(V)
        errs.append(float(np.linalg.norm(ana - num) / max(np.linalg.norm(num), 1e-6 * (1 + np.max(np.abs(fx))))))
    return max(errs)
