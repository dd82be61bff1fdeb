"""Compile expressions to readable, standalone array code (NumPy, or any Array API library).

One emitter per node type; an unknown node raises.  The generated code

* gets the array namespace once (``xp = _namespace(...)``: NumPy itself for NumPy input, any other
  library through array-api-compat) and writes every operation against ``xp``, so it keeps the
  input's library, device and dtype (float32 stays float32; Dask stays lazy and chunked);
* reads dimension symbols from the arrays' shapes and computes repeated subexpressions once, also
  across several outputs compiled together (a value and its gradient);
* applies structure instead of building it (``chains.py``: diag as a broadcast, kron as
  reshape-and-multiply, the commutation matrix as a transpose, ``X diag(v) X'`` once and symmetric)
  and multiplies chains in the cheapest order;
* uses stable forms: a shifted log-sum-exp and softmax, sigmoid, log-sigmoid and softplus through exp(-|z|);
* is standalone: ``.source`` holds exactly the helpers it calls and needs only NumPy.

>>> from matcalc import expr as E
>>> X, v = E.var("X", "p", "n"), E.var("v", "n")
>>> f = compile_expr(E.matmul(X, E.diag(v), E.transpose(X)), [X, v])
>>> "_xdxt(xp, X, v)" in f.source and "diagflat" not in f.source
True
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import sympy

from .. import expr as E
from ..errors import MatcalcError
from ..functions import FUNCTIONS
from .chains import Sizes, emit_chain, lower, structure
from .runtime import HEADER, helpers_for
from .text import PrinterError

RESERVED = {"np", "xp", "dims"}


def _safe(name: str) -> str:
    """A Python identifier close to ``name``: never starting with "_" (the generated code's own names do)."""
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in unicodedata.normalize("NFKC", name))
    safe = "".join(ch if ch.isascii() else "_" for ch in safe)
    if not safe or not safe[0].isalpha():
        safe = "v" + safe
    if keyword.iskeyword(safe) or safe in RESERVED:
        safe = safe + "_"
    return safe


class Names:
    """One collision-free table of Python names for a compiled function: variables keep names close to
    their own (``lambda`` -> ``lambda_``), sizes are ``_d0_n``, ``_d1_m``, ... and temporaries ``_t0``, ..."""

    def __init__(self, variables, dims):
        self.vars: dict = {}
        used = set(RESERVED)
        for v in variables:
            base = _safe(v.name)
            while base in used:
                base += "_"
            used.add(base)
            self.vars[v.name] = base
        self.dims = {s: f"_d{i}_{_safe(str(s))}" for i, s in enumerate(dims)}

    def var(self, v: E.Var) -> str:
        if "dimension" in v.assume:
            return self.dims[sympy.Symbol(v.name, integer=True, positive=True)]
        return self.vars[v.name]

    def dim(self, d) -> str:
        if isinstance(d, sympy.Integer):
            return str(int(d))
        if isinstance(d, sympy.Symbol):
            return self.dims[d]
        if isinstance(d, sympy.Mul):
            return "(" + "*".join(self.dim(a) for a in d.args) + ")"
        if isinstance(d, sympy.Pow) and d.exp.is_Integer and d.exp > 0:
            return "(" + "*".join([self.dim(d.base)] * int(d.exp)) + ")"
        if isinstance(d, int):
            return str(d)
        if isinstance(d, sympy.Add):  # an exponent such as k - 1
            return "(" + " + ".join(self.dim(a) for a in d.args) + ")"
        raise PrinterError(f"cannot compile the dimension {d}")


def _num(v) -> str:
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return f"{float(v.numerator)!r}"
        return f"({float(v.numerator)!r} / {float(v.denominator)!r})"
    return repr(float(v))


def fresh(node: E.Expr, c: Callable) -> bool:
    """Is the code of ``node`` a new array that nothing else refers to (so NumPy may overwrite it)?

    A softmax, log-sum-exp, elementwise function, sum (``a + b``, or a fresh ``a`` that took ``b`` in
    place) or Hadamard product computed once, or a product of dense factors only (a structured one may
    hand back an operand unchanged)."""
    if c.counts[node] > 1 or node.is_scalar:
        return False
    if isinstance(node, (E.Softmax, E.LogSumExp, E.Apply, E.Add)):
        return True
    if isinstance(node, E.Hadamard):
        return len(node.args) > 1
    if isinstance(node, E.MatMul):
        chain = [f for f in node.args if not f.is_scalar]
        return len(chain) > 1 and all(structure(f) is None for f in chain)
    return False


def _scaled_ones(t: E.Expr):
    """The scalar ``s`` of a term ``s*ones(m, n)`` (``None`` for any other term): beside a full-size term
    it broadcasts as the number ``s``."""
    if isinstance(t, E.MatMul):
        rest = [f for f in t.args if not f.is_scalar]
        if len(rest) == 1 and isinstance(rest[0], E.Ones):
            return E.matmul(*[f for f in t.args if f.is_scalar])
    return None


def _add(e: E.Add, c: Callable) -> str:
    """a - b rather than a + (-1.0 * b); a long sum as one call, which Python compiles without deep recursion;
    a fresh full-size first term of two takes the other in place (one array less, as by hand)."""
    if len(e.args) > 32:
        return "_sum_terms(" + ", ".join(c(t) for t in e.args) + ")"
    a, b = e.args[0], e.args[-1]
    if len(e.args) == 2 and a.shape == e.shape and _scaled_ones(b) is not None and fresh(a, c):
        return f"_iadd(xp, {c(a)}, {c(_scaled_ones(b))})"  # b*ones(n, 1) beside a full term is the number b
    if len(e.args) == 2 and a.shape == e.shape and not isinstance(b, E.Ones) and fresh(a, c):
        neg = isinstance(b, E.MatMul) and isinstance(b.args[0], E.Const) and b.args[0].value < 0
        if neg:
            return f"_isub(xp, {c(a)}, {c(E.matmul(E.const(-b.args[0].value), *b.args[1:]))})"
        return f"_iadd(xp, {c(a)}, {c(b)})"
    out = []
    # a ones matrix (or s*ones) beside a full-size term is the number 1.0 (or s): broadcasting allocates
    # nothing; without a full-size term (s*ones + t*ones) the ones stay, or the sum would be a number
    full = any(not t.is_scalar and not isinstance(t, E.Ones) and _scaled_ones(t) is None for t in e.args)
    for i, t in enumerate(e.args):
        if isinstance(t, E.Ones) and full:
            out.append(("" if i == 0 else " + ") + "1.0")
            continue
        if _scaled_ones(t) is not None and full:
            t = _scaled_ones(t)
        neg = isinstance(t, E.MatMul) and isinstance(t.args[0], E.Const) and t.args[0].value < 0
        if neg:
            pos = E.matmul(E.const(-t.args[0].value), *t.args[1:])
            out.append(("-" if i == 0 else " - ") + c(pos))
        else:
            out.append(("" if i == 0 else " + ") + c(t))
    return "(" + "".join(out) + ")"


def _matmul(e: E.MatMul, c: Callable):
    """Scalar factors times the chain of the others (planned in ``chains.py``); every operand code is atomic."""
    parts = [c(f) for f in e.args if f.is_scalar]
    chain = [f for f in e.args if not f.is_scalar]
    if chain:
        parts.append(emit_chain(chain, c) if len(chain) > 1 else c(chain[0]))
    return parts[0] if len(parts) == 1 else "(" + " * ".join(parts) + ")"


def _power(e: E.Power, c):
    b, p = e.args
    if isinstance(p, E.Const) and p.value == Fraction(1, 2):
        return f"xp.sqrt({_operand(b, c)})"
    if isinstance(p, E.Const) and p.value == -1:
        return f"(1.0 / {c(b)})"
    if isinstance(p, E.Const) and p.value == 2:
        return f"xp.square({_operand(b, c)})"
    if e.is_scalar:  # Python numbers give a complex number for (-2.0) ** 0.5; arrays give nan, as must this
        return f"_rpow({c(b)}, {c(p)})"
    return f"({c(b)} ** {c(p)})"


# the catalogue's NumPy spellings, written against the namespace xp; those outside the Array API
# standard get a helper here
XP_OVERRIDES = {"step": "_step(xp, {0})", "arcsin": "xp.asin({0})", "arccos": "xp.acos({0})", "arctan": "xp.atan({0})"}


def xp_spelling(fname: str) -> str:
    """The catalogue's NumPy spelling of ``fname`` written against ``xp``; raises when it has no Array API form."""
    if fname in XP_OVERRIDES:
        return XP_OVERRIDES[fname]
    s = re.sub(r"\bnp\.", "xp.", FUNCTIONS[fname].numpy)
    s = re.sub(r"\b(_\w+)\(", r"\1(xp, ", s)
    if not s.startswith(("xp.", "_")) or "np." in s:
        raise PrinterError(f"no Array API spelling for the function {fname}")
    return s


def _operand(e: E.Expr, c) -> str:
    """The code of a function's operand; a scalar without array variables (0.5, a size n) may be a Python
    number, which the functions of array libraries other than NumPy refuse: it is lifted to a 0-d array."""
    code = c(e)
    if e.is_scalar and all(not isinstance(n, E.Var) or "dimension" in n.assume for n in E.walk(e)):
        return f"_lift(xp, {code}, _ft, _dev)"
    return code


def _apply(e: E.Apply, c):
    a = e.arg
    if e.fname == "log" and isinstance(a, E.Softmax):
        return f"_log_softmax(xp, {c(a.arg)}{', True' if c.counts[a] <= 1 and fresh(a.arg, c) else ''})"
    if e.fname == "log" and isinstance(a, E.Apply) and a.fname == "sigmoid":
        return f"_log_sigmoid(xp, {_operand(a.arg, c)})"
    return xp_spelling(e.fname).format(_operand(a, c))


def _sizes(e, c):
    return ", ".join(c.names.dim(d) for d in e.shape)


EMITTERS: dict[type, Callable] = {
    E.Var: lambda e, c: c.names.var(e),
    E.Const: lambda e, c: _num(e.value),
    E.Identity: lambda e, c: f"_eye(xp, {c.names.dim(e.rows)}, _ft, _dev)",
    E.Ones: lambda e, c: f"_ones(xp, {_sizes(e, c)}, _ft, _dev)",
    E.Zero: lambda e, c: f"_zeros(xp, {_sizes(e, c)}, _ft, _dev)",
    E.Commutation: lambda e, c: f"_commutation(xp, {c.names.dim(e.args[0])}, {c.names.dim(e.args[1])}, _ft, _dev)",
    E.Add: _add,
    E.MatMul: _matmul,
    E.Hadamard: lambda e, c: "(" + " * ".join(c(f) for f in e.args) + ")",
    E.Kron: lambda e, c: f"_kron(xp, {c(e.args[0])}, {c(e.args[1])})",
    E.Transpose: lambda e, c: f"{c(e.args[0])}.T",
    E.Inverse: lambda e, c: f"xp.linalg.inv({c(e.args[0])})",
    E.MatPow: lambda e, c: f"xp.linalg.matrix_power({c(e.args[0])}, {c.names.dim(e.args[1])})",
    E.Power: _power,
    E.Apply: _apply,
    E.Det: lambda e, c: f"xp.linalg.det({c(e.arg)})",
    E.LogDet: lambda e, c: f"xp.linalg.slogdet({c(e.arg)})[1]",
    E.Trace: lambda e, c: f"_trace(xp, {c(e.arg)})",
    E.Sum: lambda e, c: f"xp.sum({c(e.arg)})",
    E.Norm1: lambda e, c: f"xp.sum(xp.abs({c(e.arg)}))",
    E.Norm2: lambda e, c: f"xp.sqrt(xp.sum(xp.square({c(e.arg)})))",
    E.Diag: lambda e, c: f"_diagflat(xp, {c(e.arg)})",
    E.DiagOf: lambda e, c: f"_diag_of(xp, {c(e.arg)})",
    E.Vec: lambda e, c: f"_vec(xp, {c(e.arg)})",
    E.Unvec: lambda e, c: f"_unvec(xp, {c(e.args[0])}, {c.names.dim(e.rows)}, {c.names.dim(e.cols)})",
    E.Softmax: lambda e, c: f"_softmax(xp, {c(e.arg)}{', True' if fresh(e.arg, c) else ''})",
    E.LogSumExp: lambda e, c: f"_logsumexp(xp, {c(e.arg)})",
}

_CHEAP = (E.Var, E.Const)


class InputError(MatcalcError):
    """Arrays that do not fit a compiled function: a wrong shape, a missing name, mixed libraries."""


@dataclass
class Compiled:
    """A compiled expression: call it with arrays by variable name.

    ``.source`` is standalone Python (only NumPy needed), ``.names`` the variables it takes by name,
    ``.verify()`` checks it against finite differences when it came from a derivative.
    """

    source: str
    fn: Callable
    names: tuple
    shape: tuple
    free_dims: tuple = ()  # dimensions no input array carries: pass them by name, e.g. p=3
    renamed: dict = field(default_factory=dict)  # variable name -> its name in the code, where they differ
    shapes: tuple = ()  # the shape of every output, when there are several
    checker: Callable | None = field(default=None, repr=False)  # what .verify() runs
    input_error: type = field(default=ValueError, repr=False)  # the generated code's own error for bad arrays
    prepared: tuple | None = field(default=None, repr=False)  # (prepare, apply, state names, one state): see at()

    def __call__(self, *args, **kwargs):
        return self._run(self.fn, *args, **kwargs)

    def _run(self, fn, *args, **kwargs):
        if self.renamed:
            kwargs = {self.renamed.get(k, k): v for k, v in kwargs.items()}
        try:
            return fn(*args, **kwargs)
        except self.input_error as e:
            raise InputError(str(e)) from None
        except TypeError as e:  # a missing or unexpected argument name
            if str(e).startswith(f"{fn.__name__}()"):
                raise InputError(str(e).replace(f"{fn.__name__}() ", f"the compiled function ({', '.join(self.names)}) ")) from None
            raise

    def at(self, **arrays) -> Callable:
        """The function of the positional arguments (a Hessian-vector product's directions) alone, at the
        point ``arrays``: the work that does not depend on them is done once, here.

        >>> import matcalc, numpy as np
        >>> hv = matcalc.hvp("sum(softplus(X'*w))", wrt="w").at(X=np.eye(2), w=np.zeros(2))
        >>> hv(np.array([1.0, 0.0])).ravel().tolist()         # sigmoid'(0) = 1/4
        [0.25, 0.0]
        """
        if self.prepared is None:
            return lambda *args: self(*args, **arrays)
        prepare, apply, state_names, one = self.prepared
        state = self._run(prepare, **arrays)
        kept = dict(zip(state_names, (state,) if one else state))  # code names: no variable is renamed to one
        return lambda *args: self._run(apply, *args, **arrays, **kept)  # _run renames the variables, once

    def verify(self, **kwargs):
        """Check the compiled function against central finite differences in float64, at random
        non-square shapes; returns a report, raises :class:`matcalc.VerificationError` when wrong."""
        if self.checker is None:
            raise MatcalcError("this compiled function has no derivative to check it against")
        return self.checker(**kwargs)

    def __repr__(self):
        return f"<compiled matcalc function ({', '.join(self.names)})>"


def _dims_needed(outputs, variables) -> list:
    syms = {s for v in variables if "dimension" not in v.assume for d in v.shape for s in d.free_symbols}
    syms |= {s for e in outputs for n in E.walk(e) for d in n.shape for s in d.free_symbols}
    syms |= {sympy.Symbol(v.name, integer=True, positive=True) for v in variables if "dimension" in v.assume}
    syms |= {sympy.Symbol(n.name, integer=True, positive=True) for e in outputs for n in E.walk(e)
             if isinstance(n, E.Var) and "dimension" in n.assume}
    syms |= {s for e in outputs for n in E.walk(e) if isinstance(n, E.MatPow) and not isinstance(n.args[1], int)
             for s in n.args[1].free_symbols}
    return sorted(syms, key=str)


def uses(outputs: list) -> Counter:
    """How many times each node is used: once per distinct parent that refers to it (twice for
    ``a.*a``), once per output it is.  A node used once is emitted inside its only user, which may
    overwrite it (:func:`fresh`); a node used more is computed once, into a temporary.

    >>> from matcalc import expr as E
    >>> x = E.var("x", "n")
    >>> shared = E.hadamard(E.apply("exp", x), E.apply("sin", x))
    >>> u = uses([E.sum_(shared), E.matmul(E.transpose(shared), x)])
    >>> u[shared], u[E.apply("exp", x)]               # the product is shared; exp(x) has one user
    (2, 1)
    """
    counts: Counter = Counter()
    seen: set = set()
    for e in outputs:
        counts[e] += 1
        stack = [e]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            for k in n.children:
                counts[k] += 1
                stack.append(k)
    return counts


def share_log_softmax(outputs: list) -> list:
    """Where both softmax(Z) and log(softmax(Z)) are computed (a cross-entropy's value and gradient), write
    softmax(Z) as exp(log(softmax(Z))): one shifted log-sum-exp of Z instead of two, and one exp.

    >>> from matcalc import expr as E
    >>> from matcalc.emit.text import to_text
    >>> Z = E.var("Z", "k", "n")
    >>> [to_text(e) for e in share_log_softmax([E.sum_(E.apply("log", E.Softmax(Z))), E.Softmax(Z)])]
    ['sum(log(softmax(Z)))', 'exp(log(softmax(Z)))']
    """
    logs = {n for e in outputs for n in E.walk(e)
            if isinstance(n, E.Apply) and n.fname == "log" and isinstance(n.arg, E.Softmax)}
    if not logs:
        return outputs
    by_softmax = {n.arg: n for n in logs}
    memo: dict = {}

    def go(e):
        if e in memo:
            return memo[e]
        if e in logs:
            out = e  # log(softmax(Z)) itself stays: it is emitted as the shifted log-softmax
        elif e in by_softmax:
            out = E.Apply("exp", by_softmax[e])
        else:
            kids = e.children
            new = [go(k) for k in kids]
            out = e.rebuild(new) if any(a is not b for a, b in zip(new, kids)) else e
        memo[e] = out
        return out

    return [go(e) for e in outputs]


@dataclass
class FunctionSource:
    """The code of one generated function (no header, no helpers) and what its caller needs to know."""

    src: str
    fname: str
    taken: list  # the Var nodes taken by name, in order
    npos: int  # how many positional (direction) arguments come first
    names: "Names"
    free: list  # dimensions no input carries: passed by name
    outputs: list


def function_source(outputs: list, variables: list, fname: str = "f", positional: tuple = ()) -> FunctionSource:
    """The source of ``fname``, which returns every expression of ``outputs`` (lowered, sharing their
    common subexpressions); ``variables`` are taken by name, ``positional`` first, by position only."""
    arrays = [v for v in list(positional) + list(variables) if "dimension" not in v.assume]
    memo: dict = {}
    outputs = share_log_softmax([lower(e, memo) for e in outputs])
    names = Names(arrays, _dims_needed(outputs, list(positional) + list(variables)))
    counts = uses(outputs)
    temps: dict = {}
    lines: list = []
    asked: Counter = Counter()

    def c(node: E.Expr) -> str:
        asked[node] += 1
        if node in temps:
            return temps[node]
        try:
            em = EMITTERS[type(node)]
        except KeyError:
            raise PrinterError(f"no NumPy emitter for {type(node).__name__}") from None
        code = em(node, c)
        if counts[node] > 1 and not isinstance(node, _CHEAP):
            name = f"_t{len(temps)}"
            lines.append(f"    {name} = {code}")
            temps[node] = name
            return name
        return code

    c.names = names
    c.sizes = Sizes()
    c.counts = counts
    # a dry run first: an emitter that looks through a node (log(sigmoid(z)) reads z, a product with diag(v)
    # reads v) asks for a child more often than its parents are counted; one asked for twice is a temporary
    # too (computed once, never overwritten).  More temporaries only ask for their children less often.
    for e in outputs:
        c(e)
    for node, k in asked.items():
        counts[node] = max(counts[node], k)
    temps.clear()
    lines.clear()
    bodies = [c(e) for e in outputs]
    arg_names = [names.vars[v.name] for v in arrays]
    npos = len([v for v in positional if "dimension" not in v.assume])
    sig = arg_names[:npos] + (["/"] if npos else []) + arg_names[npos:] + ["**dims"]
    head = [f"def {fname}({', '.join(sig)}):", f"    xp = _namespace({', '.join(arg_names)})",
            f"    _ft = _float_type(xp, {', '.join(arg_names)})"]
    for v in arrays:
        n = names.vars[v.name]
        if v.is_scalar:
            head.append(f"    {n} = _scalar(xp, {n})")
        else:
            head.append(f"    {n} = _array(xp, {n}, {v.name!r}, {v.rows == 1}, {v.cols == 1}, _ft)")
    free = []
    for s in names.dims:
        where = next(((v, i) for v in arrays for i, d in enumerate(v.shape) if d == s), None)
        if where is None:  # a dimension no input carries (the size of a free vector(1)): pass it by name
            free.append(str(s))
            head.append(f"    {names.dims[s]} = _dim(dims, {str(s)!r})")
        else:
            head.append(f"    {names.dims[s]} = {names.vars[where[0].name]}.shape[{where[1]}]")
    mats = [v for v in arrays if not v.is_scalar]
    if any("_dev" in line for line in lines + bodies) and mats:
        head.append(f"    _dev = _device(xp, {names.vars[mats[0].name]})")
    elif any("_dev" in line for line in lines + bodies):
        head.append("    _dev = None")
    checks = [f"    _check_shape({names.vars[v.name]}, {v.name!r}, ({names.dim(v.rows)}, {names.dim(v.cols)}))"
              for v in mats]
    rets = []
    for i, (e, body) in enumerate(zip(outputs, bodies)):
        lines.append(f"    _r{i} = {body}")
        if e.shape == (1, 1):
            rets.append(f"_as_scalar(xp, _r{i}, _ft)")
        else:
            rets.append(f"_as_shape(xp, _r{i}, ({names.dim(e.rows)}, {names.dim(e.cols)}), _ft)")
    mats_out = [i for i, e in enumerate(outputs) if e.shape != (1, 1)]
    if mats_out and mats:  # a result may be an input itself, a view of one, or of another result
        views = tuple(i for i in mats_out if isinstance(outputs[i], (E.Var, E.Transpose, E.Vec, E.Unvec)))
        inputs = ", ".join(names.vars[v.name] for v in mats) + ","
        ret = f"_own(xp, ({', '.join(rets)},), ({inputs}), {views!r})"
    else:
        ret = ", ".join(rets)
    src = "\n".join(head + checks + lines + ["    return " + ret]) + "\n"
    return FunctionSource(src, fname, arrays[npos:], npos, names, free, outputs)


def assemble(functions: list, main: FunctionSource, extra: str = "") -> Compiled:
    """One standalone module holding ``functions`` (and ``extra`` code), with the helpers they call;
    the :class:`Compiled` calls ``main`` (the last function defined, when ``extra`` defines it)."""
    body = "\n\n".join(f.src for f in functions) + (("\n\n" + extra) if extra else "")
    source = HEADER + "\n\n" + helpers_for(body) + "\n\n" + body
    namespace: dict = {}
    try:
        code = compile(source, f"<matcalc {main.fname}>", "exec")
    except (RecursionError, MemoryError):
        raise PrinterError("the expression is too large to compile to NumPy") from None
    exec(code, namespace)  # generated code, never user text: names pass through Names, strings through repr
    taken, names, outputs = main.taken, main.names, main.outputs
    return Compiled(source=source, fn=namespace[main.fname], names=tuple(v.name for v in taken),
                    shape=outputs[0].shape if len(outputs) == 1 else tuple(e.shape for e in outputs),
                    free_dims=tuple(main.free),
                    renamed={v.name: names.vars[v.name] for v in taken if names.vars[v.name] != v.name},
                    shapes=tuple(e.shape for e in outputs), input_error=namespace.get("InputShapeError", ValueError))


def compile_exprs(outputs: list, variables: list, fname: str = "f", positional: tuple = ()) -> Compiled:
    """Compile several expressions into one function that returns them all, sharing their common
    subexpressions.  ``variables`` are the Var nodes taken by name, ``positional`` those taken first,
    by position only (a Hessian-vector product's direction).

    >>> from matcalc import expr as E
    >>> import numpy as np
    >>> x = E.var("x", "n")
    >>> f = compile_exprs([E.matmul(E.transpose(x), x), E.matmul(E.const(2), x)], [x])
    >>> value, grad = f(x=np.array([1.0, 2.0]))
    >>> float(value), grad.ravel().tolist()
    (5.0, [2.0, 4.0])
    """
    fs = function_source(outputs, variables, fname, positional)
    return assemble([fs], fs)


def compile_expr(e: E.Expr, variables: list, fname: str = "f", out_shape=None) -> Compiled:
    """Compile ``e`` to ``fname(**arrays)``; ``variables`` are the Var nodes it takes.

    >>> from matcalc import expr as E
    >>> import numpy as np
    >>> A, x = E.var("A", "n", "n"), E.var("x", "n")
    >>> f = compile_expr(E.matmul(E.transpose(x), A, x), [A, x])
    >>> float(f(A=np.eye(3), x=np.ones(3)))
    3.0
    """
    if out_shape is not None and out_shape != e.shape:
        raise PrinterError(f"cannot compile a {E.fmt_shape(e.shape)} expression to shape {E.fmt_shape(out_shape)}")
    return compile_exprs([e], variables, fname)
