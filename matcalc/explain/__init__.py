r"""Explanations: the derivation a teacher would write, by differentials.

``explain(f, wrt)`` narrates the engine's rules as a chain of differentials:

1. **the function**, rewritten into trace form where that is the textbook move
   (``||W||_F^2 = tr(W'W)``, ``||u||^2 = u'u``; a scalar equals its own trace);
2. **the differential**, expanded one level at a time with the rules of
   :data:`DIFFERENTIALS` (one entry per node type: the product rule
   ``d(AB) = dA B + A dB`` written once for matrix, elementwise and Kronecker
   products, ``d tr(A) = tr(dA)``, ``d f(U) = f'(U) .* dU``,
   ``d det X = det X tr(X^-1 dX)``, ``d X^-1 = -X^-1 dX X^-1``, ...);
3. **the trace trick**: each term is brought to the form ``tr(G' dX)`` with
   ``tr(ABC) = tr(CAB)``, ``tr(A') = tr(A)``, ``sum(A .* B) = tr(A'B)`` and
   "a scalar equals its own trace";
4. **read off** ``df = tr(G' dX)  =>  df/dX = G`` (denominator layout), then the
   transpose for numerator layout.

The G obtained this way is cross-checked numerically against the engine's
verified :func:`matcalc.derive` result; the explanation always ends with the
engine's result, and says so plainly when the narration could not be
reconciled with it.

>>> ex = explain("normF(W)^2", wrt="W")
>>> print(ex.text().splitlines()[1])
  = tr(W'*W)    [||U||_F^2 = tr(U'U)]
>>> ex.text().splitlines()[-1]
'In denominator layout: df/dW = 2*W'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from . import expr as E
from .budget import guarded
from .api import Derivative, check_layout, derive
from .rules import UnsupportedError, adjoint
from .emit.latex import name_latex, to_latex
from .emit.text import to_text
from .evaluate import MIN_TRIALS, Points, compare, parse_function, substitute
from .functions import FUNCTIONS
from .simplify import flip, is_symmetric, simplify

__all__ = ["explain", "Explanation", "DIFFERENTIALS", "TRACE_FORMS"]


# ---------------------------------------------------------------------------------
# The table of differential rules: one entry per node type
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRule:
    """d(node) from the node and the differentials of its children (None for a constant child)."""

    text: str
    latex: str
    apply: Callable[[E.Expr, list], E.Expr]


def _product(ctor):
    def rule(node, ds):
        terms = []
        for i, d in enumerate(ds):
            if d is None:
                continue
            args = list(node.args)
            args[i] = d
            terms.append(ctor(*args))
        return E.add(*terms)

    return rule


def _unary(ctor):
    return lambda node, ds: ctor(ds[0])


def _power_rule(node, ds):
    a, p = node.args
    da, dp = ds
    terms = []
    if not p.is_scalar:  # an exponent matrix, entry by entry: d U.^P = P .* U.^(P-1) .* dU + U.^P .* log(U) .* dP
        if da is not None:
            terms.append(E.hadamard(p, E.power(a, E.sub(p, E.Ones(*p.shape))), da))
        if dp is not None:
            terms.append(E.hadamard(node, E.apply("log", a), dp))
        return E.add(*terms)
    if da is not None:
        pm1 = E.power(a, E.add(p, E.const(-1)))
        terms.append(E.matmul(p, pm1, da) if a.is_scalar else E.matmul(p, E.hadamard(pm1, da)))
    if dp is not None:
        terms.append(E.matmul(dp, E.hadamard(node, E.apply("log", a))) if not a.is_scalar
                     else E.matmul(node, E.apply("log", a), dp))
    return E.add(*terms)


def _apply_rule(node, ds):
    fprime = FUNCTIONS[node.fname].derivative(node.arg)
    return E.hadamard(fprime, ds[0]) if not node.is_scalar else E.matmul(fprime, ds[0])


def _softmax_rule(node, ds):
    k = node.rows
    sd = E.hadamard(node, ds[0])
    ones = E.matmul(E.Ones(k, 1), E.Ones(1, k)) if k != 1 else E.ONE_S
    return E.sub(sd, E.hadamard(node, E.matmul(ones, sd)))


def _lse_rule(node, ds):
    Z = node.arg
    row = E.Ones(1, Z.rows) if Z.rows != 1 else E.ONE_S
    return E.matmul(row, E.hadamard(E.softmax(Z), ds[0]))


def _norm2_rule(node, ds):
    X, d = node.arg, ds[0]
    inner = E.matmul(E.transpose(X), d) if X.cols == 1 else E.trace(E.matmul(E.transpose(X), d))
    return E.matmul(E.power(node, E.const(-1)), inner)


def _matpow_rule(node, ds):
    X, k = node.args
    if not isinstance(k, int):
        raise UnsupportedError(f"{node}: the differential of a matrix power with a symbolic exponent is a sum of "
                               f"{E.fmt_dim(k)} terms; it is not written out step by step")
    return E.add(*[E.matmul(E.matpow(X, r), ds[0], E.matpow(X, k - 1 - r)) for r in range(k)])


DIFFERENTIALS: dict[type, DiffRule] = {
    E.Add: DiffRule("d(A + B) = dA + dB", r"d(A + B) = dA + dB",
                    lambda node, ds: E.add(*[d for d in ds if d is not None])),
    E.MatMul: DiffRule("product rule: d(AB) = dA B + A dB", r"d(AB) = dA\,B + A\,dB", _product(E.matmul)),
    E.Hadamard: DiffRule("product rule: d(A .* B) = dA .* B + A .* dB",
                         r"d(A \odot B) = dA \odot B + A \odot dB", _product(E.hadamard)),
    E.Kron: DiffRule("product rule: d(A kron B) = dA kron B + A kron dB",
                     r"d(A \otimes B) = dA \otimes B + A \otimes dB", _product(E.kron)),
    E.Transpose: DiffRule("d(A') = (dA)'", r"d(A^{\top}) = (dA)^{\top}", _unary(E.transpose)),
    E.Trace: DiffRule("d tr(A) = tr(dA)", r"d \operatorname{tr}(A) = \operatorname{tr}(dA)",
                      _unary(lambda d: E.Trace(d))),
    E.Sum: DiffRule("d sum(A) = sum(dA)", r"d \operatorname{sum}(A) = \operatorname{sum}(dA)", _unary(E.sum_)),
    E.Diag: DiffRule("d diag(u) = diag(du)", r"d \operatorname{diag}(u) = \operatorname{diag}(du)",
                     _unary(lambda d: E.Diag(d))),
    E.DiagOf: DiffRule("d diag(A) = diag(dA)", r"d \operatorname{diag}(A) = \operatorname{diag}(dA)",
                       _unary(E.diag_of)),
    E.Vec: DiffRule("d vec(A) = vec(dA)", r"d \operatorname{vec}(A) = \operatorname{vec}(dA)", _unary(E.vec)),
    E.Inverse: DiffRule("d inv(X) = -inv(X) dX inv(X)", r"d X^{-1} = -X^{-1}\,dX\,X^{-1}",
                        lambda node, ds: E.matmul(E.const(-1), node, ds[0], node)),
    E.Det: DiffRule("d det(X) = det(X) tr(inv(X) dX)",
                    r"d \det X = \det X \operatorname{tr}(X^{-1} dX)",
                    lambda node, ds: E.matmul(node, E.trace(E.matmul(E.inverse(node.arg), ds[0])))),
    E.LogDet: DiffRule("d logdet(X) = tr(inv(X) dX)", r"d \log\det X = \operatorname{tr}(X^{-1} dX)",
                       lambda node, ds: E.trace(E.matmul(E.inverse(node.arg), ds[0]))),
    E.MatPow: DiffRule("d X^k = sum_r X^r dX X^(k-1-r)", r"d X^k = \sum_r X^r\,dX\,X^{k-1-r}", _matpow_rule),
    E.Power: DiffRule("d U.^p = p U.^(p-1) .* dU", r"d U^{\circ p} = p\,U^{\circ (p-1)} \odot dU", _power_rule),
    E.Apply: DiffRule("chain rule for elementwise functions: d f(U) = f'(U) .* dU",
                      r"d f(U) = f'(U) \odot dU", _apply_rule),
    E.Softmax: DiffRule("d softmax(z) = (diag(s) - s s') dz, s = softmax(z)",
                        r"d \operatorname{softmax}(z) = (\operatorname{diag}(s) - s s^{\top})\,dz", _softmax_rule),
    E.LogSumExp: DiffRule("d logsumexp(z) = softmax(z)' dz",
                          r"d \operatorname{logsumexp}(z) = \operatorname{softmax}(z)^{\top} dz", _lse_rule),
    E.Norm1: DiffRule("d norm1(x) = sum(sign(x) .* dx)", r"d \lVert x \rVert_1 = \operatorname{sign}(x)^{\top} dx",
                      lambda node, ds: E.sum_(E.hadamard(E.apply("sign", node.arg), ds[0]))
                      if not node.arg.is_scalar else E.matmul(E.apply("sign", node.arg), ds[0])),
    E.Norm2: DiffRule("d ||X|| = tr(X' dX) / ||X||", r"d \lVert X \rVert = \operatorname{tr}(X^{\top} dX) / \lVert X \rVert",
                      _norm2_rule),
}


# ---------------------------------------------------------------------------------
# Rewriting the function into trace form
# ---------------------------------------------------------------------------------


def _squared_norm(e: E.Expr):
    if isinstance(e, E.Power) and isinstance(e.args[0], E.Norm2) and isinstance(e.args[1], E.Const) \
            and e.args[1].value == 2:
        U = e.args[0].arg
        if U.cols == 1:
            return E.matmul(E.transpose(U), U), "||u||^2 = u'u", r"\lVert u \rVert^2 = u^{\top} u"
        return E.trace(E.matmul(E.transpose(U), U)), "||U||_F^2 = tr(U'U)", \
            r"\lVert U \rVert_F^2 = \operatorname{tr}(U^{\top} U)"
    return None


TRACE_FORMS = [_squared_norm]


def trace_form(f: E.Expr) -> tuple[E.Expr, list]:
    """f with the rewrites of TRACE_FORMS applied everywhere, and the identities used."""
    used: list = []

    def go(n):
        kids = n.children
        if kids:
            new = [go(c) for c in kids]
            if any(a is not b for a, b in zip(new, kids)):
                n = n.rebuild(new)
        for rw in TRACE_FORMS:
            r = rw(n)
            if r is not None:
                if (r[1], r[2]) not in used:
                    used.append((r[1], r[2]))
                return r[0]
        return n

    return go(f), used


# ---------------------------------------------------------------------------------
# Printing with differentials
# ---------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------
# The derivation
# ---------------------------------------------------------------------------------


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


def split_scale(f: E.Expr, X: E.Var) -> tuple[E.Expr | None, E.Expr]:
    """f = c * g with c the scalar factors of f that do not depend on X (None when there are none)."""
    if isinstance(f, E.MatMul):
        const = [a for a in f.args if a.is_scalar and not E.contains(a, X)]
        rest = [a for a in f.args if not (a.is_scalar and not E.contains(a, X))]
        if const and rest:
            return E.matmul(*const), E.matmul(*rest)
    return None, f


def _depends(e: E.Expr, X: E.Var) -> bool:
    return E.contains(e, X)


def _expand_once(e: E.Expr, names: _Names, used: list) -> E.Expr:
    """Replace every d(node) placeholder in e by its rule, one level down."""
    mapping = {}
    for n in E.walk(e):
        if isinstance(n, E.Var) and n in names.nodes and n not in mapping:
            node = names.nodes[n]
            rule = DIFFERENTIALS.get(type(node))
            if rule is None:
                raise _Unnarrated(f"no differential rule for {type(node).__name__}")
            ds = [names.d(c) if _depends(c, names.X) else None for c in node.children]
            mapping[n] = rule.apply(node, ds)
            if (rule.text, rule.latex) not in used:
                used.append((rule.text, rule.latex))
    return substitute(e, mapping)


class _Unnarrated(Exception):
    pass


def _has_placeholder(e: E.Expr, names: _Names) -> bool:
    return any(isinstance(n, E.Var) and n in names.nodes for n in E.walk(e))


# -- distributing the differential into terms linear in dX -------------------------------


def distribute(e: E.Expr, dX: E.Var) -> list:
    """Summands of e (linear in dX), with sums containing dX multiplied out and transposes pushed in."""
    if not E.contains(e, dX):
        return []
    if e == dX:
        return [e]
    if isinstance(e, E.Add):
        return [t for a in e.args for t in distribute(a, dX)]
    if isinstance(e, (E.MatMul, E.Hadamard, E.Kron)):
        ctor = {E.MatMul: E.matmul, E.Hadamard: E.hadamard, E.Kron: E.kron}[type(e)]
        idx = [i for i, a in enumerate(e.args) if E.contains(a, dX)]
        if len(idx) != 1:
            raise _Unnarrated("not linear in the differential")
        i = idx[0]
        return [ctor(*e.args[:i], s, *e.args[i + 1:]) for s in distribute(e.args[i], dX)]
    if isinstance(e, E.Transpose):
        return [_push_t(s, dX) for s in distribute(e.args[0], dX)]
    if isinstance(e, (E.Trace, E.Sum, E.Diag, E.DiagOf, E.Vec)):
        ctor = {E.Trace: E.trace, E.Sum: E.sum_, E.Diag: lambda a: E.Diag(a), E.DiagOf: E.diag_of,
                E.Vec: E.vec}[type(e)]
        return [ctor(s) for s in distribute(e.arg, dX)]
    return [e]


def _push_t(s: E.Expr, dX: E.Var) -> E.Expr:
    """s' with the transpose pushed through products down to dX (other factors just transposed)."""
    if isinstance(s, E.MatMul):
        scal = [f for f in s.args if f.is_scalar]
        chain = [_push_t(f, dX) if E.contains(f, dX) else E.transpose(f)
                 for f in reversed([f for f in s.args if not f.is_scalar])]
        return E.matmul(*scal, *chain)
    if isinstance(s, E.Hadamard):
        return E.hadamard(*[_push_t(f, dX) if E.contains(f, dX) else E.transpose(f) for f in s.args])
    if isinstance(s, E.Transpose):
        return s.args[0]
    return E.transpose(s)


def split_term(t: E.Expr, dX: E.Var) -> tuple[E.Expr, E.Expr]:
    """t = coefficient * core, with the coefficient free of dX."""
    if isinstance(t, E.MatMul):
        scal = [f for f in t.args if f.is_scalar]
        chain = [f for f in t.args if not f.is_scalar]
        if any(E.contains(f, dX) for f in chain):
            return (E.matmul(*scal) if scal else E.ONE_S), E.matmul(*chain)
        inner = [f for f in scal if E.contains(f, dX)]
        if len(inner) == 1:
            rest = [f for f in t.args if f is not inner[0]]
            coef, core = split_term(inner[0], dX)
            return E.matmul(*(rest + [coef])) if rest else coef, core
    if isinstance(t, (E.Trace, E.Sum)) and isinstance(t.arg, E.MatMul):
        scal = [f for f in t.arg.args if f.is_scalar and not E.contains(f, dX)]
        if scal:
            rest = [f for f in t.arg.args if not (f.is_scalar and not E.contains(f, dX))]
            ctor = E.trace if isinstance(t, E.Trace) else E.sum_
            return E.matmul(*scal), ctor(E.matmul(*rest))
    return E.ONE_S, t


def trace_trick(core: E.Expr, dX: E.Var, depth: int = 0) -> tuple[E.Expr, list]:
    """(G, steps) with core = tr(G' dX); steps are (expr, (reason text, reason latex))."""
    if depth > 8:
        raise _Unnarrated("the trace trick did not settle")
    if core == dX:
        return E.ONE_S, []
    if isinstance(core, E.MatMul) and core.is_scalar and any(not f.is_scalar for f in core.args):
        t = E.Trace(core)
        G, steps = trace_trick(t, dX, depth + 1)
        return G, [(t, ("a scalar equals its own trace", r"a = \operatorname{tr}(a)"))] + steps
    if isinstance(core, (E.Trace, E.Sum)) and isinstance(core.arg, E.MatMul) and \
            any(f.is_scalar for f in core.arg.args):
        # tr(c A) = c tr(A), sum(c A) = c sum(A)
        scal = [f for f in core.arg.args if f.is_scalar]
        if any(E.contains(f, dX) for f in scal):
            raise _Unnarrated("a scalar factor inside a trace depends on the variable")
        rest = [f for f in core.arg.args if not f.is_scalar]
        c = E.matmul(*scal)
        inner = type(core)(E.matmul(*rest))
        G, steps = trace_trick(inner, dX, depth + 1)
        return E.matmul(c, G), [(E.matmul(c, s), why) for s, why in steps]
    if isinstance(core, E.Trace):
        M = core.arg
        fs = list(M.args) if isinstance(M, E.MatMul) else [M]
        idx = [i for i, f in enumerate(fs) if E.contains(f, dX)]
        if len(idx) != 1:
            raise _Unnarrated("not linear")
        i = idx[0]
        P, F, Q = fs[:i], fs[i], fs[i + 1:]
        if F == dX:
            if not Q:
                Gt = E.matmul(*P) if P else E.Identity(dX.rows)
                return flip(Gt), []
            new = E.Trace(E.matmul(*Q, *P, dX))
            Gt = E.matmul(*Q, *P)
            return flip(Gt), [(new, ("cyclic: tr(ABC) = tr(CAB)", r"\operatorname{tr}(ABC) = \operatorname{tr}(CAB)"))]
        if F == E.transpose(dX) and isinstance(F, E.Transpose):
            tq = [E.transpose(q) for q in reversed(Q)]
            tp = [E.transpose(p) for p in reversed(P)]
            s1 = E.Trace(E.matmul(*tq, dX, *tp)) if (tq or tp) else E.Trace(dX)
            steps = [(s1, ("tr(A') = tr(A)", r"\operatorname{tr}(A^{\top}) = \operatorname{tr}(A)"))]
            if tp:
                s2 = E.Trace(E.matmul(*tp, *tq, dX))
                steps.append((s2, ("cyclic: tr(ABC) = tr(CAB)", r"\operatorname{tr}(ABC) = \operatorname{tr}(CAB)")))
            Gt = E.matmul(*tp, *tq) if (tp or tq) else E.Identity(dX.rows)
            return flip(Gt), steps
        if isinstance(F, (E.Hadamard,)) or E.contains(F, dX):
            # tr(P F Q) = tr(Q P F) = sum((QP)' .* F)
            QP = E.matmul(*Q, *P) if (Q or P) else None
            if QP is None:
                raise _Unnarrated("trace of a non-product")
            s = E.Sum(E.hadamard(tflip(QP), F))
            G, steps = trace_trick(s, dX, depth + 1)
            return G, [(s, ("tr(A'B) = sum(A .* B)", r"\operatorname{tr}(A^{\top}B) = \operatorname{sum}(A \odot B)"))] + steps
    if isinstance(core, E.Sum):
        M = core.arg
        if M == dX:
            G = E.Ones(*dX.shape)
            return G, [(E.Trace(E.matmul(E.transpose(G), dX)), ("sum(A) = tr(1'A)", r"\operatorname{sum}(A) = \operatorname{tr}(\mathbf{1}^{\top} A)"))]
        if isinstance(M, E.Hadamard):
            idx = [i for i, f in enumerate(M.args) if E.contains(f, dX)]
            if len(idx) != 1:
                raise _Unnarrated("not linear")
            K = M.args[idx[0]]
            H = E.hadamard(*[f for j, f in enumerate(M.args) if j != idx[0]])
            t = E.Trace(E.matmul(E.transpose(H), K))
            reason = ("sum(A .* B) = tr(A'B)", r"\operatorname{sum}(A \odot B) = \operatorname{tr}(A^{\top} B)")
            if K == dX:
                return H, [(t, reason)]
            G, steps = trace_trick(t, dX, depth + 1)
            return G, [(t, reason)] + steps
        if isinstance(M, (E.MatMul, E.Transpose)) and not M.is_scalar:
            J = E.Ones(*M.shape)
            t = E.Trace(E.matmul(E.transpose(J), M))
            G, steps = trace_trick(t, dX, depth + 1)
            return G, [(t, ("sum(A) = tr(1'A)", r"\operatorname{sum}(A) = \operatorname{tr}(\mathbf{1}^{\top} A)"))] + steps
    raise _Unnarrated(f"no trace-trick form for {to_text(core)}")


TRICK = ("trace trick: tr(ABC) = tr(CAB), tr(A') = tr(A)",
         r"\operatorname{tr}(ABC) = \operatorname{tr}(CAB),\ \operatorname{tr}(A^{\top}) = \operatorname{tr}(A)")


def _read_off(df: E.Expr, dX: E.Var, names: _Names, lines: list, scale=None) -> tuple[E.Expr, E.Expr]:
    """Bring df to the form tr(G' dX), narrating each move into ``lines``; returns G."""
    terms = distribute(df, dX)
    if not terms:
        raise _Unnarrated("the differential is zero")
    if len(terms) > 1 and E.add(*terms) != df:
        lines.append(Line("", E.add(*terms), _distribute_reason(df, terms), scale=scale))
    parts = []  # (coefficient, G_i)
    for t in terms:
        coef, core = split_term(t, dX)
        G_i, steps = trace_trick(core, dX)
        G_i = simplify(G_i)
        parts.append((coef, G_i))
        if len(terms) == 1:
            for s, why in steps:
                lines.append(Line("", E.matmul(coef, s), why, scale=scale))
    canon = [E.matmul(c, E.Trace(E.matmul(tflip(g), dX))) for c, g in parts]
    if len(terms) > 1 and E.add(*canon) != E.add(*terms):
        lines.append(Line("", None, TRICK, raw_text=names.text(E.add(*canon)), raw_latex=names.latex(E.add(*canon)),
                          scale=scale))
    groups: dict = {}
    for c, g in parts:
        groups.setdefault(g, []).append(c)
    collected = [(simplify(add_terms(*cs)), g) for g, cs in groups.items()]
    if len(collected) < len(parts):
        body = E.add(*[E.matmul(c, E.Trace(E.matmul(tflip(g), dX))) for c, g in collected])
        lines.append(Line("", None, ("collect equal terms", r"\text{collect equal terms}"),
                          raw_text=names.text(body), raw_latex=names.latex(body), scale=scale))
    G = simplify(add_terms(*[E.matmul(c, g) for c, g in collected]))
    final = E.add(*[E.matmul(c, E.Trace(E.matmul(tflip(g), dX))) for c, g in collected])
    if len(collected) > 1:
        final = E.Trace(E.matmul(tflip(G), dX))
        lines.append(Line("", final,
                          ("linearity: sum of tr(G_i' dX) = tr((sum of G_i)' dX)",
                           r"\textstyle\sum_i \operatorname{tr}(G_i^{\top} dX) = "
                           r"\operatorname{tr}((\sum_i G_i)^{\top} dX)"), scale=scale))
    return G, final


TRANSPOSE_STEP = ("transpose of a product: (AB)' = B'A'", r"(AB)^{\top} = B^{\top} A^{\top}")
MULTIPLY_OUT = ("multiply out; tr and sum are linear", r"\text{linearity of } \operatorname{tr}")


def _transposed_products(e: E.Expr) -> int:
    return sum(isinstance(n, E.Transpose) and isinstance(n.args[0], E.MatMul) for n in E.walk(e))


def _distribute_reason(df: E.Expr, terms: list) -> tuple:
    """Why df becomes its terms: a transpose step, multiplying out, or both."""
    transposed = _transposed_products(df) > sum(_transposed_products(t) for t in terms)
    multiplied = len(terms) > len(df.args if isinstance(df, E.Add) else [df])
    if transposed and multiplied:
        return (f"{TRANSPOSE_STEP[0]}; {MULTIPLY_OUT[0]}", rf"{TRANSPOSE_STEP[1]},\ {MULTIPLY_OUT[1]}")
    return TRANSPOSE_STEP if transposed else MULTIPLY_OUT


def add_terms(*terms: E.Expr) -> E.Expr:
    """E.add, with every constant a fresh object (E.add counts one Const object passed twice twice)."""
    return E.add(*[E.Const(t.value) if isinstance(t, E.Const) else t for t in terms])


def tflip(e: E.Expr) -> E.Expr:
    """The transpose for display: (ABC)' = C'B'A' one level deep, sums kept whole."""
    if isinstance(e, E.MatMul):
        scal = [f for f in e.args if f.is_scalar]
        chain = [f if is_symmetric(f) else E.transpose(f) for f in reversed([f for f in e.args if not f.is_scalar])]
        return E.matmul(*scal, *chain)
    return e if is_symmetric(e) else E.transpose(e)


def _cross_check(G: E.Expr, engine: E.Expr, variables) -> bool:
    try:
        pts = Points(list(variables), engine if engine.is_scalar else E.sum_(engine), MIN_TRIALS, seed=1)
        return compare(pts.values(G), pts.values(engine)).equal
    except Exception:  # noqa: BLE001 - any failure to evaluate means "not confirmed"
        return False


MAX_STAGES = 8
MAX_LINE = 100  # characters of a line of the text derivation


def _simplified_reason(G: E.Expr, variables: dict) -> tuple:
    """Why G simplifies to the engine's form: for one-hot Y, the columns of Y sum to 1."""
    onehot = [v.name for v in variables.values() if "onehot" in v.assume and E.contains(G, v)]
    if onehot:
        y = onehot[0]
        return (f"the columns of {y} sum to 1 ({y} is one-hot), so 1 1'{y} is all ones and (1 1'{y}) .* S = S",
                rf"\text{{the columns of }} {name_latex(y)} \text{{ sum to 1 (one-hot), so }} "
                rf"\mathbf{{1}}\mathbf{{1}}^{{\top}} {name_latex(y)} = \mathbf{{1}}\mathbf{{1}}^{{\top}}")
    return ("the engine's simplified form", r"\text{simplified}")


@guarded
def explain(expr, wrt, layout: str = "denominator", shapes=None, assume=None) -> Explanation:
    """The derivation of the gradient of a scalar ``expr`` by differentials.

    >>> ex = explain("(lam/(2*m))*normF(W)^2", wrt="W")
    >>> "2*tr(W'*dW)" in ex.text()
    True
    >>> ex.result.text()
    '(lam/m)*W'
    """
    layout = check_layout(layout)
    p = parse_function(expr, shapes, assume)
    d = derive(p, wrt, layout=layout)
    X, f = d.wrt, d.function
    names = _Names(X, {n.name for n in E.walk(f) if isinstance(n, E.Var)}
                   | {str(s) for v in d.variables.values() for dd in v.shape for s in dd.free_symbols})
    dX = names.dX
    lines: list = [Line("f", f)]
    rules: list = []
    ex = Explanation(f, X, layout, d, lines, names, rules=rules)
    try:
        scale, g = split_scale(f, X)
        tf, used = trace_form(g)
        if tf != g:
            lines.append(Line("", E.matmul(scale, tf) if scale is not None else tf,
                              used[0] if len(used) == 1 else
                              ("; ".join(u[0] for u in used), r",\ ".join(u[1] for u in used))))
        if tf.is_scalar and isinstance(tf, E.MatMul) and any(not a.is_scalar for a in tf.args):
            tf = E.Trace(tf)
            lines.append(Line("", tf, ("a scalar equals its own trace", r"a = \operatorname{tr}(a)"), scale=scale))
        # the differential, one level at a time
        cur = names.d(tf)
        lines.append(Line("df", cur, ("constants factor out: d(cA) = c dA", r"d(cA) = c\,dA") if scale is not None
                          else (), scale=scale))
        stages = 0
        while _has_placeholder(cur, names):
            used_now: list = []
            cur = _expand_once(cur, names, used_now)
            rules.extend(u for u in used_now if u not in rules)
            stages += 1
            if stages > 40:
                raise _Unnarrated("the differential did not settle")
            reason = ("; ".join(u[0] for u in used_now), r",\ ".join(u[1] for u in used_now))
            if stages <= MAX_STAGES or not _has_placeholder(cur, names):
                lines.append(Line("", cur, reason, scale=scale))
        if not f.is_scalar:
            raise _Unnarrated("a non-scalar function: the Jacobian is read off vec(dF) = J vec(dX)")
        if X.is_scalar:
            G = simplify(adjoint(cur, dX, E.ONE_S, simplify))
            collected = E.matmul(G, dX)
            lines.append(Line("", collected, ("collect the terms in d" + X.name, ""), scale=scale))
        else:
            G, collected = _read_off(cur, dX, names, lines, scale)
        if scale is not None:
            last = lines[-1]
            new = Line("", E.matmul(scale, collected), ("multiply the constants", r"\text{multiply the constants}"))
            if ex.render_text(new) != ex.render_text(last):
                lines.append(new)
            G = simplify(E.matmul(scale, G))
        ex.G = G
        engine = d.denominator
        ex.agrees = _cross_check(G, engine, d.variables.values())
        if not ex.agrees:
            raise _Unnarrated("the narrated result does not match the engine numerically")
        xl = name_latex(X.name)
        if X.is_scalar:
            lines.append(Line("#", None, raw_text=f"read off: df = g d{X.name} means df/d{X.name} = g",
                              raw_latex=rf"read off: $df = g\,d{xl}$ means $\partial f / \partial {xl} = g$"))
        else:
            lines.append(Line("#", None, raw_text=f"read off: df = tr(G' d{X.name}) means df/d{X.name} = G "
                                                  "(denominator layout)",
                              raw_latex=rf"read off: $df = \operatorname{{tr}}(G^{{\top}} d{xl})$ means "
                                        rf"$\partial f / \partial {xl} = G$ (denominator layout)"))
        lines.append(Line("G", G))
        if simplify(G) != engine:
            lines.append(Line("", engine, _simplified_reason(G, d.variables)))
        if layout == "numerator":
            lines.append(Line("#", None, raw_text="numerator layout is the transpose",
                              raw_latex="numerator layout is the transpose"))
    except (_Unnarrated, E.ShapeError, KeyError, TypeError, RecursionError) as e:
        ex.fallback = str(e)
        ex.agrees = False
        lines.append(Line("#", None, raw_text=f"(the narration stops here: {e}; the engine's verified result "
                                              "follows)",
                          raw_latex=f"the narration stops here ({_esc(str(e))}); the engine's verified result follows"))
    return ex


def _esc(s: str) -> str:
    return s.replace("\\", "").replace("_", r"\_").replace("{", "").replace("}", "").replace("^", "")
