"""``open_host(url)``: pick a substrate by URL scheme; drivers are imported only when used."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import EffectHostError, ErrorCode
from .controller import LeaseTimings
from .durable import DEFAULT_LEASE_TTL_MS, DurableEffectHost

SCHEMES = ("memory", "sqlite", "postgresql", "postgres")
#: A lease is how long a crashed owner's claim blocks its successor; past a day it is a typo (and
#: a ttl of 1e300 s would overflow every store's timestamps).
MAX_LEASE_TTL_S = 86_400


def lease_from(lease_ttl_s: float | None) -> LeaseTimings:
    if lease_ttl_s is None:
        return LeaseTimings(DEFAULT_LEASE_TTL_MS)
    if (
        isinstance(lease_ttl_s, bool)
        or not isinstance(lease_ttl_s, (int, float))
        or not math.isfinite(lease_ttl_s)
        or not 0 < lease_ttl_s <= MAX_LEASE_TTL_S
    ):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"lease_ttl_s must be a number of seconds in (0, {MAX_LEASE_TTL_S}], not {lease_ttl_s!r}",
        )
    return LeaseTimings(max(3, int(lease_ttl_s * 1000)))


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs.db`` → ``/abs.db``."""
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or len(rest) < 2:
        raise EffectHostError(
            ErrorCode.HOST_URL_INVALID, "sqlite URLs look like sqlite:///relative.db or sqlite:////abs.db"
        )
    return rest[1:].split("?", 1)[0]


async def open_host(
    url: str, *, lease_ttl_s: float | None = None, clock: Clock | None = None, **options: Any
) -> DurableEffectHost:
    """Open a durable host. Two hosts on the same URL share journal, await events and secret."""
    if not isinstance(url, str) or "://" not in url:
        raise EffectHostError(ErrorCode.HOST_URL_INVALID, f"not a host URL: {url!r}")
    scheme = urlsplit(url).scheme.lower()
    lease = lease_from(lease_ttl_s)
    use_clock = clock or SYSTEM_CLOCK
    if scheme == "memory":
        name = url[len("memory://") :]
        if not name:
            raise EffectHostError(ErrorCode.HOST_URL_INVALID, "memory URLs need a name: memory://NAME")
        from ..stores.memory import named_substrate

        substrate = named_substrate(name)
        host = DurableEffectHost(substrate.journal, substrate.awaits, url=url, clock=use_clock, lease=lease)
        host._substrate = substrate  # type: ignore[attr-defined]  # keeps the named substrate alive
        return host
    if scheme == "sqlite":
        from ..stores import sqlite as sqlite_store

        opened: DurableEffectHost = await sqlite_store.open_sqlite_host(
            sqlite_path(url), url=url, clock=use_clock, lease=lease, **options
        )
        return opened
    if scheme in ("postgresql", "postgres"):
        from ..stores import postgres as postgres_store

        opened_pg: DurableEffectHost = await postgres_store.open_postgres_host(
            url, clock=use_clock, lease=lease, **options
        )
        return opened_pg
    raise EffectHostError(
        ErrorCode.HOST_URL_UNSUPPORTED,
        f"unsupported host URL scheme {scheme!r}; use one of memory://, sqlite://, postgresql://",
    )
