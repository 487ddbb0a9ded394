"""A host's parts put together: await events, the interceptor chain, the public methods.

A host is assembled from parts rather than inherited: an :class:`AwaitCoordinator` over the
substrate's await store, an interceptor chain ending in :class:`HostCalls` (which carries each call
out), and, for journaled hosts, a :class:`DriverContext` its controllers share. :class:`ComposedHost`
is only the public face over those parts: every await-event method goes through the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken
from ..core.identity import ExecutionScope
from ..core.resolutions import Resolution, ResolveOutcome
from .await_loop import AwaitCoordinator
from .interceptors import (
    AwaitAwaitEventInput,
    DriveTurnInput,
    EffectResult,
    ExecuteEffectInput,
    Interceptor,
    MintAwaitEventKeyInput,
    PeekAwaitEventInput,
    ResolveAwaitEventInput,
    TurnEnd,
    build_chain,
)


class HostCalls(Interceptor):
    """The innermost link of a host's chain: carries each call out."""

    def __init__(self, awaits: AwaitCoordinator) -> None:
        self._awaits = awaits

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        return await input.controller.execute_recorded(input.envelope, input.local_executor)

    async def mint_await_event_key(self, input: MintAwaitEventKeyInput) -> AwaitEventKey:
        return await self._awaits.mint(input.scope, input.wait)

    async def resolve_await_event(self, input: ResolveAwaitEventInput) -> ResolveOutcome:
        return await self._awaits.resolve(input.key, input.resolution)

    async def await_await_event(self, input: AwaitAwaitEventInput) -> Resolution:
        return await self._awaits.wait(input.key, input.cancel, input.deadline)

    async def peek_await_event(self, input: PeekAwaitEventInput) -> Resolution | None:
        return await self._awaits.peek(input.key)

    async def drive_turn(self, input: DriveTurnInput) -> TurnEnd:
        assert input.drive is not None
        return await input.drive(input)


class ComposedHost:
    """The await-event methods and the lifecycle every first-party host shares."""

    def __init__(self, awaits: AwaitCoordinator, interceptors: Iterable[Interceptor] = ()) -> None:
        self._awaits = awaits
        self._interceptors = tuple(interceptors)
        self._chain = build_chain(self._interceptors, HostCalls(awaits))
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise EffectHostError(ErrorCode.HOST_CLOSED, "this effect host is closed")

    @property
    def await_coordinator(self) -> AwaitCoordinator:
        return self._awaits

    @property
    def interceptors(self) -> tuple[Interceptor, ...]:
        """The interceptors this host was opened with, outermost first."""
        return self._interceptors

    @property
    def interceptor_chain(self) -> Interceptor | None:
        """The outermost link of the host's chain, or None when it has no interceptors (a turn
        driver then skips the chain and builds no input per drive)."""
        return self._chain if self._interceptors else None

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        self._check_open()
        return await self._chain.mint_await_event_key(MintAwaitEventKeyInput(scope, wait))

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome:
        self._check_open()
        return await self._chain.resolve_await_event(ResolveAwaitEventInput(key, resolution))

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution:
        self._check_open()
        return await self._chain.await_await_event(AwaitAwaitEventInput(key, cancel, deadline))

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None:
        self._check_open()
        return await self._chain.peek_await_event(PeekAwaitEventInput(key))

    async def revoke_await_events_for_session(self, session_id: str) -> None:
        self._check_open()
        await self._awaits.revoke_session(session_id)

    async def cancel_await_events_for_session(self, session_id: str) -> None:
        self._check_open()
        await self._awaits.cancel_session(session_id)

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]:
        self._check_open()
        return await self._awaits.outstanding(session_id)

    async def aclose(self) -> None:
        self._closed = True
        self._awaits.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
