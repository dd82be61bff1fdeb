"""A training problem: an objective over a data source, evaluated block by block for a weight ``W``.

The rows of ``X`` are standardized (``(x - mean) / scale``) and given the
bias row of ones block by block, transposed to the lecture's layout
((p+1) x b, samples are columns).  Every block contributes its share
``b / n`` of the compiled, derived value, gradient and Hessian-vector
product of the smooth objective (:func:`matcalc.train.losses.smooth`); the
sum over the blocks is the objective on all the samples.  An array in memory
is standardized once and is a single block.

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


def with_bias(block: np.ndarray, mean: np.ndarray, scale: np.ndarray, dtype) -> np.ndarray:
    """``(p+1) x b``: the standardized block, transposed, with a last row of ones (Fortran order, no copy of it)."""
    b, p = block.shape
    out = np.empty((b, p + 1), dtype=dtype)
    if not mean.any() and (scale == 1).all():  # standardize=False: a copy beside the ones, nothing to compute
        np.copyto(out[:, :p], block, casting="unsafe")
    else:
        np.subtract(block, mean, out=out[:, :p], casting="unsafe")
        out[:, :p] *= 1 / scale
    out[:, p] = 1
    return out.T


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

    def arrays(self, W, mask, block, T, s) -> dict:
        Xb = block if self.standardized else with_bias(block, self.mean, self.scale, self.dtype)
        out = {self.wrt: W, "X": Xb, self.target: T if self.wrt == "w" else T.T}  # y is n x 1, Y is k x n
        if self.weighted:
            out["s"] = np.asarray(s, dtype=self.dtype).reshape(-1, 1)
        if self.l2:
            out["M"], out["lam"] = mask, self.lam2
        return out

    def share(self, block) -> float:
        return block.shape[1 if self.standardized else 0] / self.n_total


@dataclass
class BlockValueGrad:
    """One block's share of the value and gradient."""

    spec: _Spec
    W: np.ndarray
    mask: np.ndarray

    def __call__(self, block, T, s=None):
        f = smooth(self.spec.loss, self.spec.weighted, self.spec.l2)
        v, g = f.value_and_grad(**self.spec.arrays(self.W, self.mask, block, T, s))
        share = self.spec.share(block)
        return float(v) * share, np.asarray(g) * share


@dataclass
class BlockHvp:
    """One block's share of the Hessian applied to ``V``."""

    spec: _Spec
    W: np.ndarray
    mask: np.ndarray
    V: np.ndarray

    def __call__(self, block, T, s=None):
        f = smooth(self.spec.loss, self.spec.weighted, self.spec.l2)
        return (np.asarray(f.hvp(self.V, **self.spec.arrays(self.W, self.mask, block, T, s))) * self.spec.share(block),)


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
        # an array in memory is standardized once, as one (p+1) x n block
        self.Xb = None
        if isinstance(src, InMemory):
            self.Xb = with_bias(src.X, self.spec_args[6], self.spec_args[7], self.dtype)
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

    def value_and_grad(self, W: np.ndarray, mask: Optional[np.ndarray] = None) -> tuple:
        """The smooth objective (loss + L2 part) on all samples and its derived gradient, shaped like ``W``."""
        W = np.asarray(W, dtype=self.dtype)
        mask = self.objective.mask(W) if mask is None else mask
        self.n_evaluations += 1
        v, g = self._run(BlockValueGrad(self.spec, W, mask))
        return float(v), g

    def hvp(self, W: np.ndarray, V: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
        """The derived Hessian of the smooth objective at ``W`` applied to ``V``."""
        W = np.asarray(W, dtype=self.dtype)
        mask = self.objective.mask(W) if mask is None else mask
        (hv,) = self._run(BlockHvp(self.spec, W, mask, np.asarray(V, dtype=self.dtype)))
        return hv

    def objective_value(self, W: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
        """The whole objective: the smooth part plus the L1 part."""
        v, _ = self.value_and_grad(W, mask)
        return v + self.l1_value(W, mask)

    def l1_value(self, W, mask=None) -> float:
        if self.objective.l1 == 0:
            return 0.0
        mask = self.objective.mask(W) if mask is None else mask
        return float(self.objective.l1 * np.sum(np.abs(mask * W)))

    def batch_value_and_grad(self, W: np.ndarray, idx, mask: np.ndarray) -> tuple:
        """The smooth objective and its gradient on the samples ``idx`` (an array in memory only)."""
        T = self.T[idx]
        s = self.weights[idx] if self.weighted else None
        Xb = self.Xb[:, idx]
        spec = _Spec(*self.spec_args[:-1], Xb.shape[1], standardized=True)
        return BlockValueGrad(spec, W, mask)(Xb, T, s)

    def block_value_and_grad(self, W: np.ndarray, block: np.ndarray, T, s, mask: np.ndarray) -> tuple:
        """The same on a block of raw rows (standardized here): for streams."""
        spec = _Spec(*self.spec_args[:-1], len(block), standardized=False)
        return BlockValueGrad(spec, W, mask)(block, T, s)
