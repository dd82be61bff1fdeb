"""Homework as students write it (issue 8): every example of the issue, LaTeX spellings, the wrong term named."""

from __future__ import annotations

import pytest

import matcalc

from homework_tables import ISSUE, Row


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
