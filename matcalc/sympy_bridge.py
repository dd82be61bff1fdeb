"""Between matcalc expressions and SymPy matrix expressions.

:func:`to_sympy` turns a matcalc expression into a SymPy matrix expression,
node for node; :func:`from_sympy` reads a SymPy expression back into matcalc.
Both are dispatch tables with one entry per node type, and both fail loudly:
a node without an entry raises an error that names its type, never a default.

The bridge is structural: it evaluates nothing, so a round trip gives back the
same matcalc expression.  Call ``.doit()`` on the SymPy side to let SymPy
simplify.

Conventions:

* a matrix or vector variable is a ``MatrixSymbol`` with matcalc's dimensions
  (positive integer Symbols), a scalar variable a plain ``Symbol`` (a
  ``dimension`` variable such as ``n`` in ``(1/n)*sum(...)`` is the dimension
  Symbol itself);
* every scalar-valued node is a SymPy scalar: ``Trace``, ``Determinant``,
  ``log(Determinant)``, the custom :class:`EntrySum`, :class:`Norm1` and
  :class:`Norm2`; a 1x1 product such as ``x'*A*x`` is wrapped in ``Trace``,
  which is how SymPy differentiates it correctly (SymPy 1.14 returns 0 for
  ``(x.T*A*x)[0, 0]`` differentiated by ``x``);
* an elementwise function of a matrix is an ``ElementwiseApplyFunction``;
  sigmoid, softplus and relu are the small SymPy functions :class:`sigmoid`,
  :class:`softplus` and :class:`relu` below, step is ``Heaviside(x, 0)``;
* what SymPy lacks (column-wise softmax and log-sum-exp, vec, the commutation
  matrix, the sum of all entries, the 1-norm and the Euclidean/Frobenius
  norm) are the small classes below, so nothing is dropped.

>>> import sympy
>>> from matcalc import parse
>>> p = parse("x'*A*x + tr(A)")
>>> s = to_sympy(p.expr)
>>> s
Trace(x.T*A*x) + Trace(A)
>>> from_sympy(s).expr == p.expr
True
>>> n = sympy.Symbol("n")
>>> v, A = sympy.MatrixSymbol("v", n, 1), sympy.MatrixSymbol("A", n, n)
>>> print(from_sympy(v.T * A * v).text)
v'*A*v
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Mapping

import sympy
from sympy.core.function import FunctionClass
from sympy.core.sympify import _sympify
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from . import expr as E
from .errors import MatcalcError
from .emit.text import to_text
from .functions import FUNCTIONS
from .parse.text import Parsed, ShapeMismatchError, UnknownNameError, normalize_assume

__all__ = [
    "CommutationMatrix",
    "Unvec",
    "EntrySum",
    "LogSumExp",
    "Norm1",
    "Norm2",
    "Softmax",
    "SympyConversionError",
    "Vec",
    "from_sympy",
    "relu",
    "sigmoid",
    "softplus",
    "to_sympy",
]


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


# --------------------------------------------------------------------------
# matcalc -> SymPy
# --------------------------------------------------------------------------


def _scalar(s):
    """A SymPy scalar for a matcalc scalar: a 1x1 matrix expression goes into Trace."""
    if isinstance(s, MatrixExpr):
        return sympy.Trace(s)
    return s


def _sympy_var(e: E.Var, c, symbols):
    if e.name in symbols:
        return symbols[e.name]
    if e.is_scalar:
        if "dimension" in e.assume:
            return E.dim(e.name)
        if "positive" in e.assume:
            return sympy.Symbol(e.name, positive=True)
        return sympy.Symbol(e.name)
    return sympy.MatrixSymbol(e.name, _dim_to(e.rows, symbols), _dim_to(e.cols, symbols))


def _dim_to(d, symbols):
    if not symbols:
        return d
    return d.xreplace({s: symbols[s.name] for s in d.free_symbols if s.name in symbols})


def _sympy_const(e: E.Const, c, symbols):
    v = e.value
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    return sympy.Float(v)


def _sympy_matmul(e: E.MatMul, c, symbols):
    args = [c(f) for f in e.args]
    if e.is_scalar and all(f.is_scalar for f in e.args):
        return sympy.Mul(*args, evaluate=False)
    return sympy.MatMul(*args)


def _sympy_add(e: E.Add, c, symbols):
    args = [c(t) for t in e.args]
    if e.is_scalar:
        return sympy.Add(*args, evaluate=False)
    return sympy.MatAdd(*args)


def _sympy_power(e: E.Power, c, symbols):
    base, p = c(e.args[0]), c(e.args[1])
    if e.args[0].is_scalar:
        return sympy.Pow(base, p, evaluate=False)
    return sympy.HadamardPower(base, p)


def _sympy_apply(e: E.Apply, c, symbols):
    fn = SYMPY_FUNCTIONS.get(e.fname)
    if fn is None:
        raise SympyConversionError(f"no SymPy function for the elementwise function {e.fname!r}; add it to SYMPY_FUNCTIONS")
    a = c(e.arg)
    if e.arg.is_scalar:
        return _call(fn, a)
    return ElementwiseApplyFunction(sympy.Lambda(_D, _call(fn, _D)), a)


TO_SYMPY: dict[type, Callable] = {
    E.Var: _sympy_var,
    E.Const: _sympy_const,
    E.Identity: lambda e, c, s: sympy.Identity(_dim_to(e.rows, s)),
    E.Ones: lambda e, c, s: sympy.OneMatrix(_dim_to(e.rows, s), _dim_to(e.cols, s)),
    E.Zero: lambda e, c, s: sympy.ZeroMatrix(_dim_to(e.rows, s), _dim_to(e.cols, s)),
    E.Commutation: lambda e, c, s: CommutationMatrix(_dim_to(e.args[0], s), _dim_to(e.args[1], s)),
    E.Add: _sympy_add,
    E.MatMul: _sympy_matmul,
    E.Hadamard: lambda e, c, s: sympy.HadamardProduct(*[c(f) for f in e.args]),
    E.Kron: lambda e, c, s: sympy.KroneckerProduct(c(e.args[0]), c(e.args[1])),
    E.Transpose: lambda e, c, s: sympy.Transpose(c(e.args[0])),
    E.Inverse: lambda e, c, s: sympy.Inverse(c(e.args[0])),
    E.MatPow: lambda e, c, s: sympy.MatPow(c(e.args[0]), sympy.Integer(e.args[1]) if isinstance(e.args[1], int)
                                           else _dim_to(e.args[1], s)),
    E.Power: _sympy_power,
    E.Apply: _sympy_apply,
    E.Det: lambda e, c, s: sympy.Determinant(c(e.arg)),
    E.LogDet: lambda e, c, s: sympy.log(sympy.Determinant(c(e.arg)), evaluate=False),
    E.Trace: lambda e, c, s: sympy.Trace(c(e.arg)),
    E.Sum: lambda e, c, s: EntrySum(c(e.arg)),
    E.Norm1: lambda e, c, s: Norm1(c(e.arg)),
    E.Norm2: lambda e, c, s: Norm2(c(e.arg)),
    E.Diag: lambda e, c, s: sympy.DiagMatrix(c(e.arg)),
    E.DiagOf: lambda e, c, s: sympy.DiagonalOf(c(e.arg)),
    E.Vec: lambda e, c, s: Vec(c(e.arg)),
    E.Unvec: lambda e, c, s: Unvec(c(e.arg), _dim_to(e.rows, s), _dim_to(e.cols, s)),
    E.Softmax: lambda e, c, s: Softmax(c(e.arg)),
    E.LogSumExp: lambda e, c, s: LogSumExp(c(e.arg)),
}


def to_sympy(e: E.Expr, like=None):
    """``e`` as a SymPy matrix expression (a SymPy scalar when ``e`` is 1x1).

    Dimensions are matcalc's positive integer Symbols.  ``like``: a SymPy
    expression (or a mapping name -> SymPy symbol) whose symbols, matrix
    symbols and dimension symbols are reused by name, so that the result
    combines with the user's own SymPy objects.

    >>> from matcalc import derive
    >>> d = derive("tr(A*X*B)", wrt="X")
    >>> to_sympy(d.result)
    A.T*B.T
    >>> to_sympy(derive("logdet(X)", wrt="X").result)
    (X**(-1)).T
    """
    symbols = _like_symbols(like)
    cache: dict = {}

    def c(node: E.Expr):
        hit = cache.get(node)
        if hit is not None:
            return hit
        try:
            fn = TO_SYMPY[type(node)]
        except KeyError:
            raise SympyConversionError(
                f"no SymPy form for the matcalc node {type(node).__name__}; add an entry to TO_SYMPY"
            ) from None
        out = fn(node, c, symbols)
        if node.is_scalar:
            out = _scalar(out)
        cache[node] = out
        return out

    return c(e)


def _like_symbols(like) -> dict:
    if like is None:
        return {}
    if isinstance(like, Mapping):
        return dict(like)
    out: dict = {}
    for node in sympy.preorder_traversal(like):
        if isinstance(node, (sympy.MatrixSymbol, sympy.Symbol)) and not isinstance(node, sympy.Dummy):
            out.setdefault(node.name, node)
            if isinstance(node, sympy.MatrixSymbol):
                for d in node.shape:
                    for s in getattr(d, "free_symbols", ()):
                        out.setdefault(s.name, s)
    return out


# --------------------------------------------------------------------------
# SymPy -> matcalc
# --------------------------------------------------------------------------


def _name(obj) -> str:
    return f"{type(obj).__name__} ({obj})"


def _dim_from(d) -> sympy.Expr:
    """A matcalc dimension from a SymPy dimension: symbols become positive integer Symbols."""
    d = sympy.Integer(d) if isinstance(d, int) else d
    if d.is_Integer:
        if d < 1:
            raise SympyConversionError(f"a dimension must be positive, got {d}")
        return d
    for node in sympy.preorder_traversal(d):
        ok = (
            node.is_Symbol
            or node.is_Mul
            or (node.is_Integer and node > 0)
            or (node.is_Pow and node.exp.is_Integer and node.exp > 0)
        )
        if not ok:
            raise SympyConversionError(
                f"dimension {d}: matcalc dimensions are products of positive integers and symbols"
            )
    return d.xreplace({s: E.dim(s.name) for s in d.free_symbols})


class _Reader:
    """One conversion: the variables seen so far, the assumptions, the dimension names."""

    def __init__(self, assume: dict, dim_names: set):
        self.assume = assume
        self.dim_names = dim_names
        self.variables: dict = {}
        self.bound: dict = {}  # Lambda variable -> the matcalc matrix it stands for

    def conv(self, obj) -> E.Expr:
        for cls in type(obj).__mro__:
            fn = FROM_SYMPY.get(cls)
            if fn is not None:
                return fn(obj, self)
        raise SympyConversionError(
            f"cannot convert the SymPy {_name(obj)} to matcalc: {type(obj).__name__} is not supported"
        )

    def declare(self, name: str, v: E.Var) -> E.Var:
        old = self.variables.get(name)
        if old is None:
            self.variables[name] = v
            return v
        if old != v:
            raise SympyConversionError(
                f"{name} is used as {E.fmt_shape(old.shape)} and as {E.fmt_shape(v.shape)}; give each object its own name"
            )
        return old


def _matrix_symbol(obj, r: _Reader):
    rows, cols = _dim_from(obj.shape[0]), _dim_from(obj.shape[1])
    a = r.assume.get(obj.name, frozenset())
    if {"symmetric", "spd", "invertible"} & a and rows != cols:
        raise ShapeMismatchError(
            f"{obj.name} is assumed {'/'.join(sorted(a))} but its shape is {E.fmt_dim(rows)}x{E.fmt_dim(cols)}"
        )
    return r.declare(obj.name, E.Var(obj.name, rows, cols, a))


def _symbol(obj, r: _Reader):
    if obj in r.bound:
        return r.bound[obj]
    if isinstance(obj, sympy.Dummy):
        raise SympyConversionError(f"cannot convert the unbound dummy symbol {obj}")
    if obj.name in r.dim_names:
        a = frozenset({"dimension"})
    else:
        a = r.assume.get(obj.name, frozenset())
        if obj.is_positive:
            a = a | {"positive"}
    return r.declare(obj.name, E.Var(obj.name, 1, 1, a))


def _rational(obj, r):
    return E.const(Fraction(int(obj.p), int(obj.q)))


def _float(obj, r):
    return E.const(float(obj))


def _number_symbol(obj, r):
    if obj.is_real:
        return E.const(float(obj))
    raise SympyConversionError(f"cannot convert the SymPy number {obj}: matcalc works over the reals")


def _lift(terms: list) -> list:
    """Scalars among matrix terms become constant matrices (only inside an elementwise function)."""
    shape = next((t.shape for t in terms if not t.is_scalar), None)
    if shape is None:
        return terms
    return [E.matmul(t, E.Ones(*shape)) if t.is_scalar else t for t in terms]


def _add(obj, r):
    return E.add(*_lift([r.conv(a) for a in obj.args]))


def _mul(obj, r):
    """A scalar Mul; inside an elementwise function, matrix factors multiply elementwise."""
    fs = [r.conv(a) for a in obj.args]
    scal = [f for f in fs if f.is_scalar]
    mats = [f for f in fs if not f.is_scalar]
    if mats:
        scal.append(E.hadamard(*mats))
    return E.matmul(*scal)


def _pow(obj, r):
    """``Pow`` and ``HadamardPower``: an elementwise power; the power 1/2 reads as sqrt."""
    base, ex = obj.args
    if ex == sympy.S.Half:
        return E.apply("sqrt", r.conv(base))
    return E.power(r.conv(base), r.conv(ex))


def _function(obj, r):
    name = next(_FROM_FUNCTION[c] for c in type(obj).__mro__ if c in _FROM_FUNCTION)
    if name == "log" and isinstance(obj.args[0], sympy.Determinant):
        return E.logdet(r.conv(obj.args[0].args[0]))
    if name == "log" and len(obj.args) > 1:  # pragma: no cover - SymPy evaluates log(x, b)
        raise SympyConversionError(f"cannot convert {obj}: a logarithm with a base")
    arg = obj.args[0]
    if getattr(arg, "is_Matrix", False) and arg.shape != (1, 1):
        raise SympyConversionError(
            f"cannot convert {type(obj).__name__}({arg}): a function of a whole matrix; for an elementwise "
            f"function use {arg}.applyfunc({type(obj).__name__})"
        )
    return E.apply(name, r.conv(arg))


def _max(obj, r):
    args = [a for a in obj.args if a != 0]
    if len(obj.args) == 2 and len(args) == 1:
        return E.apply("relu", r.conv(args[0]))
    raise SympyConversionError(f"cannot convert the SymPy Max ({obj}): only Max(x, 0), which is relu(x)")


def _elementwise(obj, r):
    """``ElementwiseApplyFunction(f, X)``: read f's body with its variable standing for X."""
    fn, a = obj.function, r.conv(obj.expr)
    if isinstance(fn, sympy.Lambda):
        (var,), body = fn.variables, fn.expr
    elif isinstance(fn, FunctionClass):
        var = sympy.Dummy("d")
        body = fn(var)
    else:  # pragma: no cover - ElementwiseApplyFunction only holds these
        raise SympyConversionError(f"cannot convert the elementwise function {fn}")
    outer = r.bound.get(var)
    r.bound[var] = a
    try:
        out = r.conv(body)
    finally:
        if outer is None:
            r.bound.pop(var, None)
        else:
            r.bound[var] = outer
    if out.shape != a.shape:
        out = E.matmul(out, E.Ones(*a.shape))
    return out


def _matpow(obj, r):
    base, k = r.conv(obj.args[0]), obj.args[1]
    if base.is_scalar:
        return E.apply("sqrt", base) if k == sympy.S.Half else E.power(base, r.conv(k))
    if not k.is_Integer:
        if k.is_integer and isinstance(k, (sympy.Symbol, sympy.Add, sympy.Mul)):  # X^k, X^(k - 1): an integer symbol
            for s in k.free_symbols:  # the exponent's symbols are sizes (see _dimension_names)
                r.declare(s.name, E.Var(s.name, 1, 1, frozenset({"dimension"})))
            return E.matpow(base, k.xreplace({s: E.dim(s.name) for s in k.free_symbols}))
        raise SympyConversionError(f"cannot convert {obj}: a matrix power needs an integer exponent, got {k}")
    return E.matpow(base, int(k))


def _matmul(obj, r):
    return E.matmul(*[r.conv(a) for a in obj.args])


def _kron(obj, r):
    fs = [r.conv(a) for a in obj.args]
    out = fs[0]
    for f in fs[1:]:
        out = E.kron(out, f)
    return out


def _diag_matrix(obj, r):
    v = r.conv(obj.args[0])
    return E.diag(E.transpose(v) if v.rows == 1 and not v.is_scalar else v)


def _matrix_element(obj, r):
    m, i, j = obj.args
    if m.shape == (1, 1) and i == 0 and j == 0:
        return r.conv(m)
    raise SympyConversionError(f"cannot convert the matrix entry {obj}: matcalc works with whole matrices")


def _index_sum(obj, r):
    """A sum over indices of entries, as SymPy writes an indexed 1x1 product: (x.T*a)[0, 0] is
    Sum(x[i, 0]*a[i, 0], (i, 0, n - 1)).  Every summed index joins two factors (a matrix product)
    or both indices of one factor (a trace); an index fixed at 0 is a size-1 side."""
    if obj.function.has(sympy.Sum):
        raise SympyConversionError(f"cannot convert the index sum {obj}: nested sums are not supported")
    summed = {lim[0] for lim in obj.limits}
    if any(len(lim) != 3 or lim[1] != 0 for lim in obj.limits):
        raise SympyConversionError(f"cannot convert the index sum {obj}: each index must run over a whole dimension")
    factors = sympy.Mul.make_args(obj.function)
    scalars, edges = [], []
    for f in factors:
        if isinstance(f, MatrixElement) and (f.args[1] in summed or f.args[2] in summed):
            M, i, j = r.conv(f.args[0]), f.args[1], f.args[2]
            if (i not in summed and (i != 0 or M.rows != 1)) or (j not in summed and (j != 0 or M.cols != 1)):
                raise SympyConversionError(f"cannot convert the matrix entry {f}: matcalc works with whole matrices")
            edges.append([M, i, j])
        elif f.free_symbols & summed:
            raise SympyConversionError(f"cannot convert the index sum {obj}: {f} is not an entry of a matrix")
        else:
            scalars.append(r.conv(f))
    uses = {i: sum((e[1] == i) + (e[2] == i) for e in edges) for i in summed}
    if any(k != 2 for k in uses.values()):
        raise SympyConversionError(f"cannot convert the index sum {obj}: every summed index must occur exactly twice")
    chains = []
    while edges:
        # start at a side fixed at 0 (a vector's size-1 side) if there is one: that chain is a product u' M v
        start = next((e for e in edges if e[1] not in summed or e[2] not in summed), edges[0])
        edges.remove(start)
        M, left, right = start
        if left in summed and right not in summed:  # the fixed side goes on the left
            M, left, right = E.transpose(M), right, left
        chain = [M]
        while right in summed and right != left:
            nxt = next(e for e in edges if right in (e[1], e[2]))
            edges.remove(nxt)
            if nxt[1] == right:
                chain.append(nxt[0])
                right = nxt[2]
            else:
                chain.append(E.transpose(nxt[0]))
                right = nxt[1]
        prod = E.matmul(*chain)
        chains.append(E.trace(prod) if left in summed else prod)
    return E.matmul(*scalars, *chains)


def _unary(build):
    return lambda obj, r: build(r.conv(obj.args[0]))


def _shaped(build):
    return lambda obj, r: build(*[_dim_from(d) for d in obj.shape])


FROM_SYMPY: dict[type, Callable] = {
    sympy.MatrixSymbol: _matrix_symbol,
    sympy.Symbol: _symbol,
    sympy.Rational: _rational,
    sympy.Float: _float,
    sympy.NumberSymbol: _number_symbol,
    sympy.Add: _add,
    sympy.Mul: _mul,
    sympy.Pow: _pow,
    sympy.Max: _max,
    **{cls: _function for cls in _FROM_FUNCTION},
    sympy.MatAdd: lambda obj, r: E.add(*[r.conv(a) for a in obj.args]),
    sympy.MatMul: _matmul,
    sympy.Transpose: _unary(E.transpose),
    sympy.Inverse: _unary(E.inverse),
    sympy.MatPow: _matpow,
    sympy.Determinant: _unary(E.det),
    sympy.Trace: _unary(E.trace),
    sympy.HadamardProduct: lambda obj, r: E.hadamard(*[r.conv(a) for a in obj.args]),
    sympy.HadamardPower: _pow,
    sympy.KroneckerProduct: _kron,
    sympy.Identity: _shaped(lambda n, _: E.ONE_S if n == 1 else E.Identity(n)),
    sympy.ZeroMatrix: _shaped(lambda m, n: E.zeros((m, n))),
    sympy.OneMatrix: _shaped(lambda m, n: E.ONE_S if m == 1 and n == 1 else E.Ones(m, n)),
    sympy.DiagMatrix: _diag_matrix,
    sympy.DiagonalOf: _unary(E.diag_of),
    sympy.DiagonalMatrix: _unary(lambda a: E.diag(E.diag_of(a))),
    ElementwiseApplyFunction: _elementwise,
    MatrixElement: _matrix_element,
    sympy.Sum: _index_sum,
    Softmax: _unary(E.softmax),
    LogSumExp: _unary(E.logsumexp),
    Vec: _unary(E.vec),
    Unvec: lambda obj, r: E.unvec(r.conv(obj.args[0]), _dim_from(obj.args[1]), _dim_from(obj.args[2])),
    CommutationMatrix: lambda obj, r: E.commutation(_dim_from(obj.args[0]), _dim_from(obj.args[1])),
    EntrySum: _unary(E.sum_),
    Norm1: _unary(E.norm1),
    Norm2: _unary(E.norm2),
}


def _dimension_names(obj) -> set:
    names: set = set()
    for node in sympy.preorder_traversal(obj):
        if getattr(node, "is_Matrix", False) and hasattr(node, "shape"):
            for d in node.shape:
                names |= {s.name for s in getattr(d, "free_symbols", ())}
        if isinstance(node, sympy.MatPow) and not node.args[1].is_Integer:  # X^k: k is an integer size
            names |= {s.name for s in node.args[1].free_symbols}
    return names


def from_sympy(obj, assume: Mapping[str, str] | None = None) -> Parsed:
    """Read a SymPy (matrix) expression into matcalc.

    ``assume`` gives assumptions by name (``{"A": "symmetric"}``), as for
    :func:`matcalc.parse`.  A scalar Symbol named like a dimension (``n`` in
    ``MatrixSymbol("X", n, m)``) is that dimension.

    >>> import sympy
    >>> n = sympy.Symbol("n")
    >>> X = sympy.MatrixSymbol("X", n, n)
    >>> p = from_sympy(sympy.log(sympy.Determinant(X)) + sympy.Trace(X.T * X) / n)
    >>> print(p.text)
    tr(X'*X)/n + logdet(X)
    >>> p.variables["n"].assume
    frozenset({'dimension'})
    """
    if isinstance(obj, (int, Fraction)) and not isinstance(obj, bool):
        obj = sympy.Rational(obj.numerator, obj.denominator)
    elif isinstance(obj, float):
        obj = sympy.Float(obj)
    if not isinstance(obj, sympy.Basic):
        raise SympyConversionError(
            f"cannot read a {type(obj).__name__} as an expression; pass matcalc text, a SymPy object or a matcalc expression"
        )
    r = _Reader(normalize_assume(assume), _dimension_names(obj))
    e = r.conv(obj)
    for name in r.assume:
        if name not in r.variables:
            raise UnknownNameError(f"an assumption names {name!r}, which does not occur in the expression")
    return Parsed(e, dict(r.variables), to_text(e))
