"""A pool of worker processes that answers each request within a hard deadline.

Every request runs in its own worker process, never in the event loop.  A worker
that overruns the deadline is killed (SIGKILL) and replaced by a fresh one, so a
pathological input costs its sender a 400 and nobody else anything.  Workers
are forked from a server process that has already imported matcalc, so a
replacement starts in milliseconds.

Each worker's address space is capped (``resource.RLIMIT_AS``) at what it holds
when it starts plus ``memory`` bytes, 2 GiB by default: a request that allocates
more gets a 400 saying so, and the worker that ran out of memory exits and is
replaced, so the next request gets a fresh one.  Workers run one BLAS thread
each unless ``OPENBLAS_NUM_THREADS`` (or OMP's, MKL's) says otherwise.

Answers are deterministic (the numerical checks are seeded), so the pool keeps
the last ``cache`` answers (200s and 400s, never a time-out) and answers a
repeated request, such as a whole class opening the same link, at once.

>>> import asyncio
>>> async def demo():
...     async with WorkerPool(workers=1, timeout=30) as pool:
...         return await pool.submit("derive", {"expr": "sum(W)", "wrt": "W", "verify": False})
>>> status, payload = asyncio.run(demo())
>>> status, payload["result"]
(200, 'ones(n, m)')
"""

from __future__ import annotations

import asyncio
import importlib
import json
import multiprocessing
import os
from multiprocessing import forkserver
from pathlib import Path
from collections import OrderedDict

STARTUP_SECONDS = 120  # a worker that has not imported matcalc by then is broken
MIN_WORKER_MEMORY = 512 * 1024 ** 2  # below this a worker cannot even import matcalc
WORKER_MEMORY = 2 * 1024 ** 3  # bytes of address space per worker (a worker with matcalc imported uses ~0.2 GiB)
OUT_OF_MEMORY = "the request needs more memory than the server allows each request ({limit}); it was stopped"

# Numerical libraries in the workers stay single-threaded: the pool is the parallelism.
_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _gib(n: int) -> str:
    return f"{n / 1024 ** 3:g} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:g} MiB"


def _address_space() -> int:
    """The bytes of address space this process holds now (0 where /proc does not say)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():  # read only: the server writes no file
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit_memory(limit: int) -> None:
    """Cap this process's address space at what it holds now plus ``limit`` bytes (never above the hard limit
    already in place): a request may allocate ``limit`` more, however large the libraries' own mappings are."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return
    total = _address_space() + limit
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (total if hard == resource.RLIM_INFINITY else min(total, hard), hard))


def _worker_main(conn, tasks_module: str, memory: int | None = None) -> None:
    """A worker's loop: receive (ticket, endpoint, body), send (ticket, (status, payload), retire), until the
    pipe closes.  ``retire`` is True after a MemoryError: the worker exits and the pool starts a fresh one."""
    if memory:
        _limit_memory(memory)
    tasks = importlib.import_module(tasks_module)
    conn.send("ready")  # only now may the pool hand this worker a request
    while True:
        try:
            ticket, endpoint, body = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = tasks.run(endpoint, body)
        except MemoryError:
            answer = None  # the failed allocation is freed once the exception is gone
        if answer is None:
            limit = _gib(memory) if memory else "its memory"
            conn.send((ticket, (400, {"error": OUT_OF_MEMORY.format(limit=limit), "column": None}), True))
            return
        conn.send((ticket, answer, False))


def _start_forkserver() -> None:
    """Start the fork server (once per process) where it can import matcalc, whatever the working directory.

    The fork server imports its preload list from its own default path, which
    holds the working directory but not the parent's ``sys.path``; matcalc's
    root goes on its PYTHONPATH so that the preload never silently fails.
    """
    root = str(Path(__file__).resolve().parents[2])
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH",) + BLAS_THREADS}
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    for k in BLAS_THREADS:  # one BLAS thread per worker (unless set): the workers are the parallelism, and a
        os.environ.setdefault(k, "1")  # thread pool per core would also take the memory cap's room
    try:
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Worker:
    def __init__(self, ctx, tasks_module: str, memory: int | None = None):
        parent, child = ctx.Pipe()
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child, tasks_module, memory), daemon=True)
        self.process.start()
        child.close()
        # wait until the worker has imported what it needs: that time never counts against a request
        try:
            ready = parent.poll(STARTUP_SECONDS) and parent.recv() == "ready"
        except (EOFError, OSError):  # it died while importing
            ready = False
        if not ready:
            self.kill()
            raise RuntimeError(f"a worker process did not start within {STARTUP_SECONDS} s")

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def close(self) -> None:
        self.conn.close()  # the worker sees EOF and returns
        self.process.join(2)
        if self.process.is_alive():
            self.kill()


class WorkerPool:
    """``workers`` processes; ``await submit(endpoint, body)`` gives (status, payload) within ``timeout`` seconds.

    The deadline covers the work itself; a request that waits longer than the
    deadline for a free worker is answered 503 (the server is busy).  ``tasks``
    names the module whose ``run(endpoint, body)`` the workers call; ``memory``
    caps each worker's address space in bytes (None: no cap).
    """

    def __init__(self, workers: int = 2, timeout: float = 10.0, cache: int = 256, tasks: str = "matcalc.web.tasks",
                 memory: int | None = WORKER_MEMORY):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if memory is not None and memory < MIN_WORKER_MEMORY:
            raise ValueError(f"the memory limit must be at least {_gib(MIN_WORKER_MEMORY)}, got {memory} bytes")
        self.workers = workers
        self.timeout = float(timeout)
        self.memory = memory
        self.killed = 0  # workers killed for overrunning
        self.out_of_memory = 0  # workers replaced after running out of memory
        self.cache_size = cache
        self.tasks = tasks
        self.hits = 0  # requests answered from the cache
        self._cache: OrderedDict = OrderedDict()
        self._ctx = None
        self._idle: asyncio.Queue | None = None
        self._all: set = set()
        self._tickets = 0
        self._pending: set = set()  # replacement workers being started

    async def start(self) -> "WorkerPool":
        for k, v in _SINGLE_THREAD.items():
            os.environ.setdefault(k, v)
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["matcalc.web.tasks"])
        _start_forkserver()
        self._idle = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for w in await asyncio.gather(*[loop.run_in_executor(None, _Worker, self._ctx, self.tasks, self.memory)
                                         for _ in range(self.workers)]):
            self._all.add(w)
            self._idle.put_nowait(w)
        return self

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        for w in list(self._all):
            w.close()
        self._all.clear()

    async def __aenter__(self) -> "WorkerPool":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _recycle(self, w: _Worker) -> None:
        """Kill ``w`` and start a fresh worker in the background; it joins the idle queue once it is ready."""
        self._all.discard(w)

        def respawn() -> _Worker:
            w.kill()
            return _Worker(self._ctx, self.tasks, self.memory)

        async def replace() -> None:
            fresh = await asyncio.get_running_loop().run_in_executor(None, respawn)
            self._all.add(fresh)
            self._idle.put_nowait(fresh)

        task = asyncio.get_running_loop().create_task(replace())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def submit(self, endpoint: str, body) -> tuple[int, dict]:
        """Run one request in a worker (or answer it from the cache); (status, JSON payload)."""
        key = (endpoint, json.dumps(body, sort_keys=True))
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            return self._cache[key]
        status, payload, keep = await self._run(endpoint, body)
        if keep and self.cache_size:
            self._cache[key] = (status, payload)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return status, payload

    async def _run(self, endpoint: str, body) -> tuple[int, dict, bool]:
        """(status, payload, whether the answer may be cached): only what the worker itself answered."""
        try:
            w = await asyncio.wait_for(self._idle.get(), self.timeout)
        except asyncio.TimeoutError:
            return 503, {"error": f"the server is busy: no worker was free within {self.timeout:g} s; try again",
                         "column": None}, False
        self._tickets += 1
        ticket = self._tickets
        try:
            w.conn.send((ticket, endpoint, body))
            answered, (status, payload), retire = await asyncio.wait_for(self._receive(w.conn), self.timeout)
        except asyncio.TimeoutError:
            self.killed += 1
            self._recycle(w)
            return 400, {"error": f"the request took longer than the {self.timeout:g} s limit and was stopped",
                         "column": None}, False
        except (EOFError, OSError):
            self._recycle(w)
            return 500, {"error": "the worker process died while answering (out of memory?); it was replaced",
                         "column": None}, False
        except BaseException:
            # cancelled while the worker is busy: its answer must never reach the next request
            self._recycle(w)
            raise
        if answered != ticket:  # cannot happen; if it did, the answer belongs to another request
            self._recycle(w)
            return 500, {"error": "internal error: a worker answered another request; it was replaced",
                         "column": None}, False
        if retire:  # it ran out of memory and exits: a fresh worker takes its place
            self.out_of_memory += 1
            self._recycle(w)
            return status, payload, False
        self._idle.put_nowait(w)
        return status, payload, status in (200, 400)

    @staticmethod
    async def _receive(conn) -> tuple[int, tuple[int, dict], bool]:
        """Wait, without blocking the event loop, until the worker answers (or dies)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return conn.recv()
