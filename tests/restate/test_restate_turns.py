"""The turn API on Restate: the same ``@durable_turn`` code as on SQLite and PostgreSQL, one
Restate invocation per turn, started, awaited, cancelled and listed through the host (the cases:
tests/engine_turn_cases.py, shared with Temporal), and a host opened from a ``restate://`` URL."""

from __future__ import annotations

import pytest
from restate_stack import Stack

from effecthost import EffectHostError
from effecthost.engines.restate import open_restate_host
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


async def test_open_restate_host_from_a_url(restate_stack: Stack, session_id: str) -> None:
    server = restate_stack.server
    url = f"restate://127.0.0.1:{server.ingress_port}?admin=127.0.0.1:{server.admin_port}"
    async with open_restate_host(url, restate_stack.config) as host:
        assert await host.run_turn("three_steps", session_id=session_id, turn_id="u", input={"x": 0}) == {
            "result": 6
        }
    with pytest.raises(EffectHostError) as caught:
        open_restate_host("http://127.0.0.1:1", restate_stack.config)
    assert caught.value.code == "host_url_invalid"
