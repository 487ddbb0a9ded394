"""A worker process for the many-workers crash test: drives every turn to completion.

usage: pg_worker.py HOST_URL ADMIN_URL SCHEMA TURNS STEPS SEED LEASE_TTL_S

Each executor first records its execution in ``<schema>.test_executions`` (committed, stamped by
the database clock) so the parent can count executions after SIGKILLs. A finished turn writes the
outcomes this worker observed to ``<schema>.test_results``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from typing import Any

import psycopg

from effecthost import (
    DurableStep,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    RuntimeInvocation,
    RuntimeScope,
    open_host,
)


def envelope(turn: int, step: int) -> EffectEnvelope:
    key = f"step-{step}"
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn(f"session-{turn}", "turn", 0, 0), key, EffectKind.DURABLE_STEP, key
        ),
        DurableStep(key, {"turn": turn, "step": step}),
    )


async def main() -> None:
    host_url, admin_url, schema = sys.argv[1], sys.argv[2], sys.argv[3]
    turns, steps, seed, ttl = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    rng = random.Random(seed)
    pid = os.getpid()
    host = await open_host(host_url, lease_ttl_s=ttl)
    side = await psycopg.AsyncConnection.connect(admin_url, autocommit=True)

    async def run_step(scope: ExecutionScope, value: Any) -> Any:
        await side.execute(
            f'INSERT INTO "{schema}".test_executions (scope_key, replay_key, pid, started_ms) '
            "VALUES (%s, %s, %s, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
            (scope.journal_key(), f"step-{value['step']}", pid),
        )
        await asyncio.sleep(rng.random() * 0.015)  # work, long enough to be killed inside
        return {"pid": pid, "nonce": rng.random(), **value}

    order = list(range(turns))
    rng.shuffle(order)
    for turn in order:
        scope = ExecutionScope.turn(f"session-{turn}", "turn")
        controller = host.scoped(scope).controller
        outcomes = []
        for step in range(steps):
            while True:
                try:
                    out = await controller.execute_effect(
                        envelope(turn, step),
                        LocalExecutor.durable_step(lambda v, s=scope: run_step(s, v)),
                    )
                    break
                except EffectHostError as err:
                    # a lost lease or a store hiccup: drive the same step again
                    print(f"retry {turn}/{step}: {err}", file=sys.stderr)
            outcomes.append(out.into_durable_step())
        await side.execute(
            f'INSERT INTO "{schema}".test_results (turn, pid, outcomes) VALUES (%s, %s, %s)',
            (turn, pid, json.dumps(outcomes, sort_keys=True)),
        )
    await host.aclose()
    await side.close()


if __name__ == "__main__":
    asyncio.run(main())
