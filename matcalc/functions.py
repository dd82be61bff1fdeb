"""The catalogue of elementwise functions: one row per function.

Each row holds everything matcalc needs to know about one function: its
derivative (as a builder of matcalc expressions), its LaTeX, its NumPy
spelling (numerically stable, dtype-preserving), its SymPy scalar function for
the explicit entry-by-entry check, and its domain.  Adding a function is one
row here plus one test row.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import sympy

from . import expr as E


@dataclass(frozen=True)
class Function:
    name: str
    derivative: Callable[[E.Expr], E.Expr]  # f'(a), elementwise, same shape as a
    latex: str  # a format string with {0} for the argument
    numpy: str  # a format string with {0} for the argument
    sympy: Callable  # scalar SymPy function for explicit checks
    domain: str = "real"  # "real", "positive" (log, sqrt) or "nonnegative"
    kink: bool = False  # not differentiable at 0: derivative holds almost everywhere
    note: str = ""
    # a domain smaller than the reals that "positive" does not describe: a NumPy predicate that
    # every entry of the argument satisfies at a test point (well inside, so that finite differences
    # stay in the domain); test points for such a function are drawn small
    inside: Callable | None = None


def _f(name):
    return lambda a: E.apply(name, a)


def _ones_like(a: E.Expr) -> E.Expr:
    return E.Ones(*a.shape) if not a.is_scalar else E.ONE_S


def _one_minus_square(a: E.Expr) -> E.Expr:
    """1 - a.^2 (elementwise)."""
    return E.add(_ones_like(a), E.neg(E.power(a, E.const(2))))


def _in_unit_interval(a):
    return abs(a) < 0.95  # arcsin, arccos: |a| < 1, with room for finite differences


def _away_from_poles(a):
    import numpy as np

    return np.abs(np.cos(a)) > 0.1  # tan: poles where cos(a) = 0


def _sigmoid_sympy(x):
    return 1 / (1 + sympy.exp(-x))


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("exp", _f("exp"), r"\exp\left({0}\right)", "np.exp({0})", sympy.exp),
        Function("log", lambda a: E.power(a, E.const(-1)), r"\log\left({0}\right)", "np.log({0})", sympy.log, "positive"),
        Function(
            "sqrt",
            lambda a: E.matmul(E.const(Fraction(1, 2)), E.power(E.apply("sqrt", a), E.const(-1))),
            r"\sqrt{{{0}}}",
            "np.sqrt({0})",
            sympy.sqrt,
            "positive",
        ),
        Function("abs", _f("sign"), r"\left|{0}\right|", "np.abs({0})", sympy.Abs, kink=True,
                 note="d|x|/dx = sign(x), away from 0"),
        Function("sign", lambda a: E.zeros(a.shape), r"\operatorname{{sign}}\left({0}\right)", "np.sign({0})",
                 sympy.sign, kink=True, note="derivative 0 away from 0"),
        Function("sin", _f("cos"), r"\sin\left({0}\right)", "np.sin({0})", sympy.sin),
        Function("cos", lambda a: E.neg(E.apply("sin", a)), r"\cos\left({0}\right)", "np.cos({0})", sympy.cos),
        Function("tan", lambda a: E.add(_ones_like(a), E.power(E.apply("tan", a), E.const(2))),
                 r"\tan\left({0}\right)", "np.tan({0})", sympy.tan, inside=_away_from_poles,
                 note="d tan(x)/dx = 1 + tan(x)^2, away from the poles"),
        Function("arcsin", lambda a: E.power(_one_minus_square(a), E.const(Fraction(-1, 2))),
                 r"\arcsin\left({0}\right)", "np.arcsin({0})", sympy.asin, inside=_in_unit_interval),
        Function("arccos", lambda a: E.neg(E.power(_one_minus_square(a), E.const(Fraction(-1, 2)))),
                 r"\arccos\left({0}\right)", "np.arccos({0})", sympy.acos, inside=_in_unit_interval),
        Function("arctan", lambda a: E.power(E.add(_ones_like(a), E.power(a, E.const(2))), E.const(-1)),
                 r"\arctan\left({0}\right)", "np.arctan({0})", sympy.atan),
        Function(
            "tanh",
            lambda a: E.add(E.Ones(*a.shape) if not a.is_scalar else E.ONE_S,
                            E.neg(E.power(E.apply("tanh", a), E.const(2)))),
            r"\tanh\left({0}\right)",
            "np.tanh({0})",
            sympy.tanh,
        ),
        Function(
            "sigmoid",
            lambda a: E.hadamard(
                E.apply("sigmoid", a),
                E.add(E.Ones(*a.shape) if not a.is_scalar else E.ONE_S, E.neg(E.apply("sigmoid", a))),
            ),
            r"\sigma\left({0}\right)",
            "_sigmoid({0})",
            _sigmoid_sympy,
        ),
        Function("softplus", _f("sigmoid"), r"\operatorname{{softplus}}\left({0}\right)", "_softplus({0})",
                 lambda x: sympy.log(1 + sympy.exp(x))),
        Function("relu", _f("step"), r"\operatorname{{relu}}\left({0}\right)", "np.maximum({0}, 0)",
                 lambda x: sympy.Max(0, x), kink=True, note="d relu(x)/dx = step(x), away from 0"),
        Function("step", lambda a: E.zeros(a.shape), r"\operatorname{{step}}\left({0}\right)", "np.heaviside({0}, 0)",
                 sympy.Heaviside, kink=True, note="derivative 0 away from 0"),
    ]
}
