"""``effecthost worker --log-format json --log-level debug``: one JSON line per turn and per
effect on stderr, with the structured fields; ``text`` reads as one line a record."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from effecthost import open_host
from effecthost.cli.logs import JsonFormatter, TextFormatter

APP = textwrap.dedent(
    """
    from effecthost import Turn, durable_turn

    @durable_turn
    async def double(turn: Turn, n: int) -> int:
        return await turn.step("double", lambda x: 2 * x, n)
    """
)


def _worker(tmp_path: Path, url: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "effecthost", "worker", url, "--app", "doubler:double", *options],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )


async def test_a_worker_logs_a_json_line_per_turn_and_per_effect(tmp_path: Path) -> None:
    (tmp_path / "doubler.py").write_text(APP)
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    proc = _worker(tmp_path, url, "--log-format", "json", "--log-level", "debug")
    try:
        async with await open_host(url) as host:
            handle = await host.start_turn("double", session_id="s", turn_id="t", input={"n": 21})
            assert await handle.result(timeout=30) == 42
            await asyncio.sleep(0.2)  # the drive logs its line right after writing the end
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    [turn] = [r for r in records if r["logger"] == "effecthost.turns"]
    assert (turn["session_id"], turn["turn_id"], turn["turn"], turn["outcome"]) == (
        "s",
        "t",
        "double",
        "completed",
    )
    assert turn["level"] == "info" and turn["ts"].endswith("Z")
    [effect] = [r for r in records if r["logger"] == "effecthost.effects"]
    assert effect["replay_key"] == "s:t:0:0:durable_step:double#1"
    assert (effect["kind"], effect["outcome"], effect["level"]) == ("durable_step", "executed", "debug")
    assert '"kind":"turn"' in effect["scope"]


def test_the_text_format_is_one_line_with_its_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "effecthost.turns", "levelname": "INFO", "msg": "turn %s done", "args": ("t",)}
    )
    record.effecthost = {"outcome": "completed", "attempt": 2}
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert line.endswith('INFO effecthost.turns: turn t done outcome="completed" attempt=2')
    body = json.loads(JsonFormatter().format(record))
    assert (body["message"], body["outcome"], body["attempt"]) == ("turn t done", "completed", 2)
