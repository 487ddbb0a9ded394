"""The two seams every host implements: :class:`EffectController` and :class:`EffectHost`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Self, runtime_checkable

from .await_values import AwaitEventKey, WaitIdentity
from .commands import EffectEnvelope
from .errors import EffectHostError, ErrorCode
from .executor import CancelToken, LocalExecutor
from .identity import ExecutionScope, check_id
from .outcomes import Outcome
from .resolutions import Resolution, ResolveOutcome


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


@dataclass(frozen=True, slots=True)
class JournalRetirement:
    """What ``retire_effect_journal`` removes: a whole session, or exactly one scope."""

    kind: Literal["session", "scope"]
    session_id: str | None = None
    scope: ExecutionScope | None = None

    @classmethod
    def session(cls, session_id: str) -> JournalRetirement:
        if not isinstance(session_id, str) or not session_id.strip():
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "retirement needs a session id")
        check_id(session_id, "session id")
        return cls("session", session_id=session_id)

    @classmethod
    def process(cls, process_id: str) -> JournalRetirement:
        return cls.for_scope(ExecutionScope.process(process_id))

    @classmethod
    def runtime_operation(cls, operation_id: str) -> JournalRetirement:
        return cls.for_scope(ExecutionScope.runtime_operation(operation_id))

    @classmethod
    def for_scope(cls, scope: ExecutionScope) -> JournalRetirement:
        return cls("scope", scope=ExecutionScope.require(scope))


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

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...
