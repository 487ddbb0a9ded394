"""Durable turns, measured: JSON lines, peers side by side in one run.

Usage: python bench/turns_bench.py [--parts three_step suspended recovery] [--turns 1000]
       [--suspended 10000] [--dir DIR]

- ``three_step``: start and finish N three-step turns (``run_turn``, one after another) on SQLite,
  and N three-step DBOS workflows on SQLite in the same run (``bench_dbos.py``, when the peers
  venv exists: ``EFFECTHOST_PEERS_PYTHON``, default /tmp/peers/bin/python). Target: >= 10x cheaper.
- ``suspended``: N turns parked on waits under one worker process; its RSS while they are parked
  (target < 150 MB for 10,000); then every wait resolved from this process in random order, and
  the resolve-to-resumed latency of 500 of them resolved one at a time, 10 ms apart, while the
  rest stay parked (the resumed turn journals ``time.time()`` in a step; targets p50 < 20 ms,
  p99 < 100 ms); then all the others resolved at once, and the turns completed per second.
- ``recovery``: a worker process with 100 turns in flight (each inside a 0.5 s step) is SIGKILLed;
  a second worker finishes them all. Reported: kill-to-all-done seconds and the lease TTL
  (target <= TTL + 1 s).
"""

# A benchmark driver: it polls its worker processes and runs the peer synchronously on purpose.
# ruff: noqa: ASYNC110, ASYNC240
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from effecthost import Resolution, Turn, TurnStatus, Worker, durable_turn, open_host  # noqa: E402

#: Waits of the suspended part resolved one at a time for the latency figures.
LATENCY_SAMPLE = 500
PEERS = Path(os.environ.get("EFFECTHOST_PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
PEERS_PYTHON = os.environ.get("EFFECTHOST_PEERS_PYTHON", "/tmp/peers/bin/python")


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


@durable_turn
async def three_steps(turn: Turn, x: int) -> int:
    a = await turn.step("one", _inc, x)
    b = await turn.step("two", _inc, a)
    return int(await turn.step("three", _inc, b))


def _inc(value: int) -> int:
    return value + 1


@durable_turn
async def many_steps(turn: Turn, n: int) -> int:
    total = 0
    for i in range(n):
        total = await turn.step("step", _inc, i)
    return total


async def one_turn(url: str, n: int) -> None:
    """N first-run steps in one turn through the turn API (``bench/head_to_head.py`` runs it
    beside DBOS's N steps in one workflow)."""
    async with await open_host(url) as host:
        await host.run_turn(many_steps, session_id="warm", turn_id="w", input={"n": 10})
        started = time.perf_counter()
        await host.run_turn(many_steps, session_id="s", turn_id="t", input={"n": n})
        us = (time.perf_counter() - started) / n * 1e6
    emit(bench="turn_steps_one_turn", n=n, us_per_step=round(us, 1))


@durable_turn
async def parked(turn: Turn, i: int) -> float:
    await turn.wait("go", question={"i": i})
    return float(await turn.step("resumed", time.time))


@durable_turn
async def slow(turn: Turn, i: int) -> int:
    await turn.step("started", _inc, i)
    await turn.step("slow", _slow_inc, i)
    return i


async def _slow_inc(value: int) -> int:
    await asyncio.sleep(0.5)
    return value + 1


TURNS = {"parked": parked, "slow": slow}


async def worker_main(url: str, name: str, lease_ttl_s: float) -> None:
    """A worker process for the suspended and recovery parts (``--worker``)."""
    host = await open_host(url, lease_ttl_s=lease_ttl_s)
    async with host, Worker(host, [TURNS[name]], concurrency=200, suspend_after_s=0.05, poll_interval_s=0.2):
        await asyncio.Event().wait()


def spawn_worker(url: str, name: str, lease_ttl_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", name, "--url", url, "--lease", str(lease_ttl_s)],
        stdout=subprocess.DEVNULL,
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _ours_three_step(url: str, n: int) -> float:
    async with await open_host(url) as host:
        await host.run_turn(three_steps, session_id="warm", turn_id="w", input={"x": 0})
        started = time.perf_counter()
        for i in range(n):
            await host.run_turn(three_steps, session_id="s", turn_id=f"t{i}", input={"x": i})
        return (time.perf_counter() - started) / n * 1e3


async def _ours_three_step_together(url: str, n: int) -> float:
    """N three-step turns started at once and driven by one worker (100 at a time): the shape of
    DBOS's concurrently started workflows. ms per turn, from the first start to the last end."""
    async with await open_host(url) as host:
        started = time.perf_counter()
        handles = [
            await host.start_turn(three_steps, session_id="c", turn_id=f"t{i}", input={"x": i})
            for i in range(n)
        ]
        async with Worker(host, [three_steps], concurrency=100, poll_interval_s=0.05):
            for handle in handles:
                await handle.result(timeout=600)
        return (time.perf_counter() - started) / n * 1e3


def _dbos_three_step(db: str, n: int) -> float | str:
    done = subprocess.run(
        [PEERS_PYTHON, "bench_dbos.py", "--db", db, "--n", "10", "--runs", "1", "--wfs", str(n),
         "--wf-steps", "3"],
        cwd=PEERS, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    peer = next((x for x in lines if x.get("bench") == "wfs_x_steps_sequential"), None)
    together = next((x for x in lines if x.get("bench") == "wfs_x_steps_concurrent"), None)
    if together is not None:
        _DBOS_TOGETHER.append(float(together["us_per_step"]) * 3 / 1000)
    return done.stderr[-500:] if peer is None else float(peer["ms_per_workflow"])


#: DBOS's concurrently started workflows, ms per workflow, as each sequential run also measures.
_DBOS_TOGETHER: list[float] = []


async def three_step(directory: Path, n: int, rounds: int = 3) -> None:
    """Alternating rounds (ours first, then DBOS first, ...) on fresh files: this VM's fsync
    moves by 1.5x from one minute to the next, so one pair of runs says little; the median of the
    rounds' ratios is the figure."""
    have_peer = Path(PEERS_PYTHON).exists()
    ratios: list[float] = []
    for index in range(rounds):
        ours_url = f"sqlite:///{directory / f'three-{index}.db'}"
        peer_db = f"sqlite:///{directory / f'dbos-{index}.sqlite'}"
        theirs: float | str = "skipped"
        if have_peer and index % 2 == 1:
            theirs = _dbos_three_step(peer_db, n)
        ours = await _ours_three_step(ours_url, n)
        if have_peer and index % 2 == 0:
            theirs = _dbos_three_step(peer_db, n)
        line: dict[str, Any] = {"bench": "turns_three_step_round", "round": index, "turns": n,
                                "effecthost_ms_per_turn": round(ours, 3)}  # fmt: skip
        if isinstance(theirs, float):
            ratios.append(theirs / ours)
            line.update(dbos_ms_per_workflow=theirs, x_cheaper_than_dbos=round(theirs / ours, 2))
        else:
            line.update(dbos=theirs if have_peer else f"{PEERS_PYTHON} missing")
        emit(**line)
    if ratios:
        emit(summary="turns_three_step", rounds=len(ratios), x_by_round=[round(r, 2) for r in ratios],
             x_cheaper_than_dbos_median=round(statistics.median(ratios), 2), target=10)  # fmt: skip
    together = await _ours_three_step_together(f"sqlite:///{directory / 'together.db'}", n)
    line = {"bench": "turns_three_step_together", "turns": n, "effecthost_ms_per_turn": round(together, 3)}
    if _DBOS_TOGETHER:
        theirs = statistics.median(_DBOS_TOGETHER)
        line.update(dbos_ms_per_workflow=round(theirs, 3), x_cheaper_than_dbos=round(theirs / together, 2))
    emit(**line)


async def suspended(directory: Path, n: int) -> None:
    url = f"sqlite:///{directory / 'parked.db'}"
    async with await open_host(url) as host:
        started = time.perf_counter()
        for i in range(n):
            await host.start_turn(parked, session_id=f"s{i % 100}", turn_id=f"t{i}", input={"i": i})
        emit(bench="turns_suspended", step="started", turns=n, s=round(time.perf_counter() - started, 2))
        proc = spawn_worker(url, "parked", 30.0)
        try:
            parked_at = time.perf_counter()
            while len(await host.list_turns(status=TurnStatus.WAITING, limit=n)) < n:
                if proc.poll() is not None:
                    raise RuntimeError("the worker died")
                await asyncio.sleep(0.5)
            parking_s = time.perf_counter() - parked_at
            await asyncio.sleep(1.0)  # let the worker settle (its drives ended, garbage collected)
            rss = rss_mb(proc.pid)
            emit(bench="turns_suspended", step="parked", turns=n, parking_s=round(parking_s, 2),
                 worker_rss_mb=round(rss, 1), target_mb=150)  # fmt: skip
            keys = []
            for s in range(100):
                keys += await host.list_outstanding_await_event_keys(f"s{s}")
            random.shuffle(keys)
            # 1. latency: a sample resolved one at a time (10 ms apart, as people and webhooks
            #    resolve), each from this process while all the others stay parked
            sample, rest = keys[:LATENCY_SAMPLE], keys[LATENCY_SAMPLE:]
            latencies = []
            for key in sample:
                session, turn_id = key.scope.ids
                at = time.time()
                await host.resolve_await_event(key, Resolution.ok(True))
                resumed = await host.turn_handle(session, turn_id).result(timeout=300)
                latencies.append((float(resumed) - at) * 1e3)
                await asyncio.sleep(0.01)
            # 2. throughput: every other wait resolved at once (a burst), until all have ended
            began = time.perf_counter()
            await asyncio.gather(*(host.resolve_await_event(k, Resolution.ok(True)) for k in rest))
            resolved_s = time.perf_counter() - began
            for key in rest:
                await host.turn_handle(*key.scope.ids).result(timeout=600)
            total_s = time.perf_counter() - began
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    latencies.sort()
    emit(bench="turns_suspended", step="resumed", sampled=len(latencies), parked_meanwhile=n - 1,
         resolve_to_resumed_p50_ms=round(statistics.median(latencies), 2),
         resolve_to_resumed_p99_ms=round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 2),
         targets_ms={"p50": 20, "p99": 100})  # fmt: skip
    emit(bench="turns_suspended", step="burst", turns=len(rest), resolves_s=round(resolved_s, 2),
         all_ended_s=round(total_s, 2), turns_completed_per_s=round(len(rest) / total_s, 1))  # fmt: skip


async def recovery(directory: Path, lease_ttl_s: float = 1.0) -> None:
    url = f"sqlite:///{directory / 'recovery.db'}"
    async with await open_host(url, lease_ttl_s=lease_ttl_s) as host:
        for i in range(100):
            await host.start_turn(slow, session_id="s", turn_id=f"t{i}", input={"i": i})
        first = spawn_worker(url, "slow", lease_ttl_s)
        try:
            while len(await host.list_turns(status=TurnStatus.RUNNING, limit=200)) < 100:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.perf_counter()
            second = spawn_worker(url, "slow", lease_ttl_s)
            try:
                for i in range(100):
                    await host.turn_handle("s", f"t{i}").result(timeout=120)
                took = time.perf_counter() - killed
            finally:
                second.send_signal(signal.SIGKILL)
                second.wait()
        finally:
            if first.poll() is None:
                first.kill()
    emit(bench="turns_recovery", turns=100, lease_ttl_s=lease_ttl_s, kill_to_all_done_s=round(took, 2),
         target_s=lease_ttl_s + 1, note="each turn's slow step (0.5 s) runs again")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", nargs="+", default=["three_step", "suspended", "recovery"])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--suspended", type=int, default=10_000)
    parser.add_argument("--dir", default="")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help="the host URL of --parts one_turn")
    parser.add_argument("--lease", type=float, default=30.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker_main(args.url, args.worker, args.lease))
        return
    if "one_turn" in args.parts:
        asyncio.run(one_turn(args.url, args.turns))
        return
    directory = Path(args.dir or tempfile.mkdtemp(prefix="effecthost-turns-bench-"))
    if "three_step" in args.parts:
        asyncio.run(three_step(directory, args.turns))
    if "suspended" in args.parts:
        asyncio.run(suspended(directory, args.suspended))
    if "recovery" in args.parts:
        asyncio.run(recovery(directory))


if __name__ == "__main__":
    main()
