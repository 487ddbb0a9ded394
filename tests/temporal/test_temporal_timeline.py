"""A turn's timeline read back from Temporal's history (``list_turn_effects``): the effects in run
order with the envelopes, hashes, outcomes and errors an SQLite host records for the same code."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporal_stack import Stack
from temporal_timeline import run_on_sqlite
from test_temporal_crashes import _run_with_replacements

from effecthost import EffectHostError, ExecutionScope, Resolution, ResolveOutcome, WaitIdentity
from effecthost.engines.temporal import TemporalEffectHost
from effecthost.store import JournalRow

KEYS = ["double#1", "forecast#1", "explode#1", "pause#1", "approve#1:deadline", "approve#1"]


async def _parked(host: TemporalEffectHost, session_id: str) -> None:
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
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str, tmp_path: Path
) -> None:
    handle = await temporal_host.start_turn(
        "timeline", session_id=session_id, turn_id="t", input={"city": "Oslo"}
    )
    await _parked(temporal_host, session_id)
    # the wait is registered from inside the workflow task that runs it; its markers are in the
    # history once that task completed (and parked the workflow)
    for _ in range(400):
        parked = await temporal_host.list_turn_effects(session_id, "t")
        if len(parked) == len(KEYS):
            break
        await asyncio.sleep(0.025)
    assert [row.effect_id for row in parked] == KEYS
    assert [row.status for row in parked] == ["completed", "completed", "failed"] + ["completed"] * 2 + [
        "in_progress"  # registered and parked: no settled signal yet
    ]
    assert parked[-1].outcome_json is None

    [key] = await temporal_host.list_outstanding_await_event_keys(session_id)
    await temporal_host.resolve_await_event(key, Resolution.ok({"yes": True}))
    result = await handle.result(timeout=30)
    assert result["failed"] == "turn_step_failed" and result["answer"] == {"yes": True}
    rows = await temporal_host.list_turn_effects(session_id, "t")

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
        tmp_path / "same.db", temporal_stack.config.secret, session_id, "t", "Oslo"
    )
    assert [_comparable(row) for row in rows] == [_comparable(row) for row in sqlite_rows]


async def test_an_unknown_turn_is_turn_not_found(temporal_host: TemporalEffectHost, session_id: str) -> None:
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.list_turn_effects(session_id, "never")
    assert caught.value.code == "turn_not_found"


async def test_a_replayed_effect_is_listed_once(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    """Workers are killed before every step: the next worker replays the history, and each effect
    is listed once."""
    tag = f"k{session_id}"
    result = await _run_with_replacements(temporal_stack, "killed_often", session_id, {"tag": tag, "n": 2})
    assert result == {"total": 1}
    rows = await temporal_host.list_turn_effects(session_id, "t")
    ids = ["killed_add#1", "sleep#1", "killed_add#2", "sleep#2"]
    assert [row.effect_id for row in rows] == ids and [row.seq for row in rows] == [1, 2, 3, 4]
    assert [json.loads(row.outcome_json or "")["value"] for row in rows[::2]] == [0, 1]
    assert all(row.status == "completed" for row in rows)


async def test_an_effect_still_running_is_not_in_the_history_yet(
    temporal_host: TemporalEffectHost, session_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await temporal_host.start_turn(
        "gated", session_id=session_id, turn_id="t", input={"gate": str(gate)}
    )
    for _ in range(400):
        if Path(f"{gate}.started").exists():  # noqa: ASYNC240
            break
        await asyncio.sleep(0.025)
    # the running step has no marker; the first step's is written with the workflow task (at the
    # latest when the task completes after the running one, earlier if the task heartbeats)
    listed = [row.effect_id for row in await temporal_host.list_turn_effects(session_id, "t")]
    assert listed in ([], ["double#1"])
    gate.touch()
    assert await handle.result(timeout=30) == 3
    rows = await temporal_host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("double#1", "completed"),
        ("gated#1", "completed"),
    ]
    assert json.loads(rows[1].outcome_json or "") == {"type": "durable_step", "value": 1}


async def test_a_wait_that_timed_out_shows_its_timeout(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    result = await temporal_host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "tim", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    rows = await temporal_host.list_turn_effects(session_id, "t")
    assert [row.effect_id for row in rows] == ["add#1", "approve#1:deadline", "approve#1"]
    deadline, wait = rows[1], rows[2]
    assert isinstance(json.loads(deadline.outcome_json or "")["value"], int)  # the journaled deadline
    assert wait.status == "completed"
    assert json.loads(wait.outcome_json or "") == {"type": "await_event", "resolution": {"status": "timeout"}}


async def test_a_wait_resolved_before_the_turn_reached_it_shows_its_resolution(
    temporal_host: TemporalEffectHost, session_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    handle = await temporal_host.start_turn(
        "early", session_id=session_id, turn_id="t", input={"gate": str(gate)}
    )
    for _ in range(400):
        if Path(f"{gate}.started").exists():  # noqa: ASYNC240
            break
        await asyncio.sleep(0.025)
    key = await temporal_host.await_event_key(
        ExecutionScope.turn(session_id, "t"), WaitIdentity.custom("approve#1")
    )
    assert await temporal_host.resolve_await_event(key, Resolution.ok("early")) == ResolveOutcome.ACCEPTED
    gate.touch()
    assert await handle.result(timeout=30) == "early"
    rows = await temporal_host.list_turn_effects(session_id, "t")
    assert [(row.effect_id, row.status) for row in rows] == [
        ("gated#1", "completed"),
        ("approve#1:deadline", "completed"),
        ("approve#1", "completed"),
    ]
    assert json.loads(rows[2].outcome_json or "") == {
        "type": "await_event",
        "resolution": {"status": "ok", "payload": "early"},
    }
