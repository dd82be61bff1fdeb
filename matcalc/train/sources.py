"""Where the training samples come from: an array in memory, a memmap on disk, a sparse matrix or a Dask array.

A :class:`Source` hands out the rows of ``X`` in blocks (dense ``b x p``
arrays), so that data larger than memory is read one block at a time and never
copied whole:

* a NumPy array in memory is one block;
* an ``np.memmap`` is read in blocks of rows; after each block its pages are
  released from the process (``madvise(MADV_DONTNEED)`` on a shared mapping),
  so the resident memory stays at one block;
* a SciPy sparse matrix (CSR) is densified one block at a time;
* a Dask array chunked along the samples (one chunk across the features) is
  reduced chunk-wise on Dask's scheduler: local threads, or the
  ``distributed.Client`` passed as ``client``.

:meth:`Source.map_sum` applies a function to every block and sums the results;
:func:`moments` uses it for the mean and scale of each feature, computed
stably (each feature divided by its largest magnitude first, in float64), so
float32 values of 1e19 and more do not overflow.

>>> import numpy as np
>>> src = source(np.arange(12.0).reshape(6, 2), block_rows=4)
>>> [(a, b) for a, b in src.ranges()]
[(0, 4), (4, 6)]
>>> mean, scale = moments(src)
>>> mean.tolist(), np.round(scale, 6).tolist()
([5.0, 6.0], [3.41565, 3.41565])
"""

from __future__ import annotations

import mmap
import os
from typing import Callable, Optional

import numpy as np

from .data import DataError

BLOCK_BYTES = 32 * 2**20  # about 32 MB of features per block


def _rows_per_block(p: int, itemsize: int, block_rows: Optional[int]) -> int:
    if block_rows is not None:
        return max(1, int(block_rows))
    return max(1024, BLOCK_BYTES // max(1, p * itemsize))


class Source:
    """Rows of X in blocks; subclasses say how a block is read."""

    streamed = True

    def __init__(self, X, block_rows: Optional[int] = None):
        self.X = X
        self.n_samples, self.n_features = (int(d) for d in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.block_rows = _rows_per_block(self.n_features, self.dtype.itemsize, block_rows)

    def ranges(self) -> list:
        """``(start, stop)`` of every block of rows."""
        step = self.block_rows
        return [(a, min(a + step, self.n_samples)) for a in range(0, self.n_samples, step)]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a dense array."""
        return np.asarray(self.X[start:stop])

    def map_sum(self, fn: Callable, *per_sample) -> list:
        """``sum over blocks of fn(block, *(a[start:stop] for a in per_sample))``, entry by entry of its tuple."""
        total = None
        for a, b in self.ranges():
            out = fn(self.read(a, b), *(s[a:b] for s in per_sample))
            total = list(out) if total is None else [t + o for t, o in zip(total, out)]
        return total


class InMemory(Source):
    """A NumPy array already in memory: one block, no copy."""

    streamed = False

    def __init__(self, X, block_rows: Optional[int] = None):
        super().__init__(X, block_rows if block_rows is not None else max(1, X.shape[0]))


class Memmap(Source):
    """An ``np.memmap`` read in blocks of rows; the pages of a block leave the process after it is used."""

    def read(self, start: int, stop: int) -> np.ndarray:
        block = np.array(self.X[start:stop])
        self._release()
        return block

    def _release(self) -> None:
        m = getattr(self.X, "_mmap", None)
        # only a shared mapping: dropping the pages of a private (copy-on-write) one would lose its edits
        if m is not None and getattr(self.X, "mode", "c") in ("r", "r+") and hasattr(m, "madvise"):
            try:
                m.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):  # pragma: no cover - a platform without it keeps the pages
                pass


class Sparse(Source):
    """A SciPy sparse matrix, densified one block of rows at a time."""

    def __init__(self, X, block_rows: Optional[int] = None):
        super().__init__(X.tocsr(), block_rows)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.X[start:stop].toarray()


class DaskSource(Source):
    """A Dask array chunked along the samples; blocks are reduced on Dask's scheduler (or ``client``)."""

    def __init__(self, X, client=None):
        if X.ndim != 2:
            raise DataError(f"X must be a 2-D array (samples x features), got {X.ndim} dimension(s) of shape {X.shape}")
        if any(np.isnan(c) for c in X.shape):
            raise DataError("the Dask array X has unknown chunk sizes; call X.compute_chunk_sizes() first")
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})  # one chunk across the features: a block is whole samples
        super().__init__(X, None)
        self.client = client
        self._ranges = []
        start = 0
        for rows in X.chunks[0]:
            self._ranges.append((start, start + rows))
            start += rows

    def ranges(self) -> list:
        return list(self._ranges)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.X[start:stop].compute())

    def map_sum(self, fn: Callable, *per_sample) -> list:
        import dask

        blocks = self.X.to_delayed().ravel()
        tasks = [dask.delayed(fn)(blk, *(s[a:b] for s in per_sample)) for blk, (a, b) in zip(blocks, self._ranges)]
        total = None
        # in waves of one block per worker thread: the scheduler would otherwise read ahead far more
        # blocks than it can reduce, and hold them all in memory
        wave = self._threads()
        for i in range(0, len(tasks), wave):
            if self.client is not None:
                parts = self.client.gather(self.client.compute(tasks[i:i + wave]))
            else:
                parts = dask.compute(*tasks[i:i + wave])
            for out in parts:
                total = list(out) if total is None else [t + o for t, o in zip(total, out)]
        return total

    def _threads(self) -> int:
        if self.client is not None:
            try:
                return max(1, sum(self.client.nthreads().values()))
            except Exception:  # pragma: no cover - a client without workers yet
                return 1
        import dask

        workers = dask.config.get("num_workers", None)
        return max(1, int(workers) if workers else (os.cpu_count() or 1))


def is_dask(X) -> bool:
    return type(X).__module__.startswith("dask.") and hasattr(X, "to_delayed")


def is_sparse(X) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def source(X, block_rows: Optional[int] = None, client=None) -> Source:
    """The :class:`Source` for ``X``: Dask, sparse, memmap or an array in memory."""
    if is_dask(X):
        return DaskSource(X, client)
    if is_sparse(X):
        return Sparse(X, block_rows)
    if isinstance(X, np.memmap) and getattr(X, "_mmap", None) is not None:
        return Memmap(X, block_rows)
    return InMemory(np.asarray(X), block_rows)


# -- the statistics of each feature ----------------------------------------------------------


class _MaxAbs:
    def __call__(self, block):
        return (np.abs(block).max(axis=0).astype(np.float64), _nonfinite(block))


class _Sum:
    def __init__(self, shift, unit):
        self.shift, self.unit = shift, unit

    def __call__(self, block, s=None):
        z = block.astype(np.float64)
        z /= self.unit
        z -= self.shift
        if s is None:
            return (z.sum(axis=0), np.einsum("ij,ij->j", z, z), float(len(z)))
        w = np.asarray(s, dtype=np.float64).reshape(-1)
        return (w @ z, np.einsum("i,ij,ij->j", w, z, z), float(w.sum()))


def _nonfinite(block) -> int:
    return int(np.count_nonzero(~np.isfinite(block)))


def moments(src: Source, weights: Optional[np.ndarray] = None) -> tuple:
    """``(mean, scale)`` of each feature (float64; weighted by ``weights``), computed without overflow.

    Each feature is divided by its largest magnitude before anything is
    squared, so the sums stay near 1 whatever the units.  A constant feature
    gets the scale 1 (so does one whose spread is below 1e-10 of its largest magnitude).
    """
    top, bad = src.map_sum(_MaxAbs())
    if bad:
        raise DataError(f"X holds {bad} value(s) that are not finite numbers (drop or impute those rows)")
    unit = np.where(top > 0, top, 1.0)
    extra = () if weights is None else (weights,)
    # pass 1 gives the mean (in units of the largest magnitude); pass 2 the spread around it
    first, _, wsum = src.map_sum(_Sum(np.zeros_like(unit), unit), *extra)
    centre = first / wsum
    _, second, _ = src.map_sum(_Sum(centre, unit), *extra)
    spread = np.sqrt(np.maximum(second / wsum, 0.0))
    mean = centre * unit
    scale = spread * unit
    # a spread below 1e-10 of the feature's largest magnitude is rounding noise: the feature is constant
    scale[spread <= 1e-10] = 1.0
    return mean, scale
