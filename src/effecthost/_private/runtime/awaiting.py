"""What every host with await events shares: the coordinator behind the public await methods."""

from __future__ import annotations

from typing import Self

from ..awaits.store import AwaitStore
from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken
from ..core.identity import ExecutionScope
from ..core.resolutions import Resolution, ResolveOutcome
from .await_loop import AwaitCoordinator


class AwaitingHost:
    """Await-event methods over an :class:`AwaitCoordinator`; subclasses add scoping/execution."""

    def __init__(self, awaits: AwaitStore) -> None:
        self._awaits = AwaitCoordinator(awaits)
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise EffectHostError(ErrorCode.HOST_CLOSED, "this effect host is closed")

    @property
    def await_coordinator(self) -> AwaitCoordinator:
        return self._awaits

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        self._check_open()
        return await self._awaits.mint(scope, wait)

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome:
        self._check_open()
        return await self._awaits.resolve(key, resolution)

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution:
        self._check_open()
        return await self._awaits.wait(key, cancel, deadline)

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None:
        self._check_open()
        return await self._awaits.peek(key)

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
