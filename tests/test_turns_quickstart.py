"""examples/turns_quickstart.py, the main example of docs/durable-turns.md, runs and prints what the
page says it prints; the page shows the file as it is, and its other Python blocks come from it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "turns_quickstart.py"
PAGE = ROOT / "docs" / "durable-turns.md"


def _block_after(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```{language}\n(.*?)```", PAGE.read_text(), re.S)
    assert found is not None, f"docs/durable-turns.md has no {language} block after <!-- {marker} -->"
    return found.group(1)


def test_the_page_shows_the_example_as_it_is() -> None:
    assert _block_after("examples/turns_quickstart.py", "python") == EXAMPLE.read_text()


def test_every_python_block_of_the_page_is_the_example_or_a_part_of_it() -> None:
    source = EXAMPLE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert blocks
    for block in blocks:
        assert block.strip() in source, block[:200]


def test_the_example_imports_only_the_public_root() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in modules if m.startswith("effecthost")} == {"effecthost"}


def test_the_example_runs_and_prints_what_the_page_shows() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out == _block_after("output of examples/turns_quickstart.py", "text")
    # what the output shows, spelled out
    assert "calls: [('book_table', 2), ('forecast', 2), ('model', 1)]" in out
    assert "again: True calls: []" in out
    assert "alice:evening-1:0:0:durable_step:forecast#2" in out
    assert "alice:evening-1:0:0:durable_step:notify-guests" in out
    assert "alice:evening-1:0:0:tool_call:book_table#1:attempt:1:sleep" in out
    assert "alice:evening-1:0:0:await_event:approve#1:deadline" in out
    assert "bob: parked, suspended: 1\nbob: told 2 people" in out
    assert "carol: turn_cancelled" in out
    assert "dave: turn_step_failed - TimeoutError: the booking API timed out" in out
    assert "completed dave:evening-1:0:0:tool_call:book_table#1:attempt:4" in out
