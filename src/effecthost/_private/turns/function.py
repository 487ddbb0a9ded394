"""``@durable_turn``, ``@step`` and ``@tool``: plain async functions made durable.

A turn function is registered by name and runs only when a host drives it; calling it directly is
a coded error (``turn_context_missing``), never a silent non-durable run. A ``@step`` or ``@tool``
function called inside a driven turn is journaled through that turn; outside one it fails the
same way (a library function that is "durable" only sometimes is how effects get lost).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, NoReturn, ParamSpec, TypeVar, overload

from ..core.errors import EffectHostError, ErrorCode
from ..core.identity import check_id
from ..lifecycle import transitions
from ..runtime.turn_control import outcome_of
from .context import outside_turn
from .driver import TurnDriver, drive_owner
from .retry import RetryPolicy
from .turn import CURRENT_TURN, Turn

if TYPE_CHECKING:
    from ..runtime.durable import DurableEffectHost

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")

TurnFn = Callable[..., Awaitable[R]]

#: How long ``run_turn`` waits between looks at a turn another driver holds.
_HELD_RECHECK_S = 1.0


class DurableTurn(Generic[R]):
    """A registered turn function. ``.name`` is what records and workers know it by."""

    def __init__(self, fn: TurnFn[R], name: str) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"@durable_turn needs an async def function, not {fn!r}"
            )
        if not isinstance(name, str) or not name.strip():
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"a turn name is a non-empty str, not {name!r}")
        check_id(name, "turn name")
        self.fn = fn
        self.name = name
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise EffectHostError(
            ErrorCode.TURN_CONTEXT_MISSING,
            f"turn function {self.name!r} is not called directly, where it would run without being"
            f" journaled: drive it with host.run_turn({self.name}, ...), or host.start_turn and a Worker",
        )

    async def run_here(
        self, host: DurableEffectHost, *, session_id: str, turn_id: str, input: dict[str, Any] | None
    ) -> R:
        """Start (idempotently) and drive here until the turn ends; waits never suspend."""
        store = host.turns.store
        owner = drive_owner(host)
        ttl = host.lease.ttl_ms
        record = await host.turns.insert(self, session_id, turn_id, input, held_by=(owner, ttl))
        session_id, turn_id = record.session_id, record.turn_id
        while True:
            if record.status.terminal:
                return outcome_of(record)  # type: ignore[no-any-return]
            if record.owner == owner:
                await TurnDriver(host, self.fn, record, suspend_after_s=None).run()
                found = await store.get(session_id, turn_id)  # the end (or a lost lease: claim again)
                assert found is not None
                record = found
                if record.owner == owner and not record.status.terminal:
                    owner = drive_owner(host)  # the drive stopped without an end: a fresh claim
                continue
            now = host.clock.now_ms()
            claimed = await store.update(
                session_id, turn_id, transitions.claim(owner, now, ttl), durable=False
            )
            assert claimed is not None
            if claimed.owner == owner or claimed.status.terminal:
                record = claimed
                continue
            # Held by another driver (or parked by a worker): wait for a change or its lease.
            wait_s = _HELD_RECHECK_S
            if claimed.held:
                wait_s = min(wait_s, max(claimed.lease_expires_at_ms - now, 1) / 1000)
            try:
                ended = await host.turns.wait_ended(session_id, turn_id, wait_s)
                return outcome_of(ended)  # type: ignore[no-any-return]
            except EffectHostError as exc:
                if exc.code != ErrorCode.TURN_RESULT_TIMEOUT:
                    raise

    def __repr__(self) -> str:
        return f"<durable_turn {self.name}>"


@overload
def durable_turn(fn: TurnFn[R], /) -> DurableTurn[R]: ...
@overload
def durable_turn(*, name: str | None = None) -> Callable[[TurnFn[R]], DurableTurn[R]]: ...
def durable_turn(
    fn: TurnFn[R] | None = None, /, *, name: str | None = None
) -> DurableTurn[R] | Callable[[TurnFn[R]], DurableTurn[R]]:
    """Register ``async def fn(turn: Turn, **input)`` as a turn named ``fn.__name__`` (or ``name``)."""

    def register(f: TurnFn[R]) -> DurableTurn[R]:
        return DurableTurn(f, name or str(getattr(f, "__name__", "")))

    return register(fn) if fn is not None else register


def _turn_for(what: str) -> Turn:
    turn = CURRENT_TURN.get()
    if turn is None:
        raise outside_turn(what)
    return turn


@overload
def step(fn: Callable[P, Awaitable[T]], /) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def step(fn: Callable[P, T], /) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def step(
    *, name: str | None = None, retry: RetryPolicy | None = None
) -> Callable[[Callable[P, Awaitable[T] | T]], Callable[P, Coroutine[Any, Any, T]]]: ...
def step(fn: Any = None, /, *, name: str | None = None, retry: RetryPolicy | None = None) -> Any:
    """Journal each call of ``fn`` (sync or async) as a step of the calling turn: called in a
    driven turn, ``await fn(...)`` runs it once and replays its result; called elsewhere it raises
    ``turn_context_missing``. The call's effect number is taken when it is called."""

    def wrap(f: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
        step_name: str = name or str(getattr(f, "__name__", "step"))

        @functools.wraps(f)
        def journaled(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
            return _turn_for(f"step {step_name!r}").call(step_name, f, args, kwargs, retry=retry)

        return journaled

    return wrap(fn) if fn is not None else wrap


@overload
def tool(fn: Callable[P, Awaitable[T]], /) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def tool(fn: Callable[P, T], /) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def tool(
    *, name: str | None = None, retry: RetryPolicy | None = None
) -> Callable[[Callable[P, Awaitable[T] | T]], Callable[P, Coroutine[Any, Any, T]]]: ...
def tool(fn: Any = None, /, *, name: str | None = None, retry: RetryPolicy | None = None) -> Any:
    """Journal each call of ``fn`` as a ``tool_call`` effect of the calling turn, its arguments
    bound to parameter names (the tool call's ``args``); outside a turn: ``turn_context_missing``."""

    def wrap(f: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
        tool_name: str = name or str(getattr(f, "__name__", "tool"))
        signature = inspect.signature(f)

        @functools.wraps(f)
        def journaled(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
            turn = _turn_for(f"tool {tool_name!r}")
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"tool {tool_name!r}: {exc}") from None
            return turn.tool(tool_name, f, dict(bound.arguments), retry=retry)

        return journaled

    return wrap(fn) if fn is not None else wrap
