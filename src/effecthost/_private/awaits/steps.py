"""The await-wait state machine as one pure step (spec 5.2), which the await loop carries out.

After each read of its row a parked waiter asks :func:`next_wait_step` what to do: return the
stored terminal, refuse the key, register its promise again, publish ``Cancelled`` / ``Timeout``
through first-writer-wins, stop a turn-control wait, or park until a wake-up, a cancel or the next
poll. The rules live here, testable without I/O: the stored terminal wins over everything;
cancellation wins over a deadline that has also passed (a deterministic priority); a turn-control
wait never publishes from an observer, it leaves the promise open; polling backs off, doubling
up to a cap, and starts over after each wake-up (the loop owns the intervals).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ErrorCode
from .store import Inspection


@dataclass(frozen=True, slots=True)
class ReturnTerminal:
    terminal_json: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """The key is unknown or its session revoked: ``await_event_unknown_or_revoked``."""


@dataclass(frozen=True, slots=True)
class Register:
    """The row is gone but the session is not revoked (a retired journal): register it again."""


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish this terminal (first writer wins), then read the row again: whatever won is it."""

    terminal_json: str


@dataclass(frozen=True, slots=True)
class StopTurnControl:
    """A turn-control wait was cancelled or timed out: raise ``code``, publish nothing."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Park:
    """Wait for a wake-up, the cancel token or the host closing, at most ``timeout_s``."""

    timeout_s: float


WaitStep = ReturnTerminal | Refuse | Register | Publish | StopTurnControl | Park


@dataclass(frozen=True, slots=True)
class WaitState:
    """What the waiter knows after reading its row. ``state`` is None when the read failed for an
    outage (the substrate is unreachable): the waiter keeps waiting, rows are the truth."""

    state: Inspection | None
    terminal_json: str | None
    cancelled: bool
    #: Seconds to the deadline (≤ 0: passed), or None without one.
    remaining_s: float | None
    turn_control: bool
    poll_s: float


def next_wait_step(now: WaitState, cancelled_json: str, timeout_json: str) -> WaitStep:
    if now.state is Inspection.RESOLVED and now.terminal_json is not None:
        return ReturnTerminal(now.terminal_json)
    if now.state is Inspection.UNKNOWN_OR_REVOKED:
        return Refuse()
    if now.state is Inspection.MISSING:
        return Register()
    if now.cancelled:
        if now.turn_control:
            return StopTurnControl(ErrorCode.TURN_CONTROL_WAIT_CANCELLED, "turn-control wait cancelled")
        return Publish(cancelled_json)
    if now.remaining_s is not None and now.remaining_s <= 0:
        if now.turn_control:
            return StopTurnControl(ErrorCode.TURN_CONTROL_WAIT_TIMEOUT, "turn-control wait timed out")
        return Publish(timeout_json)
    timeout = now.poll_s if now.remaining_s is None else min(now.poll_s, now.remaining_s)
    return Park(timeout)


def next_poll_s(poll_s: float, woken: bool, start_s: float, cap_s: float) -> float:
    """The next poll interval: back to the start after a wake-up, else doubled up to the cap."""
    return start_s if woken else min(poll_s * 2, cap_s)
