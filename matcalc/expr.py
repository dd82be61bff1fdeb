"""The expression nodes of matcalc and their constructors.

Nodes are plain data: every node is an immutable tuple of ``args`` with a
``shape``.  Derivative rules, simplification rules and printers live in their
own modules as tables keyed by node type (nodes are data,
operations are modules).

Every value is a matrix: a scalar is 1x1 and a vector is n x 1.  Dimensions
are SymPy integers or positive integer symbols, so products of dimensions
(the size of ``vec(X)``) stay canonical.

CamelCase classes are the raw nodes; the lowercase constructors
(:func:`add`, :func:`matmul`, ...) check shapes, flatten and fold constants,
and are what every other module uses to build expressions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Iterator

import sympy

from .errors import MatcalcError

Dim = sympy.Expr
Shape = tuple  # (rows, cols), each a Dim

ONE = sympy.Integer(1)


class ShapeError(MatcalcError):
    """Two operands whose shapes do not fit the operation."""


def dim(d) -> Dim:
    """A dimension from an int, a name or a SymPy expression."""
    if isinstance(d, sympy.Expr):
        return d
    if isinstance(d, int):
        if d < 1:
            raise ShapeError(f"a dimension must be a positive integer, got {d}")
        return sympy.Integer(d)
    if isinstance(d, str):
        return sympy.Symbol(d, integer=True, positive=True)
    raise TypeError(f"a dimension must be an int or a name, got {d!r}")


def fmt_dim(d: Dim) -> str:
    return str(d).replace(" ", "")


def fmt_shape(shape: Shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    return f"{fmt_dim(r)}x{fmt_dim(c)}"


# --------------------------------------------------------------------------
# Base node
# --------------------------------------------------------------------------


class Expr:
    """Base of all nodes: ``args`` (children and parameters) and ``shape``."""

    __slots__ = ("args", "shape", "_hash", "_repr", "_stats", "_scalar")

    def __init__(self, args: tuple, shape: Shape):
        self.args = args
        self.shape = shape
        self._hash = None
        self._repr = None
        self._stats = None  # (number of nodes, number of transposes, variables) of the tree, see stats()
        self._scalar = None

    # structural identity ------------------------------------------------
    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash((type(self).__name__, self.args))
        return h

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if type(self) is not type(other) or hash(self) != hash(other):
            return False
        if self.args is other.args:
            return True
        if self.args == other.args:
            # equal nodes share one args tuple from now on, so that comparing them again is one identity
            # check instead of a walk down both trees (nodes are immutable, so nothing else changes)
            other.args = self.args
            return True
        return False

    def __ne__(self, other) -> bool:
        return not self == other

    def __repr__(self) -> str:
        # cached: simplification sorts by it, and a node is immutable
        r = self._repr
        if r is None:
            inner = ", ".join(repr(a) for a in self.args)
            r = self._repr = f"{type(self).__name__}({inner})"
        return r

    # tree helpers -------------------------------------------------------
    @property
    def children(self) -> tuple["Expr", ...]:
        return tuple(a for a in self.args if isinstance(a, Expr))

    def rebuild(self, children: Iterable["Expr"]) -> "Expr":
        """The same node over new children, through its canonical constructor."""
        it = iter(children)
        args = tuple(next(it) if isinstance(a, Expr) else a for a in self.args)
        return CONSTRUCTORS[type(self)](*args)

    @property
    def is_scalar(self) -> bool:
        s = self._scalar
        if s is None:  # cached: comparing SymPy dimensions is slow, and it is asked very often
            s = self._scalar = bool(self.shape[0] == 1 and self.shape[1] == 1)
        return s

    @property
    def rows(self) -> Dim:
        return self.shape[0]

    @property
    def cols(self) -> Dim:
        return self.shape[1]

    # operator sugar, for tests and for users of the Python API ------------
    def __add__(self, o):
        return add(self, _lift(o))

    def __radd__(self, o):
        return add(_lift(o), self)

    def __sub__(self, o):
        return add(self, neg(_lift(o)))

    def __rsub__(self, o):
        return add(_lift(o), neg(self))

    def __neg__(self):
        return neg(self)

    def __mul__(self, o):
        return matmul(self, _lift(o))

    def __rmul__(self, o):
        return matmul(_lift(o), self)

    def __truediv__(self, o):
        return matmul(self, power(_lift(o), const(-1)))

    @property
    def T(self):
        return transpose(self)


def _lift(o) -> Expr:
    if isinstance(o, Expr):
        return o
    if isinstance(o, (int, Fraction, float)):
        return const(o)
    raise TypeError(f"cannot combine a matcalc expression with {type(o).__name__}")


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of ``e``, parents before children."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def free_vars(e: Expr) -> frozenset:
    return stats(e)[2]


def contains(e: Expr, v: Expr) -> bool:
    if isinstance(v, Var):
        return v in stats(e)[2]
    return any(n == v for n in walk(e))


def shapes_note(variables: dict) -> str:
    """'A: nxn, x: nx1 (positive)': the shapes and assumptions a result used."""
    return ", ".join(
        f"{n}: {fmt_shape(v.shape)}" + (f" ({', '.join(sorted(v.assume))})" if v.assume else "")
        for n, v in sorted(variables.items())
    )


def stats(e: Expr) -> tuple:
    """(nodes, transposes, variables) of the tree under ``e``, counting a shared subtree each time it occurs.
    Cached on the nodes, so that simplification can compare sizes without walking whole trees."""
    if e._stats is not None:
        return e._stats
    stack = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if n._stats is not None:
            continue
        kids = n.children
        if ready:
            nodes, trans = 1, int(isinstance(n, Transpose))
            variables = frozenset((n,)) if isinstance(n, Var) else frozenset()
            for c in kids:
                nodes += c._stats[0]
                trans += c._stats[1]
                variables = variables | c._stats[2] if variables else c._stats[2]
            n._stats = (nodes, trans, variables)
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in kids if c._stats is None)
    return e._stats


def size(e: Expr) -> int:
    return stats(e)[0]


# --------------------------------------------------------------------------
# Leaves
# --------------------------------------------------------------------------

ASSUMPTIONS = ("symmetric", "spd", "positive", "invertible", "onehot", "dimension")


class Var(Expr):
    """A named matrix, vector or scalar: ``args = (name, rows, cols, assume)``.

    ``assume`` is a frozenset of ``ASSUMPTIONS``.  A ``dimension`` variable is a
    scalar whose value is the size of a dimension (``N`` in ``(1/N)*...``).
    """

    __slots__ = ()

    def __init__(self, name: str, rows, cols, assume: frozenset = frozenset()):
        super().__init__((name, dim(rows), dim(cols), frozenset(assume)), (dim(rows), dim(cols)))

    @property
    def name(self) -> str:
        return self.args[0]

    @property
    def assume(self) -> frozenset:
        return self.args[3]

    @property
    def symmetric(self) -> bool:
        return bool({"symmetric", "spd"} & self.assume) or self.is_scalar


FLOAT_MAX = Fraction(10) ** 300  # constants stay inside float64's range, with room for the arithmetic
FLOAT_TINY = 1 / FLOAT_MAX


def _magnitude(v: Fraction) -> str:
    """'about 1e+600' without printing an int longer than Python allows."""
    exp10 = (abs(v.numerator).bit_length() - v.denominator.bit_length()) * 0.30103
    return f"about 1e{exp10:+.0f}"


def _check_range(value) -> None:
    """Raise a TooLargeError for a constant that float64 arithmetic cannot carry (a product of huge literals)."""
    from .errors import TooLargeError

    if isinstance(value, Fraction):
        if value and not (FLOAT_TINY <= abs(value) <= FLOAT_MAX):
            raise TooLargeError(f"a constant ({_magnitude(value)}) is outside the range matcalc computes in "
                                f"(1e-300 to 1e300 in magnitude)")
    elif isinstance(value, float) and not math.isfinite(value):
        raise TooLargeError(f"a constant ({value}) is not a finite number")


class Const(Expr):
    """A scalar constant: an exact ``Fraction`` or a float."""

    __slots__ = ()

    def __init__(self, value):
        if isinstance(value, int):
            value = Fraction(value)
        _check_range(value)
        super().__init__((value,), (ONE, ONE))

    @property
    def value(self):
        return self.args[0]


class Identity(Expr):
    __slots__ = ()

    def __init__(self, n):
        super().__init__((dim(n),), (dim(n), dim(n)))


class Ones(Expr):
    """The all-ones matrix (``vector(1)``, ``matrix(1)``)."""

    __slots__ = ()

    def __init__(self, rows, cols):
        super().__init__((dim(rows), dim(cols)), (dim(rows), dim(cols)))


class Zero(Expr):
    __slots__ = ()

    def __init__(self, rows, cols):
        super().__init__((dim(rows), dim(cols)), (dim(rows), dim(cols)))


class Commutation(Expr):
    """The commutation matrix K_{m,n}: ``K vec(A) = vec(A')`` for A m x n."""

    __slots__ = ()

    def __init__(self, m, n):
        m, n = dim(m), dim(n)
        super().__init__((m, n), (m * n, m * n))


# --------------------------------------------------------------------------
# Composite nodes
# --------------------------------------------------------------------------


class Add(Expr):
    __slots__ = ()

    def __init__(self, *terms):
        super().__init__(tuple(terms), terms[0].shape)


class MatMul(Expr):
    """Product: scalar (1x1) factors scale; the other factors form a chain."""

    __slots__ = ()

    def __init__(self, *factors):
        super().__init__(tuple(factors), _matmul_shape(factors))


class Hadamard(Expr):
    """Elementwise product of operands of one shape."""

    __slots__ = ()

    def __init__(self, *factors):
        super().__init__(tuple(factors), factors[0].shape)


class Kron(Expr):
    __slots__ = ()

    def __init__(self, a, b):
        super().__init__((a, b), (a.rows * b.rows, a.cols * b.cols))


class Transpose(Expr):
    __slots__ = ()

    def __init__(self, a):
        super().__init__((a,), (a.cols, a.rows))


class Inverse(Expr):
    __slots__ = ()

    def __init__(self, a):
        super().__init__((a,), a.shape)


class MatPow(Expr):
    """Integer power ``X^k`` of a square matrix: k >= 2, or an expression in integer symbols
    (``X^k``, ``X^(k - 1)``, a SymPy expression like a dimension)."""

    __slots__ = ()

    def __init__(self, a, k: int):
        super().__init__((a, k), a.shape)


class Power(Expr):
    """Elementwise power ``A .^ p`` with a scalar exponent, or an exponent of A's shape (entry by entry)."""

    __slots__ = ()

    def __init__(self, base, exponent):
        super().__init__((base, exponent), base.shape)


class Apply(Expr):
    """An elementwise function from the catalogue in ``functions.py``."""

    __slots__ = ()

    def __init__(self, fname: str, a):
        super().__init__((fname, a), a.shape)

    @property
    def fname(self) -> str:
        return self.args[0]

    @property
    def arg(self) -> Expr:
        return self.args[1]


class _Unary(Expr):
    __slots__ = ()
    out_shape = None

    def __init__(self, a):
        super().__init__((a,), type(self).out_shape(a))

    @property
    def arg(self) -> Expr:
        return self.args[0]


def _scalar_shape(a):
    return (ONE, ONE)


class Det(_Unary):
    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class LogDet(_Unary):
    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class Trace(_Unary):
    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class Sum(_Unary):
    """Sum of all entries."""

    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class Norm1(_Unary):
    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class Norm2(_Unary):
    """Euclidean norm of a vector; Frobenius (entrywise) norm of a matrix."""

    __slots__ = ()
    out_shape = staticmethod(_scalar_shape)


class Diag(_Unary):
    """Vector to diagonal matrix."""

    __slots__ = ()
    out_shape = staticmethod(lambda a: (a.rows, a.rows))


class DiagOf(_Unary):
    """Diagonal of a square matrix as a column vector."""

    __slots__ = ()
    out_shape = staticmethod(lambda a: (a.rows, ONE))


class Vec(_Unary):
    """Column-major vectorisation."""

    __slots__ = ()
    out_shape = staticmethod(lambda a: (a.rows * a.cols, ONE))


class Unvec(Expr):
    """The inverse of vec: a column of r*c entries as an r x c matrix, column by column.
    ``args = (v, r, c)``; it appears in adjoints through a Kronecker product."""

    __slots__ = ()

    def __init__(self, v, r, c):
        super().__init__((v, dim(r), dim(c)), (dim(r), dim(c)))

    @property
    def arg(self) -> Expr:
        return self.args[0]


class Softmax(_Unary):
    """Softmax of each column."""

    __slots__ = ()
    out_shape = staticmethod(lambda a: a.shape)


class LogSumExp(_Unary):
    """log-sum-exp of each column: a 1 x n row (a scalar for a vector)."""

    __slots__ = ()
    out_shape = staticmethod(lambda a: (ONE, a.cols))


# --------------------------------------------------------------------------
# Shape rules
# --------------------------------------------------------------------------


def _matmul_shape(factors) -> Shape:
    chain = [f for f in factors if not f.is_scalar]
    if not chain:
        return (ONE, ONE)
    for a, b in zip(chain, chain[1:]):
        if a.cols != b.rows:
            raise ShapeError(
                f"matrix product: {fmt_shape(a.shape)} times {fmt_shape(b.shape)}: "
                f"inner dimensions {fmt_dim(a.cols)} and {fmt_dim(b.rows)} differ"
            )
    return (chain[0].rows, chain[-1].cols)


def _same_shape(what: str, operands) -> None:
    s = operands[0].shape
    for o in operands[1:]:
        if o.shape != s:
            raise ShapeError(
                f"{what}: shapes {fmt_shape(s)} and {fmt_shape(o.shape)} differ"
            )


def _square(what: str, a: Expr) -> None:
    if a.rows != a.cols:
        raise ShapeError(f"{what} needs a square matrix, got {fmt_shape(a.shape)}")


# --------------------------------------------------------------------------
# Canonical constructors
# --------------------------------------------------------------------------


def const(v) -> Const:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return Const(v)


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
    from .functions import FUNCTIONS

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


CONSTRUCTORS = {
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
}


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
