"""A traced turn through a real crash: the worker driving it is SIGKILLed inside a step, another
process takes the turn and the step's lease over and finishes it. Each span is emitted once across
both processes (what ran before the crash is not emitted again by the re-drive), the re-drive
continues the first drive's trace, and the step it took over says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "traced_worker.py"
SRC = HERE.parents[1] / "src"

pytestmark = pytest.mark.timeout(90)


def _worker(url: str, spans: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), url, str(spans), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def test_a_sigkilled_drive_and_its_redrive_emit_each_span_once(crash_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    start = _worker(crash_url, tmp_path / "start.jsonl", "start")
    _, err = start.communicate(timeout=60)
    assert start.returncode == 0, err
    crashing = _worker(crash_url, first, "crash")
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{first}.inside").exists():
            assert crashing.poll() is None, crashing.communicate()[1]
            assert time.monotonic() < deadline, "the worker never reached the slow step"
            time.sleep(0.02)
    finally:
        os.kill(crashing.pid, signal.SIGKILL)
        crashing.communicate(timeout=30)
    finishing = _worker(crash_url, second, "finish")
    out, err = finishing.communicate(timeout=60)
    assert finishing.returncode == 0, err
    assert out.strip() == "['chatcmpl-1', 'sunny in Lyon', 'slow done', 'told ops']"

    before, after = _spans(first), _spans(second)
    # the killed process exported what had ended: the model call and the first tool, not its
    # drive nor the step it died in
    assert sorted(s["name"] for s in before) == ["chat gpt-4o-mini", "execute_tool lookup"]
    assert sorted(s["name"] for s in after) == [
        "effecthost.step slow",
        "execute_tool notify",
        "invoke_agent traced",
    ]
    keys = Counter(s["attributes"]["effecthost.replay_key"] for s in before + after if "effecthost.replay_key" in s["attributes"])
    assert keys == {
        "s:t:0:0:llm_call:llm#1": 1,
        "s:t:0:0:tool_call:call_1": 1,
        "s:t:0:0:durable_step:slow#1": 1,
        "s:t:0:0:tool_call:call_2": 1,
    }
    [drive] = [s for s in after if s["name"] == "invoke_agent traced"]
    # one trace; the re-drive is a child of the killed drive's span, as its effects were
    assert {s["context"]["trace_id"] for s in before + after} == {drive["context"]["trace_id"]}
    killed_drive = {s["parent_id"] for s in before}
    assert len(killed_drive) == 1 and drive["parent_id"] in killed_drive
    assert drive["attributes"]["effecthost.turn.attempt"] == 2
    assert drive["attributes"]["effecthost.turn.outcome"] == "completed"
    [taken] = [s for s in after if s["name"] == "effecthost.step slow"]
    assert taken["attributes"]["effecthost.lease.took_over"] is True
    assert taken["parent_id"] == drive["context"]["span_id"]
