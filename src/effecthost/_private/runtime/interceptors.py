"""The interceptor chain: one place where tracing, metrics, logging and redaction plug in.

Every effect a host's controllers execute, and every await-event call on the host, goes through
the host's chain. An interceptor is an :class:`Interceptor` subclass that overrides the calls it
observes and passes each one on with ``await self.next.<call>(input)``; inputs are frozen
dataclasses, so an interceptor that changes one passes a copy (``dataclasses.replace``). The
chain is built once, when the host opens: the first interceptor given is the outermost.

An effect's call returns an :class:`EffectResult`: the effect's answer (its outcome, or the coded
error it recorded) and whether that answer was replayed from the journal or produced by running
the executor now. Anything else (a replay mismatch, a lost lease, a store outage, a drive that
brought no executor) propagates as an exception, through every interceptor.

A turn's drive (one run of its function by one driver, from a claim to an end, a suspension or a
lost lease) passes through :meth:`Interceptor.drive_turn` once, around every effect of that drive:
what an interceptor makes current in its context (a span) is current for the turn's effects. Its
``carried`` values (a trace context) are stored in the turn's record and handed to the next drive,
in any process, so a turn resumed elsewhere continues where it left off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.commands import EffectEnvelope
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken, LocalExecutor
from ..core.identity import ExecutionScope
from ..core.outcomes import Outcome
from ..core.resolutions import Resolution, ResolveOutcome
from ..lifecycle.model import TurnStatus


class RecordedExecution(Protocol):
    """The controller behind an effect's call: what the innermost link finally calls."""

    async def execute_recorded(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> EffectResult:
        ...


@dataclass(frozen=True, slots=True)
class ExecuteEffectInput:
    scope: ExecutionScope
    envelope: EffectEnvelope
    local_executor: LocalExecutor
    #: ``memory``, ``sqlite``, ``postgres`` (or a third party's), or ``inline``.
    backend: str
    #: Who carries the call out at the end of the chain. Interceptors pass it on untouched.
    controller: RecordedExecution


@dataclass(slots=True)
class EffectResult:
    """An effect's answer: ``outcome`` or ``error`` (exactly one), and where it came from."""

    outcome: Outcome | None
    error: EffectHostError | None
    #: True: returned from the journal, nothing ran. False: the executor ran in this drive.
    replayed: bool
    #: The effect ran now on a claim taken over from an owner whose lease had expired (a crashed
    #: or stalled process had started it).
    took_over: bool = False

    def unwrap(self) -> Outcome:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


@dataclass(frozen=True, slots=True)
class MintAwaitEventKeyInput:
    scope: ExecutionScope
    wait: WaitIdentity


@dataclass(frozen=True, slots=True)
class ResolveAwaitEventInput:
    key: AwaitEventKey
    resolution: Resolution


@dataclass(frozen=True, slots=True)
class AwaitAwaitEventInput:
    key: AwaitEventKey
    cancel: CancelToken | None
    deadline: float | None


@dataclass(frozen=True, slots=True)
class PeekAwaitEventInput:
    key: AwaitEventKey


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """How one drive of a turn ended: the status it wrote, or None when it wrote nothing (its
    lease was lost to another driver, or it released the turn); ``error`` of a failed turn."""

    status: TurnStatus | None
    error: EffectHostError | None = None


@dataclass(frozen=True, slots=True)
class DriveTurnInput:
    session_id: str
    turn_id: str
    #: The turn function's registered name.
    name: str
    #: How many times a driver has claimed the turn, this drive included (1 on a first run).
    attempt: int
    backend: str
    #: ``waiting`` or ``sleeping`` when this drive resumes a suspension, else None.
    resumed_from: TurnStatus | None
    #: When the suspension this drive resumes began (ms on the host's clock), else None.
    suspended_at_ms: int | None
    #: Values an interceptor wants the turn to keep across drives (a W3C ``traceparent``):
    #: what earlier drives stored, and what an interceptor sets before passing the call on is
    #: written to the turn's record (its meta) before the turn's function runs.
    carried: dict[str, str] = field(default_factory=dict)
    #: Who runs the drive at the end of the chain. Interceptors pass it on untouched.
    drive: Callable[[DriveTurnInput], Awaitable[TurnEnd]] | None = None


class Interceptor:
    """Passes every call on unchanged; subclass it and override what you observe.

    One instance serves one host: the host sets ``next`` when it builds its chain.
    """

    next: Interceptor

    def observes_effects(self) -> bool:
        """Whether this interceptor wants to see effects; asked once, when a host is built. When
        no interceptor of a host does, its controllers skip the chain for effects (the fast path:
        no input or result objects per effect); the other calls still pass through the chain.
        Default: True when the class overrides :meth:`execute_effect`."""
        return type(self).execute_effect is not Interceptor.execute_effect

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        return await self.next.execute_effect(input)

    async def mint_await_event_key(self, input: MintAwaitEventKeyInput) -> AwaitEventKey:
        return await self.next.mint_await_event_key(input)

    async def resolve_await_event(self, input: ResolveAwaitEventInput) -> ResolveOutcome:
        return await self.next.resolve_await_event(input)

    async def await_await_event(self, input: AwaitAwaitEventInput) -> Resolution:
        return await self.next.await_await_event(input)

    async def peek_await_event(self, input: PeekAwaitEventInput) -> Resolution | None:
        return await self.next.peek_await_event(input)

    async def drive_turn(self, input: DriveTurnInput) -> TurnEnd:
        return await self.next.drive_turn(input)


def build_chain(interceptors: Iterable[Interceptor], innermost: Interceptor) -> Interceptor:
    """Link ``interceptors`` (outermost first) in front of ``innermost``; returns the outermost."""
    chain = list(interceptors)
    for interceptor in chain:
        if not isinstance(interceptor, Interceptor):
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID,
                f"interceptors must be Interceptor instances, not {type(interceptor).__name__}",
            )
        if getattr(interceptor, "next", None) is not None:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID,
                f"{type(interceptor).__name__} already serves another host: give each host its own",
            )
    current = innermost
    for interceptor in reversed(chain):
        interceptor.next = current
        current = interceptor
    return current


class EffectCounter(Interceptor):
    """Counts effects by where their answer came from: ``executed`` now, or ``replayed``."""

    def __init__(self) -> None:
        self.executed = 0
        self.replayed = 0

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        result = await self.next.execute_effect(input)
        if result.replayed:
            self.replayed += 1
        else:
            self.executed += 1
        return result


class EffectLog(Interceptor):
    """Logs one line per effect under the ``effecthost.effects`` logger (at ``level``, DEBUG by
    default), with the structured fields in ``record.effecthost``: ``scope``, ``replay_key``,
    ``kind``, ``outcome`` (``executed``, ``replayed``, ``failed``: it ran and recorded an error,
    ``raised``: nothing was recorded), ``error_code``, ``duration_ms``. A replay mismatch is
    logged at WARNING whatever ``level`` says. With the level disabled, effects pass straight on."""

    def __init__(self, level: int = logging.DEBUG, logger: logging.Logger | None = None) -> None:
        self.level = level
        self.logger = logger or logging.getLogger("effecthost.effects")

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        logger = self.logger
        if not logger.isEnabledFor(self.level) and not logger.isEnabledFor(logging.WARNING):
            return await self.next.execute_effect(input)
        started = time.perf_counter()
        try:
            result = await self.next.execute_effect(input)
        except EffectHostError as error:
            level = logging.WARNING if error.is_replay_mismatch() else self.level
            self._log(level, input, "raised", error, started)
            raise
        outcome = "replayed" if result.replayed else "failed" if result.error is not None else "executed"
        self._log(self.level, input, outcome, result.error, started)
        return result

    def _log(
        self,
        level: int,
        input: ExecuteEffectInput,
        outcome: str,
        error: EffectHostError | None,
        started: float,
    ) -> None:
        if not self.logger.isEnabledFor(level):
            return
        envelope = input.envelope
        fields: dict[str, object] = {
            "scope": input.scope.journal_key(),
            "replay_key": envelope.replay_key,
            "kind": str(envelope.command.kind),
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "backend": input.backend,
        }
        if error is not None:
            fields["error_code"] = error.code
        self.logger.log(
            level,
            "effect %s %s",
            envelope.replay_key,
            outcome if error is None else f"{outcome} ({error.code})",
            extra={"effecthost": fields},
        )
