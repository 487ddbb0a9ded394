"""The await-event state table (spec 5.2) beyond the seed vectors, on inline and memory:// hosts."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from effecthost import (
    CancelToken,
    EffectHostError,
    ExecutionScope,
    InlineEffectHost,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
    open_host,
)


@pytest.fixture(params=["inline", "memory"])
async def host(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "inline":
        h: Any = InlineEffectHost()
    else:
        h = await open_host(f"memory://awaits-{uuid.uuid4().hex}")
    async with h:
        yield h


def _scope(session: str = "s") -> ExecutionScope:
    return ExecutionScope.turn(session, "t")


async def _parked(host: Any, session: str, count: int = 1) -> None:
    for _ in range(1000):
        if len(await host.list_outstanding_await_event_keys(session)) == count:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("waiter never parked")


async def test_peek_is_none_until_resolved_and_never_registers(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("p"))
    assert await host.peek_await_event(key) is None
    assert await host.list_outstanding_await_event_keys("s") == []
    await host.resolve_await_event(key, Resolution.ok("v"))
    assert await host.peek_await_event(key) == Resolution.ok("v")


async def test_resolve_wakes_a_parked_waiter(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("w"))
    waiter = asyncio.ensure_future(host.await_await_event(key))
    await _parked(host, "s")
    assert await host.resolve_await_event(key, Resolution.err("denied", "no")) == ResolveOutcome.ACCEPTED
    assert await asyncio.wait_for(waiter, 5) == Resolution.err("denied", "no")


async def test_cancel_while_parked_publishes_cancelled(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("c"))
    cancel = CancelToken()
    waiter = asyncio.ensure_future(host.await_await_event(key, cancel))
    await _parked(host, "s")
    cancel.cancel()
    assert await asyncio.wait_for(waiter, 5) == Resolution.CANCELLED
    assert await host.peek_await_event(key) == Resolution.CANCELLED


async def test_future_deadline_times_out(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("d"))
    assert await host.await_await_event(key, None, time.monotonic() + 0.05) == Resolution.TIMEOUT
    assert await host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.already_resolved(
        Resolution.TIMEOUT
    )


async def test_cancel_wins_over_a_passed_deadline(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("both"))
    cancel = CancelToken()
    cancel.cancel()
    assert await host.await_await_event(key, cancel, time.monotonic() - 1) == Resolution.CANCELLED


async def test_a_real_resolution_that_won_is_returned_to_a_cancelling_waiter(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.custom("won"))
    await host.resolve_await_event(key, Resolution.ok("real"))
    cancel = CancelToken()
    cancel.cancel()
    assert await host.await_await_event(key, cancel) == Resolution.ok("real")


async def test_revocation_wakes_parked_waiters_with_an_error(host: Any) -> None:
    key = await host.await_event_key(_scope("rv"), WaitIdentity.custom("r"))
    waiter = asyncio.ensure_future(host.await_await_event(key))
    await _parked(host, "rv")
    await host.revoke_await_events_for_session("rv")
    with pytest.raises(EffectHostError) as info:
        await asyncio.wait_for(waiter, 5)
    assert info.value.code == "await_event_unknown_or_revoked"


async def test_revocation_is_permanent_and_refuses_minting_and_peeking(host: Any) -> None:
    key = await host.await_event_key(_scope("gone"), WaitIdentity.custom("k"))
    await host.resolve_await_event(key, Resolution.ok(1))
    await host.revoke_await_events_for_session("gone")
    await host.revoke_await_events_for_session("gone")  # idempotent
    for call in (
        host.peek_await_event(key),
        host.await_event_key(_scope("gone"), WaitIdentity.custom("new")),
        host.await_await_event(key),
    ):
        with pytest.raises(EffectHostError) as info:
            await call
        assert info.value.code == "await_event_unknown_or_revoked"
    assert await host.resolve_await_event(key, Resolution.ok(2)) == ResolveOutcome.UNKNOWN_OR_REVOKED


async def test_revocation_leaves_session_free_scopes_alone(host: Any) -> None:
    key = await host.await_event_key(ExecutionScope.process("p"), WaitIdentity.process_signal("p", "go", 1))
    await host.revoke_await_events_for_session("p")
    assert await host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.ACCEPTED


async def test_forged_unknown_and_revoked_keys_look_the_same(host: Any) -> None:
    import dataclasses

    good = await host.await_event_key(_scope("same"), WaitIdentity.custom("k"))
    forged = dataclasses.replace(good, signature="0" * 64)
    await host.revoke_await_events_for_session("same")
    answers = [await host.resolve_await_event(k, Resolution.ok(1)) for k in (good, forged)]
    assert answers == [ResolveOutcome.UNKNOWN_OR_REVOKED] * 2
    errors = []
    for k in (good, forged):
        with pytest.raises(EffectHostError) as info:
            await host.peek_await_event(k)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


async def test_turn_control_waits_error_instead_of_publishing(host: Any) -> None:
    key = await host.await_event_key(_scope(), WaitIdentity.turn_cancel_gate())
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(EffectHostError) as info:
        await host.await_await_event(key, cancel)
    assert info.value.code == "turn_control_wait_cancelled"
    with pytest.raises(EffectHostError) as info:
        await host.await_await_event(key, None, time.monotonic())
    assert info.value.code == "turn_control_wait_timeout"
    assert await host.peek_await_event(key) is None
    assert await host.resolve_await_event(key, Resolution.ok("g")) == ResolveOutcome.ACCEPTED


@pytest.mark.parametrize("session", ["", "   "])
async def test_blank_session_ids_are_coded(host: Any, session: str) -> None:
    for call in (
        host.revoke_await_events_for_session(session),
        host.cancel_await_events_for_session(session),
        host.list_outstanding_await_event_keys(session),
    ):
        with pytest.raises(EffectHostError) as info:
            await call
        assert info.value.code == "invalid_await_event_session_id"


async def test_minting_bad_input_is_coded(host: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        await host.await_event_key(ExecutionScope.turn("s", ""), WaitIdentity.custom("k"))
    assert info.value.code == "missing_execution_scope_id"
    with pytest.raises(EffectHostError) as info:
        await host.await_event_key(_scope(), WaitIdentity.custom(""))
    assert info.value.code == "invalid_await_event_wait_identity"
    with pytest.raises(EffectHostError) as info:
        await host.resolve_await_event(await host.await_event_key(_scope(), WaitIdentity.custom("k")), "ok")
    assert info.value.code == "await_event_resolution_invalid"


async def test_independent_inline_hosts_do_not_share_keys() -> None:
    a, b = InlineEffectHost(), InlineEffectHost()
    key = await a.await_event_key(_scope(), WaitIdentity.custom("k"))
    assert await b.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED
    await b.revoke_await_events_for_session("s")
    assert await a.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.ACCEPTED


async def test_no_lost_wakeups_when_thousands_of_resolves_race_their_waiters(
    host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolvers and waiters start in random order; every waiter must get its own terminal.

    The polling safety net is switched off (an hour between polls), so a single lost wake-up hangs
    its waiter and fails the test instead of being papered over by a poll.
    """
    from effecthost._private.runtime import await_loop as coordinator

    monkeypatch.setattr(coordinator, "POLL_START_S", 3600.0)
    monkeypatch.setattr(coordinator, "POLL_MAX_S", 3600.0)
    rng = random.Random(7)
    pairs = 2000
    keys = [await host.await_event_key(_scope("stress"), WaitIdentity.custom(f"k{i}")) for i in range(pairs)]

    async def waiter(i: int) -> Resolution:
        if rng.random() < 0.5:
            await asyncio.sleep(0)
        result: Resolution = await host.await_await_event(keys[i])
        return result

    async def resolver(i: int) -> ResolveOutcome:
        for _ in range(rng.randrange(3)):
            await asyncio.sleep(0)
        result: ResolveOutcome = await host.resolve_await_event(keys[i], Resolution.ok(i))
        return result

    tasks = [waiter(i) for i in range(pairs)] + [resolver(i) for i in range(pairs)]
    order = list(range(len(tasks)))
    rng.shuffle(order)
    results = await asyncio.wait_for(asyncio.gather(*(tasks[i] for i in order)), 60)
    by_task = dict(zip(order, results, strict=True))
    assert [by_task[i] for i in range(pairs)] == [Resolution.ok(i) for i in range(pairs)]
    assert all(by_task[pairs + i] == ResolveOutcome.ACCEPTED for i in range(pairs))
    assert await host.list_outstanding_await_event_keys("stress") == []


async def test_closed_host_refuses_calls() -> None:
    host = await open_host(f"memory://closed-{uuid.uuid4().hex}")
    await host.aclose()
    with pytest.raises(EffectHostError) as info:
        await host.await_event_key(_scope(), WaitIdentity.custom("k"))
    assert info.value.code == "host_closed"


async def test_a_resolve_from_another_thread_and_loop_wakes_the_waiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server thread resolving on the same substrate must wake a waiter in this loop at once.

    Polling is switched off, so only the cross-loop wake-up can end the wait.
    """
    import threading

    from effecthost._private.runtime import await_loop as coordinator

    monkeypatch.setattr(coordinator, "POLL_START_S", 3600.0)
    monkeypatch.setattr(coordinator, "POLL_MAX_S", 3600.0)
    url = f"memory://threads-{uuid.uuid4().hex}"
    host = await open_host(url)
    key = await host.await_event_key(_scope("threads"), WaitIdentity.custom("x"))
    waiter = asyncio.ensure_future(host.await_await_event(key))
    await _parked(host, "threads")
    answers: list[ResolveOutcome] = []

    def resolve_elsewhere() -> None:
        async def run() -> None:
            other = await open_host(url)
            answers.append(await other.resolve_await_event(key, Resolution.ok("from a thread")))

        asyncio.run(run())

    thread = threading.Thread(target=resolve_elsewhere)
    thread.start()
    assert await asyncio.wait_for(waiter, 10) == Resolution.ok("from a thread")
    thread.join()
    assert answers == [ResolveOutcome.ACCEPTED]


async def test_a_woken_waiter_reads_its_row_again_and_returns_only_what_is_stored() -> None:
    """A wake-up is only a hint (issue 11, defect 1): whatever wakes a waiter, it reads its row
    and returns the stored terminal. A wake-up with nothing stored leaves it parked."""
    host = await open_host(f"memory://reread-{uuid.uuid4().hex}")
    store: Any = host.await_coordinator.store
    reads: list[str] = []
    original = store.inspect

    async def counting_inspect(key_id: str, identity: Any) -> Any:
        reads.append(key_id)
        return await original(key_id, identity)

    store.inspect = counting_inspect
    key = await host.await_event_key(_scope("reread"), WaitIdentity.custom("c"))
    waiter = asyncio.ensure_future(host.await_await_event(key))
    await _parked(host, "reread")
    parked_reads = len(reads)
    assert set(reads) == {key.key_id}
    store.hub.notify_key(key.key_id)  # a hint with nothing stored behind it
    await asyncio.sleep(0.05)
    assert not waiter.done()
    assert len(reads) > parked_reads
    await host.resolve_await_event(key, Resolution.ok({"stored": True}))
    assert await asyncio.wait_for(waiter, 5) == Resolution.ok({"stored": True})
    assert await host.peek_await_event(key) == Resolution.ok({"stored": True})
