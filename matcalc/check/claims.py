"""Reading a claimed answer: text, LaTeX or SymPy, bound to the problem's names and shapes; counterexamples."""

from __future__ import annotations

import numpy as np
import sympy

from .. import expr as E
from ..api import Derivative, MatcalcError
from ..emit.text import to_text
from ..evaluate import Points, parse_text, shape_symbols, substitute, unify_dims
from ..parse import Parsed, ParseError, UnknownNameError
from ..verify import dimension_symbols

# ---------------------------------------------------------------------------------
# Reading a claim
# ---------------------------------------------------------------------------------


def dim_spec(d):
    return int(d) if d.is_Integer else str(d)


def declared_shapes(variables: dict) -> dict:
    """Shapes to declare when parsing a claim about a function with these variables."""
    out = {}
    for name, v in variables.items():
        if "dimension" in v.assume:
            continue
        if all(d.is_Integer or d.is_Symbol for d in v.shape):
            out[name] = (dim_spec(v.rows), dim_spec(v.cols))
    return out


def dims_of(variables) -> set:
    """The names of the dimension symbols the variables use."""
    return {str(s) for s in dimension_symbols(list(variables))}


def _fresh_dims(p: Parsed, shapes: dict) -> set:
    """The dimension symbols the parser made up for sizes that only context gives (``vector(1)``, ``eye()``)."""
    given = {str(d) for sh in shapes.values() for d in sh} | set(p.variables)
    return {s for s in shape_symbols(p.expr) if str(s) not in given}


def sized(e: E.Expr, fresh: set, targets: list, what: str, dims: set) -> E.Expr:
    """e with its made-up sizes fixed by the shape it must have (one of ``targets``, in order of preference).

    Raises when a size stays unknown: a claim is never evaluated with a size the function does not fix.
    """
    if fresh:
        sized = unify_dims(e, fresh, targets)
        if sized is not None:
            e = sized
    for n in E.walk(e):
        extra = {s for d in n.shape for s in d.free_symbols if s in fresh or str(s) not in dims}
        if extra:
            raise MatcalcError(f"cannot infer the shape of {to_text(n)} in {what} from the function's "
                               f"variables; write it with them (e.g. eye(n) with a size they use)")
    return e


def _bind(e: E.Expr, variables: dict, what: str) -> E.Expr:
    """Replace the variables of a parsed claim by the function's own (with their assumptions)."""
    mapping = {}
    for v in E.free_vars(e):
        w = variables.get(v.name)
        if w is None:
            raise UnknownNameError(f"{what} uses {v.name!r}, which is not a variable of the function")
        if w.shape != v.shape:
            raise MatcalcError(f"{what} uses {v.name} as {E.fmt_shape(v.shape)}, but it is {E.fmt_shape(w.shape)}")
        if w is not v:
            mapping[v] = w
    return substitute(e, mapping) if mapping else e


def read_claim(claimed, variables: dict, what: str = "the claim", targets: list = (),
               dropped: list | None = None) -> E.Expr:
    """The claimed answer as a matcalc expression over the function's variables.

    ``targets``: the shapes the answer may have (the requested layout's first).
    A size that only context gives (``vector(1)`` alone) is taken from them.
    ``dropped``: a list that receives the restricted-domain subterms the text
    writes but the expression lost (``0*log(-s)``); the claim is undefined where one is.
    """
    if isinstance(claimed, Derivative):
        claimed = claimed.result
    fresh: set = set()
    if isinstance(claimed, E.Expr):
        e = _bind(claimed, variables, what)
    elif isinstance(claimed, str):
        if not claimed.strip():
            raise ParseError(f"{what} is empty")
        known = set(variables) | dims_of(variables.values())
        shapes = declared_shapes(variables)
        p = parse_text(claimed, shapes=shapes, known=known)
        fresh = _fresh_dims(p, shapes)
        e = _bind(p.expr, variables, what)
        if dropped is not None:
            dropped.extend(_bind(w, variables, what) for w in p.dropped
                           if not any(s in fresh for s in shape_symbols(w)))
    elif isinstance(claimed, sympy.Basic):
        from ..sympy_bridge import from_sympy

        # through text, so that the claim's dimensions are unified with the function's
        return read_claim(to_text(from_sympy(claimed).expr), variables, what, targets, dropped)
    else:
        raise MatcalcError(f"{what} must be text, LaTeX, a SymPy expression or a matcalc expression, "
                           f"got {type(claimed).__name__}")
    return sized(e, fresh, list(targets), what, dims_of(variables.values()))


def _entry(i: int, shape) -> tuple:
    r, c = shape
    return (i // c, i % c)


def counterexample(points: Points, k: int, claim_vals: list, expected_vals: list) -> dict:
    """Shapes, point, and the entry where claimed and expected differ most, at trial k."""
    dims, point = points.trials[k]
    a, b = claim_vals[k], expected_vals[k]
    out = {
        "dims": dict(dims),
        "point": {n: np.asarray(v).tolist() for n, v in point.items() if n not in dims},
        "expected_shape": list(b.shape) if b is not None else None,
        "claimed_shape": list(a.shape) if a is not None else None,
    }
    if a is not None and b is not None and a.shape == b.shape:
        diff = np.abs(a - b)
        diff[~np.isfinite(diff)] = np.inf
        i = int(np.argmax(diff))
        ij = _entry(i, a.shape)
        out.update({"entry": list(ij), "expected": float(b[ij]), "claimed": float(a[ij])})
    if b is not None and b.size <= 36:
        out["expected_value"] = b.tolist()
    if a is not None and a.size <= 36:
        out["claimed_value"] = a.tolist()
    return out


def format_counterexample(ce: dict) -> str:
    if not ce:
        return ""
    dims = ", ".join(f"{k}={v}" for k, v in sorted(ce["dims"].items())) or "scalars"
    if "entry" in ce:
        i, j = ce["entry"]
        return (f"at shapes {dims}, entry ({i + 1},{j + 1}): expected {ce['expected']:.6g}, "
                f"claimed {ce['claimed']:.6g}")
    return f"at shapes {dims}: expected shape {ce.get('expected_shape')}, claimed shape {ce.get('claimed_shape')}"


