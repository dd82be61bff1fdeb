"""From plain text to a matcalc expression: grammar, shape inference, build.

Shapes come from declarations (``shapes={"x": ("n", 1)}``, or text such as
``"n x n"``) or are inferred by unifying dimension symbols.  An undeclared name
is a matrix when it starts with an upper-case letter, a column vector when it
starts with a lower-case one, and a scalar when it is a common scalar name
(``lam``, ``alpha``, ...), a dimension symbol, or used where only a scalar fits
(a divisor, an exponent, ``vector(c)``).  Inferred dimensions are never 1, so
``x*A`` with x n x 1 is a shape error rather than an outer product.  Every
result reports the shapes it used.  ``eye()`` with no argument is a square
identity sized from its context, like ``vector(c)`` (LaTeX's bare ``I``).

The stages live in :mod:`.shapes` (inference) and :mod:`.build` (the
expression); the tables, errors and declarations they share in :mod:`.declare`.
"""

from __future__ import annotations

from .. import expr as E
from .build import _Builder
from .declare import (ELEMENTWISE, FUNCTION_ARITY, MAX_SIZE, SCALAR_NAMES, SOFT_SCALARS, Parsed,
                      ShapeMismatchError, UnknownNameError, normalize_assume, parse_shape)
from .grammar import Node, check_tree, parse_tree
from .shapes import (_Namer, _broadcast_notes, _check_calls, _find_name, _infer_kinds, _names,
                     _transposed_names, find)

# names other modules import from here: the shared tables and errors live in .declare
__all__ = ["ELEMENTWISE", "FUNCTION_ARITY", "MAX_SIZE", "Parsed", "ShapeMismatchError", "UnknownNameError",
           "build_parsed", "normalize_assume", "parse", "parse_shape"]


def parse(text: str, shapes: dict | None = None, assume: dict | None = None, known: set | None = None) -> Parsed:
    """Parse ``text`` into a matcalc expression with shapes.

    ``known``: when given, every name must be in it (for claims about a given
    function).

    >>> p = parse("x'*A*x")
    >>> p.shapes_note()
    'A: nxn, x: nx1'
    """
    return build_parsed(parse_tree(text), text, shapes, assume, known)


def build_parsed(tree: Node, text: str, shapes: dict | None = None, assume: dict | None = None,
                 known: set | None = None) -> Parsed:
    """Infer the shapes of an already parsed AST and build the expression.

    ``text`` is the source the node offsets point into (plain text or LaTeX);
    it is used for error messages only.  Shared by :func:`parse` and
    :func:`matcalc.parse.latex.parse_latex`.
    """
    check_tree(tree, text)
    _check_calls(tree, text)
    names, eye_dims = _names(tree)
    if shapes is not None and not isinstance(shapes, dict):
        raise ShapeMismatchError(f"shapes is a dict such as {{'A': ('n', 'm')}}, got {type(shapes).__name__}")
    for k in shapes or {}:
        if not isinstance(k, str) or not k.isidentifier():
            raise ShapeMismatchError(f"shapes are keyed by variable names, got {k!r}")
    declared = {k: parse_shape(v) for k, v in (shapes or {}).items()}
    assume = normalize_assume(assume)
    if known is not None:
        for nm in names:
            if nm not in known and nm not in declared:
                pos = _find_name(tree, nm)
                raise UnknownNameError(f"unknown name {nm!r}", text, pos + 1)
    dim_names = set(eye_dims)
    for r, c in declared.values():
        for d in (r, c):
            if isinstance(d, str):
                dim_names.add(d)
    kinds: dict = {}
    for nm in names:
        if nm in declared:
            kinds[nm] = "declared"
        elif nm in dim_names:
            kinds[nm] = "dim"
        elif nm in SCALAR_NAMES:
            kinds[nm] = "scalar"
        elif nm[0].isupper():
            kinds[nm] = "matrix"
        else:
            kinds[nm] = "vector"
    for nm in assume:
        if nm not in names:
            raise UnknownNameError(f"an assumption names {nm!r}, which does not occur in the expression")
    square = frozenset(nm for nm, a in assume.items() if {"symmetric", "spd", "invertible"} & a)
    soft = {nm for nm in names if kinds[nm] == "vector" and nm in SOFT_SCALARS} - _transposed_names(tree)
    for nm in soft:
        kinds[nm] = "scalar"
    inf = _infer_kinds(tree, text, kinds, declared, dim_names, soft, square)
    notes = _broadcast_notes(inf, tree, text, kinds, declared, dim_names, square)
    for nm in inf.power_names:  # the exponent k of X^k is an integer, drawn like a size
        kinds[nm] = "dim"
    namer = _Namer(inf, names, dim_names)
    for ra, rb in inf.deferred:
        if namer.resolve(ra) != namer.resolve(rb):
            raise ShapeMismatchError(f"dimensions {namer.resolve(ra)} and {namer.resolve(rb)} differ", text)
    variables: dict = {}
    for nm in names:
        a = assume.get(nm, frozenset())
        if kinds[nm] == "dim":
            variables[nm] = E.Var(nm, 1, 1, frozenset({"dimension"}))
            continue
        t = inf.var_type(nm)
        r, c = namer.resolve(find(t[0])), namer.resolve(find(t[1]))
        if {"symmetric", "spd", "invertible"} & a and r != c:
            raise ShapeMismatchError(f"{nm} is assumed {'/'.join(sorted(a))} but its shape is {E.fmt_dim(r)}x{E.fmt_dim(c)}")
        variables[nm] = E.Var(nm, r, c, a)
    carried = {str(s) for v in variables.values() for d in v.shape for s in d.free_symbols}
    for nm in sorted(eye_dims - set(variables) - carried):  # a size only eye(p) names: an input of the compiled function
        variables[nm] = E.Var(nm, 1, 1, frozenset({"dimension"}))
    const_shapes = {k: (namer.resolve(t[0]), namer.resolve(t[1])) for k, t in inf.const_nodes.items()}
    builder = _Builder(text, variables, const_shapes)
    try:
        e = builder.build(tree)
    except E.ShapeError as ex:  # pragma: no cover - inference rejects these first
        raise ShapeMismatchError(str(ex), text) from None
    kept = set(E.walk(e)) if builder.restricted else set()
    dropped = tuple(dict.fromkeys(w for w in builder.restricted if w not in kept))
    return Parsed(e, variables, text, dropped, notes)
