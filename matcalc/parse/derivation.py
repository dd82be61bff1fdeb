r"""Reading a derivation as people write it: lines, LaTeX environments, justifications, derivative heads.

This module only cuts text into pieces; the pieces are read by the expression
readers (``parse.text``, ``parse.latex``, ``parse.index``) and judged by
``matcalc.check.steps``.

- **Rows.** A derivation is plain lines, or LaTeX: ``\begin{aligned}`` ...
  ``\end{aligned}`` (also ``align``, ``align*``, ``equation``, ``gather``,
  ``split``, ``eqnarray``), ``$$ ... $$``, ``\[ ... \]``, with rows split at
  ``\\`` and alignment marks ``&`` dropped.  A ``bmatrix`` (or ``pmatrix``)
  keeps its own ``\\`` and ``&``.
- **Justifications** are cut off a row and kept: ``&& \text{by (3)}``,
  ``\quad\text{(chain rule)}``, ``\qquad (2)``, ``\tag{3}``, a trailing plain
  ``[reason]`` or ``# comment``.  Leading ``\Rightarrow``, ``\implies``,
  ``\therefore``, ``so``, ``hence`` and ``thus`` are dropped.
- **Derivative heads** (:func:`match_head`): ``\frac{\partial f}{\partial W}``,
  ``\frac{\partial}{\partial W} EXPR``, ``\frac{df}{dx}``, ``\frac{\delta}{\delta v}``,
  ``\nabla_W f``, ``\nabla f(\mathbf{x})``, ``df/dx``, ``∂f/∂x``, ``d/dx EXPR``,
  ``grad f``, ``grad_x EXPR``, ``∇_x EXPR``.
- **Answers** (:func:`answer_part`): ``\nabla_W = 2W``, ``$...$`` and a leading ``=``
  leave the answer ``2W``.

>>> [r.text for r in split_rows(r"\begin{aligned} f &= x^T x \\ &= \|x\|^2 && \text{by definition} \end{aligned}")]
['f = x^T x', '= \\|x\\|^2']
>>> match_head(r"\frac{\partial f}{\partial \mathbf{x}}").wrt
'x'
>>> answer_part(r"$\nabla_W = 2W$")
'2W'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .grammar import ParseError

ENVIRONMENTS = r"aligned|align\*?|equation\*?|gather\*?|split|eqnarray\*?|multline\*?|alignat\*?"
MATRICES = r"bmatrix|pmatrix|vmatrix|Bmatrix|matrix"

_ENV = re.compile(rf"\\(?:begin|end)\s*\{{\s*(?:{ENVIRONMENTS})\s*\}}(?:\{{\d+\}})?")
_DISPLAY = re.compile(r"\$\$|\\\[|\\\]")
_LEADS = re.compile(r"^\s*(?:\\Rightarrow|\\implies|\\Longrightarrow|\\therefore|\\iff|=>|⇒|so\b|hence\b|thus\b|"
                    r"therefore\b)\s*,?\s*", re.I)
_TEXT = r"\\(?:text|textrm|mathrm|mbox)\s*\{[^{}]*\}"
_JUSTIFY = [
    re.compile(r"&&\s*(?P<why>.*)$", re.S),  # && \text{by (3)}
    re.compile(r"(?:\\q?quad|\\,|\\;|~|\s)*\\tag\*?\s*\{(?P<why>[^{}]*)\}\s*$"),
    re.compile(r"\\q?quad\s*(?P<why>(?:" + _TEXT + r"|\([^()]*\)|\[[^\[\]]*\])(?:\s*" + _TEXT + r")?)\s*$"),
    re.compile(r"\s(?P<why>\[[^\[\]=]*[A-Za-z][^\[\]=]*\])\s*$"),  # plain [reason]
    re.compile(r"\s#\s*(?P<why>.*)$"),
]


@dataclass
class Row:
    """One row of a derivation: its text (without alignment marks), the line it starts on, its justification."""

    line: int
    text: str
    why: str = ""


def _clean_why(why: str) -> str:
    why = re.sub(_TEXT, lambda m: m.group(0)[m.group(0).index("{") + 1:-1], why)
    why = re.sub(r"\\q?quad|\\[,;!]", " ", why).strip()
    if why.startswith("[") and why.endswith("]"):
        why = why[1:-1]
    return re.sub(r"\s+", " ", why.strip()).strip()


def cut_justification(text: str) -> tuple[str, str]:
    r"""(the math, the justification) of one row; the justification is '' when there is none.

    >>> cut_justification(r"&= 2 A x \quad\text{(chain rule)}")
    ('&= 2 A x', '(chain rule)')
    >>> cut_justification("= 2*A*x   [A is symmetric]")
    ('= 2*A*x', 'A is symmetric')
    """
    for rx in _JUSTIFY:
        m = rx.search(text)
        if m and m.start() > 0 and text[:m.start()].strip():
            return text[:m.start()].rstrip(), _clean_why(m.group("why"))
    return text, ""


def _split_rows_of(body: str) -> list[str]:
    """Split at ``\\\\`` outside matrix environments and braces."""
    out, cur, depth, i = [], [], 0, 0
    env = 0
    while i < len(body):
        m = re.match(rf"\\(begin|end)\s*\{{\s*(?:{MATRICES}|cases|array)\s*\}}", body[i:])
        if m:
            env += 1 if m.group(1) == "begin" else -1
            cur.append(m.group(0))
            i += len(m.group(0))
            continue
        ch = body[i]
        if body.startswith("\\\\", i) and env == 0 and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 2
            continue
        if ch == "\\" and i + 1 < len(body):
            cur.append(body[i:i + 2])
            i += 2
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _drop_alignment(text: str) -> str:
    """``&=`` is ``=``; other ``&`` outside matrices are dropped."""
    out, env, i = [], 0, 0
    while i < len(text):
        m = re.match(rf"\\(begin|end)\s*\{{\s*(?:{MATRICES}|cases|array)\s*\}}", text[i:])
        if m:
            env += 1 if m.group(1) == "begin" else -1
            out.append(m.group(0))
            i += len(m.group(0))
            continue
        if text.startswith("\\&", i):
            out.append("\\&")
            i += 2
            continue
        if text[i] == "&" and env == 0:
            out.append(" ")
        else:
            out.append(text[i])
        i += 1
    return "".join(out)


def split_rows(source) -> list[Row]:
    """The rows of a derivation, with the line each starts on and its justification.

    ``source`` is a string or a list of lines.  Blank rows and rows that are only
    a comment are skipped; ``$``-wrapped rows lose their dollars.
    """
    lines = source.splitlines() if isinstance(source, str) else list(source)
    rows: list[Row] = []
    for lineno, raw in enumerate(lines, start=1):
        if not isinstance(raw, str):
            raise ParseError(f"line {lineno}: expected text, got {type(raw).__name__}")
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("%"):
            continue
        line = _ENV.sub(" ", line)
        line = _DISPLAY.sub(" ", line)
        line = re.sub(r"(?<!\\)\$", " ", line)
        for part in _split_rows_of(line):
            part, why = cut_justification(part.strip())
            text = _LEADS.sub("", _drop_alignment(part)).strip()
            text = re.sub(r"\s*[.,;]\s*$", "", text).strip()
            if text:
                rows.append(Row(lineno, re.sub(r"\s+", " ", text), why))
            elif why and rows:
                rows[-1].why = rows[-1].why or why
    return rows


def split_top(line: str, sep: str = "=") -> list[str]:
    """Split at top-level ``=`` (outside parentheses, brackets and braces; not in ``<=``, ``>=``, ``\\neq``)."""
    out, depth, cur = [], 0, []
    for i, ch in enumerate(line):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0 and (i == 0 or line[i - 1] not in "<>!:") and line[i + 1:i + 2] != "=":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def answer_part(text: str) -> str:
    r"""The answer in a claimed answer: the last side of its ``=`` (``\nabla_W f = 2W`` is ``2W``), without ``$``.

    >>> answer_part(r"\frac{\partial f}{\partial W} = 2W")
    '2W'
    >>> answer_part("= (A + A')*x")
    "(A + A')*x"
    """
    t = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if t.startswith(left) and t.endswith(right) and len(t) >= len(left) + len(right):
            t = t[len(left):len(t) - len(right)].strip()
            break
    parts = [p.strip() for p in split_top(_drop_alignment(t))]
    if len(parts) > 1 and parts[-1]:
        return parts[-1]
    return t


# ---------------------------------------------------------------------------------
# Derivative heads
# ---------------------------------------------------------------------------------

_VAR = (r"(?:\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit)\s*\{\s*\\?[A-Za-z][A-Za-z0-9]*\s*\}|\\[A-Za-z]+|"
        r"[A-Za-zα-ωΑ-Ω][A-Za-z0-9]*)(?:_\{?[A-Za-z0-9,]+\}?|\^\{\s*[\[(][A-Za-z0-9]+[\])]\s*\})?")
_D = r"(?:\\partial|\\delta|\\mathrm\s*\{\s*d\s*\}|\\operatorname\s*\{\s*d\s*\}|∂|d|δ)"
_HEADS = [
    # \frac{\partial f}{\partial W} REST and \frac{d}{dx} REST
    re.compile(r"^\\[dt]?frac\s*\{\s*" + _D + r"\s*(?P<num>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\s*\{\s*" + _D
               + r"\s*(?P<wrt>" + _VAR + r")\s*\}\s*(?P<rest>.*)$", re.S),
    # \nabla_{W} REST, \nabla_W REST, ∇_x REST, grad_x REST, nabla_x REST
    re.compile(r"^(?:\\nabla|∇|grad|nabla)\s*_\s*(?:\{\s*(?P<wrt>" + _VAR + r")\s*\}|(?P<wrt2>\\?[A-Za-zα-ω]"
               r"[A-Za-z0-9]*))\s*(?P<rest>.*)$", re.S),
    # \nabla REST, grad REST, ∇ REST: the variable comes from context
    re.compile(r"^(?:\\nabla|∇|grad\b|nabla\b)\s*(?P<rest>.*)$", re.S),
    # df/dx REST, d/dx REST, ∂f/∂x, dJ/dtheta
    re.compile(r"^(?:∂|d|δ|\\partial\s*)\s*(?P<num>[A-Za-z\\][A-Za-z0-9_]*(?:\([^()]*\))?)?\s*/\s*(?:∂|d|δ|"
               r"\\partial\s*)\s*(?P<wrt>[A-Za-z\\][A-Za-z0-9_]*)\b\s*(?P<rest>.*)$", re.S),
]


@dataclass
class Head:
    """A derivative head: the variable (None: from context) and the differentiated text ('' : the function)."""

    wrt: str | None
    body: str


def var_name(raw: str) -> str:
    r"""The plain name a written variable spells: ``\mathbf{x}`` is x, ``\theta`` is theta, ``W_{1}`` is W_1."""
    s = raw.strip()
    m = re.match(r"\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit)\s*\{\s*(.*?)\s*\}(.*)$", s)
    if m:
        s = m.group(1) + m.group(2)
    m = re.match(r"(.*?)\^\{\s*[\[(]([A-Za-z0-9]+)[\])]\s*\}$", s)  # W^{[l]} is W_l
    if m:
        s = f"{m.group(1)}_{m.group(2)}"
    s = s.replace("{", "").replace("}", "").replace(",", "")
    from .latex import UNICODE_GREEK

    if s and s[0] in UNICODE_GREEK:
        s = UNICODE_GREEK[s[0]] + s[1:]
    return s.lstrip("\\")


def match_head(text: str) -> Head | None:
    r"""The derivative head at the start of ``text``, or None.

    >>> match_head("df/dx").wrt, match_head("df/dx").body
    ('x', 'f')
    >>> match_head(r"\nabla_{\mathbf{w}} L(\mathbf{w})").body
    'L(\\mathbf{w})'
    """
    t = text.strip()
    for k, rx in enumerate(_HEADS):
        m = rx.match(t)
        if not m:
            continue
        gd = m.groupdict()
        wrt = gd.get("wrt") or gd.get("wrt2")
        num = (gd.get("num") or "").strip()
        rest = (gd.get("rest") or "").strip()
        if k == 2 and rest and not re.match(r"^[A-Za-z\\(]", rest):
            return None
        if k == 3 and not wrt:
            return None
        if num and rest:
            raise ParseError(f"write either \\frac{{\\partial f}}{{\\partial x}} or \\frac{{\\partial}}{{\\partial x}} "
                             f"f, not both: {text.strip()!r}")
        return Head(var_name(wrt) if wrt else None, num or rest)
    return None
