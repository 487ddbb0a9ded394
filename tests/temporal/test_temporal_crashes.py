"""Workers SIGKILLed mid-turn: the turn finishes on another worker, every finalized effect ran
once; a worker running changed turn code replays the history and reports the mismatch (every
kind of effect across a kill: tests/engine_agent_cases.py, shared with Restate)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporal_engine import queue_host, run_with_replacements
from temporal_stack import Stack

from effecthost import Resolution
from effecthost.engines.temporal import TemporalEffectHost, WorkerProcess


async def test_a_turn_survives_its_workers_being_killed_before_every_step(
    temporal_stack: Stack, session_id: str
) -> None:
    tag = f"k{uuid.uuid4().hex[:6]}"
    n = 3
    result = await run_with_replacements(temporal_stack, "killed_often", session_id, {"tag": tag, "n": n})
    assert result == {"total": sum(range(n))}
    kills = temporal_stack.kills.read_text().split()
    assert [k for k in kills if k.startswith(tag)] == [f"{tag}:add:{sum(range(i))}:{i}" for i in range(n)]
    runs = [line for line in temporal_stack.marked() if line.startswith(tag)]
    assert runs == [f"{tag} {sum(range(i))} {i}" for i in range(n)]  # each step once, in order


async def _events(host: TemporalEffectHost, workflow_id: str) -> list[Any]:
    return [e async for e in host.client.get_workflow_handle(workflow_id).fetch_history_events()]


async def test_changed_turn_code_is_a_replay_mismatch(temporal_stack: Stack, session_id: str) -> None:
    """The first worker parks a turn on a wait (its steps recorded in the history) and is killed;
    a worker running changed code replays the history: effecthost's diagnostic fails the workflow
    task (Temporal retries it until a matching worker runs it), and the turn's history stays."""
    queue = f"change-{uuid.uuid4().hex[:8]}"
    make = temporal_stack.make_worker
    original: WorkerProcess = make(queue)  # type: ignore[operator]
    host = await queue_host(temporal_stack, queue)
    workflow_id = f"effecthost-turn/{len(session_id)}:{session_id}/t"
    handle = await host.start_turn("changing", session_id=session_id, turn_id="t", input={"tag": "c"})
    for _ in range(400):  # parked: its records are in the history (a completed workflow task)
        events = await _events(host, workflow_id)
        if sum(e.HasField("marker_recorded_event_attributes") for e in events) >= 4:
            break
        await asyncio.sleep(0.025)
    [key] = await host.list_outstanding_await_event_keys(session_id)
    original.kill()
    changed: WorkerProcess = make(queue, EFFECTHOST_TEST_CHANGED="1")  # type: ignore[operator]
    try:
        await host.resolve_await_event(key, Resolution.ok("go"))
        failures: list[str] = []
        for _ in range(600):
            events = await _events(host, workflow_id)
            failures = [
                e.workflow_task_failed_event_attributes.failure.message
                for e in events
                if e.HasField("workflow_task_failed_event_attributes")
            ]
            if failures:
                break
            await asyncio.sleep(0.05)
    finally:
        changed.stop()
    assert failures and "temporal_effect_replay_hash_conflict" in failures[0]
    assert "input" in failures[0]  # the diagnostic names the divergent JSON path
    # the turn is still open, its history intact: a matching worker finishes it
    fixed: WorkerProcess = make(queue)  # type: ignore[operator]
    try:
        assert await handle.result(timeout=60) == {"first": 2, "answer": "go"}
    finally:
        fixed.stop()
