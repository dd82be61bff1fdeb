"""The Starlette application: the page, its static files and the JSON API, as thin routes.

Every route reads the request, hands it to the worker pool and returns what the
pool answers.  No matrix calculus happens here, nothing is written to disk, and
every error is JSON (``{"error": one line, "column": n}``), never an error page.

A request whose Host header is not one of ``allowed_hosts`` (by default the
loopback names) gets a 400 before any route sees it: a web page elsewhere
cannot reach a local server by pointing its own name at 127.0.0.1 (DNS
rebinding).  Starlette's TestClient sends the Host ``testserver``:

>>> from starlette.testclient import TestClient
>>> with TestClient(create_app(workers=1, allowed_hosts=LOCAL_HOSTS + ("testserver",))) as client:
...     r = client.post("/api/derive", json={"expr": "x'*A*x", "wrt": "x", "layout": "numerator"})
>>> r.status_code, r.json()["result"]
(200, "x'*(A + A')")
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import one_line
from .pool import WORKER_MEMORY, WorkerPool
from .tasks import ENDPOINTS

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # bytes; an expression is at most 20,000 characters

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; "
     b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # the names of a server bound to a loopback address


def host_name(value: str) -> str:
    """The name in a Host header (or an ``--allow-host`` value), lowercase, without its port or brackets.

    >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("::1"), host_name("example.org.")
    ('localhost', '::1', '::1', 'example.org')
    """
    v = value.strip().lower()
    if v.startswith("["):  # [v6 address] or [v6 address]:port
        v = v[1:v.index("]")] if "]" in v else v
    elif v.count(":") == 1:  # name:port (a bare v6 address has several colons)
        v = v.split(":")[0]
    return v.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether an address to bind is a loopback one (only this machine can connect).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _HostCheck:
    """ASGI middleware: a request whose Host header names none of ``allowed`` gets a 400 (JSON, one line)."""

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = frozenset(host_name(h) for h in allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
            if host_name(given) not in self.allowed:
                shown = given if len(given) <= 60 else given[:57] + "..."
                names = ", ".join(sorted(self.allowed))
                message = one_line(f"the Host header {shown!r} is not one this server answers to ({names}); "
                                   f"if it is reached by that name, start it with --allow-host NAME")
                if scope["type"] == "http":
                    await _error(400, message)(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "column": None}, status_code=status)


async def _read_json(request: Request, limit: int):
    """The body as JSON, reading at most ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return json.loads(b"".join(chunks) or b"null")


async def api(request: Request) -> JSONResponse:
    """POST /api/{endpoint}: one JSON object in, the CLI's JSON (or an error) out."""
    endpoint = request.path_params["endpoint"]
    if endpoint not in ENDPOINTS:
        return _error(404, f"no such endpoint /api/{endpoint}; the endpoints are "
                           + ", ".join(f"/api/{e}" for e in ENDPOINTS))
    limit = request.app.state.max_body
    try:
        body = await _read_json(request, limit)
    except _TooLarge:
        return _error(413, f"the request body is larger than the limit of {limit} bytes")
    except (ValueError, RecursionError) as e:
        return _error(400, f"the body is not valid JSON: {' '.join(str(e).split()) or 'too deeply nested'}")
    status, payload = await request.app.state.pool.submit(endpoint, body)
    return JSONResponse(payload, status_code=status)


async def page(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return _error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "request failed")


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return _error(500, f"internal error: {type(exc).__name__} (please report this)")


class _Headers:
    """ASGI middleware adding the security headers to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def create_app(workers: int = 2, timeout: float = 10.0, max_body: int = MAX_BODY, on_ready=None,
               tasks: str = "matcalc.web.tasks", allowed_hosts=LOCAL_HOSTS,
               memory: int | None = WORKER_MEMORY) -> Starlette:
    """The application; its worker pool starts with the app and stops with it.

    ``on_ready`` (optional) is called once the workers are up; ``tasks`` names
    the module whose ``run`` answers a request in a worker; ``allowed_hosts``
    the names the Host header may give (None: any); ``memory`` the bytes of
    address space each worker may use (None: no cap).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with WorkerPool(workers=workers, timeout=timeout, tasks=tasks, memory=memory) as pool:
            app.state.pool = pool
            if on_ready is not None:
                on_ready()
            yield

    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/api/{endpoint}", api, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.max_body = max_body
    if allowed_hosts is not None:
        app.add_middleware(_HostCheck, allowed=allowed_hosts)
    app.add_middleware(_Headers)  # added last, so outermost: the Host check's 400 gets the headers too
    return app
