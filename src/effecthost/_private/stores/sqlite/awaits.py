"""The await-event half of the SQLite substrate: the spec 5.4 atoms as write transactions.

Rows are the truth. After a commit that stores a terminal (or revokes / sweeps a session) the store
wakes this process's waiters through the shared :class:`WakeHub` and other processes' waiters
through the :class:`WakeChannel`; a waiter that misses both still polls its row.
"""

from __future__ import annotations

import sqlite3

from ...awaits.hub import WakeHub
from ...awaits.store import (
    RESOLVED_BY,
    AwaitRecord,
    Inspection,
    PendingPromise,
    PromiseIdentity,
    StoreResult,
)
from ...core.clock import Clock
from ...core.errors import ErrorCode
from .db import Database
from .durability import Durability
from .wake import WakeChannel

_STORE = ErrorCode.SQLITE_AWAIT_EVENT_STORE.value
_IDENTITY = "scope_json, wait_json, session_id, turn_control"


def _revoked(conn: sqlite3.Connection, session_id: str | None) -> bool:
    if session_id is None:
        return False
    found = conn.execute(
        "SELECT 1 FROM await_event_revoked_sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return found is not None


def _same(row: tuple[object, ...], identity: PromiseIdentity) -> bool:
    return (
        row[0] == identity.scope_json
        and row[1] == identity.wait_json
        and row[2] == identity.session_id
        and bool(row[3]) == identity.turn_control
    )


class SqliteAwaitStore:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        durability: Durability,
        hub: WakeHub,
        channel: WakeChannel,
    ) -> None:
        self._db = db
        self._clock = clock
        self._durability = durability
        self._hub = hub
        self._channel = channel
        self._secret: bytes | None = None

    @property
    def hub(self) -> WakeHub:
        return self._hub

    @property
    def channel(self) -> WakeChannel:
        return self._channel

    async def signing_secret(self) -> bytes:
        if self._secret is None:

            def op(conn: sqlite3.Connection) -> bytes:
                row = conn.execute(
                    "SELECT signing_secret FROM await_event_meta WHERE singleton = 1"
                ).fetchone()
                if row is None or not isinstance(row[0], bytes) or len(row[0]) < 16:
                    raise sqlite3.DatabaseError("await_event_meta holds no signing secret")
                return row[0]

            self._secret = await self._db.read(op, error_code=_STORE)
        return self._secret

    async def is_revoked(self, session_id: str) -> bool:
        return await self._db.read(lambda conn: _revoked(conn, session_id), error_code=_STORE)

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        # Listen before the row is registered: a resolve committed after this point reaches us.
        self._channel.listen()

        def op(conn: sqlite3.Connection) -> bool:
            if _revoked(conn, identity.session_id):
                return False
            row = conn.execute(
                f"SELECT {_IDENTITY} FROM await_event_waits WHERE key_id = ?", (key_id,)
            ).fetchone()
            if row is not None:
                return _same(row, identity)
            conn.execute(
                f"INSERT INTO await_event_waits (key_id, {_IDENTITY}, created_at_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    identity.scope_json,
                    identity.wait_json,
                    identity.session_id,
                    int(identity.turn_control),
                    self._clock.now_ms(),
                ),
            )
            return True

        return await self._db.write(op, durable=self._durability.leases, error_code=_STORE)

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        by = RESOLVED_BY.get()

        def op(conn: sqlite3.Connection) -> tuple[StoreResult, str | None]:
            if _revoked(conn, identity.session_id):
                return StoreResult.UNKNOWN_OR_REVOKED, None
            now = self._clock.now_ms()
            row = conn.execute(
                f"SELECT {_IDENTITY}, terminal_json FROM await_event_waits WHERE key_id = ?",
                (key_id,),
            ).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO await_event_waits (key_id, {_IDENTITY}, terminal_json,"
                    " created_at_ms, resolved_at_ms, resolved_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key_id,
                        identity.scope_json,
                        identity.wait_json,
                        identity.session_id,
                        int(identity.turn_control),
                        terminal_json,
                        now,
                        now,
                        by,
                    ),
                )
            elif not _same(row, identity):
                return StoreResult.UNKNOWN_OR_REVOKED, None
            elif row[4] is not None:
                return StoreResult.ALREADY_RESOLVED, str(row[4])
            else:
                conn.execute(
                    "UPDATE await_event_waits SET terminal_json = ?, resolved_at_ms = ?,"
                    " resolved_by = ? WHERE key_id = ? AND terminal_json IS NULL",
                    (terminal_json, now, by, key_id),
                )
            return StoreResult.STORED, None

        result = await self._db.write(op, durable=self._durability.outcomes, error_code=_STORE)
        if result[0] is StoreResult.STORED:
            self._hub.notify_key(key_id)
            self._channel.publish([f"k:{key_id}"])
        return result

    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]:
        def op(conn: sqlite3.Connection) -> tuple[Inspection, str | None]:
            # One statement that always looks up both the tombstone and the row: a refusal
            # takes the same work whether the session is revoked or not (no timing oracle).
            head = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM await_event_revoked_sessions WHERE session_id = ?),"
                " w.scope_json, w.wait_json, w.session_id, w.turn_control, w.terminal_json"
                " FROM (SELECT 1) LEFT JOIN await_event_waits AS w ON w.key_id = ?",
                (identity.session_id, key_id),
            ).fetchone()
            if head[0]:
                return Inspection.UNKNOWN_OR_REVOKED, None
            row = head[1:]
            if row[0] is None:
                return Inspection.MISSING, None
            if not _same(row, identity):
                return Inspection.UNKNOWN_OR_REVOKED, None
            if row[4] is None:
                return Inspection.PENDING, None
            return Inspection.RESOLVED, str(row[4])

        return await self._db.read(op, error_code=_STORE)

    async def revoke_session(self, session_id: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO await_event_revoked_sessions (session_id, revoked_at_ms) VALUES (?, ?)"
                " ON CONFLICT(session_id) DO NOTHING",
                (session_id, self._clock.now_ms()),
            )
            conn.execute("DELETE FROM await_event_waits WHERE session_id = ?", (session_id,))

        await self._db.write(op, durable=self._durability.outcomes, error_code=_STORE)
        self._hub.notify_session(session_id)
        self._channel.publish([f"s:{session_id}"])

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        by = RESOLVED_BY.get()

        def op(conn: sqlite3.Connection) -> list[str]:
            keys = [
                str(r[0])
                for r in conn.execute(
                    "SELECT key_id FROM await_event_waits WHERE session_id = ?"
                    " AND terminal_json IS NULL AND turn_control = 0",
                    (session_id,),
                ).fetchall()
            ]
            if keys:
                conn.execute(
                    "UPDATE await_event_waits SET terminal_json = ?, resolved_at_ms = ?,"
                    " resolved_by = ?"
                    " WHERE session_id = ? AND terminal_json IS NULL AND turn_control = 0",
                    (cancelled_json, self._clock.now_ms(), by, session_id),
                )
            return keys

        swept = await self._db.write(op, durable=self._durability.outcomes, error_code=_STORE)
        for key_id in swept:
            self._hub.notify_key(key_id)
        if swept:
            self._channel.publish([f"s:{session_id}"])
        return len(swept)

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        def op(conn: sqlite3.Connection) -> list[PendingPromise]:
            cursor = conn.execute(
                "SELECT key_id, scope_json, wait_json FROM await_event_waits"
                " WHERE session_id = ? AND terminal_json IS NULL ORDER BY created_at_ms, key_id",
                (session_id,),
            )
            return [PendingPromise(str(k), str(s), str(w)) for k, s, w in cursor.fetchall()]

        return await self._db.read(op, error_code=_STORE)

    async def list_records(
        self, session_id: str | None, pending: bool, limit: int, after: tuple[int, str] | None
    ) -> list[AwaitRecord]:
        where, params = _records_where(session_id, pending, after)

        def op(conn: sqlite3.Connection) -> list[AwaitRecord]:
            cursor = conn.execute(
                "SELECT key_id, scope_json, wait_json, session_id, turn_control, terminal_json,"
                f" created_at_ms, resolved_at_ms, resolved_by FROM await_event_waits {where}"
                " ORDER BY created_at_ms, key_id LIMIT ?",
                (*params, limit),
            )
            return [_record(row) for row in cursor.fetchall()]

        return await self._db.read(op, error_code=_STORE)


def _records_where(
    session_id: str | None, pending: bool, after: tuple[int, str] | None
) -> tuple[str, tuple[object, ...]]:
    """The WHERE of a records listing. ``terminal_json IS NULL`` word for word: the partial index
    ``await_event_waits_pending`` serves only a query that states its WHERE term."""
    terms: list[str] = []
    params: list[object] = []
    if session_id is not None:
        terms.append("session_id = ?")
        params.append(session_id)
    if pending:
        terms.append("terminal_json IS NULL")
    if after is not None:
        terms.append("(created_at_ms, key_id) > (?, ?)")
        params += [after[0], after[1]]
    return ("WHERE " + " AND ".join(terms) if terms else ""), tuple(params)


def _record(row: tuple[object, ...]) -> AwaitRecord:
    key_id, scope, wait, session, control, terminal, created, resolved, by = row
    return AwaitRecord(
        str(key_id), str(scope), str(wait), None if session is None else str(session),
        bool(control), None if terminal is None else str(terminal), int(created),  # type: ignore[call-overload]
        None if resolved is None else int(resolved),  # type: ignore[call-overload]
        None if by is None else str(by),
    )  # fmt: skip
