"""Compile an expression to a readable NumPy function.

One emitter per node type; an unknown node raises.  The generated code keeps
the input dtype (float32 stays float32), reads dimension symbols from the
arrays' shapes, computes repeated subexpressions once, and uses stable forms:
a shifted log-sum-exp and softmax, log-sigmoid and softplus through logaddexp.
"""

from __future__ import annotations

import keyword
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np
import sympy

from .. import expr as E
from ..functions import FUNCTIONS
from .text import PrinterError

PRELUDE = '''\
import numpy as np


def _softmax(z):
    e = z - z.max(axis=0, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=0, keepdims=True)
    return e


def _logsumexp(z):
    m = z.max(axis=0, keepdims=True)
    e = z - m
    np.exp(e, out=e)
    return m + np.log(e.sum(axis=0, keepdims=True))


def _log_softmax(z):
    return z - _logsumexp(z)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0, -z))


def _sum_terms(*terms):
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _commutation(m, n, dtype):
    k = np.zeros((m * n, m * n), dtype=dtype)
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1
    return k
'''


RESERVED = {"np", "dims"}


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


def _add(e: E.Add, c: Callable) -> str:
    """a - b rather than a + (-1.0 * b); a long sum as one call, which Python compiles without deep recursion."""
    if len(e.args) > 32:
        return "_sum_terms(" + ", ".join(c(t) for t in e.args) + ")"
    out = []
    # a ones matrix beside a full-size term is the number 1.0: broadcasting allocates nothing
    full = any(not t.is_scalar and not isinstance(t, E.Ones) for t in e.args)
    for i, t in enumerate(e.args):
        if isinstance(t, E.Ones) and full:
            out.append(("" if i == 0 else " + ") + "1.0")
            continue
        neg = isinstance(t, E.MatMul) and isinstance(t.args[0], E.Const) and t.args[0].value < 0
        if neg:
            pos = E.matmul(E.const(-t.args[0].value), *t.args[1:])
            out.append(("-" if i == 0 else " - ") + c(pos))
        else:
            out.append(("" if i == 0 else " + ") + c(t))
    return "(" + "".join(out) + ")"


def _chain(chain: list, c: Callable) -> str:
    """A matrix chain; a ones matrix times M is a column sum of M (O(kn), not O(k^2 n)), M times ones a row sum."""
    if len(chain) >= 2 and isinstance(chain[0], E.Ones):
        first, rest = chain[0], chain[1:]
        inner = _chain(rest, c) if len(rest) > 1 else c(rest[0])
        s = f"np.sum({inner}, axis=0, keepdims=True)"
        return s if first.rows == 1 else f"np.broadcast_to({s}, ({c.names.dim(first.rows)}, {c.names.dim(rest[-1].cols)}))"
    if len(chain) >= 2 and isinstance(chain[-1], E.Ones):
        last, rest = chain[-1], chain[:-1]
        inner = _chain(rest, c) if len(rest) > 1 else c(rest[0])
        s = f"np.sum({inner}, axis=1, keepdims=True)"
        return s if last.cols == 1 else f"np.broadcast_to({s}, ({c.names.dim(rest[0].rows)}, {c.names.dim(last.cols)}))"
    return " @ ".join(c(f) for f in chain)


def _matmul(e: E.MatMul, c: Callable):
    scal = [f for f in e.args if f.is_scalar]
    chain = [f for f in e.args if not f.is_scalar]
    parts = [c(f) for f in scal]
    if chain:
        ch = _chain(chain, c)
        parts.append(f"({ch})" if len(chain) > 1 and scal else ch)
    return "(" + " * ".join(parts) + ")" if len(parts) > 1 or len(chain) > 1 else parts[0]


def _power(e: E.Power, c):
    b, p = e.args
    if isinstance(p, E.Const) and p.value == Fraction(1, 2):
        return f"np.sqrt({c(b)})"
    if isinstance(p, E.Const) and p.value == -1:
        return f"(1.0 / {c(b)})"
    if isinstance(p, E.Const) and p.value == 2:
        return f"np.square({c(b)})"
    return f"({c(b)} ** {c(p)})"


def _apply(e: E.Apply, c):
    a = e.arg
    if e.fname == "log" and isinstance(a, E.Softmax):
        return f"_log_softmax({c(a.arg)})"
    if e.fname == "log" and isinstance(a, E.Apply) and a.fname == "sigmoid":
        return f"(-np.logaddexp(0, -{c(a.arg)}))"
    return FUNCTIONS[e.fname].numpy.format(c(a))


EMITTERS: dict[type, Callable] = {
    E.Var: lambda e, c: c.names.var(e),
    E.Const: lambda e, c: _num(e.value),
    E.Identity: lambda e, c: f"np.eye({c.names.dim(e.rows)}, dtype=_dt)",
    E.Ones: lambda e, c: f"np.ones(({c.names.dim(e.rows)}, {c.names.dim(e.cols)}), dtype=_dt)",
    E.Zero: lambda e, c: f"np.zeros(({c.names.dim(e.rows)}, {c.names.dim(e.cols)}), dtype=_dt)",
    E.Commutation: lambda e, c: f"_commutation({c.names.dim(e.args[0])}, {c.names.dim(e.args[1])}, _dt)",
    E.Add: lambda e, c: _add(e, c),
    E.MatMul: _matmul,
    E.Hadamard: lambda e, c: "(" + " * ".join(c(f) for f in e.args) + ")",
    E.Kron: lambda e, c: f"np.kron({c(e.args[0])}, {c(e.args[1])})",
    E.Transpose: lambda e, c: f"{c(e.args[0])}.T",
    E.Inverse: lambda e, c: f"np.linalg.inv({c(e.args[0])})",
    E.MatPow: lambda e, c: f"np.linalg.matrix_power({c(e.args[0])}, {c.names.dim(e.args[1])})",
    E.Power: _power,
    E.Apply: _apply,
    E.Det: lambda e, c: f"np.linalg.det({c(e.arg)})",
    E.LogDet: lambda e, c: f"np.linalg.slogdet({c(e.arg)})[1]",
    E.Trace: lambda e, c: f"np.trace({c(e.arg)})",
    E.Sum: lambda e, c: f"np.sum({c(e.arg)})",
    E.Norm1: lambda e, c: f"np.sum(np.abs({c(e.arg)}))",
    E.Norm2: lambda e, c: f"np.sqrt(np.sum(np.square({c(e.arg)})))",
    E.Diag: lambda e, c: f"np.diagflat({c(e.arg)})",
    E.DiagOf: lambda e, c: f"np.diagonal({c(e.arg)}).reshape(-1, 1)",
    E.Vec: lambda e, c: f"{c(e.arg)}.reshape(-1, 1, order='F')",
    E.Unvec: lambda e, c: f"{c(e.arg)}.reshape(({c.names.dim(e.rows)}, {c.names.dim(e.cols)}), order='F')",
    E.Softmax: lambda e, c: f"_softmax({c(e.arg)})",
    E.LogSumExp: lambda e, c: f"_logsumexp({c(e.arg)})",
}

_CHEAP = (E.Var, E.Const)


@dataclass
class Compiled:
    """A compiled expression: call it with arrays by variable name."""

    source: str
    fn: Callable
    names: tuple
    shape: tuple
    free_dims: tuple = ()  # dimensions no input array carries: pass them by name, e.g. p=3

    renamed: dict = field(default_factory=dict)  # variable name -> its name in the code, where they differ

    def __call__(self, *args, **kwargs):
        if self.renamed:
            kwargs = {self.renamed.get(k, k): v for k, v in kwargs.items()}
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"<compiled matcalc function ({', '.join(self.names)})>"


def compile_expr(e: E.Expr, variables: list, fname: str = "f", out_shape=None) -> Compiled:
    """Compile ``e`` to ``fname(**arrays)``; ``variables`` are the Var nodes it takes."""
    out_shape = out_shape or e.shape
    arrays = [v for v in variables if "dimension" not in v.assume]
    dims_needed = sorted({s for v in arrays for d in v.shape for s in d.free_symbols}
                         | {s for n in E.walk(e) for d in n.shape for s in d.free_symbols}
                         | {sympy.Symbol(v.name, integer=True, positive=True) for v in variables if "dimension" in v.assume}
                         | {sympy.Symbol(n.name, integer=True, positive=True) for n in E.walk(e)
                            if isinstance(n, E.Var) and "dimension" in n.assume}
                         | {s for n in E.walk(e) if isinstance(n, E.MatPow) and not isinstance(n.args[1], int)
                            for s in n.args[1].free_symbols},
                         key=str)
    names = Names(arrays, dims_needed)
    counts: Counter = Counter(E.walk(e))
    temps: dict = {}
    lines: list = []

    def c(node: E.Expr) -> str:
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
    body = c(e)
    head = [f"def {fname}({', '.join([names.vars[v.name] for v in arrays] + ['**dims'])}):"]
    mats = [names.vars[v.name] for v in arrays if not v.is_scalar]
    if mats:  # integer inputs (one-hot labels) take the floating dtype of the others: float32 stays float32
        head.append(f"    _ft = _float_type({', '.join(mats)})")
    for v in arrays:
        n = names.vars[v.name]
        if v.is_scalar:
            head.append(f"    {n} = _scalar({n})")
        else:
            head.append(f"    {n} = _array({n}, {v.name!r}, {v.rows == 1}, {v.cols == 1}, _ft)")
    arr_names = [names.vars[v.name] for v in arrays if not v.is_scalar]
    dt_line = f"    _dt = np.result_type({', '.join(arr_names) or 'np.float64'}, np.float32)"
    dt_index = len(head)
    free = []
    for s in dims_needed:
        where = next(((v, i) for v in arrays for i, d in enumerate(v.shape) if d == s), None)
        if where is None:
            # a dimension no input carries (the size of a free vector(1)): pass it by name
            free.append(str(s))
            head.append(f"    {names.dims[s]} = _dim(dims, {str(s)!r})")
        else:
            head.append(f"    {names.dims[s]} = {names.vars[where[0].name]}.shape[{where[1]}]")
    checks = [f"    _check_shape({names.vars[v.name]}, {v.name!r}, ({names.dim(v.rows)}, {names.dim(v.cols)}))"
              for v in arrays if not v.is_scalar]
    if out_shape == (1, 1):
        ret = "    return _as_scalar(_r)"
    else:
        ret = f"    return _as_shape(_r, ({names.dim(out_shape[0])}, {names.dim(out_shape[1])}))"
    if any("_dt" in line for line in lines + [body]):  # the dtype of constant arrays (eye, ones) follows the inputs
        head.insert(dt_index, dt_line)
    src = "\n".join(head + checks + lines + [f"    _r = {body}", ret]) + "\n"
    namespace: dict = {}
    try:
        code = compile(PRELUDE + HELPERS + "\n\n" + src, f"<matcalc {fname}>", "exec")
    except (RecursionError, MemoryError):
        raise PrinterError("the expression is too large to compile to NumPy") from None
    exec(code, namespace)  # generated code, never user text: names pass through Names, strings through repr
    return Compiled(source=PRELUDE + "\n\n" + src, fn=namespace[fname], names=tuple(v.name for v in arrays),
                    shape=out_shape, free_dims=tuple(free),
                    renamed={v.name: names.vars[v.name] for v in arrays if names.vars[v.name] != v.name})


HELPERS = '''

class InputShapeError(ValueError):
    pass


def _dim(dims, name):
    if name not in dims:
        raise InputShapeError(f"the size {name} is not carried by any input array; pass it as {name}=...")
    return int(dims[name])


def _scalar(a):
    if isinstance(a, np.ndarray):
        if a.size != 1:
            raise InputShapeError(f"expected a scalar, got an array of shape {a.shape}")
        return a.reshape(())[()]
    if type(a) in (int, float):  # a NumPy float: (-8.0)**0.5 is nan, not a Python complex
        return np.float64(a)
    return a


def _float_type(*arrays):
    kinds = [a.dtype for a in arrays if getattr(a, "dtype", None) is not None and a.dtype.kind == "f"]
    return np.result_type(*kinds) if kinds else np.float64


def _array(a, name, row, col, ft):
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(ft)
    if a.ndim == 1:
        a = a.reshape(1, -1) if row and not col else a.reshape(-1, 1)
    elif a.ndim != 2:
        raise InputShapeError(f"{name}: expected a matrix or vector, got {a.ndim} dimensions")
    return a


def _check_shape(a, name, expected):
    if a.shape != expected:
        raise InputShapeError(f"{name}: expected shape {expected} from the other arrays, got {a.shape}")


def _as_scalar(r):
    return np.asarray(r).reshape(())[()]


def _as_shape(r, shape):
    if type(r) is not np.ndarray or r.shape != shape:
        r = np.array(np.broadcast_to(r, shape))
    return r
'''
