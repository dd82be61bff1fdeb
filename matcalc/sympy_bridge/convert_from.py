"""SymPy -> matcalc: one entry per SymPy class, failing loudly on a construct without one."""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Mapping

import sympy
from sympy.core.function import FunctionClass
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import expr as E
from ..emit.text import to_text
from ..parse.text import Parsed, ShapeMismatchError, UnknownNameError, normalize_assume
from .classes import (CommutationMatrix, EntrySum, LogSumExp, Norm1, Norm2, Softmax, SympyConversionError, Unvec,
                      Vec, _FROM_FUNCTION)


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
