"""How long each kind of refused await-event key takes to refuse, per backend (JSON lines).

A forged key (bad signature) and a genuine key of a revoked session get the same answer
(``unknown_or_revoked``). If they took different work, their timing would tell a caller which one
it holds. This measures a genuine key of a revoked session and forged keys naming a revoked and a
live session, interleaved call by call so that the machine's drift hits all alike, for
``resolve`` and ``peek``, and prints per kind the median and the 10th/90th percentile in µs, plus
``separability``: the probability that a random revoked-key call took longer than a random
forged-key call (0.5 = indistinguishable; 1.0 = every revoked call was slower).

Usage: python bench/refusal_timing.py [--calls N] [--backends memory,sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from effecthost import (
    AwaitEventKey,
    EffectHostError,
    ExecutionScope,
    Resolution,
    WaitIdentity,
    open_host,
)

PG_URL = os.environ.get("EFFECTHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def separability(slow: list[float], fast: list[float]) -> float:
    """P(a random ``slow`` sample > a random ``fast`` one), ties counted half (the AUC)."""
    ordered = sorted(fast)
    wins = 0.0
    for value in slow:
        below = bisect.bisect_left(ordered, value)
        ties = bisect.bisect_right(ordered, value) - below
        wins += below + ties / 2
    return wins / (len(slow) * len(ordered))


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered), 1),
        "p10_us": round(ordered[len(ordered) // 10], 1),
        "p90_us": round(ordered[len(ordered) * 9 // 10], 1),
    }


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(EffectHostError):
        await call()
    return (time.perf_counter() - started) * 1e6


async def measure(url: str, backend: str, calls: int) -> None:
    host = await open_host(url)
    try:
        session = f"timing-{uuid.uuid4().hex[:8]}"
        revoked = await host.await_event_key(ExecutionScope.turn(session, "t"), WaitIdentity.custom("w"))
        await host.revoke_await_events_for_session(session)
        # A live session with a pending promise: a forger may name one as well as a revoked one.
        live_scope = ExecutionScope.turn(session + "-live", "t")
        live = await host.await_event_key(live_scope, WaitIdentity.custom("w"))
        parked = asyncio.ensure_future(host.await_await_event(live))
        while not await host.list_outstanding_await_event_keys(session + "-live"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # Through the token codec, as an HTTP caller would arrive.
        keys = {
            "revoked": revoked.to_token(),
            "forged_revoked_session": dataclasses.replace(revoked, signature="0" * 64).to_token(),
            "forged_live_session": dataclasses.replace(live, signature="0" * 64).to_token(),
        }
        kinds = list(keys)
        for operation in ("resolve", "peek"):
            samples: dict[str, list[float]] = {kind: [] for kind in kinds}
            for index in range(calls + calls // 10):
                order = kinds[index % len(kinds) :] + kinds[: index % len(kinds)]
                for kind in order:
                    key = AwaitEventKey.from_token(keys[kind])
                    if operation == "resolve":
                        elapsed = await _timed(lambda k=key: host.resolve_await_event(k, Resolution.ok(1)))
                    else:
                        elapsed = await _timed(lambda k=key: host.peek_await_event(k))
                    if index >= calls // 10:  # the first tenth warms caches and connections
                        samples[kind].append(elapsed)
            line: dict[str, Any] = {
                "bench": "refusal_timing",
                "backend": backend,
                "operation": operation,
                "calls": calls,
            }
            line.update({kind: summary(samples[kind]) for kind in kinds})
            line["separability"] = {
                f"revoked_vs_{kind}": round(separability(samples["revoked"], samples[kind]), 3)
                for kind in kinds[1:]
            }
            print(json.dumps(line), flush=True)
        parked.cancel()
    finally:
        await host.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--backends", default="memory,sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = {
            "memory": f"memory://timing-{uuid.uuid4().hex}",
            "sqlite": f"sqlite:///{folder}/timing.db",
            "postgres": f"{PG_URL}?schema=timing_{uuid.uuid4().hex[:8]}",
        }
        for backend in args.backends.split(","):
            await measure(urls[backend], backend, args.calls)


if __name__ == "__main__":
    asyncio.run(main())
