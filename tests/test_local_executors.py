"""LocalExecutor's constructors for real work (LLM calls, tool calls, code execution), journaled."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from effecthost import (
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecCode,
    ExecResponse,
    ExecutionScope,
    LlmCall,
    LlmCallOutcome,
    LocalExecutor,
    RuntimeInvocation,
    RuntimeScope,
    ToolCall,
    open_host,
)

SCOPE = ExecutionScope.turn("executors", "turn")


def _envelope(kind: EffectKind, name: str, command: Any) -> EffectEnvelope:
    return EffectEnvelope(RuntimeInvocation.effect(RuntimeScope("executors"), name, kind, name), command)


async def test_llm_tool_and_code_executors_run_once_and_replay(backend_url: str) -> None:
    calls: list[str] = []

    async def model(command: LlmCall) -> Any:
        calls.append(command.model)
        return {"text": "hi", "messages": len(command.messages)}

    def tool(command: ToolCall) -> Any:
        calls.append(command.tool_name)
        return {"sum": command.args["a"] + command.args["b"]}

    def run(command: ExecCode) -> ExecResponse:
        calls.append(command.code)
        return ExecResponse(observations=["3"], terminal_finish=3)

    effects = [
        (_envelope(EffectKind.LLM_CALL, "ask", LlmCall("m-1", [{"role": "user", "content": "hi"}])),
         LocalExecutor.llm_call(model), {"type": "llm_call", "result": {"Ok": {"text": "hi", "messages": 1}},
                                         "text_streamed": False}),
        (_envelope(EffectKind.TOOL_CALL, "add", ToolCall("call-1", "add", {"a": 1, "b": 2})),
         LocalExecutor.tool_call(tool), {"type": "tool_call", "launch": {"status": "done", "result": {"sum": 3}}}),
        (_envelope(EffectKind.EXEC_CODE, "calc", ExecCode("1 + 2")),
         LocalExecutor.exec_code(run), None),
    ]  # fmt: skip
    async with await open_host(backend_url) as host:
        controller = host.scoped(SCOPE).controller
        first = [await controller.execute_effect(envelope, executor) for envelope, executor, _ in effects]
        again = [await controller.execute_effect(envelope, LocalExecutor.unavailable()) for envelope, _, _ in effects]
    assert calls == ["m-1", "add", "1 + 2"]  # each ran once; the second drive replayed
    assert [o.to_json() for o in first] == [o.to_json() for o in again]
    assert [o.to_json() for o, (_, _, want) in zip(first, effects, strict=True) if want] == [
        want for _, _, want in effects if want
    ]
    assert first[2].into_exec_code() == ExecResponse(observations=["3"], terminal_finish=3)


async def test_a_coded_error_from_a_model_is_the_effects_error_and_replays() -> None:
    def refuse(_: LlmCall) -> Any:
        raise EffectHostError("provider_rate_limited", "try again in 20 s")

    envelope = _envelope(EffectKind.LLM_CALL, "ask", LlmCall("m-1"))
    async with await open_host(f"memory://{uuid.uuid4().hex}") as host:
        controller = host.scoped(SCOPE).controller
        for executor in (LocalExecutor.llm_call(refuse), LocalExecutor.unavailable()):
            with pytest.raises(EffectHostError) as caught:
                await controller.execute_effect(envelope, executor)
            assert (caught.value.code, caught.value.message) == ("provider_rate_limited", "try again in 20 s")


async def test_a_provider_error_can_be_recorded_as_data() -> None:
    envelope = _envelope(EffectKind.LLM_CALL, "ask", LlmCall("m-1"))
    outcome = LlmCallOutcome(error={"type": "overloaded"})
    async with await open_host(f"memory://{uuid.uuid4().hex}") as host:
        done = await host.scoped(SCOPE).controller.execute_effect(envelope, LocalExecutor.llm_call(lambda _: outcome))
    assert done.to_json()["result"] == {"Err": {"type": "overloaded"}}


async def test_an_executor_of_another_kind_is_a_coded_mismatch_and_records_nothing() -> None:
    envelope = _envelope(EffectKind.TOOL_CALL, "add", ToolCall("call-1", "add", {}))
    async with await open_host(f"memory://{uuid.uuid4().hex}") as host:
        controller = host.scoped(SCOPE).controller
        for executor in (LocalExecutor.llm_call(lambda c: 1), LocalExecutor.exec_code(lambda c: "x"),
                         LocalExecutor.durable_step(lambda v: v)):  # fmt: skip
            with pytest.raises(EffectHostError) as caught:
                await controller.execute_effect(envelope, executor)
            assert caught.value.code == "runtime_effect_local_executor_mismatch"
        assert await host.browser.get_row(SCOPE.journal_key(), "add") is None
        bad = _envelope(EffectKind.EXEC_CODE, "calc", ExecCode("x"))
        with pytest.raises(EffectHostError) as caught:
            await controller.execute_effect(bad, LocalExecutor.exec_code(lambda c: 42))  # type: ignore[arg-type, return-value]
        assert caught.value.code == "runtime_effect_local_executor_mismatch"
