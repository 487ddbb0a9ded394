"""One dedicated LISTEN connection per host: cross-process wake-ups into the in-process WakeHub.

A pooled connection cannot LISTEN (it is handed to other work between statements), so the host
keeps its own. When that connection dies the listener reconnects with backoff and, once it listens
again, wakes *every* local waiter: notifications sent while it was away are lost, and each waiter
re-reads its row. The coordinator's polling with backoff covers the gap meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
from psycopg import AsyncConnection, sql

from ...awaits.hub import WakeHub
from .config import PostgresOptions

_BACKOFF_START_S = 0.05
_BACKOFF_MAX_S = 2.0


class NotifyListener:
    def __init__(self, options: PostgresOptions, hub: WakeHub) -> None:
        self._options = options
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection[object] | None = None
        self._listening = asyncio.Condition()
        #: How many times a LISTEN has been established (tests wait for a reconnect with it).
        self.generation = 0
        self.received = 0

    async def start(self) -> None:
        """Listen before returning (so a host is wake-ready when open), then keep listening."""
        await self._connect()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    async def wait_for_generation(self, generation: int) -> None:
        async with self._listening:
            await self._listening.wait_for(lambda: self.generation >= generation)

    async def _connect(self) -> None:
        conn = await AsyncConnection.connect(
            self._options.conninfo,
            autocommit=True,
            application_name=self._options.listen_application_name,
            connect_timeout=max(1, int(self._options.connect_timeout_s)),
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._options.channel)))
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        async with self._listening:
            self.generation += 1
            self._listening.notify_all()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    async def _run(self) -> None:
        backoff = _BACKOFF_START_S
        while True:
            try:
                if self._conn is None:
                    await self._connect()
                    backoff = _BACKOFF_START_S
                    self._hub.notify_all()  # anything sent while we were away is lost: re-read
                assert self._conn is not None
                async for note in self._conn.notifies():
                    self.received += 1
                    self._dispatch(note.payload)
            except (psycopg.Error, OSError):
                await self._drop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _dispatch(self, payload: str) -> None:
        self._hub.dispatch_hint(payload, source=f"NOTIFY {self._options.channel}")
