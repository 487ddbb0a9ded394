"""SIGKILL a real worker process mid-run, again and again, on SQLite and PostgreSQL: the
re-driven pydantic-ai runs end with the same output, and no model request or tool call whose
outcome was recorded ever ran again (agent_worker.py writes every execution to a file first)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from effecthost import TurnStatus, open_host

from .agent_worker import LEASE_TTL_S, SESSION, Child, read_log

EFFECTS = ("model#1", "model#2", "model#3", "call-1", "call-2", "call-3")


async def kill_and_recover(url: str, tmp_path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    log = tmp_path / "executions.log"
    children: list[Child] = []
    try:
        async with await open_host(url, lease_ttl_s=LEASE_TTL_S) as host:
            turns = [f"run-{i}" for i in range(kills)]
            spare = Child(url, log, "run", tmp_path)
            children.append(spare)
            points: Counter[str] = Counter()
            for index in range(kills):
                current = spare
                current.wait_ready()
                # a fresh run for every worker, beside the runs the killed ones left in flight
                await host.start_turn(
                    "pydai-crashy", session_id=SESSION, turn_id=turns[index], input={"prompt": "sum"}
                )
                current.go()
                spare = Child(url, log, "run", tmp_path)  # warm while the current one works
                children.append(spare)
                before = sum(map(len, read_log(log).values()))
                for _ in range(100):  # until this worker is at work (a fresh interpreter, a claim)
                    if sum(map(len, read_log(log).values())) > before:
                        break
                    await asyncio.sleep(0.05)
                # then somewhere in the runs: inside a model request, a tool call, between them;
                # every other kill once the runs the last worker held were taken over as well
                await asyncio.sleep(rng.uniform(0.0, 0.8) + (LEASE_TTL_S if index % 2 else 0.0))
                after = read_log(log)
                current.kill()
                points["killed after effects ran" if sum(map(len, after.values())) > before else "idle"] += 1
            spare.kill()
            drain = Child(url, log, "drain", tmp_path)
            children.append(drain)
            drain.wait_ready()
            drain.go()
            await asyncio.to_thread(drain.proc.wait, 90)
            assert drain.proc.returncode == 0, drain.stderr()

            runs = read_log(log)
            again = 0
            for turn_id in turns:
                info = await host.get_turn(SESSION, turn_id)
                assert info is not None and info.status is TurnStatus.COMPLETED, (turn_id, info)
                result = info.result
                assert result["output"] == "total=10"  # the same output however often it was killed
                kept = result["kept"]
                assert sorted(kept) == sorted(EFFECTS)
                for effect in EFFECTS:
                    executions = runs[(turn_id, effect)]
                    # the execution the run used is the last one: once its outcome was recorded,
                    # the model was not asked again and the tool not called again
                    assert executions[-1] == kept[effect], (turn_id, effect, executions)
                    again += len(executions) - 1
            assert points["killed after effects ran"] >= kills // 2, points
            print(f"kills={kills} points={dict(points)} effects run again (killed mid-effect)={again}")
    finally:
        for child in children:
            child.kill()


@pytest.mark.timeout(300)
async def test_sigkill_mid_run_on_sqlite(tmp_path: Path) -> None:
    await kill_and_recover(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path, kills=6, seed=15)


@pytest.mark.timeout(300)
async def test_sigkill_mid_run_on_postgres(pg_url: str, pg_schema: str, tmp_path: Path) -> None:
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={pg_schema}"
    await kill_and_recover(url, tmp_path, kills=4, seed=7)
