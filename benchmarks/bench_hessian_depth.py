"""Hessian derivation time by nesting depth (issue 7, item 7: every Hessian of depth <= 6 under 1 s).

A seeded generator builds vector functions of x by nesting elementwise functions, softmax,
Hadamard products, sums, scaling by a scalar k and products with a matrix A, then takes a
scalar of the result (sum, logsumexp, x'*(...), normF(...)^2).  The depth is the number of
nested operations.  For each depth the script derives the gradient and the Hessian of every
expression (parse + derive + simplify, no verification) and prints the median and maximum
times side by side, the Hessian/gradient ratio, and the growth of the median per level.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_hessian_depth.py [--per-depth 12] [--max-depth 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matcalc  # noqa: E402

UNARY = ["sigmoid({})", "tanh({})", "softplus({})", "sin({})", "softmax({})", "exp(-({}))", "A*({})"]
BINARY = ["({}).*({})", "({}) - ({})", "({}) + k*({})"]
TOP = ["sum({})", "logsumexp({})", "x'*({})", "normF({})^2"]
ISSUE_EXAMPLE = "logsumexp(softmax((sigmoid(x) - x*k).*softmax(sigmoid(x))))"
SHAPES = {"k": (), "A": ("n", "n")}


def vector_expr(rng: random.Random, depth: int) -> str:
    """A vector function of x with exactly ``depth`` nested operations on its deepest path."""
    if depth == 0:
        return "x"
    if rng.random() < 0.35:
        left = vector_expr(rng, depth - 1)
        right = vector_expr(rng, rng.randrange(depth))
        a, b = (left, right) if rng.random() < 0.5 else (right, left)
        return rng.choice(BINARY).format(a, b)
    return rng.choice(UNARY).format(vector_expr(rng, depth - 1))


def scalar_expr(rng: random.Random, depth: int) -> str:
    return rng.choice(TOP).format(vector_expr(rng, depth - 1))


def timed(fn, *args, **kwargs) -> float:
    t = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-depth", type=int, default=12)
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    matcalc.hessian("x'*x", wrt="x")  # imports and parser tables outside the timings
    g = timed(matcalc.derive, ISSUE_EXAMPLE, wrt="x", shapes=SHAPES)
    h = timed(matcalc.hessian, ISSUE_EXAMPLE, wrt="x", shapes=SHAPES)
    print(f"issue example (depth 5): gradient {g:.3f} s, Hessian {h:.3f} s\n")
    print(f"{'depth':>5} {'n':>3} {'grad median':>12} {'hess median':>12} {'hess max':>9} {'hess/grad':>9} {'growth':>7}")
    prev = None
    worst = (0.0, "")
    for depth in range(1, args.max_depth + 1):
        gs, hs = [], []
        for _ in range(args.per_depth):
            e = scalar_expr(rng, depth)
            gs.append(timed(matcalc.derive, e, wrt="x", shapes=SHAPES))
            t = timed(matcalc.hessian, e, wrt="x", shapes=SHAPES)
            hs.append(t)
            worst = max(worst, (t, e))
        gm, hm = statistics.median(gs), statistics.median(hs)
        growth = f"{hm / prev:.2f}x" if prev else "-"
        print(f"{depth:>5} {len(hs):>3} {gm:>11.3f}s {hm:>11.3f}s {max(hs):>8.3f}s {hm / gm:>9.1f} {growth:>7}")
        prev = hm
    print(f"\nslowest Hessian: {worst[0]:.3f} s for {worst[1]}")
    print(f"target: every Hessian of depth <= 6 under 1 s: {'met' if worst[0] < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
