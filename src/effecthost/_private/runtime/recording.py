"""The seed's recording host (spec 7.1): records scopes and envelopes, synthesizes simple outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.commands import DurableStep, EffectEnvelope, Sleep
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken, LocalExecutor, check_effect_arguments
from ..core.identity import EffectKind, ExecutionScope, RuntimeScope
from ..core.outcomes import DurableStepOutcome, Outcome, SleepOutcome
from ..core.protocols import JournalRetirement, ScopedController
from ..core.resolutions import Resolution, ResolveOutcome


@dataclass(frozen=True, slots=True)
class RecordingEffectHostRecord:
    runtime_scope: RuntimeScope
    execution_scope: ExecutionScope
    effect_id: str
    effect_kind: EffectKind
    replay_key: str | None
    envelope_hash: str


class _RecordingController:
    def __init__(self, scope: ExecutionScope, records: list[RecordingEffectHostRecord]) -> None:
        self._scope = scope
        self._records = records

    @property
    def supports_durable_effects(self) -> bool:
        return False

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        check_effect_arguments(envelope, local_executor)
        self._records.append(
            RecordingEffectHostRecord(
                runtime_scope=envelope.invocation.scope,
                execution_scope=self._scope,
                effect_id=envelope.effect_id,
                effect_kind=envelope.kind,
                replay_key=envelope.invocation.replay_key,
                envelope_hash=envelope.stable_hash(),
            )
        )
        command = envelope.command
        if isinstance(command, Sleep):
            return SleepOutcome()
        if isinstance(command, DurableStep):
            return DurableStepOutcome(command.input)
        raise EffectHostError(
            ErrorCode.RECORDING_EFFECT_HOST_UNSUPPORTED_COMMAND,
            f"recording effect host cannot synthesize {command.kind.value} outcomes",
        )


_UNSUPPORTED = "this effect host does not support await-event"


class RecordingEffectHost:
    def __init__(self) -> None:
        self._scopes: list[ExecutionScope] = []
        self._records: list[RecordingEffectHostRecord] = []

    @property
    def supports_durable_effects(self) -> bool:
        return False

    def selected_scopes(self) -> list[ExecutionScope]:
        return list(self._scopes)

    def records(self) -> list[RecordingEffectHostRecord]:
        return list(self._records)

    def _scoped_for(self, scope: ExecutionScope) -> ScopedController:
        ExecutionScope.require(scope)
        self._scopes.append(scope)
        return ScopedController.shared(_RecordingController(scope, self._records), scope)

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return self._scoped_for(scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self._scoped_for(scope)

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        raise EffectHostError(ErrorCode.AWAIT_EVENT_UNSUPPORTED, f"{_UNSUPPORTED} keys")

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome:
        return ResolveOutcome.UNKNOWN_OR_REVOKED

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution:
        raise EffectHostError(ErrorCode.AWAIT_EVENT_UNSUPPORTED, f"{_UNSUPPORTED} waits")

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None:
        raise EffectHostError(ErrorCode.AWAIT_EVENT_UNSUPPORTED, f"{_UNSUPPORTED} peeks")

    async def revoke_await_events_for_session(self, session_id: str) -> None:
        return None

    async def cancel_await_events_for_session(self, session_id: str) -> None:
        raise EffectHostError(ErrorCode.AWAIT_EVENT_CANCEL_UNSUPPORTED, f"{_UNSUPPORTED} cancel sweeps")

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]:
        return []

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        return 0

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
