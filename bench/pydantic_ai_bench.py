"""The same pydantic-ai agent made durable by EffectHostDurability (SQLite) and by pydantic-ai's own
DBOSDurability (DBOS on SQLite), in alternating rounds of one invocation, beside the agent without
durability.

The agent: a FunctionModel that calls a tool three times, one call per model step, then answers:
4 model requests and 3 tool calls, 7 durable units per run on both engines (DBOS's tool is a
``@DBOS.step``, as DBOS documents for function tools). Runs go one after another: effecthost runs
each as a turn (``host.run_turn``), DBOS each as a workflow.

    python bench/pydantic_ai_bench.py [--runs 200] [--rounds 3]

The DBOS side needs a Python with ``pydantic-ai-slim[dbos]``: $EFFECTHOST_PYDAI_PEERS_PYTHON,
default /tmp/pydai-peers/bin/python (``python -m venv /tmp/pydai-peers &&
/tmp/pydai-peers/bin/pip install 'pydantic-ai-slim[dbos]==2.78.0'``); without it the DBOS rows are
skipped. Every measurement runs in a fresh process. One JSON line per measurement, then a summary:
µs per run, the durability's cost per run over the plain agent, and that cost per durable unit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SRC = str(HERE.parents[1] / "src")
UNITS = 7  # 4 model requests + 3 tool calls
PEERS_PYTHON = os.environ.get("EFFECTHOST_PYDAI_PEERS_PYTHON", "/tmp/pydai-peers/bin/python")


def build_agent(capabilities: list[Any], tool_decorator: Any = None) -> Any:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        step = sum(1 for m in messages if m.kind == "response")
        if step < 3:
            return ModelResponse(parts=[ToolCallPart("lookup", {"i": step}, tool_call_id=f"c{step}")])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(model), name="bench_agent", capabilities=capabilities)

    def lookup(i: int) -> int:
        return i * 2

    agent.tool_plain(tool_decorator(lookup) if tool_decorator else lookup)
    return agent


async def measure_effecthost(db: str, runs: int) -> dict[str, Any]:
    from effecthost import Turn, durable_turn, open_host
    from effecthost.integrations.pydantic_ai import EffectHostDurability

    agent = build_agent([EffectHostDurability()])

    @durable_turn(name="bench-run")
    async def one(turn: Turn, i: int) -> str:
        return str((await agent.run(f"run {i}")).output)

    async with await open_host(f"sqlite:///{db}") as host:
        for i in range(10):  # warm
            await host.run_turn(one, session_id="warm", turn_id=f"w{i}", input={"i": i})
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(runs):
            await host.run_turn(one, session_id="bench", turn_id=f"r{i}", input={"i": i})
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"engine": "effecthost", "us_per_run": elapsed / runs * 1e6, "cpu_us_per_run": cpu / runs * 1e6}


async def measure_plain(runs: int) -> dict[str, Any]:
    agent = build_agent([])
    for i in range(10):
        await agent.run(f"warm {i}")
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(runs):
        await agent.run(f"run {i}")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"engine": "none", "us_per_run": elapsed / runs * 1e6, "cpu_us_per_run": cpu / runs * 1e6}


def measure_dbos(db: str, runs: int) -> dict[str, Any]:
    from dbos import DBOS
    from pydantic_ai.durable_exec.dbos import DBOSDurability

    DBOS(
        config={
            "name": "pydai-bench",
            "system_database_url": f"sqlite:///{db}",
            "log_level": "WARNING",
            "run_admin_server": False,
        }
    )
    agent = build_agent([DBOSDurability()], tool_decorator=DBOS.step())

    @DBOS.workflow()
    async def one(i: int) -> str:
        return str((await agent.run(f"run {i}")).output)

    DBOS.launch()

    async def go() -> tuple[float, float]:
        for i in range(10):
            await one(i)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(runs):
            await one(i)
        return time.perf_counter() - start, time.process_time() - cpu

    elapsed, cpu = asyncio.run(go())
    steps = len(DBOS.list_workflow_steps(DBOS.list_workflows(limit=1, sort_desc=True)[0].workflow_id))
    DBOS.destroy()
    return {
        "engine": "dbos",
        "us_per_run": elapsed / runs * 1e6,
        "cpu_us_per_run": cpu / runs * 1e6,
        "steps_per_run": steps,
    }


def child(mode: str, runs: int) -> None:
    db = str(Path(tempfile.mkdtemp()) / f"{mode}.db")
    if mode == "effecthost":
        result = asyncio.run(measure_effecthost(db, runs))
    elif mode == "none":
        result = asyncio.run(measure_plain(runs))
    else:
        result = measure_dbos(db, runs)
    print(json.dumps(result), flush=True)


def spawn(python: str, mode: str, runs: int) -> dict[str, Any] | None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run(
        [python, str(HERE), "--child", mode, "--runs", str(runs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        print(json.dumps({"engine": mode, "error": done.stderr[-2000:]}), flush=True)
        return None
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs)
        return
    has_dbos = Path(PEERS_PYTHON).exists()
    rows: dict[str, list[float]] = {"effecthost": [], "dbos": [], "none": []}
    cpu: dict[str, list[float]] = {"effecthost": [], "dbos": [], "none": []}
    for round_no in range(args.rounds):
        plan = [(sys.executable, "none"), (sys.executable, "effecthost")]
        if has_dbos:
            plan.append((PEERS_PYTHON, "dbos"))
        if round_no % 2:
            plan.reverse()
        for python, mode in plan:
            row = spawn(python, mode, args.runs)
            if row is not None:
                rows[mode].append(row["us_per_run"])
                cpu[mode].append(row["cpu_us_per_run"])
                print(json.dumps({"bench": "pydantic_ai_run", "round": round_no, **row}), flush=True)
    summary: dict[str, Any] = {"bench": "pydantic_ai_summary", "runs": args.runs, "rounds": args.rounds}
    plain = statistics.median(rows["none"]) if rows["none"] else None
    for engine in ("effecthost", "dbos"):
        if not rows[engine]:
            continue
        per_run = statistics.median(rows[engine])
        summary[f"{engine}_us_per_run"] = round(per_run, 1)
        summary[f"{engine}_us_per_unit"] = round(per_run / UNITS, 1)
        if plain is not None:
            summary[f"{engine}_overhead_us_per_run"] = round(per_run - plain, 1)
            summary[f"{engine}_overhead_us_per_unit"] = round((per_run - plain) / UNITS, 1)
    if plain is not None:
        summary["none_us_per_run"] = round(plain, 1)
    if rows["effecthost"] and rows["dbos"]:
        summary["x_cheaper_per_run"] = round(summary["dbos_us_per_run"] / summary["effecthost_us_per_run"], 2)
        if plain is not None:
            summary["x_cheaper_durability_overhead"] = round(
                summary["dbos_overhead_us_per_run"] / summary["effecthost_overhead_us_per_run"], 2
            )
    # CPU time (all threads of the process): what the load of other processes inflates least
    for engine in ("effecthost", "dbos", "none"):
        if cpu[engine]:
            summary[f"{engine}_cpu_us_per_run"] = round(statistics.median(cpu[engine]), 1)
    if cpu["effecthost"] and cpu["dbos"] and cpu["none"]:
        plain_cpu = summary["none_cpu_us_per_run"]
        ours = summary["effecthost_cpu_us_per_run"] - plain_cpu
        theirs = summary["dbos_cpu_us_per_run"] - plain_cpu
        summary["effecthost_cpu_overhead_us_per_unit"] = round(ours / UNITS, 1)
        summary["dbos_cpu_overhead_us_per_unit"] = round(theirs / UNITS, 1)
        summary["x_cheaper_cpu_overhead"] = round(theirs / ours, 2) if ours > 0 else None
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
