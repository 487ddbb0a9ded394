"""The two seams every host implements: :class:`EffectController` and :class:`EffectHost`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .identity import ExecutionScope

if TYPE_CHECKING:
    from .await_values import AwaitEventKey, Resolution, ResolveOutcome, WaitIdentity
    from .commands import EffectEnvelope
    from .executor import CancelToken, LocalExecutor
    from .outcomes import Outcome


@runtime_checkable
class EffectController(Protocol):
    @property
    def supports_durable_effects(self) -> bool: ...

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        """Return the effect's outcome or raise its :class:`EffectHostError`."""
        ...


@dataclass(frozen=True, slots=True)
class ScopedController:
    """A controller bound to one validated execution scope (spec 2.2)."""

    controller: EffectController
    execution_scope: ExecutionScope

    @property
    def scope_id(self) -> str:
        return self.execution_scope.scope_id

    @property
    def turn_id(self) -> str | None:
        return self.execution_scope.turn_id

    @classmethod
    def shared(cls, controller: EffectController, scope: ExecutionScope) -> ScopedController:
        return cls(controller, ExecutionScope.require(scope))


@runtime_checkable
class EffectHost(Protocol):
    @property
    def supports_durable_effects(self) -> bool: ...

    def scoped(self, scope: ExecutionScope) -> ScopedController: ...

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None: ...

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey: ...

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome: ...

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution: ...

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None: ...

    async def revoke_await_events_for_session(self, session_id: str) -> None: ...

    async def cancel_await_events_for_session(self, session_id: str) -> None: ...

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]: ...

    async def retire_effect_journal(self, scope: ExecutionScope) -> int: ...

    async def aclose(self) -> None: ...
