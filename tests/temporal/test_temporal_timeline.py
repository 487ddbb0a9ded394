"""A turn's timeline read back from Temporal's history (``list_turn_effects``): the cases both
engines share (tests/engine_timeline_cases.py), and what is Temporal's own: a replay on replaced
workers, and an effect still running that the history does not hold yet."""

from __future__ import annotations

import json
from pathlib import Path

from temporal_engine import run_with_replacements
from temporal_stack import Stack

from effecthost.engines.temporal import TemporalEffectHost
from engine_timeline_cases import (  # noqa: F401 - pytest collects the shared cases from here
    gate_started,
    test_a_turns_timeline_is_what_sqlite_journals_for_the_same_code,
    test_a_wait_resolved_before_the_turn_reached_it_shows_its_resolution,
    test_a_wait_that_timed_out_shows_its_timeout,
    test_an_unknown_turn_is_turn_not_found,
)


async def test_a_replayed_effect_is_listed_once(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    """Workers are killed before every step: the next worker replays the history, and each effect
    is listed once."""
    tag = f"k{session_id}"
    result = await run_with_replacements(temporal_stack, "killed_often", session_id, {"tag": tag, "n": 2})
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
    await gate_started(gate)
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
