"""A training problem: an objective over a data source, evaluated block by block for a weight ``W``.

The weight keeps the bias trick's layout (``k x (p+1)`` or ``(p+1) x 1``, the
bias last), but the data never get a row of ones: the compiled functions take
the weights and the bias apart (:func:`matcalc.train.losses.split_bias`), so
an array in memory that needs no standardizing is used as it is, transposed
(the lecture's layout, p x n, samples are columns) without a copy.  A block
that is standardized (``(x - mean) / scale``) is copied once.  Every block
contributes its share ``b / n`` of the compiled, derived value, gradient and
Hessian-vector product of the smooth objective
(:func:`matcalc.train.losses.smooth`); the sum over the blocks is the
objective on all the samples.

The work done on a block is a small picklable object (:class:`BlockValueGrad`,
:class:`BlockHvp`), so a Dask cluster can run it in another process: there the
formula is derived, verified and compiled once, from the same table.

>>> import numpy as np
>>> from matcalc.train.losses import Objective
>>> from matcalc.train.sources import source
>>> X, y = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]]), np.array([0.0, 0.0, 1.0, 1.0])
>>> prob = Problem(Objective("logistic", "l2", lam=0.1), source(X), y.reshape(-1, 1))
>>> v, g = prob.value_and_grad(np.zeros((3, 1)))
>>> round(v, 6), g.shape                                   # log 2 at w = 0
(0.693147, (3, 1))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .losses import Objective, smooth
from .sources import InMemory, Source, moments


def standardized(block: np.ndarray, mean: np.ndarray, scale: np.ndarray, dtype) -> np.ndarray:
    """``p x b``: the block standardized and transposed; a view of it when there is nothing to compute."""
    if not mean.any() and (scale == 1).all():  # standardize=False: the rows as they are
        return (block if block.dtype == dtype else block.astype(dtype)).T
    out = np.subtract(block, mean, dtype=dtype)
    out *= 1 / scale
    return out.T


def split(W: np.ndarray, binary: bool) -> tuple:
    """(weights, bias) of a weight in the bias trick's layout: views, no copies."""
    return (W[:-1], W[-1:]) if binary else (W[:, :-1], W[:, -1:])


def join(gW, gb, binary: bool) -> np.ndarray:
    """The inverse of :func:`split` for gradients and Hessian-vector products."""
    gW = np.asarray(gW)
    gb = np.asarray(gb, dtype=gW.dtype).reshape(1, 1) if binary else np.asarray(gb, dtype=gW.dtype)
    return np.concatenate([gW, gb], axis=0 if binary else 1)


@dataclass
class _Spec:
    """What a block needs to evaluate the smooth objective: picklable, no compiled code inside."""

    loss: str
    weighted: bool
    l2: bool
    lam2: float
    wrt: str
    target: str
    mean: np.ndarray
    scale: np.ndarray
    dtype: object
    n_total: int
    standardized: bool

    @property
    def binary(self) -> bool:
        return self.wrt == "w"

    def arrays(self, W, block, T, s) -> dict:
        Xb = block if self.standardized else standardized(block, self.mean, self.scale, self.dtype)
        weights, bias = split(W, self.binary)
        out = {self.wrt: weights, "b": bias, "X": Xb, self.target: T if self.binary else T.T}  # y n x 1, Y k x n
        if self.weighted:
            out["s"] = np.asarray(s, dtype=self.dtype).reshape(-1, 1)
        if self.l2:
            out["lam"] = self.lam2
        return out

    def share(self, block) -> float:
        return block.shape[1 if self.standardized else 0] / self.n_total


@dataclass
class BlockValueGrad:
    """One block's share of the value and gradient."""

    spec: _Spec
    W: np.ndarray

    def __call__(self, block, T, s=None):
        f = smooth(self.spec.loss, self.spec.weighted, self.spec.l2)
        v, gW, gb = f.value_and_grad(**self.spec.arrays(self.W, block, T, s))
        share = self.spec.share(block)
        g = join(gW, gb, self.spec.binary)
        g *= share
        return float(v) * share, g


@dataclass
class BlockHvp:
    """One block's share of the Hessian applied to ``V``."""

    spec: _Spec
    W: np.ndarray
    V: np.ndarray

    def __call__(self, block, T, s=None):
        f = smooth(self.spec.loss, self.spec.weighted, self.spec.l2)
        hW, hb = f.hvp(*split(self.V, self.spec.binary), **self.spec.arrays(self.W, block, T, s))
        hv = join(hW, hb, self.spec.binary)
        hv *= self.spec.share(block)
        return (hv,)


class Problem:
    """``objective`` on the samples of ``src`` with targets ``T`` (n x k one-hot, or n x 1 of 0/1).

    ``weights`` (length n, any positive scale; normalised here to mean 1)
    weight each sample's loss.  ``mean`` and ``scale`` standardize the
    features; by default they are computed from the data (weighted), or pass
    zeros and ones to leave the features as they are.
    """

    def __init__(self, objective: Objective, src: Source, T: np.ndarray, weights: Optional[np.ndarray] = None,
                 mean: Optional[np.ndarray] = None, scale: Optional[np.ndarray] = None, dtype=None):
        self.objective = objective
        self.src = src
        self.dtype = np.dtype(dtype if dtype is not None else (np.float32 if src.dtype == np.float32 else np.float64))
        n = src.n_samples
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64).reshape(-1)
            weights = weights * (n / weights.sum())
        if mean is None or scale is None:
            mean, scale = moments(src, weights)
        self.mean, self.scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        self.T = np.asarray(T, dtype=self.dtype)
        self.weights = None if weights is None else weights.astype(self.dtype)
        self.weighted = weights is not None
        f = objective.loss_formula
        self.spec_args = (f.name, self.weighted, objective.l2 > 0, objective.l2, f.wrt, objective.target,
                          self.mean.astype(self.dtype), self.scale.astype(self.dtype), self.dtype, n)
        # an array in memory is standardized once (or used as it is), as one p x n block
        self.Xb = None
        if isinstance(src, InMemory):
            self.Xb = standardized(src.X, self.spec_args[6], self.spec_args[7], self.dtype)
        self.spec = _Spec(*self.spec_args, standardized=self.Xb is not None)
        self.n_evaluations = 0

    @property
    def n_samples(self) -> int:
        return self.src.n_samples

    def weight_shape(self, n_classes: int) -> tuple:
        p = self.src.n_features + 1
        return (p, 1) if self.objective.wrt == "w" else (n_classes, p)

    def _extra(self) -> tuple:
        return (self.T,) + ((self.weights,) if self.weighted else ())

    def _run(self, task) -> list:
        if self.Xb is not None:
            return list(task(self.Xb, *self._extra()))
        return self.src.map_sum(task, *self._extra())

    def value_and_grad(self, W: np.ndarray) -> tuple:
        """The smooth objective (loss + L2 part) on all samples and its derived gradient, shaped like ``W``."""
        W = np.asarray(W, dtype=self.dtype)
        self.n_evaluations += 1
        v, g = self._run(BlockValueGrad(self.spec, W))
        return float(v), g

    def hvp(self, W: np.ndarray, V: np.ndarray) -> np.ndarray:
        """The derived Hessian of the smooth objective at ``W`` applied to ``V``."""
        W = np.asarray(W, dtype=self.dtype)
        (hv,) = self._run(BlockHvp(self.spec, W, np.asarray(V, dtype=self.dtype)))
        return hv

    def hvp_at(self, W: np.ndarray):
        """``V -> hvp(W, V)``.  For an array in memory the curvature at ``W`` (the sigmoid or softmax of
        the scores) is computed once, here, and each product costs two passes over the data, not three."""
        W = np.asarray(W, dtype=self.dtype)
        if self.Xb is None:
            return lambda V: self.hvp(W, V)
        f = smooth(self.spec.loss, self.spec.weighted, self.spec.l2)
        at = f.hvp_at(**self.spec.arrays(W, self.Xb, self.T, self.weights))
        binary, share = self.spec.binary, self.spec.share(self.Xb)

        def product(V):
            hW, hb = at(*split(np.asarray(V, dtype=self.dtype), binary))
            hv = join(hW, hb, binary)
            hv *= share
            return hv

        return product

    def scores(self, W: np.ndarray, idx) -> np.ndarray:
        """The scores (k x b, or 1 x b) of the samples ``idx`` of an array in memory."""
        weights, bias = split(W, self.spec.binary)
        Xb = self.Xb[:, idx]
        return (weights.T @ Xb + bias) if self.spec.binary else (weights @ Xb + bias)

    def objective_value(self, W: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
        """The whole objective: the smooth part plus the L1 part."""
        v, _ = self.value_and_grad(W)
        return v + self.l1_value(W, mask)

    def l1_value(self, W, mask=None) -> float:
        if self.objective.l1 == 0:
            return 0.0
        mask = self.objective.mask(W) if mask is None else mask
        return float(self.objective.l1 * np.sum(np.abs(mask * W)))

    def batch_value_and_grad(self, W: np.ndarray, idx) -> tuple:
        """The smooth objective and its gradient on the samples ``idx`` (an array in memory only)."""
        T = self.T[idx]
        s = self.weights[idx] if self.weighted else None
        Xb = self.Xb[:, idx]
        spec = _Spec(*self.spec_args[:-1], Xb.shape[1], standardized=True)
        return BlockValueGrad(spec, W)(Xb, T, s)

    def block_value_and_grad(self, W: np.ndarray, block: np.ndarray, T, s) -> tuple:
        """The same on a block of raw rows (standardized here): for streams."""
        spec = _Spec(*self.spec_args[:-1], len(block), standardized=False)
        return BlockValueGrad(spec, W)(block, T, s)
