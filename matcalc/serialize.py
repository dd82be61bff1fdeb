"""JSON for every result, shared by the command line (``--format json``) and the web API.

Each function takes a result of the public API and returns a dict of strict JSON
values (a NaN or infinite float becomes null); ``error`` turns one of matcalc's own errors into ``{"error", "column"}``.

>>> import matcalc
>>> out = derivative(matcalc.derive("x'*A*x", wrt="x"))
>>> out["result"], out["layout"]
("(A + A')*x", 'denominator')
"""

from __future__ import annotations

import math
import re

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: the results come from matcalc's public functions
    from . import Derivative, Explanation, Report, StepsReport, Verdict

_COLUMN = re.compile(r"\bat column (\d+)\b")


def finite(obj):
    """``obj`` with every NaN or infinite float replaced by None, so that it is strict JSON.

    >>> finite({"max_error": float("inf"), "values": [1.5, float("nan")]})
    {'max_error': None, 'values': [1.5, None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def derivative(d: Derivative, report: Report | None = None) -> dict:
    """A derivative as the CLI's ``derive --format json`` prints it, with its NumPy code.

    >>> import matcalc
    >>> d = matcalc.derive("sum(W)", wrt="W")
    >>> sorted(k for k in derivative(d, d.verify()) if k in ("numpy", "verification"))
    ['numpy', 'verification']
    """
    out = d.to_dict()
    out["numpy"] = d.to_numpy().source
    if report is not None:
        out["verification"] = report.to_dict()
    return finite(out)


def verdict(v: Verdict) -> dict:
    """A checked answer, with its explanation in text and LaTeX.

    >>> import matcalc
    >>> out = verdict(matcalc.check("normF(W)^2", wrt="W", claimed="2*sum(W)"))
    >>> out["correct"], out["mistake"]
    (False, 'sum-instead-of-matrix')
    """
    out = v.to_dict()
    out["explanation"] = v.explain("text")
    out["explanation_latex"] = v.explain("latex")
    return finite(out)


def steps(r: StepsReport) -> dict:
    """A checked derivation: every step, and the first line that does not follow.

    >>> import matcalc
    >>> steps(matcalc.check_steps(["J = x'*A*x", "d/dx J = 2*A*x"]))["first_wrong_line"]
    2
    """
    out = r.to_dict()
    out["explanation"] = r.explain()
    return finite(out)


def explanation(ex: Explanation) -> dict:
    """A derivation by differentials, in text and LaTeX, with the engine's result.

    >>> import matcalc
    >>> explanation(matcalc.explain("normF(W)^2", wrt="W"))["result"]["result"]
    '2*W'
    """
    return finite({
        "function": ex.result.to_dict()["function"],
        "wrt": ex.wrt.name,
        "layout": ex.layout,
        "text": ex.text(),
        "latex": ex.latex(),
        "agrees": ex.agrees,
        "result": ex.result.to_dict(),
    })


def variables(variables: dict) -> dict:
    """Each variable's shape (ints or dimension names) and assumptions, in order of appearance.

    >>> import matcalc
    >>> variables(matcalc.parse("x'*A*x").variables)["A"]
    {'shape': ['n', 'n'], 'assume': []}
    """
    return {name: {"shape": [int(d) if d.is_Integer else str(d) for d in v.shape], "assume": sorted(v.assume)}
            for name, v in variables.items()}


def error(exc: BaseException) -> dict:
    """One of matcalc's errors as ``{"error": one line, "column": n or None}`` (plus ``input`` when known).

    >>> import matcalc
    >>> try:
    ...     matcalc.parse("x'*A*")
    ... except matcalc.ParseError as e:
    ...     error(e)["column"]
    6
    """
    message = " ".join(str(exc).split()) or type(exc).__name__
    column = getattr(exc, "column", None)
    if column is None:
        m = _COLUMN.search(message)
        column = int(m.group(1)) if m else None
    out = {"error": message, "column": column}
    text = getattr(exc, "text", "")
    if column is not None and isinstance(text, str) and text:
        out["input"] = text
    return out
