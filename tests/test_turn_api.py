"""The turn API's own rules, on memory, a SQLite file and PostgreSQL: the payload budget, what
retries, idempotency keys, nested effects, model and code effects, durable sleeps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from effecthost import (
    EffectHostError,
    ExecResponse,
    LlmCall,
    RetryPolicy,
    Turn,
    TurnStatus,
    durable_turn,
    idempotency_key,
    open_host,
    step,
)


async def _code(call: Any) -> str:
    try:
        await call
    except EffectHostError as err:
        return err.code
    raise AssertionError("no error")


async def test_the_payload_budget_refuses_before_writing(backend_url: str) -> None:
    @durable_turn(name="budget")
    async def fn(turn: Turn, size: int) -> str:
        try:
            value = await turn.step("big", lambda: "x" * size)
        except EffectHostError as err:
            return err.code
        return str(value) * 2  # a result twice the step's value

    async with await open_host(backend_url, max_turn_payload_bytes=1000) as host:
        assert await _code(host.start_turn(fn, session_id="s", turn_id="in", input={"p": "y" * 2000})) == (
            "turn_payload_too_large"
        )
        assert await host.get_turn("s", "in") is None  # nothing was written
        # a step's value over the budget: the step fails with the code (journaled, replayed)
        assert await host.run_turn(fn, session_id="s", turn_id="step", input={"size": 5000}) == (
            "turn_payload_too_large"
        )
        # a result over the budget (a step value within it, twice): the turn fails with the code
        assert await _code(host.run_turn(fn, session_id="s", turn_id="result", input={"size": 600})) == (
            "turn_payload_too_large"
        )
        info = await host.get_turn("s", "result")
        assert info is not None and info.status is TurnStatus.FAILED


class Flaky(Exception):
    pass


async def test_retry_on_picks_what_retries_and_the_key_is_stable(backend_url: str) -> None:
    keys: list[str] = []
    raised = {"flaky": 2, "fatal": 1}

    def work(kind: str) -> str:
        keys.append(idempotency_key())
        if raised[kind] > 0:
            raised[kind] -= 1
            raise Flaky(kind) if kind == "flaky" else KeyError(kind)
        return kind

    policy = RetryPolicy(attempts=4, initial_s=0.001, retry_on=(Flaky,))

    @durable_turn(name="retry_on")
    async def fn(turn: Turn) -> list[Any]:
        first = await turn.call("work", work, ("flaky",), retry=policy)
        try:
            await turn.call("work", work, ("fatal",), retry=policy)
        except EffectHostError as err:
            return [first, err.code, (err.summary or {}).get("exception", [])[:1]]
        return [first]

    async with await open_host(backend_url) as host:
        result = await host.run_turn(fn, session_id="s", turn_id="t")
    assert result == ["flaky", "turn_step_failed", ["builtins.KeyError"]]
    # three attempts of the first call share one key, the second call has its own
    assert len(keys) == 4 and len(set(keys[:3])) == 1 and keys[3] != keys[0]
    assert keys[0].endswith(":durable_step:work#1") and keys[3].endswith(":durable_step:work#2")
    assert await _code(asyncio.ensure_future(_outside_key())) == "turn_context_missing"


async def _outside_key() -> str:
    return idempotency_key()


async def test_effects_inside_a_step_body_are_refused(backend_url: str) -> None:
    @step
    async def inner() -> int:
        return 1

    @durable_turn(name="nested")
    async def fn(turn: Turn) -> str:
        async def outer() -> int:
            return await inner()

        try:
            await turn.step("outer", outer)
        except EffectHostError as err:
            return err.code
        return "ran"

    async with await open_host(backend_url) as host:
        # the refusal is the body's own coded error, journaled as the step's
        assert await host.run_turn(fn, session_id="s", turn_id="t") == "invalid_argument"
        info = await host.get_turn("s", "t")
        assert info is not None and info.result == "invalid_argument"


async def test_model_and_code_effects_run_once_across_a_resume(backend_url: str) -> None:
    calls: list[str] = []

    def model(request: LlmCall) -> dict[str, Any]:
        calls.append(f"llm:{request.model}")
        return {"text": f"hello {request.messages[-1]['content']}"}

    def run(source: str) -> ExecResponse | str:
        calls.append("exec")
        return f"ran {source}"

    fail_once = {"left": 1}

    def maybe_fail() -> None:
        if fail_once["left"]:
            fail_once["left"] -= 1
            raise RuntimeError("transient")

    @durable_turn(name="model_and_code")
    async def fn(turn: Turn) -> list[Any]:
        reply = await turn.llm(model, model="m1", messages=[{"role": "user", "content": "ada"}])
        output = await turn.exec_code("print(1)", run)
        await turn.step("fragile", maybe_fail)
        return [reply, output]

    async with await open_host(backend_url) as host:
        assert await _code(host.run_turn(fn, session_id="s", turn_id="t")) == "turn_step_failed"
        await host.resume_turn("s", "t")
        result = await host.run_turn(fn, session_id="s", turn_id="t")
    assert result == [{"text": "hello ada"}, "ran print(1)"]
    assert calls == ["llm:m1", "exec"], "the model and the code ran once; the resume replayed them"


async def test_a_sleep_is_reported_and_its_due_time_kept(backend_url: str) -> None:
    @durable_turn(name="sleeper")
    async def fn(turn: Turn) -> str:
        await turn.sleep(0.3)
        return "awake"

    async with await open_host(backend_url) as host:
        task = asyncio.ensure_future(host.run_turn(fn, session_id="s", turn_id="t"))
        seen = set()
        while not task.done():
            info = await host.get_turn("s", "t")
            if info is not None:
                seen.add(info.status)
                if info.status is TurnStatus.SLEEPING:
                    assert info.waiting is not None and info.waiting["kind"] == "sleep"
            await asyncio.sleep(0.02)
        assert await task == "awake"
        assert TurnStatus.SLEEPING in seen


@pytest.mark.parametrize("bad", [-1, float("nan"), "1", 10**12])
async def test_bad_sleeps_and_timeouts_are_coded(backend_url: str, bad: Any) -> None:
    @durable_turn(name="bad_sleep")
    async def fn(turn: Turn, which: str) -> str:
        try:
            if which == "sleep":
                await turn.sleep(bad)
            else:
                await turn.wait("w", timeout=bad)
        except EffectHostError as err:
            return err.code
        return "slept"

    async with await open_host(backend_url) as host:
        for which in ("sleep", "wait"):
            got = await host.run_turn(fn, session_id="s", turn_id=which, input={"which": which})
            assert got == "invalid_argument"
