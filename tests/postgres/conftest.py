"""PostgreSQL fixtures: hosts on this test's fresh schema, closed at teardown.

``pg_url`` (the real server, ``EFFECTHOST_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``) and ``pg_schema`` live in tests/conftest.py.
Unreachable: under CI (``CI=true``) every test here FAILS with the reason; elsewhere they skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pg_support import HostMaker, schema_url

from effecthost import DurableEffectHost, open_host


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
