"""Compiled logistic-loss Hessian (issue 10): speed against hand-written NumPy and jax.hessian, and memory.

The Hessian of ``(1/n)*sum(softplus(-y.*(X'*w)))`` with respect to w (X: p x n, samples are
columns), ``hessian(...).to_numpy()``, which matcalc now emits as ``_xdxt(xp, X, v)``
(X diag(v) X' computed once, exactly symmetric, never an n x n matrix), against

* ``hand``: the hand-written ``(X * v.T) @ X.T / n``, with v computed the same way;
* ``jax``: ``jax.jit(jax.hessian(loss))`` in float64 (when jax is installed: the ``compare`` extra);
* ``naive``: ``X @ np.diagflat(v) @ X.T / n``, what matcalc emitted before (at the smallest size only:
  it builds an n x n matrix), to show that the structured and naive code agree.

Then, in a fresh process each, the peak memory at p = 100, n = 10^6, float32 (target < 1 GB; the
n x n matrix alone would need 4 TB).

Run:  python benchmarks/bench_hessian.py [--quick] [--repeats 7] [--threads 1] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

LOSS = "(1/n)*sum(softplus(-y.*(X'*w)))"
SIZES = [(100, 2000), (300, 4000), (1000, 4000)]
QUICK_SIZES = [(50, 500), (100, 1000)]


def _limit_threads(threads: int) -> None:
    """One setting for every library: BLAS through the environment (and threadpoolctl), XLA by flag."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def memory_run(p: int, n: int) -> None:
    """In this process: the float32 Hessian at (p, n); prints peak RSS and the traced peak of the call."""
    import resource
    import tracemalloc

    import numpy as np

    import matcalc

    h = matcalc.hessian(LOSS, wrt="w", shapes={"X": ("p", "n")}).to_numpy()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((p, n), dtype=np.float32)
    w = (0.1 * rng.standard_normal((p, 1))).astype(np.float32)
    y = np.sign(rng.standard_normal((n, 1))).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    H = h(X=X, w=w, y=y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inputs = (X.nbytes + w.nbytes + y.nbytes) / 2**20
    print(f"{p} {n} {H.dtype} {inputs:.0f} {peak / 2**20:.0f} {before:.0f} {after:.0f} {bool(np.array_equal(H, H.T))}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-run", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _limit_threads(args.threads)
    if args.memory_run:
        memory_run(*args.memory_run)
        return 0

    import numpy as np
    from bench_gradient import median_times  # after the thread limits: it imports NumPy

    import matcalc

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        jax = None

    h = matcalc.hessian(LOSS, wrt="w", shapes={"X": ("p", "n")}).to_numpy()
    print(f"hessian: {matcalc.hessian(LOSS, wrt='w', shapes={'X': ('p', 'n')})}")
    print(f"numpy {np.__version__}, jax {jax.__version__ if jax else 'not installed'}, {os.cpu_count()} CPUs, "
          f"{args.threads} BLAS/XLA thread(s); float64; median of {args.repeats} interleaved runs; ms")

    def weights(X, w, y):
        n = X.shape[1]
        z = y * (X.T @ w)
        s = np.exp(-np.logaddexp(0, -z))
        return (y * y * s * (1 - s)) / n

    def hand(X, w, y):
        v = weights(X, w, y)
        return (X * v.T) @ X.T

    def naive(X, w, y):
        return X @ np.diagflat(weights(X, w, y)) @ X.T

    def mc(X, w, y):
        return h(X=X, w=w, y=y)

    fns = {"matcalc": mc, "hand": hand}
    if jax is not None:
        def loss(w, X, y):
            return jnp.mean(jnp.logaddexp(0.0, -y * (X.T @ w)))

        jh = jax.jit(jax.hessian(loss))

        def jx(X, w, y):
            return jh(w[:, 0], X, y[:, 0]).block_until_ready()

        fns["jax"] = jx
    rng = np.random.default_rng(0)
    print(f"{'p':>5} {'n':>6} {'matcalc':>9} {'hand':>9} {'jax':>9} {'mc/hand':>8} {'mc/jax':>8}  agree")
    ratios, beats = [], []
    for i, (p, n) in enumerate(QUICK_SIZES if args.quick else SIZES):
        X = rng.standard_normal((p, n))
        w = 0.1 * rng.standard_normal((p, 1))
        y = np.sign(rng.standard_normal((n, 1)))
        H = mc(X, w, y)
        agree = [f"hand {np.allclose(H, hand(X, w, y), rtol=1e-10, atol=1e-14)}"]
        if jax is not None:
            agree.append(f"jax {np.allclose(H, np.asarray(jx(X, w, y)), rtol=1e-8, atol=1e-12)}")
        if i == 0:
            agree.append(f"naive {np.allclose(H, naive(X, w, y), rtol=1e-10, atol=1e-14)}")
        agree.append(f"symmetric {np.array_equal(H, H.T)}")
        t = median_times(fns, (X, w, y), args.repeats)
        r = t["matcalc"] / t["hand"]
        ratios.append(r)
        tj = t.get("jax", float("nan"))
        beats.append(t["matcalc"] < tj)
        print(f"{p:>5} {n:>6} {t['matcalc'] * 1e3:9.2f} {t['hand'] * 1e3:9.2f} {tj * 1e3:9.2f} {r:8.3f} "
              f"{t['matcalc'] / tj:8.3f}  {', '.join(agree)}")
    print(f"  matcalc / hand: max {max(ratios):.3f} [target <= 1.2: {'met' if max(ratios) <= 1.2 else 'NOT met'}]"
          + (f"; faster than jax.hessian at every size: {all(beats)}" if jax is not None else ""))

    if not args.no_memory:
        p, n = (100, 10**5) if args.quick else (100, 10**6)
        out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--memory-run", str(p), str(n)],
                             capture_output=True, text=True, check=True).stdout.split()
        _, _, dt, inputs, traced, before, after, sym = out
        print(f"\nmemory, float32, p={p}, n={n} (fresh process): inputs {inputs} MB; peak traced during the call "
              f"{traced} MB; process peak RSS {after} MB (before the call {before} MB); output {dt}, symmetric {sym}"
              f" [target < 1024 MB: {'met' if float(after) < 1024 else 'NOT met'}]; an n x n float32 matrix would be "
              f"{4 * n * n / 2**30:.0f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
