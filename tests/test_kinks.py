"""Both sides of every kink, and trials that can fail (issue 7, items 2 and 3).

Each wrong claim below is right on one side of a kink only; it must be judged
wrong at every seed, and the verdict must name the side where it fails.
"""

import numpy as np
import pytest

import matcalc
from matcalc.evaluate import Points, compare
from matcalc.parse import parse
from matcalc.verify import kink_regions, regions_at

SEEDS = range(20)

# (function, wrt, shapes, wrong claim, the region its message must name)
KINK_CLAIMS = [
    ("relu(1 - y*w'*x)", "w", {"y": ()}, "-y*x", "1 - y*w'*x < 0"),  # hinge, indicator dropped
    ("relu(1 - y*w'*x) + lam*w'*w", "w", {"y": ()}, "-y*x + 2*lam*w", "1 - y*w'*x < 0"),  # hinge + L2
    ("relu(1 - y*w'*x)^2", "w", {"y": ()}, "-2*(1 - y*w'*x)*y*x", "1 - y*w'*x < 0"),  # squared hinge
    ("relu(w'*x)", "w", None, "x", "w'*x < 0"),
    ("abs(w'*x)", "w", None, "x", "w'*x < 0"),
    ("sum(relu(1 - y.*(X'*w)))", "w", None, "-X*y", "has entries of both signs"),  # batch hinge
    ("sum(abs(x))", "x", None, "vector(1)", "x"),
    ("norm1(A*x)", "x", None, "A'*vector(1)", "A*x"),
    ("sum(relu(x)) + x'*x", "x", None, "vector(1) + 2*x", "x"),
    ("step(w'*x)*w'*x", "w", None, "x", "w'*x < 0"),
]

# (function, wrt, shapes, right claim): right on both sides, so correct at every seed
RIGHT_CLAIMS = [
    ("relu(1 - y*w'*x)", "w", {"y": ()}, "-y*step(1 - y*w'*x)*x"),
    ("relu(1 - y*w'*x)^2", "w", {"y": ()}, "-2*relu(1 - y*w'*x)*y*x"),
    ("relu(w'*x)", "w", None, "step(w'*x)*x"),
    ("abs(w'*x)", "w", None, "sign(w'*x)*x"),
    ("sum(relu(1 - y.*(X'*w)))", "w", None, "-X*(y.*step(1 - y.*(X'*w)))"),
]


@pytest.mark.parametrize("f, wrt, shapes, claim, region", KINK_CLAIMS)
def test_a_claim_right_on_one_side_of_a_kink_is_wrong_at_every_seed(f, wrt, shapes, claim, region):
    for seed in SEEDS:
        v = matcalc.check(f, wrt=wrt, claimed=claim, shapes=shapes, seed=seed)
        assert not v.correct, (seed, v.summary)
        assert "it fails where" in v.message and region in v.message.split("it fails where")[1], v.message


@pytest.mark.parametrize("f, wrt, shapes, claim", RIGHT_CLAIMS)
def test_a_claim_right_on_both_sides_is_correct(f, wrt, shapes, claim):
    for seed in range(5):
        assert matcalc.check(f, wrt=wrt, claimed=claim, shapes=shapes, seed=seed).correct


@pytest.mark.parametrize("f, wrt, shapes", [(f, w, s) for f, w, s, _ in RIGHT_CLAIMS])
def test_the_trials_reach_both_sides_of_every_kink(f, wrt, shapes):
    p = parse(f, shapes=shapes)
    pts = Points(list(p.variables.values()), p.expr, seed=3)
    reached = set()
    for _, point in pts.trials:
        reached |= regions_at(p.expr, list(p.variables.values()), point)
    assert set(kink_regions(p.expr)) <= reached and not pts.unreached


# (function, wrt, shapes, claim, the side no point can reach)
UNREACHABLE = [
    ("relu(x'*x)", "x", None, "2*x", "x'*x < 0"),
    ("abs(exp(a))", "a", {"a": ()}, "exp(a)", "exp(a) < 0"),
]


@pytest.mark.parametrize("f, wrt, shapes, claim, side", UNREACHABLE)
def test_a_side_never_reached_is_named_and_never_makes_a_claim_correct(f, wrt, shapes, claim, side):
    v = matcalc.check(f, wrt=wrt, claimed=claim, shapes=shapes)
    assert not v.correct and v.mistake == "unconfirmed" and side in v.message
    report = matcalc.derive(f, wrt=wrt, shapes=shapes).verify(explicit=False)
    assert side in report.unreached and not report.complete and "NOT TESTED" in str(report)


def test_verify_reaches_both_sides_and_says_so():
    r = matcalc.derive("relu(1 - y*w'*x)", wrt="w", shapes={"y": ()}).verify(explicit=False)
    assert r.complete and set(r.reached) == {"1 - y*w'*x > 0", "1 - y*w'*x < 0"}
    r = matcalc.derive("sum(relu(1 - y.*(X'*w)))", wrt="w").verify(explicit=False)
    assert any("both signs" in s for s in r.reached) and not r.unreached


def test_points_are_drawn_at_more_than_one_scale():
    p = parse("x'*A*y")
    pts = Points(list(p.variables.values()), p.expr, n=4, seed=0)
    sizes = [np.max(np.abs(pt["x"])) / np.sqrt(np.log(2 + pt["x"].size)) for _, pt in pts.trials]
    assert max(sizes) / min(sizes) > 2


# -- item 3: a trial must be able to fail -------------------------------------------------------

# functions whose derivative is 0 at some points or some shapes (softmax at size 1, relu inactive)
VACUOUS = [
    ("softmax(z)", "z"),  # at n = 1 the Jacobian is 0
    ("relu(w'*x)", "w"),  # where w'x < 0 the gradient is 0
    ("sum(relu(x))", "x"),
]


@pytest.mark.parametrize("f, wrt", VACUOUS)
def test_verify_never_counts_a_trial_where_both_sides_are_zero(f, wrt):
    for seed in range(6):
        r = matcalc.derive(f, wrt=wrt).verify(explicit=False, seed=seed)
        assert len(r.trials) >= 3
        for t in r.trials:
            d = matcalc.derive(f, wrt=wrt)
            assert np.max(np.abs(np.asarray(d.to_numpy()(**t.point), dtype=float))) > 0, t.dims


def test_compare_does_not_count_a_vacuous_trial():
    zero, one = np.zeros((2, 1)), np.ones((2, 1))
    c = compare([zero, zero, one, one], [zero, zero, one, one])
    assert c.equal and c.live == 2 and c.vacuous == [0, 1]


def test_a_claim_judged_only_at_vacuous_points_is_not_called_correct():
    # the answer is 0 at every point (softmax sums to 1), so the numbers cannot confirm a claim of 0
    v = matcalc.check("sum(softmax(z))", wrt="z", claimed="0*z")
    assert not v.correct and v.mistake == "unconfirmed" and "both 0" in v.message


def test_verify_names_the_side_of_the_kink_where_a_result_fails():
    from matcalc import expr as E
    from matcalc.verify import VerificationError

    d = matcalc.derive("relu(w'*x)", wrt="w")
    x = d.variables["x"]
    wrong = type(d)(d.function, d.wrt, d.layout, x, E.transpose(x), d.variables, d.kind)  # the step dropped
    with pytest.raises(VerificationError) as info:
        wrong.verify(explicit=False)
    assert "where w'*x < 0" in str(info.value) and info.value.counterexample["region"] == "w'*x < 0"
