"""Every shell and Python block in the README and docs/ is either run here or marked an excerpt.

A fenced ```bash, ```sh or ```python block must sit right under a marker line:
`<!-- runnable -->` (run by this test, in order, in one fresh directory per page: a later block
may use what an earlier one made) or `<!-- excerpt -->` (shown, not run: it needs a server, a
cluster, a secret or your data; `<!-- excerpt: why -->` may say more). An unmarked block fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CHECKED = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^\s*<!-- (runnable|excerpt)(?:: [^>]*)? -->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str  # "bash" or "python"
    marker: str | None  # "runnable", "excerpt" or None
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The checked-language fenced blocks of a page, with the marker above each."""
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, language = opening.groups()
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence)), len(lines)
        )
        if language.lower() in CHECKED:
            above = MARKER.match(lines[i - 1]) if i else None
            body = [ln.removeprefix(indent) for ln in lines[i + 1 : end]]
            found.append(
                Block(
                    page,
                    i + 1,
                    CHECKED[language.lower()],
                    above.group(1) if above else None,
                    "\n".join(body) + "\n",
                )
            )
        i = end + 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
RUNNABLE_PAGES = sorted({b.page for b in ALL if b.marker == "runnable"})


def test_the_pages_have_code_blocks():
    """A guard on the parser itself: the docs hold shell and Python blocks, some runnable."""
    assert len(ALL) > 20
    assert RUNNABLE_PAGES


def test_every_shell_and_python_block_is_marked():
    unmarked = [str(b) for b in ALL if b.marker is None]
    assert unmarked == [], (
        "mark each block `<!-- runnable -->` (run by tests/docs) or `<!-- excerpt -->` on the "
        f"line right above its fence: {unmarked}"
    )


def test_blocks_are_found_and_marked_as_written(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- runnable -->\n```bash\necho hi\n```\n\n```python\nx = 1\n```\n"
        "- item\n  <!-- excerpt: needs a server -->\n  ```sh\n  curl x\n  ```\n"
        "```text\nnot checked\n```\n"
    )
    found = [(b.line, b.language, b.marker, b.code) for b in blocks(page)]
    assert found == [
        (2, "bash", "runnable", "echo hi\n"),
        (6, "python", None, "x = 1\n"),
        (11, "bash", "excerpt", "curl x\n"),
    ]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_blocks_run(page: Path, tmp_path: Path):
    """A page's runnable blocks, in order, in a fresh directory with the embedded store."""
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRK_", "MLFLOW_"))}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["TRK_MODEL_CACHE"] = str(tmp_path / "cache")
    for block in (b for b in blocks(page) if b.marker == "runnable"):
        command = (
            ["bash", "-euo", "pipefail", "-c", block.code]
            if block.language == "bash"
            else [sys.executable, "-c", block.code]
        )
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"{block} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
