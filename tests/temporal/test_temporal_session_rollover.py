"""The session workflow rolls its history over (``continue_as_new``) when Temporal suggests it,
and carries every wait across: pending waits (a parked turn still wakes), first-writer-wins
terminals, and revocation. A dev server of its own suggests the rollover after 40 events (the
default is 4,096), so a few dozen resolves cross several runs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporal_stack import Stack

from effecthost import ExecutionScope, Resolution, ResolveOutcome, WaitIdentity
from effecthost.engines.kit import key_digest
from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, TemporalServer, WorkerProcess
from effecthost.engines.temporal.config import session_workflow_id_of

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
QUEUE = "rollover"
ROLLOVER_EVENTS = 40


@pytest.fixture(scope="module")
def small_history_server(tmp_path_factory: pytest.TempPathFactory, temporal_stack: Stack) -> Iterator[tuple[TemporalServer, TemporalConfig]]:
    base = tmp_path_factory.mktemp("rollover")
    server = TemporalServer(
        base / "temporal.db",
        log_path=base / "server.log",
        dynamic_config={"limit.historyCount.suggestContinueAsNew": ROLLOVER_EVENTS},
    ).start()
    secret = temporal_stack.config.secret
    worker = WorkerProcess(
        "temporal_turns:TURNS",
        server.address,
        task_queue=QUEUE,
        args=["--sticky-timeout", "1"],
        cwd=HERE,
        env={
            "EFFECTHOST_TEMPORAL_SECRET": secret.hex(),
            "EFFECTHOST_TEST_MARKS": str(base / "marks"),
            "EFFECTHOST_TEST_KILLS": str(base / "kills"),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(TESTS), os.environ.get("PYTHONPATH", "")]),
        },
        log_path=base / "worker.log",
    )
    try:
        worker.start()
        yield server, TemporalConfig(secret, task_queue=QUEUE)
    finally:
        worker.stop()
        server.stop()


@pytest.fixture
async def host(small_history_server: tuple[TemporalServer, TemporalConfig]) -> AsyncIterator[TemporalEffectHost]:
    server, config = small_history_server
    opened = await TemporalEffectHost.connect(server.address, config)
    try:
        yield opened
    finally:
        await opened.aclose()


async def _runs(host: TemporalEffectHost, session_id: str) -> int:
    """How many runs the session workflow has had (each rollover starts one)."""
    query = f"WorkflowId = '{session_workflow_id_of(session_id)}'"
    return len([w async for w in host.client.list_workflows(query)])


async def _until(probe: Any, what: str) -> Any:
    for _ in range(300):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}")


async def test_waits_pending_and_settled_survive_the_session_history_rolling_over(host: TemporalEffectHost) -> None:
    session = "s-rollover"
    handle = await host.start_turn("approval", session_id=session, turn_id="parked", input={"user": "ro"})
    [parked] = await _until(lambda: host.list_outstanding_await_event_keys(session), "the parked wait")
    keys = [
        await host.await_event_key(ExecutionScope.turn(session, "other"), WaitIdentity.custom(f"w{i}"))
        for i in range(30)
    ]
    for i, key in enumerate(keys):  # each resolve is an update: the history grows past the limit
        assert await host.resolve_await_event(key, Resolution.ok(i), resolved_by=f"op{i}") == ResolveOutcome.ACCEPTED
    assert await _until(lambda: _runs_over(host, session, 2), "the session workflow rolling over")
    # who resolved each one, carried across with the terminals
    resolvers = await host.wait_resolvers(session)
    assert [resolvers[key_digest(key)]["by"] for key in keys] == [f"op{i}" for i in range(30)]
    # terminals carried across: first writer wins, even against a writer after the rollover
    for i, key in enumerate(keys):
        assert await host.peek_await_event(key) == Resolution.ok(i)
        late = await host.resolve_await_event(key, Resolution.ok("late"))
        assert (late.status, late.terminal) == ("already_resolved", Resolution.ok(i))
    # the parked turn's pending wait carried across too: resolving it now wakes the turn
    assert await host.list_outstanding_await_event_keys(session) == [parked]
    assert await host.resolve_await_event(parked, Resolution.ok("yes")) == ResolveOutcome.ACCEPTED
    assert await handle.result(timeout=60) == {"first": 2, "status": "ok", "value": "yes"}


async def _runs_over(host: TemporalEffectHost, session_id: str, at_least: int) -> bool:
    return await _runs(host, session_id) >= at_least


async def test_a_revoked_session_stays_revoked_across_rollovers(host: TemporalEffectHost) -> None:
    session = "s-rollover-revoked"
    first = await host.await_event_key(ExecutionScope.turn(session, "t"), WaitIdentity.custom("before"))
    assert await host.resolve_await_event(first, Resolution.ok(1)) == ResolveOutcome.ACCEPTED
    await host.revoke_await_events_for_session(session)
    runs = await _runs(host, session)
    for _ in range(30):  # refused calls still add update events to the history
        assert await host.resolve_await_event(first, Resolution.ok(2)) == ResolveOutcome.UNKNOWN_OR_REVOKED
    assert await _until(lambda: _runs_over(host, session, runs + 1), "a rollover after the revocation")
    assert await host.resolve_await_event(first, Resolution.ok(3)) == ResolveOutcome.UNKNOWN_OR_REVOKED
    assert await host.list_outstanding_await_event_keys(session) == []
