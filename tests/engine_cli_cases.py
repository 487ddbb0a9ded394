"""``effecthost await list|peek|resolve`` and the turn verbs on an engine's URL (``--url
restate://...``, ``temporal://...``), one set of cases for both engines: tests/restate's and
tests/temporal's test_*_cli.py run them against the real servers with their ``engine`` fixture."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from engine_adapter import EngineUnderTest


async def _cli(engine: EngineUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **engine.target.env, "EFFECTHOST_URL": engine.target.url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "effecthost", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_the_cli_lists_and_resolves_a_turns_wait(engine: EngineUnderTest, session_id: str) -> None:
    handle = await engine.host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "cli"}
    )
    for _ in range(200):
        listed = await _cli(engine, "await", "list", session_id, "--json")
        assert listed.returncode == 0, listed.stderr
        waits = json.loads(listed.stdout)["await_events"]
        if waits:
            break
        await asyncio.sleep(0.05)
    [wait] = waits
    token = wait["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = await _cli(engine, "await", "resolve", forged, "--ok", '"no"')
    assert refused.returncode == 1 and "await_event" in refused.stderr
    resolved = await _cli(engine, "await", "resolve", token, "--ok", '{"via": "cli"}', "--json")
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout) == {"status": "accepted"}
    assert await handle.result(timeout=20) == {"first": 2, "status": "ok", "value": {"via": "cli"}}
    peeked = await _cli(engine, "await", "peek", token, "--json")
    assert peeked.returncode == 0
    assert json.loads(peeked.stdout)["resolution"] == {"status": "ok", "payload": {"via": "cli"}}


async def test_the_turn_verbs_start_show_list_and_cancel_on_the_engine(
    engine: EngineUnderTest, session_id: str
) -> None:
    started = await _cli(
        engine, "turns", "start", "approval", session_id, "t", "--input", '{"user": "cli"}', "--json"
    )
    assert started.returncode == 0, started.stderr
    answer = json.loads(started.stdout)
    assert answer["created"] is True and answer["turn"]["name"] == "approval"
    again = await _cli(engine, "turns", "start", "approval", session_id, "t", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["created"] is False
    shown = await _cli(engine, "turns", "show", session_id, "t", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["turn"]["session_id"] == session_id and detail["turn"]["turn_id"] == "t"
    for _ in range(100):  # (Temporal's visibility lists a new turn a moment later)
        listed = await _cli(engine, "turns", "list", "--session", session_id, "--json")
        assert listed.returncode == 0, listed.stderr
        if json.loads(listed.stdout)["turns"]:
            break
        await asyncio.sleep(0.1)
    assert [t["turn_id"] for t in json.loads(listed.stdout)["turns"]] == ["t"]
    table = await _cli(engine, "turns", "list", "--session", session_id)
    assert table.returncode == 0 and "approval" in table.stdout
    for _ in range(200):  # parked on its wait, then cancelled
        waits = json.loads((await _cli(engine, "await", "list", session_id, "--json")).stdout)
        if waits["await_events"]:
            break
        await asyncio.sleep(0.05)
    cancelled = await _cli(engine, "turns", "cancel", session_id, "t", "--yes", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    for _ in range(200):
        shown = await _cli(engine, "turns", "show", session_id, "t", "--json")
        if json.loads(shown.stdout)["turn"]["status"] == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert json.loads(shown.stdout)["turn"]["status"] == "cancelled"
    missing = await _cli(engine, "turns", "show", session_id, "nope")
    assert missing.returncode == 1 and missing.stderr.startswith("turn_not_found:")


async def test_verbs_an_engine_cannot_serve_are_refused_with_a_code(
    engine: EngineUnderTest, session_id: str
) -> None:
    resumed = await _cli(engine, "turns", "resume", session_id, "t")
    assert resumed.returncode == 1 and resumed.stderr.startswith("turns_unsupported:")
    assert engine.name in resumed.stderr and "Traceback" not in resumed.stderr
    forked = await _cli(engine, "turns", "fork", session_id, "t", "--new-turn-id", "u", "--keep", "1")
    assert forked.returncode == 1 and forked.stderr.startswith("turns_unsupported:")
    paged = await _cli(engine, "turns", "list", "--after", "x", "--json")
    assert paged.returncode == 1 and json.loads(paged.stdout)["code"] == "invalid_argument"
