"""Durable human-in-the-loop across processes: a worker process parks a pydantic-ai run on an
approval and is killed; `effecthost serve`, another process, resolves the wait over HTTP; a fresh
worker process finishes the run. The token was handed out once and the tool ran once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from effecthost import TurnStatus, open_host

from .agent_worker import Child

SESSION = "pydai-hitl"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def _until(predicate: object, what: str, timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def approve_over_http(url: str, tmp_path: Path) -> None:
    log = tmp_path / "hitl.log"
    children: list[Child] = []
    port = _free_port()
    env = {**os.environ, "EFFECTHOST_ADMIN_TOKEN": "tok", "EFFECTHOST_URL": url}
    server = None
    try:
        async with await open_host(url) as host:
            await host.start_turn(
                "pydai-hitl", session_id=SESSION, turn_id="cleanup", input={"prompt": "tidy"}
            )
            first = Child(url, log, "run", tmp_path, script="hitl_worker.py")
            children.append(first)
            first.wait_ready()
            first.go()

            async def parked() -> bool:
                info = await host.get_turn(SESSION, "cleanup")
                return (
                    info is not None
                    and info.status is TurnStatus.WAITING
                    and any(line.startswith("token ") for line in _lines(log))
                )

            await _until(parked, "the run to park on its approval")
            first.kill()  # the process is gone; the turn waits in the database
            info = await host.get_turn(SESSION, "cleanup")
            assert info is not None and info.waiting is not None
            token = info.waiting["key"]
            assert _lines(log) == ["model", f"token {token}"]
            assert info.waiting["question"]["approvals"] == [
                {"tool_name": "delete", "tool_call_id": "del-1", "args": {"path": "/srv/old"}}
            ]

            server = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "effecthost.cli", "serve", "--port", str(port), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def listening() -> bool:
                    try:
                        return (await client.get("/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(listening, "the server")
                auth = {"Authorization": "Bearer tok"}
                waits = (await client.get(f"/v1/sessions/{SESSION}/await-events", headers=auth)).json()
                assert [w["token"] for w in waits["await_events"]] == [token]
                assert waits["await_events"][0]["wait"]["key"] == "pydantic_ai.deferred_tool_calls#1"
                answer = await client.post(
                    f"/v1/await-events/{token}/resolve",
                    json={"status": "ok", "payload": {"approvals": {"del-1": True}}},
                )
                assert answer.json() == {"status": "accepted"}

            second = Child(url, log, "drain", tmp_path, script="hitl_worker.py")
            children.append(second)
            second.wait_ready()
            second.go()
            assert await asyncio.to_thread(second.proc.wait, 60) == 0, second.stderr()
            info = await host.get_turn(SESSION, "cleanup")
            assert info is not None and info.status is TurnStatus.COMPLETED, info
            assert info.result == "answer: deleted /srv/old"
            # the fresh worker replayed the first request and the handler's answer: one token,
            # asked once; then the approved tool and the second request ran
            assert _lines(log) == ["model", f"token {token}", "delete /srv/old", "model"]
    finally:
        for child in children:
            child.kill()
        if server is not None:
            server.send_signal(signal.SIGINT)
            await server.communicate()


@pytest.mark.timeout(180)
async def test_an_approval_resolved_over_http_by_another_process_on_sqlite(tmp_path: Path) -> None:
    await approve_over_http(f"sqlite:///{tmp_path / 'hitl.db'}", tmp_path)


@pytest.mark.timeout(180)
async def test_an_approval_resolved_over_http_by_another_process_on_postgres(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    await approve_over_http(f"{pg_url}{'&' if '?' in pg_url else '?'}schema={pg_schema}", tmp_path)
