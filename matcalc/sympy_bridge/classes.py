"""The SymPy classes for what SymPy lacks, and the elementwise-function table both directions share."""

from __future__ import annotations

from typing import Callable

import sympy
from sympy.core.function import FunctionClass
from sympy.core.sympify import _sympify
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import MatcalcError
from ..functions import FUNCTIONS


class SympyConversionError(MatcalcError):
    """A node or SymPy construct the bridge cannot convert; the message names it."""


# --------------------------------------------------------------------------
# SymPy classes for what SymPy lacks
# --------------------------------------------------------------------------


class sigmoid(sympy.Function):
    """The logistic function ``1/(1 + exp(-x))``; ``.rewrite(sympy.exp)`` spells it out."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)


class softplus(sympy.Function):
    """``log(1 + exp(x))``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sympy.log(1 + sympy.exp(x))

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sympy.log(1 + sympy.exp(x))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)


class relu(sympy.Function):
    """``max(x, 0)``; its derivative is ``Heaviside(x, 0)`` (away from 0)."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sympy.Max(x, 0)

    def fdiff(self, argindex=1):
        return sympy.Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(x, 0)


def _is_explicit(m) -> bool:
    return isinstance(m, sympy.MatrixBase)


def _column_sum(a, j, f):
    """``sum_k f(a[k, j])``: written out when the number of rows is known."""
    rows = a.shape[0]
    if rows.is_Integer:
        return sympy.Add(*[f(a[k, j]) for k in range(int(rows))])
    k = sympy.Dummy("k", integer=True, nonnegative=True)
    return sympy.Sum(f(a[k, j]), (k, 0, rows - 1))


class _OfOneMatrix:
    """A node of one matrix argument: construction, ``arg`` and ``doit`` (explicit once the argument is)."""

    def __new__(cls, arg):
        arg = _sympify(arg)
        if not getattr(arg, "is_Matrix", False):
            raise TypeError(f"{cls.__name__} needs a matrix argument, got {arg}")
        return sympy.Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if _is_explicit(arg):
            return self._explicit(sympy.ImmutableMatrix(arg))
        return type(self)(arg)


class _MatrixFunction(_OfOneMatrix, MatrixExpr):
    """A matrix-valued node of one matrix argument (printing, ``doit``)."""

    name = ""

    def _explicit(self, m):
        return self.func(m).as_explicit()

    def _sympystr(self, printer):
        return f"{self.name}({printer._print(self.arg)})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.name}}}\left({printer._print(self.arg)}\right)"


class Softmax(_MatrixFunction):
    """Softmax of each column: ``exp(A[i, j]) / sum_k exp(A[k, j])``."""

    name = "softmax"

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return sympy.exp(self.arg[i, j]) / _column_sum(self.arg, j, sympy.exp)

    def _explicit(self, m):
        e = m.applyfunc(sympy.exp)
        return sympy.ImmutableMatrix(m.rows, m.cols, lambda i, j: e[i, j] / sum(e[:, j]))


class LogSumExp(_MatrixFunction):
    """log-sum-exp of each column: a 1 x n row."""

    name = "logsumexp"

    @property
    def shape(self):
        return (sympy.Integer(1), self.arg.shape[1])

    def _entry(self, i, j, **kwargs):
        return sympy.log(_column_sum(self.arg, j, sympy.exp))

    def _explicit(self, m):
        return sympy.ImmutableMatrix(1, m.cols, lambda i, j: sympy.log(sum(m[:, j].applyfunc(sympy.exp))))


class Vec(_MatrixFunction):
    """Column-major vectorisation: the columns of A stacked into one column."""

    name = "vec"

    @property
    def shape(self):
        r, c = self.arg.shape
        return (r * c, sympy.Integer(1))

    def _entry(self, i, j, **kwargs):
        r = self.arg.shape[0]
        return self.arg[sympy.Mod(i, r), sympy.floor(i / r)]

    def _explicit(self, m):
        return sympy.ImmutableMatrix(m.T.reshape(m.rows * m.cols, 1)) if m.cols > 1 else m


class Unvec(MatrixExpr):
    """The inverse of vec: a column of r*c entries as the r x c matrix, column by column."""

    def __new__(cls, v, r, c):
        return sympy.Basic.__new__(cls, _sympify(v), _sympify(r), _sympify(c))

    @property
    def shape(self):
        return (self.args[1], self.args[2])

    def _entry(self, i, j, **kwargs):
        return self.args[0][j * self.args[1] + i, 0]

    def doit(self, **hints):
        v, r, c = self.args
        v = v.doit(**hints)
        if _is_explicit(v) and r.is_Integer and c.is_Integer:
            return sympy.ImmutableMatrix(int(r), int(c), lambda i, j: v[j * int(r) + i, 0])
        return Unvec(v, r, c)

    def _sympystr(self, printer):
        return f"unvec({printer._print(self.args[0])}, {printer._print(self.args[1])}, {printer._print(self.args[2])})"

    def _latex(self, printer):
        v, r, c = (printer._print(a) for a in self.args)
        return rf"\operatorname{{vec}}^{{-1}}_{{{r} \times {c}}}\left({v}\right)"


class CommutationMatrix(MatrixExpr):
    """K_{m,n}, the (mn x mn) matrix with ``K vec(A) = vec(A')`` for A m x n."""

    def __new__(cls, m, n):
        return sympy.Basic.__new__(cls, _sympify(m), _sympify(n))

    @property
    def shape(self):
        m, n = self.args
        return (m * n, m * n)

    def _entry(self, i, j, **kwargs):
        m, n = self.args
        return sympy.KroneckerDelta(j, sympy.Mod(i, n) * m + sympy.floor(i / n))

    def doit(self, **hints):
        m, n = self.args
        if m.is_Integer and n.is_Integer:
            return self.as_explicit()
        return self

    def _sympystr(self, printer):
        return f"commutation({printer._print(self.args[0])}, {printer._print(self.args[1])})"

    def _latex(self, printer):
        return rf"K_{{{printer._print(self.args[0])},{printer._print(self.args[1])}}}"


class _ScalarOfMatrix(_OfOneMatrix, sympy.Expr):
    """A scalar function of one matrix, in the style of SymPy's ``Trace``."""

    is_commutative = True
    name = ""

    def _eval_evalf(self, prec):
        d = self.doit()
        return None if isinstance(d, _ScalarOfMatrix) else d._eval_evalf(prec)

    def _sympystr(self, printer):
        return f"{self.name}({printer._print(self.arg)})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.name}}}\left({printer._print(self.arg)}\right)"


class EntrySum(_ScalarOfMatrix):
    """The sum of all entries of a matrix."""

    name = "sum"

    def _explicit(self, m):
        return sympy.Add(*m)


class Norm1(_ScalarOfMatrix):
    """The entrywise 1-norm: the sum of the absolute values of the entries."""

    name = "norm1"

    def _explicit(self, m):
        return sympy.Add(*[sympy.Abs(x) for x in m])


class Norm2(_ScalarOfMatrix):
    """The Euclidean norm of a vector; the Frobenius norm of a matrix."""

    name = "norm2"

    def _explicit(self, m):
        return sympy.sqrt(sympy.Add(*[x**2 for x in m]))


# --------------------------------------------------------------------------
# Elementwise functions: matcalc name <-> SymPy scalar function
# --------------------------------------------------------------------------

_D = sympy.Dummy("d")  # one bound variable for every elementwise Lambda, so equal inputs give equal outputs


def _step(x, evaluate=False):
    """matcalc's step is 0 at 0: ``Heaviside(x, 0)``."""
    return sympy.Heaviside(x, 0, evaluate=evaluate)


# The catalogue's own SymPy function (functions.py), except where it is a formula
# that would not read back as the same function: those are the classes above.
_OWN = {"sigmoid": sigmoid, "softplus": softplus, "relu": relu, "step": _step}

SYMPY_FUNCTIONS: dict[str, Callable] = {name: _OWN.get(name, f.sympy) for name, f in FUNCTIONS.items()}

# SymPy function class -> matcalc name.  sqrt is Pow(x, 1/2) in SymPy (see _pow);
# Heaviside reads as step whatever its value at 0.
_FROM_FUNCTION: dict = {
    **{fn: name for name, fn in SYMPY_FUNCTIONS.items() if isinstance(fn, FunctionClass)},
    sympy.Heaviside: "step",
}


def _call(fn, a):
    """Apply a SymPy scalar function without evaluating (so the structure survives a round trip)."""
    if isinstance(fn, FunctionClass) or fn is _step:
        return fn(a, evaluate=False)
    return fn(a)
