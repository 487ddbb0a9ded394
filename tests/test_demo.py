"""``make demo`` end to end: a real child process is killed mid-turn and the turn is re-driven."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_kills_a_child_mid_turn_and_the_redrive_replays_what_was_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "effecthost.demo", "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "effect 3 compute is executing -> SIGKILL" in out
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert rows["plan"][3:5] == ["recorded", "replayed"]
    assert rows["search"][3:5] == ["recorded", "replayed"]
    assert rows["compute"][3:5] == ["-", "executed"]
    assert rows["approval"][3:5] == ["-", "executed"]
    assert "answer: Use effecthost." in out
    assert "7 replayed, 0 executed" in out
