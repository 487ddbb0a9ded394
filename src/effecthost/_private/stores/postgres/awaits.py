"""Durable await events on PostgreSQL: the atoms of spec 5.4, one transaction each.

Atoms on a session-scoped key first take ``pg_advisory_xact_lock(hashtextextended(session_id,
562))``, so a revocation, a cancel sweep and a registration of the same session never interleave
(a waiter cannot re-create a promise between a revocation's check and its delete). The lock is a
separate statement: in READ COMMITTED each later statement then sees whatever the previous lock
holder committed.

After a terminal is stored the transaction ``pg_notify``s the schema's channel with the key id
(revocation: the session); PostgreSQL delivers it at commit, and every host's listener feeds it
to its :class:`WakeHub`. The rows stay the source of truth; a notification is only a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

import psycopg

from ...awaits.hub import WakeHub
from ...awaits.store import (
    RESOLVED_BY,
    AwaitRecord,
    Inspection,
    PendingPromise,
    PromiseIdentity,
    StoreResult,
)
from ...core.errors import EffectHostError, ErrorCode
from .db import NOW_MS, Conn, Database

_STORE = ErrorCode.POSTGRES_AWAIT_EVENT_STORE
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 562))"
#: NOTIFY payloads are limited to 8000 bytes; a longer hint becomes "wake everyone".
_MAX_HINT = 7900


def key_hint(key_id: str) -> str:
    """``k:<key>``, or ``*`` (wake everyone) past the NOTIFY size limit. A hint names the key and
    nothing more: the woken waiter reads its row (anyone who may connect can NOTIFY)."""
    hint = "k:" + key_id
    return hint if len(hint.encode("utf-8")) <= _MAX_HINT else "*"


async def _locked_statement(
    conn: Conn, session_id: str | None, statement: bytes, params: Mapping[str, object]
) -> psycopg.AsyncCursor[Any]:
    """Run one statement atomically with its session's advisory lock, in one round trip.

    BEGIN, the lock, the statement and COMMIT go out as one pipeline; the server runs them in
    order, so the statement's snapshot is taken after the lock. A session-free key needs no lock
    and runs as one autocommit statement.
    """
    if session_id is None:
        return await conn.execute(statement, params)
    async with conn.pipeline():
        await conn.execute(b"BEGIN")
        await conn.execute(_LOCK, (session_id,))
        cur = await conn.execute(statement, params)
        await conn.execute(b"COMMIT")
    return cur


def session_hint(session_id: str) -> str:
    hint = "s:" + session_id
    return hint if len(hint.encode("utf-8")) <= _MAX_HINT else "*"


class PostgresAwaitStore:
    def __init__(self, db: Database, hub: WakeHub, secret: bytes) -> None:
        self._db = db
        self._hub = hub
        self._secret = secret
        self._channel = db.options.channel
        q = db.q
        self._row = q(
            "SELECT scope_json, wait_json, session_id, turn_control, terminal_json "
            "FROM {s}.await_event_waits WHERE key_id = %s"
        )
        # store_terminal's decision and write as one statement (it runs after the session lock, so
        # its snapshot sees whatever the previous lock holder committed). ``go`` holds the time
        # when the terminal may be written: not revoked, and no row or an unresolved row of this
        # identity. Exactly one of the UPDATE and the INSERT can apply; a write that landed
        # NOTIFYs (delivered at commit). The row as read comes back for the caller's decision.
        self._store_one = q(
            "WITH st AS (SELECT " + NOW_MS + " AS n, EXISTS (SELECT 1 FROM "
            "{s}.await_event_revoked_sessions WHERE session_id = %(sid)s::text) AS revoked), "
            "cur AS MATERIALIZED (SELECT scope_json, wait_json, session_id, turn_control, "
            "terminal_json FROM {s}.await_event_waits WHERE key_id = %(key)s::text FOR UPDATE), "
            "go AS (SELECT st.n FROM st WHERE NOT st.revoked AND NOT EXISTS (SELECT 1 FROM cur "
            "WHERE cur.terminal_json IS NOT NULL OR (cur.scope_json, cur.wait_json, cur.session_id, "
            "cur.turn_control) IS DISTINCT FROM (%(scope)s::text, %(wait)s::text, %(sid)s::text, "
            "%(tc)s::boolean))), "
            "upd AS (UPDATE {s}.await_event_waits AS w SET terminal_json = %(term)s::text, "
            "resolved_at_ms = go.n, resolved_by = %(by)s::text FROM go "
            "WHERE w.key_id = %(key)s::text AND w.terminal_json IS NULL "
            "AND EXISTS (SELECT 1 FROM cur) RETURNING 1), "
            "ins AS (INSERT INTO {s}.await_event_waits (key_id, scope_json, wait_json, session_id, "
            "turn_control, terminal_json, created_at_ms, resolved_at_ms, resolved_by) SELECT "
            "%(key)s::text, %(scope)s::text, %(wait)s::text, %(sid)s::text, %(tc)s::boolean, "
            "%(term)s::text, go.n, go.n, %(by)s::text FROM go WHERE NOT EXISTS (SELECT 1 FROM cur) "
            "ON CONFLICT DO NOTHING RETURNING 1), "
            "landed AS (SELECT 1 FROM upd UNION ALL SELECT 1 FROM ins) "
            "SELECT st.revoked, (SELECT count(pg_notify(%(channel)s::text, %(hint)s::text)) FROM landed), "
            "cur.* FROM st LEFT JOIN cur ON TRUE"
        )
        # ensure_pending as one statement after the session lock: the tombstone check, the insert
        # (skipped when revoked) and the row as it stood before the statement.
        self._ensure_one = q(
            "WITH st AS (SELECT " + NOW_MS + " AS n, EXISTS (SELECT 1 FROM "
            "{s}.await_event_revoked_sessions WHERE session_id = %(sid)s::text) AS revoked), "
            "ins AS (INSERT INTO {s}.await_event_waits (key_id, scope_json, wait_json, session_id, "
            "turn_control, terminal_json, created_at_ms, resolved_at_ms) SELECT %(key)s::text, "
            "%(scope)s::text, %(wait)s::text, %(sid)s::text, %(tc)s::boolean, NULL, st.n, NULL "
            "FROM st WHERE NOT st.revoked ON CONFLICT DO NOTHING RETURNING 1) "
            "SELECT st.revoked, (SELECT count(*) FROM ins), w.scope_json, w.wait_json, w.session_id, "
            "w.turn_control FROM st LEFT JOIN {s}.await_event_waits AS w ON w.key_id = %(key)s::text"
        )
        self._inspect = q(
            "SELECT EXISTS (SELECT 1 FROM {s}.await_event_revoked_sessions WHERE session_id = %s), "
            "w.scope_json, w.wait_json, w.session_id, w.turn_control, w.terminal_json "
            "FROM (SELECT 1) AS one LEFT JOIN {s}.await_event_waits AS w ON w.key_id = %s"
        )
        self._is_revoked = q(
            "SELECT EXISTS (SELECT 1 FROM {s}.await_event_revoked_sessions WHERE session_id = %s)"
        )
        # Revocation as one statement: the permanent tombstone, the session's rows forgotten, one
        # session wake-up (data-modifying CTEs always run to completion).
        self._revoke = q(
            "WITH tombstone AS (INSERT INTO {s}.await_event_revoked_sessions "
            "(session_id, revoked_at_ms) VALUES (%(session)s, " + NOW_MS + ") ON CONFLICT DO NOTHING), "
            "forgotten AS (DELETE FROM {s}.await_event_waits WHERE session_id = %(session)s) "
            "SELECT pg_notify(%(channel)s, %(hint)s)"
        )
        self._sweep = q(
            "WITH swept AS (UPDATE {s}.await_event_waits SET terminal_json = %(terminal)s, "
            "resolved_at_ms = " + NOW_MS + ", resolved_by = %(by)s "
            "WHERE session_id = %(session)s AND terminal_json IS NULL "
            "AND NOT turn_control RETURNING key_id) "
            "SELECT key_id, pg_notify(%(channel)s, 'k:' || key_id) FROM swept"
        )
        self._pending = q(
            "SELECT key_id, scope_json, wait_json FROM {s}.await_event_waits "
            "WHERE session_id = %s AND terminal_json IS NULL ORDER BY created_at_ms, key_id"
        )

    @property
    def hub(self) -> WakeHub:
        return self._hub

    async def signing_secret(self) -> bytes:
        return self._secret  # read (or created) by the migration at open

    async def is_revoked(self, session_id: str) -> bool:
        async def body(conn: Conn) -> bool:
            cur = await conn.execute(self._is_revoked, (session_id,))
            row = await cur.fetchone()
            return bool(row and row[0])

        return await self._db.read(_STORE, body)

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        """One round trip: BEGIN, the session lock, the check-and-insert statement, COMMIT."""
        params = _identity_params(key_id, identity)
        async with self._db.connection(_STORE) as conn:
            cur = await _locked_statement(conn, identity.session_id, self._ensure_one, params)
            head = await cur.fetchone()
            assert head is not None
            if head[0]:
                return False  # revoked
            if head[1]:
                return True  # registered now
            row = head[2:] if head[2] is not None else None
            if row is None:
                # A concurrent first registration (session-free keys take no lock) committed
                # after this statement's snapshot: read it now.
                cur = await conn.execute(self._row, (key_id,))
                found = await cur.fetchone()
                row = None if found is None else found[:4]
        return row is not None and _identity(row) == identity

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        self._db.check_payload(terminal_json, "the await-event resolution", _STORE)
        for _ in range(3):
            result = await self._store_terminal_once(key_id, identity, terminal_json)
            if result is not None:
                if result[0] is StoreResult.STORED:
                    # same-process waiters need not wait for the NOTIFY round trip
                    self._hub.notify_key(key_id)
                return result
        raise EffectHostError(_STORE, "await-event row kept changing while storing a terminal")

    async def _store_terminal_once(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None] | None:
        """One round trip: BEGIN, the session lock, the decide-and-write statement and COMMIT go
        out as one pipeline with a single Sync.

        The server runs pipelined statements in order, so the statement's snapshot is taken after
        the session lock exactly as if they had been sent one by one. A session-free key needs no
        lock and runs as one autocommit statement. None: an insert lost a race with another
        first registration (possible only for session-free keys); the caller tries again.
        """
        params = {
            **_identity_params(key_id, identity),
            "term": terminal_json,
            "by": RESOLVED_BY.get(),
            "channel": self._channel,
            "hint": key_hint(key_id),
        }
        async with self._db.connection(_STORE) as conn:
            cur = await _locked_statement(conn, identity.session_id, self._store_one, params)
            head = await cur.fetchone()
        assert head is not None
        revoked, landed, row = bool(head[0]), int(head[1]), head[2:]
        if revoked or (row[0] is not None and _identity(row) != identity):
            return StoreResult.UNKNOWN_OR_REVOKED, None
        if row[0] is not None and row[4] is not None:
            return StoreResult.ALREADY_RESOLVED, str(row[4])
        return (StoreResult.STORED, None) if landed else None

    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]:
        async def body(conn: Conn) -> tuple[Inspection, str | None]:
            cur = await conn.execute(self._inspect, (identity.session_id, key_id))
            row = await cur.fetchone()
            assert row is not None
            if identity.session_id is not None and row[0]:
                return Inspection.UNKNOWN_OR_REVOKED, None
            if row[1] is None:
                return Inspection.MISSING, None
            if _identity(row[1:]) != identity:
                return Inspection.UNKNOWN_OR_REVOKED, None
            if row[5] is None:
                return Inspection.PENDING, None
            return Inspection.RESOLVED, str(row[5])

        return await self._db.read(_STORE, body)

    async def revoke_session(self, session_id: str) -> None:
        params = {"session": session_id, "channel": self._channel, "hint": session_hint(session_id)}
        async with self._db.connection(_STORE) as conn:
            await _locked_statement(conn, session_id, self._revoke, params)
        self._hub.notify_session(session_id)

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        params = {
            "terminal": cancelled_json,
            "session": session_id,
            "channel": self._channel,
            "by": RESOLVED_BY.get(),
        }
        async with self._db.connection(_STORE) as conn:
            cur = await _locked_statement(conn, session_id, self._sweep, params)
            swept = [str(row[0]) for row in await cur.fetchall()]
        for key_id in swept:
            self._hub.notify_key(key_id)
        return len(swept)

    async def list_records(
        self, session_id: str | None, pending: bool, limit: int, after: tuple[int, str] | None
    ) -> list[AwaitRecord]:
        return await _list_records(self._db, session_id, pending, limit, after)

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        async def body(conn: Conn) -> list[PendingPromise]:
            cur = await conn.execute(self._pending, (session_id,))
            return [PendingPromise(str(k), str(s), str(w)) for k, s, w in await cur.fetchall()]

        return await self._db.read(_STORE, body)


_RECORD_COLUMNS = (
    "key_id, scope_json, wait_json, session_id, turn_control, terminal_json, created_at_ms, "
    "resolved_at_ms, resolved_by"
)


async def _list_records(
    db: Database, session_id: str | None, pending: bool, limit: int, after: tuple[int, str] | None
) -> list[AwaitRecord]:
    terms: list[LiteralString] = []
    params: list[object] = []
    if session_id is not None:
        terms.append("session_id = %s")
        params.append(session_id)
    if pending:
        terms.append("terminal_json IS NULL")
    if after is not None:
        terms.append("(created_at_ms, key_id) > (%s, %s)")
        params += [after[0], after[1]]
    where = ("WHERE " + " AND ".join(terms)) if terms else ""
    sql = db.q(
        "SELECT " + _RECORD_COLUMNS + " FROM {s}.await_event_waits " + where
        + " ORDER BY created_at_ms, key_id LIMIT %s"
    )

    async def body(conn: Conn) -> list[AwaitRecord]:
        cur = await conn.execute(sql, (*params, limit))
        return [
            AwaitRecord(
                str(k), str(sc), str(w), None if sid is None else str(sid), bool(tc),
                None if term is None else str(term), int(created),
                None if resolved is None else int(resolved), None if by is None else str(by),
            )
            for k, sc, w, sid, tc, term, created, resolved, by in await cur.fetchall()
        ]

    return await db.read(_STORE, body)


def _identity_params(key_id: str, identity: PromiseIdentity) -> dict[str, object]:
    """The named parameters that identify a promise row in the await statements."""
    return {
        "sid": identity.session_id,
        "key": key_id,
        "scope": identity.scope_json,
        "wait": identity.wait_json,
        "tc": identity.turn_control,
    }


def _identity(row: tuple[object, ...]) -> PromiseIdentity:
    scope_json, wait_json, session_id, turn_control = row[:4]
    return PromiseIdentity(
        str(scope_json), str(wait_json), None if session_id is None else str(session_id), bool(turn_control)
    )
