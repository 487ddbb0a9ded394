"""Driving a turn function on an engine that journals effects itself (Restate, Temporal).

The engine owns the turn's record, lease and parking; effecthost only runs the function with a
:class:`Turn` whose effects go through the engine's controller, and tells an engine that records
it (:class:`ParkingEngine`) what the turn is parked on. The same turn code runs unchanged:
keys, retries, budgets and mismatch rules are the turn API's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..core import canonical
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken
from ..lifecycle.model import TurnStatus
from ..runtime.turn_control import check_budget
from .function import DurableTurn
from .turn import CURRENT_TURN, ParkingEngine, Turn, TurnEngine, TurnRuntime

Park = Callable[[TurnStatus, dict[str, Any] | None, str, int | None, bool], Awaitable[None]]


async def _never_parks(
    _status: TurnStatus,
    _waiting: dict[str, Any] | None,
    _key_id: str,
    _wake_at_ms: int | None,
    _suspend: bool,
) -> None:
    """An engine parks the invocation itself: the turn API writes no record."""


def _parks_through(engine: TurnEngine) -> Park:
    """The turn API's ``park`` callback for ``engine``: an engine that records what its turn is
    parked on (:class:`ParkingEngine`) is told; the invocation itself the engine parks anyway."""
    if not isinstance(engine, ParkingEngine):
        return _never_parks

    async def park(
        _status: TurnStatus,
        waiting: dict[str, Any] | None,
        _key_id: str,
        _wake_at_ms: int | None,
        _suspend: bool,
    ) -> None:
        await engine.park(waiting)

    return park


async def run_engine_turn(
    fn: DurableTurn[Any],
    engine: TurnEngine,
    *,
    session_id: str,
    turn_id: str,
    input: dict[str, Any] | None = None,
    attempt: int = 1,
    cancel: CancelToken | None = None,
) -> Any:
    """Run ``fn`` once as turn ``session_id``/``turn_id`` through ``engine``; its result
    (canonical JSON, within the engine's payload budget) or the error it raised."""
    if not isinstance(fn, DurableTurn):
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"a @durable_turn function is needed, not {fn!r}")
    runtime = TurnRuntime(
        host=None,
        controller=engine.controller,
        secret=engine.secret,
        cancel=cancel or CancelToken(),
        suspend_after_s=None,
        grants={},
        park=_parks_through(engine),
        engine=engine,
    )
    turn = Turn(session_id, turn_id, fn.name, attempt, runtime)
    token = CURRENT_TURN.set(turn)
    try:
        result = await fn.fn(turn, **(input or {}))
    finally:
        CURRENT_TURN.reset(token)
    if runtime.cancel.cancelled:
        raise EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")
    normalized = canonical.normalize(result, what="the turn's result")
    check_budget(canonical.dumps(normalized), engine.max_payload_bytes, "the turn's result")
    return normalized
