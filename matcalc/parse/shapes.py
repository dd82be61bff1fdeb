"""Shape inference for the text readers: dimension unification, kinds of names, hints and notes.

Every name gets a row and a column dimension in a union-find; the AST's operators
unify them.  A mismatch is reported with both operands and their shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

from .. import expr as E
from ..errors import MAX_NAME, clip_names, one_line
from .declare import (DIM_NAMES, ELEMENTWISE, FUNCTION_ARITY, MAX_MATRIX_POWER, SIZED, SQUARE, TO_SCALAR,
                      ShapeMismatchError)
from .grammar import Node, ParseError

# -- dimension unification ------------------------------------------------------


class D:
    """A dimension in the union-find: value None (inferred), an int, a name, or ('prod', D, D)."""

    __slots__ = ("parent", "value")

    def __init__(self, value=None):
        self.parent = None
        self.value = value


def find(d: D) -> D:
    while d.parent is not None:
        if d.parent.parent is not None:
            d.parent = d.parent.parent
        d = d.parent
    return d


class _Fail(Exception):
    def __init__(self, node: Node, message: str, operands: tuple = (), must_be_scalar: Node | None = None):
        self.node = node
        self.message = message
        self.operands = operands
        self.must_be_scalar = must_be_scalar  # the operand that only a scalar fits, if any


def _one() -> D:
    return D(1)


def _scalar():
    return (_one(), _one())


def _is_scalar(t) -> bool:
    return find(t[0]).value == 1 and find(t[1]).value == 1


def _leaves(d: D):
    """The known factors of a (product) dimension, without 1s; None while one is unknown."""
    d = find(d)
    v = d.value
    if v is None:
        return None
    if isinstance(v, tuple):
        a, b = _leaves(v[1]), _leaves(v[2])
        return None if a is None or b is None else a + b
    return [] if v == 1 else [v]


def _prod(a: D, b: D) -> D:
    """The dimension a*b; 1*b is b itself, so that kron(2, x) is n x 1, not 1*n x 1*1."""
    if find(a).value == 1:
        return b
    if find(b).value == 1:
        return a
    return D(("prod", a, b))


def _occurs(d: D, inside: D) -> bool:
    """Whether the root ``d`` is a factor of the dimension ``inside`` (n = n*m has no solution m > 1)."""
    stack = [find(inside)]
    while stack:
        r = stack.pop()
        if r is d:
            return True
        if isinstance(r.value, tuple):
            stack.extend((find(r.value[1]), find(r.value[2])))
    return False


def _unify(a: D, b: D, deferred: list) -> bool:
    ra, rb = find(a), find(b)
    if ra is rb:
        return True
    va, vb = ra.value, rb.value
    if va is None and vb is None:
        ra.parent = rb
        return True
    if va is None:
        if vb == 1 or _occurs(ra, rb):
            return False
        ra.parent = rb
        return True
    if vb is None:
        if va == 1 or _occurs(rb, ra):
            return False
        rb.parent = ra
        return True
    if isinstance(va, tuple) and isinstance(vb, tuple):
        la, lb = _leaves(ra), _leaves(rb)
        if la is not None and lb is not None:
            # both products known: they agree as products (1*n = n*1)
            return sorted(map(str, la)) == sorted(map(str, lb))
        # otherwise (a1 a2) ~ (b1 b2) factor by factor: tr(kron(X, X)) makes X square
        if _unify(va[1], vb[1], deferred) and _unify(va[2], vb[2], deferred) and not _occurs(ra, rb):
            ra.parent = rb
            return True
        return False
    if isinstance(va, tuple) or isinstance(vb, tuple):
        deferred.append((ra, rb))
        return True
    return va == vb


# -- inference ------------------------------------------------------------------


class _Inferrer:
    def __init__(self, text, tree, kinds, declared, dim_names, square=frozenset()):
        self.text = text
        self.square = square  # undeclared names assumed symmetric, spd or invertible: n x n
        self.tree = tree
        self.kinds = kinds  # name -> "scalar" | "vector" | "matrix" | "declared" | "dim"
        self.declared = declared
        self.dim_names = dim_names
        self.vars: dict = {}
        self.deferred: list = []
        self.named: dict = {}
        self.const_nodes: dict = {}
        self.power_names: set = set()  # integer symbols used as matrix-power exponents (X^k)
        self.soft: set = set()  # a-g names read as scalars so far
        self.promote: list = []  # soft names that only a vector fits where they are used
        self.broadcast: list = []  # (sum node, scalar term, array term): a scalar added to every entry

    def _soft_name(self, n: Node):
        while n.kind == "group":
            n = n.args[0]
        return n.value if n.kind == "name" and n.value in self.soft else None

    def named_dim(self, name: str) -> D:
        d = self.named.get(name)
        if d is None:
            d = self.named[name] = D(name)
        return d

    def decl_dim(self, d) -> D:
        return D(d) if isinstance(d, int) else self.named_dim(d)

    def var_type(self, name: str):
        t = self.vars.get(name)
        if t is not None:
            return t
        k = self.kinds[name]
        if k == "declared":
            r, c = self.declared[name]
            t = (self.decl_dim(r), self.decl_dim(c))
        elif k in ("scalar", "dim"):
            t = _scalar()
        elif k == "vector":
            t = (D(), _one())
        elif name in self.square:
            d = D()
            t = (d, d)
        else:
            t = (D(), D())
        self.vars[name] = t
        return t

    def unify(self, a: D, b: D, node: Node, what: str, operands: tuple):
        if not _unify(a, b, self.deferred):
            raise _Fail(node, what, operands)

    def infer(self, n: Node):
        k = n.kind
        if k == "number":
            return _scalar()
        if k == "name":
            return self.var_type(n.value)
        if k in ("neg", "pos", "group"):
            return self.infer(n.args[0])
        if k == "transpose":
            r, c = self.infer(n.args[0])
            return (c, r)
        if k == "sum":
            ts = [self.infer(a) for a in n.args]
            arrays = [(a, t) for a, t in zip(n.args, ts) if not _is_scalar(t)]
            if not arrays:
                return ts[0]
            a0, t0 = arrays[0]
            for a, t in arrays[1:]:
                self.unify(t0[0], t[0], n, "sum", (a0, t0, a, t))
                self.unify(t0[1], t[1], n, "sum", (a0, t0, a, t))
            for a, t in zip(n.args, ts):
                if _is_scalar(t):
                    nm = self._soft_name(a)
                    if nm is not None:
                        self.promote.append(nm)  # b in A*x + b: a vector
                    else:
                        self.broadcast.append((n, a, arrays))
            return t0
        if k == "product":
            left, lt = n.args[0], self.infer(n.args[0])
            acc = lt
            for op, a in zip(n.value, n.args[1:]):
                t = self.infer(a)
                if op == "*":
                    if _is_scalar(acc):
                        acc = t
                    elif _is_scalar(t):
                        if self._soft_name(a) is not None:
                            self.promote.append(self._soft_name(a))  # b in a'*X*b or X*b: a vector

                    else:
                        self.unify(acc[1], t[0], n, "matrix product", (left, acc, a, t))
                        acc = (acc[0], t[1])
                elif op == "/":
                    if not _is_scalar(t):
                        raise _Fail(n, "division by a non-scalar (use ./ for elementwise division or inv(...))", (left, acc, a, t), a)
                elif op in (".*", "./"):
                    if _is_scalar(acc):
                        acc = t
                    elif not _is_scalar(t):
                        what = "elementwise product" if op == ".*" else "elementwise division"
                        self.unify(acc[0], t[0], n, what, (left, acc, a, t))
                        self.unify(acc[1], t[1], n, what, (left, acc, a, t))
                left = Node("product", [n.args[0], a], start=n.start, end=a.end)
            return acc
        if k == "pow":
            base, ex = n.args
            bt, et = self.infer(base), self.infer(ex)
            if n.value == ".^" and not _is_scalar(et):  # an exponent matrix: entry by entry
                if _is_scalar(bt):
                    return et
                self.unify(bt[0], et[0], n, "elementwise power", (base, bt, ex, et))
                self.unify(bt[1], et[1], n, "elementwise power", (base, bt, ex, et))
                return bt
            if not _is_scalar(et):
                raise _Fail(n, "the exponent must be a scalar", (ex, et), ex)
            if n.value == "^" and not _is_scalar(bt):
                k = _int_literal(ex)
                sym = _symbolic_exponent(ex) if k is None else None
                if sym is not None:
                    self.power_names |= sym.names
                    k = 2  # an integer symbol: sized like a dimension, checked as a square power
                if k is None:
                    raise _Fail(n, "a matrix power needs an integer exponent (use .^ for elementwise powers)", (base, bt))
                if abs(k) > MAX_MATRIX_POWER:
                    raise _Fail(n, f"the matrix power {k} is too large; the limit is {MAX_MATRIX_POWER}")
                self.unify(bt[0], bt[1], n, "matrix power of a non-square matrix", (base, bt))
            return bt
        if k == "call":
            return self.call(n)
        raise _Fail(n, f"unknown syntax {k}")  # pragma: no cover

    def _dim_arg(self, n: Node, a: Node) -> D:
        """A size argument of eye(n), ones(m, n) or commutation(m, n): a positive integer or a dimension name."""
        if a.kind == "name":
            return self.named_dim(a.value)
        k = _int_literal(a) if a.kind == "number" else None
        if not k or k < 1:
            raise _Fail(n, f"{n.value}(...) takes positive integers or dimension names, got {a.src(self.text).strip()}")
        return D(k)

    def call(self, n: Node):
        f = n.value
        args = n.args
        if f == "eye" and not args:  # eye(): a square identity sized from context
            d = D()
            self.const_nodes[id(n)] = (d, d)
            return (d, d)
        if f in SIZED:
            ds = [self._dim_arg(n, a) for a in args]
            if f == "eye":
                return (ds[0], ds[0])
            if f == "ones":
                return (ds[0], ds[1])
            return (_prod(ds[0], ds[1]), _prod(ds[0], ds[1]))
        if f == "unvec":  # unvec(v, r, c): the r x c matrix whose vec is the column v
            t = self.infer(args[0])
            r, c = self._dim_arg(n, args[1]), self._dim_arg(n, args[2])
            self.unify(t[1], _one(), n, "unvec of a non-column", (args[0], t))
            self.unify(t[0], _prod(r, c), n, f"unvec to {args[1].src(self.text).strip()}x{args[2].src(self.text).strip()}",
                       (args[0], t))
            return (r, c)
        ts = [self.infer(a) for a in args]
        if f in ("vector", "matrix"):
            if not _is_scalar(ts[0]):
                raise _Fail(n, f"{f}(c) needs a scalar c", (args[0], ts[0]), args[0])
            t = (D(), _one()) if f == "vector" else (D(), D())
            self.const_nodes[id(n)] = t
            return t
        t = ts[0]
        if f in SQUARE:
            self.unify(t[0], t[1], n, f"{f} of a non-square matrix", (args[0], t))
        if f in ELEMENTWISE or f in ("softmax", "inv"):
            return t
        if f in TO_SCALAR:
            return _scalar()
        if f == "logsumexp":
            return (_one(), t[1])
        if f == "diag":
            if find(t[1]).value == 1:
                return (t[0], t[0])
            self.unify(t[0], t[1], n, "diag of a non-square matrix", (args[0], t))
            return (t[0], _one())
        if f == "kron":
            a, b = ts
            return (_prod(a[0], b[0]), _prod(a[1], b[1]))
        if f == "vec":
            return (_prod(t[0], t[1]), _one())
        raise _Fail(n, f"unknown function {f}")  # pragma: no cover


@dataclass
class _SymExponent:
    value: sympy.Expr
    names: set


def _symbolic_exponent(n: Node):
    """k, k - 1, (k + 2), 2*k: an integer expression of names, for a matrix power X^k; None otherwise."""
    if n.kind in ("group", "pos"):
        return _symbolic_exponent(n.args[0])
    if n.kind == "name":
        return _SymExponent(E.dim(n.value), {n.value})
    if n.kind == "sum":
        parts = []
        for a in n.args:
            k = _int_literal(a)
            parts.append(_SymExponent(sympy.Integer(k), set()) if k is not None else _symbolic_exponent(a))
        if any(p is None for p in parts) or not any(p.names for p in parts):
            return None
        total = parts[0].value
        for sign, p in zip(n.value, parts[1:]):
            total = total + p.value if sign == "+" else total - p.value
        return _SymExponent(total, set().union(*(p.names for p in parts)))
    if n.kind == "product" and list(n.value) == ["*"]:
        a, b = (_int_literal(x) for x in n.args)
        other = _symbolic_exponent(n.args[1] if a is not None else n.args[0])
        if other is not None and (a is not None or b is not None):
            return _SymExponent(other.value * (a if a is not None else b), other.names)
    return None


def _int_literal(n: Node):
    sign = 1
    while n.kind in ("neg", "group", "pos"):
        if n.kind == "neg":
            sign = -sign
        n = n.args[0]
    if n.kind == "number":
        v = Fraction(n.value)
        if v.denominator == 1:
            return sign * int(v)
    return None


def _names(tree: Node) -> list:
    """Variable names in order of appearance (function heads and dimension arguments excluded)."""
    out: list = []
    stack = [tree]
    dims: set = set()
    while stack:
        n = stack.pop()
        if n.kind == "name":
            if n.value not in out:
                out.append(n.value)
        elif n.kind == "call" and n.value in SIZED + ("unvec",):
            sizes = n.args[1:] if n.value == "unvec" else n.args  # unvec(v, r, c): r and c are sizes
            for a in sizes:
                if a.kind == "name":
                    dims.add(a.value)
            if n.value == "unvec":
                stack.append(n.args[0])
            continue
        stack.extend(reversed(n.args))
    return out, dims


def _transposed_names(tree: Node) -> set:
    """Names that are transposed somewhere (a' is a vector, not a scalar, even for a-g)."""
    out, stack = set(), [tree]
    while stack:
        n = stack.pop()
        if n.kind == "transpose":
            a = n.args[0]
            while a.kind == "group":
                a = a.args[0]
            if a.kind == "name":
                out.add(a.value)
        stack.extend(n.args)
    return out


def _infer_kinds(tree: Node, text: str, kinds: dict, declared: dict, dim_names: set, soft: set,
                 square: frozenset = frozenset()):
    """Infer the shapes, revising the kinds of undeclared names until the expression type-checks.

    A lower-case name used where only a scalar fits (a divisor, an exponent) becomes a scalar.  A
    name of ``soft`` (a-g, read as scalars like matrixcalculus.org does) becomes a vector where it
    is added to an array (``A*x + b``), multiplies an array from the right (``a'*X*b``, ``X*b``), or
    where no scalar reading type-checks (``X*b + c``).  ``kinds`` is updated in place.
    """
    soft = set(soft)
    fixed: set = set()  # promoted names: never demoted back
    for _ in range(2 * len(kinds) + 2):
        inf = _Inferrer(text, tree, kinds, declared, dim_names, square)
        inf.soft = soft
        try:
            inf.infer(tree)
        except _Fail as f:
            sus = _suspects(f.must_be_scalar, kinds, declared) if f.must_be_scalar else []
            sus = [s for s in sus if kinds[s] != "scalar" and s not in fixed]
            if sus:
                kinds[sus[0]] = "scalar"
                continue
            inside = _names(f.node)[0]
            cand = [nm for nm in inside if nm in soft] or sorted(soft, key=lambda nm: _find_name(tree, nm))
            if cand:
                soft.discard(cand[0])
                fixed.add(cand[0])
                kinds[cand[0]] = "vector"
                continue
            err = _mismatch(f, text)
            err.args = (one_line(err.args[0] + _scalar_hint(tree, text, kinds, declared, dim_names, square)),)
            raise err from None
        if inf.promote:
            for nm in dict.fromkeys(inf.promote):
                soft.discard(nm)
                fixed.add(nm)
                kinds[nm] = "vector"
            continue
        return inf
    raise ShapeMismatchError("could not infer the shapes", text)  # pragma: no cover - each retry fixes a name


def _types_check(tree: Node, text: str, kinds: dict, declared: dict, dim_names: set,
                 square: frozenset = frozenset()) -> bool:
    try:
        _Inferrer(text, tree, kinds, declared, dim_names, square).infer(tree)
        return True
    except _Fail:
        return False


def _scalar_hint(tree: Node, text: str, kinds: dict, declared: dict, dim_names: set,
                 square: frozenset = frozenset()) -> str:
    """'; if y is a scalar, ...' when reading one name (a vector or matrix by its case) as a scalar type-checks."""
    for nm in sorted((k for k, v in kinds.items() if v in ("vector", "matrix")), key=lambda s: (s[:1].isupper(), s)):
        if _types_check(tree, text, {**kinds, nm: "scalar"}, declared, dim_names, square):
            if len(nm) > MAX_NAME:  # the message shows the name clipped: spell the declaration once, generically
                return (f"; {nm} is read as a {kinds[nm]} from its case: if it is a scalar, "
                        f"declare it so (--shape NAME=scalar, shapes={{NAME: ()}})")
            return (f"; {nm} is read as a {kinds[nm]} from its case: if {nm} is a scalar, "
                    f"declare it with --shape {nm}=scalar (shapes={{'{nm}': ()}})")
    return ""


def _broadcast_notes(inf, tree: Node, text: str, kinds: dict, declared: dict, dim_names: set,
                     square: frozenset = frozenset()) -> list:
    """Notes for a scalar added to a name that is a vector or matrix only by its case (w'*x + z)."""
    notes = []
    for _sum, scalar, arrays in inf.broadcast:
        for a, _t in arrays:
            while a.kind == "group":
                a = a.args[0]
            nm = a.value if a.kind == "name" else None
            if nm is None or kinds.get(nm) not in ("vector", "matrix") or nm in declared:
                continue
            if _types_check(tree, text, {**kinds, nm: "scalar"}, declared, dim_names, square):
                note = (f"{nm} is read as a {kinds[nm]} from its case, so the scalar {scalar.src(text).strip()} "
                        f"is added to each of its entries; if {nm} is a scalar, declare it with --shape {nm}=scalar "
                        f"(shapes={{'{nm}': ()}})")
                if note not in notes:
                    notes.append(note)
    return notes


def _check_calls(tree: Node, text: str):
    stack = [tree]
    while stack:
        n = stack.pop()
        if n.kind == "call":
            if n.value not in FUNCTION_ARITY:
                raise ParseError(f"unknown function {n.value!r}", text, n.start + 1)
            want = FUNCTION_ARITY[n.value]
            if len(n.args) != want and not (n.value == "eye" and not n.args):
                s = "" if want == 1 else "s"
                raise ParseError(f"{n.value} takes {want} argument{s}, got {len(n.args)}", text, n.start + 1)
        elif n.kind == "name" and n.value in FUNCTION_ARITY:
            raise ParseError(f"{n.value!r} is a function; call it as {n.value}(...)", text, n.start + 1)
        stack.extend(n.args)


def _suspects(node: Node, kinds: dict, declared: dict) -> list:
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "name" and n.value not in declared and kinds.get(n.value) in ("vector", "matrix"):
            out.append(n.value)
        if n.kind == "call" and n.value not in ELEMENTWISE:
            continue
        stack.extend(n.args)
    # lower-case names first: a lone upper-case name is more likely a matrix
    return sorted(dict.fromkeys(out), key=lambda s: (s[:1].isupper(), out.index(s)))


def _fmt_type(t, namer) -> str:
    r, c = find(t[0]), find(t[1])
    if r.value == 1 and c.value == 1:
        return "a scalar"
    return f"{namer(r)}x{namer(c)}"


def _find_name(tree: Node, name: str) -> int:
    stack = [tree]
    while stack:
        n = stack.pop()
        if n.kind == "name" and n.value == name:
            return n.start
        stack.extend(n.args)
    return 0


MAX_OPERAND = 40  # characters of an operand quoted in a shape error (after clipping its names)


def _operand(a: Node, text: str) -> str:
    """An operand's source for a message: long names clipped, then at most MAX_OPERAND characters."""
    src = clip_names(a.src(text).strip())
    return src if len(src) <= MAX_OPERAND else src[:MAX_OPERAND - 3] + "..."


def _mismatch(f: _Fail, text: str) -> ShapeMismatchError:
    namer = _Namer(None, [], set())
    ops = f.operands
    if len(ops) == 4:
        a, ta, b, tb = ops
        msg = (f"{f.message}: {_operand(a, text)} is {_fmt_type(ta, namer.provisional)} "
               f"but {_operand(b, text)} is {_fmt_type(tb, namer.provisional)}")
    elif len(ops) == 2:
        a, ta = ops
        msg = f"{f.message}: {_operand(a, text)} is {_fmt_type(ta, namer.provisional)}"
    else:
        msg = f.message
    return ShapeMismatchError(msg, text, f.node.start + 1)


class _Namer:
    """Names for inferred dimensions: n, m, p, ... avoiding names already in use."""

    def __init__(self, inf, names, dim_names):
        self.taken = set(names) | set(dim_names)
        self.names: dict = {}
        self.pool = iter([d for d in DIM_NAMES if d not in self.taken] + [f"n{i}" for i in range(1, 1000)])

    def provisional(self, d: D) -> str:
        d = find(d)
        if d.value is None:
            if d not in self.names:
                self.names[d] = next(self.pool)
            return self.names[d]
        if isinstance(d.value, tuple):
            return f"{self.provisional(d.value[1])}*{self.provisional(d.value[2])}"
        return str(d.value)

    def resolve(self, d: D):
        d = find(d)
        v = d.value
        if v is None:
            if d not in self.names:
                self.names[d] = next(self.pool)
            return E.dim(self.names[d])
        if isinstance(v, tuple):
            return self.resolve(v[1]) * self.resolve(v[2])
        return E.dim(v)
