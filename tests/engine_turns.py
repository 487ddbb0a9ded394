"""The test turns both engines run, written once: the Restate endpoint (tests/restate/endpoint_app.py)
and the Temporal worker (tests/temporal/temporal_turns.py) import them beside their own, so a turn
of the same name is the same code on both (and the shared cases can expect the same outcomes).

Ordinary ``@durable_turn`` code, imported in the engine's own process (the endpoint or worker,
which the tests can SIGKILL); effects leave marks in a file the tests read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from pydantic_ai import Agent as PydAgent
from pydantic_ai.messages import ModelMessage, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.messages import ModelResponse as PydResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel

from effecthost import DurableTurn, LlmCall, Resolution, RetryPolicy, Turn, durable_turn, step, tool
from effecthost.agents import (
    Agent,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    agent_tool,
    call,
    calls,
    reply,
)
from effecthost.integrations.pydantic_ai import EffectHostDurability
from engine_timeline import early, gated, timeline

#: Where effects leave a mark when they really run (the tests count the lines).
MARKS = Path(os.environ.get("EFFECTHOST_TEST_MARKS", "/tmp/effecthost-engine-marks"))
#: The tags :func:`kill_before` has killed its process for (each kills once).
KILLS = Path(os.environ.get("EFFECTHOST_TEST_KILLS", "/tmp/effecthost-engine-kills"))


def mark(text: str) -> None:
    with MARKS.open("a") as f:
        f.write(text + "\n")


def kill_before(tag: str) -> None:
    """SIGKILL this process (the endpoint or worker) the first time ``tag`` is reached; what the
    engine recorded before it is all a retry has."""
    done = KILLS.read_text().split() if KILLS.exists() else []
    if tag in done:
        return
    with KILLS.open("a") as f:
        f.write(tag + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


@step
def add(a: int, b: int) -> int:
    mark(f"add {a} {b}")
    return a + b


@durable_turn
async def three_steps(turn: Turn, x: int) -> dict[str, Any]:
    a = await add(x, 1)
    b = await add(a, 2)
    c = await add(b, 3)
    return {"result": c}


@step
async def killed_add(tag: str, a: int, b: int) -> int:
    kill_before(f"{tag}:add:{a}:{b}")  # the process dies before this step's first run
    mark(f"{tag} {a} {b}")
    return a + b


@durable_turn
async def approval(turn: Turn, user: str, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109
    first = await add(1, 1)
    answer: Resolution = await turn.wait("approve", question={"user": user}, timeout=timeout)
    return {"first": first, "status": answer.status, "value": answer.value}


@durable_turn
async def two_waits(turn: Turn) -> dict[str, Any]:
    a, b = await asyncio.gather(turn.wait("a"), turn.wait("b"))
    return {"a": a.value, "b": b.value}


@durable_turn
async def staggered_waits(turn: Turn, tag: str) -> dict[str, Any]:
    """Two concurrent waits, each followed by a step that marks that the turn went on past it
    (the tests then see the turn still reported waiting, on the other)."""

    async def one(name: str) -> Any:
        answer = await turn.wait(name, question={"which": name})
        await turn.step(f"past_{name}", mark, f"{tag} past {name}")
        return answer.value

    a, b = await asyncio.gather(one("a"), one("b"))
    return {"a": a, "b": b}


@durable_turn
async def wait_beside_steps(turn: Turn, tag: str) -> dict[str, Any]:
    """Steps issued one after another while a wait is parked beside them."""

    async def steps() -> int:
        # (a workflow timer on Temporal) the wait is parked by now: these steps are issued beside it
        await asyncio.sleep(0.3)
        total = 0
        for i in range(3):
            total = await add(total, i)
        mark(f"{tag} steps done")
        return total

    answer, total = await asyncio.gather(turn.wait("go"), steps())
    return {"answer": answer.value, "total": total}


@tool
def lookup(city: str) -> dict[str, Any]:
    mark(f"lookup {city}")
    return {"city": city, "temp": 21}


def fake_model(call: LlmCall) -> dict[str, Any]:
    mark(f"llm {call.model}")
    return {"text": f"hello {call.messages[-1]['content']}"}


def run_code(source: str) -> str:
    mark("exec")
    return f"ran {source}"


@durable_turn
async def long_sleep(turn: Turn) -> str:
    await add(0, 0)
    await turn.sleep(3600)
    return "woke"


@durable_turn
async def big_result(turn: Turn, size: int) -> int:
    text = await turn.step("make", lambda n: "x" * n, size)
    return len(text)


@durable_turn
async def big_input(turn: Turn, size: int) -> int:
    """A step whose arguments (its envelope) exceed the engine's budget: refused before the
    engine records anything."""
    length: int = await turn.step("measure", len, "x" * size)
    return length


@durable_turn
async def flaky(turn: Turn, tag: str) -> int:
    def attempt() -> int:
        runs = MARKS.read_text().count(f"flaky {tag}\n") if MARKS.exists() else 0
        mark(f"flaky {tag}")
        if runs < 2:
            raise ValueError(f"attempt {runs + 1} fails")
        return runs + 1

    value: int = await turn.call(
        "attempt", attempt, retry=RetryPolicy(attempts=3, initial_s=0.01, jitter=0.0)
    )
    return value


@durable_turn
async def fails(turn: Turn) -> None:
    def boom() -> None:
        raise ValueError("boom")

    await turn.step("boom", boom)


# -- the same agent code as on the SQL hosts: an effecthost Agent and a pydantic-ai agent --------


@agent_tool
def forecast(city: str) -> dict[str, Any]:
    """Today's forecast for a city.

    Args:
        city: the city (the tests pass the session id, so marks are per test)
    """
    mark(f"{city} agent tool")
    return {"city": city, "temp": 21}


def agent_model(request: ModelRequest) -> ModelResponse:
    tag = next(str(m["content"]) for m in request.messages if m["role"] == "user")
    mark(f"{tag} agent model")
    last = request.messages[-1]
    if last["role"] != "tool":
        return calls(call("forecast", {"city": tag}, id="forecast-1"))
    return reply(f"It is {json.loads(last['content'])['temp']} C")


weather_agent = Agent("weather", ScriptedModel(agent_model), tools=[forecast])
weather = weather_agent.as_turn()  # the @durable_turn "weather", input {"prompt": ...}


async def pyd_model(messages: list[ModelMessage], info: AgentInfo) -> PydResponse:
    tag = next(str(part.content) for m in messages for part in m.parts if isinstance(part, UserPromptPart))
    mark(f"{tag} pyd model")
    returns = [part for m in messages for part in m.parts if isinstance(part, ToolReturnPart)]
    if not returns:
        return PydResponse(parts=[ToolCallPart("pyd_forecast", {"city": tag}, tool_call_id="call-1")])
    return PydResponse(parts=[TextPart(f"It is {returns[0].content} C")])


pyd_agent = PydAgent(FunctionModel(pyd_model), name="pydweather", capabilities=[EffectHostDurability()])


@pyd_agent.tool_plain
def pyd_forecast(city: str) -> int:
    mark(f"{city} pyd tool")
    return 21


async def run_controller_vector(controller: Any, name: str, mismatch_code: str) -> str:
    """The conformance kit's controller vector ``name`` on an engine's controller, run inside the
    engine (a Restate handler, a Temporal workflow): ``"ok <runs>"``, or what went wrong. The kit
    is imported here, inside the run (the Temporal workflow's sandbox passes effecthost through)."""
    from effecthost import EffectHostError
    from effecthost.testing.conformance import (
        ConformanceFailure,
        effect_controller_concurrent_replay_deterministic,
        effect_controller_durable_steps_replay,
        effect_controller_replay_mismatch_diagnostics,
    )

    try:
        if name == "durable_steps_replay":
            await effect_controller_durable_steps_replay(controller, controller.start_replay)
        elif name == "concurrent_replay":
            await effect_controller_concurrent_replay_deterministic(controller, controller.start_replay)
        elif name == "mismatch":
            await effect_controller_replay_mismatch_diagnostics(controller, mismatch_code)
        else:
            return f"unknown vector {name}"
    except ConformanceFailure as failure:
        return f"failed: {failure}"
    except EffectHostError as err:
        return f"error: {err}"
    return f"ok {controller.runs}"


#: The turns both engines register (each adds its own: the turns whose crash points differ).
SHARED_TURNS: list[DurableTurn[Any]] = [
    three_steps,
    approval,
    two_waits,
    staggered_waits,
    wait_beside_steps,
    long_sleep,
    big_result,
    big_input,
    flaky,
    fails,
    weather,
    timeline,
    gated,
    early,
]
