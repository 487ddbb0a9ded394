"""A NOTIFY is only a hint (issue 11, defects 1 and 2), proven from a role with no privileges.

Any role that can connect may ``NOTIFY`` any channel, including ``effecthost_<schema>``, even one
that cannot read a single effecthost table. Before the fix, a ``t:<key id>\\n<terminal>`` payload
ended a parked wait with whatever terminal it carried (journaled and replayed forever, while the
genuine resolve later also answered ACCEPTED), and a malformed one crashed the waiter with an
uncoded JSONDecodeError. The roles live in a private cluster, so the shared server's role list is
never touched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from pg_support import schema_url, until
from private_server import PrivateServer, private_cluster

from effecthost import (
    AwaitEvent,
    DurableEffectHost,
    EffectEnvelope,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
    open_host,
)
from effecthost._private.runtime import await_loop as coordinator

SESSION, TURN = "victim-session", "victim-turn"
SCOPE = ExecutionScope.turn(SESSION, TURN)
INTRUDER = "intruder"


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    with private_cluster() as cluster:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {INTRUDER} LOGIN")  # no grants of any kind
        yield cluster


@pytest.fixture
async def hosts(server: PrivateServer) -> AsyncIterator[tuple[DurableEffectHost, DurableEffectHost, str]]:
    server.ensure_running()
    schema = f"eh_f_{uuid.uuid4().hex[:12]}"
    url = schema_url(server.url, schema)
    waiter_host, resolver_host = await open_host(url), await open_host(url)
    try:
        yield waiter_host, resolver_host, schema
    finally:
        await resolver_host.aclose()
        await waiter_host.aclose()


def _intruder_url(server: PrivateServer) -> str:
    return server.url.replace("postgres@", f"{INTRUDER}@", 1)


def _await_envelope(key: Any) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope.for_turn(SESSION, TURN, 0, 0), "approval",
                                 EffectKind.AWAIT_EVENT, "victim:approval"),
        AwaitEvent(key),
    )


async def test_forged_notifies_from_an_unprivileged_role_leave_the_wait_parked(
    server: PrivateServer,
    hosts: tuple[DurableEffectHost, DurableEffectHost, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coordinator, "POLL_START_S", 3600.0)  # only a hint can wake the waiter
    monkeypatch.setattr(coordinator, "POLL_MAX_S", 3600.0)
    waiter_host, resolver_host, schema = hosts
    key = await waiter_host.await_event_key(SCOPE, WaitIdentity.custom("approval"))
    controller = waiter_host.scoped(SCOPE).controller
    drive = asyncio.ensure_future(controller.execute_effect(_await_envelope(key), LocalExecutor.await_event()))
    await until(lambda: _listed(waiter_host, key))
    listener: Any = waiter_host.substrate.listener  # type: ignore[attr-defined]
    hub = waiter_host.await_coordinator.store.hub
    seen, malformed_before = listener.received, hub.malformed_hints

    async with await psycopg.AsyncConnection.connect(_intruder_url(server), autocommit=True) as intruder:
        # The intruder cannot read effecthost's rows...
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await intruder.execute(f'SELECT * FROM "{schema}".await_event_waits')
        # ...but may NOTIFY the channel, which is all the old forgery needed.
        forged = [
            f't:{key.key_id}\n{{"status":"ok","payload":{{"approved":true,"by":"intruder"}}}}',
            f"t:{key.key_id}\n{{not json",
            f"t:{key.key_id}\n" + '{"status":"bogus"}',
            f"k:{key.key_id}",  # well-formed: a re-read that finds nothing stored
            f"s:{SESSION}",
            "*",
            "junk without a kind",
            "k:",
            "x" * 7_000,
        ]
        for payload in forged:
            await intruder.execute("SELECT pg_notify(%s, %s)", (f"effecthost_{schema}", payload))
    await until(lambda: _received(listener, seen + len(forged)))
    await asyncio.sleep(0.2)  # the re-reads the well-formed hints caused have had time to finish

    assert not drive.done(), drive.result() if drive.done() and not drive.exception() else drive
    assert hub.malformed_hints - malformed_before == 6  # the three t: forms, junk, "k:", x*7000
    assert await resolver_host.peek_await_event(key) is None  # the store still says pending

    genuine = Resolution.ok({"approved": True, "by": "operator"})
    assert await resolver_host.resolve_await_event(key, genuine) == ResolveOutcome.ACCEPTED
    outcome = await asyncio.wait_for(drive, 10)
    assert outcome.into_await_event() == genuine
    assert await resolver_host.resolve_await_event(key, Resolution.ok("late")) == (
        ResolveOutcome.already_resolved(genuine)
    )
    # What was journaled is the genuine answer: a re-drive replays it.
    replayed = await resolver_host.scoped(SCOPE).controller.execute_effect(
        _await_envelope(key), LocalExecutor.unavailable()
    )
    assert replayed.into_await_event() == genuine


async def _listed(host: DurableEffectHost, key: Any) -> bool:
    return key in await host.list_outstanding_await_event_keys(SESSION)


async def _received(listener: Any, count: int) -> bool:
    return bool(listener.received >= count)
