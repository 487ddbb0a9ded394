"""Crashes against the real processes: the endpoint SIGKILLed after every journaled entry of a
turn ("always replay"), restate-server SIGKILLed and restarted on its data directory while turns
are parked on waits, and a changed turn caught as a mismatch on Restate's replay (every kind of
effect across a kill: tests/engine_agent_cases.py, shared with Temporal)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from restate_engine import drive_with_restarts
from restate_stack import Stack

from effecthost import EffectHostError, Resolution, ResolveOutcome
from effecthost.engines.restate import RestateEffectHost


async def test_always_replay_every_effect_runs_once(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    n = 4
    await restate_host.start_turn(
        "killed_often", session_id=session_id, turn_id="t", input={"tag": session_id, "n": n}
    )
    result, kills = await drive_with_restarts(restate_stack, restate_host, session_id, "t")
    assert result == {"total": sum(range(n))}  # the same result as an undisturbed run
    assert kills == n + 1  # once before each step and once before the end
    ran = [line for line in restate_stack.marked() if line.startswith(session_id)]
    expected, total = [], 0
    for i in range(n):
        expected.append(f"{session_id} {total} {i}")
        total += i
    assert ran == expected  # every effect ran exactly once, in order


async def test_a_changed_turn_is_a_terminal_mismatch_on_replay(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    await restate_host.start_turn(
        "mismatching", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    with pytest.raises(EffectHostError) as caught:
        await drive_with_restarts(restate_stack, restate_host, session_id, "t")
    error = caught.value
    assert error.code == "restate_effect_replay_hash_conflict"
    assert error.is_replay_mismatch()
    assert error.summary == {"divergent_path_count": 1, "first_divergent_paths": ["command.input[0]"]}


async def test_server_killed_and_restarted_while_turns_are_parked(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    turns = [f"t{i}" for i in range(3)]
    for turn in turns:
        await restate_host.start_turn("approval", session_id=session_id, turn_id=turn, input={"user": turn})
    for _ in range(400):
        keys = await restate_host.list_outstanding_await_event_keys(session_id)
        if len(keys) == len(turns):
            break
        await asyncio.sleep(0.025)
    assert len(keys) == len(turns)
    server = restate_stack.server
    server.stop(signal.SIGKILL)
    server.start()  # the same data directory and ports
    for key in keys:
        resolution = Resolution.ok({"turn": key.scope.turn_id})
        outcome = await restate_host.resolve_await_event(key, resolution)
        assert outcome == ResolveOutcome.ACCEPTED
    for turn in turns:
        result = await restate_host.turn_result(session_id, turn, timeout=30)
        assert result == {"first": 2, "status": "ok", "value": {"turn": turn}}
