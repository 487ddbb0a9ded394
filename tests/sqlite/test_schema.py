"""Schema creation, forward migration and the coded refusals (sqlite_schema_*)."""

from __future__ import annotations

import sqlite3

import pytest

from effecthost import EffectHostError, ExecutionScope, open_host
from effecthost._private.stores.sqlite.schema import SCHEMA_VERSION, V1_DDL

from ._helpers import counting, step


def _versions(path: str) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM effecthost_schema_versions ORDER BY 1")]


async def test_fresh_file_gets_current_schema_wal_and_a_32_byte_secret(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    await host.aclose()
    assert _versions(db_path) == list(range(1, SCHEMA_VERSION + 1))
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        secret = conn.execute("SELECT signing_secret FROM await_event_meta").fetchone()[0]
        assert isinstance(secret, bytes) and len(secret) == 32
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"effect_journal", "await_event_waits", "await_event_revoked_sessions"} <= tables
    finally:
        conn.close()


def _write_v1_file(path: str) -> None:
    """A file exactly as effecthost schema version 1 wrote it, with one completed effect."""
    envelope = step("migrated-session", "k1", 7)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in V1_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO effecthost_schema_versions VALUES (1, 0)")
    conn.execute("INSERT INTO await_event_meta VALUES (1, ?)", (b"\x01" * 32,))
    conn.execute(
        "INSERT INTO effect_journal (scope_key, replay_key, session_id, envelope_json, envelope_hash,"
        " status, outcome_json, created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            ExecutionScope.turn("migrated-session", "t").journal_key(), "k1", "migrated-session",
            envelope.canonical_json(), envelope.stable_hash(), "completed",
            '{"type":"durable_step","value":{"from":"v1"}}', 1, 1,
        ),
    )
    conn.close()


async def test_v1_file_migrates_to_current_and_replays_its_rows(db_path: str) -> None:
    _write_v1_file(db_path)
    host = await open_host(f"sqlite:///{db_path}")
    try:
        assert _versions(db_path) == list(range(1, SCHEMA_VERSION + 1))
        scope = ExecutionScope.turn("migrated-session", "t")
        row = await host.browser.get_row(scope.journal_key(), "k1")
        assert row is not None
        assert (row.effect_kind, row.effect_id) == ("durable_step", "k1")  # backfilled by v1→v2
        calls: list[str] = []
        outcome = await host.scoped(scope).controller.execute_effect(
            step("migrated-session", "k1", 7), counting(calls)
        )
        assert outcome.to_json() == {"type": "durable_step", "value": {"from": "v1"}}
        assert calls == []
    finally:
        await host.aclose()
    with sqlite3.connect(db_path) as conn:  # the old secret is kept: old keys still verify
        assert conn.execute("SELECT signing_secret FROM await_event_meta").fetchone()[0] == b"\x01" * 32
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "effect_journal_lease" not in indexes  # v2 added it, v3 dropped it
        assert "effect_journal_session" not in indexes  # v4 finds sessions by key range
        assert "effect_journal_sessionless" in indexes


async def test_file_from_a_newer_schema_is_refused_with_a_code(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    await host.aclose()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO effecthost_schema_versions VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(EffectHostError) as info:
        await open_host(f"sqlite:///{db_path}")
    assert info.value.code == "sqlite_schema_too_new"
    assert _versions(db_path)[-1] == SCHEMA_VERSION + 1  # nothing was touched


async def test_file_written_by_something_else_is_refused_with_a_code(db_path: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(EffectHostError) as info:
        await open_host(f"sqlite:///{db_path}")
    assert info.value.code == "sqlite_schema_unknown"
    with sqlite3.connect(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"users"}
