"""Approvals on memory, a SQLite file and PostgreSQL: a tool that needs approval parks the loop on
an await event whose question shows the tool and its arguments; approve, reject (the reason reaches
the model), edit the arguments, time out, cancel; resolved by another host object, over HTTP, and
while a Worker has the turn suspended."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from server_support import AUTH, live_server, make_app

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
)
from effecthost.agents import (
    Agent,
    AgentLimits,
    AgentResult,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    StopReason,
    agent_tool,
    approve,
    call,
    calls,
    edit,
    reject,
    reply,
)

REFUNDS: list[dict[str, Any]] = []


@agent_tool(needs_approval=True)
def refund(order: str, amount: int) -> dict[str, Any]:
    """Refund part of an order.

    Args:
        order: the order id
        amount: how much, in euros
    """
    REFUNDS.append({"order": order, "amount": amount})
    return {"refunded": amount, "order": order}


def support_model(request: ModelRequest) -> ModelResponse:
    """Asks for a refund, then reports what the tool said."""
    last = request.messages[-1]
    if last["role"] == "tool":
        return reply(f"tool said: {last['content']} (error={last['is_error']})")
    return calls(call("refund", {"order": "A1", "amount": 30}, id="r1"), text="Refunding.")


def make_agent(**limits: Any) -> Agent:
    return Agent("support", ScriptedModel(support_model), tools=[refund], limits=AgentLimits(**limits))


RESULTS: dict[str, AgentResult] = {}


def turn_of(agent: Agent) -> Any:
    @durable_turn(name="support")
    async def support(turn: Turn, prompt: str) -> dict[str, Any]:
        RESULTS[turn.turn_id] = await agent.run(turn, prompt)
        return RESULTS[turn.turn_id].to_json()

    return support


async def waiting_question(host: DurableEffectHost, turn_id: str) -> dict[str, Any]:
    while True:
        info = await host.get_turn("s", turn_id)
        if info is not None and info.status is TurnStatus.WAITING and info.waiting is not None:
            keys = await host.list_outstanding_await_event_keys("s")
            if keys:
                return info.waiting
        await asyncio.sleep(0.01)


async def suspended(worker: Worker) -> None:
    for _ in range(3000):
        if worker.suspended > 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never suspended the turn")


async def approve_elsewhere(url: str, turn_id: str, answer: Resolution) -> dict[str, Any]:
    """Another host object on the same substrate, as a webhook handler: read the question, resolve."""
    async with await open_host(url) as webhook:
        waiting = await waiting_question(webhook, turn_id)
        outcome = await webhook.resolve_await_event(AwaitEventKey.from_token(waiting["key"]), answer)
        assert outcome.status == "accepted"
        return waiting


@pytest.mark.parametrize(
    ("answer", "said", "refunds"),
    [
        (approve(), 'tool said: {"order":"A1","refunded":30} (error=False)', [{"order": "A1", "amount": 30}]),
        (reject("over the limit"), "tool said: not run: rejected by the approver: over the limit (error=True)", []),
        (edit({"order": "A1", "amount": 20}), 'tool said: {"order":"A1","refunded":20} (error=False)',
         [{"order": "A1", "amount": 20}]),
        (edit({"order": "A1", "amount": "lots"}), "tool said: not run: the approver's arguments: amount:", []),
        (Resolution.err("denied", "nope"), "tool said: not run: rejected by the approver: nope (error=True)", []),
    ],
    ids=["approve", "reject", "edit", "edit-invalid", "err"],
)
async def test_an_approval_from_another_host_object(
    backend_url: str, answer: Resolution, said: str, refunds: list[dict[str, Any]]
) -> None:
    REFUNDS.clear()
    async with await open_host(backend_url) as host:
        result, waiting = await asyncio.gather(
            host.run_turn(turn_of(make_agent()), session_id="s", turn_id="t", input={"prompt": "refund A1"}),
            approve_elsewhere(backend_url, "t", answer),
        )
        assert waiting["name"] == "approve-refund"
        assert waiting["question"] == {
            "agent": "support",
            "tool": "refund",
            "call_id": "r1",
            "arguments": {"order": "A1", "amount": 30},
            "description": "Refund part of an order.",
        }
        assert result["stop"] == "final_answer"
        assert result["output"].startswith(said)
        assert refunds == REFUNDS
        rows = await host.browser.list_effects(ExecutionScope.turn("s", "t").journal_key())
        keys = {row.replay_key.split(":0:0:", 1)[1] for row in rows}
        assert "await_event:approval:r1" in keys
        assert ("tool_call:r1" in keys) == bool(refunds)


async def test_an_approval_that_times_out_is_told_to_the_model(backend_url: str) -> None:
    REFUNDS.clear()
    async with await open_host(backend_url) as host:
        result = await host.run_turn(
            turn_of(make_agent(approval_timeout_s=0.2)), session_id="s", turn_id="t", input={"prompt": "x"}
        )
    assert result["output"] == (
        "tool said: not run: not approved in time: no approval arrived before the deadline (error=True)"
    )
    assert REFUNDS == []


async def test_cancelling_a_turn_parked_on_an_approval(backend_url: str) -> None:
    REFUNDS.clear()
    async with await open_host(backend_url) as host:
        task = asyncio.create_task(
            host.run_turn(turn_of(make_agent()), session_id="s", turn_id="t", input={"prompt": "x"})
        )
        await waiting_question(host, "t")
        await host.cancel_turn("s", "t")
        with pytest.raises(EffectHostError) as raised:
            await task
        assert raised.value.code == "turn_cancelled"
        info = await host.get_turn("s", "t")
        assert info is not None and info.status is TurnStatus.CANCELLED
    assert RESULTS["t"].stop is StopReason.CANCELLED
    assert REFUNDS == []


async def test_an_approval_over_http_wakes_a_suspended_turn(backend_url: str) -> None:
    """A Worker suspends the turn on its approval (no task holds it); the service's resolve route,
    called over real HTTP, wakes it; the re-drive replays the model request and runs the refund."""
    REFUNDS.clear()
    agent = make_agent()
    model = agent.model
    assert isinstance(model, ScriptedModel)
    support = turn_of(agent)
    async with (
        await open_host(backend_url) as host,
        live_server(make_app(backend_url)) as base,
        Worker(host, [support], suspend_after_s=0.05, poll_interval_s=0.05) as worker,
    ):
        handle = await host.start_turn(support, session_id="s", turn_id="t", input={"prompt": "x"})
        waiting = await waiting_question(host, "t")
        await suspended(worker)
        assert worker.active == 0 and model.requests == 1
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as client:
            answer = await client.post(
                f"/v1/await-events/{waiting['key']}/resolve",
                json={"status": "ok", "payload": {"approved": True}},
            )
            assert answer.status_code == 200, answer.text
        result = await handle.result(timeout=30)
    assert result["output"] == 'tool said: {"order":"A1","refunded":30} (error=False)'
    assert REFUNDS == [{"order": "A1", "amount": 30}]
    assert model.requests == 2  # the first request replayed on the re-drive
    assert result["replayed"]["model_requests"] == 1 and result["executed"]["model_requests"] == 1


async def test_an_edit_from_another_process_wakes_a_suspended_turn(backend_url: str) -> None:
    """The approver is another process: ``effecthost await resolve TOKEN --ok JSON`` on the same URL."""
    if backend_url.startswith("memory://"):
        pytest.skip("a memory substrate lives in one process")
    REFUNDS.clear()
    support = turn_of(make_agent())
    async with (
        await open_host(backend_url) as host,
        Worker(host, [support], suspend_after_s=0.05, poll_interval_s=0.05) as worker,
    ):
        handle = await host.start_turn(support, session_id="s", turn_id="t", input={"prompt": "x"})
        waiting = await waiting_question(host, "t")
        await suspended(worker)
        edited = json.dumps({"approved": True, "arguments": {"order": "A1", "amount": 5}})
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "effecthost", "await", "resolve", waiting["key"], "--url", backend_url,
             "--ok", edited],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "accepted"
        result = await handle.result(timeout=30)
    assert result["output"] == 'tool said: {"order":"A1","refunded":5} (error=False)'
    assert REFUNDS == [{"order": "A1", "amount": 5}]
