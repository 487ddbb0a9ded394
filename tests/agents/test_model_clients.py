"""The official OpenAI and Anthropic SDK clients, end to end against a local provider on 127.0.0.1 that
speaks each wire format: tool calls (several at once), usage recorded per llm_call, streaming (SSE),
429/500 retried by the turn API one journaled attempt at a time, 400 not retried, and a replay that
sends nothing to the provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from effecthost import (
    EffectHostError,
    ExecutionScope,
    RetryPolicy,
    Turn,
    durable_turn,
    open_host,
)
from effecthost.agents import (
    Agent,
    AgentLimits,
    AgentResult,
    AnthropicModel,
    ModelClient,
    ModelResponse,
    OpenAIModel,
    StopReason,
    StreamDelta,
    Usage,
    agent_tool,
    call,
    calls,
)

from .wire_servers import Provider, serve_provider

SCRIPT = [
    calls(
        call("get_weather", {"city": "Lyon"}, id="call_a"),
        call("get_weather", {"city": "Oslo"}, id="call_b"),
        text="Looking both up.",
    ),
    ModelResponse(text="Lyon is sunny and Oslo is snowy.", usage=Usage(321, 12)),
]


@agent_tool
def get_weather(city: str) -> dict[str, str]:
    """The weather now.

    Args:
        city: a city's name
    """
    return {"city": city, "sky": "sunny" if city == "Lyon" else "snowy"}


@pytest.fixture(params=["openai", "anthropic"])
def provider_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider() -> Provider:
    return Provider(list(SCRIPT))


@pytest.fixture
def base_url(provider: Provider) -> Iterator[str]:
    with serve_provider(provider) as url:
        yield url


OPENED: list[OpenAIModel | AnthropicModel] = []


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while OPENED:
        await OPENED.pop().aclose()


def client_for(name: str, base_url: str) -> ModelClient:
    model: OpenAIModel | AnthropicModel
    if name == "openai":
        model = OpenAIModel("gpt-test", base_url=f"{base_url}/v1", api_key="sk-local")
    else:
        model = AnthropicModel("claude-test", base_url=base_url, api_key="sk-local", max_tokens=256)
    OPENED.append(model)
    return model


FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.05, retry_on=("model_unavailable",))


async def run_agent(url: str, agent: Agent, turn_id: str = "t", **options: Any) -> AgentResult:
    holder: dict[str, AgentResult] = {}

    @durable_turn(name="weather")
    async def fn(turn: Turn, prompt: str) -> dict[str, Any]:
        holder["r"] = await agent.run(turn, prompt, **options)
        return holder["r"].to_json()

    async with await open_host(url) as host:
        await host.run_turn(fn, session_id="s", turn_id=turn_id, input={"prompt": "Weather in Lyon and Oslo?"})
    return holder["r"]


async def llm_rows(url: str, turn_id: str = "t") -> dict[str, Any]:
    async with await open_host(url) as host:
        rows = await host.browser.list_effects(ExecutionScope.turn("s", turn_id).journal_key())
    return {
        row.replay_key.split(":0:0:", 1)[1]: row
        for row in rows
        if ":llm_call:" in row.replay_key and not row.replay_key.endswith(":sleep")  # not the backoffs
    }


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
async def test_a_multi_tool_turn_through_the_sdk(
    tmp_path: Path, provider_name: str, provider: Provider, base_url: str, streaming: bool
) -> None:
    url = f"sqlite:///{tmp_path}/agents.db"
    agent = Agent("weather", client_for(provider_name, base_url), instructions="Answer briefly.",
                  tools=[get_weather], limits=AgentLimits(model_retry=FAST))  # fmt: skip
    deltas: list[StreamDelta] = []
    result = await run_agent(url, agent, **({"stream": deltas.append} if streaming else {}))
    assert result.stop is StopReason.FINAL_ANSWER
    assert result.output == "Lyon is sunny and Oslo is snowy."
    assert provider.count(provider_name) == 2
    assert result.total.usage.input_tokens > 321 and result.total.usage.output_tokens > 12

    first, second = (r["body"] for r in provider.requests)
    assert first["stream"] is True if streaming else "stream" not in first
    if provider_name == "openai":
        assert first["messages"][0] == {"role": "system", "content": "Answer briefly."}
        assert first["tools"][0]["function"]["name"] == "get_weather"
        assert first["tools"][0]["function"]["parameters"]["properties"]["city"]["description"] == "a city's name"
        tool_results = [m for m in second["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tool_results] == ["call_a", "call_b"]
        assert tool_results[0]["content"] == '{"city":"Lyon","sky":"sunny"}'
        assert second["messages"][2]["tool_calls"][1]["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    else:
        assert first["system"] == "Answer briefly." and first["max_tokens"] == 256
        assert first["tools"][0]["input_schema"]["required"] == ["city"]
        assert second["messages"][1]["content"][1] == {
            "type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Lyon"}
        }
        results = second["messages"][2]["content"]
        assert [b["tool_use_id"] for b in results] == ["call_a", "call_b"]
        assert results[1]["content"] == '{"city":"Oslo","sky":"snowy"}' and results[1]["is_error"] is False

    # usage is recorded in each llm_call outcome, as the provider counted it
    rows = await llm_rows(url)
    recorded = json.loads(rows["llm_call:weather#2"].outcome_json)
    assert recorded["result"]["Ok"]["usage"] == {"input_tokens": 321, "output_tokens": 12}
    assert recorded["result"]["Ok"]["model"] in ("gpt-test", "claude-test")

    if streaming:
        assert [d.text for d in deltas if d.request == 2] == ["Lyon ", "is ", "sunny ", "and ", "Oslo ", "is ", "snowy."]
        assert not any(d.replayed for d in deltas)


async def test_429_and_500_are_retried_400_is_not(
    tmp_path: Path, provider_name: str, provider: Provider, base_url: str
) -> None:
    url = f"sqlite:///{tmp_path}/agents.db"
    agent = Agent("weather", client_for(provider_name, base_url), tools=[get_weather],
                  limits=AgentLimits(model_retry=FAST))  # fmt: skip
    provider.fail_next(429, 500)
    result = await run_agent(url, agent, turn_id="retried")
    assert result.ok and provider.count(provider_name) == 4  # two failures, then two answers
    rows = await llm_rows(url, "retried")
    assert [(k, r.status) for k, r in sorted(rows.items())] == [
        ("llm_call:weather#1", "failed"),
        ("llm_call:weather#1:attempt:2", "failed"),
        ("llm_call:weather#1:attempt:3", "completed"),
        ("llm_call:weather#2", "completed"),
    ]
    error = json.loads(rows["llm_call:weather#1"].error_json)
    assert error["code"] == "model_unavailable" and "HTTP 429" in error["message"]

    provider.fail_next(400)
    before = provider.count(provider_name)
    result = await run_agent(url, agent, turn_id="rejected")
    assert result.stop is StopReason.MODEL_ERROR
    assert result.error is not None and result.error.code == "model_request_rejected"
    assert "HTTP 400: injected 400" in result.error.message
    assert provider.count(provider_name) == before + 1

    provider.fail_next(500, 500, 500)
    result = await run_agent(url, agent, turn_id="down")
    assert result.stop is StopReason.MODEL_ERROR
    assert result.error is not None and result.error.code == "model_unavailable"


async def test_a_replayed_turn_sends_nothing_to_the_provider(
    tmp_path: Path, provider_name: str, provider: Provider, base_url: str
) -> None:
    url = f"sqlite:///{tmp_path}/agents.db"
    agent = Agent("weather", client_for(provider_name, base_url), tools=[get_weather])
    first = await run_agent(url, agent, turn_id="once")

    @durable_turn(name="weather")
    async def fail_after(turn: Turn, prompt: str) -> dict[str, Any]:
        await agent.run(turn, prompt)
        raise RuntimeError("died after the answer")

    async with await open_host(url) as host:
        with pytest.raises(EffectHostError):
            await host.run_turn(fail_after, session_id="s", turn_id="twice", input={"prompt": "Weather in Lyon and Oslo?"})
        sent = provider.count(provider_name)
        await host.resume_turn("s", "twice")
    deltas: list[StreamDelta] = []
    again = await run_agent(url, agent, turn_id="twice", stream=deltas.append)
    assert provider.count(provider_name) == sent  # nothing reached the provider
    assert again.output == first.output and again.replayed.model_requests == 2
    assert again.tokens_saved == again.total.usage.total_tokens > 0
    assert [(d.text, d.replayed) for d in deltas] == [
        ("Looking both up.", True),
        ("Lyon is sunny and Oslo is snowy.", True),
    ]


async def test_an_unreachable_provider_is_model_unavailable(tmp_path: Path, provider_name: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = Agent("weather", client_for(provider_name, f"http://127.0.0.1:{port}"),
                  limits=AgentLimits(model_retry=RetryPolicy(attempts=2, initial_s=0.01)))  # fmt: skip
    result = await run_agent(f"sqlite:///{tmp_path}/agents.db", agent)
    assert result.stop is StopReason.MODEL_ERROR
    assert result.error is not None and result.error.code == "model_unavailable"
