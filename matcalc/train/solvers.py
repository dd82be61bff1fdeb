"""Full-batch solvers over a value-and-gradient callable: L-BFGS and Newton-CG.

Each solver is a function of ``fun(w) -> (value, gradient)`` (the gradient
shaped like ``w``, denominator layout) and, for Newton-CG, ``hvp(w, v)``: the
Hessian at ``w`` applied to ``v``.  They know nothing about models; the
estimators hand them matcalc's compiled, derived and verified functions.

* :func:`lbfgs` is SciPy's L-BFGS-B.  An L1 term ``l1 * sum(|M .* w|)`` is
  handled exactly, kink included, by splitting ``w = u - v`` with ``u, v >= 0``
  on the entries where ``M`` is 1 (the bias stays free): the term becomes the
  linear ``l1 * sum(M .* (u + v))``, smooth under the bounds.
* :func:`newton_cg` is a truncated Newton method: conjugate gradients on
  ``H d = -g`` stopped at a relative residual of ``min(0.5, sqrt(|g|))``, then
  a backtracking (Armijo) line search.

Both stop when the largest entry of the (projected) gradient is at most
``tol``, as scikit-learn's ``LogisticRegression`` does.

>>> import numpy as np
>>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
>>> fun = lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b)      # a quadratic: its minimum solves A w = b
>>> r = newton_cg(fun, lambda w, v: A @ v, np.zeros(2), tol=1e-10)
>>> np.allclose(r.w, np.linalg.solve(A, b)), r.converged
(True, True)
>>> bool(np.allclose(lbfgs(fun, np.zeros(2), tol=1e-10).w, np.linalg.solve(A, b)))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class Result:
    """The solution and how it was reached."""

    w: np.ndarray
    n_iter: int
    converged: bool
    message: str
    losses: list = field(default_factory=list)
    n_evaluations: int = 0


def _as64(g) -> np.ndarray:
    return np.asarray(g, dtype=np.float64).reshape(-1)


def lbfgs(fun: Callable, w0: np.ndarray, *, l1: float = 0.0, l1_gradient: Optional[np.ndarray] = None,
          tol: float = 1e-4, max_iter: int = 100, callback: Optional[Callable] = None) -> Result:
    """Minimise ``fun(w)[0] + l1 * sum(|M .* w|)`` by L-BFGS-B (SciPy); returns a :class:`Result`.

    ``l1_gradient`` is the gradient of the L1 term on the positive part
    ``u`` (``l1 * M``, derived by the caller); its zeros mark the entries
    (the bias) that the L1 term does not touch.  ``callback(iteration, value)``
    is called after every iteration.
    """
    from scipy.optimize import minimize

    shape = np.shape(w0)
    size = int(np.prod(shape))
    losses: list = []
    counter = {"evals": 0}
    if l1 > 0:
        c = _as64(l1_gradient)  # the L1 term's gradient in u (and in v): l1 on the weights, 0 on the bias
        free = c == 0
        w0 = _as64(w0)
        x0 = np.concatenate([np.where(free, w0, np.maximum(w0, 0)), np.where(free, 0.0, np.maximum(-w0, 0))])
        bounds = [(None, None) if f else (0, None) for f in free] + [(0, 0) if f else (0, None) for f in free]

        def split(x):
            counter["evals"] += 1
            u, v = x[:size], x[size:]
            value, g = fun((u - v).reshape(shape))
            g = _as64(g)
            return float(value) + float(c @ (u + v)), np.concatenate([g + c, -g + c])

        def unsplit(x):
            return (x[:size] - x[size:]).reshape(shape)
    else:
        x0, bounds = _as64(w0), None

        def split(x):
            counter["evals"] += 1
            value, g = fun(x.reshape(shape))
            return float(value), _as64(g)

        def unsplit(x):
            return x.reshape(shape)

    def step(intermediate_result):  # SciPy passes the OptimizeResult to a parameter of this name
        losses.append(float(intermediate_result.fun))
        if callback is not None:
            callback(len(losses), float(intermediate_result.fun))

    res = minimize(split, x0, method="L-BFGS-B", jac=True, bounds=bounds, callback=step,
                   options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxls": 50})
    if not losses:
        losses.append(float(res.fun))
    message = res.message if isinstance(res.message, str) else res.message.decode()
    converged = bool(res.success) and res.nit < max_iter
    text = (f"L-BFGS converged after {res.nit} iterations ({message.lower()})" if converged else
            f"L-BFGS stopped after {res.nit} iterations without converging ({message.lower()}); "
            f"raise max_iter (now {max_iter}) or tol (now {tol:g})")
    return Result(unsplit(res.x), int(res.nit), converged, text, losses, counter["evals"])


def _cg(hvp: Callable, g: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """An approximate solution of ``H d = -g`` by conjugate gradients (stopping early on negative curvature)."""
    d = np.zeros_like(g)
    r = -g.copy()
    p = r.copy()
    rr = float(r @ r)
    for _ in range(max_iter):
        if np.sqrt(rr) <= tol:
            break
        Hp = hvp(p)
        curvature = float(p @ Hp)
        if curvature <= 0:
            return d if d.any() else -g  # not a descent model here: fall back on the steepest descent
        alpha = rr / curvature
        d += alpha * p
        r -= alpha * Hp
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return d


def newton_cg(fun: Callable, hvp: Callable, w0: np.ndarray, *, tol: float = 1e-4, max_iter: int = 100,
              callback: Optional[Callable] = None, hvp_at: Optional[Callable] = None) -> Result:
    """Minimise ``fun`` by truncated Newton steps on ``hvp(w, v)``; returns a :class:`Result`.

    ``hvp_at(w)``, when given, returns ``v -> hvp(w, v)`` with the work that does not depend on ``v``
    done once: conjugate gradients then call it for every product at the same ``w``.
    """
    if hvp_at is None:
        def hvp_at(x):
            return lambda v: hvp(x, v)
    shape = np.shape(w0)
    w = _as64(w0)
    evals = 0

    def f(x):
        nonlocal evals
        evals += 1
        value, g = fun(x.reshape(shape))
        return float(value), _as64(g)

    value, g = f(w)
    losses = [value]
    message = ""
    for it in range(1, max_iter + 1):
        gmax = float(np.max(np.abs(g)))
        if gmax <= tol:
            return Result(w.reshape(shape), it - 1, True, f"Newton-CG converged after {it - 1} iterations "
                          f"(largest gradient entry {gmax:.2g} <= tol)", losses, evals)
        gnorm = float(np.linalg.norm(g))
        product = hvp_at(w.reshape(shape))
        d = _cg(lambda v: _as64(product(v.reshape(shape))), g, min(0.5, np.sqrt(gnorm)) * gnorm,
                max_iter=max(10, min(200, 2 * g.size)))
        slope = float(g @ d)
        if slope >= 0:
            d, slope = -g, -float(g @ g)
        t = 1.0
        while True:
            new_value, new_g = f(w + t * d)
            if np.isfinite(new_value) and new_value <= value + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-12:
                message = "the line search found no decrease"
                break
        if message:
            break
        w = w + t * d
        decrease = value - new_value
        value, g = new_value, new_g
        losses.append(value)
        if callback is not None:
            callback(it, value)
        if decrease <= 64 * np.finfo(float).eps * max(abs(value), 1.0):
            gmax = float(np.max(np.abs(g)))
            return Result(w.reshape(shape), it, True, f"Newton-CG converged after {it} iterations (the objective "
                          f"stopped decreasing; largest gradient entry {gmax:.2g})", losses, evals)
    n = len(losses) - 1
    why = message or f"reached max_iter={max_iter}"
    return Result(w.reshape(shape), n, False, f"Newton-CG stopped after {n} iterations without converging ({why}); "
                  f"raise max_iter or tol (now {tol:g})", losses, evals)
