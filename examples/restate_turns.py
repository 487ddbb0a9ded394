"""One turn on Restate, from a fresh restate-server to its result (docs/restate.md).

Run: ``python examples/restate_turns.py`` after ``make install`` (the ``restate`` extra and
restate-server under .engines/restate). It starts restate-server on free 127.0.0.1 ports with a
temporary data directory, serves this file's turn as an endpoint (another process), registers
it, starts the turn, resolves the wait it parks on, prints the result and stops both by PID.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from effecthost import Resolution, Turn, durable_turn, step
from effecthost.engines.restate import Endpoint, RestateConfig, RestateEffectHost, RestateServer, restate_app

SECRET_ENV = "EFFECTHOST_RESTATE_SECRET"
HERE = Path(__file__).resolve().parent


@step
def fetch(url: str) -> dict[str, Any]:
    return {"url": url, "status": 200}


@durable_turn
async def agent(turn: Turn, user: str) -> dict[str, Any]:
    page = await fetch("https://example.com")
    approval = await turn.wait("approve", question={"email": user}, timeout=3600)
    return {"status": page["status"], "approved": approval.value}


def __getattr__(name: str) -> Any:
    """``app``: the endpoint's ASGI app, built when the endpoint process asks for it."""
    if name == "app":
        return restate_app([agent], RestateConfig.from_env())
    raise AttributeError(name)


async def main() -> None:
    os.environ.setdefault(SECRET_ENV, RestateConfig.new_secret())  # shared with the endpoint
    config = RestateConfig.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        server = RestateServer(Path(tmp) / "data").start()
        endpoint = Endpoint("restate_turns:app", cwd=HERE)
        try:
            endpoint.start()
            server.register(endpoint.url)
            async with RestateEffectHost(server.ingress_url, server.admin_url, config) as host:
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
            endpoint.stop()
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
