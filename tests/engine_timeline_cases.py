"""A turn's timeline read back from the engine (``list_turn_effects``: Restate's journal,
Temporal's history): the effects in run order with the envelopes, hashes, outcomes and errors an
SQLite host records for the same code. One set of cases for both engines (their ``engine``
fixture); what differs (a crash's replay, an effect still running) stays in each engine's
test_*_timeline.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from effecthost import EffectHostError, ExecutionScope, Resolution, ResolveOutcome, WaitIdentity
from effecthost.store import JournalRow
from engine_adapter import EngineUnderTest
from engine_timeline import run_on_sqlite

KEYS = ["double#1", "forecast#1", "explode#1", "pause#1", "approve#1:deadline", "approve#1"]


async def _parked(engine: EngineUnderTest, session_id: str) -> None:
    for _ in range(400):
        if await engine.host.list_outstanding_await_event_keys(session_id):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session_id}")


async def gate_started(gate: Path) -> None:
    """Until the turn's gated step runs (it touches ``<gate>.started``)."""
    for _ in range(400):
        if Path(f"{gate}.started").exists():  # noqa: ASYNC240
            return
        await asyncio.sleep(0.025)


def _comparable(row: JournalRow) -> tuple[object, ...]:
    outcome = row.outcome_json
    if row.effect_id == "pause#1":  # the sleep's due time: each host's own clock
        outcome = json.loads(outcome or "null")["type"]
    return (
        row.seq, row.scope_key, row.replay_key, row.session_id, row.effect_kind, row.effect_id,
        row.envelope_hash, row.envelope_json, row.status, outcome, row.error_json, row.lease_owner,
        row.lease_token, row.lease_expires_at_ms, row.due_at_ms,
    )  # fmt: skip


async def test_a_turns_timeline_is_what_sqlite_journals_for_the_same_code(
    engine: EngineUnderTest, session_id: str, tmp_path: Path
) -> None:
    host = engine.host
    handle = await host.start_turn("timeline", session_id=session_id, turn_id="t", input={"city": "Oslo"})
    await _parked(engine, session_id)
    # on Temporal the wait is registered from inside the workflow task that runs it; its markers
    # are in the history once that task completed (and parked the workflow)
    parked = await engine.current(
        lambda: host.list_turn_effects(session_id, "t"), lambda rows: len(rows) == len(KEYS)
    )
    assert [row.effect_id for row in parked] == KEYS
    assert [row.status for row in parked] == ["completed", "completed", "failed"] + ["completed"] * 2 + [
        "in_progress"  # registered and parked: the engine has no answer for it yet
    ]
    assert parked[-1].outcome_json is None

    [key] = await host.list_outstanding_await_event_keys(session_id)
    await host.resolve_await_event(key, Resolution.ok({"yes": True}))
    result = await handle.result(timeout=30)
    assert result["failed"] == "turn_step_failed" and result["answer"] == {"yes": True}
    rows = await host.list_turn_effects(session_id, "t")

    assert [row.seq for row in rows] == [1, 2, 3, 4, 5, 6]
    steps = ["durable_step"] * 2
    assert [row.effect_kind for row in rows] == [
        "durable_step",
        "tool_call",
        "durable_step",
        *steps,
        "await_event",
    ]
    assert {row.scope_key for row in rows} == {ExecutionScope.turn(session_id, "t").journal_key()}
    failed = rows[2]
    assert failed.status == "failed" and failed.outcome_json is None
    assert json.loads(failed.error_json or "")["code"] == "turn_step_failed"
    assert json.loads(rows[1].outcome_json or "")["launch"]["result"] == {"city": "Oslo", "temp": 21}
    assert json.loads(rows[5].outcome_json or "") == {
        "type": "await_event",
        "resolution": {"status": "ok", "payload": {"yes": True}},
    }
    assert all(row.created_at_ms <= row.updated_at_ms for row in rows)
    assert rows[5].updated_at_ms > parked[-1].created_at_ms  # the wait ended when it was resolved

    sqlite_rows = await run_on_sqlite(tmp_path / "same.db", engine.secret, session_id, "t", "Oslo")
    assert [_comparable(row) for row in rows] == [_comparable(row) for row in sqlite_rows]


async def test_an_unknown_turn_is_turn_not_found(engine: EngineUnderTest, session_id: str) -> None:
    with pytest.raises(EffectHostError) as caught:
        await engine.host.list_turn_effects(session_id, "never")
    assert caught.value.code == "turn_not_found"


async def test_a_wait_that_timed_out_shows_its_timeout(engine: EngineUnderTest, session_id: str) -> None:
    result = await engine.host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "tim", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    rows = await engine.host.list_turn_effects(session_id, "t")
    assert [row.effect_id for row in rows] == ["add#1", "approve#1:deadline", "approve#1"]
    deadline, wait = rows[1], rows[2]
    assert isinstance(json.loads(deadline.outcome_json or "")["value"], int)  # the journaled deadline
    assert wait.status == "completed"
    assert json.loads(wait.outcome_json or "") == {"type": "await_event", "resolution": {"status": "timeout"}}


async def test_a_wait_resolved_before_the_turn_reached_it_shows_its_resolution(
    engine: EngineUnderTest, session_id: str, tmp_path: Path
) -> None:
    host = engine.host
    gate = tmp_path / "gate"
    handle = await host.start_turn("early", session_id=session_id, turn_id="t", input={"gate": str(gate)})
    await gate_started(gate)
    key = await host.await_event_key(ExecutionScope.turn(session_id, "t"), WaitIdentity.custom("approve#1"))
    assert await host.resolve_await_event(key, Resolution.ok("early")) == ResolveOutcome.ACCEPTED
    gate.touch()
    assert await handle.result(timeout=30) == "early"
    rows = await host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("gated#1", "completed"),
        ("approve#1:deadline", "completed"),
        ("approve#1", "completed"),
    ]
    assert json.loads(rows[2].outcome_json or "") == {
        "type": "await_event",
        "resolution": {"status": "ok", "payload": "early"},
    }
