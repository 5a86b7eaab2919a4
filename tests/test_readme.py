"""The README's Python examples run: every ```python block of README.md is executed as a test.

One test case per block, named after the section heading above it. Each block runs in a fresh
namespace, compiled with the file name ``README.md:<fence line>`` and padded so that traceback
line numbers are README line numbers. A block is skipped only when the line right before its
fence is ``<!-- skip-test: reason -->``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

README = Path(__file__).parent.parent / "README.md"

FENCE = re.compile(r"^ {0,3}```\s*(?P<info>\S*)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
SKIP = re.compile(r"^\s*<!--\s*skip-test:\s*(?P<reason>.*?)\s*-->\s*$")


class Block(NamedTuple):
    """One fenced python block: its code, the README line of its opening fence (1-based), the
    heading of its section and the skip reason (None unless marked)."""

    code: str
    line: int
    heading: str
    skip: str | None


def python_blocks(text: str) -> list[Block]:
    """Every fenced code block whose info string is ``python``, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    heading = "top"
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            title = HEADING.match(lines[index])
            if title is not None:
                heading = title["title"]
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        if index == len(lines):
            raise ValueError(f"README.md:{start + 1}: code fence is never closed")
        if fence["info"] == "python":
            marker = SKIP.match(lines[start - 1]) if start > 0 else None
            code = "\n".join(lines[start + 1 : index]) + "\n"
            skip = (marker["reason"] or "marked skip-test") if marker else None
            blocks.append(Block(code, start + 1, heading, skip))
        index += 1  # past the closing fence
    return blocks


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or "block"


def _params(blocks: list[Block]) -> list:
    params, seen = [], {}
    for block in blocks:
        name = _slug(block.heading)
        seen[name] = seen.get(name, 0) + 1
        case_id = name if seen[name] == 1 else f"{name}-{seen[name]}"
        marks = [pytest.mark.skip(reason=block.skip)] if block.skip is not None else []
        params.append(pytest.param(block, id=case_id, marks=marks))
    return params


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks():
    assert BLOCKS, f"no ```python block found in {README}"


@pytest.mark.parametrize("block", _params(BLOCKS))
def test_readme_block_runs(block: Block):
    # Blank lines before the code make traceback line numbers README line numbers.
    padded = "\n" * block.line + block.code
    namespace = {"__name__": "__main__"}
    exec(compile(padded, f"README.md:{block.line}", "exec"), namespace)


def test_parser_finds_headings_fences_and_skip_markers():
    text = "\n".join(
        [
            "# Title",
            "```bash",
            "# not a heading",
            "```",
            "## First",
            "```python",
            "x = 1",
            "```",
            "<!-- skip-test: needs a GPU -->",
            "```python",
            "y = 2",
            "```",
        ]
    )
    first, second = python_blocks(text)
    assert first == Block("x = 1\n", 6, "First", None)
    assert second == Block("y = 2\n", 10, "First", "needs a GPU")
    assert [p.id for p in _params([first, second])] == ["first", "first-2"]
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n")
