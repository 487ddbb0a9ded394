"""The agent of the crash tests, and the child process that runs it until it kills itself.

As a script: ``python crash_agent.py URL PROVIDER_URL LOG`` imports everything once, prints
``ready``, then for each ``TURN_ID KILL_AT`` line on stdin forks a child process that runs the
agent's turn with ``host.run_turn`` and SIGKILLs itself at boundary number KILL_AT (from 1; 0:
never), waits for it and prints ``exit {code} {boundaries passed}`` (a forked child skips the
seconds of imports a new interpreter would spend on each kill point). The
boundaries, in the order the turn reaches them: before each effect starts, after each effect is
recorded, inside each model request once the provider has answered (before the answer is
journaled), inside each tool once its side effect is done (before it returns). It prints the
number of boundaries it passed when it finishes.

The turn: the model asks for two tool calls at once, then one more, then answers. Tools append
``{turn_id} {call_id} {pid}`` to LOG (fsynced) as their side effect, so a test counts executions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from effecthost import DurableEffectHost, Turn, current_turn, durable_turn, open_host
from effecthost.agents import (
    Agent,
    AgentLimits,
    ModelRequest,
    ModelResponse,
    OpenAIModel,
    agent_tool,
    call,
    calls,
    reply,
)
from effecthost.interceptors import EffectResult, ExecuteEffectInput, Interceptor

LEASE_TTL_S = 2.0  # long enough for a loaded machine; the recoveries wait for it together
SESSION = "crash-agents"
_LOG = ""
_KILL_AT = 0
_PASSED = 0


def boundary() -> None:
    global _PASSED
    _PASSED += 1
    if _PASSED == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def _append(line: str) -> None:
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _side_effect(call_id: str) -> None:
    _append(f"{current_turn().turn_id} {call_id} {os.getpid()}")
    boundary()


@agent_tool
async def inventory(sku: str) -> dict[str, Any]:
    """Units in stock.

    Args:
        sku: the product
    """
    _side_effect(f"inventory-{sku}")
    await asyncio.sleep(0.005)
    return {"sku": sku, "units": len(sku) * 7}


@agent_tool
def reserve(sku: str, units: int) -> dict[str, Any]:
    """Reserve units of a product.

    Args:
        sku: the product
        units: how many
    """
    _side_effect(f"reserve-{sku}")
    return {"sku": sku, "reserved": units}


SCRIPT = [
    calls(call("inventory", {"sku": "red"}, id="inv_red"), call("inventory", {"sku": "blue"}, id="inv_blue")),
    calls(call("reserve", {"sku": "blue", "units": 3}, id="res_blue")),
    reply("Reserved 3 blue; red has 21 in stock."),
]
ANSWER = "Reserved 3 blue; red has 21 in stock."
#: Model requests by their effect id, and the conversation position the provider sees them at.
REQUESTS = {"stock#1": 0, "stock#2": 1, "stock#3": 2}
TOOL_CALLS = ("inv_red", "inv_blue", "res_blue")


class BoundaryModel(OpenAIModel):
    """The OpenAI client, with a boundary once the provider has answered (before the journal)."""

    async def request(self, request: ModelRequest, on_text: Any = None) -> ModelResponse:
        response = await super().request(request, on_text)
        boundary()
        return response


class Boundaries(Interceptor):
    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        boundary()
        result = await self.next.execute_effect(input)
        boundary()
        return result


def build(provider_url: str) -> tuple[Agent, Any]:
    model = BoundaryModel("stock-model", base_url=f"{provider_url}/v1", api_key="sk-local")
    agent = Agent("stock", model, instructions="Check stock, reserve.", tools=[inventory, reserve],
                  limits=AgentLimits(max_model_requests=5))  # fmt: skip

    @durable_turn(name="stock")
    async def stock(turn: Turn, prompt: str) -> dict[str, Any]:
        return (await agent.run(turn, prompt)).to_json()

    return model, stock


async def open_crash_host(url: str) -> DurableEffectHost:
    return await open_host(url, lease_ttl_s=LEASE_TTL_S, interceptors=[Boundaries()])


async def main(url: str, provider_url: str, turn_id: str) -> None:
    model, stock = build(provider_url)
    async with await open_crash_host(url) as host:
        await host.run_turn(stock, session_id=SESSION, turn_id=turn_id, input={"prompt": f"stock for {turn_id}"})
    await model.aclose()


def zygote(url: str, provider_url: str, log: str) -> None:
    global _LOG, _KILL_AT, _PASSED
    import openai  # noqa: F401  (imported here once, not in every child: the SDK takes seconds)

    print("ready", flush=True)
    for line in sys.stdin:
        turn_id, kill_at = line.split()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: runs the turn, reports how far it got, unless it is killed first
            os.close(read)
            _LOG, _KILL_AT, _PASSED = log, int(kill_at), 0
            asyncio.run(main(url, provider_url, turn_id))
            os.write(write, str(_PASSED).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as passed:
            count = passed.read() or "0"
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)} {count}", flush=True)


def configure(log: str) -> None:
    """For the test process's own (recovering) drives: log tool runs, never kill."""
    global _LOG, _KILL_AT
    _LOG, _KILL_AT = log, 0


if __name__ == "__main__":
    zygote(sys.argv[1], sys.argv[2], sys.argv[3])
