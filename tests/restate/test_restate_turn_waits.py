"""What a turn on Restate is parked on, in its listings: the same ``waiting`` dict and input as a
SQL host's turn record, kept in the turn workflow's state by the turn API (``park``). The cases
are tests/engine_wait_cases.py, shared with Temporal; on Restate the endpoint is killed between
two concurrent waits, and the new one replays the journal, its state writes included."""

from __future__ import annotations

from engine_wait_cases import (  # noqa: F401 - pytest collects the shared cases from here
    test_a_sleeping_turn_is_listed_sleeping_until_its_due_time,
    test_a_turn_parked_on_a_wait_is_listed_with_its_key_question_and_input,
    test_a_wait_with_a_deadline_reports_it,
    test_concurrent_waits_stay_reported_until_the_last_ends_and_replay,
)
