"""The Starlette application: the page, its static files and the JSON API, as thin routes.

Every route reads the request, hands it to the worker pool and returns what the
pool answers.  No matrix calculus happens here, nothing is written to disk, and
every error is JSON (``{"error": one line, "column": n}``), never an error page.

>>> from starlette.testclient import TestClient
>>> with TestClient(create_app(workers=1)) as client:
...     r = client.post("/api/derive", json={"expr": "x'*A*x", "wrt": "x", "layout": "numerator"})
>>> r.status_code, r.json()["result"]
(200, "x'*(A + A')")
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .pool import WorkerPool
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
               tasks: str = "matcalc.web.tasks") -> Starlette:
    """The application; its worker pool starts with the app and stops with it.

    ``on_ready`` (optional) is called once the workers are up; ``tasks`` names
    the module whose ``run`` answers a request in a worker.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with WorkerPool(workers=workers, timeout=timeout, tasks=tasks) as pool:
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
    app.add_middleware(_Headers)
    return app
