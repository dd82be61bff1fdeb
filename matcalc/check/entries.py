"""Entries of a derivative in a component-wise proof: the values an index formula is compared with."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import expr as E
from ..evaluate import TRIALS, Points
from ..parse.index import IndexExpr
from ..verify import DomainError, dimension_symbols, draw_point


@dataclass(frozen=True)
class Component:
    """Entries of a derivative, as a component-wise proof writes them: ``\\partial f / \\partial v_k``.

    ``index`` holds letters (every entry, a free index of the formula) or 0-based numbers (one entry).
    """

    value: E.Expr
    index: tuple


def index_of(text: str) -> tuple:
    """The index of a component head: 'k' is ('k',), 'ij' is ('i', 'j'), '1,2' is (0, 1).

    >>> index_of("ij"), index_of("1,2")
    (('i', 'j'), (0, 1))
    """
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    if len(parts) == 1 and len(parts[0]) > 1:
        parts = list(parts[0])
    return tuple(int(p) - 1 if p.isdigit() else p for p in parts)


def entry_points(variables: list, new, old, function, seed: int) -> Points:
    """Points for comparing entries: at random sizes, or at the one size a written-out proof uses (2 for A_{1,2}).

    >>> from matcalc.parse.index import parse_index
    >>> v = E.Var("v", "n", 1)
    >>> pts = entry_points([v], parse_index("v_1 + v_2"), E.sum_(v), None, seed=0)
    >>> {d["n"] for d, _ in pts.trials}
    {2}
    """
    size = max([v.concrete for v in (new, old) if isinstance(v, IndexExpr)]
               + [max([i + 1 for i in v.index if isinstance(i, int)], default=0)
                  for v in (new, old) if isinstance(v, Component)] + [0])
    exprs = [v.value if isinstance(v, Component) else v for v in (old, new, function)]
    domain = next((e for e in exprs if isinstance(e, E.Expr)), E.zeros((1, 1)))
    if not size:
        return Points(variables, domain, TRIALS, seed)
    # a proof written out at one size (a 2x2 bmatrix) is checked at that size
    rng = np.random.default_rng(seed)
    dims = {str(s): size for s in dimension_symbols(variables)}
    trials = []
    for _ in range(2 * TRIALS):
        try:
            trials.append((dims, draw_point(domain, variables, dims, rng)))
        except DomainError:
            continue
        if len(trials) == TRIALS:
            break
    return Points(variables, None, trials=trials)


def entry_numbers(value, pts: Points, order: tuple | None = None) -> list:
    """The values of an expression, of entries of one (Component) or of an index formula, at every point.

    >>> from matcalc.parse.index import parse_index
    >>> v = E.Var("v", "n", 1)
    >>> pts = entry_points([v], E.sum_(v), E.sum_(v), None, seed=0)
    >>> a, b = entry_numbers(parse_index(r"\\sum_i v_i"), pts), entry_numbers(E.sum_(v), pts)
    >>> all(abs(x - y).max() < 1e-12 for x, y in zip(a, b))
    True
    """
    if isinstance(value, E.Expr):
        return pts.values(value)
    if isinstance(value, Component):
        out = []
        for a in pts.values(value.value):
            if a is None or all(isinstance(i, str) for i in value.index):
                out.append(a)
            else:
                idx = value.index if len(value.index) == 2 else (value.index[0], 0)
                out.append(np.array([[a[idx]]]) if all(i < s for i, s in zip(idx, a.shape)) else None)
        return out
    return [value.evaluate(point, order) for _, point in pts.trials]


def index_clash(new, old) -> str:
    """Why an index formula cannot stand for the entries it is compared with ('' when it can).

    >>> from matcalc.parse.index import parse_index
    >>> index_clash(parse_index("2 x_j"), Component(E.Var("x", "n", 1), ("k",)))
    'its free indices (j) are not those of the entries it stands for (k)'
    """
    for ix, comp in ((new, old), (old, new)):
        if isinstance(ix, IndexExpr) and isinstance(comp, Component):
            letters = [i for i in comp.index if isinstance(i, str)]
            if sorted(ix.free) != sorted(letters):
                want = ", ".join(letters) or "none (a single entry)"
                got = ", ".join(ix.free) or "none"
                return f"its free indices ({got}) are not those of the entries it stands for ({want})"
    return ""
