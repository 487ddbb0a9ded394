"""Shared fixtures: the PostgreSQL server, and one fresh substrate per backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

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
    """The shared server. Unreachable: under CI (``CI=true``) the test FAILS; elsewhere it skips."""
    reason = _probe()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL suite; set EFFECTHOST_TEST_POSTGRES_URL)")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh, randomly named schema, dropped (with everything in it) after the test."""
    schema = f"eh_t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # Leftover sessions of this schema's hosts (a killed worker) must not block the drop.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
            (f"%{schema}%",),
        )
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL naming a fresh substrate of each first-party backend in turn."""
    if request.param == "memory":
        yield f"memory://{uuid.uuid4().hex}"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'effects.db'}"
    else:
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
