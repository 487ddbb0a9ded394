"""Local executors (spec 2.14) and cancellation tokens.

A local executor is what a controller *may* run in-process to perform an effect. Durable controllers
only run it when the journal has no recorded outcome for the effect.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .commands import AwaitEvent, EffectEnvelope, ExecCode, LlmCall, Sleep, ToolCall
from .errors import EffectHostError, ErrorCode
from .identity import EffectKind
from .outcomes import (
    DurableStepOutcome,
    ExecCodeOutcome,
    ExecResponse,
    LlmCallOutcome,
    Outcome,
    SleepOutcome,
    ToolCallOutcome,
)


def _invalid(message: str) -> EffectHostError:
    return EffectHostError(ErrorCode.INVALID_ARGUMENT, message)


def check_cancel(cancel: object) -> CancelToken | None:
    """``cancel`` if it is a :class:`CancelToken` or None; anything else is a coded error."""
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise _invalid(f"cancel must be a CancelToken or None, not {type(cancel).__name__}")
    return cancel


def check_deadline(deadline: object) -> float | None:
    """A finite ``time.monotonic()`` instant or None (NaN would silently never time out)."""
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not math.isfinite(deadline):
        raise _invalid(f"deadline must be a finite time.monotonic() value or None, not {deadline!r}")
    return float(deadline)


def check_effect_arguments(envelope: object, local_executor: object) -> None:
    """What every controller's ``execute_effect`` checks first (a mistyped call is no outcome)."""
    if not isinstance(envelope, EffectEnvelope):
        raise _invalid(f"execute_effect needs an EffectEnvelope, not {type(envelope).__name__}")
    if not isinstance(local_executor, LocalExecutor):
        raise _invalid(
            "execute_effect needs a LocalExecutor (LocalExecutor.unavailable() for replay-only "
            f"callers), not {type(local_executor).__name__}"
        )


class CancelToken:
    """A one-way cancellation flag that can be awaited. Safe to share between tasks."""

    __slots__ = ("_cancelled", "_event")

    def __init__(self) -> None:
        self._cancelled = False
        self._event: asyncio.Event | None = None

    def cancel(self) -> None:
        self._cancelled = True
        if self._event is not None:
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def wait(self) -> None:
        if self._cancelled:
            return
        if self._event is None:
            self._event = asyncio.Event()
            if self._cancelled:  # pragma: no cover - cancel raced the creation
                self._event.set()
        await self._event.wait()


ExecResult = ExecResponse | str

#: Plain JSON values a step function returns: not awaitable, no ABC check needed.
_PLAIN = frozenset({type(None), bool, int, float, str, list, dict})


async def _maybe_await(value: Any) -> Any:
    if type(value) not in _PLAIN and inspect.isawaitable(value):
        return await value
    return value


class LocalExecutor:
    """How to perform an effect locally. Build with the class methods; each is used once."""

    __slots__ = ("_cancel", "_deadline", "_fn", "_variant")

    def __init__(
        self,
        variant: str,
        fn: Callable[[Any], Any] | None = None,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> None:
        self._variant = variant
        self._fn = fn
        self._cancel = cancel
        self._deadline = deadline

    @classmethod
    def unavailable(cls) -> LocalExecutor:
        return cls("unavailable")

    @classmethod
    def sleep(cls, cancel: CancelToken | None = None) -> LocalExecutor:
        return cls("sleep", cancel=check_cancel(cancel) or CancelToken())

    @classmethod
    def await_event(cls, cancel: CancelToken | None = None, deadline: float | None = None) -> LocalExecutor:
        """Options for an ``await_event`` effect; ``deadline`` is a ``time.monotonic()`` instant."""
        return cls(
            "await_event", cancel=check_cancel(cancel) or CancelToken(), deadline=check_deadline(deadline)
        )

    @classmethod
    def durable_step(cls, fn: Callable[[Any], Any | Awaitable[Any]]) -> LocalExecutor:
        """``fn(input) -> value`` (sync or async). An EffectHostError it raises is the effect's error."""
        if not callable(fn):  # inline, not a helper: this runs once per effect
            raise _not_callable(fn)
        return cls("durable_step", fn=fn)

    @classmethod
    def llm_call(cls, fn: Callable[[LlmCall], Any | Awaitable[Any]]) -> LocalExecutor:
        """``fn(command) -> response`` (sync or async): the model's response as JSON becomes an
        ``LlmCallOutcome``. An EffectHostError it raises is the effect's error (journaled, replayed).
        Return an ``LlmCallOutcome`` yourself to record a provider's error as data."""
        if not callable(fn):
            raise _not_callable(fn)
        return cls("llm_call", fn=fn)

    @classmethod
    def tool_call(cls, fn: Callable[[ToolCall], Any | Awaitable[Any]]) -> LocalExecutor:
        """``fn(command) -> result`` (sync or async): the tool's JSON result becomes a finished tool
        launch (``ToolCallOutcome({"status": "done", "result": result})``). An EffectHostError it
        raises is the effect's error."""
        if not callable(fn):
            raise _not_callable(fn)
        return cls("tool_call", fn=fn)

    @classmethod
    def exec_code(cls, fn: Callable[[ExecCode], ExecResult | Awaitable[ExecResult]]) -> LocalExecutor:
        """``fn(command) -> ExecResponse | str`` (sync or async) becomes an ``ExecCodeOutcome``. An
        EffectHostError it raises is the effect's error."""
        if not callable(fn):
            raise _not_callable(fn)
        return cls("exec_code", fn=fn)

    @classmethod
    def testing(cls, fn: Callable[[EffectEnvelope], Outcome | Awaitable[Outcome]]) -> LocalExecutor:
        """``fn(envelope) -> outcome`` (sync or async), for tests and effects of other kinds."""
        if not callable(fn):
            raise _not_callable(fn)
        return cls("testing", fn=fn)

    @property
    def variant(self) -> str:
        return self._variant

    @property
    def cancel_token(self) -> CancelToken | None:
        return self._cancel

    def into_await_event_options(self) -> tuple[CancelToken, float | None]:
        if self._variant == "await_event" and self._cancel is not None:
            return self._cancel, self._deadline
        return CancelToken(), None

    async def execute(self, envelope: EffectEnvelope) -> Outcome:
        command = envelope.command
        if self._variant == "durable_step" and command.kind is EffectKind.DURABLE_STEP:
            # The common case, tested first (one string compare, one identity check).
            assert self._fn is not None
            return DurableStepOutcome(await _maybe_await(self._fn(command.input)))  # type: ignore[attr-defined]
        variant, kind = self._variant, str(command.kind)
        if variant == "unavailable":
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_UNAVAILABLE,
                f"no local executor is available for {kind}",
            )
        if variant == "testing":
            assert self._fn is not None
            outcome = await _maybe_await(self._fn(envelope))
            if not isinstance(outcome, Outcome):
                raise EffectHostError(
                    ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH,
                    f"testing executor returned {type(outcome).__name__}, not an outcome",
                )
            return outcome
        if variant != kind:  # every other variant runs exactly the kind it is named after
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH,
                f"a local {variant} executor cannot execute a {kind} command",
            )
        if isinstance(command, Sleep):
            await sleep_until(time.monotonic() + command.duration_ms / 1000, self._cancel)
            return SleepOutcome()
        if isinstance(command, AwaitEvent):
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH,
                "await-event options cannot execute the await directly: a controller waits on its key",
            )
        assert self._fn is not None
        value = await _maybe_await(self._fn(command))
        if isinstance(command, LlmCall):
            return value if isinstance(value, LlmCallOutcome) else LlmCallOutcome(value)
        if isinstance(command, ToolCall):
            return ToolCallOutcome({"status": "done", "result": value})
        if not isinstance(value, (ExecResponse, str)):
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH,
                f"an exec_code executor returned {type(value).__name__}, not an ExecResponse or str",
            )
        return ExecCodeOutcome(value)


def _not_callable(fn: object) -> EffectHostError:
    return _invalid(f"a local executor needs a callable, not {type(fn).__name__}")


async def sleep_until(deadline: float, cancel: CancelToken | None) -> None:
    """Sleep until a monotonic instant; raise ``runtime_effect_sleep_cancelled`` if cancelled."""
    delay = deadline - time.monotonic()
    if cancel is None:
        if delay > 0:
            await asyncio.sleep(delay)
        return
    if cancel.cancelled:
        raise EffectHostError(ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED, "runtime effect sleep was cancelled")
    if delay <= 0:
        return
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=delay)
    finally:
        waiter.cancel()
    if done:
        raise EffectHostError(ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED, "runtime effect sleep was cancelled")
