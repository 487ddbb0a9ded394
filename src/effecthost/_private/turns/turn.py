"""``Turn``: what a turn function receives, and performs every effect through.

Keys. Each effect gets its replay key from the seed system's convention (spec Appendix A),
``{session}:{turn}:{turn_index}:{iteration}:{kind}:{effect_id}``, where the effect id is
``{name}#{n}``: ``n`` counts the calls of that kind and name in program order. The number is taken
when the method is *called* (each method is a plain function returning a coroutine), so effects
started together by ``asyncio.gather`` or a task group are numbered in the order they were
written, however the scheduler interleaves them. ``key=`` names the effect id explicitly; one
effect id is used once per turn (``turn_key_reused``). A child effect appends a suffix: a retry
``:attempt:{n}``, its backoff ``:attempt:{n}:sleep``, a wait's deadline ``:deadline``.

Determinism. A re-drive runs the turn function again from the start and every recorded effect
replays; an effect whose envelope (name, arguments, command) changed under a recorded key fails
with the journal's mismatch error and its divergent JSON paths, never silently goes on.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload, runtime_checkable

from ..awaits import keys
from ..core import canonical
from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.clock import Clock
from ..core.commands import AwaitEvent, Command, DurableStep, EffectEnvelope, ExecCode, LlmCall, ToolCall
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken, ExecResult, LocalExecutor
from ..core.identity import EffectKind, ExecutionScope, RuntimeInvocation, RuntimeScope, check_id
from ..core.outcomes import (
    AwaitEventOutcome,
    DurableStepOutcome,
    ExecCodeOutcome,
    ExecResponse,
    LlmCallOutcome,
    Outcome,
    ToolCallOutcome,
    outcome_from_json,
)
from ..core.protocols import EffectController
from ..core.resolutions import Resolution
from ..lifecycle.model import TurnStatus
from ..runtime.controller import JournalController
from ..runtime.turn_control import check_budget
from .context import CURRENT_CALL, Suspended, outside_turn
from .retry import NO_RETRY, RetryPolicy, exception_names

if TYPE_CHECKING:
    from ..runtime.durable import DurableEffectHost

P = ParamSpec("P")
T = TypeVar("T")

#: Values that are never awaitable: a step returning one skips the awaitable check.
_PLAIN = frozenset({type(None), bool, int, float, str, list, dict})

#: The longest sleep or wait timeout: a century, past which a number is a mistake.
MAX_WAIT_S = 100 * 365 * 86_400


@runtime_checkable
class TurnEngine(Protocol):
    """An engine that journals a turn's effects itself (``effecthost.engine``; Restate,
    Temporal): the turn's effects go through its controller, its sleeps are the engine's durable
    timers and its waits are ``await_event`` effects of that controller. Nothing suspends: the
    engine parks. An engine that also implements :class:`ParkingEngine` is told what the turn is
    parked on."""

    @property
    def controller(self) -> EffectController: ...

    @property
    def secret(self) -> bytes: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def max_payload_bytes(self) -> int: ...

    async def sleep_until(self, due_ms: int) -> None:
        """Sleep until ``due_ms`` (wall clock) on the engine's durable timer, even when it has
        passed (a replay must issue the same timers as the first run)."""
        ...


@runtime_checkable
class ParkingEngine(Protocol):
    """An engine that also records what its turn is parked on (optional, beside
    :class:`TurnEngine`), so its listings show it as the SQL hosts' records do.

    ``park(waiting)`` is called when the first of the turn's concurrent waits and sleeps begins
    (``waiting`` is the dict a SQL record's ``waiting`` holds: ``{"kind": "wait", "name", "key",
    "question", "deadline_at_ms"}`` or ``{"kind": "sleep", "until_ms"}``) and with None when the
    last one ends. It runs inside the engine's handler or workflow, in program order, so it must
    be deterministic (a journaled state write, a memo upsert)."""

    async def park(self, waiting: dict[str, Any] | None) -> None: ...


@dataclasses.dataclass(slots=True)
class TurnRuntime:
    """What a :class:`Turn` needs from the driver running it (``driver.py`` builds it)."""

    #: The local host (None when an engine drives the turn).
    host: DurableEffectHost | None
    controller: JournalController | EffectController
    secret: bytes
    cancel: CancelToken
    #: Waits and sleeps longer than this suspend the turn; None: never (``run_turn``).
    suspend_after_s: float | None
    #: Extra attempts an operator's resume granted, by base replay key.
    grants: dict[str, int]
    #: The driver's record writes: ``park(status, waiting, key_id, wake_at_ms, suspend)``.
    park: Callable[[TurnStatus, dict[str, Any] | None, str, int | None, bool], Awaitable[None]]
    #: A forked turn: whose recorded outcomes its first effects take (None: not a fork).
    fork: ForkSource | None = None
    #: The engine driving the turn instead of a local host (None: a local host does).
    engine: TurnEngine | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ForkSource:
    """The turn a fork was made from: its first ``keep`` effects (in program order, each with its
    attempts, backoffs and deadline) take the outcomes recorded there instead of running."""

    session_id: str
    turn_id: str
    keep: int

    @property
    def scope_key(self) -> str:
        return ExecutionScope.turn(self.session_id, self.turn_id).journal_key()

    @property
    def prefix(self) -> str:
        return f"{self.session_id}:{self.turn_id}:0:0"


class Turn:
    """The running turn: its ids, and the effects it performs (journaled, replayed on re-drives)."""

    def __init__(self, session_id: str, turn_id: str, name: str, attempt: int, runtime: TurnRuntime) -> None:
        self.session_id = session_id
        self.turn_id = turn_id
        #: The turn function's registered name.
        self.name = name
        #: How many times a driver has started this turn (1 on a first run).
        self.attempt = attempt
        self._rt = runtime
        if runtime.engine is not None:
            self._clock: Clock = runtime.engine.clock
            self._budget = runtime.engine.max_payload_bytes
        else:
            assert runtime.host is not None
            self._clock = runtime.host.clock
            self._budget = runtime.host.turns.max_turn_payload_bytes
        self._scope = ExecutionScope.turn(session_id, turn_id)
        self._runtime_scope = RuntimeScope.for_turn(session_id, turn_id, 0, 0)
        self._prefix = f"{session_id}:{turn_id}:0:0"
        self._counts: dict[tuple[str, str], int] = {}
        self._used: set[tuple[str, str]] = set()
        self._checked_names: set[str] = set()
        #: A fork's effects in program order, by base replay key.
        self._ordinals: dict[str, int] = {}
        self._waiting = 0
        self._suspended = False
        #: The status a suspension wrote (waiting or sleeping), once it happened.
        self.suspended_status: TurnStatus | None = None
        #: (base replay key, error) of the last effect that failed for good: what a resume retries.
        self.last_failure: tuple[str, EffectHostError] | None = None

    @property
    def execution_scope(self) -> ExecutionScope:
        return self._scope

    # -- keys ---------------------------------------------------------------------------------

    def _next_auto(self, kind: str, name: str) -> tuple[str, int]:
        n = self._counts.get((kind, name), 0) + 1
        while (kind, f"{name}#{n}") in self._used:  # an explicit key took this one
            n += 1
        return f"{name}#{n}", n

    def _allocate(self, kind: EffectKind, name: str, key: str | None) -> str:
        if CURRENT_CALL.get() is not None:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"{kind} {name!r} was called inside a step or tool body: its effects would not replay"
                " with it (call it from the turn function instead)",
            )
        if not isinstance(name, str) or not name.strip():
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"an effect needs a non-empty name, not {name!r}"
            )
        check_id(name, "effect name")
        if key is None:
            effect_id, n = self._next_auto(kind, name)
            self._counts[(kind, name)] = n
        else:
            if not isinstance(key, str) or not key.strip():
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT, f"an explicit key is a non-empty str, not {key!r}"
                )
            check_id(key, "effect key")
            effect_id = key
        if (kind, effect_id) in self._used:
            raise EffectHostError(
                ErrorCode.TURN_KEY_REUSED,
                f"{kind} key {effect_id!r} is already used in turn {self.turn_id!r}:"
                " give each call its own key",
            )
        self._used.add((kind, effect_id))
        if self._rt.fork is not None:
            self._ordinals[self.replay_key(kind, effect_id)] = len(self._ordinals)
        return effect_id

    def replay_key(self, kind: EffectKind | str, effect_id: str) -> str:
        return f"{self._prefix}:{kind}:{effect_id}"

    # -- effects ------------------------------------------------------------------------------

    def _check_live(self) -> None:
        if self._suspended:
            raise Suspended()
        if self._rt.cancel.cancelled:
            raise EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")

    async def _execute(
        self, kind: EffectKind, effect_id: str, command: Command, executor: LocalExecutor, replay_key: str
    ) -> Outcome:
        self._check_live()
        invocation = RuntimeInvocation.effect(self._runtime_scope, effect_id, kind, replay_key)
        if self._rt.fork is not None:
            executor = await self._forked(replay_key, command, executor)
        return await self._rt.controller.execute_effect(EffectEnvelope(invocation, command), executor)

    async def _forked(self, replay_key: str, command: Command, executor: LocalExecutor) -> LocalExecutor:
        """In a fork, an effect among the first ``keep`` takes the source turn's recorded answer:
        its outcome or error is journaled here as this effect's, without running it."""
        fork, host = self._rt.fork, self._rt.host
        assert fork is not None and host is not None
        base = replay_key
        while base not in self._ordinals and ":" in base:  # a child key: its parent's effect
            base = base.rsplit(":", 1)[0]
        if self._ordinals.get(base, fork.keep) >= fork.keep:
            return executor
        row = await host.browser.get_row(
            fork.scope_key, fork.prefix + replay_key[len(self._prefix) :]
        )
        if row is None or row.status not in ("completed", "failed"):
            return executor  # the source never finished it: run it
        if row.status == "failed":
            error = EffectHostError.from_json(canonical.loads(row.error_json or "{}"))

            def fail(_envelope: EffectEnvelope) -> Outcome:
                raise error

            return LocalExecutor.testing(fail)
        recorded = outcome_from_json(canonical.loads(row.outcome_json or "{}"))
        if isinstance(command, AwaitEvent) and isinstance(recorded, AwaitEventOutcome):
            # a wait is answered through its own key (first writer wins), then awaited as usual
            await host.resolve_await_event(command.key, recorded.resolution)
            return executor
        return LocalExecutor.testing(lambda _envelope: recorded)

    def _invoke(
        self,
        base_key: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        _command_input: Any = None,
    ) -> Any:
        """Run a step or tool body: its idempotency key set, any exception a coded error (so it is
        journaled and replays the same), its value within the payload budget.

        A plain function, not a coroutine: a sync body's value comes back directly (the executor
        awaits only what is awaitable), which spares a coroutine per step; an async body is run
        by :meth:`_invoke_async`, which holds the key while it is awaited."""
        token = CURRENT_CALL.set(base_key)
        try:
            value = fn(*args, **kwargs)
        except EffectHostError:
            raise
        except Exception as exc:
            raise _step_failed(exc) from exc
        finally:
            CURRENT_CALL.reset(token)
        if type(value) not in _PLAIN and inspect.isawaitable(value):
            return self._invoke_async(base_key, value)
        return self._checked(value)

    async def _invoke_async(self, base_key: str, awaitable: Awaitable[Any]) -> Any:
        token = CURRENT_CALL.set(base_key)
        try:
            value = await awaitable
        except EffectHostError:
            raise
        except Exception as exc:
            raise _step_failed(exc) from exc
        finally:
            CURRENT_CALL.reset(token)
        return self._checked(value)

    def _checked(self, value: Any) -> Any:
        if isinstance(value, (dict, list, str)):
            text = canonical.dumps(canonical.normalize(value))
        elif isinstance(value, ExecResponse):
            text = canonical.dumps(value.to_json())
        else:
            return value  # a number, a bool or None: far under any budget
        check_budget(text, self._budget, "the result")
        return value

    async def _attempts(
        self,
        kind: EffectKind,
        effect_id: str,
        command: Command,
        executor: Callable[[str], LocalExecutor],
        retry: RetryPolicy,
    ) -> Outcome:
        """Run an effect under its retry policy: attempt n under ``{key}:attempt:{n}``, a durable
        backoff between attempts, and the attempts a resume granted after the policy's."""
        base = self.replay_key(kind, effect_id)
        granted = self._rt.grants.get(base, 0)
        attempt = 1
        while True:
            replay_key = base if attempt == 1 else f"{base}:attempt:{attempt}"
            try:
                return await self._execute(kind, effect_id, command, executor(base), replay_key)
            except EffectHostError as error:
                if attempt < retry.attempts and retry.retries(error):
                    due = await self._due_time(
                        f"{effect_id}:attempt:{attempt}:sleep",
                        f"{base}:attempt:{attempt}:sleep",
                        {"attempt": attempt},
                        functools.partial(retry.backoff_s, attempt),  # jitter drawn once, journaled
                    )
                    await self._until(due)
                elif (
                    granted > 0 and not error.is_replay_mismatch() and error.code != ErrorCode.TURN_CANCELLED
                ):
                    granted -= 1
                else:
                    self.last_failure = (base, error)
                    raise
            attempt += 1

    @overload
    def step(
        self, name: str, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...
    @overload
    def step(
        self, name: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...
    def step(
        self, name: str, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, Any]:
        """Run ``fn(*args, **kwargs)`` (sync or async) once, journal its JSON result, replay it.
        The arguments are part of the effect (they must be JSON); options: :meth:`call`."""
        effect_id = self._allocate(EffectKind.DURABLE_STEP, name, None)
        return self._step(name, effect_id, fn, args, kwargs, NO_RETRY)

    def call(
        self,
        name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """:meth:`step` with options: an explicit ``key`` (effect id) and a :class:`RetryPolicy`."""
        effect_id = self._allocate(EffectKind.DURABLE_STEP, name, key)
        return self._step(name, effect_id, fn, tuple(args), dict(kwargs or {}), retry or NO_RETRY)

    async def _step(
        self,
        name: str,
        effect_id: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retry: RetryPolicy,
    ) -> Any:
        if not callable(fn):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"step {name!r} needs a callable, not {fn!r}")
        command = _step_command(name, args, kwargs)
        kind = EffectKind.DURABLE_STEP
        rt = self._rt
        if retry is NO_RETRY and not rt.grants and rt.fork is None:
            # The common step, one attempt, straight to the controller: two coroutine frames
            # fewer per step (~3 % of a memory step, bench/instructions.py --api turn).
            self._check_live()
            base = f"{self._prefix}:{kind}:{effect_id}"
            envelope = EffectEnvelope(
                RuntimeInvocation.effect(self._runtime_scope, effect_id, kind, base), command
            )
            executor = LocalExecutor.durable_step(functools.partial(self._invoke, base, fn, args, kwargs))
            try:
                outcome = await rt.controller.execute_effect(envelope, executor)
            except EffectHostError as error:
                self.last_failure = (base, error)
                raise
        else:

            def make(base: str) -> LocalExecutor:
                return LocalExecutor.durable_step(functools.partial(self._invoke, base, fn, args, kwargs))

            outcome = await self._attempts(kind, effect_id, command, make, retry)
        assert isinstance(outcome, DurableStepOutcome)
        return outcome.value

    def tool(
        self,
        name: str,
        fn: Callable[..., Any],
        args: Mapping[str, Any] | None = None,
        /,
        *,
        call_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Call tool ``name`` as ``fn(**args)`` once, journal its JSON result as a ``tool_call``
        effect, replay it. ``call_id``: the model's call id (the effect id), else ``{name}#{n}``."""
        effect_id = self._allocate(EffectKind.TOOL_CALL, name, call_id)
        return self._tool(name, effect_id, fn, dict(args or {}), retry or NO_RETRY)

    async def _tool(
        self, name: str, effect_id: str, fn: Callable[..., Any], args: dict[str, Any], retry: RetryPolicy
    ) -> Any:
        if not callable(fn):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"tool {name!r} needs a callable, not {fn!r}")
        command = ToolCall(effect_id, name, _json(args, f"tool {name!r} arguments"))

        def executor(base: str) -> LocalExecutor:
            return LocalExecutor.tool_call(lambda _command: self._invoke(base, fn, (), args))

        outcome = await self._attempts(EffectKind.TOOL_CALL, effect_id, command, executor, retry)
        assert isinstance(outcome, ToolCallOutcome)
        launch = outcome.launch
        return launch.get("result") if isinstance(launch, dict) else launch

    def llm(
        self,
        fn: Callable[[LlmCall], Any],
        /,
        *,
        model: str,
        messages: Any,
        tools: Any = None,
        name: str = "llm",
        key: str | None = None,
        retry: RetryPolicy | None = None,
        **request: Any,
    ) -> Coroutine[Any, Any, Any]:
        """Ask a model once: ``fn(LlmCall)`` (sync or async) returns the response as JSON, which is
        journaled as an ``llm_call`` effect and replayed, so a re-drive never pays for it again.
        ``request`` holds the other :class:`LlmCall` fields (``tool_choice``, ``generation``, ...)."""
        effect_id = self._allocate(EffectKind.LLM_CALL, name, key)
        try:
            command = LlmCall(
                model=model, messages=messages, tools=tools or [], session_id=self.session_id, **request
            )
        except TypeError as exc:
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"turn.llm: {exc}") from None
        return self._llm(effect_id, command, fn, retry or NO_RETRY)

    async def _llm(
        self, effect_id: str, command: LlmCall, fn: Callable[[LlmCall], Any], retry: RetryPolicy
    ) -> Any:
        def executor(base: str) -> LocalExecutor:
            return LocalExecutor.llm_call(lambda cmd: self._invoke(base, fn, (cmd,), {}))

        outcome = await self._attempts(EffectKind.LLM_CALL, effect_id, command, executor, retry)
        assert isinstance(outcome, LlmCallOutcome)
        if outcome.error is not None:
            raise EffectHostError(ErrorCode.TURN_STEP_FAILED, f"the model call failed: {outcome.error}")
        return outcome.response

    def exec_code(
        self,
        source: str,
        fn: Callable[[str], ExecResult | Awaitable[ExecResult]],
        /,
        *,
        name: str = "exec",
        key: str | None = None,
    ) -> Coroutine[Any, Any, ExecResult]:
        """Run ``source`` once through ``fn(source)`` (returns an ``ExecResponse`` or an error
        text), journaled as an ``exec_code`` effect."""
        effect_id = self._allocate(EffectKind.EXEC_CODE, name, key)
        return self._exec(effect_id, source, fn)

    async def _exec(self, effect_id: str, source: str, fn: Callable[[str], Any]) -> ExecResult:
        base = self.replay_key(EffectKind.EXEC_CODE, effect_id)
        executor = LocalExecutor.exec_code(lambda cmd: self._invoke(base, fn, (cmd.code,), {}))
        outcome = await self._execute(EffectKind.EXEC_CODE, effect_id, ExecCode(source), executor, base)
        assert isinstance(outcome, ExecCodeOutcome)
        return outcome.result

    # -- time ---------------------------------------------------------------------------------

    def sleep(
        self, seconds: float, /, *, name: str = "sleep", key: str | None = None
    ) -> Coroutine[Any, Any, None]:
        """A durable sleep: its due time is journaled, so a re-drive (or a resumed suspension)
        waits only for what is left. Long sleeps suspend the turn under a worker."""
        seconds = _seconds(seconds, "sleep")
        effect_id = self._allocate(EffectKind.DURABLE_STEP, name, key)
        return self._sleep(effect_id, seconds)

    async def _sleep(self, effect_id: str, seconds: float) -> None:
        replay_key = self.replay_key(EffectKind.DURABLE_STEP, effect_id)
        due = await self._due_time(effect_id, replay_key, {"seconds": seconds}, lambda: seconds)
        await self._until(due)

    async def _due_time(
        self, effect_id: str, replay_key: str, input: dict[str, Any], delay_s: Callable[[], float]
    ) -> int:
        """Journal ``now + delay`` (wall clock, ms) once; a replay returns the recorded instant."""
        clock = self._clock
        executor = LocalExecutor.durable_step(lambda _input: clock.now_ms() + math.ceil(delay_s() * 1000))
        outcome = await self._execute(
            EffectKind.DURABLE_STEP, effect_id, DurableStep("sleep", input), executor, replay_key
        )
        assert isinstance(outcome, DurableStepOutcome) and isinstance(outcome.value, int)
        return outcome.value

    async def _until(self, due_ms: int) -> None:
        engine = self._rt.engine
        if engine is not None:
            self._check_live()
            waiting: dict[str, Any] = {"kind": "sleep", "until_ms": due_ms}
            await self._engine_parked(TurnStatus.SLEEPING, waiting, "", lambda: engine.sleep_until(due_ms))
            return
        remaining_ms = due_ms - self._clock.now_ms()
        if remaining_ms <= 0:
            return
        waiting = {"kind": "sleep", "until_ms": due_ms}
        if self._suspends(remaining_ms):
            await self._suspend(TurnStatus.SLEEPING, waiting, "", due_ms)
        await self._enter_wait(TurnStatus.SLEEPING, waiting, "")
        try:
            await _sleep_cancellable(self._rt, due_ms)
        finally:
            await self._leave_wait()

    def _suspends(self, remaining_ms: int | None) -> bool:
        limit = self._rt.suspend_after_s
        return limit is not None and (remaining_ms is None or remaining_ms > limit * 1000)

    async def _suspend(
        self, status: TurnStatus, waiting: dict[str, Any], key_id: str, wake_at_ms: int | None
    ) -> None:
        self._check_live()
        self._suspended = True  # before the write: no effect of this task starts after it
        self.suspended_status = status
        await self._rt.park(status, waiting, key_id, wake_at_ms, True)
        raise Suspended()

    async def _enter_wait(self, status: TurnStatus, waiting: dict[str, Any], key_id: str) -> None:
        self._waiting += 1
        if self._waiting == 1:
            await self._rt.park(status, waiting, key_id, None, False)

    async def _leave_wait(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and not self._suspended:
            await self._rt.park(TurnStatus.RUNNING, None, "", None, False)

    async def _engine_parked(
        self,
        status: TurnStatus,
        waiting: dict[str, Any],
        key_id: str,
        parked: Callable[[], Awaitable[T]],
    ) -> T:
        """Run ``parked`` (an engine's timer or wait) reported as ``waiting`` to the engine. An
        error of the turn API's own unparks; anything else (the engine ending this attempt: a
        Restate suspension, a workflow eviction) writes nothing more, since the engine's handler
        may accept no further command then; the next attempt replays the same writes."""
        await self._enter_wait(status, waiting, key_id)
        try:
            value = await parked()
        except EffectHostError:
            await self._leave_wait()
            raise
        except BaseException:
            self._waiting -= 1
            raise
        await self._leave_wait()
        return value

    # -- await events -------------------------------------------------------------------------

    def await_event_key(self, name: str, /, *, key: str | None = None) -> AwaitEventKey:
        """The key the next ``wait(name)`` (or ``wait(..., key=key)``) of this turn parks on, to
        hand to whoever will resolve it (a pure derivation: nothing is written)."""
        if key is None:
            effect_id, _ = self._next_auto(str(EffectKind.AWAIT_EVENT), name)
        else:
            effect_id = key
        return keys.mint(self._rt.secret, self._scope, WaitIdentity.custom(effect_id))

    def wait(
        self, name: str, /, *, question: Any = None, timeout: float | None = None, key: str | None = None
    ) -> Coroutine[Any, Any, Resolution]:
        """Wait for an await event: a human's approval, a webhook. Its key is
        :meth:`await_event_key`; ``question`` (JSON) is what the operator is shown; ``timeout``
        seconds from the first time the wait is reached, an absolute deadline kept in the journal,
        after which the wait returns ``Resolution.TIMEOUT``. Long waits suspend the turn."""
        if timeout is not None:
            timeout = _seconds(timeout, "wait timeout")
        question = _json(question, "a wait's question")
        effect_id = self._allocate(EffectKind.AWAIT_EVENT, name, key)
        return self._wait(name, effect_id, question, timeout)

    async def _wait(self, name: str, effect_id: str, question: Any, timeout_s: float | None) -> Resolution:
        self._check_live()
        event_key = keys.mint(self._rt.secret, self._scope, WaitIdentity.custom(effect_id))
        replay_key = self.replay_key(EffectKind.AWAIT_EVENT, effect_id)
        clock = self._clock
        deadline_step = await self._execute(
            EffectKind.DURABLE_STEP,
            f"{effect_id}:deadline",
            DurableStep("wait", {"name": name, "question": question, "timeout_s": timeout_s}),
            LocalExecutor.durable_step(
                lambda _: None if timeout_s is None else clock.now_ms() + math.ceil(timeout_s * 1000)
            ),
            f"{replay_key}:deadline",
        )
        assert isinstance(deadline_step, DurableStepOutcome)
        deadline_ms = deadline_step.value
        waiting = {
            "kind": "wait",
            "name": name,
            "key": event_key.to_token(),
            "question": question,
            "deadline_at_ms": deadline_ms,
        }
        executor = LocalExecutor.await_event(
            self._rt.cancel,
            None if deadline_ms is None else time.monotonic() + (deadline_ms - clock.now_ms()) / 1000,
        )
        host, controller = self._rt.host, self._rt.controller
        if self._rt.engine is not None:  # the engine registers, parks and keeps the deadline
            outcome = await self._engine_parked(
                TurnStatus.WAITING,
                waiting,
                event_key.key_id,
                lambda: self._execute(
                    EffectKind.AWAIT_EVENT, effect_id, AwaitEvent(event_key), executor, replay_key
                ),
            )
            assert isinstance(outcome, AwaitEventOutcome)
            return outcome.resolution
        assert host is not None and isinstance(controller, JournalController)
        if await controller.has_recorded(replay_key):
            outcome = await self._execute(
                EffectKind.AWAIT_EVENT, effect_id, AwaitEvent(event_key), executor, replay_key
            )
            assert isinstance(outcome, AwaitEventOutcome)
            return outcome.resolution
        remaining_ms = None if deadline_ms is None else deadline_ms - clock.now_ms()
        answered = await host.peek_await_event(event_key) is not None
        if not answered:
            # registered before the record says waiting: a turn reported waiting always has its
            # wait listed as outstanding, whether it suspends or parks here
            await host.await_coordinator.register(event_key)
        if not answered and self._suspends(remaining_ms):
            await self._suspend(TurnStatus.WAITING, waiting, event_key.key_id, deadline_ms)
        if answered:  # a resumed suspension, or an early resolve: the wait will not block
            outcome = await self._execute(
                EffectKind.AWAIT_EVENT, effect_id, AwaitEvent(event_key), executor, replay_key
            )
        else:
            await self._enter_wait(TurnStatus.WAITING, waiting, event_key.key_id)
            try:
                outcome = await self._execute(
                    EffectKind.AWAIT_EVENT, effect_id, AwaitEvent(event_key), executor, replay_key
                )
            finally:
                await self._leave_wait()
        assert isinstance(outcome, AwaitEventOutcome)
        return outcome.resolution

    def __repr__(self) -> str:
        return f"<Turn {self.name} {self.session_id!r}/{self.turn_id!r}>"


#: The turn a driver runs in this task (and the tasks it starts): what ``@step``/``@tool`` use.
CURRENT_TURN: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("effecthost_turn", default=None)


def current_turn() -> Turn:
    """The turn driving the calling code; ``turn_context_missing`` outside one."""
    turn = CURRENT_TURN.get()
    if turn is None:
        raise outside_turn("current_turn()")
    return turn


async def _sleep_cancellable(runtime: TurnRuntime, due_ms: int) -> None:
    assert runtime.host is not None
    clock = runtime.host.clock
    while (remaining := due_ms - clock.now_ms()) > 0:
        if runtime.cancel.cancelled:
            break
        sleeper = asyncio.ensure_future(clock.sleep(remaining / 1000))
        waiter = asyncio.ensure_future(runtime.cancel.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
    if runtime.cancel.cancelled:
        raise EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_WAIT_S:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, f"{what} needs seconds in [0, {MAX_WAIT_S}], not {value!r}"
        )
    return float(value)


def _json(value: Any, what: str) -> Any:
    try:
        return canonical.normalize(value, what=what)
    except EffectHostError as exc:
        raise EffectHostError(exc.code, f"{exc.message} ({what} must be JSON)") from None


def _step_failed(exc: Exception) -> EffectHostError:
    return EffectHostError(
        ErrorCode.TURN_STEP_FAILED,
        f"{type(exc).__name__}: {exc}",
        summary={"exception": exception_names(exc)},
    )


def _step_command(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> DurableStep:
    """A step's command: its arguments are part of its envelope (changed arguments are a
    mismatch), so they must be JSON; the command normalizes them once."""
    try:
        # Positional-only calls (the common case) journal a plain list: a smaller envelope to
        # normalize and hash on every step (measured ~8 % of a memory step's cost).
        return DurableStep(name, list(args) if not kwargs else {"args": list(args), "kwargs": kwargs})
    except EffectHostError as exc:
        raise EffectHostError(
            exc.code,
            f"step {name!r}: {exc.message}; a step's arguments are journaled as JSON: pass live objects"
            " (clients, connections) by closing over them instead (a lambda or functools.partial)",
        ) from None
