"""The JSON API through Starlette's TestClient: each endpoint with good and bad input, and the limits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from matcalc import cli
from matcalc.web import allowed_hosts
from matcalc.web.app import LOCAL_HOSTS, create_app

TEST_HOSTS = LOCAL_HOSTS + ("testserver",)  # the Host that Starlette's TestClient sends, allowed explicitly


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=2, timeout=60, allowed_hosts=TEST_HOSTS)) as c:
        yield c


def _get(path):
    """A reader for a dotted path into the JSON answer: 'verification.ok', 'steps.0.status'."""
    def read(payload):
        for key in path.split("."):
            payload = payload[int(key)] if isinstance(payload, list) else payload.get(key)
        return payload
    return read


# endpoint, body, (path into the answer, value it must have)
GOOD = [
    ("derive", {"expr": "x'*A*x", "wrt": "x"}, ("result", "(A + A')*x")),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "layout": "numerator"}, ("result", "x'*(A + A')")),
    ("derive", {"expr": "x'*A*x", "wrt": "x"}, ("verification.ok", True)),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "assume": {"A": "symmetric"}}, ("result", "2*A*x")),
    ("derive", {"expr": "sum(A*x)", "wrt": "x", "shapes": {"A": [3, "n"]}}, ("shape", ["n", 1])),
    ("derive", {"expr": "log(det(X))", "wrt": "X", "verify": False}, ("verification", None)),
    ("derive", {"expr": "a'*X*b", "wrt": "X"}, ("kind", "gradient")),
    ("hessian", {"expr": "x'*A*x", "wrt": "x"}, ("result", "A + A'")),
    ("check", {"expr": "(lambd/(2*m))*normF(W1)^2", "wrt": "W1", "claimed": "lambd*sum(W1)/m"},
     ("mistake", "sum-instead-of-matrix")),
    ("check", {"expr": "(lambd/(2*m))*normF(W1)^2", "wrt": "W1", "claimed": "lambd*W1/m"}, ("correct", True)),
    ("check", {"expr": "x'*A*x", "wrt": "x", "claimed": "x'*(A + A')", "layout": "denominator"},
     ("mistake", "layout")),
    ("check", {"expr": "x'*A*x", "wrt": "x", "claimed": "A + A'", "order": 2}, ("correct", True)),
    ("check", {"expr": "normF(W)^2", "wrt": "W", "claimed": r"2 \mathbf{W}"}, ("correct", True)),
    ("steps", {"lines": ["J = x'*A*x", "d/dx J = 2*A*x"]}, ("first_wrong_line", 2)),
    ("steps", {"lines": "J = x'*A*x\nd/dx J = A*x + A'*x"}, ("ok", True)),
    ("explain", {"expr": "normF(W)^2", "wrt": "W"}, ("result.result", "2*W")),
    ("explain", {"expr": "normF(W)^2", "wrt": "W", "layout": "numerator"}, ("layout", "numerator")),
    ("variables", {"expr": "x'*A*x"}, ("variables.A.shape", ["n", "n"])),
    ("variables", {"expr": "x'*A*x", "shapes": {"x": "scalar"}, "assume": {}}, ("variables.x.shape", [])),
]


@pytest.mark.parametrize("endpoint, body, expect", GOOD)
def test_good_input(client, endpoint, body, expect):
    r = client.post(f"/api/{endpoint}", json=body)
    assert r.status_code == 200, r.text
    path, value = expect
    assert _get(path)(r.json()) == value


# endpoint, body, a phrase the one-line error must contain, the column (None when no position applies)
BAD = [
    ("derive", {"expr": "x'*A*", "wrt": "x"}, "unexpected end of input", 6),
    ("derive", {"expr": "x'*A*x)", "wrt": "x"}, "unexpected ')'", 7),
    ("derive", {"expr": "x*A", "wrt": "x"}, "matrix product", 1),
    ("derive", {"expr": "x'*A*x", "wrt": "y"}, "does not depend on y", None),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "layout": "sideways"}, "layout must be", None),
    ("derive", {"expr": "x'*A*x"}, "needs the field 'wrt'", None),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "claimed": "2*A*x"}, "unknown field 'claimed'", None),
    ("derive", {"expr": 3, "wrt": "x"}, "'expr' must be a string", None),
    ("derive", {"expr": "x'*A*x", "wrt": "x", "shapes": {"A": {"n": 1}}}, "'shapes' must be", None),
    ("derive", {"expr": "(" * 1000 + "x" + ")" * 1000, "wrt": "x"}, "nest", None),
    ("derive", {"expr": "x + " * 6000 + "x", "wrt": "x"}, "characters", None),
    ("hessian", {"expr": "A*x", "wrt": "x"}, "scalar", None),
    ("check", {"expr": "x'*A*x", "wrt": "x", "claimed": "2*A*"}, "unexpected end of input", 5),
    ("check", {"expr": "x'*A*x", "wrt": "x", "claimed": "A*x", "order": 3}, "'order' must be 1 or 2", None),
    ("check", {"expr": "x'*A*x", "wrt": "x"}, "needs the field 'claimed'", None),
    ("steps", {"lines": []}, "no steps", None),
    ("steps", {"lines": 5}, "'lines' must be", None),
    ("explain", {"expr": "normF(W)^2", "wrt": "X"}, "does not depend on X", None),
    ("variables", {"expr": "exp("}, "unexpected end of input", 5),
]


@pytest.mark.parametrize("endpoint, body, phrase, column", BAD)
def test_bad_input_is_400_with_one_line_and_column(client, endpoint, body, phrase, column):
    r = client.post(f"/api/{endpoint}", json=body)
    assert r.status_code == 400, r.text
    out = r.json()
    assert set(out) <= {"error", "column", "input"} and {"error", "column"} <= set(out)
    assert "\n" not in out["error"] and "Traceback" not in out["error"]
    assert phrase in out["error"]
    assert out["column"] == column


# method, path, raw body, status, a phrase of the error
HTTP = [
    ("POST", "/api/derivative", b"{}", 404, "no such endpoint"),
    ("GET", "/api/derive", None, 405, "Method Not Allowed"),
    ("POST", "/api/derive", b"{not json", 400, "not valid JSON"),
    ("POST", "/api/derive", b"[" * 5000 + b"]" * 5000, 400, "not valid JSON"),
    ("POST", "/api/derive", b"[1, 2]", 400, "must be a JSON object"),
    ("POST", "/api/derive", b"", 400, "must be a JSON object"),
    ("POST", "/api/derive", b'{"expr": "' + b"x" * 70_000 + b'", "wrt": "x"}', 413, "larger than the limit"),
    ("GET", "/no/such/page", None, 404, "Not Found"),
]


@pytest.mark.parametrize("method, path, body, status, phrase", HTTP)
def test_http_errors_are_json(client, method, path, body, status, phrase):
    r = client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert phrase in r.json()["error"]
    assert r.json()["column"] is None


def _cli_json(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(argv)
    return json.loads(out.getvalue())


# endpoint, body, the same request on the command line
SAME_AS_CLI = [
    ("derive", {"expr": "x'*A*x", "wrt": "x", "layout": "numerator"},
     ["derive", "x'*A*x", "--wrt", "x", "--layout", "numerator", "--format", "json"]),
    ("hessian", {"expr": "normF(A*x)^2", "wrt": "x", "shapes": {"A": [3, "n"]}},
     ["hessian", "normF(A*x)^2", "--wrt", "x", "--shape", "A=3,n", "--format", "json"]),
    ("check", {"expr": "normF(W)^2", "wrt": "W", "claimed": "2*sum(W)"},
     ["check", "--expr", "normF(W)^2", "--wrt", "W", "--claimed", "2*sum(W)", "--format", "json"]),
]


@pytest.mark.parametrize("endpoint, body, argv", SAME_AS_CLI)
def test_same_json_as_the_cli(client, endpoint, body, argv):
    r = client.post(f"/api/{endpoint}", json=body)
    assert r.status_code == 200
    assert r.json() == _cli_json(argv)


def test_page_and_katex_are_served_with_security_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http://", "").split("<body>")[0]  # no CDN links in the head
    for path in ("/static/katex/katex.min.js", "/static/katex/katex.min.css", "/static/katex/LICENSE",
                 "/static/katex/fonts/KaTeX_Main-Regular.woff2", "/static/app.js"):
        assert client.get(path).status_code == 200, path


def test_a_slow_request_is_killed_and_the_worker_replaced(tmp_path, monkeypatch):
    from matcalc.web.pool import WorkerPool

    monkeypatch.chdir(tmp_path)  # the server writes no files: the folder stays empty
    limit = 2.0

    async def scenario():
        async with WorkerPool(workers=1, timeout=limit, tasks="web_slow_tasks") as pool:
            start = time.monotonic()
            slow = await pool.submit("slow", {})  # sleeps for 10 minutes
            took = time.monotonic() - start
            again = await pool.submit("slow", {})  # a time-out is never cached: it runs, and is stopped, again
            # the one worker was replaced each time: the next request is answered
            after = await pool.submit("variables", {"expr": "sum(W)"})
            return slow, took, again, after, pool.killed

    slow, took, again, after, killed = asyncio.run(scenario())
    stopped = (400, {"error": f"the request took longer than the {limit:g} s limit and was stopped", "column": None})
    assert slow == stopped and again == stopped
    assert limit <= took < limit + 5
    assert killed == 2
    assert after[0] == 200 and after[1]["variables"]["W"]["shape"] == ["n", "m"]
    assert list(tmp_path.iterdir()) == []


# the limit, the size of the body, whether it is sent in chunks (no Content-Length), the status
BODY_LIMIT = [
    (1000, 900, False, 200),
    (1000, 1100, False, 413),
    (1000, 900, True, 200),
    (1000, 5000, True, 413),
]


@pytest.mark.parametrize("limit, size, chunked, status", BODY_LIMIT)
def test_body_limit(limit, size, chunked, status):
    body = json.dumps({"expr": "sum(W)", "wrt": "W", "verify": False})
    body = (body[:-1] + " " * (size - len(body)) + "}").encode()
    content = (body[i:i + 256] for i in range(0, len(body), 256)) if chunked else body
    with TestClient(create_app(workers=1, timeout=30, max_body=limit, allowed_hosts=TEST_HOSTS)) as c:
        r = c.post("/api/derive", content=content, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert ("error" in r.json()) == (status != 200)


# endpoint, body: a repeated request is answered from the cache, with the same JSON
CACHED = [
    ("derive", {"expr": "x'*B*x + sum(B)", "wrt": "B"}),
    ("check", {"expr": "normF(V)^2", "wrt": "V", "claimed": "2*sum(V)"}),
    ("derive", {"expr": "x'*B*", "wrt": "x"}),  # an error is the same error the second time
]


@pytest.mark.parametrize("endpoint, body", CACHED)
def test_repeated_request_from_the_cache(client, endpoint, body):
    pool = client.app.state.pool
    first = client.post(f"/api/{endpoint}", json=body)
    hits = pool.hits
    again = client.post(f"/api/{endpoint}", json=dict(reversed(list(body.items()))))  # key order does not matter
    assert pool.hits == hits + 1
    assert (again.status_code, again.json()) == (first.status_code, first.json())


def test_a_cancelled_request_never_answers_the_next_one():
    from matcalc.web.pool import WorkerPool

    async def scenario():
        async with WorkerPool(workers=1, timeout=60, cache=0, tasks="web_slow_tasks") as pool:
            slow = asyncio.ensure_future(pool.submit("slow", {}))
            await asyncio.sleep(0.5)
            slow.cancel()  # the client went away while the only worker is busy
            return await pool.submit("derive", {"expr": "sum(W)", "wrt": "W", "verify": False})

    status, payload = asyncio.run(scenario())
    assert status == 200 and payload["function"] == "sum(W)"


def test_a_request_that_needs_too_much_memory_gets_400_and_a_fresh_worker():
    from matcalc.web.pool import MIN_WORKER_MEMORY, WorkerPool

    async def scenario():
        async with WorkerPool(workers=1, timeout=60, memory=MIN_WORKER_MEMORY, tasks="web_slow_tasks") as pool:
            first = next(iter(pool._all)).process.pid
            hog = await pool.submit("hog", {})  # allocates 2 GiB under a 512 MiB limit
            again = await pool.submit("hog", {})  # never cached: it runs, and fails, again
            after = await pool.submit("derive", {"expr": "sum(W)", "wrt": "W"})
            return hog, again, after, pool.out_of_memory, first, {w.process.pid for w in pool._all}

    hog, again, after, replaced, first, now = asyncio.run(scenario())
    assert hog[0] == 400 and "needs more memory than the server allows each request (512 MiB)" in hog[1]["error"]
    assert hog[1]["column"] is None and again == hog
    assert replaced == 2 and first not in now
    assert after[0] == 200 and after[1]["result"] == "ones(n, m)" and after[1]["verification"]["ok"]


def test_the_memory_cap_is_room_beyond_what_a_worker_holds_and_workers_run_one_blas_thread():
    """The cap is the worker's own address space plus the budget (libraries that map a lot at start, such as
    a BLAS with a buffer per core, keep the whole budget), and a worker runs one BLAS thread unless told."""
    import os

    from matcalc.web.pool import MIN_WORKER_MEMORY, WorkerPool

    async def scenario():
        async with WorkerPool(workers=1, timeout=60, memory=MIN_WORKER_MEMORY, cache=0, tasks="web_slow_tasks") as pool:
            return await pool.submit("limits", {})

    status, body = asyncio.run(scenario())
    assert status == 200 and body["blas"] == os.environ.get("OPENBLAS_NUM_THREADS", "1")
    assert body["held"] > 0 and body["held"] < body["cap"] <= body["held"] + MIN_WORKER_MEMORY


# the Host header a request sends; the status under the default hosts (a server bound to a loopback address)
HOSTS = [
    ("localhost:8000", 200),
    ("127.0.0.1:8000", 200),
    ("127.0.0.1", 200),
    ("[::1]:8000", 200),
    ("LOCALHOST", 200),
    ("evil.example", 400),
    ("evil.example:8000", 400),
    ("localhost.evil.example", 400),
    ("127.0.0.1.nip.io", 400),
    ("testserver", 400),
    ("", 400),
]


@pytest.fixture(scope="module")
def loopback_client():
    with TestClient(create_app(workers=1, timeout=60)) as c:  # the default: only the loopback names
        yield c


@pytest.mark.parametrize("host, status", HOSTS)
def test_host_header_is_checked_against_dns_rebinding(loopback_client, host, status):
    for r in (loopback_client.get("/", headers={"host": host}),
              loopback_client.post("/api/variables", json={"expr": "x'*A*x"}, headers={"host": host})):
        assert r.status_code == status
        assert r.headers["x-content-type-options"] == "nosniff"
        if status == 400:
            body = r.json()
            assert body["column"] is None and "Host header" in body["error"] and "--allow-host" in body["error"]
            assert "\n" not in body["error"]


# the address bound, the --allow-host names, the Host names accepted (None: any)
ALLOWED = [
    ("127.0.0.1", [], LOCAL_HOSTS),
    ("localhost", [], LOCAL_HOSTS),
    ("::1", [], LOCAL_HOSTS),
    ("0.0.0.0", [], None),
    ("192.168.1.5", [], None),
    ("0.0.0.0", ["calc.example.org", "192.168.1.5"], LOCAL_HOSTS + ("calc.example.org", "192.168.1.5")),
    ("127.0.0.1", ["Calc.Example.org:8000"], LOCAL_HOSTS + ("calc.example.org",)),
]


@pytest.mark.parametrize("bind, allow, hosts", ALLOWED)
def test_allowed_hosts_follow_the_bound_address(bind, allow, hosts):
    assert allowed_hosts(bind, allow) == hosts


def test_allow_host_is_repeatable_and_lets_that_name_in():
    args = cli.build_parser().parse_args(["serve", "--allow-host", "calc.example.org", "--allow-host", "10.0.0.2"])
    assert args.allow_host == ["calc.example.org", "10.0.0.2"] and args.memory == 2048
    with TestClient(create_app(workers=1, timeout=60, allowed_hosts=allowed_hosts("0.0.0.0", args.allow_host))) as c:
        assert c.get("/", headers={"host": "calc.example.org:8000"}).status_code == 200
        assert c.get("/", headers={"host": "10.0.0.2"}).status_code == 200
        assert c.get("/", headers={"host": "10.0.0.3"}).status_code == 400


# argv, the exit status, a phrase of the one line on stderr
SERVE_ERRORS = [
    (["serve", "--workers", "0"], 2, "--workers must be at least 1"),
    (["serve", "--timeout", "0"], 2, "--timeout must be positive"),
    (["serve", "--memory", "100"], 2, "--memory must be at least 512"),
    (["serve", "--memory", "-1"], 2, "--memory must be at least 512"),
    (["serve", "--allow-host", ""], 2, "--allow-host needs a name"),
]


@pytest.mark.parametrize("argv, status, phrase", SERVE_ERRORS)
def test_serve_bad_options(argv, status, phrase, capsys):
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert phrase in err and len(err.strip().splitlines()) == 1


def test_serve_binds_loopback_by_default():
    args = cli.build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.timeout) == ("127.0.0.1", 8000, 10.0)


WEB_SOURCES = sorted((Path(__file__).resolve().parent.parent / "matcalc" / "web").glob("*.py")) + [
    Path(__file__).resolve().parent.parent / "matcalc" / "serialize.py"]


@pytest.mark.parametrize("path", WEB_SOURCES, ids=lambda p: p.name)
def test_no_user_text_to_eval(path):
    source = path.read_text()
    for banned in ("eval(", "exec(", "sympify(", "parse_expr(", "open("):
        assert banned not in source, f"{path.name} calls {banned}"
