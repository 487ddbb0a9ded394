"""Lease fencing (spec 6.1) through a backend adapter. With a :class:`ManualClock` the vectors are
deterministic; with the system clock (a database that keeps its own lease clock) they use real,
short waits. :class:`SubstrateLeaseBackend` is the adapter for any durable host whose substrate
declares :class:`~effecthost.store.LeaseHooks`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from effecthost import (
    DurableEffectHost,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecCode,
    ExecCodeOutcome,
    ExecResponse,
    ExecutionScope,
    LocalExecutor,
    ManualClock,
    Outcome,
    RuntimeInvocation,
    RuntimeScope,
)
from effecthost.store import LeaseHooks

from ._support import ConformanceFailure, check, check_eq

LEASE_SCOPE = ExecutionScope.turn("lease-session", "lease-turn")


class LeaseFencingBackend(Protocol):
    async def make_host(self, ttl_ms: int) -> Any:
        """A new host object on the shared substrate with this lease ttl (renewal every ttl/3)."""
        ...

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        """Raw row update: owner 'stolen-owner', token 'stolen-token', expiry now + 10 s."""
        ...

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        """Raw row update: lease_expires_at_ms = 0."""
        ...

    async def advance(self, ms: int) -> None:
        """Let ``ms`` of lease-clock time pass (advance a manual clock, or really wait)."""
        ...


class SubstrateLeaseBackend:
    """A :class:`LeaseFencingBackend` over durable hosts from ``open(lease_ttl_s=..., clock=...)``
    (e.g. a :class:`~effecthost.testing.conformance.HostPool` over one URL), stealing and expiring
    leases through the substrate's :class:`LeaseHooks` (``host.substrate.lease_hooks``).

    ``clock``: a :class:`ManualClock` every host shares, so expiry and renewal are driven, not
    waited for; None when the substrate keeps its own lease clock (PostgreSQL uses the database's
    time), and then ``advance`` really waits.
    """

    def __init__(self, open: Callable[..., Awaitable[EffectHost]], clock: ManualClock | None = None) -> None:
        self._open = open
        self.clock = clock
        self._keeper: EffectHost | None = None

    async def make_host(self, ttl_ms: int) -> Any:
        options: dict[str, Any] = {"lease_ttl_s": ttl_ms / 1000}
        if self.clock is not None:
            options["clock"] = self.clock
        return await self._open(**options)

    async def _hooks(self) -> LeaseHooks:
        # A host of its own: the vectors close theirs, and a closed host's substrate may be gone.
        if self._keeper is None:
            self._keeper = await self.make_host(30_000)
        host = self._keeper
        if not isinstance(host, DurableEffectHost):
            raise ConformanceFailure("lease hooks are read from a DurableEffectHost's substrate")
        hooks = host.substrate.lease_hooks
        if hooks is None:
            raise ConformanceFailure(
                "the substrate declares no lease hooks (Substrate.lease_hooks): the lease-fencing "
                "vectors cannot steal or expire its leases"
            )
        return hooks

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        await (await self._hooks()).steal_lease(scope_key, replay_key)

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        await (await self._hooks()).expire_lease(scope_key, replay_key)

    async def advance(self, ms: int) -> None:
        if self.clock is not None:
            self.clock.advance(ms)
        else:
            await asyncio.sleep(ms / 1000)

    async def aclose(self) -> None:
        """Close the host the hooks came from (hosts are closed twice harmlessly)."""
        if self._keeper is not None:
            keeper, self._keeper = self._keeper, None
            await keeper.aclose()


def _envelope(tag: str) -> EffectEnvelope:
    key = f"lease-{tag}-{uuid.uuid4().hex}"
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("lease-session", "lease-turn", 0, 0), key, EffectKind.EXEC_CODE, key
        ),
        ExecCode("emit"),
    )


def _marker(value: str) -> Outcome:
    return ExecCodeOutcome(ExecResponse(terminal_finish=value))


def _finish_of(outcome: Outcome) -> Any:
    result = outcome.into_exec_code()
    assert isinstance(result, ExecResponse)
    return result.terminal_finish


class _Blocking:
    def __init__(self, value: str) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.value = value

    def executor(self) -> LocalExecutor:
        async def run(_: EffectEnvelope) -> Outcome:
            self.entered.set()
            await self.release.wait()
            return _marker(self.value)

        return LocalExecutor.testing(run)


def _never(calls: list[str]) -> LocalExecutor:
    def run(envelope: EffectEnvelope) -> Outcome:
        calls.append(envelope.effect_id)
        raise EffectHostError("lease_fencing_executor_called", "this executor must not run")

    return LocalExecutor.testing(run)


async def _expect_lease_lost(task: asyncio.Future[Any], message: str) -> None:
    try:
        await task
    except EffectHostError as err:
        check(err.code.endswith("_effect_replay_lease_lost"), f"{message}: got {err.code}")
    else:
        raise ConformanceFailure(message)


async def _advance_until(
    backend: LeaseFencingBackend, task: asyncio.Future[Any], step: int, limit: int
) -> None:
    spent = 0
    while not task.done() and spent < limit:
        await backend.advance(step)
        spent += step
        await asyncio.sleep(0.005)


async def effect_controller_lease_fencing(backend: LeaseFencingBackend) -> None:
    await lease_fencing_renews_long_running_lease(backend)
    await lease_fencing_reports_lease_lost_when_stolen(backend)
    await lease_fencing_rejects_finalize_after_expiry(backend)
    await lease_fencing_reclaims_explicitly_expired_lease(backend)


async def lease_fencing_renews_long_running_lease(backend: LeaseFencingBackend) -> None:
    host_a, host_b = await backend.make_host(300), await backend.make_host(300)
    try:
        envelope = _envelope("renew")
        owner = _Blocking("renewed-owner")
        task_a = asyncio.ensure_future(
            host_a.scoped(LEASE_SCOPE).controller.execute_effect(envelope, owner.executor())
        )
        await asyncio.wait_for(owner.entered.wait(), 5)
        # Three TTLs pass in renewal-sized steps: without renewal the lease would have expired.
        for _ in range(18):
            await backend.advance(50)
            await asyncio.sleep(0.01)
        calls: list[str] = []
        task_b = asyncio.ensure_future(
            host_b.scoped(LEASE_SCOPE).controller.execute_effect(envelope, _never(calls))
        )
        for _ in range(6):
            await backend.advance(50)
            await asyncio.sleep(0.01)
        check(not task_b.done(), "B must stay busy while A renews its lease")
        check_eq(calls, [], "B's executor never entered")
        owner.release.set()
        check_eq(_finish_of(await asyncio.wait_for(task_a, 5)), "renewed-owner", "A finalizes")
        await _advance_until(backend, task_b, 25, 2000)
        check_eq(_finish_of(await asyncio.wait_for(task_b, 5)), "renewed-owner", "B replays A's outcome")
        host_b.start_replay()
        replayed = await host_b.scoped(LEASE_SCOPE).controller.execute_effect(envelope, _never(calls))
        check_eq(_finish_of(replayed), "renewed-owner", "strict replay returns A's outcome")
        check_eq(calls, [], "no executor ran on replay")
    finally:
        await host_a.aclose()
        await host_b.aclose()


async def lease_fencing_reports_lease_lost_when_stolen(backend: LeaseFencingBackend) -> None:
    host = await backend.make_host(300)
    try:
        envelope = _envelope("stolen")
        owner = _Blocking("never")
        task = asyncio.ensure_future(
            host.scoped(LEASE_SCOPE).controller.execute_effect(envelope, owner.executor())
        )
        await asyncio.wait_for(owner.entered.wait(), 5)
        await backend.steal_lease(LEASE_SCOPE.journal_key(), envelope.replay_key)
        await _advance_until(backend, task, 50, 2000)
        await _expect_lease_lost(task, "renewal must notice a stolen lease and abort the execution")
    finally:
        await host.aclose()


async def lease_fencing_rejects_finalize_after_expiry(backend: LeaseFencingBackend) -> None:
    host = await backend.make_host(30_000)
    try:
        envelope = _envelope("expired")
        owner = _Blocking("late")
        task = asyncio.ensure_future(
            host.scoped(LEASE_SCOPE).controller.execute_effect(envelope, owner.executor())
        )
        await asyncio.wait_for(owner.entered.wait(), 5)
        await backend.expire_lease(LEASE_SCOPE.journal_key(), envelope.replay_key)
        owner.release.set()
        await _expect_lease_lost(task, "finalize must require a live lease, not just token equality")
    finally:
        await host.aclose()


async def lease_fencing_reclaims_explicitly_expired_lease(backend: LeaseFencingBackend) -> None:
    host_a, host_b = await backend.make_host(30_000), await backend.make_host(30_000)
    try:
        envelope = _envelope("reclaim")
        owner = _Blocking("first-owner")
        task_a = asyncio.ensure_future(
            host_a.scoped(LEASE_SCOPE).controller.execute_effect(envelope, owner.executor())
        )
        await asyncio.wait_for(owner.entered.wait(), 5)
        await backend.expire_lease(LEASE_SCOPE.journal_key(), envelope.replay_key)
        successor = await asyncio.wait_for(
            host_b.scoped(LEASE_SCOPE).controller.execute_effect(
                envelope, LocalExecutor.testing(lambda _: _marker("successor-owner"))
            ),
            10,
        )
        check_eq(_finish_of(successor), "successor-owner", "B takes over the expired row and executes")
        owner.release.set()
        await _expect_lease_lost(task_a, "the displaced owner's finalize is fenced out")
        calls: list[str] = []
        replayed = await host_a.scoped(LEASE_SCOPE).controller.execute_effect(envelope, _never(calls))
        check_eq(_finish_of(replayed), "successor-owner", "the successor's outcome is the record")
    finally:
        await host_a.aclose()
        await host_b.aclose()
