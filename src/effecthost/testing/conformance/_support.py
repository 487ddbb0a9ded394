"""Shared helpers of the conformance kit: checks that survive ``python -O``, and the host pool
through which every vector opens (and closes) its hosts."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeAlias, TypeVar, runtime_checkable

from effecthost import (
    DurableEffectHost,
    DurableStep,
    EffectController,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    RuntimeInvocation,
    RuntimeScope,
    open_host,
)

#: What the kit is given: ``make()`` returns a new host object (sync or async).
HostFactory: TypeAlias = Callable[[], "EffectHost | Awaitable[EffectHost]"]
H = TypeVar("H", bound=EffectHost)


class ConformanceFailure(AssertionError):
    """A conformance vector did not hold. The message names the invariant."""


@runtime_checkable
class ReplayingController(EffectController, Protocol):
    """A journaled controller: ``start_replay()`` makes a missing row an error from then on."""

    def start_replay(self) -> None: ...


def check(condition: object, message: str) -> None:
    if not condition:
        raise ConformanceFailure(message)


def check_eq(actual: Any, expected: Any, message: str) -> None:
    if actual != expected:
        raise ConformanceFailure(f"{message}: expected {expected!r}, got {actual!r}")


async def expect_code(call: Awaitable[Any], code: str, message: str) -> EffectHostError:
    """The call must fail with ``code``; returns the error for further checks."""
    try:
        await call
    except EffectHostError as err:
        check_eq(err.code, code, message)
        return err
    raise ConformanceFailure(f"{message}: no error")


async def expect_unknown_or_revoked(call: Awaitable[Any], message: str) -> None:
    """The call must fail with ``await_event_unknown_or_revoked`` (forged, revoked, unknown keys)."""
    try:
        await call
    except EffectHostError as err:
        check_eq(err.code, "await_event_unknown_or_revoked", message)
    else:
        raise ConformanceFailure(message)


async def make_host(make: HostFactory) -> EffectHost:
    host = make()
    if inspect.isawaitable(host):
        host = await host
    return host


class HostPool(Generic[H]):
    """Opens hosts and closes every one it opened, last first, when it closes.

    ``await pool()`` opens one (keyword options go to ``make``); ``async with HostPool(make) as
    pool`` closes them at the end. A pool built over another pool opens through it and leaves the
    closing to it: the outer pool (a pytest fixture's) owns the hosts for the whole test.
    """

    def __init__(self, make: Callable[..., H | Awaitable[H]]) -> None:
        self._make = make
        self._owner = not isinstance(make, HostPool)
        self._opened: list[H] = []

    @classmethod
    def for_url(cls, url: str, **defaults: Any) -> HostPool[DurableEffectHost]:
        """Hosts from ``open_host(url, **defaults, **options)``: every one on the same substrate."""

        async def make(**options: Any) -> DurableEffectHost:
            return await open_host(url, **{**defaults, **options})

        return HostPool(make)

    async def __call__(self, **options: Any) -> H:
        opened = self._make(**options)
        host: H = await opened if inspect.isawaitable(opened) else opened
        if self._owner:
            self._opened.append(host)
        return host

    async def new(self) -> H:
        return await self()

    @property
    def opened(self) -> list[H]:
        """The hosts this pool opened and will close (none when it opens through another pool)."""
        return list(self._opened)

    async def aclose(self) -> None:
        while self._opened:
            await self._opened.pop().aclose()

    async def __aenter__(self) -> HostPool[H]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def record_step(host: EffectHost, scope: ExecutionScope, key: str) -> None:
    """Journal one completed durable step under replay key ``key`` in ``scope``."""
    envelope = EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope(scope.session_id or "no-session"), key, EffectKind.DURABLE_STEP, key
        ),
        DurableStep(key, {"k": key}),
    )
    await host.scoped(scope).controller.execute_effect(
        envelope, LocalExecutor.durable_step(lambda value: value)
    )


async def wait_listed(host: EffectHost, session: str, expected: int) -> list[Any]:
    """The session's outstanding waits once there are ``expected`` of them (a parked waiter
    registers itself asynchronously)."""
    for _ in range(500):
        listed = await host.list_outstanding_await_event_keys(session)
        if len(listed) == expected:
            return list(listed)
        await asyncio.sleep(0.01)
    raise ConformanceFailure(f"expected {expected} outstanding waits for {session}")
