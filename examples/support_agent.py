"""A support agent whose refunds need a human's approval: approve one, reject one (the model is told
why), edit one (a smaller amount), each answered from another host object as a webhook would.

python examples/support_agent.py
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from typing import Any

from effecthost import AwaitEventKey, DurableEffectHost, Resolution, TurnStatus, open_host
from effecthost.agents import (
    Agent,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    agent_tool,
    approve,
    call,
    calls,
    edit,
    reject,
    reply,
)

REFUNDS: list[dict[str, Any]] = []  # what the payment API really did


@agent_tool(needs_approval=True)
def refund(order_id: str, amount_eur: int) -> dict[str, Any]:
    """Refund part of an order (a human approves every refund).

    Args:
        order_id: the order to refund
        amount_eur: how much, in whole euros
    """
    REFUNDS.append({"order_id": order_id, "amount_eur": amount_eur})
    return {"order_id": order_id, "refunded_eur": amount_eur}


def model(request: ModelRequest) -> ModelResponse:
    """A scripted model: ask for a 40 EUR refund, then say what came of it."""
    last = request.messages[-1]
    if last["role"] != "tool":
        order = str(last["content"]).split()[-1]
        return calls(call("refund", {"order_id": order, "amount_eur": 40}, id=f"refund-{order}"))
    if last["is_error"]:
        return reply(f"I could not refund you: {last['content']}")
    done = json.loads(last["content"])
    return reply(f"Refunded {done['refunded_eur']} EUR on {done['order_id']}.")


agent = Agent(
    "support",
    ScriptedModel(model),
    instructions="Refund late orders; a human approves every refund.",
    tools=[refund],
)
support = agent.as_turn()  # a @durable_turn named "support", input {"prompt": ...}


async def webhook(url: str, session_id: str, answer: Resolution) -> dict[str, Any]:
    """Another host object on the same file: read the question the turn waits on, answer it."""
    async with await open_host(url) as other:
        while True:
            info = await other.get_turn(session_id, "turn-1")
            if info is not None and info.status is TurnStatus.WAITING and info.waiting is not None:
                await other.resolve_await_event(AwaitEventKey.from_token(info.waiting["key"]), answer)
                question: dict[str, Any] = info.waiting["question"]
                return question
            await asyncio.sleep(0.01)


async def ask(host: DurableEffectHost, url: str, session_id: str, order: str, answer: Resolution) -> None:
    result, question = await asyncio.gather(
        host.run_turn(support, session_id=session_id, turn_id="turn-1", input={"prompt": f"refund {order}"}),
        webhook(url, session_id, answer),
    )
    print(f"{session_id}: asked to approve {question['tool']}({json.dumps(question['arguments'])})")
    print(f"  answer: {answer.to_json()['payload']}")
    print(
        f"  agent: {result['output']} ({result['stop']}, {result['total']['model_requests']} model requests)"
    )


async def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/support.db"
    async with await open_host(url) as host:
        await ask(host, url, "alice", "A-1", approve())
        await ask(host, url, "bob", "B-2", reject("the order arrived on time"))
        await ask(host, url, "carol", "C-3", edit({"order_id": "C-3", "amount_eur": 25}))
    print("refunds made:", REFUNDS)


if __name__ == "__main__":
    asyncio.run(main())
