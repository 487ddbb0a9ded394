"""The WAL is pre-sized on open so synced commits overwrite it instead of growing it."""

from __future__ import annotations

import sqlite3

from effecthost import ExecutionScope, LocalExecutor, open_host
from effecthost._private.stores.sqlite.wal import presize_wal, wal_size, wal_target_bytes

from ._helpers import step


def _tables(path: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


async def test_open_presizes_the_wal_without_committing_anything(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    try:
        probe = sqlite3.connect(db_path)
        target = wal_target_bytes(probe)
        probe.close()
        assert target > 4_000_000  # 1,000-page autocheckpoint threshold plus slack, 4 KiB pages
        assert wal_size(db_path) >= target
        # the scratch table of the rolled-back transaction never became part of the file
        assert "effecthost_wal_presize" not in _tables(db_path)
        size_before = wal_size(db_path)
        controller = host.scoped(ExecutionScope.turn("s", "t")).controller
        for i in range(50):
            await controller.execute_effect(step("s", f"k{i}", i), LocalExecutor.durable_step(lambda v: v["value"]))
        # commits overwrite the pre-sized file from its start: it does not grow
        assert wal_size(db_path) == size_before
    finally:
        await host.aclose()
    # the recorded effects are all there after a reopen (the spilled frames were never committed)
    again = await open_host(f"sqlite:///{db_path}")
    try:
        controller = again.scoped(ExecutionScope.turn("s", "t")).controller
        controller.start_replay()
        calls = 0

        def never(value: object) -> object:
            nonlocal calls
            calls += 1
            return value

        for i in range(50):
            outcome = await controller.execute_effect(step("s", f"k{i}", i), LocalExecutor.durable_step(never))
            assert outcome.into_durable_step() == i
        assert calls == 0
    finally:
        await again.aclose()


def test_presize_is_a_no_op_when_the_wal_is_large_enough(db_path: str) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t(x)")
        assert presize_wal(conn, db_path) is True
        size = wal_size(db_path)
        assert presize_wal(conn, db_path) is False
        assert wal_size(db_path) == size
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -2000  # restored
    finally:
        conn.close()


def test_presize_gives_up_quietly_when_another_connection_holds_the_write_lock(db_path: str) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("CREATE TABLE t(x)")
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO t VALUES (1)")
        assert presize_wal(conn, db_path) is False
        assert not conn.in_transaction
        holder.execute("COMMIT")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    finally:
        holder.close()
        conn.close()
