"""``matcalc serve``: a local web page and JSON API over matcalc's public functions.

Needs the optional extra ``web`` (``pip install "matcalc[web]"``: Starlette and
uvicorn).  ``app`` holds the routes, ``pool`` the worker processes with their
deadline, ``tasks`` what one request does inside a worker.

>>> default_workers() >= 1
True
"""

from __future__ import annotations

import os
import sys

from ..api import MatcalcError


def default_workers() -> int:
    """One worker per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int | None = None, timeout: float = 10.0) -> None:
    """Serve the page and the API on ``host:port`` until interrupted; prints the address once ready."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        raise MatcalcError(f"matcalc serve needs the web extra ({e.name} is missing): pip install \"matcalc[web]\"") \
            from None
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise MatcalcError(f"--workers must be at least 1, got {workers}")
    if not timeout > 0:
        raise MatcalcError(f"--timeout must be positive, got {timeout}")
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    where = f"http://{shown}:{port}/"
    if host == "0.0.0.0":
        where += " (listening on every interface)"

    def ready():
        print(f"matcalc serve: {where}  ({workers} workers, {timeout:g} s per request; Ctrl-C stops)", flush=True)

    app = create_app(workers=workers, timeout=timeout, on_ready=ready)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, limit_concurrency=256)
    sys.stdout.flush()
