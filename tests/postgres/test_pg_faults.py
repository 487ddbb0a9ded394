"""Faults: backends terminated mid-run, a lost LISTEN connection, oversized and non-JSON payloads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pg_support import HostMaker, step_envelope, terminate, until

from effecthost import (
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
)
from effecthost._private.journal.model import LeaseFence

SCOPE = ExecutionScope.turn("fault-session", "fault-turn")
STORE_CODES = {ErrorCode.POSTGRES_EFFECT_REPLAY_STORE, ErrorCode.POSTGRES_AWAIT_EVENT_STORE}


async def test_terminated_backends_lose_no_recorded_outcome(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    """Kill every backend of the host again and again while it journals: each call either returns
    or fails with a store code, the host keeps working, and every returned outcome replays."""
    host = await make_host()
    controller = host.scoped(SCOPE).controller
    returned: dict[str, Any] = {}
    failures: list[str] = []
    for i in range(40):
        if i % 8 == 4:
            assert await terminate(pg_url, f"effecthost%:{pg_schema}") >= 1
        step = f"step-{i}"
        try:
            out = await controller.execute_effect(
                step_envelope("fault-session", "fault-turn", step, i),
                LocalExecutor.durable_step(lambda v: {"n": v}),
            )
        except EffectHostError as err:
            assert err.code in STORE_CODES, err
            failures.append(step)
        else:
            returned[step] = out.into_durable_step()
    assert len(returned) >= 30  # the pool replaced dead connections instead of failing forever
    fresh = await make_host()
    fresh.start_replay()
    replayer = fresh.scoped(SCOPE).controller
    for step, value in returned.items():
        out = await replayer.execute_effect(
            step_envelope("fault-session", "fault-turn", step, value["n"]), LocalExecutor.unavailable()
        )
        assert out.into_durable_step() == value


async def test_finalize_survives_a_terminated_backend_while_the_executor_runs(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    entered, release = asyncio.Event(), asyncio.Event()

    async def step(value: Any) -> Any:
        entered.set()
        await release.wait()
        return "done"

    running = asyncio.ensure_future(
        host.scoped(SCOPE).controller.execute_effect(
            step_envelope("fault-session", "fault-turn", "long"), LocalExecutor.durable_step(step)
        )
    )
    await entered.wait()
    assert await terminate(pg_url, f"effecthost%:{pg_schema}") >= 1
    release.set()
    assert (await running).into_durable_step() == "done"
    row = await host.browser.get_row(SCOPE.journal_key(), "long")
    assert row is not None and row.status == "completed"


async def test_listener_reconnects_and_wakes_everyone(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    host = await make_host()
    listener: Any = host.substrate.listener  # type: ignore[attr-defined]
    assert listener.generation == 1
    hub = host.await_coordinator.store.hub
    sub = hub.subscribe("after-reconnect", None)
    try:
        assert await terminate(pg_url, f"effecthost-listen:{pg_schema}") == 1
        await listener.wait_for_generation(2)
        await sub.event.wait()  # notify_all after re-listening: waiters re-read their rows
        sub.event.clear()
        resolver = await make_host()
        key = await resolver.await_event_key(SCOPE, WaitIdentity.custom("after"))
        waiting = asyncio.ensure_future(host.await_await_event(key))

        async def parked() -> bool:
            return bool(await resolver.list_outstanding_await_event_keys("fault-session"))

        await until(parked)
        seen = listener.received
        assert await resolver.resolve_await_event(key, Resolution.ok("late")) == ResolveOutcome.ACCEPTED
        assert await waiting == Resolution.ok("late")

        async def notified() -> bool:
            return bool(listener.received > seen)

        await until(notified)  # the NOTIFY arrives even if a poll won the race
    finally:
        sub.close()


async def test_calls_on_a_lost_database_fail_with_store_codes(make_host: HostMaker) -> None:
    host = await make_host()
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("lost"))
    await host.journal._db.pool.close()  # type: ignore[attr-defined]  # the database is gone
    with pytest.raises(EffectHostError) as journal_err:
        await host.scoped(SCOPE).controller.execute_effect(
            step_envelope("fault-session", "fault-turn", "lost"), LocalExecutor.durable_step(lambda v: 1)
        )
    assert journal_err.value.code == ErrorCode.POSTGRES_EFFECT_REPLAY_STORE
    with pytest.raises(EffectHostError) as await_err:
        await host.resolve_await_event(key, Resolution.ok(1))
    assert await_err.value.code == ErrorCode.POSTGRES_AWAIT_EVENT_STORE


async def test_oversized_outcome_is_coded_and_released(make_host: HostMaker) -> None:
    host = await make_host(max_payload_bytes=1024)
    controller = host.scoped(SCOPE).controller
    envelope = step_envelope("fault-session", "fault-turn", "big")
    with pytest.raises(EffectHostError) as info:
        await controller.execute_effect(envelope, LocalExecutor.durable_step(lambda v: "x" * 4096))
    assert info.value.code == ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE
    assert await host.browser.get_row(SCOPE.journal_key(), "big") is None  # no stuck lease
    out = await controller.execute_effect(envelope, LocalExecutor.durable_step(lambda v: "small"))
    assert out.into_durable_step() == "small"


async def test_oversized_envelope_and_resolution_are_coded(make_host: HostMaker) -> None:
    host = await make_host(max_payload_bytes=1024)
    with pytest.raises(EffectHostError) as info:
        await host.scoped(SCOPE).controller.execute_effect(
            step_envelope("fault-session", "fault-turn", "big-input", "y" * 4096),
            LocalExecutor.durable_step(lambda v: 1),
        )
    assert info.value.code == ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("big"))
    with pytest.raises(EffectHostError) as info:
        await host.resolve_await_event(key, Resolution.ok("z" * 4096))
    assert info.value.code == ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE
    assert await host.peek_await_event(key) is None


async def test_non_json_payloads_are_coded(make_host: HostMaker) -> None:
    host = await make_host()
    with pytest.raises(EffectHostError) as info:
        await host.scoped(SCOPE).controller.execute_effect(
            step_envelope("fault-session", "fault-turn", "odd"), LocalExecutor.durable_step(lambda v: object())
        )
    assert info.value.code.startswith(("canonical_json", "runtime_effect"))
    journal: Any = host.journal
    fence = LeaseFence(SCOPE.journal_key(), "nothing", "h" * 64, "me", "me:1")
    with pytest.raises(EffectHostError) as info:
        await journal.finalize(fence, "completed", "{not json", None)
    assert info.value.code == ErrorCode.POSTGRES_EFFECT_REPLAY_ENCODE
