"""Await-event wake-ups across OS processes on one SQLite file.

Polling is switched off (poll interval of an hour) in the waiting process, so a waiter that wakes
was woken by the notification channel, not by re-reading its row on a timer.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from effecthost import ExecutionScope, Resolution, ResolveOutcome, WaitIdentity, open_host
from effecthost._private.runtime import await_loop as coordinator

SCOPE = ExecutionScope.turn("wake-session", "wake-turn")
SRC = str(Path(__file__).resolve().parents[2] / "src")

_CHILD_WAITS = """
import asyncio, json, sys
from effecthost import AwaitEventKey, open_host
from effecthost._private.runtime import await_loop as coordinator
coordinator.POLL_START_S = coordinator.POLL_MAX_S = 3600.0  # only a wake-up can end the wait
async def main():
    host = await open_host(sys.argv[1])
    key = AwaitEventKey.from_token(sys.argv[2])
    resolution = await host.await_await_event(key)
    print(json.dumps(resolution.to_json()), flush=True)
    await host.aclose()
asyncio.run(main())
"""

_CHILD_RESOLVES = """
import asyncio, sys
from effecthost import AwaitEventKey, Resolution, open_host
async def main():
    host = await open_host(sys.argv[1])
    outcome = await host.resolve_await_event(AwaitEventKey.from_token(sys.argv[2]), Resolution.ok("hi"))
    print(outcome, flush=True)
    await host.aclose()
asyncio.run(main())
"""


async def _spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=SRC)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _until_listed(host: object, key: object) -> None:
    listed = host.list_outstanding_await_event_keys  # type: ignore[attr-defined]
    while key not in await listed(SCOPE.session_id):  # noqa: ASYNC110 - the store is the truth
        await asyncio.sleep(0.01)


async def test_resolve_here_wakes_a_waiter_in_another_process(db_url: str) -> None:
    host = await open_host(db_url)
    try:
        key = await host.await_event_key(SCOPE, WaitIdentity.custom("to-child"))
        child = await _spawn(_CHILD_WAITS, db_url, key.to_token())
        await asyncio.wait_for(_until_listed(host, key), 30)
        assert await host.resolve_await_event(key, Resolution.ok({"n": 1})) == ResolveOutcome.ACCEPTED
        out, err = await asyncio.wait_for(child.communicate(), 30)
        assert child.returncode == 0, err.decode()
        assert json.loads(out) == Resolution.ok({"n": 1}).to_json()
    finally:
        await host.aclose()


async def test_resolve_in_another_process_wakes_a_waiter_here(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coordinator, "POLL_START_S", 3600.0)
    monkeypatch.setattr(coordinator, "POLL_MAX_S", 3600.0)
    host = await open_host(db_url)
    try:
        key = await host.await_event_key(SCOPE, WaitIdentity.custom("to-parent"))
        waiter = asyncio.ensure_future(host.await_await_event(key))
        await asyncio.wait_for(_until_listed(host, key), 30)
        child = await _spawn(_CHILD_RESOLVES, db_url, key.to_token())
        _, err = await asyncio.wait_for(child.communicate(), 30)
        assert child.returncode == 0, err.decode()
        assert await asyncio.wait_for(waiter, 30) == Resolution.ok("hi")
        assert host.await_coordinator.store.channel.received >= 1
    finally:
        await host.aclose()


def _stale_socket(wake_dir: Path) -> Path:
    wake_dir.mkdir(exist_ok=True)
    stale = wake_dir / "1-dead"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(stale))
    sock.close()  # the file stays; nobody listens any more
    return stale


async def _until_gone(path: Path) -> None:
    while os.path.exists(path):  # noqa: ASYNC110, ASYNC240 - a tiny stat; nothing else to wait on
        await asyncio.sleep(0.001)


async def test_sockets_of_dead_processes_are_removed_on_publish(db_url: str, db_path: str) -> None:
    host = await open_host(db_url)
    try:
        stale = _stale_socket(Path(db_path + ".wake"))
        key = await host.await_event_key(SCOPE, WaitIdentity.custom("stale"))
        assert await host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.ACCEPTED
        await asyncio.wait_for(_until_gone(stale), 10)  # hints leave on the loop turn after commit
    finally:
        await host.aclose()


async def test_closing_the_last_host_removes_its_socket(db_url: str, db_path: str) -> None:
    host = await open_host(db_url)
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("bye"))
    waiter = asyncio.ensure_future(host.await_await_event(key))
    await asyncio.wait_for(_until_listed(host, key), 30)
    assert len(os.listdir(db_path + ".wake")) == 1
    await host.resolve_await_event(key, Resolution.ok(1))
    await waiter
    await host.aclose()
    assert os.listdir(db_path + ".wake") == []
