"""``open_host("postgresql://...")``: pool, migrations, secret, listener, stores, host."""

from __future__ import annotations

from typing import Any

from ...awaits.store import WakeHub
from ...core.clock import SYSTEM_CLOCK, Clock
from ...core.errors import ErrorCode
from ...runtime.controller import LeaseTimings
from ...runtime.durable import DurableEffectHost
from .awaits import PostgresAwaitStore
from .config import parse_options
from .db import Database, store_error
from .journal import PostgresJournalStore
from .listener import NotifyListener
from .schema import migrate


async def open_postgres_host(
    url: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    lease: LeaseTimings | None = None,
    **options: Any,
) -> DurableEffectHost:
    """Open a host on the schema named by ``?schema=`` or ``schema=`` (default ``effecthost``).

    Options (URL query or keywords): ``schema``, ``pool_min_size``, ``pool_max_size`` (alias
    ``pool_size``), ``max_payload_bytes``, ``connect_timeout_s``, ``application_name``.
    """
    import psycopg

    parsed = parse_options(url, options)
    db = await Database.open(parsed)
    listener: NotifyListener | None = None
    try:
        secret = await migrate(db)
        hub = WakeHub()
        listener = NotifyListener(parsed, hub)
        try:
            await listener.start()
        except psycopg.Error as exc:
            raise store_error(ErrorCode.POSTGRES_AWAIT_EVENT_STORE, exc) from None
    except BaseException:
        if listener is not None:
            await listener.stop()
        await db.close()
        raise
    journal = PostgresJournalStore(db, clock)
    awaits = PostgresAwaitStore(db, hub, secret)
    started = listener

    async def close() -> None:
        await started.stop()
        await db.close()

    host = DurableEffectHost(journal, awaits, url=url, clock=clock, lease=lease, on_close=close)
    host.listener = listener  # type: ignore[attr-defined]  # tests wait on its reconnects
    return host
