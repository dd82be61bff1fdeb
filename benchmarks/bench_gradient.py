"""Compiled gradient speed: batch softmax cross-entropy (issue 2).

The gradient of ``-(1/n)*sum(Y.*log(softmax(W*X)))`` with respect to W
(W: k x p, X: p x n, Y: k x n one-hot), compiled by matcalc, against

* a hand-written NumPy gradient (stable softmax, in place):
  ``Z = W@X; Z -= Z.max(0); P = exp(Z); P /= P.sum(0); (P - Y)@X.T/n``;
* the two matrix products alone (``W@X`` and ``(.)@X.T``), the floor for any
  implementation.

float64 and float32, median of ``--repeats`` interleaved runs.  Prints times,
the ratio matcalc / hand-written (target <= 1.1), whether the output dtype
follows the input (float32 in, float32 out) and whether the values agree.

Run:  python benchmarks/bench_gradient.py [--quick] [--repeats 15] [--threads 1] [--show-source]

On a loaded machine, multi-threaded BLAS can be many times slower than one
thread (threads wait for cores); ``--threads`` limits BLAS threads for all
three methods alike (through threadpoolctl when it is installed).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import matcalc

FORMULA = "-(1/n)*sum(Y.*log(softmax(W*X)))"
SHAPES = {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}
SIZES = [(10, 784, 10000), (100, 1000, 10000)]
QUICK_SIZES = [(10, 50, 500), (20, 100, 1000)]


def hand_written(W, X, Y):
    """The gradient as one would write it by hand: stable softmax, in place."""
    n = X.shape[1]
    Z = W @ X
    Z -= Z.max(axis=0)
    P = np.exp(Z, out=Z)
    P /= P.sum(axis=0)
    P -= Y
    G = P @ X.T
    G /= n
    return G


def products_only(W, X, Y):
    """The two matrix products of the gradient and nothing else (a floor)."""
    Z = W @ X
    return Z @ X.T


def elementwise_generated(Z, Y, ns):
    """The elementwise part of matcalc's generated code: ``_softmax(Z) - Y`` (allocating)."""
    return ns["_softmax"](np, Z) - Y


def elementwise_in_place(Z, Y):
    """The elementwise part of the hand-written gradient, in place on a copy of Z."""
    P = Z.copy()
    P -= P.max(axis=0)
    np.exp(P, out=P)
    P /= P.sum(axis=0)
    P -= Y
    return P


def _data(k, p, n, dtype, rng):
    W = (0.01 * rng.standard_normal((k, p))).astype(dtype)
    X = rng.standard_normal((p, n)).astype(dtype)
    Y = np.zeros((k, n), dtype=dtype)
    Y[rng.integers(0, k, size=n), np.arange(n)] = 1
    return W, X, Y


def median_times(fns: dict, args: tuple, repeats: int) -> dict:
    """Median wall time of each function, the functions interleaved within every repeat."""
    times = {name: [] for name in fns}
    for fn in fns.values():  # warm up: first-touch allocations, BLAS threads
        fn(*args)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--show-source", action="store_true", help="print the generated NumPy code")
    ap.add_argument("--threads", type=int, help="limit BLAS threads (threadpoolctl), the same for every method")
    args = ap.parse_args(argv)
    threads = "library default"
    if args.threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            print("--threads needs threadpoolctl (pip install threadpoolctl); running with the default")
        else:
            threadpool_limits(args.threads)
            threads = str(args.threads)

    d = matcalc.derive(FORMULA, wrt="W", shapes=SHAPES, assume={"Y": "onehot"})
    g = d.to_numpy()
    print(f"gradient: {d}")
    print(f"numpy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"BLAS threads: {threads}; median of {args.repeats} interleaved runs; times in ms")
    if args.show_source:
        print(g.source.split("\n\n\n")[-1] if "\n\n\n" in g.source else g.source)

    def matcalc_gradient(W, X, Y):
        return g(W=W, X=X, Y=Y)

    fns = {"matcalc": matcalc_gradient, "hand": hand_written, "products": products_only}
    rng = np.random.default_rng(0)
    ratios = []
    rows = []
    header = (f"{'k':>4} {'p':>5} {'n':>6} {'dtype':>8} {'matcalc':>9} {'hand':>9} {'products':>9} "
              f"{'mc/hand':>8} {'mc/prod':>8} {'hand/prod':>9}  {'out dtype':<8} values")
    print(header)
    for k, p, n in QUICK_SIZES if args.quick else SIZES:
        for dtype in (np.float64, np.float32):
            W, X, Y = _data(k, p, n, dtype, rng)
            ref = hand_written(W, X, Y)
            out = matcalc_gradient(W, X, Y)
            tol = 1e-4 if dtype == np.float32 else 1e-10
            agree = np.allclose(out, ref, rtol=tol, atol=tol * np.abs(ref).max())
            t = median_times(fns, (W, X, Y), args.repeats)
            r = t["matcalc"] / t["hand"]
            ratios.append(r)
            rows.append((k, p, n, np.dtype(dtype).name, W @ X, Y))
            print(f"{k:>4} {p:>5} {n:>6} {np.dtype(dtype).name:>8} {t['matcalc']*1e3:9.2f} {t['hand']*1e3:9.2f} "
                  f"{t['products']*1e3:9.2f} {r:8.3f} {t['matcalc']/t['products']:8.3f} "
                  f"{t['hand']/t['products']:9.3f}  {out.dtype.name:<8} "
                  f"{'agree' if agree else 'DIFFER'} (max |diff| {np.abs(out - ref).max():.1e})"
                  + ("" if out.dtype == dtype else "  <- dtype NOT preserved"))

    # where the time goes besides the two products: the elementwise softmax - Y
    ns: dict = {}
    exec(compile(g.source, "<matcalc derivative>", "exec"), ns)  # matcalc's own generated code, for its helpers
    print("\nelementwise part alone (softmax(W*X) - Y on the k x n scores, ms): generated vs in place "
          "(the in-place one includes a copy)")
    for k, p, n, dt, Z, Y in rows:
        te = median_times({"gen": lambda Z, Y: elementwise_generated(Z, Y, ns), "inplace": elementwise_in_place},
                           (Z, Y), args.repeats)
        print(f"  k={k} p={p} n={n} {dt}: generated {te['gen']*1e3:.2f}, in place {te['inplace']*1e3:.2f}")

    # the fixed cost of a call (input checks), seen at a tiny size
    W, X, Y = _data(2, 2, 2, np.float64, rng)
    tt = median_times({"matcalc": matcalc_gradient, "hand": hand_written}, (W, X, Y), max(args.repeats, 200))
    print(f"\nper-call overhead at k=p=n=2: matcalc {tt['matcalc']*1e6:.1f} us, hand-written {tt['hand']*1e6:.1f} us")

    # labels often come as integers: does the output still follow the data's dtype?
    k, p, n = QUICK_SIZES[0]
    W, X, Y = _data(k, p, n, np.float32, rng)
    Yi = Y.astype(np.int8)
    out_i = matcalc_gradient(W, X, Yi)
    print(f"\nfloat32 W, X with int8 one-hot Y: matcalc returns {out_i.dtype.name}, "
          f"hand-written returns {hand_written(W, X, Yi).dtype.name}")

    print("\nsummary")
    print(f"  matcalc / hand-written: median {statistics.median(ratios):.3f}, max {max(ratios):.3f} "
          f"[target <= 1.1: {'met' if max(ratios) <= 1.1 else 'NOT met'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
