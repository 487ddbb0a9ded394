"""The persisted names (pinned: changing them strands turns in flight), dynamic toolsets, and
telemetry: a re-drive's replayed model requests emit no spans and count no tokens again."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai import Agent, FunctionToolset
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.durable_exec import (
    CapabilityOperationId,
    EventStreamHandlerId,
    ModelCancelSuspendedResponseId,
    ModelCompactMessagesId,
    ModelCountTokensId,
    ModelRequestId,
    ToolsetCallToolId,
    ToolsetGetInstructionsId,
    ToolsetGetToolsId,
    ToolsetValidateToolArgumentsId,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.tools import RunContext
from pydantic_ai.toolsets import DynamicToolset

from effecthost import EffectHostError, ExecutionScope, Turn, durable_turn, open_host
from effecthost.integrations.pydantic_ai import ENGINE_SPEC, EffectHostDurability, EffectHostOperationBackend

CALLS: Counter[str] = Counter()


def test_operation_names_are_pinned() -> None:
    namer = EffectHostOperationBackend(agent_name="support", default_model_id="openai:gpt-5").namer
    ids: list[Any] = [
        ModelRequestId(None, model_name="gpt-5"),
        ModelRequestId("openai:gpt-5", model_name="gpt-5"),
        ModelRequestId("fast", streaming=True, model_name="mini"),
        ModelCountTokensId(None, model_name="gpt-5"),
        ModelCompactMessagesId(None, model_name="gpt-5"),
        ModelCancelSuspendedResponseId(None, model_name="gpt-5"),
        EventStreamHandlerId(),
        CapabilityOperationId("memory", operation="recall"),
        ToolsetGetToolsId("dynamic", toolset_id="search"),
        ToolsetGetToolsId("mcp", toolset_id="github"),
        ToolsetGetInstructionsId("github"),
        ToolsetValidateToolArgumentsId("function", toolset_id="<agent>"),
        ToolsetCallToolId("function", toolset_id="<agent>"),
        ToolsetCallToolId("mcp", toolset_id="github"),
        ToolsetCallToolId("dynamic", toolset_id="search"),
    ]
    assert [namer.operation_name(operation_id) for operation_id in ids] == [
        "support__model.request",
        "support__model.request",
        "support__model.request_stream.fast",
        "support__model.count_tokens",
        "support__model.compact_messages",
        "support__model.cancel_suspended_response",
        "support__event_stream_handler",
        "support__capability__memory.recall",
        "support__dynamic_toolset__search.get_tools",
        "support__mcp_server__github.get_tools",
        "support__mcp_server__github.get_instructions",
        "support__function_toolset__<agent>.validate_args",
        "support__function_toolset__<agent>.call_tool",
        "support__mcp_server__github.call_tool",
        "support__dynamic_toolset__search.call_tool",
    ]


def test_the_engine_spec_is_pinned() -> None:
    assert (ENGINE_SPEC.engine_name, ENGINE_SPEC.durable_unit_noun, ENGINE_SPEC.durable_container_noun) == (
        "effecthost",
        "effect",
        "turn",
    )
    assert ENGINE_SPEC.wrapped_toolset_kinds == {"function", "mcp", "dynamic"}
    assert dict(ENGINE_SPEC.toolset_lifecycles) == {
        "function": "enter-always",
        "mcp": "enter-in-durable-unit",
        "dynamic": "enter-never",
    }
    assert not ENGINE_SPEC.sequential_tools_in_durable_context
    assert ENGINE_SPEC.tool_config_key == "effecthost"


def test_an_agent_needs_a_name() -> None:
    with pytest.raises(Exception, match="unique `name`"):
        Agent(
            FunctionModel(lambda m, i: ModelResponse(parts=[TextPart("x")])),
            capabilities=[EffectHostDurability()],
        )


# -- dynamic toolsets ------------------------------------------------------------------------------


def dynamic_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if not any(m.kind == "response" for m in messages):
        return ModelResponse(parts=[ToolCallPart("lookup_order", {"order": 7}, tool_call_id="o-7")])
    return ModelResponse(parts=[TextPart(str(messages[-1].parts[0].content))])  # type: ignore[union-attr]


orders = FunctionToolset(id="orders")


@orders.tool_plain
def lookup_order(order: int) -> str:
    CALLS["lookup_order"] += 1
    return f"order {order}: shipped"


def choose_tools(ctx: RunContext[None]) -> FunctionToolset[None]:
    CALLS["choose"] += 1
    return orders


shop = Agent(
    FunctionModel(dynamic_model),
    name="shop",
    toolsets=[DynamicToolset(choose_tools, id="by_user")],
    capabilities=[EffectHostDurability()],
)


@durable_turn(name="pydai-dynamic")
async def shop_turn(turn: Turn) -> str:
    result = await shop.run("where is my order")
    if turn.attempt == 1:
        raise RuntimeError("after the run")
    return result.output


async def test_a_dynamic_toolset_call_is_a_tool_call_and_its_discovery_a_step(tmp_path: Any) -> None:
    CALLS.clear()
    async with await open_host(f"sqlite:///{tmp_path / 'dyn.db'}") as host:
        with pytest.raises(EffectHostError):
            await host.run_turn(shop_turn, session_id="s", turn_id="dyn")
        first = Counter(CALLS)
        await host.resume_turn("s", "dyn")
        assert await host.run_turn(shop_turn, session_id="s", turn_id="dyn") == "order 7: shipped"
        assert first["model"] == CALLS["model"] == 2
        assert first["lookup_order"] == CALLS["lookup_order"] == 1
        rows = await host.browser.list_effects(ExecutionScope.turn("s", "dyn").journal_key())
        keys = {row.replay_key.removeprefix("s:dyn:0:0:") for row in rows}
        assert "tool_call:o-7" in keys
        assert any(key.startswith("durable_step:shop__dynamic_toolset__by_user.get_tools#") for key in keys)


# -- telemetry -------------------------------------------------------------------------------------


def priced_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    CALLS["model"] += 1
    if not any(m.kind == "response" for m in messages):
        return ModelResponse(parts=[ToolCallPart("ping", {}, tool_call_id="ping-1")])
    return ModelResponse(parts=[TextPart("pong")])


async def test_a_redrive_emits_no_spans_and_counts_no_tokens_for_replayed_requests(tmp_path: Any) -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    agent = Agent(
        FunctionModel(priced_model),
        name="traced",
        capabilities=[
            Instrumentation(
                settings=InstrumentationSettings(
                    tracer_provider=tracer_provider, meter_provider=meter_provider
                )
            ),
            EffectHostDurability(),
        ],
    )

    @agent.tool_plain
    def ping() -> str:
        return "pong"

    def token_count() -> int:
        data = metrics.get_metrics_data()
        total = 0
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "gen_ai.client.token.usage":
                        total += sum(int(point.sum) for point in metric.data.data_points)  # type: ignore[union-attr]
        return total

    @durable_turn(name="pydai-traced")
    async def traced(turn: Turn) -> str:
        result = await agent.run("ping")
        if turn.attempt == 1:
            raise RuntimeError("after the run")
        return result.output

    CALLS.clear()
    async with await open_host(f"sqlite:///{tmp_path / 'otel.db'}") as host:
        with pytest.raises(EffectHostError):
            await host.run_turn(traced, session_id="s", turn_id="otel")
        first = [span.name for span in spans.get_finished_spans()]
        tokens = token_count()
        assert sum(name.startswith("chat ") for name in first) == 2
        assert tokens > 0
        spans.clear()
        await host.resume_turn("s", "otel")
        assert await host.run_turn(traced, session_id="s", turn_id="otel") == "pong"
        again = [span.name for span in spans.get_finished_spans()]
        assert CALLS["model"] == 2
        assert not any(name.startswith("chat ") for name in again)  # replayed requests: no spans
        assert not any(name.startswith("execute_tool") for name in again)
        assert token_count() == tokens  # nor tokens counted a second time
