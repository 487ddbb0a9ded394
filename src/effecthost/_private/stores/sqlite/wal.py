"""Pre-size the write-ahead log so commits overwrite it in place instead of growing it.

Why: a synced commit appends its frames to the WAL and fsyncs it. While the WAL file is still
growing, each fsync must also journal the file's new size (an ext4/xfs metadata write); once the
WAL has reached the checkpoint threshold, SQLite restarts it from the beginning and later commits
overwrite existing blocks, which syncs about twice as fast on this machine's disk (bench/sqlite_bench.py,
``calibration``: ~170 µs growing vs ~100 µs overwriting). SQLite deletes the WAL when the last
connection closes, so every fresh open would pay the slow path for its first ~1,000 frames.

How: one rolled-back transaction larger than a deliberately tiny page cache. SQLite spills dirty
pages of a large transaction into the WAL before commit; a rollback discards them logically (frames
after the last commit frame are never read: recovery stops at the last valid commit frame), but the
file keeps its size. Nothing is committed, the database file does not change, and no checkpoint is
needed. Only done when the WAL is smaller than the target (this process is the first opener, or the
WAL was truncated); otherwise it is a no-op. It is an optimisation only: any failure is ignored.

Never on a filesystem short of space: the pre-size is skipped when the WAL would grow by more than
a tenth of the space free there (``PRESIZE_MAX_SHARE_OF_FREE``), or when the free space cannot be
read. A tenth, because the pre-size buys ~60-70 µs per synced commit at most, while every byte it
takes is one the journal's outcomes cannot use (on a 2 MiB filesystem it took all of it, and the
first finalize then failed for want of space). Below ~44 MB free (ten times the ~4.4 MB target)
the disk is close enough to full that the space is worth more than the speed; the WAL still grows
there as commits need it, and SQLite reuses it after each checkpoint as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3

# Frames beyond the autocheckpoint threshold, so a commit that crosses it still overwrites.
_SLACK_FRAMES = 64
_FRAME_HEADER = 24
_WAL_HEADER = 32
_SPILL_CACHE_PAGES = 16
_SCRATCH_TABLE = "effecthost_wal_presize"
PRESIZE_MAX_SHARE_OF_FREE = 0.10


def wal_target_bytes(conn: sqlite3.Connection) -> int:
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    threshold = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    if threshold <= 0:  # autocheckpoint off: the WAL grows without bound anyway
        return 0
    return _WAL_HEADER + (threshold + _SLACK_FRAMES) * (page_size + _FRAME_HEADER)


def wal_size(path: str) -> int:
    try:
        return os.path.getsize(path + "-wal")
    except OSError:
        return 0


def free_bytes(path: str) -> int | None:
    """Space free to this process on the filesystem holding ``path``; None when it cannot tell."""
    try:
        return shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        return None


def presize_wal(conn: sqlite3.Connection, path: str) -> bool:
    """Grow the WAL of ``path`` to the checkpoint threshold; True when it was grown.

    The connection must be in autocommit mode with no transaction open.
    """
    try:
        target = wal_target_bytes(conn)
        current = wal_size(path)
        if target == 0 or current >= target:
            return False
        free = free_bytes(path)
        if free is None or target - current > PRESIZE_MAX_SHARE_OF_FREE * free:
            return False  # see the module docstring: space is worth more than speed here
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
        # The last pages of the transaction stay in the cache (never spilled): add them on top.
        blob_bytes = target + 2 * _SPILL_CACHE_PAGES * (page_size + _FRAME_HEADER)
        conn.execute(f"PRAGMA cache_size = {_SPILL_CACHE_PAGES}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"CREATE TABLE {_SCRATCH_TABLE}(b BLOB)")
                # Overflow pages of a zeroblob are real pages: they fill the cache and spill.
                conn.execute(f"INSERT INTO {_SCRATCH_TABLE} VALUES (zeroblob(?))", (blob_bytes,))
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
        return wal_size(path) >= target
    except sqlite3.Error:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        return False
