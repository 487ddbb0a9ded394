"""Cross-process resolve → wake latency under load, on one SQLite file: prints JSON lines.

Usage: python bench/wake_bench.py [--dir DIR] [--quick] [--keys 200] [--resolvers 1 3 4]
       [--workers 1 8] [--park-s 3]

One waiter process parks on every key (polling left on, as in production: a hint that does not
arrive shows up as poll latency, up to 1 s), and waits ``--park-s`` so every waiter's poll interval
has backed off to its 1 s maximum. Then R resolver processes start at the same moment and resolve
``--keys`` keys each as fast as they can, with W concurrent resolves per process (1: one after
another; 8: several resolves per commit, so bursts of hints). Latency runs from just before the
resolve call (so it includes the resolver's commit) to the waiter's ``await_await_event``
returning; ``after_commit_*`` runs from the resolve call's return (its commit done) instead, which
leaves out the write-lock contention between resolvers. ``perf_counter`` is CLOCK_MONOTONIC,
shared by all processes on Linux.

One line per (R, W): ``await_wake_cross_process_load`` with p50/p95/p99/max in µs, how many
wake-ups came more than 100 ms late, and the resolvers' channel counters when they exist
(``deferred_sends``: sends that met a full queue and were retried; ``degraded_outboxes``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)

from effecthost import ExecutionScope, WaitIdentity, open_host  # noqa: E402 - after sys.path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlite_bench import emit, fresh  # noqa: E402 - the SQLite benchmark's JSON lines and files

SESSION = "wake-load"

_WAITER = """
import asyncio, json, sys, time
from effecthost import AwaitEventKey, open_host
async def main():
    host = await open_host(sys.argv[1])
    keys = [AwaitEventKey.from_token(t) for t in json.load(open(sys.argv[2]))]
    woke = [0.0] * len(keys)
    async def wait(i, key):
        await host.await_await_event(key)
        woke[i] = time.perf_counter()
    await asyncio.gather(*(wait(i, k) for i, k in enumerate(keys)))
    print(json.dumps(woke), flush=True)
    await host.aclose()
asyncio.run(main())
"""

_RESOLVER = """
import asyncio, json, sys, time
from effecthost import AwaitEventKey, Resolution, open_host
async def main():
    host = await open_host(sys.argv[1])
    first, last, workers = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    keys = [AwaitEventKey.from_token(t) for t in json.load(open(sys.argv[2]))[first:last]]
    todo = list(enumerate(keys, first))
    times = []
    async def worker(mine):
        for i, key in mine:
            started = time.perf_counter()
            await host.resolve_await_event(key, Resolution.ok(i))
            times.append((i, started, time.perf_counter()))
    print("ready", flush=True)
    sys.stdin.readline()
    await asyncio.gather(*(worker(todo[w::workers]) for w in range(workers)))
    channel = host.await_coordinator.store.channel
    counters = {n: getattr(channel, n, None) for n in ("deferred", "degraded")}
    await host.aclose()
    print(json.dumps({"times": times, **counters}), flush=True)
asyncio.run(main())
"""


async def _spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=dict(os.environ, PYTHONPATH=SRC),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )


def _pct(samples: list[float], q: float) -> float:
    return round(samples[min(len(samples) - 1, int(len(samples) * q))] * 1e6, 1)


async def one_run(directory: Path, resolvers: int, keys_each: int, workers: int, park_s: float) -> None:
    url = f"sqlite:///{fresh(directory, 'wake-load.db')}"
    host = await open_host(url)
    scope = ExecutionScope.turn(SESSION, "turn")
    total = resolvers * keys_each
    keys = [await host.await_event_key(scope, WaitIdentity.custom(f"k{i}")) for i in range(total)]
    tokens = directory / "wake-load-tokens.json"
    tokens.write_text(json.dumps([k.to_token() for k in keys]))
    waiter = await _spawn(_WAITER, url, str(tokens))
    while len(await host.list_outstanding_await_event_keys(SESSION)) < total:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    procs = [
        await _spawn(_RESOLVER, url, str(tokens), str(r * keys_each), str((r + 1) * keys_each), str(workers))
        for r in range(resolvers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready": imported and opened
    await asyncio.sleep(park_s)  # every parked waiter's poll interval reaches its 1 s maximum
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
    reports = []
    for proc in procs:
        out, _ = await proc.communicate()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    out, _ = await asyncio.wait_for(waiter.communicate(), 600)
    woke = json.loads(out)
    await host.aclose()
    times = [(i, t0, t1) for report in reports for i, t0, t1 in report["times"]]
    calls = sorted(t1 - t0 for _, t0, t1 in times)
    latencies = sorted(woke[i] - t0 for i, t0, _ in times)
    after_commit = sorted(woke[i] - t1 for i, _, t1 in times)

    def total_of(name: str) -> int | None:
        values = [report.get(name) for report in reports]
        return None if any(v is None for v in values) else sum(values)

    emit(bench="await_wake_cross_process_load", resolvers=resolvers, keys=total, workers=workers,
         park_s=park_s, p50_us=_pct(latencies, 0.50), p95_us=_pct(latencies, 0.95),
         p99_us=_pct(latencies, 0.99), max_us=round(latencies[-1] * 1e6, 1),
         late_over_100ms=sum(1 for lat in latencies if lat > 0.1),
         resolve_call_p50_us=round(statistics.median(calls) * 1e6, 1),
         resolve_call_p99_us=_pct(calls, 0.99),
         after_commit_p50_us=_pct(after_commit, 0.50), after_commit_p99_us=_pct(after_commit, 0.99),
         after_commit_max_us=round(after_commit[-1] * 1e6, 1),
         deferred_sends=total_of("deferred"), degraded_outboxes=total_of("degraded"))


def _prepare(directory: str | None) -> Path:
    path = Path(directory or tempfile.mkdtemp(prefix="effecthost-wake-bench-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None)
    parser.add_argument("--quick", action="store_true", help="100 keys per resolver, 2 s parked")
    parser.add_argument("--keys", type=int, default=None, help="keys per resolver process (200)")
    parser.add_argument("--resolvers", type=int, nargs="+", default=[1, 3, 4])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--park-s", type=float, default=None, help="parked time before resolving (3)")
    args = parser.parse_args()
    keys = args.keys or (100 if args.quick else 200)
    park_s = args.park_s if args.park_s is not None else (2.0 if args.quick else 3.0)
    directory = _prepare(args.dir)
    emit(note="wake bench", cpus=os.cpu_count(), started=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for workers in args.workers:
        for resolvers in args.resolvers:
            await one_run(directory, resolvers, keys, workers, park_s)


if __name__ == "__main__":
    asyncio.run(main())
