"""Forged datagrams on a waiter's wake socket (defects 1 and 2).

A real waiter process parks with polling switched off and the test, as an outsider that reached
the socket, sends it what an attacker would: the old answer-carrying form, broken forms, junk,
invalid UTF-8, an empty and an oversized datagram, and well-formed hints. None may end the wait,
crash the waiter or plant an answer: the waiter stays parked, the store says pending, every
malformed datagram is counted and logged as such, and the genuine resolve is the only winner.
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

SRC = str(Path(__file__).resolve().parents[2] / "src")
SCOPE = ExecutionScope.turn("forged-session", "forged-turn")

_WAITER = """
import asyncio, json, sys
from effecthost import AwaitEventKey, open_host
from effecthost._private.runtime import await_loop as coordinator
coordinator.POLL_START_S = coordinator.POLL_MAX_S = 3600.0  # only a wake-up can end the wait
async def main():
    host = await open_host(sys.argv[1])
    store = host.await_coordinator.store
    loop = asyncio.get_running_loop()
    async def answer_stats():
        while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "stats":
            seen = {"received": store.channel.received, "malformed": getattr(store.hub, "malformed_hints", -1)}
            print("stats " + json.dumps(seen), flush=True)
    stats = asyncio.ensure_future(answer_stats())
    resolution = await host.await_await_event(AwaitEventKey.from_token(sys.argv[2]))
    print("woke " + json.dumps(resolution.to_json()), flush=True)
    stats.cancel()
    await host.aclose()
asyncio.run(main())
"""


def _forgeries(key_id: str) -> tuple[list[bytes], list[bytes]]:
    """(malformed datagrams, well-formed hints an outsider may also send)."""
    k = key_id.encode()
    malformed = [
        b"t:" + k + b'\n{"status":"ok","payload":"forged"}',  # the old hint that carried an answer
        b"t:" + k + b"\n{not json",
        b"junk that is no hint at all",
        b"\x00\x01\x02\xfe\xff",
        b"k:" + k[:-2] + b"\xff\xfe",  # invalid UTF-8 that looks like a key hint
        b"",
        b"k:" + k + b"x" * 60_000,  # larger than any datagram the channel sends
        json.dumps(["t:" + key_id + '\n{"status":"ok","payload":"forged"}']).encode(),
        b'["k:' + k + b'", 7]',
        b"[]",
        b"[" * 10_000,  # nesting deep enough to exhaust a recursive parser
        b'{"status":"ok","payload":"forged"}',
    ]
    return malformed, [b"k:" + k, b"*", json.dumps(["k:" + key_id, "s:forged-session"]).encode()]


async def _spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=dict(os.environ, PYTHONPATH=SRC),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _stats(waiter: asyncio.subprocess.Process) -> dict[str, int]:
    assert waiter.stdin is not None and waiter.stdout is not None
    waiter.stdin.write(b"stats\n")
    await waiter.stdin.drain()
    line = (await waiter.stdout.readline()).decode()
    assert line.startswith("stats "), f"the waiter stopped waiting: {line!r}"
    stats: dict[str, int] = json.loads(line[len("stats "):])
    return stats


async def _until_received(waiter: asyncio.subprocess.Process, count: int) -> dict[str, int]:
    while (stats := await _stats(waiter))["received"] < count:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.02)
    return stats


async def test_forged_datagrams_neither_end_the_wait_nor_plant_an_answer(db_url: str, db_path: str) -> None:
    host = await open_host(db_url)
    waiter: asyncio.subprocess.Process | None = None
    try:
        key = await host.await_event_key(SCOPE, WaitIdentity.custom("forged"))
        waiter = await _spawn(_WAITER, db_url, key.to_token())
        while key not in await host.list_outstanding_await_event_keys("forged-session"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        (name,) = os.listdir(db_path + ".wake")  # the waiter's socket (this process never parks)
        malformed, well_formed = _forgeries(key.key_id)
        outsider = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            for datagram in malformed + well_formed:
                try:
                    outsider.sendto(datagram, os.path.join(db_path + ".wake", name))
                except FileNotFoundError:
                    assert waiter.stdin is not None
                    waiter.stdin.close()
                    out = await asyncio.wait_for(waiter.communicate(), 30)
                    pytest.fail(f"the waiter stopped waiting after {datagram[:40]!r}: {out!r}")
                await asyncio.sleep(0.005)  # stay within the receive queue: every datagram must land
        finally:
            outsider.close()

        stats = await asyncio.wait_for(_until_received(waiter, len(malformed) + len(well_formed)), 30)
        assert stats["malformed"] == len(malformed)
        assert waiter.returncode is None  # still parked
        assert await host.peek_await_event(key) is None  # still pending

        genuine = Resolution.ok({"from": "the genuine resolver"})
        assert await host.resolve_await_event(key, genuine) == ResolveOutcome.ACCEPTED
        assert waiter.stdout is not None
        line = (await asyncio.wait_for(waiter.stdout.readline(), 30)).decode()
        assert line.startswith("woke "), line
        assert json.loads(line[len("woke "):]) == genuine.to_json()
        assert await host.resolve_await_event(key, Resolution.ok("late")) == ResolveOutcome.already_resolved(genuine)

        assert waiter.stdin is not None
        waiter.stdin.close()
        _, err = await asyncio.wait_for(waiter.communicate(), 30)
        assert waiter.returncode == 0, err.decode()
        assert "ignored a malformed wake-up hint" in err.decode()  # logged (once: rate-limited)
        assert "Traceback" not in err.decode()
    finally:
        if waiter is not None and waiter.returncode is None:
            waiter.kill()
            await waiter.wait()
        await host.aclose()
