"""Derivations in every format students write (issue 8): each example file passes, its planted twin fails there.

The files are ``examples/derivations/NAME.{txt,tex}`` and ``NAME.wrong.{txt,tex}``; the table gives the
planted line of each twin (1-based, counting every line of the file) and the tag it must get.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import matcalc

HERE = Path(__file__).resolve().parent.parent / "examples" / "derivations"

# name: (planted line, tag of the planted line, what the format shows)
FORMATS = {
    "aligned.tex": (6, "factor", r"\begin{aligned} with &=, \\ and && \text{...} justifications"),
    "align_star.tex": (6, "sign", r"align* with \quad\text{(chain rule)}"),
    "display_dollars.tex": (5, "factor", r"$$ lines with \quad (1) numbers and \frac{\delta J}{\delta \theta}"),
    "plain_reasons.txt": (4, "missing-symmetric-part", "plain text with a [reason] after a line"),
    "frac_df.tex": (4, "missing-symmetric-part", r"\frac{df}{dx} after a label f(x)"),
    "frac_d_dx.tex": (2, "wrong", r"\frac{d}{dx} EXPR on one line"),
    "slash.txt": (3, "dropped-chain-factor", "df/dw after a label f(w)"),
    "partial_unicode.txt": (3, "sign", "∂f/∂x"),
    "grad.txt": (4, "sum-instead-of-matrix", "grad_W f"),
    "grad_f.txt": (3, "factor", "grad f, the variable taken from the function"),
    "label_ell.tex": (4, "missing-symmetric-part", r"a Greek label \ell(K) and \nabla_K \ell in $...$"),
    "differentials.tex": (5, "factor", r"differentials df = tr(...) line by line, then \Rightarrow \nabla_W f"),
    "differential_plain.txt": (3, "factor", "df = tr(2*W'*dW) in plain text"),
    "logdet.tex": (3, "layout", r"d\log\det X = tr(X^{-1} dX), then the gradient"),
    "backprop.txt": (5, "dropped-chain-factor", "intermediate names Z = W1*X, H = relu(Z)"),
    "index_sums.tex": (4, "wrong", r"index sums \sum_i \sum_j v_i A_{ij} v_j and \partial f / \partial v_k"),
    "bmatrix_2x2.tex": (3, "wrong", "a 2x2 proof written out with bmatrix, checked at that size"),
    "layout.txt": (3, "layout", "a numerator-layout answer in a denominator-layout derivation"),
}


def _twin(name: str) -> Path:
    stem, ext = name.rsplit(".", 1)
    return HERE / f"{stem}.wrong.{ext}"


def test_every_example_file_is_in_the_table():
    files = {p.name for p in HERE.iterdir()}
    assert {n for n in files if ".wrong." not in n} == set(FORMATS)
    assert {n for n in files if ".wrong." in n} == {_twin(n).name for n in FORMATS}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_correct_derivation_passes(name):
    r = matcalc.check_steps((HERE / name).read_text())
    assert r.ok, str(r)
    assert sum(s.status == "ok" for s in r.steps) >= 1


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_planted_line_is_found_with_its_tag(name):
    line, tag, _ = FORMATS[name]
    r = matcalc.check_steps(_twin(name).read_text())
    assert r.line == line, str(r)
    assert r.first_wrong.mistake == tag, str(r)


def test_justifications_are_shown_next_to_their_lines():
    r = matcalc.check_steps((HERE / "aligned.tex").read_text())
    whys = [s.why for s in r.steps if s.why]
    assert whys == ["expand the square", "by (3)", "X^T X is symmetric"]
    assert "[by (3)]" in str(r)
    r = matcalc.check_steps((HERE / "align_star.tex").read_text())
    assert [s.why for s in r.steps if s.why] == ["(chain rule)", "(multiply out)"]
    wrong = matcalc.check_steps(_twin("plain_reasons.txt").read_text())
    assert "A is symmetric?" in wrong.explain()


def test_the_bmatrix_proof_is_checked_at_its_size():
    r = matcalc.check_steps((HERE / "bmatrix_2x2.tex").read_text())
    assert any("at size 2" in s.method for s in r.steps)
    wrong = matcalc.check_steps(_twin("bmatrix_2x2.tex").read_text())
    assert wrong.first_wrong.counterexample["dims"] == {"n": 2}


def test_index_sums_are_checked_at_random_sizes():
    r = matcalc.check_steps((HERE / "index_sums.tex").read_text())
    sizes = {s.method for s in r.steps if "entry by entry" in s.method}
    assert sizes and not any("at size" in m for m in sizes)


INDEX_ROWS = [
    # (derivation, ok, the first wrong line, a phrase of its message)
    ("f = x'*x\n\\frac{\\partial f}{\\partial x_k} = 2 x_k", True, None, ""),
    ("f = x'*x\n\\frac{\\partial f}{\\partial x_k} = 2 x_j", False, 2, "free indices (j)"),
    ("f = x'*x\n= \\sum_i x_i^2", True, None, ""),
    ("f = x'*x\n= \\sum_i x_i x_i x_i", False, 2, "differs"),
    ("f = x'*A*x\n\\frac{\\partial f}{\\partial x_k} = \\sum_j A_{kj} x_j", False, 2, "differs"),
    ("f = u'*W*v\n\\frac{\\partial f}{\\partial W_{ij}} = u_i v_j", True, None, ""),
    ("f = u'*W*v\n\\frac{\\partial f}{\\partial W_{ij}} = u_j v_i", False, 2, "differs"),
]


@pytest.mark.parametrize("text, ok, line, phrase", INDEX_ROWS)
def test_index_notation_rows(text, ok, line, phrase):
    r = matcalc.check_steps(text)
    assert r.ok is ok and r.line == line, str(r)
    if phrase:
        assert phrase in r.first_wrong.message
