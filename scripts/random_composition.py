"""Random composition: derive random well-typed expressions and judge them by finite differences.

    python scripts/random_composition.py --count 5000 --seed 0 [--depth 6] [--no-assume] [--self-check]

Each expression is differentiated with matcalc (gradient or Jacobian in both layouts, and the
Hessian in both layouts for a scalar function) and compared with central finite differences of
the compiled function alone (tests/random_expressions.py).  Prints the counts of ok / wrong /
clear error / internal error / timeout, the derivation time by depth, and every wrong answer
and internal error (as table rows to paste into tests/test_regressions.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from random_expressions import Chooser, judge, random_case  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--no-assume", action="store_true")
    ap.add_argument("--show", type=int, default=1000, help="how many failures to list")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--self-check", action="store_true",
                    help="also run matcalc's verify() and check() on each right result")
    args = ap.parse_args(argv)
    counts = Counter()
    by_depth = defaultdict(list)
    failures = []
    start = time.perf_counter()
    for i in range(args.count):
        rng = np.random.default_rng([args.seed, i])
        case = random_case(Chooser(rng), args.depth, assumptions=not args.no_assume)
        out = judge(case, rng, time_limit=args.timeout, self_check=args.self_check)
        counts[out.status] += 1
        if out.status in ("ok", "wrong"):
            by_depth[case.depth].append(out.derive_s)
        if out.status in ("wrong", "internal", "timeout"):
            failures.append((i, case, out))
            if not args.quiet:
                print(f"[{i}] {out.status}: {case.text!r} wrt {case.wrt} assume={case.assume}: {out.detail[:300]}",
                      flush=True)
        if (i + 1) % 500 == 0:
            print(f"... {i + 1} done in {time.perf_counter() - start:.0f} s: {dict(counts)}", flush=True)
    total = time.perf_counter() - start
    print(f"\n{args.count} expressions (seed {args.seed}, depth <= {args.depth}, "
          f"assumptions {'off' if args.no_assume else 'on'}) in {total:.0f} s")
    for k in ("ok", "wrong", "error", "internal", "timeout", "nopoint"):
        label = {"error": "clear error", "internal": "internal error",
                 "nopoint": "no point found by the judge"}.get(k, k)
        print(f"  {label:28s} {counts[k]}")
    print("\nderivation time by depth (both layouts; Hessians included for scalar functions)")
    print("  depth   count   median s   p90 s     max s")
    for dpt in sorted(by_depth):
        t = np.array(by_depth[dpt])
        print(f"  {dpt:5d}  {len(t):6d}   {np.median(t):8.3f}   {np.quantile(t, 0.9):6.3f}   {t.max():7.3f}")
    if failures:
        print(f"\nfailures ({len(failures)}; first {args.show}) as table rows:")
        for i, case, out in failures[: args.show]:
            print(f"    ({case.text!r}, {case.wrt!r}, {case.assume!r}),  # [{i}] {out.status}: {out.detail[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
