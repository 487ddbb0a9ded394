"""The endpoint the Restate tests serve with hypercorn (a separate process they can SIGKILL).

Its turns are ordinary ``@durable_turn`` functions: the ones both engines run (tests/engine_turns.py)
and Restate's own below, whose crash points sit where Restate journals; ``EffecthostTestVectors``
runs the conformance kit's controller vectors inside a Restate handler against
:class:`RestateController`.
"""

from __future__ import annotations

from typing import Any

import restate
from effecthost import Turn, durable_turn
from effecthost.engines.restate import RestateConfig, RestateController, restate_app
from engine_turns import (
    KILLS,
    SHARED_TURNS,
    fake_model,
    kill_before,
    killed_add,
    lookup,
    pyd_agent,
    run_code,
    run_controller_vector,
    weather_agent,
)

CONFIG = RestateConfig.from_env(journal_budget_bytes=16 * 1024)
# "Always replay": kill_before SIGKILLs the endpoint right after a step's first run returns (its
# journal entry then reaches Restate only if the run's completion was sent); once per step.


@durable_turn
async def killed_often(turn: Turn, tag: str, n: int) -> dict[str, Any]:
    total = 0
    for i in range(n):
        total = await killed_add(tag, total, i)  # killed after every journaled entry before it
    await turn.sleep(0.05)
    kill_before(f"{tag}:end")  # and after the last one, before the result is written
    return {"total": total}


@durable_turn
async def every_kind(turn: Turn, kill_tag: str) -> list[Any]:
    """A tool call, a model call and code execution: each journaled once, replayed after a kill."""
    weather = await lookup("Oslo")
    reply = await turn.llm(fake_model, model="m1", messages=[{"role": "user", "content": "ada"}])
    output = await turn.exec_code("print(1)", run_code)
    kill_before(kill_tag)
    return [weather, reply, output]


@durable_turn
async def mismatching(turn: Turn, tag: str) -> int:
    """Its second run (after the endpoint is killed once) passes another argument: a mismatch."""
    first_run = not (KILLS.exists() and f"mismatch:{tag}" in KILLS.read_text().split())
    value: int = await turn.step("pick", lambda v: v, 1 if first_run else 2)
    kill_before(f"mismatch:{tag}")  # after "pick" is journaled, before anything else is
    return value


@durable_turn
async def weather_killed(turn: Turn, prompt: str) -> dict[str, Any]:
    """The agent's run, then the endpoint is killed once: the retry replays the whole run."""
    result = await weather_agent.run(turn, prompt)
    kill_before(f"agent:{prompt}")
    return result.to_json()


@durable_turn
async def pyd_weather(turn: Turn, prompt: str) -> str:
    """A pydantic-ai run, then the endpoint is killed once: the retry replays the whole run."""
    result = await pyd_agent.run(prompt)
    kill_before(f"pyd:{prompt}")
    return result.output


vectors = restate.Service("EffecthostTestVectors")


@vectors.handler()
async def run_vector(ctx: restate.Context, name: str) -> str:
    return await run_controller_vector(RestateController(ctx, CONFIG), name, "restate_effect_replay_hash_conflict")


app = restate_app(
    [*SHARED_TURNS, killed_often, every_kind, mismatching, weather_killed, pyd_weather],
    CONFIG,
    extra=[vectors],
)
