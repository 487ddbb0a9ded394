"""The installed command line as real processes: exit codes, no tracebacks, and `serve` on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cli_support import park_turn

import effecthost as effecthost_package
from effecthost import DurableEffectHost, Resolution

pytestmark = pytest.mark.timeout(90)


def effecthost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "effecthost.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_read_command_prints_json_and_exits_0(db_url: str) -> None:
    assert effecthost("migrate", "--url", db_url).returncode == 0  # creates the database
    done = effecthost("journal", "sessions", "--json", env={"EFFECTHOST_URL": db_url})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sessions"] == []


def test_errors_exit_1_with_code_and_no_traceback(db_url: str) -> None:
    done = effecthost("await", "peek", "ehk1.@@@", "--url", db_url)
    assert done.returncode == 1
    assert done.stderr.strip() == "await_event_token_malformed: malformed await-event token"
    assert "Traceback" not in done.stderr


def test_usage_errors_exit_2() -> None:
    assert effecthost("journal", "sessions", "--limit", "many").returncode == 2
    assert effecthost("no-such-command").returncode == 2


def test_python_m_effecthost_is_the_command_line(db_url: str) -> None:
    assert effecthost("migrate", "--url", db_url).returncode == 0  # creates the database
    done = subprocess.run(
        [sys.executable, "-m", "effecthost", "journal", "sessions", "--json", "--url", db_url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sessions"] == []
    usage = subprocess.run([sys.executable, "-m", "effecthost"], capture_output=True, text=True, check=False)
    assert "Usage: effecthost [OPTIONS] COMMAND" in usage.stdout  # named as the script, not __main__


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "effecthost"],
        [sys.executable, "-m", "effecthost.cli"],
        # the console script pyproject installs into this venv
        [str(Path(sys.executable).parent / "effecthost")],
    ],
    ids=["python -m effecthost", "python -m effecthost.cli", "effecthost"],
)
def test_version_prints_the_package_version_and_exits_0(command: list[str]) -> None:
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"effecthost {effecthost_package.__version__}\n", "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_resolves_a_turn_parked_by_another_process(
    db_url: str, host: DurableEffectHost
) -> None:
    port = _free_port()
    env = {**os.environ, "EFFECTHOST_ADMIN_TOKEN": "tok", "EFFECTHOST_URL": db_url}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "effecthost.cli", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        turn = await park_turn(host, "s-served")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:  # until the server listens; the test timeout bounds this
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            auth = {"Authorization": "Bearer tok"}
            waits = (await client.get("/v1/sessions/s-served/await-events", headers=auth)).json()
            token = waits["await_events"][0]["token"]
            answer = await client.post(
                f"/v1/await-events/{token}/resolve", json={"status": "timeout"}
            )
            assert answer.json() == {"status": "accepted"}
        assert (await turn.task).resolution == Resolution.TIMEOUT  # type: ignore[attr-defined]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = await server.communicate()
    assert b"Traceback" not in err
    assert f"http://127.0.0.1:{port}/?token=<from EFFECTHOST_ADMIN_TOKEN>".encode() in out
