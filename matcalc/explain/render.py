"""Rendering a derivation: differential placeholders, its lines, and the Explanation that prints them
as text and LaTeX."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import expr as E
from ..api import Derivative
from ..emit.latex import name_latex, to_latex
from ..emit.text import to_text


class _Names:
    """Placeholder variables for d(node) and dX, printed as such in text and LaTeX."""

    def __init__(self, X: E.Var, taken: set = frozenset()):
        self.X = X
        self.taken = set(taken)  # every name the printed text may hold: a placeholder is none of them
        self.dX = E.Var(self.fresh("DIFFX"), X.rows, X.cols)
        self.nodes: dict = {}  # placeholder var -> node
        self.by_node: dict = {}

    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self.taken:
            name, i = f"{base}{i}", i + 1
        self.taken.add(name)
        return name

    def d(self, node: E.Expr) -> E.Expr:
        if node == self.X:
            return self.dX
        v = self.by_node.get(node)
        if v is None:
            v = E.Var(self.fresh(f"Dplh{len(self.nodes)}"), node.rows, node.cols)
            self.nodes[v] = node
            self.by_node[node] = v
        return v

    def text(self, e: E.Expr) -> str:
        s = to_text(e)
        for v in sorted(self.nodes, key=lambda v: -len(v.name)):
            s = re.sub(rf"\b{v.name}\b", "d(" + to_text(self.nodes[v]) + ")", s)
        return re.sub(rf"\b{self.dX.name}\b", "d" + self.X.name, s)

    def latex(self, e: E.Expr) -> str:
        s = to_latex(e)
        for v in sorted(self.nodes, key=lambda v: -len(v.name)):
            s = s.replace(name_latex(v.name), r"\,\mathrm{d}\left[" + to_latex(self.nodes[v]) + r"\right]\,")
        # spaced, so that A dX B does not render as AdXB
        s = s.replace(name_latex(self.dX.name), r"\,d" + name_latex(self.X.name) + r"\,")
        return _thin_spaces(s)


def _thin_spaces(s: str) -> str:
    r"""One ``\,`` on each side of a differential (``A\,dX\,B``), none next to a bracket, a script or an end."""
    s = re.sub(r"\s*(?:\\,\s*)+", r"\\,", s)
    s = re.sub(r"^\\,|\\,$", "", s)
    s = re.sub(r"(\\left[(\[]|\\left\\\{|[(\[{])\\,", r"\1", s)
    return re.sub(r"\\,(?=\\right|[)\]}^_]|\s*&|\s*\\\\)", "", s)


@dataclass
class Line:
    lhs: str  # 'f', 'df', '' (continuation)
    expr: E.Expr | None
    reason: tuple = ()  # (text, latex)
    raw_text: str = ""  # used instead of expr when set
    raw_latex: str = ""
    scale: E.Expr | None = None  # a constant factor written in front: scale*(body)


@dataclass
class Explanation:
    """A derivation by differentials; ``text()`` and ``latex()`` render it.

    ``result`` is the engine's verified :class:`~matcalc.api.Derivative` in the
    requested layout; ``G`` the gradient read off the differential (denominator
    layout) and ``agrees`` whether it matched the engine numerically.
    """

    function: E.Expr
    wrt: E.Var
    layout: str
    result: Derivative
    lines: list
    names: _Names
    G: E.Expr | None = None
    agrees: bool = False
    rules: list = field(default_factory=list)
    fallback: str = ""

    def render_text(self, ln: Line) -> str:
        """One line of the derivation as plain text, without its reason."""
        if ln.lhs == "#":
            return ln.raw_text
        body = ln.raw_text or self.names.text(ln.expr)
        if ln.scale is not None:
            body = _scaled(to_text(ln.scale), body, _is_sum(ln), "*({})", "({})*")
        lhs = {"f": "f = ", "df": "df = ", "G": "G = "}.get(ln.lhs, "  = ")
        return f"{lhs}{body}"

    def text(self) -> str:
        """The derivation in plain text; long subexpressions get names (let u = ...) to keep lines short."""
        rows = [(self.render_text(ln), f"[{ln.reason[0]}]" if ln.lhs != "#" and ln.reason and ln.reason[0] else "")
                for ln in self.lines]
        lets = self._let_names([body for body, _ in rows[1:]])
        out = [rows[0][0]] + [f"  let {name} = {sub}" for name, sub in lets]
        for body, why in rows[1:]:
            for name, sub in lets:
                body = _name_sub(body, sub, name)
            if why and len(body) + 4 + len(why) > MAX_LINE:  # the reason on a line of its own, or one per rule
                out += [body] + ([f"        {why}"] if len(why) + 8 <= MAX_LINE else
                                 [f"        [{part}]" for part in why[1:-1].split("; ")])
            else:
                out.append(f"{body}    {why}" if why else body)
        out.append(f"In {self.layout} layout: df/d{self.wrt.name} = {self.result.text()}")
        return "\n".join(out)

    def _let_names(self, bodies: list) -> list:
        """(name, subexpression) pairs that bring the long lines under MAX_LINE characters, best first."""
        taken = set(self.result.variables) | {self.wrt.name} | {str(s) for v in self.result.variables.values()
                                                                  for d in v.shape for s in d.free_symbols}
        free = [c for c in "uvrqstzh" if c not in taken]
        subs = sorted({to_text(n) for n in E.walk(self.function) if n.children},
                      key=len, reverse=True)
        subs = [t for t in subs if len(t) >= 7 and t != to_text(self.function)]
        lets: list = []
        while free and any(len(b) > MAX_LINE for b in bodies) and len(lets) < 3:
            long = [b for b in bodies if len(b) > MAX_LINE]
            best = max(subs, key=lambda t: sum(b.count(t) for b in long) * (len(t) - 1), default=None)
            if best is None or not any(best in b for b in long):
                break
            name = free.pop(0)
            lets.append((name, best))
            bodies = [_name_sub(b, best, name) for b in bodies]
            subs = [_name_sub(t, best, name) for t in subs if t != best]
        return lets

    def latex(self) -> str:
        x = name_latex(self.wrt.name)
        rows = []
        for ln in self.lines:
            if ln.lhs == "#":
                rows.append(rf"& \text{{{_esc(ln.raw_text)}}}" if not ln.raw_latex else rf"& \text{{{ln.raw_latex}}}")
                continue
            body = ln.raw_latex or self.names.latex(ln.expr)
            if ln.scale is not None:
                body = _scaled(to_latex(ln.scale), body, _is_sum(ln), r" \left({}\right)", r"\left({}\right) ")
            lhs = {"f": "f", "df": "df", "G": "G"}.get(ln.lhs, "")
            why = ""
            if ln.reason:
                why = rf" && {ln.reason[1]}" if ln.reason[1] else rf" && \text{{{_esc(ln.reason[0])}}}"
            rows.append(rf"{lhs} &= {body}{why}")
        rows.append(rf"\frac{{\partial f}}{{\partial {x}}} &= {self.result.latex()}"
                    rf" && \text{{({self.layout} layout)}}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def __str__(self) -> str:
        return self.text()


def _name_sub(text: str, sub: str, name: str) -> str:
    """text with the subexpression sub written as name: (sub) and sub, but f(sub) keeps its parentheses."""
    text = re.sub(r"(?<![A-Za-z0-9_])\(" + re.escape(sub) + r"\)", name, text)
    return re.sub(r"(?<![A-Za-z0-9_.])" + re.escape(sub) + r"(?![A-Za-z0-9_])", name, text)


def _is_sum(ln: Line) -> bool:
    if ln.expr is not None:
        return isinstance(ln.expr, E.Add) or (isinstance(ln.expr, E.MatMul) and isinstance(ln.expr.args[0], E.Const)
                                              and ln.expr.args[0].value < 0)
    return " + " in ln.raw_text or " - " in ln.raw_text or ln.raw_text.startswith("-")


def _scaled(scale: str, body: str, paren_body: bool, body_fmt: str, scale_fmt: str) -> str:
    """scale*(body): the constant in front, parenthesised when it is not a single name or number."""
    if scale.strip() == "-1":
        return "-" + (body_fmt.lstrip("*").format(body).strip() if paren_body else body)
    s = scale if re.fullmatch(r"[A-Za-z0-9_\\{}]+", scale) else scale_fmt.format(scale).strip()
    if s.endswith("*") or s.endswith(" "):
        s = s.rstrip("* ")
    sep = "*" if body_fmt.startswith("*") else " "
    b = body_fmt.lstrip("*").format(body) if paren_body else body
    return f"{s}{sep}{b.strip()}"


MAX_LINE = 100  # characters of a line of the text derivation


def _esc(s: str) -> str:
    return s.replace("\\", "").replace("_", r"\_").replace("{", "").replace("}", "").replace("^", "")
