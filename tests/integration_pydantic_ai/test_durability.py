"""EffectHostDurability on memory, a SQLite file and PostgreSQL, with pydantic-ai's TestModel and
FunctionModel (no network): what each run journals, and that a re-drive calls nothing twice."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import AsyncIterable
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelHTTPError, ModelServerError
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, RunContext

from effecthost import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ExecutionScope,
    Resolution,
    Turn,
    TurnStatus,
    Worker,
    durable_turn,
    open_host,
    operations,
)
from effecthost.integrations.pydantic_ai import EffectHostDurability

CALLS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def responses(messages: list[ModelMessage]) -> int:
    return sum(1 for message in messages if message.kind == "response")


async def journal(host: DurableEffectHost, session: str, turn: str) -> dict[str, str]:
    rows = await host.browser.list_effects(ExecutionScope.turn(session, turn).journal_key())
    prefix = f"{session}:{turn}:0:0:"
    return {row.replay_key.removeprefix(prefix): row.status for row in rows}


async def redrive(host: DurableEffectHost, fn: Any, session: str, turn_id: str, **input: Any) -> Any:
    """Drive a turn whose function fails after its run on the first drive, resume it: the second
    drive runs the whole function again, so the agent run replays from the journal."""
    with pytest.raises(EffectHostError) as failed:
        await host.run_turn(fn, session_id=session, turn_id=turn_id, input=input)
    assert failed.value.code == "turn_failed"
    first = Counter(CALLS)
    await host.resume_turn(session, turn_id)
    result = await host.run_turn(fn, session_id=session, turn_id=turn_id, input=input)
    return first, result


def fail_first_drive(turn: Turn) -> None:
    if turn.attempt == 1:
        raise RuntimeError("the process 'crashed' after the run")


# -- tools, parallel tools, the journal's names -----------------------------------------------------


def two_parallel_then_answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) == 0:
        return ModelResponse(
            parts=[
                ToolCallPart("add", {"a": 1, "b": 2}, tool_call_id="call-a"),
                ToolCallPart("add", {"a": 3, "b": 4}, tool_call_id="call-b"),
                ToolCallPart("shout", {"text": "hi"}, tool_call_id="call-c"),
            ]
        )
    returns = sorted(
        str(part.content) for m in messages for part in m.parts if isinstance(part, ToolReturnPart)
    )
    return ModelResponse(parts=[TextPart("results: " + ", ".join(returns))])


calc = Agent(FunctionModel(two_parallel_then_answer), name="calc", capabilities=[EffectHostDurability()])


@calc.tool_plain
async def add(a: int, b: int) -> int:
    CALLS[f"add{a}{b}"] += 1
    await asyncio.sleep(0.01 if a == 1 else 0)  # the second call finishes first
    return a + b


@calc.tool_plain
def shout(text: str) -> str:
    CALLS["shout"] += 1
    return text.upper()


@durable_turn(name="pydai-calc")
async def calc_turn(turn: Turn, prompt: str) -> str:
    result = await calc.run(prompt)
    fail_first_drive(turn)
    return result.output


async def test_parallel_tool_calls_are_effects_keyed_by_call_id_and_replay(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, calc_turn, "s", "calc-1", prompt="sums")
        assert output == "results: 3, 7, HI"
        assert first == {"model": 2, "add12": 1, "add34": 1, "shout": 1}
        assert first == CALLS  # the re-drive replayed both model requests and all three tools
        assert await journal(host, "s", "calc-1") == {
            "llm_call:calc__model.request#1": "completed",
            "llm_call:calc__model.request#2": "completed",
            "tool_call:call-a": "completed",
            "tool_call:call-b": "completed",
            "tool_call:call-c": "completed",
        }


async def test_the_journal_holds_canonical_json_of_pydantic_ai_values(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    async with await open_host(url) as host:
        _, _ = await redrive(host, calc_turn, "s", "json", prompt="sums")
        scope = ExecutionScope.turn("s", "json").journal_key()
        row = await host.browser.get_row(scope, "s:json:0:0:llm_call:calc__model.request#1")
        assert row is not None and row.outcome_json is not None
        assert row.outcome_json.startswith("{")  # JSON text, never a pickle
        assert '"tool_call_id":"call-a"' in row.outcome_json
        tool = await host.browser.get_row(scope, "s:json:0:0:tool_call:call-b")
        assert tool is not None and '"kind":"tool_return"' in (tool.outcome_json or "")


# -- structured output, model retries ------------------------------------------------------------


class Forecast(BaseModel):
    city: str
    temp_c: int


structured = Agent(
    TestModel(), name="structured", output_type=Forecast, capabilities=[EffectHostDurability()]
)


@structured.tool_plain
def lookup(city: str) -> int:
    CALLS["lookup"] += 1
    return 21


@durable_turn(name="pydai-structured")
async def structured_turn(turn: Turn) -> dict[str, Any]:
    result = await structured.run("forecast")
    fail_first_drive(turn)
    return result.output.model_dump()


async def test_structured_output_replays_to_the_same_value(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, structured_turn, "s", "structured")
        assert output == {"city": "a", "temp_c": 0}
        assert first == CALLS == {"lookup": 1}
        keys = await journal(host, "s", "structured")
        assert sorted(k for k in keys if k.startswith("llm_call")) == [
            "llm_call:structured__model.request#1",
            "llm_call:structured__model.request#2",
        ]


def retry_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) < 2:
        return ModelResponse(
            parts=[ToolCallPart("pick", {"n": responses(messages)}, tool_call_id=f"p{len(messages)}")]
        )
    return ModelResponse(parts=[TextPart("picked")])


retrying = Agent(FunctionModel(retry_model), name="retrying", capabilities=[EffectHostDurability()])


@retrying.tool_plain
def pick(n: int) -> str:
    CALLS[f"pick{n}"] += 1
    if n == 0:
        raise ModelRetry("pick a bigger number")
    return "ok"


@durable_turn(name="pydai-retry")
async def retry_turn(turn: Turn) -> str:
    result = await retrying.run("pick")
    fail_first_drive(turn)
    return result.output


async def test_a_model_retry_is_a_recorded_value_and_the_retry_replays(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, retry_turn, "s", "retry")
        assert output == "picked"
        assert first == CALLS == {"model": 3, "pick0": 1, "pick1": 1}
        keys = await journal(host, "s", "retry")
        # the ModelRetry is the call's result (pydantic-ai's control-flow-as-value), not a failure
        assert keys["tool_call:p1"] == "completed"
        assert keys["tool_call:p3"] == "completed"


# -- streaming -------------------------------------------------------------------------------------


async def stream_model(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterable[str | dict[int, DeltaToolCall]]:
    CALLS["model"] += 1
    if responses(messages) == 0:
        yield {0: DeltaToolCall(name="shout2", json_args='{"text": "quiet"}', tool_call_id="s1")}
    else:
        for word in ("all ", "done"):
            yield word


streaming = Agent(
    FunctionModel(stream_function=stream_model), name="streaming", capabilities=[EffectHostDurability()]
)


@streaming.tool_plain
def shout2(text: str) -> str:
    CALLS["shout2"] += 1
    return text.upper()


@durable_turn(name="pydai-stream")
async def stream_turn(turn: Turn) -> dict[str, Any]:
    kinds: list[str] = []

    async def handler(ctx: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            kinds.append(event.event_kind)

    result = await streaming.run("stream", event_stream_handler=handler)
    fail_first_drive(turn)
    return {"output": result.output, "tool_results": kinds.count("function_tool_result")}


async def test_a_streamed_run_journals_request_stream_effects_and_replays_its_events(
    backend_url: str,
) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, stream_turn, "s", "stream")
        assert output == {"output": "all done", "tool_results": 1}  # the replay saw the events too
        assert first == CALLS == {"model": 2, "shout2": 1}
        keys = await journal(host, "s", "stream")
        assert "llm_call:streaming__model.request_stream#1" in keys
        assert "llm_call:streaming__model.request_stream#2" in keys
        assert keys["tool_call:s1"] == "completed"


# -- refusing loudly --------------------------------------------------------------------------------


async def test_a_run_outside_a_driven_turn_is_refused_with_a_code() -> None:
    with pytest.raises(EffectHostError) as refused:
        await calc.run("sums")
    assert refused.value.code == "pydantic_ai_outside_turn"
    assert CALLS == {}  # nothing ran without a journal


async def test_a_run_inside_a_step_body_is_refused(tmp_path: Any) -> None:
    @durable_turn(name="pydai-nested")
    async def nested(turn: Turn) -> str:
        async def inner() -> str:
            return (await calc.run("sums")).output

        return str(await turn.step("inner", inner))

    async with await open_host(f"sqlite:///{tmp_path / 'n.db'}") as host:
        with pytest.raises(EffectHostError) as refused:
            await host.run_turn(nested, session_id="s", turn_id="nested")
        assert refused.value.code == "invalid_argument"  # an effect inside a step's body
        assert CALLS == {}


# -- deferred tools and human-in-the-loop -----------------------------------------------------------

TOKENS: list[str] = []


async def hand_off(ctx: RunContext[None], requests: DeferredToolRequests, token: str) -> None:
    TOKENS.append(token)  # a Slack message, an email: the token goes to whoever decides


def approve_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) == 0:
        return ModelResponse(parts=[ToolCallPart("delete", {"path": "/srv/old"}, tool_call_id="del-1")])
    last = messages[-1].parts[0]
    return ModelResponse(parts=[TextPart(f"answer: {getattr(last, 'content', last)}")])


approving = Agent(
    FunctionModel(approve_model),
    name="approving",
    capabilities=[EffectHostDurability(), HandleDeferredToolCalls(hand_off)],
)


@approving.tool_plain(requires_approval=True)
def delete(path: str) -> str:
    CALLS["delete"] += 1
    return f"deleted {path}"


@durable_turn(name="pydai-approve")
async def approve_turn(turn: Turn) -> str:
    return (await approving.run("clean up")).output


async def first_token() -> str:
    for _ in range(1000):
        if TOKENS:
            return TOKENS[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no token was handed out")


async def parked(host: DurableEffectHost, session: str, turn_id: str, worker: Worker) -> dict[str, Any]:
    for _ in range(400):
        info = await host.get_turn(session, turn_id)
        if info is not None and info.status is TurnStatus.WAITING and worker.active == 0:
            assert info.waiting is not None
            return info.waiting
        await asyncio.sleep(0.025)
    raise AssertionError("the turn never parked")


async def test_an_approval_waits_on_an_await_event_across_a_suspension(backend_url: str) -> None:
    TOKENS.clear()
    async with await open_host(backend_url) as host:
        async with Worker(host, turns=[approve_turn], suspend_after_s=0.1, poll_interval_s=0.05) as worker:
            handle = await host.start_turn(approve_turn, session_id="s", turn_id="approve")
            waiting = await parked(host, "s", "approve", worker)
            assert worker.suspended == 1  # no task holds the turn while it waits
            assert [waiting["key"]] == TOKENS  # the token handed out is the await event's token
            assert waiting["question"] == {
                "wait": "deferred_tool_calls",
                "source": "pydantic-ai",
                "approvals": [{"tool_name": "delete", "tool_call_id": "del-1", "args": {"path": "/srv/old"}}],
                "calls": [],
            }
            assert [k.to_token() for k in await host.list_outstanding_await_event_keys("s")] == TOKENS
            # the operator console's inbox (page, CLI `waits list`, GET /v1/waits) shows the question
            inbox = await operations.inbox(host, session_id="s")
            shown = [(w["token"], w["question"], w["turn"]["name"]) for w in inbox["waits"]]
            assert shown == [(TOKENS[0], waiting["question"], "pydai-approve")]
            await host.resolve_await_event(
                AwaitEventKey.from_token(TOKENS[0]), Resolution.ok({"approvals": {"del-1": True}})
            )
            assert await handle.result(timeout=30) == "answer: deleted /srv/old"
        assert [waiting["key"]] == TOKENS  # the re-drive neither minted a second token nor asked again
        assert CALLS == {"model": 2, "delete": 1}
        keys = await journal(host, "s", "approve")
        assert keys["durable_step:pydantic_ai.deferred_tool_calls#1.ask"] == "completed"
        assert keys["await_event:pydantic_ai.deferred_tool_calls#1"] == "completed"
        assert keys["tool_call:del-1"] == "completed"


async def test_a_denial_and_a_timeout_reach_the_model(tmp_path: Any) -> None:
    TOKENS.clear()
    async with await open_host(f"sqlite:///{tmp_path / 'd.db'}") as host:
        task = asyncio.create_task(host.run_turn(approve_turn, session_id="s", turn_id="deny"))
        await first_token()
        await host.resolve_await_event(
            AwaitEventKey.from_token(TOKENS[0]),
            Resolution.ok({"approvals": {"del-1": {"kind": "tool-denied", "message": "not today"}}}),
        )
        assert await task == "answer: not today"
        assert CALLS == {"model": 2}  # the denied call never ran

        timing_out = Agent(
            FunctionModel(approve_model),
            name="approving",
            capabilities=[
                EffectHostDurability(),
                HandleDeferredToolCalls(hand_off, timeout=__import__("datetime").timedelta(seconds=0.2)),
            ],
        )
        timing_out.tool_plain(requires_approval=True)(delete)

        @durable_turn(name="pydai-timeout")
        async def timeout_turn(turn: Turn) -> str:
            return (await timing_out.run("clean up")).output

        output = await host.run_turn(timeout_turn, session_id="s", turn_id="timeout")
        assert output.startswith(
            "answer: No decision on this tool call arrived: No resolution arrived within"
        )


def self_approving_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) == 0:
        return ModelResponse(parts=[ToolCallPart("transfer", {"amount": 500}, tool_call_id="t-1")])
    return ModelResponse(parts=[TextPart(str(messages[-1].parts[0].content))])  # type: ignore[union-attr]


async def answer_now(
    ctx: RunContext[None], requests: DeferredToolRequests, token: str
) -> DeferredToolResults:
    CALLS["ask"] += 1
    return requests.build_results(approve_all=True)


self_approving = Agent(
    FunctionModel(self_approving_model),
    name="bank",
    capabilities=[EffectHostDurability(), HandleDeferredToolCalls(answer_now)],
)


@self_approving.tool
def transfer(ctx: RunContext[None], amount: int) -> str:
    CALLS["transfer"] += 1
    if amount > 100 and not ctx.tool_call_approved:
        raise ApprovalRequired()
    return f"sent {amount}"


@durable_turn(name="pydai-bank")
async def bank_turn(turn: Turn) -> str:
    result = await self_approving.run("pay")
    fail_first_drive(turn)
    return result.output


async def test_a_tool_that_asks_for_approval_runs_again_under_its_own_key(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, bank_turn, "s", "bank")
        assert output == "sent 500"
        # asked once, answered at once: the transfer ran twice (asking, then approved), and the
        # re-drive replayed all of it
        assert first == CALLS == {"model": 2, "transfer": 2, "ask": 1}
        keys = await journal(host, "s", "bank")
        assert keys["tool_call:t-1"] == "completed"  # the recorded ApprovalRequired
        assert keys["tool_call:t-1~2"] == "completed"  # the approved call
        assert not any(k.startswith("await_event") for k in keys)  # answered by ask: no wait


async def test_request_input_the_deprecated_name_waits_the_same_way(tmp_path: Any) -> None:
    from pydantic_ai.capabilities import RequestInput

    TOKENS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = Agent(
            FunctionModel(approve_model),
            name="legacy",
            capabilities=[EffectHostDurability(), RequestInput(hand_off)],
        )
    legacy.tool_plain(requires_approval=True)(delete)

    @durable_turn(name="pydai-legacy")
    async def legacy_turn(turn: Turn) -> str:
        return (await legacy.run("clean up")).output

    async with await open_host(f"sqlite:///{tmp_path / 'l.db'}") as host:
        task = asyncio.create_task(host.run_turn(legacy_turn, session_id="s", turn_id="legacy"))
        await first_token()
        for _ in range(1000):  # the token is handed out (the ask step) just before the wait starts
            info = await host.get_turn("s", "legacy")
            if info is not None and info.status is TurnStatus.WAITING:
                break
            await asyncio.sleep(0.01)
        assert info is not None and info.status is TurnStatus.WAITING
        await host.resolve_await_event(
            AwaitEventKey.from_token(TOKENS[0]), Resolution.ok({"approvals": {"del-1": True}})
        )
        assert await task == "answer: deleted /srv/old"


def external_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) == 0:
        return ModelResponse(parts=[ToolCallPart("render", {"doc": "q3"}, tool_call_id="r-1")])
    return ModelResponse(parts=[TextPart("done")])


deferring = Agent(
    FunctionModel(external_model),
    name="deferring",
    output_type=[str, DeferredToolRequests],
    capabilities=[EffectHostDurability()],
)


@deferring.tool_plain
def render(doc: str) -> str:
    CALLS["render"] += 1
    raise CallDeferred(metadata={"queue": "renderer"})  # another system runs it


@durable_turn(name="pydai-deferred")
async def deferred_turn(turn: Turn) -> dict[str, Any]:
    result = await deferring.run("render")
    fail_first_drive(turn)
    output = result.output
    assert isinstance(output, DeferredToolRequests)
    return {"calls": [call.tool_call_id for call in output.calls]}


async def test_a_run_ending_with_deferred_tool_requests_is_a_turn_result(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, deferred_turn, "s", "deferred")
        assert output == {"calls": ["r-1"]}
        assert first == CALLS == {"model": 1, "render": 1}
        assert (await journal(host, "s", "deferred"))["tool_call:r-1"] == "completed"


async def test_a_run_parked_on_an_approval_can_be_cancelled(backend_url: str) -> None:
    TOKENS.clear()
    async with await open_host(backend_url) as host:
        async with Worker(host, turns=[approve_turn], suspend_after_s=0.1, poll_interval_s=0.05) as worker:
            handle = await host.start_turn(approve_turn, session_id="s", turn_id="cancel")
            await parked(host, "s", "cancel", worker)
            await host.cancel_turn("s", "cancel")
            with pytest.raises(EffectHostError) as cancelled:
                await handle.result(timeout=30)
            assert cancelled.value.code == "turn_cancelled"
        assert CALLS == {"model": 1}  # the tool never ran, the model was not asked again
        assert await host.peek_await_event(AwaitEventKey.from_token(TOKENS[0])) == Resolution.CANCELLED
        assert await host.list_outstanding_await_event_keys("s") == []


@durable_turn(name="pydai-run-stream")
async def run_stream_turn(turn: Turn, how: str) -> str:
    if how == "run_stream":
        async with streaming.run_stream("stream") as streamed:
            output = await streamed.get_output()
    else:
        async with streaming.run_stream_events("stream") as events:
            async for event in events:
                if event.event_kind == "agent_run_result":
                    output = event.result.output
    fail_first_drive(turn)
    return str(output)


@pytest.mark.parametrize("how", ["run_stream", "run_stream_events"])
async def test_run_stream_and_run_stream_events_are_journaled_and_replay(how: str, tmp_path: Any) -> None:
    async with await open_host(f"sqlite:///{tmp_path / 'rs.db'}") as host:
        first, output = await redrive(host, run_stream_turn, "s", how, how=how)
        assert output == "all done"
        assert first == CALLS == {"model": 2, "shout2": 1}
        assert await journal(host, "s", how) == {
            "llm_call:streaming__model.request_stream#1": "completed",
            "llm_call:streaming__model.request_stream#2": "completed",
            "tool_call:s1": "completed",
        }


async def test_tools_get_their_idempotency_key_and_a_run_timeout_counts_from_a_journaled_start(
    tmp_path: Any,
) -> None:
    from effecthost import idempotency_key

    keys: list[str] = []
    agent = Agent(TestModel(), name="keyed", capabilities=[EffectHostDurability()])

    @agent.tool_plain
    def sync_tool(x: int) -> str:  # run in a worker thread by pydantic-ai
        keys.append(idempotency_key())
        return "ok"

    @agent.tool_plain
    async def async_tool(x: int) -> str:
        keys.append(idempotency_key())
        return "ok"

    @durable_turn(name="pydai-keyed")
    async def keyed(turn: Turn) -> str:
        result = await agent.run("go", timeout=600)
        fail_first_drive(turn)
        return result.output

    async with await open_host(f"sqlite:///{tmp_path / 'k.db'}") as host:
        _, output = await redrive(host, keyed, "s", "keyed")
        assert output == '{"sync_tool":"ok","async_tool":"ok"}'
        assert sorted(keys) == [
            "s:keyed:0:0:tool_call:pyd_ai_tool_call_id__async_tool",
            "s:keyed:0:0:tool_call:pyd_ai_tool_call_id__sync_tool",
        ]  # and the re-drive called neither again
        assert (await journal(host, "s", "keyed"))[
            "durable_step:pydantic_ai.run_start_time:s:keyed:keyed:run#1"
        ] == ("completed")


# -- MCP -------------------------------------------------------------------------------------------


def mcp_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if responses(messages) == 0:
        return ModelResponse(parts=[ToolCallPart("stock", {"sku": "A-1"}, tool_call_id="mcp-1")])
    return ModelResponse(parts=[TextPart(str(messages[-1].parts[0].content))])  # type: ignore[union-attr]


async def test_an_mcp_tool_call_is_a_tool_call_effect_and_discovery_a_step(tmp_path: Any) -> None:
    import sys
    from pathlib import Path

    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    log = tmp_path / "mcp-calls.log"
    server = Path(__file__).with_name("mcp_server.py")
    inventory = MCPToolset(
        StdioTransport(command=sys.executable, args=[str(server), str(log)]), id="inventory"
    )
    agent = Agent(
        FunctionModel(mcp_model),
        name="inventory",
        toolsets=[inventory],
        capabilities=[EffectHostDurability()],
    )

    @durable_turn(name="pydai-mcp")
    async def mcp_turn(turn: Turn) -> str:
        result = await agent.run("stock?")
        fail_first_drive(turn)
        return result.output

    async with await open_host(f"sqlite:///{tmp_path / 'mcp.db'}") as host:
        first, output = await redrive(host, mcp_turn, "s", "mcp")
        assert output == "A-1: 3 left"
        assert first == CALLS == {"model": 2}
        assert log.read_text() == "stock A-1\n"  # the MCP server ran the tool once, not on the re-drive
        assert await journal(host, "s", "mcp") == {
            "durable_step:inventory__mcp_server__inventory.get_tools#1": "completed",
            "llm_call:inventory__model.request#1": "completed",
            "llm_call:inventory__model.request#2": "completed",
            "tool_call:mcp-1": "completed",
        }


# -- several runs in one turn ------------------------------------------------------------------------


@durable_turn(name="pydai-two-runs")
async def two_runs_turn(turn: Turn) -> list[str]:
    # two runs of one agent at once: each numbers its own effects, so a re-drive, where replayed
    # requests answer at once and live ones take time, finds every effect under its key
    first, second = await asyncio.gather(calc.run("one"), calc.run("two"))
    third = await structured.run("three")
    fail_first_drive(turn)
    return [first.output, second.output, third.output.city]


async def test_runs_in_parallel_in_one_turn_number_their_effects_per_run(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        first, output = await redrive(host, two_runs_turn, "s", "two-runs")
        assert output == ["results: 3, 7, HI", "results: 3, 7, HI", "a"]
        assert first == CALLS == {"model": 4, "add12": 2, "add34": 2, "shout": 2, "lookup": 1}
        keys = await journal(host, "s", "two-runs")
        assert sorted(k for k in keys if k.startswith("llm_call")) == [
            "llm_call:calc__model.request#1",
            "llm_call:calc__model.request#2",
            "llm_call:calc__model.request.run2#1",
            "llm_call:calc__model.request.run2#2",
            "llm_call:structured__model.request.run3#1",
            "llm_call:structured__model.request.run3#2",
        ]
        assert {"tool_call:call-a", "tool_call:call-a.run2", "tool_call:call-c.run2"} <= set(keys)


# -- model errors ------------------------------------------------------------------------------------


def flaky_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if CALLS["model"] == 1:
        raise ModelHTTPError.for_category(
            ModelServerError, status_code=503, model_name="flaky-model", body={"error": "overloaded"}
        )
    return ModelResponse(parts=[TextPart("recovered")])


async def test_a_model_error_replays_with_its_type_so_model_retries_replay_too(backend_url: str) -> None:
    from pydantic_ai.capabilities import RetryOnModelErrors

    agent = Agent(
        FunctionModel(flaky_model),
        name="flaky",
        capabilities=[
            RetryOnModelErrors(max_attempts=3, initial_delay=0.01, max_delay=0.02),
            EffectHostDurability(),
        ],
    )
    seen: list[str] = []

    @durable_turn(name="pydai-flaky")
    async def flaky_turn(turn: Turn) -> str:
        result = await agent.run("hello")
        fail_first_drive(turn)
        return result.output

    @durable_turn(name="pydai-flaky-caught")
    async def caught_turn(turn: Turn) -> str:
        try:
            await Agent(FunctionModel(flaky_model), name="bare", capabilities=[EffectHostDurability()]).run(
                "x"
            )
        except ModelHTTPError as error:  # the model's own error type, on the first run and on a replay
            seen.append(f"{error.status_code} {error.model_name}")
        fail_first_drive(turn)
        return "caught"

    async with await open_host(backend_url) as host:
        first, output = await redrive(host, flaky_turn, "s", "flaky")
        assert output == "recovered"
        assert first == CALLS == {"model": 2}  # the failed attempt replayed as the same error
        keys = await journal(host, "s", "flaky")
        assert keys["llm_call:flaky__model.request#1"] == "failed"
        assert keys["llm_call:flaky__model.request#2"] == "completed"

        CALLS.clear()
        _, output = await redrive(host, caught_turn, "s", "caught")
        assert output == "caught"
        assert seen == ["503 flaky-model", "503 flaky-model"] and CALLS == {"model": 1}


async def test_an_event_stream_handler_on_the_capability_sees_each_event_once(tmp_path: Any) -> None:
    seen: list[str] = []

    async def handler(ctx: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            seen.append(event.event_kind)

    agent = Agent(
        FunctionModel(stream_function=stream_model),
        name="handled",
        capabilities=[EffectHostDurability(event_stream_handler=handler)],
    )
    agent.tool_plain(shout2)

    @durable_turn(name="pydai-handled")
    async def handled_turn(turn: Turn) -> str:
        result = await agent.run("stream")
        fail_first_drive(turn)
        return result.output

    async with await open_host(f"sqlite:///{tmp_path / 'h.db'}") as host:
        first, output = await redrive(host, handled_turn, "s", "handled")
        assert output == "all done"
        assert first == CALLS == {"model": 2, "shout2": 1}
        # the tool events went through journaled steps: the re-drive did not hand them out again
        assert seen.count("function_tool_call") == 1 and seen.count("function_tool_result") == 1
        keys = await journal(host, "s", "handled")
        assert any(k.startswith("durable_step:handled__event_stream_handler#") for k in keys)


async def test_a_conversation_goes_on_in_the_next_turn_through_json_messages(tmp_path: Any) -> None:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    @durable_turn(name="pydai-chat")
    async def chat(turn: Turn, prompt: str, history: list[Any]) -> dict[str, Any]:
        result = await calc.run(prompt, message_history=ModelMessagesTypeAdapter.validate_python(history))
        return {
            "output": result.output,
            "history": ModelMessagesTypeAdapter.dump_python(result.all_messages(), mode="json"),
        }

    async with await open_host(f"sqlite:///{tmp_path / 'chat.db'}") as host:
        one = await host.run_turn(chat, session_id="s", turn_id="1", input={"prompt": "sums", "history": []})
        two = await host.run_turn(
            chat, session_id="s", turn_id="2", input={"prompt": "again", "history": one["history"]}
        )
        assert one["output"] == "results: 3, 7, HI"
        assert len(two["history"]) > len(one["history"])
        assert two["history"][: len(one["history"])] == one["history"]
