"""Durable turns on a SQLite file, driven by worker processes that are SIGKILLed at random.

60 turns of 4 steps each, started in 10 waves paced by the kills (so the kills land on live work
however fast the machine is); worker processes (two at a time, one during alternate phases, each
driving up to 2 turns) live a random 20-150 ms after they start and are SIGKILLed, a warm spare
taking each slot over at once; at least 50 kill points land while turns are live; then one clean
worker drains what is left. ``EFFECTHOST_CRASH_SEED`` replays a printed seed's schedule. Invariants (``turn_worker.check``): every turn completed
with the expected result; the step run whose outcome the journal kept is the last run of that step
(nothing ran after a finalize); every earlier run came from a process that was killed; a killed
process cut short at most one step per turn it drove; attempts cover every process that drove a
turn; every journal row of every turn's scope is completed.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from effecthost import open_host

from . import turn_worker as tw

TURNS = 60
MIN_KILL_POINTS = 50
CONCURRENCY = 2  # turns per worker process: a kill strands at most this many for one lease


async def test_sigkilled_sqlite_workers_finish_every_turn_and_repeat_no_finalized_step(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("EFFECTHOST_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"seed={seed}")  # shown with a failure: EFFECTHOST_CRASH_SEED={seed} replays the schedule
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    log = tmp_path / "effects.log"
    inputs = {f"t{i:02d}": rng.randrange(1, 1000) for i in range(TURNS)}
    children: list[tw.Child] = []
    begin = time.monotonic()
    host = await open_host(url)
    try:
        stats = await tw.kill_loop(
            host,
            url,
            log,
            tmp_path,
            rng=rng,
            turn_inputs=inputs,
            waves=10,
            kills_per_wave=5,
            min_kill_points=MIN_KILL_POINTS,
            lifetime_s=(0.02, 0.15),
            slots=1,
            slots_at_times=2,
            concurrency=CONCURRENCY,
            step_sleep_s=(0.005, 0.04),
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
    assert stats.max_concurrent == 2
