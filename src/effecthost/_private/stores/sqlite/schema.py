"""The SQLite schema, its version history and the forward migrations.

``effecthost_schema_versions`` holds one row per applied version; the file's version is the largest.
A file without that table but with other tables was written by something else (refused with
``sqlite_schema_unknown``); a version above :data:`SCHEMA_VERSION` was written by a newer effecthost
(refused with ``sqlite_schema_too_new``) — opening it would risk writing rows the newer code cannot
read. Older versions migrate forward, one step at a time, inside one ``BEGIN IMMEDIATE`` transaction,
so two processes opening an old file at once migrate it exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ...core.errors import EffectHostError, ErrorCode

SCHEMA_VERSION = 6
VERSION_TABLE = "effecthost_schema_versions"

# Version 1: the first release. Kept verbatim: migration tests build v1 files from it.
V1_DDL = """
CREATE TABLE effecthost_schema_versions (
  version INTEGER PRIMARY KEY,
  applied_at_ms INTEGER NOT NULL
);
CREATE TABLE effect_journal (
  scope_key TEXT NOT NULL,
  replay_key TEXT NOT NULL,
  session_id TEXT,
  envelope_json TEXT NOT NULL,
  envelope_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  outcome_json TEXT,
  error_json TEXT,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at_ms INTEGER NOT NULL DEFAULT 0,
  due_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (scope_key, replay_key)
) WITHOUT ROWID;
CREATE INDEX effect_journal_session ON effect_journal(session_id);
CREATE TABLE await_event_meta (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  signing_secret BLOB NOT NULL
);
CREATE TABLE await_event_waits (
  key_id TEXT PRIMARY KEY,
  scope_json TEXT NOT NULL,
  wait_json TEXT NOT NULL,
  session_id TEXT,
  turn_control INTEGER NOT NULL,
  terminal_json TEXT,
  created_at_ms INTEGER NOT NULL,
  resolved_at_ms INTEGER
);
CREATE INDEX await_event_waits_session ON await_event_waits(session_id);
CREATE TABLE await_event_revoked_sessions (
  session_id TEXT PRIMARY KEY,
  revoked_at_ms INTEGER NOT NULL
);
"""


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """v2 records the effect kind and id as columns (browsing without parsing envelopes) and
    indexes in-progress leases (crash recovery scans). Old rows are backfilled from their envelope."""
    conn.execute("ALTER TABLE effect_journal ADD COLUMN effect_kind TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE effect_journal ADD COLUMN effect_id TEXT NOT NULL DEFAULT ''")
    conn.execute(
        "UPDATE effect_journal SET"
        " effect_kind = coalesce(json_extract(envelope_json, '$.command.type'), ''),"
        " effect_id = coalesce(json_extract(envelope_json, '$.invocation.subject.effect_id'), '')"
        " WHERE json_valid(envelope_json)"
    )
    conn.execute("CREATE INDEX effect_journal_lease ON effect_journal(status, lease_expires_at_ms)")


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """v3 drops the lease index of v2: no query reads it (leases are only ever looked up by primary
    key), and keeping it up to date cost every claim and every finalize an index write."""
    conn.execute("DROP INDEX IF EXISTS effect_journal_lease")


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """v4 drops the session index: every claim also inserted into it, one more b-tree page (and
    WAL frame) written per journaled effect (measured: ~15 % of a sequential effect at ``full``).
    A session's rows are found in key ranges of the primary key instead (every v2 journal key
    names its session right after its kind; see ``session_journal_key_ranges``). Rows without a
    session keep a partial index, which rows with a session never touch."""
    conn.execute("DROP INDEX IF EXISTS effect_journal_session")
    conn.execute(
        "CREATE INDEX IF NOT EXISTS effect_journal_sessionless ON effect_journal(scope_key)"
        " WHERE session_id IS NULL"
    )


#: v5's two turn-record predicates, which the turn store's queries state word for word: SQLite uses
#: a partial index only for a query whose WHERE holds the index's WHERE term, and an expression
#: index only for a query that names the same expression. Part of schema v5: changing either needs
#: a migration. ``TURN_LIVE``: not ended (``lifecycle.model.TurnStatus.terminal``).
#: ``TURN_WAKE_AT``: ``lifecycle.model.next_wake_ms`` of a live row.
TURN_LIVE = "status NOT IN ('completed', 'failed', 'cancelled')"
TURN_WAKE_AT = (
    "CASE WHEN owner != '' THEN lease_expires_at_ms WHEN status = 'pending' THEN created_at_ms"
    " ELSE wake_at_ms END"
)

# Version 5's table, kept verbatim like V1_DDL: its columns are lifecycle.model.COLUMNS, in order.
V5_TURN_DDL = f"""
CREATE TABLE turn_records (
  session_id TEXT NOT NULL,
  turn_id TEXT NOT NULL,
  name TEXT NOT NULL,
  input_json TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  result_json TEXT,
  error_json TEXT,
  attempts INTEGER NOT NULL,
  owner TEXT NOT NULL,
  lease_expires_at_ms INTEGER NOT NULL,
  waiting_json TEXT,
  wake_at_ms INTEGER,
  wait_key_id TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  resumes INTEGER NOT NULL,
  meta_json TEXT NOT NULL,
  PRIMARY KEY (session_id, turn_id)
) WITHOUT ROWID;
CREATE INDEX turn_records_created ON turn_records(created_at_ms, session_id, turn_id);
CREATE INDEX turn_records_status ON turn_records(status, created_at_ms, session_id, turn_id);
CREATE INDEX turn_records_live ON turn_records(created_at_ms, session_id, turn_id)
  WHERE {TURN_LIVE};
CREATE INDEX turn_records_wake ON turn_records(({TURN_WAKE_AT})) WHERE {TURN_LIVE};
"""


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    """v5 adds the turn records of durable turns (``lifecycle.model``): one row per (session id,
    turn id). Indexes: ``created`` and ``status`` order the listings (a session's turns are a
    primary-key range); ``live`` holds the turns that have not ended, in creation order, which a
    claim walks oldest first without reading the ended turns that pile up behind it; ``wake`` holds
    the same turns by the time each becomes runnable by time alone, so the earliest is one seek."""
    _run_ddl(conn, V5_TURN_DDL)


def _v5_to_v6(conn: sqlite3.Connection) -> None:
    """v6 gives every effect its run order within its scope (``seq``: 1, 2, ... in the order the
    effects were first claimed), so listings show effects begun in the same millisecond in the order
    they ran rather than by replay key; and records who resolved a wait (``resolved_by``: an
    operator token's name, "webhook", ...) with a partial index of the unresolved waits (the
    operators' inbox across sessions). Old rows get their order from (creation time, key), the
    best the file knows. The ``(scope_key, seq)`` index makes the next number one seek."""
    conn.execute("ALTER TABLE effect_journal ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE effect_journal SET seq = ranked.n FROM (SELECT scope_key AS s, replay_key AS r,"
        " row_number() OVER (PARTITION BY scope_key ORDER BY created_at_ms, replay_key) AS n"
        " FROM effect_journal) AS ranked"
        " WHERE effect_journal.scope_key = ranked.s AND effect_journal.replay_key = ranked.r"
    )
    # the run order's next number is one seek (max(seq) of a scope), not a scan of the scope's rows
    conn.execute("CREATE INDEX effect_journal_seq ON effect_journal(scope_key, seq)")
    conn.execute("ALTER TABLE await_event_waits ADD COLUMN resolved_by TEXT")
    # the inbox: unresolved waits across sessions, oldest first (resolved rows leave the index)
    conn.execute(
        "CREATE INDEX await_event_waits_pending ON await_event_waits(created_at_ms, key_id)"
        " WHERE terminal_json IS NULL"
    )


#: MIGRATIONS[v] upgrades a file at version v to v + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
}


def _user_tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def file_version(conn: sqlite3.Connection) -> int | None:
    """The schema version of the open file; 0 for an empty file; None when it is not ours."""
    tables = _user_tables(conn)
    if not tables:
        return 0
    if VERSION_TABLE not in tables:
        return None
    row = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def ensure_schema(conn: sqlite3.Connection, path: str, now_ms: int) -> int:
    """Create or migrate the schema in one write transaction; return the version found on disk.

    The caller's connection is in autocommit mode; this issues its own BEGIN IMMEDIATE/COMMIT.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = file_version(conn)
        if found is None:
            raise EffectHostError(
                ErrorCode.SQLITE_SCHEMA_UNKNOWN,
                f"{path} holds tables that effecthost did not write (no {VERSION_TABLE} table)",
            )
        if found > SCHEMA_VERSION:
            raise EffectHostError(
                ErrorCode.SQLITE_SCHEMA_TOO_NEW,
                f"{path} has schema version {found}; this effecthost understands up to "
                f"{SCHEMA_VERSION} — upgrade effecthost to open it",
            )
        version = found
        if version == 0:
            _run_ddl(conn, V1_DDL)
            conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (1, ?)", (now_ms,))
            version = 1
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?, ?)", (version, now_ms))
        # One 32-byte secret per file, created once: keys minted before a restart verify after it.
        conn.execute(
            "INSERT INTO await_event_meta(singleton, signing_secret) VALUES (1, randomblob(32))"
            " ON CONFLICT(singleton) DO NOTHING"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _run_ddl(conn: sqlite3.Connection, ddl: str) -> None:
    # executescript() would COMMIT first; run statement by statement inside our transaction.
    for statement in ddl.split(";"):
        if statement.strip():
            conn.execute(statement)
