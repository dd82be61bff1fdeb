"""The public API: ``derive``, ``jacobian``, ``hessian`` and their result.

Layouts follow ``docs/conventions.md``: in denominator layout (the default) a
gradient has the shape of the variable and a Jacobian of y (m) by x (n) is
n x m; numerator layout is the transpose of each.  Matrix-by-matrix results
are vec-Jacobians ``d vec(Y) / d vec(X)'`` (column-major vec), in Kronecker form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Union

from . import expr as E
from .budget import bounded, guarded
from .errors import MatcalcError, TooLargeError
from .rules import VariableAbsentError, adjoint, adjoint_symbol, vec_coefficient
from .emit.latex import to_latex
from .emit.numpy import Compiled, compile_expr, compile_exprs
from .emit.prepared import compile_prepared
from .emit.text import to_text
from .functions import FUNCTIONS
from .parse import Parsed, parse, parse_latex
from .simplify import prepare, simplify

LAYOUTS = ("denominator", "numerator")

ShapeSpec = Union[tuple, str]


def check_layout(layout: str) -> str:
    """``layout`` when it is "numerator" or "denominator"; a MatcalcError otherwise."""
    if layout not in LAYOUTS:
        raise MatcalcError(f"layout must be 'numerator' or 'denominator', got {layout!r}")
    return layout


def looks_latex(text: str) -> bool:
    r"""Text is read as LaTeX when it has a backslash or a braced super/subscript.

    >>> looks_latex(r"x^\top A x"), looks_latex("x'*A*x")
    (True, False)
    """
    return "\\" in text or "^{" in text or "_{" in text


def parse_input(expr, shapes, assume) -> Parsed:
    """Text (matcalc syntax or LaTeX), a SymPy matrix expression or a matcalc expression, with its variables and shapes."""
    if isinstance(expr, Parsed):
        return expr
    if isinstance(expr, E.Expr):
        variables = {v.name: v for v in E.free_vars(expr)}
        return Parsed(expr, variables, to_text(expr))
    if isinstance(expr, str):
        if looks_latex(expr):
            return parse_latex(expr, shapes=shapes, assume=assume)
        return parse(expr, shapes=shapes, assume=assume)
    from .sympy_bridge import from_sympy

    return from_sympy(expr, assume=assume)


def _wrt_var(p: Parsed, wrt) -> E.Var:
    name = wrt.strip() if isinstance(wrt, str) else getattr(wrt, "name", None)
    if name is None:
        raise MatcalcError(f"wrt must be a variable name, got {wrt!r}")
    v = p.variables.get(name)
    names = ", ".join(sorted(k for k, x in p.variables.items() if "dimension" not in x.assume)) or "none"
    if v is not None and "dimension" in v.assume:
        raise MatcalcError(f"cannot differentiate with respect to {name}: it is an integer exponent or a dimension "
                           f"here, not a variable; the variables are: {names}")
    if v is None:
        raise MatcalcError(f"the expression does not depend on {name}; its variables are: {names}")
    return v


def _wrt_vars(p: Parsed, wrt) -> list:
    """The variables of ``wrt``: one name (or Var), or a list or tuple of them, each once."""
    items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    if not items:
        raise MatcalcError("wrt must name at least one variable")
    vs = [_wrt_var(p, w) for w in items]
    seen = set()
    for v in vs:
        if v.name in seen:
            raise MatcalcError(f"wrt names {v.name} twice")
        seen.add(v.name)
    return vs


def _kind(f: E.Expr, v: E.Var) -> str:
    if f.is_scalar:
        return "derivative" if v.is_scalar else "gradient"
    if v.is_scalar:
        return "derivative"
    if f.cols == 1 and v.cols == 1:
        return "jacobian"
    return "vec-jacobian"


def _notes(f: E.Expr, v: E.Var, kind: str) -> list:
    notes = [_independence_note(f, v)]
    kinks = sorted({n.fname for n in E.walk(f) if isinstance(n, E.Apply) and FUNCTIONS[n.fname].kink}
                   | ({"norm1"} if any(isinstance(n, E.Norm1) for n in E.walk(f)) else set()))
    if kinks:
        names = kinks[0] if len(kinks) == 1 else f"{', '.join(kinks[:-1])} and {kinks[-1]}"
        notes.append(f"holds almost everywhere: {names} {'is' if len(kinks) == 1 else 'are'} not differentiable at 0")
    if kind == "vec-jacobian":
        notes.append("matrix-by-matrix: no matrix form exists; given as d vec(Y)/d vec(X) in Kronecker/vec form (column-major vec)")
    return notes


def _independence_note(f: E.Expr, v: E.Var) -> str:
    """The convention every result follows, with the assumptions it used to simplify."""
    facts = sorted(f"{x.name} {'/'.join(sorted(x.assume))}" for x in E.free_vars(f)
                   if x.assume and "dimension" not in x.assume)
    note = f"every entry of {v.name} is an independent variable"
    if facts:
        note += f"; the assumptions ({', '.join(facts)}) only simplify the result, at points where they hold"
    return note


@dataclass
class Derivative:
    """A derivative in one layout, with its function, variable and shapes.

    >>> d = derive("x'*A*x", wrt="x")
    >>> print(d)
    (A + A')*x
    >>> d.layout, d.shape
    ('denominator', ('n', 1))
    """

    function: E.Expr
    wrt: E.Var
    layout: str
    result: E.Expr
    other: E.Expr  # the same derivative in the other layout
    variables: dict
    kind: str
    order: int = 1
    notes: list = field(default_factory=list)
    source: str = ""
    target: E.Expr | None = None  # what the result is the derivative of: the function, or its gradient for a Hessian

    # -- views ------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(int(d) if d.is_Integer else str(d) for d in self.result.shape) if not self.result.is_scalar else ()

    @property
    def numerator(self) -> E.Expr:
        return self.result if self.layout == "numerator" else self.other

    @property
    def denominator(self) -> E.Expr:
        return self.result if self.layout == "denominator" else self.other

    def in_layout(self, layout: str) -> "Derivative":
        """The same derivative in ``layout``."""
        if check_layout(layout) == self.layout:
            return self
        return Derivative(self.function, self.wrt, layout, self.other, self.result, self.variables,
                          self.kind, self.order, self.notes, self.source, self.target)

    @cached_property
    def expr(self):
        """The result as a SymPy matrix expression."""
        from .sympy_bridge import to_sympy

        return to_sympy(self.result)

    def __str__(self) -> str:
        return to_text(self.result)

    def text(self) -> str:
        return to_text(self.result)

    def latex(self, equation: bool = False) -> str:
        """LaTeX of the result; with ``equation=True`` as ``\\frac{\\partial f}{\\partial x} = ...``."""
        body = to_latex(self.result)
        if not equation:
            return body
        var = to_latex(self.wrt)
        if self.order == 2:
            lhs = rf"\frac{{\partial^2}}{{\partial {var}\,\partial {var}^{{\top}}}}\left({to_latex(self.function)}\right)"
        else:
            lhs = rf"\frac{{\partial}}{{\partial {var}}}\left({to_latex(self.function)}\right)"
        return f"{lhs} = {body}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex(equation=True)}$$"

    def __repr__(self) -> str:
        return f"<{self.kind} of {to_text(self.function)} wrt {self.wrt.name} ({self.layout} layout): {self}>"

    def shapes_note(self) -> str:
        return E.shapes_note(self.variables)

    def to_dict(self) -> dict:
        """The derivative as JSON-ready data (:func:`matcalc.serialize.derivative_to_dict`).

        >>> derive("x'*x", wrt="x").to_dict()["shape"]
        ['n', 1]
        """
        from .serialize import derivative_to_dict

        return derivative_to_dict(self)

    # -- numbers -------------------------------------------------------------------
    def to_numpy(self) -> Compiled:
        """A NumPy function of the variables (by name) that returns the result in this layout.

        It keeps the input dtype and reads dimension symbols from the arrays' shapes;
        ``.source`` holds its code.
        """
        fn = compile_expr(self.result, list(self.variables.values()), fname="derivative")
        fn.checker = self.verify
        return fn

    def value_and_grad(self) -> Compiled:
        """The function and its gradient compiled together: :func:`value_and_grad` of this function.

        >>> vg = derive("x'*x", wrt="x").value_and_grad()
        >>> [float(v) for v in vg(x=[[1.0], [2.0]])[1].ravel()]
        [2.0, 4.0]
        """
        return value_and_grad(Parsed(self.function, dict(self.variables), self.source), self.wrt.name)

    def hvp(self) -> Compiled:
        """The Hessian of this function applied to a direction, never formed: :func:`hvp`.

        >>> hv = hessian("x'*x", wrt="x").hvp()
        >>> hv([[1.0], [0.0]], x=[[3.0], [4.0]]).ravel().tolist()
        [2.0, 0.0]
        """
        return hvp(Parsed(self.function, dict(self.variables), self.source), self.wrt.name)

    def function_numpy(self) -> Compiled:
        """The differentiated function itself, compiled."""
        return compile_expr(self.function, list(self.variables.values()), fname="function")

    def verify(self, **kwargs):
        """Check against central finite differences at random non-square shapes.

        Returns a report (shapes, points, method, tolerance, maximum relative
        error); raises :class:`matcalc.verify.VerificationError` with a
        counterexample when the result is wrong.
        """
        from .verify import verify_derivative

        return guarded(verify_derivative)(self, **kwargs)


MAX_PRODUCT_WORK = 10_000  # the product rule on m factors that hold the variable makes m terms of m factors


def product_work(f: E.Expr, v: E.Var) -> int:
    """The sum, over the distinct products in ``f``, of the square of how many factors depend on ``v``
    (``X^k`` counts as k factors): the size the product rule writes out.

    >>> product_work(parse("x'*A*x + sum(X^3*x)").expr, parse("x").expr)
    5
    """
    depends: dict = {}
    work = 0
    for n in reversed(list(E.walk(f))):
        if n in depends:
            continue
        depends[n] = n == v or any(depends[c] for c in n.children)
        if isinstance(n, E.MatPow) and depends[n]:
            k = n.args[1]
            work += k ** 2 if isinstance(k, int) else 1  # X^k with a symbol k: one term, k X^(k-1)
        elif isinstance(n, (E.MatMul, E.Hadamard, E.Kron)):
            work += sum(depends[c] for c in n.children) ** 2
    return work


# Facts that hold only on a thin set of points (S' = S, columns summing to 1): used before
# differentiating they would change the derivative, so the variable is differentiated without them.
# Open conditions (positive, invertible) hold near the point and may stay.
STRUCTURAL = frozenset({"symmetric", "spd", "onehot"})


def _independent(f: E.Expr, v: E.Var):
    """(f, free, restore): ``f`` over ``free``, which is ``v`` with its structural assumptions dropped (same
    name and shape, every entry independent), and ``restore``, which rewrites a result in ``free`` into one
    in ``v`` and simplifies it with what holds at every point of ``v``."""
    if not v.assume & STRUCTURAL:
        return f, v, lambda e: e
    free = E.Var(v.name, v.rows, v.cols, v.assume - STRUCTURAL)
    return E.substitute(f, {v: free}), free, lambda e: simplify(E.substitute(e, {free: v}))


def _raw_first_order(f: E.Expr, v: E.Var, taken: set) -> tuple[E.Expr, E.Expr]:
    """(denominator, numerator) forms of df/dv, every entry of v independent."""
    if product_work(f, v) > MAX_PRODUCT_WORK:
        raise TooLargeError(f"the function is too large to differentiate: its products hold {v.name} in more "
                            f"factors than matcalc's bound (about {int(MAX_PRODUCT_WORK ** 0.5)} in one product)")
    fp = prepare(f)
    if f.is_scalar:
        den = simplify(adjoint(fp, v, E.ONE_S, simplify))
        return den, simplify(E.transpose(den))
    G = adjoint_symbol(f.shape, taken)
    L = adjoint(fp, v, G, simplify)
    if v.is_scalar:
        L = simplify(L)
        num = simplify(adjoint(L, G, E.ONE_S, simplify)) if E.contains(L, G) else E.zeros(G.shape)
        return simplify(E.transpose(num)), num
    den = simplify(vec_coefficient(simplify(L), G))
    return den, simplify(E.transpose(den))


def _first_order(f: E.Expr, v: E.Var, taken: set) -> tuple[E.Expr, E.Expr]:
    """(denominator, numerator) forms of df/dv: derived with independent entries, then simplified with
    the assumptions on v (S' = S for a symmetric S), which therefore never change what is differentiated."""
    f, free, restore = _independent(f, v)
    den, num = _raw_first_order(f, free, taken)
    return restore(den), restore(num)


def _guard(fn):
    """Turn the engine's own errors into one-line MatcalcErrors."""

    def wrapped(*a, **k):
        with bounded():
            try:
                return fn(*a, **k)
            except VariableAbsentError as e:
                raise MatcalcError(str(e)) from None
            except RecursionError:
                raise TooLargeError("the expression is too deeply nested to differentiate") from None

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    wrapped.__wrapped__ = fn
    return wrapped


@_guard
def derive(
    expr,
    wrt,
    layout: str = "denominator",
    shapes: Mapping[str, ShapeSpec] | None = None,
    assume: Mapping[str, str] | None = None,
) -> Derivative:
    """The first derivative of ``expr`` with respect to ``wrt``.

    ``expr`` is text in matcalc's syntax, a SymPy matrix expression or a
    matcalc expression.  A scalar function gives a gradient, a vector function
    of a vector a Jacobian, a matrix function a vec-Jacobian in Kronecker form.

    >>> str(derive("tr(W'*W)", wrt="W"))
    '2*W'
    >>> str(derive("x'*A*x", wrt="x", layout="numerator", assume={"A": "symmetric"}))
    "2*x'*A"
    """
    layout = check_layout(layout)
    p = parse_input(expr, shapes, assume)
    v = _wrt_var(p, wrt)
    f = p.expr
    den, num = _first_order(f, v, set(p.variables))
    kind = _kind(f, v)
    res, other = (den, num) if layout == "denominator" else (num, den)
    return Derivative(f, v, layout, res, other, dict(p.variables), kind, 1, p.notes + _notes(f, v, kind), p.text, f)


@_guard
def jacobian(expr, wrt, layout: str = "numerator", shapes=None, assume=None) -> Derivative:
    """The Jacobian ``J_ij = d y_i / d x_j`` (numerator layout by default, as usual for Jacobians)."""
    return derive(expr, wrt, layout=layout, shapes=shapes, assume=assume)


@_guard
def hessian(expr, wrt, layout: str = "denominator", shapes=None, assume=None) -> Derivative:
    """The Hessian ``H_ij = d^2 f / dx_i dx_j`` of a scalar ``f``, over vec(X) for a matrix X.

    >>> str(hessian("x'*A*x", wrt="x"))
    "A + A'"
    """
    layout = check_layout(layout)
    p = parse_input(expr, shapes, assume)
    v = _wrt_var(p, wrt)
    f = p.expr
    if not f.is_scalar:
        raise MatcalcError(f"a Hessian needs a scalar function; {to_text(f)} is {E.fmt_shape(f.shape)}")
    taken = set(p.variables)
    # the second pass differentiates the gradient as derived, before any assumption about v
    # simplified it: a gradient rewritten with S' = S agrees with the true one only at symmetric points
    f_free, free, restore = _independent(f, v)
    g, _ = _raw_first_order(f_free, free, taken)
    try:
        gden, gnum = _raw_first_order(g, free, taken)
        gden, gnum = restore(gden), restore(gnum)
    except VariableAbsentError:
        n = v.rows * v.cols
        gnum = gden = E.zeros((n, n))
    # H = d vec(g) / d vec(x)' is the numerator-layout Jacobian of the gradient
    H = gnum
    Ht = gden
    res, other = (H, Ht) if layout == "denominator" else (Ht, H)
    return Derivative(f, v, layout, res, other, dict(p.variables), "hessian", 2, p.notes + _notes(f, v, "hessian"),
                      p.text, g)


def _scalar_function(p: Parsed, what: str) -> E.Expr:
    if not p.expr.is_scalar:
        raise MatcalcError(f"{what} needs a scalar function; {to_text(p.expr)} is {E.fmt_shape(p.expr.shape)}")
    return p.expr


@_guard
def value_and_grad(expr, wrt, shapes: Mapping[str, ShapeSpec] | None = None,
                   assume: Mapping[str, str] | None = None) -> Compiled:
    """The value of a scalar ``expr`` and its gradient (denominator layout: the shape of ``wrt``),
    compiled into one function that computes their common subexpressions once.

    Call it with arrays by name: ``fn(**arrays)`` returns ``(value, gradient)`` in the inputs' array
    library and dtype.  With several variables (``wrt=("W", "b")``) it returns the value and one
    gradient per variable, in that order.  ``.source`` is standalone code (only NumPy needed);
    ``.verify()`` checks it against finite differences.

    >>> import numpy as np
    >>> fn = value_and_grad("x'*A*x", wrt="x")
    >>> value, grad = fn(A=np.eye(2), x=np.array([1.0, 2.0]))
    >>> float(value), grad.ravel().tolist()
    (5.0, [2.0, 4.0])
    >>> fn.verify().ok
    True
    >>> fn = value_and_grad("sum(softplus(X'*w + b))", wrt=("w", "b"), shapes={"b": "scalar"})
    >>> value, gw, gb = fn(X=np.zeros((2, 3)), w=np.zeros(2), b=0.0)
    >>> gw.ravel().tolist(), float(gb)                      # sigmoid(0) = 1/2 for each of 3 samples
    ([0.0, 0.0], 1.5)
    >>> fn.verify().wrt
    'w, b'
    """
    from .verify import verify_value_and_grad

    p = parse_input(expr, shapes, assume)
    vs = _wrt_vars(p, wrt)
    f = _scalar_function(p, "value_and_grad")
    gs = [_first_order(f, v, set(p.variables))[0] for v in vs]
    variables = list(p.variables.values())
    # the value in the simplifier's canonical form, which the gradients' terms share (relu(...) of a hinge
    # computed once); the check compares it with the function as written
    fn = compile_exprs([simplify(f), *gs], variables, fname="value_and_grad")
    x = vs if isinstance(wrt, (list, tuple)) else vs[0]
    fn.checker = lambda **kw: guarded(verify_value_and_grad)(fn, f, x, variables, **kw)
    return fn


@_guard
def hvp(expr, wrt, shapes: Mapping[str, ShapeSpec] | None = None, assume: Mapping[str, str] | None = None) -> Compiled:
    """The Hessian of a scalar ``expr`` applied to a direction, compiled without ever forming the Hessian.

    ``fn(direction, /, **arrays)``: the direction has the shape of ``wrt``, and so has the result
    (for a matrix X it is unvec(H vec(V)), H taken over column-major vec(X)).  It is the gradient of
    ``<grad f(x), V>``, derived by the same rules as every other gradient.  With several variables
    (``wrt=("W", "b")``) the Hessian is over all of them: ``fn(V_W, V_b, /, **arrays)`` takes one
    direction per variable and returns one product per variable, ``H_WW V_W + H_Wb V_b`` first (a
    one-variable tuple, ``wrt=("W",)``, gives the bare product, as ``wrt="W"`` does).
    ``fn.at(**arrays)`` is the product at one point as a function of the directions alone: what does
    not depend on them (the curvature of the loss at the point) is computed once, as conjugate
    gradients need.

    >>> import numpy as np
    >>> fn = hvp("x'*A*x", wrt="x")
    >>> fn(np.array([1.0, 0.0]), A=np.array([[1.0, 2.0], [0.0, 1.0]]), x=np.ones(2)).ravel().tolist()
    [2.0, 2.0]
    >>> fn.verify().ok
    True
    >>> hx, ha = hvp("a*x'*x", wrt=("x", "a"))(np.array([1.0, 0.0]), 0.0, x=np.array([3.0, 4.0]), a=2.0)
    >>> hx.ravel().tolist(), float(ha)                      # H = [[2a I, 2x], [2x', 0]]
    ([4.0, 0.0], 6.0)
    >>> hvp("a*x'*x", wrt=("x", "a")).verify().ok
    True
    """
    from .verify import verify_hvp

    p = parse_input(expr, shapes, assume)
    vs = _wrt_vars(p, wrt)
    f = _scalar_function(p, "hvp")
    taken = set(p.variables)
    # as for the Hessian: every entry of wrt independent (a symmetric X is perturbed off the symmetric
    # matrices too); what holds at the point simplifies the result only
    f_free, frees, restores = f, [], []
    for v in vs:
        f_free, free, restore = _independent(f_free, v)
        frees.append(free)
        restores.append(restore)
    gs = [_raw_first_order(f_free, free, taken)[0] for free in frees]
    several = isinstance(wrt, (list, tuple))
    Vs = []
    for v in vs:
        Vs.append(E.var(E.fresh_name(f"direction_{v.name}" if several else "direction", taken), v.rows, v.cols))
        taken = taken | {Vs[-1].name}
    inner = E.add(*[E.matmul(g, V) if v.is_scalar else E.sum_(E.hadamard(g, V)) for g, V, v in zip(gs, Vs, vs)])
    hvs = []
    for v, free in zip(vs, frees):
        try:
            hv, _ = _raw_first_order(inner, free, taken)
            for restore in restores:
                hv = restore(hv)
        except VariableAbsentError:  # the gradient is constant in this variable
            hv = E.zeros(v.shape)
        hvs.append(hv)
    variables = list(p.variables.values())
    fn = compile_prepared(hvs, variables, "hvp", tuple(Vs))
    # the check draws points that satisfy the assumptions and perturbs wrt in every direction, so it
    # differences the gradients with every entry independent (gs)
    x, g = (vs, gs) if several else (vs[0], gs[0])
    fn.checker = lambda **kw: guarded(verify_hvp)(fn, f, g, x, variables, **kw)
    return fn
