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
from ..evaluate import (
    TOLERANCE,
    TRIALS,
    Points,
    compare,
    looks_latex,
    parse_text,
    shape_symbols,
    substitute,
)
from ..parse import Parsed, ParseError, UnknownNameError
from ..parse.text import normalize_assume
from .claims import (
    counterexample,
    declared_shapes,
    dim_spec,
    dims_of,
    format_counterexample,
    sized,
)
from .diagnose import Finding, prove_equal, ratio_finding
from .verdict import undefined_message

# ---------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------

_NAME = r"\\?[A-Za-z][A-Za-z0-9_]*"
_LEAD_PLAIN = [
    re.compile(r"^(?:d|∂)\s*/\s*(?:d|∂)\s*(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\b\s*(?P<rest>.*)$", re.S),
    re.compile(r"^(?:grad|nabla|∇)_(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\b\s*(?P<rest>.*)$", re.S),
    re.compile(r"^(?:grad|nabla|∇)(?P<wrt>)\s*(?P<rest>\(.*)$", re.S),
    re.compile(r"^∇(?P<wrt>)\s*(?P<rest>.*)$", re.S),
]
_LATEX_WRT = r"(?:\\mathbf\{(?P<a>\\?[A-Za-z]\w*)\}|\\boldsymbol\{(?P<b>\\?[A-Za-z]\w*)\}|(?P<c>\\?[A-Za-z]\w*))"
_LEAD_LATEX = [
    re.compile(r"^\\frac\{\s*\\partial\s*(?P<num>[^{}]*)\}\{\s*\\partial\s*" + _LATEX_WRT + r"\s*\}\s*(?P<rest>.*)$", re.S),
    re.compile(r"^\\nabla_\{?\s*" + _LATEX_WRT + r"\s*\}?\s*(?P<rest>.*)$", re.S),
]
_EMBEDDED = re.compile(r"(?:(?<![A-Za-z0-9_])d\s*/\s*d|grad_|nabla_)(?P<wrt>[A-Za-z][A-Za-z0-9_]*)\s*\(")
_LABEL = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*(?:\((?P<args>[^()]*)\))?$")
_LATEX_LABEL = re.compile(r"^(?P<name>[A-Za-z])\s*(?:\\left)?\(\s*[^()]*(?:\\right)?\)$|^(?P<bare>[A-Za-z])$")


def _latex_name(s: str) -> str:
    return s.lstrip("\\")


def _split_top(line: str, sep: str = "=") -> list:
    """Split at top-level '=' (outside parentheses, brackets and braces)."""
    out, depth, cur = [], 0, []
    for ch in line:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


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
    kind: str  # 'function' or 'derivative'
    status: str  # 'start', 'label', 'ok' or 'wrong'
    value: E.Expr | None = None
    method: str = ""
    message: str = ""
    mistake: str | None = None
    counterexample: dict | None = None

    def __str__(self) -> str:
        mark = {"ok": "ok", "wrong": "WRONG", "start": "start", "label": "label"}[self.status]
        tail = f"  ({self.message})" if self.message else ""
        return f"line {self.line}: {mark:5s} {self.text.strip()}{tail}"


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
        if s.counterexample and format_counterexample(s.counterexample) not in s.message:
            out.append(f"  counterexample: {format_counterexample(s.counterexample)}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "first_wrong_line": self.line,
            "steps": [{"line": s.line, "text": s.text.strip(), "kind": s.kind, "status": s.status,
                       "method": s.method, "message": s.message, "mistake": s.mistake,
                       "value": to_text(s.value) if s.value is not None else None,
                       "counterexample": s.counterexample} for s in self.steps],
        }


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
        self.counter = 0
        self.lineno = 0
        self.fresh: dict = {}  # expression -> the sizes its line left to context (vector(1) alone)
        self.dropped: dict = {}  # expression -> the restricted-domain terms its text lost (Parsed.dropped)

    # parsing -------------------------------------------------------------------------
    def fail(self, msg: str, cls=ParseError):
        raise cls(f"line {self.lineno}: {msg}")

    def read_expression(self, text: str) -> E.Expr:
        """An expression; ``d/dx(...)`` and ``grad_x(...)`` inside it are the engine's derivatives."""
        text = text.strip()
        if not text:
            self.fail("an empty expression")
        subs = {}
        latex = looks_latex(text)
        if not latex:
            while True:
                m = _EMBEDDED.search(text)
                if not m:
                    break
                j = _matching_paren(text, m.end() - 1)
                inner = text[m.end():j]
                name = f"_dv{self.counter}"
                while re.search(rf"\b{name}\b", text) or name in self.vars or name in self.labels:
                    self.counter += 1  # a placeholder is never a name the derivation uses
                    name = f"_dv{self.counter}"
                self.counter += 1
                subs[name] = self.derivative(m.group("wrt"), inner)
                text = text[:m.start()] + name + text[j + 1:]
        placeholders = {**{k: v for k, v in self.labels.items()}, **subs}
        shapes = dict(self.user_shapes)
        shapes.update(declared_shapes(self.vars))
        for k, v in placeholders.items():
            if not all(dd.is_Integer or dd.is_Symbol for dd in v.shape):
                self.fail(f"{k} has a shape ({E.fmt_shape(v.shape)}) that cannot be used inside an expression")
            shapes[k] = (dim_spec(v.rows), dim_spec(v.cols))
        first = not self.vars
        known = None if first else set(self.vars) | dims_of(self.vars.values()) | set(placeholders) | set(self.user_shapes)
        try:
            p = parse_text(text, shapes=shapes, known=known)
        except (ParseError, UnknownNameError) as e:
            raise type(e)(f"line {self.lineno}: {e}") from None
        except ValueError as e:
            raise MatcalcError(f"line {self.lineno}: {e}") from None
        mapping = {}
        for name, v in p.variables.items():
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

    def fit(self, e: E.Expr, like: E.Expr) -> E.Expr:
        """e with the sizes its line left to context taken from the step it is compared with."""
        fresh = self.fresh.get(e)
        if not fresh:
            return e
        try:
            return sized(e, fresh, [like.shape], "this step", dims_of(self.vars.values()))
        except MatcalcError as err:
            raise MatcalcError(f"line {self.lineno}: {err}") from None

    def derivative(self, wrt: str, inner: str) -> E.Expr:
        f = self.read_expression(inner)
        return self.derive_value(f, wrt)

    def derive_value(self, f: E.Expr, wrt: str) -> E.Expr:
        wrt = wrt or self.default_wrt
        if not wrt:
            self.fail("a derivative needs a variable: write d/dx, grad_x(...) or pass wrt=", MatcalcError)
        v = self.vars.get(wrt)
        if v is None:
            self.fail(f"the derivative is taken with respect to {wrt!r}, which is not a variable here",
                      UnknownNameError)
        if not E.contains(f, v):
            if f.is_scalar:
                return E.zeros(v.shape if self.layout == "denominator" else (v.cols, v.rows))
            self.fail(f"{to_text(f)} does not depend on {wrt}", MatcalcError)
        vars_ = {n: w for n, w in self.vars.items() if E.contains(f, w) or n == wrt}
        d = derive(Parsed(f, vars_, to_text(f)), wrt, layout=self.layout)
        return d.result

    def item(self, text: str, first_on_line: bool, more: bool):
        """(kind, value, inner) where inner is the differentiated function for a derivative item."""
        t = text.strip()
        is_derivative = any(rx.match(t) for rx in (_LEAD_LATEX if looks_latex(t) else _LEAD_PLAIN))
        if first_on_line and more and not is_derivative:
            m = _LABEL.match(t) if not looks_latex(t) else _LATEX_LABEL.match(t)
            if m:
                name = m.group("name") or m.group("bare")
                if name not in self.vars and name not in self.labels:
                    return "label", name, None
        for rx in _LEAD_LATEX if looks_latex(t) else _LEAD_PLAIN:
            m = rx.match(t)
            if m:
                gd = m.groupdict()
                wrt = _latex_name(gd.get("a") or gd.get("b") or gd.get("c") or gd.get("wrt") or "")
                rest = gd.get("rest", "").strip()
                num = (gd.get("num") or "").strip()
                if num and rest:
                    self.fail("write either \\frac{\\partial f}{\\partial x} or \\frac{\\partial}{\\partial x} f")
                body = num or rest
                if not body:
                    self.fail("a derivative of nothing")
                f = self.read_expression(body)
                return "derivative", self.derive_value(f, wrt), f
        return "expr", self.read_expression(t), None

    # comparing -----------------------------------------------------------------------
    def compare(self, new: E.Expr, old: E.Expr):
        """(equal, method, message, mistake, counterexample): new against the step before it.

        The points come from the domain of the step before (the function, as far as this step is
        concerned); where new is undefined there, it does not follow.
        """
        if new.shape != old.shape:
            return (False, "shapes compared", f"shape {E.fmt_shape(new.shape)} but the step before is "
                    f"{E.fmt_shape(old.shape)}", "wrong-shape", None)
        proof = prove_equal(new, old)
        variables = list(self.vars.values())
        pts = Points(variables, old, TRIALS, self.seed)
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
        scalars = [n for n, v in self.vars.items() if v.is_scalar]
        f = ratio_finding(nv, ov, pts, scalars, old, self.tol)
        if f is None and new.rows == old.cols and new.cols == old.rows and not new.is_scalar:
            if compare(nv, pts.values(E.transpose(old)), self.tol).equal:
                f = Finding(["layout"], "it is the transpose of the step before")
        msg = f"differs from the step before: {f.message}" if f else \
            f"differs from the step before ({format_counterexample(ce)})"
        return (False, checked, msg, f.tags[0] if f else "wrong", ce)


MAX_LINES = 200  # lines of steps (blank lines and comments do not count)
MAX_TEXT = 1_000_000  # characters of a whole derivation


@guarded
def check_steps(lines, wrt: str | None = None, shapes=None, assume=None, layout: str = "denominator",
                *, seed: int = 0, tol: float = TOLERANCE) -> StepsReport:
    """Check a derivation: every step must equal the one before it.

    ``lines`` is a string (one step per line) or a list of lines.  The format:

    * Each line is one or more *items* separated by ``=``; a line may start
      with ``=`` (a continuation).  Blank lines and lines starting with ``#``
      are skipped; LaTeX alignment (``&=``, a trailing ``\\\\``) is ignored.
    * An item is an expression in matcalc's syntax (or LaTeX), or a
      *derivative item* ``d/dtheta EXPR``, ``grad_theta EXPR``,
      ``grad(EXPR)`` (with ``wrt=``), ``\\frac{\\partial}{\\partial \\theta} EXPR``
      or ``\\nabla_{\\theta} EXPR``, whose value is the engine's derivative of
      EXPR (in ``layout``).  Inside an expression, ``d/dtheta(EXPR)`` and
      ``grad_theta(EXPR)`` (with parentheses) stand for the engine's derivative.
    * The first item of a line may be a *label*, a new name such as ``J`` or
      ``J(theta)``: it names the value of the next item and can be used later,
      e.g. ``grad_theta J = ...``.
    * Each item is compared with the item before it, as functions of the
      same variables (numerically at random shapes and points, or proved by the
      simplifier).  A derivative item that follows a function compares its
      EXPR with that function; after it, items are compared with the derivative.
    * The first expression fixes the variables and their shapes (``shapes=``
      and ``assume=`` as in ``derive``); later lines may not add names.

    >>> r = check_steps(["J = x'*A*x", "d/dx J = A*x + A'*x", "= (A + A')*x"])
    >>> r.ok
    True
    >>> check_steps(["J = x'*A*x", "d/dx J = 2*A*x"]).line
    2
    """
    if isinstance(lines, str):
        if len(lines) > MAX_TEXT:
            raise TooLargeError(f"the derivation is {len(lines)} characters long; the limit is {MAX_TEXT}")
        lines = lines.splitlines()
    else:
        try:
            lines = list(itertools.islice(lines, MAX_TEXT // 8 + 1))
        except TypeError:
            raise MatcalcError(f"lines is a string or a list of strings, got {type(lines).__name__}") from None
        if len(lines) > MAX_TEXT // 8:
            raise TooLargeError(f"the derivation has more than {MAX_TEXT // 8} lines; the limit is {MAX_TEXT // 8}")
        if not all(isinstance(x, str) for x in lines):
            raise MatcalcError("lines is a string or a list of strings, one step per line")
        if sum(map(len, lines)) > MAX_TEXT:
            raise TooLargeError(f"the derivation is longer than {MAX_TEXT} characters; the limit is {MAX_TEXT}")
    if sum(1 for x in lines if x.strip() and not x.strip().startswith("#")) > MAX_LINES:
        raise TooLargeError(f"the derivation has more than {MAX_LINES} lines of steps; the limit is {MAX_LINES}")
    st = _Steps(wrt, shapes, assume, layout, seed, tol)
    steps: list = []
    prev = None  # (kind, value)
    for lineno, raw in enumerate(lines, start=1):
        st.lineno = lineno
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.replace("&=", "=").replace("&", " ")
        line = re.sub(r"\\\\\s*$", "", line).strip()
        line = re.sub(r"[.,;]\s*$", "", line)
        items = _split_top(line)
        label = None
        for idx, text in enumerate(items):
            if not text.strip():
                if idx == 0:
                    continue
                st.fail("an empty side of '='")
            more = idx + 1 < len(items)
            kind, value, inner = st.item(text, idx == 0, more)
            if kind == "label":
                label = value
                steps.append(Step(lineno, text, "function", "label", None, message=f"names {value}"))
                continue
            if kind == "derivative":
                if prev is None:
                    step = Step(lineno, text, "derivative", "start", value)
                elif prev[0] == "function":
                    inner = st.fit(inner, prev[1])
                    eq, method, msg, tag, ce = st.compare(inner, prev[1])
                    step = Step(lineno, text, "derivative", "ok" if eq else "wrong", value, method,
                                "" if eq else f"the function differentiated here {msg}", tag, ce)
                else:
                    value = st.fit(value, prev[1])
                    eq, method, msg, tag, ce = st.compare(value, prev[1])
                    step = Step(lineno, text, "derivative", "ok" if eq else "wrong", value, method,
                                "" if eq else msg, tag, ce)
                prev = ("derivative", value)
            else:
                k = prev[0] if prev else "function"
                if prev is None:
                    step = Step(lineno, text, k, "start", value)
                else:
                    value = st.fit(value, prev[1])
                    eq, method, msg, tag, ce = st.compare(value, prev[1])
                    step = Step(lineno, text, k, "ok" if eq else "wrong", value, method, "" if eq else msg,
                                tag, ce)
                prev = (k, value)
            steps.append(step)
            if label is not None:
                st.labels[label] = value
                label = None
    if not any(s.status in ("start", "ok", "wrong") for s in steps):
        raise MatcalcError("no steps to check: give at least one expression")
    return StepsReport(steps, dict(st.vars))

