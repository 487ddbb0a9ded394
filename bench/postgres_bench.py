"""PostgreSQL host benchmark: journaled effects/s (first run and replay) and cross-process
resolve-to-wake latency with 1, 2 and 4 worker processes, beside DBOS and LangGraph on the same
server in the same run. Prints one JSON object per line.

    .venv/bin/python bench/postgres_bench.py [--quick] [--url postgresql://...] [--no-peers]

First the floor: a raw claim commit (asynchronous) plus a raw finalize commit (WAL flushed) on one
connection, as prepared statements straight through libpq — what any claim-then-finalize journal
costs on this server. Then each worker
process opens its own host on a fresh schema, waits for a common start signal, drives
``turns`` turns of ``steps`` durable steps (``concurrency`` turns in flight per worker), then
replays them all on a new host object (cold, strict replay); each shape runs ``--runs`` times (3)
on fresh schemas and reports the median, shapes with one turn in flight per worker first.
Latency: each waiter process parks on a key and says so; the parent then resolves it once the key
is listed as outstanding, stamping the resolution with the wall clock (one machine, so one clock)
just before ``resolve_await_event``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

DEFAULT_URL = os.environ.get("EFFECTHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PEERS = Path(os.environ.get("EFFECTHOST_PEERS_DIR", "/work/shared/bench/peers"))
PEERS_PYTHON = os.environ.get("EFFECTHOST_PEERS_PYTHON", "/tmp/peers/bin/python")


def emit(**fields: Any) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


# ---- worker processes -------------------------------------------------------------------------


def _envelope(session: str, step: int) -> Any:
    from effecthost import DurableStep, EffectEnvelope, EffectKind, RuntimeInvocation, RuntimeScope

    key = f"step-{step}"
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn(session, "t", 0, 0), key, EffectKind.DURABLE_STEP, key
        ),
        DurableStep(key, {"i": step}),
    )


async def _drive(host: Any, sessions: list[str], steps: int, concurrency: int, replay: bool) -> float:
    from effecthost import ExecutionScope, LocalExecutor

    async def turn(session: str) -> None:
        controller = host.scoped(ExecutionScope.turn(session, "t")).controller
        for step in range(steps):
            executor = LocalExecutor.unavailable() if replay else LocalExecutor.durable_step(lambda v: v)
            await controller.execute_effect(_envelope(session, step), executor)

    queue = list(sessions)

    async def lane() -> None:
        while queue:
            await turn(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _wait_go() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def worker_main(args: argparse.Namespace) -> None:
    from effecthost import open_host

    url = with_schema(args.url, args.schema)
    sessions = [f"w{args.index}-turn-{i}" for i in range(args.turns)]
    host = await open_host(url, pool_max_size=max(2, args.concurrency))
    print("ready", flush=True)
    await _wait_go()
    first = await _drive(host, sessions, args.steps, args.concurrency, replay=False)
    await host.aclose()
    print(json.dumps({"first_s": first}), flush=True)
    cold = await open_host(url, pool_max_size=max(2, args.concurrency))
    cold.start_replay()
    print("ready", flush=True)
    await _wait_go()
    replay = await _drive(cold, sessions, args.steps, args.concurrency, replay=True)
    await cold.aclose()
    print(json.dumps({"replay_s": replay}), flush=True)


async def waiter_main(args: argparse.Namespace) -> None:
    from effecthost import ExecutionScope, WaitIdentity, open_host

    host = await open_host(with_schema(args.url, args.schema))
    print("ready", flush=True)
    latencies = []
    for k in range(args.n):
        scope = ExecutionScope.turn(f"lat-{args.index}", "t")
        key = await host.await_event_key(scope, WaitIdentity.custom(f"k{k}"))
        waiting = asyncio.ensure_future(host.await_await_event(key))
        # Tell the parent we are about to park; it then checks (rarely polls) that the row is
        # registered, so the measurement is not loaded by the parent's own polling.
        print(f"parking {k}", flush=True)
        resolution = await waiting
        latencies.append((time.time_ns() - resolution.value["t0"]) / 1000)
    await host.aclose()
    print(json.dumps({"latencies_us": latencies}), flush=True)


# ---- the parent -------------------------------------------------------------------------------


async def _spawn(args: argparse.Namespace, role: str, schema: str, index: int, **extra: Any) -> Any:
    argv = [sys.executable, __file__, "--role", role, "--url", args.url, "--schema", schema]
    argv += ["--index", str(index)]
    for name, value in extra.items():
        argv += [f"--{name}", str(value)]
    return await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


async def _expect(proc: Any) -> str:
    line = (await proc.stdout.readline()).decode().strip()
    if not line:
        err = (await proc.stderr.read()).decode()
        raise RuntimeError(f"worker {proc.pid} ended early: {err[-2000:]}")
    return line


async def _fresh_schema(args: argparse.Namespace) -> str:
    from effecthost import open_host

    schema = f"eh_bench_{uuid.uuid4().hex[:10]}"
    host = await open_host(with_schema(args.url, schema))  # migrate once, outside the timings
    await host.aclose()
    return schema


async def _drop_schema(args: argparse.Namespace, schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(args.url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _throughput_once(args: argparse.Namespace, workers: int, concurrency: int) -> dict[str, float]:
    """One first run and one cold replay on a fresh schema; seconds of the slowest worker."""
    schema = await _fresh_schema(args)
    try:
        procs = [
            await _spawn(
                args, "worker", schema, i, turns=args.turns, steps=args.steps, concurrency=concurrency
            )
            for i in range(workers)
        ]
        results: dict[str, float] = {}
        for phase in ("first_s", "replay_s"):
            for p in procs:
                assert await _expect(p) == "ready"
            for p in procs:
                p.stdin.write(b"go\n")
                await p.stdin.drain()
            # all workers start together; the phase lasts until the slowest one is done
            results[phase] = max([json.loads(await _expect(p))[phase] for p in procs])
        for p in procs:
            await p.wait()
    finally:
        await _drop_schema(args, schema)
    return results


async def bench_throughput(args: argparse.Namespace, workers: int, concurrency: int) -> dict[str, Any]:
    """Median of ``args.runs`` runs (each on its own fresh schema, as the SQLite bench does)."""
    runs = [await _throughput_once(args, workers, concurrency) for _ in range(args.runs)]
    first = statistics.median(r["first_s"] for r in runs)
    replay = statistics.median(r["replay_s"] for r in runs)
    effects = workers * args.turns * args.steps
    return {
        "workers": workers,
        "concurrency_per_worker": concurrency,
        "effects": effects,
        "runs_first_s": [round(r["first_s"], 4) for r in runs],
        "first_run_effects_per_s": round(effects / first, 1),
        "first_run_us_per_effect": round(first / effects * 1e6, 1),
        "replay_effects_per_s": round(effects / replay, 1),
        "replay_us_per_effect": round(replay / effects * 1e6, 1),
    }


async def bench_latency(args: argparse.Namespace, waiters: int) -> dict[str, Any]:
    from effecthost import ExecutionScope, Resolution, WaitIdentity, open_host

    schema = await _fresh_schema(args)
    try:
        procs = [await _spawn(args, "waiter", schema, i, n=args.latency_n) for i in range(waiters)]
        for p in procs:
            assert await _expect(p) == "ready"
        resolver = await open_host(with_schema(args.url, schema))

        async def resolve_all(index: int) -> None:
            session, proc = f"lat-{index}", procs[index]
            for k in range(args.latency_n):
                scope = ExecutionScope.turn(session, "t")
                key = await resolver.await_event_key(scope, WaitIdentity.custom(f"k{k}"))
                assert await _expect(proc) == f"parking {k}"
                # resolve only once the waiter is parked (its promise row is registered)
                await asyncio.sleep(0.005)
                while key not in await resolver.list_outstanding_await_event_keys(session):
                    if proc.returncode is not None:
                        await _expect(proc)  # raises with the waiter's stderr
                    await asyncio.sleep(0.005)
                await resolver.resolve_await_event(key, Resolution.ok({"t0": time.time_ns()}))

        await asyncio.gather(*(resolve_all(i) for i in range(waiters)))
        latencies = [x for p in procs for x in json.loads(await _expect(p))["latencies_us"]]
        for p in procs:
            await p.wait()
        await resolver.aclose()
    finally:
        await _drop_schema(args, schema)
    latencies.sort()
    return {
        "waiter_processes": waiters,
        "samples": len(latencies),
        "resolve_to_wake_p50_ms": round(statistics.median(latencies) / 1000, 3),
        "resolve_to_wake_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] / 1000, 3),
    }


async def bench_floor(args: argparse.Namespace, n: int) -> dict[str, Any]:
    """What any claim-then-finalize journal costs here before a line of effecthost runs: on one raw
    connection, a claim INSERT committed asynchronously (as effecthost commits claims) and a
    finalize UPDATE committed synchronously (WAL flushed), plus one raw synchronous commit. Sent
    the cheapest way a Python client can: prepared statements straight through libpq (the path
    effecthost's own hot statements take); the same pair through psycopg's cursor is reported
    beside it, for scale."""
    import psycopg

    from effecthost._private.stores.postgres.wire import Statement, execute

    schema = f"eh_floor_{uuid.uuid4().hex[:10]}"
    envelope_text = "x" * 300
    async with await psycopg.AsyncConnection.connect(args.url, autocommit=True) as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            await conn.execute(
                f'CREATE TABLE "{schema}".j (k text, r text, envelope text, outcome text, '
                "PRIMARY KEY (k, r))"
            )
            claim_sql = (
                f'INSERT INTO "{schema}".j SELECT %s, %s, %s, NULL '
                "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
            ).encode()
            finalize_sql = f'UPDATE "{schema}".j SET outcome = %s WHERE k = %s AND r = %s'.encode()
            single_sql = f'INSERT INTO "{schema}".j VALUES (%s, %s, %s, NULL)'.encode()
            claim, finalize = Statement("floor_claim", claim_sql), Statement("floor_finalize", finalize_sql)
            single = Statement("floor_single", single_sql)
            for i in range(20):  # warm up: prepared statements, caches
                await execute(conn, claim, ("warm", str(i), envelope_text))
                await execute(conn, finalize, ("42", "warm", str(i)))
                await conn.execute(claim_sql, ("warm-cursor", str(i), envelope_text))
                await conn.execute(finalize_sql, ("42", "warm-cursor", str(i)))
            started = time.perf_counter()
            for i in range(n):
                await execute(conn, claim, ("floor", str(i), envelope_text))
                await execute(conn, finalize, ("42", "floor", str(i)))
            floor_us = (time.perf_counter() - started) / n * 1e6
            started = time.perf_counter()
            for i in range(n):
                await conn.execute(claim_sql, ("cursor", str(i), envelope_text))
                await conn.execute(finalize_sql, ("42", "cursor", str(i)))
            cursor_us = (time.perf_counter() - started) / n * 1e6
            started = time.perf_counter()
            for i in range(n):
                await execute(conn, single, ("single", str(i), envelope_text))
            single_us = (time.perf_counter() - started) / n * 1e6
        finally:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {
        "n": n,
        "claim_async_plus_finalize_sync_us": round(floor_us, 1),
        "same_pair_through_psycopg_cursor_us": round(cursor_us, 1),
        "one_sync_insert_commit_us": round(single_us, 1),
    }


def _peer_db(args: argparse.Namespace, name: str) -> str:
    import psycopg

    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = args.url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def run_peers(args: argparse.Namespace) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    if not Path(PEERS_PYTHON).exists():
        emit(peer="all", skipped=f"{PEERS_PYTHON} missing (create the peers venv: {PEERS}/setup.sh)")
        return lines
    n, runs, wfs = ("200", "1", "10") if args.quick else ("1000", "3", "100")
    commands = {
        "dbos": [str(PEERS / "bench_dbos.py"), "--db", _peer_db(args, "eh_bench_dbos")],
        "langgraph": [str(PEERS / "bench_langgraph.py"), "--pg", _peer_db(args, "eh_bench_lg")],
    }
    for peer, argv in commands.items():
        out = subprocess.run(
            [PEERS_PYTHON, *argv, "--n", n, "--runs", runs, "--wfs", wfs],
            capture_output=True, text=True, check=False,
        )
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
        if out.returncode != 0:
            emit(peer=peer, failed=out.returncode, stderr=out.stderr[-1000:])
    return lines


def _pick(lines: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((x for x in lines if all(x.get(k) == v for k, v in match.items())), None)


def summarize(ours: list[dict[str, Any]], peers: list[dict[str, Any]], floor_us: float) -> None:
    """One line: effecthost per effect beside DBOS and LangGraph per step, same server, same run."""
    dbos = _pick(peers, peer="dbos", bench="1wf_x_nsteps")
    dbos_conc = _pick(peers, peer="dbos", bench="wfs_x_steps_concurrent")
    langgraph = _pick(peers, peer="langgraph", bench="1wf_x_nsteps_task")
    row: dict[str, Any] = {"summary": "postgres_vs_peers", "journal_floor_us": floor_us}
    for line in ours:
        name = f"effecthost_us_per_effect_w{line['workers']}_c{line['concurrency_per_worker']}"
        row[name] = line["first_run_us_per_effect"]
    sequential = row.get("effecthost_us_per_effect_w1_c1")
    if dbos and sequential:
        row["dbos_us_per_step"] = dbos["us_per_step"]
        row["x_cheaper_than_dbos_sequential"] = round(dbos["us_per_step"] / sequential, 2)
        row["x_cheaper_than_dbos_at_the_floor"] = round(dbos["us_per_step"] / floor_us, 2)
    if dbos_conc:
        row["dbos_us_per_step_concurrent"] = dbos_conc["us_per_step"]
    if langgraph and sequential:
        row["langgraph_us_per_step"] = langgraph["us_per_step"]
        row["x_cheaper_than_langgraph_sequential"] = round(langgraph["us_per_step"] / sequential, 2)
    emit(**row)


async def parent_main(args: argparse.Namespace) -> None:
    if args.quick:
        args.turns, args.steps, args.latency_n, args.runs = 10, 20, 40, 1
    emit(
        bench="postgres_host", cores=os.cpu_count(), load_avg=[round(x, 2) for x in os.getloadavg()],
        turns_per_worker=args.turns, steps_per_turn=args.steps, quick=args.quick,
    )
    floor = await bench_floor(args, 200 if args.quick else 1000)
    emit(bench="postgres_journal_floor", **floor)
    sequential = await bench_throughput(args, 1, 1)
    emit(bench="postgres_sequential", **sequential,
         floor_us=floor["claim_async_plus_finalize_sync_us"],
         overhead_over_floor_us=round(
             sequential["first_run_us_per_effect"] - floor["claim_async_plus_finalize_sync_us"], 1))
    if args.sequential_only:
        return
    # One turn at a time per worker (latency-bound: workers add throughput while the server
    # group-commits their WAL flushes), then several turns in flight per worker (CPU-bound).
    ours = [sequential]
    for concurrency in (1, args.concurrency):
        for workers in args.workers:
            if (workers, concurrency) == (1, 1):
                line = sequential  # measured above
            else:
                line = await bench_throughput(args, workers, concurrency)
                ours.append(line)
            emit(bench="postgres_throughput", **line)
    for waiters in args.workers:
        emit(bench="postgres_resolve_to_wake", **await bench_latency(args, waiters))
    peers = [] if args.no_peers else run_peers(args)
    summarize(ours, peers, floor["claim_async_plus_finalize_sync_us"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--quick", action="store_true", help="small sizes, one peer run (~1-2 min)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    ap.add_argument("--turns", type=int, default=25)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=4, help="turns in flight per worker")
    ap.add_argument("--latency-n", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3, help="runs per throughput shape (median)")
    ap.add_argument("--sequential-only", action="store_true",
                    help="only the floor and one worker with one turn in flight (bench/head_to_head.py)")
    roles = ["parent", "worker", "waiter"]
    ap.add_argument("--role", choices=roles, default="parent", help=argparse.SUPPRESS)
    ap.add_argument("--schema", help=argparse.SUPPRESS)
    ap.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    runner = {"parent": parent_main, "worker": worker_main, "waiter": waiter_main}[args.role]
    asyncio.run(runner(args))


if __name__ == "__main__":
    main()
