"""A turn's timeline read back from Restate's journal (``list_turn_effects``): the cases both
engines share (tests/engine_timeline_cases.py), and what is Restate's own: a replay after the
endpoint's crashes, and an effect still running listed in progress."""

from __future__ import annotations

import json
from pathlib import Path

from restate_engine import drive_with_restarts
from restate_stack import Stack

from effecthost.engines.restate import RestateEffectHost
from engine_timeline_cases import (  # noqa: F401 - pytest collects the shared cases from here
    gate_started,
    test_a_turns_timeline_is_what_sqlite_journals_for_the_same_code,
    test_a_wait_resolved_before_the_turn_reached_it_shows_its_resolution,
    test_a_wait_that_timed_out_shows_its_timeout,
    test_an_unknown_turn_is_turn_not_found,
)


async def test_a_replayed_effect_is_listed_once(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    """The endpoint is killed before every step: each retry replays the journal, no entry twice."""
    await restate_host.start_turn(
        "killed_often", session_id=session_id, turn_id="t", input={"tag": session_id, "n": 3}
    )
    result, kills = await drive_with_restarts(restate_stack, restate_host, session_id, "t")
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
    await gate_started(gate)
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
