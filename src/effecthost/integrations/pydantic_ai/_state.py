"""Which turn a pydantic-ai run belongs to, and the bookkeeping the capability keeps per turn.

The state lives beside the turn object (a weak mapping), so it starts empty on every drive of a
turn: a re-drive numbers runs, waits and repeated tool-call ids in the same program order as the
first drive did, which is what makes the keys line up with the journal.
"""

from __future__ import annotations

import weakref
from collections import Counter

from effecthost import EffectHostError, ErrorCode, Turn, current_turn


class TurnState:
    """Counters that must be replay-stable: how many runs, waits and calls per id so far."""

    def __init__(self) -> None:
        self._runs = 0
        self._waits: Counter[str] = Counter()
        self._calls: Counter[str] = Counter()

    def next_run(self) -> int:
        self._runs += 1
        return self._runs

    def next_wait(self, name: str) -> int:
        self._waits[name] += 1
        return self._waits[name]

    def tool_key(self, call_id: str) -> str:
        """The effect id of a tool call: the model's call id; a second execution of the same call
        (an approved call run again after its approval was asked, or a call id the model reused in
        a later run of the same turn) is ``{call_id}~{n}``, numbered in program order."""
        self._calls[call_id] += 1
        count = self._calls[call_id]
        return call_id if count == 1 else f"{call_id}~{count}"


_STATES: weakref.WeakKeyDictionary[Turn, TurnState] = weakref.WeakKeyDictionary()


def state_of(turn: Turn) -> TurnState:
    state = _STATES.get(turn)
    if state is None:
        state = _STATES[turn] = TurnState()
    return state


def driving_turn() -> Turn | None:
    """The turn driving the calling code, or None outside one."""
    try:
        return current_turn()
    except EffectHostError:
        return None


def turn_for_run() -> Turn:
    """The turn a durable pydantic-ai run journals in; refused loudly outside one."""
    turn = driving_turn()
    if turn is None:
        raise outside_turn()
    return turn


def outside_turn() -> EffectHostError:
    return EffectHostError(
        ErrorCode.PYDANTIC_AI_OUTSIDE_TURN,
        "an agent with EffectHostDurability runs inside a driven turn: call agent.run(...) from a"
        " @durable_turn function (host.run_turn, host.start_turn or a Worker), so its model requests"
        " and tool calls are journaled; it never runs without a journal",
    )
