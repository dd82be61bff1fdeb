"""A bound on the work of one public call: it finishes, or stops with a one-line TooLargeError.

Input is bounded by size where a size predicts the work (characters, nesting,
nodes, digits, matrix powers, lines of a derivation, occurrences of the
variable).  Some work is not predicted well by any size (the simplifier on a
deeply nested chain rule), so every public call also runs under a budget of
CPU seconds of its own thread (``SECONDS``): load from other processes does
not count against it (a cap of ``WALL_FACTOR`` times as many seconds of wall
time catches work done in NumPy's threads).  The long loops call :func:`tick`.

>>> with bounded():
...     tick()
>>> with bounded(0):
...     tick()
Traceback (most recent call last):
...
matcalc.errors.TooLargeError: the computation is too large: it did not finish within 0 s of CPU time
"""

from __future__ import annotations

import contextvars
import functools
import time
from contextlib import contextmanager
from typing import Iterator

from .errors import TooLargeError

SECONDS = 10.0
WALL_FACTOR = 3  # and within this many times SECONDS of wall time: NumPy's own threads are not this thread's CPU

_deadline: contextvars.ContextVar = contextvars.ContextVar("matcalc_deadline", default=None)


@contextmanager
def bounded(seconds: float | None = None) -> Iterator[None]:
    """Run the block under a CPU-time budget; a block inside another keeps the outer budget."""
    if _deadline.get() is not None:
        yield
        return
    limit = SECONDS if seconds is None else seconds
    token = _deadline.set((time.thread_time() + limit, limit, time.monotonic() + WALL_FACTOR * limit))
    try:
        yield
    finally:
        _deadline.reset(token)


def tick(what: str = "the computation") -> None:
    """Raise TooLargeError when the current budget is spent (cheap: call it in long loops)."""
    d = _deadline.get()
    if d is not None and time.thread_time() > d[0]:
        raise TooLargeError(f"{what} is too large: it did not finish within {d[1]:g} s of CPU time")
    if d is not None and time.monotonic() > d[2]:
        raise TooLargeError(f"{what} is too large: it did not finish within {WALL_FACTOR * d[1]:g} s")


def guarded(fn):
    """``fn`` as a public entry point: under a budget, and a RecursionError becomes a TooLargeError."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with bounded():
            try:
                return fn(*args, **kwargs)
            except RecursionError:
                raise TooLargeError("the expression is too deeply nested to handle") from None

    return wrapped
