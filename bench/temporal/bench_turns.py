"""The turn and the plain workflows the Temporal bench runs (a module of their own, so the
worker's sandbox passes it through)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

from effecthost import Turn, durable_turn, step


@step
def inc(i: int) -> int:
    return i + 1


@durable_turn
async def steps(turn: Turn, n: int) -> int:
    total = 0
    for i in range(n):
        total += await inc(i)
    return total


@activity.defn(name="bench.inc")
async def plain_inc(i: int) -> int:
    return i + 1


@workflow.defn(name="PlainLocal")
class PlainLocal:
    @workflow.run
    async def run(self, n: int) -> int:
        total = 0
        for i in range(n):
            total += await workflow.execute_local_activity(
                "bench.inc", i, start_to_close_timeout=timedelta(seconds=30)
            )
        return total


@workflow.defn(name="PlainActivities")
class PlainActivities:
    @workflow.run
    async def run(self, n: int) -> int:
        total = 0
        for i in range(n):
            total += await workflow.execute_activity(
                "bench.inc", i, start_to_close_timeout=timedelta(seconds=30)
            )
        return total


@durable_turn
async def waits_once(turn: Turn) -> object:
    """Parks on a wait (bench/engine_listing_bench.py lists it among the live turns)."""
    answer = await turn.wait("go")
    return answer.value
