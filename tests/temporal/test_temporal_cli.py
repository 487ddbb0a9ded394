"""``effecthost await list|peek|resolve`` against the Temporal engine (``--url temporal://...``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from temporal_stack import Stack

from effecthost.engines.temporal import TemporalEffectHost


async def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    url = f"temporal://{stack.server.address}?task_queue={stack.config.task_queue}"
    env = {**os.environ, "EFFECTHOST_TEMPORAL_SECRET": stack.config.secret.hex(), "EFFECTHOST_URL": url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "effecthost", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_the_cli_lists_and_resolves_a_turns_wait(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "cli"}
    )
    for _ in range(200):
        listed = await _cli(temporal_stack, "await", "list", session_id, "--json")
        assert listed.returncode == 0, listed.stderr
        waits = json.loads(listed.stdout)["await_events"]
        if waits:
            break
        await asyncio.sleep(0.05)
    [wait] = waits
    token = wait["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = await _cli(temporal_stack, "await", "resolve", forged, "--ok", '"no"')
    assert refused.returncode == 1 and "await_event" in refused.stderr
    resolved = await _cli(temporal_stack, "await", "resolve", token, "--ok", '{"via": "cli"}', "--json")
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout) == {"status": "accepted"}
    assert await handle.result(timeout=20) == {"first": 2, "status": "ok", "value": {"via": "cli"}}
    peeked = await _cli(temporal_stack, "await", "peek", token, "--json")
    assert peeked.returncode == 0
    assert json.loads(peeked.stdout)["resolution"] == {"status": "ok", "payload": {"via": "cli"}}
