"""The LaTeX reader's vocabulary, its lark grammar, and the text work before and after parsing.

:mod:`matcalc.parse.latex` turns the tree this grammar gives into matcalc's AST; this module
holds what the tokens and rules are (Greek letters, function words, the grammar) and the
column-preserving clean-up of the source (``$...$``, ``A^{\\prime}``) with the error messages.
"""

from __future__ import annotations

import re

from lark import Lark
from lark.exceptions import UnexpectedToken

from .grammar import MAX_DEPTH, ParseError
from .text import FUNCTION_ARITY

# -- vocabulary -----------------------------------------------------------------

GREEK = {
    **{g: g for g in (
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau "
        "upsilon phi chi psi omega ell Gamma Delta Theta Lambda Xi Sigma Upsilon Phi Psi Omega"
    ).split()},
    "varepsilon": "epsilon", "vartheta": "theta", "varrho": "rho", "varphi": "phi", "varsigma": "sigma",
}

UNICODE_GREEK = dict(zip("αβγδεζηθικλμνξρστυφχψωΓΔΘΛΞΣΥΦΨΩϵϑϕ",
    ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau upsilon phi chi "
     "psi omega Gamma Delta Theta Lambda Xi Sigma Upsilon Phi Psi Omega epsilon theta phi").split()))


def greek_name(tok: str) -> str:
    """The name a Greek token spells: \\lambda and λ are lambda."""
    return UNICODE_GREEK[tok] if tok in UNICODE_GREEK else GREEK[tok[1:]]


# function words, as written after \operatorname, \mathrm or \text, or before "(";
# looked up as written, then in lower case
FUNCTIONS = {
    **{f: f for f in FUNCTION_ARITY if f not in ("commutation", "eye", "vector", "matrix", "unvec")},
    "ln": "log", "sgn": "sign", "trace": "tr", "lse": "logsumexp", "frobenius": "normF", "sech": "sech",
}
# function commands of LaTeX itself (\tr, \diag and \sgn are common macros)
COMMAND_FUNCTIONS = {
    "exp": "exp", "log": "log", "ln": "log", "sin": "sin", "cos": "cos", "tanh": "tanh", "det": "det",
    "tan": "tan", "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan",
    "tr": "tr", "Tr": "tr", "diag": "diag", "sgn": "sign",
}
PRODUCT_OPS = {
    "*": "*", r"\cdot": "*", r"\times": "*", r"\ast": "*", "/": "/", r"\div": "/",
    r"\odot": ".*", r"\circ": ".*", r"\oslash": "./", r"\otimes": "kron",
}
NORMS = {"": "norm2", "2": "norm2", "1": "norm1", "F": "normF", "fro": "normF", "Frobenius": "normF"}
DECORATIONS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde", "widetilde": "tilde"}


def _words(names) -> str:
    return "|".join(sorted(names, key=lambda s: (-len(s), s)))


_END = r"(?![A-Za-z])"  # a command name ends at a non-letter
_PAREN_AHEAD = r"(?=\s*(?:\\(?:left|[bB]igg?l?)(?![A-Za-z])\s*)?\()"  # "(", perhaps after \left or \bigl
_ROMAN = r"\\(?:operatorname\*?|mathrm|textrm|text|mathit|textit|mathsf|textsf)\s*"

# -- grammar ----------------------------------------------------------------------
#
# \odot, \circ, \oslash and \otimes bind more loosely than the product, so
# that y \odot Xw is y .* (X*w).  Rules ending in _@ exist twice: _n for the normal context and _b for the
# inside of |...| and \|...\|, where a factor juxtaposed to the previous one
# may not start with a bar (so that the bar closes).  A product is a chain of
# factors; a function without parentheses (bare_@) takes the factors after it
# up to the next function or operator, so only a function or an operator may
# follow it; a \sum (or a function of one, sumbare_@) takes the rest of the
# product and of the Hadamard product, so nothing may follow it (sproduct_@).

_CONTEXT_RULES = r"""
?sum_@: hadamard_@ ((PLUS | MINUS) hadamard_@)*
?hadamard_@: _ha_@ | _ha_@ HADOP sproduct_@ | sproduct_@
_ha_@: product_@ | _ha_@ HADOP product_@
?product_@: _pa_@ | _pb_@
?sproduct_@: _ps_@
_pa_@: signed
     | _pa_@ MULOP signed | _pb_@ MULOP signed
     | _pa_@ f_juxt_@ | _pa_@ f_func | _pb_@ f_func
_pb_@: signed_bare_@
     | _pa_@ MULOP signed_bare_@ | _pb_@ MULOP signed_bare_@
     | _pa_@ bare_@ | _pb_@ bare_@
_ps_@: signed_sum_@
     | _pa_@ MULOP signed_sum_@ | _pb_@ MULOP signed_sum_@
     | _pa_@ _rest_@ | _pb_@ _rest_@
?signed_bare_@: bare_@ | MINUS signed_bare_@ -> neg | PLUS signed_bare_@ -> pos
?signed_sum_@: _rest_@ | MINUS signed_sum_@ -> neg | PLUS signed_sum_@ -> pos
_rest_@: bigsum_@ | sumbare_@
bare_@: FUNC _fmod? (f_first f_juxt_@* | bare_@)
sumbare_@: FUNC _fmod? (bigsum_@ | sumbare_@)
bigsum_@: SUM limits? hadamard_@
"""

_COMMON_RULES = r"""
?start: sum_n
?signed: f_any | MINUS signed -> neg | PLUS signed -> pos

?f_any: (_atom | group | _bar | call) _script*
?f_juxt_n: (_atom | group | _bar) _script*
?f_juxt_b: (_atom | group) _script*
?f_func: call _script*
?f_first: (_atom | _bar | call) _script*

_atom: number | letter | greek | word | bold | decor | frac | sqrt | bracket | brace | abs_lr | norm_lr | indicator
_bar: abs_bar | norm_bar
number: NUMBER
digit: DIGIT
letter: LETTER
greek: GREEK
word: WORDNAME
bold: FONT _farg
decor: DECOR _farg
frac: FRAC (DIGIT | LETTER | GREEK | "{" sum_n "}") _farg
sqrt: SQRT _farg
_farg: brace | digit | letter | greek
group: "(" sum_n ")"
bracket: "[" sum_n "]"
brace: "{" sum_n "}"
abs_lr: LABS sum_n RABS
norm_lr: LNORM sum_n RNORM
abs_bar: ABSBAR sum_b ABSBAR
norm_bar: NORMBAR sum_b NORMBAR
call: FUNC _fmod? "(" sum_n ("," sum_n)* ")"
_fmod: fpow | prime
fpow: "^" (digit | brace)
indicator: INDIC ("[" cond "]" | "(" cond ")" | LSET cond RSET)
cond: sum_n CMP sum_n

_script: sup | sub | prime
sup: "^" (digit | letter | greek | tmark | sneg | brace | tbrace)
sub: "_" (digit | letter | greek | word | subbrace)
prime: "'"
tmark: TMARK
sneg: MINUS (digit | letter | tmark)
tbrace: "{" MINUS? tmark "}"
subbrace: "{" (LETTER | NUMBER | GREEK | WORDNAME | ",")+ "}"

limits: "_" LETTER ("^" _bound)?
      | "_" "{" LETTER+ ("," LETTER+)* ("=" sum_n)? "}" ("^" _bound)?
_bound: digit | letter | greek | brace

NUMBER: /(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/
DIGIT: /\d/
LETTER: /[A-Za-z]/
PLUS: "+"
MINUS: /-|\u2212/
"""

_TERMINALS = {
    # name.priority: regex; a higher priority wins where two terminals match
    "TMARK.4": rf"\\(?:top|intercal|transpose){_END}|\\(?:mathsf|mathrm|rm|sf|text|textsf)\s*(?:\{{\s*T\s*\}}|T{_END})",
    "FUNC.3": (
        rf"\\(?:{_words(COMMAND_FUNCTIONS)}){_END}"
        rf"|\\sigma(?=\s*(?:'|\^\s*\{{?\s*\\prime\s*\}}?)?{_PAREN_AHEAD[3:]}"
        rf"|\\operatorname\*?\s*\{{\s*[A-Za-z][A-Za-z0-9]*\s*\}}"
        rf"|{_ROMAN}\{{\s*(?i:{_words(FUNCTIONS)})\s*\}}"
        rf"|(?<![A-Za-z\\])(?i:{_words(FUNCTIONS)}){_PAREN_AHEAD}"
    ),
    "INDIC.5": r"\\(?:mathbb|mathbf|bm|boldsymbol)\s*\{\s*[1I]\s*\}(?=\s*(?:\[|\(|\\\{))",
    "CMP": rf"\\(?:geqslant|leqslant|geq|leq|ge|le|gt|lt){_END}|>=|<=|>|<|\u2265|\u2264",
    "LSET": r"\\\{",
    "RSET": r"\\\}",
    "NORMBAR.2": rf"\\\||\|\||\\Vert{_END}",
    "WORDNAME.1": rf"{_ROMAN}\{{\s*[A-Za-z][A-Za-z0-9]*\s*\}}",
    "GREEK": rf"\\(?:{_words(GREEK)}){_END}|[{''.join(UNICODE_GREEK)}]",
    "FONT": rf"\\(?:mathbf|boldsymbol|bm|pmb|mathbfit|vec|mathbb|mathcal|textbf|bf){_END}",
    "DECOR": rf"\\(?:{_words(DECORATIONS)}){_END}",
    "FRAC": rf"\\[dtc]?frac{_END}",
    "SQRT": rf"\\sqrt{_END}",
    "SUM": rf"\\sum{_END}",
    "MULOP": rf"\\(?:cdot|times|ast|div){_END}|\*|/",
    "HADOP": rf"\\(?:odot|circ|oslash|otimes){_END}",
    "ABSBAR": rf"\||\\vert{_END}",
    "LABS": rf"\\lvert{_END}",
    "RABS": rf"\\rvert{_END}",
    "LNORM": rf"\\lVert{_END}",
    "RNORM": rf"\\rVert{_END}",
    # ignored: sizing and \left/\right (the delimiter after them is what counts), spacing, style
    "SKIP": (
        r"\\(?:left|right)\s*\."
        rf"|\\(?:left|right|middle|[bB]igg?[lrm]?){_END}"
        rf"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|quad|qquad){_END}"
        r"|\\[,;:! ]|~"
    ),
}


def _grammar() -> str:
    rules = _COMMON_RULES + "".join(_CONTEXT_RULES.replace("@", c) for c in "nb")
    terminals = "".join(f"{name}: /{regex.replace('/', chr(92) + '/')}/\n" for name, regex in _TERMINALS.items())
    return rules + terminals + "%import common.WS\n%ignore WS\n%ignore SKIP\n"


GRAMMAR = _grammar()
PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False)

# closing delimiters, named in "expected ..." hints
_CLOSERS = {"RPAR": "')'", "RSQB": "']'", "RBRACE": "'}'", "RABS": r"'\rvert'", "RNORM": r"'\rVert'"}



# -- before and after the parser ----------------------------------------------------------


def blank_delimiters(text: str) -> str:
    """Blank out $...$, $$...$$, \\[...\\], \\(...\\) and trailing punctuation, keeping offsets."""
    chars = list(text)

    def span():
        body = "".join(chars)
        i = len(body) - len(body.lstrip())
        j = len(body.rstrip())
        return i, j

    def blank(a, b):
        chars[a:b] = " " * (b - a)

    for _ in range(2):  # punctuation may sit outside the dollars or inside them
        i, j = span()
        if j > i and chars[j - 1] in ".,;" and not re.search(r"\\[A-Za-z]*$|\d$", "".join(chars[i:j - 1])):
            blank(j - 1, j)
            i, j = span()
        body = "".join(chars[i:j])
        for left, right in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
            if body.startswith(left) and body.endswith(right) and len(body) >= len(left) + len(right):
                blank(i, i + len(left))
                blank(j - len(right), j)
                break
    return "".join(chars)


# spellings rewritten before parsing, padded with blanks so that columns stay where they were
_RESPELL = [
    (re.compile(r"\^\s*\{\s*\\prime\s*\}|\^\s*\\prime(?![A-Za-z])|\\prime(?![A-Za-z])"), "'"),  # A^{\prime}
    (re.compile(r"\^\s*\{\s*-\s*1\s*\^\s*\{?\s*(?:T|\\top)\s*\}?\s*\}"), "^{-T}"),  # X^{-1^T}
]


def respell(src: str) -> str:
    r"""``A^{\prime}`` is ``A'``; ``X^{-1^T}`` is ``X^{-T}``."""
    for rx, new in _RESPELL:
        src = rx.sub(lambda m, new=new: new.ljust(len(m.group(0))), src)
    return src


def check_nesting(src: str, text: str) -> None:
    """Braces must balance; brackets of all kinds may nest at most MAX_DEPTH deep."""
    opened: list[int] = []
    depth = 0
    escaped = False
    for i, ch in enumerate(src):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"the expression is nested more than {MAX_DEPTH} levels deep", text, i + 1)
            if ch == "{":
                opened.append(i)
        elif ch in ")]}":
            depth -= 1
            if ch == "}":
                if not opened:
                    raise ParseError("unbalanced braces: '}' has no matching '{'", text, i + 1)
                opened.pop()
    if opened:
        raise ParseError("unbalanced braces: '{' is never closed", text, opened[-1] + 1)


def unexpected_character(src: str, pos: int, text: str) -> ParseError:
    m = re.match(r"\\(?:[A-Za-z]+|.)", src[pos:])
    if m:
        return ParseError(f"unsupported LaTeX command {m.group(0)}", text, pos + 1)
    ch = src[pos] if pos < len(src) else ""
    return ParseError(f"unexpected character {ch!r}", text, pos + 1)


def unexpected_token(src: str, e: UnexpectedToken, text: str) -> ParseError:
    expected = set(e.expected or ())
    closers = [_CLOSERS[t] for t in sorted(expected) if t in _CLOSERS]
    at_end = e.token.type == "$END"
    pos = len(src.rstrip()) if at_end else e.token.start_pos
    what = "end of input" if at_end else f"'{e.token}'"
    if "LBRACE" in expected and not closers:  # a command such as \frac is short of an argument
        cmd = re.findall(r"\\[A-Za-z]+", src[:pos])
        if cmd and at_end:
            return ParseError(f"{cmd[-1]} is missing an argument", text, pos + 1)
        if cmd:
            return ParseError(f"unexpected {what} after {cmd[-1]}, expected an argument in braces", text, pos + 1)
    hint = f", expected {' or '.join(closers)}" if closers and len(closers) <= 2 else ""
    return ParseError(f"unexpected {what}{hint}", text, pos + 1)


