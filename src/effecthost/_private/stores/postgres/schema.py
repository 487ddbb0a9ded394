"""Versioned migrations for the tables effecthost owns in its schema.

Opening runs one transaction under a transaction-scoped advisory lock keyed by the schema name, so
many processes opening a fresh database at once serialize here instead of racing on ``CREATE``.
Only objects inside the configured schema are created; nothing else in the database is touched.
A database migrated by a newer effecthost is refused (``postgres_schema_too_new``) rather than
written with assumptions that may no longer hold.
"""

from __future__ import annotations

import os
from typing import LiteralString

from ...core.errors import EffectHostError, ErrorCode
from .db import Conn, Database

#: (version, name, statements). Append only: a released migration never changes.
MIGRATIONS: tuple[tuple[int, str, tuple[LiteralString, ...]], ...] = (
    (
        1,
        "journal and await events",
        (
            """CREATE TABLE {s}.runtime_effect_replay (
                scope_key TEXT NOT NULL,
                replay_key TEXT NOT NULL,
                session_id TEXT,
                envelope_hash TEXT NOT NULL,
                envelope_json TEXT NOT NULL,
                status TEXT NOT NULL,
                outcome_json TEXT,
                error_json TEXT,
                lease_owner TEXT,
                lease_token TEXT,
                lease_expires_at_ms BIGINT NOT NULL DEFAULT 0,
                due_at_ms BIGINT,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                effect_kind TEXT NOT NULL DEFAULT '',
                effect_id TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (scope_key, replay_key)
            )""",
            "CREATE INDEX ON {s}.runtime_effect_replay (session_id)",
            "CREATE INDEX ON {s}.runtime_effect_replay (status, lease_expires_at_ms)",
            """CREATE TABLE {s}.await_event_meta (
                singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                signing_secret BYTEA NOT NULL
            )""",
            """CREATE TABLE {s}.await_event_waits (
                key_id TEXT PRIMARY KEY,
                scope_json TEXT NOT NULL,
                wait_json TEXT NOT NULL,
                session_id TEXT,
                turn_control BOOLEAN NOT NULL,
                terminal_json TEXT,
                created_at_ms BIGINT NOT NULL,
                resolved_at_ms BIGINT
            )""",
            "CREATE INDEX ON {s}.await_event_waits (session_id)",
            """CREATE TABLE {s}.await_event_revoked_sessions (
                session_id TEXT PRIMARY KEY,
                revoked_at_ms BIGINT NOT NULL
            )""",
        ),
    ),
    (
        2,
        "drop the unused lease index",
        (
            # Nothing reads (status, lease_expires_at_ms): claims, renewals and finalizes go by
            # the primary key. Without it the finalize UPDATE changes no indexed column and can
            # be a HOT update (no index entries written); ~30% less server CPU per effect.
            "DROP INDEX IF EXISTS {s}.runtime_effect_replay_status_lease_expires_at_ms_idx",
        ),
    ),
    (
        3,
        "turn records",
        (
            # The columns are lifecycle.model.COLUMNS, in that order (turns.py reads and writes
            # whole rows); cancel_requested is 0/1, as the model's row helpers expect. The ids
            # sort by code point ("C"), as in every other store, whatever the database's locale.
            """CREATE TABLE {s}.turn_records (
                session_id TEXT COLLATE "C" NOT NULL,
                turn_id TEXT COLLATE "C" NOT NULL,
                name TEXT NOT NULL,
                input_json TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                result_json TEXT,
                error_json TEXT,
                attempts BIGINT NOT NULL DEFAULT 0,
                owner TEXT NOT NULL DEFAULT '',
                lease_expires_at_ms BIGINT NOT NULL DEFAULT 0,
                waiting_json TEXT,
                wake_at_ms BIGINT,
                wait_key_id TEXT NOT NULL DEFAULT '',
                cancel_requested SMALLINT NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
                resumes BIGINT NOT NULL DEFAULT 0,
                meta_json TEXT NOT NULL DEFAULT '{{}}',
                PRIMARY KEY (session_id, turn_id)
            )""",
            # Listing, all turns and by status, in the Protocol's order. (By session: the key.)
            "CREATE INDEX turn_records_order_idx ON {s}.turn_records (created_at_ms, session_id, turn_id)",
            "CREATE INDEX turn_records_status_idx ON {s}.turn_records "
            "(status, created_at_ms, session_id, turn_id)",
            # The rest are partial, so ended history never slows a worker. Claims walk, oldest
            # first, the turns that time alone can make runnable (turns.CLAIMABLE): not those
            # waiting on an event with no deadline, which may be many and wait for days.
            # next_wake_ms takes the least wake time (turns.WAKE_MS, the SQL of
            # model.next_wake_ms) of the live turns, overall or per name.
            "CREATE INDEX turn_records_claim_idx ON {s}.turn_records "
            "(created_at_ms, session_id, turn_id) "
            "WHERE status NOT IN ('completed', 'failed', 'cancelled') "
            "AND (owner <> '' OR status = 'pending' OR wake_at_ms IS NOT NULL)",
            "CREATE INDEX turn_records_wake_idx ON {s}.turn_records "
            "((CASE WHEN owner <> '' THEN lease_expires_at_ms WHEN status = 'pending' "
            "THEN created_at_ms ELSE wake_at_ms END)) "
            "WHERE status NOT IN ('completed', 'failed', 'cancelled')",
            "CREATE INDEX turn_records_name_wake_idx ON {s}.turn_records "
            "(name, (CASE WHEN owner <> '' THEN lease_expires_at_ms WHEN status = 'pending' "
            "THEN created_at_ms ELSE wake_at_ms END)) "
            "WHERE status NOT IN ('completed', 'failed', 'cancelled')",
        ),
    ),
    (
        4,
        "effect run order and who resolved a wait",
        (
            # seq: an effect's run order in its scope (1, 2, ... as first claimed); old rows are
            # numbered by (creation time, key), the best the table knows.
            "ALTER TABLE {s}.runtime_effect_replay ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
            "UPDATE {s}.runtime_effect_replay AS e SET seq = ranked.n FROM (SELECT scope_key, "
            "replay_key, row_number() OVER (PARTITION BY scope_key ORDER BY created_at_ms, "
            "replay_key) AS n FROM {s}.runtime_effect_replay) AS ranked "
            "WHERE e.scope_key = ranked.scope_key AND e.replay_key = ranked.replay_key",
            # the next number is one index seek (max(seq) of a scope), not a scan of its rows
            "CREATE INDEX runtime_effect_replay_seq_idx ON {s}.runtime_effect_replay (scope_key, seq)",
            # resolved_by: an operator token's name, "webhook", ... (NULL: not said)
            "ALTER TABLE {s}.await_event_waits ADD COLUMN resolved_by TEXT",
            # the operators' inbox: unresolved waits across sessions, oldest first
            "CREATE INDEX await_event_waits_pending_idx ON {s}.await_event_waits "
            "(created_at_ms, key_id) WHERE terminal_json IS NULL",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]
#: Second argument of hashtextextended for the migration lock; await-event locks use 562.
_MIGRATION_LOCK_SEED = 4711


async def migrate(db: Database) -> bytes:
    """Bring the schema to :data:`LATEST_VERSION`; return the schema's signing secret."""
    code = ErrorCode.POSTGRES_EFFECT_REPLAY_STORE
    async with db.connection(code) as conn, conn.transaction():
        await conn.execute("SET LOCAL client_min_messages = warning")  # no 'already exists' noise
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
            (f"effecthost-migrate:{db.options.schema}", _MIGRATION_LOCK_SEED),
        )
        await conn.execute(db.q("CREATE SCHEMA IF NOT EXISTS {s}"))
        await conn.execute(
            db.q(
                """CREATE TABLE IF NOT EXISTS {s}.schema_versions (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )"""
            )
        )
        current = await _current_version(db, conn)
        if current > LATEST_VERSION:
            raise EffectHostError(
                ErrorCode.POSTGRES_SCHEMA_TOO_NEW,
                f"schema {db.options.schema!r} is at version {current}; this effecthost knows up to "
                f"{LATEST_VERSION}: upgrade effecthost",
            )
        for version, name, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                await conn.execute(db.q(statement))
            await conn.execute(
                db.q("INSERT INTO {s}.schema_versions (version, name) VALUES (%s, %s)"), (version, name)
            )
        # One secret per schema, whoever gets here first: keys survive restarts and are shared.
        await conn.execute(
            db.q(
                "INSERT INTO {s}.await_event_meta (singleton, signing_secret) VALUES (TRUE, %s) "
                "ON CONFLICT DO NOTHING"
            ),
            (os.urandom(32),),
        )
        cur = await conn.execute(db.q("SELECT signing_secret FROM {s}.await_event_meta"))
        row = await cur.fetchone()
    assert row is not None
    return bytes(row[0])


async def _current_version(db: Database, conn: Conn) -> int:
    cur = await conn.execute(db.q("SELECT coalesce(max(version), 0) FROM {s}.schema_versions"))
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0
