"""The node classes of matcalc expressions, their dimensions and the walks over a tree.

The canonical constructors that build them live in :mod:`matcalc.expr.constructors`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Iterator

import sympy

from ..errors import MatcalcError

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


CONSTRUCTORS: dict = {}  # node type -> its canonical constructor; .constructors fills it in


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

    # operator sugar (+, -, *, /, .T) is registered by .constructors, which builds through the constructors


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
    from ..errors import TooLargeError

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
