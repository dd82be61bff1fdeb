"""matcalc -> SymPy: one entry per matcalc node type, failing loudly on a node without one."""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Mapping

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixExpr

from .. import expr as E
from .classes import (CommutationMatrix, EntrySum, LogSumExp, Norm1, Norm2, SYMPY_FUNCTIONS, Softmax,
                      SympyConversionError, Unvec, Vec, _D, _call)


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
