"""Building the derivation: expanding the differential, distributing it into terms linear in dX,
and the trace trick that reads off G from df = tr(G' dX)."""

from __future__ import annotations

from .. import expr as E
from ..emit.text import to_text
from ..evaluate import substitute
from ..simplify import flip, is_symmetric, simplify
from .differentials import DIFFERENTIALS
from .render import Line, _Names


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
