"""Inside a turn (a Restate handler, a Temporal workflow): the controller's choice of step per
effect, the turn engine's common half, and the registry of turn functions.

This runs in the engine's replayed code path: it only dispatches and reads, in the same order
as before it was shared, so what a turn journals is unchanged."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from effecthost import (
    AwaitEvent,
    AwaitEventOutcome,
    CancelToken,
    Clock,
    DurableTurn,
    EffectEnvelope,
    EffectHostError,
    ErrorCode,
    LocalExecutor,
    Outcome,
    Resolution,
    Sleep,
    SleepOutcome,
    SystemClock,
)
from effecthost.engine import (
    run_engine_turn,
)


class EngineController(abc.ABC):
    """The half of an engine's turn-scoped controller that every engine shares: the step an
    effect takes. A sleep and a wait first journal their envelope (so a changed one is a
    mismatch), then sleep or wait durably; any other effect journals its outcome. The engine
    journals (``_record``), sleeps (``sleep_ms``) and waits (``_await_event``)."""

    #: Set when the turn is cancelled: the turn stops at its next effect.
    cancel: CancelToken

    @property
    def supports_durable_effects(self) -> bool:
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        if not isinstance(envelope, EffectEnvelope) or not isinstance(local_executor, LocalExecutor):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "execute_effect(envelope, local_executor)")
        command = envelope.command
        if isinstance(command, Sleep):
            await self._record(envelope, None)
            await self.sleep_ms(command.duration_ms)
            return SleepOutcome()
        if isinstance(command, AwaitEvent):
            await self._record(envelope, None)
            return AwaitEventOutcome(await self._await_event(command, local_executor))
        return await self._record(envelope, local_executor)

    @abc.abstractmethod
    async def _record(self, envelope: EffectEnvelope, executor: LocalExecutor | None) -> Outcome:
        """Journal the effect (its outcome by ``executor``; None: its envelope alone)."""

    @abc.abstractmethod
    async def sleep_ms(self, ms: int) -> None: ...

    @abc.abstractmethod
    async def _await_event(self, command: AwaitEvent, executor: LocalExecutor) -> Resolution: ...


class _Config(Protocol):
    @property
    def secret(self) -> bytes: ...

    @property
    def max_payload_bytes(self) -> int: ...


ControllerT = TypeVar("ControllerT", bound=EngineController)


class TurnEngineBase(Generic[ControllerT]):
    """What :func:`effecthost.engine.run_engine_turn` needs that every engine answers alike:
    the controller, the signing secret, the clock, the payload bound and timers by the
    controller's durable sleep. An engine adds ``park``."""

    def __init__(self, controller: ControllerT, config: _Config) -> None:
        self._controller = controller
        self._config = config
        self._clock: Clock = SystemClock()

    @property
    def controller(self) -> ControllerT:
        return self._controller

    @property
    def secret(self) -> bytes:
        return self._config.secret

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def max_payload_bytes(self) -> int:
        return self._config.max_payload_bytes

    async def sleep_until(self, due_ms: int) -> None:
        await self._controller.sleep_ms(due_ms - self._clock.now_ms())

    async def run(self, fn: DurableTurn[Any], request: dict[str, Any], turn_input: dict[str, Any]) -> Any:
        """Run ``fn`` as the turn ``request`` names, stopped by the controller's cancel token."""
        return await run_engine_turn(
            fn,
            self,
            session_id=request["session_id"],
            turn_id=request["turn_id"],
            input=turn_input,
            cancel=self._controller.cancel,
        )


def turn_registry(turns: Iterable[DurableTurn[Any]]) -> dict[str, DurableTurn[Any]]:
    """The turn functions an endpoint or a worker runs, by name."""
    registry: dict[str, DurableTurn[Any]] = {}
    for fn in turns:
        if not isinstance(fn, DurableTurn):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"not a @durable_turn function: {fn!r}")
        registry[fn.name] = fn
    return registry
