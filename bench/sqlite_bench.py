"""SQLite host benchmark: prints one JSON line per measurement.

Usage: python bench/sqlite_bench.py [--dir DIR] [--n 1000] [--runs 3] [--turns 100 --steps 10]
       [--synchronous full normal] [--wake 200] [--sequential-only]

- ``calibration``: one raw INSERT+COMMIT in WAL at the same synchronous level, on a fresh (growing)
  WAL and on a pre-sized one (what effecthost's WAL is after open; see wal.py).
- ``journal_floor``: a raw claim commit plus a raw finalize commit at the sync levels effecthost
  uses for them: the least any claim-then-finalize journal can cost per effect on this disk.
- ``first_run_sequential``: one turn of N durable steps, first run (claim, execute, finalize).
- ``first_run_concurrent``: TURNS turns of STEPS steps, all turns at once (group commit).
- ``replay``: the same N steps re-driven by a new controller (envelopes built beforehand).
- ``await_wake_same_process`` / ``await_wake_other_process``: resolve → waiter woken latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)

from effecthost import (  # noqa: E402 - after the sys.path line
    DurableStep,
    EffectEnvelope,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
    open_host,
)
from effecthost._private.stores.sqlite.durability import Durability  # noqa: E402
from effecthost._private.stores.sqlite.wal import presize_wal  # noqa: E402


def emit(**fields: Any) -> None:
    print(json.dumps({"peer": "effecthost", "backend": "sqlite", **fields}), flush=True)


def fresh(directory: Path, name: str) -> str:
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".wake", ignore_errors=True)
    return str(path)


def _raw_db(directory: Path, presized: bool) -> tuple[sqlite3.Connection, str]:
    path = fresh(directory, "calibrate.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE j(k TEXT, r TEXT, envelope TEXT, outcome TEXT, PRIMARY KEY (k, r)) WITHOUT ROWID"
    )
    if presized:
        presize_wal(conn, path)
    return conn, path


def calibrate(directory: Path, level: str, n: int, runs: int) -> tuple[float, float]:
    """Raw commits at ``level``: one INSERT+COMMIT on a fresh (growing) and on a pre-sized WAL, and
    the *floor* of a journaled effect: a raw claim commit plus a raw finalize commit, each at the
    sync level effecthost uses for it (see durability.py), on a pre-sized WAL — what any
    claim-then-finalize journal costs on this disk before a line of effecthost runs."""
    durability = Durability.parse(level)
    sync = {True: "FULL", False: "NORMAL"}
    envelope_text = "x" * 300
    results: dict[str, list[float]] = {"fresh": [], "presized": [], "floor": []}
    for run in range(runs):
        for shape in results:
            conn, _ = _raw_db(directory, presized=shape != "fresh")
            execute = conn.execute
            started = time.perf_counter()
            if shape == "floor":
                claim_sync, final_sync = sync[durability.leases], sync[durability.outcomes]
                for i in range(n):
                    execute(f"PRAGMA synchronous={claim_sync}")
                    execute("BEGIN IMMEDIATE")
                    execute("INSERT INTO j VALUES (?, ?, ?, NULL)", (str(run), str(i), envelope_text))
                    execute("COMMIT")
                    execute(f"PRAGMA synchronous={final_sync}")
                    execute("BEGIN IMMEDIATE")
                    execute("UPDATE j SET outcome = ? WHERE k = ? AND r = ?", ("42", str(run), str(i)))
                    execute("COMMIT")
            else:
                execute(f"PRAGMA synchronous={level.upper()}")
                for i in range(n):
                    execute("BEGIN")
                    execute("INSERT INTO j VALUES (?, ?, ?, NULL)", (str(run), str(i), "x" * 64))
                    execute("COMMIT")
            results[shape].append(time.perf_counter() - started)
            conn.close()
    us = {shape: statistics.median(times) / n * 1e6 for shape, times in results.items()}
    emit(bench="calibration", what="raw WAL insert+commit", synchronous=level, n=n,
         us_per_commit=round(us["fresh"], 1), us_per_commit_presized_wal=round(us["presized"], 1))
    emit(bench="journal_floor", what="raw claim commit + raw finalize commit, pre-sized WAL",
         synchronous=level, n=n, us_per_effect=round(us["floor"], 1))
    return us["fresh"], us["floor"]


def envelope(session: str, key: int) -> EffectEnvelope:
    replay_key = f"step-{key}"
    invocation = RuntimeInvocation.effect(
        RuntimeScope(session), replay_key, EffectKind.DURABLE_STEP, replay_key
    )
    return EffectEnvelope(invocation, DurableStep("bench", {"i": key}))


STEP = LocalExecutor.durable_step


async def journaled(
    directory: Path, level: str, n: int, runs: int, raw_us: float, floor_us: float
) -> None:
    first, replay = [], []
    for run in range(runs):
        url = f"sqlite:///{fresh(directory, 'bench.db')}?synchronous={level}"
        host = await open_host(url)
        scope = ExecutionScope.turn(f"bench-{run}", "turn")
        envelopes = [envelope(f"bench-{run}", i) for i in range(n)]
        controller = host.scoped(scope).controller
        started = time.perf_counter()
        for env in envelopes:
            await controller.execute_effect(env, STEP(lambda v: v["i"] + 1))
        first.append(time.perf_counter() - started)
        controller = host.scoped(scope).controller
        replay_only = LocalExecutor.unavailable()  # anything that is not replayed fails
        started = time.perf_counter()
        for env in envelopes:
            await controller.execute_effect(env, replay_only)
        replay.append(time.perf_counter() - started)
        assert len(await host.browser.list_effects(scope.journal_key())) == n
        await host.aclose()
    us = statistics.median(first) / n * 1e6
    emit(bench="first_run_sequential", synchronous=level, n=n, runs_s=[round(t, 4) for t in first],
         us_per_effect=round(us, 1), raw_commit_us=round(raw_us, 1),
         ratio_to_two_raw_commits=round(us / (2 * raw_us), 2), floor_us=round(floor_us, 1),
         overhead_over_floor_us=round(us - floor_us, 1))
    per_s = n / statistics.median(replay)
    emit(bench="replay", synchronous=level, n=n, runs_s=[round(t, 4) for t in replay],
         effects_per_s=round(per_s), us_per_effect=round(1e6 / per_s, 2))


async def concurrent(directory: Path, level: str, turns: int, steps: int, runs: int, raw_us: float) -> None:
    times, commits = [], []
    for run in range(runs):
        host = await open_host(f"sqlite:///{fresh(directory, 'bench.db')}?synchronous={level}")

        async def turn(t: int, host: Any = host, run: int = run) -> None:
            controller = host.scoped(ExecutionScope.turn(f"c{run}", f"t{t}")).controller
            for i in range(steps):
                await controller.execute_effect(envelope(f"c{run}", i), STEP(lambda v: v["i"]))

        db = host.journal.database
        before = db.commits
        started = time.perf_counter()
        await asyncio.gather(*(turn(t) for t in range(turns)))
        times.append(time.perf_counter() - started)
        commits.append(db.commits - before)
        await host.aclose()
    total = turns * steps
    us = statistics.median(times) / total * 1e6
    emit(bench="first_run_concurrent", synchronous=level, turns=turns, steps=steps,
         runs_s=[round(t, 4) for t in times], us_per_effect=round(us, 1),
         commits_per_effect=round(statistics.median(commits) / total, 3), raw_commit_us=round(raw_us, 1))


def _latency(samples: list[float], bench: str, level: str) -> None:
    samples.sort()
    emit(bench=bench, synchronous=level, n=len(samples),
         median_us=round(statistics.median(samples) * 1e6, 1),
         p99_us=round(samples[int(len(samples) * 0.99) - 1] * 1e6, 1))


async def wake_same_process(directory: Path, level: str, n: int) -> None:
    url = f"sqlite:///{fresh(directory, 'wake.db')}?synchronous={level}"
    waiter_host, resolver_host = await open_host(url), await open_host(url)
    scope = ExecutionScope.turn("wake", "turn")
    samples = []
    for i in range(n):
        key = await waiter_host.await_event_key(scope, WaitIdentity.custom(f"k{i}"))
        woke: list[float] = []

        async def wait(key: Any = key, woke: list[float] = woke) -> None:
            await waiter_host.await_await_event(key)
            woke.append(time.perf_counter())

        task = asyncio.ensure_future(wait())
        while not await waiter_host.list_outstanding_await_event_keys("wake"):  # noqa: ASYNC110
            await asyncio.sleep(0.0005)  # parked? (a waiter registers itself in the store)
        started = time.perf_counter()
        await resolver_host.resolve_await_event(key, Resolution.ok(i))
        await task
        samples.append(woke[0] - started)
    await waiter_host.aclose()
    await resolver_host.aclose()
    _latency(samples, "await_wake_same_process", level)


_CHILD = """
import asyncio, sys, time
from effecthost import AwaitEventKey, open_host
async def main():
    host = await open_host(sys.argv[1])
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            break
        await host.await_await_event(AwaitEventKey.from_token(line.strip()))
        print(repr(time.perf_counter()), flush=True)
    await host.aclose()
asyncio.run(main())
"""


async def wake_other_process(directory: Path, level: str, n: int) -> None:
    """The waiter lives in a child process; perf_counter is CLOCK_MONOTONIC, shared by both."""
    url = f"sqlite:///{fresh(directory, 'wake.db')}?synchronous={level}"
    host = await open_host(url)
    src = SRC
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, url, env=dict(os.environ, PYTHONPATH=src),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    await child.stdout.readline()
    scope = ExecutionScope.turn("xwake", "turn")
    samples = []
    for i in range(n):
        key = await host.await_event_key(scope, WaitIdentity.custom(f"k{i}"))
        child.stdin.write((key.to_token() + "\n").encode())
        await child.stdin.drain()
        while not await host.list_outstanding_await_event_keys("xwake"):  # noqa: ASYNC110
            await asyncio.sleep(0.0005)
        started = time.perf_counter()
        await host.resolve_await_event(key, Resolution.ok(i))
        woke = float((await child.stdout.readline()).decode())
        samples.append(woke - started)
    child.stdin.write(b"\n")
    await child.stdin.drain()
    await child.wait()
    await host.aclose()
    _latency(samples, "await_wake_other_process", level)


def _prepare(directory: str | None) -> Path:
    path = Path(directory or tempfile.mkdtemp(prefix="effecthost-bench-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--wake", type=int, default=200)
    parser.add_argument("--synchronous", nargs="+", default=["full", "normal"])
    parser.add_argument(
        "--sequential-only", action="store_true",
        help="only the calibration, floor and sequential first run and replay (bench/head_to_head.py)",
    )
    args = parser.parse_args()
    directory = _prepare(args.dir)
    for level in args.synchronous:
        raw, floor = calibrate(directory, level, args.n, args.runs)
        await journaled(directory, level, args.n, args.runs, raw, floor)
        if not args.sequential_only:
            await concurrent(directory, level, args.turns, args.steps, args.runs, raw)
    if args.sequential_only:
        return
    level = args.synchronous[0]
    await wake_same_process(directory, level, args.wake)
    await wake_other_process(directory, level, args.wake)


if __name__ == "__main__":
    asyncio.run(main())
