"""The journal on PostgreSQL (spec 7.3): claims under ``FOR UPDATE``, the database as lease clock.

A claim is one short transaction: lock-read the row, ask the pure ``decide_claim`` (with the
database's transaction time as *now*), apply its write, commit. An insert that loses a race to
another worker (``ON CONFLICT DO NOTHING`` returns nothing) re-reads the now committed row under
``FOR UPDATE`` and decides again. No transaction is open while an executor runs.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg_pool import PoolTimeout

from ...core.clock import SYSTEM_CLOCK, Clock
from ...core.errors import EffectHostError, ErrorCode
from ...journal.decisions import decide_claim
from ...journal.model import (
    ClaimRequest,
    CorruptRow,
    Decision,
    Insert,
    JournalRow,
    LeaseFence,
    ScopeSummary,
    SessionSummary,
    Status,
    TakeOver,
)
from .db import NOW_MS, Conn, Database, store_error
from .wire import Param, Statement, execute

_COLS = (
    "scope_key, replay_key, session_id, envelope_hash, envelope_json, status, outcome_json, "
    "error_json, lease_owner, lease_token, lease_expires_at_ms, due_at_ms, created_at_ms, "
    "updated_at_ms, effect_kind, effect_id"
)
#: What reads select: the inserted columns and the run order the insert computed.
_SELECTED = _COLS + ", seq"
#: A new row's run order in its scope: one more than the scope's largest (one index seek).
#: Two first claims in one scope committing at the same moment may share a number; listings
#: break such ties by creation time and replay key.
_NEXT_SEQ = "(SELECT coalesce(max(seq), 0) + 1 FROM {s}.runtime_effect_replay WHERE scope_key = %s)"
_FENCE = (
    "scope_key = %s AND replay_key = %s AND envelope_hash = %s AND lease_owner = %s "
    "AND lease_token = %s AND status = 'in_progress' AND lease_expires_at_ms > " + NOW_MS
)
_STORE = ErrorCode.POSTGRES_EFFECT_REPLAY_STORE
_ENCODE = ErrorCode.POSTGRES_EFFECT_REPLAY_ENCODE


def _fence_params(fence: LeaseFence) -> tuple[str, str, str, str, str]:
    return (fence.scope_key, fence.replay_key, fence.envelope_hash, fence.owner, fence.token)


def _row(values: tuple[object, ...]) -> JournalRow:
    return JournalRow(*values)  # type: ignore[arg-type]  # column order matches the dataclass


def _insert_params(r: ClaimRequest) -> tuple[Param, ...]:
    """The parameters of a claimed row's insert, in the order of both claim statements."""
    return (
        r.scope_key,
        r.replay_key,
        r.session_id,
        r.envelope_hash,
        r.envelope_json,
        r.owner,
        r.token,
        r.ttl_ms,
        r.sleep_ms,
        r.sleep_ms,
        r.effect_kind,
        r.effect_id,
        r.scope_key,  # the run-order subquery's scope
    )


def _inserted(request: ClaimRequest, times: tuple[object, ...]) -> Decision:
    """The decision for a row the server inserted, checked against the times it wrote
    (lease expiry, due time, creation = the statement's *now*)."""
    now = times[2]
    assert isinstance(now, int)
    decision, write = decide_claim(None, request, now)
    if (
        not isinstance(write, Insert)
        or (write.row.lease_expires_at_ms, write.row.due_at_ms, write.row.created_at_ms) != times
    ):
        return CorruptRow("claimed runtime effect row differs from the claim decision")
    return decision


def _bigint(text: bytes | None) -> int | None:
    return None if text is None else int(text)


def _now_and_row(values: tuple[object, ...] | None) -> tuple[int, JournalRow | None]:
    assert values is not None  # the outer SELECT of the lock-read always yields one row
    now = values[0]
    assert isinstance(now, int)
    return now, (None if values[2] is None else _row(values[2:]))


class PostgresJournalStore:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._clock = clock
        q = db.q
        # The claim's lock-read also stamps *now* and switches this transaction to asynchronous
        # commit: a claim lost in a server crash only loses a lease (the effect may run again,
        # which spec 9.12 allows), and the synchronous finalize flushes the WAL past it anyway.
        self._lock_row = q(
            "WITH r AS (SELECT " + _SELECTED + " FROM {s}.runtime_effect_replay "
            "WHERE scope_key = %s AND replay_key = %s FOR UPDATE) "
            "SELECT " + NOW_MS + ", set_config('synchronous_commit', 'off', true), r.* "
            "FROM (SELECT 1) AS one LEFT JOIN r ON TRUE"
        )
        self._insert = q(
            "INSERT INTO {s}.runtime_effect_replay (" + _COLS + ", seq) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, " + _NEXT_SEQ + ") "
            "ON CONFLICT DO NOTHING RETURNING 1"
        )
        # The common claim as ONE statement (an implicit transaction, no BEGIN/COMMIT messages):
        # lock-read the row; when there is none (and the request may insert), insert exactly the
        # row decide_claim asks for, its times taken from the same transaction timestamp. Only the
        # computed columns come back: the rest are the request's own values.
        self._claim_one = q(
            "WITH r AS MATERIALIZED (SELECT " + _SELECTED + " FROM {s}.runtime_effect_replay "
            "WHERE scope_key = %s AND replay_key = %s FOR UPDATE), "
            "ins AS (INSERT INTO {s}.runtime_effect_replay (" + _COLS + ", seq) "
            "SELECT %s, %s, %s, %s, %s, 'in_progress', NULL, NULL, %s, %s, t.n + %s, "
            "CASE WHEN %s::bigint IS NULL THEN NULL ELSE t.n + %s::bigint END, t.n, t.n, %s, %s, "
            + _NEXT_SEQ + " "
            "FROM (SELECT " + NOW_MS + " AS n) AS t WHERE NOT EXISTS (SELECT FROM r) "
            "ON CONFLICT DO NOTHING RETURNING lease_expires_at_ms, due_at_ms, created_at_ms) "
            "SELECT " + NOW_MS + ", set_config('synchronous_commit', 'off', true), "
            "ins.lease_expires_at_ms, ins.due_at_ms, ins.created_at_ms, r.* "
            "FROM (SELECT 1) AS one LEFT JOIN r ON TRUE LEFT JOIN ins ON TRUE"
        )
        # A first-run claim (no row yet, the common case) as a plain insert: cheaper for the
        # server than the lock-read above (measured ~35 µs per claim here). Its times come from the
        # statement's transaction timestamp; created_at_ms is that *now*.
        self._claim_insert = Statement("claim_insert", q(
            "INSERT INTO {s}.runtime_effect_replay (" + _COLS + ", seq) "
            "SELECT %s, %s, %s, %s, %s, 'in_progress', NULL, NULL, %s, %s, t.n + %s, "
            "CASE WHEN %s::bigint IS NULL THEN NULL ELSE t.n + %s::bigint END, t.n, t.n, %s, %s, "
            + _NEXT_SEQ
            + " FROM (SELECT " + NOW_MS + " AS n, set_config('synchronous_commit', 'off', true)) AS t "
            "ON CONFLICT DO NOTHING RETURNING lease_expires_at_ms, due_at_ms, created_at_ms"
        ))
        self._take_over = q(
            "UPDATE {s}.runtime_effect_replay SET lease_owner = %s, lease_token = %s, "
            "lease_expires_at_ms = %s, due_at_ms = %s, updated_at_ms = %s "
            "WHERE scope_key = %s AND replay_key = %s"
        )
        self._renew = q(
            "UPDATE {s}.runtime_effect_replay SET lease_expires_at_ms = " + NOW_MS + " + %s, "
            "updated_at_ms = " + NOW_MS + " WHERE " + _FENCE
        )
        self._finalize = Statement("finalize", q(
            "UPDATE {s}.runtime_effect_replay SET status = %s, outcome_json = %s, error_json = %s, "
            "lease_owner = NULL, lease_token = NULL, lease_expires_at_ms = 0, "
            "updated_at_ms = " + NOW_MS + " WHERE " + _FENCE
        ))
        self._release = q("DELETE FROM {s}.runtime_effect_replay WHERE " + _FENCE)
        self._get = q(
            "SELECT " + _SELECTED + " FROM {s}.runtime_effect_replay WHERE scope_key = %s AND replay_key = %s"
        )
        # the envelope is left out of preloads: it is the bulk of a row and only explains a conflict
        preload_cols = _COLS.replace("envelope_json", "'' AS envelope_json")
        self._preload = q(
            "SELECT " + preload_cols + " FROM {s}.runtime_effect_replay "
            "WHERE scope_key = %s AND status <> 'in_progress'"
        )
        self._effects = q(
            "SELECT " + _SELECTED + " FROM {s}.runtime_effect_replay WHERE scope_key = %s "
            "ORDER BY seq, created_at_ms, replay_key LIMIT %s OFFSET %s"
        )
        self._effects_after = q(
            "SELECT " + _SELECTED + " FROM {s}.runtime_effect_replay WHERE scope_key = %s "
            "AND (seq, created_at_ms, replay_key) > (%s, %s, %s) "
            "ORDER BY seq, created_at_ms, replay_key LIMIT %s OFFSET %s"
        )
        self._retire_session = q("DELETE FROM {s}.runtime_effect_replay WHERE session_id = %s")
        self._retire_scope = q("DELETE FROM {s}.runtime_effect_replay WHERE scope_key = %s")
        self._sessions = q(
            "SELECT session_id, count(DISTINCT scope_key), count(*), "
            "count(*) FILTER (WHERE status = 'in_progress'), count(*) FILTER (WHERE status = 'failed'), "
            "min(created_at_ms), max(updated_at_ms) FROM {s}.runtime_effect_replay "
            "WHERE session_id IS NOT NULL GROUP BY session_id "
            "ORDER BY max(updated_at_ms) DESC, session_id LIMIT %s OFFSET %s"
        )
        self._sessions_after = q(
            "SELECT session_id, count(DISTINCT scope_key), count(*), "
            "count(*) FILTER (WHERE status = 'in_progress'), count(*) FILTER (WHERE status = 'failed'), "
            "min(created_at_ms), max(updated_at_ms) FROM {s}.runtime_effect_replay "
            "WHERE session_id IS NOT NULL GROUP BY session_id "
            "HAVING max(updated_at_ms) < %s OR (max(updated_at_ms) = %s AND session_id > %s) "
            "ORDER BY max(updated_at_ms) DESC, session_id LIMIT %s OFFSET %s"
        )
        self._scopes = q(
            "SELECT scope_key, count(*), count(*) FILTER (WHERE status = 'in_progress'), "
            "count(*) FILTER (WHERE status = 'failed'), min(created_at_ms), max(updated_at_ms) "
            "FROM {s}.runtime_effect_replay WHERE session_id IS NOT DISTINCT FROM %s "
            "GROUP BY scope_key ORDER BY min(created_at_ms), scope_key"
        )
        self._steal = q(
            "UPDATE {s}.runtime_effect_replay SET lease_owner = 'stolen-owner', "
            "lease_token = 'stolen-token', lease_expires_at_ms = " + NOW_MS + " + 10000 "
            "WHERE scope_key = %s AND replay_key = %s"
        )
        self._expire = q(
            "UPDATE {s}.runtime_effect_replay SET lease_expires_at_ms = 0 "
            "WHERE scope_key = %s AND replay_key = %s"
        )

    @property
    def backend(self) -> str:
        return "postgres"

    def now_ms(self) -> int:
        # Only for this process's own waits; leases are stamped and compared by the database.
        return self._clock.now_ms()

    # ---- claim ------------------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> Decision:
        self._db.check_payload(
            request.envelope_json, "the effect envelope", _ENCODE, parse=not request.canonical
        )
        if not request.strict:
            decision = await self._claim_first_run(request)
            if decision is not None:
                return decision
        async with self._db.connection(_STORE) as conn:
            if not request.strict:
                # the row exists: replay, busy, conflict or take-over
                decision = await self._claim_pipelined(conn, request)
                if decision is not None:
                    return decision
            return await self._claim_locked(conn, request)

    async def _claim_first_run(self, request: ClaimRequest) -> Decision | None:
        """Insert the claimed row when there is none (one statement, an implicit transaction
        committed asynchronously); None when the key already has a row."""
        try:
            result = await self._db.run(self._claim_insert, _insert_params(request))
        except psycopg.Error as exc:  # PoolTimeout included
            raise store_error(_STORE, exc) from None
        if result.ntuples == 0:
            return None
        return _inserted(request, tuple(_bigint(result.get_value(0, c)) for c in range(3)))

    async def _claim_pipelined(self, conn: Conn, request: ClaimRequest) -> Decision | None:
        """A claim on a key that may have a row, in one statement and one round trip; None when a
        locked transaction must decide.

        When the lock-read found no row the decision is the insert, checked against the times
        the server wrote. When it found one nothing was inserted and a decision without a write
        (replay, busy, conflict) stands; a take-over goes to :meth:`_claim_locked`, as does an
        insert that lost a race to a concurrent claim (``ON CONFLICT DO NOTHING`` returned
        nothing after waiting for the winner's commit).
        """
        key = (request.scope_key, request.replay_key)
        cur = await conn.execute(self._claim_one, key + _insert_params(request))
        values = await cur.fetchone()
        assert values is not None  # the outer SELECT always yields one row
        now = values[0]
        assert isinstance(now, int)
        if values[5] is None:  # no row before this statement
            if values[4] is None:
                return None  # lost the insert race
            return _inserted(request, values[2:5])
        decision, write = decide_claim(_row(values[5:]), request, now)
        return decision if write is None else None

    async def _claim_locked(self, conn: Conn, request: ClaimRequest) -> Decision:
        """Lock-read, decide, write, commit; an insert that lost a race reads and decides again."""
        async with conn.transaction():
            now, row = await self._read_locked(conn, request)
            decision, write = decide_claim(row, request, now)
            if isinstance(write, Insert):
                r = write.row
                cur = await conn.execute(self._insert, (*r.values(), r.scope_key))
                if await cur.fetchone() is not None:
                    return decision
                # Lost the insert race: the winner has committed; decide again on its row.
                now, row = await self._read_locked(conn, request)
                if row is None:
                    return CorruptRow("runtime effect row vanished while it was being claimed")
                decision, write = decide_claim(row, request, now)
            if isinstance(write, TakeOver):
                await conn.execute(
                    self._take_over,
                    write.values(request.scope_key, request.replay_key),
                )
            return decision

    async def _read_locked(self, conn: Conn, request: ClaimRequest) -> tuple[int, JournalRow | None]:
        cur = await conn.execute(self._lock_row, (request.scope_key, request.replay_key))
        return _now_and_row(await cur.fetchone())

    # ---- fenced writes ------------------------------------------------------------------------

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        async with self._db.connection(_STORE) as conn:
            cur = await conn.execute(self._renew, (ttl_ms, *_fence_params(fence)))
            return cur.rowcount == 1

    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,
    ) -> bool:
        try:
            self._db.check_payload(outcome_json, "the effect outcome", _ENCODE, parse=not canonical)
            self._db.check_payload(error_json, "the effect error", _ENCODE, parse=not canonical)
        except EffectHostError:
            # Nothing can ever be recorded for this attempt: free the row now so the next drive
            # re-executes instead of waiting for the lease to expire.
            await self._release_quietly(fence)
            raise
        params = (status, outcome_json, error_json, *_fence_params(fence))
        try:
            return (await self._db.run(self._finalize, params)).command_tuples == 1
        except PoolTimeout as exc:
            raise store_error(_STORE, exc) from None  # no connection: nothing was sent
        except psycopg.OperationalError:
            pass  # the connection died: the update may or may not have committed
        except psycopg.Error as exc:
            raise store_error(_STORE, exc) from None
        async with self._db.connection(_STORE) as conn:
            if (await execute(conn, self._finalize, params)).command_tuples == 1:
                return True
            # The first attempt may have committed before the connection died: the same result
            # recorded under this fence's key is that commit (or an identical one), not a loss.
            cur = await conn.execute(self._get, (fence.scope_key, fence.replay_key))
            values = await cur.fetchone()
        if values is None:
            return False
        row = _row(values)
        return (
            row.status == status
            and row.envelope_hash == fence.envelope_hash
            and row.outcome_json == outcome_json
            and row.error_json == error_json
        )

    async def release(self, fence: LeaseFence) -> bool:
        async with self._db.connection(_STORE) as conn:
            cur = await conn.execute(self._release, _fence_params(fence))
            return cur.rowcount == 1

    async def _release_quietly(self, fence: LeaseFence) -> None:
        with contextlib.suppress(EffectHostError):  # the lease expires on its own
            await self.release(fence)

    # ---- retirement and browsing ------------------------------------------------------------

    async def retire_session(self, session_id: str) -> int:
        async with self._db.connection(ErrorCode.POSTGRES_EFFECT_JOURNAL_RETIREMENT) as conn:
            cur = await conn.execute(self._retire_session, (session_id,))
            return cur.rowcount

    async def retire_scope(self, scope_key: str) -> int:
        async with self._db.connection(ErrorCode.POSTGRES_EFFECT_JOURNAL_RETIREMENT) as conn:
            cur = await conn.execute(self._retire_scope, (scope_key,))
            return cur.rowcount

    async def preload(self, scope_key: str) -> list[JournalRow]:
        """Completed and failed rows of a scope, read without locks: they never change again."""

        async def body(conn: Conn) -> list[JournalRow]:
            cur = await conn.execute(self._preload, (scope_key,))
            return [_row(values) for values in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        async def body(conn: Conn) -> JournalRow | None:
            cur = await conn.execute(self._get, (scope_key, replay_key))
            values = await cur.fetchone()
            return None if values is None else _row(values)

        return await self._db.read(_STORE, body)

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        async def body(conn: Conn) -> list[JournalRow]:
            # LIMIT NULL is no limit in PostgreSQL
            if after is None:
                cur = await conn.execute(self._effects, (scope_key, limit, offset))
            else:
                cur = await conn.execute(self._effects_after, (scope_key, *after, limit, offset))
            return [_row(values) for values in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        async def body(conn: Conn) -> list[SessionSummary]:
            if after is None:
                cur = await conn.execute(self._sessions, (limit, offset))
            else:
                cur = await conn.execute(self._sessions_after, (after[0], after[0], after[1], limit, offset))
            return [SessionSummary(*values) for values in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        async def body(conn: Conn) -> list[ScopeSummary]:
            cur = await conn.execute(self._scopes, (session_id,))
            return [ScopeSummary(values[0], session_id, *values[1:]) for values in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    # ---- test hooks: the raw row updates of the lease-fencing vectors (spec 6.1) ------------

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        async with self._db.connection(_STORE) as conn:
            await conn.execute(self._steal, (scope_key, replay_key))

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        async with self._db.connection(_STORE) as conn:
            await conn.execute(self._expire, (scope_key, replay_key))
