"""Schema v5: the ``turn_records`` table, the v4 → v5 migration, its indexes, and turns across
processes (one writes a turn, another is woken by it and reads it, and it is there after reopen)."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import sys
from pathlib import Path

from effecthost import ExecutionScope, open_host
from effecthost._private.lifecycle import transitions
from effecthost._private.lifecycle.model import (
    COLUMNS,
    RUNNABLE_TOPIC,
    TurnRecord,
    TurnStatus,
    ended_topic,
    is_runnable,
    next_wake_ms,
)
from effecthost._private.lifecycle.store import TurnStore
from effecthost._private.stores.sqlite import turns as turns_module
from effecthost._private.stores.sqlite.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TURN_LIVE,
    TURN_WAKE_AT,
    V1_DDL,
)
from effecthost._private.stores.sqlite.turns import SqliteTurnStore

from ._helpers import counting, step

SRC = str(Path(__file__).resolve().parents[2] / "src")
SESSION = 'sé "q" \\ 🙂'  # ids are stored exactly: quotes, backslashes, non-ASCII
TURN = "t:1\n'x'"

_CHILD_INSERTS = """
import asyncio, sys
from effecthost import open_host
from effecthost._private.lifecycle import transitions
async def main():
    host = await open_host(sys.argv[1])
    await host.substrate.turns.insert(transitions.new_turn(sys.argv[2], sys.argv[3], "fn", '{"é":1}', 7))
    await host.aclose()
asyncio.run(main())
"""


def _store(host: object) -> TurnStore:
    turns = host.substrate.turns  # type: ignore[attr-defined]
    assert isinstance(turns, SqliteTurnStore)
    return turns


def _versions(path: str) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM effecthost_schema_versions ORDER BY 1")]


def _write_v4_file(path: str) -> None:
    """A file as effecthost schema version 4 left it (built by the v1 DDL and the migrations up to
    v4), with one completed effect."""
    envelope = step("old-session", "k1", 7)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in V1_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO effecthost_schema_versions VALUES (1, 0)")
    for version in range(1, 4):
        MIGRATIONS[version](conn)
        conn.execute("INSERT INTO effecthost_schema_versions VALUES (?, 0)", (version + 1,))
    conn.execute("INSERT INTO await_event_meta VALUES (1, ?)", (b"\x02" * 32,))
    conn.execute(
        "INSERT INTO effect_journal (scope_key, replay_key, session_id, envelope_json, envelope_hash,"
        " status, outcome_json, created_at_ms, updated_at_ms, effect_kind, effect_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            ExecutionScope.turn("old-session", "t").journal_key(), "k1", "old-session",
            envelope.canonical_json(), envelope.stable_hash(), "completed",
            '{"type":"durable_step","value":{"from":"v4"}}', 1, 1, "durable_step", "k1",
        ),
    )  # fmt: skip
    conn.close()


def _tables(path: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_v4_file_migrates_keeps_its_journal_and_gains_turn_records(db_path: str) -> None:
    _write_v4_file(db_path)
    assert _versions(db_path) == [1, 2, 3, 4] and "turn_records" not in _tables(db_path)
    host = await open_host(f"sqlite:///{db_path}")
    try:
        assert _versions(db_path) == list(range(1, SCHEMA_VERSION + 1))
        scope = ExecutionScope.turn("old-session", "t")
        row = await host.browser.get_row(scope.journal_key(), "k1")
        assert row is not None and row.status == "completed"
        calls: list[str] = []
        outcome = await host.scoped(scope).controller.execute_effect(
            step("old-session", "k1", 7), counting(calls)
        )
        assert outcome.to_json() == {"type": "durable_step", "value": {"from": "v4"}}
        assert calls == []  # replayed from the migrated row, not run again
        turns = _store(host)
        record = await turns.insert(transitions.new_turn(SESSION, TURN, "fn", "{}", 1_000))
        assert await turns.get(SESSION, TURN) == record
    finally:
        await host.aclose()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT signing_secret FROM await_event_meta").fetchone()[0] == b"\x02" * 32
        assert conn.execute("SELECT count(*) FROM effect_journal").fetchone()[0] == 1


async def test_turn_records_columns_key_and_indexes(db_path: str) -> None:
    await (await open_host(f"sqlite:///{db_path}")).aclose()
    with sqlite3.connect(db_path) as conn:
        info = conn.execute("PRAGMA table_info(turn_records)").fetchall()
        assert tuple(r[1] for r in info) == COLUMNS
        assert [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])] == [
            "session_id",
            "turn_id",
        ]
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'turn_records' AND sql IS NOT NULL"
            )
        }
        assert indexes == {
            "turn_records_created",
            "turn_records_status",
            "turn_records_live",
            "turn_records_wake",
        }


NOW = 10_000


def _grid() -> list[TurnRecord]:
    """Records in every state, held or not, with and without a wake time, around ``NOW``."""
    records = []
    for i, (status, owner, lease, wake, created) in enumerate(
        itertools.product(
            TurnStatus, ("", "w"), (NOW - 1, NOW, NOW + 1), (None, NOW - 1, NOW, NOW + 1), (NOW, NOW + 5)
        )
    ):
        records.append(
            TurnRecord("s", f"t{i:04}", "fn", "{}", status, created, created, owner=owner,
                       lease_expires_at_ms=lease if owner else 0, wake_at_ms=wake)
        )  # fmt: skip
    return records


async def test_the_sql_predicates_are_the_model_functions(db_path: str) -> None:
    async with await open_host(f"sqlite:///{db_path}") as host:
        records = _grid()
        for record in records:
            await _store(host).insert(record)
    with sqlite3.connect(db_path) as conn:
        for record in records:
            runnable, wake = conn.execute(
                f"SELECT ({turns_module._RUNNABLE}), CASE WHEN {TURN_LIVE} THEN {TURN_WAKE_AT} END"
                " FROM turn_records WHERE session_id = ? AND turn_id = ?",
                (NOW, record.session_id, record.turn_id),
            ).fetchone()
            assert (bool(runnable), wake) == (is_runnable(record, NOW), next_wake_ms(record)), record


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


async def test_queries_use_the_indexes(db_path: str) -> None:
    """The store's queries state the partial indexes' predicates word for word; if they drifted,
    SQLite would silently scan the table (ended turns included) instead."""
    async with await open_host(f"sqlite:///{db_path}") as host:
        turns = _store(host)
        for i in range(50):
            await turns.insert(transitions.new_turn("s", f"t{i:02}", "fn", "{}", i))
        conn = sqlite3.connect(db_path)
        try:
            select, order = turns_module._SELECT, turns_module._ORDER
            claim = _plan(conn, turns_module.claim_sql(" AND name IN (?)"), (5, "fn", 3, "fn", 3, 3))
            # range scans of the wake index (due turns) and the status index (pending), no walk
            # over every live turn
            assert "turn_records_wake" in claim and "turn_records_status" in claim, claim
            wake = _plan(conn, f"SELECT min({TURN_WAKE_AT}) FROM turn_records WHERE {TURN_LIVE}", ())
            assert "turn_records_wake" in wake, wake
            listed = _plan(conn, f"{select}{order} LIMIT ? OFFSET ?", (10, 0))
            assert "turn_records_created" in listed and "TEMP B-TREE" not in listed, listed
            by_status = _plan(conn, f"{select} WHERE status = ?{order} LIMIT ? OFFSET ?", ("failed", 10, 0))
            assert "turn_records_status" in by_status and "TEMP B-TREE" not in by_status, by_status
            by_session = _plan(conn, f"{select} WHERE session_id = ?{order} LIMIT ? OFFSET ?", ("s", 10, 0))
            assert "PRIMARY KEY" in by_session, by_session
        finally:
            conn.close()
        # and the store answers through those queries
        claimed = await turns.claim_runnable(["fn"], 5, 3, transitions.claim("w", 5, 1_000))
        assert [r.turn_id for r in claimed] == ["t00", "t01", "t02"]
        assert await turns.next_wake_ms(None) == 3  # t03 is the oldest pending turn
        assert await turns.next_wake_ms(["fn"]) == 3
        assert await turns.next_wake_ms(["other"]) is None


async def test_a_turn_written_by_another_process_wakes_a_watcher_and_survives_reopen(
    db_url: str, db_path: str
) -> None:
    expected = TurnRecord(SESSION, TURN, "fn", '{"é":1}', TurnStatus.PENDING, 7, 7)
    host = await open_host(db_url)
    try:
        runnable = _store(host).watch(RUNNABLE_TOPIC)
        ended = _store(host).watch(ended_topic(SESSION, TURN))
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _CHILD_INSERTS, db_url, SESSION, TURN,
                env=dict(os.environ, PYTHONPATH=SRC), stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0, err.decode()
            # nothing polls: only the child's hints can set these
            await asyncio.wait_for(runnable.event.wait(), 10)
            await asyncio.wait_for(ended.event.wait(), 10)
        finally:
            runnable.close()
            ended.close()
        assert await _store(host).get(SESSION, TURN) == expected
    finally:
        await host.aclose()
    async with await open_host(db_url) as reopened:
        assert await _store(reopened).get(SESSION, TURN) == expected
        assert await _store(reopened).list_turns(session_id=SESSION) == [expected]
