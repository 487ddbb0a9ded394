"""A pydantic-ai agent on effecthost: a durable run, an approval across a suspension, a replay.

pip install 'effecthost[pydantic-ai]'; python examples/pydantic_ai_approval.py
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter

from pydantic_ai import Agent
from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, RunContext

from effecthost import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ExecutionScope,
    Resolution,
    Turn,
    TurnInfo,
    TurnStatus,
    Worker,
    durable_turn,
    open_host,
)
from effecthost.integrations.pydantic_ai import EffectHostDurability

CALLS: Counter[str] = Counter()  # what really ran: a replayed model request or tool call runs nothing
OUTBOX: list[str] = []  # the resume tokens handed to the approver (a Slack message, an email)


def scripted_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Stands in for a real model ('openai:gpt-5', ...): two stock checks at once, then a refund."""
    CALLS["model"] += 1
    answered = sum(1 for message in messages if message.kind == "response")
    if answered == 0:
        return ModelResponse(
            parts=[
                ToolCallPart("check_stock", {"sku": "A-1"}, tool_call_id="call-1"),
                ToolCallPart("check_stock", {"sku": "B-2"}, tool_call_id="call-2"),
            ]
        )
    if answered == 1:
        return ModelResponse(
            parts=[ToolCallPart("refund", {"order": 1042, "amount": 30}, tool_call_id="call-3")]
        )
    last = [part for part in messages[-1].parts if isinstance(part, ToolReturnPart)]
    return ModelResponse(parts=[TextPart(f"Sorry about that: {last[0].content}.")])


async def notify_approver(ctx: RunContext[object], requests: DeferredToolRequests, token: str) -> None:
    OUTBOX.append(token)  # hand the token to whoever approves; returning None waits for them


agent = Agent(
    FunctionModel(scripted_model),
    name="support",
    capabilities=[EffectHostDurability(), HandleDeferredToolCalls(notify_approver)],
)


@agent.tool_plain
def check_stock(sku: str) -> str:
    CALLS["check_stock"] += 1
    return f"{sku}: out of stock"


@agent.tool_plain(requires_approval=True)
def refund(order: int, amount: int) -> str:
    CALLS["refund"] += 1
    return f"refunded {amount} EUR on order {order}"


@durable_turn
async def support_ticket(turn: Turn, ticket: str) -> str:
    result = await agent.run(ticket)  # journaled in this turn: model requests, tool calls, the wait
    return result.output


async def parked(host: DurableEffectHost, worker: Worker) -> TurnInfo:
    """Until the run waits for its approval and no task of the worker holds it (suspended)."""
    while True:
        info = await host.get_turn("ticket-1042", "refund")
        if info is not None and info.status is TurnStatus.WAITING and worker.active == 0:
            return info
        await asyncio.sleep(0.01)


async def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/agents.db"
    ticket = {"ticket": "Both items I ordered never shipped."}
    async with await open_host(url) as host:
        try:  # outside a turn nothing would be journaled: refused, never run silently
            await agent.run("hello")
        except EffectHostError as error:
            print("outside a turn:", error.code)

        async with Worker(host, turns=[support_ticket], suspend_after_s=0.2, poll_interval_s=0.05) as worker:
            handle = await host.start_turn(
                support_ticket, session_id="ticket-1042", turn_id="refund", input=ticket
            )
            info = await parked(host, worker)
            assert info.waiting is not None
            print(
                "parked:",
                info.status,
                "suspended:",
                worker.suspended,
                "token handed out:",
                [info.waiting["key"]] == OUTBOX,
            )
            print("question:", info.waiting["question"]["approvals"])

            # The approver, in another process (here: another host on the same file), resolves the
            # token; `effecthost await resolve TOKEN --ok JSON` or POST /v1/await-events/TOKEN/resolve
            # do the same. The worker re-drives the run: everything recorded replays.
            async with await open_host(url) as approver:
                approval = Resolution.ok({"approvals": {"call-3": True}})
                await approver.resolve_await_event(AwaitEventKey.from_token(OUTBOX[0]), approval)
            result = await handle.result(timeout=30)
            print("result:", result)
        print("calls:", sorted(CALLS.items()), "tokens:", len(OUTBOX))

        rows = await host.browser.list_effects(ExecutionScope.turn("ticket-1042", "refund").journal_key())
        for row in sorted(rows, key=lambda row: row.replay_key):
            print(f"  {row.status:<9} {row.replay_key}")

        # After a crash, run_turn (or any worker) finishes the same turn; once it ended, it answers
        # with the recorded result and runs nothing.
        CALLS.clear()
        again = await host.run_turn(support_ticket, session_id="ticket-1042", turn_id="refund", input=ticket)
        print("again:", again == result, "calls:", sorted(CALLS.items()))


if __name__ == "__main__":
    asyncio.run(main())
