"""The operator console's HTTP API on PostgreSQL: the same scenarios as on memory and SQLite
(tests/server/console_cases.py), the app on its own host over the test's schema."""

from __future__ import annotations

import uuid

import pytest
from console_cases import console_scenario, role_checks
from pg_support import HostMaker, schema_url

pytestmark = pytest.mark.timeout(90)


async def test_operators_find_understand_and_act_on_turns_and_waits(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    await console_scenario(schema_url(pg_url, pg_schema), host, f"run-{uuid.uuid4().hex[:6]}")


async def test_every_route_checks_the_role(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    await make_host()
    await role_checks(schema_url(pg_url, pg_schema))
