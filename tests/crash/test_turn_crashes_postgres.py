"""Durable turns on one PostgreSQL schema, driven by three worker processes at once, SIGKILLed at
random times and replaced; then one clean worker drains what is left.

60 turns of 4 steps each, started in 10 waves paced by the kills; three workers share the schema
all along (each drives up to 3 turns at a time and lives a random 0.1-1.2 s after it starts, a
warm spare taking its slot over at once); at least 15 kill points land while turns are live.
``EFFECTHOST_CRASH_SEED`` replays a printed seed's schedule. Invariants (``turn_worker.check``): every turn completed with the expected result; the step
run whose outcome the journal kept is the last run of that step, so no step ran again once
finalized, and no two live processes both ran it (every earlier run came from a killed process);
a killed process cut short at most one step per turn it drove (so runs <= 1 + kills per step);
attempts cover every process that drove a turn; every journal row is completed.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from effecthost import open_host

from . import turn_worker as tw

TURNS = 60
MIN_KILL_POINTS = 15
WORKERS = 3
CONCURRENCY = 3


def _schema_url(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


async def test_sigkilled_postgres_workers_finish_every_turn_and_repeat_no_finalized_step(
    tmp_path: Path, pg_url: str, pg_schema: str
) -> None:
    seed = int(os.environ.get("EFFECTHOST_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"seed={seed}")  # shown with a failure: EFFECTHOST_CRASH_SEED={seed} replays the schedule
    url = _schema_url(pg_url, pg_schema)
    log = tmp_path / "effects.log"
    inputs = {f"t{i:02d}": rng.randrange(1, 1000) for i in range(TURNS)}
    children: list[tw.Child] = []
    begin = time.monotonic()
    host = await open_host(url)  # creates the schema before any worker opens it
    try:
        stats = await tw.kill_loop(
            host,
            url,
            log,
            tmp_path,
            rng=rng,
            turn_inputs=inputs,
            waves=10,
            kills_per_wave=2,
            min_kill_points=MIN_KILL_POINTS,
            lifetime_s=(0.1, 1.2),
            slots=WORKERS,
            slots_at_times=WORKERS,
            concurrency=CONCURRENCY,
            step_sleep_s=(0.02, 0.15),
            soft_deadline_s=30.0,
            children=children,
        )
        await tw.drain(host, url, log, tmp_path, 15.0, children)
        counts = await tw.check(host, log, inputs, stats, CONCURRENCY)
    finally:
        for child in children:
            tw.kill(child)
        await host.aclose()
    print(f"seed={seed} {stats.summary()} {counts} total_s={time.monotonic() - begin:.1f}")
    assert stats.kill_points >= MIN_KILL_POINTS, f"only {stats.kill_points} kill points (seed {seed})"
    assert stats.max_concurrent == WORKERS
