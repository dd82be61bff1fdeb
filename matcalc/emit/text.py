"""Plain text in matcalc's input syntax; the output parses back to the same expression.

A dispatch table with one printer per node type; an unknown node raises.
"""

from __future__ import annotations

from fractions import Fraction

from .. import expr as E

# precedence: higher binds tighter
ADD, MUL, NEG, POW, POST, ATOM = 10, 20, 25, 30, 40, 50


class PrinterError(TypeError):
    pass


def _dim(d) -> str:
    return E.fmt_dim(d)


def _num(v) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    return repr(v)


def _paren(s: str, p: int, need: int) -> str:
    return f"({s})" if p < need else s


def _fn(name):
    return lambda e, pr: (f"{name}({pr(e.children[0])[0]})", ATOM)


def _scalar_fraction(c: Fraction, scal: list, pr) -> tuple[str, list]:
    """Split scalar factors into a numerator and a denominator."""
    num, den = [], []
    for s in scal:
        if isinstance(s, E.Power) and isinstance(s.args[1], E.Const) and isinstance(s.args[1].value, Fraction) and s.args[1].value < 0:
            p = -s.args[1].value
            base = s.args[0]
            den.append(base if p == 1 else E.power(base, E.const(p)))
        else:
            num.append(s)
    return num, den


def _matmul(e: E.MatMul, pr):
    c = Fraction(1)
    fs = list(e.args)
    if isinstance(fs[0], E.Const) and isinstance(fs[0].value, Fraction):
        c = fs[0].value
        fs = fs[1:]
    elif isinstance(fs[0], E.Const):
        c_float = fs[0].value
        rest = E.matmul(*fs[1:]) if len(fs) > 2 else fs[1]
        return f"{_num(c_float)}*{_paren(*pr(rest), MUL + 1)}", MUL
    scal = [f for f in fs if f.is_scalar]
    chain = [f for f in fs if not f.is_scalar]
    num, den = _scalar_fraction(c, scal, pr)
    sign = "-" if c < 0 else ""
    c = abs(c)
    out = []
    if den or c.denominator != 1:
        nums = ([str(c.numerator)] if (c.numerator != 1 or not num) else []) + [
            _paren(*pr(x), MUL + 1) if isinstance(x, E.MatMul) else _paren(*pr(x), MUL) for x in num
        ]
        dens = ([str(c.denominator)] if c.denominator != 1 else []) + [_paren(*pr(x), POW) for x in den]
        numtxt = "*".join(nums) if nums else "1"
        dentxt = dens[0] if len(dens) == 1 else "(" + "*".join(dens) + ")"
        frac = f"{numtxt}/{dentxt}"
        if len(chain) == 1 and numtxt == "1":
            s, p = pr(chain[0])
            return f"{sign}{_paren(s, p, POW)}/{dentxt}", (NEG if sign else MUL)
        if chain:
            out.append(f"({frac})")
        else:
            return sign + frac, (NEG if sign else MUL)
    else:
        if c != 1:
            out.append(str(c.numerator))
        for x in num:
            s, p = pr(x)
            # a 1x1 product inside a product must keep its parentheses
            out.append(f"({s})" if isinstance(x, E.MatMul) or p <= MUL else s)
    for i, x in enumerate(chain):
        s, p = _sized_by(x, _chain_pins(chain, i), pr)
        out.append(_paren(s, p, MUL + 1))
    return sign + "*".join(out), (NEG if sign else MUL)


def sum_printer(paren, short=None):
    """The printer of a sum, shared by text and LaTeX: a - b for a negative coefficient.

    ``short``: the printer of a ones term that a sibling sizes (text's ``vector(1)``).
    """

    def print_sum(e: E.Add, pr):
        return _sum(e, pr, paren, short)

    return print_sum


def _sum(e: E.Add, pr, _paren, short=None):
    from ..simplify import split_coeff

    pieces = []
    for i, t in enumerate(e.args):
        c, rest = split_coeff(t)
        pinned = short is not None and _has_sizing_sibling(e.args, i)
        if c < 0 and i > 0:
            s, p = short(rest) if pinned and c == -1 and isinstance(rest, E.Ones) else pr(E.matmul(E.const(-c), rest))
            pieces.append(" - " + _paren(s, p, MUL))
        else:
            s, p = short(t) if pinned and isinstance(t, E.Ones) else pr(t)
            pieces.append((" + " if i else "") + _paren(s, p, ADD + 1 if i else ADD))
    return "".join(pieces), ADD


def _power(e: E.Power, pr):
    b, p = e.args
    if b.is_scalar and isinstance(p, E.Const) and isinstance(p.value, Fraction) and p.value < 0:
        inv = b if p.value == -1 else E.power(b, E.const(-p.value))
        return f"1/{_paren(*pr(inv), POW)}", MUL
    op = "^" if b.is_scalar else ".^"
    bs = _paren(*pr(b), POST)
    ps, pp = pr(p)
    if isinstance(p, E.Const) and isinstance(p.value, Fraction) and p.value.denominator == 1 and p.value >= 0:
        return f"{bs}{op}{ps}", POW
    return f"{bs}{op}({ps})", POW


def _exponent(k) -> str:
    """An integer exponent: 3, k, or (k-1) in parentheses."""
    import sympy

    return str(k) if isinstance(k, (int, sympy.Symbol)) else f"({_dim(k)})"


def _norm2(e, pr):
    a = e.arg
    name = "norm2" if a.cols == 1 or a.rows == 1 else "normF"
    return f"{name}({pr(a)[0]})", ATOM


def _eye(d) -> str:
    """eye(n); an identity of a product size as a Kronecker product, which parses back: eye(m*n) = kron(eye(m), eye(n))."""
    import sympy

    if isinstance(d, sympy.Mul):
        first, *rest = d.args
        return f"kron({_eye(first)}, {_eye(sympy.Mul(*rest))})"
    if isinstance(d, sympy.Pow) and d.exp.is_Integer and d.exp > 1:
        return f"kron({_eye(d.base)}, {_eye(d.base ** (d.exp - 1))})"
    return f"eye({_dim(d)})"


def _dim_factors(d) -> list:
    """The factors of a (product) dimension: m*n -> [m, n], n^2 -> [n, n], 1 -> []."""
    import sympy

    if isinstance(d, sympy.Mul):
        return [f for a in d.args for f in _dim_factors(a)]
    if isinstance(d, sympy.Pow) and d.exp.is_Integer and d.exp > 1:
        return _dim_factors(d.base) * int(d.exp)
    return [] if d == 1 else [d]


def sized_ones(rows, cols) -> str:
    """``ones(m, n)``: the all-ones matrix with its size written out; a product size as a Kronecker product.

    >>> import sympy
    >>> m, n, p = sympy.symbols("m n p")
    >>> sized_ones(n, 1), sized_ones(m * n, p)
    ('ones(n, 1)', 'kron(ones(m, p), ones(n, 1))')
    """
    rf, cf = _dim_factors(rows) or [1], _dim_factors(cols) or [1]
    k = max(len(rf), len(cf))
    rf, cf = rf + [1] * (k - len(rf)), cf + [1] * (k - len(cf))
    parts = [f"ones({_dim(r)}, {_dim(c)})" for r, c in zip(rf, cf)]
    out = parts[-1]
    for p in reversed(parts[:-1]):
        out = f"kron({p}, {out})"
    return out


def _ones(e, pr):
    """The all-ones matrix with its size: the short spellings are printed only where the context sizes them."""
    return sized_ones(e.rows, e.cols), ATOM


def short_ones(e: E.Ones) -> tuple:
    """``vector(1)``, ``vector(1)'`` or ``matrix(1)``: the spelling whose size comes from its context."""
    if e.rows == 1:
        return "vector(1)'", POST
    return ("vector(1)" if e.cols == 1 else "matrix(1)"), ATOM


def _sized_by(e, pinned: bool, pr):
    """``e`` printed; a ones matrix whose size the context pins (``pinned``) in its short spelling."""
    return short_ones(e) if pinned and isinstance(e, E.Ones) else pr(e)


def _chain_pins(chain: list, i: int) -> bool:
    """Whether a ones factor at ``chain[i]`` of a matrix product is sized by its neighbours.

    Its rows come from the factor before it and its columns from the factor after
    it (a size of 1 needs no neighbour); a neighbour that is itself a ones matrix
    does not count, since its own size may come from nowhere.
    """
    e = chain[i]
    rows_ok = e.rows == 1 or (i > 0 and not isinstance(chain[i - 1], E.Ones))
    cols_ok = e.cols == 1 or (i + 1 < len(chain) and not isinstance(chain[i + 1], E.Ones))
    return rows_ok and cols_ok


def _has_sizing_sibling(args, i: int) -> bool:
    """A term of a sum (or factor of an elementwise product) is sized by a sibling that is not a constant."""
    return any(j != i and not isinstance(a, (E.Ones, E.Zero, E.Identity, E.Const)) for j, a in enumerate(args))


def _zero(e, pr):
    """A zero matrix with its size, as 0*ones(m, n) (which parses back to the zero matrix)."""
    return f"0*{sized_ones(e.rows, e.cols)}", MUL


def _transpose(e, pr):
    s, p = pr(e.args[0])
    return _paren(s, p, POST) + "'", POST


def _const(e, pr):
    v = e.value
    s = _num(abs(v) if not isinstance(v, float) else v)
    if isinstance(v, Fraction) and v < 0:
        return "-" + s, NEG
    if isinstance(v, Fraction) and v.denominator != 1:
        return s, MUL
    return s, ATOM


PRINTERS = {
    E.Var: lambda e, pr: (e.name, ATOM),
    E.Const: _const,
    E.Identity: lambda e, pr: (_eye(e.rows), ATOM),
    E.Ones: _ones,
    E.Zero: _zero,
    E.Commutation: lambda e, pr: (f"commutation({_dim(e.args[0])}, {_dim(e.args[1])})", ATOM),
    E.Add: sum_printer(_paren, lambda e: short_ones(e)),
    E.MatMul: _matmul,
    E.Hadamard: lambda e, pr: (".*".join(_paren(*_sized_by(f, _has_sizing_sibling(e.args, i), pr), MUL + 1)
                                         for i, f in enumerate(e.args)), MUL),
    E.Kron: lambda e, pr: (f"kron({pr(e.args[0])[0]}, {pr(e.args[1])[0]})", ATOM),
    E.Transpose: _transpose,
    E.Inverse: _fn("inv"),
    E.MatPow: lambda e, pr: (f"{_paren(*pr(e.args[0]), POST)}^{_exponent(e.args[1])}", POW),
    E.Power: _power,
    E.Apply: lambda e, pr: (f"{e.fname}({pr(e.arg)[0]})", ATOM),
    E.Det: _fn("det"),
    E.LogDet: _fn("logdet"),
    E.Trace: _fn("tr"),
    E.Sum: _fn("sum"),
    E.Norm1: _fn("norm1"),
    E.Norm2: _norm2,
    E.Diag: _fn("diag"),
    E.DiagOf: _fn("diag"),
    E.Vec: _fn("vec"),
    E.Unvec: lambda e, pr: (f"unvec({pr(e.arg)[0]}, {_dim(e.rows)}, {_dim(e.cols)})", ATOM),
    E.Softmax: _fn("softmax"),
    E.LogSumExp: _fn("logsumexp"),
}


def _print(e: E.Expr):
    try:
        fn = PRINTERS[type(e)]
    except KeyError:
        raise PrinterError(f"no text printer for {type(e).__name__}") from None
    return fn(e, _print)


def to_text(e: E.Expr) -> str:
    """``e`` in matcalc's input syntax."""
    return _print(e)[0]


# Printing a node prints its text; registered here so that matcalc.expr needs no printer.
E.Expr.__str__ = to_text
