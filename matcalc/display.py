"""How results look in a notebook and at the prompt: compact reprs, HTML and LaTeX.

Without these, a verdict or a report is a dataclass dump of several kilobytes.
Each class gets a one-line ``__repr__`` and a rendered view for Jupyter:
``_repr_html_`` for :class:`~matcalc.check.Verdict`, :class:`~matcalc.verify.Report`
and :class:`~matcalc.check.StepsReport` (a short table, formulas in ``\\(...\\)``
so that the notebook typesets them), ``_repr_latex_`` for
:class:`~matcalc.explain.Explanation` (the derivation as an ``aligned`` block).

The functions are registered on the classes when this module is imported
(``import matcalc`` does), as the text printer registers ``Expr.__str__``.

>>> import matcalc
>>> v = matcalc.check("tr(W'*W)", wrt="W", claimed="W")
>>> print(repr(v))
<Verdict wrong (factor): missing factor 2: claimed / expected = 1/2 at every test point>
>>> "factor" in v._repr_html_() and len(v._repr_html_()) < 2000
True
"""

from __future__ import annotations

from html import escape

from .check import StepsReport, Verdict
from .emit.latex import to_latex
from .emit.text import to_text
from .explain import Explanation
from .verify import Report

MAX_REPR = 200  # characters of a one-line repr


def _clip(s: str, n: int = MAX_REPR) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _math(latex: str) -> str:
    """Inline math for a notebook's HTML: typeset by MathJax or KaTeX, escaped for HTML."""
    return rf"\({escape(latex, quote=False)}\)"


def _rows(rows: list) -> str:
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th><td style='text-align:left'>{v}"
                   f"</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


# -- Verdict -----------------------------------------------------------------------------


def verdict_repr(v: Verdict) -> str:
    """``<Verdict correct ...>`` or ``<Verdict wrong (tag): message>``, one line."""
    return f"<Verdict {_clip(v.summary)}>"


def verdict_html(v: Verdict) -> str:
    """The verdict as a short HTML table: the judgement, the claim, the engine's answer, the counterexample."""
    d = v.expected
    mark = "&#10003; correct" if v.correct else f"&#10007; wrong ({escape(', '.join(v.mistakes))})"
    rows = [("verdict", f"<b>{mark}</b>: {escape(v.message if not v.correct else v.method)}"),
            ("claimed", _math(to_latex(v.claimed))),
            (f"expected ({d.layout})", _math(d.latex()))]
    if v.layout is not None:
        rows.append(("layout of the answer", escape(v.layout)))
    if v.counterexample and "entry" in v.counterexample:
        ce = v.counterexample
        i, j = ce["entry"]
        dims = ", ".join(f"{k}={n}" for k, n in sorted(ce["dims"].items()))
        rows.append(("counterexample", escape(f"at {dims}, entry ({i + 1},{j + 1}): expected {ce['expected']:.6g}, "
                                              f"claimed {ce['claimed']:.6g}")))
    rows += [("note", escape(n)) for n in v.notes]
    lhs = rf"\frac{{\partial}}{{\partial {to_latex(d.wrt)}}}\left({to_latex(d.function)}\right)"
    return f"<p>{_math(lhs)}</p>" + _rows(rows)


# -- Report ------------------------------------------------------------------------------


def report_repr(r: Report) -> str:
    """``<Report verified: gradient of f wrt x, max relative error 3e-11 at 3 shapes>``."""
    state = "verified" if r.ok else "FAILED"
    return (f"<Report {state}: {r.kind} of {_clip(r.function, 80)} wrt {r.wrt} ({r.layout} layout), "
            f"max relative error {r.max_rel_error:.1e} at {len(r.trials)} shapes>")


def report_html(r: Report) -> str:
    """What was checked: one row per shape, with its largest error, and the symbolic second opinion."""
    rows = [("result", f"<b>{'&#10003; verified' if r.ok else '&#10007; FAILED'}</b>: {escape(r.kind)} of "
                       f"<code>{escape(r.function)}</code> wrt <code>{escape(r.wrt)}</code> ({escape(r.layout)} layout)"),
            ("method", escape(f"{r.method}; tolerance {r.tolerance:g}"))]
    for t in r.trials:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(t.dims.items())) or "no dimensions"
        rows.append((f"shapes {dims}", escape(f"max relative error {t.max_rel_error:.1e}")))
    rows.append(("second opinion", escape(r.explicit)))
    return _rows(rows)


# -- StepsReport -------------------------------------------------------------------------


def steps_repr(r: StepsReport) -> str:
    """``<StepsReport all 4 steps follow>`` or ``<StepsReport line 3 does not follow: ...>``."""
    if r.ok:
        return f"<StepsReport all {len(r.steps)} steps follow>"
    s = r.first_wrong
    return f"<StepsReport line {s.line} does not follow: {_clip(s.message, 120)}>"


def steps_html(r: StepsReport) -> str:
    """One row per step: its line, its status (the wrong one in bold) and its text."""
    body = []
    for s in r.steps:
        status = f"<b style='color:#b00'>{escape(s.status)}</b>" if s.status == "wrong" else escape(s.status)
        why = f"<br><small>{escape(s.message)}</small>" if s.message else ""
        body.append(f"<tr><td>{s.line}</td><td>{status}</td><td style='text-align:left'><code>{escape(s.text.strip())}"
                    f"</code>{why}</td></tr>")
    head = "every step follows" if r.ok else f"line {r.line} does not follow from the line before"
    return f"<p><b>{escape(head)}</b></p><table><tr><th>line</th><th>status</th><th>step</th></tr>{''.join(body)}</table>"


# -- Explanation -------------------------------------------------------------------------


def explanation_repr(ex: Explanation) -> str:
    """``<Explanation of d/dW normF(W)^2: 2*W (denominator layout), 5 lines>``."""
    return (f"<Explanation of d/d{ex.wrt.name} {_clip(to_text(ex.function), 80)}: {_clip(ex.result.text(), 80)} "
            f"({ex.layout} layout), {len(ex.lines)} lines>")


def explanation_latex(ex: Explanation) -> str:
    """The derivation as display math, for Jupyter."""
    return f"$${ex.latex()}$$"


def _register() -> None:
    Verdict.__repr__ = verdict_repr
    Verdict._repr_html_ = verdict_html
    Report.__repr__ = report_repr
    Report._repr_html_ = report_html
    StepsReport.__repr__ = steps_repr
    StepsReport._repr_html_ = steps_html
    Explanation.__repr__ = explanation_repr
    Explanation._repr_latex_ = explanation_latex


_register()
