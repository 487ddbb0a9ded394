"""Durable await events across hosts: LISTEN/NOTIFY wakes a waiter on another host object."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pg_support import HostMaker, admin, until

from effecthost import EffectHostError, ErrorCode, ExecutionScope, Resolution, ResolveOutcome, WaitIdentity

SCOPE = ExecutionScope.turn("await-session", "await-turn")


async def _parked(host: Any, session: str) -> None:
    """Until the host lists a parked waiter for the session (ensure_pending has committed)."""

    async def listed() -> bool:
        return bool(await host.list_outstanding_await_event_keys(session))

    await until(listed)


async def test_resolve_on_one_host_wakes_a_waiter_on_another_through_notify(make_host: HostMaker) -> None:
    waiter_host, resolver_host = await make_host(), await make_host()
    key = await resolver_host.await_event_key(SCOPE, WaitIdentity.custom("notify"))
    waiting = asyncio.ensure_future(waiter_host.await_await_event(key))
    await _parked(resolver_host, "await-session")
    listener: Any = waiter_host.substrate.listener  # type: ignore[attr-defined]
    seen = listener.received
    assert await resolver_host.resolve_await_event(key, Resolution.ok({"v": 1})) == ResolveOutcome.ACCEPTED
    assert await waiting == Resolution.ok({"v": 1})
    await until(lambda: _received_more(listener, seen))  # NOTIFY arrives even if a poll won


async def test_notify_payloads_feed_the_hub(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    """A raw NOTIFY on the schema's channel wakes exactly the subscribed key (no polling involved)."""
    host = await make_host()
    hub = host.await_coordinator.store.hub
    key_sub = hub.subscribe("key-1", "sess-1")
    other = hub.subscribe("key-2", None)
    try:
        async with await admin(pg_url) as conn:
            await conn.execute("SELECT pg_notify(%s, 'k:key-1')", (f"effecthost_{pg_schema}",))
        await key_sub.event.wait()
        assert not other.event.is_set()
        key_sub.event.clear()
        async with await admin(pg_url) as conn:
            await conn.execute("SELECT pg_notify(%s, 's:sess-1')", (f"effecthost_{pg_schema}",))
        await key_sub.event.wait()
        assert not other.event.is_set()
    finally:
        key_sub.close()
        other.close()


async def test_revocation_on_one_host_ends_a_waiter_on_another(make_host: HostMaker) -> None:
    waiter_host, revoker = await make_host(), await make_host()
    key = await waiter_host.await_event_key(SCOPE, WaitIdentity.custom("revoke"))
    waiting = asyncio.ensure_future(waiter_host.await_await_event(key))
    await _parked(revoker, "await-session")
    await revoker.revoke_await_events_for_session("await-session")
    with pytest.raises(EffectHostError) as info:
        await waiting
    assert info.value.code == ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED
    assert await waiter_host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED


async def test_cancel_sweep_on_one_host_cancels_waiters_on_another(make_host: HostMaker) -> None:
    waiter_host, sweeper = await make_host(), await make_host()
    key = await waiter_host.await_event_key(SCOPE, WaitIdentity.custom("sweep"))
    waiting = asyncio.ensure_future(waiter_host.await_await_event(key))
    await _parked(sweeper, "await-session")
    await sweeper.cancel_await_events_for_session("await-session")
    assert await waiting == Resolution.CANCELLED


async def test_first_writer_wins_under_concurrent_resolves_from_many_hosts(make_host: HostMaker) -> None:
    hosts = [await make_host() for _ in range(4)]
    key = await hosts[0].await_event_key(ExecutionScope.process("race-proc"), WaitIdentity.custom("race"))
    outcomes = await asyncio.gather(
        *(h.resolve_await_event(key, Resolution.ok(i)) for i, h in enumerate(hosts) for _ in range(3))
    )
    accepted = [o for o in outcomes if o == ResolveOutcome.ACCEPTED]
    assert len(accepted) == 1
    terminal = await hosts[1].peek_await_event(key)
    assert terminal is not None
    assert all(o == ResolveOutcome.already_resolved(terminal) for o in outcomes if o not in accepted)


async def _received_more(listener: Any, seen: int) -> bool:
    return bool(listener.received > seen)
