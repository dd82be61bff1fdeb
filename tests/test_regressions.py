"""Every wrong answer and internal error that random composition found, as a permanent row.

Each row is judged as scripts/random_composition.py judges it: the gradient or
Jacobian (and for a scalar the Hessian) in both layouts against central finite
differences of the function alone, and matcalc's own verify() and check() on
the result.  A row passes when the answer is right, or matcalc refuses it
with a clear one-line error of its own, within the time limit.
"""

import numpy as np
import pytest

from random_expressions import Case, judge

ACCEPTED = ("ok", "error")

# Found in verify / evaluate / check (this branch's areas) and fixed here:
# (function, wrt, assumptions, what went wrong)
FIXED_HERE = [
    # vacuous agreement: the answer is 0 at every point (softmax sums to 1); check must not call a
    # right claim of it wrong on rounding noise
    ("sum(softmax(z))", "z", {}, "check called the engine's 0-valued gradient wrong on rounding noise"),
    # a kink argument that is a matrix: both signs entry by entry
    ("relu(W*x)", "x", {}, "kink coverage of a vector argument, entry by entry"),
    ("abs(A*x - u).*x", "x", {}, "kink coverage of abs"),
]

# Found by random composition in areas that others own (engine rules, emitter, speed).  These rows fail
# until the fix in that area lands on main: (function, wrt, assumptions, area: what goes wrong)
OPEN_ELSEWHERE = [
    ("D - (D)", "D", {}, "rules: NotLinearError on an identically zero adjoint"),
    ("-((y).*(y - (y)))", "y", {}, "rules: NotLinearError on an identically zero adjoint"),
    ("step((tr(kron(T' + eye(m), (eye(m))^2)))*((B + B)*(W - (B'))))", "T", {},
     "rules: NotLinearError (step has a zero derivative)"),
    ("norm1(y)", "y", {}, "rules: NotLinearError in the Hessian of norm1"),
    ("sum(relu(W*x))", "x", {}, "rules: NotLinearError in the Hessian of relu"),
    ("tr(kron(eye(p), S))", "S", {}, "emitter: KeyError for a size only in eye(p)"),
    ("(tr(eye(p)))*(c)", "c", {"c": "positive"}, "emitter: KeyError for a size only in eye(p)"),
    ("-((softplus(tr(kron((eye(n))', (z)*(z + z)'))))^0.5)", "z", {}, "emitter: KeyError for a size only in eye(n)"),
    ("logsumexp(softmax(softmax(softmax(log((softmax(y)).^2 + 1)))))", "y", {}, "speed: Hessian over 5 s"),
]


def _judge(text, wrt, assume):
    return judge(Case(text, wrt, assume, 0), np.random.default_rng(0), time_limit=5.0, self_check=True)


@pytest.mark.parametrize("text, wrt, assume, why", FIXED_HERE)
def test_fixed_here(text, wrt, assume, why):
    out = _judge(text, wrt, assume)
    assert out.status in ACCEPTED, f"{why}: {out.status}: {out.detail}"


@pytest.mark.parametrize("text, wrt, assume, why", OPEN_ELSEWHERE)
def test_open_elsewhere(text, wrt, assume, why):
    out = _judge(text, wrt, assume)
    assert out.status in ACCEPTED, f"{why}: {out.status}: {out.detail}"
