"""PostgreSQL fixtures: the real server, a fresh schema per test, hosts closed at teardown.

The server is ``EFFECTHOST_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Unreachable: under CI (``CI=true``) every test here FAILS with the reason; elsewhere they skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from pg_support import HostMaker, schema_url

from effecthost import DurableEffectHost, open_host

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("EFFECTHOST_TEST_POSTGRES_URL", DEFAULT_URL)
_reachable: str | None = None  # "" when reachable, else the reason


def _probe() -> str:
    global _reachable
    if _reachable is None:
        try:
            with psycopg.connect(PG_URL, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            _reachable = ""
        except psycopg.Error as exc:
            _reachable = f"PostgreSQL at {PG_URL} is unreachable: {exc}"
    return _reachable


@pytest.fixture
def pg_url() -> str:
    reason = _probe()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL suite; set EFFECTHOST_TEST_POSTGRES_URL)")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
async def pg_schema(pg_url: str) -> AsyncIterator[str]:
    """A fresh, randomly named schema, dropped (with everything in it) after the test."""
    schema = f"eh_t_{uuid.uuid4().hex[:12]}"
    yield schema
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        # Leftover sessions of this schema's hosts (a killed worker) must not block the drop.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
            (f"%{schema}%",),
        )
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
async def make_host(pg_url: str, pg_schema: str) -> AsyncIterator[HostMaker]:
    """Open hosts on this test's schema; all are closed at teardown."""
    opened: list[DurableEffectHost] = []

    async def make(**options: Any) -> DurableEffectHost:
        host = await open_host(schema_url(pg_url, pg_schema), **options)
        opened.append(host)
        return host

    yield make
    for host in reversed(opened):
        await host.aclose()
