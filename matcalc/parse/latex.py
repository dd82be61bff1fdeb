r"""LaTeX input: what students write, parsed into the plain-text parser's AST.

A separate lark LALR grammar (:mod:`matcalc.parse.latex_grammar`) reads LaTeX
math and :class:`~matcalc.parse.latex_nodes._ToNode` turns its tree into the
same :class:`~matcalc.parse.grammar.Node` tree that the plain-text grammar
produces; shape inference and the build step are then shared
(:func:`matcalc.parse.text.build_parsed`).

What it reads, with its plain-text meaning:

- names are single letters (``Ax`` is ``A*x``), Greek letters (``\lambda`` is
  ``lambda``), upright words (``\mathrm{loss}``), with bold ignored
  (``\mathbf{v}``, ``\boldsymbol{\theta}``, ``\bm{x}``) and subscripts kept
  (``W_1`` is ``W_1``, ``W^{[l]}`` and ``W^{(l)}`` are ``W_l``);
- juxtaposition, ``\cdot``, ``\times`` and ``*`` multiply; ``/``, ``\frac``,
  ``\tfrac``, ``\dfrac`` divide; ``\odot`` and ``\circ`` are ``.*``;
  ``\otimes`` is ``kron``;
- ``^T``, ``^\top``, ``^{\mathsf T}``, ``^\intercal`` and ``'`` transpose;
  ``X^{-1}`` is ``X^-1`` (the inverse of a matrix), ``X^{-T}`` is ``inv(X)'``;
  ``e^{x}`` is ``exp(x)``;
- ``\exp \log \ln \sin \cos \tanh \det \sqrt``, ``\sigma(...)`` (sigmoid; a
  ``\sigma`` not followed by a parenthesis is a name), and any matcalc
  function as ``\operatorname{...}``, ``\mathrm{...}`` or ``\text{...}``.
  A function without parentheses takes the factors that follow it, up to the
  next operator or function (``\operatorname{tr} A B`` is ``tr(A*B)``,
  ``\sin x \cos x`` is ``sin(x)*cos(x)``); ``\log\det X`` is ``logdet(X)``;
- ``\|x\|``, ``\|x\|_2``, ``\lVert x \rVert`` are ``norm2``; ``\|x\|_1`` is
  ``norm1``; ``\|W\|_F`` is ``normF``; ``|x|`` is ``abs``;
- ``I`` is the identity sized from context (``eye()``), ``I_n`` is
  ``eye(n)``; ``\mathbf{1}`` is the ones vector ``vector(1)``;
- ``\sum_i x_i``, ``\sum_{i,j} W_{ij}``, ``\sum_{i=1}^{n}`` are sums of all
  entries: inside the sum, names subscripted with exactly the sum's indices
  stand for the whole array and products and powers become elementwise
  (``\sum_i w_i x_i^2`` is ``sum(w.*x.^2)``);
- ``\left``/``\right``, ``\big`` and friends, spacing (``\, \; \! \quad``),
  ``$...$``, ``$$...$$``, ``\[...\]`` and a trailing ``.`` or ``,`` are ignored.

Anything else is a :class:`~matcalc.parse.grammar.ParseError` that names the
command and its column.  The input is bounded like the plain-text parser's
(``MAX_LENGTH`` characters, ``MAX_DEPTH`` levels of nesting).
"""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .grammar import LARK_DEPTH, MAX_DEPTH, MAX_LENGTH, Node, ParseError, _depth
from .latex_grammar import (  # noqa: F401 - GRAMMAR, GREEK and UNICODE_GREEK are used by other readers and tests
    GRAMMAR,
    GREEK,
    PARSER,
    UNICODE_GREEK,
    blank_delimiters,
    check_nesting,
    respell,
    unexpected_character,
    unexpected_token,
)
from .latex_nodes import _ToNode
from .text import Parsed, build_parsed

# -- public entry point --------------------------------------------------------------


def parse_latex(text: str, shapes: dict | None = None, assume: dict | None = None,
                known: set | None = None, bars: str = "abs") -> Parsed:
    r"""Parse LaTeX math into a matcalc expression with shapes.

    Takes the same ``shapes``, ``assume`` and ``known`` as
    :func:`matcalc.parse.parse` and gives the same result as the plain-text
    twin of the formula.  ``bars="det"`` reads ``|X|`` as the determinant (the
    Matrix Cookbook's notation) instead of the elementwise absolute value.

    >>> p = parse_latex(r"$\mathbf{v}^\top A \mathbf{v}$")
    >>> p.shapes_note()
    'A: nxn, v: nx1'
    >>> from matcalc.parse import parse
    >>> p.expr == parse("v'*A*v").expr
    True
    >>> parse_latex(r"\frac{\lambda}{2m}\|W\|_F^2", shapes={"W": "k x p"}).expr == \
    ...     parse("lambda/(2*m)*normF(W)^2", shapes={"W": "k x p"}).expr
    True
    """
    tree = parse_latex_tree(text, declared=set(shapes or ()) | set(known or ()), bars=bars)
    return build_parsed(tree, text, shapes, assume, known)


def parse_latex_tree(text: str, declared: set = frozenset(), bars: str = "abs") -> Node:
    """The plain-text AST of a LaTeX formula.

    ``e`` and ``I`` are Euler's number and the identity unless ``declared``
    holds them as names.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    src = respell(blank_delimiters(text))
    if not src.strip():
        raise ParseError("the expression is empty")
    check_nesting(src, text)
    try:
        tree = PARSER.parse(src)
    except UnexpectedCharacters as e:
        raise unexpected_character(src, e.pos_in_stream, text) from None
    except UnexpectedToken as e:
        raise unexpected_token(src, e, text) from None
    except UnexpectedEOF:  # pragma: no cover - the LALR parser reports the end as a token
        raise ParseError("unexpected end of input", text, len(text) + 1) from None
    except UnexpectedInput as e:  # pragma: no cover - the ones above cover lark's errors
        raise ParseError("syntax error", text, getattr(e, "column", None)) from None
    if _depth(tree) > LARK_DEPTH:
        raise ParseError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    try:
        return _ToNode(text, declared, bars).node(tree)
    except RecursionError:
        raise ParseError("the expression is nested too deeply (a very long product?)") from None
