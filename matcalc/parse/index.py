r"""Index notation: component-wise formulas, read so that they can be evaluated entry by entry.

A component-wise proof writes ``\sum_i \sum_j v_i A_{ij} v_j`` for vᵀAv, or
``\sum_j A_{kj} v_j + \sum_i v_i A_{ik}`` for the k-th entry of a gradient, or
spells out a 2x2 case with ``A_{1,1} v_1^2 + ...`` and ``\begin{bmatrix} ... \end{bmatrix}``.
:func:`parse_index` reads such a formula into an :class:`IndexExpr`, which
evaluates to a NumPy array at given values of the arrays it names: its free
indices (``k`` above) run over the sizes of the arrays they index.

What it reads:

- entries ``A_{ij}``, ``A_{i,j}``, ``A_{kj}``, ``v_i``, ``A_{1,1}``, ``A_{12}``, ``v_2`` (indices are single
  letters or numbers from 1); a name without a subscript is the whole array (``\mathbf{v}^T``);
- ``\sum_i``, ``\sum_{i=1}^{n}``, ``\sum_{i,j}``: the sum runs over the rest of the term (up to the next
  ``+`` or ``-`` outside brackets);
- products by juxtaposition, ``\cdot``, ``*``; ``+``, ``-``; ``^2`` (and any number) on an entry or a
  bracket; ``^T`` and ``^\top`` on a name or a matrix; ``\frac{a}{b}``; brackets ``(..)``, ``[..]``,
  ``\left( .. \right)``;
- ``\begin{bmatrix} a & b \\ c & d \end{bmatrix}`` (also ``pmatrix``) and ``[a \quad b]`` (a row);
  products of matrices are matrix products.

Anything else raises :class:`~matcalc.parse.grammar.ParseError`.

>>> import numpy as np
>>> f = parse_index(r"\sum_i \sum_j v_i A_{ij} v_j")
>>> v, A = np.array([[1.0], [2.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
>>> float(f.evaluate({"v": v, "A": A})[0, 0]) == (v.T @ A @ v).item()
True
>>> parse_index(r"\sum_j A_{kj} v_j").free
('k',)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product as cartesian

import numpy as np

from .grammar import MAX_DEPTH, MAX_LENGTH, ParseError
from .latex import GREEK, UNICODE_GREEK

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\\[,;:!]|\\(?:left|right|big|Big|bigg|Bigg)[lr]?(?![A-Za-z]))
  | (?P<quad>\\q?quad(?![A-Za-z]))
  | (?P<begin>\\begin\s*\{\s*[bpv]?matrix\s*\})
  | (?P<end>\\end\s*\{\s*[bpv]?matrix\s*\})
  | (?P<rowsep>\\\\)
  | (?P<amp>&)
  | (?P<sum>\\sum(?![A-Za-z]))
  | (?P<frac>\\[dt]?frac(?![A-Za-z]))
  | (?P<tmark>\\top(?![A-Za-z])|\\intercal(?![A-Za-z]))
  | (?P<font>\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit)(?![A-Za-z]))
  | (?P<mul>\\cdot(?![A-Za-z])|\\times(?![A-Za-z])|\*)
  | (?P<greek>\\[A-Za-z]+|[α-ωΑ-Ω])
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<letter>[A-Za-z])
  | (?P<op>[-+^_{}()\[\],='−])
""", re.X)


@dataclass
class IndexExpr:
    """A formula in index notation: evaluate it with ``evaluate(arrays)``."""

    tree: tuple
    free: tuple  # the free indices, in order of appearance
    names: set = field(default_factory=set)  # the array names it uses
    concrete: int = 0  # the largest written index (2 for A_{1,2}); 0 when none is written

    def evaluate(self, arrays: dict, order: tuple | None = None) -> np.ndarray:
        """The value: a 2-D array (one free index: a column; two: rows by the first of ``order``).

        ``order``: the free indices in the order of the result's axes (default: as they appear).
        """
        free = tuple(order) if order else self.free
        if sorted(free) != sorted(self.free):
            raise ParseError(f"the free indices are {', '.join(self.free)}, not {', '.join(free)}")
        sizes: dict = {}
        _sizes(self.tree, arrays, sizes)
        missing = [i for i in free if i not in sizes]
        if missing:
            raise ParseError(f"cannot tell the range of the index {missing[0]}")
        if not free:
            return _ev(self.tree, arrays, {}, sizes)
        if len(free) > 2:
            raise ParseError(f"{len(free)} free indices ({', '.join(free)}); at most 2 are supported")
        shape = [sizes[i] for i in free] + ([1] if len(free) == 1 else [])
        out = np.zeros(shape)
        for vals in cartesian(*(range(sizes[i]) for i in free)):
            v = _ev(self.tree, arrays, dict(zip(free, vals)), sizes)
            if v.shape != (1, 1):
                raise ParseError("an entry with free indices must be a number, not a matrix")
            out[vals if len(vals) == 2 else (vals[0], 0)] = v[0, 0]
        return out


def looks_indexed(text: str) -> bool:
    r"""Whether a formula uses entries (``A_{ij}``, ``v_1``) or a written-out matrix (``bmatrix``)."""
    return bool(re.search(r"\\begin\s*\{\s*[bp]?matrix|(?<![A-Za-z\\])[A-Za-z]\}?\s*_\s*(?:\{\s*)?[a-z0-9]", text))


def parse_index(text: str) -> IndexExpr:
    """Read a formula in index notation (see the module docstring)."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    toks = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind != "ws":
            toks.append((kind, m.group(0), m.start()))
    pos = sum(len(m.group(0)) for m in _TOKEN.finditer(text))
    if pos != len(text):
        bad = next(i for i, _ in enumerate(text) if not any(m.start() <= i < m.end() for m in _TOKEN.finditer(text)))
        raise ParseError(f"unexpected character {text[bad]!r}", text, bad + 1)
    p = _Parser(text, toks)
    tree = p.expr()
    if p.i < len(toks):
        raise ParseError(f"unexpected {toks[p.i][1]!r}", text, toks[p.i][2] + 1)
    return IndexExpr(tree, tuple(i for i in p.seen if i not in p.bound_all), p.names, p.concrete)


class _Parser:
    def __init__(self, text, toks):
        self.text, self.toks, self.i = text, toks, 0
        self.seen: list = []  # indices in order of appearance
        self.bound_all: set = set()
        self.names: set = set()
        self.concrete = 0
        self.depth = 0

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "", len(self.text))

    def take(self, value=None):
        t = self.peek()
        if value is not None and t[1] != value:
            raise ParseError(f"expected {value!r}, got {t[1] or 'the end'!r}", self.text, t[2] + 1)
        self.i += 1
        return t

    def expr(self, stop=()):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        terms = []
        sign = 1
        if self.peek()[1] in ("-", "−", "+"):
            sign = -1 if self.take()[1] != "+" else 1
        terms.append(("scale", sign, self.term(stop)))
        while self.peek()[1] in ("+", "-", "−") and self.peek()[1] not in stop:
            s = -1 if self.take()[1] != "+" else 1
            terms.append(("scale", s, self.term(stop)))
        self.depth -= 1
        return ("add", terms)

    def term(self, stop):
        factors = []
        while True:
            kind, val, at = self.peek()
            if kind == "eof" or val in ("+", "-", "−", ")", "]", "}", ",", "=") or kind in ("amp", "quad", "rowsep", "end") \
                    or val in stop:
                break
            if kind == "mul":
                self.take()
                continue
            if kind == "sum":
                self.take()
                idx = self.sum_indices()
                body = self.term(stop)
                self.bound_all |= set(idx)
                factors.append(("sum", tuple(idx), body))
                break
            factors.append(self.postfix(self.atom()))
        if not factors:
            kind, val, at = self.peek()
            raise ParseError(f"expected a factor, got {val or 'the end'!r}", self.text, at + 1)
        return ("mul", factors)

    def sum_indices(self):
        self.take("_")
        if self.peek()[1] == "{":
            self.take()
            idx = []
            while self.peek()[1] != "}":
                k, v, at = self.take()
                if k == "letter":
                    idx.append(v)
                elif v == "=":  # \sum_{i=1}^{n}: the range comes from the arrays
                    while self.peek()[1] != "}":
                        self.take()
                elif v != ",":
                    raise ParseError(f"unexpected {v!r} in the indices of a sum", self.text, at + 1)
            self.take("}")
        else:
            k, v, at = self.take()
            if k != "letter":
                raise ParseError("a sum needs an index letter", self.text, at + 1)
            idx = [v]
        if self.peek()[1] == "^":  # the upper limit: implied by the arrays
            self.take()
            if self.peek()[1] == "{":
                while self.take()[1] != "}":
                    pass
            else:
                self.take()
        for i in idx:
            if i not in self.seen:
                self.seen.append(i)
        return idx

    def atom(self):
        kind, val, at = self.take()
        if kind == "number":
            return ("num", float(val))
        if val in ("(", "["):
            close = ")" if val == "(" else "]"
            if val == "[" and self._is_row():
                return self.row()
            e = self.expr()
            self.take(close)
            return e
        if val == "{":
            e = self.expr()
            self.take("}")
            return e
        if kind == "frac":
            self.take("{")
            a = self.expr()
            self.take("}")
            self.take("{")
            b = self.expr()
            self.take("}")
            return ("div", a, b)
        if kind == "begin":
            return self.matrix()
        if kind == "font":
            self.take("{")
            inner = self.atom()
            self.take("}")
            return inner
        if kind in ("letter", "greek"):
            name = val if kind == "letter" else _greek(val, self.text, at)
            return self.entry(name)
        raise ParseError(f"unexpected {val!r}", self.text, at + 1)

    def _is_row(self):
        depth, j = 0, self.i
        while j < len(self.toks):
            k, v, _ = self.toks[j]
            if v in ("(", "[", "{"):
                depth += 1
            elif v in (")", "]", "}"):
                if depth == 0:
                    return False
                depth -= 1
            elif k in ("amp", "quad") and depth == 0:
                return True
            j += 1
        return False

    def entry(self, name):
        self.names.add(name)
        if self.peek()[1] == "_":
            self.take()
            parts = []
            if self.peek()[1] == "{":
                self.take()
                while self.peek()[1] != "}":
                    k, v, at = self.take()
                    if k == "letter":
                        parts.append(v)
                    elif k == "number":
                        parts += list(v) if "," not in self.text[at:self._close_at()] and len(v) == 2 else [v]
                    elif v != ",":
                        raise ParseError(f"unexpected {v!r} in a subscript", self.text, at + 1)
                self.take("}")
            else:
                k, v, at = self.take()
                if k not in ("letter", "number"):
                    raise ParseError("a subscript needs an index", self.text, at + 1)
                parts = [v]
            idx = []
            for p in parts:
                if p.isdigit():
                    if int(p) < 1:
                        raise ParseError("indices start at 1", self.text)
                    self.concrete = max(self.concrete, int(p))
                    idx.append(int(p) - 1)
                else:
                    if p not in self.seen:
                        self.seen.append(p)
                    idx.append(p)
            return ("entry", name, tuple(idx))
        return ("array", name)

    def _close_at(self):
        j = self.i
        while j < len(self.toks) and self.toks[j][1] != "}":
            j += 1
        return self.toks[j][2] if j < len(self.toks) else len(self.text)

    def postfix(self, node):
        while self.peek()[1] in ("^", "'"):
            if self.take()[1] == "'":
                node = ("T", node)
                continue
            k, v, at = self.peek()
            if k == "tmark" or v == "T":
                self.take()
                node = ("T", node)
            elif v == "{":
                self.take()
                if self.peek()[0] == "tmark" or self.peek()[1] == "T":
                    self.take()
                    self.take("}")
                    node = ("T", node)
                else:
                    e = self.expr()
                    self.take("}")
                    node = ("pow", node, e)
            elif k == "number":
                self.take()
                node = ("pow", node, ("num", float(v)))
            else:
                raise ParseError(f"unsupported exponent {v!r}", self.text, at + 1)
        return node

    def matrix(self):
        rows, row = [], []
        while True:
            row.append(self.expr())
            k, v, at = self.take()
            if k == "amp":
                continue
            rows.append(row)
            row = []
            if k == "rowsep":
                if self.peek()[0] == "end":
                    self.take()
                    break
                continue
            if k == "end":
                break
            raise ParseError(f"unexpected {v!r} in a matrix", self.text, at + 1)
        if len({len(r) for r in rows}) != 1:
            raise ParseError("the rows of a matrix have different lengths", self.text)
        return ("matrix", rows)

    def row(self):
        # [a \quad b] or [a & b]: the quads were dropped as spacing, so entries are split by the lexer gaps
        entries = [self.expr(stop=())]
        while self.peek()[0] in ("amp", "quad"):
            self.take()
            entries.append(self.expr())
        self.take("]")
        return ("matrix", [entries])


def _greek(tok: str, text: str, at: int) -> str:
    if tok in UNICODE_GREEK:
        return UNICODE_GREEK[tok]
    name = tok[1:]
    if name not in GREEK:
        raise ParseError(f"unsupported LaTeX command {tok}", text, at + 1)
    return GREEK[name]


def _sizes(node, arrays, sizes):
    """The range of every index letter, from the arrays it indexes."""
    kind = node[0]
    if kind == "entry":
        _, name, idx = node
        a = _array(arrays, name)
        dims = a.shape if len(idx) == 2 else ((a.shape[0] if a.shape[1] == 1 else a.shape[1]),)
        for i, d in zip(idx, dims):
            if isinstance(i, str):
                sizes.setdefault(i, d)
        return
    for child in node[1:]:
        if isinstance(child, tuple):
            _sizes(child, arrays, sizes)
        elif isinstance(child, list):
            for c in child:
                if isinstance(c, tuple):
                    _sizes(c, arrays, sizes)
                elif isinstance(c, list):
                    for cc in c:
                        _sizes(cc, arrays, sizes)


def _array(arrays, name):
    if name not in arrays:
        raise ParseError(f"unknown name {name!r}")
    return np.atleast_2d(np.asarray(arrays[name], dtype=float))


def _ev(node, arrays, env, sizes) -> np.ndarray:
    kind = node[0]
    if kind == "num":
        return np.array([[node[1]]])
    if kind == "array":
        return _array(arrays, node[1])
    if kind == "entry":
        _, name, idx = node
        a = _array(arrays, name)
        pos = tuple(env[i] if isinstance(i, str) else i for i in idx)
        if any(isinstance(i, str) and i not in env for i in idx):
            raise ParseError(f"the index {next(i for i in idx if isinstance(i, str) and i not in env)} is not bound")
        try:
            if len(pos) == 1:
                return np.array([[a[pos[0], 0] if a.shape[1] == 1 else a[0, pos[0]]]])
            if len(pos) == 2:
                return np.array([[a[pos]]])
        except IndexError:
            raise ParseError(f"{name}_{{{','.join(str(p + 1) for p in pos)}}} is outside {name} "
                             f"({'x'.join(map(str, a.shape))})") from None
        raise ParseError(f"{name} has {len(pos)} indices; at most 2 are supported")
    if kind == "add":
        out = None
        for _, s, t in node[1]:
            v = s * _ev(t, arrays, env, sizes)
            out = v if out is None else _plus(out, v)
        return out
    if kind == "mul":
        out = None
        for f in node[1]:
            v = _ev(f, arrays, env, sizes)
            out = v if out is None else _times(out, v)
        return out
    if kind == "sum":
        _, idx, body = node
        out = None
        for vals in cartesian(*(range(sizes[i]) for i in idx)):
            v = _ev(body, arrays, {**env, **dict(zip(idx, vals))}, sizes)
            out = v if out is None else _plus(out, v)
        return out
    if kind == "div":
        return _ev(node[1], arrays, env, sizes) / _scalar(_ev(node[2], arrays, env, sizes))
    if kind == "pow":
        base, e = _ev(node[1], arrays, env, sizes), _scalar(_ev(node[2], arrays, env, sizes))
        if base.shape != (1, 1):
            raise ParseError("a power of a matrix in index notation is not supported")
        return base ** e
    if kind == "T":
        return _ev(node[1], arrays, env, sizes).T
    if kind == "matrix":
        rows = [[_scalar(_ev(e, arrays, env, sizes)) for e in r] for r in node[1]]
        return np.array(rows, dtype=float)
    raise ParseError(f"cannot evaluate {kind}")  # pragma: no cover - the parser makes no other node


def _scalar(v: np.ndarray) -> float:
    if v.shape != (1, 1):
        raise ParseError(f"expected a number here, got a {v.shape[0]}x{v.shape[1]} matrix")
    return float(v[0, 0])


def _plus(a, b):
    if a.shape != b.shape:
        raise ParseError(f"cannot add a {a.shape[0]}x{a.shape[1]} and a {b.shape[0]}x{b.shape[1]} matrix")
    return a + b


def _times(a, b):
    if a.shape == (1, 1) or b.shape == (1, 1):
        return a * b
    if a.shape[1] != b.shape[0]:
        raise ParseError(f"matrix product of a {a.shape[0]}x{a.shape[1]} and a {b.shape[0]}x{b.shape[1]} matrix")
    return a @ b
