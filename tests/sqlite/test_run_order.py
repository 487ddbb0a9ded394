"""Schema v6: effects carry their run order in their scope (``seq``), listings sort by it, and a v5
file is migrated with its old rows numbered by (creation time, replay key)."""

from __future__ import annotations

import sqlite3

from effecthost import ExecutionScope, open_host
from effecthost._private.stores.sqlite.schema import MIGRATIONS, SCHEMA_VERSION, V1_DDL

from ._helpers import counting, step

SESSION = "order-session"
SCOPE = ExecutionScope.turn(SESSION, "t")


def _write_v5_file(path: str) -> None:
    """A file as schema v5 left it, with three rows of one scope written in one millisecond."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in V1_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO effecthost_schema_versions VALUES (1, 0)")
    for version in range(1, 5):
        MIGRATIONS[version](conn)
        conn.execute("INSERT INTO effecthost_schema_versions VALUES (?, 0)", (version + 1,))
    conn.execute("INSERT INTO await_event_meta VALUES (1, ?)", (b"\x05" * 32,))
    for key, created in (("b", 5), ("c", 5), ("a", 9)):
        envelope = step(SESSION, key, 1)
        conn.execute(
            "INSERT INTO effect_journal (scope_key, replay_key, session_id, envelope_json,"
            " envelope_hash, status, outcome_json, created_at_ms, updated_at_ms, effect_kind,"
            " effect_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                SCOPE.journal_key(), key, SESSION, envelope.canonical_json(),
                envelope.stable_hash(), "completed", '{"type":"durable_step","value":1}',
                created, created, "durable_step", key,
            ),
        )  # fmt: skip
    conn.close()


async def test_effects_are_listed_in_run_order_not_by_key(db_url: str) -> None:
    host = await open_host(db_url)
    try:
        controller = host.scoped(SCOPE).controller
        keys = ["z", "m", "a", "q"]  # run in this order, within a millisecond or two
        for key in keys:
            await controller.execute_effect(step(SESSION, key, 1), counting([]))
        listed = await host.browser.list_effects(SCOPE.journal_key())
        assert [(r.seq, r.replay_key) for r in listed] == list(enumerate(keys, start=1))
        assert (await host.browser.get_row(SCOPE.journal_key(), "a")).seq == 3  # type: ignore[union-attr]
        # another scope numbers from 1 again
        other = ExecutionScope.turn(SESSION, "other")
        await host.scoped(other).controller.execute_effect(step(SESSION, "k", 1), counting([]))
        assert [r.seq for r in await host.browser.list_effects(other.journal_key())] == [1]
    finally:
        await host.aclose()


async def test_v5_file_migrates_numbers_old_rows_and_gains_resolved_by(db_path: str) -> None:
    _write_v5_file(db_path)
    host = await open_host(f"sqlite:///{db_path}")
    try:
        listed = await host.browser.list_effects(SCOPE.journal_key())
        assert [(r.seq, r.replay_key) for r in listed] == [(1, "b"), (2, "c"), (3, "a")]
        calls: list[str] = []
        await host.scoped(SCOPE).controller.execute_effect(step(SESSION, "d", 1), counting(calls))
        assert calls == ["d"]
        listed = await host.browser.list_effects(SCOPE.journal_key())
        assert [(r.seq, r.replay_key) for r in listed][-1] == (4, "d")
    finally:
        await host.aclose()
    with sqlite3.connect(db_path) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM effecthost_schema_versions")]
        assert versions == list(range(1, SCHEMA_VERSION + 1)) and SCHEMA_VERSION >= 6
        columns = {r[1] for r in conn.execute("PRAGMA table_info(await_event_waits)")}
        assert "resolved_by" in columns
