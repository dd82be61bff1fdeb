"""The repository stands alone: its own conventions, licence and an API reference that builds.

The API reference is built with ``mkdocs build --strict`` (a broken reference or a
docstring that does not render fails it); the calibration table of
``docs/conventions.md`` is checked against the engine, row by row.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import matcalc

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|shared/(seeds|CONVENTIONS|STYLE)")


def test_api_reference_builds_strictly(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("derive", "hessian", "check", "check_steps", "explain", "derivative_to_dict", "verdict_to_dict"):
        assert f'id="matcalc.' in api and name in api, name
    assert "language-python" in api  # the docstrings' examples are shown as code


def _tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return [ROOT / f for f in out if (ROOT / f).is_file()] or [p for p in ROOT.rglob("*") if p.is_file()
                                                               and ".git" not in p.parts]


def test_nothing_refers_outside_the_repository():
    hits = []
    for p in _tracked_files():
        if p.suffix in (".png", ".npz", ".npy", ".pyc") or p.name == "test_docs.py":
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{p.relative_to(ROOT)}:{i}" for i, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not hits


@pytest.mark.parametrize("path", ["LICENSE", "docs/conventions.md", "docs/index.md", "docs/cli.md", "docs/api.md",
                                  "mkdocs.yml"])
def test_the_repository_has_its_own(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    assert len(text) > 200
    if path == "LICENSE":
        assert text.startswith("MIT License") and "the matcalc authors" in text


def _calibration_rows():
    text = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    table = text.split("Some results to calibrate against")[1].split("\n## ")[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            yield re.search(r"`([^`]+)`", cells[0]).group(1), cells[1], re.search(r"`([^`]+)`", cells[2]).group(1)


SHAPES = {"(1/N)*norm2(y - X*theta)^2": {"X": ("N", "p")}, "-(1/n)*sum(Y.*log(softmax(W*X)))": {"X": ("p", "n")}}
ASSUME = {"-(1/n)*sum(Y.*log(softmax(W*X)))": {"Y": "onehot"}}


@pytest.mark.parametrize("expr, wrt, result", list(_calibration_rows()), ids=lambda x: x)
def test_the_conventions_calibration_table_is_right(expr, wrt, result):
    v = matcalc.check(expr, wrt=wrt, claimed=result, layout="denominator", shapes=SHAPES.get(expr),
                      assume=ASSUME.get(expr))
    assert v.correct, v.summary


def test_calibration_table_is_read():
    assert len(list(_calibration_rows())) == 7
