"""examples/traced_turn.py runs as documented: its re-drive emits no span for what it replayed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_traced_turn_example_prints_each_span_once() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "traced_turn.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    spans = [line.split()[1:3] for line in done.stdout.splitlines() if line.startswith("  span ")]
    assert spans == [
        ["chat", "gpt-4o-mini"],
        ["execute_tool", "weather"],
        ["effecthost.step", "book"],
        ["invoke_agent", "trip"],
        ["effecthost.step", "book"],
        ["invoke_agent", "trip"],
    ]
    assert done.stdout.splitlines()[-1] == "  -> sunny in Lyon, booked in Lyon"
    page = (ROOT / "docs" / "observability.md").read_text()
    assert "examples/traced_turn.py" in page
