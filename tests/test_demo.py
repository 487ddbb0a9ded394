"""``make demo`` end to end: a real child process is killed mid-turn, a worker takes the turn over,
it suspends on the approval, a webhook resolves it, and the re-drives replay what was recorded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_kills_a_child_mid_turn_and_the_redrives_replay_what_was_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "effecthost.demo", "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "exec_code compute#1 is executing -> SIGKILL" in out
    assert "the turn is waiting on 'approval' and suspended: the worker drives 0 turns now" in out
    assert "resolved it: accepted" in out
    rows = {line.split()[0]: line.split()[1:5] for line in out.splitlines() if "#1 " in line[:14]}
    assert rows["plan#1"] == ["llm_call", "executed", "replayed", "replayed"]
    assert rows["search#1"] == ["tool_call", "executed", "replayed", "replayed"]
    assert rows["compute#1"] == ["exec_code", "killed", "executed", "replayed"]
    assert rows["backoff#1"] == ["durable_step", "-", "executed", "replayed"]
    assert rows["approval#1"] == ["await_event", "-", "suspended", "executed"]
    assert rows["answer#1"] == ["llm_call", "-", "-", "executed"]
    assert "answer: Use effecthost: journal every effect, replay it by key." in out
    assert "calls made by this process: model 1, tool 0, code 1" in out
    assert "host.get_turn: completed, driven 3 times" in out
    assert ":turn-1:0:0:await_event:approval#1:deadline" in out
    assert "host.run_turn once more: the recorded result, 0 new calls" in out
