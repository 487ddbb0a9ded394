"""How long each kind of refused await-event key takes to refuse, per backend (JSON lines).

A forged key (bad signature) and a genuine key of a revoked session get the same answer
(``unknown_or_revoked``). If they took different work, their timing would tell a caller which one
it holds. This measures a genuine key of a revoked session and forged keys naming a revoked and a
live session (over HTTP also a malformed token), interleaved call by call so that the
machine's drift hits all alike, for ``resolve`` and ``peek``, and prints per kind the median
and the 10th/90th percentile in µs, plus
``separability``: the probability that a random revoked-key call took longer than a random
forged-key call (0.5 = indistinguishable; 1.0 = every revoked call was slower).

With ``--http`` the same calls go through ``effecthost serve`` (a separate process on
127.0.0.1) over one keep-alive connection, as a remote caller would time them (memory is skipped
there: a served memory:// host shares nothing with this process).

Usage: python bench/refusal_timing.py [--calls N] [--backends memory,sqlite,postgres] [--http]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[1] / "src")
sys.path.insert(0, SRC)

from effecthost import (  # noqa: E402 - after sys.path: the checkout is measured
    AwaitEventKey,
    EffectHostError,
    ExecutionScope,
    Resolution,
    WaitIdentity,
    open_host,
)
from effecthost._private.runtime.await_loop import identity_of  # noqa: E402

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


class Library:
    """Refusals through the library: ``host.resolve_await_event`` / ``host.peek_await_event``."""

    def __init__(self, host: Any) -> None:
        self._host = host

    async def resolve(self, token: str) -> None:
        await self._host.resolve_await_event(AwaitEventKey.from_token(token), Resolution.ok(1))

    async def peek(self, token: str) -> None:
        await self._host.peek_await_event(AwaitEventKey.from_token(token))


RESOLUTION = {"status": "ok", "payload": 1}


class Http:
    """The same refusals through ``effecthost serve`` on one keep-alive connection."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def resolve(self, token: str) -> None:
        answer = await self._client.post(f"/v1/await-events/{token}/resolve", json=RESOLUTION)
        assert answer.status_code == 404, answer.text  # await_event_unknown_or_revoked

    async def peek(self, token: str) -> None:
        answer = await self._client.get(f"/v1/await-events/{token}")
        assert answer.status_code == 404, answer.text


async def refused_tokens(host: Any) -> dict[str, str]:
    """A genuine key of a revoked session, and forged keys naming a revoked and a live session."""
    session = f"timing-{uuid.uuid4().hex[:8]}"
    revoked = await host.await_event_key(ExecutionScope.turn(session, "t"), WaitIdentity.custom("w"))
    await host.revoke_await_events_for_session(session)
    live_scope = ExecutionScope.turn(session + "-live", "t")
    live = await host.await_event_key(live_scope, WaitIdentity.custom("w"))
    # A pending promise under the live key, as a parked waiter leaves it.
    await host.await_coordinator.store.ensure_pending(live.key_id, identity_of(live))
    return {
        "revoked": revoked.to_token(),
        "forged_revoked_session": dataclasses.replace(revoked, signature="0" * 64).to_token(),
        "forged_live_session": dataclasses.replace(live, signature="0" * 64).to_token(),
    }


async def measure(caller: Library | Http, tokens: dict[str, str], backend: str, via: str, calls: int) -> None:
    kinds = list(tokens)
    for operation in ("resolve", "peek"):
        call = caller.resolve if operation == "resolve" else caller.peek
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        for index in range(calls + calls // 10):
            order = kinds[index % len(kinds) :] + kinds[: index % len(kinds)]
            for kind in order:
                elapsed = await _timed(lambda c=call, k=kind: c(tokens[k]))
                if index >= calls // 10:  # the first tenth warms caches and connections
                    samples[kind].append(elapsed)
        line: dict[str, Any] = {
            "bench": "refusal_timing",
            "backend": backend,
            "via": via,
            "operation": operation,
            "calls": calls,
        }
        line.update({kind: summary(samples[kind]) for kind in kinds})
        line["separability"] = {
            f"revoked_vs_{kind}": round(separability(samples["revoked"], samples[kind]), 3)
            for kind in kinds[1:]
        }
        print(json.dumps(line), flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure_http(url: str, backend: str, calls: int) -> None:
    import httpx

    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "effecthost.cli", "serve", "--url", url, "--port", str(port),
        env={**os.environ, "EFFECTHOST_ADMIN_TOKEN": "bench", "PYTHONPATH": SRC},
        stdout=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            host = await open_host(url)
            try:
                tokens = await refused_tokens(host)
            finally:
                await host.aclose()
            # over HTTP a string that is no token at all is one more kind (the library refuses it
            # before any host call): the service checks it as a decoy key, at a forged key's cost.
            # Of a forged token's length (one character not base64url), so that only the work
            # differs, not how much was sent.
            forged = tokens["forged_live_session"]
            tokens["malformed"] = forged[:20] + "*" + forged[21:]
            await measure(Http(client), tokens, backend, "http", calls)
    finally:
        server.terminate()
        await server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--backends", default="memory,sqlite,postgres")
    parser.add_argument("--http", action="store_true", help="through `effecthost serve` instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = {
            "memory": f"memory://timing-{uuid.uuid4().hex}",
            "sqlite": f"sqlite:///{folder}/timing.db",
            "postgres": f"{PG_URL}?schema=timing_{uuid.uuid4().hex[:8]}",
        }
        for backend in args.backends.split(","):
            if args.http:
                if backend != "memory":
                    await measure_http(urls[backend], backend, args.calls)
                continue
            host = await open_host(urls[backend])
            try:
                await measure(Library(host), await refused_tokens(host), backend, "library", args.calls)
            finally:
                await host.aclose()


if __name__ == "__main__":
    asyncio.run(main())
