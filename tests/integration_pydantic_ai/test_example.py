"""examples/pydantic_ai_approval.py runs and prints what docs/pydantic-ai.md says it prints, and the
page shows the file as it is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pydantic_ai_approval.py"
PAGE = ROOT / "docs" / "pydantic-ai.md"


def _block_after(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```{language}\n(.*?)```", PAGE.read_text(), re.S)
    assert found is not None, f"docs/pydantic-ai.md has no {language} block after <!-- {marker} -->"
    return found.group(1)


def test_the_page_shows_the_example_as_it_is() -> None:
    assert _block_after("examples/pydantic_ai_approval.py", "python") == EXAMPLE.read_text()


def test_the_example_runs_and_prints_what_the_page_shows() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out == _block_after("output of examples/pydantic_ai_approval.py", "text")
    assert "outside a turn: pydantic_ai_outside_turn" in out
    assert "parked: waiting suspended: 1 token handed out: True" in out
    assert "calls: [('check_stock', 2), ('model', 3), ('refund', 1)] tokens: 1" in out
    assert "completed ticket-1042:refund:0:0:tool_call:call-3" in out
    assert "again: True calls: []" in out


def test_the_error_code_the_page_names_is_documented() -> None:
    assert "pydantic_ai_outside_turn" in (ROOT / "docs" / "error-codes.md").read_text()
