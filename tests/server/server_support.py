"""Helpers for the HTTP service tests: a memory:// substrate shared by the app and the test's own host.

The app opens its own host on the same ``memory://NAME`` URL, exactly as a separate server process
would on a database: resolving through the API must wake the waiter the test parked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from effecthost import (
    AwaitEvent,
    AwaitEventKey,
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Outcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
)
from effecthost.server import create_app
from effecthost.server.protocol import uvicorn_options

ADMIN = "admin-secret"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@dataclass
class ParkedTurn:
    scope: ExecutionScope
    key: AwaitEventKey
    task: asyncio.Task[Outcome]


async def park_turn(
    host: DurableEffectHost, session_id: str, turn_id: str = "turn-1", call_id: str = "call-1"
) -> ParkedTurn:
    """A two-effect turn: a durable step that completes, then an await event that parks."""
    scope = ExecutionScope.turn(session_id, turn_id)
    controller = host.scoped(scope).controller
    lineage = RuntimeScope.for_turn(session_id, turn_id, 0, 0)
    step = EffectEnvelope(
        RuntimeInvocation.effect(lineage, "plan", EffectKind.DURABLE_STEP, f"{call_id}:plan"),
        DurableStep("plan", {"goal": "approve"}),
    )
    await controller.execute_effect(step, LocalExecutor.durable_step(lambda value: value))
    key = await host.await_event_key(scope, WaitIdentity.tool_completion(call_id))
    wait = EffectEnvelope(
        RuntimeInvocation.effect(lineage, call_id, EffectKind.AWAIT_EVENT, f"{call_id}:wait"),
        AwaitEvent(key),
    )
    task = asyncio.create_task(controller.execute_effect(wait, LocalExecutor.await_event()))
    # No timing assertion: wait until the waiter is registered (the per-test timeout bounds it).
    while key not in await host.list_outstanding_await_event_keys(session_id):
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    return ParkedTurn(scope, key, task)


async def resolve_and_peek_each(
    client: httpx.AsyncClient, keys: list[Any], resolution: dict[str, Any]
) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """Resolve and peek every key's token; the distinct (status, body) answers of each. Keys the
    service must not tell apart (forged, foreign, revoked) give one answer each way."""
    answers: set[tuple[int, str]] = set()
    peeks: set[tuple[int, str]] = set()
    for key in keys:
        token = key.to_token()
        resolved = await client.post(f"/v1/await-events/{token}/resolve", json=resolution)
        answers.add((resolved.status_code, resolved.text))
        peeked = await client.get(f"/v1/await-events/{token}")
        peeks.add((peeked.status_code, peeked.text))
    return answers, peeks


def make_app(url: str, **options: Any) -> Starlette:
    options.setdefault("admin_token", ADMIN)
    return create_app(url, **options)


@contextlib.asynccontextmanager
async def serve_in_process(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (httpx's ASGI transport does not) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://effecthost.test") as c:
            yield c


@contextlib.asynccontextmanager
async def live_server(app: Starlette, head_timeout_s: float = 10.0) -> AsyncIterator[str]:
    """A real uvicorn server on 127.0.0.1 (a free port bound up front), in this event loop, run
    as `effecthost serve` runs it (uvicorn_options)."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = uvicorn_options(head_timeout_s)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class ThreadedServer:
    """uvicorn in a background thread with its own loop, for synchronous clients (schemathesis)."""

    def __init__(self, app: Starlette) -> None:
        import socket
        import threading

        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        import time

        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join()
        self._sock.close()
