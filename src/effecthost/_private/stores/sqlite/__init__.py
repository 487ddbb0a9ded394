"""The SQLite substrate: ``open_host("sqlite:///path.db")``. See docs/sqlite.md.

Modules: ``schema`` (tables, versions, migrations), ``db`` (connection, batched write
transactions), ``journal`` and ``awaits`` (the two store Protocols), ``wake`` (cross-process
wake-ups), ``durability`` (the ``synchronous`` option), ``substrate`` (per-process sharing).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from ...core.clock import SYSTEM_CLOCK, Clock
from ...core.errors import EffectHostError, ErrorCode
from ...runtime.controller import LeaseTimings
from ...runtime.durable import DurableEffectHost
from .awaits import SqliteAwaitStore
from .durability import Durability
from .journal import SqliteJournalStore
from .schema import SCHEMA_VERSION
from .substrate import SqliteSubstrate, acquire

__all__ = [
    "SCHEMA_VERSION",
    "SqliteAwaitStore",
    "SqliteJournalStore",
    "SqliteSubstrate",
    "open_sqlite_host",
]


def _url_options(url: str) -> dict[str, str]:
    if "?" not in url:
        return {}
    query = parse_qs(url.split("?", 1)[1], keep_blank_values=True)
    return {name: values[-1] for name, values in query.items()}


async def open_sqlite_host(
    path: str,
    *,
    url: str = "",
    clock: Clock = SYSTEM_CLOCK,
    lease: LeaseTimings | None = None,
    synchronous: str | None = None,
    **options: Any,
) -> DurableEffectHost:
    """A durable host on the SQLite file ``path`` (created and migrated on first open).

    ``synchronous`` (or ``?synchronous=`` in the URL): ``full`` (default), ``normal`` or ``extra``;
    see :mod:`.durability`. An explicit argument wins over the URL.
    """
    from_url = _url_options(url)
    unknown = (set(options) | set(from_url)) - {"synchronous"}
    if unknown:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"unknown SQLite host option(s): {', '.join(sorted(unknown))}"
        )
    durability = Durability.parse(synchronous if synchronous is not None else from_url.get("synchronous"))
    if not path:
        raise EffectHostError(ErrorCode.HOST_URL_INVALID, "a SQLite host needs a file path")
    substrate = await acquire(path)
    journal = SqliteJournalStore(substrate.db, clock, durability)
    awaits = SqliteAwaitStore(substrate.db, clock, durability, substrate.hub, substrate.channel)
    host = DurableEffectHost(
        journal,
        awaits,
        url=url or f"sqlite:///{path}",
        clock=clock,
        lease=lease,
        on_close=substrate.release,
    )
    host._substrate = substrate  # type: ignore[attr-defined]  # keeps the shared substrate alive
    return host
