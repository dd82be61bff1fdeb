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


def allowed_hosts(host: str, allow_hosts=()) -> tuple | None:
    """The names a request's Host header may give: the loopback names (and ``allow_hosts``) when bound to a
    loopback address or when ``allow_hosts`` names some; None (any) for a non-loopback address without them.

    >>> allowed_hosts("127.0.0.1")
    ('localhost', '127.0.0.1', '::1')
    >>> allowed_hosts("0.0.0.0") is None, allowed_hosts("0.0.0.0", ["calc.example.org"])[-1]
    (True, 'calc.example.org')
    """
    from .app import LOCAL_HOSTS, host_name, is_loopback

    extra = tuple(host_name(h) for h in allow_hosts)
    if any(not h for h in extra):
        raise MatcalcError("--allow-host needs a name, got an empty one")
    return LOCAL_HOSTS + extra if extra or is_loopback(host) else None


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int | None = None, timeout: float = 10.0,
          allow_hosts=(), memory_mb: int | None = 2048) -> None:
    """Serve the page and the API on ``host:port`` until interrupted; prints the address once ready.

    ``allow_hosts``: Host names accepted besides the loopback ones (see :func:`allowed_hosts`);
    ``memory_mb``: megabytes of address space per worker (0 or None: no limit).
    """
    try:
        import uvicorn

        from .app import create_app
        from .pool import MIN_WORKER_MEMORY
    except ImportError as e:
        raise MatcalcError(f"matcalc serve needs the web extra ({e.name} is missing): pip install \"matcalc[web]\"") \
            from None
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise MatcalcError(f"--workers must be at least 1, got {workers}")
    if not timeout > 0:
        raise MatcalcError(f"--timeout must be positive, got {timeout}")
    if memory_mb and memory_mb * 1024 ** 2 < MIN_WORKER_MEMORY:
        raise MatcalcError(f"--memory must be at least {MIN_WORKER_MEMORY // 1024 ** 2} (MB), or 0 for no limit; "
                           f"got {memory_mb}")
    hosts = allowed_hosts(host, allow_hosts)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    where = f"http://{shown}:{port}/"
    if host == "0.0.0.0":
        where += " (listening on every interface)"

    def ready():
        print(f"matcalc serve: {where}  ({workers} workers, {timeout:g} s per request; Ctrl-C stops)", flush=True)

    app = create_app(workers=workers, timeout=timeout, on_ready=ready, allowed_hosts=hosts,
                     memory=memory_mb * 1024 ** 2 if memory_mb else None)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, limit_concurrency=256)
    sys.stdout.flush()
