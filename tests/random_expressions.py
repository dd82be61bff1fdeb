"""Random well-typed matcalc expressions, and an independent numerical judge of their derivatives.

The generator covers the whole syntax: products, transposes, Hadamard
products, every elementwise function of :data:`matcalc.functions.FUNCTIONS`,
traces, sums, the three norms, inverses and logdets of SPD matrices,
softmax and logsumexp, kron under a trace, matrix powers; scalar, vector and
matrix outputs; symmetric/SPD/positive assumptions; depth up to 6.

Every choice goes through a ``Chooser`` so the same generator runs on a NumPy
random generator (the long script) or on Hypothesis draws (the suite, which
then shrinks a failure to a small expression: the first option of each list
is the simplest).

The judge (:func:`judge`) differentiates with matcalc and compares the
results in both layouts with central finite differences of the *function
alone*: the function is compiled with matcalc's NumPy emitter, no derivative
code is involved, and second derivatives are second differences of the
function.
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass, field

import numpy as np

import matcalc
from matcalc import expr as E
from matcalc.emit.numpy import compile_expr
from matcalc.functions import FUNCTIONS
from matcalc.parse import parse

# -- the variables: a fixed, declared vocabulary over three dimension symbols ----------------

VECTORS = {"x": "n", "u": "n", "y": "m", "z": "p"}
MATRICES = {"A": ("n", "n"), "S": ("n", "n"), "B": ("n", "m"), "W": ("m", "n"), "C": ("m", "p"),
            "D": ("p", "n"), "T": ("m", "m")}
SCALARS = ["a", "b", "c"]
DIMS = ["n", "m", "p"]
# assumptions the generator may switch on (S spd, T symmetric, c positive)
ASSUMABLE = {"S": "spd", "T": "symmetric", "c": "positive"}
KINKED = ("abs", "sign", "relu", "step")


def shapes_of() -> dict:
    out = {v: (d,) for v, d in VECTORS.items()}
    out.update(MATRICES)
    out.update({s: () for s in SCALARS})
    return out


class Chooser:
    """Choices from a NumPy generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def choice(self, options: list):
        return options[int(self.rng.integers(len(options)))]

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


class HypothesisChooser:
    """Choices from Hypothesis' ``data.draw``: shrinking moves to the first option and the low end."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, options: list):
        return self.data.draw(self.st.sampled_from(options))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))


# -- the generator ------------------------------------------------------------------------
# A type is ("s",), ("v", d) or ("m", r, c).  gen(t, depth) returns text of type t whose tree has
# exactly that depth (one child goes one level down, the others anywhere above a leaf).

S_T = ("s",)


class Generator:
    def __init__(self, ch, assumptions: bool = True):
        self.ch = ch
        self.assume = {}
        if assumptions:
            for name, a in ASSUMABLE.items():
                if ch.integer(0, 1):
                    self.assume[name] = a

    # leaves ------------------------------------------------------------------------------
    def leaf(self, t) -> str:
        ch = self.ch
        if t[0] == "s":
            return ch.choice(SCALARS + ["2", "0.5"])
        if t[0] == "v":
            names = [v for v, d in VECTORS.items() if d == t[1]]
            return ch.choice(names)
        r, c = t[1], t[2]
        opts = [m for m, s in MATRICES.items() if s == (r, c)]
        opts += [m + "'" for m, s in MATRICES.items() if s == (c, r)]
        if not opts:
            opts = [f"{self.leaf(('v', r))}*{self.leaf(('v', c))}'"]
        if r == c:
            opts.append(f"eye({r})")
        return ch.choice(opts)

    def sub(self, t, depth: int, main: bool) -> str:
        return self.gen(t, depth - 1 if main else self.ch.integer(0, depth - 1))

    def kids(self, types, depth):
        """Texts of the given types: one (chosen) at depth-1, the rest shallower."""
        k = self.ch.integer(0, len(types) - 1)
        return [self.sub(t, depth, i == k) for i, t in enumerate(types)]

    def distinct(self, types, depth):
        """Like kids, drawn once more when the two come out the same (x - x is rare in practice)."""
        a, b = self.kids(types, depth)
        if a == b:
            a, b = self.kids(types, depth)
        return a, b

    def other_dim(self) -> str:
        return self.ch.choice(DIMS)

    # positive and SPD arguments ------------------------------------------------------------
    def positive(self, t, depth) -> str:
        """An expression of type t with positive entries (for log, sqrt, division, real powers)."""
        form = self.ch.choice(["exp", "square", "softplus", "sigmoid"])
        g = self.gen(t, depth - 1)
        if form == "square":
            return f"({g}).^2 + 1" if t[0] != "s" else f"({g})^2 + 1"
        return f"{form}({g})"

    def spd(self, d, depth) -> str:
        form = self.ch.choice(["S", "gram", "shift"])
        if form == "S" and d == "n" and self.assume.get("S") == "spd":
            return "S"
        e = self.other_dim()
        g = self.gen(("m", d, e), max(depth - 1, 0))
        if form == "shift" and d == "n" and self.assume.get("S") == "spd":
            return f"(S + ({g})*({g})')"
        return f"(({g})*({g})' + eye({d}))"

    # productions ---------------------------------------------------------------------------
    def gen(self, t, depth: int) -> str:
        if depth <= 0:
            return self.leaf(t)
        return getattr(self, "gen_" + t[0])(t, depth)

    def elementwise(self, t, depth) -> str:
        fname = self.ch.choice(sorted(FUNCTIONS))
        if FUNCTIONS[fname].domain == "positive":
            return f"{fname}({self.positive(t, depth)})"
        if getattr(FUNCTIONS[fname], "inside", None) is not None:  # arcsin, arccos, tan: inside (-1/2, 1/2)
            return f"{fname}((0.5)*(tanh({self.gen(t, depth - 1)})))"
        return f"{fname}({self.gen(t, depth - 1)})"

    def gen_s(self, t, depth) -> str:
        ch = self.ch
        kind = ch.choice(["add", "mul", "inner", "sum", "tr", "elementwise", "quad", "norm", "div", "pow",
                          "logdet", "lse", "trkron", "trpow", "sub", "neg"])
        if kind == "add":
            a, b = self.kids([S_T, S_T], depth)
            return f"{a} + {b}"
        if kind == "sub":
            a, b = self.distinct([S_T, S_T], depth)
            return f"{a} - ({b})"
        if kind == "neg":
            return f"-({self.gen(t, depth - 1)})"
        if kind == "mul":
            a, b = self.kids([S_T, S_T], depth)
            return f"({a})*({b})"
        if kind == "inner":
            d = self.other_dim()
            a, b = self.kids([("v", d), ("v", d)], depth)
            return f"({a})'*({b})"
        if kind == "quad":
            d, e = self.other_dim(), self.other_dim()
            a, M, b = self.kids([("v", d), ("m", d, e), ("v", e)], depth)
            return f"({a})'*({M})*({b})"
        if kind == "sum":
            u = self.any_type()
            return f"sum({self.gen(u, depth - 1)})"
        if kind == "tr":
            d = self.other_dim()
            return f"tr({self.gen(('m', d, d), depth - 1)})"
        if kind == "elementwise":
            return self.elementwise(t, depth)
        if kind == "norm":
            which = ch.choice(["norm1", "norm2", "normF", "norm2sq"])
            u = ("v", self.other_dim()) if which in ("norm1", "norm2", "norm2sq") else self.mat_type()
            g = self.gen(u, depth - 1)
            return f"norm2({g})^2" if which == "norm2sq" else f"{which}({g})"
        if kind == "div":
            a = self.gen(t, depth - 1)
            return f"({a})/({self.positive(S_T, ch.integer(1, depth))})"
        if kind == "pow":
            p = ch.choice(["2", "3", "0.5", "-1"])
            base = self.positive(S_T, depth) if p in ("0.5", "-1") else self.gen(S_T, depth - 1)
            return f"({base})^{p}"
        if kind == "logdet":
            return f"logdet({self.spd(self.other_dim(), depth - 1)})"
        if kind == "lse":
            return f"logsumexp({self.gen(('v', self.other_dim()), depth - 1)})"
        if kind == "trkron":
            d, e = self.other_dim(), self.other_dim()
            a, b = self.kids([("m", d, d), ("m", e, e)], depth)
            return f"tr(kron({a}, {b}))"
        # trpow: a matrix power under a trace
        d = self.other_dim()
        return f"tr(({self.gen(('m', d, d), depth - 1)})^{ch.choice(['2', '3'])})"

    def gen_v(self, t, depth) -> str:
        ch = self.ch
        d = t[1]
        kind = ch.choice(["add", "matvec", "hadamard", "elementwise", "scale", "softmax", "sub", "solve",
                          "neg"])
        if kind == "add":
            a, b = self.kids([t, t], depth)
            return f"{a} + {b}"
        if kind == "sub":
            a, b = self.distinct([t, t], depth)
            return f"{a} - ({b})"
        if kind == "neg":
            return f"-({self.gen(t, depth - 1)})"
        if kind == "matvec":
            e = self.other_dim()
            M, v = self.kids([("m", d, e), ("v", e)], depth)
            return f"({M})*({v})"
        if kind == "hadamard":
            a, b = self.kids([t, t], depth)
            return f"({a}).*({b})"
        if kind == "elementwise":
            return self.elementwise(t, depth)
        if kind == "scale":
            s, v = self.kids([S_T, t], depth)
            return f"({s})*({v})"
        if kind == "softmax":
            return f"softmax({self.gen(t, depth - 1)})"
        # solve: the inverse of an SPD matrix times a vector
        return f"inv({self.spd(d, depth - 1)})*({self.gen(t, ch.integer(0, depth - 1))})"

    def gen_m(self, t, depth) -> str:
        ch = self.ch
        r, c = t[1], t[2]
        kinds = ["add", "matmul", "transpose", "hadamard", "elementwise", "scale", "outer", "softmax", "sub"]
        if r == c:
            kinds += ["inv", "matpow"]
        kind = ch.choice(kinds)
        if kind == "add":
            a, b = self.kids([t, t], depth)
            return f"{a} + {b}"
        if kind == "sub":
            a, b = self.distinct([t, t], depth)
            return f"{a} - ({b})"
        if kind == "matmul":
            e = self.other_dim()
            a, b = self.kids([("m", r, e), ("m", e, c)], depth)
            return f"({a})*({b})"
        if kind == "transpose":
            return f"({self.gen(('m', c, r), depth - 1)})'"
        if kind == "hadamard":
            a, b = self.kids([t, t], depth)
            return f"({a}).*({b})"
        if kind == "elementwise":
            return self.elementwise(t, depth)
        if kind == "scale":
            s, M = self.kids([S_T, t], depth)
            return f"({s})*({M})"
        if kind == "outer":
            a, b = self.kids([("v", r), ("v", c)], depth)
            return f"({a})*({b})'"
        if kind == "softmax":
            return f"softmax({self.gen(t, depth - 1)})"
        if kind == "inv":
            return f"inv({self.spd(r, depth - 1)})"
        return f"({self.gen(t, depth - 1)})^{ch.choice(['2', '3'])}"

    def mat_type(self):
        return ("m", self.other_dim(), self.other_dim())

    def any_type(self):
        k = self.ch.choice(["v", "m"])
        return ("v", self.other_dim()) if k == "v" else self.mat_type()

    def output(self, depth: int) -> str:
        k = self.ch.choice(["s", "v", "m"])
        t = S_T if k == "s" else ("v", self.other_dim()) if k == "v" else self.mat_type()
        return self.gen(t, depth)


@dataclass
class Case:
    text: str
    wrt: str
    assume: dict
    depth: int


def random_case(ch, max_depth: int = 6, assumptions: bool = True) -> Case:
    """A random expression, the variable to differentiate by, and its assumptions."""
    depth = ch.integer(1, max_depth)
    names = []
    while not names:  # a function of at least one variable
        g = Generator(ch, assumptions)
        text = g.output(depth)
        names = sorted(set(re.findall(r"[A-Za-z]\w*", text)) & set(shapes_of()))
    wrt = ch.choice(names) if names else "x"
    used = set(names)
    return Case(text, wrt, {k: v for k, v in g.assume.items() if k in used}, depth)


# -- the independent judge -------------------------------------------------------------------

@dataclass
class Outcome:
    status: str  # ok, wrong, error (a clear matcalc error), internal, timeout
    detail: str = ""
    derive_s: float = 0.0  # CPU seconds of this process (the machine is shared: wall time is noise)
    what: list = field(default_factory=list)  # what was compared


# an engine error that hides a correct answer, not a clear refusal
NOT_CLEAR = {"NotLinearError"}


def is_clear(e: BaseException) -> bool:
    """A matcalc error of its own, with a one-line message (anything else is an internal error)."""
    return (type(e).__module__.startswith("matcalc") and type(e).__name__ not in NOT_CLEAR
            and "\n" not in str(e) and isinstance(e, ValueError))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _draw(var: E.Var, sizes: dict, rng) -> np.ndarray | float:
    r = int(var.rows.subs(_subs(sizes)))
    c = int(var.cols.subs(_subs(sizes)))
    a = var.assume
    if var.is_scalar:
        return float(rng.uniform(0.5, 1.5)) if "positive" in a else float(rng.normal())
    if "spd" in a:
        b = rng.normal(size=(r, r))
        return b @ b.T / r + np.eye(r)
    if "symmetric" in a:
        b = rng.normal(size=(r, r))
        return (b + b.T) / 2
    if "positive" in a:
        return rng.uniform(0.5, 1.5, size=(r, c))
    return rng.normal(size=(r, c))


def _subs(sizes):
    import sympy

    return {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}


def _vec(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, order="F") if a.ndim else a.reshape(1)


def _to_numerator_jacobian(value, layout: str, kind: str, fshape, xshape) -> np.ndarray:
    """d vec(f) / d vec(x)' from a result in ``layout`` (written here, apart from matcalc.verify)."""
    v = np.asarray(value, dtype=float)
    v = v.reshape(1, 1) if v.ndim == 0 else v
    nf, nx = int(np.prod(fshape)), int(np.prod(xshape))
    if kind == "hessian":
        return v if layout == "denominator" else v.T
    if nf == 1 and kind != "vec-jacobian" and kind != "jacobian":
        g = v if layout == "denominator" else v.T
        return _vec(g).reshape(1, nx)
    if nx == 1 and kind == "derivative":
        g = v if layout == "numerator" else v.T
        return _vec(g).reshape(nf, 1)
    return v if layout == "numerator" else v.T


class FunctionAtPoints:
    """The compiled function (no derivative code) and its kink arguments, at random sizes."""

    def __init__(self, text: str, assume: dict):
        self.parsed = parse(text, shapes=shapes_of(), assume=assume)
        self.variables = list(self.parsed.variables.values())
        self.f = compile_expr(self.parsed.expr, self.variables, "f")
        kinks = [n.children[0] for n in E.walk(self.parsed.expr)
                 if (isinstance(n, E.Apply) and n.fname in KINKED) or isinstance(n, E.Norm1)]
        self.kinks = [compile_expr(k, self.variables, "k") for k in kinks]
        # a 2-norm is not differentiable where its argument is 0 (S' - S at size 1 is 0 everywhere)
        self.norms = [compile_expr(n, self.variables, "k") for n in E.walk(self.parsed.expr) if isinstance(n, E.Norm2)]

    def point(self, rng, sizes: dict, tries: int = 30):
        """A point where the function is finite and every kink argument is away from 0."""
        for _ in range(tries):
            pt = {v.name: _draw(v, sizes, rng) for v in self.variables if "dimension" not in v.assume}
            pt.update({k: v for k, v in sizes.items() if k not in pt})  # sizes no array carries
            with np.errstate(all="ignore"):
                try:
                    val = np.asarray(self.f(**pt), dtype=float)
                    if not np.all(np.isfinite(val)) or np.max(np.abs(val), initial=0) > 1e6:
                        continue
                    # away from every kink; an exact 0 is structural (x - x) and no kink is crossed there
                    if all(_away(np.asarray(k(**pt), dtype=float)) for k in self.kinks) and \
                            all(float(k(**pt)) > 1e-2 for k in self.norms):
                        return pt
                except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
                    continue
        return None


def _away(a: np.ndarray) -> bool:
    a = np.abs(a)[a != 0]
    return bool(np.all(np.isfinite(a))) and float(np.min(a, initial=1.0)) > 1e-2


def fd_jacobian(f, point: dict, name: str, h: float) -> np.ndarray:
    x0 = np.asarray(point[name], dtype=float)
    shp = x0.shape
    cols = []
    for j in range(x0.size):
        e = np.zeros(x0.size)
        e[j] = h
        e = e.reshape(shp, order="F")
        cols.append((_vec(f(**{**point, name: x0 + e})) - _vec(f(**{**point, name: x0 - e}))) / (2 * h))
    return np.stack(cols, axis=1)


def fd_hessian(f, point: dict, name: str, h: float) -> np.ndarray:
    x0 = np.asarray(point[name], dtype=float)
    shp, n = x0.shape, x0.size

    def at(*steps):
        dx = np.zeros(n)
        for j, s in steps:
            dx[j] += s
        return float(_vec(f(**{**point, name: x0 + dx.reshape(shp, order="F")}))[0])

    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (at((i, h), (j, h)) - at((i, h), (j, -h)) - at((i, -h), (j, h))
                                 + at((i, -h), (j, -h))) / (4 * h * h)
    return H


def _hessian_at(f, point, name, h):
    """Second differences at step h; a negative h asks for Richardson's extrapolation from |h| and |h|/2,
    which removes the h^2 error term (the test for a large, fast-varying Hessian)."""
    if h > 0:
        return fd_hessian(f, point, name, h)
    return (4 * fd_hessian(f, point, name, -h / 2) - fd_hessian(f, point, name, -h)) / 3


def _agree(ana, numeric, floor: float, tol: float) -> tuple[bool, float]:
    """ana against finite differences at several steps (computed lazily): the best step decides."""
    best = float("inf")
    for n in numeric:
        err = float(np.linalg.norm(ana - n)) / max(float(np.linalg.norm(n)), float(np.linalg.norm(ana)), floor)
        best = min(best, err)
        if best <= tol:
            break
    return best <= tol, best


def _extrapolated(f, pt, name, scale, order):
    """Ridders' extrapolation of the central (order "d") or second (order "h") differences of f alone."""
    from matcalc.verify.steps import extrapolate

    if order == "d":
        return extrapolate(lambda h: fd_jacobian(f, pt, name, h), 1e-3 * scale)
    return extrapolate(lambda h: fd_hessian(f, pt, name, h), 1e-2 * scale)


def _agree_steady(ana, est, floor: float, tol: float) -> tuple[bool, float, bool]:
    """ana against Ridders' estimate: (agrees, error, whether the estimate is steady: its own error estimate is
    at most a tenth of the tolerance)."""
    size = max(float(np.linalg.norm(est.value)), float(np.linalg.norm(ana)), floor)
    err = float(np.linalg.norm(ana - est.value)) / size
    steady = bool(np.isfinite(est.error) and est.error <= 0.1 * tol * size)
    return bool(err <= tol), err, steady


class _Lazy:
    """Finite differences at each step, computed on first use and kept."""

    def __init__(self, make, steps):
        self.make, self.steps, self.done = make, steps, {}

    def __iter__(self):
        for h in self.steps:
            if h not in self.done:
                self.done[h] = self.make(h)
            yield self.done[h]

    def first(self):
        return next(iter(self))


UNSTEADY = 1e-2  # relative spread of the first differences at three steps beyond which none can be trusted


FD_STEPS = (1e-5, 1e-6, 1e-4)  # the first differences the judge tries, relative to the point's scale


def _first_differences(fp: FunctionAtPoints, pt: dict, name: str, scale: float) -> dict | None:
    """The first differences of ``f`` in ``name`` at FD_STEPS, by step (None where evaluating fails: the
    derivative legs report that themselves)."""
    with np.errstate(all="ignore"):
        try:
            return {h: fd_jacobian(fp.f, pt, name, h * scale) for h in FD_STEPS}
        except Exception:  # noqa: BLE001
            return None


def _ill_conditioned(Js: dict | None, fx) -> bool:
    """Is ``f`` so badly conditioned at the point that finite differences are noise?  Where its differences
    ``Js`` at the three steps spread by more than UNSTEADY, no step is right: an argument of sin near 1e15
    turns f around within one step.  It looks at f alone, never at the result judged, so a wrong result
    cannot hide behind it; such a point is not counted and another is drawn."""
    if Js is None or not all(np.all(np.isfinite(J)) for J in Js.values()):
        return False
    size = max(float(np.max(np.abs(J), initial=0.0)) for J in Js.values())
    floor = 1e-6 * (1 + float(np.max(np.abs(fx), initial=0.0)))
    spread = max(float(np.max(np.abs(a - b), initial=0.0)) for a in Js.values() for b in Js.values())
    return spread > UNSTEADY * max(size, floor)


def draw_sizes(rng) -> dict:
    """Sizes 1 to 3, never all equal (so never all square)."""
    while True:
        s = {d: int(rng.integers(1, 4)) for d in DIMS}
        if len(set(s.values())) > 1:
            return s


def judge(case: Case, rng, time_limit: float = 10.0, points: int = 2, hessians: bool = True,
          self_check: bool = False) -> Outcome:
    """See :func:`_judge`; a failure of the judge's own code is its own status, "judge"."""
    try:
        return _judge(case, rng, time_limit, points, hessians, self_check)
    except Exception as e:  # noqa: BLE001
        return Outcome("judge", f"the judge failed: {type(e).__name__}: {e}")


def _judge(case: Case, rng, time_limit: float, points: int, hessians: bool, self_check: bool) -> Outcome:
    """Derive (both layouts; the Hessian too for a scalar function) and compare with finite differences.

    With ``self_check``, a right result must also pass matcalc's own ``verify``, and ``check`` must
    not call it wrong when it is claimed.
    """
    try:
        fp = FunctionAtPoints(case.text, case.assume)
    except Exception as e:  # noqa: BLE001 - the point of the judge is to catch anything
        return Outcome("error" if is_clear(e) else "internal", f"{type(e).__name__}: {e}")
    x = fp.parsed.variables[case.wrt]
    results = {}
    old = signal.signal(signal.SIGVTALRM, _alarm)
    signal.setitimer(signal.ITIMER_VIRTUAL, time_limit)
    t0 = time.process_time()
    try:
        for layout in ("denominator", "numerator"):
            d = matcalc.derive(case.text, wrt=case.wrt, layout=layout, shapes=shapes_of(), assume=case.assume)
            results[("d", layout)] = (d, d.to_numpy())
            if hessians and fp.parsed.expr.is_scalar:
                hd = matcalc.hessian(case.text, wrt=case.wrt, layout=layout, shapes=shapes_of(), assume=case.assume)
                results[("h", layout)] = (hd, hd.to_numpy())
        compiled = _compiled_pair(case, fp, hessians)
    except _Timeout:
        return Outcome("timeout", f"derivation over {time_limit:g} s", time.process_time() - t0)
    except Exception as e:  # noqa: BLE001
        return Outcome("error" if is_clear(e) else "internal", f"{type(e).__name__}: {e}", time.process_time() - t0)
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, old)
    elapsed = time.process_time() - t0
    fshape = tuple(fp.parsed.expr.shape)
    tried = unjudged = 0
    directions = np.random.default_rng(2026)  # its own generator: the points drawn stay those of the rng given
    for _ in range(4 * points):
        if tried == points:
            break
        sizes = draw_sizes(rng)
        pt = fp.point(rng, sizes)
        if pt is None:
            continue
        fx = _vec(fp.f(**pt))
        scale = max(1.0, float(np.max(np.abs(_vec(pt[x.name])))))
        first = _first_differences(fp, pt, x.name, scale)
        if _ill_conditioned(first, fx):
            continue  # float64 differences cannot judge here (sin of 1e15): another point is drawn
        tried += 1
        J = H = None
        extrap, judged = {}, True  # Ridders' estimates at this point, by order
        for (order, layout), (d, fn) in results.items():
            try:
                with np.errstate(all="ignore"):
                    val = fn(**pt)
            except Exception as e:  # noqa: BLE001
                return Outcome("internal", f"evaluating the {d.kind} ({layout}): {type(e).__name__}: {e}", elapsed)
            fs = [int(s.subs(_subs(sizes))) for s in fshape]
            xs = [int(s.subs(_subs(sizes))) for s in x.shape]
            try:
                ana = _to_numerator_jacobian(val, layout, d.kind, fs, xs)
            except ValueError as e:
                return Outcome("wrong", f"{d.kind} ({layout}) has the wrong shape at {sizes}: {e}", elapsed)
            with np.errstate(all="ignore"):
                if order == "d":
                    if J is None:
                        J = _Lazy(lambda h: fd_jacobian(fp.f, pt, x.name, h * scale), FD_STEPS)
                        J.done.update(first or {})  # computed once, for the conditioning test above
                    num = J
                    floor = 1e-6 * (1 + float(np.max(np.abs(fx))))
                else:
                    if H is None:
                        H = _Lazy(lambda h: _hessian_at(fp.f, pt, x.name, h * scale), (1e-4, 1e-3, -1e-3))
                    num = H
                    floor = 1e-4 * (1 + float(np.max(np.abs(fx))))
                first = num.first()
            if ana.shape != first.shape:
                return Outcome("wrong", f"{d.kind} ({layout}) is {ana.shape}, expected {first.shape} at {sizes}",
                               elapsed)
            if not np.all(np.isfinite(ana)):
                if all(np.all(np.isfinite(n)) for n in num):
                    return Outcome("wrong", f"{d.kind} ({layout}) is not finite at {sizes}", elapsed)
                continue
            tol = 1e-4 if order == "d" else 1e-3
            with np.errstate(all="ignore"):
                ok, err = _agree(ana, num, floor, tol)
                if not ok:  # the few steps above may all be off where f turns fast: Ridders' extrapolation decides
                    if order not in extrap:
                        extrap[order] = _extrapolated(fp.f, pt, x.name, scale, order)
                    ok, err, steady = _agree_steady(ana, extrap[order], floor, tol)
                    if not steady:
                        judged = False
                        break
            if not ok:
                return Outcome("wrong", f"{d.kind} ({layout}) = {d} disagrees with finite differences at "
                               f"{sizes} (relative error {err:.1e})", elapsed)
        if not judged:  # no step could judge this point: it is not counted, another is drawn
            unjudged += 1
            tried -= 1
            continue
        if compiled is not None:
            bad = _judge_compiled(compiled, fp, pt, directions)
            if bad is not None:
                return Outcome(bad[0], bad[1], elapsed)
    if tried == 0:
        return Outcome("nopoint", "the judge found no point in the domain" if not unjudged else
                       f"finite differences could judge none of the {unjudged} points drawn (no step was steady)",
                       elapsed)
    if self_check:
        bad = _self_check(case, results[("d", "denominator")][0])
        if bad is not None:
            return Outcome(bad[0], bad[1], elapsed)
    what = [f"{k[0]}-{k[1]}" for k in results] + (["value_and_grad", "hvp"][:len(compiled[1:])] if compiled else [])
    return Outcome("ok", "", elapsed, what)


def _self_check(case: Case, d) -> tuple | None:
    """matcalc's own verify and check on a derivative the judge found right: neither may call it wrong."""
    try:
        report = d.verify(shapes=2, directions=2, explicit=False, raise_on_failure=False)
        if not report.ok:
            return "wrong", f"verify() calls the right result {d} wrong: {report}"
        v = matcalc.check(case.text, wrt=case.wrt, claimed=d.text(), shapes=shapes_of(), assume=case.assume)
        if not v.correct and v.mistake != "unconfirmed":
            return "wrong", f"check() calls the engine's own result {d} wrong: {v.summary}"
    except Exception as e:  # noqa: BLE001
        if not is_clear(e):
            return "internal", f"verify/check of {d}: {type(e).__name__}: {e}"
    return None


# -- value_and_grad and hvp over several variables at once -------------------------------------------

def _compiled_pair(case: Case, fp: FunctionAtPoints, hessians: bool):
    """For a scalar function: (names, value_and_grad over every array variable, hvp over the first two of
    them, or None); None when the function is not scalar or matcalc refuses clearly."""
    if not fp.parsed.expr.is_scalar:
        return None
    names = tuple(v.name for v in fp.variables if "dimension" not in v.assume)
    try:
        vg = matcalc.value_and_grad(case.text, wrt=names, shapes=shapes_of(), assume=case.assume)
    except matcalc.MatcalcError:
        return None
    if not hessians:
        return names, vg
    try:
        return names, vg, matcalc.hvp(case.text, wrt=names[:2], shapes=shapes_of(), assume=case.assume)
    except matcalc.MatcalcError:
        return names, vg


def _judge_compiled(compiled, fp: FunctionAtPoints, pt: dict, rng) -> tuple | None:
    """Each gradient of value_and_grad against finite differences of the function alone in its own
    variable; the joint Hessian-vector product against differences of those gradients."""
    names, vg = compiled[0], compiled[1]
    try:
        with np.errstate(all="ignore"):
            value, *grads = vg(**pt)
    except Exception as e:  # noqa: BLE001
        return "internal", f"evaluating value_and_grad over {names}: {type(e).__name__}: {e}"
    fx = _vec(fp.f(**pt))
    floor = 1e-6 * (1 + float(np.max(np.abs(fx))))
    if not np.allclose(_vec(value), fx, rtol=1e-7, atol=1e-9 * (1 + float(np.max(np.abs(fx))))):
        return "wrong", f"value_and_grad over {names}: value {float(_vec(value)[0])!r} is not f = {float(fx[0])!r}"
    for name, g in zip(names, grads):
        scale = max(1.0, float(np.max(np.abs(_vec(pt[name])))))
        with np.errstate(all="ignore"):
            num = _Lazy(lambda h: fd_jacobian(fp.f, pt, name, h * scale), (1e-5, 1e-6, 1e-4))
            ana = _vec(g).reshape(1, -1)
            if ana.shape != num.first().shape:
                return "wrong", f"value_and_grad over {names}: the gradient in {name} is {np.shape(g)}"
            if not np.all(np.isfinite(ana)) or not np.all(np.isfinite(num.first())):
                continue
            ok, err = _agree(ana, num, floor, 1e-4)
        if not ok:
            return "wrong", f"value_and_grad over {names}: the gradient in {name} disagrees with finite " \
                            f"differences (relative error {err:.1e})"
    if len(compiled) < 3:
        return None
    hv, two = compiled[2], names[:2]
    structured = {v.name: v.assume for v in fp.variables}

    def direction(n, symmetric: bool):
        if not np.ndim(pt[n]):
            return float(rng.normal())
        v = rng.normal(size=np.shape(pt[n]))
        return (v + v.T) / 2 if symmetric and structured[n] & {"symmetric", "spd"} else v

    def along(V, h):
        return {**pt, **{n: np.asarray(pt[n], dtype=float) + h * v for n, v in zip(two, V)}}

    def product(V):
        out = hv(*V, **pt)
        return np.concatenate([_vec(o) for o in (out if len(two) > 1 else [out])])

    scale = max(1.0, *(float(np.max(np.abs(_vec(pt[n])))) for n in two))
    try:
        with np.errstate(all="ignore"):
            # 1. <V, H V> against the second difference of the function alone along any V (the Hessian is
            #    the one with every entry independent, as the product is)
            V = [direction(n, False) for n in two]
            ana = np.array([float(np.concatenate([_vec(v) for v in V]) @ product(V))])

            def second(h):
                h = h * scale
                f0, fp_, fm = (float(_vec(fp.f(**along(V, t)))[0]) for t in (0.0, h, -h))
                return np.array([(fp_ - 2 * f0 + fm) / (h * h)])

            num = _Lazy(lambda h: second(h) if h > 0 else (4 * second(-h / 2) - second(-h)) / 3, (1e-4, 1e-3, -1e-3))
            if np.all(np.isfinite(ana)) and np.all(np.isfinite(num.first())):
                ok, err = _agree(ana, num, 1e-4 * (1 + float(np.max(np.abs(fx)))), 1e-3)
                if not ok:
                    return "wrong", f"hvp over {two}: <V, H V> disagrees with second differences of f " \
                                    f"(relative error {err:.1e})"
            # 2. the whole product against differences of the gradients, along a direction that keeps
            #    the assumptions (the gradients are simplified with them); a one-hot variable is not moved
            if any("onehot" in structured[n] for n in two):
                return None
            V = [direction(n, True) for n in two]

            def gradients(h):
                return np.concatenate([_vec(g) for g in vg(**along(V, h))[1:len(two) + 1]])

            ana = product(V)
            num = _Lazy(lambda h: (gradients(h * scale) - gradients(-h * scale)) / (2 * h * scale), (1e-5, 1e-6, 1e-4))
            if not np.all(np.isfinite(ana)) or not np.all(np.isfinite(num.first())):
                return None
            ok, err = _agree(ana, num, 1e-4 * (1 + float(np.max(np.abs(fx)))), 1e-3)
    except Exception as e:  # noqa: BLE001
        return "internal", f"evaluating hvp over {two}: {type(e).__name__}: {e}"
    if not ok:
        return "wrong", f"hvp over {two} disagrees with differences of the gradients (relative error {err:.1e})"
    return None
