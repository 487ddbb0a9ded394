"""Content capture, the conventions' opt-in, replay mismatches, an interceptor with no SDK."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from effecthost import EffectHostError, LlmCall, Turn, durable_turn, open_host
from effecthost.contrib.otel import OTelInterceptor

from .conftest import Telemetry


def anthropic_model(request: LlmCall) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Lyon"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 9, "output_tokens": 2},
    }


@durable_turn(name="asker")
async def asker(turn: Turn) -> Any:
    answer = await turn.llm(
        anthropic_model,
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "secret question"}],
        tools=[{"name": "lookup"}],
    )
    await turn.tool("lookup", lambda city: {"secret": city}, {"city": "Lyon"})
    return answer["id"]


async def _run(interceptor: OTelInterceptor) -> None:
    async with await open_host(f"memory://{uuid.uuid4().hex}", interceptors=[interceptor]) as host:
        assert await host.run_turn(asker, session_id="s", turn_id="t") == "msg_01"


async def test_content_is_off_by_default_and_v1_36_names_are_the_default(telemetry: Telemetry) -> None:
    await _run(telemetry.interceptor(environ={}))
    [chat] = telemetry.named("chat claude-sonnet-4-5")
    [tool] = telemetry.named("execute_tool lookup")
    attrs = dict(chat.attributes or {})
    assert attrs["gen_ai.system"] == "anthropic" and "gen_ai.provider.name" not in attrs
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (9, 2)
    everything = str([dict(s.attributes or {}) for s in telemetry.spans()])
    assert "secret" not in everything and "Lyon" not in everything
    assert "gen_ai.tool.call.arguments" not in (tool.attributes or {})


async def test_content_capture_and_the_latest_conventions_are_opt_in(telemetry: Telemetry) -> None:
    environ = {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    interceptor = telemetry.interceptor(environ=environ)
    assert interceptor.capture_content and interceptor.latest_conventions
    await _run(interceptor)
    [chat] = telemetry.named("chat claude-sonnet-4-5")
    [tool] = telemetry.named("execute_tool lookup")
    attrs = dict(chat.attributes or {})
    assert attrs["gen_ai.provider.name"] == "anthropic" and "gen_ai.system" not in attrs
    assert attrs["gen_ai.input.messages"] == '[{"content":"secret question","role":"user"}]'
    assert '"text":"Lyon"' in str(attrs["gen_ai.output.messages"])
    assert attrs["gen_ai.tool.definitions"] == '[{"name":"lookup"}]'
    tool_attrs = dict(tool.attributes or {})
    assert tool_attrs["gen_ai.tool.call.arguments"] == '{"city":"Lyon"}'
    assert tool_attrs["gen_ai.tool.call.result"] == '{"secret":"Lyon"}'
    # the explicit option wins over the environment
    assert not telemetry.interceptor(environ=environ, capture_content=False).capture_content


async def test_a_replay_mismatch_is_an_event_with_the_divergent_paths(telemetry: Telemetry) -> None:
    state: dict[str, Any] = {"city": "Lyon", "fail": True}

    def later() -> str:
        if state["fail"]:
            raise RuntimeError("later")
        return "ok"

    @durable_turn(name="changing")
    async def changing(turn: Turn) -> str:
        await turn.step("fetch", lambda city: city, state["city"])
        return str(await turn.step("later", later))

    async with await open_host(
        f"memory://{uuid.uuid4().hex}", interceptors=[telemetry.interceptor()]
    ) as host:
        with pytest.raises(EffectHostError, match="later"):
            await host.run_turn(changing, session_id="s", turn_id="t")
        state.update(city="Paris", fail=False)  # the code changed under a recorded effect
        await host.resume_turn("s", "t")
        with pytest.raises(EffectHostError) as caught:
            await host.run_turn(changing, session_id="s", turn_id="t")
    assert caught.value.is_replay_mismatch()
    second = [
        s
        for s in telemetry.named("invoke_agent changing")
        if (s.attributes or {})["effecthost.turn.attempt"] == 2
    ]
    [drive] = second
    [event] = [e for e in drive.events if e.name == "effecthost.replay_mismatch"]
    attrs = dict(event.attributes or {})
    assert attrs["effecthost.replay_key"] == "s:t:0:0:durable_step:fetch#1"
    assert attrs["effecthost.mismatch.divergent_paths"] == ("command.input[0]",)
    assert attrs["effecthost.mismatch.divergent_path_count"] == 1
    assert attrs["error.type"] == caught.value.code
    assert (drive.attributes or {})["error.type"] == caught.value.code
    assert telemetry.counts("effecthost.replay.mismatches", "effecthost.effect.kind") == {
        ("durable_step",): 1
    }
    assert telemetry.counts("effecthost.turn.drives", "effecthost.turn.outcome") == {("failed",): 2}


async def test_without_an_sdk_the_interceptor_records_nothing_and_changes_nothing() -> None:
    # no provider given and none set globally (this test process never sets one): the API's
    # proxies are all there is, and the interceptor passes every call straight through
    interceptor = OTelInterceptor()
    assert interceptor._idle()
    await _run(interceptor)


async def test_an_outage_at_finalize_ends_the_effect_span_in_error(telemetry: Telemetry) -> None:
    from effecthost import (
        EffectEnvelope,
        EffectKind,
        ExecutionScope,
        LocalExecutor,
        RuntimeInvocation,
        RuntimeScope,
        ToolCall,
    )
    from effecthost.testing import Faults

    envelope = EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("s", "t", 0, 0), "call_1", EffectKind.TOOL_CALL, "s:t:0:0:tool_call:call_1"
        ),
        ToolCall("call_1", "lookup", {"city": "Lyon"}),
    )
    faults = Faults().fail("finalize")
    url = faults.url(f"memory://{uuid.uuid4().hex}")
    async with await open_host(url, interceptors=[telemetry.interceptor()]) as host:
        controller = host.scoped(ExecutionScope.turn("s", "t")).controller
        with pytest.raises(EffectHostError) as caught:
            await controller.execute_effect(envelope, LocalExecutor.tool_call(lambda call: call.args["city"]))
    assert caught.value.code == "memory_effect_replay_store"
    [tool] = telemetry.named("execute_tool lookup")  # it ran: its span is there, in error
    assert tool.status.status_code.name == "ERROR"
    assert (tool.attributes or {})["error.type"] == "memory_effect_replay_store"
    assert (tool.attributes or {})["gen_ai.tool.call.id"] == "call_1"
    assert telemetry.counts("effecthost.effects", "effecthost.effect.result") == {("failed",): 1}
    assert telemetry.counts("effecthost.leases.lost") == {}
