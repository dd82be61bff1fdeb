"""Checking a derivation line by line."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from .. import expr as E
from ..budget import guarded
from ..errors import TooLargeError
from ..api import MatcalcError, check_layout, derive
from ..emit.text import to_text
from ..evaluate import TOLERANCE, TRIALS, Points, compare, looks_latex, numpy_spelling, shape_symbols, substitute
from ..parse import Parsed, ParseError, ShapeMismatchError, UnknownNameError, parse, parse_latex
from ..parse.derivation import match_head, split_rows, split_top, var_name
from ..parse.index import IndexExpr, looks_indexed, parse_index
from ..parse.latex import GREEK
from ..parse.text import normalize_assume
from .claims import (aliases, counterexample, counterexample_one_based, declared_shapes, dim_spec, dims_of,
                     format_counterexample, sized)
from .diagnose import Diagnoser, Finding, prove_equal
from .entries import Component, entry_numbers, entry_points, index_clash, index_of
from .verdict import undefined_message

# ---------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------

_EMBEDDED = re.compile(r"(?:(?<![A-Za-z0-9_])d\s*/\s*d|grad_|nabla_)(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\s*\(")
# a label: a new name, perhaps with arguments (f(x), J(\theta), \ell(K)): it names the value after its '='
_LABEL = re.compile(r"^(?P<name>\\(?:" + "|".join(sorted(GREEK, key=len, reverse=True)) + r")(?![A-Za-z])"
                    r"|[A-Za-zα-ω][A-Za-z0-9_]*)\s*(?:(?:\\left)?\(\s*[^()=]*(?:\\right)?\))?$")
# the differential operator before a name: dX, d X, \mathrm{d}X, \operatorname{d} X
_D = r"(?:\\mathrm\s*\{\s*d\s*\}|\\operatorname\s*\{\s*d\s*\}|(?<![A-Za-z\\])d)\s*(?:\\[,;]\s*)?"


def _differential_rx(name: str) -> re.Pattern:
    """dV as written for the variable V (also d\\mathbf{V}, d\\theta)."""
    v = re.escape(name)
    spelled = rf"(?:\\(?:mathbf|boldsymbol|bm)\s*\{{\s*\\?{v}\s*\}}|\\?{v})"
    return re.compile(_D + spelled + r"(?![A-Za-z0-9_])")


def _matching_paren(s: str, i: int) -> int:
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise ParseError("unbalanced parentheses", s, i + 1)


@dataclass
class Step:
    """One item of a derivation: a line, or one side of a line with several '='."""

    line: int
    text: str
    kind: str  # 'function', 'derivative' or 'differential'
    status: str  # 'start', 'label', 'ok' or 'wrong'
    value: E.Expr | None = None
    method: str = ""
    message: str = ""
    mistake: str | None = None
    counterexample: dict | None = None
    why: str = ""  # the justification written next to the line (\text{by (3)}, [chain rule])

    def __str__(self) -> str:
        mark = {"ok": "ok", "wrong": "WRONG", "start": "start", "label": "label"}[self.status]
        why = f"  [{self.why}]" if self.why else ""
        tail = f"  ({self.message})" if self.message else ""
        return f"line {self.line}: {mark:5s} {self.text.strip()}{why}{tail}"


@dataclass
class StepsReport:
    """The result of :func:`check_steps`: every step, and the first one that does not follow."""

    steps: list
    variables: dict

    @property
    def ok(self) -> bool:
        return all(s.status != "wrong" for s in self.steps)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def first_wrong(self) -> Step | None:
        return next((s for s in self.steps if s.status == "wrong"), None)

    @property
    def line(self) -> int | None:
        """The line number (1-based) of the first wrong step, or None."""
        s = self.first_wrong
        return s.line if s else None

    def __str__(self) -> str:
        head = "all steps follow" if self.ok else f"line {self.line} does not follow from the line before"
        return "\n".join([head] + [str(s) for s in self.steps])

    def explain(self) -> str:
        s = self.first_wrong
        if s is None:
            return f"Every step follows from the one before ({len(self.steps)} steps checked)."
        out = [f"Line {s.line} does not follow from the step before it: {s.text.strip()}", f"  {s.message}"]
        if s.why:
            out.insert(1, f"  (justified there as: {s.why})")
        if s.counterexample and format_counterexample(s.counterexample) not in s.message:
            out.append(f"  counterexample: {format_counterexample(s.counterexample)}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "first_wrong_line": self.line,
            "steps": [{"line": s.line, "text": s.text.strip(), "kind": s.kind, "status": s.status,
                       "method": s.method, "message": s.message, "mistake": s.mistake, "why": s.why,
                       "value": _value_text(s.value),
                       "counterexample": counterexample_one_based(s.counterexample)} for s in self.steps],
        }


_DIFF_LHS = re.compile(r"^(?:\\mathrm\s*\{\s*d\s*\}|\\operatorname\s*\{\s*d\s*\}|d)\s*(?:\\[,;]\s*)?"
                       r"(?P<body>\\[A-Za-z].*|\(.*|[A-Za-z](?:_\w+)?(?:\s*\([^()]*\))?)$", re.S)


class _Steps:
    def __init__(self, wrt, shapes, assume, layout, seed, tol):
        self.default_wrt = wrt
        self.user_shapes = dict(shapes or {})
        self.assume = normalize_assume(assume)
        self.layout = check_layout(layout)
        self.seed = seed
        self.tol = tol
        self.vars: dict = {}
        self.labels: dict = {}
        self.function: E.Expr | None = None  # the function being differentiated, as last written
        self.wrt_seen: str | None = None
        self.entry_head = False  # whether the last derivative head was of entries (df/dv_k)
        self.defining = False  # a labelled definition before any derivative: it may add names (H = relu(Z))
        self.counter = 0
        self.lineno = 0
        self.fresh: dict = {}  # expression -> the sizes its line left to context (vector(1) alone)
        self.dropped: dict = {}  # expression -> the restricted-domain terms its text lost (Parsed.dropped)

    # reading -------------------------------------------------------------------------
    def fail(self, msg: str, cls=ParseError):
        raise cls(f"line {self.lineno}: {msg}")

    def read_expression(self, text: str, diffs: tuple = ()):
        """An expression (text or LaTeX, or index notation); ``d/dx(...)`` inside it is the engine's derivative.

        ``diffs``: the variables whose differentials (dX) the text may use; dX is then a variable.
        """
        text = text.strip()
        if not text:
            self.fail("an empty expression")
        subs = {}
        if not looks_latex(text):
            while True:
                m = _EMBEDDED.search(text)
                if not m:
                    break
                j = _matching_paren(text, m.end() - 1)
                name = f"_dv{self.counter}"
                while re.search(rf"\b{name}\b", text) or name in self.vars or name in self.labels:
                    self.counter += 1  # a placeholder is never a name the derivation uses
                    name = f"_dv{self.counter}"
                self.counter += 1
                subs[name] = self.derivative(m.group("wrt"), text[m.end():j])
                text = text[:m.start()] + name + text[j + 1:]
        placeholders = {**{k: v for k, v in self.labels.items() if isinstance(v, E.Expr)}, **subs}
        shapes = dict(self.user_shapes)
        shapes.update(declared_shapes(self.vars))
        for k, v in placeholders.items():
            if not all(dd.is_Integer or dd.is_Symbol for dd in v.shape):
                self.fail(f"{k} has a shape ({E.fmt_shape(v.shape)}) that cannot be used inside an expression")
            shapes[k] = (dim_spec(v.rows), dim_spec(v.cols))
        alias = aliases(set(self.vars) | set(placeholders))
        for a, n in alias.items():
            if n in shapes:
                shapes[a] = shapes[n]
        first = not self.vars
        known = None if first or self.defining else (set(self.vars) | dims_of(self.vars.values()) | set(placeholders)
                                    | set(self.user_shapes) | set(alias))
        errors = []
        for reader in (["LaTeX"] if "\\" in text else ["text", "LaTeX"]):
            src = text
            for v in diffs:
                src = _differential_rx(v).sub(f"d{v}" if reader == "text" else rf"\\mathrm{{d{v}}}", src)
            try:
                p = (parse(numpy_spelling(src), shapes=shapes, known=known) if reader == "text"
                     else parse_latex(src, shapes=shapes, known=known, bars="det"))
                break
            except (ParseError, UnknownNameError, ShapeMismatchError) as e:
                errors.append(e)
            except ValueError as e:
                raise MatcalcError(f"line {self.lineno}: {e}") from None
        else:
            if not first and looks_indexed(text):
                return self.read_index(text, errors)
            e = max(errors, key=lambda x: (isinstance(x, ShapeMismatchError), isinstance(x, UnknownNameError)))
            raise type(e)(f"line {self.lineno}: {e}") from None
        return self.bind(p, placeholders, alias, first)

    def read_index(self, text: str, errors: list) -> IndexExpr:
        try:
            ix = parse_index(text)
        except ParseError as e:
            raise ParseError(f"line {self.lineno}: {errors[-1] if errors else e} (and as index notation: {e})") \
                from None
        unknown = sorted(n for n in ix.names if n not in self.vars)
        if unknown:
            self.fail(f"{unknown[0]!r} is not a variable of the derivation", UnknownNameError)
        return ix

    def bind(self, p: Parsed, placeholders: dict, alias: dict, first: bool) -> E.Expr:
        mapping = {}
        for name, v in p.variables.items():
            name = name if name in placeholders or name in self.vars else alias.get(name, name)
            if name in placeholders:
                mapping[v] = placeholders[name]
            elif name in self.vars:
                w = self.vars[name]
                if w.shape != v.shape:
                    self.fail(f"{name} is used as {E.fmt_shape(v.shape)} but it is {E.fmt_shape(w.shape)}",
                              MatcalcError)
                mapping[v] = w
            else:
                a = self.assume.get(name, frozenset())
                if "dimension" in v.assume:
                    a = v.assume
                w = E.Var(name, v.rows, v.cols, a)
                self.vars[name] = w
                mapping[v] = w
        out = substitute(p.expr, mapping)
        if p.dropped:  # terms the text writes but the expression lost (0*log(-s)): their domain still counts
            self.dropped[out] = [substitute(w, mapping) for w in p.dropped]
        if not first:
            given = {str(s) for e in list(self.vars.values()) + list(placeholders.values())
                     for d in e.shape for s in d.free_symbols} | set(p.variables)
            fresh = {s for s in shape_symbols(out) if str(s) not in given}
            if fresh:
                self.fresh[out] = fresh
        return out

    def fit(self, e, like):
        """e with the sizes its line left to context taken from the step it is compared with."""
        fresh = self.fresh.get(e) if isinstance(e, E.Expr) else None
        if not fresh or not isinstance(like, E.Expr):
            return e
        try:
            return sized(e, fresh, [like.shape], "this step", dims_of(self.vars.values()))
        except MatcalcError as err:
            raise MatcalcError(f"line {self.lineno}: {err}") from None

    def derivative(self, wrt: str, inner: str) -> E.Expr:
        return self.derive_value(self.read_expression(inner), wrt)

    def resolve_wrt(self, raw: str | None) -> tuple:
        """(the variable's name, the component index or ()) of a derivative head's variable."""
        name = raw or self.default_wrt or self.wrt_seen
        if not name and self.function is not None:  # grad f: the function's only non-scalar variable
            arrays = [n for n, v in self.vars.items() if not v.is_scalar and E.contains(self.function, v)]
            name = arrays[0] if len(arrays) == 1 else None
        if not name:
            self.fail("a derivative needs a variable: write d/dx, grad_x(...) or pass wrt=", MatcalcError)
        if name in self.vars:
            return name, ()
        alias = aliases(self.vars)
        if alias.get(name) in self.vars:
            return alias[name], ()
        m = re.fullmatch(r"(?P<base>.+?)_(?P<idx>[A-Za-z0-9,]+)", name)
        if m and (m.group("base") in self.vars or alias.get(m.group("base")) in self.vars):
            base = m.group("base") if m.group("base") in self.vars else alias[m.group("base")]
            return base, index_of(m.group("idx"))
        self.fail(f"the derivative is taken with respect to {name!r}, which is not a variable here",
                  UnknownNameError)

    def derive_value(self, f: E.Expr, wrt: str | None) -> E.Expr:
        name, _ = self.resolve_wrt(wrt)
        return self._derive(f, name)

    def _derive(self, f, name: str, layout: str | None = None) -> E.Expr:
        layout = layout or self.layout
        if not isinstance(f, E.Expr):
            self.fail("differentiate the matrix form, not the index notation", MatcalcError)
        v = self.vars[name]
        self.wrt_seen = name
        if not E.contains(f, v):
            if f.is_scalar:
                return E.zeros(v.shape if layout == "denominator" else (v.cols, v.rows))
            self.fail(f"{to_text(f)} does not depend on {name}", MatcalcError)
        vars_ = {n: w for n, w in self.vars.items() if E.contains(f, w) or n == name}
        return derive(Parsed(f, vars_, to_text(f)), name, layout=layout).result

    def head_function(self, body: str):
        """What a derivative head differentiates: the function itself (f, J(theta), a label) or an expression."""
        m = _LABEL.match(body.strip()) if body.strip() else None
        if not body.strip() or (m and var_name(m.group("name")) not in self.vars):
            name = var_name(m.group("name")) if m else ""
            if name in self.labels:
                return self.labels[name]
            if self.function is None:
                self.fail(f"{body.strip() or 'the derivative'} refers to a function that was not written before")
            return self.function
        return self.read_expression(body)

    def item(self, text: str, first_on_line: bool, more: bool):
        """(kind, value, inner) where inner is the differentiated function for a derivative item."""
        t = text.strip()
        try:
            head = match_head(t)
        except ParseError as e:
            self.fail(str(e))
        if first_on_line and more and head is None:
            m = _LABEL.match(t)
            if m:
                name = var_name(m.group("name"))
                if name not in self.vars and name.isidentifier():  # a label written again names the new value
                    return "label", name, None
        if head is not None:
            f = self.head_function(head.body)
            name, index = self.resolve_wrt(head.wrt)
            value = self._derive(f, name)
            return "derivative", (Component(value, index) if index else value), f
        return "expr", self.read_expression(t), None

    # differentials -------------------------------------------------------------------
    def differentials_in(self, items: list) -> tuple:
        """The variables whose differential dX appears in the items (after the first)."""
        return tuple(n for n, v in self.vars.items()
                     if not v.is_scalar or len(self.vars) <= 3
                     if any(_differential_rx(n).search(t) for t in items[1:]) and not n.startswith("d"))

    def differential(self, f: E.Expr, names: tuple) -> E.Expr:
        """df = sum over X of <grad_X f, dX>: the differential of a scalar f in the directions dX."""
        if not isinstance(f, E.Expr) or not f.is_scalar:
            self.fail("only differentials of a scalar function are supported", MatcalcError)
        total = []
        for n in names:
            v = self.vars[n]
            dv = self.vars.setdefault(f"d{n}", E.Var(f"d{n}", v.rows, v.cols))
            if E.contains(f, v):
                total.append(E.sum_(E.hadamard(self._derive(f, n, "denominator"), dv)))
        self.wrt_seen = names[0]
        return E.add(*total) if total else E.zeros((1, 1))

    # comparing -----------------------------------------------------------------------
    def points(self, new, old) -> Points:
        return entry_points(list(self.vars.values()), new, old, self.function, self.seed)

    def numbers(self, value, pts: Points, order: tuple | None = None) -> list:
        try:
            return entry_numbers(value, pts, order)
        except ParseError as e:
            raise ParseError(f"line {self.lineno}: {e}") from None

    def compare(self, new, old):
        """(equal, method, message, mistake, counterexample): new against the step before it.

        The points come from the domain of the step before (the function, as far as this step is
        concerned); where new is undefined there, it does not follow.
        """
        if not (isinstance(new, E.Expr) and isinstance(old, E.Expr)):
            clash = index_clash(new, old)
            if clash:
                return False, "indices compared", clash, "wrong", None
            pts = self.points(new, old)
            letters = next((tuple(i for i in v.index if isinstance(i, str)) for v in (new, old)
                            if isinstance(v, Component)), None)
            nv, ov = self.numbers(new, pts, letters), self.numbers(old, pts, letters)
            cmp = compare(nv, ov, self.tol, pts)
            where = f" (checked entry by entry at {len(pts)} points" + (
                f", at size {next(iter(pts.trials[0][0].values()), '')})" if any(
                    isinstance(v, IndexExpr) and v.concrete for v in (new, old)) else ")")
            if cmp.equal:
                return True, f"numerically checked at {len(pts)} shapes{where}", "", None, None
            k = cmp.worst if cmp.worst is not None else 0
            ce = counterexample(pts, k, nv, ov)
            return False, f"numerically checked at {len(pts)} shapes", \
                f"differs from the step before ({format_counterexample(ce)})", "wrong", ce
        if new.shape != old.shape:
            return self.compare_shapes(new, old)
        proof = prove_equal(new, old)
        pts = Points(list(self.vars.values()), old, TRIALS, self.seed)
        nv, ov = pts.values(new), pts.values(old)
        cmp = compare(nv, ov, self.tol, pts)
        checked = f"numerically checked at {len(pts)} shapes"
        for w in self.dropped.get(new, ()):
            bad = [k for k, v in enumerate(pts.values(w)) if v is None or not np.all(np.isfinite(v))]
            if bad:
                return (False, checked, undefined_message(pts, bad[0], f"its term {to_text(w)}", "the step before is"),
                        "wrong", None)
        if cmp.equal:
            return (True, "proved" if proof else checked, proof or "", None, None)
        if cmp.undefined:
            k = cmp.undefined[0]
            return (False, checked, undefined_message(pts, k, "it", "the step before is"), "wrong",
                    counterexample(pts, k, nv, ov))
        k = cmp.worst if cmp.worst is not None else 0
        ce = counterexample(pts, k, nv, ov)
        f = Diagnoser(new, pts, self.vars, self._wrt_var(), self.tol).same_shape(old)
        if f is None and new.rows == old.cols and new.cols == old.rows and not new.is_scalar:
            if compare(nv, pts.values(E.transpose(old)), self.tol).equal:
                f = Finding(["layout"], "it is the transpose of the step before")
        msg = f"differs from the step before: {f.message.replace('the claim', 'this step')}" if f else \
            f"differs from the step before ({format_counterexample(ce)})"
        return (False, checked, msg, f.tags[0] if f else "wrong", ce)

    def _wrt_var(self) -> E.Var:
        name = self.wrt_seen or self.default_wrt
        return self.vars.get(name) or E.Var("_none", 1, 1)

    def compare_shapes(self, new: E.Expr, old: E.Expr):
        """Steps of different shapes: the other layout (the transpose), a sum of a matrix, or a shape error."""
        pts = Points(list(self.vars.values()), old, TRIALS, self.seed)
        if (new.rows, new.cols) == (old.cols, old.rows):
            if compare(pts.values(new), pts.values(E.transpose(old)), self.tol).equal:
                other = "numerator" if self.layout == "denominator" else "denominator"
                return (False, "numerically checked", f"it is the {other}-layout form (the transpose) of "
                        f"the step before, but {self.layout} layout is used here", "layout", None)
        f = Diagnoser(new, pts, self.vars, self._wrt_var(), self.tol).rewrites(old)
        if f:
            return (False, "numerically checked", f"differs from the step before: {f.message}", f.tags[0], None)
        return (False, "shapes compared", f"shape {E.fmt_shape(new.shape)} but the step before is "
                f"{E.fmt_shape(old.shape)}", "wrong-shape", None)


def _value_text(v) -> str | None:
    if isinstance(v, E.Expr):
        return to_text(v)
    if isinstance(v, Component):
        return f"{to_text(v.value)} at entries {v.index}"
    return None if v is None else "an index-notation formula"


MAX_LINES = 200  # lines of steps (blank lines and comments do not count)
MAX_TEXT = 1_000_000  # characters of a whole derivation


@guarded
def check_steps(lines, wrt: str | None = None, shapes=None, assume=None, layout: str = "denominator",
                *, seed: int = 0, tol: float = TOLERANCE) -> StepsReport:
    r"""Check a derivation: every step must equal the one before it.

    ``lines`` is a string (one step per line) or a list of lines, in plain text or LaTeX
    (see :mod:`matcalc.parse.derivation` for what is read).  The format:

    * Each row is one or more *items* separated by ``=``; a row may start
      with ``=`` (a continuation).  Blank lines and lines starting with ``#``
      or ``%`` are skipped.  ``\begin{aligned}`` ... (``&=``, ``\\``), ``$$`` and
      justifications (``&& \text{by (3)}``, ``\quad\text{(chain rule)}``,
      ``[reason]``) are read; a justification is shown next to its line.
    * An item is an expression in matcalc's syntax, LaTeX or index notation
      (``\sum_i \sum_j v_i A_{ij} v_j``), or a *derivative item*:
      ``d/dtheta EXPR``, ``df/dx``, ``∂f/∂x``, ``grad f``, ``grad_theta EXPR``,
      ``\frac{\partial}{\partial \theta} EXPR``, ``\frac{df}{dx}``,
      ``\frac{\delta}{\delta v}``, ``\nabla_W f``, whose value is the engine's
      derivative (in ``layout``).  ``\frac{\partial f}{\partial v_k}`` is the
      k-th entry: an index formula with the free index k is compared entry by entry.
    * The first item of a line may be a *label*, a new name such as ``J``,
      ``f(x)`` or ``\ell(K)``: it names the value of the next item; ``f`` in
      ``df/dx`` is then that function.  Labels also name intermediate values
      (``Z = W1*X``, ``H = relu(Z)``).
    * A *differential* row ``df = tr(2 W' dW)`` (also ``d\log\det X = ...``)
      is compared with df = <grad f, dW>; the read-off gradient follows as a
      derivative item (``\nabla_W f = 2W``).
    * Each item is compared with the item before it, as functions of the
      same variables (numerically at random shapes and points, or proved by the
      simplifier), with the same mistake tags as :func:`check`.  Index formulas
      with written-out indices (``A_{1,2}``, a 2x2 ``bmatrix``) are checked at that size.

    >>> r = check_steps(["J = x'*A*x", "d/dx J = A*x + A'*x", "= (A + A')*x"])
    >>> r.ok
    True
    >>> check_steps(["J = x'*A*x", "d/dx J = 2*A*x"]).line
    2
    """
    if isinstance(lines, str):
        if len(lines) > MAX_TEXT:
            raise TooLargeError(f"the derivation is {len(lines)} characters long; the limit is {MAX_TEXT}")
    else:
        try:
            lines = list(itertools.islice(lines, MAX_TEXT // 8 + 1))
        except TypeError:
            raise MatcalcError(f"lines is a string or a list of strings, got {type(lines).__name__}") from None
        if len(lines) > MAX_TEXT // 8:
            raise TooLargeError(f"the derivation has more than {MAX_TEXT // 8} lines; the limit is {MAX_TEXT // 8}")
        if sum(len(x) for x in lines if isinstance(x, str)) > MAX_TEXT:
            raise TooLargeError(f"the derivation is longer than {MAX_TEXT} characters; the limit is {MAX_TEXT}")
    rows = split_rows(lines)
    if len(rows) > MAX_LINES:
        raise TooLargeError(f"the derivation has more than {MAX_LINES} lines of steps; the limit is {MAX_LINES}")
    st = _Steps(wrt, shapes, assume, layout, seed, tol)
    steps: list = []
    prev = None  # (kind, value)
    for row in rows:
        st.lineno = row.line
        items = split_top(row.text)
        diffs = _row_differentials(st, items, prev)
        label = None
        for idx, text in enumerate(items):
            if not text.strip():
                if idx == 0:
                    continue
                st.fail("an empty side of '='")
            more = idx + 1 < len(items)
            why = row.why if not more else ""
            try:
                if diffs and idx == 0 and _DIFF_LHS.match(text.strip()):
                    f = st.head_function(_DIFF_LHS.match(text.strip()).group("body"))
                    kind, value, inner = "dlhs", st.differential(f, diffs), f
                elif diffs:
                    kind, value, inner = "expr", st.read_expression(text, diffs), None
                else:
                    st.defining = label is not None and all(x.kind == "function" for x in steps)
                    kind, value, inner = st.item(text, idx == 0, more)
            except ShapeMismatchError as err:
                if prev is None:
                    raise
                steps.append(Step(row.line, text, prev[0], "wrong", None, "shapes compared",
                                  f"it does not type-check: {str(err).split(': ', 1)[-1]}", "wrong-shape", why=why))
                continue
            if kind == "label":
                label = value
                fresh_name = value not in st.labels
                steps.append(Step(row.line, text, "function", "label", None, message=f"names {value}", why=why))
                continue
            if kind in ("derivative", "dlhs"):
                sk = "derivative" if kind == "derivative" else "differential"
                entries = isinstance(value, Component) or st.entry_head
                st.entry_head = isinstance(value, Component)
                if prev is None or prev[0] != "function":
                    against = st.function if prev is not None and kind == "derivative" else None
                    if prev is not None and prev[0] == "derivative" and kind == "derivative" and not entries:
                        value = st.fit(value, prev[1])
                        eq, method, msg, tag, ce = st.compare(value, prev[1])
                        step = Step(row.line, text, sk, "ok" if eq else "wrong", value, method, "" if eq else msg,
                                    tag, ce, why)
                    elif against is not None:
                        eq, method, msg, tag, ce = st.compare(inner, against)
                        step = Step(row.line, text, sk, "ok" if eq else "wrong", value, method,
                                    "" if eq else f"the function differentiated here {msg}", tag, ce, why)
                    else:
                        step = Step(row.line, text, sk, "start", value, why=why)
                else:
                    inner = st.fit(inner, prev[1])
                    eq, method, msg, tag, ce = st.compare(inner, prev[1])
                    step = Step(row.line, text, sk, "ok" if eq else "wrong", value, method,
                                "" if eq else f"the function differentiated here {msg}", tag, ce, why)
                prev = (sk, value)
            else:
                k = prev[0] if prev else "function"
                if prev is None or (label is not None and fresh_name and idx == 1):
                    # the first step, or a new name defined (H = relu(Z)): a new chain starts here
                    k = "function"
                    step = Step(row.line, text, k, "start", value, why=why)
                else:
                    value = st.fit(value, prev[1])
                    eq, method, msg, tag, ce = st.compare(value, prev[1])
                    step = Step(row.line, text, k, "ok" if eq else "wrong", value, method, "" if eq else msg,
                                tag, ce, why)
                prev = (k, value)
                if k == "function" and isinstance(value, E.Expr):
                    st.function = value
            steps.append(step)
            if label is not None:
                st.labels[label] = value
                label = None
    if not any(s.status in ("start", "ok", "wrong") for s in steps):
        raise MatcalcError("no steps to check: give at least one expression")
    return StepsReport(steps, dict(st.vars))


def _row_differentials(st: _Steps, items: list, prev) -> tuple:
    """The variables whose differentials a row uses, when it is a differential row (df = ..., or = ... after one)."""
    lhs = items[0].strip()
    m = _DIFF_LHS.match(lhs)
    if m and len(items) > 1:
        if not st.vars:  # the first row: its function fixes the variables
            body = m.group("body")
            if not _LABEL.match(body):
                st.function = st.read_expression(body)
        return st.differentials_in(items)
    if not lhs and prev is not None and prev[0] == "differential":
        return st.differentials_in([""] + items)
    return ()
