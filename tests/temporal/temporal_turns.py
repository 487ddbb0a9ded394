"""The turns the Temporal tests' worker runs (``python -m effecthost.engines.temporal.serve
temporal_turns:TURNS``, a separate process they can SIGKILL): the ones both engines run
(tests/engine_turns.py) and Temporal's own below, whose crash points sit where Temporal's history
is written (a workflow task completes), plus the turns only the Temporal tests use."""

from __future__ import annotations

import os
from typing import Any

from temporalio import workflow

from effecthost import Turn, durable_turn, step
from effecthost.engines.temporal import TemporalController
from engine_turns import (
    SHARED_TURNS,
    add,
    fake_model,
    kill_before,
    killed_add,
    lookup,
    pyd_agent,
    run_code,
    run_controller_vector,
    weather_agent,
)

#: A 16 KiB history budget, so the budget tests stay small.
CONFIG_OPTIONS = {"history_budget_bytes": 16 * 1024}
#: Set in a worker that runs changed turn code (the mismatch test).
CHANGED = os.environ.get("EFFECTHOST_TEST_CHANGED") == "1"


@step
def killer(tag: str) -> None:
    kill_before(tag)


@durable_turn
async def killed_often(turn: Turn, tag: str, n: int) -> dict[str, Any]:
    total = 0
    for i in range(n):
        total = await killed_add(tag, total, i)
        # a timer after each step: the workflow task completes, the step's record is in the
        # history (finalized) before the next step starts and kills the worker
        await turn.sleep(0.01)
    return {"total": total}


@durable_turn
async def changing(turn: Turn, tag: str) -> dict[str, Any]:
    """Asks for a different step after the wait's resolve when the worker runs changed code."""
    first = await add(2 if CHANGED else 1, 1)
    answer = await turn.wait("go")
    return {"first": first, "answer": answer.value}


@durable_turn
async def day_wait(turn: Turn) -> dict[str, Any]:
    await turn.sleep(86_400)
    answer = await turn.wait("tomorrow", timeout=86_400)
    return {"status": answer.status}


@durable_turn
async def every_kind(turn: Turn, kill_tag: str) -> list[Any]:
    """A tool call, a model call and code execution, finalized by a timer, then a step whose
    first run kills the worker: each effect ran once, replayed on the next worker."""
    weather = await lookup("Oslo")
    reply = await turn.llm(fake_model, model="m1", messages=[{"role": "user", "content": "ada"}])
    output = await turn.exec_code("print(1)", run_code)
    await turn.sleep(0.01)
    await killer(kill_tag)
    return [weather, reply, output]


@durable_turn
async def weather_killed(turn: Turn, prompt: str) -> dict[str, Any]:
    """The agent's run, finalized by a timer, then a step whose first run kills the worker: the
    next worker replays the whole run from the history."""
    result = await weather_agent.run(turn, prompt)
    await turn.sleep(0.01)
    await killer(f"agent:{prompt}")
    return result.to_json()


@durable_turn
async def pyd_weather(turn: Turn, prompt: str) -> str:
    """A pydantic-ai run, then the worker is killed once: the next one replays the whole run."""
    result = await pyd_agent.run(prompt)
    await turn.sleep(0.01)
    await killer(f"pyd:{prompt}")
    return result.output


TURNS = [*SHARED_TURNS, killed_often, changing, day_wait, every_kind, weather_killed, pyd_weather]


@workflow.defn(name="EffecthostTestVectors")
class TestVectors:
    """The conformance kit's controller vectors inside a workflow, on :class:`TemporalController`."""

    @workflow.run
    async def run(self, name: str) -> str:
        from effecthost.engines.temporal.workflows import REGISTRY

        controller = TemporalController(REGISTRY[workflow.info().task_queue][1], {})
        return await run_controller_vector(controller, name, "temporal_effect_replay_hash_conflict")


WORKFLOWS = [TestVectors]
