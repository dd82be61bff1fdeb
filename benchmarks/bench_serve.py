"""Load on `matcalc serve`: concurrent clients on loopback for a while, typical and pathological requests.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_serve.py [--duration 60] [--clients 50] [--workers 2] [--repeat]

It starts a server on a free 127.0.0.1 port (or uses --url), lets each client
send requests back to back, and prints requests per second and, per kind of
request, the count, errors, p50, p99 and the slowest answer.  Targets: p99
under 1 s for typical requests, no failed typical request, and every
pathological request answered with an error within its time limit.  Exit
status 1 when a target is missed.  Timed figures depend on the machine and
what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

try:
    import httpx2 as httpx  # what Starlette's test client uses too
except ImportError:  # pragma: no cover
    import httpx

ROOT = Path(__file__).resolve().parent.parent

TYPICAL = [
    ("derive", {"expr": "x'*A*x", "wrt": "x"}),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "layout": "numerator"}),
    ("derive", {"expr": "sum(log(1 + exp(-y.*(X*w))))", "wrt": "w"}),
    ("derive", {"expr": "-(1/n)*sum(Y.*log(softmax(W*X)))", "wrt": "W", "assume": {"Y": "onehot"},
                "shapes": {"X": ["p", "n"]}}),
    ("derive", {"expr": "log(det(X))", "wrt": "X"}),
    ("hessian", {"expr": "x'*A*x", "wrt": "x"}),
    ("check", {"expr": "(lambd/(2*m))*normF(W1)^2", "wrt": "W1", "claimed": "lambd*sum(W1)/m"}),
    ("check", {"expr": "(lambd/(2*m))*normF(W1)^2", "wrt": "W1", "claimed": "lambd*W1/m"}),
    ("check", {"expr": "x'*A*x", "wrt": "x", "claimed": "2*A*x"}),
]

# name -> (endpoint, body, the status it must get)
PATHOLOGICAL = {
    "100 KB input": ("derive", {"expr": "x + " * 25_000 + "x", "wrt": "x"}, 413),
    "nesting depth 1000": ("derive", {"expr": "(" * 1000 + "x" + ")" * 1000, "wrt": "x"}, 400),
}
PATHOLOGICAL_SHARE = 0.04  # the fraction of requests that are pathological


def distinct(body: dict, rng: random.Random) -> dict:
    """The same problem scaled by a random constant: a new request that the server's cache cannot answer."""
    k = rng.randint(2, 10**6)
    out = dict(body, expr=f"{k}*({body['expr']})")
    if "claimed" in body:
        out["claimed"] = f"{k}*({body['claimed']})"
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, timeout: float):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "matcalc.cli", "serve", "--port", str(port), "--workers",
                             str(workers), "--timeout", str(timeout)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/", timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start on {url}")


async def client(http: httpx.AsyncClient, url: str, stop: float, rng: random.Random, records: list,
                 repeat: bool) -> None:
    while time.monotonic() < stop:
        if rng.random() < PATHOLOGICAL_SHARE:
            kind = rng.choice(sorted(PATHOLOGICAL))
            endpoint, body, want = PATHOLOGICAL[kind]
        else:
            endpoint, body = rng.choice(TYPICAL)
            body = body if repeat else distinct(body, rng)
            kind, want = "typical " + endpoint, 200
        t = time.monotonic()
        try:
            r = await http.post(f"{url}/api/{endpoint}", json=body)
            ok = r.status_code == want and ("error" in r.json()) == (want != 200)
        except (httpx.HTTPError, ValueError):
            ok = False
        records.append((kind, time.monotonic() - t, ok))


def pct(xs: list, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def run(url: str, clients: int, duration: float, repeat: bool) -> tuple[list, float]:
    records: list = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        start = time.monotonic()
        await asyncio.gather(*[client(http, url, start + duration, random.Random(i), records, repeat)
                               for i in range(clients)])
        return records, time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    ap.add_argument("--timeout", type=float, default=10.0, help="the server's per-request time limit (default 10 s)")
    ap.add_argument("--repeat", action="store_true",
                    help="send the typical requests verbatim (a class on one problem: mostly cache hits); by default "
                         "each is scaled by a random constant so that every one is computed")
    ap.add_argument("--url", help="use a running server instead of starting one")
    args = ap.parse_args()
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.workers, args.timeout)
    try:
        records, elapsed = asyncio.run(run(url.rstrip("/"), args.clients, args.duration, args.repeat))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    print(f"{args.clients} clients for {elapsed:.1f} s against {url} ({args.workers} workers, {os.cpu_count()} cores, "
          f"{'repeated' if args.repeat else 'distinct'} requests): {len(records)} requests, "
          f"{len(records) / elapsed:.1f} requests/s")
    print(f"{'kind':22s} {'n':>6s} {'errors':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    kinds = sorted({k for k, _, _ in records})
    for kind in kinds + ["all typical"]:
        rows = [r for r in records if r[0] == kind or (kind == "all typical" and r[0].startswith("typical"))]
        lat = [t * 1000 for _, t, _ in rows]
        print(f"{kind:22s} {len(rows):6d} {sum(not ok for *_, ok in rows):6d} {pct(lat, .5):8.1f} "
              f"{pct(lat, .99):8.1f} {max(lat, default=float('nan')):8.1f}")
    typical = [r for r in records if r[0].startswith("typical")]
    patho = [r for r in records if not r[0].startswith("typical")]
    targets = [
        ("typical p99 < 1 s", pct([t for _, t, _ in typical], .99) < 1.0),
        ("no failed typical request", all(ok for *_, ok in typical)),
        ("every pathological request answered with its error within the time limit",
         all(ok and t < args.timeout for _, t, ok in patho)),
    ]
    for name, met in targets:
        print(f"{'met ' if met else 'MISSED'}  {name}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
