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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.commands import EffectEnvelope
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken, LocalExecutor
from ..core.identity import ExecutionScope
from ..core.outcomes import Outcome
from ..core.resolutions import Resolution, ResolveOutcome


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


class Interceptor:
    """Passes every call on unchanged; subclass it and override what you observe.

    One instance serves one host: the host sets ``next`` when it builds its chain.
    """

    next: Interceptor

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
