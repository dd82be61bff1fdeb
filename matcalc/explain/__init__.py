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

The stages live in submodules: ``differentials`` (the rule table and the trace
forms), ``steps`` (expanding df and the trace trick) and ``render`` (the
:class:`Explanation` and its text and LaTeX); this module runs them in order.
"""

from __future__ import annotations

from .. import expr as E
from ..api import check_layout, derive
from ..budget import guarded
from ..emit.latex import name_latex
from ..evaluate import MIN_TRIALS, Points, compare, parse_function
from ..rules import adjoint
from ..simplify import simplify
from .differentials import DIFFERENTIALS, TRACE_FORMS, trace_form
from .render import Explanation, Line, _esc, _Names
from .steps import _expand_once, _has_placeholder, _read_off, _Unnarrated, split_scale

__all__ = ["explain", "Explanation", "DIFFERENTIALS", "TRACE_FORMS"]


def _cross_check(G: E.Expr, engine: E.Expr, variables) -> bool:
    try:
        pts = Points(list(variables), engine if engine.is_scalar else E.sum_(engine), MIN_TRIALS, seed=1)
        return compare(pts.values(G), pts.values(engine)).equal
    except Exception:  # noqa: BLE001 - any failure to evaluate means "not confirmed"
        return False


MAX_STAGES = 8


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
