"""effecthost on Temporal beside plain Temporal workflows, on one dev server started here.

Per journaled effect: a turn of N steps (the turn API on TemporalController: one local activity
per step) against a plain workflow running N local activities and one running N activities, the
same worker process, alternating rounds. JSON lines on stdout.

Usage: python bench/temporal_bench.py [--n 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, TemporalServer, temporal_worker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "temporal"))

import bench_turns  # noqa: E402


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="effecthost-temporal-bench-") as tmp:
        server = TemporalServer(Path(tmp) / "temporal.db").start()
        try:
            client = await Client.connect(server.address)
            config = TemporalConfig(bytes.fromhex(TemporalConfig.new_secret()), task_queue="bench-turns")
            host = TemporalEffectHost(client, config)
            plain = Worker(
                client,
                task_queue="bench-plain",
                workflows=[bench_turns.PlainLocal, bench_turns.PlainActivities],
                activities=[bench_turns.plain_inc],
            )
            async with temporal_worker(client, [bench_turns.steps], config), plain:
                # warm-up: one of each
                await host.run_turn("steps", session_id="warm", turn_id="w", input={"n": 2})
                for kind in ("PlainLocal", "PlainActivities"):
                    await client.execute_workflow(kind, 2, id=f"warm-{kind}", task_queue="bench-plain")
                times: dict[str, list[float]] = {"effecthost": [], "local": [], "activities": []}
                for r in range(args.rounds):
                    started = time.perf_counter()
                    total = await host.run_turn(
                        "steps", session_id=f"b-{uuid.uuid4().hex[:8]}", turn_id="t", input={"n": args.n}
                    )
                    times["effecthost"].append(time.perf_counter() - started)
                    assert total == args.n * (args.n + 1) // 2
                    for kind, name in (("local", "PlainLocal"), ("activities", "PlainActivities")):
                        started = time.perf_counter()
                        await client.execute_workflow(
                            name, args.n, id=f"{name}-{r}-{uuid.uuid4().hex[:6]}", task_queue="bench-plain"
                        )
                        times[kind].append(time.perf_counter() - started)
                us = {k: statistics.median(v) / args.n * 1e6 for k, v in times.items()}
                say(
                    bench="temporal_per_effect",
                    n=args.n,
                    rounds=args.rounds,
                    effecthost_us_per_effect=round(us["effecthost"], 1),
                    plain_local_activity_us=round(us["local"], 1),
                    plain_activity_us=round(us["activities"], 1),
                    ratio_vs_local=round(us["effecthost"] / us["local"], 2),
                    ratio_vs_activity=round(us["effecthost"] / us["activities"], 2),
                )
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
