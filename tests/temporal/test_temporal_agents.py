"""The agents and the pydantic-ai integration on Temporal: the same agent code as on the SQL hosts
runs in a workflow; a worker that dies after the run is replaced and the next one replays the model
and tool calls from the history."""

from __future__ import annotations

from temporal_stack import Stack
from test_temporal_crashes import _run_with_replacements

from effecthost.engines.temporal import TemporalEffectHost


def _count(stack: Stack, line: str) -> int:
    return stack.marked().count(line)


async def test_an_effecthost_agent_turn_runs_and_a_restart_replays_it(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    result = await temporal_host.run_turn(
        "weather", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    assert result["output"] == "It is 21 C" and result["stop"] == "final_answer"
    assert result["executed"]["model_requests"] == 2 and result["executed"]["tool_calls"] == 1
    # starting the same turn again is the same workflow: nothing is asked again
    again = await temporal_host.start_turn(
        "weather", session_id=session_id, turn_id="t", input={"prompt": session_id}
    )
    assert await again.result(timeout=20) == result
    assert _count(temporal_stack, f"{session_id} agent model") == 2
    assert _count(temporal_stack, f"{session_id} agent tool") == 1


async def test_an_agent_run_is_replayed_from_the_history_on_another_worker(
    temporal_stack: Stack, session_id: str
) -> None:
    result = await _run_with_replacements(
        temporal_stack, "weather_killed", session_id, {"prompt": session_id}
    )
    assert f"agent:{session_id}" in temporal_stack.kills.read_text().split()  # a worker died
    assert result["output"] == "It is 21 C"
    # the next worker took both model requests and the tool call from the history
    assert result["executed"]["model_requests"] == 0 and result["replayed"]["model_requests"] == 2
    assert _count(temporal_stack, f"{session_id} agent model") == 2
    assert _count(temporal_stack, f"{session_id} agent tool") == 1


async def test_a_pydantic_ai_run_is_replayed_from_the_history_on_another_worker(
    temporal_stack: Stack, session_id: str
) -> None:
    result = await _run_with_replacements(temporal_stack, "pyd_weather", session_id, {"prompt": session_id})
    assert result == "It is 21 C"
    assert f"pyd:{session_id}" in temporal_stack.kills.read_text().split()  # a worker died
    assert _count(temporal_stack, f"{session_id} pyd model") == 2
    assert _count(temporal_stack, f"{session_id} pyd tool") == 1
