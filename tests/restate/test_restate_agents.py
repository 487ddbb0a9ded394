"""The agents and the pydantic-ai integration on Restate: the same agent code as on the SQL hosts
runs in a Restate handler; a retried invocation replays the model and tool calls from the journal."""

from __future__ import annotations

from restate_stack import Stack
from test_restate_crashes import _drive_with_restarts

from effecthost.engines.restate import RestateEffectHost


def _count(stack: Stack, line: str) -> int:
    return stack.marked().count(line)


async def test_an_effecthost_agent_turn_runs_and_a_restart_replays_it(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    result = await restate_host.run_turn(
        "weather", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    assert result["output"] == "It is 21 C" and result["stop"] == "final_answer"
    assert result["executed"]["model_requests"] == 2 and result["executed"]["tool_calls"] == 1
    # starting the same turn again is the same invocation: nothing is asked again
    again = await restate_host.start_turn(
        "weather", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    assert await again.result(timeout=20) == result
    assert _count(restate_stack, f"{session_id} agent model") == 2
    assert _count(restate_stack, f"{session_id} agent tool") == 1


async def test_an_agent_run_is_replayed_from_the_journal_after_the_endpoint_dies(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    await restate_host.start_turn(
        "weather_killed", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    result, kills = await _drive_with_restarts(restate_stack, restate_host, session_id, "t")
    assert kills == 1
    assert f"agent:{session_id}" in restate_stack.kills.read_text().split()  # it was killed once
    assert result["output"] == "It is 21 C"
    # the retry took both model requests and the tool call from Restate's journal
    assert result["executed"]["model_requests"] == 0 and result["replayed"]["model_requests"] == 2
    assert _count(restate_stack, f"{session_id} agent model") == 2
    assert _count(restate_stack, f"{session_id} agent tool") == 1


async def test_a_pydantic_ai_run_is_replayed_from_the_journal_after_the_endpoint_dies(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    await restate_host.start_turn(
        "pyd_weather", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    result, kills = await _drive_with_restarts(restate_stack, restate_host, session_id, "t")
    assert kills == 1
    assert result == "It is 21 C"
    assert f"pyd:{session_id}" in restate_stack.kills.read_text().split()  # it was killed once
    assert _count(restate_stack, f"{session_id} pyd model") == 2
    assert _count(restate_stack, f"{session_id} pyd tool") == 1
