"""Reading a claimed answer: text, LaTeX or SymPy, bound to the problem's names and shapes; counterexamples."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy

from .. import expr as E
from ..api import Derivative, MatcalcError
from ..emit.text import to_text
from ..evaluate import Points, numpy_spelling, shape_symbols, substitute, unify_dims
from ..parse import Parsed, ParseError, ShapeMismatchError, UnknownNameError, parse, parse_latex
from ..parse.derivation import answer_part
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
        if "dimension" in v.assume:  # a size the function also uses as a number (p in tr(eye(p))*c)
            out[name] = ()
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


GREEK_NAMES = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau upsilon "
               "phi chi psi omega").split()


def spellings(name: str) -> set:
    """Other ways to write a name: lambda, lam, lambd, \\lambda and λ are one name; W1 is W_1.

    >>> sorted(spellings("lam"))
    ['lam', 'lamb', 'lambd', 'lambda']
    >>> sorted(spellings("W1"))
    ['W1', 'W_1']
    """
    out = {name}
    greek = next((g for g in GREEK_NAMES if name == g or (len(name) >= 3 and g.startswith(name))), None)
    if greek:
        out |= {greek} | {greek[:k] for k in range(3, len(greek))}
    m = re.fullmatch(r"([A-Za-z]{1,2})_?([0-9]+)|([A-Za-z])_([a-z])", name)
    if m and m.group(3):
        out |= {m.group(3) + m.group(4)}
    elif m:
        out |= {m.group(1) + m.group(2), f"{m.group(1)}_{m.group(2)}"}
    return out


def aliases(names) -> dict:
    """{another spelling: the problem's name}, for the spellings that are not names of the problem themselves."""
    names = set(names)
    out: dict = {}
    for n in sorted(names):
        for a in spellings(n):
            if a not in names:
                out.setdefault(a, n)
    return out


def _bind(e: E.Expr, variables: dict, what: str, alias: dict | None = None) -> E.Expr:
    """Replace the variables of a parsed claim by the function's own (with their assumptions)."""
    mapping = {}
    for v in E.free_vars(e):
        w = variables.get(v.name) or variables.get((alias or {}).get(v.name, ""))
        if w is None:
            raise UnknownNameError(f"{what} uses {v.name!r}, which is not a variable of the function")
        if w.shape != v.shape:
            raise ShapeMismatchError(f"{what} uses {v.name} as {E.fmt_shape(v.shape)}, but it is "
                                     f"{E.fmt_shape(w.shape)}")
        if w is not v:
            mapping[v] = w
    return substitute(e, mapping) if mapping else e


@dataclass
class Reading:
    """One way of reading a claim: by which reader, and the expression it gives."""

    reader: str  # 'text' or 'LaTeX'
    expr: E.Expr
    dropped: tuple = ()  # restricted-domain subterms the text writes but the expression lost (0*log(-s))


# how far a failed reading got: a claim that parses but does not type-check beats one that does not parse
_RANK = {ShapeMismatchError: 3, E.ShapeError: 3, UnknownNameError: 2, ParseError: 1}


def _rank(err: Exception) -> int:
    """A reading that parsed and bound but failed later (a size it cannot infer) got furthest."""
    return max((r for t, r in _RANK.items() if isinstance(err, t)), default=4)


def read_claims(claimed, variables: dict, what: str = "the claim", targets: list = ()) -> list:
    """Every reading of the claim that parses and type-checks (text and LaTeX), as :class:`Reading`.

    A claim without a backslash is tried as matcalc text and as LaTeX (``(A+A^T)x``, ``2X``); only the
    readings that type-check against the function's variables are kept, and readings that are the
    same expression are kept once.  When none works, the error of the reading that got furthest is raised.
    ``|X|`` in LaTeX is the determinant when X is a square matrix (the Matrix Cookbook's notation).
    """
    if isinstance(claimed, Derivative):
        claimed = claimed.result
    if isinstance(claimed, E.Expr):
        return [Reading("expression", sized(_bind(claimed, variables, what), set(), list(targets), what,
                                            dims_of(variables.values())))]
    if isinstance(claimed, sympy.Basic):
        from ..sympy_bridge import from_sympy

        # through text, so that the claim's dimensions are unified with the function's
        return read_claims(to_text(from_sympy(claimed).expr), variables, what, targets)
    if not isinstance(claimed, str):
        raise MatcalcError(f"{what} must be text, LaTeX, a SymPy expression or a matcalc expression, "
                           f"got {type(claimed).__name__}")
    if not claimed.strip():
        raise ParseError(f"{what} is empty")
    text = answer_part(claimed)
    if not text.strip():
        raise ParseError(f"{what} has no answer after its '='")
    readers = ["LaTeX"] if "\\" in text else ["text", "LaTeX"]
    out, errors = [], []
    for reader in readers:
        if reader == "LaTeX" and out and not _latex_may_differ(text, set(variables) | set(aliases(variables))):
            break  # the LaTeX reading would be the same, or would not bind
        try:
            e, dropped = _read_with(reader, text, variables, what, list(targets), "abs")
            if reader == "LaTeX" and _square_abs(e):  # |X| of a square matrix is its determinant
                e, dropped = _read_with(reader, text, variables, what, list(targets), "det")
        except (ParseError, UnknownNameError, ShapeMismatchError, E.ShapeError, MatcalcError) as err:
            errors.append(err)
            continue
        if all(e != r.expr for r in out):
            out.append(Reading(reader, e, dropped))
    if not out:
        raise max(errors, key=_rank)
    return out


def _latex_may_differ(text: str, names: set) -> bool:
    """Whether LaTeX could read plain text that reads as text in another way that binds.

    LaTeX reads a word such as ``ab`` as the product a*b; that reading binds only when each letter is
    a name of the problem (or e, I).  Words before a parenthesis are functions in both readers, and
    single letters, subscripted names and operators read the same.
    """
    for m in re.finditer(r"[A-Za-z][A-Za-z0-9]*(?![A-Za-z0-9_(])", text):
        word = m.group(0)
        if len(word) > 1 and "_" not in text[m.end():m.end() + 1]:
            if all(c in names or c in "eI" or c.isdigit() for c in word):
                return True
    return "|" in text or "^" in text


def _square_abs(e: E.Expr) -> bool:
    """Whether e takes abs of a square matrix somewhere, and of nothing else."""
    args = [n.arg for n in E.walk(e) if isinstance(n, E.Apply) and n.fname == "abs"]
    return bool(args) and all(not a.is_scalar and a.rows == a.cols for a in args)


def _read_with(reader: str, text: str, variables: dict, what: str, targets: list, bars: str) -> tuple:
    """(the claim read by ``reader``, the restricted-domain subterms its text writes but the expression lost)."""
    alias = aliases(variables)
    known = set(variables) | dims_of(variables.values()) | set(alias)
    shapes = declared_shapes(variables)
    shapes.update({a: shapes[n] for a, n in alias.items() if n in shapes})
    if reader == "text":
        p = parse(numpy_spelling(text), shapes=shapes, known=known)
    else:
        p = parse_latex(text, shapes=shapes, known=known, bars=bars)
    fresh = _fresh_dims(p, shapes)
    dropped = tuple(_bind(w, variables, what, alias) for w in p.dropped
                    if not any(s in fresh for s in shape_symbols(w)))
    return sized(_bind(p.expr, variables, what, alias), fresh, targets, what, dims_of(variables.values())), dropped


def read_claim(claimed, variables: dict, what: str = "the claim", targets: list = (),
               dropped: list | None = None) -> E.Expr:
    """The claimed answer as a matcalc expression over the function's variables (its first reading).

    ``targets``: the shapes the answer may have (the requested layout's first).
    A size that only context gives (``vector(1)`` alone) is taken from them.
    """
    r = read_claims(claimed, variables, what, targets)[0]
    if dropped is not None:
        dropped.extend(r.dropped)
    return r.expr


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


def counterexample_one_based(ce: dict | None) -> dict | None:
    """A copy of a counterexample with its entry index counted from 1, as users read it.

    The counterexample a check keeps is NumPy's (0-based); every dict a user sees
    (``to_dict()``, the command line's and the web page's JSON) counts from 1.

    >>> counterexample_one_based({"dims": {"n": 3}, "entry": [0, 2], "expected": 1.0, "claimed": 2.0})
    {'dims': {'n': 3}, 'entry': [1, 3], 'expected': 1.0, 'claimed': 2.0}
    """
    if ce is None:
        return None
    out = dict(ce)
    if "entry" in out:
        e = out["entry"]
        out["entry"] = [int(i) + 1 for i in e] if isinstance(e, (list, tuple)) else int(e) + 1
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


