"""Write docs/rules.md from the rule tables (run: python docs/make_rules.py)."""

from __future__ import annotations

import importlib
import inspect
import pathlib

D = importlib.import_module("matcalc.rules")
S = importlib.import_module("matcalc.simplify")
from matcalc.functions import FUNCTIONS


def _doc(fn) -> str:
    d = inspect.getdoc(fn) or ""
    return " ".join(d.split()).replace("|", "\\|")


def render() -> str:
    out = ["# matcalc's rules", "",
           "Generated from the rule tables by `docs/make_rules.py`; a test keeps it current.", "",
           "## Derivative rules (`matcalc/rules.py`, reverse mode: the adjoint of each child)", "",
           "| node | rule |", "|---|---|"]
    seen = set()
    for t, fn in D.RULES.items():
        if fn in seen and fn.__name__ not in ("_product_rule", "_linear_rule"):
            continue
        seen.add(fn)
        doc = _doc(fn)
        if fn is D._product_rule:
            doc = f"product rule (written once): {_doc(D.SLOT_ADJOINT[t])}"
        if fn is D._linear_rule:
            doc = "linear: the adjoint is the transposed linear map"
        out.append(f"| {t.__name__} | {doc} |")
    out += ["", "## Elementwise functions (`matcalc/functions.py`)", "", "| function | derivative | domain | NumPy |", "|---|---|---|---|"]
    from matcalc import expr as E
    from matcalc.emit.text import to_text

    a = E.var("a", "n", 1)
    for f in FUNCTIONS.values():
        note = f" ({f.note})" if f.note else ""
        note = note.replace("|", "\\|")
        out.append(f"| {f.name} | `{to_text(f.derivative(a))}`{note} | {f.domain} | `{f.numpy.format('a')}` |")
    for title, table in (("Simplification rules (`matcalc/simplify/`, applied bottom-up to a fixed point)", S.RULES),
                         ("Rewrites before differentiation (`simplify.PREPARE`)", S.PREPARE)):
        out += ["", f"## {title}", "", "| node | rule | what it does |", "|---|---|---|"]
        for t, rules in table.items():
            for r in rules:
                out.append(f"| {t.__name__} | `{r.__name__}` | {_doc(r)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    path = pathlib.Path(__file__).with_name("rules.md")
    path.write_text(render())
    print(f"wrote {path}")
