"""Results as JSON-ready dicts: the one place that decides what ``--format json`` prints.

The command line and the web page's JSON API both print these.  The rules, so
that tools can read the output without parsing strings:

* a shape is a list of sizes, each an int or a dimension name (``["n", 1]``;
  a product of dimensions is its text, ``"m*n"``); a scalar is ``[]``;
* a numerical check is an object (``{"method": "direction", "error": 1e-12}``);
* entry indices are 1-based, as in the text output (``"entry": [2, 1]``).

    >>> import matcalc
    >>> d = derivative_to_dict(matcalc.derive("x'*A*x", wrt="x"))
    >>> print(d["result"], d["shape"], d["variables"]["A"]["shape"])
    (A + A')*x ['n', 1] ['n', 'n']
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import expr as E
from .check.claims import counterexample_one_based
from .emit.latex import to_latex
from .emit.text import to_text


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


def dim_to_json(d) -> int | str:
    """One size: an int when it is a number, else its name (or product text such as ``"m*n"``).

        >>> import sympy
        >>> dim_to_json(sympy.Integer(3)), dim_to_json(sympy.Symbol("n"))
        (3, 'n')
    """
    return int(d) if getattr(d, "is_Integer", False) or isinstance(d, int) else E.fmt_dim(d)


def shape_to_list(shape) -> list:
    """A shape as a list of ints or names; a scalar (1 x 1) is ``[]``.

        >>> import sympy
        >>> shape_to_list((sympy.Symbol("n"), sympy.Integer(1))), shape_to_list((1, 1))
        (['n', 1], [])
    """
    out = [dim_to_json(d) for d in shape]
    return [] if out == [1, 1] else out


def variables_to_dict(variables: dict) -> dict:
    """{name: {"shape": [...], "assume": [...]}} for the variables of an expression (dimension names left out).

        >>> import matcalc
        >>> variables_to_dict(matcalc.parse("x'*A*x").variables)["x"]
        {'shape': ['n', 1], 'assume': []}
    """
    return {n: {"shape": shape_to_list(v.shape), "assume": sorted(v.assume)}
            for n, v in variables.items() if "dimension" not in v.assume}


def counterexample_to_dict(ce: dict | None) -> dict | None:
    """A counterexample with its entry index 1-based (as ``Verdict.to_dict()`` gives it).

        >>> counterexample_to_dict({"dims": {"n": 3}, "entry": [0, 2], "expected": 1.0, "claimed": 2.0})
        {'dims': {'n': 3}, 'entry': [1, 3], 'expected': 1.0, 'claimed': 2.0}
    """
    return counterexample_one_based(ce)


def report_to_dict(report) -> dict:
    """A verification report: every check an object, every trial its dims.

        >>> import matcalc
        >>> r = report_to_dict(matcalc.derive("sum(exp(x))", wrt="x").verify())
        >>> r["ok"], sorted(r["trials"][0]["checks"][0])
        (True, ['error', 'method'])
    """
    return {
        "ok": report.ok,
        "function": report.function,
        "wrt": report.wrt,
        "layout": report.layout,
        "kind": report.kind,
        "method": report.method,
        "tolerance": report.tolerance,
        "max_rel_error": report.max_rel_error,
        "trials": [{"dims": dict(t.dims), "max_rel_error": t.max_rel_error,
                    "checks": [{"method": m, "error": err} for m, err in t.checks]} for t in report.trials],
        "explicit": report.explicit,
    }


def derivative_to_dict(d, report=None) -> dict:
    """A derivative: its text (which parses back), LaTeX, shapes and notes; the report when given.

        >>> import matcalc
        >>> out = derivative_to_dict(matcalc.hessian("x'*A*x", wrt="x"))
        >>> out["kind"], out["order"], out["shape"], out["result"]
        ('hessian', 2, ['n', 'n'], "A + A'")
    """
    out: dict[str, Any] = {
        "function": to_text(d.function),
        "wrt": d.wrt.name,
        "kind": d.kind,
        "order": d.order,
        "layout": d.layout,
        "shape": shape_to_list(d.result.shape),
        "result": to_text(d.result),
        "latex": to_latex(d.result),
        "variables": variables_to_dict(d.variables),
        "notes": list(d.notes),
    }
    out["numpy"] = d.to_numpy().source
    if report is not None:
        out["verification"] = report_to_dict(report)
    return finite(out)


def both_layouts_to_dict(d, report=None) -> dict:
    """Both layouts of one derivative, each labelled: ``{"denominator": {...}, "numerator": {...}}``.

        >>> import matcalc
        >>> out = both_layouts_to_dict(matcalc.derive("x'*A*x", wrt="x"))
        >>> print(out["numerator"]["result"], "|", out["denominator"]["result"])
        x'*(A + A') | (A + A')*x
    """
    return {lay: derivative_to_dict(d.in_layout(lay), report if lay == d.layout else None)
            for lay in ("denominator", "numerator")}


def verdict_to_dict(v) -> dict:
    """A check's verdict: the tags, the counterexample (1-based entry) and the expected derivative.

        >>> import matcalc
        >>> out = verdict_to_dict(matcalc.check("tr(W'*W)", wrt="W", claimed="W"))
        >>> out["correct"], out["mistake"], out["factor"], out["expected"]["result"]
        (False, 'factor', '1/2', '2*W')
    """
    return finite({
        "correct": v.correct,
        "mistake": v.mistake,
        "mistakes": list(v.mistakes),
        "message": v.message,
        "summary": v.summary,
        "layout": v.layout,
        "requested_layout": v.requested_layout,
        "method": v.method,
        "proof": v.proof,
        "claimed": to_text(v.claimed),
        "claimed_latex": to_latex(v.claimed),
        "expected": derivative_to_dict(v.expected),
        "factor": None if v.factor is None else str(v.factor),
        "counterexample": counterexample_to_dict(v.counterexample),
        "shapes_checked": v.shapes_checked,
        "tolerance": v.tolerance,
        "max_error": v.max_error,
        "notes": list(v.notes),
        "explanation": v.explain("text"),
        "explanation_latex": v.explain("latex"),
    })


def step_to_dict(s) -> dict:
    """One step of a derivation (its line number is 1-based, as in the file)."""
    return {"line": s.line, "text": s.text.strip(), "kind": s.kind, "status": s.status, "method": s.method,
            "message": s.message, "mistake": s.mistake,
            "value": to_text(s.value) if s.value is not None else None,
            "counterexample": counterexample_to_dict(s.counterexample)}


def steps_to_dict(r) -> dict:
    """A derivation's report: whether every step follows, the first wrong line, and each step.

        >>> import matcalc
        >>> out = steps_to_dict(matcalc.check_steps(["tr(W'*W)", "= 3*tr(W'*W)"], wrt="W"))
        >>> out["ok"], out["first_wrong_line"], [s["status"] for s in out["steps"]]
        (False, 2, ['start', 'wrong'])
    """
    return finite({"ok": r.ok, "first_wrong_line": r.line, "steps": [step_to_dict(s) for s in r.steps],
                   "variables": variables_to_dict(r.variables), "explanation": r.explain()})


def explanation_to_dict(ex) -> dict:
    """A derivation by differentials: each line with its reason, the whole in text and LaTeX, and the result.

        >>> import matcalc
        >>> out = explanation_to_dict(matcalc.explain("normF(W)^2", wrt="W"))
        >>> out["result"]["result"], out["agrees"], out["lines"][0]["text"]
        ('2*W', True, 'f = normF(W)^2')
    """
    lines = []
    for ln in ex.lines:
        reason = ln.reason[0] if ln.lhs != "#" and ln.reason else ""
        lines.append({"text": ex.render_text(ln), "reason": reason})
    return finite({
        "function": to_text(ex.function),
        "wrt": ex.wrt.name,
        "layout": ex.layout,
        "lines": lines,
        "text": ex.text(),
        "latex": ex.latex(),
        "agrees": ex.agrees,
        "result": derivative_to_dict(ex.result),
    })


def error_to_dict(e: BaseException) -> dict:
    """One of matcalc's errors as ``{"error": one line, "column": n or None}`` (column 1-based), plus
    ``input``, the text the column points into, when the error knows it.

        >>> import matcalc
        >>> try:
        ...     matcalc.parse("x'*A*")
        ... except matcalc.ParseError as e:
        ...     error_to_dict(e)["column"]
        6
    """
    message = " ".join(str(e).split()) or type(e).__name__
    column = getattr(e, "column", None)
    if column is None:
        m = _COLUMN.search(message)
        column = int(m.group(1)) if m else None
    out = {"error": message, "column": column}
    text = getattr(e, "text", "")
    if column is not None and isinstance(text, str) and text:
        out["input"] = text
    return out
