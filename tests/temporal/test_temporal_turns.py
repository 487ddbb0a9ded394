"""The turn API on Temporal: the same ``@durable_turn`` code as on SQLite, PostgreSQL and
Restate, one workflow per turn, started, awaited, cancelled and listed through the host (the cases:
tests/engine_turn_cases.py, shared with Restate), and what is Temporal's own here: a turn input
over the history budget, a host opened from a ``temporal://`` URL."""

from __future__ import annotations

import pytest
from temporal_stack import Stack

from effecthost import EffectHostError
from effecthost.engines.temporal import TemporalEffectHost, open_temporal_host
from engine_turn_cases import (  # noqa: F401 - pytest collects the shared cases from here
    test_a_tampered_token_is_refused_before_the_engine,
    test_a_turn_parks_on_a_wait_and_a_resolve_finishes_it,
    test_a_turn_runs_each_step_once,
    test_a_wait_deadline_is_a_durable_timer_publishing_timeout,
    test_cancel_ends_a_parked_turn_and_publishes_cancelled,
    test_cancel_ends_a_turn_sleeping_on_a_durable_timer,
    test_concurrent_waits_in_one_turn,
    test_errors_retries_and_budgets_follow_the_turn_api,
    test_list_turns_of_a_session,
    test_session_revocation_wakes_a_parked_turn_and_refuses_later_resolves,
    test_steps_beside_a_parked_wait_all_run,
    test_turns_are_filtered_and_paged_by_keyset_as_on_the_sql_hosts,
    test_unknown_turn_names_and_turns,
)


async def test_a_turn_input_over_the_budget_is_refused_before_a_workflow_starts(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    """Beside the shared budget case (a step's value, a step's envelope): a turn's input over the
    worker's 16 KiB history budget is refused by the host, and no workflow is started."""
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.start_turn(
            "big_input", session_id=session_id, turn_id="huge", input={"x": "y" * 20_000}
        )
    assert caught.value.code == "temporal_history_budget_exceeded"
    assert await temporal_host.get_turn(session_id, "huge") is None


async def test_open_temporal_host_from_a_url(temporal_stack: Stack, session_id: str) -> None:
    url = f"temporal://{temporal_stack.server.address}?task_queue={temporal_stack.config.task_queue}"
    async with await open_temporal_host(url, temporal_stack.config) as host:
        assert await host.run_turn("three_steps", session_id=session_id, turn_id="u", input={"x": 0}) == {
            "result": 6
        }
    with pytest.raises(EffectHostError) as caught:
        await open_temporal_host("http://127.0.0.1:1", temporal_stack.config)
    assert caught.value.code == "host_url_invalid"
