"""Minibatch stochastic gradient descent over compiled gradients.

The optimiser knows nothing about models: it takes a gradient callable
``gradient(w, idx)`` (the gradient on the samples ``idx``, or on all of them
for ``slice(None)``) and an objective callable ``objective(w)`` over the whole
training set, as autograd's ``misc/optimizers.py`` does.

>>> import numpy as np
>>> target = np.array([1.0, -2.0])
>>> grad = lambda w, idx: 2 * (w - target)          # gradient of ||w - target||^2
>>> loss = lambda w: float(np.sum((w - target) ** 2))
>>> w, hist = sgd(grad, loss, np.zeros(2), n_samples=10, epochs=50, lr=0.25)
>>> np.round(w, 6).tolist(), hist.n_iter, hist.losses[-1] < 1e-20
([1.0, -2.0], 50, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import MatcalcError

SCHEDULES = ("constant", "invscaling")


class TrainingError(MatcalcError):
    """Training could not go on (the loss became NaN or infinite)."""


@dataclass
class History:
    """What happened during training: the objective after each epoch and why it stopped."""

    losses: list = field(default_factory=list)
    n_iter: int = 0
    n_steps: int = 0
    stopped_early: bool = False
    message: str = ""


DECAY_STEPS = 100


def learning_rate(lr: float, schedule: str, step: int, power_t: float) -> float:
    """The step size at update ``step`` (0-based): ``lr``, or ``lr / (1 + step / 100) ** power_t`` for "invscaling"."""
    if schedule == "constant":
        return lr
    if schedule == "invscaling":
        return lr / (1 + step / DECAY_STEPS) ** power_t
    raise MatcalcError(f"lr_schedule must be one of {', '.join(map(repr, SCHEDULES))}, got {schedule!r}")


def _diverged(first: float, loss: float) -> bool:
    """The objective is not finite, or grew past ten times where it started (plus 1, for a start near 0)."""
    return not np.isfinite(loss) or loss > 10 * abs(first) + 1


def sgd(
    gradient: Callable,
    objective: Callable,
    w0: np.ndarray,
    n_samples: int,
    *,
    batch_size: Optional[int] = None,
    epochs: int = 100,
    lr: float = 0.1,
    lr_schedule: str = "constant",
    power_t: float = 0.5,
    momentum: float = 0.0,
    tol: Optional[float] = 1e-4,
    n_iter_no_change: int = 5,
    rng: Optional[np.random.Generator] = None,
    callback: Optional[Callable] = None,
    prox: Optional[Callable] = None,
    score: Optional[Callable] = None,
    batches: Optional[Callable] = None,
    state: Optional[dict] = None,
) -> tuple:
    """Minimise by minibatch SGD with optional (heavy-ball) momentum; returns ``(w, History)``.

    Every epoch visits the samples in a fresh random order (``rng``) in
    batches of ``batch_size``; ``batch_size=None`` (or one at least
    ``n_samples``) is full-batch gradient descent.  ``batches(rng)``, when
    given, yields the batches of an epoch instead (a stream read block by
    block).  ``gradient(w, batch)`` returns the gradient on the batch, or
    ``(batch objective, gradient)``.  The update is ``v = momentum * v - lr_t * g``,
    ``w = w + v``, then ``prox(w, lr_t)`` (the proximal step of an L1 term, in place).

    After each epoch the objective is evaluated on all samples.  Training stops
    early when it has not dropped below ``best * (1 - tol)``, ``best`` the lowest
    value so far, for ``n_iter_no_change`` epochs in a row (``tol`` is relative;
    ``tol=None`` never stops early); with ``score(w)`` (accuracy on held-out
    samples) the same rule watches the score rising instead.  A batch or epoch
    objective that is not finite, or has grown past ten times its start, stops
    training at once with "the learning rate is too large".
    ``callback(epoch, epochs, loss)`` is called after each epoch (1-based).
    ``state`` (a dict) carries the velocity and step count from one call to the next (``partial_fit``).
    """
    learning_rate(lr, lr_schedule, 0, power_t)  # validates the schedule
    if not (np.isfinite(lr) and lr > 0):  # lr <= 0 would climb the loss instead of descending it
        raise MatcalcError(f"lr must be a number > 0, got {lr!r}")
    if not (np.isfinite(power_t) and power_t >= 0):
        raise MatcalcError(f"power_t must be a number >= 0, got {power_t!r}")
    if epochs < 1:
        raise MatcalcError(f"epochs must be an integer >= 1, got {epochs!r}")
    if batch_size is not None and batch_size < 1:
        raise MatcalcError(f"batch_size must be None (full batch) or an integer >= 1, got {batch_size!r}")
    if not 0.0 <= momentum < 1.0:
        raise MatcalcError(f"momentum must be a number in [0, 1), got {momentum!r}")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise MatcalcError(f"tol must be None (never stop early) or a number >= 0, got {tol!r}")
    if n_iter_no_change < 1:
        raise MatcalcError(f"n_iter_no_change must be an integer >= 1, got {n_iter_no_change!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    full = batch_size is None or batch_size >= n_samples
    w = np.array(w0, copy=True)
    state = {} if state is None else state
    velocity = state.get("velocity") if momentum else None
    if momentum and velocity is None:
        velocity = np.zeros_like(w)
    scaled = np.empty_like(w)  # lr_t * g, reused every step
    hist = History()
    hist.n_steps = int(state.get("steps", 0))
    first = float(objective(w))
    best, stale = (-np.inf if score is not None else np.inf), 0

    def too_large(loss, where):
        raise TrainingError(f"the learning rate is too large: loss grew from {first:.6g} to {loss:.6g} {where}; "
                            f"try lr={lr / 10:g} or less (now {lr:g}), or standardize the features")

    for epoch in range(epochs):
        if batches is not None:
            epoch_batches = batches(rng)
        elif full:
            epoch_batches = [slice(None)]
        else:
            order = rng.permutation(n_samples)
            epoch_batches = (order[i:i + batch_size] for i in range(0, n_samples, batch_size))
        for idx in epoch_batches:
            step = learning_rate(lr, lr_schedule, hist.n_steps, power_t)
            out = gradient(w, idx)
            if isinstance(out, tuple):
                batch_loss, g = out
                if _diverged(first, batch_loss):
                    too_large(batch_loss, f"within epoch {epoch + 1}")
            else:
                g = out
            np.multiply(g, step, out=scaled)
            if velocity is None:
                w -= scaled
            else:
                velocity *= momentum
                velocity -= scaled
                w += velocity
            if prox is not None:
                prox(w, step)
            hist.n_steps += 1
        loss = float(objective(w))
        hist.losses.append(loss)
        hist.n_iter = epoch + 1
        if callback is not None:
            callback(epoch + 1, epochs, loss)
        if _diverged(first, loss):
            too_large(loss, f"after epoch {epoch + 1}")
        if loss == 0.0:
            hist.stopped_early = True
            hist.message = f"stopped after epoch {epoch + 1}: the loss is 0"
            break
        if tol is not None:
            if score is not None:
                current = float(score(w))
                improved = not np.isfinite(best) or current > best + tol
                best = max(best, current)
                what = "the validation score"
            else:
                improved = not np.isfinite(best) or loss <= best - tol * abs(best)
                best = min(best, loss)
                what = "the loss"
            stale = 0 if improved else stale + 1
            if stale >= n_iter_no_change:
                hist.stopped_early = True
                hist.message = (f"stopped after epoch {epoch + 1}: {what} improved by less than tol={tol:g}"
                                f"{'' if score is not None else ' (relative)'} for {n_iter_no_change} epochs")
                break
    if not hist.message:
        hist.message = f"ran all {epochs} epochs"
    state["velocity"], state["steps"] = velocity, hist.n_steps
    return w, hist
