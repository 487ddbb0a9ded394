"""Many worker processes, some SIGKILLed mid-run, one schema: outcomes are recorded exactly once,
every turn completes, and no executor starts after its outcome was finalized."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pg_support import HostMaker, admin, schema_url, until

TURNS, STEPS, LEASE_TTL_S = 16, 6, 1.0
WORKER = Path(__file__).with_name("pg_worker.py")


async def _completed(pg_url: str, schema: str) -> int:
    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            f"SELECT count(*) FROM \"{schema}\".runtime_effect_replay WHERE status = 'completed'"
        )
        return int((await cur.fetchone() or [0])[0])


async def _spawn(pg_url: str, schema: str, seed: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), schema_url(pg_url, schema), pg_url, schema,
        str(TURNS), str(STEPS), str(seed), str(LEASE_TTL_S),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


async def test_killed_workers_lose_nothing_and_repeat_nothing_finalized(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    await make_host()  # migrate the schema, then add the test's side tables to it
    async with await admin(pg_url) as conn:
        await conn.execute(
            f'CREATE TABLE "{pg_schema}".test_executions '
            "(scope_key TEXT, replay_key TEXT, pid INT, started_ms BIGINT)"
        )
        await conn.execute(f'CREATE TABLE "{pg_schema}".test_results (turn INT, pid INT, outcomes TEXT)')
    workers = [await _spawn(pg_url, pg_schema, seed) for seed in range(4)]
    killed: list[int] = []
    total = TURNS * STEPS
    for victim, threshold in ((workers[0], total // 5), (workers[1], total // 2)):

        async def progressed(victim: asyncio.subprocess.Process = victim, threshold: int = threshold) -> bool:
            return victim.returncode is not None or await _completed(pg_url, pg_schema) >= threshold

        await until(progressed, 0.01)
        if victim.returncode is None:
            os.kill(victim.pid, signal.SIGKILL)
            await victim.wait()
            killed.append(victim.pid)
    assert len(killed) >= 1  # at least one worker really died mid-run
    finishers = [w for w in workers if w.pid not in killed]
    finishers += [await _spawn(pg_url, pg_schema, seed) for seed in (10, 11)]
    errors = [(await w.communicate())[1].decode() for w in finishers]
    assert [w.returncode for w in finishers] == [0] * len(finishers), errors

    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            f'SELECT scope_key, replay_key, status, outcome_json, updated_at_ms FROM "{pg_schema}".runtime_effect_replay'
        )
        rows = {(r[0], r[1]): r for r in await cur.fetchall()}
        cur = await conn.execute(f'SELECT scope_key, replay_key, pid, started_ms FROM "{pg_schema}".test_executions')
        executions = await cur.fetchall()
        cur = await conn.execute(f'SELECT turn, pid, outcomes FROM "{pg_schema}".test_results')
        results = await cur.fetchall()

    # every effect recorded once (primary key) and completed
    assert len(rows) == total
    assert {r[2] for r in rows.values()} == {"completed"}
    # every finishing worker completed every turn and saw exactly the recorded outcomes
    finisher_pids = {w.pid for w in finishers}
    assert {(turn, pid) for turn, pid, _ in results} >= {(t, p) for t in range(TURNS) for p in finisher_pids}
    for turn, _pid, observed in results:
        scope_key = next(k[0] for k in rows if f'"session-{turn}"' in k[0])
        recorded = [json.loads(rows[(scope_key, f"step-{s}")][3])["value"] for s in range(STEPS)]
        assert json.loads(observed) == recorded
    # the recorded outcome came from an execution of that very effect by the recorded pid
    executed_by = {(e[0], e[1], e[2]) for e in executions}
    for (scope_key, replay_key), row in rows.items():
        assert (scope_key, replay_key, json.loads(row[3])["value"]["pid"]) in executed_by
    # no executor started after its effect's outcome was finalized
    late = [e for e in executions if e[3] > rows[(e[0], e[1])][4]]
    assert late == []
    # re-executions only where a worker died holding the claim
    counts: dict[tuple[str, str], list[int]] = {}
    for scope_key, replay_key, pid, _ in executions:
        counts.setdefault((scope_key, replay_key), []).append(pid)
    repeated = {k: pids for k, pids in counts.items() if len(pids) > 1}
    assert len(repeated) <= 2 * len(killed) + 2, repeated
