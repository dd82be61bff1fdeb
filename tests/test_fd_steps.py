"""Finite differences that choose their step (matcalc/verify/steps.py) and how verify uses them.

Right derivatives at badly conditioned points must pass (they were rejected with one
fixed step); wrong derivatives at the same points must still fail, by the finite
differences alone (explicit=False), at every seed.
"""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc.verify import VerificationError, verify_derivative
from matcalc.verify.steps import central, ridders, scale_of, stable

KRON = {"a": (), "b": (), "u": (), "A": ("n", "n"), "S": ("m", "m")}

# (kind, function, wrt, shapes): right, but once rejected at some seed by the fixed step 1e-5
ILL_CONDITIONED = [
    ("derive", "y/y.^64", "y", None),  # y^-63: the step must shrink with the entries
    ("derive", "sin(exp(sum(X^3)))", "X", None),  # no step works where sum(X^3) is large: drawn smaller
    ("derive", "exp(exp(tr(X'*X)))", "X", None),
    ("hessian", "cos(tr((z*z')^3))", "z", None),
    ("hessian", "cos(u/exp(a - b)) - tr(kron(A, S))", "b", KRON),
    ("derive", "softmax((z*z')^9 - z*z')", "z", None),  # saturated softmax: exponents of 1e7
]

SEEDS = (0, 1, 2, 3)


def _derivative(kind, text, wrt, shapes):
    return getattr(matcalc, kind)(text, wrt=wrt, shapes=shapes)


@pytest.mark.parametrize("kind, text, wrt, shapes", ILL_CONDITIONED)
def test_right_but_ill_conditioned_passes(kind, text, wrt, shapes):
    d = _derivative(kind, text, wrt, shapes)
    for seed in SEEDS:
        for kw in ({}, {"shapes": 2, "directions": 2, "explicit": False}):  # verify's defaults and check's
            r = d.verify(seed=seed, **kw)
            assert r.ok and r.max_rel_error <= r.tolerance, (seed, kw, str(r))


class Wrong:
    """A derivative whose compiled result is changed by ``mutate(value, point)``; everything else is ``d``'s."""

    def __init__(self, d, mutate):
        self._d, self._mutate = d, mutate

    def __getattr__(self, name):
        return getattr(self._d, name)

    def to_numpy(self):
        fn = self._d.to_numpy()
        return lambda **point: self._mutate(np.array(fn(**point), dtype=float), point)


def factor(c):
    return lambda v, p: c * v


def transposed(v, p):
    return v.T


def one_entry(rel):
    """The largest entry off by ``rel`` of itself."""
    def mutate(v, p):
        w = np.array(v, dtype=float)
        i = np.unravel_index(np.argmax(np.abs(w)), w.shape) if w.ndim else ()
        w[i] = w[i] * (1 + rel)
        return w
    return mutate


# (kind, function, wrt, shapes, mutation, what is wrong): wrong at the same badly conditioned functions
WRONG = [
    ("derive", "y/y.^64", "y", None, factor(64 / 63), "-64 y^-64 for -63 y^-64"),
    ("derive", "y/y.^64", "y", None, factor(1 + 1e-4), "off by 1e-4, ten times the tolerance"),
    ("derive", "sin(exp(sum(X^3)))", "X", None, transposed, "3 X^2 transposed"),
    ("derive", "sin(exp(sum(X^3)))", "X", None, factor(1 + 1e-3), "off by 1e-3"),
    ("derive", "exp(exp(tr(X'*X)))", "X", None, transposed, "2 X transposed (X is not square)"),
    ("derive", "exp(exp(tr(X'*X)))", "X", None, factor(1 + 1e-4), "off by 1e-4"),
    ("hessian", "cos(tr((z*z')^3))", "z", None, factor(1 + 1e-3), "off by 1e-3"),
    ("hessian", "cos(tr((z*z')^3))", "z", None, one_entry(1e-2), "one entry off by 1e-2"),
    ("hessian", "cos(u/exp(a - b)) - tr(kron(A, S))", "b", KRON, factor(1 + 1e-3), "off by 1e-3"),
    ("derive", "softmax((z*z')^9 - z*z')", "z", None, factor(1 + 1e-3), "off by 1e-3"),
    ("derive", "softmax((z*z')^9 - z*z')", "z", None, one_entry(1e-1), "one entry off by 1e-1"),
]


@pytest.mark.parametrize("kind, text, wrt, shapes, mutate, what", WRONG, ids=[f"{r[1]}-{r[5]}" for r in WRONG])
def test_wrong_at_ill_conditioned_points_still_fails(kind, text, wrt, shapes, mutate, what):
    wrong = Wrong(_derivative(kind, text, wrt, shapes), mutate)
    for seed in SEEDS:
        for kw in ({}, {"shapes": 2, "directions": 2}):  # verify's defaults and check's
            with pytest.raises(VerificationError, match="disagrees with finite differences"):
                verify_derivative(wrong, seed=seed, explicit=False, **kw)


@pytest.mark.parametrize("kind, text, wrt, shapes", ILL_CONDITIONED)
def test_a_wrong_result_fails_the_symbolic_second_opinion_too(kind, text, wrt, shapes):
    wrong = Wrong(_derivative(kind, text, wrt, shapes), factor(1 + 1e-3))
    r = verify_derivative(wrong, seed=0, raise_on_failure=False)
    assert not r.ok and r.explicit.startswith("DISAGREES"), r.explicit


# -- the estimates themselves: (function of x, x0, exact derivative) ---------------------------------------

SMOOTH = [
    (lambda x: np.array([np.exp(40 * x)]), 0.1, 40 * np.exp(4.0)),
    (lambda x: np.array([x ** -63]), 0.05, -63 * 0.05 ** -64),
    (lambda x: np.array([np.sin(x ** 9), np.cos(x)]), 1.3, np.array([9 * 1.3 ** 8 * np.cos(1.3 ** 9), -np.sin(1.3)])),
    (lambda x: np.array([np.log(x)]), 1e-3 + 1e-4, 1 / (1e-3 + 1e-4)),  # the largest steps leave the domain
]


@pytest.mark.parametrize("f, x0, exact", SMOOTH)
def test_ridders_is_accurate_and_says_how_accurate(f, x0, exact):
    e = ridders(f, x0, 1.0, scale_of(x0))
    err = float(np.linalg.norm(e.value - exact))
    size = float(np.linalg.norm(exact))
    assert err <= 1e-7 * size  # well below the tolerance 1e-5
    assert err <= 10 * e.error + 1e-12 * size  # the error estimate is honest
    assert stable(e.error, e.value, 1e-4, 1e-5)
    one = float(np.linalg.norm(central(f, x0, 1.0, 1e-5 * scale_of(x0)) - exact))
    assert err <= one or one <= 1e-7 * size  # never worse than the single step it replaces


# (function, x0): no step can judge these, and the estimate says so
UNSTEADY = [
    (lambda x: np.array([np.sin(np.exp(50 * x))]), 1.0),  # turns every 1e-22
    (lambda x: np.array([np.sin(1e11 * x * x)]), 0.7),
    (lambda x: np.array([1 / (x - 1e-9)]), 1e-8),  # a pole inside every step
]


@pytest.mark.parametrize("f, x0", UNSTEADY)
def test_ridders_admits_what_it_cannot_estimate(f, x0):
    e = ridders(f, x0, 1.0, scale_of(x0))
    assert not stable(e.error, e.value, 1e-4, 1e-5)


# -- the report says which differences were used ------------------------------------------------

def test_report_names_the_differences_used():
    plain = matcalc.derive("x'*A*x", wrt="x").verify()
    assert plain.refined == plain.redrawn == 0
    assert "central differences (step 1e-05 relative)" in plain.method and "Ridders" not in plain.method
    assert not any("Ridders" in m for t in plain.trials for m, _ in t.checks)
    steep = _derivative("derive", "y/y.^64", "y", None).verify(seed=0)  # one step of 1e-5 was 8.8e-4 off
    assert steep.refined > 0
    assert "Ridders' extrapolation over steps 0.001 to 1e-07" in steep.method
    assert any("Ridders" in m for t in steep.trials for m, _ in t.checks)
    assert "Ridders" in steep.to_dict()["method"]
    wild = _derivative("derive", "sin(exp(sum(X^3)))", "X", None).verify(seed=0)  # no step could judge it
    assert wild.redrawn > 0
    assert f"{wild.redrawn} point(s) drawn again at a smaller scale" in wild.method


def test_a_function_that_fails_at_every_draw_is_not_called_outside_its_domain(monkeypatch):
    """A ValueError from the compiled function at every point drawn is a fault (an emitter bug once showed
    up as "found no point in the domain"): the error says so and quotes it."""
    from matcalc.verify import DomainError, draw_point, points

    p = matcalc.parse("x'*A*x")

    def broken(e, variables):
        def fn(**arrays):
            raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")
        return fn

    monkeypatch.setattr(points, "_compiled", broken)
    with pytest.raises(DomainError, match=r"failed at every point drawn .*: matmul: Input operand 1 has a mismatch"):
        draw_point(p.expr, list(p.variables.values()), {"n": 3}, np.random.default_rng(0))
