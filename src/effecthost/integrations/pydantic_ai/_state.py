"""Which turn a pydantic-ai run belongs to, and the bookkeeping the capability keeps per turn.

The state lives beside the turn object (a weak mapping), so it starts empty on every drive of a
turn: a re-drive numbers runs, waits and repeated tool-call ids in the same program order as the
first drive did, which is what makes the keys line up with the journal.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable

from effecthost import EffectHostError, ErrorCode, Turn, current_turn


class TurnState:
    """Counters that must be replay-stable: runs, waits, and the effect ids of each run.

    Effect ids are numbered per run (the runs of one turn may run in parallel, and a replayed run
    reaches its effects sooner than a live one, so numbering across runs would depend on timing):
    the turn's first run uses plain ids (``support__model.request#1``, the model's call id), a later
    run ``n`` adds ``.run{n}`` before the number."""

    def __init__(self) -> None:
        self._runs: dict[str, int] = {}
        self._waits: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()

    def next_run(self, run_id_of: Callable[[int], str]) -> str:
        """The id of the next run of this turn (runs start in program order)."""
        run_id = run_id_of(len(self._runs) + 1)
        self._runs[run_id] = len(self._runs) + 1
        return run_id

    def run_tag(self, run_id: str | None) -> str:
        """``""`` for the turn's first run, ``.run{n}`` for its run ``n`` (a run id this capability
        did not hand out, such as one passed to ``agent.run(run_id=...)``, is numbered when first
        seen)."""
        key = run_id or ""
        ordinal = self._runs.get(key)
        if ordinal is None:
            ordinal = self._runs[key] = len(self._runs) + 1
        return "" if ordinal == 1 else f".run{ordinal}"

    def next_id(self, name: str, run_id: str | None) -> str:
        """``{name}{tag}#{n}``: ``n`` counts the effects of that name in that run, from 1."""
        base = f"{name}{self.run_tag(run_id)}"
        self._counts[base] += 1
        return f"{base}#{self._counts[base]}"

    def next_wait(self, name: str) -> int:
        self._waits[name] += 1
        return self._waits[name]

    def tool_key(self, call_id: str, run_id: str | None) -> str:
        """The effect id of a tool call: the model's call id (``.run{n}`` added in a later run); a
        second execution of the same call (an approved call run again after its approval was
        asked, or a call id the model reused) is ``{call_id}~{n}``, numbered in program order."""
        base = f"{call_id}{self.run_tag(run_id)}"
        self._counts[base] += 1
        count = self._counts[base]
        return base if count == 1 else f"{base}~{count}"


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
