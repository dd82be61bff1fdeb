"""Time matcalc.check over the claim table of tests/claims_table.py (or the homework tables).

    python benchmarks/bench_check.py [--repeat 3] [--table claims|homework]

``--table homework`` times the rows of tests/homework_tables.py (the examples of issue 8, the
LaTeX spellings and the one-wrong-term claims) instead.

Prints the time of every check (the first call for a claim includes parsing,
deriving and verifying the engine's result; later calls reuse the
verification), then the median, the 90th percentile and the maximum, against
the targets: every check under 1 s, the median under 200 ms.  Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import matcalc  # noqa: E402
from claims_table import CLAIMS, Claim  # noqa: E402

TARGET_MAX_S = 1.0
TARGET_MEDIAN_S = 0.2


def time_claim(c) -> tuple[float, bool]:
    t = time.perf_counter()
    v = matcalc.check(c.expr, wrt=c.wrt, claimed=c.claimed, layout=c.layout, order=c.order,
                      shapes=c.shapes, assume=c.assume)
    dt = time.perf_counter() - t
    right = v.correct == c.correct and (c.correct or v.mistake == c.tag)
    return dt, right


def homework_claims() -> list:
    """The rows of the homework tables, as claims of the main table."""
    from homework_tables import ISSUE, LATEX_SPELLINGS, ONE_TERM_WRONG

    rows = ISSUE + LATEX_SPELLINGS + ONE_TERM_WRONG
    return [Claim(f"hw-{i}", r.expr, r.wrt, r.claimed, r.correct, r.tag, r.layout, r.shapes, r.assume)
            for i, r in enumerate(rows)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the table (default 3)")
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    ap.add_argument("--table", choices=("claims", "homework"), default="claims")
    args = ap.parse_args(argv)
    first, later, wrong = [], [], []
    for c in (CLAIMS if args.table == "claims" else homework_claims()):
        dt, right = time_claim(c)
        first.append(dt)
        if not right:
            wrong.append(c.id)
        runs = [time_claim(c)[0] for _ in range(max(args.repeat - 1, 0))]
        later.append(statistics.median(runs) if runs else dt)
        if not args.quiet:
            print(f"{c.id:26s} first {first[-1] * 1e3:7.1f} ms   again {later[-1] * 1e3:7.1f} ms"
                  f"   {'correct' if c.correct else c.tag}")
    for name, xs in (("first call", first), ("repeated", later)):
        xs_sorted = sorted(xs)
        p90 = xs_sorted[int(0.9 * (len(xs) - 1))]
        print(f"{name:11s}: {len(xs)} checks, median {statistics.median(xs) * 1e3:.1f} ms, "
              f"p90 {p90 * 1e3:.1f} ms, max {max(xs) * 1e3:.1f} ms, total {sum(xs):.2f} s")
    worst = max(first)
    ok = worst < TARGET_MAX_S and statistics.median(first) < TARGET_MEDIAN_S
    print(f"targets (every check < {TARGET_MAX_S:g} s, median < {TARGET_MEDIAN_S * 1e3:.0f} ms): "
          f"{'met' if ok else 'NOT met'}")
    if wrong:
        print(f"verdicts that disagree with the table: {', '.join(wrong)}")
    return 0 if ok and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
