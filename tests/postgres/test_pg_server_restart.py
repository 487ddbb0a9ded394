"""A real PostgreSQL restart (``pg_ctl restart -m fast`` and a crash, ``-m immediate``) of a private
cluster: hosts opened before it keep working, calls made while it is down fail with store codes in
bounded time, no recorded outcome is lost, and parked waiters are woken across it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pg_support import HostMaker, schema_url, step_envelope, until
from private_server import PrivateServer, StopMode, private_cluster

from effecthost import (
    DurableEffectHost,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
    open_host,
)

SESSION, TURN = "restart-session", "restart-turn"
SCOPE = ExecutionScope.turn(SESSION, TURN)
MODES = ["fast", "immediate"]
#: Generous bounds for things that take milliseconds to a second or two; they only stop a hang.
WAKE_S = 10.0
#: Long enough that psycopg_pool's default reconnect backoff (1 s, 2 s, 4 s, ...) would still be
#: waiting when the server is back, so the first calls after it would time out.
OUTAGE_S = 4.0


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
async def make_host(server: PrivateServer) -> AsyncIterator[HostMaker]:
    """Hosts on a fresh schema of the private cluster (started if a failed test left it down)."""
    server.ensure_running()
    url = schema_url(server.url, f"eh_r_{uuid.uuid4().hex[:12]}")
    opened: list[DurableEffectHost] = []

    async def make(**options: Any) -> DurableEffectHost:
        host = await open_host(url, **options)
        opened.append(host)
        return host

    yield make
    for host in reversed(opened):
        await host.aclose()


class Steps:
    """A durable-step executor that counts how often each step really ran."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def executor(self, step: str) -> LocalExecutor:
        def run(value: Any) -> Any:
            self.calls[step] += 1
            return {"step": step, "value": value}

        return LocalExecutor.durable_step(run)

    async def run(self, controller: Any, step: str, value: Any = None) -> Any:
        out = await controller.execute_effect(step_envelope(SESSION, TURN, step, value), self.executor(step))
        return out.into_durable_step()


async def _replay(controller: Any, step: str, value: Any = None) -> Any:
    """Replay a recorded step: ``unavailable`` fails if the executor would be needed."""
    out = await controller.execute_effect(
        step_envelope(SESSION, TURN, step, value), LocalExecutor.unavailable()
    )
    return out.into_durable_step()


@pytest.mark.parametrize("mode", MODES)
async def test_a_host_keeps_working_across_a_restart(
    server: PrivateServer, make_host: HostMaker, mode: StopMode
) -> None:
    host = await make_host()
    listener: Any = host.substrate.listener  # type: ignore[attr-defined]
    steps = Steps()
    controller = host.scoped(SCOPE).controller
    # An effect whose executor is still running when the server goes away.
    entered, release = asyncio.Event(), asyncio.Event()

    async def long_step(value: Any) -> Any:
        steps.calls["long"] += 1
        entered.set()
        await release.wait()
        return "long-done"

    running = asyncio.ensure_future(
        controller.execute_effect(step_envelope(SESSION, TURN, "long"), LocalExecutor.durable_step(long_step))
    )
    await entered.wait()  # claimed (asynchronous commit; the next synchronous finalize flushes it)
    before = {f"before-{i}": await steps.run(controller, f"before-{i}", i) for i in range(5)}
    generation = listener.generation

    await server.restart(mode)

    release.set()  # finalize after the restart, on a fresh connection
    assert (await asyncio.wait_for(running, WAKE_S)).into_durable_step() == "long-done"
    # Replays on the same host: through claims (the old controller) and through a preload (a new one).
    for step, value in before.items():
        assert await _replay(controller, step, value["value"]) == value
    fresh = host.scoped(SCOPE).controller
    for step, value in before.items():
        assert await _replay(fresh, step, value["value"]) == value
    assert await _replay(fresh, "long") == "long-done"
    # New effects run exactly once and are journaled.
    after = {f"after-{i}": await steps.run(controller, f"after-{i}", i) for i in range(5)}
    for step, value in after.items():
        assert await _replay(host.scoped(SCOPE).controller, step, value["value"]) == value
        row = await host.browser.get_row(SCOPE.journal_key(), step)
        assert row is not None and row.status == "completed"
    assert steps.calls == Counter({step: 1 for step in ["long", *before, *after]})
    # The LISTEN connection came back by itself.
    await asyncio.wait_for(listener.wait_for_generation(generation + 1), WAKE_S)


async def test_calls_while_the_server_is_down_fail_with_store_codes(
    server: PrivateServer, make_host: HostMaker
) -> None:
    """Every call fails within the host's ``connect_timeout_s`` with the store
    code of its side: nothing raw escapes and nothing hangs. The outage lasts a few seconds of
    continued traffic, and still the first calls after the server is back succeed on the same host
    object (the pool's reconnect backoff must not outlast a caller's wait)."""
    host = await make_host(connect_timeout_s=1)
    steps = Steps()
    controller = host.scoped(SCOPE).controller
    warm = await steps.run(controller, "warm")
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("down"))
    journal_code, await_code = ErrorCode.POSTGRES_EFFECT_REPLAY_STORE, ErrorCode.POSTGRES_AWAIT_EVENT_STORE
    calls = {
        "execute_effect": (journal_code, lambda: steps.run(controller, "while-down")),
        "replay": (journal_code, lambda: _replay(controller, "warm")),
        "get_row": (journal_code, lambda: host.browser.get_row(SCOPE.journal_key(), "warm")),
        "await_event_key": (await_code, lambda: host.await_event_key(SCOPE, WaitIdentity.custom("new"))),
        "resolve": (await_code, lambda: host.resolve_await_event(key, Resolution.ok("down"))),
        "peek": (await_code, lambda: host.peek_await_event(key)),
        "outstanding": (await_code, lambda: host.list_outstanding_await_event_keys(SESSION)),
        "open_host": (
            journal_code,
            lambda: open_host(schema_url(server.url, "eh_r_down"), connect_timeout_s=1),
        ),
    }
    await server.stop("fast")
    down_at = time.monotonic()
    try:
        # All at once: each waits 1 s for a connection (no retry without one), so 5 s means "hung".
        results = await asyncio.wait_for(
            asyncio.gather(*(call() for _, call in calls.values()), return_exceptions=True), 5
        )
        # Traffic goes on: an outage of several seconds grows the pool's reconnect backoff.
        while time.monotonic() - down_at < OUTAGE_S:
            with pytest.raises(EffectHostError) as info:
                await asyncio.wait_for(steps.run(controller, "while-down"), 5)
            assert info.value.code == journal_code
            assert info.value.message.startswith("PostgreSQL call failed")
    finally:
        await server.start()
    for (name, (code, _)), result in zip(calls.items(), results, strict=True):
        assert isinstance(result, EffectHostError), (name, result)
        # the driver's own words follow ours; only our prefix is ours to pin
        prefix = "cannot connect to PostgreSQL" if name == "open_host" else "PostgreSQL call failed"
        assert (name, result.code) == (name, code)
        assert result.message.startswith(prefix), (name, result.message)
    assert steps.calls == Counter(warm=1)  # the effect never ran while its claim could not be made
    # The same host object works again at once (each call still waits at most 1 s for a connection).
    assert await _replay(controller, "warm") == warm
    assert await steps.run(controller, "while-down") == {"step": "while-down", "value": None}
    assert await host.resolve_await_event(key, Resolution.ok("up")) == ResolveOutcome.ACCEPTED
    assert await host.peek_await_event(key) == Resolution.ok("up")
    assert steps.calls == Counter({"warm": 1, "while-down": 1})


async def test_a_crash_restart_loses_no_recorded_outcome(server: PrivateServer, make_host: HostMaker) -> None:
    """Workers journal effects while the server crashes (``-m immediate``, WAL recovery on start):
    every effect whose call returned, before or after the crash, replays from a cold host in strict
    replay mode with the same outcome. A call caught by the crash fails with a store code, or has
    lost its lease: claims commit asynchronously, so a crash may take one (its effect may then run
    again, which spec 9.12 allows), but an outcome is only returned after a synchronous commit."""
    host = await make_host()
    steps = Steps()
    returned: dict[str, Any] = {}
    failed: list[tuple[str, str]] = []
    stop = asyncio.Event()

    async def worker(w: int) -> None:
        controller = host.scoped(SCOPE).controller
        i = 0
        while not stop.is_set():
            step, i = f"w{w}-{i}", i + 1
            try:
                returned[step] = await steps.run(controller, step, i)
            except EffectHostError as err:
                failed.append((step, err.code))

    workers = [asyncio.ensure_future(worker(w)) for w in range(4)]
    try:

        async def progressed(at_least: int) -> bool:
            return len(returned) >= at_least

        await asyncio.wait_for(until(lambda: progressed(40)), WAKE_S)
        await server.restart("immediate")  # the workers keep going: some calls are caught by it
        returned_before_restart = len(returned)
        await asyncio.wait_for(until(lambda: progressed(returned_before_restart + 40)), WAKE_S)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    allowed = {ErrorCode.POSTGRES_EFFECT_REPLAY_STORE, ErrorCode.POSTGRES_EFFECT_REPLAY_LEASE_LOST}
    assert {code for _, code in failed} <= allowed, failed
    assert all(steps.calls[step] == 1 for step in returned)

    cold = await make_host()
    controller = cold.scoped(SCOPE).controller
    controller.start_replay()
    lost: dict[str, Any] = {}
    for step, value in returned.items():
        try:
            replayed = await _replay(controller, step, value["value"])
        except EffectHostError as err:
            replayed = err
        if replayed != value:
            lost[step] = replayed
    assert not lost, f"{len(lost)} of {len(returned)} returned outcomes do not replay: {lost}"
    with pytest.raises(EffectHostError) as info:  # strict replay really is strict
        await _replay(controller, "never-ran")
    assert info.value.code == ErrorCode.POSTGRES_EFFECT_REPLAY_MISSING


@pytest.mark.parametrize("mode", MODES)
async def test_a_parked_waiter_is_woken_across_a_restart(
    server: PrivateServer, make_host: HostMaker, mode: StopMode
) -> None:
    waiter_host, resolver = await make_host(), await make_host()
    listener: Any = waiter_host.substrate.listener  # type: ignore[attr-defined]
    key = await resolver.await_event_key(SCOPE, WaitIdentity.custom(f"across-{mode}"))
    waiting = asyncio.ensure_future(waiter_host.await_await_event(key))
    try:

        async def parked() -> bool:
            return bool(await resolver.list_outstanding_await_event_keys(SESSION))

        await until(parked)
        generation = listener.generation
        await server.restart(mode)
        await asyncio.wait_for(listener.wait_for_generation(generation + 1), WAKE_S)
        assert not waiting.done()  # the outage did not end the wait
        seen = listener.received
        # Resolved after the restart from another host object (whose pool reconnects too).
        assert await resolver.resolve_await_event(key, Resolution.ok(mode)) == ResolveOutcome.ACCEPTED
        assert await asyncio.wait_for(waiting, WAKE_S) == Resolution.ok(mode)

        async def notified() -> bool:
            return bool(listener.received > seen)

        # The NOTIFY reached the re-established LISTEN connection (even if a poll won the race).
        await asyncio.wait_for(until(notified), WAKE_S)
    finally:
        waiting.cancel()


async def test_a_parked_waiter_outlives_an_outage_longer_than_its_store_calls(
    server: PrivateServer, make_host: HostMaker
) -> None:
    """While the server is down every poll of the parked waiter fails (after 1 s here); the wait
    must not end with a store error — it keeps its registration and is woken once the server is
    back and the event is resolved."""
    waiter_host, resolver = await make_host(connect_timeout_s=1), await make_host()
    key = await resolver.await_event_key(SCOPE, WaitIdentity.custom("long-outage"))
    waiting = asyncio.ensure_future(waiter_host.await_await_event(key))
    try:

        async def parked() -> bool:
            return bool(await resolver.list_outstanding_await_event_keys(SESSION))

        await until(parked)
        await server.stop("fast")
        try:
            await asyncio.sleep(OUTAGE_S)  # several failed polls of 1 s each
            assert not waiting.done()
        finally:
            await server.start()
        assert await resolver.resolve_await_event(key, Resolution.ok("back")) == ResolveOutcome.ACCEPTED
        assert await asyncio.wait_for(waiting, WAKE_S) == Resolution.ok("back")
    finally:
        waiting.cancel()
