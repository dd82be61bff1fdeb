"""Derivation speed: matcalc against SymPy 1.14 on standard identities (issue 2).

Each identity is written twice: in matcalc's text syntax and as a SymPy
``MatrixSymbol`` expression.  For each we time

* ``matcalc.derive(text, ...)``: parse + derive + simplify;
* ``matcalc.derive(sympy_expr, ...)``: the same from the SymPy input (bridge included);
* SymPy's ``expr.diff(X).doit()``;

interleaved, median of ``--repeats`` runs, with SymPy's cache cleared before
every timed call (both tools build SymPy symbols, so both start cold).

matcalc's answer is first verified against finite differences
(``Derivative.verify``).  SymPy's answer is then judged numerically: dimensions
are substituted with distinct small sizes (non-square), the answer is expanded
with ``.as_explicit()``, random values are substituted, and the result is
compared with matcalc's compiled, verified gradient.  SymPy's answer is one of

    ok           agrees with matcalc's verified result
    wrong        a matrix/scalar that disagrees numerically
    silent-zero  0 where the true derivative is not 0
    array        an array expression (4-d tensor products, ...), no matrix form
    unevaluated  an unevaluated Derivative(...)
    raises       an exception (or the --timeout)

Run:  python benchmarks/bench_derive.py [--repeats 5] [--timeout 20] [--filter tr]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy
from sympy import Determinant, HadamardPower, HadamardProduct, Inverse, OneMatrix, Trace, exp, log, sqrt
from sympy.core.cache import clear_cache
from sympy.matrices.expressions.matexpr import MatrixExpr

import matcalc
from matcalc import expr as E

# --------------------------------------------------------------------------
# The identities: (name, text, wrt, shapes, SymPy builder)
# --------------------------------------------------------------------------
# Shapes use the dimension names n, m, p, q; the SymPy builder receives a
# namespace with one MatrixSymbol (or Symbol) per variable, on the same
# dimension symbols as matcalc, and returns the SymPy expression.


@dataclass
class Case:
    name: str
    text: str
    wrt: str
    shapes: dict
    sympy: Callable  # namespace -> SymPy expression
    assume: dict | None = None
    sizes: dict | None = None  # fixed sizes where a random choice could make a matrix singular


def _sum(s, M):
    """The sum of all entries as a SymPy scalar: tr(1' M 1)."""
    r, c = M.shape
    return Trace(OneMatrix(1, r) * M * OneMatrix(c, 1))


def _ew(M, f):
    return M.applyfunc(f)


SQ = {"X": "n x n"}
CASES = [
    # -- traces (Cookbook 99-121)
    Case("tr(X)", "tr(X)", "X", SQ, lambda s: Trace(s.X)),
    Case("tr(AX)", "tr(A*X)", "X", {"A": "n x m", "X": "m x n"}, lambda s: Trace(s.A * s.X)),
    Case("tr(XA)", "tr(X*A)", "X", {"X": "n x m", "A": "m x n"}, lambda s: Trace(s.X * s.A)),
    Case("tr(AXB)", "tr(A*X*B)", "X", {"A": "n x m", "X": "m x p", "B": "p x n"}, lambda s: Trace(s.A * s.X * s.B)),
    Case("tr(AX'B)", "tr(A*X'*B)", "X", {"A": "n x p", "X": "m x p", "B": "m x n"}, lambda s: Trace(s.A * s.X.T * s.B)),
    Case("tr(X'A)", "tr(X'*A)", "X", {"X": "n x m", "A": "n x m"}, lambda s: Trace(s.X.T * s.A)),
    Case("tr(X'X)", "tr(X'*X)", "X", {"X": "n x m"}, lambda s: Trace(s.X.T * s.X)),
    Case("tr(XX')", "tr(X*X')", "X", {"X": "n x m"}, lambda s: Trace(s.X * s.X.T)),
    Case("tr(X'AX)", "tr(X'*A*X)", "X", {"X": "n x m", "A": "n x n"}, lambda s: Trace(s.X.T * s.A * s.X)),
    Case("tr(XAX')", "tr(X*A*X')", "X", {"X": "n x m", "A": "m x m"}, lambda s: Trace(s.X * s.A * s.X.T)),
    Case("tr(AXBX')", "tr(A*X*B*X')", "X", {"A": "n x n", "X": "n x m", "B": "m x m"},
         lambda s: Trace(s.A * s.X * s.B * s.X.T)),
    Case("tr(X'AXB)", "tr(X'*A*X*B)", "X", {"X": "n x m", "A": "n x n", "B": "m x m"},
         lambda s: Trace(s.X.T * s.A * s.X * s.B)),
    Case("tr(X^2)", "tr(X^2)", "X", SQ, lambda s: Trace(s.X**2)),
    Case("tr(X^3)", "tr(X^3)", "X", SQ, lambda s: Trace(s.X**3)),
    Case("tr(AX^2)", "tr(A*X^2)", "X", {"A": "n x n", "X": "n x n"}, lambda s: Trace(s.A * s.X**2)),
    Case("tr(X^-1)", "tr(inv(X))", "X", SQ, lambda s: Trace(Inverse(s.X))),
    Case("tr(A X^-1 B)", "tr(A*inv(X)*B)", "X", {"A": "m x n", "X": "n x n", "B": "n x m"},
         lambda s: Trace(s.A * Inverse(s.X) * s.B)),
    Case("tr(X^-1 A)", "tr(inv(X)*A)", "X", {"X": "n x n", "A": "n x n"}, lambda s: Trace(Inverse(s.X) * s.A)),
    Case("tr(X'X)^2", "tr(X'*X)^2", "X", {"X": "n x m"}, lambda s: Trace(s.X.T * s.X) ** 2),
    Case("tr(AX)tr(BX)", "tr(A*X)*tr(B*X)", "X", {"A": "m x n", "X": "n x m", "B": "m x n"},
         lambda s: Trace(s.A * s.X) * Trace(s.B * s.X)),
    # -- determinants (Cookbook 41-51)
    Case("det(X)", "det(X)", "X", SQ, lambda s: Determinant(s.X)),
    Case("log det(X)", "logdet(X)", "X", SQ, lambda s: log(Determinant(s.X))),
    Case("det(AXB)", "det(A*X*B)", "X", {"A": "n x m", "X": "m x p", "B": "p x n"},
         lambda s: Determinant(s.A * s.X * s.B), sizes={"n": 2, "m": 3, "p": 4}),
    Case("log det(X'X)", "logdet(X'*X)", "X", {"X": "n x m"}, lambda s: log(Determinant(s.X.T * s.X)),
         sizes={"n": 4, "m": 3}),
    Case("det(X^-1)", "det(inv(X))", "X", SQ, lambda s: Determinant(Inverse(s.X))),
    Case("det(X^2)", "det(X^2)", "X", SQ, lambda s: Determinant(s.X**2)),
    Case("log det(AXA')", "logdet(A*X*A')", "X", {"A": "n x m", "X": "m x m"},
         lambda s: log(Determinant(s.A * s.X * s.A.T)), sizes={"n": 2, "m": 3}),
    Case("det(X)^2", "det(X)^2", "X", SQ, lambda s: Determinant(s.X) ** 2),
    Case("tr(X)det(X)", "tr(X)*det(X)", "X", SQ, lambda s: Trace(s.X) * Determinant(s.X)),
    # -- linear and quadratic forms (Cookbook 69-91)
    Case("a'x", "a'*x", "x", {"a": "n", "x": "n"}, lambda s: s.a.T * s.x),
    Case("x'a", "x'*a", "x", {"a": "n", "x": "n"}, lambda s: s.x.T * s.a),
    Case("x'x", "x'*x", "x", {"x": "n"}, lambda s: s.x.T * s.x),
    Case("x'Ax", "x'*A*x", "x", {"x": "n", "A": "n x n"}, lambda s: s.x.T * s.A * s.x),
    Case("x'Ax wrt A", "x'*A*x", "A", {"x": "n", "A": "n x n"}, lambda s: s.x.T * s.A * s.x),
    Case("a'Xb", "a'*X*b", "X", {"a": "n", "X": "n x m", "b": "m"}, lambda s: s.a.T * s.X * s.b),
    Case("a'X'b", "a'*X'*b", "X", {"a": "m", "X": "n x m", "b": "n"}, lambda s: s.a.T * s.X.T * s.b),
    Case("a'X'Xb", "a'*X'*X*b", "X", {"a": "m", "X": "n x m", "b": "m"}, lambda s: s.a.T * s.X.T * s.X * s.b),
    Case("b'X'DXc", "b'*X'*D*X*c", "X", {"b": "m", "X": "n x m", "D": "n x n", "c": "m"},
         lambda s: s.b.T * s.X.T * s.D * s.X * s.c),
    Case("(Xb+c)'D(Xb+c)", "(X*b + c)'*D*(X*b + c)", "X", {"b": "m", "X": "n x m", "D": "n x n", "c": "n"},
         lambda s: (s.X * s.b + s.c).T * s.D * (s.X * s.b + s.c)),
    Case("a'X^-1 b", "a'*inv(X)*b", "X", {"a": "n", "X": "n x n", "b": "n"}, lambda s: s.a.T * Inverse(s.X) * s.b),
    Case("(Ax-b)'(Ax-b)", "(A*x - b)'*(A*x - b)", "x", {"A": "n x m", "x": "m", "b": "n"},
         lambda s: (s.A * s.x - s.b).T * (s.A * s.x - s.b)),
    Case("(Ax-b)'S(Ax-b)", "(A*x - b)'*S*(A*x - b)", "x", {"A": "n x m", "x": "m", "b": "n", "S": "n x n"},
         lambda s: (s.A * s.x - s.b).T * s.S * (s.A * s.x - s.b)),
    Case("x'Ax + b'x", "x'*A*x + b'*x", "x", {"x": "n", "A": "n x n", "b": "n"},
         lambda s: s.x.T * s.A * s.x + s.b.T * s.x),
    # SymPy cannot add a scalar to a 1x1 matrix, so the scalar form goes through Trace
    Case("x'Ax + b'x + c", "x'*A*x + b'*x + c", "x", {"x": "n", "A": "n x n", "b": "n", "c": "scalar"},
         lambda s: Trace(s.x.T * s.A * s.x) + Trace(s.b.T * s.x) + s.c),
    Case("a'xx'b", "a'*x*x'*b", "x", {"a": "n", "x": "n", "b": "n"}, lambda s: s.a.T * s.x * s.x.T * s.b),
    Case("(x'Ax)^2", "(x'*A*x)^2", "x", {"x": "n", "A": "n x n"}, lambda s: Trace(s.x.T * s.A * s.x) ** 2),
    Case("x'Ax / x'x", "(x'*A*x)/(x'*x)", "x", {"x": "n", "A": "n x n"},
         lambda s: Trace(s.x.T * s.A * s.x) / Trace(s.x.T * s.x)),
    # -- norms (Cookbook 129-131)
    Case("||X||_F^2", "normF(X)^2", "X", {"X": "n x m"}, lambda s: Trace(s.X.T * s.X)),
    Case("||AX-B||_F^2", "normF(A*X - B)^2", "X", {"A": "n x m", "X": "m x p", "B": "n x p"},
         lambda s: Trace((s.A * s.X - s.B).T * (s.A * s.X - s.B))),
    Case("||x||_2", "norm2(x)", "x", {"x": "n"}, lambda s: sqrt(Trace(s.x.T * s.x))),
    Case("||Ax-b||_2", "norm2(A*x - b)", "x", {"A": "n x m", "x": "m", "b": "n"},
         lambda s: sqrt(Trace((s.A * s.x - s.b).T * (s.A * s.x - s.b)))),
    Case("||X||_F", "normF(X)", "X", {"X": "n x m"}, lambda s: sqrt(Trace(s.X.T * s.X))),
    Case("||XX'-A||_F^2", "normF(X*X' - A)^2", "X", {"X": "n x m", "A": "n x n"},
         lambda s: Trace((s.X * s.X.T - s.A).T * (s.X * s.X.T - s.A))),
    Case("ridge", "norm2(A*x - b)^2 + lam*x'*x", "x", {"A": "n x m", "x": "m", "b": "n", "lam": "scalar"},
         lambda s: (s.A * s.x - s.b).T * (s.A * s.x - s.b) + s.lam * s.x.T * s.x),
    # -- entry sums and elementwise functions
    Case("sum(X)", "sum(X)", "X", {"X": "n x m"}, lambda s: _sum(s, s.X)),
    Case("sum(A.*X)", "sum(A.*X)", "X", {"A": "n x m", "X": "n x m"}, lambda s: _sum(s, HadamardProduct(s.A, s.X))),
    Case("sum(X.^2)", "sum(X.^2)", "X", {"X": "n x m"}, lambda s: _sum(s, HadamardPower(s.X, 2))),
    Case("sum(exp(Ax))", "sum(exp(A*x))", "x", {"A": "n x m", "x": "m"}, lambda s: _sum(s, _ew(s.A * s.x, exp))),
    Case("sum(tanh(X))", "sum(tanh(X))", "X", {"X": "n x m"}, lambda s: _sum(s, _ew(s.X, sympy.tanh))),
    Case("sum(sigmoid(Ax))", "sum(sigmoid(A*x))", "x", {"A": "n x m", "x": "m"},
         lambda s: _sum(s, _ew(s.A * s.x, lambda t: 1 / (1 + exp(-t))))),
    Case("b'exp(Ax)", "b'*exp(A*x)", "x", {"A": "n x m", "x": "m", "b": "n"},
         lambda s: s.b.T * _ew(s.A * s.x, exp)),
    Case("logsumexp(x)", "logsumexp(x)", "x", {"x": "n"}, lambda s: log(_sum(s, _ew(s.x, exp)))),
    Case("softmax CE (vector)", "logsumexp(A*x) - y'*A*x", "x", {"A": "n x m", "x": "m", "y": "n"},
         lambda s: log(_sum(s, _ew(s.A * s.x, exp))) - Trace(s.y.T * s.A * s.x)),
    Case("logistic loss", "sum(softplus(A*x)) - y'*A*x", "x", {"A": "n x m", "x": "m", "y": "n"},
         lambda s: _sum(s, _ew(s.A * s.x, lambda t: log(1 + exp(t)))) - Trace(s.y.T * s.A * s.x)),
    # -- vector functions (Jacobians, denominator layout)
    Case("Ax wrt x", "A*x", "x", {"A": "n x m", "x": "m"}, lambda s: s.A * s.x),
    Case("exp(Ax) wrt x", "exp(A*x)", "x", {"A": "n x m", "x": "m"}, lambda s: _ew(s.A * s.x, exp)),
    Case("Xa wrt a", "X*a", "a", {"X": "n x m", "a": "m"}, lambda s: s.X * s.a),
    # -- matrix functions (vec-Jacobians in matcalc; SymPy answers with 4-d arrays)
    Case("AXB wrt X", "A*X*B", "X", {"A": "n x m", "X": "m x p", "B": "p x q"}, lambda s: s.A * s.X * s.B),
    Case("X^2 wrt X", "X^2", "X", SQ, lambda s: s.X**2),
]

SIZES = (2, 3, 4, 5)


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def _timed(fn, timeout: float):
    """(seconds, result); the result is the exception when ``fn`` raises or runs past ``timeout``."""
    clear_cache()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    t0 = time.perf_counter()
    try:
        out = fn()
    except Timeout:
        out = Timeout(f"over {timeout:g} s")
    except Exception as ex:  # noqa: BLE001 - reported, not hidden
        out = ex
    finally:
        dt = time.perf_counter() - t0
        signal.setitimer(signal.ITIMER_REAL, 0)
    return dt, out


def _namespace(d: matcalc.Derivative):
    ns = {}
    for name, v in d.variables.items():
        if v.is_scalar:
            ns[name] = E.dim(name) if "dimension" in v.assume else sympy.Symbol(name)
        else:
            ns[name] = sympy.MatrixSymbol(name, v.rows, v.cols)
    return type("NS", (), ns)


def _sizes(d: matcalc.Derivative, rng, fixed: dict | None = None) -> dict:
    syms = sorted({s for v in d.variables.values() for x in v.shape for s in x.free_symbols}, key=str)
    if fixed:
        return {s: fixed[s.name] for s in syms}
    vals = rng.permutation(SIZES)[: len(syms)]
    return {s: int(k) for s, k in zip(syms, vals)}


def _values(d: matcalc.Derivative, sizes: dict, rng) -> dict:
    out = {}
    for name, v in d.variables.items():
        if "dimension" in v.assume:
            continue
        r, c = (int(x.xreplace(sizes)) for x in v.shape)
        if (r, c) == (1, 1):
            out[name] = float(rng.uniform(0.5, 1.5))
        elif r == c:  # well conditioned, positive determinant, not symmetric
            out[name] = r * np.eye(r) + 0.5 * rng.normal(size=(r, c))
        else:
            out[name] = rng.normal(size=(r, c))
    return out


def _is_array_expression(res) -> bool:
    return type(res).__module__.startswith("sympy.tensor.array") or len(getattr(res, "shape", ())) > 2


def _evaluate_sympy(res, sizes: dict, values: dict) -> np.ndarray:
    res = res.xreplace(sizes)
    sub = {}
    for node in sympy.preorder_traversal(res):
        if isinstance(node, sympy.MatrixSymbol):
            sub[node] = sympy.ImmutableMatrix(values[node.name])
        elif isinstance(node, sympy.Symbol) and node.name in values:
            sub[node] = sympy.Float(values[node.name])
    # numbers first, then evaluate: an explicit symbolic inverse of an 8x8 matrix would not finish
    out = res.xreplace(sub).doit()
    if isinstance(out, MatrixExpr):
        out = out.as_explicit()
    return np.array(sympy.N(out), dtype=float)


def judge(res, d: matcalc.Derivative, rng, fixed: dict | None = None) -> tuple[str, str]:
    """SymPy's answer against matcalc's verified one: (status, detail)."""
    if isinstance(res, Exception):
        return "raises", f"{type(res).__name__}: {str(res)[:60]}"
    if res.has(sympy.Derivative):
        return "unevaluated", str(res)[:60]
    if _is_array_expression(res):
        return "array", type(res).__name__
    sizes = _sizes(d, rng, fixed)
    values = _values(d, sizes, rng)
    want = np.asarray(d.to_numpy()(**values), dtype=float)
    try:
        got = _evaluate_sympy(res, sizes, values)
    except Exception as ex:  # noqa: BLE001 - any failure to evaluate is reported
        return "raises", f"evaluating: {type(ex).__name__}: {str(ex)[:50]}"
    if got.size == want.size and np.allclose(got.reshape(want.shape), want, rtol=1e-7, atol=1e-9):
        return "ok", ""
    if not np.any(got) and np.any(want):
        return "silent-zero", str(res)[:60]
    return "wrong", f"{str(res)[:50]} (shape {got.shape}, want {want.shape})"


# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds before a SymPy call counts as raising")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    rng = np.random.default_rng(2)

    cases = [c for c in CASES if args.filter in c.name]
    rows = []
    print(f"{len(cases)} identities; median of {args.repeats} (interleaved, SymPy cache cleared before each call)")
    print(f"{'identity':<22} {'matcalc':>9} {'mc(sympy)':>10} {'sympy':>9} {'ratio':>7}  {'sympy answer':<12} matcalc result")
    for c in cases:
        d = matcalc.derive(c.text, wrt=c.wrt, shapes=c.shapes, assume=c.assume)
        d.verify()
        ns = _namespace(d)
        sexpr = c.sympy(ns)
        wrt = getattr(ns, c.wrt)
        t_mc, t_mcs, t_sp = [], [], []
        sp_res = None
        for _ in range(args.repeats):
            dt, res = _timed(lambda: matcalc.derive(c.text, wrt=c.wrt, shapes=c.shapes, assume=c.assume), 60)
            if isinstance(res, Exception):
                raise res
            t_mc.append(dt)
            dt, ds = _timed(lambda: matcalc.derive(sexpr, wrt=c.wrt, assume=c.assume), 60)
            t_mcs.append(dt if not isinstance(ds, Exception) else float("nan"))
            if isinstance(ds, Exception):
                mismatch = f"{type(ds).__name__}: {ds}"
            elif ds.result != d.result and not np.allclose(*_both(ds, d, rng, c.sizes)):
                mismatch = f"gives {ds}"
            else:
                mismatch = ""
            dt, sp_res = _timed(lambda: sexpr.diff(wrt).doit(), args.timeout)
            t_sp.append(dt)
            if isinstance(sp_res, Exception):
                break
        if mismatch:
            print(f"  ! matcalc from the SymPy form of {c.name}: {mismatch}")
        status, detail = judge(sp_res, d, rng, c.sizes)
        m_mc, m_mcs, m_sp = statistics.median(t_mc), statistics.median(t_mcs), statistics.median(t_sp)
        rows.append((c, m_mc, m_mcs, m_sp, status, detail, str(d)))
        ratio = m_mc / m_sp if status == "ok" and m_sp > 0 else float("nan")
        print(f"{c.name:<22} {m_mc*1e3:8.2f}ms {m_mcs*1e3:8.2f}ms {m_sp*1e3:8.2f}ms {ratio:7.2f}  "
              f"{status:<12} {str(d)[:40]}" + (f"   [{detail}]" if detail and status != "ok" else ""))

    mc = [r[1] for r in rows]
    ok = [r for r in rows if r[4] == "ok"]
    counts = {s: sum(1 for r in rows if r[4] == s) for s in ("ok", "wrong", "silent-zero", "array", "unevaluated", "raises")}
    print()
    print("summary")
    print(f"  cases: {len(rows)}; SymPy answers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"  median matcalc time (all cases, text input):         {statistics.median(mc)*1e3:8.2f} ms")
    mcs = [r[2] for r in rows if r[2] == r[2]]
    if mcs:
        print(f"  median matcalc time (all cases, SymPy input):        {statistics.median(mcs)*1e3:8.2f} ms")
    if ok:
        med_mc_ok = statistics.median(r[1] for r in ok)
        med_sp_ok = statistics.median(r[3] for r in ok)
        print(f"  on the {len(ok)} cases SymPy gets right: matcalc median {med_mc_ok*1e3:.2f} ms, "
              f"SymPy median {med_sp_ok*1e3:.2f} ms, ratio matcalc/SymPy {med_mc_ok/med_sp_ok:.2f} "
              f"(median of per-case ratios {statistics.median(r[1]/r[3] for r in ok):.2f})")
    worst = max(rows, key=lambda r: r[1])
    print(f"  max matcalc time: {worst[1]*1e3:.2f} ms ({worst[0].name})  [target: no case over 2 s]")
    target = ok and statistics.median(r[1] for r in ok) <= statistics.median(r[3] for r in ok)
    print(f"  target median(matcalc) <= median(SymPy) on SymPy's correct cases: {'met' if target else 'NOT met'}; "
          f"max <= 2 s: {'met' if worst[1] <= 2 else 'NOT met'}")
    return 0


def _both(a: matcalc.Derivative, b: matcalc.Derivative, rng, fixed=None):
    sizes = _sizes(b, rng, fixed)
    vals = _values(b, sizes, rng)
    return np.asarray(a.to_numpy()(**vals), dtype=float), np.asarray(b.to_numpy()(**vals), dtype=float)


if __name__ == "__main__":
    sys.exit(main())
