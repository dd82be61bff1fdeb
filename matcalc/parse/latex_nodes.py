"""From the LaTeX reader's lark tree to the plain-text parser's AST (the second stage of :mod:`matcalc.parse.latex`).

:class:`_ToNode` walks the tree top-down (a ``\\sum`` needs to know the indices
below it) and builds the same :class:`~matcalc.parse.grammar.Node` tree that
the plain-text grammar produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lark import Token, Tree

from .grammar import Node, ParseError
from .latex_grammar import COMMAND_FUNCTIONS, DECORATIONS, FUNCTIONS, NORMS, PRODUCT_OPS, greek_name
from .text import ELEMENTWISE


# -- from the LaTeX tree to the plain-text AST -------------------------------------------------


@dataclass
class _Scope:
    """One \\sum: its indices, whether they were used, the nodes that stand for entries."""

    indices: tuple
    used: bool = False
    entries: set = field(default_factory=set)  # ids of Nodes that came from x_i


def _modifier(children: list) -> tuple:
    """(the ^k or ' written right after a function name, or None; the remaining children)."""
    if children and isinstance(children[0], Tree) and children[0].data in ("fpow", "prime"):
        return children[0], children[1:]
    return None, children


def _deriv_table() -> dict:
    """f' as a node builder: f'(u) from u and ``call(g, u)``."""

    def n(v):
        return Node("number", value=v)

    def prod(a, b, op=".*"):
        return Node("product", [Node("group", [a]), Node("group", [b])], value=[op])

    def minus(a, b):
        return Node("sum", [a, Node("group", [b])], value=["-"])

    return {
        "sigmoid": lambda u, c: prod(c("sigmoid", u), minus(n("1"), c("sigmoid", u))),
        "tanh": lambda u, c: minus(n("1"), Node("pow", [Node("group", [c("tanh", u)]), n("2")], value=".^")),
        "exp": lambda u, c: c("exp", u),
        "log": lambda u, c: prod(n("1"), u, "./"),
        "relu": lambda u, c: c("step", u),
        "softplus": lambda u, c: c("sigmoid", u),
        "sin": lambda u, c: c("cos", u),
        "cos": lambda u, c: Node("neg", [c("sin", u)]),
    }


DERIVATIVES = _deriv_table()


def _kind(t) -> str:
    """The rule name without its context suffix; every factor rule is "factor"."""
    k = t.data
    if k.startswith("f_"):
        return "factor"
    if k.endswith(("_n", "_b")):
        k = k[:-2]
    return {"abs_lr": "abs", "abs_bar": "abs", "norm_lr": "norm", "norm_bar": "norm",
            "bracket": "group", "brace": "group", "sumbare": "bare", "sproduct": "product",
            "hadamard": "product"}.get(k, k)


def _span(t) -> tuple[int, int]:
    if isinstance(t, Token):
        return t.start_pos, t.end_pos
    return (t.meta.start_pos, t.meta.end_pos) if not t.meta.empty else (0, 0)


def _roman(tok: str) -> str:
    """The word inside \\mathrm{...} and friends."""
    return tok[tok.index("{") + 1:tok.rindex("}")].strip()


class _ToNode:
    """Converts the lark tree top-down (sums need to know their indices below them)."""

    def __init__(self, text: str, declared: set, bars: str = "abs"):
        if bars not in ("abs", "det"):
            raise ValueError(f"bars must be 'abs' or 'det', got {bars!r}")
        self.text = text
        self.declared = declared
        self.bars = bars
        self.scopes: list[_Scope] = []

    def fail(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.text, pos + 1)

    def node(self, t) -> Node:
        return getattr(self, "_" + _kind(t))(t)

    # -- leaves and names --

    def _number(self, t):
        return Node("number", value=str(t.children[0]), start=t.meta.start_pos, end=t.meta.end_pos)

    _digit = _number

    def _letter(self, t):
        return self.name(self.base_name(t), [], *_span(t))

    _greek = _word = _letter

    def _decor(self, t):
        if self.base_name(t) is None:
            raise self.fail(f"{t.children[0]} is only supported on a name", t.meta.start_pos)
        return self._letter(t)

    def _bold(self, t):
        inner = t.children[1]
        if self.base_name(inner) is not None:
            return self.name(self.base_name(inner), [], *_span(t))
        value = self.node(inner)
        while value.kind == "group":
            value = value.args[0]
        if value.kind == "number" and value.value in ("0", "1"):  # \mathbf{1}: the ones vector
            return Node("call", [value], value="vector", start=t.meta.start_pos, end=t.meta.end_pos)
        return value  # bold type on anything else changes nothing

    def base_name(self, t) -> str | None:
        """The name a name-like atom spells (``\\mathbf{x}`` is x, ``\\hat{y}`` is yhat), else None."""
        k = _kind(t)
        if k == "letter":
            return str(t.children[0])
        if k == "greek":
            return greek_name(str(t.children[0]))
        if k == "word":
            return _roman(str(t.children[0]))
        if k == "bold":
            return self.base_name(t.children[1])
        if k == "decor":
            inner = self.base_name(t.children[1])
            return None if inner is None else inner + DECORATIONS[str(t.children[0])[1:]]
        if k == "group" and t.data == "brace":
            return self.base_name(t.children[0])
        return None

    def name(self, base: str, parts: list, start: int, end: int) -> Node:
        """A name with subscript parts: x_i inside \\sum_i is x; I and I_n are identities."""
        sub = "".join(parts)
        if self.scopes and parts:
            scope = self.scopes[-1]
            outer = {i for s in self.scopes[:-1] for i in s.indices} - set(scope.indices)
            if outer & set(parts):
                raise self.fail(f"{base}_{{{sub}}} uses the index of an enclosing sum; write one sum "
                                f"such as \\sum_{{i,j}} instead of nesting", start)
            if set(parts) & set(scope.indices):
                if tuple(parts) != scope.indices:
                    raise self.fail(f"{base}_{{{sub}}} must be indexed by all the indices of its sum, in order "
                                    f"({','.join(scope.indices)}); only sums of all entries are supported", start)
                scope.used = True
                n = self.name(base, [], start, end)
                scope.entries.add(id(n))
                return n
        if base == "I" and "I" not in self.declared:
            if not parts:
                return Node("call", [], value="eye", start=start, end=end)
            if len(parts) == 1:
                size = Node("number" if parts[0].isdigit() else "name", value=parts[0], start=start, end=end)
                return Node("call", [size], value="eye", start=start, end=end)
        value = f"{base}_{sub}" if parts else base
        if not value.isidentifier():
            raise self.fail(f"cannot use {value!r} as a name", start)
        return Node("name", value=value, start=start, end=end)

    # -- factors: an atom with sub- and superscripts --

    def _factor(self, t):
        atom, scripts = t.children[0], t.children[1:]
        subs: list = []
        sups: list = []
        for s in scripts:
            label = self.label(s) if not sups and self.base_name(atom) is not None else None
            if s.data == "sub":
                subs.append(self.sub_parts(s))
            elif label is not None:  # W^{[l]}, x^{(i)}: a layer or sample label, like a subscript
                subs.append([label])
            else:
                sups.append(s)
        start = t.meta.start_pos
        node = self.subscripted(atom, subs, scripts) if subs else self.node(atom)
        for s in sups:
            node = self.superscript(node, s, start)
        return node

    def sub_parts(self, s) -> list:
        (arg,) = s.children  # a subbrace or a one-token rule: either way, tokens
        parts = []
        for tok in arg.children:
            v = str(tok)
            if tok.type == "GREEK":
                v = greek_name(v)
            elif tok.type == "WORDNAME":
                v = _roman(v)
            parts.append(v)
        return parts

    def label(self, s):
        """The l of ^{[l]} or ^{(l)}, else None."""
        if s.data != "sup" or _kind(s.children[0]) != "group":
            return None
        inner = s.children[0].children[0]
        if inner.data in ("group", "bracket") and inner.children[0].data in ("letter", "number"):
            return str(inner.children[0].children[0])
        return None

    def subscripted(self, atom, subs: list, scripts) -> Node:
        start, end = _span(atom)
        end = max([end] + [_span(s)[1] for s in scripts if s.data == "sub"])
        parts = [p for sub in subs for p in sub]
        k = _kind(atom)
        if k == "norm":
            p = "".join(parts)
            if len(subs) != 1 or p not in NORMS:
                raise self.fail(f"unsupported norm subscript {p!r}; use _1, _2 or _F", start)
            return self.call(NORMS[p], [self.node(atom.children[1])], start, end)
        base = self.base_name(atom)
        if base is not None:
            return self.name(base, parts, start, end)
        n = self.node(atom)
        if n.kind == "call" and n.value == "vector":  # \mathbf{1}_n: its size comes from context anyway
            return n
        sub_at = next(s for s in scripts if s.data == "sub")
        raise self.fail("a subscript is only supported on a name, a norm, I or \\mathbf{1}", sub_at.meta.start_pos)

    def superscript(self, base: Node, s, start: int) -> Node:
        end = s.meta.end_pos
        if s.data == "prime":
            return Node("transpose", [base], start=start, end=end)
        arg, negated = self.exponent(s.children[0])
        if self.is_t(arg):  # ^T, ^{-T}
            if negated:
                minus_one = Node("neg", [Node("number", value="1", start=start, end=end)], start=start, end=end)
                base = self.pow(base, minus_one, start, end)
            return Node("transpose", [base], start=start, end=end)
        exponent = self.node(arg)
        if arg.data == "brace":  # x^{2}: the braces only delimit
            exponent = exponent.args[0]
        if negated:
            exponent = Node("neg", [exponent], start=exponent.start, end=exponent.end)
        if base.kind == "name" and base.value == "e" and "e" not in self.declared:
            return self.call("exp", [exponent], start, end)
        return self.pow(base, exponent, start, end)

    def exponent(self, arg) -> tuple:
        """A superscript as (tree, negated): ^-1, ^{-T} and ^{-\\top} are negated 1, T and \\top."""
        if arg.data in ("tbrace", "sneg"):
            return arg.children[-1], isinstance(arg.children[0], Token)
        if arg.data == "brace":
            inner = arg.children[0]
            if self.is_t(inner):
                return inner, False
            if inner.data == "neg" and self.is_t(inner.children[1]):
                return inner.children[1], True
        return arg, False

    @staticmethod
    def is_t(t) -> bool:
        return _kind(t) == "tmark" or (_kind(t) == "letter" and str(t.children[0]) == "T")

    def pow(self, base: Node, exponent: Node, start: int, end: int) -> Node:
        inner = base
        while inner.kind == "group":
            inner = inner.args[0]
        # an entry, or an elementwise function's value (\tanh(x)^2), is squared entry by entry
        op = ".^" if self.touches(base) or (inner.kind == "call" and inner.value in ELEMENTWISE) else "^"
        return Node("pow", [base, exponent], value=op, start=start, end=end)

    # -- operators --

    def _sum(self, t):
        items = [self.node(c) for c in t.children if isinstance(c, Tree)]
        ops = ["+" if c.type == "PLUS" else "-" for c in t.children if isinstance(c, Token)]
        return Node("sum", items, value=ops, start=t.meta.start_pos, end=t.meta.end_pos)

    def _product(self, t):
        items, ops, pending = [], [], "*"
        for c in t.children:
            if isinstance(c, Token):
                pending = PRODUCT_OPS[re.sub(r"\s", "", str(c))]
                continue
            if items:
                ops.append(pending)
            item = self.node(c)
            if items and item.kind == "group" and pending == "*" and self.is_heaviside(items[-1]):
                items[-1] = self.call("step", [item], items[-1].start, item.end)  # H(z): the Heaviside step
                ops.pop()
            else:
                items.append(item)
            pending = "*"
        return self.chain(items, ops)

    def is_heaviside(self, n: Node) -> bool:
        """H right before a parenthesis is the Heaviside step, unless H is a name of the problem."""
        return n.kind == "name" and n.value == "H" and "H" not in self.declared and "H(" == \
            self.text[n.start:n.end + 1].replace(" ", "")[:2]

    def chain(self, items: list, ops: list) -> Node:
        """An n-ary product; kron folds to the left; inside a sum, products of entries are elementwise."""
        run, run_ops = [items[0]], []
        entries = self.touches(items[0])  # whether the run so far holds an entry
        for op, item in zip(ops, items[1:]):
            if op == "kron":
                left = self.collapse(run, run_ops)
                run, run_ops = [self.call("kron", [left, item], left.start, item.end)], []
                entries = self.touches(run[0])
                continue
            entries = self.touches(item) or entries
            if op in ("*", "/") and entries:
                op = "." + op
            run.append(item)
            run_ops.append(op)
        return self.collapse(run, run_ops)

    @staticmethod
    def collapse(items: list, ops: list) -> Node:
        if not ops:
            return items[0]
        return Node("product", items, value=ops, start=items[0].start, end=items[-1].end)

    def _neg(self, t):
        return Node(t.data, [self.node(t.children[1])], start=t.meta.start_pos, end=t.meta.end_pos)

    _pos = _neg

    def _group(self, t):
        return Node("group", [self.node(t.children[0])], start=t.meta.start_pos, end=t.meta.end_pos)

    def _frac(self, t):
        num, den = (self.token_or_node(c) for c in t.children[1:])
        out = self.chain([num, den], ["/"])
        out.start, out.end = t.meta.start_pos, t.meta.end_pos  # errors quote \frac{..}{..} whole
        return out

    def token_or_node(self, c) -> Node:
        """A \\frac numerator: a tree, or a lone DIGIT, LETTER or GREEK token (\\frac12, \\frac\\lambda m)."""
        if isinstance(c, Tree):
            return self.node(c)
        if c.type == "DIGIT":
            return Node("number", value=str(c), start=c.start_pos, end=c.end_pos)
        base = greek_name(str(c)) if c.type == "GREEK" else str(c)
        return self.name(base, [], c.start_pos, c.end_pos)

    def _sqrt(self, t):
        return self.call("sqrt", [self.node(t.children[1])], t.meta.start_pos, t.meta.end_pos)

    def _abs(self, t):
        return self.call(self.bars, [self.node(t.children[1])], t.meta.start_pos, t.meta.end_pos)

    def _norm(self, t):
        return self.call("norm2", [self.node(t.children[1])], t.meta.start_pos, t.meta.end_pos)

    # -- functions --

    def _call(self, t):
        f = self.function(t.children[0])
        mod, rest = _modifier(t.children[1:])
        args = [self.node(c) for c in rest]
        return self.modified(f, mod, args, t.meta.start_pos, t.meta.end_pos)

    def _bare(self, t):
        f = self.function(t.children[0])
        mod, rest = _modifier(t.children[1:])
        arg = self.chain([self.node(c) for c in rest], ["*"] * (len(rest) - 1))
        return self.modified(f, mod, [arg], t.meta.start_pos, t.meta.end_pos)

    def modified(self, f: str, mod, args: list, start: int, end: int) -> Node:
        r"""``\tanh^2(x)`` is ``tanh(x).^2``; ``\sigma'(z)`` is the derivative of sigmoid at z."""
        if mod is None:
            return self.call(f, args, start, end)
        if mod.data == "prime":
            if f not in DERIVATIVES or len(args) != 1:
                raise self.fail(f"the derivative {f}' is not supported; write it out", start)
            return self.group(DERIVATIVES[f](args[0], lambda g, a: self.call(g, [a], start, end)), start, end)
        exponent = self.node(mod.children[0])
        if exponent.kind == "group":
            exponent = exponent.args[0]
        if exponent.kind == "neg":
            raise self.fail(f"{f}^{{-1}} is ambiguous (the inverse function or 1/{f}); write it out", start)
        return Node("pow", [self.group(self.call(f, args, start, end), start, end), exponent], value=".^",
                    start=start, end=end)

    @staticmethod
    def group(n: Node, start: int, end: int) -> Node:
        return Node("group", [n], start=start, end=end)

    def function(self, tok: Token) -> str:
        s = str(tok)
        if "{" in s:
            word = _roman(s)
        else:
            word = s[1:] if s.startswith("\\") else s
            if word in COMMAND_FUNCTIONS:
                return COMMAND_FUNCTIONS[word]
            if word == "sigma":
                return "sigmoid"
        f = FUNCTIONS.get(word) or FUNCTIONS.get(word.lower())
        if f is None:
            raise self.fail(f"unknown function {word!r}; known: {', '.join(sorted(set(FUNCTIONS.values())))}",
                            tok.start_pos)
        return f

    def call(self, f: str, args: list, start: int, end: int) -> Node:
        if f == "log" and len(args) == 1:  # \log\det X is logdet(X)
            a = args[0]
            while a.kind == "group":
                a = a.args[0]
            if a.kind == "call" and a.value == "det":
                f, args = "logdet", a.args
        if f == "sech":  # sech(u) = 2 / (exp(u) + exp(-u))
            (u,) = args
            two = Node("number", value="2", start=start, end=end)
            both = Node("sum", [self.call("exp", [u], start, end),
                                self.call("exp", [Node("neg", [u], start=start, end=end)], start, end)],
                        value=["+"], start=start, end=end)
            return self.group(Node("product", [two, self.group(both, start, end)], value=["./"], start=start,
                                   end=end), start, end)
        if f not in ELEMENTWISE and any(self.touches(a) for a in args):
            raise self.fail(f"{f} of an indexed entry inside a sum is not supported; "
                            f"only elementwise functions can be summed entry by entry", start)
        return Node("call", args, value=f, start=start, end=end)

    def _indicator(self, t):
        r"""``\mathbb{1}[a > b]`` is ``step(a - b)``; ``\mathbb{1}[a < b]`` is ``step(b - a)``."""
        cond = next(c for c in t.children if isinstance(c, Tree))
        a, op, b = cond.children
        left, right = self.node(a), self.node(b)
        if str(op).lstrip("\\").startswith(("<", "l", "\u2264")):
            left, right = right, left
        start, end = t.meta.start_pos, t.meta.end_pos
        diff = Node("sum", [self.group(left, start, end), self.group(right, start, end)], value=["-"],
                    start=start, end=end)
        return self.call("step", [diff], start, end)

    # -- sums of entries --

    def _bigsum(self, t):
        start = t.meta.start_pos
        indices: list = []
        body = t
        while _kind(body) == "bigsum":  # \sum_i \sum_j is \sum_{i,j}
            if len(body.children) == 2:  # \sum W: the sum of the entries of the first factor after it
                if indices:
                    raise self.fail("a \\sum without indices inside an indexed \\sum", start)
                return self.bare_sum(self.node(body.children[1]), start, t.meta.end_pos)
            _, limits, body = body.children
            indices += [str(c) for c in limits.children if isinstance(c, Token)]
        for i in indices:
            if indices.count(i) > 1:
                raise self.fail(f"the index {i} is used twice", start)
        scope = _Scope(tuple(indices))
        self.scopes.append(scope)
        try:
            inner = self.node(body)
            constant = self.constant_factors(inner)
        finally:
            self.scopes.pop()
        if not scope.used:
            idx = ",".join(indices)
            raise self.fail(f"the summand of \\sum_{{{idx}}} has no entry indexed by {idx}; only sums of all entries "
                            f"(such as \\sum_{{{idx}}} x_{{{indices[0] if len(indices) == 1 else ''.join(indices)}}}) "
                            f"are supported", start)
        if constant:  # \sum_{i,j} W_{ij} 1 1^T is sum(W) * (1 1^T)
            entries, rest = constant
            total = self.call("sum", [entries], start, t.meta.end_pos)
            return self.collapse([total, *rest], ["*"] * len(rest))
        return Node("call", [inner], value="sum", start=start, end=t.meta.end_pos)

    def bare_sum(self, inner: Node, start: int, end: int) -> Node:
        r"""``\sum W \, \mathbf{1}\mathbf{1}^T`` is sum(W)*1*1': the factors after the first multiply the sum."""
        if inner.kind == "product" and all(op == "*" for op in inner.value):
            total = self.call("sum", [inner.args[0]], start, inner.args[0].end)
            return self.collapse([total, *inner.args[1:]], inner.value)
        return self.call("sum", [inner], start, end)

    def constant_factors(self, inner: Node):
        """(the product of the factors that hold entries, the others), when some factors hold no entry.

        Factors free of the sum's indices come out of it: sum_ij W_ij M = sum(W) * M.
        """
        if inner.kind != "product" or any(op not in ("*", ".*") for op in inner.value):
            return None
        holding = [a for a in inner.args if self.touches(a)]
        rest = [a for a in inner.args if not self.touches(a)]
        if not holding or not rest:
            return None
        return self.collapse(holding, [".*"] * (len(holding) - 1)), rest

    def touches(self, n: Node) -> bool:
        """Whether the node holds an entry x_i of the innermost sum (outside a non-elementwise call)."""
        if not self.scopes:
            return False
        entries = self.scopes[-1].entries
        stack = [n]
        while stack:
            m = stack.pop()
            if id(m) in entries:
                return True
            stack.extend(m.args)
        return False
