"""``effecthost worker URL --app module:attr`` as a real process: it drives turns started by
another process, a wait suspends and resumes across processes, SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from effecthost import Resolution, TurnStatus, open_host

APP = textwrap.dedent(
    """
    from effecthost import Turn, durable_turn

    @durable_turn
    async def greet(turn: Turn, name: str) -> str:
        shout = await turn.step("shout", str.upper, name)
        answer = await turn.wait("approve", question={"greet": shout})
        return f"{shout} {answer.value}"

    turns = [greet]
    """
)


def _worker(tmp_path: Path, url: str, app: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "effecthost", "worker", url, "--app", app, "--suspend-after", "0.05"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )


async def test_a_worker_process_drives_suspends_and_resumes_a_turn(tmp_path: Path) -> None:
    (tmp_path / "greeter.py").write_text(APP)
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    proc = _worker(tmp_path, url, "greeter:turns")
    try:
        async with await open_host(url) as host:
            handle = await host.start_turn("greet", session_id="s", turn_id="t", input={"name": "ada"})
            for _ in range(1000):
                info = await host.get_turn("s", "t")
                if info is not None and info.status is TurnStatus.WAITING and info.waiting:
                    break
                assert proc.poll() is None, proc.communicate()
                await asyncio.sleep(0.02)
            assert info is not None and info.waiting is not None
            assert info.waiting["question"] == {"greet": "ADA"}
            (key,) = await host.list_outstanding_await_event_keys("s")
            await host.resolve_await_event(key, Resolution.ok("approved"))
            assert await handle.result(timeout=20) == "ADA approved"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "running greet" in err and "stopping: 1 turns ended" in err


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("nocolon", "module:attribute"),
        ("missing_module:turns", "cannot import"),
        ("greeter:nope", "has no attribute"),
        ("greeter:APP_TEXT", "not a @durable_turn"),
    ],
)
def test_a_bad_app_is_one_coded_line(tmp_path: Path, app: str, message: str) -> None:
    (tmp_path / "greeter.py").write_text(APP + "\nAPP_TEXT = 'x'\n")
    proc = _worker(tmp_path, f"sqlite:///{tmp_path / 'turns.db'}", app)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert err.startswith("invalid_argument: ") and message in err, err
