"""A turn traced with the real OpenTelemetry SDK: a model call, a tool with a retry, a wait that
suspends the turn under one worker and is resumed by another, a sleep. Each effect's span is
emitted once, by the drive that ran it; replayed effects emit nothing; the second drive continues
the first one's trace; the metrics count what the journal holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from effecthost import (
    DurableEffectHost,
    ExecutionScope,
    LlmCall,
    Resolution,
    RetryPolicy,
    Turn,
    TurnStatus,
    Worker,
    durable_turn,
    open_host,
)

from .conftest import Telemetry

CALLS: Counter[str] = Counter()
FLAKY = {"left": 0}


def model(request: LlmCall) -> dict[str, Any]:
    CALLS["model"] += 1
    return {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5},
    }


def lookup(city: str) -> dict[str, Any]:
    CALLS["lookup"] += 1
    if FLAKY["left"] > 0:
        FLAKY["left"] -= 1
        raise TimeoutError("the weather API timed out")
    return {"city": city, "sky": "clear"}


@durable_turn(name="planner")
async def planner(turn: Turn, city: str) -> dict[str, Any]:
    answer = await turn.llm(
        model, model="gpt-4o", messages=[{"role": "user", "content": f"plan {city}"}], generation={"temperature": 0.2}
    )
    weather = await turn.tool(
        "lookup", lookup, {"city": city}, call_id="call_1", retry=RetryPolicy(attempts=2, initial_s=0.01, max_s=0.01)
    )
    approval = await turn.wait("approve", question={"city": city}, timeout=3600)
    await turn.sleep(0.01)
    return {"id": answer["id"], "weather": weather, "approved": approval.is_ok}


async def _suspended(host: DurableEffectHost, session: str, worker: Worker) -> None:
    for _ in range(1000):
        info = await host.get_turn(session, "t1")
        if info is not None and info.status is TurnStatus.WAITING and worker.active == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the turn never suspended")


async def test_each_effect_is_traced_once_across_a_suspension_and_a_resume_elsewhere(
    backend_url: str, telemetry: Telemetry
) -> None:
    CALLS.clear()
    FLAKY["left"] = 1
    options: dict[str, Any] = {"suspend_after_s": 0.05, "poll_interval_s": 0.05}
    first = await open_host(backend_url, interceptors=[telemetry.interceptor()])
    second = await open_host(backend_url, interceptors=[telemetry.interceptor()])
    try:
        async with Worker(first, turns=[planner], **options) as worker_a:
            handle = await first.start_turn(planner, session_id="s1", turn_id="t1", input={"city": "Lyon"})
            await _suspended(first, "s1", worker_a)
        await asyncio.sleep(0.2)  # the wait lasts: its span reports the whole of it
        async with Worker(second, turns=[planner], **options):
            [event_key] = await second.list_outstanding_await_event_keys("s1")
            await second.resolve_await_event(event_key, Resolution.ok("yes"))
            result = await second.turn_handle("s1", "t1").result(timeout=20)
        assert result == {"approved": True, "id": "chatcmpl-7", "weather": {"city": "Lyon", "sky": "clear"}}
        assert handle.turn_id == "t1"
        assert CALLS == {"model": 1, "lookup": 2}
        rows = await second.browser.list_effects(ExecutionScope.turn("s1", "t1").journal_key())
    finally:
        await first.aclose()
        await second.aclose()

    spans = telemetry.spans()
    drives = sorted(telemetry.named("invoke_agent planner"), key=lambda s: s.start_time or 0)
    effects = [s for s in spans if "effecthost.replay_key" in (s.attributes or {})]
    # one span per journal row, none twice: the second drive replayed five of them silently
    by_key = Counter(str(s.attributes["effecthost.replay_key"]) for s in effects)  # type: ignore[index]
    assert sorted(by_key) == sorted(row.replay_key for row in rows)
    assert set(by_key.values()) == {1}
    assert Counter(s.name for s in effects) == {
        "chat gpt-4o": 1,
        "execute_tool lookup": 2,
        "effecthost.sleep": 2,
        "effecthost.step wait": 1,
        "effecthost.await_event": 1,
    }

    # the second drive (another worker, another host) continues the first drive's trace
    assert len(drives) == 2
    one, two = drives
    assert one.attributes is not None and two.attributes is not None
    assert one.parent is None and two.parent is not None
    assert two.parent.span_id == one.context.span_id
    assert {s.context.trace_id for s in spans} == {one.context.trace_id}
    assert one.attributes["effecthost.turn.outcome"] == "waiting"
    assert two.attributes["effecthost.turn.outcome"] == "completed"
    assert two.attributes["effecthost.turn.resumed_from"] == "waiting"
    assert int(two.attributes["effecthost.turn.suspended_ms"]) >= 150  # type: ignore[arg-type]
    for attrs in (one.attributes, two.attributes):
        assert attrs["gen_ai.operation.name"] == "invoke_agent"
        assert attrs["gen_ai.agent.name"] == "planner"
        assert attrs["gen_ai.conversation.id"] == "s1"
    ran_by = {str(s.attributes["effecthost.replay_key"]).split(":", 4)[4]: s.parent for s in effects}  # type: ignore[index]
    for key in ("llm_call:llm#1", "tool_call:call_1", "await_event:approve#1:deadline"):
        assert ran_by[key] is not None and ran_by[key].span_id == one.context.span_id
    for key in ("await_event:approve#1", "durable_step:sleep#1"):
        assert ran_by[key] is not None and ran_by[key].span_id == two.context.span_id

    [chat] = telemetry.named("chat gpt-4o")
    attrs = dict(chat.attributes or {})
    assert chat.kind.name == "CLIENT"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.system"] == "openai"  # from the response's shape; v1.36 name by default
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.response.id"] == "chatcmpl-7"
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (12, 5)
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.conversation.id"] == "s1"
    assert attrs["effecthost.replayed"] is False
    assert attrs["effecthost.effect.kind"] == "llm_call"
    assert attrs["effecthost.scope"] == ExecutionScope.turn("s1", "t1").journal_key()
    assert len(str(attrs["effecthost.envelope.hash"])) == 64
    assert attrs["effecthost.lease.took_over"] is False
    assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs  # opt-in

    tools = sorted(telemetry.named("execute_tool lookup"), key=lambda s: s.start_time or 0)
    assert [s.kind.name for s in tools] == ["INTERNAL", "INTERNAL"]
    assert [(s.attributes or {}).get("effecthost.attempt") for s in tools] == [1, 2]
    assert [(s.attributes or {}).get("gen_ai.tool.call.id") for s in tools] == ["call_1", "call_1"]
    assert [s.status.status_code.name for s in tools] == ["ERROR", "UNSET"]
    assert (tools[0].attributes or {}).get("error.type") == "turn_step_failed"

    [wait] = telemetry.named("effecthost.await_event")
    wait_attrs = dict(wait.attributes or {})
    assert wait_attrs["effecthost.await.key_id"] == event_key.key_id
    assert wait_attrs["effecthost.await.outcome"] == "ok"
    assert float(wait_attrs["effecthost.await.waited_ms"]) >= 150  # type: ignore[arg-type]
    assert not any(event_key.to_token() in str(v) for s in spans for v in (s.attributes or {}).values())

    # metrics agree with the journal
    effects_by_result = telemetry.counts("effecthost.effects", "effecthost.effect.result")
    failed_rows = sum(row.status == "failed" for row in rows)
    assert effects_by_result[("executed",)] + effects_by_result[("failed",)] == len(rows)
    assert effects_by_result[("failed",)] == failed_rows == 1
    assert effects_by_result[("replayed",)] == 5  # llm, both tool attempts, the backoff, the deadline
    assert telemetry.counts("effecthost.turn.drives", "effecthost.turn.outcome") == {
        ("waiting",): 1,
        ("completed",): 1,
    }
    assert sum(telemetry.counts("effecthost.turns.suspended").values()) == 0
    assert telemetry.counts("gen_ai.client.operation.duration", "gen_ai.request.model") == {("gpt-4o",): 1}
    assert telemetry.counts("gen_ai.client.token.usage", "gen_ai.token.type") == {("input",): 1, ("output",): 1}
    assert telemetry.counts("effecthost.replay.saved.model_calls") == {(): 1}
    assert telemetry.counts("effecthost.replay.saved.tokens", "gen_ai.token.type") == {
        ("input",): 12,
        ("output",): 5,
    }
    assert telemetry.counts("effecthost.wait.duration", "effecthost.wait.kind") == {("await_event",): 1}


@pytest.mark.parametrize("emit_replayed", [False, True])
async def test_replayed_effects_emit_nothing_unless_asked_and_then_under_the_same_span_id(
    telemetry: Telemetry, emit_replayed: bool, tmp_path: Any
) -> None:
    """A re-drive of a failed turn (resume_turn) replays its recorded effects."""
    state = {"fail": True}

    def finish() -> str:
        if state["fail"]:
            raise RuntimeError("not yet")
        return "done"

    @durable_turn(name="resumable")
    async def resumable(turn: Turn) -> str:
        await turn.llm(model, model="openai:gpt-4o", messages=[])
        await turn.tool("lookup", lookup, {"city": "Oslo"})
        return str(await turn.step("finish", finish))

    FLAKY["left"] = 0
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    async with await open_host(url, interceptors=[telemetry.interceptor(emit_replayed=emit_replayed)]) as host:
        with pytest.raises(Exception, match="not yet"):
            await host.run_turn(resumable, session_id="s", turn_id="t")
        state["fail"] = False
        await host.resume_turn("s", "t")
        assert await host.run_turn(resumable, session_id="s", turn_id="t") == "done"
    effects = [s for s in telemetry.spans() if "effecthost.replay_key" in (s.attributes or {})]
    replayed = [s for s in effects if (s.attributes or {}).get("effecthost.replayed")]
    by_key: dict[str, list[Any]] = {}
    for span in effects:
        by_key.setdefault(str((span.attributes or {})["effecthost.replay_key"]), []).append(span)
    if not emit_replayed:
        assert replayed == []
        assert {k: len(v) for k, v in by_key.items()} == {
            "s:t:0:0:llm_call:llm#1": 1,
            "s:t:0:0:tool_call:lookup#1": 1,
            "s:t:0:0:durable_step:finish#1": 1,  # failed once; the resume's attempt is a new key
            "s:t:0:0:durable_step:finish#1:attempt:2": 1,
        }
        return
    assert sorted(str((s.attributes or {})["effecthost.replay_key"]) for s in replayed) == [
        "s:t:0:0:durable_step:finish#1",
        "s:t:0:0:llm_call:llm#1",
        "s:t:0:0:tool_call:lookup#1",
    ]
    for key in ("s:t:0:0:llm_call:llm#1", "s:t:0:0:tool_call:lookup#1"):
        ran, again = by_key[key]
        assert (ran.attributes or {})["effecthost.replayed"] is False
        # the same effect in the same trace: the same span id, so a backend keeps one
        assert ran.context.trace_id == again.context.trace_id
        assert ran.context.span_id == again.context.span_id
    chat_again = by_key["s:t:0:0:llm_call:llm#1"][1]
    assert (chat_again.attributes or {})["gen_ai.system"] == "openai"
