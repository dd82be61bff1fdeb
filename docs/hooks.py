"""mkdocs hook: show the ``>>>`` examples of docstrings as Python code blocks.

matcalc's docstrings hold doctests (they run in the test suite) without Markdown
fences; Markdown would read ``x[...][...]`` in them as links and ``*`` as
emphasis.  This hook adds a small Markdown preprocessor that fences each run of
``>>>`` lines and its output.
"""

from __future__ import annotations

from markdown import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority


class _FenceDoctests(Preprocessor):
    def run(self, lines: list) -> list:
        out, in_fence, in_doctest = [], False, False
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("```") and not in_doctest:
                in_fence = not in_fence
            elif not in_fence and stripped.startswith(">>>") and not in_doctest:
                out += ["", "```python"]
                in_doctest = True
            elif in_doctest and not stripped:
                out.append("```")
                in_doctest = False
            out.append(line)
        if in_doctest:
            out.append("```")
        return out


class DoctestFences(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 - Markdown's API
        md.preprocessors.register(_FenceDoctests(md), "matcalc_doctest_fences", 30)


@event_priority(100)  # before mkdocstrings copies the Markdown extensions
def on_config(config):
    config.markdown_extensions.append(DoctestFences())
    return config
