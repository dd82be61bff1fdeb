r"""LaTeX: one printer per node type; an unknown node raises.

Notation: A^{\top} for every transpose, X^{-\top} for an inverse transpose,
\odot for the elementwise product, \otimes for Kronecker, \operatorname{tr},
\operatorname{diag}, \operatorname{softmax}, \sigma for the logistic function.
"""

from __future__ import annotations

from fractions import Fraction

from .. import expr as E
from ..functions import FUNCTIONS
from .text import ATOM, MUL, NEG, POST, POW, PrinterError, _scalar_fraction, sum_printer

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}
ALIASES = {"lam": r"\lambda", "lambd": r"\lambda", "eps": r"\epsilon"}


def name_latex(name: str) -> str:
    if name in GREEK:
        return "\\" + name
    if name in ALIASES:
        return ALIASES[name]
    base, digits = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
    if digits and base:
        return f"{name_latex(base)}_{{{digits}}}"
    if "_" in name:
        b, sub = name.split("_", 1)
        return f"{name_latex(b)}_{{{sub}}}"
    if len(name) == 1:
        return name
    return rf"\mathit{{{name}}}"


def _dim(d) -> str:
    import sympy

    return sympy.latex(d)


def _num(v) -> str:
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return str(v.numerator)
        return rf"\frac{{{v.numerator}}}{{{v.denominator}}}"
    return repr(v)


def _paren(s: str, p: int, need: int) -> str:
    return rf"\left({s}\right)" if p < need else s


def _fn(op):
    return lambda e, pr: (rf"{op}\left({pr(e.children[0])[0]}\right)", ATOM)


def _matmul(e: E.MatMul, pr):
    fs = list(e.args)
    c = Fraction(1)
    if isinstance(fs[0], E.Const):
        if isinstance(fs[0].value, Fraction):
            c = fs[0].value
            fs = fs[1:]
        else:
            rest = E.matmul(*fs[1:]) if len(fs) > 2 else fs[1]
            return rf"{_num(fs[0].value)} {_paren(*pr(rest), MUL + 1)}", MUL
    scal = [f for f in fs if f.is_scalar]
    chain = [f for f in fs if not f.is_scalar]
    num, den = _scalar_fraction(c, scal, pr)
    sign = "-" if c < 0 else ""
    c = abs(c)
    out = []
    if den or c.denominator != 1:
        nt = " ".join(([str(c.numerator)] if c.numerator != 1 or not num else []) + [_paren(*pr(x), MUL) for x in num]) or "1"
        dt = " ".join(([str(c.denominator)] if c.denominator != 1 else []) + [_paren(*pr(x), POW) for x in den])
        if len(chain) == 1 and nt == "1":
            return sign + rf"\frac{{{pr(chain[0])[0]}}}{{{dt}}}", (NEG if sign else MUL)
        out.append(rf"\frac{{{nt}}}{{{dt}}}")
    else:
        if c != 1:
            out.append(str(c.numerator))
        for x in num:
            s, p = pr(x)
            out.append(rf"\left({s}\right)" if isinstance(x, E.MatMul) or p <= MUL else s)
    for x in chain:
        out.append(_paren(*pr(x), MUL + 1))
    return sign + " ".join(out), (NEG if sign else MUL)


def _sup(base: E.Expr, sup: str, pr):
    s, p = pr(base)
    return rf"{_paren(s, p, ATOM)}^{{{sup}}}", POST


def _transpose(e, pr):
    a = e.args[0]
    if isinstance(a, E.Inverse):
        return _sup(a.args[0], r"-\top", pr)
    return _sup(a, r"\top", pr)


def _power(e: E.Power, pr):
    b, p = e.args
    ps = pr(p)[0]
    if b.is_scalar and isinstance(p, E.Const) and isinstance(p.value, Fraction) and p.value < 0:
        inv = b if p.value == -1 else E.power(b, E.const(-p.value))
        return rf"\frac{{1}}{{{pr(inv)[0]}}}", ATOM
    if b.is_scalar:
        if isinstance(p, E.Const) and p.value == Fraction(1, 2):
            return rf"\sqrt{{{pr(b)[0]}}}", ATOM
        return _sup(b, ps, pr)[0], POW
    return _sup(b, rf"\circ {ps}", pr)[0], POW


def _norm(sub):
    def f(e, pr):
        a = e.arg
        s = sub if sub != "2" or a.cols == 1 or a.rows == 1 else "F"
        return rf"\left\lVert {pr(a)[0]} \right\rVert_{{{s}}}", ATOM

    return f


def _apply(e: E.Apply, pr):
    return FUNCTIONS[e.fname].latex.format(pr(e.arg)[0]), ATOM


def _ones(e, pr):
    if e.cols == 1:
        return rf"\mathbf{{1}}_{{{_dim(e.rows)}}}", ATOM
    if e.rows == 1:
        return rf"\mathbf{{1}}_{{{_dim(e.cols)}}}^{{\top}}", POST
    return rf"\mathbf{{1}}_{{{_dim(e.rows)} \times {_dim(e.cols)}}}", ATOM


def _const(e, pr):
    v = e.value
    if isinstance(v, Fraction) and v < 0:
        return "-" + _num(-v), NEG
    return _num(v), ATOM


PRINTERS = {
    E.Var: lambda e, pr: (name_latex(e.name), ATOM),
    E.Const: _const,
    E.Identity: lambda e, pr: (rf"I_{{{_dim(e.rows)}}}", ATOM),
    E.Ones: _ones,
    E.Zero: lambda e, pr: (rf"0_{{{_dim(e.rows)} \times {_dim(e.cols)}}}", ATOM),
    E.Commutation: lambda e, pr: (rf"K_{{{_dim(e.args[0])},{_dim(e.args[1])}}}", ATOM),
    E.Add: sum_printer(_paren),
    E.MatMul: _matmul,
    E.Hadamard: lambda e, pr: (r" \odot ".join(_paren(*pr(f), MUL + 1) for f in e.args), MUL),
    E.Kron: lambda e, pr: (r" \otimes ".join(_paren(*pr(f), MUL + 1) for f in e.args), MUL),
    E.Transpose: _transpose,
    E.Inverse: lambda e, pr: _sup(e.args[0], "-1", pr),
    E.MatPow: lambda e, pr: _sup(e.args[0], str(e.args[1]) if isinstance(e.args[1], int) else _dim(e.args[1]), pr),
    E.Power: _power,
    E.Apply: _apply,
    E.Det: _fn(r"\det"),
    E.LogDet: _fn(r"\log\det"),
    E.Trace: _fn(r"\operatorname{tr}"),
    E.Sum: _fn(r"\operatorname{sum}"),
    E.Norm1: _norm("1"),
    E.Norm2: _norm("2"),
    E.Diag: _fn(r"\operatorname{diag}"),
    E.DiagOf: _fn(r"\operatorname{diag}"),
    E.Vec: _fn(r"\operatorname{vec}"),
    E.Unvec: lambda e, pr: (rf"\operatorname{{vec}}^{{-1}}_{{{_dim(e.rows)} \times {_dim(e.cols)}}}\left({pr(e.arg)[0]}\right)", ATOM),
    E.Softmax: _fn(r"\operatorname{softmax}"),
    E.LogSumExp: _fn(r"\operatorname{logsumexp}"),
}


def _print(e: E.Expr):
    try:
        fn = PRINTERS[type(e)]
    except KeyError:
        raise PrinterError(f"no LaTeX printer for {type(e).__name__}") from None
    return fn(e, _print)


def to_latex(e: E.Expr) -> str:
    """``e`` as LaTeX."""
    return _print(e)[0]
