"""The journal half of the SQLite substrate (spec 4.2, 6.1, 7.2).

Every step is one short write transaction through :class:`Database` (claims of concurrent turns
share commits). Only outcome-bearing writes ask for an fsync: a claim or a lease renewal that a
power loss takes away leaves a journal in which the effect was simply never claimed — the same state
a crashed owner's expired lease leads to — while a finalized outcome, once returned, must survive.

A finalize that fails (a full disk, an I/O error, a value SQLite cannot store) or is cancelled
gives the claim up: the driver reports the error and nobody renews the lease any more. The claim is
then released at once (a fenced DELETE, the same as the driver's release), so the next drive
re-executes instead of waiting out the lease; a release that fails too is owed to the database and
written as soon as writes go through again (:meth:`Database.owe`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from ...core.clock import Clock
from ...core.errors import EffectHostError, ErrorCode
from ...core.identity import session_journal_key_ranges
from ...journal.decisions import decide_claim
from ...journal.model import (
    ClaimRequest,
    Decision,
    Insert,
    JournalRow,
    LeaseFence,
    ScopeSummary,
    SessionSummary,
    Status,
    TakeOver,
)
from .db import Database
from .durability import Durability

_STORE = ErrorCode.SQLITE_EFFECT_REPLAY_STORE.value
_RETIRE = ErrorCode.SQLITE_EFFECT_JOURNAL_RETIREMENT.value

_COLUMNS = (
    "scope_key, replay_key, session_id, envelope_hash, envelope_json, status, outcome_json,"
    " error_json, lease_owner, lease_token, lease_expires_at_ms, due_at_ms, created_at_ms,"
    " updated_at_ms, effect_kind, effect_id"
)
#: What reads select: the inserted columns and the run order the insert computed.
_SELECTED = _COLUMNS + ", seq"
#: A new row's run order in its scope: one more than the scope's largest (one seek in the
#: ``effect_journal_seq`` index, in the same statement, so under SQLite's single writer no two
#: rows of a scope share one).
_NEXT_SEQ = "(SELECT coalesce(max(seq), 0) + 1 FROM effect_journal WHERE scope_key = ?)"
_FENCE = (
    "scope_key = ? AND replay_key = ? AND envelope_hash = ? AND lease_owner = ? AND lease_token = ?"
    " AND status = 'in_progress' AND lease_expires_at_ms > ?"
)


def _claim_insert(session: bool, due: bool) -> str:
    """The INSERT of a claimed row; session id and due time are NULL literals when absent."""
    return (
        f"INSERT INTO effect_journal ({_COLUMNS}, seq) VALUES (?, ?, {'?' if session else 'NULL'},"
        f" ?, ?, ?, NULL, NULL, ?, ?, ?, {'?' if due else 'NULL'}, ?, ?, ?, ?, {_NEXT_SEQ})"
        " ON CONFLICT(scope_key, replay_key) DO NOTHING"
    )


_CLAIM_INSERT = {(s, d): _claim_insert(s, d) for s in (True, False) for d in (True, False)}


def _row(values: Any) -> JournalRow:
    return JournalRow(*values)


def _session_rows(session_id: str) -> tuple[str, tuple[object, ...]]:
    """A WHERE clause (and its parameters) for a session's rows: primary-key ranges, no index."""
    ranges = session_journal_key_ranges(session_id)
    clause = " OR ".join("(scope_key >= ? AND scope_key < ?)" for _ in ranges)
    return f"({clause}) AND session_id = ?", (*(b for r in ranges for b in r), session_id)


def _finalize(assignments: str) -> str:
    return (
        f"UPDATE effect_journal SET status = ?, {assignments}, lease_owner = NULL,"
        f" lease_token = NULL, lease_expires_at_ms = 0, updated_at_ms = ? WHERE {_FENCE}"
    )


_FINALIZE_OUTCOME = _finalize("outcome_json = ?, error_json = NULL")
_FINALIZE_ERROR = _finalize("outcome_json = NULL, error_json = ?")
_FINALIZE_BOTH = _finalize("outcome_json = ?, error_json = ?")


def _fence_args(fence: LeaseFence, now_ms: int) -> tuple[object, ...]:
    return (fence.scope_key, fence.replay_key, fence.envelope_hash, fence.owner, fence.token, now_ms)


class SqliteJournalStore:
    def __init__(self, db: Database, clock: Clock, durability: Durability) -> None:
        self._db = db
        self._clock = clock
        self._durability = durability

    @property
    def backend(self) -> str:
        return "sqlite"

    @property
    def database(self) -> Database:
        return self._db

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def claim(self, request: ClaimRequest) -> Decision:
        # First run (the common case): the row does not exist and the claim is one INSERT, which
        # runs as its own implicit transaction. Anything else reads the row under the write lock.
        # (A strict replay never inserts: decide_claim answers a missing row with a miss.)
        if not request.strict:

            def insert(conn: sqlite3.Connection) -> Decision | None:
                guess, write = decide_claim(None, request, self._clock.now_ms())
                assert isinstance(write, Insert)  # no row and not strict: always an insert
                return guess if self._insert(conn, write.row) else None

            inserted = await self._db.write(
                insert, durable=self._durability.leases, error_code=_STORE, single_statement=True
            )
            if inserted is not None:
                return inserted

        def op(conn: sqlite3.Connection) -> Decision:
            # The clock is read inside the transaction: lease comparisons are serialized with writes.
            now = self._clock.now_ms()
            found = conn.execute(
                f"SELECT {_SELECTED} FROM effect_journal WHERE scope_key = ? AND replay_key = ?",
                (request.scope_key, request.replay_key),
            ).fetchone()
            decision, write = decide_claim(None if found is None else _row(found), request, now)
            if isinstance(write, Insert):
                self._insert(conn, write.row)  # the row was deleted (released) since the insert
            elif isinstance(write, TakeOver):
                conn.execute(
                    "UPDATE effect_journal SET lease_owner = ?, lease_token = ?,"
                    " lease_expires_at_ms = ?, due_at_ms = ?, updated_at_ms = ?"
                    " WHERE scope_key = ? AND replay_key = ?",
                    write.values(request.scope_key, request.replay_key),
                )
            return decision

        return await self._db.write(op, durable=self._durability.leases, error_code=_STORE)

    @staticmethod
    def _insert(conn: sqlite3.Connection, r: JournalRow) -> bool:
        """Insert a claimed row unless the key exists (then the caller reads the row and decides).

        Columns that are NULL go into the statement as literals, not bound parameters: binding
        None makes Python's sqlite3 look for an adapter and raise and clear an AttributeError,
        ~3,000 instructions a parameter (a claim has two to four of them).
        """
        assert r.outcome_json is None and r.error_json is None  # only claims are inserted
        session, due = r.session_id is not None, r.due_at_ms is not None
        values: tuple[object, ...] = (r.scope_key, r.replay_key)
        if session:
            values += (r.session_id,)
        values += (r.envelope_hash, r.envelope_json, r.status, r.lease_owner, r.lease_token,
                   r.lease_expires_at_ms)  # fmt: skip
        if due:
            values += (r.due_at_ms,)
        values += (r.created_at_ms, r.updated_at_ms, r.effect_kind, r.effect_id, r.scope_key)
        cursor = conn.execute(_CLAIM_INSERT[session, due], values)
        return cursor.rowcount == 1

    async def preload(self, scope_key: str) -> list[JournalRow]:
        """The scope's recorded rows from a plain read: replays then need no write lock at all."""

        def op(conn: sqlite3.Connection) -> list[JournalRow]:
            # Only what a replay decision reads (fetching a column costs more than building the
            # row); envelope_json is the bulk of a row and only explains a conflict.
            cursor = conn.execute(
                "SELECT replay_key, session_id, envelope_hash, status, outcome_json, error_json,"
                " due_at_ms, effect_kind FROM effect_journal"
                " WHERE scope_key = ? AND status != 'in_progress'",
                (scope_key,),
            )
            return [
                JournalRow(
                    scope_key,
                    key,
                    session,
                    digest,
                    "",
                    status,
                    outcome,
                    error,
                    None,
                    None,
                    0,
                    due,
                    0,
                    0,
                    kind,
                )
                for key, session, digest, status, outcome, error, due, kind in cursor.fetchall()
            ]

        return await self._db.read(op, error_code=_STORE)

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            now = self._clock.now_ms()
            cursor = conn.execute(
                f"UPDATE effect_journal SET lease_expires_at_ms = ?, updated_at_ms = ? WHERE {_FENCE}",
                (now + ttl_ms, now, *_fence_args(fence, now)),
            )
            return cursor.rowcount == 1

        return await self._db.write(
            op, durable=self._durability.leases, error_code=_STORE, single_statement=True
        )

    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,  # texts are stored as given; nothing here parses them
    ) -> bool:
        # No None parameter (see _insert): the absent one of outcome and error is a NULL literal.
        params: tuple[object, ...]
        if error_json is None:
            sql, params = _FINALIZE_OUTCOME, (status, outcome_json)
        elif outcome_json is None:
            sql, params = _FINALIZE_ERROR, (status, error_json)
        else:
            sql, params = _FINALIZE_BOTH, (status, outcome_json, error_json)

        def op(conn: sqlite3.Connection) -> bool:
            now = self._clock.now_ms()
            cursor = conn.execute(sql, (*params, now, *_fence_args(fence, now)))
            return cursor.rowcount == 1

        try:
            return await self._db.write(
                op, durable=self._durability.outcomes, error_code=_STORE, single_statement=True
            )
        except (EffectHostError, asyncio.CancelledError):
            # Nothing was recorded (or, cancelled after the commit, the row is final and the
            # fenced release matches nothing). The driver gives the claim up: free it now.
            self._owe_release(fence)
            raise

    async def release(self, fence: LeaseFence) -> bool:
        try:
            return await self._db.write(
                self._release_op(fence),
                durable=self._durability.leases,
                error_code=_STORE,
                single_statement=True,
            )
        except EffectHostError:
            self._owe_release(fence)  # the caller gives up on the row whatever we answer
            raise

    def _release_op(self, fence: LeaseFence) -> Callable[[sqlite3.Connection], bool]:
        def op(conn: sqlite3.Connection) -> bool:
            # The fence (with the clock read now) matches only while this claim still holds a live
            # lease: a late retry of an owed release never deletes a row that moved on.
            now = self._clock.now_ms()
            cursor = conn.execute(f"DELETE FROM effect_journal WHERE {_FENCE}", _fence_args(fence, now))
            return cursor.rowcount == 1

        return op

    def _owe_release(self, fence: LeaseFence) -> None:
        self._db.owe(self._release_op(fence), durable=self._durability.leases, error_code=_STORE)

    async def retire_session(self, session_id: str) -> int:
        where, params = _session_rows(session_id)

        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(f"DELETE FROM effect_journal WHERE {where}", params).rowcount

        return await self._db.write(op, durable=self._durability.outcomes, error_code=_RETIRE)

    async def retire_scope(self, scope_key: str) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM effect_journal WHERE scope_key = ?", (scope_key,)).rowcount

        return await self._db.write(op, durable=self._durability.outcomes, error_code=_RETIRE)

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        having: str = ""
        params: tuple[object, ...] = ()
        if after is not None:  # keyset: after (last_at_ms DESC, session_id)
            having = " HAVING max(updated_at_ms) < ? OR (max(updated_at_ms) = ? AND session_id > ?)"
            params = (after[0], after[0], after[1])

        def op(conn: sqlite3.Connection) -> list[SessionSummary]:
            cursor = conn.execute(
                "SELECT session_id, count(DISTINCT scope_key), count(*),"
                " sum(status = 'in_progress'), sum(status = 'failed'),"
                " min(created_at_ms), max(updated_at_ms)"
                f" FROM effect_journal WHERE session_id IS NOT NULL GROUP BY session_id{having}"
                " ORDER BY max(updated_at_ms) DESC, session_id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return [SessionSummary(*v) for v in cursor.fetchall()]

        return await self._db.read(op, error_code=_STORE)

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        # One query per key range, so each is a primary-key search (an OR of ranges under a
        # GROUP BY makes the planner scan the table); rows without a session use a partial index.
        if session_id is None:
            queries: list[tuple[str, tuple[object, ...]]] = [("session_id IS NULL", ())]
        else:
            queries = [
                ("scope_key >= ? AND scope_key < ? AND session_id = ?", (low, high, session_id))
                for low, high in session_journal_key_ranges(session_id)
            ]

        def op(conn: sqlite3.Connection) -> list[ScopeSummary]:
            found: list[ScopeSummary] = []
            for where, params in queries:
                cursor = conn.execute(
                    "SELECT scope_key, session_id, count(*), sum(status = 'in_progress'),"
                    " sum(status = 'failed'), min(created_at_ms), max(updated_at_ms)"
                    f" FROM effect_journal WHERE {where} GROUP BY scope_key",
                    params,
                )
                found.extend(ScopeSummary(*v) for v in cursor.fetchall())
            found.sort(key=lambda scope: (scope.first_at_ms, scope.scope_key))
            return found

        return await self._db.read(op, error_code=_STORE)

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        # keyset: a row-value comparison, a range of the (scope_key, seq) index
        where: str = ""
        params: tuple[object, ...] = ()
        if after is not None:
            where, params = " AND (seq, created_at_ms, replay_key) > (?, ?, ?)", after

        def op(conn: sqlite3.Connection) -> list[JournalRow]:
            cursor = conn.execute(
                f"SELECT {_SELECTED} FROM effect_journal WHERE scope_key = ?{where}"
                " ORDER BY seq, created_at_ms, replay_key LIMIT ? OFFSET ?",
                (scope_key, *params, -1 if limit is None else limit, offset),  # LIMIT -1: no limit
            )
            return [_row(v) for v in cursor.fetchall()]

        return await self._db.read(op, error_code=_STORE)

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        def op(conn: sqlite3.Connection) -> JournalRow | None:
            found = conn.execute(
                f"SELECT {_SELECTED} FROM effect_journal WHERE scope_key = ? AND replay_key = ?",
                (scope_key, replay_key),
            ).fetchone()
            return None if found is None else _row(found)

        return await self._db.read(op, error_code=_STORE)

    # test hooks: the raw row updates the lease-fencing vectors need (spec 6.1)
    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        self._raw_update(
            "lease_owner = 'stolen-owner', lease_token = 'stolen-token', lease_expires_at_ms = ?",
            (self.now_ms() + 10_000,),
            scope_key,
            replay_key,
        )

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        self._raw_update("lease_expires_at_ms = 0", (), scope_key, replay_key)

    def _raw_update(
        self, assignments: str, values: tuple[object, ...], scope_key: str, replay_key: str
    ) -> None:
        cursor = self._db.conn.execute(
            f"UPDATE effect_journal SET {assignments} WHERE scope_key = ? AND replay_key = ?",
            (*values, scope_key, replay_key),
        )
        if cursor.rowcount != 1:
            raise KeyError((scope_key, replay_key))
