"""Batch softmax cross-entropy (issue 10): compiled Hessian-vector product and value-and-gradient.

For ``-(1/n)*sum(Y.*log(softmax(W*X)))`` (W: k x p, X: p x n, Y: k x n one-hot):

* ``matcalc.hvp(...)`` against a hand-written HVP (``P = softmax(WX); A = P .* (VX);
  A -= P .* colsum(A); A X' / n``: three products, the floor any HVP needs), target <= 1.5;
* ``matcalc.value_and_grad(...)`` against a hand-written fused pair (one ``W@X``, one exp: the loss
  from the log-sum-exp, the gradient from the same exponentials), target <= 1.1, and against the
  hand-written value and gradient as two separate functions.

* the full Hessian (``hessian(...).to_numpy()``, (kp) x (kp)) against a hand-written one (one
  ``X diag(P_i (delta_ij - P_j)) X'`` per pair of classes), at smaller sizes, with its traced peak
  memory (before issue 10 it built ``kron(eye(n), ones(k, k))``, (nk) x (nk)).

float64 and float32, median of interleaved runs, values compared.

Run:  python benchmarks/bench_softmax.py [--quick] [--repeats 11] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

FORMULA = "-(1/n)*sum(Y.*log(softmax(W*X)))"
SHAPES = {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}
SIZES = [(10, 784, 10000)]
QUICK_SIZES = [(10, 50, 1000)]
HESSIAN_SIZES = [(10, 100, 2000), (10, 200, 5000)]
QUICK_HESSIAN_SIZES = [(5, 50, 1000)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    import matcalc

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass

    def softmax(Z):
        Z = Z - Z.max(axis=0)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=0)
        return Z

    def hand_hvp(V, W, X, Y):
        n = X.shape[1]
        P = softmax(W @ X)
        A = P * (V @ X)
        A -= P * A.sum(axis=0)
        G = A @ X.T
        G /= n
        return G

    def hand_pair(W, X, Y):
        n = X.shape[1]
        Z = W @ X
        Z -= Z.max(axis=0)
        E = np.exp(Z)
        s = E.sum(axis=0)
        loss = (np.log(s).sum() - (Y * Z).sum()) / n
        E /= s
        E -= Y
        G = E @ X.T
        G /= n
        return loss, G

    def hand_value(W, X, Y):
        Z = W @ X
        Z -= Z.max(axis=0)
        return (np.log(np.exp(Z).sum(axis=0)).sum() - (Y * Z).sum()) / X.shape[1]

    def hand_grad(W, X, Y):
        P = softmax(W @ X)
        P -= Y
        G = P @ X.T
        G /= X.shape[1]
        return G

    def hand_separate(W, X, Y):
        return hand_value(W, X, Y), hand_grad(W, X, Y)

    hv = matcalc.hvp(FORMULA, wrt="W", shapes=SHAPES, assume={"Y": "onehot"})
    vg = matcalc.value_and_grad(FORMULA, wrt="W", shapes=SHAPES, assume={"Y": "onehot"})
    hv.verify()
    vg.verify()

    def mc_hvp(V, W, X, Y):
        return hv(V, W=W, X=X, Y=Y)

    def mc_pair(W, X, Y):
        return vg(W=W, X=X, Y=Y)

    def times(fns, args_, repeats):
        out = {k: [] for k in fns}
        for f in fns.values():
            f(*args_)
        for _ in range(repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f(*args_)
                out[k].append(time.perf_counter() - t0)
        return {k: statistics.median(v) for k, v in out.items()}

    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, {args.threads} BLAS thread(s); "
          f"median of {args.repeats} interleaved runs; ms; both compiled forms verified first")
    print(f"{'k':>3} {'p':>5} {'n':>6} {'dtype':>8} | {'mc hvp':>8} {'hand hvp':>8} {'ratio':>6} | "
          f"{'mc v&g':>8} {'fused':>8} {'ratio':>6} {'separate':>8} {'ratio':>6} | agree")
    rng = np.random.default_rng(0)
    worst_h, worst_p = 0.0, 0.0
    for k, p, n in QUICK_SIZES if args.quick else SIZES:
        for dtype in (np.float64, np.float32):
            W = (0.01 * rng.standard_normal((k, p))).astype(dtype)
            X = rng.standard_normal((p, n)).astype(dtype)
            V = rng.standard_normal((k, p)).astype(dtype)
            Y = np.zeros((k, n), dtype=dtype)
            Y[rng.integers(0, k, n), np.arange(n)] = 1
            tol = 1e-4 if dtype == np.float32 else 1e-10
            h1, h2 = mc_hvp(V, W, X, Y), hand_hvp(V, W, X, Y)
            (v1, g1), (v2, g2) = mc_pair(W, X, Y), hand_pair(W, X, Y)
            agree = (np.allclose(h1, h2, rtol=tol, atol=tol * np.abs(h2).max())
                     and np.allclose(g1, g2, rtol=tol, atol=tol * np.abs(g2).max()) and abs(v1 - v2) <= tol * abs(v2))
            dts = {h1.dtype, g1.dtype, np.asarray(v1).dtype}
            th = times({"mc": mc_hvp, "hand": hand_hvp}, (V, W, X, Y), args.repeats)
            tp = times({"mc": mc_pair, "fused": hand_pair, "separate": hand_separate}, (W, X, Y), args.repeats)
            rh, rp, rs = th["mc"] / th["hand"], tp["mc"] / tp["fused"], tp["mc"] / tp["separate"]
            worst_h, worst_p = max(worst_h, rh), max(worst_p, rp)
            print(f"{k:>3} {p:>5} {n:>6} {np.dtype(dtype).name:>8} | {th['mc'] * 1e3:8.2f} {th['hand'] * 1e3:8.2f} "
                  f"{rh:6.3f} | {tp['mc'] * 1e3:8.2f} {tp['fused'] * 1e3:8.2f} {rp:6.3f} {tp['separate'] * 1e3:8.2f} "
                  f"{rs:6.3f} | {'agree' if agree else 'DIFFER'}, out dtype {'/'.join(sorted(d.name for d in dts))}")
    print(f"  hvp / hand-written hvp: max {worst_h:.3f} [target <= 1.5: {'met' if worst_h <= 1.5 else 'NOT met'}]")
    print(f"  value_and_grad / hand-written fused pair: max {worst_p:.3f} "
          f"[target <= 1.1: {'met' if worst_p <= 1.1 else 'NOT met'}]")

    import tracemalloc

    H = matcalc.hessian(FORMULA, wrt="W", shapes=SHAPES, assume={"Y": "onehot"})
    hc = H.to_numpy()

    def hand_hessian(W, X, Y):
        k, p = W.shape
        n = X.shape[1]
        P = softmax(W @ X)
        out = np.zeros((p, k, p, k), dtype=W.dtype)
        for i in range(k):
            for j in range(i, k):
                v = P[i] * ((i == j) - P[j]) / n
                B = (X * v) @ X.T
                out[:, i, :, j] = B
                out[:, j, :, i] = B.T
        return out.reshape(p * k, p * k)

    def peak(f, *a):
        tracemalloc.start()
        f(*a)
        pk = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return pk / 2**20

    print(f"\nfull Hessian, float64, {args.repeats} runs: {H}")
    print(f"{'k':>3} {'p':>5} {'n':>6} | {'matcalc':>9} {'hand':>9} {'ratio':>6} | peak MB matcalc / hand | agree")
    for k, p, n in QUICK_HESSIAN_SIZES if args.quick else HESSIAN_SIZES:
        W = 0.1 * rng.standard_normal((k, p))
        X = rng.standard_normal((p, n))
        Y = np.eye(k)[:, rng.integers(0, k, n)]
        a, b = hc(W=W, X=X, Y=Y), hand_hessian(W, X, Y)
        agree = np.allclose(a, b, rtol=1e-10, atol=1e-13 * np.abs(b).max())
        t = times({"mc": lambda *z: hc(W=z[0], X=z[1], Y=z[2]), "hand": hand_hessian}, (W, X, Y), max(3, args.repeats // 3))
        print(f"{k:>3} {p:>5} {n:>6} | {t['mc'] * 1e3:9.1f} {t['hand'] * 1e3:9.1f} {t['mc'] / t['hand']:6.2f} | "
              f"{peak(lambda: hc(W=W, X=X, Y=Y)):7.0f} / {peak(hand_hessian, W, X, Y):5.0f} | "
              f"{'agree' if agree else 'DIFFER'}, symmetric {np.array_equal(a, a.T)}; "
              f"kron(eye(n), ones(k, k)) would be {8 * (n * k) ** 2 / 2**30:.0f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
