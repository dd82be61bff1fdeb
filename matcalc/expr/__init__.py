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

The nodes live in :mod:`.nodes`, the constructors in :mod:`.constructors`;
this package re-exports both (``from matcalc import expr as E; E.add``).
"""

from .constructors import (ONE_S, ZERO_S, add, apply, commutation, const, det, diag, diag_of, dim_scalar, fresh_name,
                           hadamard, inverse, is_one, is_zero, kron, logdet, logsumexp, matmul, matpow, neg, norm1, norm2,
                           power, softmax, sub, substitute, sum_, trace, transpose, unvec, var, vec, zeros)
from .nodes import (ASSUMPTIONS, Add, Apply, CONSTRUCTORS, Commutation, Const, Det, Diag, DiagOf, Dim, Expr,
                    FLOAT_MAX, FLOAT_TINY, Hadamard, Identity, Inverse, Kron, LogDet, LogSumExp, MatMul, MatPow,
                    Norm1, Norm2, ONE, Ones, Power, Shape, ShapeError, Softmax, Sum, Trace, Transpose, Unvec, Var,
                    Vec, Zero, contains, dim, fmt_dim, fmt_shape, free_vars, shapes_note, size, stats, walk, _Unary)

__all__ = [
    "ASSUMPTIONS", "Add", "Apply", "CONSTRUCTORS", "Commutation", "Const", "Det", "Diag", "DiagOf", "Dim",
    "Expr", "FLOAT_MAX", "FLOAT_TINY", "Hadamard", "Identity", "Inverse", "Kron", "LogDet", "LogSumExp",
    "MatMul", "MatPow", "Norm1", "Norm2", "ONE", "ONE_S", "Ones", "Power", "Shape", "ShapeError", "Softmax",
    "Sum", "Trace", "Transpose", "Unvec", "Var", "Vec", "ZERO_S", "Zero", "add", "apply", "commutation",
    "const", "contains", "det", "diag", "diag_of", "dim", "dim_scalar", "fmt_dim", "fmt_shape", "free_vars",
    "fresh_name",
    "hadamard", "inverse", "is_one", "is_zero", "kron", "logdet", "logsumexp", "matmul", "matpow", "neg",
    "norm1", "norm2", "power", "shapes_note", "size", "softmax", "stats", "sub", "substitute", "sum_", "trace",
    "transpose", "unvec", "var", "vec", "walk", "zeros", "_Unary",
]
