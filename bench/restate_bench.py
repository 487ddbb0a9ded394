"""effecthost on Restate beside plain Restate, on one restate-server started here.

- per journaled effect: a turn of N steps (the turn API on RestateController) against a plain
  Restate handler doing N ``ctx.run`` steps, alternating rounds, same server, same endpoint;
- resolve-to-wake: a turn parked on a wait; the time from the resolve call to the turn's result;
- replay: a 1,000-step turn whose endpoint is SIGKILLed once every step is journaled; the time
  the retried attempt spends replaying the 1,000 steps (measured inside the handler).

JSON lines on stdout. Usage: python bench/restate_bench.py [--n 200] [--rounds 5] [--wakes 20]
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
import uuid
from pathlib import Path
from typing import Any

import httpx

from effecthost import Resolution
from effecthost.engines.restate import Endpoint, RestateConfig, RestateEffectHost, RestateServer

HERE = Path(__file__).resolve().parent


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--wakes", type=int, default=20)
    ap.add_argument("--replay-n", type=int, default=1000)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="effecthost-restate-bench-"))
    secret = RestateConfig.new_secret()
    server = RestateServer(base / "data").start()
    endpoint = Endpoint(
        "bench_app:app",
        cwd=HERE / "restate",
        env={
            "EFFECTHOST_RESTATE_SECRET": secret,
            "EFFECTHOST_BENCH_MARKS": str(base),
            "EFFECTHOST_BENCH_PROFILE": os.environ.get("EFFECTHOST_BENCH_PROFILE", ""),
        },
        log_path=base / "endpoint.log",
    ).start()
    try:
        server.register(endpoint.url)
        config = RestateConfig(bytes.fromhex(secret))
        async with (
            RestateEffectHost(server.ingress_url, server.admin_url, config) as host,
            httpx.AsyncClient(timeout=600) as client,
        ):
            say(bench="restate", machine="shared 2-core box, other engineers' tests running", n=args.n)
            turn_s: list[float] = []
            plain_s: list[float] = []
            for r in range(args.rounds + 1):  # round 0 warms up
                t0 = time.perf_counter()
                await host.run_turn(
                    "n_steps", session_id="bench", turn_id=f"r{r}-{uuid.uuid4().hex[:6]}", input={"n": args.n}
                )
                t1 = time.perf_counter()
                (await client.post(f"{server.ingress_url}/PlainBench/many", json=args.n)).raise_for_status()
                t2 = time.perf_counter()
                if r:
                    turn_s.append(t1 - t0)
                    plain_s.append(t2 - t1)
            turn_us = statistics.median(turn_s) / args.n * 1e6
            plain_us = statistics.median(plain_s) / args.n * 1e6
            say(
                bench="per_journaled_effect",
                n=args.n,
                rounds=args.rounds,
                effecthost_turn_us=round(turn_us, 1),
                plain_restate_us=round(plain_us, 1),
                ratio=round(turn_us / plain_us, 2),
                target_ratio=1.3,
            )
            wakes: list[float] = []
            for w in range(args.wakes):
                session = f"wake-{uuid.uuid4().hex[:8]}"
                handle = await host.start_turn("waits_once", session_id=session, turn_id="t")
                keys: list[Any] = []
                while not keys:
                    keys = await host.list_outstanding_await_event_keys(session)
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
                t0 = time.perf_counter()
                await host.resolve_await_event(keys[0], Resolution.ok(w))
                await handle.result(timeout=30)
                wakes.append(time.perf_counter() - t0)
            wakes.sort()
            say(
                bench="resolve_to_wake",
                samples=len(wakes),
                p50_ms=round(statistics.median(wakes) * 1000, 1),
                p90_ms=round(wakes[int(len(wakes) * 0.9) - 1] * 1000, 1),
                includes="resolve through the index object + the turn's wake + its result through attach",
            )
            tag = f"plain-{uuid.uuid4().hex[:8]}"
            plain_task = asyncio.ensure_future(
                client.post(
                    f"{server.ingress_url}/PlainBench/plain_replayed", json={"n": args.replay_n, "tag": tag}
                )
            )
            while not plain_task.done():
                if endpoint.process is not None and endpoint.process.poll() is not None:
                    endpoint.stop()
                    endpoint.start()
                await asyncio.sleep(0.05)
            plain_replay_s = plain_task.result().json()["replay_s"]
            session = f"replay-{uuid.uuid4().hex[:8]}"
            await host.start_turn(
                "replayed", session_id=session, turn_id="t", input={"n": args.replay_n, "tag": session}
            )
            result_task = asyncio.ensure_future(host.turn_result(session, "t", timeout=600))
            while not result_task.done():
                if endpoint.process is not None and endpoint.process.poll() is not None:
                    endpoint.stop()
                    endpoint.start()
                await asyncio.sleep(0.05)
            result = result_task.result()
            say(
                bench="replay_1000_effect_turn",
                effects=args.replay_n,
                replay_s=round(result["replay_s"], 4),
                us_per_replayed_effect=round(result["replay_s"] / args.replay_n * 1e6, 1),
                plain_restate_replay_s=round(plain_replay_s, 4),
                plain_us_per_replayed_step=round(plain_replay_s / args.replay_n * 1e6, 1),
            )
    finally:
        endpoint.stop()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
