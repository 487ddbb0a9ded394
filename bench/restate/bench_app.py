"""The endpoint bench/restate_bench.py serves: an effecthost turn of N steps beside a plain
Restate handler doing the same N ``ctx.run`` steps, and a turn whose replay is timed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import restate
from effecthost import Resolution, Turn, durable_turn, step
from effecthost.engines.restate import RestateConfig, restate_app

CONFIG = RestateConfig.from_env()
MARKS = Path(os.environ.get("EFFECTHOST_BENCH_MARKS", "/tmp/effecthost-restate-bench"))


def inc(i: int) -> int:
    return i + 1


@step
def journaled_inc(i: int) -> int:
    return i + 1


@durable_turn
async def n_steps(turn: Turn, n: int) -> int:
    acc = 0
    for i in range(n):
        acc += await journaled_inc(i)
    return acc


@durable_turn
async def waits_once(turn: Turn) -> Any:
    answer: Resolution = await turn.wait("go")
    return answer.value


@durable_turn
async def replayed(turn: Turn, n: int, tag: str) -> dict[str, Any]:
    profile = None
    if os.environ.get("EFFECTHOST_BENCH_PROFILE") and (MARKS / tag).exists():
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    started = time.perf_counter()
    acc = 0
    for i in range(n):
        acc += await journaled_inc(i)
    elapsed = time.perf_counter() - started
    if profile is not None:
        profile.disable()
        profile.dump_stats(str(MARKS / "replay.prof"))
    marker = MARKS / tag
    if not marker.exists():  # first attempt: die once every step is journaled
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGKILL)
    return {"acc": acc, "replay_s": elapsed}


plain = restate.Service("PlainBench")


@plain.handler()
async def many(ctx: restate.Context, n: int) -> int:
    acc = 0
    for i in range(n):
        acc += await ctx.run_typed(f"s{i}", inc, restate.RunOptions(), i)
    return acc


@plain.handler()
async def plain_replayed(ctx: restate.Context, request: dict[str, Any]) -> dict[str, Any]:
    """The same replay on a plain handler: n ctx.run steps, killed once after the last."""
    started = time.perf_counter()
    acc = 0
    for i in range(request["n"]):
        acc += await ctx.run_typed(f"s{i}", inc, restate.RunOptions(), i)
    elapsed = time.perf_counter() - started
    marker = MARKS / request["tag"]
    if not marker.exists():
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGKILL)
    return {"acc": acc, "replay_s": elapsed}


app = restate_app([n_steps, waits_once, replayed], CONFIG, extra=[plain])
