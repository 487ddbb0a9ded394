"""The agents and the pydantic-ai integration on an engine: the same agent code as on the SQL
hosts runs in a Restate handler or a Temporal workflow; a run whose endpoint or worker dies is
replayed (model and tool calls from Restate's journal, Temporal's history), nothing asked twice.
One set of cases for both engines (their ``engine`` fixture), and the kill of every kind of effect
in one turn."""

from __future__ import annotations

from engine_adapter import EngineUnderTest


async def test_an_effecthost_agent_turn_runs_and_a_restart_replays_it(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    result = await host.run_turn("weather", session_id=session_id, turn_id="t", input={"prompt": session_id})
    assert result["output"] == "It is 21 C" and result["stop"] == "final_answer"
    assert result["executed"]["model_requests"] == 2 and result["executed"]["tool_calls"] == 1
    # starting the same turn again is the same invocation or workflow: nothing is asked again
    again = await host.start_turn("weather", session_id=session_id, turn_id="t", input={"prompt": session_id})
    assert await again.result(timeout=20) == result
    assert engine.marked().count(f"{session_id} agent model") == 2
    assert engine.marked().count(f"{session_id} agent tool") == 1


async def test_an_agent_run_is_replayed_after_its_process_dies(
    engine: EngineUnderTest, session_id: str
) -> None:
    result = await engine.run_through_a_crash("weather_killed", session_id, {"prompt": session_id})
    assert f"agent:{session_id}" in engine.kills.read_text().split()  # it was killed once
    assert result["output"] == "It is 21 C"
    # the retry took both model requests and the tool call from the journal or history
    assert result["executed"]["model_requests"] == 0 and result["replayed"]["model_requests"] == 2
    assert engine.marked().count(f"{session_id} agent model") == 2
    assert engine.marked().count(f"{session_id} agent tool") == 1


async def test_a_pydantic_ai_run_is_replayed_after_its_process_dies(
    engine: EngineUnderTest, session_id: str
) -> None:
    result = await engine.run_through_a_crash("pyd_weather", session_id, {"prompt": session_id})
    assert result == "It is 21 C"
    assert f"pyd:{session_id}" in engine.kills.read_text().split()  # it was killed once
    assert engine.marked().count(f"{session_id} pyd model") == 2
    assert engine.marked().count(f"{session_id} pyd tool") == 1


async def test_tools_models_and_code_run_once_across_a_kill(engine: EngineUnderTest, session_id: str) -> None:
    tag = f"{session_id}:kinds"
    result = await engine.run_through_a_crash("every_kind", session_id, {"kill_tag": tag})
    assert result == [{"city": "Oslo", "temp": 21}, {"text": "hello ada"}, "ran print(1)"]
    assert engine.kills.read_text().split().count(tag) == 1
    ran = engine.marked()
    assert ran.count("lookup Oslo") == 1 and ran.count("llm m1") == 1 and ran.count("exec") == 1
