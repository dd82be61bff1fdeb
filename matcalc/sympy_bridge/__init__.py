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
  :class:`softplus` and :class:`relu` (in :mod:`.classes`), step is ``Heaviside(x, 0)``;
* what SymPy lacks (column-wise softmax and log-sum-exp, vec, the commutation
  matrix, the sum of all entries, the 1-norm and the Euclidean/Frobenius
  norm) are the small classes of :mod:`.classes`, so nothing is dropped.

The directions live in :mod:`.convert_to` and :mod:`.convert_from`; this
package re-exports the public names.

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

from .classes import (CommutationMatrix, EntrySum, LogSumExp, Norm1, Norm2, SYMPY_FUNCTIONS, Softmax,
                      SympyConversionError, Unvec, Vec, relu, sigmoid, softplus)
from .convert_from import FROM_SYMPY, from_sympy
from .convert_to import TO_SYMPY, to_sympy

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
    "FROM_SYMPY",
    "SYMPY_FUNCTIONS",
    "TO_SYMPY",
    "from_sympy",
    "relu",
    "sigmoid",
    "softplus",
    "to_sympy",
]
