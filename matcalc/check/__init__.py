"""Checking a person's own answer: one claimed derivative, or a chain of steps.

``check(expr, wrt, claimed)`` judges a claimed derivative against the engine's
verified result and says *why* a wrong answer is wrong.

The decision is sound in one direction by construction: an answer is called
correct only when its numbers agree with the engine's result at every one of
several (at least ``MIN_TRIALS``) random shapes and points: non-square shapes,
non-symmetric matrices unless assumed, points in the domain of the *function*
and of the engine's result, away from their kinks
(``matcalc.verify.draw_dims`` / ``draw_point``), relative error at most
``TOLERANCE`` (1e-10) in float64.  It is then

* **proved** when, in addition, ``simplify(claim)`` is the engine's result
  node for node or ``simplify(claim - expected)`` is zero (a "proof" the
  numbers contradict is dropped, with a note), or
* **numerically checked** otherwise.

The claim never chooses the test points: a claim that is undefined (nan, inf)
at a point where the function and its derivative are defined is wrong there.
Shapes are compared first: an answer of the wrong shape is never compared
entry by entry.  Sizes a claim leaves to context (``vector(1)`` alone) are
taken from the shape the answer must have.

A wrong answer gets a *tested* diagnosis: each hypothesis is a concrete
rewrite (of the claim or of the expected result) that is evaluated at the same
points, and a tag is reported only when the rewrite agrees numerically.

==========================  ============================================================
tag                         hypothesis that was confirmed numerically
==========================  ============================================================
``layout``                  the claim equals the derivative in the *other* layout (its
                            transpose), while the requested layout differs from it
``sign``                    claim = -expected
``factor``                  claim = c * expected for a constant c, or c * s^k for a
                            scalar variable or dimension s ("missing factor 2",
                            "extra factor 1/m")
``missing-symmetric-part``  claim = c * expected at points where a square matrix A is
                            replaced by a symmetric one, but not at general points
``sum-instead-of-matrix``   replacing sum(M) or tr(M) in the claim by M makes it right,
                            or claim = sum(expected) (or tr(expected))
``elementwise-vs-matrix-    swapping one ``.*`` for ``*`` (or ``*`` for ``.*``, ``.^k``
product``                   for ``^k``, an outer product u*v' for diag(u.*v)) in the claim
                            makes it right
``dropped-chain-factor``    removing one factor of a product in the expected result
                            gives the claim, or replacing softmax(u) by exp(u) (the
                            normalisation dropped) or an indicator step(u) by ones
``wrong-shape``             the claim's shape fits neither layout and nothing above
                            explains it, or the claim does not type-check
``ambiguous``               the claim's text has two readings (as text and as LaTeX)
                            that type-check and differ; both are shown
``wrong``                   no known pattern: a counterexample is given
==========================  ============================================================

A claim that is a sum is judged term by term first (``Diagnoser.by_terms``): when
every term but one or two agrees with a term of the answer, the message names the
wrong term and its mistake ("the term lam*w should be 2*lam*w: missing factor 2"),
and the tags are those of the term.  Where a tag is decided: ``diagnose.py``; where
a claim is read: ``claims.py``; where a derivation line is read: ``steps.py`` (its
rows and heads are cut by ``matcalc.parse.derivation``, index notation is read by
``matcalc.parse.index``).

>>> v = check("(lam/(2*m))*normF(W)^2", wrt="W", claimed="lam/m*sum(W)", layout="denominator")
>>> v.correct, v.mistake
(False, 'sum-instead-of-matrix')
>>> check("x'*A*x", wrt="x", claimed="A'*x + A*x").method
'proved'

The stages are modules: ``claims`` reads a claimed answer, ``diagnose`` decides the mistake tag,
``verdict`` holds ``check`` and its result, and ``steps`` reads and checks a derivation.
``check_steps(lines)`` checks a derivation line by line; see its docstring for
the line format.
"""

from .diagnose import TAGS
from .steps import Step, StepsReport, check_steps
from .verdict import TOLERANCE, Verdict, check

__all__ = ["check", "check_steps", "Verdict", "StepsReport", "Step", "TAGS", "TOLERANCE"]
