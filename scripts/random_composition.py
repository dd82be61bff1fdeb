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
import json
import os
import sys
import time
from collections import Counter, defaultdict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from random_expressions import Case, Chooser, judge, random_case  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--start", type=int, default=0, help="index of the first expression (to split a run)")
    ap.add_argument("--out", help="also write one JSON line per expression here")
    ap.add_argument("--summarize", nargs="+", metavar="JSONL", help="only summarize files written with --out")
    ap.add_argument("--rejudge", action="store_true",
                    help="with --summarize: judge the failed rows again (after a fix), the same expressions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=5.0, help="CPU seconds allowed to derive one expression")
    ap.add_argument("--no-assume", action="store_true")
    ap.add_argument("--show", type=int, default=1000, help="how many failures to list")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--self-check", action="store_true",
                    help="also run matcalc's verify() and check() on each right result")
    args = ap.parse_args(argv)
    rows = []
    start = time.perf_counter()
    if args.summarize:
        for name in args.summarize:
            with open(name) as fh:
                rows += [json.loads(line) for line in fh if line.strip()]
        if args.rejudge:
            for k, r in enumerate(rows):
                if r["status"] in ("wrong", "internal", "timeout"):
                    case = Case(r["text"], r["wrt"], r["assume"], r["depth"])
                    out = judge(case, np.random.default_rng([args.seed, r["i"]]), time_limit=args.timeout,
                                self_check=args.self_check)
                    rows[k] = {**r, "status": out.status, "detail": out.detail[:400], "derive_s": out.derive_s}
    else:
        sink = open(args.out, "w") if args.out else None
        for i in range(args.start, args.start + args.count):
            rng = np.random.default_rng([args.seed, i])
            case = random_case(Chooser(rng), args.depth, assumptions=not args.no_assume)
            out = judge(case, rng, time_limit=args.timeout, self_check=args.self_check)
            row = {"i": i, "text": case.text, "wrt": case.wrt, "assume": case.assume, "depth": case.depth,
                   "status": out.status, "detail": out.detail[:400], "derive_s": out.derive_s}
            rows.append(row)
            if sink:
                sink.write(json.dumps(row) + "\n")
                sink.flush()
            if out.status in ("wrong", "internal", "timeout") and not args.quiet:
                print(f"[{i}] {out.status}: {case.text!r} wrt {case.wrt} assume={case.assume}: {out.detail[:300]}",
                      flush=True)
            if len(rows) % 500 == 0:
                print(f"... {len(rows)} done in {time.perf_counter() - start:.0f} s", flush=True)
    counts = Counter(r["status"] for r in rows)
    by_depth = defaultdict(list)
    for r in rows:
        if r["status"] in ("ok", "wrong"):
            by_depth[r["depth"]].append(r["derive_s"])
    failures = [r for r in rows if r["status"] in ("wrong", "internal", "timeout")]
    total = time.perf_counter() - start
    print(f"\n{len(rows)} expressions (seed {args.seed}, depth <= {args.depth}, "
          f"assumptions {'off' if args.no_assume else 'on'}) in {total:.0f} s")
    for k in ("ok", "wrong", "error", "internal", "timeout", "nopoint", "judge"):
        label = {"error": "clear error", "internal": "internal error",
                 "nopoint": "no point found by the judge", "judge": "the judge's own failure"}.get(k, k)
        print(f"  {label:28s} {counts[k]}")
    print("\nderivation CPU time by depth (both layouts; Hessians included for scalar functions)")
    print("  depth   count   median s   p90 s     max s")
    for dpt in sorted(by_depth):
        t = np.array(by_depth[dpt])
        print(f"  {dpt:5d}  {len(t):6d}   {np.median(t):8.3f}   {np.quantile(t, 0.9):6.3f}   {t.max():7.3f}")
    if failures:
        print(f"\nfailures ({len(failures)}; first {args.show}) as table rows:")
        for r in failures[: args.show]:
            print(f"    ({r['text']!r}, {r['wrt']!r}, {r['assume']!r}),  # [{r['i']}] {r['status']}: {r['detail'][:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
