"""What a turn on Temporal is parked on, in its listings: the cases both engines share
(tests/engine_wait_cases.py; on Temporal the ``waiting`` dict is the workflow's memo, the turn
API's ``park``, a memo upsert; the start memo carries the input). And what is Temporal's own: the
histories of turns started before that change replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporal_engine import patches, replay
from temporalio.client import WorkflowHistory

from effecthost.engines.temporal import TemporalConfig
from engine_wait_cases import (  # noqa: F401 - pytest collects the shared cases from here
    test_a_sleeping_turn_is_listed_sleeping_until_its_due_time,
    test_a_turn_parked_on_a_wait_is_listed_with_its_key_question_and_input,
    test_a_wait_with_a_deadline_reports_it,
    test_concurrent_waits_stay_reported_until_the_last_ends_and_replay,
)

HISTORIES = Path(__file__).resolve().parent / "histories"
#: The secret the recorded histories' keys were signed with (a test secret, nothing else).
HISTORY_SECRET = bytes.fromhex("11" * 32)


@pytest.mark.parametrize(
    "name", ["approval", "approval-timeout", "two-waits", "long-sleep-cancelled"]
)
async def test_histories_of_turns_started_before_the_memo_reported_waits_replay(name: str) -> None:
    """Recorded on the code before this change (a thin memo, written by the controller at its
    own points): a history without the patch marker keeps those writes, so it replays; without
    the patch, ``two-waits`` (two concurrent waits: three memo writes then, two now) does not."""
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    assert patches(history) == []
    config = TemporalConfig(HISTORY_SECRET, task_queue="replay-waits")
    assert await replay([history], config) == [None]
