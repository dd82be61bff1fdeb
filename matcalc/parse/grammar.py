"""The plain-text grammar (matrixcalculus.org's syntax plus the ML functions).

Parsed with lark's LALR parser into a small AST of :class:`Node`; sums and
products are n-ary so that the tree is only as deep as the real nesting.
Input is bounded: at most ``MAX_LENGTH`` characters and ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import MatcalcError

MAX_LENGTH = 20_000
MAX_DEPTH = 200  # levels of nesting: brackets, calls and operators (see check_tree)
LARK_DEPTH = 4 * MAX_DEPTH + 10  # the grammar's own tree: each level of nesting is up to 4 of its levels
MAX_NODES = 10_000  # operands and operations
MAX_DIGITS = 100  # digits of a number literal
CARET_WIDTH = 72  # characters of the input shown above a caret

GRAMMAR = r"""
?start: sum

sum: product (ADDOP product)*
product: unary (MULOP unary)*
?unary: power
      | "-" unary       -> neg
      | "+" unary       -> pos
?power: postfix
      | postfix POWOP unary -> pow
?postfix: atom
        | postfix "'"   -> transpose
?atom: NUMBER           -> number
     | NAME             -> name
     | NAME "(" [sum ("," sum)*] ")" -> call
     | "(" sum ")"      -> group

ADDOP: "+" | "-"
MULOP: ".*" | "./" | "*" | "/"
POWOP: ".^" | "^"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?/

%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


class ParseError(MatcalcError):
    """A syntax error: one line naming the problem and its column."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.text = text
        self.column = column
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where}")

    def caret(self) -> str:
        """The input with a caret under the position, for terminals."""
        if self.column is None or not self.text or not self.text.isprintable():
            return ""
        start = max(0, min(self.column - 1 - CARET_WIDTH // 2, len(self.text) - CARET_WIDTH))
        window = self.text[start:start + CARET_WIDTH]  # a long input is shown around the position
        lead, tail = ("..." if start else ""), ("..." if start + CARET_WIDTH < len(self.text) else "")
        return f"  {lead}{window}{tail}\n  {' ' * (len(lead) + self.column - 1 - start)}^"


@dataclass
class Node:
    kind: str  # number name call neg pos pow transpose sum product group
    args: list = field(default_factory=list)
    value: object = None  # number value, name, function name, operators
    start: int = 0  # 0-based offsets into the text
    end: int = 0

    def src(self, text: str) -> str:
        return text[self.start:self.end]


def _describe(tok) -> str:
    if isinstance(tok, Token):
        if tok.type == "$END":
            return "end of input"
        return repr(str(tok))
    return repr(tok)


def parse_tree(text: str) -> Node:
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ParseError("the expression is empty")
    depth = best = 0
    for ch in text:
        if ch == "(":
            depth += 1
            best = max(best, depth)
    if best > MAX_DEPTH:
        raise ParseError(f"the expression is nested {best} levels deep; the limit is {MAX_DEPTH}")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        raise ParseError(f"unexpected character {ch!r}", text, e.pos_in_stream + 1) from None
    except UnexpectedEOF:
        raise ParseError("unexpected end of input", text, len(text) + 1) from None
    except UnexpectedToken as e:
        if e.token.type == "$END":
            raise ParseError("unexpected end of input", text, len(text) + 1) from None
        raise ParseError(f"unexpected {_describe(e.token)}", text, e.token.start_pos + 1) from None
    except UnexpectedInput as e:  # pragma: no cover - the three above cover lark's errors
        raise ParseError("syntax error", text, getattr(e, "column", None)) from None
    if _depth(tree) > LARK_DEPTH:  # bounds _convert's recursion; check_tree counts the real nesting
        raise ParseError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    return _convert(tree)


def _abbrev(s: str) -> str:
    return s if len(s) <= 24 else f"{s[:10]}...{s[-10:]} ({len(s)} characters)"


def check_number(s: str, text: str, start: int) -> None:
    """A number literal must have at most ``MAX_DIGITS`` digits and lie in float64's range."""
    mantissa = s.lower().split("e")[0]
    digits = sum(ch.isdigit() for ch in mantissa)
    if digits > MAX_DIGITS:
        raise ParseError(f"the number {_abbrev(s)} has {digits} digits; the limit is {MAX_DIGITS}", text, start + 1)
    v = float(s)
    if not math.isfinite(v) or abs(v) > 1e300 or (v == 0 and mantissa.strip("0.")) or (v != 0 and abs(v) < 1e-300):
        raise ParseError(f"the number {_abbrev(s)} is outside the range of a float (matcalc computes with magnitudes from 1e-300 to 1e300)",
                         text, start + 1)


def check_tree(tree: Node, text: str) -> None:
    """Bounds every parser's tree obeys: nesting (brackets and operators, not counting plain
    parentheses) at most ``MAX_DEPTH`` levels, at most ``MAX_NODES`` nodes, and every number in range."""
    count = 0
    stack = [(tree, 0)]
    while stack:
        n, d = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ParseError(f"the expression has more than {MAX_NODES} operands and operations; "
                             f"the limit is {MAX_NODES}", text)
        if n.kind not in ("group", "pos") and n.args:
            d += 1
            if d > MAX_DEPTH:
                raise ParseError(f"the expression is nested more than {MAX_DEPTH} levels deep", text, n.start + 1)
        if n.kind == "number":
            check_number(str(n.value), text, n.start)
        stack.extend((a, d) for a in n.args)


def _depth(tree) -> int:
    best = 0
    stack = [(tree, 1)]
    while stack:
        t, d = stack.pop()
        best = max(best, d)
        if isinstance(t, Tree):
            stack.extend((c, d + 1) for c in t.children)
    return best


def _pos(t) -> tuple[int, int]:
    if isinstance(t, Token):
        return t.start_pos, t.end_pos
    m = t.meta
    return (m.start_pos, m.end_pos) if not m.empty else (0, 0)


def _convert(t) -> Node:
    start, end = _pos(t)
    if isinstance(t, Token):  # pragma: no cover - tokens are wrapped by rules
        raise ParseError(f"unexpected token {t!r}")
    k = t.data
    ch = t.children
    if k == "number":
        return Node("number", value=str(ch[0]), start=start, end=end)
    if k == "name":
        return Node("name", value=str(ch[0]), start=start, end=end)
    if k == "call":
        return Node("call", [_convert(c) for c in ch[1:]], value=str(ch[0]), start=start, end=end)
    if k in ("neg", "pos", "transpose", "group"):
        return Node(k, [_convert(ch[0])], start=start, end=end)
    if k == "pow":
        return Node("pow", [_convert(ch[0]), _convert(ch[2])], value=str(ch[1]), start=start, end=end)
    if k in ("sum", "product"):
        items = [_convert(ch[0])]
        ops = []
        for op, operand in zip(ch[1::2], ch[2::2]):
            ops.append(str(op))
            items.append(_convert(operand))
        if not ops:
            return items[0]
        return Node(k, items, value=ops, start=start, end=end)
    raise ParseError(f"unknown syntax node {k}")  # pragma: no cover
