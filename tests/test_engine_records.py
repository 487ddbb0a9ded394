"""``effecthost.engine``'s effect record and the timeline rows read back from it: one codec for
the controllers that write and replay records and the hosts that list them. The engines' own
tests (tests/restate, tests/temporal) read real journals; here the odd entries a listing must
survive (a record that does not decode, a key met twice, a wait with no answer)."""

from __future__ import annotations

import json

import pytest

from effecthost import ErrorCode, ExecutionScope
from effecthost.engine import (
    UNSETTLED,
    TimelineEntry,
    dump_effect_record,
    load_effect_record,
    timeline_rows,
)
from effecthost.engines.restate.timeline import turn_timeline

SCOPE = ExecutionScope.turn("s", "t").journal_key()


def _envelope(kind: str, effect_id: str) -> str:
    replay = f"s:t:0:0:{kind}:{effect_id}"
    return json.dumps(
        {
            "invocation": {
                "subject": {"type": "effect", "effect_id": effect_id, "kind": kind},
                "replay": {"key": replay},
            }
        }
    )


def _record(kind: str, effect_id: str, body: dict[str, object]) -> str:
    return dump_effect_record(_envelope(kind, effect_id), f"hash-{effect_id}", body)


def _rows(entries: list[TimelineEntry], *, ended: bool = True) -> list:  # type: ignore[type-arg]
    return timeline_rows(
        "s", "t", SCOPE, entries, ended=ended, undecodable=ErrorCode.RESTATE_EFFECT_REPLAY_DECODE
    )


def test_a_record_round_trips_and_anything_else_is_a_value_error() -> None:
    ok = load_effect_record(_record("durable_step", "a#1", {"Ok": {"type": "durable_step", "value": 1}}))
    assert (ok.envelope_hash, ok.ok, ok.err, ok.effect_kind, ok.effect_id) == (
        "hash-a#1",
        {"type": "durable_step", "value": 1},
        None,
        "durable_step",
        "a#1",
    )
    err = load_effect_record(_record("tool_call", "b#1", {"Err": {"code": "x", "message": "m"}}).encode())
    assert err.err == {"code": "x", "message": "m"} and err.ok is None
    for raw in (
        "",
        "[]",
        '{"envelope": {"json": 1, "hash": "h"}, "outcome": {}}',
        '{"outcome": {"Ok": 1}}',
        b"\xff",
    ):
        with pytest.raises(ValueError):
            load_effect_record(raw)


def test_rows_are_in_run_order_each_key_once_and_a_bad_entry_is_shown_not_raised() -> None:
    first = _record("durable_step", "a#1", {"Ok": {"type": "durable_step", "value": 1}})
    rows = _rows(
        [
            TimelineEntry("s:t:0:0:durable_step:a#1", first, 10, 20),
            TimelineEntry("s:t:0:0:durable_step:b#1", "not a record", 30, 40),
            TimelineEntry("s:t:0:0:durable_step:a#1", first, 50, 60),  # met again: listed once
            TimelineEntry(
                "s:t:0:0:tool_call:c#1", _record("tool_call", "c#1", {"Err": {"code": "e"}}), 70, 80
            ),
            TimelineEntry("s:t:0:0:durable_step:d#1", None, 90, 90),  # still running
        ]
    )
    assert [(r.seq, r.effect_id, r.status) for r in rows] == [
        (1, "a#1", "completed"),
        (2, "b#1", "unreadable"),
        (3, "c#1", "failed"),
        (4, "d#1", "in_progress"),
    ]
    assert rows[0].outcome_json == '{"type":"durable_step","value":1}' and rows[0].envelope_hash == "hash-a#1"
    assert json.loads(rows[1].error_json or "")["code"] == "restate_effect_replay_decode"
    assert rows[1].effect_kind == "durable_step"  # from the replay key when the record is unreadable
    assert rows[2].error_json == '{"code":"e"}' and rows[2].outcome_json is None
    assert rows[3].envelope_json == "" and rows[3].effect_kind == "durable_step"
    assert all(r.scope_key == SCOPE and r.lease_owner is None and r.lease_expires_at_ms == 0 for r in rows)


def test_a_waits_outcome_is_its_terminal_when_the_engine_holds_one() -> None:
    wait = _record("await_event", "w#1", {"Ok": None})
    key = "s:t:0:0:await_event:w#1"
    answered = _rows([TimelineEntry(key, wait, 1, 2, {"status": "ok", "payload": 7})])[0]
    assert answered.status == "completed"
    assert json.loads(answered.outcome_json or "") == {
        "type": "await_event",
        "resolution": {"status": "ok", "payload": 7},
    }
    revoked = _rows([TimelineEntry(key, wait, 1, 2, {"revoked": True})])[0]
    assert revoked.status == "failed"
    assert json.loads(revoked.error_json or "")["code"] == "await_event_unknown_or_revoked"
    assert _rows([TimelineEntry(key, wait, 1, 2, UNSETTLED)], ended=False)[0].status == "in_progress"
    over = _rows([TimelineEntry(key, wait, 1, 2, UNSETTLED)], ended=True)[0]
    assert over.status == "completed" and over.outcome_json is None
    sleep = _rows([TimelineEntry("s:t:0:0:sleep:z#1", _record("sleep", "z#1", {"Ok": None}), 1, 2)])[0]
    assert sleep.outcome_json == '{"type":"sleep"}'


def test_restate_journal_entries_that_are_not_effects_or_do_not_decode_are_skipped_or_shown() -> None:
    record = _record("durable_step", "a#1", {"Ok": {"type": "durable_step", "value": 1}}).encode()
    journal = [
        {"index": 0, "entry_json": "not json", "appended_at": 1},
        {"index": 1, "entry_json": json.dumps({"Command": {"SetState": {"key": "turn"}}}), "appended_at": 1},
        {"index": 2, "entry_json": json.dumps({"Command": {"Run": {"completion_id": 1, "name": "s:t:0:0:durable_step:a#1"}}}), "appended_at": 2},
        {"index": 3, "entry_json": json.dumps({"Notification": {"Completion": {"Run": {"completion_id": 1, "result": {"Success": list(record)}}}}}), "appended_at": 3},
        {"index": 4, "entry_json": json.dumps({"Command": {"Run": {"completion_id": 2, "name": "s:t:0:0:durable_step:b#1"}}}), "appended_at": 4},
        {"index": 5, "entry_json": json.dumps({"Notification": {"Completion": {"Run": {"completion_id": 2, "result": {"Failure": {"code": 500}}}}}}), "appended_at": 5},
        {"index": 6, "entry_json": json.dumps({"Command": {"Run": {"completion_id": 3, "name": "s:t:0:0:durable_step:c#1"}}}), "appended_at": 6},
    ]  # fmt: skip
    rows = turn_timeline("s", "t", journal, ended=False, ms=int)
    assert [(r.effect_id, r.status, r.created_at_ms, r.updated_at_ms) for r in rows] == [
        ("a#1", "completed", 2, 3),
        ("b#1", "unreadable", 4, 5),
        ("c#1", "in_progress", 6, 6),
    ]
