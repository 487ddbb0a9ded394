"""``open_host("postgresql://...")``: pool, migrations, secret, listener and stores of one schema."""

from __future__ import annotations

from typing import Any

from ...awaits.hub import WakeHub
from ...core.clock import Clock
from ...core.errors import ErrorCode
from ..base import Capabilities, SchemeSpec, Substrate
from .awaits import PostgresAwaitStore
from .config import parse_options
from .db import Database, store_error
from .journal import PostgresJournalStore
from .listener import NotifyListener
from .schema import migrate
from .turns import PostgresTurnStore


class PostgresSubstrate(Substrate):
    """A PostgreSQL schema as one host sees it; ``listener`` is its LISTEN connection (tests wait
    on its reconnects)."""

    listener: NotifyListener


async def open_postgres_substrate(url: str, *, clock: Clock, options: dict[str, Any]) -> Substrate:
    """The schema named by ``?schema=`` or ``schema=`` (default ``effecthost``), migrated on open.

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
    started = listener

    async def close() -> None:
        await started.stop()
        await db.close()

    substrate = PostgresSubstrate(
        journal=journal,
        browser=journal,
        awaits=PostgresAwaitStore(db, hub, secret),
        turns=PostgresTurnStore(db, hub),
        close=close,
        capabilities=Capabilities(shared_across_processes=True, schema_migrations=True),
        lease_hooks=journal,
    )
    substrate.listener = listener
    return substrate


SCHEME = SchemeSpec(open=open_postgres_substrate)
