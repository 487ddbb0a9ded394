"""The await-wait state machine as a pure step: every rule of spec 5.2, without I/O."""

from __future__ import annotations

import pytest

from effecthost._private.awaits.steps import (
    Park,
    Publish,
    Refuse,
    Register,
    ReturnTerminal,
    StopTurnControl,
    WaitState,
    next_poll_s,
    next_wait_step,
)
from effecthost._private.awaits.store import Inspection

CANCELLED, TIMEOUT = '{"status":"cancelled"}', '{"status":"timeout"}'


def step(state: Inspection | None, *, terminal: str | None = None, cancelled: bool = False,
         remaining: float | None = None, turn_control: bool = False, poll: float = 0.1) -> object:  # fmt: skip
    return next_wait_step(WaitState(state, terminal, cancelled, remaining, turn_control, poll), CANCELLED, TIMEOUT)


def test_a_stored_terminal_wins_over_cancel_and_a_passed_deadline() -> None:
    assert step(Inspection.RESOLVED, terminal='{"status":"ok","payload":1}', cancelled=True, remaining=-1) == (
        ReturnTerminal('{"status":"ok","payload":1}')
    )


def test_an_unknown_key_is_refused_and_a_missing_row_is_registered_again() -> None:
    assert step(Inspection.UNKNOWN_OR_REVOKED, cancelled=True) == Refuse()
    assert step(Inspection.MISSING) == Register()


@pytest.mark.parametrize("state", [Inspection.PENDING, None])  # None: the read hit an outage
def test_cancellation_wins_over_a_passed_deadline_and_publishes_cancelled(state: Inspection | None) -> None:
    assert step(state, cancelled=True, remaining=-5) == Publish(CANCELLED)
    assert step(state, remaining=0) == Publish(TIMEOUT)


def test_turn_control_waits_stop_without_publishing() -> None:
    assert step(Inspection.PENDING, cancelled=True, turn_control=True) == StopTurnControl(
        "turn_control_wait_cancelled", "turn-control wait cancelled"
    )
    assert step(Inspection.PENDING, remaining=-1, turn_control=True) == StopTurnControl(
        "turn_control_wait_timeout", "turn-control wait timed out"
    )


def test_a_pending_wait_parks_until_the_next_poll_or_the_deadline_whichever_is_first() -> None:
    assert step(Inspection.PENDING, poll=0.4) == Park(0.4)
    assert step(Inspection.PENDING, poll=0.4, remaining=0.1) == Park(0.1)
    assert step(None, poll=0.4) == Park(0.4)  # an outage keeps the waiter parked: rows are the truth


def test_polling_backs_off_to_its_cap_and_starts_over_after_a_wake_up() -> None:
    assert next_poll_s(0.025, False, 0.025, 1.0) == 0.05
    assert next_poll_s(0.8, False, 0.025, 1.0) == 1.0
    assert next_poll_s(1.0, True, 0.025, 1.0) == 0.025
