"""The SQLite substrate: ``open_host("sqlite:///path.db")``. See docs/sqlite.md.

Modules: ``schema`` (tables, versions, migrations), ``db`` (connection, batched write
transactions), ``journal``, ``awaits`` and ``turns`` (the store Protocols), ``wake`` (cross-process
wake-ups), ``durability`` (the ``synchronous`` option), ``substrate`` (per-process sharing).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any
from urllib.parse import parse_qs

from ...core.clock import Clock
from ...core.errors import EffectHostError, ErrorCode
from ..base import Capabilities, SchemaStatus, SchemeSpec, Substrate
from .awaits import SqliteAwaitStore
from .durability import Durability
from .journal import SqliteJournalStore
from .schema import SCHEMA_VERSION, file_version
from .substrate import SqliteSubstrate, acquire
from .turns import SqliteTurnStore

__all__ = [
    "SCHEMA_VERSION",
    "SCHEME",
    "SqliteAwaitStore",
    "SqliteJournalStore",
    "SqliteSubstrate",
    "SqliteTurnStore",
    "open_sqlite_substrate",
    "sqlite_path",
]

_CAPABILITIES = Capabilities(shared_across_processes=True, schema_migrations=True)


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs.db`` → ``/abs.db``."""
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or len(rest) < 2:
        raise EffectHostError(
            ErrorCode.HOST_URL_INVALID, "sqlite URLs look like sqlite:///relative.db or sqlite:////abs.db"
        )
    return rest[1:].split("?", 1)[0]


def _url_options(url: str) -> dict[str, str]:
    if "?" not in url:
        return {}
    query = parse_qs(url.split("?", 1)[1], keep_blank_values=True)
    return {name: values[-1] for name, values in query.items()}


async def open_sqlite_substrate(url: str, *, clock: Clock, options: dict[str, Any]) -> Substrate:
    """The SQLite file the URL names (created and migrated on first open), seen with ``clock``.

    ``synchronous`` (or ``?synchronous=`` in the URL): ``full`` (default), ``normal`` or ``extra``;
    see :mod:`.durability`. An explicit argument wins over the URL.
    """
    path = sqlite_path(url)
    from_url = _url_options(url)
    unknown = (set(options) | set(from_url)) - {"synchronous"}
    if unknown:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"unknown SQLite host option(s): {', '.join(sorted(unknown))}"
        )
    synchronous = options.get("synchronous")
    durability = Durability.parse(synchronous if synchronous is not None else from_url.get("synchronous"))
    shared = await acquire(path)
    journal = SqliteJournalStore(shared.db, clock, durability)
    awaits = SqliteAwaitStore(shared.db, clock, durability, shared.hub, shared.channel)
    turns = SqliteTurnStore(shared.db, durability, shared.hub, shared.channel)
    return Substrate(
        journal=journal,
        browser=journal,
        awaits=awaits,
        turns=turns,
        close=shared.release,
        capabilities=_CAPABILITIES,
        lease_hooks=journal,
    )


async def check_sqlite_schema(url: str) -> SchemaStatus:
    """Read the file's schema version read-only, so a check never writes (nor creates the file)."""
    path = sqlite_path(url)

    def read() -> int | None:
        if not os.path.exists(path):
            return None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                version = file_version(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise EffectHostError(ErrorCode.SQLITE_SCHEMA_UNKNOWN, f"cannot read {path}: {exc}") from None
        if version is None:
            raise EffectHostError(
                ErrorCode.SQLITE_SCHEMA_UNKNOWN, f"{path} holds tables that effecthost did not write"
            )
        return version or None  # 0: an empty file, which open would create the schema in

    found = await asyncio.to_thread(read)
    if found is not None and found > SCHEMA_VERSION:
        raise EffectHostError(
            ErrorCode.SQLITE_SCHEMA_TOO_NEW,
            f"{path} has schema {found}; this effecthost knows {SCHEMA_VERSION}",
        )
    return SchemaStatus(found, SCHEMA_VERSION)


SCHEME = SchemeSpec(open=open_sqlite_substrate, check_schema=check_sqlite_schema)
