"""Random composition in the suite (issue 7, item 4): random well-typed expressions over the whole syntax.

Each expression's gradient or Jacobian, and for a scalar its Hessian, in both
layouts, is compared with central finite differences of the function alone
(tests/random_expressions.py).  A scalar function is also compiled by
value_and_grad over all its variables at once (each gradient against finite
differences of the function in that variable) and by hvp over two of them
(<V, H V> against second differences of the function, the whole product
against differences of the gradients).  Every outcome must be a right answer or a
clear one-line matcalc error: never a wrong answer, an internal error or a
derivation over 10 s.  The long run is scripts/random_composition.py.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from random_expressions import Chooser, HypothesisChooser, judge, random_case

ACCEPTED = ("ok", "error", "nopoint")

# a fixed-seed table: the same 24 expressions on every run
FIXED = [random_case(Chooser(np.random.default_rng([2026, i])), max_depth=6) for i in range(24)]


@pytest.mark.parametrize("case", FIXED, ids=[f"{i}-depth{c.depth}" for i, c in enumerate(FIXED)])
def test_a_fixed_random_expression_is_derived_right_or_refused_clearly(case):
    out = judge(case, np.random.default_rng(0), time_limit=10.0)
    assert out.status in ACCEPTED, f"{case.text!r} wrt {case.wrt} assume={case.assume}: {out.status}: {out.detail}"


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(st.data())
def test_random_composition_with_shrinking(data):
    # Hypothesis drives every choice, so a failure shrinks to a small expression
    case = random_case(HypothesisChooser(data), max_depth=6)
    out = judge(case, np.random.default_rng(0), time_limit=10.0, points=1)
    assert out.status in ACCEPTED, f"{case.text!r} wrt {case.wrt} assume={case.assume}: {out.status}: {out.detail}"


def test_the_generator_covers_the_whole_syntax():
    texts = " ".join(random_case(Chooser(np.random.default_rng([1, i]))).text for i in range(400))
    from matcalc.functions import FUNCTIONS

    for token in list(FUNCTIONS) + ["'", ".*", "tr(", "sum(", "norm1(", "norm2(", "normF(", "inv(", "logdet(",
                                    "softmax(", "logsumexp(", "kron(", ")^2", ")^3", "eye("]:
        assert token in texts, token
    depths = {random_case(Chooser(np.random.default_rng([2, i]))).depth for i in range(100)}
    assert depths == set(range(1, 7))


def test_the_judge_catches_a_wrong_derivative(monkeypatch):
    # the judge itself must be able to fail: a derivative off by a factor of 2 is reported wrong
    import matcalc

    real = matcalc.derive

    def doubled(*a, **k):
        d = real(*a, **k)
        from matcalc import expr as E

        return type(d)(d.function, d.wrt, d.layout, E.matmul(E.const(2), d.result), E.matmul(E.const(2), d.other),
                       d.variables, d.kind, d.order, d.notes, d.source, d.target)

    monkeypatch.setattr(matcalc, "derive", doubled)
    from random_expressions import Case

    out = judge(Case("x'*A*x", "x", {}, 2), np.random.default_rng(0), hessians=False)
    assert out.status == "wrong", out


@pytest.mark.parametrize("which", ["value_and_grad", "hvp"])
def test_the_judge_catches_a_wrong_compiled_function_of_several_variables(monkeypatch, which):
    # the compiled leg of the judge must be able to fail too: one gradient (or one block of the product)
    # off by a factor is reported wrong
    import matcalc
    from random_expressions import Case

    real = getattr(matcalc, which)

    def off(*a, **k):
        fn = real(*a, **k)

        def wrong(*args, **kw):
            out = list(fn(*args, **kw))
            out[-1] = 1.5 * out[-1]
            return tuple(out)

        return wrong

    monkeypatch.setattr(matcalc, which, off)
    out = judge(Case("x'*A*x + sum(exp(A))", "x", {}, 2), np.random.default_rng(0))
    assert out.status == "wrong" and which in out.detail, out
