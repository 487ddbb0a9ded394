"""The agent loop on memory, a SQLite file and PostgreSQL: each model request one llm_call, each tool
call one tool_call keyed by the model's call id; replays ask and run nothing; limits, tool errors,
invalid arguments, parallel calls in the model's order, streaming, usage, mismatches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from effecthost import EffectHostError, ExecutionScope, Turn, TurnStatus, durable_turn, open_host
from effecthost.agents import (
    Agent,
    AgentLimits,
    AgentResult,
    DeltaStream,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    StopReason,
    StreamDelta,
    ToolError,
    agent_tool,
    call,
    calls,
    reply,
)

RAN: list[str] = []


@agent_tool
def search(query: str, limit: int = 3) -> list[str]:
    """Search the help center.

    Args:
        query: what to look for
        limit: how many articles at most
    """
    RAN.append(f"search:{query}")
    return [f"{query} article {i}" for i in range(limit)]


@agent_tool
async def weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    RAN.append(f"weather:{city}")
    await asyncio.sleep(0.01 if city == "Lyon" else 0)  # Lyon answers last: order is the model's
    if city == "Atlantis":
        raise ToolError("no such city")
    return {"city": city, "sky": "clear"}


@agent_tool
def explode() -> str:
    """Always fails."""
    RAN.append("explode")
    raise RuntimeError("boom")


def agent_with(script: list[ModelResponse], **options: Any) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(script)
    options.setdefault("tools", [search, weather, explode])
    return Agent("helper", model, instructions="Be brief.", **options), model


#: The turn function fails after the agent's run while this is set: a resume then re-drives the
#: whole turn over its journal, as a crash's recovery would.
FAIL_AFTER = {"on": False}


def turn_of(agent: Agent, holder: dict[str, AgentResult], **run_options: Any) -> Any:
    @durable_turn(name="agent-turn")
    async def fn(turn: Turn, prompt: str) -> dict[str, Any]:
        holder["result"] = await agent.run(turn, prompt, **run_options)
        if FAIL_AFTER["on"]:
            raise RuntimeError("the process died here")
        return holder["result"].to_json()

    return fn


async def run(url: str, agent: Agent, turn_id: str = "t1", **run_options: Any) -> AgentResult:
    holder: dict[str, AgentResult] = {}
    async with await open_host(url) as host:
        await host.run_turn(turn_of(agent, holder, **run_options), session_id="s", turn_id=turn_id,
                            input={"prompt": "hello"})  # fmt: skip
    return holder["result"]


async def run_then_redrive(url: str, first: Agent, second: Agent, **run_options: Any) -> AgentResult:
    """Run ``first`` in turn t1, which then fails; resume it and drive it again with ``second``."""
    holder: dict[str, AgentResult] = {}
    async with await open_host(url) as host:
        FAIL_AFTER["on"] = True
        try:
            with pytest.raises(EffectHostError):
                await host.run_turn(turn_of(first, holder), session_id="s", turn_id="t1",
                                    input={"prompt": "hello"})  # fmt: skip
        finally:
            FAIL_AFTER["on"] = False
        await host.resume_turn("s", "t1")
        await host.run_turn(turn_of(second, holder, **run_options), session_id="s", turn_id="t1",
                            input={"prompt": "hello"})  # fmt: skip
    return holder["result"]


async def journal(url: str, turn_id: str = "t1") -> dict[str, str]:
    async with await open_host(url) as host:
        rows = await host.browser.list_effects(ExecutionScope.turn("s", turn_id).journal_key())
    return {row.replay_key.split(":0:0:", 1)[1]: row.status for row in rows}


PARALLEL = [
    calls(call("weather", {"city": "Lyon"}, id="c1"), call("weather", {"city": "Oslo"}, id="c2"), text="Checking."),
    calls(call("search", {"query": "refunds"}, id="c3")),
    reply("Lyon and Oslo are clear; see the refunds articles."),
]


async def test_a_multi_tool_turn_journals_one_effect_per_request_and_call_and_replays(backend_url: str) -> None:
    RAN.clear()
    agent, model = agent_with(PARALLEL)
    again_agent, again_model = agent_with(PARALLEL)
    sink = DeltaStream()
    holder: dict[str, AgentResult] = {}
    first_fn = turn_of(agent, holder)
    async with await open_host(backend_url) as host:
        FAIL_AFTER["on"] = True
        try:
            with pytest.raises(EffectHostError):
                await host.run_turn(first_fn, session_id="s", turn_id="t1", input={"prompt": "hello"})
        finally:
            FAIL_AFTER["on"] = False
    result = holder["result"]
    assert result.stop is StopReason.FINAL_ANSWER and result.ok
    assert result.output == "Lyon and Oslo are clear; see the refunds articles."
    assert model.requests == 3
    assert sorted(RAN) == ["search:refunds", "weather:Lyon", "weather:Oslo"]
    assert result.total.model_requests == 3 and result.total.tool_calls == 3
    assert result.executed.model_requests == 3 and result.replayed.model_requests == 0
    assert result.total.usage.total_tokens > 0 and result.tokens_saved == 0
    assert await journal(backend_url) == {
        "llm_call:helper#1": "completed",
        "llm_call:helper#2": "completed",
        "llm_call:helper#3": "completed",
        "tool_call:c1": "completed",
        "tool_call:c2": "completed",
        "tool_call:c3": "completed",
    }
    # the tool results went back in the model's order (c1 before c2, though Lyon answered last)
    tool_messages = [m for m in result.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3"]
    assert tool_messages[0]["content"] == '{"city":"Lyon","sky":"clear"}'
    assert result.messages[0] == {"role": "system", "content": "Be brief."}

    # the turn is resumed and driven again from the start (a new process would do the same)
    RAN.clear()
    async with await open_host(backend_url) as host:
        await host.resume_turn("s", "t1")
        await host.run_turn(turn_of(again_agent, holder, stream=sink), session_id="s", turn_id="t1",
                            input={"prompt": "hello"})  # fmt: skip
    replayed = holder["result"]
    assert again_model.requests == 0 and RAN == []
    assert replayed.output == result.output
    assert replayed.executed.model_requests == 0 and replayed.replayed.model_requests == 3
    assert replayed.replayed.tool_calls == 3
    assert replayed.tokens_saved == result.total.usage.total_tokens
    sink.close()
    deltas = [d async for d in sink]
    assert [(d.request, d.text, d.replayed) for d in deltas] == [
        (1, "Checking.", True),
        (3, "Lyon and Oslo are clear; see the refunds articles.", True),
    ]


async def test_streaming_delivers_deltas_and_never_journals_them(backend_url: str) -> None:
    seen: list[StreamDelta] = []
    agent, _ = agent_with([reply("one two three")])
    result = await run(backend_url, agent, stream=seen.append)
    assert result.output == "one two three"
    assert [(d.text, d.replayed) for d in seen] == [("one ", False), ("two ", False), ("three", False)]


async def test_invalid_arguments_unknown_tools_and_tool_errors_go_back_to_the_model(backend_url: str) -> None:
    RAN.clear()
    script = [
        calls(
            call("search", {"query": 42}, id="bad-type"),
            call("search", "not json", id="bad-json"),
            call("nope", {}, id="unknown"),
            call("weather", {"city": "Atlantis"}, id="tool-error"),
        ),
        reply("sorry"),
    ]
    agent, _ = agent_with(script)
    result = await run(backend_url, agent)
    assert result.ok and result.output == "sorry"
    tool_messages = {m["tool_call_id"]: m for m in result.messages if m["role"] == "tool"}
    assert all(m["is_error"] for m in tool_messages.values())
    assert "query: Input should be a valid string" in tool_messages["bad-type"]["content"]
    assert "not a JSON object" in tool_messages["bad-json"]["content"]
    assert "there is no tool 'nope'" in tool_messages["unknown"]["content"]
    assert tool_messages["tool-error"]["content"] == "no such city"
    assert RAN == ["weather:Atlantis"]  # invalid calls run nothing and journal nothing
    rows = await journal(backend_url)
    assert rows["tool_call:tool-error"] == "failed"  # the ToolError is the call's journaled error
    assert "tool_call:bad-type" not in rows


async def test_a_failing_tool_stops_the_agent_with_a_coded_error(backend_url: str) -> None:
    agent, _ = agent_with([calls(call("explode", {}, id="x1")), reply("never")])
    result = await run(backend_url, agent)
    assert result.stop is StopReason.TOOL_FAILED and result.output is None
    assert result.error is not None and result.error.code == "agent_tool_failed"
    assert result.error.summary is not None and result.error.summary["call_id"] == "x1"
    assert result.error.summary["cause"]["code"] == "turn_step_failed"
    with pytest.raises(EffectHostError) as raised:
        result.unwrap()
    assert raised.value.code == "agent_tool_failed"


async def test_limits_stop_the_loop_with_agent_limit_reached(backend_url: str) -> None:
    looping = [calls(call("search", {"query": f"q{i}"}, id=f"c{i}")) for i in range(10)]
    agent, model = agent_with(looping, limits=AgentLimits(max_model_requests=3))
    result = await run(backend_url, agent, turn_id="requests")
    assert result.stop is StopReason.LIMIT_REACHED and model.requests == 3
    assert result.error is not None and result.error.code == "agent_limit_reached"
    agent, model = agent_with(looping, limits=AgentLimits(max_tool_calls=2))
    result = await run(backend_url, agent, turn_id="tools")
    assert result.stop is StopReason.LIMIT_REACHED and result.total.tool_calls == 2
    assert "max_tool_calls 2" in (result.error.message if result.error else "")


async def test_model_errors_retry_when_retryable_and_stop_otherwise(backend_url: str) -> None:
    failures = {"n": 2}

    def flaky(request: ModelRequest) -> ModelResponse:
        if failures["n"] > 0:
            failures["n"] -= 1
            raise EffectHostError("model_unavailable", "HTTP 429: slow down")
        return reply("fine")

    from effecthost import RetryPolicy

    fast = RetryPolicy(attempts=3, initial_s=0.001, retry_on=("model_unavailable",))
    agent = Agent("helper", ScriptedModel(flaky), limits=AgentLimits(model_retry=fast))
    result = await run(backend_url, agent, turn_id="retried")
    assert result.ok and result.output == "fine"
    rows = await journal(backend_url, "retried")
    assert rows["llm_call:helper#1"] == "failed" and rows["llm_call:helper#1:attempt:3"] == "completed"

    def rejected(request: ModelRequest) -> ModelResponse:
        raise EffectHostError("model_request_rejected", "HTTP 400: bad tool schema")

    agent = Agent("helper", ScriptedModel(rejected), limits=AgentLimits(model_retry=fast))
    result = await run(backend_url, agent, turn_id="rejected")
    assert result.stop is StopReason.MODEL_ERROR
    assert result.error is not None and result.error.code == "model_request_rejected"
    assert "llm_call:helper#1:attempt:2" not in await journal(backend_url, "rejected")


async def test_a_changed_agent_replaying_an_old_turn_reports_a_mismatch(backend_url: str) -> None:
    agent, _ = agent_with([calls(call("search", {"query": "x"}, id="c1")), reply("done")])
    changed = Agent("helper", ScriptedModel([reply("done")]), instructions="Be verbose.", tools=[search])
    with pytest.raises(EffectHostError) as raised:
        await run_then_redrive(backend_url, agent, changed)
    assert raised.value.is_replay_mismatch()
    assert "command.request.messages" in str(raised.value)
    fewer_tools = Agent("helper", ScriptedModel([reply("done")]), instructions="Be brief.", tools=[search])
    async with await open_host(backend_url) as host:
        info = await host.get_turn("s", "t1")
        assert info is not None and info.status is TurnStatus.FAILED
        await host.resume_turn("s", "t1")
        with pytest.raises(EffectHostError) as raised:
            await host.run_turn(turn_of(fewer_tools, {}), session_id="s", turn_id="t1", input={"prompt": "hello"})
    assert raised.value.is_replay_mismatch()
    assert "command.request.tools" in str(raised.value)


async def test_repeated_or_missing_call_ids_get_distinct_keys(backend_url: str) -> None:
    """Some servers number calls per answer (call_0 every time) or send none: each call still gets
    its own tool_call effect, deterministically."""
    RAN.clear()
    script = [
        calls(call("search", {"query": "a"}, id="call_0")),
        calls(call("search", {"query": "b"}, id="call_0"), call("search", {"query": "c"}, id=""),
              call("search", {"query": "d"}, id="")),
        reply("ok"),
    ]
    agent, _ = agent_with(script)
    result = await run(backend_url, agent)
    assert result.ok and sorted(RAN) == ["search:a", "search:b", "search:c", "search:d"]
    rows = await journal(backend_url)
    assert {k for k in rows if k.startswith("tool_call:")} == {
        "tool_call:call_0", "tool_call:call_0~2", "tool_call:call-2", "tool_call:call-2~2"
    }
