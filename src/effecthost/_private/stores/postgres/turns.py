"""Turn records on PostgreSQL: one row per turn in ``turn_records`` (schema version 3).

Every write is one short transaction that lock-reads, asks the pure ``change`` (see
:mod:`...lifecycle.transitions`) what to write, writes the whole row and commits. Claims take
``FOR UPDATE SKIP LOCKED``: a worker passes over the turns another worker is claiming right now
instead of waiting for them, so many workers on one schema never claim the same turn and never
queue behind each other.

Wake-ups (:func:`...lifecycle.model.topics_for`) go out twice: ``pg_notify`` of ``k:<topic>``
on the schema's channel inside the writing transaction (delivered at commit, to every host's
listener, which feeds its :class:`WakeHub`), and straight to this host's hub after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...awaits.hub import Subscription, WakeHub
from ...core.errors import EffectHostError, ErrorCode
from ...lifecycle.model import TurnRecord, TurnStatus, record_from_row, record_to_row, topics_for
from ...lifecycle.query import TurnQuery, sql_where
from ...lifecycle.store import Change
from .awaits import key_hint
from .db import Conn, Database

_STORE = ErrorCode.POSTGRES_TURN_STORE
_COLS = (
    "session_id, turn_id, name, input_json, status, created_at_ms, updated_at_ms, result_json, "
    "error_json, attempts, owner, lease_expires_at_ms, waiting_json, wake_at_ms, wait_key_id, "
    "cancel_requested, resumes, meta_json"
)
#: Every column, as the UPDATE writes a whole row (the same order as _COLS).
_SET = (
    "session_id = %s, turn_id = %s, name = %s, input_json = %s, status = %s, created_at_ms = %s, "
    "updated_at_ms = %s, result_json = %s, error_json = %s, attempts = %s, owner = %s, "
    "lease_expires_at_ms = %s, waiting_json = %s, wake_at_ms = %s, wait_key_id = %s, "
    "cancel_requested = %s, resumes = %s, meta_json = %s"
)
_PLACEHOLDERS = "%s, " * 17 + "%s"

#: Not ended (the partial indexes of migration 3 have exactly this predicate).
LIVE = "status NOT IN ('completed', 'failed', 'cancelled')"
#: :func:`...lifecycle.model.next_wake_ms` of a live row (the expression migration 3 indexes).
WAKE_MS = (
    "(CASE WHEN owner <> '' THEN lease_expires_at_ms WHEN status = 'pending' "
    "THEN created_at_ms ELSE wake_at_ms END)"
)
#: Live turns that time alone can make runnable: held (its lease expires), pending, or with a
#: wake time. Implied by RUNNABLE; spelled out so that claims use migration 3's partial index.
CLAIMABLE = "(owner <> '' OR status = 'pending' OR wake_at_ms IS NOT NULL)"
#: :func:`...lifecycle.model.is_runnable` at ``%(now)s``: live, and held on a lease expired by
#: now, or unheld and pending, or unheld with ``wake_at_ms <= now``. Written as "unheld and
#: pending, or WAKE_MS <= now": a held row's WAKE_MS is its lease expiry, an unheld pending row
#: is taken by the first arm, and any other unheld row's WAKE_MS is its wake_at_ms (NULL: never
#: by time). CLAIMABLE changes nothing (the last conjunct implies it) but names the index's rows.
RUNNABLE = (
    LIVE
    + " AND "
    + CLAIMABLE
    + " AND ((owner = '' AND status = 'pending') OR "
    + WAKE_MS
    + " <= %(now)s::bigint)"
)
_TEXTS = ("input_json", "result_json", "error_json", "waiting_json", "meta_json")


class PostgresTurnStore:
    def __init__(self, db: Database, hub: WakeHub) -> None:
        self._db = db
        self._hub = hub
        self._channel = db.options.channel
        q = db.q
        # An insert and its wake-ups as one autocommit statement: the NOTIFYs only when it landed.
        self._insert = q(
            "WITH ins AS (INSERT INTO {s}.turn_records (" + _COLS + ") VALUES (" + _PLACEHOLDERS + ") "
            "ON CONFLICT DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM ins), "
            "(SELECT count(pg_notify(%s::text, h)) FROM ins, unnest(%s::text[]) AS h)"
        )
        self._get = q("SELECT " + _COLS + " FROM {s}.turn_records WHERE session_id = %s AND turn_id = %s")
        self._lock_one = q(
            "SELECT " + _COLS + " FROM {s}.turn_records WHERE session_id = %s AND turn_id = %s FOR UPDATE"
        )
        # The whole row, keyed by the row as read (a change never moves a turn: see _checked).
        self._write = q("UPDATE {s}.turn_records SET " + _SET + " WHERE session_id = %s AND turn_id = %s")
        self._notify = q("SELECT count(pg_notify(%s::text, h)) FROM unnest(%s::text[]) AS h")
        claim_tail = " ORDER BY created_at_ms, session_id, turn_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
        # The candidates first, from two index range scans (the wake index up to now, and the
        # pending rows of the status index), then RUNNABLE again on the rows locked: walking
        # claim_idx in creation order instead read every parked turn with a deadline and every
        # held one on each claim (~3 ms with 5,000 parked, growing with them).
        candidates = (
            "(session_id, turn_id) IN (SELECT session_id, turn_id FROM {s}.turn_records"
            " WHERE " + LIVE + " AND " + WAKE_MS + " <= %(now)s::bigint{names}"
            " UNION ALL SELECT session_id, turn_id FROM {s}.turn_records"
            " WHERE status = 'pending' AND owner = ''{names})"
        )
        self._claim_any = q(
            "SELECT "
            + _COLS
            + " FROM {s}.turn_records WHERE "
            + candidates.replace("{names}", "")
            + " AND "
            + RUNNABLE
            + claim_tail
        )
        named = " AND name = ANY(%(names)s::text[])"
        self._claim_named = q(
            "SELECT "
            + _COLS
            + " FROM {s}.turn_records WHERE "
            + candidates.replace("{names}", named)
            + named
            + " AND "
            + RUNNABLE
            + claim_tail
        )
        self._wake_any = q("SELECT min(" + WAKE_MS + ") FROM {s}.turn_records WHERE " + LIVE)
        # One least wake time per name (an index probe on (name, WAKE_MS) each), then the least.
        self._wake_named = q(
            "SELECT min(m.w) FROM (SELECT DISTINCT unnest(%s::text[]) AS name) AS n, LATERAL ("
            "SELECT min(" + WAKE_MS + ") AS w FROM {s}.turn_records AS t "
            "WHERE t.name = n.name AND " + LIVE + ") AS m"
        )
        order = " ORDER BY created_at_ms, session_id, turn_id LIMIT %s OFFSET %s"
        self._list = {
            (False, False): q("SELECT " + _COLS + " FROM {s}.turn_records" + order),
            (True, False): q("SELECT " + _COLS + " FROM {s}.turn_records WHERE session_id = %s" + order),
            (False, True): q("SELECT " + _COLS + " FROM {s}.turn_records WHERE status = %s" + order),
            (True, True): q(
                "SELECT " + _COLS + " FROM {s}.turn_records WHERE session_id = %s AND status = %s" + order
            ),
        }

    # ---- writes -----------------------------------------------------------------------------

    async def insert(self, record: TurnRecord, *, durable: bool = True) -> TurnRecord:
        # Always durable: one autocommit statement (``durable=False`` would need a transaction
        # of its own to turn synchronous_commit off, costing more than the flush it saves).
        self._check(record)
        topics = topics_for(None, record)
        params = (*record_to_row(record), self._channel, [key_hint(t) for t in topics])
        for _ in range(3):
            async with self._db.connection(_STORE) as conn:
                cur = await conn.execute(self._insert, params)
                head = await cur.fetchone()
                assert head is not None
                if head[0]:
                    self._publish(topics)
                    return record
                # A later statement, so a later snapshot: it sees the row the insert conflicted
                # with (committed, or the insert would still be waiting for it).
                cur = await conn.execute(self._get, (record.session_id, record.turn_id))
                found = await cur.fetchone()
            if found is not None:
                return record_from_row(found)
            # gone again: turns are never deleted, but never answer with a row that is not stored
        raise EffectHostError(_STORE, "turn record kept changing while inserting it")

    async def update(
        self, session_id: str, turn_id: str, change: Change, *, durable: bool = True
    ) -> TurnRecord | None:
        async with self._db.connection(_STORE) as conn, conn.transaction():
            if not durable:  # lease bookkeeping: as the journal's claims, no wait for the WAL flush
                await conn.execute("SELECT set_config('synchronous_commit', 'off', true)")
            cur = await conn.execute(self._lock_one, (session_id, turn_id))
            row = await cur.fetchone()
            if row is None:
                return None
            before = record_from_row(row)
            after = change(before)
            if after is None:
                return before
            topics = await self._write_back(conn, [(before, after)])
        self._publish(topics)
        return after

    async def claim_runnable(
        self, names: Sequence[str] | None, now_ms: int, limit: int, change: Change
    ) -> list[TurnRecord]:
        if limit <= 0 or (names is not None and not names):
            return []
        params: dict[str, object] = {"now": now_ms, "limit": limit}
        if names is not None:
            params["names"] = list(names)
        statement = self._claim_any if names is None else self._claim_named
        written: list[tuple[TurnRecord, TurnRecord]] = []
        async with self._db.connection(_STORE) as conn, conn.transaction():
            cur = await conn.execute(statement, params)
            for row in await cur.fetchall():
                before = record_from_row(row)
                after = change(before)
                if after is not None:
                    written.append((before, after))
            topics = await self._write_back(conn, written) if written else ()
        self._publish(topics)
        return [after for _, after in written]

    async def _write_back(
        self, conn: Conn, written: Sequence[tuple[TurnRecord, TurnRecord]]
    ) -> tuple[str, ...]:
        """Inside the caller's transaction: write each changed row whole and NOTIFY the topics
        of every change (delivered at commit); return the topics, deduplicated, in order."""
        topics: dict[str, None] = {}
        rows: list[tuple[object, ...]] = []
        for before, after in written:
            self._checked(before, after)
            rows.append((*record_to_row(after), before.session_id, before.turn_id))
            topics.update(dict.fromkeys(topics_for(before, after)))
        async with conn.cursor() as cur:
            await cur.executemany(self._write, rows)
        if topics:
            await conn.execute(self._notify, (self._channel, [key_hint(t) for t in topics]))
        return tuple(topics)

    def _checked(self, before: TurnRecord, after: TurnRecord) -> None:
        if (after.session_id, after.turn_id) != (before.session_id, before.turn_id):
            raise EffectHostError(_STORE, "a turn change must not change the turn's session or turn id")
        self._check(after)

    def _check(self, record: TurnRecord) -> None:
        """The payload limit of this host, per JSON text (written by canonical JSON: no parse)."""
        for column in _TEXTS:
            self._db.check_payload(getattr(record, column), f"the turn's {column}", _STORE, parse=False)

    def _publish(self, topics: Sequence[str]) -> None:
        # same-process waiters need not wait for the NOTIFY round trip
        for topic in topics:
            self._hub.notify_key(topic)

    # ---- reads --------------------------------------------------------------------------------

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        async def body(conn: Conn) -> TurnRecord | None:
            cur = await conn.execute(self._get, (session_id, turn_id))
            row = await cur.fetchone()
            return None if row is None else record_from_row(row)

        return await self._db.read(_STORE, body)

    async def next_wake_ms(self, names: Sequence[str] | None) -> int | None:
        async def body(conn: Conn) -> int | None:
            if names is None:
                cur = await conn.execute(self._wake_any)
            else:
                cur = await conn.execute(self._wake_named, (list(names),))
            row = await cur.fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return await self._db.read(_STORE, body)

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnRecord]:
        params: list[object] = []
        if session_id is not None:
            params.append(session_id)
        if status is not None:
            params.append(str(status))
        params += [max(limit, 0), max(offset, 0)]
        statement = self._list[(session_id is not None, status is not None)]

        async def body(conn: Conn) -> list[TurnRecord]:
            cur = await conn.execute(statement, params)
            return [record_from_row(row) for row in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    async def query_turns(self, query: TurnQuery) -> list[TurnRecord]:
        """Operators' listing (``lifecycle.query``): filters, keyset paging, either direction."""
        tail, params = sql_where(query, "%s")
        statement = self._db.q("SELECT " + _COLS + " FROM {s}.turn_records" + tail)

        async def body(conn: Conn) -> list[TurnRecord]:
            cur = await conn.execute(statement, params)
            return [record_from_row(row) for row in await cur.fetchall()]

        return await self._db.read(_STORE, body)

    # ---- wake-ups -----------------------------------------------------------------------------

    def watch(self, topic: str) -> Subscription:
        """This host's listener LISTENs from open to close, so a hub subscription hears every
        host on the schema."""
        return self._hub.subscribe(topic, None)
