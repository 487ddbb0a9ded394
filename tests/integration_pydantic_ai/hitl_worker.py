"""A worker process for the human-in-the-loop test: ``python hitl_worker.py URL LOG MODE``.

Its agent asks for approval before ``delete`` runs; the approval handler writes the resume token
to LOG (``token {token}``) and returns None, so the run waits on the turn's await event. The tool
writes ``delete {path}`` when it runs. MODE ``run`` drives until stopped (the turn suspends on its
wait: ``suspend_after_s`` is short); ``drain`` exits 0 once no turn of the session is live.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pydantic_ai import Agent
from pydantic_ai.capabilities import HandleDeferredToolCalls
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, RunContext

from effecthost import Turn, Worker, durable_turn, open_host
from effecthost.integrations.pydantic_ai import EffectHostDurability

SESSION = "pydai-hitl"
_LOG = ""


def _append(line: str) -> None:
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    _append("model")
    if not any(m.kind == "response" for m in messages):
        return ModelResponse(parts=[ToolCallPart("delete", {"path": "/srv/old"}, tool_call_id="del-1")])
    return ModelResponse(parts=[TextPart(f"answer: {messages[-1].parts[0].content}")])  # type: ignore[union-attr]


async def hand_off(ctx: RunContext[None], requests: DeferredToolRequests, token: str) -> None:
    _append(f"token {token}")  # a Slack message, an email: whoever approves gets the token


agent = Agent(
    FunctionModel(model),
    name="janitor",
    capabilities=[EffectHostDurability(), HandleDeferredToolCalls(hand_off)],
)


@agent.tool_plain(requires_approval=True)
def delete(path: str) -> str:
    _append(f"delete {path}")
    return f"deleted {path}"


@durable_turn(name="pydai-hitl")
async def cleanup(turn: Turn, prompt: str) -> str:
    return (await agent.run(prompt)).output


async def _main(url: str, mode: str) -> None:
    async with await open_host(url, lease_ttl_s=1.0) as host:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        async with Worker(host, [cleanup], suspend_after_s=0.2, poll_interval_s=0.05) as worker:
            while True:
                await asyncio.sleep(0.1)
                if mode == "drain" and worker.active == 0:
                    live = await host.list_turns(session_id=SESSION, status="pending")
                    live += await host.list_turns(session_id=SESSION, status="running")
                    live += await host.list_turns(session_id=SESSION, status="waiting")
                    if not live:
                        return


if __name__ == "__main__":
    _LOG = sys.argv[2]
    asyncio.run(_main(sys.argv[1], sys.argv[3]))
