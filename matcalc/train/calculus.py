"""Compiled value-and-gradient and Hessian-vector products of a formula, derived and verified by matcalc.

The solvers need two things of an objective ``f(W)``: ``f`` with its gradient
at a point, and the Hessian applied to a direction.  Both come from matcalc:

* :func:`value_and_grad` compiles ``f`` and its derived gradient (denominator
  layout: shaped like ``wrt``) into one call ``fn(**arrays) -> (value, grad)``;
* :func:`hvp` derives the gradient ``G(W)``, then the gradient of the scalar
  ``sum(G(W) .* V)`` with respect to ``W``, which is ``H V`` for the symmetric
  Hessian ``H``: ``fn(direction, /, **arrays)``.

When :mod:`matcalc.api` provides ``value_and_grad`` and ``hvp`` (one
compiled function that shares the work of the value and the gradient) they
are used; until then both are composed from :meth:`Derivative.function_numpy`
and :meth:`Derivative.to_numpy`.  Either way every derivative is also derived
here as a :class:`~matcalc.Derivative`, so the caller can verify it against
finite differences (:func:`verified`).

>>> import numpy as np
>>> f = value_and_grad("x'*A*x", "x", shapes={"A": ("n", "n")})
>>> A, x = np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([[1.0], [2.0]])
>>> v, g = f(A=A, x=x)
>>> float(v), g.ravel().tolist()
(16.0, [6.0, 13.0])
>>> h = hvp("x'*A*x", "x", shapes={"A": ("n", "n")})
>>> h(np.array([[1.0], [0.0]]), A=A, x=x).ravel().tolist()    # (A + A') e1
[4.0, 1.0]
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from .. import api
from ..api import Derivative, derive


def _fresh(name: str, taken) -> str:
    """A variable name for the direction: ``V`` beside a matrix ``W``, ``v`` beside a vector ``w``."""
    base = "V" if name[:1].isupper() else "v"
    out = base
    while out in taken:
        out += "d"
    return out


def gradient_of(expr: str, wrt: str, shapes: Optional[dict] = None, assume: Optional[dict] = None) -> Derivative:
    """The derived gradient of ``expr`` with respect to ``wrt`` (denominator layout)."""
    return derive(expr, wrt=wrt, shapes=shapes, assume=assume)


def hvp_derivative(expr: str, wrt: str, shapes: Optional[dict] = None, assume: Optional[dict] = None,
                   gradient: Optional[Derivative] = None) -> tuple:
    """``(Derivative of sum(G .* V) w.r.t. wrt, name of V)``: the Hessian of ``expr`` applied to ``V``.

    >>> d, v = hvp_derivative("sum(exp(x))", "x")
    >>> print(d, v)
    v.*exp(x) v
    """
    g = gradient if gradient is not None else gradient_of(expr, wrt, shapes, assume)
    shapes = dict(shapes or {})
    v = _fresh(wrt, set(shapes) | set(re.findall(r"[A-Za-z_]\w*", expr)))
    wrt_shape = shapes.get(wrt)
    if wrt_shape is None:
        wrt_shape = tuple(str(s) for s in g.shape)
    shapes[v] = wrt_shape
    return derive(f"sum(({g}).*{v})", wrt=wrt, shapes=shapes, assume=assume), v


def value_and_grad(expr: str, wrt: str, shapes: Optional[dict] = None, assume: Optional[dict] = None) -> Callable:
    """A compiled ``fn(**arrays) -> (value, gradient)`` of ``expr``; the gradient is shaped like ``wrt``."""
    native = getattr(api, "value_and_grad", None)
    if native is not None:
        return native(expr, wrt, shapes=shapes, assume=assume)
    d = gradient_of(expr, wrt, shapes, assume)
    value, grad = d.function_numpy(), d.to_numpy()

    def fn(**arrays):
        return value(**arrays), grad(**arrays)

    return fn


def hvp(expr: str, wrt: str, shapes: Optional[dict] = None, assume: Optional[dict] = None) -> Callable:
    """A compiled ``fn(direction, /, **arrays)``: the Hessian of ``expr`` in ``wrt`` applied to ``direction``."""
    native = getattr(api, "hvp", None)
    if native is not None:
        return native(expr, wrt, shapes=shapes, assume=assume)
    d, v = hvp_derivative(expr, wrt, shapes, assume)
    compiled = d.to_numpy()

    def fn(direction, /, **arrays):
        return compiled(**arrays, **{v: direction})

    return fn
