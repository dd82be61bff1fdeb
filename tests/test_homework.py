"""Homework as students write it (issue 8): every example of the issue, LaTeX spellings, the wrong term named."""

from __future__ import annotations

import pytest

import matcalc
from matcalc.check.claims import read_claim
from matcalc.emit.text import to_text

from homework_tables import ISSUE, LATEX_SPELLINGS, ONE_TERM_WRONG, Row


def _check(r: Row):
    return matcalc.check(r.expr, wrt=r.wrt, claimed=r.claimed, layout=r.layout, shapes=r.shapes, assume=r.assume)


@pytest.mark.parametrize("r", ISSUE, ids=[f"{i}-{r.claimed}" for i, r in enumerate(ISSUE)])
def test_issue_example(r: Row):
    v = _check(r)
    assert v.correct is r.correct, v.summary
    if not r.correct:
        assert v.mistake == r.tag, v.summary
    for phrase in r.says:
        assert phrase in v.message, v.message




def test_the_spelling_table_is_big():
    assert len(LATEX_SPELLINGS) >= 150
    assert len({(r.expr, r.claimed, r.layout, str(r.assume)) for r in LATEX_SPELLINGS}) == len(LATEX_SPELLINGS)


@pytest.mark.parametrize("r", LATEX_SPELLINGS, ids=[f"{i}-{r.claimed}" for i, r in enumerate(LATEX_SPELLINGS)])
def test_latex_spelling_is_read_and_correct(r: Row):
    v = _check(r)
    assert v.correct, v.summary




@pytest.mark.parametrize("r", ONE_TERM_WRONG, ids=[f"{i}-{r.claimed}" for i, r in enumerate(ONE_TERM_WRONG)])
def test_one_wrong_term_is_named(r: Row):
    assert len(ONE_TERM_WRONG) >= 40
    v = _check(r)
    assert not v.correct and v.mistake == r.tag, v.summary
    planted = to_text(read_claim(r.says[0], v.expected.variables, targets=[v.expected.result.shape]))
    assert f"the term {planted} should be " in v.message, (planted, v.message)
