"""Cold-instance await-event vectors (spec 8.5): each role uses a different host object over one
substrate, so nothing may live only in one object's memory. ``make`` must open a new host object
on the same substrate at every call."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from effecthost import (
    AwaitEvent,
    AwaitEventKey,
    CancelToken,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
)

from ._support import (
    ConformanceFailure,
    HostFactory,
    HostPool,
    check,
    check_eq,
    expect_unknown_or_revoked,
    wait_listed,
)
from .later import effect_host_lists_registered_unresolved_waits

Pool = HostPool[EffectHost]


def _session(tag: str) -> str:
    return f"cold-{tag}-{uuid.uuid4().hex[:8]}"


async def effect_host_await_events_cold_instance(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        await cold_mint_resolve_observe_all_identities(hosts)
        await cold_first_writer_wins(hosts)
        await cold_replayed_parked_owner(hosts)
        await cold_key_stability(hosts)
        await cold_auth_tamper_matrix(hosts)
        await cold_revocation_survives_reopen(hosts)
        await cold_cancel_sweep_excludes_turn_control(hosts)
        await cold_closing_a_host_ends_its_parked_waits(hosts)
        await effect_host_lists_registered_unresolved_waits(
            await hosts.new(), await hosts.new(), await hosts.new()
        )


async def cold_mint_resolve_observe_all_identities(hosts: Pool) -> None:
    session = _session("identities")
    cases = [
        (ExecutionScope.turn(session, "turn"), WaitIdentity.tool_completion("call")),
        (
            ExecutionScope.process(session + "-proc"),
            WaitIdentity.process_signal(session + "-proc", "ready", 1),
        ),
        (ExecutionScope.turn(session, "turn"), WaitIdentity.turn_cancel_gate()),
        (ExecutionScope.turn(session, "turn"), WaitIdentity.turn_terminal()),
    ]
    for scope, wait in cases:
        a, b, c = await hosts.new(), await hosts.new(), await hosts.new()
        key = await a.await_event_key(scope, wait)
        terminal = Resolution.ok({"wait": wait.variant})
        check_eq(await b.resolve_await_event(key, terminal), ResolveOutcome.ACCEPTED, "B resolves A's key")
        check_eq(await c.peek_await_event(key), terminal, "C peeks the terminal")
        check_eq(await c.await_await_event(key), terminal, "C awaits the terminal")
        check_eq(
            await a.resolve_await_event(key, Resolution.ok("again")),
            ResolveOutcome.already_resolved(terminal),
            "a duplicate resolve on A sees the first terminal",
        )


async def cold_first_writer_wins(hosts: Pool) -> None:
    """A waiter on A; B resolves while C sweeps the session: exactly one terminal wins everywhere."""
    for round_ in range(5):
        session = _session(f"race{round_}")
        a, b, c = await hosts.new(), await hosts.new(), await hosts.new()
        key = await a.await_event_key(ExecutionScope.turn(session, "t"), WaitIdentity.custom("race"))
        waiter = asyncio.ensure_future(a.await_await_event(key))
        for _ in range(500):
            if await c.list_outstanding_await_event_keys(session):
                break
            await asyncio.sleep(0.01)
        outcome, _ = await asyncio.gather(
            b.resolve_await_event(key, Resolution.ok("settled")),
            c.cancel_await_events_for_session(session),
        )
        won = await asyncio.wait_for(waiter, 5)
        check_eq(await c.peek_await_event(key), won, "every host sees the winning terminal")
        if outcome == ResolveOutcome.ACCEPTED:
            check_eq(won, Resolution.ok("settled"), "an accepted resolve is the terminal")
        else:
            check_eq(won, Resolution.CANCELLED, "otherwise the sweep won")
            check_eq(outcome, ResolveOutcome.already_resolved(Resolution.CANCELLED), "resolver told so")


def _await_envelope(key: AwaitEventKey, replay_key: str) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn(key.scope.session_id or "s", key.scope.turn_id or "t", 0, 0),
            replay_key,
            EffectKind.AWAIT_EVENT,
            replay_key,
        ),
        AwaitEvent(key),
    )


async def cold_replayed_parked_owner(hosts: Pool) -> None:
    session = _session("parked")
    scope = ExecutionScope.turn(session, "turn")
    a = await hosts.new()
    key = await a.await_event_key(scope, WaitIdentity.tool_completion("parked-call"))
    envelope = _await_envelope(key, "parked-await")
    parked = asyncio.ensure_future(
        a.scoped(scope).controller.execute_effect(envelope, LocalExecutor.await_event(CancelToken(), None))
    )
    done, _ = await asyncio.wait({parked}, timeout=0.25)
    check(not done, "the await_event effect parks until resolved")
    parked.cancel()
    await asyncio.gather(parked, return_exceptions=True)
    b = await hosts.new()
    terminal = Resolution.ok({"approved": True})
    check_eq(await b.resolve_await_event(key, terminal), ResolveOutcome.ACCEPTED, "B resolves the key")
    c = await hosts.new()
    c_outcome = await c.scoped(scope).controller.execute_effect(
        envelope, LocalExecutor.await_event(CancelToken(), None)
    )
    check_eq(c_outcome.into_await_event(), terminal, "C's redrive gets the terminal")
    await c.revoke_await_events_for_session(session)
    d = await hosts.new()
    d_outcome = await d.scoped(scope).controller.execute_effect(
        envelope, LocalExecutor.await_event(CancelToken(), None)
    )
    check_eq(d_outcome.into_await_event(), terminal, "D replays the journaled terminal after revocation")


async def cold_key_stability(hosts: Pool) -> None:
    scope = ExecutionScope.turn(_session("stable"), "turn")
    wait = WaitIdentity.tool_completion("stable")
    a, b = await hosts.new(), await hosts.new()
    check_eq(await a.await_event_key(scope, wait), await b.await_event_key(scope, wait), "keys agree")


async def cold_auth_tamper_matrix(hosts: Pool) -> None:
    session = _session("tamper")
    a, b, c = await hosts.new(), await hosts.new(), await hosts.new()
    key = await a.await_event_key(ExecutionScope.turn(session, "turn"), WaitIdentity.tool_completion("t"))
    tampered = {
        "signature": dataclasses.replace(
            key, signature=key.signature[:-1] + ("0" if key.signature[-1] != "0" else "1")
        ),
        "key_id": dataclasses.replace(key, key_id=key.key_id[:-1] + ("0" if key.key_id[-1] != "0" else "1")),
        "scope turn": dataclasses.replace(key, scope=ExecutionScope.turn(session, "other-turn")),
        "wait": dataclasses.replace(key, wait=WaitIdentity.tool_completion("other")),
        "session": dataclasses.replace(key, scope=ExecutionScope.turn(session + "-x", "turn")),
    }
    for what, forged in tampered.items():
        check_eq(
            await b.resolve_await_event(forged, Resolution.ok("forged")),
            ResolveOutcome.UNKNOWN_OR_REVOKED,
            f"tampered {what}: resolve",
        )
        await expect_unknown_or_revoked(c.peek_await_event(forged), f"tampered {what}: peek")
        await expect_unknown_or_revoked(
            c.await_await_event(forged, CancelToken(), None), f"tampered {what}: await"
        )
    check_eq(await c.peek_await_event(key), None, "no terminal was materialised for the genuine key")


async def cold_revocation_survives_reopen(hosts: Pool) -> None:
    session = _session("revoke")
    scope = ExecutionScope.turn(session, "turn")
    a = await hosts.new()
    key = await a.await_event_key(scope, WaitIdentity.tool_completion("r"))
    await a.revoke_await_events_for_session(session)
    b, c, d = await hosts.new(), await hosts.new(), await hosts.new()
    check_eq(await b.resolve_await_event(key, Resolution.ok(1)), ResolveOutcome.UNKNOWN_OR_REVOKED, "resolve")
    await expect_unknown_or_revoked(c.peek_await_event(key), "peek after revocation")
    await expect_unknown_or_revoked(
        d.await_event_key(scope, WaitIdentity.tool_completion("new")), "minting after revocation"
    )


async def cold_cancel_sweep_excludes_turn_control(hosts: Pool) -> None:
    session = _session("sweep")
    scope = ExecutionScope.turn(session, "turn")
    a, b, c = await hosts.new(), await hosts.new(), await hosts.new()
    ordinary = await a.await_event_key(scope, WaitIdentity.tool_completion("ordinary"))
    gate = await a.await_event_key(scope, WaitIdentity.turn_cancel_gate())
    waiter = asyncio.ensure_future(a.await_await_event(ordinary))
    gate_waiter = asyncio.ensure_future(a.await_await_event(gate))
    for _ in range(500):
        if len(await c.list_outstanding_await_event_keys(session)) == 2:
            break
        await asyncio.sleep(0.01)
    await b.cancel_await_events_for_session(session)
    check_eq(await asyncio.wait_for(waiter, 5), Resolution.CANCELLED, "the ordinary wait is swept")
    check_eq(await c.peek_await_event(gate), None, "the turn-control gate survives the sweep")
    check_eq(
        await b.resolve_await_event(gate, Resolution.ok("gate")), ResolveOutcome.ACCEPTED, "gate resolves"
    )
    check_eq(await asyncio.wait_for(gate_waiter, 5), Resolution.ok("gate"), "gate waiter gets it")


async def cold_closing_a_host_ends_its_parked_waits(hosts: Pool) -> None:
    """Closing a host ends the waits parked on it with ``host_closed`` instead of leaving them
    hanging; the promise itself stays pending, so another host object resolves it and its own
    waiter receives exactly that terminal."""
    session = _session("closing")
    owner, other = await hosts.new(), await hosts.new()
    key = await other.await_event_key(ExecutionScope.turn(session, "turn"), WaitIdentity.custom("closing"))
    parked = asyncio.ensure_future(owner.await_await_event(key))
    await wait_listed(other, session, 1)
    await owner.aclose()
    try:
        await asyncio.wait_for(parked, 5)
    except EffectHostError as exc:
        check_eq(exc.code, "host_closed", "a wait parked on a host that closes ends with host_closed")
    else:
        raise ConformanceFailure("a wait parked on a closed host returned a resolution")
    check_eq(await other.peek_await_event(key), None, "the promise is still pending after the close")
    waiting = asyncio.ensure_future(other.await_await_event(key))
    terminal = Resolution.ok("after close")
    check_eq(await other.resolve_await_event(key, terminal), ResolveOutcome.ACCEPTED, "resolve after close")
    check_eq(await asyncio.wait_for(waiting, 5), terminal, "another host's waiter gets the terminal")
