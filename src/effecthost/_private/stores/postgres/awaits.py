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

from ...awaits.store import Inspection, PendingPromise, PromiseIdentity, StoreResult, WakeHub
from ...errors import EffectHostError, ErrorCode
from .db import NOW_MS, Conn, Database

_STORE = ErrorCode.POSTGRES_AWAIT_EVENT_STORE
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 562))"
#: NOTIFY payloads are limited to 8000 bytes; a longer hint becomes "wake everyone".
_MAX_HINT = 7900


def key_hint(key_id: str) -> str:
    hint = "k:" + key_id
    return hint if len(hint.encode("utf-8")) <= _MAX_HINT else "*"


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
        self._now_revoked = q(
            "SELECT " + NOW_MS + ", EXISTS (SELECT 1 FROM {s}.await_event_revoked_sessions "
            "WHERE session_id = %s)"
        )
        self._insert = q(
            "INSERT INTO {s}.await_event_waits (key_id, scope_json, wait_json, session_id, "
            "turn_control, terminal_json, created_at_ms, resolved_at_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1"
        )
        self._row = q(
            "SELECT scope_json, wait_json, session_id, turn_control, terminal_json "
            "FROM {s}.await_event_waits WHERE key_id = %s"
        )
        self._row_locked = q(
            "SELECT scope_json, wait_json, session_id, turn_control, terminal_json "
            "FROM {s}.await_event_waits WHERE key_id = %s FOR UPDATE"
        )
        self._store_returning = q(
            "UPDATE {s}.await_event_waits SET terminal_json = %s, resolved_at_ms = %s "
            "WHERE key_id = %s AND terminal_json IS NULL RETURNING 1"
        )
        self._inspect = q(
            "SELECT EXISTS (SELECT 1 FROM {s}.await_event_revoked_sessions WHERE session_id = %s), "
            "w.scope_json, w.wait_json, w.session_id, w.turn_control, w.terminal_json "
            "FROM (SELECT 1) AS one LEFT JOIN {s}.await_event_waits AS w ON w.key_id = %s"
        )
        self._is_revoked = q(
            "SELECT EXISTS (SELECT 1 FROM {s}.await_event_revoked_sessions WHERE session_id = %s)"
        )
        self._tombstone = q(
            "INSERT INTO {s}.await_event_revoked_sessions (session_id, revoked_at_ms) "
            "VALUES (%s, " + NOW_MS + ") ON CONFLICT DO NOTHING"
        )
        self._forget = q("DELETE FROM {s}.await_event_waits WHERE session_id = %s")
        self._sweep = q(
            "WITH swept AS (UPDATE {s}.await_event_waits SET terminal_json = %s, "
            "resolved_at_ms = " + NOW_MS + " WHERE session_id = %s AND terminal_json IS NULL "
            "AND NOT turn_control RETURNING key_id) "
            "SELECT key_id, pg_notify(%s, 'k:' || key_id) FROM swept"
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

    async def _begin_atom(self, conn: Conn, session_id: str | None) -> tuple[int, bool]:
        """Lock the session (if any), then read the database time and the tombstone."""
        if session_id is not None:
            await conn.execute(_LOCK, (session_id,))
        cur = await conn.execute(self._now_revoked, (session_id,))
        row = await cur.fetchone()
        assert row is not None
        return int(row[0]), bool(row[1])

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        async with self._db.connection(_STORE) as conn, conn.transaction():
            now, revoked = await self._begin_atom(conn, identity.session_id)
            if revoked:
                return False
            cur = await conn.execute(self._insert, (*_identity_params(key_id, identity), None, now, None))
            if await cur.fetchone() is not None:
                return True
            cur = await conn.execute(self._row, (key_id,))
            row = await cur.fetchone()
            return row is not None and _identity(row) == identity

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        self._db.check_payload(terminal_json, "the await-event resolution", _STORE)
        for _ in range(3):
            result = await self._store_terminal_once(key_id, identity, terminal_json)
            if result is not None:
                if result[0] is StoreResult.STORED:
                    self._hub.notify_key(key_id)  # same-process waiters skip the round trip
                return result
        raise EffectHostError(_STORE, "await-event row kept changing while storing a terminal")

    async def _store_terminal_once(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None] | None:
        """Two round trips: (BEGIN, lock, read) then (write, notify, COMMIT) as pipelines.

        The server runs pipelined statements in order, so the reads come after the session lock
        exactly as if they had been sent one by one. None: an insert lost a race with another
        first registration (possible only for session-free keys); the caller tries again.
        """
        hint = key_hint(key_id)
        async with self._db.connection(_STORE) as conn, conn.pipeline() as pipe:
            await conn.execute(b"BEGIN")
            if identity.session_id is not None:
                await conn.execute(_LOCK, (identity.session_id,))
            state = await conn.execute(self._now_revoked, (identity.session_id,))
            current = await conn.execute(self._row_locked, (key_id,))
            await pipe.sync()
            head = await state.fetchone()
            row = await current.fetchone()
            assert head is not None
            now, revoked = int(head[0]), bool(head[1])
            if revoked or (row is not None and _identity(row) != identity):
                outcome: tuple[StoreResult, str | None] = (StoreResult.UNKNOWN_OR_REVOKED, None)
            elif row is not None and row[4] is not None:
                outcome = (StoreResult.ALREADY_RESOLVED, str(row[4]))
            else:
                outcome = (StoreResult.STORED, None)
            if outcome[0] is not StoreResult.STORED:
                await conn.execute(b"ROLLBACK")
                return outcome
            if row is None:
                params = (*_identity_params(key_id, identity), terminal_json, now, now)
                written = await conn.execute(self._insert, params)
            else:
                written = await conn.execute(self._store_returning, (terminal_json, now, key_id))
            await conn.execute("SELECT pg_notify(%s, %s)", (self._channel, hint))
            await conn.execute(b"COMMIT")
            await pipe.sync()
            landed = await written.fetchone()
        return outcome if landed is not None else None

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
        async with self._db.connection(_STORE) as conn, conn.transaction():
            await conn.execute(_LOCK, (session_id,))
            await conn.execute(self._tombstone, (session_id,))
            await conn.execute(self._forget, (session_id,))
            await conn.execute("SELECT pg_notify(%s, %s)", (self._channel, session_hint(session_id)))
        self._hub.notify_session(session_id)

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        async with self._db.connection(_STORE) as conn, conn.transaction():
            await conn.execute(_LOCK, (session_id,))
            cur = await conn.execute(self._sweep, (cancelled_json, session_id, self._channel))
            swept = [str(row[0]) for row in await cur.fetchall()]
        for key_id in swept:
            self._hub.notify_key(key_id)
        return len(swept)

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        async def body(conn: Conn) -> list[PendingPromise]:
            cur = await conn.execute(self._pending, (session_id,))
            return [PendingPromise(str(k), str(s), str(w)) for k, s, w in await cur.fetchall()]

        return await self._db.read(_STORE, body)


def _identity_params(key_id: str, identity: PromiseIdentity) -> tuple[object, ...]:
    return (key_id, identity.scope_json, identity.wait_json, identity.session_id, identity.turn_control)


def _identity(row: tuple[object, ...]) -> PromiseIdentity:
    scope_json, wait_json, session_id, turn_control = row[:4]
    return PromiseIdentity(
        str(scope_json), str(wait_json), None if session_id is None else str(session_id), bool(turn_control)
    )
