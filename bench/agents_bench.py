"""The durable agent loop's cost per step (one model request + one tool call), against the same loop
without a host, and against pydantic-ai with its DBOS durability, in one run.

Usage: python bench/agents_bench.py [--turns 20] [--steps 10] [--rounds 3] [--instructions]
       [--no-dbos] [--peers-python /tmp/agents-peers/bin/python]

The workload: ``turns`` turns, each ``steps`` model requests that each ask for one tool call, then a
final answer (so ``steps`` + 1 model requests and ``steps`` tool calls a turn). The model is
scripted (no network, fixed usage), the tool returns a small dict. Per step = the time of all turns
over ``turns * steps``; the final request of each turn is counted in, as it is on every side.

Sides, each run in this one command, rounds alternating their order:

- ``plain``: the same loop (the library's request/response types, tool validation and JSON) with
  no host: nothing journaled, what the loop costs by itself;
- ``durable``: ``Agent.run`` in a durable turn on memory, SQLite (``synchronous=full``, the
  default, and ``normal``): each model request an ``llm_call``, each tool call a ``tool_call``;
- ``dbos``: pydantic-ai's ``Agent`` wrapped in ``DBOSAgent`` (DBOS on the same kind of SQLite
  file), its ``FunctionModel`` answering the same script, the same tool: each model request and
  each tool call a DBOS step. Run in a scratch venv (``--peers-python``, made with
  ``python3 -m venv /tmp/agents-peers && /tmp/agents-peers/bin/pip install 'pydantic-ai-slim[dbos]' dbos``);
  skipped with a ``{"skipped"}`` line when it is missing.

``--instructions`` also counts instructions with callgrind (plain; durable on memory and SQLite
``normal`` and ``full``; DBOS): (a run of N steps - a run of 0 steps) / N, the figure a noisy
machine cannot move (it counts CPU work in the process, not the time its fsyncs wait). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from effecthost import Turn, durable_turn, open_host  # noqa: E402
from effecthost._private.core import canonical  # noqa: E402
from effecthost.agents import (  # noqa: E402
    Agent,
    AgentLimits,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    ToolCallPart,
    Usage,
    agent_tool,
)


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


@agent_tool
def lookup(key: str, index: int) -> dict[str, Any]:
    """Look a key up.

    Args:
        key: what to look up
        index: which step asks
    """
    return {"key": key, "index": index, "value": index * 7}


def script_for(steps: int) -> ScriptedModel:
    def answer(request: ModelRequest) -> ModelResponse:
        done = (len(request.messages) - 2) // 2  # system, user, then (assistant, tool) per step
        if done >= steps:
            return ModelResponse(text="done", usage=Usage(100, 5))
        call = ToolCallPart(f"call_{done}", "lookup", {"key": "k", "index": done})
        return ModelResponse(text=None, tool_calls=(call,), usage=Usage(100, 10))

    return ScriptedModel(answer, name="bench")


def make_agent(steps: int) -> Agent:
    return Agent(
        "bench",
        script_for(steps),
        instructions="Look things up.",
        tools=[lookup],
        limits=AgentLimits(max_model_requests=steps + 2, max_tool_calls=steps + 1),
    )


async def plain_run(agent: Agent, prompt: str) -> str:
    """The loop without a host: the same types, validation and JSON, nothing journaled."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": agent.instructions},
        {"role": "user", "content": prompt},
    ]
    specs = tuple(tool.spec for tool in agent.tools.values())
    while True:
        response = await agent.model.request(ModelRequest(agent.model.model, list(messages), specs, {}))
        messages.append(response.assistant_message())
        if not response.tool_calls:
            return response.text or ""
        for call in response.tool_calls:
            tool = agent.tools[call.name]
            assert isinstance(call.arguments, dict)
            value = tool.to_jsonable(tool.fn(**tool.validate(call.arguments)))
            content = value if isinstance(value, str) else canonical.dumps(canonical.normalize(value))
            messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                             "content": content, "is_error": False})  # fmt: skip


async def run_plain(turns: int, steps: int) -> float:
    agent = make_agent(steps)
    started = time.perf_counter()
    for i in range(turns):
        assert await plain_run(agent, f"turn {i}") == "done"
    return time.perf_counter() - started


async def run_durable(url: str, turns: int, steps: int) -> float:
    agent = make_agent(steps)

    @durable_turn(name="bench")
    async def bench(turn: Turn, prompt: str) -> str:
        return (await agent.run(turn, prompt)).unwrap()

    async with await open_host(url) as host:
        started = time.perf_counter()
        for i in range(turns):
            prompt = {"prompt": f"turn {i}"}
            answer = await host.run_turn(bench, session_id="bench", turn_id=f"t{i}", input=prompt)
            assert answer == "done"
        return time.perf_counter() - started


# -- pydantic-ai + DBOS (run by the peers' interpreter) ----------------------------------------------

DBOS_SCRIPT = r'''
import asyncio, json, sys, time
from dbos import DBOS, DBOSConfig
from pydantic_ai import Agent
from pydantic_ai.durable_exec.dbos import DBOSAgent
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

db, turns, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def answer(messages, info: AgentInfo) -> ModelResponse:
    done = sum(1 for m in messages for p in m.parts if isinstance(p, ToolReturnPart))
    if done >= steps:
        return ModelResponse(parts=[TextPart("done")], usage=RequestUsage(input_tokens=100, output_tokens=5))
    call = ToolCallPart("lookup", {"key": "k", "index": done}, tool_call_id=f"call_{done}")
    return ModelResponse(parts=[call], usage=RequestUsage(input_tokens=100, output_tokens=10))

agent = Agent(FunctionModel(answer), name="bench", instructions="Look things up.")

@agent.tool_plain
def lookup(key: str, index: int) -> dict:
    """Look a key up."""
    return {"key": key, "index": index, "value": index * 7}

DBOS(config=DBOSConfig(name="agents-bench", system_database_url=f"sqlite:///{db}"))
dbos_agent = DBOSAgent(agent)
DBOS.launch()

async def main():
    started = time.perf_counter()
    for i in range(turns):
        result = await dbos_agent.run(f"turn {i}")
        assert result.output == "done", result.output
    print(json.dumps({"seconds": time.perf_counter() - started}))

asyncio.run(main())
DBOS.destroy()
'''


def run_dbos(python: str, directory: str, turns: int, steps: int) -> float:
    script = Path(directory) / "dbos_agents_bench.py"
    script.write_text(DBOS_SCRIPT)
    db = Path(directory) / f"dbos-{time.time_ns()}.sqlite"
    done = subprocess.run([python, str(script), str(db), str(turns), str(steps)], capture_output=True,
                          text=True, timeout=1800, check=False, cwd=directory)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


# -- instructions ---------------------------------------------------------------------------------


async def child(side: str, turns: int, steps: int, directory: str) -> None:
    if side == "plain":
        await run_plain(turns, steps)
    elif side == "memory":
        await run_durable("memory://agents-bench", turns, steps)
    else:
        await run_durable(f"sqlite:///{directory}/instr-{steps}.db?synchronous={side}", turns, steps)


def instructions(side: str, turns: int, steps: int, peers_python: str = "") -> int:
    directory = tempfile.mkdtemp(prefix="effecthost-agents-instr-")
    try:
        if side == "dbos":  # the peers' interpreter runs pydantic-ai's DBOSAgent on a SQLite file
            script = Path(directory) / "dbos_agents_bench.py"
            script.write_text(DBOS_SCRIPT)
            command = [peers_python, str(script), f"{directory}/dbos.sqlite", str(turns), str(steps)]
        else:
            command = [sys.executable, __file__, "--child", side, "--turns", str(turns),
                       "--steps", str(steps), "--dir", directory]  # fmt: skip
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"valgrind run failed: {done.stderr[-1500:]}")
        return int(found.group(1))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--no-dbos", action="store_true")
    parser.add_argument("--peers-python", default=os.environ.get("EFFECTHOST_AGENT_PEERS_PYTHON",
                                                                 "/tmp/agents-peers/bin/python"))  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.turns, args.steps, args.dir))
        return
    n = args.turns * args.steps
    directory = tempfile.mkdtemp(prefix="effecthost-agents-bench-")
    dbos = not args.no_dbos and Path(args.peers_python).exists()
    if not dbos:
        emit(bench="agents", side="dbos", skipped=f"no pydantic-ai[dbos] interpreter at {args.peers_python}")
    sides = ["plain", "memory", "sqlite-full", "sqlite-normal", *(["dbos"] if dbos else [])]
    seconds: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for round_no in range(args.rounds):
            order = sides if round_no % 2 == 0 else list(reversed(sides))
            for side in order:
                if side == "plain":
                    took = asyncio.run(run_plain(args.turns, args.steps))
                elif side == "memory":
                    took = asyncio.run(run_durable(f"memory://bench-{round_no}", args.turns, args.steps))
                elif side.startswith("sqlite"):
                    sync = side.split("-")[1]
                    url = f"sqlite:///{directory}/agents-{round_no}-{sync}.db?synchronous={sync}"
                    took = asyncio.run(run_durable(url, args.turns, args.steps))
                else:
                    took = run_dbos(args.peers_python, directory, args.turns, args.steps)
                seconds[side].append(took)
                emit(bench="agents", side=side, round=round_no + 1, per_step_us=round(took / n * 1e6, 1))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    median = {side: statistics.median(values) / n * 1e6 for side, values in seconds.items()}
    summary: dict[str, Any] = {
        "summary": "agents_per_step_us", "turns": args.turns, "steps": args.steps, "rounds": args.rounds,
        **{side: round(us, 1) for side, us in median.items()},
    }
    for side in ("memory", "sqlite-full", "sqlite-normal"):
        summary[f"{side}_overhead_us"] = round(median[side] - median["plain"], 1)
    if dbos:
        summary["dbos_over_sqlite_full"] = round(median["dbos"] / median["sqlite-full"], 2)
        summary["dbos_overhead_over_sqlite_full_overhead"] = round(
            (median["dbos"] - median["plain"]) / (median["sqlite-full"] - median["plain"]), 2
        )
    emit(**summary)
    if args.instructions and shutil.which("valgrind"):
        steps = min(args.steps, 10)
        turns = min(args.turns, 5)
        counts: dict[str, int] = {}
        for side in ("plain", "memory", "normal", "full", *(["dbos"] if dbos else [])):
            full = instructions(side, turns, steps, args.peers_python)
            empty = instructions(side, turns, 0, args.peers_python)
            counts[side] = round((full - empty) / (turns * steps))
            name = {"normal": "sqlite-normal", "full": "sqlite-full"}.get(side, side)
            emit(bench="agents_instructions", side=name, instructions_per_step=counts[side])
        summary = {"summary": "agents_instructions_per_step", **counts,
                   "memory_overhead": counts["memory"] - counts["plain"],
                   "sqlite_normal_overhead": counts["normal"] - counts["plain"]}  # fmt: skip
        if "dbos" in counts:
            summary["dbos_over_sqlite_full"] = round(counts["dbos"] / counts["full"], 2)
        emit(**summary)


if __name__ == "__main__":
    main()
