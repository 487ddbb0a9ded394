"""Listing turns on an engine: what the console's page of turns and its change feed cost.

Starts N short turns (plus a few parked on a wait) on Restate and on Temporal, each on a server
started here, then times, per engine:

- ``page_of_50``: ``operations.list_turns(limit=50)``, the page of turns (newest first, results);
- ``change_feed``: ``operations.changes``, which the page polls;
- ``describe_each``: what both cost before listings read the engine's tables, one describe call
  per turn (Restate's ``describe`` handler through the endpoint; Temporal's describe RPC).

JSON lines on stdout. Usage: python bench/engine_listing_bench.py [--turns 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from effecthost import operations
from effecthost.engines.restate import Endpoint, RestateConfig, RestateEffectHost, RestateServer
from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, TemporalServer, temporal_worker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "temporal"))

import bench_turns  # noqa: E402


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def median_ms(rounds: int, work: Callable[[], Awaitable[object]]) -> float:
    await work()  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


async def start_many(host: Any, name: str, turns: int, parked: int, parked_name: str) -> str:
    session = f"list-{uuid.uuid4().hex[:8]}"
    for i in range(turns):
        await host.start_turn(name, session_id=session, turn_id=f"t{i:04d}", input={"n": 1})
    for i in range(parked):
        await host.start_turn(parked_name, session_id=f"{session}-p{i}", turn_id="p")
    for i in range(turns):
        await host.turn_result(session, f"t{i:04d}", timeout=120)
    return session


async def measure(
    engine: str, host: Any, turns: int, rounds: int, describe_one: Callable[[str, str], Any]
) -> None:
    everything = await host.query_turns(limit=turns + 100)

    async def describe_each() -> None:
        for info in everything:
            await describe_one(info.session_id, info.turn_id)

    say(
        bench="engine_listing",
        engine=engine,
        turns=len(everything),
        page_of_50_ms=await median_ms(rounds, lambda: operations.list_turns(host, limit=50)),
        change_feed_ms=await median_ms(rounds, lambda: operations.changes(host)),
        describe_each_ms=await median_ms(rounds, describe_each),
        describe_each_is="one describe call per turn: what a page and the change feed cost before",
    )


async def restate(turns: int, parked: int, rounds: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="effecthost-listing-bench-"))
    secret = RestateConfig.new_secret()
    server = RestateServer(base / "data").start()
    endpoint = Endpoint(
        "bench_app:app",
        cwd=HERE / "restate",
        env={"EFFECTHOST_RESTATE_SECRET": secret, "EFFECTHOST_BENCH_MARKS": str(base)},
        log_path=base / "endpoint.log",
    ).start()
    try:
        server.register(endpoint.url)
        config = RestateConfig(bytes.fromhex(secret))
        async with (
            RestateEffectHost(server.ingress_url, server.admin_url, config) as host,
            httpx.AsyncClient(timeout=60) as client,
        ):
            await start_many(host, "n_steps", turns, parked, "waits_once")

            async def describe_one(session_id: str, turn_id: str) -> Any:
                key = urllib.parse.quote(f"{len(session_id)}:{session_id}/{turn_id}", safe="")
                answer = await client.post(f"{server.ingress_url}/EffecthostTurn/{key}/describe", json=None)
                return answer.json()

            await measure("restate", host, turns, rounds, describe_one)
    finally:
        endpoint.stop()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


async def temporal(turns: int, parked: int, rounds: int) -> None:
    from temporalio.client import Client

    with tempfile.TemporaryDirectory(prefix="effecthost-listing-bench-") as tmp:
        server = TemporalServer(Path(tmp) / "temporal.db").start()
        try:
            client = await Client.connect(server.address)
            config = TemporalConfig(bytes.fromhex(TemporalConfig.new_secret()), task_queue="bench-listing")
            host = TemporalEffectHost(client, config)
            async with temporal_worker(client, [bench_turns.steps, bench_turns.waits_once], config):
                await start_many(host, "steps", turns, parked, "waits_once")
                listed: list[Any] = []
                while len(listed) < turns + parked:  # visibility lags a moment
                    listed = await host.query_turns(limit=turns + parked)
                    await asyncio.sleep(0.2)

                async def describe_one(session_id: str, turn_id: str) -> Any:
                    workflow_id = f"effecthost-turn/{len(session_id)}:{session_id}/{turn_id}"
                    return await client.get_workflow_handle(workflow_id).describe()

                await measure("temporal", host, turns, rounds, describe_one)
        finally:
            server.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--parked", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--engine", choices=["restate", "temporal", "both"], default="both")
    args = ap.parse_args()
    say(bench="engine_listing", machine=os.environ.get("EFFECTHOST_BENCH_MACHINE", "shared 2-core box"))
    if args.engine in ("restate", "both"):
        await restate(args.turns, args.parked, args.rounds)
    if args.engine in ("temporal", "both"):
        await temporal(args.turns, args.parked, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
