"""The compiled softmax cross-entropy gradient on a Dask array too large to hold twice (issue 10).

X is 10^7 samples x 100 features, float32 (4 GB), stored on disk; the compiled gradient
``(1/n)*(softmax(W*X) - Y)*X'`` (W: 10 x 100) runs

* on a Dask array read from the file in chunks of 10^5 samples (local threaded scheduler), and
* on NumPy arrays holding the same data in memory (the load is not timed),

each in a fresh process, which reports its time and its peak resident memory.  The Dask graph is
checked to stay chunked (no rechunk; one task per chunk at each step) and the two results compared.

Run:  python benchmarks/bench_dask.py [--n 10000000] [--chunk 100000] [--threads 1] [--numpy-threads 2]
                                      [--workers 2] [--dir /tmp] [--keep]

Mind the memory: the NumPy run holds X (4 GB), Y (0.4 GB) and the k x n intermediates.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = "-(1/n)*sum(Y.*log(softmax(W*X)))"
K, P = 10, 100


def _write(path: Path, n: int, chunk: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path / "X.f32", "wb") as fx:
        for s in range(0, n, chunk):
            rng.standard_normal((min(chunk, n - s), P), dtype=np.float32).tofile(fx)
    rng.integers(0, K, n, dtype=np.int8).tofile(path / "labels.i8")
    (0.01 * rng.standard_normal((K, P))).astype(np.float32).tofile(path / "W.f32")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, path: Path, n: int, chunk: int, workers: int) -> None:
    import numpy as np

    import matcalc

    g = matcalc.derive(FORMULA, wrt="W", shapes={"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")},
                       assume={"Y": "onehot"}).to_numpy()
    W = np.fromfile(path / "W.f32", dtype=np.float32).reshape(K, P)
    eye = np.eye(K, dtype=np.float32)
    if kind == "numpy":
        X = np.fromfile(path / "X.f32", dtype=np.float32).reshape(n, P).T
        Y = eye[:, np.fromfile(path / "labels.i8", dtype=np.int8)]
        t0 = time.perf_counter()
        G = g(W=W, X=X, Y=Y)
        elapsed = time.perf_counter() - t0
        tasks = 0
    else:
        import dask
        import dask.array as da

        def load(i):
            rows = min(chunk, n - i * chunk)
            return np.fromfile(path / "X.f32", dtype=np.float32, count=rows * P, offset=i * chunk * P * 4).reshape(rows, P)

        def labels(i):
            rows = min(chunk, n - i * chunk)
            return eye[:, np.fromfile(path / "labels.i8", dtype=np.int8, count=rows, offset=i * chunk)]

        blocks = range((n + chunk - 1) // chunk)
        D = da.concatenate([da.from_delayed(dask.delayed(load)(i), (min(chunk, n - i * chunk), P), np.float32)
                            for i in blocks])
        Y = da.concatenate([da.from_delayed(dask.delayed(labels)(i), (K, min(chunk, n - i * chunk)), np.float32)
                            for i in blocks], axis=1)
        t0 = time.perf_counter()
        lazy = g(W=W, X=D.T, Y=Y)
        build = time.perf_counter() - t0
        layers = list(lazy.__dask_graph__().layers)
        assert not [name for name in layers if name.startswith("rechunk")], layers
        tasks = len(lazy.__dask_graph__())
        with dask.config.set(scheduler="threads", num_workers=workers):
            G = lazy.compute()
        elapsed = time.perf_counter() - t0
        print(f"# graph built in {build * 1e3:.0f} ms, {tasks} tasks, {len(blocks)} chunks", file=sys.stderr)
    np.save(path / f"G_{kind}.npy", G)
    print(f"{elapsed:.3f} {_peak_mb():.0f} {G.dtype} {type(G).__name__} {tasks}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**7)
    ap.add_argument("--chunk", type=int, default=10**5)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads per task")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="Dask threads")
    ap.add_argument("--numpy-threads", type=int, help="BLAS threads of the NumPy run (default: --threads)")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the data files")
    ap.add_argument("--run", choices=["numpy", "dask"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if args.run:
        run(args.run, Path(args.path), args.n, args.chunk, args.workers)
        return 0
    import numpy as np

    path = Path(tempfile.mkdtemp(prefix="matcalc_dask_", dir=args.dir))
    try:
        t0 = time.perf_counter()
        _write(path, args.n, args.chunk)
        print(f"data: X {args.n} x {P} float32 ({args.n * P * 4 / 2**30:.1f} GB) on disk at {path}, written in "
              f"{time.perf_counter() - t0:.0f} s; k = {K}; chunks of {args.chunk} samples; "
              f"{args.threads} BLAS thread(s); Dask threaded scheduler with {args.workers} workers")
        res = {}
        for kind in ("dask", "numpy"):
            threads = args.numpy_threads if kind == "numpy" and args.numpy_threads else args.threads
            out = subprocess.run([sys.executable, __file__, "--run", kind, "--path", str(path), "--n", str(args.n),
                                  "--chunk", str(args.chunk), "--threads", str(threads),
                                  "--workers", str(args.workers)], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr)
                return 1
            t, peak, dt, typ, tasks = out.stdout.split()
            res[kind] = (float(t), float(peak))
            print(f"{kind:>6}: {float(t):7.2f} s, peak RSS {float(peak):7.0f} MB, result {dt} {typ}, "
                  f"{threads} BLAS thread(s)" + (f" x {args.workers} Dask workers" if kind == "dask" else "")
                  + (f", {tasks} tasks ({out.stderr.strip()})" if kind == "dask" else ""))
        Gd, Gn = np.load(path / "G_dask.npy"), np.load(path / "G_numpy.npy")
        agree = np.allclose(Gd, Gn, rtol=1e-3, atol=1e-4 * np.abs(Gn).max())
        print(f"dask / numpy: time {res['dask'][0] / res['numpy'][0]:.2f}x, peak memory "
              f"{res['dask'][1] / res['numpy'][1]:.2f}x; results {'agree' if agree else 'DIFFER'} "
              f"(max |diff| {np.abs(Gd - Gn).max():.1e}, float32 sums in different orders)")
    finally:
        if not args.keep:
            for f in path.iterdir():
                f.unlink()
            path.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
