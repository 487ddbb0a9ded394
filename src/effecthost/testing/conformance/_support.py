"""Shared helpers of the conformance kit: checks that survive ``python -O``, host factories."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from ..._private.core.commands import DurableStep, EffectEnvelope
from ..._private.core.executor import LocalExecutor
from ..._private.core.identity import EffectKind, ExecutionScope, RuntimeInvocation, RuntimeScope
from ..._private.core.protocols import EffectHost

HostFactory: TypeAlias = Callable[[], "EffectHost | Awaitable[EffectHost]"]


class ConformanceFailure(AssertionError):
    """A conformance vector did not hold. The message names the invariant."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise ConformanceFailure(message)


def check_eq(actual: Any, expected: Any, message: str) -> None:
    if actual != expected:
        raise ConformanceFailure(f"{message}: expected {expected!r}, got {actual!r}")


async def expect_unknown_or_revoked(call: Awaitable[Any], message: str) -> None:
    """The call must fail with ``await_event_unknown_or_revoked`` (forged, revoked, unknown keys)."""
    from ..._private.core.errors import EffectHostError

    try:
        await call
    except EffectHostError as err:
        check_eq(err.code, "await_event_unknown_or_revoked", message)
    else:
        raise ConformanceFailure(message)


async def make_host(make: HostFactory) -> Any:
    host = make()
    if inspect.isawaitable(host):
        host = await host
    return host


async def close_host(host: Any) -> None:
    aclose = getattr(host, "aclose", None)
    if aclose is not None:
        await aclose()


class Hosts:
    """Opens hosts from a factory and closes them all at the end (``async with Hosts(make) as h``)."""

    def __init__(self, make: HostFactory) -> None:
        self._make = make
        self._opened: list[Any] = []

    async def new(self) -> Any:
        host = await make_host(self._make)
        self._opened.append(host)
        return host

    async def __aenter__(self) -> Hosts:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for host in reversed(self._opened):
            await close_host(host)


async def record_step(host: Any, scope: ExecutionScope, key: str) -> None:
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


async def wait_listed(host: Any, session: str, expected: int) -> list[Any]:
    """The session's outstanding waits once there are ``expected`` of them (a parked waiter
    registers itself asynchronously)."""
    for _ in range(500):
        listed = await host.list_outstanding_await_event_keys(session)
        if len(listed) == expected:
            return list(listed)
        await asyncio.sleep(0.01)
    raise ConformanceFailure(f"expected {expected} outstanding waits for {session}")
