"""The whole conformance kit against the real PostgreSQL server, one test (and schema) per vector.

Every host a vector opens shares the test's schema, so the cold-instance vectors see one
substrate through many host objects, exactly as separate worker processes would. The database is
the lease clock, so the lease vectors run on real (short) waits, not a ManualClock.
"""

from __future__ import annotations

import pytest
from pg_support import schema_url

from effecthost.testing.suites import DurableHostSuite, TurnsSuite

pytest_plugins = ["effecthost.testing.pytest_plugin"]


class TestPostgresHost(TurnsSuite, DurableHostSuite):
    @pytest.fixture
    def effecthost_url(self, pg_url: str, pg_schema: str) -> str:
        return schema_url(pg_url, pg_schema)

    @pytest.fixture
    def effecthost_lease_clock(self) -> None:
        return None
