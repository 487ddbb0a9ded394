"""Vectors from later upstream revisions that effecthost adopts: replay-mismatch diagnostics (4.6),
session cancel sweep (8.2), outstanding waits (6.2) and journal retirement (4.7)."""

from __future__ import annotations

import asyncio
import uuid

from effecthost import (
    CancelToken,
    EffectController,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    JournalRetirement,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    Sleep,
    WaitIdentity,
)

from ._support import ConformanceFailure, HostFactory, HostPool, check, check_eq, record_step, wait_listed


def _sleep_envelope(duration_ms: int, key: str) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("mismatch-session", "mismatch-turn", 0, 0), key, EffectKind.SLEEP, key
        ),
        Sleep(duration_ms),
    )


async def effect_controller_replay_mismatch_diagnostics(
    controller: EffectController, code: str | None
) -> None:
    """A recorded ``sleep{0}`` replayed as ``sleep{1}`` names exactly ``command.duration_ms``.

    ``code`` is the exact mismatch code expected (``{backend}_effect_replay_hash_conflict`` for a
    :class:`DurableEffectHost`), or None to accept any code classified as a replay mismatch."""
    key = f"mismatch-{uuid.uuid4().hex}"
    await controller.execute_effect(_sleep_envelope(0, key), LocalExecutor.sleep(CancelToken()))
    try:
        await controller.execute_effect(_sleep_envelope(1, key), LocalExecutor.sleep(CancelToken()))
    except EffectHostError as err:
        if code is not None:
            check_eq(err.code, code, "replay mismatch code")
        check(err.is_replay_mismatch(), "mismatch errors classify as replay mismatches")
        check_eq(
            err.summary,
            {"divergent_path_count": 1, "first_divergent_paths": ["command.duration_ms"]},
            "mismatch summary",
        )
        check("divergent_paths=[command.duration_ms]" in err.message, "message lists the path")
    else:
        raise ConformanceFailure("a changed envelope under a recorded key must be refused")


async def effect_host_await_event_session_cancel_resolves_outstanding_waits(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        host = await hosts.new()
        session = f"cancel-sweep-{uuid.uuid4().hex[:8]}"
        key = await host.await_event_key(ExecutionScope.turn(session, "t"), WaitIdentity.custom("parked"))
        waiter = asyncio.ensure_future(host.await_await_event(key, CancelToken(), None))
        await wait_listed(host, session, 1)
        for _ in range(500):
            await host.cancel_await_events_for_session(session)
            if waiter.done():
                break
            await asyncio.sleep(0.01)
        check_eq(await asyncio.wait_for(waiter, 5), Resolution.CANCELLED, "parked waiter is cancelled")
        check_eq(
            await host.resolve_await_event(key, Resolution.ok("late")),
            ResolveOutcome.already_resolved(Resolution.CANCELLED),
            "late resolve sees the sweep's terminal",
        )
        fresh = await host.await_event_key(ExecutionScope.turn(session, "t2"), WaitIdentity.custom("after"))
        check_eq(
            await host.resolve_await_event(fresh, Resolution.ok(7)),
            ResolveOutcome.ACCEPTED,
            "the session stays usable after a sweep",
        )
        check_eq(await host.await_await_event(fresh), Resolution.ok(7), "a new key awaits its value")


async def effect_host_lists_registered_unresolved_waits(
    owner: EffectHost, observer: EffectHost, resolver: EffectHost
) -> None:
    """Spec 6.2. Pass one host three times (warm) or three hosts over one substrate (cold)."""
    session = f"outstanding-{uuid.uuid4().hex[:8]}"
    other = f"outstanding-other-{uuid.uuid4().hex[:8]}"
    check_eq(await observer.list_outstanding_await_event_keys(session), [], "unknown session lists nothing")
    scope = ExecutionScope.turn(session, "turn")
    minted = await owner.await_event_key(scope, WaitIdentity.tool_completion("minted-only"))
    check_eq(await observer.list_outstanding_await_event_keys(session), [], "minting registers nothing")
    parked = await owner.await_event_key(scope, WaitIdentity.tool_completion("parked"))
    waiter = asyncio.ensure_future(owner.await_await_event(parked, CancelToken(), None))
    listed = await wait_listed(observer, session, 1)
    check_eq(listed, [parked], "exactly the parked key is listed")
    check_eq(await observer.list_outstanding_await_event_keys(other), [], "no cross-session leakage")
    check_eq(
        await resolver.resolve_await_event(listed[0], Resolution.ok("done")),
        ResolveOutcome.ACCEPTED,
        "a listed key resolves",
    )
    check_eq(await asyncio.wait_for(waiter, 5), Resolution.ok("done"), "the waiter receives the terminal")
    await wait_listed(observer, session, 0)
    second = await owner.await_event_key(scope, WaitIdentity.tool_completion("second"))
    waiter = asyncio.ensure_future(owner.await_await_event(second, CancelToken(), None))
    await wait_listed(observer, session, 1)
    await resolver.cancel_await_events_for_session(session)
    check_eq(await asyncio.wait_for(waiter, 5), Resolution.CANCELLED, "a sweep wakes the waiter")
    await wait_listed(observer, session, 0)
    check_eq(
        await resolver.resolve_await_event(minted, Resolution.ok("early")),
        ResolveOutcome.ACCEPTED,
        "resolving a never-registered key buffers it",
    )
    check_eq(await observer.list_outstanding_await_event_keys(session), [], "early terminals are not listed")
    third = await owner.await_event_key(scope, WaitIdentity.tool_completion("third"))
    waiter = asyncio.ensure_future(owner.await_await_event(third, CancelToken(), None))
    await wait_listed(observer, session, 1)
    await resolver.revoke_await_events_for_session(session)
    try:
        ended = await asyncio.wait_for(waiter, 5)
        check_eq(ended, Resolution.CANCELLED, "a revoked waiter ends cancelled or unknown")
    except EffectHostError as err:
        check_eq(err.code, "await_event_unknown_or_revoked", "a revoked waiter ends cancelled or unknown")
    check_eq(await observer.list_outstanding_await_event_keys(session), [], "revocation empties the list")
    check_eq(
        await resolver.resolve_await_event(third, Resolution.ok("late")),
        ResolveOutcome.UNKNOWN_OR_REVOKED,
        "revoked keys do not resolve",
    )


async def effect_host_lists_outstanding_waits(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        host = await hosts.new()
        await effect_host_lists_registered_unresolved_waits(host, host, host)


async def effect_host_retires_session_journal(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        host = await hosts.new()
        session = f"retire-{uuid.uuid4().hex[:8]}"
        await record_step(host, ExecutionScope.turn(session, "turn"), "a")
        await record_step(host, ExecutionScope.queue_drain(session, "drain"), "b")
        await record_step(host, ExecutionScope.session_delete(session), "c")
        await record_step(host, ExecutionScope.turn(session + "-sibling", "turn"), "d")
        check_eq(
            await host.retire_effect_journal(JournalRetirement.session(session)),
            3,
            "session retirement removes turn, drain and delete rows",
        )
        check_eq(
            await host.retire_effect_journal(JournalRetirement.session(session + "-sibling")),
            1,
            "a sibling session is untouched",
        )


async def effect_host_retires_process_journal(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        host = await hosts.new()
        process = f"proc-{uuid.uuid4().hex[:8]}"
        await record_step(host, ExecutionScope.process(process), "p")
        await record_step(host, ExecutionScope.process(process + "-2"), "p")
        check_eq(
            await host.retire_effect_journal(JournalRetirement.process(process)),
            1,
            "process retirement is exact, not a prefix match",
        )
