"""From a shape-checked AST to a matcalc expression (the last stage of the text readers)."""

from __future__ import annotations

from fractions import Fraction

from .. import expr as E
from ..functions import FUNCTIONS
from ..errors import TooLargeError
from .declare import ELEMENTWISE, ShapeMismatchError
from .grammar import Node
from .shapes import _int_literal, _symbolic_exponent


class _Builder:
    def __init__(self, text, variables, const_shapes):
        self.text = text
        self.vars = variables
        self.const_shapes = const_shapes  # id(node) -> the inferred shape of vector(c), matrix(c), eye()
        self.restricted: list = []  # built subterms whose domain is restricted (see Parsed.dropped)

    def restrict(self, e: E.Expr) -> E.Expr:
        self.restricted.append(e)
        return e

    def fail(self, n: Node, msg: str):
        return ShapeMismatchError(msg, self.text, n.start + 1)

    def build(self, n: Node) -> E.Expr:
        try:
            return self._build(n)
        except (E.ShapeError, TooLargeError) as ex:
            if getattr(ex, "column", None) is not None:
                raise
            if isinstance(ex, E.ShapeError):
                raise ShapeMismatchError(str(ex), self.text, n.start + 1) from None
            err = TooLargeError(f"{ex} at column {n.start + 1}")
            err.column, err.text = n.start + 1, self.text
            raise err from None

    def _inverse(self, b: E.Expr, a: Node) -> E.Expr:
        """1/b for the divisor b written at node a."""
        try:
            return self.restrict(E.power(b, E.const(-1)))
        except E.ShapeError:
            src = a.src(self.text).strip()
            raise self.fail(a, "division by zero" if a.kind == "number" else f"division by zero: {src} is 0") from None

    def _build(self, n: Node) -> E.Expr:
        k = n.kind
        if k == "number":
            return E.const(Fraction(n.value))
        if k == "name":
            return self.vars[n.value]
        if k == "group" or k == "pos":
            return self.build(n.args[0])
        if k == "neg":
            return E.neg(self.build(n.args[0]))
        if k == "transpose":
            return E.transpose(self.build(n.args[0]))
        if k == "sum":
            items = [self.build(a) for a in n.args]
            signs = ["+"] + list(n.value)
            shape = next((i.shape for i in items if not i.is_scalar), (E.ONE, E.ONE))
            terms = []
            for s, it in zip(signs, items):
                if it.is_scalar and shape != (1, 1):
                    it = E.matmul(it, E.Ones(*shape))
                terms.append(it if s == "+" else E.neg(it))
            return E.add(*terms)
        if k == "product":
            acc = self.build(n.args[0])
            run: list = []  # a run of '*' factors, multiplied at once: a long chain costs linear time
            for op, a in zip(n.value, n.args[1:]):
                b = self.build(a)
                if op == "*":
                    run.append(b)
                    continue
                if run:
                    acc, run = E.matmul(acc, *run), []
                if op == "/":
                    acc = E.matmul(acc, self._inverse(b, a))
                elif op == ".*":
                    acc = E.hadamard(acc, b) if not (acc.is_scalar or b.is_scalar) else E.matmul(acc, b)
                else:
                    inv = self._inverse(b, a)
                    acc = E.hadamard(acc, inv) if not (acc.is_scalar or b.is_scalar) else E.matmul(acc, inv)
            return E.matmul(acc, *run) if run else acc
        if k == "pow":
            base = self.build(n.args[0])
            if n.value == "^" and not base.is_scalar:
                k = _int_literal(n.args[1])
                if k is None:
                    return E.matpow(base, _symbolic_exponent(n.args[1]).value)
                return self.restrict(E.matpow(base, k)) if k < 0 else E.matpow(base, k)
            ex = self.build(n.args[1])
            whole = isinstance(ex, E.Const) and ex.value >= 0 and ex.value == int(ex.value)
            return E.power(base, ex) if whole else self.restrict(E.power(base, ex))
        if k == "call":
            return self.call(n)
        raise self.fail(n, f"unknown syntax {k}")  # pragma: no cover

    def call(self, n: Node) -> E.Expr:
        f = n.value
        if f == "eye" and not n.args:
            return E.Identity(self._context_shape(n)[0])
        if f == "eye":
            a = n.args[0]
            return E.Identity(_int_literal(a) if a.kind == "number" else a.value)
        if f in ("commutation", "ones"):
            ds = [(_int_literal(a) if a.kind == "number" else a.value) for a in n.args]
            if f == "ones":
                return E.const(1) if ds == [1, 1] else E.Ones(*ds)
            return E.commutation(*ds)
        if f == "unvec":
            ds = [(_int_literal(a) if a.kind == "number" else a.value) for a in n.args[1:]]
            return E.unvec(self.build(n.args[0]), *ds)
        args = [self.build(a) for a in n.args]
        a = args[0]
        if f in ELEMENTWISE:
            r = E.apply(f, a)
            return self.restrict(r) if FUNCTIONS[f].domain != "real" else r
        if f in ("vector", "matrix"):
            # sized from context: the inferred shape was stored on the node by the builder's caller
            shape = self._context_shape(n)
            return E.matmul(a, E.Ones(*shape))
        table = {
            "sum": E.sum_, "tr": E.trace, "det": E.det, "logdet": E.logdet, "inv": E.inverse,
            "norm1": E.norm1, "norm2": E.norm2, "normF": E.norm2, "diag": E.diag,
            "softmax": E.softmax, "logsumexp": E.logsumexp, "vec": E.vec,
        }
        if f == "kron":
            return E.kron(args[0], args[1])
        return self.restrict(table[f](a)) if f in ("inv", "logdet") else table[f](a)

    def _context_shape(self, n: Node):
        shape = self.const_shapes.get(id(n))
        if shape is None:
            raise self.fail(n, f"cannot tell the size of {n.src(self.text)} from its context")
        return shape
