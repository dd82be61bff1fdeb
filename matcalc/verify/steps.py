"""Finite-difference estimates of a directional derivative, and how far they can be trusted.

A check first takes one central difference at the step :data:`STEP` (relative to
the point's scale).  Where the derivative disagrees with it, the check asks
:func:`ridders` for a better estimate before calling the derivative wrong:
central differences at the steps ``FIRST, FIRST/2, FIRST/4, ...`` (at most
:data:`LEVELS` of them) are extrapolated to step 0 in a Neville tableau
(Richardson's extrapolation, repeated: Ridders' method), and the tableau entry
whose neighbours agree best is the estimate, with that disagreement as its error
estimate.  The estimate depends on the function alone, never on the derivative
being checked.

An estimate is :func:`stable` when its error estimate is at most ``STABLE * tol``
of its size.  Where it is not (the function turns too fast, or its values are so
large that rounding swamps every step), no step can confirm or refute a
derivative there.  Nor can a point where an intermediate value of the function
is :data:`CONDITION` times its value (:func:`intermediate_ratio`: the exponents
of a saturated softmax), where a right derivative is evaluated with rounding
errors (a cancellation of such terms) above the tolerance.  A check that
disagrees at such a point draws it again at smaller scales (``REDRAWS`` times
at most, each ``REDRAW_SCALE`` times the last) and counts the first new point
that is well conditioned, where the differences are steady and the derivative
is no smaller against the floor of the relative error (so that the new test is
no weaker); without one, the first point counts as it is.  Both tests look at
the function alone, and a check runs them only where the derivative disagrees,
which is the same as drawing only well-conditioned points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import expr as E
from .points import _compiled

STEP = 1e-5  # the first, single central difference, relative to the point's scale
FIRST = 1e-3  # the largest step of the tableau, relative to the point's scale
SHRINK = 2.0  # each step of the tableau is the one before over SHRINK
LEVELS = 14  # steps of the tableau at most: FIRST down to FIRST / 2**13 (1.2e-7)
MIN_LEVELS = 5  # the tableau is not cut short before this many steps
SAFE = 2.0  # it is cut short when its newest extrapolation is SAFE times worse than the best so far,
PATIENCE = 3  # and that best is PATIENCE steps old (rounding has taken over; not a bad first step)
STABLE = 0.1  # an estimate is trusted when its error estimate is at most STABLE * tol of its size
CONDITION = 1e4  # a point is badly conditioned where an intermediate value is CONDITION times the function's
REDRAWS = 3  # times a point finite differences cannot judge is drawn again, each at REDRAW_SCALE times the last
REDRAW_SCALE = 0.5


@dataclass(frozen=True)
class Estimate:
    """A finite-difference estimate: ``value``, its estimated error (2-norm) and the step it came from."""

    value: np.ndarray
    error: float
    step: float


def scale_of(x0) -> float:
    """The scale steps are relative to: the largest entry of the point, at least 1.

    >>> scale_of(np.array([[0.5], [-3.0]]))
    3.0
    """
    return max(1.0, float(np.max(np.abs(x0)))) if np.ndim(x0) else max(1.0, abs(float(x0)))


def central(f: Callable, x0, V, h: float) -> np.ndarray:
    """The central difference ``(f(x0 + h V) - f(x0 - h V)) / 2h`` (NaN where f is not finite).

    >>> round(float(central(lambda x: np.array([x ** 3]), 2.0, 1.0, 1e-3)[0]), 9)  # 12 + h^2
    12.000001
    """
    with np.errstate(all="ignore"):
        d = (np.asarray(f(x0 + h * V), dtype=float) - np.asarray(f(x0 - h * V), dtype=float)) / (2 * h)
    return np.where(np.isfinite(d), d, np.nan)


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        g = float(np.linalg.norm(a - b))
    return g if np.isfinite(g) else float("inf")


def ridders(f: Callable, x0, V, scale: float = 1.0, first: float = FIRST, levels: int = LEVELS) -> Estimate:
    """The directional derivative of ``f`` at ``x0`` along ``V`` by Ridders' extrapolation of central differences
    at the steps ``first * scale / SHRINK**i`` (:func:`extrapolate`).

    >>> e = ridders(lambda x: np.array([np.exp(40 * x)]), 0.1, 1.0)
    >>> bool(abs(e.value[0] - 40 * np.exp(4.0)) < 1e-8 * 40 * np.exp(4.0)), e.error < 1e-6
    (True, True)
    """
    return extrapolate(lambda h: central(f, x0, V, h), first * scale, levels)


def extrapolate(estimate: Callable, h: float, levels: int = LEVELS) -> Estimate:
    """``estimate(h)`` extrapolated to h = 0, for an estimate whose error is a series in h^2 (a central or a
    symmetric second difference): Ridders' method.

    The estimates at ``h / SHRINK**i`` fill the first column of a Neville
    tableau, each further column removing the next power of h^2.  The entry that
    agrees best with its two neighbours is returned, that disagreement its error;
    the tableau stops once the newest diagonal entry is ``SAFE`` times worse than
    that and no better entry came for ``PATIENCE`` steps (rounding has taken
    over), but not before ``MIN_LEVELS`` steps.

    >>> e = extrapolate(lambda h: np.array([(np.cos(1 + h) - 2 * np.cos(1) + np.cos(1 - h)) / h**2]), 0.1)
    >>> bool(abs(e.value[0] + np.cos(1)) < 1e-9), e.error < 1e-8
    (True, True)
    """
    prev = [np.asarray(estimate(h), dtype=float)]
    best, since = Estimate(prev[0], float("inf"), h), 0
    q = SHRINK * SHRINK
    for i in range(1, levels):
        h /= SHRINK
        cur = [np.asarray(estimate(h), dtype=float)]
        fac = q
        since += 1
        for j in range(1, i + 1):
            with np.errstate(all="ignore"):
                cur.append((cur[j - 1] * fac - prev[j - 1]) / (fac - 1))
            fac *= q
            err = max(_gap(cur[j], cur[j - 1]), _gap(cur[j], prev[j - 1]))
            if err <= best.error:
                best, since = Estimate(cur[j], err, h), 0
        gap = _gap(cur[i], prev[i - 1])  # infinite while the largest steps leave the domain: go on
        if i + 1 >= MIN_LEVELS and since >= PATIENCE and np.isfinite(gap) and gap >= SAFE * best.error:
            break
        prev = cur
    return best


def stable(error: float, value: np.ndarray, tiny: float, tol: float) -> bool:
    """Whether an estimate of error ``error`` can judge a derivative to ``tol``: at most ``STABLE * tol`` of its size.

    >>> stable(1e-9, np.array([2.0]), 1e-4, 1e-5), stable(1e-3, np.array([2.0]), 1e-4, 1e-5)
    (True, False)
    """
    size = max(float(np.linalg.norm(value)) if np.all(np.isfinite(value)) else float("inf"), tiny)
    return bool(np.isfinite(error) and np.isfinite(size) and error <= STABLE * tol * size)


def intermediate_ratio(e: E.Expr, variables, point: dict) -> float:
    """The largest entry of any part of ``e`` at ``point`` over 1 + the largest entry of ``e`` (inf where a part
    is not finite).

    >>> from matcalc.parse import parse
    >>> p = parse("sum(softmax(1000*x))")
    >>> round(intermediate_ratio(p.expr, list(p.variables.values()), {"x": np.array([[1.0], [2.0]]), "n": 2}))
    1000
    """
    top, big = 0.0, 0.0
    with np.errstate(all="ignore"):
        for n in set(E.walk(e)):
            if not E.free_vars(n):
                continue
            v = np.abs(np.asarray(_compiled(n, variables)(**point), dtype=float))
            m = float(np.max(v, initial=0.0)) if np.all(np.isfinite(v)) else float("inf")
            big = max(big, m)
            if n == e:
                top = m
    return big / (1.0 + top)
