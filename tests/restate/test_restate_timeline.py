"""A turn's timeline read back from Restate's journal (``list_turn_effects``): the effects in run
order with the envelopes, hashes, outcomes and errors an SQLite host records for the same code."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from restate_stack import Stack
from restate_timeline import run_on_sqlite
from test_restate_crashes import _drive_with_restarts

from effecthost import EffectHostError, ExecutionScope, Resolution, ResolveOutcome, WaitIdentity
from effecthost.engines.restate import RestateEffectHost
from effecthost.store import JournalRow

KEYS = ["double#1", "forecast#1", "explode#1", "pause#1", "approve#1:deadline", "approve#1"]


async def _parked(host: RestateEffectHost, session_id: str) -> None:
    for _ in range(400):
        if await host.list_outstanding_await_event_keys(session_id):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session_id}")


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
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str, tmp_path: Path
) -> None:
    handle = await restate_host.start_turn(
        "timeline", session_id=session_id, turn_id="t", input={"city": "Oslo"}
    )
    await _parked(restate_host, session_id)
    parked = await restate_host.list_turn_effects(session_id, "t")
    assert [row.effect_id for row in parked] == KEYS
    assert [row.status for row in parked] == ["completed", "completed", "failed"] + ["completed"] * 2 + [
        "in_progress"  # registered and parked: Restate has no answer for it yet
    ]
    assert parked[-1].outcome_json is None

    [key] = await restate_host.list_outstanding_await_event_keys(session_id)
    await restate_host.resolve_await_event(key, Resolution.ok({"yes": True}))
    result = await handle.result(timeout=30)
    assert result["failed"] == "turn_step_failed" and result["answer"] == {"yes": True}
    rows = await restate_host.list_turn_effects(session_id, "t")

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

    sqlite_rows = await run_on_sqlite(
        tmp_path / "same.db", restate_stack.config.secret, session_id, "t", "Oslo"
    )
    assert [_comparable(row) for row in rows] == [_comparable(row) for row in sqlite_rows]


async def test_an_unknown_turn_is_turn_not_found(restate_host: RestateEffectHost, session_id: str) -> None:
    with pytest.raises(EffectHostError) as caught:
        await restate_host.list_turn_effects(session_id, "never")
    assert caught.value.code == "turn_not_found"


async def test_a_replayed_effect_is_listed_once(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    """The endpoint is killed before every step: each retry replays the journal, no entry twice."""
    await restate_host.start_turn(
        "killed_often", session_id=session_id, turn_id="t", input={"tag": session_id, "n": 3}
    )
    result, kills = await _drive_with_restarts(restate_stack, restate_host, session_id, "t")
    assert result == {"total": 3} and kills == 4
    rows = await restate_host.list_turn_effects(session_id, "t")
    assert [row.effect_id for row in rows] == ["killed_add#1", "killed_add#2", "killed_add#3", "sleep#1"]
    assert [json.loads(row.outcome_json or "")["value"] for row in rows[:3]] == [0, 1, 3]
    assert all(row.status == "completed" for row in rows)


async def test_an_effect_still_running_is_listed_in_progress(
    restate_host: RestateEffectHost, session_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await restate_host.start_turn(
        "gated", session_id=session_id, turn_id="t", input={"gate": str(gate)}
    )
    for _ in range(400):
        if Path(f"{gate}.started").exists():  # noqa: ASYNC240
            break
        await asyncio.sleep(0.025)
    rows = await restate_host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("double#1", "completed"),
        ("gated#1", "in_progress"),
    ]
    running = rows[1]
    assert (
        running.effect_kind == "durable_step" and running.envelope_json == "" and running.outcome_json is None
    )
    gate.touch()
    assert await handle.result(timeout=30) == 3
    rows = await restate_host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("double#1", "completed"),
        ("gated#1", "completed"),
    ]
    assert json.loads(rows[1].outcome_json or "") == {"type": "durable_step", "value": 1}


async def test_a_wait_that_timed_out_shows_its_timeout(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    result = await restate_host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "tim", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    rows = await restate_host.list_turn_effects(session_id, "t")
    assert [row.effect_id for row in rows] == ["add#1", "approve#1:deadline", "approve#1"]
    deadline, wait = rows[1], rows[2]
    assert isinstance(json.loads(deadline.outcome_json or "")["value"], int)  # the journaled deadline
    assert wait.status == "completed"
    assert json.loads(wait.outcome_json or "") == {"type": "await_event", "resolution": {"status": "timeout"}}


async def test_a_wait_resolved_before_the_turn_reached_it_shows_its_resolution(
    restate_host: RestateEffectHost, session_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await restate_host.start_turn(
        "early", session_id=session_id, turn_id="t", input={"gate": str(gate)}
    )
    for _ in range(400):
        if Path(f"{gate}.started").exists():  # noqa: ASYNC240
            break
        await asyncio.sleep(0.025)
    key = await restate_host.await_event_key(
        ExecutionScope.turn(session_id, "t"), WaitIdentity.custom("approve#1")
    )
    assert await restate_host.resolve_await_event(key, Resolution.ok("early")) == ResolveOutcome.ACCEPTED
    gate.touch()
    assert await handle.result(timeout=30) == "early"
    rows = await restate_host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("gated#1", "completed"),
        ("approve#1:deadline", "completed"),
        ("approve#1", "completed"),
    ]
    assert json.loads(rows[2].outcome_json or "") == {
        "type": "await_event",
        "resolution": {"status": "ok", "payload": "early"},
    }
