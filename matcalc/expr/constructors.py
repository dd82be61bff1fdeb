"""The canonical constructors of matcalc expressions: shape checks, flattening, constant folding."""

from __future__ import annotations

from fractions import Fraction

import sympy

from .nodes import (Add, Apply, CONSTRUCTORS, Commutation, Const, Det, Diag, DiagOf, Dim, Expr, Hadamard, Identity,
                    Inverse, Kron, LogDet, LogSumExp, MatMul, MatPow, Norm1, Norm2, ONE, Ones, Power, Shape,
                    ShapeError, Softmax, Sum, Trace, Transpose, Unvec, Var, Vec, Zero, dim, fmt_dim, fmt_shape,
                    _matmul_shape, _same_shape, _square)

# --------------------------------------------------------------------------
# Canonical constructors
# --------------------------------------------------------------------------


def const(v) -> Const:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return Const(v)


def _lift(o) -> Expr:
    if isinstance(o, Expr):
        return o
    if isinstance(o, (int, Fraction, float)):
        return const(o)
    raise TypeError(f"cannot combine a matcalc expression with {type(o).__name__}")


ZERO_S = Const(0)
ONE_S = Const(1)


def is_zero(e: Expr) -> bool:
    return isinstance(e, Zero) or (isinstance(e, Const) and e.value == 0)


def is_one(e: Expr) -> bool:
    return isinstance(e, Const) and e.value == 1


def zeros(shape: Shape) -> Expr:
    return ZERO_S if shape == (ONE, ONE) else Zero(*shape)


def var(name: str, rows=1, cols=1, assume=()) -> Var:
    return Var(name, rows, cols, frozenset(assume))


def fresh_name(base: str, taken) -> str:
    """``base``, with underscores appended until it is not in ``taken``.

    >>> fresh_name("direction", {"direction", "x"})
    'direction_'
    """
    name = base
    while name in taken:
        name += "_"
    return name


def add(*terms: Expr) -> Expr:
    flat: list[Expr] = []
    for t in terms:
        flat.extend(t.args if isinstance(t, Add) else (t,))
    _same_shape("sum", flat)
    shape = flat[0].shape
    # constants merge into the place of the first one, so that a rebuild keeps the order
    consts = [t for t in flat if isinstance(t, Const)]
    rest = []
    placed = False
    for t in flat:
        if isinstance(t, Const):
            if not placed:
                placed = True
                c = sum((k.value for k in consts), Fraction(0))
                if c != 0:
                    rest.append(const(c))
        elif not is_zero(t):
            rest.append(t)
    if not rest:
        return zeros(shape)
    if len(rest) == 1:
        return rest[0]
    return Add(*rest)


def neg(a: Expr) -> Expr:
    return matmul(Const(-1), a)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


def matmul(*factors: Expr) -> Expr:
    """Product; 1x1 factors scale, the others must chain."""
    flat: list[Expr] = []
    for f in factors:
        if isinstance(f, MatMul) and not f.is_scalar:
            flat.extend(f.args)
        elif isinstance(f, MatMul) and all(g.is_scalar for g in f.args):
            flat.extend(f.args)
        else:
            flat.append(f)
    shape = _matmul_shape(flat)
    coeff = Fraction(1)
    scal: list[Expr] = []
    chain: list[Expr] = []
    for f in flat:
        if isinstance(f, Const):
            coeff = coeff * f.value
        elif f.is_scalar:
            scal.append(f)
        elif isinstance(f, Identity):
            continue
        else:
            chain.append(f)
    if coeff == 0 or any(is_zero(f) for f in chain + scal):
        return zeros(shape)
    if not chain and shape != (ONE, ONE):
        # every chain factor was an identity
        chain = [Identity(shape[0])]
    out = ([const(coeff)] if coeff != 1 else []) + scal + chain
    if not out:
        return ONE_S
    if len(out) == 1:
        return out[0]
    return MatMul(*out)


def hadamard(*factors: Expr) -> Expr:
    flat: list[Expr] = []
    for f in factors:
        flat.extend(f.args if isinstance(f, Hadamard) else (f,))
    _same_shape("elementwise product", flat)
    if any(is_zero(f) for f in flat):
        return zeros(flat[0].shape)
    if flat[0].is_scalar:
        return matmul(*flat)
    rest = [f for f in flat if not isinstance(f, Ones)]
    if not rest:
        return flat[0]
    if len(rest) == 1:
        return rest[0]
    return Hadamard(*rest)


def kron(a: Expr, b: Expr) -> Expr:
    if a.is_scalar or b.is_scalar:
        return matmul(a, b)
    if is_zero(a) or is_zero(b):
        return Zero(a.rows * b.rows, a.cols * b.cols)
    return Kron(a, b)


def transpose(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if isinstance(a, Transpose):
        return a.args[0]
    if isinstance(a, (Identity,)):
        return a
    if isinstance(a, (Zero, Ones)):
        return type(a)(a.cols, a.rows)
    return Transpose(a)


def inverse(a: Expr) -> Expr:
    _square("inv", a)
    if a.is_scalar:
        return power(a, Const(-1))
    if isinstance(a, Inverse):
        return a.args[0]
    if isinstance(a, Identity):
        return a
    return Inverse(a)


def matpow(a: Expr, k) -> Expr:
    _square("matrix power", a)
    if isinstance(k, sympy.Expr):
        if not k.is_Integer:
            return power(a, dim_scalar(k)) if a.is_scalar else MatPow(a, k)
        k = int(k)
    if a.is_scalar:
        return power(a, Const(k))
    if k == 0:
        return Identity(a.rows)
    if k == 1:
        return a
    if k < 0:
        return matpow(inverse(a), -k)
    return MatPow(a, k)


def power(base: Expr, exponent: Expr) -> Expr:
    if not exponent.is_scalar:
        if base.is_scalar:  # c .^ x: the base is the constant matrix c
            base = matmul(base, Ones(*exponent.shape))
        if exponent.shape != base.shape:
            raise ShapeError(f"elementwise power: base {fmt_shape(base.shape)} and exponent "
                             f"{fmt_shape(exponent.shape)} differ")
        return Power(base, exponent)
    if isinstance(exponent, Const):
        if exponent.value == 1:
            return base
        if exponent.value == 0:
            return Ones(*base.shape) if not base.is_scalar else ONE_S
        if (isinstance(base, Const) and isinstance(exponent.value, Fraction) and exponent.value.denominator == 1
                and abs(exponent.value) <= 64):  # folding 2^100000000 exactly would not end
            try:
                return const(base.value ** exponent.value)
            except ZeroDivisionError:
                raise ShapeError("division by zero") from None
        if isinstance(base, Power) and isinstance(base.args[1], Const) and _int(exponent.value) and _int(base.args[1].value):
            return power(base.args[0], const(base.args[1].value * exponent.value))
    return Power(base, exponent)


def dim_scalar(d: Dim) -> Expr:
    """A scalar expression whose value is the integer expression ``d`` of dimension symbols (k - 1)."""
    if d.is_Integer:
        return const(int(d))
    if isinstance(d, sympy.Symbol):
        return Var(str(d), 1, 1, frozenset({"dimension"}))
    if isinstance(d, sympy.Add):
        return add(*[dim_scalar(t) for t in d.args])
    if isinstance(d, sympy.Mul):
        return matmul(*[dim_scalar(t) for t in d.args])
    raise ShapeError(f"cannot use {d} as an integer")


def _int(v) -> bool:
    return isinstance(v, Fraction) and v.denominator == 1


def apply(fname: str, a: Expr) -> Expr:
    from ..functions import FUNCTIONS

    if fname not in FUNCTIONS:
        raise KeyError(fname)
    return Apply(fname, a)


def det(a: Expr) -> Expr:
    _square("det", a)
    if a.is_scalar:
        return a
    return Det(a)


def logdet(a: Expr) -> Expr:
    _square("logdet", a)
    if a.is_scalar:
        return apply("log", a)
    return LogDet(a)


def trace(a: Expr) -> Expr:
    _square("tr", a)
    if a.is_scalar:
        return a
    if isinstance(a, Identity) and isinstance(a.rows, sympy.Symbol):
        return Var(str(a.rows), 1, 1, frozenset({"dimension"}))
    if isinstance(a, Identity) and a.rows.is_Integer:
        return const(int(a.rows))
    return Trace(a)


def sum_(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if is_zero(a):
        return ZERO_S
    return Sum(a)


def norm1(a: Expr) -> Expr:
    return Norm1(a)


def norm2(a: Expr) -> Expr:
    return Norm2(a)


def diag(a: Expr) -> Expr:
    """``diag(v)`` of a column vector, or ``diag(A)`` of a square matrix."""
    if a.cols == 1:
        if a.is_scalar:
            return a
        return Diag(a)
    _square("diag", a)
    return DiagOf(a)


def diag_of(a: Expr) -> Expr:
    _square("diag", a)
    if isinstance(a, Diag):
        return a.arg
    return DiagOf(a)


def vec(a: Expr) -> Expr:
    if a.cols == 1:
        return a
    if isinstance(a, Unvec):
        return a.arg
    if is_zero(a):
        return Zero(a.rows * a.cols, ONE)
    return Vec(a)


def unvec(v: Expr, r, c) -> Expr:
    """The r x c matrix whose vec is the column ``v``: unvec(vec(M)) = M."""
    r, c = dim(r), dim(c)
    if v.cols != 1 or v.rows != r * c:
        raise ShapeError(f"unvec: a column of {fmt_dim(r * c)} entries makes {fmt_dim(r)}x{fmt_dim(c)}, got {fmt_shape(v.shape)}")
    if c == 1:
        return v
    if isinstance(v, Vec) and v.arg.shape == (r, c):
        return v.arg
    if is_zero(v):
        return Zero(r, c)
    return Unvec(v, r, c)


def softmax(a: Expr) -> Expr:
    if a.rows == 1:  # column-wise: every column of a single row is [1]
        return ONE_S if a.is_scalar else Ones(*a.shape)
    return Softmax(a)


def logsumexp(a: Expr) -> Expr:
    if a.rows == 1:  # column-wise over a single row: log(exp(a)) = a
        return a
    return LogSumExp(a)


def commutation(m, n) -> Expr:
    m, n = dim(m), dim(n)
    if m == 1 or n == 1:
        return Identity(m * n)
    return Commutation(m, n)


CONSTRUCTORS.update({
    Var: Var,
    Const: const,
    Identity: Identity,
    Ones: Ones,
    Zero: Zero,
    Commutation: commutation,
    Add: add,
    MatMul: matmul,
    Hadamard: hadamard,
    Kron: kron,
    Transpose: transpose,
    Inverse: inverse,
    MatPow: matpow,
    Power: power,
    Apply: apply,
    Det: det,
    LogDet: logdet,
    Trace: trace,
    Sum: sum_,
    Norm1: norm1,
    Norm2: norm2,
    Diag: lambda a: Diag(a) if not a.is_scalar else a,
    DiagOf: diag_of,
    Vec: vec,
    Unvec: unvec,
    Softmax: softmax,
    LogSumExp: logsumexp,
})


# Operator sugar, for tests and for users of the Python API; registered here so that the nodes need no
# constructors.
Expr.__add__ = lambda self, o: add(self, _lift(o))
Expr.__radd__ = lambda self, o: add(_lift(o), self)
Expr.__sub__ = lambda self, o: add(self, neg(_lift(o)))
Expr.__rsub__ = lambda self, o: add(_lift(o), neg(self))
Expr.__neg__ = lambda self: neg(self)
Expr.__mul__ = lambda self, o: matmul(self, _lift(o))
Expr.__rmul__ = lambda self, o: matmul(_lift(o), self)
Expr.__truediv__ = lambda self, o: matmul(self, power(_lift(o), const(-1)))
Expr.T = property(lambda self: transpose(self))


# -- rebuilding ---------------------------------------------------------------------


def _rebuild(node: Expr, kids: list) -> Expr:
    """node over new children; a product whose scalar factor became an array drops its broadcast ones."""
    try:
        return node.rebuild(kids)
    except ShapeError:
        if isinstance(node, MatMul):
            return matmul(*[k for k in kids if not isinstance(k, Ones)])
        raise


def substitute(e: Expr, mapping: dict) -> Expr:
    """e with every node that is a key of ``mapping`` replaced (rebuilt through the constructors)."""
    memo: dict = {}

    def go(n):
        if n in mapping:
            return mapping[n]
        hit = memo.get(n)
        if hit is not None:
            return hit
        kids = n.children
        out = n
        if kids:
            new = [go(c) for c in kids]
            if any(a is not b for a, b in zip(new, kids)):
                out = _rebuild(n, new)
        memo[n] = out
        return out

    return go(e)
