"""What the text readers share: the function tables, size limits, shape errors, declarations.

A shape declaration (``("n", 1)``, ``"n x m"``, ``"scalar"``) and an assumption
(``{"A": "symmetric"}``) are checked and normalized here; :class:`Parsed` is what
every reader returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import expr as E
from ..functions import FUNCTIONS
from ..errors import MatcalcError
from .grammar import ParseError

ELEMENTWISE = set(FUNCTIONS)  # the catalogue: adding a function there makes it parse
TO_SCALAR = {"sum", "tr", "det", "logdet", "norm1", "norm2", "normF"}
SQUARE = {"tr", "det", "logdet", "inv"}
FUNCTION_ARITY = {
    **{f: 1 for f in ELEMENTWISE},
    **{f: 1 for f in TO_SCALAR},
    "inv": 1, "diag": 1, "eye": 1, "vector": 1, "matrix": 1, "softmax": 1, "logsumexp": 1,
    "kron": 2, "vec": 1, "commutation": 2, "ones": 2, "unvec": 3,
}
SIZED = ("eye", "commutation", "ones")  # functions whose arguments are sizes, not expressions
SCALAR_NAMES = {
    "alpha", "gamma", "delta", "epsilon", "eps", "eta", "kappa", "lam", "lambd", "lambda",
    "nu", "rho", "sigma", "tau", "reg", "lr",
}
# matrixcalculus.org reads the single letters a-g as scalars; they are vectors where only a vector
# fits (see _infer_kinds): transposed, added to an array, or multiplying an array from the right
SOFT_SCALARS = set("abcdefg")
MAX_SIZE = 500  # a declared numeric size: verification draws arrays of it
MAX_MATRIX_POWER = 64  # X^k differentiates into k terms
DIM_NAMES = ["n", "m", "p", "q", "k", "r", "d", "l", "s", "u"]


class ShapeMismatchError(MatcalcError):
    """Operands whose shapes do not fit; names both operands and their shapes."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.text = text
        self.column = column
        super().__init__(message + (f" at column {column}" if column is not None else ""))

    caret = ParseError.caret


class UnknownNameError(MatcalcError):
    """A name the context does not know; with its column (and a caret) when it comes from parsed text."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.text = text
        self.column = column
        super().__init__(message + (f" at column {column}" if column is not None else ""))

    caret = ParseError.caret


@dataclass
class Parsed:
    """A parsed expression and the variables it uses (name -> Var)."""

    expr: E.Expr
    variables: dict
    text: str
    # subterms with a restricted domain (log, sqrt, a divisor, inv, ...) that the input writes but the built
    # expression no longer holds (0*log(-s) is built as 0): where one is undefined, the input is undefined
    dropped: tuple = ()
    notes: list = field(default_factory=list)  # how a name's shape was read, where another reading would fit

    def shapes_note(self) -> str:
        return E.shapes_note(self.variables)


# -- declarations ----------------------------------------------------------------


def parse_shape(spec) -> tuple:
    """A shape from ``("n", 1)``, ``("n",)``, ``()``, ``"n x m"``, ``"n"``, ``"scalar"``."""
    if not isinstance(spec, (str, tuple, list)) or (
            not isinstance(spec, str) and not all(isinstance(d, (int, str)) and not isinstance(d, bool) for d in spec)):
        raise ShapeMismatchError(f"a shape is a tuple of sizes and names such as ('n', 'm'), or text such as "
                                 f"'n x m', got {spec!r}")
    if isinstance(spec, str):
        s = spec.strip().lower()
        if s in ("", "scalar", "()", "1", "1x1"):
            return (1, 1)
        for sep in (" x ", "x", "×", ",", "*"):
            if sep in spec:
                items = [p.strip() for p in spec.replace("×", sep).split(sep) if p.strip()]
                break
        else:
            items = [spec.strip()]
        spec = tuple(items)
    spec = tuple(spec)
    if len(spec) == 0:
        return (1, 1)
    if len(spec) == 1:
        spec = (spec[0], 1)
    if len(spec) != 2:
        raise ShapeMismatchError(f"a shape has one or two dimensions, got {spec!r}")
    out = []
    for d in spec:
        if isinstance(d, str) and d.strip().isascii() and d.strip().isdigit() and len(d.strip()) <= 6:
            d = int(d)
        if isinstance(d, str) and not d.isidentifier():
            raise ShapeMismatchError(f"a dimension must be a number from 1 to {MAX_SIZE} or a name, got {d[:24]!r}")
        if isinstance(d, int) and not 1 <= d <= MAX_SIZE:
            raise ShapeMismatchError(f"a dimension must be a number from 1 to {MAX_SIZE} or a name, got {d}")
        out.append(d)
    return tuple(out)


def normalize_assume(assume) -> dict:
    """{name: frozenset of assumptions} from {name: "symmetric"} or {name: ["spd", ...]}; checks the names."""
    out: dict = {}
    if assume is not None and not isinstance(assume, dict):
        raise MatcalcError(f"assume is a dict such as {{'A': 'symmetric'}}, got {type(assume).__name__}")
    for name, a in (assume or {}).items():
        if not isinstance(a, (str, list, tuple, set, frozenset)) or not all(isinstance(x, str) for x in ([a] if isinstance(a, str) else a)):
            raise MatcalcError(f"the assumptions of {name} are names such as 'symmetric', got {a!r}")
        items = [a] if isinstance(a, str) else list(a)
        flat = []
        for it in items:
            flat.extend(x.strip() for x in it.split(",") if x.strip())
        for x in flat:
            if x not in E.ASSUMPTIONS or x == "dimension":
                raise MatcalcError(
                    f"unknown assumption {x!r} for {name}; known: symmetric, spd, positive, invertible, onehot"
                )
        s = set(flat)
        if "spd" in s:
            s |= {"symmetric", "invertible"}
        out[name] = frozenset(s)
    return out
