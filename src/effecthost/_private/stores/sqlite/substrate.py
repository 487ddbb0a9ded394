"""One SQLite file as seen by one process (per event loop): connection, wake hub, wake channel.

Every host object opened on the same file in the same process shares one :class:`SqliteSubstrate`
(registry keyed by the file's real path), so in-process wake-ups are direct and writes of all of
them batch into shared commits. Hosts keep their own clock and durability level.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import weakref

from ...awaits.hub import WakeHub
from ...core.clock import SYSTEM_CLOCK
from ...core.errors import EffectHostError, ErrorCode
from .db import BUSY_GIVE_UP_S, BUSY_RETRY_MAX_S, Database, is_busy
from .schema import ensure_schema
from .wake import WakeChannel
from .wal import presize_wal


class SqliteSubstrate:
    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self.loop = loop
        self.db = Database(path, loop)
        self.hub = WakeHub()
        self.channel = WakeChannel(path, self.hub, loop)
        self.users = 0

    async def prepare(self) -> None:
        """WAL mode and schema, retried asynchronously while another process holds the lock."""
        delay = 0.001
        started = self.loop.time()
        while True:
            try:
                mode = self.db.conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise EffectHostError(
                        ErrorCode.SQLITE_EFFECT_REPLAY_STORE,
                        f"{self.path}: cannot switch to WAL mode (got {mode!r})",
                    )
                ensure_schema(self.db.conn, self.path, SYSTEM_CLOCK.now_ms())
                presize_wal(self.db.conn, self.path)
                return
            except sqlite3.Error as exc:
                if is_busy(exc) and self.loop.time() - started < BUSY_GIVE_UP_S:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, BUSY_RETRY_MAX_S)
                    continue
                raise EffectHostError(
                    ErrorCode.SQLITE_EFFECT_REPLAY_STORE, f"cannot open {self.path}: {exc}"
                ) from None

    async def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        _REGISTRY.pop(self.path, None)
        await self.db.drain()
        self.channel.close()
        self.db.close()


# Weak values: a substrate lives while some host uses it; a closed loop's entry is replaced.
_REGISTRY: weakref.WeakValueDictionary[str, SqliteSubstrate] = weakref.WeakValueDictionary()


def _real(path: str) -> str:
    return os.path.realpath(path)


async def acquire(path: str) -> SqliteSubstrate:
    """The process's substrate for ``path`` on the running loop (opened and migrated once)."""
    loop = asyncio.get_running_loop()
    real = _real(path)
    substrate = _REGISTRY.get(real)
    if substrate is not None and substrate.loop is loop and substrate.users > 0:
        substrate.users += 1
        return substrate
    try:
        substrate = SqliteSubstrate(real, loop)
    except sqlite3.Error as exc:
        raise EffectHostError(ErrorCode.SQLITE_EFFECT_REPLAY_STORE, f"cannot open {real}: {exc}") from None
    try:
        await substrate.prepare()
    except BaseException:
        substrate.db.close()
        raise
    # Another opener may have raced us while we awaited the schema; keep the first one.
    existing = _REGISTRY.get(real)
    if existing is not None and existing.loop is loop and existing.users > 0:
        substrate.db.close()
        existing.users += 1
        return existing
    substrate.users = 1
    _REGISTRY[real] = substrate
    return substrate
