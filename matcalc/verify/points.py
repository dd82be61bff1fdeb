"""Random shapes and points for the checks: in the domain of every function, on both sides of every kink."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy

from .. import expr as E
from ..budget import tick
from ..emit.numpy import Compiled, compile_expr
from ..functions import FUNCTIONS
from .report import MAX_DRAWS, DomainError


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
        from ..emit.text import to_text

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
    from ..emit.text import to_text

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
    failures = 0  # draws where evaluating raised ValueError: at every draw, that is a fault, not the domain
    last = None
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
        except ValueError as e:
            failures, last = failures + 1, e
            continue
        except (np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError, OverflowError):
            continue
    where = f" where {region}" if region is not None else ""
    if failures == MAX_DRAWS:
        raise DomainError(f"evaluating {f} failed at every point drawn at shapes {dims}: {str(last).splitlines()[0]}")
    raise DomainError(f"found no point in the domain of {f}{where} at shapes {dims} after {MAX_DRAWS} draws")


def _in_region(x: np.ndarray, sign: str) -> bool:
    if sign == "positive":
        return bool(np.any(x > 0))
    if sign == "negative":
        return bool(np.any(x < 0))
    return bool(np.any(x > 0) and np.any(x < 0))


# -- Jacobians ------------------------------------------------------------------------
