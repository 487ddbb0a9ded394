"""Helpers shared by the PostgreSQL tests (a plain module: tests/ is not a package)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from effecthost import DurableEffectHost

HostMaker = Callable[..., Awaitable[DurableEffectHost]]


def schema_url(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


async def admin(pg_url: str) -> psycopg.AsyncConnection[Any]:
    """A separate autocommit connection for raw checks and fault injection."""
    return await psycopg.AsyncConnection.connect(pg_url, autocommit=True)


async def terminate(pg_url: str, application_name_like: str) -> int:
    """``pg_terminate_backend`` every backend whose application_name matches; returns how many."""
    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
            (application_name_like,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


def step_envelope(session: str, turn: str, step: str, value: Any = None) -> Any:
    """A durable-step envelope whose effect id and replay key are ``step``."""
    from effecthost import DurableStep, EffectEnvelope, EffectKind, RuntimeInvocation, RuntimeScope

    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn(session, turn, 0, 0), step, EffectKind.DURABLE_STEP, step
        ),
        DurableStep(step, value),
    )


async def until(predicate: Callable[[], Awaitable[bool]], pause_s: float = 0.005) -> None:
    """Wait until a condition on external state (a row, another process) holds; the test's
    timeout bounds it, so no assertion depends on how long it took."""
    while not await predicate():  # noqa: ASYNC110 - the state lives in PostgreSQL, not in an Event
        await asyncio.sleep(pause_s)
